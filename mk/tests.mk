# mk/tests.mk — numeric verification: the double reference (test-ref), generated code vs the
# reference for every spec in specs/ and random specs (test-net), PyTorch golden vectors
# (test-golden; `make golden` regenerates them and is the only goal that needs torch).
#
#   make test-ref                     reference: finite differences, loss values, optimizer rules
#   make test-net [ISA=avx2]          generated code vs reference, clang + gcc + ASan/UBSan build
#   make test-golden [ISA=...]        generated code (and the reference) vs PyTorch
#   make golden                       rewrite tests/golden/*/ with PyTorch (needs python3-torch)
#
# Per-ISA knobs (the SIMD suites set them): TEST_CCS (compilers, default "clang gcc"),
# TEST_SAN_CC (compiler of the sanitizer build, empty = none), ISA_CFLAGS (e.g. -mavx2 -mfma),
# TEST_RUN (a runner prefix, e.g. qemu-aarch64 -L /usr/aarch64-linux-gnu), TEST_MINICHECK=1
# (tests/net/minicheck.h instead of libcheck) and TEST_NO_GOLDEN=1 (no PyTorch tests, no libcr)
# for a cross-compiled target that has neither, e.g.
#     make test-net ISA=neon TEST_CCS=a64 TEST_CC_a64="clang --target=aarch64-linux-gnu" TEST_SAN_CC= \
#          TEST_MINICHECK=1 TEST_NO_GOLDEN=1 TEST_RUN="qemu-aarch64 -L /usr/aarch64-linux-gnu"
# (a variant name maps to its compiler command through TEST_CC_<name> when they differ).
# CHECK_*, ISA_CFLAGS_<isa> and the random-spec names (RAND_*) come from the Makefile.

TEST_GOALS += test-ref test-net test-golden
.PHONY: test-ref test-net test-golden golden

TESTS_DIR   := $(BUILD)/tests

REF_SRC := tests/ref/ref.c
REF_HDR := tests/ref/ref.h tests/ref/rng.h

# ---------------------------------------------------------------- reference
# Variants are named by their compiler, with -san for the ASan + UBSan build (clang-san).
tcc  = $(or $(TEST_CC_$(1)),$(patsubst %-san,%,$(1)))
tsan = $(if $(filter %-san,$(1)),$(SAN))

$(TESTS_DIR)/ref/%/test_ref: tests/ref/test_ref.c $(REF_SRC) $(REF_HDR)
	@mkdir -p $(@D)
	$(call tcc,$*) $(WARN) -O1 -g $(call tsan,$*) $(CHECK_CFLAGS) -Itests/ref \
	  -o $@ tests/ref/test_ref.c $(REF_SRC) $(CHECK_LIBS) -lm

REF_VARIANTS := clang gcc clang-san
# test_ref seeds each description's draw with its position in this list: descriptions added
# later go at the end (REF_DESCS_NEW), so the others keep their draws. mnist_cnn.desc and
# fashion_cnn.desc are left out: with random weights ~10 % of mnist_cnn's sampled coordinates
# move a relu or max-pool kink (more than the 5 % the check allows); their layer kinds are
# checked on every coordinate of test_ref.c's conv and batchnorm/dropout nets, and test-net
# compares the generated mnist_cnn and fashion_cnn with the reference. The pooled random conv
# nets (c08 on: 8-32 channels under max poolings) are left out for the same reason (c09: 23 of
# 203 coordinates near a kink; c11: a finite difference across a pooling's maximum, 1.08e-6
# off); test-isa and test-net compare their generated code with the reference.
REF_DESCS_NEW = tests/golden/specs/conv_ce.desc $(foreach s,$(RAND_CONV_PLAIN),$(RAND_DIR)/$(s).desc) \
                tests/golden/specs/bn_ce.desc tests/golden/specs/traj_bn.desc
