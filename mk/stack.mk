# mk/stack.mk — the stack test (read after mk/isa.mk, whose gcc compiles it reuses).
#
#   make test-stack            each entry point's worst-case stack, measured with gcc
#                              -fstack-usage/-fcallgraph-info (tests/stack/stack_check.sh),
#                              within the bound the generated banner states
STACK_T := $(EMBED_T)/stack
# ISA:SPEC:extra gen flags (commas for spaces)
STACK_CASES := scalar:examples/xor.lua: scalar:specs/mnist_mlp.lua: avx2:specs/mnist_mlp.lua: \
               avx512:specs/mnist_mlp.lua: avx512:specs/fashion_mlp.lua: avx2:specs/seed_mse.lua: \
               avx2:tests/golden/specs/act_ce.lua: avx2:tests/golden/specs/traj_adam.lua: \
               avx2:specs/mnist_cnn.lua: avx512:specs/mnist_cnn.lua: scalar:tests/isa/specs/conv_rgb.lua: \
               scalar:specs/mnist_mlp.lua:--inference,--weights,$(INFER_VEC) \
               avx2:specs/mnist_mlp.lua:--inference,--weights,$(INFER_VEC),--max-batch,64 \
               avx2:tests/isa/specs/shared_odd.lua:--compact
STACK_KS := $(shell seq $(words $(STACK_CASES)))

# Each case is a job of its own (stamp $(STACK_T)/K/ok). A case that test-isa builds too
# (mk/isa.mk: the same gen command, then gcc -O2 with ISA_GCC_STACK for an x86 ISA, on the
# specs of specs/ and the --compact variants) reads the call graph of test-isa's compile,
# ISA/SPEC/net.o.gcc.ci, and the bounds of its gen/SPEC.h, instead of generating and
# compiling the same file a second time (the same gcc, -O2 and ISA flags: the warning flags
# do not change the code; an object built before its compile wrote the .ci: the file compiled here).
stack_word  = $(word $(2),$(subst :, ,$(word $(1),$(STACK_CASES))))
stack_name  = $(basename $(notdir $(call stack_word,$(1),2)))
stack_isa    = $(call stack_word,$(1),1)
stack_run    = $(and $(ISA_GCC_$(call stack_isa,$(1))),$(filter $(call stack_isa,$(1)),$(TEST_ISAS)))
stack_plain  = $(and $(filter specs/$(call stack_name,$(1)).lua,$(call stack_word,$(1),2)), \
                 $(filter $(call stack_name,$(1)),$(ISA_SPECS)),$(ISA_T)/$(call stack_isa,$(1))/$(call stack_name,$(1)))
stack_compact = $(and $(filter --compact,$(call stack_word,$(1),3)), \
                  $(filter tests/isa/specs/$(call stack_name,$(1)).lua,$(call stack_word,$(1),2)), \
                  $(filter $(call stack_isa,$(1)),$(call isa_compact,$(call stack_name,$(1)))), \
                  $(ISA_T)/$(call stack_isa,$(1))-compact/$(call stack_name,$(1)))
stack_shared = $(strip $(if $(call stack_run,$(1)),$(if $(call stack_word,$(1),3),$(call stack_compact,$(1)),$(call stack_plain,$(1)))))

# $(1) case number: generated here and compiled by stack_check.sh
define STACK_RULE
$(STACK_T)/$(1)/ok: tests/stack/stack_check.sh $(call stack_word,$(1),2) $(BUILD)/chainrule $(INFER_NPY)
	@rm -f $$@
	@c=$(word $(1),$(STACK_CASES)); isa=$$$${c%%:*}; rest=$$$${c#*:}; spec=$$$${rest%%:*}; \
	  extra=$$$$(echo $$$${rest#*:} | tr , ' '); name=$(call stack_name,$(1)); out=$(STACK_T)/$(1); mkdir -p $$$$out; \
	  $(BUILD)/chainrule gen $$$$spec --isa $$$$isa $$$$extra --out $$$$out >/dev/null; \
	  flags=$$$$(case $$$$isa in avx2) echo "$(ISA_CFLAGS_avx2)";; avx512) echo "$(ISA_CFLAGS_avx512)";; esac); \
	  echo "test-stack: $$$$spec --isa $$$$isa $$$$extra"; tests/stack/stack_check.sh $$$$out $$$$name $$$$flags
	@touch $$@
endef
# $(1) case number: test-isa's build, $(2) its directory
define STACK_RULE_SHARED
$(STACK_T)/$(1)/ok: tests/stack/stack_check.sh $(2)/net.o
	@rm -f $$@
	@echo "test-stack: $(strip $(call stack_word,$(1),2) --isa $(call stack_isa,$(1)) $(call stack_word,$(1),3)) (test-isa's build, $(2))"
	@if [ -f $(2)/net.o.gcc.ci ]; then tests/stack/stack_check.sh --ci $(2)/net.o.gcc.ci $(2)/gen $(call stack_name,$(1)); \
	else tests/stack/stack_check.sh $(2)/gen $(call stack_name,$(1)) $(ISA_CFLAGS_$(call stack_isa,$(1))); fi
	@mkdir -p $$(@D) && touch $$@
endef
$(foreach k,$(STACK_KS),$(eval $(call $(if $(call stack_shared,$(k)),STACK_RULE_SHARED,STACK_RULE),$(k),$(call stack_shared,$(k)))))

TEST_GOALS += test-stack
.PHONY: test-stack
test-stack: $(foreach k,$(STACK_KS),$(STACK_T)/$(k)/ok)
	@echo "test-stack: every entry point within its stated bound (gcc -O2; $(words $(STACK_CASES)) cases, $(words $(foreach k,$(STACK_KS),$(call stack_shared,$(k)))) of them from test-isa's compiles)"
