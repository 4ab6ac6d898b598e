# Embedding: generated code in other programs. C++ (extern "C", the alignment spelling),
# several variants of one spec renamed with --name and linked into one program.
#
#   make test-cxx      a C++ program over 7 generated networks (3 specs, 3 ISAs, --name, and
#                      an --inference build with baked weights),
#                      g++ and clang++ at -std=c++17 and c++20; the headers under C99/C11/C17
EMBED_T := $(BUILD)/tests/embed
CXXWARN := -Wall -Wextra -Wpedantic -Werror

# ISA:SPEC:NAME of every network tests/cxx/ includes
CXX_NETS := scalar:specs/mnist_mlp.lua:mnist_scalar avx2:specs/mnist_mlp.lua:mnist_avx2 \
            avx512:specs/mnist_mlp.lua:mnist_avx512 scalar:specs/seed_mse.lua:seed_scalar \
            avx2:specs/seed_mse.lua:seed_avx2 scalar:examples/xor.lua:xor
CXX_NAMES := $(foreach e,$(CXX_NETS),$(word 3,$(subst :, ,$(e))))
cxx_isa = $(word 1,$(subst :, ,$(filter %:$(1),$(CXX_NETS))))
cxx_spec = $(word 2,$(subst :, ,$(filter %:$(1),$(CXX_NETS))))

define CXX_GEN_RULE
$(EMBED_T)/gen/$(1).c $(EMBED_T)/gen/$(1).h &: $(call cxx_spec,$(1)) $(BUILD)/chainrule
	@mkdir -p $(EMBED_T)/gen
	$(BUILD)/chainrule gen $(call cxx_spec,$(1)) --isa $(call cxx_isa,$(1)) --name $(1) --out $(EMBED_T)/gen >/dev/null
endef
define CXX_OBJ_RULE
$(EMBED_T)/$(2)/$(1).o: $(EMBED_T)/gen/$(1).c
	@mkdir -p $$(@D)
	$(2) $(WARN) $(OPT) $(ISA_CFLAGS_$(call cxx_isa,$(1))) -c -o $$@ $$<
endef
$(foreach n,$(CXX_NAMES),$(eval $(call CXX_GEN_RULE,$(n))))
$(foreach n,$(CXX_NAMES),$(foreach cc,gcc clang,$(eval $(call CXX_OBJ_RULE,$(n),$(cc)))))

