# The MPI trainer: `mpirun -np N NAME_cli train ... --distributed` (Open MPI; issue 15 part 2).
#
#   make mpi-trainer SPEC=specs/x.lua [DEMO_ISA=...]   build/mpi/ISA/x_cli, generated as make trainer's (--cpu native): compiled
#                       with mpicc -DCR_TRAIN_MPI and trainer/mpi/train_mpi.c (scripts/deps.sh --mpi
#                       installs Debian's openmpi-bin + libopenmpi-dev); without mpicc it says so
#   make test-mpi       mpirun -np 1/2/4 --oversubscribe on the tiny set: checkpoints byte-identical to
#                       the single-process run; a killed rank; refused starts (tests/trainer/mpi.sh;
#                       SKIP without mpicc/mpirun)
#
# libcrtrain.a stays free of MPI: the MPI trainer adds one object, train_mpi.c, whose
# cr_mpi_dist() the template's main hands to cr_trainer_main_dist under CR_TRAIN_MPI.

MPICC     ?= mpicc
MPIRUN    ?= mpirun
HAVE_MPI  := $(shell command -v $(MPICC) >/dev/null 2>&1 && command -v $(MPIRUN) >/dev/null 2>&1 && echo yes)
MPI_DIR   := $(BUILD)/mpi
NO_MPI_MSG := no $(MPICC)/$(MPIRUN): scripts/deps.sh --mpi installs Open MPI (openmpi-bin, libopenmpi-dev)


# (specs/NAME.lua, or DIR/NAME.lua for a SPEC elsewhere: TRAINER_SPEC_DIRS, mk/demo.mk)
define mpi_trainer_rule
$(MPI_DIR)/$(DEMO_ISA)/%_cli: $(1)%.lua $(BUILD)/chainrule $(TRAINER_LIBS) $(TRAINER_HDRS) trainer/mpi/train_mpi.c
	@command -v $(MPICC) >/dev/null 2>&1 || { echo "make mpi-trainer: $(NO_MPI_MSG)"; exit 2; }
	@mkdir -p $$(@D)
	$(BUILD)/chainrule gen $$< --out $$(@D) --isa $(DEMO_ISA) --cpu native --name $$* --cli
	$(MPICC) $(WARN) $(CFLAGS) $(call trainer_isa_flags,$(DEMO_ISA)) -DCR_TRAIN_MPI -Iruntime \
	  -Itrainer -I$$(@D) -o $$@ $$(@D)/$$*_cli.c $$(@D)/$$*.c trainer/mpi/train_mpi.c $(TRAINER_LIBS) \
	  -lz -lm -pthread
endef
$(foreach dir,$(TRAINER_SPEC_DIRS),$(eval $(call mpi_trainer_rule,$(dir))))

.PHONY: mpi-trainer test-mpi
mpi-trainer:
	@[ -f "$(SPEC)" ] || { echo "make mpi-trainer: SPEC=$(SPEC): no such file" >&2; exit 2; }
	@$(call spec_clash_check,mpi-trainer,$(SPEC))
	@$(MAKE) --no-print-directory $(MPI_DIR)/$(DEMO_ISA)/$(basename $(notdir $(SPEC)))_cli

# The tests' MPI trainers: scalar, -O2, no sanitizers (Open MPI's own allocations at exit are
# not ours to fix under LeakSanitizer); each is compared with itself run without mpirun.
MPI_TT := $(MPI_DIR)/tests
$(MPI_TT)/%_cli: specs/%.lua $(BUILD)/chainrule $(TRAINER_LIBS) $(TRAINER_HDRS) trainer/mpi/train_mpi.c
	@mkdir -p $(@D)
	$(BUILD)/chainrule gen $< --out $(@D) --isa scalar --cli
	$(MPICC) $(WARN) $(CFLAGS) -DCR_TRAIN_MPI -Iruntime -Itrainer -I$(@D) -o $@ $(@D)/$*_cli.c \
	  $(@D)/$*.c trainer/mpi/train_mpi.c $(TRAINER_LIBS) -lz -lm -pthread
$(MPI_TT)/%_cli: tests/trainer/specs/%.lua $(BUILD)/chainrule $(TRAINER_LIBS) $(TRAINER_HDRS) trainer/mpi/train_mpi.c
	@mkdir -p $(@D)
	$(BUILD)/chainrule gen $< --out $(@D) --isa scalar --cli
	$(MPICC) $(WARN) $(CFLAGS) -DCR_TRAIN_MPI -Iruntime -Itrainer -I$(@D) -o $@ $(@D)/$*_cli.c \
	  $(@D)/$*.c trainer/mpi/train_mpi.c $(TRAINER_LIBS) -lz -lm -pthread

TEST_GOALS += test-mpi
ifeq ($(HAVE_MPI),yes)
test-mpi: $(MPI_TT)/mnist_mlp_cli $(MPI_TT)/drop_mlp_cli $(MPI_TT)/adam_mlp_cli tiny-data
	@echo "== train --distributed under mpirun: bitwise the single-process run"
	@tests/trainer/mpi.sh $(MPI_TT) $(BUILD)/tiny $(MPIRUN)
else
test-mpi:
	@echo "== test-mpi: SKIP ($(NO_MPI_MSG))"
endif