REF_SKIP      = tests/net/desc/mnist_cnn.desc tests/net/desc/fashion_cnn.desc
REF_DESCS     = $(filter-out $(REF_SKIP) $(REF_DESCS_NEW),$(wildcard tests/net/desc/*.desc) \
                  $(wildcard tests/golden/specs/*.desc)) \
                $(foreach s,$(RAND_NAMES),$(RAND_DIR)/$(s).desc) $(REF_DESCS_NEW)
# the random specs' stamp (below); its name holds the counts: make RAND_WIDE_COUNT=16 writes
# the ten more
RAND_STAMP := $(RAND_DIR)/stamp-$(RAND_COUNT)-$(RAND_CONV_COUNT)-$(RAND_WIDE_COUNT)
test-ref: $(foreach v,$(REF_VARIANTS),$(TESTS_DIR)/ref/$(v)/test_ref) $(RAND_STAMP)
	@for v in $(REF_VARIANTS); do echo "test-ref [$$v]"; $(TESTS_DIR)/ref/$$v/test_ref $(REF_DESCS) || exit 1; done

# ---------------------------------------------------------------- generated nets
# Every spec in specs/, the random specs and the trajectory specs of tests/golden/specs/ are
# generated for $(ISA) into $(NET_T)/<id>/gen/ and compiled with tests/net/net_test.c once per
# variant (each compiler in TEST_CCS at -O2, plus TEST_SAN_CC with ASan + UBSan at -O1; the
# harness net_test.c itself at -O0 in all of them, net_harness_flags).

TEST_CCS    ?= clang gcc
TEST_SAN_CC ?= clang
ISA_CFLAGS  ?= $(ISA_CFLAGS_$(ISA))
TEST_RUN    ?=
LIBCR       ?= $(BUILD)/libcr.a
LIBCR_SAN   ?= $(BUILD)/rt-san/libcr.a

NET_T        := $(TESTS_DIR)/$(ISA)
NET_VARIANTS := $(TEST_CCS) $(addsuffix -san,$(TEST_SAN_CC))
SPEC_NAMES   := $(basename $(notdir $(wildcard specs/*.lua)))
TRAJ_NAMES   := $(basename $(notdir $(wildcard tests/golden/specs/*.lua)))
NET_SRC      := tests/net/net_test.c tests/net/golden.inc $(REF_HDR) runtime/cr.h

# the random specs: one run of tests/randspec writes all of them (only changed files)
$(TESTS_DIR)/randspec: tests/randspec/randspec.c
	@mkdir -p $(@D)
	$(CC) $(WARN) -O1 -o $@ $<
$(RAND_STAMP): $(TESTS_DIR)/randspec
	@mkdir -p $(@D)
	$(TESTS_DIR)/randspec $(RAND_DIR) $(RAND_COUNT) 20261129 $(RAND_CONV_COUNT) $(RAND_WIDE_COUNT)
	@touch $@
$(RAND_DIR)/%.lua $(RAND_DIR)/%.desc: $(RAND_STAMP) ;

# The reference as test-net links it, once per compiler: -O2 and never sanitized: a sanitizer build (clang-san)
# links its compiler's plain object (net_ref), as the sanitizers are there for the generated
# code and the harness; test-ref's clang-san runs the reference itself under ASan + UBSan.
# (fashion_cnn's clang-san run: 46 s with the reference under ASan at -O1.)
net_ref = $(NET_T)/ref/$(patsubst %-san,%,$(1))/ref.o
$(NET_T)/ref/%/ref.o: $(REF_SRC) $(REF_HDR)
	@mkdir -p $(@D)
	$(call tcc,$*) $(WARN) -O2 -g -Itests/ref -c -o $@ $(REF_SRC)

# $(1) id, $(2) spec, $(3) description (may be empty)
define NET_RULES
$(NET_T)/$(1)/config.h: $(2) $(BUILD)/chainrule tests/net/config.sh
	@mkdir -p $(NET_T)/$(1)/gen
	$(BUILD)/chainrule gen $(2) --out $(NET_T)/$(1)/gen --isa $(ISA)
	tests/net/config.sh $(NET_T)/$(1)/gen > $$@.tmp && mv $$@.tmp $$@
NET_DESC_$(1) := $(3)
endef

# $(1) id, $(2) variant
net_libcr = $(if $(TEST_NO_GOLDEN),,$(if $(filter %-san,$(1)),$(LIBCR_SAN),$(LIBCR)))
net_check = $(if $(TEST_MINICHECK),-DNET_MINICHECK,$(CHECK_CFLAGS))
net_libs  = $(if $(TEST_MINICHECK),,$(CHECK_LIBS)) $(if $(TEST_NO_GOLDEN),,-lz) -lm
net_defs  = $(if $(TEST_NO_GOLDEN),-DNET_NO_GOLDEN)
# NAME.c itself at -O2 ($(OPT)), in the sanitizer build at -O1, but -O0 for the random and
# trajectory nets (NET_SAN_O0): their sanitizer runs take 0.1-0.5 s at either level, while
# ASan + UBSan at -O1 compile their unrolled code 4-7x slower than -O0 (r12: 2.5 s against
# 0.5 s; ~90 CPU s of make test for these 49 nets). -O0 instruments every access -O1 does and
# more; the same NAME.c runs optimised in the clang and gcc builds. The specs/ networks keep
# -O1: their runs do real work (fashion_cnn 21 s at -O1, 87 s at -O0; mnist_cnn 5.5 / 18 s)
# and test-trainer's ASan trainers link these objects (tt_shared below), as do the wide nets
# and a TEST_RUN (emulated) build.
# $(1) variant, $(2) network id
NET_SAN_O0 := $(RAND_ALL) $(TRAJ_NAMES)
net_flags = $(if $(filter %-san,$(1)),$(if $(and $(filter $(2),$(NET_SAN_O0)),$(if $(TEST_RUN),,native)),-O0,-O1) -g $(SAN),$(OPT))
# The harness tests/net/net_test.c (not NAME.c, always built with net_flags as above) at -O0
# in the builds that run natively: 0.1 s to compile instead of 0.6-0.8 s, once per network
# and variant, and no slower to run (its time goes to the generated code and the reference,
# ref.o); in the sanitizer build too, with ASan + UBSan (0.4 s instead of 1.3 s; -O0 keeps
# every check -O1 has: nothing optimised away) but for the networks of NET_SAN_O1, whose
# sanitizer runs spend enough in the harness' own loops to pay for -O1 (fashion_cnn: 20 CPU s
# with -O1, 24 s with -O0 since its reference is unsanitized, net_ref; mnist_cnn the same
# either way); a TEST_RUN (qemu) build net_flags
# (-O1 for a sanitizer build). The harness draws its inputs and hands the same arrays to the
# generated code and to the reference, so its -O level cannot move one against the other.
# $(1) variant, $(2) network id
NET_SAN_O1 := fashion_cnn
net_harness_flags = $(if $(filter %-san,$(1)),$(if $(or $(TEST_RUN),$(filter $(2),$(NET_SAN_O1))),-O1,-O0) -g $(SAN), \
                      $(if $(TEST_RUN),$(OPT),-O0))
# The clang -O2 object of a scalar NAME.c that test-isa also builds is test-isa's
# ($(ISA_T)/scalar/ID/net.o, mk/isa.mk: the same command on the same generated file, which
# the recipe checks with cmp): one compile of it serves both suites.
net_shared = $(if $(and $(filter scalar,$(ISA)),$(filter clang,$(2)),$(filter clang,$(call tcc,$(2))), \
               $(filter -O2,$(OPT)),$(if $(filter-out -O2,$(OPT) $(ISA_CFLAGS)),,yes),$(filter $(1),$(ISA_SPECS) $(RAND_ALL))), \
               $(ISA_T)/scalar/$(1)/net.o)
# test-trainer's ASan trainers (mk/demo.mk, tt_link) of the specs in specs/ link test-net's
# clang-san object of the same NAME.c: $(RT_SAN_FLAGS) there are net_flags here when CC is
# test-net's clang and no ISA_CFLAGS are added.
tt_shared = $(if $(and $(filter scalar,$(ISA)),$(filter clang-san,$(NET_VARIANTS)),$(filter clang,$(CC)), \
              $(filter clang,$(call tcc,clang-san)),$(if $(ISA_CFLAGS),,yes),$(filter $(1),$(SPEC_NAMES))), \
              $(NET_T)/$(1)/clang-san/net.o)
$(foreach s,$(SPEC_NAMES),$(if $(call tt_shared,$(s)),$(eval $(TT_DIR)/$(s)_cli: $(NET_T)/$(s)/clang-san/net_test)))
define NET_BIN_RULE
$(NET_T)/$(1)/$(2)/net_test: $(NET_T)/$(1)/config.h $(call net_ref,$(2)) $(NET_SRC) $(call net_libcr,$(2)) $(call net_shared,$(1),$(2))
	@mkdir -p $$(@D)
	@echo "  CC      $$@"
	@name=$$$$(sed -n 's/^#define NET \(.*\)/\1/p' $(NET_T)/$(1)/config.h); \
	$(if $(call net_shared,$(1),$(2)),cmp $(NET_T)/$(1)/gen/$$$$name.c $(ISA_T)/scalar/$(1)/gen/$$$$name.c && \
	  cp $(call net_shared,$(1),$(2)) $$(@D)/net.o, \
	  $(call tcc,$(2)) $(WARN) $(call net_flags,$(2),$(1)) $(ISA_CFLAGS) -c -o $$(@D)/net.o $(NET_T)/$(1)/gen/$$$$name.c) && \
	$(call tcc,$(2)) $(WARN) $(call net_harness_flags,$(2),$(1)) $(ISA_CFLAGS) $(net_check) $(net_defs) -DEXPECT_ISA='"$(ISA)"' \
	  -include $(NET_T)/$(1)/config.h -I$(NET_T)/$(1)/gen -Itests/ref -Itests/net -Iruntime \
	  -o $$@ tests/net/net_test.c $$(@D)/net.o $(call net_ref,$(2)) \
	  $(call net_libcr,$(2)) $(net_libs)
endef

$(foreach s,$(SPEC_NAMES),$(eval $(call NET_RULES,$(s),specs/$(s).lua,$(wildcard tests/net/desc/$(s).desc))))
$(foreach s,$(RAND_ALL),$(eval $(call NET_RULES,$(s),$(RAND_DIR)/$(s).lua,$(RAND_DIR)/$(s).desc)))
$(foreach s,$(TRAJ_NAMES),$(eval $(call NET_RULES,$(s),tests/golden/specs/$(s).lua,tests/golden/specs/$(s).desc)))
$(foreach s,$(SPEC_NAMES) $(RAND_ALL) $(TRAJ_NAMES),$(foreach v,$(NET_VARIANTS),$(eval $(call NET_BIN_RULE,$(s),$(v)))))
# The wide random MLPs (test-isa's wNN, RAND_WIDE_NAMES) in the sanitizer build alone: ASan's
# guard regions around the big layers' buffers (a 1536-864-1 Adam net first showed that the
# harness kept NAME_opt on the stack); their -O2 scalar code is test-isa's. 6 nets: ~15 s of
# wall time on 2 cores.
NET_WIDE_VARIANTS := $(filter %-san,$(NET_VARIANTS))
$(foreach s,$(RAND_WIDE_NAMES),$(eval $(call NET_RULES,$(s),$(RAND_DIR)/$(s).lua,$(RAND_DIR)/$(s).desc)))
$(foreach s,$(RAND_WIDE_NAMES),$(foreach v,$(NET_WIDE_VARIANTS),$(eval $(call NET_BIN_RULE,$(s),$(v)))))

# run-net/<id>/<variant>, run-golden/<id>/<variant>: run one binary, print its output in one piece
GOLD_NAMES := $(notdir $(patsubst %/,%,$(dir $(wildcard tests/golden/*/net.desc))))
RUN_NET    := $(foreach s,$(SPEC_NAMES) $(RAND_ALL) $(TRAJ_NAMES),$(foreach v,$(NET_VARIANTS),run-net/$(s)/$(v))) \
              $(foreach s,$(RAND_WIDE_NAMES),$(foreach v,$(NET_WIDE_VARIANTS),run-net/$(s)/$(v)))
