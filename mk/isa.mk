# mk/isa.mk — `make test-isa`: every SIMD ISA this machine can run, against the double
# reference and against the scalar ISA, for every spec in specs/ and the random specs.
#
#   make test-isa                     all ISAs found (TEST_ISAS to choose, e.g. TEST_ISAS=neon)
#
# Per (spec, ISA): the generated NAME.c compiled alone at -O2 (net.o; for scalar the object
# test-net's clang build links too, mk/tests.mk) and linked with tests/isa/isa_dump.c (the
# driver, -O0 on x86: isa_dump_opt), both with the ISA's flags (NEON: clang
# --target=aarch64-linux-gnu, run under qemu-aarch64), run twice; then tests/isa/test_isa.c
# (Check) compares the dumps: the inputs the driver drew equal test_isa's bitwise, each ISA vs
# the reference (the scalar tests' tolerance), worst ULP difference to scalar (reported), run
# 1 == run 2 bitwise.
# The generated .c of the specs in specs/ (and ISA_GCC_SPECS) is also compiled with gcc -Werror per ISA.

TEST_GOALS += test-isa
.PHONY: test-isa

ISA_T := $(BUILD)/isa
# NEON needs qemu-user, the arm64 cross libc (scripts/deps.sh) and lld to link
ISA_NEON := $(shell command -v qemu-aarch64 >/dev/null 2>&1 && command -v ld.lld >/dev/null 2>&1 \
              && test -f /usr/aarch64-linux-gnu/lib/libc.so.6 && echo neon)
TEST_ISAS ?= $(strip $(HOST_ISAS) $(ISA_NEON))
ISA_LIST := scalar $(TEST_ISAS)

ISA_CC_scalar := clang
ISA_CC_sse2   := clang $(ISA_CFLAGS_sse2)
ISA_CC_avx2   := clang $(ISA_CFLAGS_avx2)
ISA_CC_avx512 := clang $(ISA_CFLAGS_avx512)
ISA_CC_neon   := clang --target=aarch64-linux-gnu -fuse-ld=lld
ISA_GCC_sse2   := gcc $(ISA_CFLAGS_sse2)
ISA_GCC_avx2   := gcc $(ISA_CFLAGS_avx2)
ISA_GCC_avx512 := gcc $(ISA_CFLAGS_avx512)
# neon under gcc too where the cross gcc is installed (scripts/deps.sh): compiled, warnings
# as errors, like the x86 gcc compiles; the runs stay clang's
ISA_GCC_neon   := $(if $(shell command -v aarch64-linux-gnu-gcc 2>/dev/null),aarch64-linux-gnu-gcc)
# the gcc compiles also write the stack usage and call graph (.su, .ci beside the object), which
# test-stack reads for its cases of the same build (mk/stack.mk); neither changes the code
ISA_GCC_STACK := -fstack-usage -fcallgraph-info=su
ISA_RUN_neon  := qemu-aarch64 -L /usr/aarch64-linux-gnu
# the compiler of an ISA without its link flags (-fuse-ld: unused under -c, an error with -Werror)
isa_compile = $(filter-out -fuse-ld=%,$(ISA_CC_$(1)))
# The optimisation level of the driver tests/isa/isa_dump.c (not of the generated NAME.c, which
# is always compiled at -O2, as it is tested): -O0 where it runs natively (0.1 s to compile
# instead of 0.4 s, 300 times per test-isa; its runs take a few ms longer), -O2 under qemu,
# where its own loops (the non-finite scans of g after each of ~100 steps) run emulated. The
# dump ends with the inputs the driver drew, which test_isa checks bit for bit, so a driver
# built otherwise cannot test other data unnoticed.
isa_dump_opt = $(if $(ISA_RUN_$(1)),-O2,-O0)

