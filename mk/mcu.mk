# mk/mcu.mk — a real microcontroller: generated code built with arm-none-eabi-gcc for a
# Cortex-M4F and run under qemu-system-arm (board model mps2-an386) with semihosting for output
# and exit status (tests/mcu/: startup code, vector table, linker script, programs).
#
#   make test-mcu      on the Cortex-M4F: examples/xor.lua trained for 1000 steps (final loss
#                      and parameters vs the same program on the host), specs/mnist_mlp.lua
#                      inference with baked const weights over 300 images, from the normal
#                      pair and from `gen --inference --weights` (predictions vs the host and
#                      the trainer); arm-none-eabi-size and a RAM check per image
#
# Programs (each also built for the host with gcc, the output compared):
#   xor.elf        xor trained on the device with newlib's expf/logf; compared with the host
#                  (glibc) within MCU_ULPS ulps of each tensor's largest value, as the two
#                  libms differ in the last bit for some arguments
#   xor-same.elf   the same with one expf/logf for both (tests/mcu/same_libm.c, swapped in
#                  with objcopy --redefine-sym): must be bit-identical to the host
#   mnist.elf      mnist_mlp forward over the tiny set's first MCU_IMAGES validation images,
#                  weights from the trainer (3 epochs on that set, exported, baked by
#                  tests/mcu/bake.c); outputs bit-identical to the host, predictions equal
#                  to the trainer's `predict`
#   mnist-inf.elf  the same program on `chainrule gen --inference --weights CKPT --max-batch 10`
#                  (the generator's const mnist_mlp_weights, a 10-row work struct,
#                  mnist_mlp_predict checked against the argmax): output identical to mnist.elf's
# Everything is built with -ffp-contract=off on both sides (no fused multiply-add anywhere).

MCU_DIR    := $(BUILD)/mcu
MCU_CC     := arm-none-eabi-gcc
MCU_ARCH   := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
MCU_CFLAGS := $(MCU_ARCH) -ffreestanding $(WARN) -O2 -g -ffp-contract=off \
              -ffunction-sections -fdata-sections
MCU_LD     := -nostartfiles -T tests/mcu/mcu.ld -Wl,--gc-sections
MCU_LIBS   := -lm -lc -lgcc
MCU_HOSTCC := gcc $(WARN) -O2 -ffp-contract=off
MCU_QEMU   := timeout 30 qemu-system-arm -M mps2-an386 -display none -monitor none -serial null
MCU_ULPS   := 32
MCU_IMAGES := 300
MCU_SAME   := --redefine-sym expf=same_expf --redefine-sym logf=same_logf

MCU_DEV_SRC  := tests/mcu/io_fmt.c tests/mcu/semihost.c tests/mcu/startup.c
MCU_HOST_SRC := tests/mcu/io_fmt.c tests/mcu/host_io.c
MCU_HDRS     := tests/mcu/mcu_io.h tests/mcu/mcu.ld
MCU_ELFS     := $(MCU_DIR)/xor.elf $(MCU_DIR)/xor-same.elf $(MCU_DIR)/mnist.elf $(MCU_DIR)/mnist-inf.elf

# --- generated pairs (isa scalar) and the host tool that bakes data into C ----------------
$(MCU_DIR)/gen/xor.c $(MCU_DIR)/gen/xor.h &: examples/xor.lua $(BUILD)/chainrule
	@mkdir -p $(@D)
	$(BUILD)/chainrule gen $< --isa scalar --out $(@D)

$(MCU_DIR)/gen/mnist_mlp.c $(MCU_DIR)/gen/mnist_mlp.h &: specs/mnist_mlp.lua $(BUILD)/chainrule
	@mkdir -p $(@D)
	$(BUILD)/chainrule gen $< --isa scalar --out $(@D)