RUN_GOLD   := $(foreach s,$(GOLD_NAMES),$(foreach v,$(NET_VARIANTS),run-golden/$(s)/$(v)))
.PHONY: $(RUN_NET) $(RUN_GOLD)
golden_args = --only-golden $(if $(filter traj_%,$(1)),--traj tests/golden/$(1),--golden tests/golden/$(1))

# net_test builds the kinks' slack only where a value needs it, which no draw of make test
# does; for NET_EAGER_SLACK (id/variant) always (NET_TEST_SLACK=eager; it fails if no draw
# met a kink), so that code runs in every make test, under ASan + UBSan: r09 meets one in 2
# draws, c07 (a conv net) in 1, at ~0.02 s a run (mnist_cnn's 9 such draws: 4.6 s more)
NET_EAGER_SLACK := r09/clang-san c07/clang-san
# $(1) goal (net/golden), $(2) id, $(3) variant, $(4) extra arguments
define NET_RUN_RULE
run-$(1)/$(2)/$(3): $(NET_T)/$(2)/$(3)/net_test
	@log=$(NET_T)/$(2)/$(3)/$(1).log; \
	$(if $(filter $(2)/$(3),$(NET_EAGER_SLACK)),NET_TEST_SLACK=eager )$(TEST_RUN) $$< $(if $(NET_DESC_$(2)),--desc $(NET_DESC_$(2))) $(4) > $$$$log 2>&1; \
	rc=$$$$?; echo "== $(1) $(2) [$(ISA) $(3)]"; cat $$$$log; exit $$$$rc
