# make bench: chainrule's generated code against naive C, OpenBLAS, PyTorch and FANN,
# one thread each, on this machine. Not part of `make test` (test-bench, at the end of this
# file, runs its whole path once, small, timing nothing). Installs nothing: run
# `scripts/deps.sh --bench` first (OpenBLAS, FANN, PyTorch). Writes build/bench.csv and
# build/bench-codegen.csv (BENCH_CSV, BENCH_CODEGEN_CSV).
#
#   make bench                      every ISA this machine runs (BENCH_ISAS to choose), then
#                                   make bench-inference (the inference-only build's row)
#   make bench BENCH_ISAS=          no chainrule rows (the baselines, the size specs'
#                                   compiles and make bench-inference still run)
#   make bench BENCH_BIG=           without 784-2048-2048-10 (on by default: its avx2 .c is ~100 KB
#                                   and compiles in seconds; its rows take fewer samples, harness.c)
#   make bench BENCH_ALL_CORES=1    OpenBLAS/PyTorch also under the SSE2/SSE3-era core types
#   make bench BENCH_CORES='A B'    OpenBLAS/PyTorch under these OPENBLAS_CORETYPE names only
#                                   ('detected': the core OpenBLAS detects)
#   make bench BENCH_PASSES=N       passes over every program (default 5; see below)
#   make bench BENCH_CPU=generic    the ISA defaults instead of this machine's CPU family's
#                                   (gen --cpu; default native, gen/cpus.lua)
#   make bench BENCH_TUNE=          without the tuned rows (default: `chainrule tune` each
#                                   bench spec for BENCH_TUNE_ISA, the last vector ISA of BENCH_ISAS,
#                                   BENCH_TUNE_BUDGET seconds each, then gen --tune: rows
#                                   chainrule-ISA-tuned beside chainrule-ISA)
#
# OpenBLAS chooses its kernels when it loads (OPENBLAS_CORETYPE, else its own detection,
# which may not know a new CPU): the bench runs OpenBLAS and PyTorch once per core type
# whose instructions this CPU has (`bench cores`), each in its own process, and takes the
# fastest core of each workload as the baseline.
#
# The estimator, the same for every implementation: each program prints, per workload, the
# median of up to 41 samples of about 0.2 ms (at most ~150 ms a workload: bench/harness.c,
# bench/torch_bench.py); the bench runs every program BENCH_PASSES times in turn, each time a
# fresh process (pass 1: all programs, pass 2: all programs, ...; each pass starts the list
# one program later, so no program always follows the same one or always sits at the same
# place in a pass), and `bench report` keeps the fastest pass of each workload and program.
# Two kinds of slowness only ever slow a pass: another process on the other core for
# seconds, and this VM's slow phases (the 784-50-10 step ~120 or ~155 us), in which
# everything that touches the caches beyond L1 runs
# ~20-30 % slower (even a forward whose 207 KB fit the L2) while register-only FMAs and
# L1-resident loads keep full speed. Measured on the Zen 3 KVM guest (no PMU in the guest):
# a phase starts and ends within a process and spans consecutive processes; fixed addresses
# (setarch -R) and buffers on 2 MB pages run slow and fast alike; a program streaming 8-64 MB
# on the other vCPU brings the slow phase on, one streaming 384 KB (within L2) or an
# integer loop does not. So the cause is contention for the shared cache/memory from
# outside the process (the host, other guests), not where the step's buffers or code sit.
# On the Xeon (model 207, KVM) the slow phases look different: probes alternated for 6
# minutes ran register-only FMAs x1.05 slower in slow rows, loads + FMAs from a 4-32 KB
# (L1) buffer x1.41, a 512 KB L2 stream x1.25, the 784-50-10 layer-0 forward x1.49 (x1.39
# with its W block kept in L1): a charge per instruction and load issued, as from an SMT
# sibling sharing the core, whatever the buffer size. There fewer instructions per FMA
# help (gen/schedule.lua XTG_X_ROW), keeping data in L1 does not.
# So passes are many and short (5 passes of up to 41 samples take the time 3 of up to 101
# did, most of it PyTorch's import), spread over the run. In one idle run the untuned
# bench_mlp build ran slow in all 5 passes and the tuned one (nearly the same code) fast:
# read a single row +-20 %. Alternating the programs gives each the same chances.
BENCH_PASSES ?= 5
BENCH_CPU ?= native
BENCH_BIG ?= 1
BENCH_CORES ?=
# After the report, make bench-inference (test-bench turns it off: its build is shared).
BENCH_INFERENCE ?= 1