# and an inference-only build with baked weights (tests/inference/vectors/)
$(EMBED_T)/gen/mnist_infer.c $(EMBED_T)/gen/mnist_infer.h &: specs/mnist_mlp.lua $(BUILD)/chainrule \
    $(wildcard tests/inference/vectors/mnist_mlp/*.npy)
	@mkdir -p $(EMBED_T)/gen
	$(BUILD)/chainrule gen specs/mnist_mlp.lua --inference --weights tests/inference/vectors/mnist_mlp \
	  --max-batch 4 --name mnist_infer --out $(EMBED_T)/gen >/dev/null
$(foreach cc,gcc clang,$(eval $(call CXX_OBJ_RULE,mnist_infer,$(cc))))
CXX_NAMES += mnist_infer
CXX_HDRS := $(foreach n,$(CXX_NAMES),$(EMBED_T)/gen/$(n).h)
# g++ links gcc's C objects, clang++ clang's
$(EMBED_T)/cxx-%: tests/cxx/cxx_test.cpp $(CXX_HDRS) \
    $(foreach n,$(CXX_NAMES),$(EMBED_T)/gcc/$(n).o $(EMBED_T)/clang/$(n).o)
	@cxx=$(word 1,$(subst -, ,$*)); std=$(word 2,$(subst -, ,$*)); cc=$(if $(findstring clang,$*),clang,gcc); \
	echo "  CXX     $@"; \
	$$cxx -std=$$std $(CXXWARN) $(OPT) -I$(EMBED_T)/gen -o $@ tests/cxx/cxx_test.cpp \
	  $(foreach n,$(CXX_NAMES),$(EMBED_T)/$$cc/$(n).o) -lm

CXX_BINS := $(foreach cxx,g++ clang++,$(foreach std,c++17 c++20,$(EMBED_T)/cxx-$(cxx)-$(std)))
C_STDS   := $(foreach cc,gcc clang,$(foreach std,c99 c11 c17,$(cc)-$(std)))

TEST_GOALS += test-cxx
.PHONY: test-cxx
test-cxx: $(CXX_BINS) $(CXX_HDRS) tests/cxx/c_std.c
	@for v in $(C_STDS); do cc=$${v%%-*}; std=$${v#*-}; \
	  $$cc -std=$$std -Wall -Wextra -Wpedantic -Werror -I$(EMBED_T)/gen -fsyntax-only tests/cxx/c_std.c \
	    || { echo "test-cxx: the headers fail under $$cc -std=$$std"; exit 1; }; done
	@echo "test-cxx: $(words $(CXX_NAMES)) headers clean under $(C_STDS)"
	@for b in $(CXX_BINS); do echo "== $$(basename $$b)"; $$b || { echo "test-cxx: $$b failed"; exit 1; }; done

# ---------------------------------------------------------------- inference-only builds
#   make test-inference        gen --inference --weights from PyTorch's .npy files and from a
#                              trainer checkpoint of them, per ISA and --max-batch: weights
#                              bit-exact, predictions on the 200 validation images equal to
#                              PyTorch's (tests/inference/), clang and gcc; NEON under qemu
#   make inference-vectors     rewrite tests/inference/vectors/ with PyTorch (needs python3-torch)
INFER_T   := $(EMBED_T)/infer
INFER_VEC := tests/inference/vectors/mnist_mlp
INFER_NPY := $(wildcard $(INFER_VEC)/*.npy)
INFER_CKPT := $(INFER_T)/mnist_mlp.ckpt
# ISA-BATCH-SOURCE (SOURCE: dir = the .npy directory, ckpt = a trainer checkpoint of it)
INFER_VARIANTS := scalar-1-dir scalar-7-ckpt avx2-1-dir avx2-64-ckpt avx512-1-dir avx512-5-ckpt
# NEON (item 7): cross-compiled and run under qemu-aarch64 where mk/isa.mk's test finds the tools
# (mk/isa.mk is read after this file, so the test is repeated here)
EMBED_NEON := $(shell command -v qemu-aarch64 >/dev/null 2>&1 && command -v ld.lld >/dev/null 2>&1 \
                && test -f /usr/aarch64-linux-gnu/lib/libc.so.6 && echo neon)
INFER_NEON     := $(if $(EMBED_NEON),neon-1-dir neon-3-ckpt)
infer_word = $(word $(2),$(subst -, ,$(1)))
infer_src  = $(if $(filter ckpt,$(call infer_word,$(1),3)),$(INFER_CKPT),$(INFER_VEC))
infer_runs = $(filter scalar $(HOST_ISAS),$(call infer_word,$(1),1))

# the trainer's `import` turns the .npy files into a real checkpoint (norm.npy included)
$(INFER_CKPT): $(TRAINER_DIR)/scalar/mnist_mlp_cli $(INFER_NPY)
	@mkdir -p $(@D)
	$< import $(INFER_VEC) --checkpoint $@ >/dev/null

define INFER_RULES
$(INFER_T)/$(1)/gen/infer.c $(INFER_T)/$(1)/gen/infer.h &: specs/mnist_mlp.lua $(BUILD)/chainrule $(call infer_src,$(1)) $(INFER_NPY)
	@mkdir -p $(INFER_T)/$(1)/gen
	$(BUILD)/chainrule gen specs/mnist_mlp.lua --inference --isa $(call infer_word,$(1),1) --name infer \
	  --max-batch $(call infer_word,$(1),2) --weights $(call infer_src,$(1)) --out $(INFER_T)/$(1)/gen >/dev/null
$(INFER_T)/$(1)/%/infer_test: tests/inference/infer_test.c tests/soft_check.h $(INFER_T)/$(1)/gen/infer.c
	@mkdir -p $$(@D)
	$$(if $$(filter neon,$$*),$$(ISA_CC_neon),$$*) $(WARN) $(OPT) $(ISA_CFLAGS_$(call infer_word,$(1),1)) \
	  -I$(INFER_T)/$(1)/gen -o $$@ tests/inference/infer_test.c $(INFER_T)/$(1)/gen/infer.c
endef
$(foreach v,$(INFER_VARIANTS) $(INFER_NEON),$(eval $(call INFER_RULES,$(v))))

INFER_BINS := $(foreach v,$(INFER_VARIANTS),$(INFER_T)/$(v)/gcc/infer_test $(INFER_T)/$(v)/clang/infer_test) \
              $(foreach v,$(INFER_NEON),$(INFER_T)/$(v)/neon/infer_test)

# The inference build against the training build's forward, for specs with activations
# anywhere (tests/inference/same_test.c): SPEC-ISA-BATCH, BATCH "same" = the spec's batch
# (bit-identical), else within tolerance. Run like INFER_BINS (ISA the CPU lacks: built only).
SAME_SPECS := tests/isa/specs/act_mix.lua tests/golden/specs/act_ce.lua tests/golden/specs/act_mse.lua \
              examples/xor.lua specs/mnist_mlp.lua $(RAND_DIR)/r26.lua tests/isa/specs/conv_rgb.lua
SAME_ISAS  := scalar sse2 avx2 avx512 $(EMBED_NEON)
same_spec = $(filter %/$(word 1,$(subst -, ,$(1))).lua,$(SAME_SPECS))
same_cc = $(if $(filter neon,$(1)),$$(ISA_CC_neon),gcc) $(WARN) $(OPT) $(ISA_CFLAGS_$(1))
# the same without link flags, for -c (isa_compile: mk/isa.mk, read after this file)
same_cc_c = $(if $(filter neon,$(1)),$$(call isa_compile,neon),gcc) $(WARN) $(OPT) $(ISA_CFLAGS_$(1))
# The training build of SPEC-ISA (train.c, compiled once) serves both of its BATCH cases.
# $(1): SPEC-ISA
define SAME_TRAIN_RULES
$(INFER_T)/same/$(1)/train.o: $(call same_spec,$(1)) $(BUILD)/chainrule
	@mkdir -p $$(@D)
	@$(BUILD)/chainrule gen $(call same_spec,$(1)) --isa $(word 2,$(subst -, ,$(1))) --name train --out $$(@D) >/dev/null
	$(call same_cc_c,$(word 2,$(subst -, ,$(1)))) -c -o $$@ $$(@D)/train.c
endef
# $(1): SPEC-ISA-BATCH; same_train: the directory of its SPEC-ISA's training build
same_train = $(INFER_T)/same/$(word 1,$(subst -, ,$(1)))-$(word 2,$(subst -, ,$(1)))
define SAME_RULES
$(INFER_T)/same/$(1)/same_test: tests/inference/same_test.c $(call same_train,$(1))/train.o
	@mkdir -p $$(@D)
	@b=$$$$(sed -n 's/^#define TRAIN_BATCH *\([0-9]*\).*/\1/p' $(call same_train,$(1))/train.h); m=$(word 3,$(subst -, ,$(1))); \
	  [ $$$$m = same ] && m=$$$$b; \
	  $(BUILD)/chainrule gen $(call same_spec,$(1)) --isa $(word 2,$(subst -, ,$(1))) --name infer --inference \
	    --max-batch $$$$m --out $$(@D) >/dev/null
	$(call same_cc,$(word 2,$(subst -, ,$(1)))) -I$$(@D) -I$(call same_train,$(1)) \
	  -o $$@ $$< $(call same_train,$(1))/train.o $$(@D)/infer.c -lm
endef
SAME_CASES := $(foreach s,$(SAME_SPECS),$(foreach i,$(SAME_ISAS),$(foreach b,3 same,$(basename $(notdir $(s)))-$(i)-$(b))))
$(foreach s,$(SAME_SPECS),$(foreach i,$(SAME_ISAS),$(eval $(call SAME_TRAIN_RULES,$(basename $(notdir $(s)))-$(i)))))
$(foreach c,$(SAME_CASES),$(eval $(call SAME_RULES,$(c))))
INFER_BINS += $(foreach c,$(SAME_CASES),$(INFER_T)/same/$(c)/same_test)

TEST_GOALS += test-inference
.PHONY: test-inference inference-vectors
test-inference: $(INFER_BINS)
	@for b in $(INFER_BINS); do v=$$(basename $$(dirname $$(dirname $$b))); cc=$$(basename $$(dirname $$b)); isa=$${v%%-*}; \
	  case $$b in */same/*) v=$$cc; cc=gcc; isa=$$(echo $$v | cut -d- -f2); [ $$isa = neon ] && cc=clang;; esac; \
	  case " scalar $(HOST_ISAS) " in *" $$isa "*) run=;; *) run=no;; esac; \
	  if [ $$isa = neon ]; then run="$(ISA_RUN_neon)"; fi; \
	  if [ "$$run" = no ]; then echo "test-inference $$v [$$cc]: built; not run (this CPU lacks $$isa)"; continue; fi; \
	  printf '%s' "test-inference $$v [$$cc]: "; $$run $$b $(INFER_VEC) || { echo "test-inference: $$b failed"; exit 1; }; done

inference-vectors: tiny-data
	$(PYTHON) tests/inference/make_vectors.py $(BUILD)/tiny $(INFER_VEC)

# ---------------------------------------------------------------- bench (not in make test)
#   make bench-inference [BENCH_INFER_ISA=avx2]   784-50-10, one row: the inference-only build
#                              (--max-batch 1) against the training builds' forward at n = 1
#                              (batch 64, and batch 1 as make bench's B=1 row); on x86 also
#                              the same inference build through --dispatch x86's entry points
# A --dispatch build's variants (words ISA or ISA:FAMILY, the file NAME_ISA[_FAMILY].c):
# dispatch_compile: the commands compiling each with its ISA's flags, $(1) the compiler and its
# flags, $(2) DIR/NAME of the objects, $(3) DIR/NAME of the sources, $(4) the words;
# dispatch_objs: the objects, $(1) DIR/NAME, $(2) the words (used in mk/demo.mk too).
DISPATCH_ISAS := avx512 avx2 sse2 scalar
dispatch_comma := ,
dispatch_empty :=
dispatch_list  = $(subst $(dispatch_empty) ,$(dispatch_comma),$(strip $(1)))
dispatch_file = $(subst :,_,$(1))
dispatch_isa  = $(firstword $(subst :, ,$(1)))
dispatch_compile = $(foreach i,$(4),$(1) $(ISA_CFLAGS_$(call dispatch_isa,$(i))) -c \
  -o $(2)_$(call dispatch_file,$(i)).o $(3)_$(call dispatch_file,$(i)).c;)
dispatch_objs = $(foreach i,$(2),$(1)_$(call dispatch_file,$(i)).o)
BENCH_INFER_ISA ?= $(or $(lastword $(HOST_ISAS)),scalar)
BENCH_INFER_T   := $(EMBED_T)/bench-infer/$(BENCH_INFER_ISA)
BENCH_DISPATCH  := $(if $(filter sse2,$(HOST_ISAS)),$(BENCH_INFER_T)/disp/objs)
$(BENCH_INFER_T)/disp/objs: specs/mnist_mlp.lua $(BUILD)/chainrule $(INFER_NPY)
	@mkdir -p $(@D)
	$(BUILD)/chainrule gen specs/mnist_mlp.lua --cpu $(BENCH_CPU) --name disp --inference --weights $(INFER_VEC) \
	  --dispatch x86 --out $(@D) >/dev/null
	@set -e; $(CC) $(WARN) -O2 -c -o $(@D)/disp.o $(@D)/disp.c; \
	$(call dispatch_compile,$(CC) $(WARN) -O2,$(@D)/disp,$(@D)/disp,$(DISPATCH_ISAS)) \
	echo "$(@D)/disp.o $(call dispatch_objs,$(@D)/disp,$(DISPATCH_ISAS))" > $@
$(BENCH_INFER_T)/infer.c $(BENCH_INFER_T)/train.c $(BENCH_INFER_T)/train1.c &: specs/mnist_mlp.lua \
    bench/specs/bench_mlp.lua $(BUILD)/chainrule $(INFER_NPY)
	@mkdir -p $(BENCH_INFER_T)
	$(BUILD)/chainrule gen specs/mnist_mlp.lua --isa $(BENCH_INFER_ISA) --cpu $(BENCH_CPU) --name train --out $(BENCH_INFER_T) >/dev/null
	$(BUILD)/chainrule gen bench/specs/bench_mlp.lua --isa $(BENCH_INFER_ISA) --cpu $(BENCH_CPU) --name train1 --batch 1 --out $(BENCH_INFER_T) >/dev/null
	$(BUILD)/chainrule gen specs/mnist_mlp.lua --isa $(BENCH_INFER_ISA) --cpu $(BENCH_CPU) --name infer --inference \
	  --weights $(INFER_VEC) --out $(BENCH_INFER_T) >/dev/null
$(BENCH_INFER_T)/bench_infer: tests/inference/bench_infer.c $(BENCH_INFER_T)/infer.c $(BENCH_INFER_T)/train.c \
    $(BENCH_INFER_T)/train1.c $(BENCH_DISPATCH)
	$(CC) $(WARN) -O2 $(ISA_CFLAGS_$(BENCH_INFER_ISA)) -I$(BENCH_INFER_T) \
	  $(if $(BENCH_DISPATCH),-DBENCH_DISPATCH -I$(BENCH_INFER_T)/disp $$(cat $(BENCH_DISPATCH))) \
	  -o $@ $(filter %.c,$^) -lm
.PHONY: bench-inference
bench-inference: $(BENCH_INFER_T)/bench_infer
	$<

# ---------------------------------------------------------------- runtime ISA dispatch (x86)
#   make test-dispatch         gen --dispatch x86 (avx512,avx2,sse2,scalar): the entry points pick
#                              this CPU's best, each path forced with NAME_use_isa gives its
#                              variant's exact bits (tests/dispatch/), gcc and clang; seed_mse
#                              (MSE, no NAME_correct) compiled too; an inference build with
#                              --weights the same way, and tests/inference's infer_test on it
DISPATCH_T := $(EMBED_T)/dispatch
# $(1) spec, $(2) name, $(3) more gen options, $(4) more prerequisites, $(5) the variants
# (--dispatch's words; default x86)
define DISPATCH_GEN
$(DISPATCH_T)/$(2)/gen/$(2).c: $(1) $(BUILD)/chainrule $(4)
	@mkdir -p $$(@D)
	$(BUILD)/chainrule gen $(1) --dispatch $(call dispatch_list,$(or $(5),x86)) --name $(2) $(3) --out $$(@D) >/dev/null
$(foreach cc,gcc clang,$(DISPATCH_T)/$(2)/$(cc)/objs): $(DISPATCH_T)/$(2)/gen/$(2).c
	@mkdir -p $$(@D)
	@cc=$$(notdir $$(@D)); d=$(DISPATCH_T)/$(2)/gen; set -e; \
	$$$$cc $(WARN) $(OPT) -c -o $$(@D)/$(2).o $$$$d/$(2).c; \
	$(call dispatch_compile,$$$$cc $(WARN) $(OPT),$$(@D)/$(2),$$$$d/$(2),$(or $(5),$(DISPATCH_ISAS))) \
	echo "$$(@D)/$(2).o $(call dispatch_objs,$$(@D)/$(2),$(or $(5),$(DISPATCH_ISAS)))" > $$@
endef
$(eval $(call DISPATCH_GEN,specs/mnist_mlp.lua,dnet))
$(eval $(call DISPATCH_GEN,specs/seed_mse.lua,dmse))
$(eval $(call DISPATCH_GEN,specs/mnist_mlp.lua,infer,--inference --weights $(INFER_VEC) --max-batch 8,$(INFER_NPY)))
DISPATCH_FAMILIES := avx512:zen5 avx512:zen4 avx512 avx2:zen3 avx2 sse2 scalar
$(eval $(call DISPATCH_GEN,examples/xor.lua,dfam,,,$(DISPATCH_FAMILIES)))
$(DISPATCH_T)/dfam/%/family_test: tests/dispatch/family_test.c tests/soft_check.h tests/dispatch/cpu_runs.h \
    $(DISPATCH_T)/dfam/%/objs
	$* $(WARN) $(OPT) -I$(DISPATCH_T)/dfam/gen -o $@ $< $$(cat $(DISPATCH_T)/dfam/$*/objs) -lm

