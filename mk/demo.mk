# The trainer programs, `make demo`, `make demo-fashion` and the trainer tests.
#
#   make demo           fresh machine: deps, MNIST digits, generate + build + train
#                       specs/mnist_mlp.lua for 5 epochs (validation on the 8000/2000 split)
#   make demo-fashion   the same for specs/fashion_mlp.lua on Debian's Fashion-MNIST
#                       (60,000 train / 10,000 test), 20 epochs (lr 0.02, then 0.002)
#   make demo-cnn       the LeNet-style specs/mnist_cnn.lua on the MNIST digits (8000/2000),
#                       8 epochs of the spec's one-cycle schedule (max lr 0.05), wall time printed
#   make demo-cnn-fashion  a small CNN with batchnorm and dropout (specs/fashion_cnn.lua) on
#                       Fashion-MNIST (60,000 train / 10,000 test), 5 one-cycle epochs, wall time printed
#   make trainer SPEC=specs/x.lua [DEMO_ISA=...]   just build build/trainer/ISA/x_cli (SPEC may be
#                                                  anywhere: its directory's rules are added)
#   make test-trainer   end-to-end trainer tests on the tiny data set (tests/trainer/run.sh)
#
# A trainer is NAME_cli.c (from templates/cli.c.tpl, written by `chainrule gen --cli`)
# + NAME.c + build/libcrtrain.a (trainer/, mk/trainer.mk) + build/libcr.a (runtime/), for a
# vector ISA the same two built for this host (build/march/); see docs/design/trainer.md.

