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
# TEST_RUN (a runner prefix, e.g. qemu-aarch64 -L /usr/aarch64-linux-gnu).

TEST_GOALS += test-ref test-net test-golden
.PHONY: test-ref test-net test-golden golden

TESTS_DIR   := $(BUILD)/tests
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

REF_SRC := tests/ref/ref.c
REF_HDR := tests/ref/ref.h

# ---------------------------------------------------------------- reference
# Variant directories: clang, gcc, clang-san (ASan + UBSan).
tcc  = $(firstword $(subst -, ,$(1)))
tsan = $(if $(findstring -san,$(1)),$(SAN))

$(TESTS_DIR)/ref/%/test_ref: tests/ref/test_ref.c $(REF_SRC) $(REF_HDR)
	@mkdir -p $(@D)
	$(call tcc,$*) $(WARN) -O1 -g $(call tsan,$*) $(CHECK_CFLAGS) -Itests/ref \
	  -o $@ tests/ref/test_ref.c $(REF_SRC) $(CHECK_LIBS) -lm

REF_VARIANTS := clang gcc clang-san
test-ref: $(foreach v,$(REF_VARIANTS),$(TESTS_DIR)/ref/$(v)/test_ref)
	@for v in $(REF_VARIANTS); do echo "test-ref [$$v]"; $(TESTS_DIR)/ref/$$v/test_ref || exit 1; done