# Where the bench builds and measures, and its two reports (test-bench moves all three).
BENCH_DIR         ?= $(BUILD)/bench
BENCH_CSV         ?= $(BUILD)/bench.csv
BENCH_CODEGEN_CSV ?= $(BUILD)/bench-codegen.csv
BENCH_SPECS  := bench_mlp bench_mlp1 bench_mlp128 bench_seed bench_deep bench_wide \
                bench_m256_1 bench_m256_8 bench_m256_32 bench_m256_256 bench_lenet bench_lenet1 bench_bncnn bench_tanh \
                $(if $(BENCH_BIG),bench_big bench_big1)
BENCH_BIG_FLAG := $(if $(BENCH_BIG),--big)
# Which bench workloads (harness.h) each bench spec measures.
BENCH_WL_bench_mlp      := W_MLP_TRAIN
BENCH_WL_bench_mlp1     := W_MLP_INFER
BENCH_WL_bench_mlp128   := W_MLP_FWD
BENCH_WL_bench_seed     := W_SEED_TRAIN
BENCH_WL_bench_deep     := W_DEEP_TRAIN
BENCH_WL_bench_wide     := W_WIDE_TRAIN,W_WIDE_FWD
BENCH_WL_bench_m256_1   := W_M256_B1
BENCH_WL_bench_m256_8   := W_M256_B8
BENCH_WL_bench_m256_32  := W_M256_B32
BENCH_WL_bench_m256_256 := W_M256_B256
BENCH_WL_bench_big      := W_BIG_TRAIN,W_BIG_FWD
BENCH_WL_bench_big1     := W_BIG_INFER
BENCH_WL_bench_lenet    := W_LENET_TRAIN
BENCH_WL_bench_lenet1   := W_LENET_INFER
BENCH_WL_bench_bncnn    := W_BNCNN_TRAIN
BENCH_WL_bench_tanh     := W_TANH_TRAIN
# Bench specs without a file of their own: another spec's network at another batch
# (gen/tune --batch; the generated code is that of a spec file with this name and batch but
# for the banner's spec name). BENCH_DERIVED lists them, BENCH_FROM_s names the spec file.
BENCH_DERIVED           := bench_mlp1 bench_mlp128 bench_m256_1 bench_m256_8 bench_m256_32 \
                           bench_m256_256 bench_lenet1 $(if $(BENCH_BIG),bench_big1)
BENCH_FROM_bench_mlp1    := bench_mlp
BENCH_BATCH_bench_mlp1   := 1
BENCH_FROM_bench_mlp128  := bench_mlp
BENCH_BATCH_bench_mlp128 := 128
$(foreach b,1 8 32 256,$(eval BENCH_FROM_bench_m256_$(b) := bench_m256)$(eval BENCH_BATCH_bench_m256_$(b) := $(b)))
BENCH_FROM_bench_lenet1 := bench_lenet
BENCH_BATCH_bench_lenet1 := 1
BENCH_FROM_bench_big1 := bench_big
BENCH_BATCH_bench_big1 := 1
# Derived specs whose bench rows time the forward only are tuned as inference builds
# (tune --max-batch), so the whole-network check times the forward they are measured by,
# not a train step they never run; the others with tune --batch.
BENCH_TUNE_AS_bench_mlp1   := max-batch
BENCH_TUNE_AS_bench_mlp128 := max-batch
BENCH_TUNE_AS_bench_lenet1 := max-batch
BENCH_TUNE_AS_bench_big1   := max-batch

