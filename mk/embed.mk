# Embedding: generated code in other programs. C++ (extern "C", the alignment spelling),
# several variants of one spec renamed with --name and linked into one program.
#
#   make test-cxx      a C++ program over 6 generated networks (3 specs, 3 ISAs, --name),
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
	@echo "test-cxx: 6 headers clean under $(C_STDS)"
	@for b in $(CXX_BINS); do echo "== $$(basename $$b)"; $$b || { echo "test-cxx: $$b failed"; exit 1; }; done