# specs/*.lua (described in tests/net/desc/), the random specs (RAND_ALL in the Makefile:
# $(RAND_DIR)/rNN.lua and cNN.lua + .desc, written by mk/tests.mk's randspec rule) plus shapes of our own
# in tests/isa/specs/ (the B = 1 streams of gen/kernels/stream.lua, wide layers, conv nets,
# batchnorm and dropout, activations)
ISA_SPECS := $(basename $(notdir $(wildcard specs/*.lua)))
ISA_OWN   := $(basename $(notdir $(wildcard tests/isa/specs/*.lua)))
# those at batch 1, for the summary line (the others: wide layers, conv, batchnorm, activations)
ISA_OWN_B1 := $(basename $(notdir $(shell grep -l '^ *batch *= *1 *,' tests/isa/specs/*.lua)))
# ISA_NATIVE_ONLY run on the ISAs without an emulator only: the wide random specs
# (RAND_WIDE_NAMES) and two shapes for avx512's cache paths (huge512, spread512: 22 and 14 s
# under qemu; neon's huge layers: huge_xw, big_xtg)
ISA_NATIVE := $(foreach i,$(TEST_ISAS),$(if $(ISA_RUN_$(i)),,$(i)))
ISA_NATIVE_ONLY := $(RAND_WIDE_NAMES) huge512 spread512
isa_isas = $(if $(filter $(1),$(ISA_NATIVE_ONLY)),$(ISA_NATIVE),$(TEST_ISAS))
# every network test-isa runs; the random ones (ISA_RAND) live in RAND_DIR
ISA_RAND := $(RAND_ALL) $(RAND_WIDE_NAMES)
ISA_NETS := $(ISA_SPECS) $(ISA_OWN) $(ISA_RAND)
isa_spec = $(if $(filter $(1),$(ISA_RAND)),$(RAND_DIR)/$(1).lua,$(if $(filter $(1),$(ISA_OWN)),tests/isa/specs/$(1).lua,specs/$(1).lua))
isa_desc = $(if $(filter $(1),$(ISA_RAND)),$(RAND_DIR)/$(1).desc,$(if $(filter $(1),$(ISA_OWN)),tests/isa/specs/$(1).desc,tests/net/desc/$(1).desc))

$(ISA_T)/test_isa: tests/isa/test_isa.c tests/ref/ref.c tests/ref/ref.h tests/ref/rng.h
	@mkdir -p $(@D)
	$(CC) $(WARN) -O1 -g $(CHECK_CFLAGS) -Itests/ref -o $@ tests/isa/test_isa.c tests/ref/ref.c $(CHECK_LIBS) -lm

# The x86 builds of these also compile with nothing but the flags their #error line names
# (gen/isa/*.lua guard_flags: -mavx512f, -mavx2 -mfma), which is all the generated file
# asks of its users: code that needs more must say so in a target attribute (convtile.lua's
# sparse forms: avx512vl).
ISA_GUARD_SPECS := $(ISA_SPECS) conv_sparse_dx conv_sparse_deep
# gcc -Werror compiles these too: the specs/ networks, and our own whose code specs/ lacks
# (the vector tanh and sigmoid of gen/kernels/actmath.lua: act_mix, and in a batchnorm's
# step: bn_planes)
ISA_GCC_SPECS := $(ISA_SPECS) act_mix bn_planes
# $(1) spec, $(2) isa
define ISA_RULES
$(ISA_T)/$(2)/$(1)/config.h: $(call isa_spec,$(1)) $(BUILD)/chainrule tests/net/config.sh
	@mkdir -p $(ISA_T)/$(2)/$(1)/gen
	@$(BUILD)/chainrule gen $(call isa_spec,$(1)) --isa $(2) --out $(ISA_T)/$(2)/$(1)/gen
	@tests/net/config.sh $(ISA_T)/$(2)/$(1)/gen > $$@.tmp && mv $$@.tmp $$@

$(ISA_T)/$(2)/$(1)/net.o: $(ISA_T)/$(2)/$(1)/config.h
	@name=$$$$(sed -n 's/^#define NET \(.*\)/\1/p' $$<); \
	$(call isa_compile,$(2)) $(WARN) -O2 -c -o $$@ $(ISA_T)/$(2)/$(1)/gen/$$$$name.c
	$(if $(and $(ISA_GCC_$(2)),$(filter $(1),$(ISA_GCC_SPECS))),@name=$$$$(sed -n 's/^#define NET \(.*\)/\1/p' $$<); \
	  $(ISA_GCC_$(2)) $(WARN) -O2 $(ISA_GCC_STACK) -c -o $$@.gcc.o $(ISA_T)/$(2)/$(1)/gen/$$$$name.c)
	$(if $(and $(filter sse2 avx2 avx512,$(2)),$(filter $(1),$(ISA_GUARD_SPECS))),@name=$$$$(sed -n 's/^#define NET \(.*\)/\1/p' $$<); \
	  f=$(ISA_T)/$(2)/$(1)/gen/$$$$name.c; flags=$$$$(sed -n 's/^#error ".* compile with \(.*\) .or -march.*/\1/p' $$$$f); \
	  clang $$$$flags $(WARN) -O2 -c -o $$@.guard.o $$$$f \
	  || { echo "test-isa: $(1) on $(2) does not compile with its guard's flags alone ($$$$flags)" >&2; exit 1; })

$(ISA_T)/$(2)/$(1)/isa_dump: $(ISA_T)/$(2)/$(1)/config.h tests/isa/isa_dump.c tests/ref/rng.h $(ISA_T)/$(2)/$(1)/net.o
	$(ISA_CC_$(2)) $(WARN) $(call isa_dump_opt,$(2)) -Itests/ref -I$(ISA_T)/$(2)/$(1)/gen -include $$< -o $$@ \
	  tests/isa/isa_dump.c $(ISA_T)/$(2)/$(1)/net.o -lm

$(ISA_T)/$(2)/$(1)/run1.bin: $(ISA_T)/$(2)/$(1)/isa_dump
	$(ISA_RUN_$(2)) $$< $(ISA_T)/$(2)/$(1)/run1.bin && $(ISA_RUN_$(2)) $$< $(ISA_T)/$(2)/$(1)/run2.bin --dump-only
endef
$(foreach s,$(ISA_NETS),$(foreach i,scalar $(call isa_isas,$(s)),$(eval $(call ISA_RULES,$(s),$(i)))))

# Variants: SPEC built for ISA a second time as ISA-VARIANT with other gen flags; it runs
# through test_isa like every ISA and must give the untuned build's bits.
# - tuned: tests/isa/tune/SPEC.ISA.tune (hand-written tilings other than the defaults,
#   `gen --tune`); a file that changes a batch-1 stream (whose kinds and sets sum in other
#   orders) is only checked against the reference.
# - compact: `gen --compact` (the row tails as one-row tiles) for ISA_COMPACT on every SIMD
#   ISA: isa_dump's n = B/2 + 1 and n = 1 run the tails.
isa_tune = tests/isa/tune/$(1).$(2).tune
isa_tuned = $(foreach i,$(TEST_ISAS),$(if $(wildcard $(call isa_tune,$(1),$(i))),$(i)))
ISA_COMPACT := wide_odd big_xtg shared_odd nobias
isa_compact = $(if $(filter $(1),$(ISA_COMPACT)),$(filter-out scalar,$(TEST_ISAS)))
# - a CPU family: `gen --cpu FAMILY` (gen/cpus.lua), one entry SPEC:ISA:FAMILY:BITS per build,
#   run where ISA is among TEST_ISAS; BITS `same` (the family changes only how the sums are
#   tiled: the untuned build's bits) or `ref` (checked against the reference only).
#   spread512 passes the L2 so that the spread fires, huge512 is a huge layer on avx512
#   (zen5: x unpacked, spread; zen3 on avx2); zen4's conv2d weight gradient goes sparse from
#   kernel 3 (gen/schedule.lua CONV_SPARSE_K), so conv_sparse_deep's sums differ; zen4's
#   linear weight gradient behind a ReLU from g's nonzeros (XTG_SPARSE): sparse_xtg's bits.
ISA_CPU_BUILDS := spread512:avx512:zen5:same spread512:avx2:zen3:same huge512:avx512:zen5:same \
                  huge512:avx2:zen3:same conv_sparse_deep:avx512:zen4:ref sparse_xtg:avx512:zen4:same
isa_cpu_field = $(word $(2),$(subst :, ,$(1)))
# the entries of ISA_CPU_BUILDS whose ISA this run tests (of spec $(1), or of every spec)
isa_cpu_tested = $(foreach e,$(ISA_CPU_BUILDS),$(if $(filter $(call isa_cpu_field,$(e),2),$(TEST_ISAS)),$(e)))
isa_cpu_builds = $(foreach e,$(isa_cpu_tested),$(if $(or $(filter $(1),$(call isa_cpu_field,$(e),1)),$(if $(1),,all)),$(e)))
isa_variants = $(foreach i,$(call isa_tuned,$(1)),$(i)-tuned) $(foreach i,$(call isa_compact,$(1)),$(i)-compact) \
  $(foreach e,$(call isa_cpu_builds,$(1)),$(call isa_cpu_field,$(e),2)-$(call isa_cpu_field,$(e),3))
# $(1) spec, $(2) ISA, $(3) variant, $(4) gen flags, $(5) their input file or empty, $(6) a
# shell test: compare the bits only when it succeeds
define ISA_VARIANT_RULES
$(ISA_T)/$(2)-$(3)/$(1)/config.h: $(call isa_spec,$(1)) $(5) $(BUILD)/chainrule tests/net/config.sh
	@mkdir -p $(ISA_T)/$(2)-$(3)/$(1)/gen
	@$(BUILD)/chainrule gen $(call isa_spec,$(1)) --isa $(2) $(4) --out $(ISA_T)/$(2)-$(3)/$(1)/gen
	@tests/net/config.sh $(ISA_T)/$(2)-$(3)/$(1)/gen > $$@.tmp && mv $$@.tmp $$@

$(ISA_T)/$(2)-$(3)/$(1)/net.o: $(ISA_T)/$(2)-$(3)/$(1)/config.h
	@name=$$$$(sed -n 's/^#define NET \(.*\)/\1/p' $$<); \
	$(call isa_compile,$(2)) $(WARN) -O2 -c -o $$@ $(ISA_T)/$(2)-$(3)/$(1)/gen/$$$$name.c
	$(if $(ISA_GCC_$(2)),@name=$$$$(sed -n 's/^#define NET \(.*\)/\1/p' $$<); \
	  $(ISA_GCC_$(2)) $(WARN) -O2 $(ISA_GCC_STACK) -c -o $$@.gcc.o $(ISA_T)/$(2)-$(3)/$(1)/gen/$$$$name.c)

$(ISA_T)/$(2)-$(3)/$(1)/isa_dump: $(ISA_T)/$(2)-$(3)/$(1)/config.h tests/isa/isa_dump.c tests/ref/rng.h $(ISA_T)/$(2)-$(3)/$(1)/net.o
	$(ISA_CC_$(2)) $(WARN) $(call isa_dump_opt,$(2)) -Itests/ref -I$(ISA_T)/$(2)-$(3)/$(1)/gen -include $$< -o $$@ \
	  tests/isa/isa_dump.c $(ISA_T)/$(2)-$(3)/$(1)/net.o -lm

# The variant's runs do not wait for the untuned build's (under qemu the two would run one
# after the other); the bitwise comparison is a step of its own, same.ok, that needs both
# dumps and that run-isa/SPEC needs. A stamp: a failed cmp leaves none, so the next make
# compares again (a dump that is newer than the stamp, too).
# Under an emulator the variant skips the non-finite cases (isa_dump --no-nonfinite; they run
# on the untuned build there and on every native variant): ~30 CPU s of make test.
$(ISA_T)/$(2)-$(3)/$(1)/run1.bin: $(ISA_T)/$(2)-$(3)/$(1)/isa_dump
	$(ISA_RUN_$(2)) $$< $(ISA_T)/$(2)-$(3)/$(1)/run1.bin $(if $(ISA_RUN_$(2)),--no-nonfinite) \
	  && $(ISA_RUN_$(2)) $$< $(ISA_T)/$(2)-$(3)/$(1)/run2.bin --dump-only

$(ISA_T)/$(2)-$(3)/$(1)/same.ok: $(ISA_T)/$(2)/$(1)/run1.bin $(ISA_T)/$(2)-$(3)/$(1)/run1.bin
	@rm -f $$@
	@if $(6); then cmp $(ISA_T)/$(2)/$(1)/run1.bin $(ISA_T)/$(2)-$(3)/$(1)/run1.bin \
	  || { echo "test-isa: $(1) on $(2): the $(3) build ($(4)) gives other bits than the untuned one" >&2; exit 1; }; fi
	@touch $$@
endef
$(foreach s,$(ISA_SPECS) $(ISA_OWN),$(foreach i,$(call isa_tuned,$(s)),$(eval $(call ISA_VARIANT_RULES,$(s),$(i),tuned,--tune $(call isa_tune,$(s),$(i)),$(call isa_tune,$(s),$(i)),! grep -qE '^(stream|conv) ' $(call isa_tune,$(s),$(i))))))
$(foreach s,$(ISA_COMPACT),$(foreach i,$(call isa_compact,$(s)),$(eval $(call ISA_VARIANT_RULES,$(s),$(i),compact,--compact,,true))))
isa_cpu_rules = $(call ISA_VARIANT_RULES,$(call isa_cpu_field,$(1),1),$(call isa_cpu_field,$(1),2),$(call isa_cpu_field,$(1),3),--cpu $(call isa_cpu_field,$(1),3),,$(if $(filter same,$(call isa_cpu_field,$(1),4)),true,false))
$(foreach e,$(call isa_cpu_builds,),$(eval $(call isa_cpu_rules,$(e))))

# The longest runs under qemu first (make test's TEST_FIRST, in the Makefile). CPU seconds of
# both runs, make test-all at f155ac7 on 2 shared cores: fashion_cnn 85, mnist_cnn 30, wide_odd
# 25, huge_xw 16, fashion_mlp 13, big_xtg 11; the rest 7.5 or less (since the variants skip
# the non-finite cases under qemu, big_xtg's compact and tuned builds 4-6, wide_odd's compact
# 2.6). Without this, make met wide_odd's runs (the last own spec, with variants) in the last
# 150 s of a ~3500 s run (load ~9).
ISA_LONGEST := fashion_cnn mnist_cnn wide_odd huge_xw fashion_mlp big_xtg \
               neon-compact/big_xtg neon-tuned/big_xtg
TEST_FIRST += $(if $(filter neon,$(TEST_ISAS)),$(foreach s,$(ISA_LONGEST),$(ISA_T)/$(if $(findstring /,$(s)),$(s),neon/$(s))/run1.bin))

# The vector tanh and sigmoid (gen/kernels/actmath.lua) of each SIMD ISA against double
# precision, in ulps (tests/isa/act_ulp.c), from act_mix's generated file, which defines both
# helpers; part of run-isa/act_mix.
ISA_ACT_avx512 := -DACT_BITS=512 -DACT_VT=__m512
ISA_ACT_avx2   := -DACT_BITS=256 -DACT_VT=__m256
ISA_ACT_sse2   := -DACT_BITS=128 -DACT_VT=__m128
ISA_ACT_neon   := -DACT_BITS=128 -DACT_VT=float32x4_t
define ISA_ACT_RULES
$(ISA_T)/$(1)/act_ulp: tests/isa/act_ulp.c $(ISA_T)/$(1)/act_mix/config.h
	$(ISA_CC_$(1)) $(WARN) -O2 $(ISA_ACT_$(1)) -I$(ISA_T)/$(1)/act_mix/gen -DACT_C='"act_mix.c"' -o $$@ $$< -lm

$(ISA_T)/$(1)/act_ulp.log: $(ISA_T)/$(1)/act_ulp
	@$(ISA_RUN_$(1)) $$< > $$@.tmp; rc=$$$$?; cat $$@.tmp; \
	  if [ $$$$rc -eq 0 ]; then mv $$@.tmp $$@; else rm -f $$@.tmp; echo "test-isa: act_ulp on $(1) failed" >&2; exit 1; fi

run-isa/act_mix: $(ISA_T)/$(1)/act_ulp.log
endef
$(foreach i,$(filter-out scalar,$(TEST_ISAS)),$(eval $(call ISA_ACT_RULES,$(i))))

ISA_RUNS := $(addprefix run-isa/,$(ISA_NETS))
.PHONY: $(ISA_RUNS)
$(foreach s,$(ISA_NETS),$(foreach v,$(call isa_variants,$(s)),$(eval run-isa/$(s): $(ISA_T)/$(v)/$(s)/run1.bin $(ISA_T)/$(v)/$(s)/same.ok)))
$(foreach s,$(ISA_NETS),$(eval run-isa/$(s): $(foreach i,scalar $(call isa_isas,$(s)),$(ISA_T)/$(i)/$(s)/run1.bin)))
# test_isa runs the reference's kink flips only where a value needs them; for ISA_EAGER_SLACK
# (13 kinks in its draws here, ~10 s) always, so that code runs in every make test
ISA_EAGER_SLACK := mnist_cnn
$(ISA_RUNS): run-isa/%: $(ISA_T)/test_isa
	@$(if $(filter $*,$(ISA_EAGER_SLACK)),TEST_ISA_SLACK=eager )$(ISA_T)/test_isa $(call isa_desc,$*) $(ISA_T)/scalar/$*/run1.bin \
	  $(foreach i,$(call isa_isas,$*),$(i) $(ISA_T)/$(i)/$*/run1.bin $(ISA_T)/$(i)/$*/run2.bin) \
	  $(foreach v,$(call isa_variants,$*),$(v) $(ISA_T)/$(v)/$*/run1.bin $(ISA_T)/$(v)/$*/run2.bin) \
	  > $(ISA_T)/$*.log 2>&1; \
	rc=$$?; echo "== isa $* [$(strip $(call isa_isas,$*))$(if $(strip $(call isa_variants,$*)), + $(strip $(call isa_variants,$*)))]"; grep -v '^Running suite' $(ISA_T)/$*.log; exit $$rc

# The pooled random conv nets (c08 on, tests/randspec) are there to reach gen/kernels/convtile.lua's
# sparse weight and input gradients (on where gen/schedule.lua's CONV_SPARSE_WGRAD/_DX say): test-isa
# fails when no random conv net of such an ISA uses one of the two, so that a change of the cost
# model or of the draws cannot leave them untested unnoticed.
ISA_SPARSE := $(filter avx512 avx2,$(TEST_ISAS))
test-isa: $(ISA_RUNS)
	@for i in $(ISA_SPARSE); do for form in dW dx; do \
	  n=$$(cat $(foreach s,$(RAND_CONV_NAMES),$(ISA_T)/$$i/$(s)/gen/$(s).c) | grep -c "$$form from g's nonzero pixels"); \
	  if [ "$$n" -eq 0 ]; then echo "test-isa: no random conv net's $$form from g's nonzeros on $$i (tests/randspec's pooled nets)"; exit 1; fi; \
	  echo "test-isa: $$n random conv layers' $$form from g's nonzeros on $$i"; done; done
	@echo "test-isa: $(words $(ISA_RUNS)) networks ($(words $(ISA_SPECS)) specs + $(words $(ISA_OWN)) of our own (tests/isa/specs: $(words $(ISA_OWN_B1)) at batch 1) + $(words $(RAND_NAMES)) random MLPs + $(words $(RAND_CONV_NAMES)) random conv nets) x ISAs $(TEST_ISAS), + $(words $(RAND_WIDE_NAMES)) random wide MLPs x $(or $(ISA_NATIVE),no ISA); vs reference, vs scalar (ULP), run-to-run identical; tuned builds (tests/isa/tune/) too"
