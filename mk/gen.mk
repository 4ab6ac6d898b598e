# The generator: build/chainrule (C host + embedded Lua modules and templates),
# `make gen` (SPEC -> GENDIR) and the generator's tests (`make test-gen`).

LUA_CFLAGS := $(shell pkg-config --cflags lua5.4)
LUA_LIBS   := $(shell pkg-config --libs lua5.4)

GEN_LUA := $(sort $(wildcard gen/*.lua gen/*/*.lua))
GEN_TPL := $(sort $(wildcard templates/*.tpl))
# gen/ops/linear.lua -> lua:ops.linear=gen/ops/linear.lua ; templates/x.tpl -> tpl:x.tpl=templates/x.tpl
GEN_EMBED_ARGS := $(foreach f,$(GEN_LUA),lua:$(subst /,.,$(patsubst gen/%.lua,%,$(f)))=$(f)) \
                  $(foreach f,$(GEN_TPL),tpl:$(notdir $(f))=$(f))

$(BUILD)/host/embed: gen/embed.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -o $@ $<

# Depends on the file lists too, so adding or removing a module re-embeds.
$(BUILD)/host/embedded.c: $(BUILD)/host/embed $(GEN_LUA) $(GEN_TPL) mk/gen.mk
	$(BUILD)/host/embed $@ $(GEN_EMBED_ARGS)

# Linked under a temporary name and renamed, so a concurrent make never runs half a binary.
$(BUILD)/chainrule: gen/main.c gen/embedded.h $(BUILD)/host/embedded.c
	$(CC) $(WARN) $(CFLAGS) $(LUA_CFLAGS) -Igen -o $@.$$$$.tmp gen/main.c $(BUILD)/host/embedded.c $(LUA_LIBS) \
	  && mv -f $@.$$$$.tmp $@

gen: $(BUILD)/chainrule
	$(BUILD)/chainrule gen $(SPEC) --out $(GENDIR) --isa $(ISA)

# ---------------------------------------------------------------- tests (tests/gen/)
# A Check suite that runs build/chainrule: bad specs (exact messages, limits), bad flags,
# deterministic output, the Lua unit tests (tests/gen/unit.lua via `chainrule selftest`),
# template errors, and every spec in specs/ compiled with clang and gcc under $(WARN).
GEN_CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
GEN_CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

$(BUILD)/tests/gen/test_gen: tests/gen/test_gen.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(GEN_CHECK_CFLAGS) -o $@ $< $(GEN_CHECK_LIBS)

TEST_GOALS += test-gen
.PHONY: test-gen gen-warnings
test-gen: $(BUILD)/chainrule $(BUILD)/tests/gen/test_gen
	$(BUILD)/tests/gen/test_gen

# The generated C of the shipped specs, warning-free with both compilers.
gen-warnings: $(BUILD)/chainrule
	@for s in specs/*.lua; do \
	  $(BUILD)/chainrule gen $$s --out $(BUILD)/gen-warnings || exit 1; done
	@for cc in clang gcc; do for f in $(BUILD)/gen-warnings/*.c; do \
	  $$cc $(WARN) $(OPT) -c $$f -o /dev/null || exit 1; done; echo "gen-warnings: $$cc clean"; done