# The ISAs of this host, best last (HOST_ISAS: the Makefile reads /proc/cpuinfo).
BENCH_ISAS ?= scalar $(HOST_ISAS)

# Compiler flags per ISA for generated code: the ISA's own flags (Makefile), tuned for this
# host (avx512: everything the host has, which includes ISA_CFLAGS_avx512 where it runs).
BENCH_ISA_FLAGS_scalar := -mtune=native
BENCH_ISA_FLAGS_sse2   := $(ISA_CFLAGS_sse2) -mtune=native
BENCH_ISA_FLAGS_avx2   := $(ISA_CFLAGS_avx2) -mtune=native
BENCH_ISA_FLAGS_avx512 := $(ISA_CFLAGS_avx512) -march=native

BENCH_CFLAGS := $(WARN) -O2 -g -march=native
BENCH_LIBS   := $(shell pkg-config --libs openblas 2>/dev/null) -lfann -lm
BENCH_BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BENCH_OBJS   := $(addprefix $(BENCH_DIR)/,bench.o harness.o basenet.o machine.o openblas.o fann.o naive.o cnn.o cnn_naive.o)

# One code-generation row per spec and ISA: the generator's time, the .c's size and the
# time of its compile as built (bench/timed.sh wrote the times next to the outputs; -1 when
# a time is missing).
define BENCH_CODEGEN
for s in $(BENCH_SPECS); do f=$(BENCH_DIR)/gen/$(1)/$$s.c; \
  echo "codegen,$(1),$$s,$$(cat $(BENCH_DIR)/gen/$(1)/$$s.gen_ms 2>/dev/null || echo -1),$$(wc -c < $$f),$$(wc -l < $$f),$$(cat $(BENCH_DIR)/$(1)/$$s.cc_ms 2>/dev/null || echo -1)"; \
done >> $(BENCH_DIR)/raw.csv;
endef

# Code size and compile time at the issue's bounds (16 layers deep, 4096 wide): specs that
# are generated and compiled (timed.sh; -O2 without -g, as the bound is stated), never run,
# for the SIMD ISAs the compiler targets on this host (x86: sse2, avx2 and avx512 whether or not
# the CPU runs it). Compile times move up to 2x with this VM's slow phases (size_deep avx2
# before the shared tile functions: 11.8-24.5 s of CPU time for the same file).
BENCH_SIZE_SPECS := size_deep size_wide
BENCH_SIZE_ISAS ?= $(if $(filter x86_64 i686,$(shell uname -m)),sse2 avx2 avx512,$(filter-out scalar,$(HOST_ISAS)))
BENCH_SIZE_OBJS := $(foreach i,$(BENCH_SIZE_ISAS),$(foreach s,$(BENCH_SIZE_SPECS),$(BENCH_DIR)/size/$(i)/$(s).o))
define BENCH_SIZE_RULES
$(BENCH_DIR)/size/$(1)/%.c: bench/specs/%.lua $(BUILD)/chainrule bench/timed.sh
	@mkdir -p $(BENCH_DIR)/size/$(1)
	bench/timed.sh $(BENCH_DIR)/size/$(1)/$$*.gen_ms $(BUILD)/chainrule gen $$< --isa $(1) --cpu $(BENCH_CPU) --out $(BENCH_DIR)/size/$(1)

$(BENCH_DIR)/size/$(1)/%.o: $(BENCH_DIR)/size/$(1)/%.c bench/timed.sh
	bench/timed.sh $(BENCH_DIR)/size/$(1)/$$*.cc_ms $(CC) $(WARN) -O2 $(ISA_CFLAGS_$(1)) -mtune=native -c $$< -o $$@
