# Scaling of train --shards/--threads (trainer/train_shard.c) against PyTorch's threads.
#
#   make bench-scale [SCALE_ROUNDS=3]   Fashion-MNIST epochs of bench/specs/scale_mlp.lua
#                       (784-256-256-10, batch 256) and specs/fashion_mlp.lua (batch 64)
#                       with 1 and 2 threads, and PyTorch 1 and 2 threads on the same nets
#                       (bench/torch_scale.py), and with Open MPI 1 vs 2 ranks of
#                       mpirun --distributed; table in build/scale/scale.txt
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

# with Open MPI (mk/mpi.mk), the same net as 1 and 2 ranks of mpirun --distributed too
SCALE_MPI := $(if $(filter yes,$(HAVE_MPI)),$(SCALE_DIR)/mpi/scale_mlp_cli)
$(SCALE_DIR)/mpi/scale_mlp_cli: bench/specs/scale_mlp.lua $(BUILD)/chainrule $(TRAINER_LIBS) $(TRAINER_HDRS) trainer/mpi/train_mpi.c
	@mkdir -p $(@D)
	$(BUILD)/chainrule gen $< --out $(@D) --isa $(DEMO_ISA) --cli
	$(MPICC) $(WARN) $(CFLAGS) $(call trainer_isa_flags,$(DEMO_ISA)) -DCR_TRAIN_MPI -Iruntime \
	  -Itrainer -I$(@D) -o $@ $(@D)/scale_mlp_cli.c $(@D)/scale_mlp.c trainer/mpi/train_mpi.c \
	  $(TRAINER_LIBS) -lz -lm -pthread

.PHONY: bench-scale
bench-scale: $(SCALE_DIR)/scale_mlp_cli $(TRAINER_DIR)/$(DEMO_ISA)/fashion_mlp_cli $(SCALE_MPI)
	bench/scale.sh $(SCALE_DIR) $(TRAINER_DIR)/$(DEMO_ISA) $(SCALE_ROUNDS) "$(PYTHON)" "$(if $(SCALE_MPI),$(MPIRUN))" | tee $(SCALE_DIR)/scale.txt