$(DISPATCH_T)/dnet/%/dispatch_test: tests/dispatch/dispatch_test.c tests/soft_check.h tests/dispatch/cpu_runs.h \
    $(DISPATCH_T)/dnet/%/objs \
    $(DISPATCH_T)/dmse/%/objs $(DISPATCH_T)/infer/%/objs
	$* $(WARN) $(OPT) -I$(DISPATCH_T)/dnet/gen -I$(DISPATCH_T)/infer/gen -o $@ $< $$(cat $(DISPATCH_T)/dnet/$*/objs) \
	  $$(cat $(DISPATCH_T)/infer/$*/objs) -lm
$(DISPATCH_T)/infer/%/infer_test: tests/inference/infer_test.c tests/soft_check.h $(DISPATCH_T)/infer/%/objs
	$* $(WARN) $(OPT) -I$(DISPATCH_T)/infer/gen -o $@ $< $$(cat $(DISPATCH_T)/infer/$*/objs)

# A plain (not dispatching) trainer with a CPU family's defaults, gen --isa avx2 --cpu zen3:
# those defaults do not change mnist_mlp's code, so its checkpoints say avx2 and the dispatch
# build's avx2 variant resumes them silently, bit for bit (trainer.sh; it runs only on a CPU
# with avx2 and fma).
$(TRAINER_DIR)/avx2-zen3/%_cli: specs/%.lua $(BUILD)/chainrule $(TRAINER_LIBS) $(TRAINER_HDRS)
	@mkdir -p $(@D)
	$(BUILD)/chainrule gen $< --out $(@D) --isa avx2 --cpu zen3 --cli >/dev/null
	$(CC) $(WARN) $(CFLAGS) $(ISA_CFLAGS_avx2) -Iruntime -Itrainer -I$(@D) -o $@ $(@D)/$*_cli.c $(@D)/$*.c \
	  $(TRAINER_LIBS) -lz -lm -pthread

