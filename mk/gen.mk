# The generator: build/chainrule (C host + embedded Lua modules and templates), `make gen`
# and the generator's tests.
#
#   make gen [SPEC=specs/x.lua] [ISA=avx2]   generate C for SPEC into $(GENDIR)
#                            (ISA defaults to scalar and overrides the spec's isa)
#   make LUA_STATIC=1        link the generator with Lua's static archive (no liblua5.4.so needed)
#   make test-gen            the generator's Check suite (tests/gen/) and the generated-code goldens
#   make test-gen-golden     regenerate tests/gen/golden/ into $(BUILD)/gen-golden and diff
#   make gen-golden-update   rewrite tests/gen/golden/ after a deliberate change of the output

LUA_CFLAGS := $(shell pkg-config --cflags lua5.4)
# LUA_STATIC=1 links Lua's archive (Debian's liblua5.4-dev ships liblua5.4.a), so the binary
# (and an installed copy) needs no liblua5.4.so at run time; its libm/libdl come from libc.
LUA_STATIC_LIBS := $(shell pkg-config --variable=libdir lua5.4)/liblua5.4.a -lm -ldl
ifeq ($(LUA_STATIC),1)
LUA_LIBS   := $(LUA_STATIC_LIBS)
else
LUA_LIBS   := $(shell pkg-config --libs lua5.4)
endif
# The link line in a file rewritten only when it changes, so switching LUA_STATIC relinks.
LUA_LINK_FILE := $(BUILD)/host/lua-link
$(shell mkdir -p $(BUILD)/host && { echo '$(LUA_LIBS)' | cmp -s - $(LUA_LINK_FILE) || echo '$(LUA_LIBS)' > $(LUA_LINK_FILE); })

GEN_LUA := $(sort $(wildcard gen/*.lua gen/*/*.lua))
GEN_TPL := $(sort $(wildcard templates/*.tpl))
# The runtime's initialisation (and what it needs), which gen --python compiles into
# libNAME.so so that Net.init draws the trainer's numbers (gen/driver.lua build_library)
GEN_RT := runtime/cr.h runtime/cr_internal.h runtime/cr_util.c runtime/cr_rng.c runtime/cr_init.c
# gen/ops/linear.lua -> lua:ops.linear=gen/ops/linear.lua ; templates/x.tpl -> tpl:x.tpl=templates/x.tpl ;
# runtime/cr.h -> tpl:runtime/cr.h=runtime/cr.h
GEN_EMBED_ARGS := $(foreach f,$(GEN_LUA),lua:$(subst /,.,$(patsubst gen/%.lua,%,$(f)))=$(f)) \
                  $(foreach f,$(GEN_TPL),tpl:$(notdir $(f))=$(f)) $(foreach f,$(GEN_RT),tpl:$(f)=$(f))

$(BUILD)/host/embed: gen/embed.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -o $@ $<

# Depends on the file lists too, so adding or removing a module re-embeds.
$(BUILD)/host/embedded.c: $(BUILD)/host/embed $(GEN_LUA) $(GEN_TPL) $(GEN_RT) mk/gen.mk
	$(BUILD)/host/embed $@ $(GEN_EMBED_ARGS)

# Linked under a temporary name and renamed, so a concurrent make never runs half a binary.
# It links the runtime (libcr.a) for its reader and writer policies (runtime/cr_file.c,
# cr_out.c): the spec is read, and NAME.h/NAME.c written, as every runtime file is.
GEN_HOST_DEPS := gen/main.c gen/embedded.h $(BUILD)/host/embedded.c $(BUILD)/libcr.a runtime/cr.h
# $(1): Lua's link flags
gen_link = $(CC) $(WARN) $(CFLAGS) $(LUA_CFLAGS) -Igen -Iruntime -o $@.$$$$.tmp gen/main.c $(BUILD)/host/embedded.c \
  $(BUILD)/libcr.a $(1) -lz && mv -f $@.$$$$.tmp $@
$(BUILD)/chainrule: $(GEN_HOST_DEPS) $(LUA_LINK_FILE)
	$(call gen_link,$(LUA_LIBS))

# Always with Lua linked statically, whatever LUA_STATIC says: what test-install installs.
$(BUILD)/lua-static/chainrule: $(GEN_HOST_DEPS)
	@mkdir -p $(@D)
	$(call gen_link,$(LUA_STATIC_LIBS))

.PHONY: gen
gen: $(BUILD)/chainrule
	$(BUILD)/chainrule gen $(SPEC) --out $(GENDIR) --isa $(ISA)

# ---------------------------------------------------------------- tests (tests/gen/)
# A Check suite that runs $(BUILD)/chainrule (CHAINRULE): bad specs (exact messages, limits),
# bad flags, deterministic output, the Lua unit tests (tests/gen/unit.lua via `chainrule
# selftest`), template errors, and every spec in specs/ compiled with clang and gcc under $(WARN).
$(BUILD)/tests/gen/test_gen: tests/gen/test_gen.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(CHECK_CFLAGS) -o $@ $< $(CHECK_LIBS)

TEST_GOALS += test-gen
.PHONY: test-gen test-gen-golden gen-golden-update
test-gen: $(BUILD)/chainrule $(BUILD)/tests/gen/test_gen test-gen-golden
	CHAINRULE=$(BUILD)/chainrule $(BUILD)/tests/gen/test_gen
	@tests/gen/tune_signal.sh $(BUILD)/chainrule

# Generated-code goldens: the pair chainrule writes for a few real specs is committed under
# tests/gen/golden/ISA/, so a change to the generator shows its effect on real output in
# review, and a change meant to keep the bytes is checked to keep them. test-gen-golden
# regenerates each into $(BUILD)/gen-golden/ISA/ and diffs; after a deliberate change of the
# output, `make gen-golden-update` rewrites the committed files (commit them with the change).
# The banner names the spec by its file name only, so the directory gen runs from does not matter.
# Each entry is ISA:SPEC.
GEN_GOLDEN := scalar:examples/xor.lua avx512:specs/mnist_mlp.lua
GEN_GOLDEN_DIR := tests/gen/golden

# $(1) directory to generate into (ISA/ below it), $(2) shell commands run per generated pair
# with $$isa, $$spec, $$name and $$out set (no commas in them: they would split the argument)
define gen_golden_each
set -e; for e in $(GEN_GOLDEN); do isa=$${e%%:*}; spec=$${e#*:}; name=$$(basename $$spec .lua); \
  out=$(1)/$$isa; mkdir -p $$out; $(BUILD)/chainrule gen $$spec --isa $$isa --out $$out >/dev/null; $(2); done
endef

test-gen-golden: $(BUILD)/chainrule
	@$(call gen_golden_each,$(BUILD)/gen-golden,\
	  for f in $$name.h $$name.c; do \
	    diff -u $(GEN_GOLDEN_DIR)/$$isa/$$f $$out/$$f || { \
	      echo "test-gen-golden: $$out/$$f ($$spec --isa $$isa) differs from $(GEN_GOLDEN_DIR)/$$isa/$$f (diff above);" \
	           "if the change is meant: run 'make gen-golden-update' and commit the new files"; exit 1; }; \
	  done)
	@echo "test-gen-golden: $(words $(GEN_GOLDEN)) generated pairs identical to $(GEN_GOLDEN_DIR)/ ($(GEN_GOLDEN))"

gen-golden-update: $(BUILD)/chainrule
	@$(call gen_golden_each,$(GEN_GOLDEN_DIR),echo "gen-golden-update: $$out/$$name.h and $$name.c from $$spec")
	@git status --short -- $(GEN_GOLDEN_DIR)