endef
$(foreach i,$(BENCH_SIZE_ISAS),$(eval $(call BENCH_SIZE_RULES,$(i))))
.SECONDARY: $(BENCH_SIZE_OBJS:.o=.c)
# A tuned build whose tune file kept every default is the untuned build's code but for the
# banner's tiling line: a note says so, since its two rows then differ by run-to-run noise
# only (the idle run of 12:00 UTC: 784-256-10 B=32 316.5 vs 343.8 us, 784-256-256-10 879.1
# vs 910.5 us for the same code).
define BENCH_SAME_CODE
for s in $(BENCH_SPECS); do u=$(BENCH_DIR)/gen/$(1)/$$s.c; t=$(BENCH_DIR)/gen/$(1)-tuned/$$s.c; \
  grep -v '^ \* tiling: [0-9]* products\{0,1\} from the tune file' $$t > $$t.same 2>/dev/null; \
  if cmp -s $$u $$t.same; then echo "# chainrule-$(1)-tuned $$s: the tune file kept every default, so this is chainrule-$(1)'s code: its two rows differ by noise only"; fi; \
  rm -f $$t.same; \
done >> $(BENCH_DIR)/raw.csv;
endef

define BENCH_SIZE_CODEGEN
for i in $(BENCH_SIZE_ISAS); do for s in $(BENCH_SIZE_SPECS); do d=$(BENCH_DIR)/size/$$i; \
  echo "codegen,$$i,$$s,$$(cat $$d/$$s.gen_ms 2>/dev/null || echo -1),$$(wc -c < $$d/$$s.c),$$(wc -l < $$d/$$s.c),$$(cat $$d/$$s.cc_ms 2>/dev/null || echo -1)"; \
done; done >> $(BENCH_DIR)/raw.csv;
endef

.PHONY: bench bench-deps
# The baselines' libraries that are missing (empty: none), for bench-deps and test-bench.
bench_missing = $(strip $(shell pkg-config --exists openblas || echo "OpenBLAS (libopenblas-dev)"; \
  test -f /usr/include/floatfann.h || pkg-config --exists fann || echo "FANN (libfann-dev)"))
bench-deps:
	@m='$(bench_missing)'; [ -z "$$m" ] || { echo "make bench: $$m missing: run scripts/deps.sh --bench" >&2; exit 2; }

$(BENCH_DIR)/naive.o: bench/naive.c bench/naive_prod.h bench/basenet.h bench/basenet_step.h bench/harness.h bench/baselines.h | bench-deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O3 -march=native -c $< -o $@

$(BENCH_DIR)/cnn_naive.o: bench/cnn_naive.c bench/naive_prod.h bench/basenet.h bench/cnn.h bench/cnn_step.h bench/harness.h bench/baselines.h | bench-deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O3 -march=native -c $< -o $@

$(BENCH_DIR)/openblas.o: bench/openblas.c bench/basenet.h bench/basenet_step.h bench/harness.h bench/baselines.h bench/cnn.h bench/cnn_step.h | bench-deps
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $(BENCH_BLAS_CFLAGS) -c $< -o $@

$(BENCH_DIR)/%.o: bench/%.c bench/harness.h bench/baselines.h bench/basenet.h bench/cnn.h | bench-deps
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -c $< -o $@

# The harness allocates every implementation's buffers with the runtime's cr_alloc, as the
# trainer does (2 MB blocks advised to huge pages), so every program links libcr.a.
$(BENCH_DIR)/harness.o: bench/harness.c bench/harness.h runtime/cr.h | bench-deps
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -Iruntime -c $< -o $@

$(BENCH_DIR)/bench: $(BENCH_OBJS) $(BUILD)/libcr.a
	$(CC) -o $@ $^ $(BENCH_LIBS) $(RT_LDLIBS)

# Generated code: build/bench/gen/<isa>/<spec>.{h,c}
define BENCH_ISA_RULES
$(BENCH_DIR)/gen/$(1)/%.c $(BENCH_DIR)/gen/$(1)/%.h: bench/specs/%.lua $(BUILD)/chainrule bench/timed.sh
	@mkdir -p $(BENCH_DIR)/gen/$(1)
	bench/timed.sh $(BENCH_DIR)/gen/$(1)/$$*.gen_ms $(BUILD)/chainrule gen $$< --isa $(1) --cpu $(BENCH_CPU) --out $(BENCH_DIR)/gen/$(1)