# The host's best ISA (generated code compiled with -march=native: the demo trains here).
# DEMO_ISA=scalar for the portable code.
DEMO_ISA     ?= native
# Expanded here, not through runtime.mk's or trainer.mk's variables: mk/*.mk are included
# in name order, and prerequisites are expanded when a rule is read.
TRAINER_HDRS := $(wildcard runtime/*.h trainer/*.h)
TRAINER_LIBS     = $(BUILD)/libcrtrain.a $(BUILD)/libcr.a
# a vector-ISA trainer links the trainer and runtime built for this host too (mk/trainer.mk)
TRAINER_MARCH_LIBS = $(BUILD)/march/libcrtrain.a $(BUILD)/march/libcr.a
trainer_libs = $(if $(filter scalar,$(1)),$(TRAINER_LIBS),$(TRAINER_MARCH_LIBS))
TRAINER_SAN_LIBS = $(BUILD)/tr-san/libcrtrain.a $(BUILD)/rt-san/libcr.a
TRAINER_DIR  := $(BUILD)/trainer
DEMO_DIR     := $(BUILD)/demo
# Generated code for a vector ISA is built for this host (the demo trains here), with its CPU
# family's defaults (gen --cpu native).
trainer_isa_flags = $(if $(filter scalar,$(1)),,-march=native)

# build/trainer/ISA/NAME_cli from specs/NAME.lua (and from DIR/NAME.lua for a SPEC=DIR/NAME.lua
# elsewhere: make trainer SPEC=~/nets/x.lua), generated under the file's name (--name NAME,
# whatever the spec's network is called). The generator rewrites its outputs only
# when their bytes change, so this relinks only when the spec or a tool changed.
TRAINER_SPEC_DIRS := specs/ $(filter-out specs/,$(dir $(SPEC)))
# A SPEC elsewhere named as one in specs/ would share its trainer's file (and make would take
# the specs/ rule): refused, naming both.
spec_clash = $(if $(filter-out specs/,$(dir $(1))),$(wildcard specs/$(notdir $(1))))
spec_clash_check = if [ -n "$(call spec_clash,$(2))" ] && [ "$$(CDPATH= cd -P -- "$(dir $(2))" >/dev/null && pwd -P)" != "$$(CDPATH= cd -P -- specs >/dev/null && pwd -P)" ]; \
  then echo "make $(1): SPEC=$(2) has the name of specs/$(notdir $(2)), whose trainer is the same file: rename it" >&2; exit 2; fi
define trainer_rule
$(TRAINER_DIR)/$(1)/%_cli: $(2)%.lua $(BUILD)/chainrule $(call trainer_libs,$(1)) $(TRAINER_HDRS)
	@mkdir -p $$(@D)
	$(BUILD)/chainrule gen $$< --out $$(@D) --isa $(1) --cpu native --name $$* --cli
	$$(CC) $$(WARN) $$(CFLAGS) $$(call trainer_isa_flags,$(1)) -Iruntime -Itrainer -I$$(@D) \
	  -o $$@ $$(@D)/$$*_cli.c $$(@D)/$$*.c $(call trainer_libs,$(1)) -lz -lm -pthread
endef
$(foreach dir,$(TRAINER_SPEC_DIRS),$(foreach isa,scalar sse2 avx2 avx512 native,$(eval $(call trainer_rule,$(isa),$(dir)))))

# build/trainer/dispatch/NAME_cli (x86, make trainer DEMO_ISA=dispatch): gen --dispatch x86
# --cli, each variant compiled with its ISA's flags, the trainer and runtime built for any
# x86-64: one binary that trains at the best speed of whatever x86 CPU runs it.
define trainer_dispatch_rule
$(TRAINER_DIR)/dispatch/%_cli: $(1)%.lua $(BUILD)/chainrule $(TRAINER_LIBS) $(TRAINER_HDRS)
	@mkdir -p $$(@D)
	$(BUILD)/chainrule gen $$< --out $$(@D) --dispatch x86 --name $$* --cli
	@set -e; $$(call dispatch_compile,$$(CC) $$(WARN) $$(CFLAGS),$$(@D)/$$*,$$(@D)/$$*,$$(DISPATCH_ISAS))
	$$(CC) $$(WARN) $$(CFLAGS) -Iruntime -Itrainer -I$$(@D) -o $$@ $$(@D)/$$*_cli.c $$(@D)/$$*.c \
	  $$(call dispatch_objs,$$(@D)/$$*,$$(DISPATCH_ISAS)) $(TRAINER_LIBS) -lz -lm -pthread
endef
$(foreach dir,$(TRAINER_SPEC_DIRS),$(eval $(call trainer_dispatch_rule,$(dir))))

.PHONY: trainer demo demo-fashion demo-cnn demo-cnn-fashion demo-run demo-fashion-run demo-cnn-run \
        demo-cnn-fashion-run test-trainer
# (a missing SPEC named as such, not as a missing rule for its trainer)
trainer:
	@[ -f "$(SPEC)" ] || { echo "make trainer: SPEC=$(SPEC): no such file" >&2; exit 2; }
	@$(call spec_clash_check,trainer,$(SPEC))
	@$(MAKE) --no-print-directory $(TRAINER_DIR)/$(DEMO_ISA)/$(basename $(notdir $(SPEC)))_cli

# deps and data first (a fresh machine may lack the compiler), then build + train.
demo:
	@scripts/deps.sh
	@scripts/fetch-data.sh
	@$(MAKE) --no-print-directory demo-run

DEMO_MNIST := $(TRAINER_DIR)/$(DEMO_ISA)/mnist_mlp_cli
# lr 0.02 instead of the spec's 0.05: over 10 seeds it gives 0.943-0.960 after 5 epochs
# here, 0.05 gives 0.932-0.950 (README "Training").
demo-run: $(DEMO_MNIST)
	@mkdir -p $(DEMO_DIR)
	@echo "== training specs/mnist_mlp.lua ($(DEMO_ISA)) on data/mnist for 5 epochs"
	$(DEMO_MNIST) train --data mnist --epochs 5 --lr 0.02 --seed 1 \
	  --checkpoint $(DEMO_DIR)/mnist_mlp.ckpt --metrics $(DEMO_DIR)/mnist_mlp.csv \
	  --plot $(DEMO_DIR)/mnist_mlp.png
	@echo "== more: $(DEMO_MNIST) --help  (eval, predict, export, import, init-report)"

demo-fashion:
	@scripts/deps.sh --data
	@$(MAKE) --no-print-directory demo-fashion-run

DEMO_FASHION := $(TRAINER_DIR)/$(DEMO_ISA)/fashion_mlp_cli
DEMO_FCKPT   := $(DEMO_DIR)/fashion_mlp.ckpt
# 12 epochs at the spec's lr 0.02, then --resume with lr 0.002 up to epoch 20 (a step
# decay made of two runs; the metrics CSV and the plot cover all 20 epochs).
demo-fashion-run: $(DEMO_FASHION)
	@mkdir -p $(DEMO_DIR)
	@rm -f $(DEMO_FCKPT) $(DEMO_DIR)/fashion_mlp.csv
	@echo "== training specs/fashion_mlp.lua ($(DEMO_ISA)) on Fashion-MNIST: 12 epochs at lr 0.02"
	$(DEMO_FASHION) train --data fashion --epochs 12 --seed 1 \
	  --checkpoint $(DEMO_FCKPT) --metrics $(DEMO_DIR)/fashion_mlp.csv
	@echo "== resuming for epochs 13-20 at lr 0.002"
	$(DEMO_FASHION) train --data fashion --epochs 20 --lr 0.002 --resume $(DEMO_FCKPT) \
	  --metrics $(DEMO_DIR)/fashion_mlp.csv --plot $(DEMO_DIR)/fashion_mlp.png

demo-cnn:
	@scripts/deps.sh
	@scripts/fetch-data.sh
	@$(MAKE) --no-print-directory demo-cnn-run

DEMO_CNN   := $(TRAINER_DIR)/$(DEMO_ISA)/mnist_cnn_cli
DEMO_CCKPT := $(DEMO_DIR)/mnist_cnn.ckpt
# 8 epochs of the spec's one-cycle schedule (max lr 0.05, SGD momentum cycled 0.95-0.85):
# valid acc 0.9815 for seed 1 on avx2, 0.9790-0.9825 over seeds 1-5 (README "Training").
demo-cnn-run: $(DEMO_CNN)
	@mkdir -p $(DEMO_DIR)
	@rm -f $(DEMO_CCKPT) $(DEMO_DIR)/mnist_cnn.csv
	@echo "== training specs/mnist_cnn.lua ($(DEMO_ISA)) on data/mnist: 8 epochs, one-cycle lr schedule (max 0.05)"
	@start=$$(date +%s%N); \
	$(DEMO_CNN) train --data mnist --epochs 8 --seed 1 \
	  --checkpoint $(DEMO_CCKPT) --metrics $(DEMO_DIR)/mnist_cnn.csv || exit $$?; \
	end=$$(date +%s%N); \
	echo "demo-cnn: wall time $$(( (end - start) / 1000000 )) ms (training + validation)"

demo-cnn-fashion:
	@scripts/deps.sh --data
	@$(MAKE) --no-print-directory demo-cnn-fashion-run

DEMO_FCNN   := $(TRAINER_DIR)/$(DEMO_ISA)/fashion_cnn_cli
DEMO_FCCKPT := $(DEMO_DIR)/fashion_cnn.ckpt
# 5 epochs of the spec's one-cycle schedule (max lr 0.05): test acc 0.9185 / 0.9183 for seeds
# 1 / 2 (Zen 4, avx512), 33 s wall (README "Training"); the MLP of demo-fashion ends at 0.8966.
demo-cnn-fashion-run: $(DEMO_FCNN)
	@mkdir -p $(DEMO_DIR)
	@rm -f $(DEMO_FCCKPT) $(DEMO_DIR)/fashion_cnn.csv
	@echo "== training specs/fashion_cnn.lua ($(DEMO_ISA)) on Fashion-MNIST: 5 epochs, one-cycle lr schedule (max 0.05)"
	@start=$$(date +%s%N); \
	$(DEMO_FCNN) train --data fashion --epochs 5 --seed 1 \
	  --checkpoint $(DEMO_FCCKPT) --metrics $(DEMO_DIR)/fashion_cnn.csv || exit $$?; \
	end=$$(date +%s%N); \
	echo "demo-cnn-fashion: wall time $$(( (end - start) / 1000 / 1000000 )) s (training + test set)"

# --- tests: the trainer built with ASan + UBSan over the sanitizer runtime ---------------
TEST_GOALS += test-trainer
TT_DIR := $(BUILD)/tests/trainer
# NAME.c is compiled alone, or for a spec of specs/ test-net's ASan object of the same
# generated file is copied (tt_shared, mk/tests.mk: the same compiler and flags; the files are
# compared first), then NAME_cli.c and the link.
tt_link = $(if $(call tt_shared,$(1)),cmp $(@D)/$(1).c $(NET_T)/$(1)/gen/$(1).c && cp $(call tt_shared,$(1)) $(@D)/$(1).o, \
  $(CC) $(RT_SAN_FLAGS) -c -o $(@D)/$(1).o $(@D)/$(1).c) && \
  $(CC) $(RT_SAN_FLAGS) -Iruntime -Itrainer -I$(@D) -o $@ $(@D)/$(1)_cli.c $(@D)/$(1).o $(TRAINER_SAN_LIBS) -lz -lm -pthread
$(TT_DIR)/%_cli: specs/%.lua $(BUILD)/chainrule $(TRAINER_SAN_LIBS) $(TRAINER_HDRS)
	@mkdir -p $(@D)
	$(BUILD)/chainrule gen $< --out $(@D) --isa scalar --cli
	$(call tt_link,$*)

# trainers of specs only the tests use (tests/trainer/specs/)
$(TT_DIR)/%_cli: tests/trainer/specs/%.lua $(BUILD)/chainrule $(TRAINER_SAN_LIBS) $(TRAINER_HDRS)
	@mkdir -p $(@D)
	$(BUILD)/chainrule gen $< --out $(@D) --isa scalar --cli
	$(call tt_link,$*)

$(TT_DIR)/test_ckpt: tests/trainer/test_ckpt.c $(TRAINER_SAN_LIBS) $(TRAINER_HDRS)
	@mkdir -p $(@D)
	$(CC) $(RT_SAN_FLAGS) $(CHECK_CFLAGS) -Iruntime -Itrainer -o $@ $< $(TRAINER_SAN_LIBS) \
	  $(CHECK_LIBS) -lz -lm

# the lr schedules against PyTorch's (tests/trainer/sched_golden.txt; `make golden` rewrites it)
$(TT_DIR)/test_sched: tests/trainer/test_sched.c $(TRAINER_SAN_LIBS) $(TRAINER_HDRS)
	@mkdir -p $(@D)
	$(CC) $(RT_SAN_FLAGS) $(CHECK_CFLAGS) -Iruntime -Itrainer -o $@ $< $(TRAINER_SAN_LIBS) \
	  $(CHECK_LIBS) -lz -lm

# three jobs that make -j runs side by side (the end-to-end script alone is ~45 CPU s): the
# library suites, run.sh, shards.sh (each script works in a mktemp directory of its own)
TT_CLIS := $(foreach s,mnist_mlp seed_mse mnist_cnn bn_drop_mlp drop_mlp,$(TT_DIR)/$(s)_cli)
.PHONY: test-trainer-units test-trainer-run test-trainer-shards
test-trainer: test-trainer-units test-trainer-run test-trainer-shards
test-trainer-units: $(TT_DIR)/test_ckpt $(TT_DIR)/test_sched
	@echo "== trainer runtime suite: checkpoints, CRC-32, metrics, non-finite scan (ASan + UBSan)"
	@mkdir -p $(TT_DIR)/tmp
	@CR_TEST_TMP=$(TT_DIR)/tmp $(TT_DIR)/test_ckpt
	@echo "== learning-rate schedules vs PyTorch (ASan + UBSan)"
	@$(TT_DIR)/test_sched tests/trainer/sched_golden.txt
test-trainer-run: $(TT_CLIS) tiny-data
	@echo "== trainer end-to-end tests (ASan + UBSan, tiny data set)"
	@tests/trainer/run.sh $(TT_DIR) $(BUILD)/tiny
test-trainer-shards: $(TT_CLIS) tiny-data
	@echo "== train --shards/--threads: bits depend on the shard count only (ASan + UBSan)"
	@tests/trainer/shards.sh $(TT_DIR) $(BUILD)/tiny
