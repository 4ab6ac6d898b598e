# Scaling of train --shards/--threads (trainer/train_shard.c) against PyTorch's threads.
#
#   make bench-scale [SCALE_ROUNDS=3]   Fashion-MNIST epochs of bench/specs/scale_mlp.lua
#                       (784-256-256-10, batch 256) and specs/fashion_mlp.lua (batch 64)
#                       with 1 and 2 threads, and PyTorch 1 and 2 threads on the same nets
#                       (bench/torch_scale.py); table in build/scale/scale.txt
#
# The trainers are the demo's build (DEMO_ISA, -march=native): the scaling of the code users
# run. Configurations alternate, round after round, and the best samples/s of each is kept,
# so a neighbour's burst of load hits every configuration alike.

SCALE_DIR    := $(BUILD)/scale
SCALE_ROUNDS ?= 3

$(SCALE_DIR)/scale_mlp_cli: bench/specs/scale_mlp.lua $(BUILD)/chainrule $(TRAINER_LIBS) $(TRAINER_HDRS)
	@mkdir -p $(@D)
	$(BUILD)/chainrule gen $< --out $(@D) --isa $(DEMO_ISA) --cli
	$(CC) $(WARN) $(CFLAGS) $(call trainer_isa_flags,$(DEMO_ISA)) -Iruntime -Itrainer -I$(@D) \
	  -o $@ $(@D)/scale_mlp_cli.c $(@D)/scale_mlp.c $(TRAINER_LIBS) -lz -lm -pthread

.PHONY: bench-scale
bench-scale: $(SCALE_DIR)/scale_mlp_cli $(TRAINER_DIR)/$(DEMO_ISA)/fashion_mlp_cli
	bench/scale.sh $(SCALE_DIR) $(TRAINER_DIR)/$(DEMO_ISA) $(SCALE_ROUNDS) "$(PYTHON)" | tee $(SCALE_DIR)/scale.txt