$(BENCH_DIR)/$(1)/%.o: $(BENCH_DIR)/gen/$(1)/%.c bench/timed.sh
	@mkdir -p $$(dir $$@)
	bench/timed.sh $(BENCH_DIR)/$(1)/$$*.cc_ms $(CC) $(WARN) -O2 -g $(BENCH_ISA_FLAGS_$(1)) -c $$< -o $$@

$(BENCH_DIR)/$(1)/run_%.o: bench/cr_net.c bench/harness.h $(BENCH_DIR)/gen/$(1)/%.h
	@mkdir -p $$(dir $$@)
	$(CC) $(WARN) -O2 -g $(BENCH_ISA_FLAGS_$(1)) -I$(BENCH_DIR)/gen/$(1) -Ibench -DNET=$$* \
	  -DNETU=$$(shell echo $$* | tr a-z A-Z) -DBENCH_WLS=$$(BENCH_WL_$$*) '-DBENCH_HEADER="$$*.h"' -c $$< -o $$@

# (relinked when the spec list changes: BENCH_BIG)
$(BENCH_DIR)/cr_$(1): bench/cr_main.c $(BENCH_DIR)/harness.o $(foreach s,$(BENCH_SPECS),$(BENCH_DIR)/$(1)/$(s).o $(BENCH_DIR)/$(1)/run_$(s).o) $(BUILD)/libcr.a FORCE
	$(CC) $(WARN) -O2 -Ibench '-DBENCH_IMPL="chainrule-$(1)"' '-DBENCH_RUNS=$(foreach s,$(BENCH_SPECS),X($(s)))' \
	  -o $$@ $$(filter-out FORCE,$$^) $$(RT_LDLIBS)
endef
$(foreach i,$(BENCH_ISAS),$(eval $(call BENCH_ISA_RULES,$(i))))
# A derived spec's sources (explicit, so the pattern rule's bench/specs/%.lua is not looked for).
# $(1) ISA, $(2) spec
define BENCH_DERIVED_RULES
$(BENCH_DIR)/gen/$(1)/$(2).c $(BENCH_DIR)/gen/$(1)/$(2).h &: bench/specs/$(BENCH_FROM_$(2)).lua $(BUILD)/chainrule bench/timed.sh
	@mkdir -p $(BENCH_DIR)/gen/$(1)
	bench/timed.sh $(BENCH_DIR)/gen/$(1)/$(2).gen_ms $(BUILD)/chainrule gen $$< --isa $(1) --cpu $(BENCH_CPU) --name $(2) \
	  --batch $(BENCH_BATCH_$(2)) --out $(BENCH_DIR)/gen/$(1)
endef
$(foreach i,$(BENCH_ISAS),$(foreach s,$(BENCH_DERIVED),$(eval $(call BENCH_DERIVED_RULES,$(i),$(s)))))
# keep the generated sources (make would delete them as intermediates)
.SECONDARY: $(foreach i,$(BENCH_ISAS),$(foreach s,$(BENCH_SPECS),$(BENCH_DIR)/gen/$(i)/$(s).c $(BENCH_DIR)/gen/$(i)/$(s).h))
.PHONY: FORCE
FORCE:

# Tuned rows: a tune file per bench spec, measured here by `chainrule tune` (tune/SPEC.tune),
# the spec generated again with gen --tune (gen/ISA-tuned/), one program cr_ISA-tuned whose
# rows are chainrule-ISA-tuned; `bench report` prints them against chainrule-ISA.
BENCH_TUNE ?= 1
BENCH_TUNE_ISA ?= $(lastword $(filter-out scalar,$(BENCH_ISAS)))
BENCH_TUNE_BUDGET ?= 6
BENCH_TUNED := $(if $(BENCH_TUNE),$(BENCH_TUNE_ISA))

