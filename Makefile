# chainrule — top-level Makefile. Each concern keeps its rules in mk/<concern>.mk;
# this file holds the shared settings and the user-facing targets.
#
#   make demo    set everything up, generate + build + train the MNIST classifier
#   make test    every test suite (installs build/test dependencies first)
#   make gen     generate C for SPEC (default specs/mnist_mlp.lua) into build/gen/
#   make bench   benchmarks against naive C, OpenBLAS, PyTorch, FANN
#   make golden  regenerate PyTorch golden vectors (needs python3-torch)
#   make demo-fashion  train specs/fashion_mlp.lua on Debian's Fashion-MNIST (20 epochs)
#   make data    fetch and convert the MNIST digits into data/ (make demo does this)
#   make fuzz    run the runtime loaders' libFuzzer targets (FUZZ_SECONDS each)
#   make example build and run examples/embed.c (generated code, no runtime)
#   make clean   remove build/

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

# Fragments append their test goals here; `make test` runs them all.
TEST_GOALS :=

.PHONY: all gen test demo bench golden clean deps help
all: $(BUILD)/chainrule

help:
	@sed -n '4,13p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@scripts/deps.sh

include $(wildcard mk/*.mk)

# `make test` installs what the tests need, then runs every fragment's test goal.
test: deps
	@$(MAKE) --no-print-directory test-all

.PHONY: test-all
test-all: $(TEST_GOALS)
	@echo "make test: all suites passed ($(words $(TEST_GOALS)) goals: $(TEST_GOALS))"

clean:
	rm -rf $(BUILD)
