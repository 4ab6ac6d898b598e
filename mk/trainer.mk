# The trainer library (trainer/, libcrtrain.a): the generic trainer program that every
# generated NAME_cli.c hands its network to (cr_trainer_main), built on the runtime.
#
#   make build/libcrtrain.a          the trainer, $(CFLAGS)
#   make build/tr-san/libcrtrain.a   the trainer with ASan + UBSan (for tests)
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