define BENCH_TUNED_RULES
$(BENCH_DIR)/tune/%.tune: bench/specs/%.lua $(BUILD)/chainrule
	@mkdir -p $(BENCH_DIR)/tune
	CC='$(CC)' $(BUILD)/chainrule tune $$< --isa $(1) --cpu $(BENCH_CPU) --budget $(BENCH_TUNE_BUDGET) --out $$@

$(BENCH_DIR)/gen/$(1)-tuned/%.c $(BENCH_DIR)/gen/$(1)-tuned/%.h: bench/specs/%.lua $(BENCH_DIR)/tune/%.tune $(BUILD)/chainrule
	@mkdir -p $(BENCH_DIR)/gen/$(1)-tuned
	$(BUILD)/chainrule gen $$< --isa $(1) --cpu $(BENCH_CPU) --tune $(BENCH_DIR)/tune/$$*.tune --out $(BENCH_DIR)/gen/$(1)-tuned

$(BENCH_DIR)/$(1)-tuned/%.o: $(BENCH_DIR)/gen/$(1)-tuned/%.c
	@mkdir -p $$(dir $$@)
	$(CC) $(WARN) -O2 -g $(BENCH_ISA_FLAGS_$(1)) -c $$< -o $$@

$(BENCH_DIR)/$(1)-tuned/run_%.o: bench/cr_net.c bench/harness.h $(BENCH_DIR)/gen/$(1)-tuned/%.h
	@mkdir -p $$(dir $$@)
	$(CC) $(WARN) -O2 -g $(BENCH_ISA_FLAGS_$(1)) -I$(BENCH_DIR)/gen/$(1)-tuned -Ibench -DNET=$$* \
	  -DNETU=$$(shell echo $$* | tr a-z A-Z) -DBENCH_WLS=$$(BENCH_WL_$$*) '-DBENCH_HEADER="$$*.h"' -c $$< -o $$@

$(BENCH_DIR)/cr_$(1)-tuned: bench/cr_main.c $(BENCH_DIR)/harness.o $(foreach s,$(BENCH_SPECS),$(BENCH_DIR)/$(1)-tuned/$(s).o $(BENCH_DIR)/$(1)-tuned/run_$(s).o) $(BUILD)/libcr.a FORCE
	$(CC) $(WARN) -O2 -Ibench '-DBENCH_IMPL="chainrule-$(1)-tuned"' '-DBENCH_RUNS=$(foreach s,$(BENCH_SPECS),X($(s)))' \
	  -o $$@ $$(filter-out FORCE,$$^) $$(RT_LDLIBS)
endef
$(foreach i,$(BENCH_TUNED),$(eval $(call BENCH_TUNED_RULES,$(i))))
# $(1) ISA, $(2) derived spec: its tune file and tuned sources
define BENCH_DERIVED_TUNED_RULES
$(BENCH_DIR)/tune/$(2).tune: bench/specs/$(BENCH_FROM_$(2)).lua $(BUILD)/chainrule
	@mkdir -p $(BENCH_DIR)/tune
	CC='$(CC)' $(BUILD)/chainrule tune $$< --isa $(1) --cpu $(BENCH_CPU) --$(or $(BENCH_TUNE_AS_$(2)),batch) $(BENCH_BATCH_$(2)) --budget $(BENCH_TUNE_BUDGET) --out $$@

$(BENCH_DIR)/gen/$(1)-tuned/$(2).c $(BENCH_DIR)/gen/$(1)-tuned/$(2).h &: bench/specs/$(BENCH_FROM_$(2)).lua $(BENCH_DIR)/tune/$(2).tune $(BUILD)/chainrule
	@mkdir -p $(BENCH_DIR)/gen/$(1)-tuned
	$(BUILD)/chainrule gen $$< --isa $(1) --cpu $(BENCH_CPU) --name $(2) --batch $(BENCH_BATCH_$(2)) --tune $(BENCH_DIR)/tune/$(2).tune \
	  --out $(BENCH_DIR)/gen/$(1)-tuned
