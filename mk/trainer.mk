# The trainer library (trainer/, libcrtrain.a): the generic trainer program that every
# generated NAME_cli.c hands its network to (cr_trainer_main), built on the runtime.
#
#   make build/libcrtrain.a          the trainer, $(CFLAGS)
#   make build/tr-san/libcrtrain.a   the trainer with ASan + UBSan (for tests)
#   make build/march/libcrtrain.a build/march/libcr.a   both for this host (-march=native),
#                                    what the vector-ISA trainers link (mk/demo.mk)
#
# A trainer program links NAME_cli.c NAME.c libcrtrain.a libcr.a -lz -lm; the programs,
# `make demo` and `make test-trainer` are in mk/demo.mk (which names these archives by
# path: it is included before this file).

TR_SRC     := $(sort $(wildcard trainer/*.c))
TR_HDR     := $(wildcard trainer/*.h) runtime/cr.h
TR_OBJ     := $(TR_SRC:trainer/%.c=$(BUILD)/tr/%.o)
TR_SAN_OBJ := $(TR_SRC:trainer/%.c=$(BUILD)/tr-san/%.o)

$(BUILD)/tr/%.o: trainer/%.c $(TR_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -Iruntime -Itrainer -c $< -o $@

$(BUILD)/tr-san/%.o: trainer/%.c $(TR_HDR)
	@mkdir -p $(@D)
	$(CC) $(RT_SAN_FLAGS) -Iruntime -Itrainer -c $< -o $@

$(BUILD)/libcrtrain.a: $(TR_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tr-san/libcrtrain.a: $(TR_SAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The trainer and runtime for this host, linked by the trainers of the vector ISAs (whose
# generated code is built with -march=native too): the per-step NaN/Inf scan of every
# gradient (cr_first_nonfinite) and the batch gather then use the host's vector width.
# -ffp-contract=off: no FMA contraction, so every float the runtime computes (init,
# normalisation, losses) has the bits of the portable build.
TR_MARCH_FLAGS := -march=native -ffp-contract=off
TR_MARCH_OBJ   := $(TR_SRC:trainer/%.c=$(BUILD)/march/tr/%.o)
RT_MARCH_OBJ   := $(RT_SRC:runtime/%.c=$(BUILD)/march/rt/%.o)

$(BUILD)/march/tr/%.o: trainer/%.c $(TR_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(TR_MARCH_FLAGS) -Iruntime -Itrainer -c $< -o $@

$(BUILD)/march/rt/%.o: runtime/%.c $(RT_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(TR_MARCH_FLAGS) -Iruntime -c $< -o $@

$(BUILD)/march/libcrtrain.a: $(TR_MARCH_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/march/libcr.a: $(RT_MARCH_OBJ)
	@rm -f $@
	ar rcs $@ $^