TEST_GOALS += test-dispatch
.PHONY: test-dispatch
test-dispatch: $(foreach cc,gcc clang,$(DISPATCH_T)/dnet/$(cc)/dispatch_test $(DISPATCH_T)/infer/$(cc)/infer_test \
      $(DISPATCH_T)/dfam/$(cc)/family_test) \
    $(TRAINER_DIR)/dispatch/mnist_mlp_cli $(TRAINER_DIR)/scalar/mnist_mlp_cli $(TRAINER_DIR)/avx2-zen3/mnist_mlp_cli \
    tiny-data
	@for cc in gcc clang; do echo "== test-dispatch [$$cc]"; $(DISPATCH_T)/dnet/$$cc/dispatch_test || exit 1; \
	  $(DISPATCH_T)/infer/$$cc/infer_test $(INFER_VEC) || exit 1; \
	  $(DISPATCH_T)/dfam/$$cc/family_test "$$($(BUILD)/chainrule cpu | sed -n '1s/:.*//p')" || exit 1; done
	@tests/dispatch/trainer.sh $(TRAINER_DIR)/dispatch/mnist_mlp_cli $(TRAINER_DIR)/scalar/mnist_mlp_cli $(TINY_DIR) \
	  $(TRAINER_DIR)/avx2-zen3/mnist_mlp_cli
	@echo "test-dispatch: dmse (seed_mse, mean squared error) variants and dispatcher compiled with gcc and clang"