endef
$(foreach s,$(SPEC_NAMES) $(RAND_ALL) $(TRAJ_NAMES),$(foreach v,$(NET_VARIANTS),$(eval $(call NET_RUN_RULE,net,$(s),$(v),))))
$(foreach s,$(RAND_WIDE_NAMES),$(foreach v,$(NET_WIDE_VARIANTS),$(eval $(call NET_RUN_RULE,net,$(s),$(v),))))
$(foreach s,$(GOLD_NAMES),$(foreach v,$(NET_VARIANTS),$(eval $(call NET_RUN_RULE,golden,$(s),$(v),$(call golden_args,$(s))))))

# The harness must be able to fail: tests/net/mock/mock.c is a hand-written network with the
# generated API; -DMUTANT=k plants bug k (row past n written, input row n read, a weight-grad
# row never written, bias grad accumulated, mean over B instead of n, momentum reset every
# step, train_step leaving no gradients, export without transpose). MUTANT=0 must pass,
# every other must fail. The harness is built as in the clang runs (net_harness_flags), the
# mock as generated code ($(OPT)).
MOCK_T       := $(TESTS_DIR)/mock
MOCK_MUTANTS := 0 1 2 3 4 5 6 7 8
$(MOCK_T)/config.h: tests/net/mock/mock.h tests/net/config.sh
	@mkdir -p $(@D)
	tests/net/config.sh tests/net/mock > $@.tmp && mv $@.tmp $@
