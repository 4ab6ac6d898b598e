# chainrule — top-level Makefile. Each concern keeps its rules in mk/<concern>.mk;
# this file holds the shared settings and the user-facing targets.
#
# Each file documents its own user targets in its header comment, one "#   make TARGET  what"
# line each (deeper-indented lines continue it); `make help` prints those lines of this file
# and every mk/*.mk, so a new target shows up there once its fragment names it.
#
#   make            build the generator, $(BUILD)/chainrule
#   make test       every test suite (installs build/test dependencies first), TEST_JOBS
#                   at a time (default: the number of CPUs; each suite's output kept whole)
#   make test-all   every test suite, without the dependency check
#   make deps       install what is missing (scripts/deps.sh, apt-get)
#   make help       this list
#   make clean      remove $(BUILD)
#
# BUILD=DIR puts every output under DIR instead of build/ (e.g. one per engineer).

CC      ?= clang
ifeq ($(origin CC),default)
CC      := clang
endif
BUILD   := build
GENDIR  := $(BUILD)/gen
SPEC    ?= specs/mnist_mlp.lua
ISA     ?= scalar
PYTHON  ?= /usr/bin/python3

# Flags every C file of ours must compile cleanly with (both gcc and clang).
WARN    := -std=c11 -Wall -Wextra -Wpedantic -Werror
OPT     := -O2
CFLAGS  ?= $(OPT) -g
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Check (the C unit-test framework), asked of pkg-config once for every fragment.
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

# What generated code of each x86 SIMD ISA is compiled with (the generated .c's #error names
# the minimum; the tests use exactly these, make bench adds host tuning).
ISA_CFLAGS_sse2   := -msse2
ISA_CFLAGS_avx2   := -mavx2 -mfma
ISA_CFLAGS_avx512 := -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma
# The x86 SIMD ISAs this machine runs, from /proc/cpuinfo (empty elsewhere), best last.
HOST_ISAS := $(strip $(shell grep -qw sse2 /proc/cpuinfo 2>/dev/null && echo sse2) \
               $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && echo avx2) \
               $(shell grep -qw avx512f /proc/cpuinfo 2>/dev/null && echo avx512))

# The seeded random specs of tests/randspec (r00 r01 ... MLPs, c00 c01 ... image networks,
# w00 w01 ... wide MLPs), written with their descriptions into RAND_DIR by mk/tests.mk and used
# by test-ref, test-net and test-isa. RAND_ALL: the first two kinds; the wide ones run in
# test-isa on the ISAs that run natively and in test-net's sanitizer build only (their double
# reference alone takes seconds; test-ref's finite differences would take minutes).
# rand_names(PREFIX,COUNT): PREFIX00 PREFIX01 ..., COUNT of them (randspec writes up to 100)
rand_names = $(wordlist 1,$(2),$(foreach i,0 1 2 3 4 5 6 7 8 9,$(foreach j,0 1 2 3 4 5 6 7 8 9,$(1)$(i)$(j))))
RAND_COUNT := 30
RAND_NAMES := $(call rand_names,r,$(RAND_COUNT))
RAND_CONV_COUNT := 12
RAND_CONV_NAMES := $(call rand_names,c,$(RAND_CONV_COUNT))
# c00..c07 drawn freely, c08 on pooled (tests/randspec: each conv under a max pooling)
RAND_CONV_PLAIN := $(wordlist 1,8,$(RAND_CONV_NAMES))
RAND_WIDE_COUNT := 6
RAND_WIDE_NAMES := $(call rand_names,w,$(RAND_WIDE_COUNT))
RAND_ALL   := $(RAND_NAMES) $(RAND_CONV_NAMES)
RAND_DIR   := $(BUILD)/tests/rand

# Fragments append their test goals here; `make test` runs them all. TEST_FIRST: files of
# those goals that make -j should meet first (the longest single jobs, NEON runs under qemu).
# make walks its goals in rounds, starting in each every job whose prerequisites are done, in
# the order it meets them: listed first, each step of these chains starts at the head of its
# round, and the longest runs at the head of the last round (the runs), not behind shorter ones.
TEST_GOALS :=
TEST_FIRST :=

.PHONY: all test test-all clean deps help
all: $(BUILD)/chainrule

# The variables the header comments name as $(VAR): make help prints their values instead.
HELP_VARS := BUILD GENDIR TINY_DIR FUZZ_SECONDS CC CFLAGS
help:
	@echo "make targets (from the header comments of Makefile and mk/*.mk; BUILD=$(BUILD)):"
	@for f in Makefile $(sort $(wildcard mk/*.mk)); do \
	  awk '/^#   make / { print "  " substr($$0, 5); more = 1; next } \
	       more && /^#     +[^ ]/ { print "  " substr($$0, 5); next } { more = 0 }' $$f; done \
	  | sed $(foreach v,$(HELP_VARS),-e 's|$$($(v))|$($(v))|g')

deps:
	@scripts/deps.sh

include $(sort $(wildcard mk/*.mk))

# `make test` installs what the tests need, then runs every fragment's test goal, the
# independent suites and their builds in parallel (one make, so shared prerequisites such as
# libcr.a are built once); --output-sync keeps each recipe's output in one piece.
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
test: deps
	@$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target test-all

test-all: $(TEST_FIRST) $(TEST_GOALS)
	@echo "make test: all suites passed ($(words $(TEST_GOALS)) goals: $(TEST_GOALS))"

# The tests' programs (the double reference of the wide nets, its optimizer state, the
# compilers) allocate and free buffers of tens of MB, each a fresh mapping whose 4 KB pages
# fault in one by one: glibc's malloc backs them with transparent huge pages instead
# (GLIBC_TUNABLES, glibc 2.35 and later; older ones ignore the name). Same bits, less system
# time: test_isa's w04 comparison 11.9 -> 4.2 s on a Zen 5 VM whose THP mode is madvise.
# Only for the test goals (make bench times its programs as users run them); a
# GLIBC_TUNABLES of the caller's is kept, and one that sets hugetlb itself wins.
TEST_TUNABLES := $(if $(findstring glibc.malloc.hugetlb,$(GLIBC_TUNABLES)),$(GLIBC_TUNABLES), \
                   $(if $(GLIBC_TUNABLES),$(GLIBC_TUNABLES):)glibc.malloc.hugetlb=1)
test test-all $(TEST_GOALS): export GLIBC_TUNABLES := $(strip $(TEST_TUNABLES))

clean:
	rm -rf $(BUILD)
