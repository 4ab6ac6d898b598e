# make bench: chainrule's generated code against naive C, OpenBLAS, PyTorch and FANN,
# one thread each, on this machine. Not part of `make test`. Installs nothing: run
# `scripts/deps.sh --bench` first (OpenBLAS, FANN, PyTorch). Writes build/bench.csv.
#
#   make bench                      every ISA this machine runs (BENCH_ISAS to choose), then
#                                   make bench-inference (the inference-only build's row)
#   make bench BENCH_ISAS=          baselines only

BENCH_DIR    := $(BUILD)/bench
BENCH_SPECS  := bench_mlp bench_mlp1 bench_mlp128 bench_seed bench_deep
# Which bench workload (harness.h) each bench spec measures.
BENCH_WL_bench_mlp    := W_MLP_TRAIN
BENCH_WL_bench_mlp1   := W_MLP_INFER
BENCH_WL_bench_mlp128 := W_MLP_FWD
BENCH_WL_bench_seed   := W_SEED_TRAIN
BENCH_WL_bench_deep   := W_DEEP_TRAIN

# The ISAs of this host, best last (HOST_ISAS: the Makefile reads /proc/cpuinfo).
BENCH_ISAS ?= scalar $(HOST_ISAS)

# Compiler flags per ISA for generated code: the ISA's own flags (Makefile), tuned for this
# host (avx512: everything the host has, which includes ISA_CFLAGS_avx512 where it runs).
BENCH_ISA_FLAGS_scalar := -mtune=native
BENCH_ISA_FLAGS_avx2   := $(ISA_CFLAGS_avx2) -mtune=native
BENCH_ISA_FLAGS_avx512 := $(ISA_CFLAGS_avx512) -march=native

BENCH_CFLAGS := $(WARN) -O2 -g -march=native
BENCH_LIBS   := $(shell pkg-config --libs openblas 2>/dev/null) -lfann -lm
BENCH_BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BENCH_OBJS   := $(addprefix $(BENCH_DIR)/,bench.o harness.o basenet.o machine.o openblas.o fann.o naive.o)

# Size of each generated .c and the time to compile it (one more compile, timed).
define BENCH_CODEGEN
for s in $(BENCH_SPECS); do f=$(BENCH_DIR)/gen/$(1)/$$s.c; t0=$$(date +%s%N); \
  $(CC) $(WARN) -O2 $(BENCH_ISA_FLAGS_$(1)) -c $$f -o $(BENCH_DIR)/codegen.o || exit 1; t1=$$(date +%s%N); \
  echo "# codegen $(1) $$s.c: $$(wc -c < $$f) bytes, $$(wc -l < $$f) lines, $(CC) -O2 $$(( (t1 - t0) / 1000000 )) ms"; \
done >> $(BENCH_DIR)/raw.csv;
endef

.PHONY: bench bench-deps
bench-deps:
	@pkg-config --exists openblas || { echo "make bench: OpenBLAS (libopenblas-dev) is missing: run scripts/deps.sh --bench" >&2; exit 2; }
	@test -f /usr/include/floatfann.h || pkg-config --exists fann || { echo "make bench: FANN (libfann-dev) is missing: run scripts/deps.sh --bench" >&2; exit 2; }

$(BENCH_DIR)/naive.o: bench/naive.c bench/basenet.h bench/basenet_step.h bench/harness.h bench/baselines.h | bench-deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O3 -march=native -c $< -o $@

$(BENCH_DIR)/openblas.o: bench/openblas.c bench/basenet.h bench/basenet_step.h bench/harness.h bench/baselines.h | bench-deps
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $(BENCH_BLAS_CFLAGS) -c $< -o $@

$(BENCH_DIR)/%.o: bench/%.c bench/harness.h bench/baselines.h bench/basenet.h | bench-deps
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -c $< -o $@

$(BENCH_DIR)/bench: $(BENCH_OBJS)
	$(CC) -o $@ $^ $(BENCH_LIBS)

# Generated code: build/bench/gen/<isa>/<spec>.{h,c}
define BENCH_ISA_RULES
$(BENCH_DIR)/gen/$(1)/%.c $(BENCH_DIR)/gen/$(1)/%.h: bench/specs/%.lua $(BUILD)/chainrule
	@mkdir -p $(BENCH_DIR)/gen/$(1)
	$(BUILD)/chainrule gen $$< --isa $(1) --out $(BENCH_DIR)/gen/$(1)

$(BENCH_DIR)/$(1)/%.o: $(BENCH_DIR)/gen/$(1)/%.c
	@mkdir -p $$(dir $$@)
	$(CC) $(WARN) -O2 -g $(BENCH_ISA_FLAGS_$(1)) -c $$< -o $$@

$(BENCH_DIR)/$(1)/run_%.o: bench/cr_net.c bench/harness.h $(BENCH_DIR)/gen/$(1)/%.h
	@mkdir -p $$(dir $$@)
	$(CC) $(WARN) -O2 -g $(BENCH_ISA_FLAGS_$(1)) -I$(BENCH_DIR)/gen/$(1) -Ibench -DNET=$$* \
	  -DNETU=$$(shell echo $$* | tr a-z A-Z) -DBENCH_WL=$$(BENCH_WL_$$*) '-DBENCH_HEADER="$$*.h"' -c $$< -o $$@

$(BENCH_DIR)/cr_$(1): bench/cr_main.c $(BENCH_DIR)/harness.o $(foreach s,$(BENCH_SPECS),$(BENCH_DIR)/$(1)/$(s).o $(BENCH_DIR)/$(1)/run_$(s).o)
	$(CC) $(WARN) -O2 -Ibench '-DBENCH_IMPL="chainrule-$(1)"' -o $$@ $$^ -lm
endef
$(foreach i,$(BENCH_ISAS),$(eval $(call BENCH_ISA_RULES,$(i))))
# keep the generated sources (make would delete them as intermediates)
.SECONDARY: $(foreach i,$(BENCH_ISAS),$(foreach s,$(BENCH_SPECS),$(BENCH_DIR)/gen/$(i)/$(s).c $(BENCH_DIR)/gen/$(i)/$(s).h))

bench: $(BENCH_DIR)/bench $(foreach i,$(BENCH_ISAS),$(BENCH_DIR)/cr_$(i))
	@echo "bench: measuring (one thread; takes a minute or two)"
	@OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BENCH_DIR)/bench machine > $(BENCH_DIR)/raw.csv
	@set -e; for i in $(BENCH_ISAS); do $(BENCH_DIR)/cr_$$i >> $(BENCH_DIR)/raw.csv; done
	@OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BENCH_DIR)/bench baselines >> $(BENCH_DIR)/raw.csv
	@OMP_NUM_THREADS=1 $(PYTHON) bench/torch_bench.py >> $(BENCH_DIR)/raw.csv || echo "# pytorch: bench/torch_bench.py failed" >> $(BENCH_DIR)/raw.csv
	@$(foreach i,$(BENCH_ISAS),$(call BENCH_CODEGEN,$(i)))
	@$(BENCH_DIR)/bench report $(BENCH_DIR)/raw.csv $(BUILD)/bench.csv
	@echo "bench: wrote $(BUILD)/bench.csv"
	@echo "bench: the inference-only build at one row (make bench-inference, mk/embed.mk)"
	@$(MAKE) --no-print-directory bench-inference