$(MOCK_T)/mutant%: tests/net/mock/mock.c $(MOCK_T)/config.h $(NET_T)/ref/clang/ref.o $(NET_SRC) $(LIBCR)
	@echo "  CC      $@"
	@$(CC) $(WARN) $(OPT) -DMUTANT=$* -c -o $@.o tests/net/mock/mock.c
	@$(CC) $(WARN) $(call net_harness_flags,clang) $(CHECK_CFLAGS) -DEXPECT_ISA='"scalar"' -include $(MOCK_T)/config.h \
	  -Itests/net/mock -Itests/ref -Itests/net -Iruntime -o $@ tests/net/net_test.c $@.o \
	  $(NET_T)/ref/clang/ref.o $(LIBCR) $(CHECK_LIBS) -lz -lm
# The same harness on tests/net/minicheck.h (TEST_MINICHECK=1, for targets without libcheck):
# mini0 must pass, mini2 (a read past row n) and mini3 (a weight-grad row never written) fail.
MOCK_MINI := 0 2 3
$(MOCK_T)/mini%: tests/net/mock/mock.c $(MOCK_T)/config.h $(NET_T)/ref/clang/ref.o $(NET_SRC) tests/net/minicheck.h
	@echo "  CC      $@"
	@$(CC) $(WARN) $(OPT) -DMUTANT=$* -c -o $@.o tests/net/mock/mock.c
	@$(CC) $(WARN) $(call net_harness_flags,clang) -DNET_MINICHECK -DNET_NO_GOLDEN -DEXPECT_ISA='"scalar"' \
	  -include $(MOCK_T)/config.h -Itests/net/mock -Itests/ref -Itests/net -o $@ tests/net/net_test.c $@.o \
	  $(NET_T)/ref/clang/ref.o -lm