endef
$(foreach i,$(BENCH_TUNED),$(foreach s,$(BENCH_DERIVED),$(eval $(call BENCH_DERIVED_TUNED_RULES,$(i),$(s)))))
.SECONDARY: $(foreach i,$(BENCH_TUNED),$(foreach s,$(BENCH_SPECS),$(BENCH_DIR)/gen/$(i)-tuned/$(s).c $(BENCH_DIR)/gen/$(i)-tuned/$(s).h $(BENCH_DIR)/tune/$(s).tune))

bench: $(BENCH_DIR)/bench $(foreach i,$(BENCH_ISAS),$(BENCH_DIR)/cr_$(i)) $(foreach i,$(BENCH_TUNED),$(BENCH_DIR)/cr_$(i)-tuned) \
       $(BENCH_SIZE_OBJS)
	@echo "bench: measuring, $(BENCH_PASSES) passes over every program (one thread; a few minutes)"
	@$(BENCH_DIR)/bench workloads $(BENCH_BIG_FLAG) > $(BENCH_DIR)/workloads.txt
	@set -e; cores="$(or $(strip $(BENCH_CORES)),$$($(BENCH_DIR)/bench cores $(if $(BENCH_ALL_CORES),--all)))"; \
	$(BUILD)/chainrule cpu $(BENCH_CPU) | sed '1s/^/# chainrule: gen --cpu $(BENCH_CPU): /; 1!s/^/# /' > $(BENCH_DIR)/raw.csv; \
	echo "# openblas, pytorch: timed under OPENBLAS_CORETYPE = $${cores:-(none known for this CPU: the core OpenBLAS detects)} $(if $(strip $(BENCH_CORES)),(BENCH_CORES; 'detected': the core OpenBLAS detects),(the core types whose instructions this CPU has$(if $(BENCH_ALL_CORES),,; BENCH_ALL_CORES=1 adds the SSE2/SSE3-era ones)))" >> $(BENCH_DIR)/raw.csv; \
	if [ -n "$$OPENBLAS_CORETYPE" ]; then echo "# openblas: OPENBLAS_CORETYPE=$$OPENBLAS_CORETYPE in the environment is not used: the machine line names the core OpenBLAS detects, and every OpenBLAS and PyTorch run sets its own core" >> $(BENCH_DIR)/raw.csv; fi; \
	progs="$(foreach i,$(BENCH_ISAS),cr:$(i)) $(foreach i,$(BENCH_TUNED),cr:$(i)-tuned) baselines"; \
	for c in $${cores:-detected}; do progs="$$progs openblas:$$c pytorch:$$c"; done; \
	run_prog() { \
	  case $$1 in \
	  cr:*) $(BENCH_DIR)/cr_$${1#cr:} >> $(BENCH_DIR)/raw.csv ;; \
	  baselines) OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BENCH_DIR)/bench baselines $(BENCH_BIG_FLAG) >> $(BENCH_DIR)/raw.csv ;; \
	  *) c=$${1#*:}; \
	    if [ $$c = detected ]; then ev="env -u OPENBLAS_CORETYPE"; else ev="env OPENBLAS_CORETYPE=$$c"; fi; \
	    case $$1 in \
	    openblas:*) $$ev OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BENCH_DIR)/bench openblas $(BENCH_BIG_FLAG) \
	      >> $(BENCH_DIR)/raw.csv || echo "# openblas $$c: the run failed" >> $(BENCH_DIR)/raw.csv ;; \
	    *) $$ev OMP_NUM_THREADS=1 $(PYTHON) bench/torch_bench.py $(BENCH_DIR)/workloads.txt \
	      >> $(BENCH_DIR)/raw.csv || echo "# pytorch $$c: bench/torch_bench.py failed" >> $(BENCH_DIR)/raw.csv ;; \
	    esac ;; \
	  esac; \
	}; \
	for pass in $$(seq $(BENCH_PASSES)); do \
	  echo "bench: pass $$pass of $(BENCH_PASSES)"; \
	  env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BENCH_DIR)/bench machine >> $(BENCH_DIR)/raw.csv; \
	  set -- $$progs; k=1; \
	  while [ $$k -lt $$pass ] && [ $$# -gt 1 ]; do p1=$$1; shift; set -- "$$@" $$p1; k=$$((k + 1)); done; \
	  for p in "$$@"; do run_prog $$p; done; \
	done
	@$(foreach i,$(BENCH_ISAS),$(call BENCH_CODEGEN,$(i))) $(BENCH_SIZE_CODEGEN) $(foreach i,$(BENCH_TUNED),$(call BENCH_SAME_CODE,$(i)))
	@$(BENCH_DIR)/bench report $(BENCH_DIR)/raw.csv $(BENCH_CSV) $(BENCH_CODEGEN_CSV)
	@echo "bench: wrote $(BENCH_CSV) and $(BENCH_CODEGEN_CSV)"
	$(if $(BENCH_INFERENCE),@echo "bench: the inference-only build at one row (make bench-inference, mk/embed.mk)")
	$(if $(BENCH_INFERENCE),@$(MAKE) --no-print-directory bench-inference)

#   make bench-quick  a first look in two minutes: make bench with one pass, the host's best
#                     ISA, no tuning, no 784-2048-2048-10, the size specs for that ISA only,
#                     into build/bench-quick/ (one pass on a shared machine: its ratios are
#                     rough; make bench for figures to quote)
#   make test-bench   make bench-quick's run, under the detected OpenBLAS core only, into
#                     build/tests/bench, then tests/bench/check.sh on its report and CSVs
#                     (SKIP without OpenBLAS/FANN)
# test-bench times nothing; it catches a bench that no longer runs or reports, in about a minute
# of one core (.ci/run installs OpenBLAS and FANN: scripts/deps.sh --bench).
BENCH_QUICK_ISA := $(lastword $(BENCH_ISAS))
# $(1): the directory for everything the run writes; $(2): more variables for make bench
bench_quick = $(MAKE) --no-print-directory bench BENCH_DIR=$(1) BENCH_CSV=$(1)/bench.csv \
  BENCH_CODEGEN_CSV=$(1)/bench-codegen.csv BENCH_PASSES=1 BENCH_ISAS=$(BENCH_QUICK_ISA) \
  BENCH_SIZE_ISAS=$(filter-out scalar,$(BENCH_QUICK_ISA)) BENCH_TUNE= BENCH_BIG= BENCH_INFERENCE= $(2)
.PHONY: bench-quick test-bench
bench-quick: $(BUILD)/chainrule
	@mkdir -p $(BUILD)/bench-quick
	@$(call bench_quick,$(BUILD)/bench-quick)

TEST_GOALS += test-bench
BENCH_TEST_DIR := $(BUILD)/tests/bench
test-bench: $(BUILD)/chainrule
	@m='$(bench_missing)'; if [ -n "$$m" ]; then \
	  echo "== test-bench: SKIP ($$m missing: scripts/deps.sh --bench)"; exit 0; fi; \
	echo "== make bench-quick under the detected OpenBLAS core (one pass, $(BENCH_QUICK_ISA)): the bench's whole path"; \
	mkdir -p $(BENCH_TEST_DIR); \
	$(call bench_quick,$(BENCH_TEST_DIR),BENCH_CORES=detected) > $(BENCH_TEST_DIR)/bench.out 2>&1 \
	  || { tail -n 20 $(BENCH_TEST_DIR)/bench.out; echo "test-bench: FAIL: make bench (the whole log: $(BENCH_TEST_DIR)/bench.out)"; exit 1; }; \
	tests/bench/check.sh $(BENCH_TEST_DIR) $(BENCH_QUICK_ISA) $(PYTHON)