# forward only, the trainer's checkpoint baked in by the generator, at most 10 rows per call
$(MCU_DIR)/gen-inf/mnist_mlp.c $(MCU_DIR)/gen-inf/mnist_mlp.h &: specs/mnist_mlp.lua $(BUILD)/chainrule \
  $(MCU_DIR)/mnist.ckpt
	@mkdir -p $(@D)
	$(BUILD)/chainrule gen $< --isa scalar --inference --weights $(MCU_DIR)/mnist.ckpt \
	  --max-batch 10 --out $(@D)

$(MCU_DIR)/bake-%: tests/mcu/bake.c $(MCU_DIR)/gen/%.c $(BUILD)/libcr.a $(wildcard runtime/*.h)
	$(MCU_HOSTCC) -include $(MCU_DIR)/gen/$*.h -DNET=$* -DNET_UP=$(shell echo $* | tr a-z A-Z) \
	  -Iruntime -o $@ $< $(MCU_DIR)/gen/$*.c $(BUILD)/libcr.a -lz -lm

# xor: a fixed initialisation, as the trainer would draw it (seed 1)
$(MCU_DIR)/xor_init.inc: $(MCU_DIR)/bake-xor
	$< init 1 $@

# mnist_mlp: the tiny data set with MCU_IMAGES validation images, 3 epochs of the scalar
# trainer, its export (PyTorch layout .npy + norm.npy), baked; its predictions for reference
MCU_TRAINER := $(BUILD)/trainer/scalar/mnist_mlp_cli
$(MCU_DIR)/tiny/.stamp: $(BUILD)/tools/make_tiny
	@mkdir -p $(MCU_DIR)
	$< $(@D) 600 $(MCU_IMAGES) >/dev/null
	@touch $@

$(MCU_DIR)/mnist.ckpt: $(MCU_TRAINER) $(MCU_DIR)/tiny/.stamp
	$(MCU_TRAINER) train --data $(MCU_DIR)/tiny --epochs 3 --seed 1 --checkpoint $@ \
	  > $(MCU_DIR)/mnist.train.log

$(MCU_DIR)/weights/.stamp: $(MCU_DIR)/mnist.ckpt
	$(MCU_TRAINER) export $(@D) --checkpoint $< >/dev/null
	@touch $@

$(MCU_DIR)/mnist.trainer.txt: $(MCU_DIR)/mnist.ckpt
	$(MCU_TRAINER) predict --checkpoint $< --input $(MCU_DIR)/tiny/valid-images-idx3-ubyte \
	  --output $@ >/dev/null

$(MCU_DIR)/mnist_weights.inc: $(MCU_DIR)/bake-mnist_mlp $(MCU_DIR)/weights/.stamp
	$< weights $(MCU_DIR)/weights $@

$(MCU_DIR)/mnist_images.inc: $(MCU_DIR)/bake-mnist_mlp $(MCU_DIR)/tiny/.stamp
	$< images $(MCU_DIR)/tiny/valid-images-idx3-ubyte $(MCU_DIR)/tiny/valid-labels-idx1-ubyte \
	  $(MCU_IMAGES) $@

# --- the generated code as objects; the "same" ones call same_expf/same_logf -------------
$(MCU_DIR)/dev/%.o: $(MCU_DIR)/gen/%.c
	@mkdir -p $(@D)
	$(MCU_CC) $(MCU_CFLAGS) -c -o $@ $<
$(MCU_DIR)/host/%.o: $(MCU_DIR)/gen/%.c
	@mkdir -p $(@D)
	$(MCU_HOSTCC) -c -o $@ $<
$(MCU_DIR)/dev/inf/%.o: $(MCU_DIR)/gen-inf/%.c
	@mkdir -p $(@D)
	$(MCU_CC) $(MCU_CFLAGS) -c -o $@ $<
$(MCU_DIR)/host/inf/%.o: $(MCU_DIR)/gen-inf/%.c
	@mkdir -p $(@D)
	$(MCU_HOSTCC) -c -o $@ $<
$(MCU_DIR)/dev/%-same.o: $(MCU_DIR)/dev/%.o
	arm-none-eabi-objcopy $(MCU_SAME) $< $@
$(MCU_DIR)/host/%-same.o: $(MCU_DIR)/host/%.o
	objcopy $(MCU_SAME) $< $@

# --- images and their host twins ------------------------------------------------------------
# $(1) program, $(2) main source, $(3) objects (generated code, under dev/ and host/), $(4) more
# prerequisites, $(5) more sources, $(6) directory of the generated header
define MCU_PROGRAM
$(MCU_DIR)/$(1).elf: $(2) $(MCU_DEV_SRC) $(MCU_HDRS) $(4) $(addprefix $(MCU_DIR)/dev/,$(3))
	$(MCU_CC) $(MCU_CFLAGS) -I$(6) -I$(MCU_DIR) -Itests/mcu $(MCU_LD) \
	  -Wl,-Map=$(MCU_DIR)/$(1).map -o $$@ $(2) $(MCU_DEV_SRC) $(5) \
	  $(addprefix $(MCU_DIR)/dev/,$(3)) $(MCU_LIBS)
$(MCU_DIR)/$(1)-host: $(2) $(MCU_HOST_SRC) tests/mcu/mcu_io.h $(4) $(addprefix $(MCU_DIR)/host/,$(3))
	$(MCU_HOSTCC) -I$(6) -I$(MCU_DIR) -Itests/mcu -o $$@ $(2) $(MCU_HOST_SRC) $(5) \
	  $(addprefix $(MCU_DIR)/host/,$(3)) -lm
endef
$(eval $(call MCU_PROGRAM,xor,tests/mcu/xor_train.c,xor.o,$(MCU_DIR)/xor_init.inc,,$(MCU_DIR)/gen))
$(eval $(call MCU_PROGRAM,xor-same,tests/mcu/xor_train.c,xor-same.o,$(MCU_DIR)/xor_init.inc \
  tests/mcu/same_libm.c tests/mcu/same_libm.h,tests/mcu/same_libm.c,$(MCU_DIR)/gen))
$(eval $(call MCU_PROGRAM,mnist,tests/mcu/mnist_infer.c,mnist_mlp.o,$(MCU_DIR)/mnist_weights.inc \
  $(MCU_DIR)/mnist_images.inc,,$(MCU_DIR)/gen))
$(eval $(call MCU_PROGRAM,mnist-inf,tests/mcu/mnist_infer.c,inf/mnist_mlp.o, \
  $(MCU_DIR)/mnist_images.inc,,$(MCU_DIR)/gen-inf))

$(MCU_DIR)/ulpcmp: tests/mcu/ulpcmp.c
	@mkdir -p $(@D)
	$(MCU_HOSTCC) -o $@ $< -lm

# --- the test ------------------------------------------------------------------------------
# Each image runs under qemu with a 30 s timeout; its semihosting output goes to a file and
# its exit status (main's return) is qemu's. Lines starting with "mcu " (device-only figures)
# are left out of the comparisons.
mcu_run = $(MCU_QEMU) -chardev file,id=sh,path=$(MCU_DIR)/$(1).dev.txt \
  -semihosting-config enable=on,target=native,chardev=sh -kernel $(MCU_DIR)/$(1).elf \
  || { echo "test-mcu: $(1).elf failed on qemu (status $$?)"; cat $(MCU_DIR)/$(1).dev.txt; exit 1; }; \
  $(MCU_DIR)/$(1)-host > $(MCU_DIR)/$(1).host.txt || { echo "test-mcu: $(1)-host failed"; exit 1; }
mcu_same = grep -v '^mcu ' $(MCU_DIR)/$(1).host.txt > $(MCU_DIR)/$(1).host.cmp; \
  grep -v '^mcu ' $(MCU_DIR)/$(1).dev.txt > $(MCU_DIR)/$(1).dev.cmp; \
  cmp -s $(MCU_DIR)/$(1).host.cmp $(MCU_DIR)/$(1).dev.cmp \
  || { echo "test-mcu: $(1): device and host outputs differ"; \
       diff $(MCU_DIR)/$(1).host.cmp $(MCU_DIR)/$(1).dev.cmp | head -20; exit 1; }

TEST_GOALS += test-mcu
.PHONY: test-mcu
test-mcu: $(MCU_ELFS) $(MCU_ELFS:.elf=-host) $(MCU_DIR)/ulpcmp $(MCU_DIR)/mnist.trainer.txt
	@echo "== Cortex-M4F (arm-none-eabi-gcc, qemu-system-arm -M mps2-an386, semihosting)"
	@arm-none-eabi-size $(MCU_ELFS)
	@tests/mcu/ramcheck.sh $(MCU_DIR)/xor.elf $(MCU_DIR)/gen/xor.h params:XOR_PARAMS_BYTES \
	  grads:XOR_GRADS_BYTES work:XOR_WORK_BYTES opt:XOR_OPT_BYTES
	@tests/mcu/ramcheck.sh $(MCU_DIR)/mnist.elf $(MCU_DIR)/gen/mnist_mlp.h \
	  work:MNIST_MLP_WORK_BYTES
	@tests/mcu/ramcheck.sh $(MCU_DIR)/mnist-inf.elf $(MCU_DIR)/gen-inf/mnist_mlp.h \
	  work:MNIST_MLP_WORK_BYTES mnist_mlp_weights:MNIST_MLP_PARAMS_BYTES
	@$(call mcu_run,xor)
	@$(call mcu_run,xor-same)
	@$(call mcu_run,mnist)
	@$(call mcu_run,mnist-inf)
	@grep -E '^(final loss|held-out|mcu )' $(MCU_DIR)/xor.dev.txt | sed 's/^/xor (device): /'
	@$(MCU_DIR)/ulpcmp $(MCU_ULPS) $(MCU_DIR)/xor.host.txt $(MCU_DIR)/xor.dev.txt \
	  > $(MCU_DIR)/xor.ulpcmp.txt; rc=$$?; sed 's/^/xor newlib vs glibc: /' $(MCU_DIR)/xor.ulpcmp.txt; \
	  exit $$rc
	@$(call mcu_same,xor-same)
	@grep -E '^(outputs|accuracy|mcu )' $(MCU_DIR)/mnist.dev.txt | sed 's/^/mnist (device): /'
	@$(call mcu_same,mnist)
	@sed -n 's/^pred [0-9]* //p' $(MCU_DIR)/mnist.dev.txt | fold -w1 \
	  | cmp -s - $(MCU_DIR)/mnist.trainer.txt \
	  || { echo "test-mcu: mnist: device predictions differ from the trainer's"; exit 1; }
	@grep -E '^(outputs|mcu )' $(MCU_DIR)/mnist-inf.dev.txt | sed 's/^/mnist --inference (device): /'
	@$(call mcu_same,mnist-inf)
	@cmp -s $(MCU_DIR)/mnist.dev.cmp $(MCU_DIR)/mnist-inf.dev.cmp \
	  || { echo "test-mcu: mnist: the --inference build's output differs from the baked one's"; \
	       diff $(MCU_DIR)/mnist.dev.cmp $(MCU_DIR)/mnist-inf.dev.cmp | head; exit 1; }
	@echo "test-mcu: Cortex-M4F: xor trained on the device = host bit for bit with one libm \
	(within $(MCU_ULPS) ulp with newlib vs glibc); mnist_mlp $(MCU_IMAGES) images: outputs = host \
	bit for bit, predictions = trainer's ($$(sed -n 's/^accuracy //p' $(MCU_DIR)/mnist.dev.txt) correct), \
	the same from gen --inference"
