# examples/: programs that embed generated code without the runtime (only the generated pair
# and libc). `make test` builds each with both compilers and runs it.
#
#   make example         build and run examples/embed.c (XOR classifier) with $(CC)
#   make test-examples   the same with clang and gcc
EXAMPLE_DIR := $(BUILD)/examples

$(EXAMPLE_DIR)/xor.c $(EXAMPLE_DIR)/xor.h &: examples/xor.lua $(BUILD)/chainrule
	$(BUILD)/chainrule gen examples/xor.lua --out $(EXAMPLE_DIR)

$(EXAMPLE_DIR)/embed-%: examples/embed.c $(EXAMPLE_DIR)/xor.c $(EXAMPLE_DIR)/xor.h
	$* $(WARN) $(OPT) -I$(EXAMPLE_DIR) -o $@ examples/embed.c $(EXAMPLE_DIR)/xor.c -lm

.PHONY: example test-examples
example: $(EXAMPLE_DIR)/embed-$(CC)
	$(EXAMPLE_DIR)/embed-$(CC)

TEST_GOALS += test-examples
test-examples: $(EXAMPLE_DIR)/embed-clang $(EXAMPLE_DIR)/embed-gcc
	@for cc in clang gcc; do $(EXAMPLE_DIR)/embed-$$cc > $(EXAMPLE_DIR)/embed-$$cc.log \
	  || { cat $(EXAMPLE_DIR)/embed-$$cc.log; echo "test-examples: embed ($$cc) failed"; exit 1; }; \
	  tail -n 1 $(EXAMPLE_DIR)/embed-$$cc.log; done