.PHONY: test-net-mutants
test-net-mutants: $(foreach m,$(MOCK_MUTANTS),$(MOCK_T)/mutant$(m)) $(foreach m,$(MOCK_MINI),$(MOCK_T)/mini$(m))
	@for b in $(addprefix mutant,$(MOCK_MUTANTS)) $(addprefix mini,$(MOCK_MINI)); do \
	  m=$${b#mutant}; m=$${m#mini}; on=$${b%%[0-9]*}; on=$${on#mutant}; on=$${on:+ on minicheck.h}; \
	  $(MOCK_T)/$$b --desc tests/net/mock/mock.desc > $(MOCK_T)/$$b.log 2>&1; rc=$$?; \
	  if [ $$m = 0 ] && [ $$rc != 0 ]; then cat $(MOCK_T)/$$b.log; echo "test-net-mutants: the correct mock failed$$on"; exit 1; fi; \
	  if [ $$m != 0 ] && [ $$rc = 0 ]; then cat $(MOCK_T)/$$b.log; echo "test-net-mutants: mutant $$m was not caught$$on"; exit 1; fi; \
	  echo "test-net-mutants: mutant $$m$$on: $$(sed -n -e 's/^[0-9]*%: Checks: \([0-9]*\), Failures: \([0-9]*\).*/\2 of \1 checks fail/p' \
	    -e 's/^FAULT: \(signal [0-9]*\) in \([^(]*\).*/\1 in \2/p' $(MOCK_T)/$$b.log | head -1)"; \
	done

# the longest runs (CPU s, 2 cores shared): fashion_cnn's ASan + UBSan build ~75, its gcc build
# ~26 (make test meets them first: TEST_FIRST, Makefile)
TEST_FIRST += $(filter $(foreach v,clang-san gcc clang,run-net/fashion_cnn/$(v)),$(RUN_NET))
test-net: $(RUN_NET) $(if $(filter scalar,$(ISA)),test-net-mutants)
	@tests/net/summary.sh "test-net [$(ISA)]" $(foreach r,$(RUN_NET),$(NET_T)/$(word 2,$(subst /, ,$(r)))/$(word 3,$(subst /, ,$(r)))/net.log)
	@echo "test-net [$(ISA)]: $(words $(RUN_NET)) runs passed ($(words $(SPEC_NAMES)) specs + $(RAND_COUNT) random MLPs + $(RAND_CONV_COUNT) random conv nets + $(words $(TRAJ_NAMES)) trajectory nets, variants: $(NET_VARIANTS); + $(RAND_WIDE_COUNT) random wide MLPs: $(NET_WIDE_VARIANTS))"
test-golden: $(RUN_GOLD)
	@tests/net/summary.sh "test-golden [$(ISA)]" $(foreach r,$(RUN_GOLD),$(NET_T)/$(word 2,$(subst /, ,$(r)))/$(word 3,$(subst /, ,$(r)))/golden.log)
	@echo "test-golden [$(ISA)]: $(words $(RUN_GOLD)) runs passed ($(GOLD_NAMES), variants: $(NET_VARIANTS))"

# ---------------------------------------------------------------- PyTorch golden vectors
golden:
	$(PYTHON) tests/golden/make_golden.py
	$(PYTHON) tests/trainer/make_sched_golden.py tests/trainer/sched_golden.txt
