/* Tests of the generator binary (build/chainrule), run from the repository root:
 *   errors   bad specs: exact one-line message, exit status 2, nothing written, quick end
 *   cli      bad flags and the informational ones
 *   core     deterministic output, write-only-if-changed, the Lua unit tests, template
 *            engine errors at the template's line, generated C for every spec in specs/
 *            compiles warning-free with clang and gcc.
 * CHAINRULE (environment) overrides the binary's path. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700   /* realpath */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Generous bounds for the sandbox's limits: a runaway spec must be stopped by the
   limits, not by a timeout. These are not speed measurements. The instruction and
   memory limits stop a spec within a fraction of a second; C work inside instructions
   (comparing long strings in a loop) is stopped by the 2-second wall clock. */
#define LIMIT_SECONDS 2.0
#define WALL_LIMIT_SECONDS 5.0

/* Elements of an array. */
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* This test's scratch directory (made by scratch_create, removed by scratch_remove). */
static char scratch[256];

static const char *chainrule(void) {
  const char *p = getenv("CHAINRULE");
  return p ? p : "build/chainrule";
}

typedef struct {
  int status;        /* exit status, or -1 if it did not exit normally */
  char out[8192];    /* stdout and stderr together */
  double seconds;
} run_result;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Runs a shell command line, collecting its output and exit status. */
static run_result run(const char *cmd) {
  run_result r;
  memset(&r, 0, sizeof r);
  char full[4096];
  snprintf(full, sizeof full, "%s 2>&1", cmd);
  double t0 = now();
  FILE *p = popen(full, "r");
  ck_assert_msg(p != NULL, "popen(%s) failed", cmd);
  size_t len = fread(r.out, 1, sizeof r.out - 1, p);
  r.out[len] = '\0';
  int st = pclose(p);
  r.seconds = now() - t0;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

/* Writes text to path (fails the test if it cannot). */
static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  ck_assert_msg(f != NULL, "cannot write %s", path);
  fputs(text, f);
  ck_assert_int_eq(fclose(f), 0);
}

/* The whole file as a NUL-terminated string (its length in *len unless len is NULL), or NULL
   if it cannot be opened. */
static char *read_text(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(buf);
  size_t got = fread(buf, 1, (size_t)n, f);
  buf[got] = '\0';
  fclose(f);
  if (len) *len = got;
  return buf;
}

static int dir_is_empty_or_missing(const char *path) {
  DIR *d = opendir(path);
  if (!d) return 1;
  struct dirent *e;
  int count = 0;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) count++;
  closedir(d);
  return count == 0;
}

static void scratch_create(void) {
  snprintf(scratch, sizeof scratch, "/tmp/chainrule-test-gen-XXXXXX");
  ck_assert_msg(mkdtemp(scratch) != NULL, "mkdtemp: %s", strerror(errno));
}

static void scratch_remove(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", scratch);
}

/* ---------------------------------------------------------------- errors */

/* A bad spec and the exact line chainrule must print ("{}" stands for the spec's path). */
typedef struct {
  const char *name;
  const char *text;
  const char *message;
} spec_case;

#define OK_REST "loss = \"cross_entropy\", optimizer = adam{} }"
#define IMG(layers) "return network \"x\" { input = {1, 9, 9}, layers = { " layers " }, " OK_REST "\n"

static const spec_case SPEC_BAD[] = {
  {"os_execute", "os.execute(\"touch /tmp/chainrule-pwned\")\n",
   "{}:1: 'os' is not available in a spec (a spec may only describe a network)"},
  {"io_open", "local f = io.open(\"/etc/passwd\")\n",
   "{}:1: 'io' is not available in a spec (a spec may only describe a network)"},
  {"require", "local x = 1\nrequire \"os\"\n",
   "{}:2: 'require' is not available in a spec (a spec may only describe a network)"},
  {"load", "load(\"return 1\")()\n",
   "{}:1: 'load' is not available in a spec (a spec may only describe a network)"},
  {"getmetatable", "getmetatable(\"\").__index.rep = nil\n",
   "{}:1: 'getmetatable' is not available in a spec (a spec may only describe a network)"},
  {"loop_forever", "local n = 0\nwhile true do n = n + 1 end\n",
   "{}:2: spec ran too long (more than 10000000 instructions or 2 seconds)"},
  {"string_rep", "local s = string.rep(\"x\", 1e9)\n",
   "{}:1: spec needs more than 64 MB of memory"},
  {"method_rep", "\nlocal s = (\"x\"):rep(1e9)\n",
   "{}:2: spec needs more than 64 MB of memory"},
  {"doubling", "local s = \"x\"\nwhile true do s = s .. s end\n",
   "{}:2: spec needs more than 64 MB of memory"},
  {"big_table", "local t = {}\nfor i = 1, 1e9 do t[i] = i end\n",
   "{}:2: spec needs more than 64 MB of memory"},
  {"table_move_doubling", "local t = {1}\nfor i = 1, 30 do table.move(t, 1, #t, #t + 1) end\n",
   "{}:2: spec needs more than 64 MB of memory"},
  {"deep_recursion", "local function f() f() end\nf()\n", "{}:1: spec needs more than 64 MB of memory"},
  {"tail_recursion", "local function f() return f() end\nreturn f()\n",
   "{}:1: spec ran too long (more than 10000000 instructions or 2 seconds)"},
  {"table_move_range", "local t = {}\nlocal x = table.move(t, 1, 1e15, 2)\n",
   "{}:2: table.move is limited to 4194304 elements in a spec"},
  {"plain_find_quadratic",
   "local s = string.rep(\"a\", 1000000)\nlocal p = string.rep(\"a\", 1000) .. \"b\"\n"
   "local x = string.find(s, p, 1, true)\n",
   "{}:3: string.find is limited to #s × #pattern <= 100000000 in a spec"},
  {"multi_line_error", "error(\"line one\\nline two\")\n", "{}:1: line one line two"},
  {"backtracking_pattern", "local s = string.rep(\"a\", 20000)\nlocal x = s:find(\".-.-.-.-b\")\n",
   "{}:2: string patterns are not available in a spec (string.find(s, p, init, true) searches for plain text)"},
  {"string_gsub", "local x = string.gsub(\"abc\", \"b\", \"c\")\n",
   "{}:1: string patterns are not available in a spec (string.gsub)"},
  {"big_sort", "local t = {}\nfor i = 1, 200000 do t[i] = -i end\ntable.sort(t)\n",
   "{}:3: table.sort is limited to 100000 elements in a spec"},
  {"syntax", "return network \"x\" {\n  input = 784,\n  layers = { linear(50) relu() },\n}\n",
   "{}:3: syntax error: '}' expected near 'relu'"},
  {"compiled_chunk", "\033Lua\x54\x00",
   "{}: syntax error: a spec must be Lua source text, not a compiled chunk"},
  {"negative_size",
   "return network \"x\" {\n  input = 784,\n  layers = {\n    relu(),\n    linear(-3),\n  },\n"
   "  loss = \"mse\", optimizer = sgd{lr = 0.1},\n}\n",
   "{}:5: layers[2]: linear needs a positive integer size, got -3"},
  {"fractional_size", "return network \"x\" { input = 4, layers = { linear(50.5) }, " OK_REST "\n",
   "{}:1: layers[1]: linear needs a positive integer size, got 50.5"},
  /* image layers: shapes checked at generation (a 1x9x9 input unless the case says otherwise) */
  {"conv_kernel_too_large", IMG("conv2d(2, {kernel = 11}), flatten(), linear(2)"),
   "{}:1: layers[1]: conv2d kernel 11 is larger than its input 9×9"},
  {"conv_kernel_too_large_padded", IMG("conv2d(2, {kernel = 12, padding = 1}), flatten(), linear(2)"),
   "{}:1: layers[1]: conv2d kernel 12 is larger than its input 9×9 padded by 1 (11×11)"},
  {"conv_negative_padding", IMG("conv2d(2, {kernel = 3, padding = -1}), flatten(), linear(2)"),
   "{}:1: layers[1]: padding must be an integer >= 0, got -1"},
  {"conv_no_kernel", IMG("conv2d(2), flatten(), linear(2)"),
   "{}:1: layers[1]: conv2d needs kernel = K in its options, as in conv2d(6, {kernel = 5})"},
  {"conv_option_typo", IMG("conv2d(2, {kernel = 3, strides = 2}), flatten(), linear(2)"),
   "{}:1: layers[1]: conv2d has no option 'strides' (did you mean 'stride'?)"},
  {"conv_bias_number", IMG("conv2d(2, {kernel = 3, bias = 1}), flatten(), linear(2)"),
   "{}:1: layers[1]: bias must be true or false, got 1"},
  {"linear_without_flatten", IMG("conv2d(2, {kernel = 3}), relu(), linear(2)"),
   "{}:1: layers[3]: linear needs flat features, got a 2×7×7 image: add flatten() before it"},
  {"conv_on_flat_input", "return network \"x\" { input = 784, layers = { conv2d(2, {kernel = 3}) }, " OK_REST "\n",
   "{}:1: layers[1]: conv2d needs a C×H×W input (input = {C, H, W}), got 784 flat features"},
  {"pool_does_not_tile", IMG("maxpool2d{kernel = 2}, flatten(), linear(2)"),
   "{}:1: layers[1]: maxpool2d kernel 2 stride 2 does not tile the input height 9 ((9 - 2) % 2 = 1; "
   "ceil_mode is not supported)"},
  {"pool_zero_stride", IMG("avgpool2d{kernel = 3, stride = 0}, flatten(), linear(2)"),
   "{}:1: layers[1]: stride must be an integer >= 1, got 0"},
  {"pool_kernel_too_large", IMG("avgpool2d{kernel = 10}, flatten(), linear(2)"),
   "{}:1: layers[1]: avgpool2d kernel 10 is larger than its input 9×9"},
  {"batchnorm_first", IMG("batchnorm(), flatten(), linear(2)"),
   "{}:1: layers[1]: batchnorm cannot be the first layer: it normalises a linear or conv2d output (put it after one)"},
  {"batchnorm_momentum_range", IMG("conv2d(2, {kernel = 3}), batchnorm{momentum = 1.5}, flatten(), linear(2)"),
   "{}:1: layers[2]: momentum must be a number in [0, 1], got 1.5"},
  {"batchnorm_eps_zero", IMG("conv2d(2, {kernel = 3}), batchnorm{eps = 0}, flatten(), linear(2)"),
   "{}:1: layers[2]: eps must be a number > 0, got 0"},
  {"batchnorm_affine_number", IMG("conv2d(2, {kernel = 3}), batchnorm{affine = 1}, flatten(), linear(2)"),
   "{}:1: layers[2]: affine must be true or false, got 1"},
  {"batchnorm_option_typo", IMG("conv2d(2, {kernel = 3}), batchnorm{momentun = 0.1}, flatten(), linear(2)"),
   "{}:1: layers[2]: batchnorm has no option 'momentun' (did you mean 'momentum'?)"},
  {"batchnorm_two_args", IMG("conv2d(2, {kernel = 3}), batchnorm(2, {}), flatten(), linear(2)"),
   "{}:1: layers[2]: batchnorm takes one options table like batchnorm{momentum = 0.1}, got more arguments"},
  {"dropout_p_one", IMG("flatten(), linear(4), dropout{p = 1}, linear(2)"),
   "{}:1: layers[3]: p must be a number in [0, 1), got 1"},
  {"dropout_p_negative", IMG("flatten(), linear(4), dropout{p = -0.1}, linear(2)"),
   "{}:1: layers[3]: p must be a number in [0, 1), got -0.1"},
  {"dropout_p_string", IMG("flatten(), linear(4), dropout{p = \"half\"}, linear(2)"),
   "{}:1: layers[3]: p must be a number in [0, 1), got 'half'"},
  {"dropout_option_typo", IMG("flatten(), linear(4), dropout{prob = 0.5}, linear(2)"),
   "{}:1: layers[3]: dropout has no option 'prob' (its options: p)"},
  /* torch's name for an option, and a name far from every option: the options listed */
  {"leaky_negative_slope", "return network \"x\" { input = 4, layers = { linear(3), leaky_relu{negative_slope = 0.2}, "
   "linear(2) }, " OK_REST "\n", "{}:1: layers[2]: leaky_relu has no option 'negative_slope' (did you mean 'slope'?)"},
  {"linear_option_far", "return network \"x\" { input = 4, layers = { linear(3, {xyz = 1}), linear(2) }, " OK_REST "\n",
   "{}:1: layers[1]: linear has no option 'xyz' (its options: bias, init, mode, nonlinearity, a, bias_init)"},
  {"field_far", "return network \"x\" { input = 4, batchsize = 8, layers = { linear(2) }, " OK_REST "\n",
   "{}:1: network: unknown field 'batchsize' (the fields: input, layers, loss, batch, optimizer, schedule, isa, "
   "code_budget)"},
  /* a candidate inside a longer word is no suggestion (bias_initializer is not init) */
  {"linear_option_around", "return network \"x\" { input = 4, layers = { linear(3, {bias_initializer = 1}), linear(2) }, "
   OK_REST "\n", "{}:1: layers[1]: linear has no option 'bias_initializer' (its options: bias, init, mode, nonlinearity, "
   "a, bias_init)"},
  /* linear(n, {bias = false}): only a boolean, and no bias_init for the bias it drops */
  {"linear_bias_number", "return network \"x\" { input = 4, layers = { linear(3, {bias = 0}), linear(2) }, " OK_REST "\n",
   "{}:1: layers[1]: bias must be true or false, got 0"},
  {"linear_bias_init_without_bias", "return network \"x\" { input = 4, layers = { linear(3, {bias = false, "
   "bias_init = \"zeros\"}), linear(2) }, " OK_REST "\n", "{}:1: layers[1]: bias_init has no bias to set (bias = false)"},
  {"conv_bias_init_without_bias", IMG("conv2d(2, {kernel = 3, bias = false, bias_init = \"zeros\"}), flatten(), linear(2)"),
   "{}:1: layers[1]: bias_init has no bias to set (bias = false)"},
  /* a training build whose batch cannot train: a batchnorm over features at batch 1 */
  {"batchnorm_flat_batch_1", "return network \"x\" { input = 4, batch = 1,\n layers = { linear(3), batchnorm(), relu(), "
   "linear(2) }, " OK_REST "\n", "{}:2: layers[2]: batchnorm over features takes at least 2 rows per training step (a "
   "batch of 1 has no variance), but the batch is 1: use a batch of 2 or more, or gen --inference for a forward-only build"},
  {"image_last", IMG("conv2d(2, {kernel = 3})"),
   "{}:1: layers: the last layer gives a 2×7×7 image: end with flatten() and linear(...)"},
  {"input_two_dims", "return network \"x\" { input = {1, 28}, layers = { flatten(), linear(2) }, " OK_REST "\n",
   "{}:1: input: must be a width or {C, H, W}, got a table of 2 entries"},
  {"input_zero_channels", "return network \"x\" { input = {0, 28, 28}, layers = { flatten(), linear(2) }, "
   OK_REST "\n", "{}:1: input: C must be a positive integer, got 0"},
  {"unknown_field",
   "return network \"x\" {\n  input = 784, layers = { linear(1) }, loss = \"mse\",\n"
   "  btach = 64, optimizer = sgd{lr = 0.1},\n}\n",
   "{}:3: network: unknown field 'btach' (did you mean 'batch'?)"},
  {"returns_nothing", "local x = 1\n",
   "{}: a spec must return network \"name\" { ... }, got nil"},
  {"unknown_word", "return network \"x\" { input = 784, layers = { linear(10), relU() }, " OK_REST "\n",
   "{}:1: unknown name 'relU' (did you mean 'relu'?)"},
  {"c_keyword", "return network \"int\" { input = 784, layers = { linear(10) }, " OK_REST "\n",
   "{}:1: network: name 'int' is a C keyword"},
  {"reserved_name", "return network \"mse\" { input = 4, layers = { linear(1) }, loss = \"mse\", optimizer = adam{} }\n",
   "{}:1: network: name 'mse' is reserved (it clashes with generated helper names)"},
  {"runtime_prefix_name", "return network \"cr_net\" { input = 4, layers = { linear(2) }, " OK_REST "\n",
   "{}:1: network: name 'cr_net' is reserved (names cr and cr_... are the runtime's functions' prefix)"},
  {"not_identifier", "return network \"my-net\" { input = 4, layers = { linear(2) }, " OK_REST "\n",
   "{}:1: network: name must be a C identifier, got 'my-net'"},
  {"mse_width", "return network \"x\" { input = 784, layers = { linear(10) },\n"
   " loss = \"mse\", optimizer = sgd{lr = 0.1} }\n",
   "{}:2: loss: mse needs a last layer of width 1, got 10"},
  {"cross_entropy_width", "return network \"x\" { input = 4, layers = { linear(1) }, " OK_REST "\n",
   "{}:1: loss: cross_entropy needs at least 2 outputs, got 1"},
  {"negative_lr", "return network \"x\" { input = 784, layers = { linear(10) }, loss = \"cross_entropy\",\n"
   "   optimizer = sgd{lr = -1} }\n",
   "{}:2: optimizer: sgd lr must be a finite number > 0, got -1"},
  {"optimizer_option", "return network \"x\" { input = 784, layers = { linear(10) }, loss = \"cross_entropy\",\n"
   "   optimizer = sgd{lrr = 1} }\n",
   "{}:2: optimizer: sgd has no option 'lrr' (did you mean 'lr'?)"},
  {"lr_overflows_float", "return network \"x\" { input = 4, layers = { linear(2) }, loss = \"cross_entropy\", "
   "optimizer = sgd{lr = 1e39} }\n",
   "{}:1: optimizer: sgd lr must be a finite number > 0, got 1e+39"},
  {"nesterov", "return network \"x\" { input = 4, layers = { linear(2) }, loss = \"cross_entropy\", "
   "optimizer = sgd{lr = 1, nesterov = true} }\n",
   "{}:1: optimizer: sgd nesterov needs momentum > 0 and dampening = 0"},
  {"beta1", "return network \"x\" { input = 4, layers = { linear(2) }, loss = \"cross_entropy\", "
   "optimizer = adam{beta1 = 1} }\n",
   "{}:1: optimizer: adam beta1 must be in [0, 1), got 1"},
  {"schedule_kind", "return network \"x\" { input = 4, layers = { linear(2) }, loss = \"cross_entropy\", "
   "optimizer = sgd{lr = 1},\n  schedule = \"onecycle\" }\n",
   "{}:2: schedule: expected step{...}, cosine{...} or onecycle{...}, got 'onecycle'"},
  {"schedule_key", "return network \"x\" { input = 4, layers = { linear(2) }, loss = \"cross_entropy\", "
   "optimizer = sgd{lr = 1},\n  schedule = onecycle{max_rl = 1} }\n",
   "{}:2: schedule: onecycle has no option 'max_rl' (did you mean 'max_lr'?)"},
  {"schedule_value", "return network \"x\" { input = 4, layers = { linear(2) }, loss = \"cross_entropy\", "
   "optimizer = sgd{lr = 1},\n  schedule = cosine{t_max = 2.5} }\n",
   "{}:2: schedule: cosine t_max must be an integer from 1 to 1000000, got 2.5"},
  {"schedule_step_size", "return network \"x\" { input = 4, layers = { linear(2) }, loss = \"cross_entropy\", "
   "optimizer = sgd{lr = 1},\n  schedule = step{gamma = 0.5} }\n",
   "{}:2: schedule: step needs step_size (epochs between decays), e.g. step{step_size = 5}"},
  {"init_typo", "return network \"x\" { input = 4, layers = { linear(2, {mode = \"fan_inn\"}) }, " OK_REST "\n",
   "{}:1: layers[1]: mode must be one of 'fan_in', 'fan_out', got 'fan_inn' (did you mean 'fan_in'?)"},
  {"relu_option", "return network \"x\" { input = 4, layers = { linear(2), relu{shfit = 1} }, " OK_REST "\n",
   "{}:1: layers[2]: relu has no option 'shfit' (did you mean 'shift'?)"},
  {"relu_number", "return network \"x\" { input = 4, layers = { linear(2), relu(0.5) }, " OK_REST "\n",
   "{}:1: layers[2]: relu takes only an options table like relu{shift = -0.5}, got 0.5"},
  {"shift_nan", "return network \"x\" { input = 4, layers = { linear(2), relu{shift = 0/0} }, " OK_REST "\n",
   "{}:1: layers[2]: shift must be a finite number, got nan"},
  {"leaky_slope_typo", "return network \"x\" { input = 4, layers = { linear(2), leaky_relu{slop = 0.1} }, " OK_REST "\n",
   "{}:1: layers[2]: leaky_relu has no option 'slop' (did you mean 'slope'?)"},
  {"leaky_slope_inf", "return network \"x\" { input = 4, layers = { linear(2), leaky_relu{slope = 1/0} }, " OK_REST "\n",
   "{}:1: layers[2]: slope must be a finite number, got inf"},
  {"leaky_number", "return network \"x\" { input = 4, layers = { linear(2), leaky_relu(0.1) }, " OK_REST "\n",
   "{}:1: layers[2]: leaky_relu takes only an options table like leaky_relu{slope = 0.01}, got 0.1"},
  {"tanh_argument", "return network \"x\" { input = 4, layers = { linear(2), tanh(1) }, " OK_REST "\n",
   "{}:1: layers[2]: tanh takes no arguments, got 1"},
  {"sigmoid_option", "return network \"x\" { input = 4, layers = { linear(2), sigmoid{shift = 1} }, " OK_REST "\n",
   "{}:1: layers[2]: sigmoid has no option 'shift' (it takes none)"},
  {"tanh_only", "return network \"x\" { input = 4, layers = { tanh() }, loss = \"mse\", optimizer = adam{} }\n",
   "{}:1: layers: needs at least one linear layer"},
  {"reserved_step_name", "return network \"l0_linear_tanh\" { input = 4, layers = { linear(2) }, " OK_REST "\n",
   "{}:1: network: name 'l0_linear_tanh' is reserved (it clashes with generated helper names)"},
  {"batch_zero", "return network \"x\" {\n  input = 4,\n  batch = 0,\n  layers = { linear(2) }, " OK_REST "\n",
   "{}:3: batch: must be a positive integer, got 0"},
  {"input_too_large", "return network \"x\" { input = 2000000, layers = { linear(2) }, " OK_REST "\n",
   "{}:1: input: 2000000 is too large (at most 1048576)"},
  {"too_many_params", "return network \"x\" { input = 784, layers = { linear(100000), linear(1000) }, " OK_REST "\n",
   "{}:1: layers[1]: the network has more than 67108864 parameters"},
  {"code_budget_typo", "return network \"x\" {\n  input = 4,\n  code_budgte = 100,\n  layers = { linear(2) }, " OK_REST "\n",
   "{}:3: network: unknown field 'code_budgte' (did you mean 'code_budget'?)"},
  {"code_budget_negative", "return network \"x\" { input = 4, code_budget = -1, layers = { linear(2) }, " OK_REST "\n",
   "{}:1: code_budget: must be an integer >= 0 (multiply-adds written out; 0 turns straight-line code off), got -1"},
  {"code_budget_fraction", "return network \"x\" { input = 4, code_budget = 1.5, layers = { linear(2) }, " OK_REST "\n",
   "{}:1: code_budget: must be an integer >= 0 (multiply-adds written out; 0 turns straight-line code off), got 1.5"},
  {"code_budget_string", "return network \"x\" { input = 4, code_budget = \"big\", layers = { linear(2) }, " OK_REST "\n",
   "{}:1: code_budget: must be an integer >= 0 (multiply-adds written out; 0 turns straight-line code off), got 'big'"},
  {"code_budget_too_large", "return network \"x\" { input = 4, code_budget = 2000000, layers = { linear(2) }, " OK_REST "\n",
   "{}:1: code_budget: 2000000 is too large (at most 1048576)"},
  {"no_linear", "return network \"x\" { input = 4, layers = { relu() }, loss = \"mse\", optimizer = adam{} }\n",
   "{}:1: layers: needs at least one linear layer"},
  {"missing_loss", "return network \"x\" { input = 4, layers = { linear(2) }, optimizer = adam{} }\n",
   "{}:1: network: missing field 'loss'"},
  {"layer_not_called", "return network \"x\" { input = 4, layers = { linear }, " OK_REST "\n",
   "{}:1: layers[1]: expected a layer such as linear(10) or relu(), got a function"},
  {"optimizer_string", "return network \"x\" { input = 4, layers = { linear(2) }, loss = \"cross_entropy\", "
   "optimizer = \"sgd\" }\n",
   "{}:1: optimizer: expected sgd{...}, adam{...} or adamw{...}, got 'sgd'"},
  {"unknown_isa", "return network \"x\" { input = 4, layers = { linear(2) }, loss = \"cross_entropy\",\n"
   "  optimizer = adam{}, isa = \"avx3\" }\n",
   "{}:2: isa: unknown isa 'avx3' (did you mean 'avx2'?) (one of 'scalar', 'sse2', 'avx2', 'avx512', 'neon', 'native')"},
  {"user_error", "local x = 1\nerror(\"my own message\")\n", "{}:2: my own message"},
  {"runtime_error", "local t = nil\nlocal y = t.field\n",
   "{}:2: attempt to index a nil value (local 't')"},
};

/* Specs stopped by the wall-clock limit: C work inside few instructions. */
static const spec_case SPEC_WALL_CLOCK[] = {
  {"long_compares", "local a = string.rep(\"x\", 20000000)\nlocal b = a:sub(1, -2) .. \"y\"\n"
   "local n = 0\nwhile true do if a < b then n = n + 1 end end\n",
   "{}:4: spec ran too long (more than 10000000 instructions or 2 seconds)"},
  {"long_copies", "local a = string.rep(\"x\", 20000000)\nwhile true do local b = a:sub(2) end\n",
   "{}:2: spec ran too long (more than 10000000 instructions or 2 seconds)"},
};

static void check_bad_spec(const spec_case *b, double bound) {
  char path[512], out[512], cmd[2048], expected[1024];
  snprintf(path, sizeof path, "%s/%s.lua", scratch, b->name);
  snprintf(out, sizeof out, "%s/out", scratch);
  write_text(path, b->text);
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --out '%s'", chainrule(), path, out);
  run_result r = run(cmd);

  /* expected message with the path spliced in for "{}" */
  const char *brace = strstr(b->message, "{}");
  ck_assert_ptr_nonnull(brace);
  snprintf(expected, sizeof expected, "%.*s%s%s\n", (int)(brace - b->message), b->message, path, brace + 2);

  ck_assert_msg(r.status == 2, "%s: expected exit status 2, got %d (output: %s)", b->name, r.status, r.out);
  ck_assert_msg(strcmp(r.out, expected) == 0, "%s:\n expected: %s got:      %s", b->name, expected, r.out);
  ck_assert_msg(r.seconds < bound, "%s: took %.2f s (limit test bound %.1f s)", b->name, r.seconds, bound);
  ck_assert_msg(dir_is_empty_or_missing(out), "%s: files were written to %s", b->name, out);
}

START_TEST(test_bad_spec) { check_bad_spec(&SPEC_BAD[_i], LIMIT_SECONDS); }
END_TEST

START_TEST(test_wall_clock_spec) { check_bad_spec(&SPEC_WALL_CLOCK[_i], WALL_LIMIT_SECONDS); }
END_TEST

START_TEST(test_sandbox_did_not_escape) {
  /* the os.execute spec above must not have run anything */
  char path[512], cmd[2048];
  snprintf(path, sizeof path, "%s/escape.lua", scratch);
  write_text(path, "local ok = os.execute(\"touch /tmp/chainrule-test-pwned\")\n");
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --out '%s/out'", chainrule(), path, scratch);
  run_result r = run(cmd);
  ck_assert_int_eq(r.status, 2);
  struct stat st;
  ck_assert_msg(stat("/tmp/chainrule-test-pwned", &st) != 0, "the spec created a file");
}
END_TEST

START_TEST(test_bad_spec_keeps_old_output) {
  /* A good run writes the files; a later bad run of the same name leaves them as they were. */
  char path[512], cmd[2048], hpath[600];
  snprintf(path, sizeof path, "%s/keep.lua", scratch);
  write_text(path, "return network \"keep\" { input = 4, layers = { linear(2) }, " OK_REST "\n");
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --out '%s'", chainrule(), path, scratch);
  ck_assert_int_eq(run(cmd).status, 0);
  snprintf(hpath, sizeof hpath, "%s/keep.h", scratch);
  char *before = read_text(hpath, NULL);
  ck_assert_ptr_nonnull(before);
  write_text(path, "return network \"keep\" { input = 4, layers = { linear(-2) }, " OK_REST "\n");
  ck_assert_int_eq(run(cmd).status, 2);
  char *after = read_text(hpath, NULL);
  ck_assert_ptr_nonnull(after);
  ck_assert_msg(strcmp(before, after) == 0, "keep.h changed after a failed run");
  free(before);
  free(after);
}
END_TEST

/* ---------------------------------------------------------------- cli */

typedef struct {
  const char *args;
  int status;
  const char *message;   /* exact output, or a prefix if it ends in "..." */
} cli_case;

static const cli_case CLI_CASES[] = {
  {"--bogus", 2, "chainrule: unknown option '--bogus' (try --help)\n"},
  {"gen specs/seed_mse.lua --x", 2, "chainrule: unknown option '--x' (try --help)\n"},
  {"gen", 2, "chainrule: gen needs a spec file (try --help)\n"},
  {"gen specs/seed_mse.lua --isa", 2, "chainrule: option '--isa' needs a value (try --help)\n"},
  /* the value forgotten: the next option is not taken for it */
  {"gen specs/seed_mse.lua --tune --out /tmp", 2,
   "chainrule: option '--tune' needs a value, not the option '--out' (a value spelled like an option: --tune=--out)\n"},
  {"gen specs/seed_mse.lua --name --cli", 2,
   "chainrule: option '--name' needs a value, not the option '--cli' (a value spelled like an option: --name=--cli)\n"},
  {"tune specs/seed_mse.lua --out --budget 1", 2,
   "chainrule: tune: option '--out' needs a value, not the option '--budget' (a value spelled like an option: --out=--budget)\n"},
  {"gen specs/seed_mse.lua --isa sse9", 2,
   "chainrule: unknown isa 'sse9' (did you mean 'sse2'?) (one of scalar, sse2, avx2, avx512, neon, native)\n"},
  {"gen specs/seed_mse.lua specs/mnist_mlp.lua", 2,
   "chainrule: unexpected argument 'specs/mnist_mlp.lua' (one spec per run; try --help)\n"},
  {"frobnicate", 2, "chainrule: unknown command 'frobnicate' (try --help)\n"},
  {"gen no/such/spec.lua", 2, "no/such/spec.lua: cannot read spec: No such file or directory\n"},
  {"", 2, "usage: chainrule gen SPEC [--out DIR] [--isa ISA] [--name NAME] [--cli]..."},
  {"--version", 0, "chainrule 0...."},
  {"--help", 0, "usage: chainrule gen SPEC [--out DIR] [--isa ISA] [--name NAME] [--cli]..."},
  /* a command's own --help / -h: the usage, status 0, nothing generated */
  {"gen --help", 0, "usage: chainrule gen SPEC [--out DIR] [--isa ISA] [--name NAME] [--cli]..."},
  {"gen specs/seed_mse.lua -h", 0, "usage: chainrule gen SPEC [--out DIR] [--isa ISA] [--name NAME] [--cli]..."},
  {"tune specs/seed_mse.lua --help", 0, "usage: chainrule gen SPEC [--out DIR] [--isa ISA] [--name NAME] [--cli]..."},
  {"gen specs/seed_mse.lua --dispatch neon,scalar", 2,
   "chainrule: --dispatch: unknown isa 'neon' (a comma list of avx512, avx2, sse2, scalar, or x86 for all four; ISA:FAMILY for a CPU family's variant)\n"},
  {"gen specs/seed_mse.lua --dispatch avx2,", 2,
   "chainrule: --dispatch: unknown isa '' (a comma list of avx512, avx2, sse2, scalar, or x86 for all four; ISA:FAMILY for a CPU family's variant)\n"},
  {"gen specs/seed_mse.lua --dispatch avx2", 2, "chainrule: --dispatch: the list must include scalar (the fallback)\n"},
  {"gen specs/seed_mse.lua --dispatch avx2:zen4,scalar", 2,
   "chainrule: --dispatch: avx2:zen4 would be avx2's code (zen4's defaults do not change avx2: chainrule cpu zen4)\n"},
  {"gen specs/seed_mse.lua --dispatch avx512:zen9,scalar", 2,
   "chainrule: --dispatch: unknown cpu family 'zen9' in 'avx512:zen9' (one of zen3, zen4, zen5)\n"},
  {"gen specs/seed_mse.lua --dispatch avx512:generic,scalar", 2,
   "chainrule: --dispatch: unknown cpu family 'generic' in 'avx512:generic' (one of zen3, zen4, zen5)\n"},
  {"gen specs/seed_mse.lua --dispatch scalar:zen4,scalar", 2,
   "chainrule: --dispatch: scalar:zen4 would be scalar's code (zen4's defaults do not change scalar: chainrule cpu zen4)\n"},
  {"gen specs/seed_mse.lua --dispatch avx512:zen4,scalar,avx512:zen4", 2, "chainrule: --dispatch: 'avx512:zen4' is listed twice\n"},
  {"gen specs/seed_mse.lua --dispatch scalar,avx2,scalar", 2, "chainrule: --dispatch: 'scalar' is listed twice\n"},
  {"gen specs/seed_mse.lua --dispatch avx2,scalar --isa avx2", 2,
   "chainrule: --dispatch cannot be combined with --isa\n"},
  {"gen specs/seed_mse.lua --dispatch x86,avx512:zen5", 2,
   "chainrule: --dispatch: x86 (all four ISAs) stands alone; to add a family variant, list the ISAs: "
   "avx512:zen5,avx512,avx2,sse2,scalar\n"},
  /* an option given twice (the last one used to win silently): --tune alone may repeat */
  {"gen specs/seed_mse.lua --dispatch avx2,scalar --dispatch scalar", 2,
   "chainrule: option '--dispatch' given twice ('avx2,scalar' and 'scalar')\n"},
  {"gen specs/seed_mse.lua --cpu zen4 --cpu=zen5", 2, "chainrule: option '--cpu' given twice ('zen4' and 'zen5')\n"},
  {"gen specs/seed_mse.lua --out a --out a", 2, "chainrule: option '--out' given twice ('a' and 'a')\n"},
  {"tune specs/seed_mse.lua --budget 1 --budget 2", 2, "chainrule: tune: option '--budget' given twice ('1' and '2')\n"},
  /* what tune would only find after timing, it finds first */
  {"tune bench/specs/bench_big.lua --isa avx2 --max-batch 40000", 2,
   "chainrule: --max-batch: 40000 rows × 2048 features is too large (at most 67108864 floats)\n"},
  {"tune specs/seed_mse.lua --isa avx2 --out no/such/dir/x.tune", 2,
   "chainrule: --out: directory 'no/such/dir' does not exist\n"},
  {"gen specs/seed_mse.lua --isa avx2 --tune a.tune --tune=b.tune", 2,
   "chainrule: --tune: one file (several only with --dispatch, one per variant)\n"},
  {"gen specs/seed_mse.lua --cpu pentium", 2,
   "chainrule: --cpu: unknown cpu 'pentium' (one of generic, zen3, zen4, zen5, native)\n"},
  {"gen specs/seed_mse.lua --cpu", 2, "chainrule: option '--cpu' needs a value (try --help)\n"},
  {"tune specs/seed_mse.lua --cpu pentium", 2,
   "chainrule tune: --cpu: unknown cpu 'pentium' (one of generic, zen3, zen4, zen5, native)\n"},
  {"cpu pentium", 2, "chainrule cpu: unknown cpu 'pentium' (one of generic, zen3, zen4, zen5, native)\n"},
  {"cpu zen4 zen5", 2, "chainrule: cpu: unexpected argument 'zen5' (try --help)\n"},
  {"cpu zen5", 0, "zen5: AMD Zen 5 (family 26, models 0-79); defaults changed: XTG_SPARSE[avx512] = true, "
   "XTG_SPARSE_DENSITY[avx512] = {1, 3}, XW_HUGE_PACK_X[avx512] = false, XW_SPREAD[avx512] = 8\n"},
  {"tune", 2, "chainrule: tune needs a spec file (try --help)\n"},
  {"tune specs/seed_mse.lua --budget x", 2, "chainrule: --budget: expected seconds from 0.1 to 3600, got 'x'\n"},
  {"tune specs/seed_mse.lua --budget 0", 2, "chainrule: --budget: expected seconds from 0.1 to 3600, got '0'\n"},
  {"tune specs/seed_mse.lua --frob", 2, "chainrule: tune: unknown option '--frob' (try --help)\n"},
  /* tune's own option table: gen's options are not tune's, and the reverse */
  {"tune specs/seed_mse.lua --cli", 2, "chainrule: tune: unknown option '--cli' (try --help)\n"},
  {"tune specs/seed_mse.lua --name x", 2, "chainrule: tune: unknown option '--name' (try --help)\n"},
  {"gen specs/seed_mse.lua --budget 3", 2, "chainrule: unknown option '--budget' (try --help)\n"},
  {"tune specs/seed_mse.lua specs/mnist_mlp.lua", 2,
   "chainrule: tune: unexpected argument 'specs/mnist_mlp.lua' (one spec per run; try --help)\n"},
  {"tune specs/seed_mse.lua --budget", 2, "chainrule: option '--budget' needs a value (try --help)\n"},
  {"tune specs/seed_mse.lua --out=", 2, "chainrule: option '--out' needs a non-empty value\n"},
  {"tune specs/seed_mse.lua --max-batch 0", 2, "chainrule: --max-batch: expected an integer from 1 to 65536, got '0'\n"},
  {"tune specs/seed_mse.lua --batch x", 2, "chainrule: --batch: expected an integer from 1 to 65536, got 'x'\n"},
  {"tune specs/seed_mse.lua --batch 2 --max-batch 2", 2,
   "chainrule: tune: --batch (a training build) and --max-batch (an inference build) exclude each other\n"},
  {"gen specs/seed_mse.lua --batch 0", 2, "chainrule: --batch: expected an integer from 1 to 65536, got '0'\n"},
  {"gen specs/seed_mse.lua --batch 65537", 2, "chainrule: --batch: expected an integer from 1 to 65536, got '65537'\n"},
  {"gen specs/seed_mse.lua --batch 2 --inference", 2,
   "chainrule: --batch sets a training build's batch; --inference takes --max-batch\n"},
  {"gen bench/specs/bench_big.lua --batch 40000", 2,
   "chainrule: --batch: 40000 rows × 2048 features is too large (at most 67108864 floats)\n"},
  {"gen tests/trainer/specs/bn_drop_mlp.lua --batch 1 --out /nonexistent", 2,
   "chainrule: --batch 1: tests/trainer/specs/bn_drop_mlp.lua:8: layers[3]: batchnorm over features takes at least 2 "
   "rows per training step (a batch of 1 has no variance), but the batch is 1: use a batch of 2 or more, or gen "
   "--inference for a forward-only build\n"},
  {"tune tests/trainer/specs/bn_drop_mlp.lua --isa avx2 --batch 1", 2,
   "chainrule: --batch 1: tests/trainer/specs/bn_drop_mlp.lua:8: layers[3]: batchnorm over features takes at least 2 "
   "rows per training step (a batch of 1 has no variance), but the batch is 1: use a batch of 2 or more, or tune "
   "--max-batch N for a forward-only build\n"},
  {"gen specs/seed_mse.lua --tune", 2, "chainrule: option '--tune' needs a value (try --help)\n"},
  {"gen specs/seed_mse.lua --tune no/such.tune", 2, "no/such.tune: cannot read tune file: No such file or directory\n"},
  {"gen specs/seed_mse.lua --name", 2, "chainrule: option '--name' needs a value (try --help)\n"},
  {"gen specs/seed_mse.lua --depfile", 2, "chainrule: option '--depfile' needs a value (try --help)\n"},
  {"gen specs/seed_mse.lua --python --inference", 2,
   "chainrule: --python is for training builds; it cannot be combined with --inference\n"},
  {"gen specs/seed_mse.lua --python --name class --out /nonexistent", 2,
   "chainrule: --name: gen --python: the network's name 'class' is a Python keyword, so the module class.py could "
   "not be imported by name\n"},
  {"gen specs/seed_mse.lua --python --name numpy --out /nonexistent", 2,
   "chainrule: --name: gen --python: the network's name 'numpy' is a module numpy.py imports, which it would shadow\n"},
  {"gen specs/seed_mse.lua --python=1", 2, "chainrule: unknown option '--python=1' (try --help)\n"},
  {"gen specs/seed_mse.lua --name=", 2, "chainrule: option '--name' needs a non-empty value\n"},
  {"gen specs/seed_mse.lua --name a-b", 2, "chainrule: --name: name must be a C identifier, got 'a-b'\n"},
  {"gen specs/seed_mse.lua --name 9lives", 2, "chainrule: --name: name must be a C identifier, got '9lives'\n"},
  {"gen specs/seed_mse.lua --name int", 2, "chainrule: --name: name 'int' is a C keyword\n"},
  {"gen specs/seed_mse.lua --name _x", 2, "chainrule: --name: name must not start with '_', got '_x'\n"},
  {"gen specs/seed_mse.lua --name mse", 2,
   "chainrule: --name: name 'mse' is reserved (it clashes with generated helper names)\n"},
  {"gen specs/seed_mse.lua --name l0_linear_relu", 2,
   "chainrule: --name: name 'l0_linear_relu' is reserved (it clashes with generated helper names)\n"},
  {"gen specs/seed_mse.lua --name cr_rng", 2,
   "chainrule: --name: name 'cr_rng' is reserved (names cr and cr_... are the runtime's functions' prefix)\n"},
  {"gen specs/seed_mse.lua --name tr", 2,
   "chainrule: --name: name 'tr' is reserved (names tr and tr_... are the trainer's functions' prefix)\n"},
  {"gen specs/seed_mse.lua --name a123456789b123456789c123456789d123456789e123456789", 2,
   "chainrule: --name: name 'a123456789b123456789c123456789d123456789e123456789' is longer than 48 characters\n"},
};

START_TEST(test_cli) {
  const cli_case *c = &CLI_CASES[_i];
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' %s", chainrule(), c->args);
  run_result r = run(cmd);
  ck_assert_msg(r.status == c->status, "'%s': expected status %d, got %d (%s)", c->args, c->status, r.status,
                r.out);
  size_t len = strlen(c->message);
  if (len > 3 && strcmp(c->message + len - 3, "...") == 0)
    ck_assert_msg(strncmp(r.out, c->message, len - 3) == 0, "'%s': expected %s got %s", c->args, c->message,
                  r.out);
  else
    ck_assert_msg(strcmp(r.out, c->message) == 0, "'%s': expected %s got %s", c->args, c->message, r.out);
}
END_TEST

/* chainrule cpu (native): the family line, then the ISAs this machine runs (scalar always,
   sse2 on any x86-64) and the one --isa native picks: the last of them, the best; gen
   --isa native's summary line names the same. */
START_TEST(test_cpu_native) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' cpu", chainrule());
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
  const char *line = strstr(r.out, "\nisas: this machine runs scalar");
  ck_assert_msg(line != NULL, "no isas line: %s", r.out);
  const char *pick = strstr(line, "; --isa native is ");
  ck_assert_msg(pick != NULL, "no native pick: %s", r.out);
  char list[256], best[32];
  ck_assert(sscanf(line, "\nisas: this machine runs %255[^;]; --isa native is %31s", list, best) == 2);
  const char *last = strrchr(list, ' ');
  ck_assert_msg(strcmp(last ? last + 1 : list, best) == 0, "native is %s, the list %s", best, list);
  if (system("grep -qw sse2 /proc/cpuinfo 2>/dev/null") == 0)
    ck_assert_msg(strstr(list, "scalar, sse2") == list, "an x86-64 host without sse2 listed: %s", list);
  /* gen --isa native names its pick in the summary line */
  char want[64];
  snprintf(cmd, sizeof cmd, "'%s' gen specs/seed_mse.lua --isa native --out '%s/native'", chainrule(), scratch);
  r = run(cmd);
  snprintf(want, sizeof want, " bytes, %s (native), ", best);
  ck_assert_msg(r.status == 0 && strstr(r.out, want), "%s: %s (want '%s')", cmd, r.out, want);
}
END_TEST

/* ---------------------------------------------------------------- core */

/* Sets the access and modification times of dir/files[0..n-1] to sec. */
static void set_mtimes(const char *dir, const char *const *files, int n, time_t sec) {
  struct timespec ts[2] = {{sec, 0}, {sec, 0}};
  char path[700];
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
  }
}

/* Runs a gen command that must succeed and report `unchanged` in its summary. */
static void gen_unchanged(const char *cmd, const char *unchanged) {
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0 && strstr(r.out, unchanged) != NULL, "'%s': status %d, summary %s", cmd, r.status,
                r.out);
}

START_TEST(test_deterministic_and_unchanged) {
  char cmd[2048], out1[512], out2[512], p1[600], p2[600];
  snprintf(out1, sizeof out1, "%s/a", scratch);
  snprintf(out2, sizeof out2, "%s/b", scratch);
  const char *files[] = {"mnist_mlp.h", "mnist_mlp.c"};
  snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_mlp.lua --out '%s'", chainrule(), out1);
  ck_assert_int_eq(run(cmd).status, 0);
  snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_mlp.lua --out '%s'", chainrule(), out2);
  ck_assert_int_eq(run(cmd).status, 0);
  for (int i = 0; i < 2; i++) {
    size_t l1, l2;
    snprintf(p1, sizeof p1, "%s/%s", out1, files[i]);
    snprintf(p2, sizeof p2, "%s/%s", out2, files[i]);
    char *a = read_text(p1, &l1), *b = read_text(p2, &l2);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_msg(l1 == l2 && memcmp(a, b, l1) == 0, "%s differs between two runs", files[i]);
    ck_assert_msg(strstr(a, "DO NOT EDIT") && strstr(a, " from mnist_mlp.lua. DO NOT EDIT"), "%s: banner missing",
                  files[i]);
    free(a);
    free(b);
  }
  /* Files newer than every input (spec, binary): an identical regeneration must not touch them. */
  time_t later = time(NULL) + 86400;
  struct stat before[2];
  set_mtimes(out1, files, 2, later);
  for (int i = 0; i < 2; i++) {
    snprintf(p1, sizeof p1, "%s/%s", out1, files[i]);
    ck_assert_int_eq(stat(p1, &before[i]), 0);
  }
  snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_mlp.lua --out '%s'", chainrule(), out1);
  gen_unchanged(cmd, "mnist_mlp.h, mnist_mlp.c unchanged");
  for (int i = 0; i < 2; i++) {
    struct stat st;
    snprintf(p1, sizeof p1, "%s/%s", out1, files[i]);
    ck_assert_int_eq(stat(p1, &st), 0);
    ck_assert_msg(st.st_mtim.tv_sec == later && st.st_ino == before[i].st_ino,
                  "%s was rewritten (mtime %ld)", files[i], (long)st.st_mtim.tv_sec);
  }
  /* Files with the right bytes but older than the spec (the spec was touched): kept (same
     inode) but their time set to now, so make and ninja see them up to date. */
  set_mtimes(out1, files, 2, 1000000000);
  struct stat spec_st;
  ck_assert_int_eq(stat("specs/mnist_mlp.lua", &spec_st), 0);
  gen_unchanged(cmd, "mnist_mlp.h, mnist_mlp.c unchanged");
  for (int i = 0; i < 2; i++) {
    struct stat st;
    snprintf(p1, sizeof p1, "%s/%s", out1, files[i]);
    ck_assert_int_eq(stat(p1, &st), 0);
    ck_assert_msg(st.st_ino == before[i].st_ino, "%s was replaced", files[i]);
    ck_assert_msg(st.st_mtim.tv_sec > 1000000000 &&
                      (st.st_mtim.tv_sec > spec_st.st_mtim.tv_sec ||
                       (st.st_mtim.tv_sec == spec_st.st_mtim.tv_sec && st.st_mtim.tv_nsec >= spec_st.st_mtim.tv_nsec)),
                  "%s is still older than the spec (mtime %ld)", files[i], (long)st.st_mtim.tv_sec);
  }
  /* Backdated again for the check below. */
  set_mtimes(out1, files, 2, 1000000000);
  /* A changed spec does rewrite (so the check above is not vacuous). */
  char spec[512];
  snprintf(spec, sizeof spec, "%s/mnist_mlp.lua", scratch);
  char *text = read_text("specs/mnist_mlp.lua", NULL);
  ck_assert_ptr_nonnull(text);
  char *lr = strstr(text, "lr = 0.05");
  ck_assert_msg(lr != NULL, "specs/mnist_mlp.lua no longer says lr = 0.05; update this test");
  memcpy(lr, "lr = 0.04", 9);
  write_text(spec, text);
  free(text);
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --out '%s'", chainrule(), spec, out1);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0 && strstr(r.out, "wrote mnist_mlp.c") != NULL, "summary: %s", r.out);
  struct stat st;
  snprintf(p1, sizeof p1, "%s/mnist_mlp.c", out1);
  ck_assert_int_eq(stat(p1, &st), 0);
  ck_assert_msg(st.st_ino != before[1].st_ino, "mnist_mlp.c was not rewritten after the spec changed");
  /* no temporary files left behind */
  snprintf(p1, sizeof p1, "%s/mnist_mlp.c.tmp", out1);
  ck_assert_msg(access(p1, F_OK) != 0, "temporary file left behind");
}
END_TEST

/* The same spec gives the same bytes wherever gen runs from and however the spec's path is
   spelled (the banner and NAME_cli.c name it by its file name only): relative from the
   repository root, absolute from the scratch directory, and through ../ from a subdirectory. */
START_TEST(test_same_bytes_any_directory) {
  char root[512], cmd[4096], sub[600];
  ck_assert_ptr_nonnull(getcwd(root, sizeof root));
  char exe[600];
  if (chainrule()[0] == '/') snprintf(exe, sizeof exe, "%s", chainrule());
  else snprintf(exe, sizeof exe, "%s/%s", root, chainrule());
  snprintf(sub, sizeof sub, "%s/d1/d2", scratch);
  snprintf(cmd, sizeof cmd, "mkdir -p '%s' && ln -s '%s/specs' '%s/d1/specs'", sub, root, scratch);
  ck_assert_int_eq(run(cmd).status, 0);
  snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_mlp.lua --cli --out '%s/a'", exe, scratch);
  ck_assert_int_eq(run(cmd).status, 0);
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' gen '%s/specs/mnist_mlp.lua' --cli --out b", scratch, exe, root);
  ck_assert_int_eq(run(cmd).status, 0);
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' gen ../specs/mnist_mlp.lua --cli --out ../../c", sub, exe);
  ck_assert_int_eq(run(cmd).status, 0);
  const char *files[] = {"mnist_mlp.h", "mnist_mlp.c", "mnist_mlp_cli.c"};
  for (int i = 0; i < 3; i++) {
    char pa[700], pb[700];
    size_t la, lb;
    snprintf(pa, sizeof pa, "%s/a/%s", scratch, files[i]);
    char *a = read_text(pa, &la);
    ck_assert_ptr_nonnull(a);
    ck_assert_msg(strstr(a, "from mnist_mlp.lua") != NULL, "%s does not name the spec by its file name", files[i]);
    ck_assert_msg(strstr(a, "specs/") == NULL, "%s names the spec's directory", files[i]);
    for (int k = 0; k < 2; k++) {
      snprintf(pb, sizeof pb, "%s/%s/%s", scratch, k ? "c" : "b", files[i]);
      char *b = read_text(pb, &lb);
      ck_assert_ptr_nonnull(b);
      ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "%s differs from %s", pa, pb);
      free(b);
    }
    free(a);
  }
}
END_TEST

/* gen --depfile: the exact Make rule (outputs as written, spec as typed, the binary's absolute
   path; spaces escaped; an empty rule per prerequisite), written again unchanged on a rerun,
   listing the weights files read; into a missing directory: one line, exit 2, nothing written. */
START_TEST(test_depfile) {
  char cmd[4096], want[4096], path[700], exe[600];
  ck_assert_ptr_nonnull(realpath(chainrule(), exe));
  snprintf(cmd, sizeof cmd, "cd '%s' && cp '%s/examples/xor.lua' 'x y.lua' && '%s' gen 'x y.lua' --out 'o u' --cli --depfile xor.d",
           scratch, getcwd(path, sizeof path), exe);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "%s", r.out);
  ck_assert_msg(strstr(r.out, "wrote xor.h, xor.c, xor_cli.c, xor.d") != NULL, "summary: %s", r.out);
  snprintf(want, sizeof want, "o\\ u/xor.h o\\ u/xor.c o\\ u/xor_cli.c: x\\ y.lua %s\nx\\ y.lua:\n%s:\n", exe, exe);
  snprintf(path, sizeof path, "%s/xor.d", scratch);
  char *d = read_text(path, NULL);
  ck_assert_ptr_nonnull(d);
  ck_assert_msg(strcmp(d, want) == 0, "depfile:\n%s\nwanted:\n%s", d, want);
  free(d);
  r = run(cmd);
  ck_assert_msg(r.status == 0 && strstr(r.out, "xor.h, xor.c, xor_cli.c, xor.d unchanged"), "rerun: %s", r.out);

  /* a missing directory for the depfile: nothing written, not even the outputs' directory */
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' gen 'x y.lua' --out fresh --depfile no/such/x.d", scratch, exe);
  r = run(cmd);
  ck_assert_int_eq(r.status, 2);
  ck_assert_str_eq(r.out, "chainrule: --depfile: directory 'no/such' does not exist\n");
  snprintf(path, sizeof path, "%s/fresh", scratch);
  ck_assert_msg(access(path, F_OK) != 0, "--depfile error left %s behind", path);
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' gen 'x y.lua' --out fresh --depfile 'o u'", scratch, exe);
  r = run(cmd);
  ck_assert_int_eq(r.status, 2);
  ck_assert_str_eq(r.out, "chainrule: --depfile: 'o u' is a directory\n");
  ck_assert_msg(access(path, F_OK) != 0, "--depfile error left %s behind", path);
  /* nothing written over an input or over another output: the depfile named as an output, as
     the spec (by another path to it) or as a tune file; an output over the spec; tune --out
     over its spec. One line, exit 2, the files as they were, no --out directory made. */
  char spec_before[4096];
  snprintf(path, sizeof path, "%s/x y.lua", scratch);
  char *sb = read_text(path, NULL);
  ck_assert_ptr_nonnull(sb);
  snprintf(spec_before, sizeof spec_before, "%s", sb);
  free(sb);
  snprintf(path, sizeof path, "%s/t.tune", scratch);
  write_text(path, "chainrule-tune 1\nisa avx2\nxw 2 16 32 vecs=1\n");
  static const struct { const char *args, *message; } clobber[] = {
    {"gen 'x y.lua' --out fresh --depfile fresh/xor.c", "chainrule: --depfile: 'fresh/xor.c' is also an output (nothing written)\n"},
    {"gen 'x y.lua' --out fresh --depfile './x y.lua'",
     "chainrule: --depfile: './x y.lua' is the spec: it would be overwritten (nothing written)\n"},
    {"gen 'x y.lua' --out fresh --isa avx2 --tune t.tune --depfile t.tune",
     "chainrule: --depfile: 't.tune' is a --tune file: it would be overwritten (nothing written)\n"},
    {"gen specdir/xor.h --out specdir", "chainrule: 'specdir/xor.h' is the spec: it would be overwritten (nothing written)\n"},
    {"tune 'x y.lua' --isa avx2 --out .//'x y.lua'", "chainrule: --out: './/x y.lua' is the spec: it would be overwritten\n"},
    /* an output not written yet, named another way (its directory's identity and its name) */
    {"gen 'x y.lua' --out emptydir --depfile emptydir/../emptydir/xor.c",
     "chainrule: --depfile: 'emptydir/../emptydir/xor.c' is also an output (nothing written)\n"},
    /* tune's default output is a directory: refused before the timing */
    {"tune 'x y.lua' --isa avx2", "chainrule: --out: 'xor.tune' is a directory\n"},
  };
  snprintf(cmd, sizeof cmd, "mkdir -p '%s/specdir' '%s/emptydir' '%s/xor.tune' && cp '%s/x y.lua' '%s/specdir/xor.h'",
           scratch, scratch, scratch, scratch, scratch);
  ck_assert_int_eq(system(cmd), 0);
  for (size_t k = 0; k < sizeof clobber / sizeof clobber[0]; k++) {
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s", scratch, exe, clobber[k].args);
    r = run(cmd);
    ck_assert_msg(r.status == 2 && strcmp(r.out, clobber[k].message) == 0, "%s: status %d: %s", clobber[k].args,
                  r.status, r.out);
    snprintf(path, sizeof path, "%s/x y.lua", scratch);
    char *now = read_text(path, NULL);
    ck_assert_msg(now && strcmp(now, spec_before) == 0, "%s: the spec changed", clobber[k].args);
    free(now);
    snprintf(path, sizeof path, "%s/t.tune", scratch);
    now = read_text(path, NULL);
    ck_assert_msg(now && strcmp(now, "chainrule-tune 1\nisa avx2\nxw 2 16 32 vecs=1\n") == 0, "%s: the tune file changed",
                  clobber[k].args);
    free(now);
    snprintf(path, sizeof path, "%s/fresh", scratch);
    ck_assert_msg(access(path, F_OK) != 0, "%s: left %s behind", clobber[k].args, path);
  }
  snprintf(path, sizeof path, "%s/specdir/xor.h", scratch);
  sb = read_text(path, NULL);
  ck_assert_msg(sb && strcmp(sb, spec_before) == 0, "the spec at specdir/xor.h changed");
  free(sb);
  snprintf(cmd, sizeof cmd, "ls -A '%s/emptydir'; ls -A '%s/xor.tune'", scratch, scratch);
  r = run(cmd);
  ck_assert_msg(r.status == 0 && r.out[0] == '\0', "refused runs wrote: %s", r.out);
  /* an --out that cannot be made: the directories made on the way are taken away again */
  char longname[300];
  memset(longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' gen 'x y.lua' --out 'made/%s'", scratch, exe, longname);
  r = run(cmd);
  ck_assert_msg(r.status == 2 && strstr(r.out, "chainrule: cannot create directory 'made/") == r.out
                && strstr(r.out, "': File name too long\n"), "%s", r.out);
  snprintf(path, sizeof path, "%s/made", scratch);
  ck_assert_msg(access(path, F_OK) != 0, "a failed --out left %s behind", path);
  snprintf(path, sizeof path, "%s/fresh", scratch);
  /* gen --python without a C compiler, or with one that fails: one line, exit 2, nothing written */
  snprintf(cmd, sizeof cmd, "cd '%s' && CC=no-such-cc '%s' gen 'x y.lua' --python --out fresh", scratch, exe);
  r = run(cmd);
  ck_assert_int_eq(r.status, 2);
  ck_assert_str_eq(r.out, "chainrule: --python: no C compiler to build libxor.so: 'no-such-cc' not found (install one or set CC)\n");
  ck_assert_msg(access(path, F_OK) != 0, "--python error left %s behind", path);
  snprintf(cmd, sizeof cmd, "cd '%s' && CC='cc -Werror=no-such-warning' '%s' gen 'x y.lua' --python --out fresh", scratch, exe);
  r = run(cmd);
  const char *failed = "chainrule: --python: 'cc -Werror=no-such-warning' failed to build libxor.so: ";
  ck_assert_msg(r.status == 2 && strncmp(r.out, failed, strlen(failed)) == 0
                && strchr(r.out, '\n') == r.out + strlen(r.out) - 1, "%s", r.out);
  ck_assert_msg(access(path, F_OK) != 0, "--python error left %s behind", path);
  /* into the --out directory, which gen creates */
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' gen 'x y.lua' --out fresh/ --depfile fresh/x.d", scratch, exe);
  r = run(cmd);
  ck_assert_msg(r.status == 0 && strstr(r.out, "wrote xor.h, xor.c, fresh/x.d"), "%s", r.out);
}
END_TEST

/* The value of "#define MACRO value" in header text, or -1. */
static long macro_value(const char *text, const char *macro) {
  char key[128];
  snprintf(key, sizeof key, "#define %s ", macro);
  const char *p = strstr(text, key);
  return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* The sandbox still allows ordinary Lua: locals, loops, functions, math, string methods. */
START_TEST(test_spec_features) {
  char path[512], cmd[2048], hpath[600];
  snprintf(path, sizeof path, "%s/features.lua", scratch);
  write_text(path,
             "local widths = {}\n"
             "for i = 1, 3 do widths[#widths + 1] = math.floor(64 / 2 ^ (i - 1)) end\n"
             "local function block(w) return linear(w, {init = \"kaiming_uniform\"}), relu() end\n"
             "local layers = {}\n"
             "for _, w in ipairs(widths) do local l, r = block(w); table.insert(layers, l); layers[#layers + 1] = r end\n"
             "layers[#layers + 1] = linear(3)\n"
             "local name = string.format(\"net_%d\", #widths):lower()\n"
             "assert(name:find(\"net\", 1, true) == 1)\n"
             "return network(name) { input = 12, layers = layers, loss = \"cross_entropy\", batch = 5,\n"
             "  optimizer = adamw {lr = math.sqrt(1e-6)} }\n");
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --out '%s'", chainrule(), path, scratch);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "features spec failed: %s", r.out);
  snprintf(hpath, sizeof hpath, "%s/net_3.h", scratch);
  char *h = read_text(hpath, NULL);
  ck_assert_msg(h != NULL, "net_3.h not written");
  ck_assert_int_eq(macro_value(h, "NET_3_LAYER_COUNT"), 7);
  ck_assert_int_eq(macro_value(h, "NET_3_OPT_ADAMW"), 1);
  ck_assert_int_eq(macro_value(h, "NET_3_BATCH"), 5);
  ck_assert_int_eq(macro_value(h, "NET_3_IN"), 12);
  ck_assert_int_eq(macro_value(h, "NET_3_OUT"), 3);
  free(h);
}
END_TEST

/* --cli adds NAME_cli.c from templates/cli.c.tpl, filled in for this network. */
START_TEST(test_cli_file) {
  char cmd[2048], path[600];
  snprintf(cmd, sizeof cmd, "'%s' gen specs/seed_mse.lua --cli --out '%s'", chainrule(), scratch);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "gen --cli failed: %s", r.out);
  snprintf(path, sizeof path, "%s/seed_mse_cli.c", scratch);
  char *text = read_text(path, NULL);
  ck_assert_msg(text != NULL, "seed_mse_cli.c not written");
  ck_assert_msg(strstr(text, "#include \"seed_mse.h\"") != NULL, "seed_mse_cli.c does not include seed_mse.h");
  ck_assert_msg(strstr(text, "$(") == NULL, "seed_mse_cli.c has an unexpanded template splice");
  free(text);
}
END_TEST

/* gen --cli --cpu FAMILY names the family in the trainer's ISA (ISA:FAMILY: its checkpoints,
 * --resume's note) only where the family's defaults change the network's code: zen4's
 * defaults on avx512 change mnist_cnn's conv weight gradient and mnist_mlp's linear one
 * behind its ReLU (from g's nonzeros), not xor's (2 inputs: that form needs 16k). */
START_TEST(test_cli_family_named) {
  static const struct { const char *path, *spec; int named; } cases[] = {
    {"specs/mnist_cnn.lua", "mnist_cnn", 1}, {"specs/mnist_mlp.lua", "mnist_mlp", 1}, {"examples/xor.lua", "xor", 0}};
  for (int i = 0; i < COUNT(cases); i++) {
    char cmd[2048], path[600];
    snprintf(cmd, sizeof cmd, "'%s' gen %s --isa avx512 --cpu zen4 --cli --out '%s/fam'", chainrule(),
             cases[i].path, scratch);
    run_result r = run(cmd);
    ck_assert_msg(r.status == 0, "%s: gen --cli failed: %s", cases[i].spec, r.out);
    snprintf(path, sizeof path, "%s/fam/%s_cli.c", scratch, cases[i].spec);
    char *text = read_text(path, NULL);
    ck_assert_msg(text != NULL, "%s not written", path);
    ck_assert_msg(!!strstr(text, "NETM(ISA) \":zen4\"") == cases[i].named, "%s: the trainer's ISA %s zen4", cases[i].spec,
                  cases[i].named ? "does not name" : "names");
    free(text);
    /* likewise a dispatch build's avx512:zen4 variant: its checkpoints say avx512 where its
       code is avx512's (w_variant_code), avx512:zen4 where it is not */
    snprintf(cmd, sizeof cmd, "'%s' gen %s --dispatch avx512:zen4,avx512,scalar --cli --out '%s/famd'",
             chainrule(), cases[i].path, scratch);
    r = run(cmd);
    ck_assert_msg(r.status == 0, "%s: gen --dispatch --cli failed: %s", cases[i].spec, r.out);
    snprintf(path, sizeof path, "%s/famd/%s_cli.c", scratch, cases[i].spec);
    text = read_text(path, NULL);
    ck_assert_msg(text != NULL, "%s not written", path);
    ck_assert_msg(!!strstr(text, "if (strcmp(v, \"avx512:zen4\") == 0) return \"avx512\";") == !cases[i].named,
                  "%s: the dispatch trainer's avx512:zen4 variant %s as avx512", cases[i].spec,
                  cases[i].named ? "is recorded" : "is not recorded");
    free(text);
  }
}
END_TEST

/* The spec's schedule reaches the trainer as KIND:key=value text, numbers in their shortest
 * round-tripping form, keys in a fixed order whatever order the spec wrote them in. */
START_TEST(test_cli_schedule) {
  char cmd[2048], path[600];
  snprintf(path, sizeof path, "%s/sched.lua", scratch);
  write_text(path, "return network \"sched\" { input = 4, layers = { linear(2) }, loss = \"cross_entropy\",\n"
                   "  optimizer = sgd{lr = 0.1, momentum = 0.9},\n"
                   "  schedule = onecycle{pct_start = 0.25, max_lr = 0.1, anneal = \"linear\", three_phase = true} }\n");
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --cli --out '%s'", chainrule(), path, scratch);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "gen --cli failed: %s", r.out);
  snprintf(path, sizeof path, "%s/sched_cli.c", scratch);
  char *text = read_text(path, NULL);
  ck_assert_msg(text != NULL, "sched_cli.c not written");
  ck_assert_msg(strstr(text, ".schedule = \"onecycle:max_lr=0.1,pct_start=0.25,anneal=linear,three_phase=true\",")
                != NULL, "sched_cli.c lacks the schedule text");
  free(text);
  snprintf(path, sizeof path, "%s/seed_mse_cli.c", scratch);
  snprintf(cmd, sizeof cmd, "'%s' gen specs/seed_mse.lua --cli --out '%s'", chainrule(), scratch);
  r = run(cmd);
  text = read_text(path, NULL);
  ck_assert_msg(r.status == 0 && text && strstr(text, ".schedule = NULL,"), "no schedule should give NULL");
  free(text);
}
END_TEST

START_TEST(test_lua_units) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' selftest tests/gen/unit.lua", chainrule());
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0 && strstr(r.out, "checks passed"), "unit tests failed (%d): %s", r.status, r.out);
}
END_TEST

START_TEST(test_template_errors) {
  char path[512], cmd[2048];
  /* a good template: splices, $$, @ code */
  snprintf(path, sizeof path, "%s/good.tpl", scratch);
  write_text(path, "int $(name)_x = 1;  /* $$ */\n@ for i = 1, 2 do\n$(i)\n@ end\n");
  snprintf(cmd, sizeof cmd, "'%s' render '%s' name=foo", chainrule(), path);
  run_result r = run(cmd);
  ck_assert_int_eq(r.status, 0);
  ck_assert_str_eq(r.out, "int foo_x = 1;  /* $ */\n1\n2\n");

  /* a runtime error on line 4 of the template */
  snprintf(path, sizeof path, "%s/bad.tpl", scratch);
  write_text(path, "line one\nline two\n@ local t = {}\n$(t.missing.field)\n");
  snprintf(cmd, sizeof cmd, "'%s' render '%s'", chainrule(), path);
  r = run(cmd);
  char want[700];
  snprintf(want, sizeof want, "chainrule: template error: %s:4: ", path);
  ck_assert_int_eq(r.status, 2);
  ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "expected '%s...', got '%s'", want, r.out);

  /* a Lua syntax error on line 3 */
  write_text(path, "a\nb\n@ if then\n@ end\n");
  r = run(cmd);
  snprintf(want, sizeof want, "chainrule: template error: %s:3: ", path);
  ck_assert_int_eq(r.status, 2);
  ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "expected '%s...', got '%s'", want, r.out);
}
END_TEST

/* examples/xor.lua with code_budget set to `budget` (-1: the spec as shipped, i.e. the default),
   generated for `isa` into scratch/<dir>; returns the run (stdout is the one-line summary). */
static run_result gen_xor(int budget, const char *isa, const char *dir) {
  char spec[512], cmd[2048];
  const char *path = "examples/xor.lua";
  if (budget >= 0) {
    char *text = read_text("examples/xor.lua", NULL);
    ck_assert_ptr_nonnull(text);
    char *end = strrchr(text, '}');
    ck_assert_msg(end != NULL, "examples/xor.lua does not end with '}'");
    *end = '\0';
    char *full = malloc(strlen(text) + 64);
    ck_assert_ptr_nonnull(full);
    sprintf(full, "%s  code_budget = %d,\n}\n", text, budget);
    snprintf(spec, sizeof spec, "%s/xor_%d.lua", scratch, budget);
    write_text(spec, full);
    free(full);
    free(text);
    path = spec;
  }
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --isa %s --out '%s/%s'", chainrule(), path, isa, scratch, dir);
  return run(cmd);
}

/* scratch/DIR/FILE as text (fails the test if it was not written). */
static char *read_generated(const char *dir, const char *file) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s/%s", scratch, dir, file);
  char *text = read_text(path, NULL);
  ck_assert_msg(text != NULL, "%s not written", path);
  return text;
}

/* code_budget: the XOR example is straight-line by default and exactly at a budget of its
   192 multiply-adds, loops one below, tiled for a SIMD ISA; the summary line says which,
   with the byte size of xor.c; straight-line output is deterministic and compiles cleanly. */
START_TEST(test_straight_line) {
  char want[1024];
  run_result r = gen_xor(-1, "scalar", "a");
  ck_assert_msg(r.status == 0, "xor: %s", r.out);
  char *a = read_generated("a", "xor.c");
  snprintf(want, sizeof want,
           "chainrule: %s/a/xor.c: %s bytes, straight-line products, 192 multiply-adds within code_budget 256; "
           "stack at most %s bytes (xor_forward); wrote xor.h, xor.c\n", scratch, "%s", "%s");
  char bytes[32], line[1200];
  size_t len = strlen(a);
  /* the size grouped by thousands, as the summary prints it */
  if (len >= 1000000) snprintf(bytes, sizeof bytes, "%zu,%03zu,%03zu", len / 1000000, len / 1000 % 1000, len % 1000);
  else if (len >= 1000) snprintf(bytes, sizeof bytes, "%zu,%03zu", len / 1000, len % 1000);
  else snprintf(bytes, sizeof bytes, "%zu", len);
  /* the deepest stack bound as the banner states it (forward and train_step tie; the first wins) */
  const char *sp = strstr(a, "at most: forward ");
  ck_assert_msg(sp != NULL, "banner lacks the stack bound of forward");
  char stack[32];
  ck_assert_msg(sscanf(sp, "at most: forward %31[0-9,]", stack) == 1, "stack bound: %.40s", sp);
  if (stack[0] && stack[strlen(stack) - 1] == ',') stack[strlen(stack) - 1] = '\0';   /* the list's comma */
  snprintf(line, sizeof line, want, bytes, stack);
  ck_assert_msg(strcmp(r.out, line) == 0, "summary:\n expected: %s got:      %s", line, r.out);
  ck_assert_msg(strstr(a, " * code: straight-line products, 192 multiply-add statements") != NULL,
                "banner does not state the code style:\n%.1500s", a);
  ck_assert_msg(strstr(a, "for (int k") == NULL, "straight-line xor.c still has a loop over k");
  ck_assert_msg(strstr(a, "s = s + x1 * w[17];") != NULL, "straight-line xor.c lacks a constant-index multiply-add");

  /* same bytes on a second run; the summary then says nothing was rewritten */
  r = gen_xor(-1, "scalar", "b");
  ck_assert_int_eq(r.status, 0);
  char *b = read_generated("b", "xor.c");
  ck_assert_msg(strcmp(a, b) == 0, "straight-line xor.c differs between two runs");
  free(b);
  r = gen_xor(-1, "scalar", "a");
  ck_assert_msg(r.status == 0 && strstr(r.out, "; xor.h, xor.c unchanged\n") != NULL, "rerun: %s", r.out);

  r = gen_xor(192, "scalar", "at");
  ck_assert_msg(r.status == 0 && strstr(r.out, "straight-line products, 192 multiply-adds within code_budget 192;"),
                "budget 192: %s", r.out);
  r = gen_xor(191, "scalar", "below");
  ck_assert_msg(r.status == 0 && strstr(r.out, "bytes, products in loops; stack at most "), "budget 191: %s", r.out);
  char *c = read_generated("below", "xor.c");
  ck_assert_msg(strstr(c, " * code: products in loops; written out they would take 192 multiply-add statements")
                && strstr(c, "for (int k"), "budget 191: not the loops");
  ck_assert_msg(strlen(c) < len, "loops (%zu bytes) not smaller than straight-line (%zu)", strlen(c), len);
  free(c);
  r = gen_xor(-1, "avx2", "avx2");
  ck_assert_msg(r.status == 0 && strstr(r.out, "bytes, tiled products; stack at most "), "avx2: %s", r.out);

  const char *ccs[] = {"clang", "gcc"};
  for (int i = 0; i < 2; i++) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -c '%s/a/xor.c' -o /dev/null",
             ccs[i], scratch);
    r = run(cmd);
    ck_assert_msg(r.status == 0 && r.out[0] == '\0', "straight-line xor.c with %s: %s", ccs[i], r.out);
  }
  free(a);
}
END_TEST

/* --name renames the network: the files, every symbol, type and macro, the include guard; the old
   name is left only in the banner's spec path. Without --name the bytes are the spec name's. */
START_TEST(test_rename) {
  char cmd[2048], path[600];
  snprintf(cmd, sizeof cmd, "'%s' gen specs/seed_mse.lua --isa avx2 --name seed_v2 --cli --out '%s'", chainrule(),
           scratch);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "gen --name failed: %s", r.out);
  const char *files[] = {"seed_v2.h", "seed_v2.c", "seed_v2_cli.c"};
  for (int i = 0; i < COUNT(files); i++) {
    snprintf(path, sizeof path, "%s/%s", scratch, files[i]);
    char *text = read_text(path, NULL);
    ck_assert_msg(text != NULL, "%s not written", files[i]);
    for (const char *p = text; (p = strstr(p, "seed_mse")) != NULL; p++)   /* only the spec's file name */
      ck_assert_msg(strncmp(p, "seed_mse.lua", 12) == 0, "%s still says seed_mse: %.60s", files[i], p);
    ck_assert_msg(strstr(text, "SEED_MSE") == NULL, "%s still has a SEED_MSE macro", files[i]);
    if (i == 0) {
      ck_assert_msg(strstr(text, "#ifndef SEED_V2_H\n#define SEED_V2_H\n") != NULL, "include guard not renamed");
      ck_assert_int_eq(macro_value(text, "SEED_V2_IN"), 784);
      ck_assert_msg(strstr(text, "void  seed_v2_forward(float *out, seed_v2_work *w") != NULL, "forward not renamed");
    }
    free(text);
  }
  snprintf(path, sizeof path, "%s/seed_mse.h", scratch);
  ck_assert_msg(access(path, F_OK) != 0, "seed_mse.h written too");
}
END_TEST

/* Every spec in specs/: generate (scalar) and compile with both compilers, warnings as errors. */
START_TEST(test_specs_compile) {
  DIR *d = opendir("specs");
  ck_assert_msg(d != NULL, "no specs/ directory (run from the repository root)");
  struct dirent *e;
  int count = 0;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".lua") != 0) continue;
    char cmd[2048], out[512];
    snprintf(out, sizeof out, "%s/%s.gen", scratch, e->d_name);
    snprintf(cmd, sizeof cmd, "'%s' gen 'specs/%s' --isa scalar --out '%s'", chainrule(), e->d_name, out);
    run_result r = run(cmd);
    ck_assert_msg(r.status == 0, "specs/%s: chainrule failed: %s", e->d_name, r.out);
    const char *ccs[] = {"clang", "gcc"};
    for (int c = 0; c < 2; c++) {
      snprintf(cmd, sizeof cmd,
               "for f in '%s'/*.c; do %s -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -c \"$f\" "
               "-o /dev/null || exit 1; done",
               out, ccs[c]);
      r = run(cmd);
      ck_assert_msg(r.status == 0 && r.out[0] == '\0', "specs/%s with %s: %s", e->d_name, ccs[c], r.out);
    }
    count++;
  }
  closedir(d);
  ck_assert_msg(count >= 2, "expected at least the two shipped specs, found %d", count);
}
END_TEST

/* Bounded code (issue 12): the tiled kernels unroll a register tile and loop over the column
   blocks, row tiles and reduction blocks, so the .c stays under 1 MB for layers 4096 wide
   (both ways, odd widths) and for 16-layer nets of mixed odd widths, on every SIMD ISA;
   deep16odd (every reduction and column block with a short rest) needs the compact row tails
   (schedule.CODE_BYTES) on avx512 and neon, and says so in its summary line; wide4096 must not.
   Generation only: the compile times are measured by make bench's codegen lines. */
START_TEST(test_code_size_bounded) {
  static const struct { const char *name, *layers, *isas[3]; int batch; const char *compact; } nets[] = {
    {"wide4096", "linear(4096), relu(), linear(4095), tanh(), linear(10)", {"avx2", "avx512", "neon"}, 64, NULL},
    {"deep16", "linear(1000), relu(), linear(1024), relu(), linear(999), relu(), linear(1023), relu(), "
               "linear(513), relu(), linear(4096), relu(), linear(77), relu(), linear(4000), relu(), "
               "linear(1025), relu(), linear(2048), relu(), linear(300), relu(), linear(31), relu(), "
               "linear(1024), relu(), linear(600), relu(), linear(700), relu(), linear(10)", {"avx2", "avx512", "neon"},
     64, NULL},
    {"deep16odd", "linear(1001), relu(), linear(1003), relu(), linear(1005), relu(), linear(1007), relu(), "
                  "linear(1009), relu(), linear(1011), relu(), linear(1013), relu(), linear(1015), relu(), "
                  "linear(1017), relu(), linear(1019), relu(), linear(1021), relu(), linear(1023), relu(), "
                  "linear(1025), relu(), linear(1027), relu(), linear(1029), relu(), linear(10)",
     {"avx2", "avx512", "neon"}, 63, "avx512 neon"},
  };
  for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
    char spec[600], text[1600], cmd[2048], path[700];
    snprintf(spec, sizeof spec, "%s/%s.lua", scratch, nets[i].name);
    snprintf(text, sizeof text,
             "return network \"%s\" {\n  input = %d,\n  layers = { %s },\n  loss = \"cross_entropy\",\n"
             "  batch = %d,\n  optimizer = sgd { lr = 0.01 },\n}\n", nets[i].name, i == 0 ? 4096 : 784, nets[i].layers,
             nets[i].batch);
    write_text(spec, text);
    for (int k = 0; k < 3 && nets[i].isas[k]; k++) {
      snprintf(cmd, sizeof cmd, "'%s' gen '%s' --isa %s --out '%s/size_%s'", chainrule(), spec, nets[i].isas[k], scratch,
               nets[i].isas[k]);
      run_result r = run(cmd);
      ck_assert_msg(r.status == 0, "%s --isa %s: %s", nets[i].name, nets[i].isas[k], r.out);
      /* the governor engages where it must, and never for the three-layer net */
      const char *c_line = strstr(r.out, "compact row tails");
      if (nets[i].compact && strstr(nets[i].compact, nets[i].isas[k]))
        ck_assert_msg(c_line != NULL, "%s --isa %s: compact row tails expected: %s", nets[i].name, nets[i].isas[k], r.out);
      if (i == 0)
        ck_assert_msg(c_line == NULL, "%s --isa %s: compact row tails not expected: %s", nets[i].name, nets[i].isas[k], r.out);
      snprintf(path, sizeof path, "%s/size_%s/%s.c", scratch, nets[i].isas[k], nets[i].name);
      size_t len = 0;
      char *c = read_text(path, &len);
      ck_assert_msg(c != NULL, "%s not written", path);
      ck_assert_msg(len <= 1000000, "%s --isa %s: %zu bytes of C (bound 1,000,000)", nets[i].name, nets[i].isas[k], len);
      ck_assert_msg(strstr(c, "for (int j0 = ") != NULL, "%s --isa %s: no loop over column blocks", nets[i].name,
                    nets[i].isas[k]);
      free(c);
    }
  }
}
END_TEST

/* The shared tile functions of compact code (gen/kernels/shared.lua): how many static
   functions named *_tile<N> the generated C defines. */
static int count_tile_functions(const char *c) {
  int count = 0;
  for (const char *p = strstr(c, "\nstatic void "); p; p = strstr(p + 1, "\nstatic void ")) {
    const char *name = p + strlen("\nstatic void "), *paren = strchr(name, '(');
    const char *tile = strstr(name, "_tile");
    if (paren && tile && tile < paren) count++;
  }
  return count;
}

/* Compact code shares its tiles between layers: a tile is a static function per distinct
   shape, its strides and counts arguments, so a net twice as deep (the same odd widths
   repeated) has the same tile functions and only its calls grow; the C compiles
   warning-free with clang and gcc (every shared function used) on both x86 ISAs. */
START_TEST(test_compact_shared_tiles) {
  static const char *isas[] = {"avx2", "avx512"};
  for (int k = 0; k < 2; k++) {
    int tiles[2] = {0, 0};
    size_t bytes[2] = {0, 0};
    for (int deep = 0; deep < 2; deep++) {
      char spec[600], text[2000], layers[1200] = "", cmd[2048], path[700];
      for (int l = 0; l < (deep ? 16 : 8); l++)
        strcat(layers, l % 2 ? "linear(103), relu(), " : "linear(101), relu(), ");
      snprintf(spec, sizeof spec, "%s/shared%d.lua", scratch, deep);
      snprintf(text, sizeof text,
               "return network \"shared%d\" {\n  input = 97,\n  layers = { %slinear(10) },\n"
               "  loss = \"cross_entropy\",\n  batch = 63,\n  optimizer = adam { lr = 0.001 },\n}\n", deep, layers);
      write_text(spec, text);
      snprintf(cmd, sizeof cmd, "'%s' gen '%s' --isa %s --compact --out '%s/shared_%s'", chainrule(), spec, isas[k],
               scratch, isas[k]);
      run_result r = run(cmd);
      ck_assert_msg(r.status == 0, "shared%d --isa %s: %s", deep, isas[k], r.out);
      snprintf(path, sizeof path, "%s/shared_%s/shared%d.c", scratch, isas[k], deep);
      char *c = read_text(path, &bytes[deep]);
      ck_assert_msg(c != NULL, "%s not written", path);
      tiles[deep] = count_tile_functions(c);
      free(c);
    }
    ck_assert_msg(tiles[0] > 0, "--isa %s --compact: no shared tile functions", isas[k]);
    ck_assert_msg(tiles[1] == tiles[0], "--isa %s --compact: %d tile functions for 16 layers, %d for 8", isas[k], tiles[1],
                  tiles[0]);
    /* 8 more layers: their loops and calls, not their tiles (about 30 KB each inline) */
    ck_assert_msg(bytes[1] < bytes[0] + 8 * 8000, "--isa %s --compact: 8 more layers took %zu bytes", isas[k],
                  bytes[1] - bytes[0]);
    const char *ccs[] = {"clang", "gcc"};
    const char *flags = k == 0 ? "-mavx2 -mfma" : "-mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma";
    for (int c = 0; c < 2; c++) {
      char cmd[2048];
      snprintf(cmd, sizeof cmd, "%s %s -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -c '%s/shared_%s/shared1.c' -o /dev/null",
               ccs[c], flags, scratch, isas[k]);
      run_result r = run(cmd);
      ck_assert_msg(r.status == 0 && r.out[0] == '\0', "shared1 --isa %s with %s: %s", isas[k], ccs[c], r.out);
    }
  }
}
END_TEST

/* ---------------------------------------------------------------- hostile paths (issue 11) */

/* A spec path with a double quote, a comment end, a trigraph that would end in a line
   splice, a backslash-newline and a "$(" is user text in NAME_cli.c (a string literal and a
   comment) and in the banners: the generated files must compile warning-free with clang and
   gcc, and the trainer must see exactly the bytes of its file name (a harness cr_trainer_main
   prints net->spec). */
START_TEST(test_hostile_spec_path) {
  char dir[600], path[700], out[600], cmd[4096], harness[700];
  snprintf(dir, sizeof dir, "%s/x\"y*", scratch);
  ck_assert_int_eq(mkdir(dir, 0777), 0);
  snprintf(dir, sizeof dir, "%s/x\"y*/w??", scratch);
  ck_assert_int_eq(mkdir(dir, 0777), 0);
  snprintf(path, sizeof path, "%s/b\\\n\t$(name) ?\?=.lua", dir);
  char *spec = read_text("specs/seed_mse.lua", NULL);
  ck_assert_ptr_nonnull(spec);
  write_text(path, spec);
  free(spec);
  snprintf(out, sizeof out, "%s/out", scratch);
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --cli --out '%s'", chainrule(), path, out);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "gen failed: %s", r.out);
  snprintf(harness, sizeof harness, "%s/harness.c", scratch);
  write_text(harness, "#include <stdio.h>\n#include \"cr_train.h\"\n"
                      "int cr_trainer_main(const cr_net *net, int argc, char **argv) {\n"
                      "  (void)argc, (void)argv;\n  fputs(net->spec, stdout);\n  return 0;\n}\n");
  const char *ccs[] = {"clang", "gcc"};
  for (int c = 0; c < 2; c++) {
    snprintf(cmd, sizeof cmd,
             "%s -std=c11 -Wall -Wextra -Wpedantic -Werror -O0 -Iruntime -Itrainer -I'%s' "
             "'%s/seed_mse_cli.c' '%s/seed_mse.c' '%s' -o '%s/prog' -lm && '%s/prog'",
             ccs[c], out, out, out, harness, out, out);
    r = run(cmd);
    const char *base = strrchr(path, '/') + 1;   /* NAME_cli.c names the spec by its file name */
    ck_assert_msg(r.status == 0 && strcmp(r.out, base) == 0,
                  "%s: status %d, the trainer sees '%s', the spec's file name is '%s'", ccs[c], r.status, r.out,
                  base);
  }
}
END_TEST

/* ---------------------------------------------------------------- inference weights (issue 10) */

/* The network of these tests: 3 -> linear(4) -> relu -> linear(2), cross-entropy. Its tensors in
   PyTorch's layout: 0.weight (4, 3), 0.bias (4,), 2.weight (2, 4), 2.bias (2,). */
#define W_SPEC "return network \"wnet\" { input = 3, layers = { linear(4), relu(), linear(2) }, " OK_REST "\n"
static const char *const W_NAMES[4] = {"0.weight", "0.bias", "2.weight", "2.bias"};
static const int W_ROWS[4] = {4, 1, 2, 1}, W_COLS[4] = {3, 4, 4, 2};   /* PyTorch [out][in] */

/* A .npy file of n little-endian values (float32 '<f4' or float64 '<f8') with a 1-d or 2-d shape. */
static void write_npy(const char *path, const char *descr, int d0, int d1, const double *v, int n) {
  char dict[200];
  if (d1 < 0) snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }", descr, d0);
  else snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }", descr, d0, d1);
  size_t len = strlen(dict), total = 10 + len + 1;
  size_t padded = (total + 63) / 64 * 64;
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  unsigned short hl = (unsigned short)(padded - 10);
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc(hl & 0xff, f), fputc(hl >> 8, f);
  fputs(dict, f);
  for (size_t i = total; i < padded; i++) fputc(' ', f);
  fputc('\n', f);
  for (int i = 0; i < n; i++) {
    if (descr[2] == '4') {
      float x = (float)v[i];
      fwrite(&x, 4, 1, f);
    } else {
      fwrite(&v[i], 8, 1, f);
    }
  }
  ck_assert_int_eq(fclose(f), 0);
}

/* DIR with the four tensors (values 0.01·k), optionally one replaced by `bad` at index `at`. */
static void write_weights_dir(const char *dir, int tensor, int at, double bad) {
  mkdir(dir, 0777);
  for (int t = 0; t < 4; t++) {
    double v[12];
    int n = W_ROWS[t] * W_COLS[t];
    for (int k = 0; k < n; k++) v[k] = 0.01 * (k + 1) * (t + 1);
    if (t == tensor) v[at] = bad;
    char path[700];
    snprintf(path, sizeof path, "%s/%s.npy", dir, W_NAMES[t]);
    if (W_ROWS[t] == 1) write_npy(path, "<f4", W_COLS[t], -1, v, n);
    else write_npy(path, "<f4", W_ROWS[t], W_COLS[t], v, n);
  }
}

static uint32_t crc32_of(uint32_t crc, const unsigned char *p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static void put_le(unsigned char *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A checkpoint in runtime/cr.h's layout, written independently of the runtime: network `net`,
   parts "params" (the floats given, packed in our [in][out] layout) and "norm" (mean, std).
   `shapes` is the "name:rows:cols;" text the shapes hash is taken of. */
static void write_ckpt(const char *path, const char *net, const char *shapes, const float *params, int count) {
  unsigned char h[8 + 4 + 4 + 64 + 8 + 8 + 4 + 4 + 2 * 40 + 16];
  memset(h, 0, sizeof h);
  float norm[2] = {0.5f, 2.0f};
  memcpy(h, "CRCKPT\r\n", 8);
  put_le(h + 8, 1, 4);
  put_le(h + 12, sizeof h, 4);
  memcpy(h + 16, net, strlen(net));
  put_le(h + 80, (uint64_t)count, 8);
  uint64_t fnv = 0xcbf29ce484222325ull;
  for (const char *c = shapes; *c; c++) fnv = (fnv ^ (unsigned char)*c) * 0x100000001b3ull;
  put_le(h + 88, fnv, 8);
  put_le(h + 96, 2, 4);
  memcpy(h + 104, "params", 6);
  put_le(h + 104 + 32, 4 * (uint64_t)count, 8);
  memcpy(h + 144, "norm", 4);
  put_le(h + 144 + 32, 8, 8);
  put_le(h + 184, 4 * (uint64_t)count + 8, 8);
  uint32_t crc = crc32_of(0, (const unsigned char *)params, 4 * (size_t)count);
  crc = crc32_of(crc, (const unsigned char *)norm, 8);
  put_le(h + 192, crc, 4);
  put_le(h + 196, crc32_of(0, h, 196), 4);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fwrite(h, 1, sizeof h, f);
  fwrite(params, 4, (size_t)count, f);
  fwrite(norm, 4, 2, f);
  ck_assert_int_eq(fclose(f), 0);
}

#define W_SHAPES "0.weight:3:4;0.bias:1:4;2.weight:4:2;2.bias:1:2;"

/* One bad --weights case: prepare (in the scratch directory), the arguments after the spec,
   the exact message with "{}" for the scratch directory. */
typedef struct {
  const char *name;
  void (*prepare)(void);
  const char *args;
  const char *message;
} weights_case;

static char wdir[600];
static void w_none(void) {}
static void w_dir_missing_tensor(void) {
  write_weights_dir(wdir, -1, 0, 0);
  char p[700];
  snprintf(p, sizeof p, "%s/2.bias.npy", wdir);
  unlink(p);
}
static void w_dir_nan(void) { write_weights_dir(wdir, 2, 5, NAN); }
static void w_dir_inf(void) { write_weights_dir(wdir, 1, 3, -INFINITY); }
static void w_dir_transposed(void) {
  write_weights_dir(wdir, -1, 0, 0);
  char p[700];
  double v[12] = {0};
  snprintf(p, sizeof p, "%s/0.weight.npy", wdir);
  write_npy(p, "<f4", 3, 4, v, 12);
}
static void w_dir_f64(void) {
  write_weights_dir(wdir, -1, 0, 0);
  char p[700];
  double v[4] = {0};
  snprintf(p, sizeof p, "%s/0.bias.npy", wdir);
  write_npy(p, "<f8", 4, -1, v, 4);
}
static void w_dir_truncated(void) {
  write_weights_dir(wdir, -1, 0, 0);
  char p[700];
  snprintf(p, sizeof p, "%s/2.weight.npy", wdir);
  ck_assert_int_eq(truncate(p, 128 + 20), 0);   /* a 128-byte header */
}
/* another network's bigger first weight (a file longer than this tensor's whole size) */
static void w_dir_bigger(void) {
  write_weights_dir(wdir, -1, 0, 0);
  static double v[200 * 100];
  char p[700];
  snprintf(p, sizeof p, "%s/0.weight.npy", wdir);
  write_npy(p, "<f4", 200, 100, v, 200 * 100);
}
/* a longer network's tensors beside this one's */
static void w_dir_extra(void) {
  write_weights_dir(wdir, -1, 0, 0);
  double v[6] = {0};
  char p[700];
  snprintf(p, sizeof p, "%s/4.weight.npy", wdir);
  write_npy(p, "<f4", 2, 3, v, 6);
}
/* the full directory for a spec whose first linear has no bias (bias = false): the spec
   beside wdir rewritten so */
static void w_dir_bias_dropped(void) {
  write_weights_dir(wdir, -1, 0, 0);
  char spec[700];
  snprintf(spec, sizeof spec, "%.*s/wnet.lua", (int)(strrchr(wdir, '/') - wdir), wdir);
  write_text(spec, "return network \"wnet\" { input = 3, layers = { linear(4, {bias = false}), relu(), linear(2) }, "
             OK_REST "\n");
}
static float w_params[26];
static void w_fill(void) {
  for (int k = 0; k < 26; k++) w_params[k] = 0.25f * (float)(k - 11);
}
static void w_ckpt_other_net(void) {
  w_fill();
  write_ckpt(wdir, "xor", W_SHAPES, w_params, 26);
}
static void w_ckpt_other_shapes(void) {
  w_fill();
  write_ckpt(wdir, "wnet", "0.weight:4:3;0.bias:1:3;2.weight:3:2;2.bias:1:3;", w_params, 26);
}
static void w_ckpt_inf(void) {
  w_fill();
  w_params[7] = INFINITY;
  write_ckpt(wdir, "wnet", W_SHAPES, w_params, 26);
}
static void w_ckpt_flipped(void) {
  w_fill();
  write_ckpt(wdir, "wnet", W_SHAPES, w_params, 26);
  FILE *f = fopen(wdir, "r+b");
  ck_assert_ptr_nonnull(f);
  fseek(f, 200 + 9, SEEK_SET);
  fputc(0x55, f);
  fclose(f);
}
static void w_ckpt_truncated(void) {
  w_fill();
  write_ckpt(wdir, "wnet", W_SHAPES, w_params, 26);
  ck_assert_int_eq(truncate(wdir, 150), 0);
}
static void w_not_weights(void) { write_text(wdir, "hello\n"); }
static void w_fifo(void) { ck_assert_int_eq(mkfifo(wdir, 0600), 0); }

static const weights_case WEIGHTS_BAD[] = {
  {"missing", w_none, "--inference --weights {}", "{}: cannot read weights: No such file or directory"},
  {"not_weights", w_not_weights, "--inference --weights {}", "{}: not a chainrule checkpoint nor a directory of .npy files"},
  {"fifo", w_fifo, "--inference --weights {}",
   "{}: cannot read weights: is a FIFO, not a regular file (readers take regular files only)"},
  {"device", w_none, "--inference --weights /dev/zero",
   "/dev/zero: cannot read weights: is a character device, not a regular file (readers take regular files only)"},
  {"dir_missing_tensor", w_dir_missing_tensor, "--inference --weights {}",
   "{}/2.bias.npy: cannot read: No such file or directory (layer 2 made without a bias? then its spec says {bias = "
   "false})"},
  {"dir_nan", w_dir_nan, "--inference --weights {}", "{}/2.weight.npy: element [1][1] is NaN"},
  {"dir_inf", w_dir_inf, "--inference --weights {}", "{}/0.bias.npy: element [3] is -Inf"},
  {"dir_transposed", w_dir_transposed, "--inference --weights {}",
   "{}/0.weight.npy: expected float32 '<f4' of shape (4, 3) (nn.Linear weight [out][in]), got '<f4' of shape (3, 4)"},
  {"dir_f64", w_dir_f64, "--inference --weights {}",
   "{}/0.bias.npy: expected float32 '<f4' of shape (4,) (nn.Linear bias [out]), got '<f8' of shape (4,)"},
  {"dir_bigger", w_dir_bigger, "--inference --weights {}",
   "{}/0.weight.npy: expected float32 '<f4' of shape (4, 3) (nn.Linear weight [out][in]), got '<f4' of shape (200, 100)"},
  {"dir_extra", w_dir_extra, "--inference --weights {}",
   "{}/4.weight.npy: not a tensor of wnet (its tensors: 0.weight, 0.bias, 2.weight, 2.bias, and norm.npy): weights of another network?"},
  {"dir_bias_dropped", w_dir_bias_dropped, "--inference --weights {}",
   "{}/0.bias.npy: layer 0 of wnet has no bias (bias = false in its spec): weights of a network with one?"},
  {"dir_truncated", w_dir_truncated, "--inference --weights {}", "{}/2.weight.npy: holds 20 data bytes, shape (2, 4) needs 32"},
  {"ckpt_other_net", w_ckpt_other_net, "--inference --weights {}",
   "{}: checkpoint is for network 'xor', the spec describes 'wnet'"},
  {"ckpt_other_shapes", w_ckpt_other_shapes, "--inference --weights {}",
   "{}: checkpoint's parameter shapes differ from the spec's (26 vs 26 parameters)"},
  {"ckpt_inf", w_ckpt_inf, "--inference --weights {}",
   "{}: tensor '0.weight' element [1][3] (ours, [in][out]) is +Inf"},
  {"ckpt_flipped", w_ckpt_flipped, "--inference --weights {}", "{}: checkpoint payload corrupt (CRC32 mismatch)"},
  {"ckpt_truncated", w_ckpt_truncated, "--inference --weights {}", "{}: checkpoint truncated (150 bytes, header is 200)"},
  {"weights_without_inference", w_none, "--weights {}", "chainrule: --weights needs --inference"},
  {"max_batch_without_inference", w_none, "--max-batch 4", "chainrule: --max-batch needs --inference"},
  {"max_batch_zero", w_none, "--inference --max-batch 0", "chainrule: --max-batch: expected an integer from 1 to 65536, got '0'"},
  {"max_batch_word", w_none, "--inference --max-batch ten", "chainrule: --max-batch: expected an integer from 1 to 65536, got 'ten'"},
  {"max_batch_huge", w_none, "--inference --max-batch 65537",
   "chainrule: --max-batch: expected an integer from 1 to 65536, got '65537'"},
  {"inference_cli", w_none, "--inference --cli", "chainrule: --cli writes a trainer; it cannot be combined with --inference"},
};

START_TEST(test_bad_weights) {
  const weights_case *c = &WEIGHTS_BAD[_i];
  char spec[600], out[600], cmd[4096], args[1024], expected[2048];
  snprintf(spec, sizeof spec, "%s/wnet.lua", scratch);
  write_text(spec, W_SPEC);
  snprintf(wdir, sizeof wdir, "%s/w", scratch);
  snprintf(out, sizeof out, "%s/out", scratch);
  c->prepare();
  /* "{}" -> the weights path, in the arguments and in the message */
  const char *b = strstr(c->args, "{}");
  if (b) snprintf(args, sizeof args, "%.*s%s%s", (int)(b - c->args), c->args, wdir, b + 2);
  else snprintf(args, sizeof args, "%s", c->args);
  b = strstr(c->message, "{}");
  if (b) snprintf(expected, sizeof expected, "%.*s%s%s\n", (int)(b - c->message), c->message, wdir, b + 2);
  else snprintf(expected, sizeof expected, "%s\n", c->message);
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --out '%s' %s", chainrule(), spec, out, args);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 2, "%s: expected exit status 2, got %d (%s)", c->name, r.status, r.out);
  ck_assert_msg(strcmp(r.out, expected) == 0, "%s:\n expected: %s got:      %s", c->name, expected, r.out);
  ck_assert_msg(dir_is_empty_or_missing(out), "%s: files were written to %s", c->name, out);
}
END_TEST

/* Good weights: the same floats from a directory and from a checkpoint give the same
   NAME_weights initializer; the generated pair compiles warning-free with both compilers. */
START_TEST(test_good_weights) {
  char spec[600], cmd[4096];
  snprintf(spec, sizeof spec, "%s/wnet.lua", scratch);
  write_text(spec, W_SPEC);
  snprintf(wdir, sizeof wdir, "%s/w", scratch);
  write_weights_dir(wdir, -1, 0, 0);
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --inference --weights '%s' --max-batch 3 --out '%s/a' --depfile '%s/w.d'",
           chainrule(), spec, wdir, scratch, scratch);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "gen --inference --weights DIR: %s", r.out);
  ck_assert_msg(!strstr(r.out, "note:"), "a note at --max-batch 3: %s", r.out);
  /* past 1 MB of stack (NAME_predict keeps NAME_work there): a note on what to do */
  char big[4096];
  snprintf(big, sizeof big, "'%s' gen '%s' --inference --weights '%s' --max-batch 65536 --out '%s/big'", chainrule(),
           spec, wdir, scratch);
  run_result rb = run(big);
  ck_assert_msg(rb.status == 0 && strstr(rb.out, "chainrule: note: wnet_predict needs up to ") &&
                    strstr(rb.out, " bytes of stack, most of it the wnet_work it keeps there: call wnet_predict_with "
                                   "with a wnet_work of your own (static or malloc'ed), or give a smaller --max-batch\n"),
                "%s: %s", big, rb.out);
  /* the depfile names each .npy file read (and no norm.npy: the directory has none) */
  char dpath[700], want[700];
  snprintf(dpath, sizeof dpath, "%s/w.d", scratch);
  char *dep = read_text(dpath, NULL);
  ck_assert_ptr_nonnull(dep);
  for (int t = 0; t < 4; t++) {
    snprintf(want, sizeof want, " %s/%s.npy ", wdir, W_NAMES[t]);
    ck_assert_msg(strstr(dep, want) != NULL, "depfile lacks%s:\n%s", want, dep);
  }
  ck_assert_msg(strstr(dep, "norm.npy") == NULL, "depfile names a norm.npy that does not exist:\n%s", dep);
  free(dep);
  /* the checkpoint of the same floats in our [in][out] layout */
  float ours[26];
  int k = 0;
  for (int t = 0; t < 4; t++)
    for (int i = 0; i < W_COLS[t]; i++)       /* in */
      for (int o = 0; o < W_ROWS[t]; o++)     /* out */
        ours[k++] = (float)(0.01 * (o * W_COLS[t] + i + 1) * (t + 1));
  snprintf(wdir, sizeof wdir, "%s/w.ckpt", scratch);
  write_ckpt(wdir, "wnet", W_SHAPES, ours, 26);
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --inference --weights '%s' --max-batch 3 --out '%s/b'", chainrule(), spec,
           wdir, scratch);
  r = run(cmd);
  ck_assert_msg(r.status == 0, "gen --inference --weights CKPT: %s", r.out);
  char pa[700], pb[700];
  snprintf(pa, sizeof pa, "%s/a/wnet.c", scratch);
  snprintf(pb, sizeof pb, "%s/b/wnet.c", scratch);
  char *a = read_text(pa, NULL), *bt = read_text(pb, NULL);
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(bt);
  const char *wa = strstr(a, "const wnet_params wnet_weights = {"), *wb = strstr(bt, "const wnet_params wnet_weights = {");
  ck_assert_msg(wa && wb, "no wnet_weights initializer");
  ck_assert_msg(strncmp(wa, wb, (size_t)(strstr(wa, "};") - wa)) == 0, "directory and checkpoint give different weights");
  ck_assert_msg(strstr(a, "#include <math.h>") == NULL, "an inference build of linear/relu includes math.h");
  ck_assert_msg(strstr(a, "_backward") == NULL && strstr(a, "_step") == NULL, "an inference build has a backward or step");
  free(a);
  free(bt);
  /* a checkpoint from a trainer generated with --name wren: accepted with --name wren */
  snprintf(wdir, sizeof wdir, "%s/wren.ckpt", scratch);
  write_ckpt(wdir, "wren", W_SHAPES, ours, 26);
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --inference --name wren --weights '%s' --out '%s/c'", chainrule(), spec,
           wdir, scratch);
  r = run(cmd);
  ck_assert_msg(r.status == 0, "gen --inference --name wren --weights (a wren checkpoint): %s", r.out);
  snprintf(pb, sizeof pb, "%s/b/wnet.h", scratch);
  char *h = read_text(pb, NULL);
  ck_assert_int_eq(macro_value(h, "WNET_BATCH"), 3);
  ck_assert_int_eq(macro_value(h, "WNET_INFERENCE"), 1);
  ck_assert_msg(strstr(h, "WNET_NORM_MEAN") && strstr(h, " 0.5f ") && strstr(h, " 2.0f "),
                "checkpoint normalisation not in the header:\n%s", h);
  free(h);
  const char *ccs[] = {"clang", "gcc"};
  for (int c = 0; c < 2; c++) {
    snprintf(cmd, sizeof cmd, "%s -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -c '%s/a/wnet.c' -o /dev/null", ccs[c], scratch);
    r = run(cmd);
    ck_assert_msg(r.status == 0 && r.out[0] == '\0', "wnet.c (inference) with %s: %s", ccs[c], r.out);
  }
}
END_TEST

/* The outputs are written as one step through the runtime's writer policy: under a
   file-size limit that lets NAME.h through but not NAME.c, gen fails with one line (SIGXFSZ
   is ignored, so it is a write error, not a kill), and both old files stay as they were
   (never a new .h next to an old .c), with no temporary left. A symlinked output keeps its
   link; symlinks planted at the old predictable temporary names (NAME.c.tmp) are not
   followed; two gen runs into one folder at once both succeed. */
START_TEST(test_gen_writes_all_or_nothing) {
  char cmd[4096], dir[600], spec2[600], path[700];
  snprintf(dir, sizeof dir, "%s/out", scratch);
  snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_mlp.lua --isa avx512 --out '%s'", chainrule(), dir);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "%s", r.out);
  snprintf(path, sizeof path, "%s/mnist_mlp.h", dir);
  size_t h_old_len, c_old_len;
  char *h_old = read_text(path, &h_old_len);
  snprintf(path, sizeof path, "%s/mnist_mlp.c", dir);
  char *c_old = read_text(path, &c_old_len);
  /* a limit the .h fits under and the .c does not, whether the shell counts ulimit -f in
     512-byte blocks (POSIX, dash) or in KiB (bash) */
  size_t limit = 32;
  ck_assert_msg(h_old_len + 1024 < limit * 512 && limit * 1024 + 1024 < c_old_len,
                "sizes %zu %zu no longer fit ulimit -f %zu", h_old_len, c_old_len, limit);
  /* the same network with another batch: both files change */
  char *spec = read_text("specs/mnist_mlp.lua", NULL);
  char *at = strstr(spec, "batch  = 64");
  ck_assert_msg(at != NULL, "specs/mnist_mlp.lua has no 'batch  = 64'");
  memcpy(at, "batch  = 32", 11);
  snprintf(spec2, sizeof spec2, "%s/mnist_mlp.lua", scratch);
  write_text(spec2, spec);
  free(spec);
  snprintf(cmd, sizeof cmd, "ulimit -f %zu; exec '%s' gen '%s' --isa avx512 --out '%s'", limit, chainrule(),
           spec2, dir);
  r = run(cmd);
  ck_assert_msg(r.status == 2 && strstr(r.out, "mnist_mlp.c: write failed: File too large") &&
                strchr(r.out, '\n') == r.out + strlen(r.out) - 1,
                "status %d: %s", r.status, r.out);
  size_t len;
  snprintf(path, sizeof path, "%s/mnist_mlp.h", dir);
  char *h_now = read_text(path, &len);
  ck_assert_msg(len == h_old_len && memcmp(h_now, h_old, len) == 0, "a new .h was left next to the old .c");
  snprintf(path, sizeof path, "%s/mnist_mlp.c", dir);
  char *c_now = read_text(path, &len);
  ck_assert_msg(len == c_old_len && memcmp(c_now, c_old, len) == 0, "the old .c changed");
  free(h_now), free(c_now), free(h_old), free(c_old);
  snprintf(cmd, sizeof cmd, "ls -A '%s'", dir);
  r = run(cmd);
  ck_assert_str_eq(r.out, "mnist_mlp.c\nmnist_mlp.h\n");
  /* into directories the run makes: a failed write takes them away again */
  snprintf(cmd, sizeof cmd, "ulimit -f %zu; exec '%s' gen '%s' --isa avx512 --out '%s/new/deep'", limit, chainrule(),
           spec2, dir);
  r = run(cmd);
  ck_assert_msg(r.status == 2 && strstr(r.out, "write failed: File too large"), "status %d: %s", r.status, r.out);
  snprintf(path, sizeof path, "%s/new", dir);
  ck_assert_msg(access(path, F_OK) != 0, "a failed gen left the directory %s it made", path);
  /* symlinked output, planted symlinks at the old temporary names */
  snprintf(cmd, sizeof cmd,
           "cd '%s' && mkdir real && mv mnist_mlp.h real/ && ln -s real/mnist_mlp.h mnist_mlp.h && "
           "echo precious > victim && ln -s victim mnist_mlp.c.tmp && ln -s victim mnist_mlp.h.tmp",
           dir);
  ck_assert_int_eq(run(cmd).status, 0);
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --isa avx512 --out '%s'", chainrule(), spec2, dir);
  r = run(cmd);
  ck_assert_msg(r.status == 0, "%s", r.out);
  snprintf(cmd, sizeof cmd, "cd '%s' && test -L mnist_mlp.h && grep -Eq 'MNIST_MLP_BATCH +32' real/mnist_mlp.h && "
           "grep -q 'batch 32,' mnist_mlp.c && test \"$(cat victim)\" = precious && ls -A | tr '\\n' ' '",
           dir);
  r = run(cmd);
  ck_assert_msg(r.status == 0 && strcmp(r.out, "mnist_mlp.c mnist_mlp.c.tmp mnist_mlp.h mnist_mlp.h.tmp real victim ") == 0,
                "after gen through a symlink: %d '%s'", r.status, r.out);
  /* two runs into one folder at the same time */
  snprintf(cmd, sizeof cmd,
           "cd '%s' && rm -rf two && for i in 1 2 3 4; do '%s' gen specs/mnist_mlp.lua --isa avx512 --out '%s/two' "
           ">/dev/null & '%s' gen '%s' --isa avx512 --out '%s/two' >/dev/null & wait; done; ls -A '%s/two'",
           getcwd(path, sizeof path), chainrule(), dir, chainrule(), spec2, dir, dir);
  r = run(cmd);
  ck_assert_msg(r.status == 0 && strcmp(r.out, "mnist_mlp.c\nmnist_mlp.h\n") == 0, "concurrent gens: %s", r.out);
}
END_TEST

/* Hostile specs (issue 11): every step (read, compile, validate, suggest) is bounded and
   every message is one line in the spec's terms: no traceback, no generator file or wrapper
   names. The texts are built here (they are large). */
static char *repeat(const char *head, const char *unit, int n, const char *tail) {
  size_t len = strlen(head) + strlen(unit) * (size_t)n + strlen(tail) + 1;
  char *t = malloc(len), *p = t;
  ck_assert_ptr_nonnull(t);
  p += sprintf(p, "%s", head);
  for (int i = 0; i < n; i++) p += sprintf(p, "%s", unit);
  sprintf(p, "%s", tail);
  return t;
}

START_TEST(test_hostile_specs) {
  char *deep = repeat("return ", "{", 300, "");
  char *deep2 = repeat(deep, "}", 300, "\n");
  char *concat = repeat("local s = \"a\"\nreturn network \"x\" { input = 2, layers = { linear(2) }, "
                        "loss = \"mse\"", " .. s", 100000, ", optimizer = sgd{lr = 0.1} }\n");
  char *calls = repeat("return ", "tostring(", 300, "1");
  char *calls2 = repeat(calls, ")", 300, "\n");
  const spec_case cases[] = {
    {"deep_tables", deep2, "{}: syntax error: the spec nests too deeply (C stack overflow)"},
    {"long_concat", concat, "{}: syntax error: the spec nests too deeply (C stack overflow)"},
    {"deep_calls", calls2, "{}: syntax error: the spec nests too deeply (C stack overflow)"},
    {"table_move_bad_arg", "local t = {}\ntable.move(t, 1, 3, \"x\")\n",
     "{}:2: bad argument #4 to 'move' (number expected, got string)"},
    {"table_insert_bad_arg", "table.insert(nil, 1)\n",
     "{}:1: bad argument #1 to 'insert' (table expected, got nil)"},
    {"returns_env", "local e = _ENV\nreturn e\n",
     "{}: a spec must return network \"name\" { ... }, got a table"},
    {"returns_emptied_env", "local e = _ENV\nfor k in pairs(e) do e[k] = nil end\nreturn e\n",
     "{}: a spec must return network \"name\" { ... }, got a table"},
    /* the sandbox environment as the network's body: validation's lookups once hit its
       "unknown name" handler and named a line of gen/spec.lua ("x.lua:553") */
    {"env_as_body", "local e, n = _ENV, network\nfor k in pairs(e) do e[k] = nil end\n\nreturn n \"x\" (e)\n",
     "{}:4: network: missing field 'input'"},
    {"many_layer_keys", "local t = { linear(2) }\nfor i = 1, 5000 do t[\"k\" .. i] = i end\n"
     "return network \"x\" {\n  input = 2, layers = t, loss = \"mse\", optimizer = sgd{lr = 0.1} }\n",
     "{}:4: layers: more than 1000 entries (at most 256 layers)"},
    {"many_fields", "local b = { input = 2, layers = { linear(2) }, loss = \"mse\", optimizer = sgd{lr = 0.1} }\n"
     "for i = 1, 5000 do b[\"f\" .. i] = i end\nreturn network \"x\" (b)\n",
     "{}:3: network: more than 1000 fields (a network has 8)"},
  };
  for (int i = 0; i < COUNT(cases); i++) check_bad_spec(&cases[i], LIMIT_SECONDS);
  free(deep), free(deep2), free(concat), free(calls), free(calls2);
}
END_TEST

/* "Did you mean" on a multi-megabyte string (unknown loss, field, isa, option) is not
   computed (the edit distance is quadratic): one line, at once. */
START_TEST(test_hostile_suggestions) {
  const char *where[] = {
    "return network \"x\" { input = 2, layers = { linear(1) }, loss = s, optimizer = sgd{lr = 0.1} }\n",
    "return network \"x\" { input = 2, layers = { linear(1) }, loss = \"mse\", optimizer = sgd{lr = 0.1}, [s] = 1 }\n",
    "return network \"x\" { input = 2, layers = { linear(1) }, loss = \"mse\", optimizer = sgd{lr = 0.1}, isa = s }\n",
    "return network \"x\" { input = 2, layers = { linear(1) }, loss = \"mse\", optimizer = sgd{lr = 0.1, [s] = 1} }\n",
  };
  const char *want[] = {"loss: unknown loss 'xxxx", "network: unknown field 'xxxx", "isa: unknown isa 'xxxx",
                        "optimizer: sgd has no option 'xxxx"};
  for (int i = 0; i < COUNT(where); i++) {
    char path[512], text[512], cmd[2048], prefix[600];
    snprintf(path, sizeof path, "%s/suggest%d.lua", scratch, i);
    snprintf(text, sizeof text, "local s = string.rep(\"x\", 4000000)\n%s", where[i]);
    write_text(path, text);
    snprintf(cmd, sizeof cmd, "'%s' gen '%s' --out '%s/out'", chainrule(), path, scratch);
    run_result r = run(cmd);
    snprintf(prefix, sizeof prefix, "%s:2: %s", path, want[i]);
    ck_assert_msg(r.status == 2 && strncmp(r.out, prefix, strlen(prefix)) == 0 &&
                  strchr(r.out, '\n') == r.out + strlen(r.out) - 1 && strlen(r.out) < 1000,
                  "case %d: status %d: %.300s", i, r.status, r.out);
    ck_assert_msg(r.seconds < LIMIT_SECONDS, "case %d took %.2f s", i, r.seconds);
  }
}
END_TEST

/* The spec file itself: read with the reader policy and a size limit before anything is
   compiled (a 100 MB spec, /dev/zero, a FIFO and a directory are one line each, at once);
   a UTF-8 BOM and a shebang line are accepted as lua accepts them, giving the same files. */
START_TEST(test_hostile_spec_files) {
  char big[512], fifo[512], cmd[2048], want[700];
  snprintf(big, sizeof big, "%s/big.lua", scratch);
  int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(ftruncate(fd, 100 << 20), 0);
  close(fd);
  snprintf(fifo, sizeof fifo, "%s/fifo.lua", scratch);
  ck_assert_int_eq(mkfifo(fifo, 0600), 0);
  const char *paths[] = {big, "/dev/zero", fifo, scratch};
  const char *msgs[] = {": spec is larger than 1024 KB (a spec only describes a network)\n",
                        ": is a character device, not a regular file (readers take regular files only)\n",
                        ": is a FIFO, not a regular file (readers take regular files only)\n",
                        ": is a directory, not a regular file (readers take regular files only)\n"};
  for (int i = 0; i < COUNT(paths); i++) {
    snprintf(cmd, sizeof cmd, "timeout 20 '%s' gen '%s' --out '%s/out'", chainrule(), paths[i], scratch);
    run_result r = run(cmd);
    snprintf(want, sizeof want, "%s%s", paths[i], msgs[i]);
    ck_assert_msg(r.status == 2 && strcmp(r.out, want) == 0, "%s: status %d: %s", paths[i], r.status, r.out);
    ck_assert_msg(r.seconds < LIMIT_SECONDS, "%s took %.2f s", paths[i], r.seconds);
  }
  char *spec = read_text("specs/seed_mse.lua", NULL);
  const char *heads[] = {"", "\xef\xbb\xbf", "#!/usr/bin/env chainrule\n", "\xef\xbb\xbf#!x\n"};
  char *first_c = NULL;
  for (int i = 0; i < COUNT(heads); i++) {
    char path[512], out[512], cpath[600];
    snprintf(path, sizeof path, "%s/seed_mse.lua", scratch);
    char *text = malloc(strlen(spec) + 64);
    sprintf(text, "%s%s", heads[i], spec);
    write_text(path, text);
    free(text);
    snprintf(out, sizeof out, "%s/o%d", scratch, i);
    snprintf(cmd, sizeof cmd, "'%s' gen '%s' --out '%s'", chainrule(), path, out);
    run_result r = run(cmd);
    ck_assert_msg(r.status == 0, "head %d: %s", i, r.out);
    snprintf(cpath, sizeof cpath, "%s/seed_mse.c", out);
    char *c = read_text(cpath, NULL);
    ck_assert_ptr_nonnull(c);
    /* the shebang line is blanked, not removed: the code is the same, only line numbers in
       messages could differ */
    if (!first_c) first_c = c;
    else {
      ck_assert_msg(strcmp(c, first_c) == 0, "head %d: other code", i);
      free(c);
    }
  }
  free(first_c);
  free(spec);
}
END_TEST


/* ---------------------------------------------------------------- tune files */

/* A bad tune file (text written to scratch/t.tune; "{}" in the message stands for its path)
   and the exact line gen must print: status 2, nothing written. */
typedef struct {
  const char *name, *text, *message;
} tune_case;

#define TH "chainrule-tune 1\nisa avx2\n"
static const tune_case TUNE_BAD[] = {
  {"empty", "", "{}: empty: expected 'chainrule-tune 1' (a file written by chainrule tune)"},
  {"comments_only", "# nothing\n\n", "{}: empty: expected 'chainrule-tune 1' (a file written by chainrule tune)"},
  {"other_version", "chainrule-tune 2\n", "{}:1: expected 'chainrule-tune 1' (the first line of a file written by chainrule tune)"},
  {"lua_table", "return { xw = {} }\n", "{}:1: expected 'chainrule-tune 1' (the first line of a file written by chainrule tune)"},
  {"no_isa", "chainrule-tune 1\n", "{}: no 'isa' line"},
  {"isa_typo", "chainrule-tune 1\nisa avx3\n",
   "{}:2: isa 'avx3' (did you mean 'avx2'?): expected one of sse2, avx2, avx512, neon (the ISAs with tiled kernels)"},
  {"isa_scalar", "chainrule-tune 1\nisa scalar\n",
   "{}:2: isa 'scalar': expected one of sse2, avx2, avx512, neon (the ISAs with tiled kernels)"},
  {"two_isas", TH "isa avx2\n", "{}:3: a second 'isa' line (one ISA per tune file)"},
  {"entry_before_isa", "chainrule-tune 1\nxw 784 50 64 vecs=2\n", "{}:2: the 'isa' line must come before the entries"},
  {"unknown_line", TH "frob 1\n", "{}:3: unknown line 'frob' (expected isa, cpu or a product: xw, gwt, xtg, stream, conv)"},
  {"conv_few_words", TH "conv 6 14 14 16 5 1 0 64\n", "{}:3: conv: expected 'conv C H W O K S P BATCH key=value ...'"},
  {"conv_zero_channels", TH "conv 0 14 14 16 5 1 0 64 dx=dense\n", "{}:3: conv: C must be an integer from 1 to 16777216, got '0'"},
  {"conv_negative_padding", TH "conv 6 14 14 16 5 1 -1 64 dx=dense\n", "{}:3: conv: P must be an integer from 0 to 16777216, got '-1'"},
  {"conv_unknown_key", TH "conv 6 14 14 16 5 1 0 64 dw=sparse\n", "{}:3: conv: unknown key 'dw' (did you mean 'dx'?) (one of dx, wgrad)"},
  {"conv_bad_word", TH "conv 6 14 14 16 5 1 0 64 dx=sparce\n", "{}:3: conv: dx=sparce: expected dense or sparse"},
  {"conv_kernel_9", TH "conv 6 14 14 16 9 1 0 64 wgrad=sparse\n", "{}:3: conv: kernel 9: the sparse forms take kernels of at most 8"},
  {"conv_twice", TH "conv 6 14 14 16 5 1 0 64 dx=dense\nconv 6 14 14 16 5 1 0 64 wgrad=dense\n",
   "{}:4: conv 6 14 14 16 5 1 0 64: given twice (first at line 3)"},
  {"unknown_key", TH "xw 784 50 64 vecz=2\n", "{}:3: xw: unknown key 'vecz' (did you mean 'vecs'?) (one of fill, kc, mc, order, pack, pf, spread, vecs)"},
  {"key_for_other_product", TH "xtg 784 50 64 kc=8\n", "{}:3: xtg: unknown key 'kc' (did you mean 'jc'?) (one of jc, nc, pack, pf, rows, sparse, update, vecs, xq)"},
  {"xtg_pack_partial_vectors", TH "xtg 784 50 64 pack=yes\n", "{}:3: xtg 784x50 B=64: pack=yes: N=50 is not a whole number of 8-float vectors"},
  {"xtg_pack_partial_tiles", TH "xtg 784 200 64 pack=yes vecs=2 jc=100\n", "{}:3: xtg 784x200 B=64: pack=yes: jc=100 must be a multiple of vecs x 8 = 16, or N=200"},
  {"xtg_pack_too_big", TH "xtg 784 1024 256 pack=yes jc=1024 nc=256\n", "{}:3: xtg 784x1024 B=256: jc=1024 x nc=256: the packed block of g would take 1048576 bytes of stack (at most 131072)"},
  {"xtg_update_word", TH "xtg 784 50 64 update=later\n", "{}:3: xtg: update=later: expected tiles or after"},
  {"xtg_update_packed", TH "xtg 784 1024 64 pack=yes update=after\n", "{}:3: xtg 784x1024 B=64: update=after needs pack=no"},
  {"xtg_rows_big", TH "xtg 784 50 64 rows=7\n", "{}:3: xtg 784x50 B=64: rows=7: expected an integer from 1 to 6"},
  {"not_key_value", TH "xw 784 50 64 vecs\n", "{}:3: xw: expected key=value, got 'vecs'"},
  {"key_twice", TH "xw 784 50 64 vecs=2 vecs=3\n", "{}:3: xw: key 'vecs' given twice"},
  {"too_many_vecs", TH "xw 784 50 64 vecs=99\n", "{}:3: xw 784x50 B=64: vecs=99: expected an integer from 1 to 12"},
  {"zero_vecs", TH "xtg 784 50 64 vecs=0\n", "{}:3: xtg: vecs=0: expected a positive integer"},
  {"negative", TH "xtg 784 50 64 vecs=-1\n", "{}:3: xtg: vecs=-1: expected a positive integer"},
  {"bad_word", TH "xw 784 50 64 pack=maybe\n", "{}:3: xw: pack=maybe: expected no or yes"},
  {"pack_rows", TH "xw 784 50 64 order=rows pack=yes\n", "{}:3: xw 784x50 B=64: pack=yes needs order=columns or depth"},
  {"mc_negative", TH "xw 784 256 256 mc=-1\n", "{}:3: xw: mc=-1: expected a non-negative integer"},
  {"mc_rows", TH "xw 784 256 256 order=columns mc=20\n", "{}:3: xw 784x256 B=256: mc=20: expected the batch 256 or a multiple of the tile's 6 rows"},
  {"mc_unpacked", TH "xw 784 256 256 pack=no order=columns mc=6\n", "{}:3: xw 784x256 B=256: mc=6 needs pack=yes"},
  /* (mc alone implies order=columns: only an explicit other order conflicts) */
  {"mc_depth", TH "xw 784 256 256 order=depth mc=6\n", "{}:3: xw 784x256 B=256: mc=6 needs order=columns"},
  {"spread_not_pow2", TH "xw 784 1024 64 spread=6\n", "{}:3: xw 784x1024 B=64: spread=6: expected 0 or a power of two"},
  {"spread_too_big", TH "xw 784 1024 64 spread=128\n", "{}:3: xw 784x1024 B=64: spread=128: expected an integer from 0 to 64"},
  {"spread_fill_loop", TH "xw 784 1024 64 spread=8 fill=loop\n",
   "{}:3: xw 784x1024 B=64: spread=8 needs order=columns pack=yes fill=tile mc=0"},
  {"xq_unpacked", TH "xtg 784 1024 64 pack=no xq=yes\n", "{}:3: xtg 784x1024 B=64: xq=yes needs pack=yes"},
  {"kc_too_big", TH "xw 784 50 64 kc=785\n", "{}:3: xw 784x50 B=64: kc=785: expected an integer from 1 to 784"},
  {"jc_not_multiple", TH "gwt 50 10 64 jc=7\n", "{}:3: gwt 50x10 B=64: jc=7: expected a multiple of 8 or a divisor of 10"},
  {"gwt_stack", TH "gwt 256 1024 64 vecs=6 jc=1024\n",
   "{}:3: gwt 256x1024 B=64: jc=1024 x vecs=6: the transposed block would take 196608 bytes of stack (at most 131072)"},
  {"bad_sizes", TH "xw 0 50 64\n", "{}:3: xw: K, N and BATCH must be integers from 1 to 16777216, got '0 50 64'"},
  {"few_words", TH "gwt 50 10\n", "{}:3: gwt: expected 'gwt K N BATCH key=value ...'"},
  {"entry_twice", TH "xtg 784 50 64 vecs=1\nxtg 784 50 64 vecs=2\n", "{}:4: xtg 784 50 64: given twice (first at line 3)"},
  {"xw_batch1", TH "xw 784 50 1 vecs=2\n", "{}:3: xw: at batch 1 the forward is the stream (use a 'stream' entry)"},
  {"stream_batch", TH "stream 784 256 4 kind=rows\n", "{}:3: stream: the batch-1 forward: BATCH must be 1, got 4"},
  {"stream_no_kind", TH "stream 784 256 1 rows=4\n", "{}:3: stream: kind= is required (flat, regs or rows)"},
  {"stream_regs_wide", TH "stream 784 256 1 kind=regs\n", "{}:3: stream 784x256 B=1: kind=regs does not suit 784x256 on avx2"},
  {"stream_sets_rows", TH "stream 784 256 1 kind=rows sets=2\n", "{}:3: stream: sets= is for kind=regs"},
  {"stream_rows_big", TH "stream 784 256 1 kind=rows rows=65\n", "{}:3: stream 784x256 B=1: rows=65: expected an integer from 1 to 64"},
  {"stream_vecs_flat", TH "stream 784 256 1 kind=flat vecs=2\n", "{}:3: stream: vecs= is for kind=rows"},
  {"stream_vecs_big", TH "stream 784 256 1 kind=rows vecs=5\n", "{}:3: stream 784x256 B=1: vecs=5: expected an integer from 1 to 4"},
  {"control_byte", "chainrule-tune 1\nisa avx2\001\n", "{}:2: unexpected byte 0x01 (a tune file is plain ASCII text)"},
  {"other_isa", "chainrule-tune 1\nisa avx512\n", "{}: tuned for avx512, but generating for avx2 (run chainrule tune --isa avx2)"},
};

START_TEST(test_bad_tune) {
  const tune_case *c = &TUNE_BAD[_i];
  char path[600], out[600], cmd[2048], want[1024];
  snprintf(path, sizeof path, "%s/t.tune", scratch);
  snprintf(out, sizeof out, "%s/out", scratch);
  write_text(path, c->text);
  snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_mlp.lua --isa avx2 --tune '%s' --out '%s'", chainrule(), path, out);
  run_result r = run(cmd);
  /* "{}" -> the path */
  const char *at = strstr(c->message, "{}");
  ck_assert_ptr_nonnull(at);
  snprintf(want, sizeof want, "%.*s%s%s\n", (int)(at - c->message), c->message, path, at + 2);
  ck_assert_msg(r.status == 2, "%s: expected status 2, got %d (%s)", c->name, r.status, r.out);
  ck_assert_msg(strcmp(r.out, want) == 0, "%s: expected %s got %s", c->name, want, r.out);
  ck_assert_msg(dir_is_empty_or_missing(out), "%s: gen wrote files", c->name);
}
END_TEST

/* A conv2d entry of a tune file picks the forms of a layer's dW and dx (gen/kernels/convtile.lua):
   LeNet-5's second conv dense instead of its default sparse forms, on avx2; it applies only
   to the layers of its sizes that a max pooling follows (a VGG-like block: the first conv,
   of the same sizes as the second, keeps its dense forms); a sparse form that a pooled layer
   cannot take (neon) is refused at generation, naming the file and line, with nothing
   written. */
START_TEST(test_tune_conv) {
  char path[600], dir[2][600], cmd[2048], file[700];
  snprintf(path, sizeof path, "%s/c.tune", scratch);
  write_text(path, "chainrule-tune 1\nisa avx2\nconv 6 14 14 16 5 1 0 64 wgrad=dense dx=dense\n");
  char *c[2];
  for (int k = 0; k < 2; k++) {
    snprintf(dir[k], sizeof dir[k], "%s/l%d", scratch, k);
    snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_cnn.lua --isa avx2 %s%s%s --out '%s'", chainrule(),
             k ? "--tune '" : "", k ? path : "", k ? "'" : "", dir[k]);
    run_result r = run(cmd);
    ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
    snprintf(file, sizeof file, "%s/mnist_cnn.c", dir[k]);
    c[k] = read_text(file, NULL);
    ck_assert_ptr_nonnull(c[k]);
  }
  static const char sparse3[] = "/* Layer 3 backward: dW = sum of g * x over the taps, db = sum of g, dx = the transposed convolution of g with W.\n"
    "   g [n][16][10][10], x [n][6][14][14] -> dW [6][5][5][16], db [16], dx [n][6][14][14];\n"
    "   avx2 register tiles: dW from g's nonzero pixels (a max pooling follows), dx from g's nonzero pixels";
  static const char dense3[] = "/* Layer 3 backward: dW = sum of g * x over the taps, db = sum of g, dx = the transposed convolution of g with W.\n"
    "   g [n][16][10][10], x [n][6][14][14] -> dW [6][5][5][16], db [16], dx [n][6][14][14];\n"
    "   avx2 register tiles: dW over taps x channels, dx as a stride-1 convolution of g dilated";
  ck_assert_msg(strstr(c[0], sparse3) && !strstr(c[0], dense3), "LeNet-5's layer 3 is not sparse by default on avx2");
  ck_assert_msg(strstr(c[1], dense3) && !strstr(c[1], sparse3), "the tune file did not make layer 3 dense");
  ck_assert_ptr_nonnull(strstr(c[1], " * tiling: 1 product from the tune file c.tune, the rest default."));
  /* layer 0 keeps its default (sparse dW) */
  ck_assert_ptr_nonnull(strstr(c[1], "/* Layer 0 backward:"));
  ck_assert_ptr_nonnull(strstr(strstr(c[1], "/* Layer 0 backward:"), "dW from g's nonzero pixels"));
  free(c[0]);
  free(c[1]);
  /* two convs of the same sizes (4x8x8 -> 4, kernel 3, padding 1), a pooling after the second only */
  char spec[600];
  snprintf(spec, sizeof spec, "%s/vgg.lua", scratch);
  write_text(spec, "return network \"vgg\" {\n  input = {4, 8, 8},\n  layers = {\n"
             "    conv2d(4, {kernel = 3, padding = 1}), relu(), conv2d(4, {kernel = 3, padding = 1}), relu(),\n"
             "    maxpool2d{kernel = 2}, flatten(), linear(3),\n  },\n  loss = \"cross_entropy\",\n  batch = 4,\n"
             "  optimizer = sgd { lr = 0.1 },\n}\n");
  write_text(path, "chainrule-tune 1\nisa avx2\nconv 4 8 8 4 3 1 1 4 wgrad=sparse dx=sparse\n");
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --isa avx2 --tune '%s' --out '%s/v'", chainrule(), spec, path, scratch);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
  snprintf(file, sizeof file, "%s/v/vgg.c", scratch);
  char *v = read_text(file, NULL);
  ck_assert_ptr_nonnull(v);
  const char *l0 = strstr(v, "/* Layers 0-1 backward:"), *l2 = strstr(v, "/* Layers 2-3 backward:");
  if (!l0) l0 = strstr(v, "/* Layer 0 backward:");
  if (!l2) l2 = strstr(v, "/* Layer 2 backward:");
  ck_assert_msg(l0 && l2, "no backward comments: %s", v);
  const char *sp = "dW from g's nonzero pixels (a max pooling follows), dx from g's nonzero pixels";
  const char *found = strstr(v, sp);
  ck_assert_msg(found && found > l2 && !strstr(found + 1, sp), "only layer 2 takes the entry's sparse forms");
  free(v);
  /* neon has no sparse forms: the entry is refused on a pooled layer */
  write_text(path, "chainrule-tune 1\nisa neon\nconv 6 14 14 16 5 1 0 64 dx=sparse\n");
  snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_cnn.lua --isa neon --tune '%s' --out '%s/p'", chainrule(), path, scratch);
  r = run(cmd);
  char want[1400];
  snprintf(want, sizeof want, "%s:3: dx=sparse: layer 3 cannot take it on neon (the sparse forms need avx2 or avx512, a kernel of "
           "at most 8, at most 64 output channels, a vector derivative of the activation before and room on the stack)\n", path);
  ck_assert_msg(r.status == 2 && strcmp(r.out, want) == 0, "%d %s", r.status, r.out);
  snprintf(file, sizeof file, "%s/p", scratch);
  ck_assert(dir_is_empty_or_missing(file));
}
END_TEST

/* The weight gradient's defaults by the size of g (gen/schedule.lua): the tail columns fold
   into tiles of fewer inputs only while g fits XTG_FOLD_G_BYTES; on avx512 a batch above
   XTG_ROWS goes in one pass over the rows when dW is past the L2 (XTG_WHOLE_ROWS), not on
   avx2. Generated only: test-isa runs such code against the reference. */
static char *gen_xtg_case(const char *name, const char *layers, int batch, const char *isa) {
  char spec[600], dir[600], cmd[2048], file[700], text[512];
  snprintf(spec, sizeof spec, "%s/%s.lua", scratch, name);
  snprintf(text, sizeof text,
           "return network \"%s\" { input = %s, loss = \"cross_entropy\", batch = %d, optimizer = sgd { lr = 0.01 } }\n",
           name, layers, batch);
  write_text(spec, text);
  snprintf(dir, sizeof dir, "%s/x_%s_%s", scratch, name, isa);
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --isa %s --cpu generic --out '%s'", chainrule(), spec, isa, dir);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
  snprintf(file, sizeof file, "%s/%s.c", dir, name);
  char *c = read_text(file, NULL);
  ck_assert_ptr_nonnull(c);
  return c;
}

START_TEST(test_xtg_g_size_rules) {
  static const struct { const char *name, *layers; int batch; const char *isa, *expect, *why; } cases[] = {
    /* g 64 x 500 floats (128 KB): 8-input tiles and the tail pass */
    {"fold500", "784, layers = { linear(500), relu(), linear(10) }", 64, "avx512",
     "/* register tiles: 8 inputs x 3 vectors of 16; columns 496..499 as tiles along k",
     "the weight gradient does not keep 8-input tiles"},
    /* g 64 x 50 on avx2 (12.8 KB): the 2 tail columns folded into 4-input tiles */
    {"fold50", "784, layers = { linear(50), relu(), linear(10) }", 64, "avx2",
     "/* register tiles: 4 inputs x 2 vectors of 8; columns 48..49 as tiles along k", "the tail is not folded"},
    /* 640 x 1024 (dW 2.5 MB) at a batch of 80: one pass over the rows on avx512, row blocks
       with partial sums in dW on avx2 */
    {"rows80", "640, layers = { linear(1024), relu(), linear(10) }", 80, "avx512",
     "g packed 32 columns x 80 rows at a time */", "the weight gradient does not take all rows at once"},
    {"rows80", "640, layers = { linear(1024), relu(), linear(10) }", 80, "avx2",
     "rows at a time (partial sums in dW) */", "the weight gradient's rows are no longer blocked"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *c = gen_xtg_case(cases[i].name, cases[i].layers, cases[i].batch, cases[i].isa);
    ck_assert_msg(strstr(c, cases[i].expect) != NULL, "%s, batch %d, %s: %s", cases[i].layers, cases[i].batch,
                  cases[i].isa, cases[i].why);
    free(c);
  }
}
END_TEST

/* A tune file changes the tiling, nothing else: the same file gives the same bytes twice; a
   file with no entry for the network gives the untuned bytes; entries do reach the code. */
/* The figure for `entry` in a generated file's banner line "stack of NAME_*, at most: forward
   3,072, ..." (digits with the commas dropped), or -1. */
static long banner_stack(const char *text, const char *entry) {
  const char *line = strstr(text, " * stack of ");
  if (!line) return -1;
  const char *end = strchr(line, '\n');
  char key[64];
  snprintf(key, sizeof key, " %s ", entry);
  const char *at = strstr(line, key);
  if (!at || at > end) return -1;
  long n = 0;
  for (const char *c = at + strlen(key); (*c >= '0' && *c <= '9') || *c == ','; c++)
    if (*c != ',') n = 10 * n + (*c - '0');
  return n;
}

START_TEST(test_tune_deterministic) {
  char path[600], none[600], cmd[2048], dir[4][600], file[600];
  snprintf(path, sizeof path, "%s/m.tune", scratch);
  snprintf(none, sizeof none, "%s/none.tune", scratch);
  write_text(path, "# forced, not measured\nchainrule-tune 1\nisa avx2\ncpu test box\n"
                   "xw 784 50 64 vecs=1 order=rows pack=no\nxtg 784 50 64 vecs=3\ngwt 50 10 64 vecs=1 rows=2\n");
  write_text(none, "chainrule-tune 1\nisa avx2\nxw 100 100 64 vecs=1\n");
  const char *tunes[4] = {path, path, NULL, NULL};
  char *c[4] = {NULL};
  for (int i = 0; i < 4; i++) {
    if (i == 2) continue;   /* (none.tune: refused, below) */
    snprintf(dir[i], sizeof dir[i], "%s/o%d", scratch, i);
    if (tunes[i])
      snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_mlp.lua --isa avx2 --tune '%s' --out '%s'", chainrule(), tunes[i], dir[i]);
    else
      snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_mlp.lua --isa avx2 --out '%s'", chainrule(), dir[i]);
    run_result r = run(cmd);
    ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
    snprintf(file, sizeof file, "%s/mnist_mlp.c", dir[i]);
    c[i] = read_text(file, NULL);
    ck_assert_ptr_nonnull(c[i]);
  }
  ck_assert_msg(strcmp(c[0], c[1]) == 0, "the same tune file gave other bytes");
  ck_assert_msg(strcmp(c[0], c[3]) != 0, "the tune file changed nothing");
  /* a file none of whose entries is a product of this build (another spec, batch or build
     kind): one line naming it, exit 2, nothing written */
  snprintf(dir[2], sizeof dir[2], "%s/o2", scratch);
  snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_mlp.lua --isa avx2 --tune '%s' --out '%s'", chainrule(), none, dir[2]);
  run_result rn = run(cmd);
  char want_none[1200];
  snprintf(want_none, sizeof want_none, "%s: none of its 1 entry is a product of mnist_mlp (training, batch 64) on avx2: it was "
           "tuned for another spec, batch or build (run chainrule tune mnist_mlp.lua)\n", none);
  ck_assert_msg(rn.status == 2 && strcmp(rn.out, want_none) == 0, "%s: status %d: %s", cmd, rn.status, rn.out);
  snprintf(file, sizeof file, "%s/mnist_mlp.h", dir[2]);
  ck_assert_msg(access(file, F_OK) != 0, "%s written by a refused run", file);
  ck_assert_ptr_nonnull(strstr(c[0], " * tiling: 3 products from the tune file m.tune (measured on test box), the rest default."));
  ck_assert_ptr_nonnull(strstr(c[0], "/* register tiles: 6 rows x 1 vectors of 8; row tiles outer;"));
  ck_assert_ptr_null(strstr(c[3], "tune file"));
  for (int i = 0; i < 4; i++) free(c[i]);
  /* --dispatch: the file tunes the variant of its ISA; a file for an ISA not listed is refused */
  snprintf(dir[0], sizeof dir[0], "%s/d", scratch);
  snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_mlp.lua --dispatch avx2,scalar --tune '%s' --out '%s'", chainrule(), path, dir[0]);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
  /* the summary line names the variants and the deepest entry point, whose bound is one
     frame over the deepest variant's (avx2's, not the dispatcher's own scalar bound) */
  ck_assert_msg(strstr(r.out, " bytes, entry points dispatching to avx2, scalar, tilings of 3 products of avx2 from m.tune; "
                             "stack at most ") &&
                    strstr(r.out, " bytes (mnist_mlp_") && !strstr(r.out, "(mnist_mlp_avx2_") &&
                    !strstr(r.out, "(mnist_mlp_scalar_"), "%s", r.out);
  snprintf(file, sizeof file, "%s/mnist_mlp_avx2.c", dir[0]);
  char *v = read_text(file, NULL);
  ck_assert_ptr_nonnull(v);
  ck_assert_ptr_nonnull(strstr(v, " * tiling: 3 products from the tune file m.tune"));
  snprintf(file, sizeof file, "%s/mnist_mlp.c", dir[0]);
  char *pub = read_text(file, NULL);
  ck_assert_ptr_nonnull(pub);
  for (int k = 0; k < 2; k++) {
    const char *entry = k ? "train_step" : "forward";
    long own = banner_stack(v, entry), dispatched = banner_stack(pub, entry);
    ck_assert_msg(own > 3072 && dispatched == own + 1024, "%s: avx2 variant %ld, dispatcher %ld", entry, own,
                  dispatched);
  }
  ck_assert_ptr_nonnull(strstr(pub, " * code: in mnist_mlp_avx2.c, mnist_mlp_scalar.c; mnist_mlp.c passes each call"));
  free(pub);
  free(v);
  snprintf(file, sizeof file, "%s/mnist_mlp_scalar.c", dir[0]);
  v = read_text(file, NULL);
  ck_assert_ptr_nonnull(v);
  ck_assert_ptr_null(strstr(v, "tune file"));
  free(v);
  /* a second file for another variant tunes that one; two for one variant are refused */
  char m512[600];
  snprintf(m512, sizeof m512, "%s/m512.tune", scratch);
  write_text(m512, "chainrule-tune 1\nisa avx512\nxw 784 50 64 vecs=1 order=rows pack=no\n");
  snprintf(dir[1], sizeof dir[1], "%s/d2", scratch);
  snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_mlp.lua --dispatch avx512,avx2,scalar --tune '%s' --tune '%s' --out '%s'",
           chainrule(), path, m512, dir[1]);
  r = run(cmd);
  ck_assert_msg(r.status == 0 && strstr(r.out, ", tilings of 1 product of avx512 from m512.tune, tilings of 3 products "
                                               "of avx2 from m.tune; "), "%s: %s", cmd, r.out);
  static const char *const tuned_by[3][2] = {{"avx512", " * tiling: 1 product from the tune file m512.tune, the rest"},
                                             {"avx2", " * tiling: 3 products from the tune file m.tune"},
                                             {"scalar", NULL}};
  for (int k = 0; k < 3; k++) {
    snprintf(file, sizeof file, "%s/mnist_mlp_%s.c", dir[1], tuned_by[k][0]);
    v = read_text(file, NULL);
    ck_assert_ptr_nonnull(v);
    if (tuned_by[k][1])
      ck_assert_msg(strstr(v, tuned_by[k][1]) != NULL, "mnist_mlp_%s.c: no '%s'", tuned_by[k][0], tuned_by[k][1]);
    else
      ck_assert_ptr_null(strstr(v, "tune file"));
    free(v);
  }
  char want[1024];
  snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_mlp.lua --dispatch avx2,scalar --tune '%s' --tune '%s' --out '%s/e'",
           chainrule(), path, none, scratch);
  r = run(cmd);
  snprintf(want, sizeof want, "chainrule: --tune: %s and %s both tune the avx2 variant\n", path, none);
  ck_assert_msg(r.status == 2 && strcmp(r.out, want) == 0, "%d %s", r.status, r.out);
  write_text(none, "chainrule-tune 1\nisa avx512\n");
  snprintf(cmd, sizeof cmd, "'%s' gen specs/mnist_mlp.lua --dispatch avx2,scalar --tune '%s' --out '%s/e'", chainrule(), none, scratch);
  r = run(cmd);
  snprintf(want, sizeof want, "%s: tuned for avx512, which --dispatch does not list\n", none);
  ck_assert_msg(r.status == 2 && strcmp(r.out, want) == 0, "%d %s", r.status, r.out);
}
END_TEST

/* The whole-step check: CHAINRULE_TUNE_FORCE=1 (hidden, for tests) chooses every product's
   last candidate whatever the timing, so tune times the whole train step tuned against the
   default. Its verdict depends on the timing: every outcome is accepted, but the log must say
   it and the file's product lines must follow it: all kept when the whole step was faster;
   otherwise, the forced choices are of several kinds (xw, gwt, xtg), so each kind is timed
   alone, and a product keeps its forced tiling only if its kind's line says "kept" (every
   other product line is the default, its comment says "dropped"); and gen must accept it. */
static void check_whole_step(const char *out) {
  char cmd[2048], dir[600];
  snprintf(cmd, sizeof cmd, "CHAINRULE_TUNE_FORCE=1 '%s' tune examples/xor.lua --isa avx2 --batch 3 --budget 0.3 --out '%s'",
           chainrule(), out);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
  const char *line = strstr(r.out, "tune: whole train step: tuned ");
  ck_assert_msg(line != NULL, "no whole-step line: %s", r.out);
  double ratio = 0;
  int pairs = 0, used = 0;
  ck_assert_msg(sscanf(line, "tune: whole train step: tuned %lfx the default's time in %d paired runs: %n", &ratio, &pairs, &used) == 2
                && used > 0 && ratio > 0 && pairs >= 6, "whole-step line: %s", line);
  int kept_all = strncmp(line + used, "kept the choices\n", 17) == 0;
  static const char each[] = "not faster; timing each kind of product's choices alone\n";
  ck_assert_msg(kept_all || strncmp(line + used, each, strlen(each)) == 0,
                "whole-step line: %s", line);
  ck_assert_msg(kept_all == (ratio < 1.0) || (ratio > 0.9995 && ratio < 1.0005), "ratio %g but %s", ratio, line + used);
  char *text = read_text(out, NULL);
  ck_assert_ptr_nonnull(text);
  ck_assert_ptr_nonnull(strstr(text, kept_all ? ": the choices are kept\n" : "(not faster); each kind of product alone:\n"));
  /* each "# ...; forced TILING" comment: the next line is the product with TILING iff kept */
  int products = 0, dropped = 0;
  for (const char *c = strstr(text, "; forced "); c; c = strstr(c + 1, "; forced ")) {
    const char *w = c + strlen("; forced "), *end = w + strcspn(w, ";\n"), *next = strchr(c, '\n');
    ck_assert_ptr_nonnull(next);
    const char *eol = strchr(next + 1, '\n');
    size_t len = eol ? (size_t)(eol - next - 1) : strlen(next + 1);
    char product[512], forced[512], kind[16], alone[96];
    snprintf(product, sizeof product, "%.*s", (int)len, next + 1);
    snprintf(forced, sizeof forced, " %.*s", (int)(end - w), w);
    snprintf(kind, sizeof kind, "%.*s", (int)strcspn(product, " "), product);
    size_t fl = strlen(forced), pl = strlen(product);
    int same = pl >= fl && strcmp(product + pl - fl, forced) == 0;
    int was_dropped = strncmp(end, "; dropped (whole step)", 22) == 0;
    ck_assert_msg(same == !was_dropped, "the product line is '%s' for forced '%s', dropped=%d", product, forced + 1, was_dropped);
    ck_assert_msg(!kept_all || !was_dropped, "whole step kept but '%s' dropped", product);
    /* kept after a slower whole step: its kind alone made the step faster */
    snprintf(alone, sizeof alone, "tune: whole train step, %s choices alone: tuned ", kind);
    const char *al = strstr(r.out, alone);
    if (!kept_all) ck_assert_msg(al != NULL, "no '%s' line: %s", alone, r.out);
    if (!kept_all && !was_dropped) {
      const char *eal = strchr(al, '\n');
      ck_assert_msg(eal && eal - al > 6 && strncmp(eal - 6, ": kept", 6) == 0, "'%s' kept but: %.*s", product,
                    (int)(eal ? eal - al : 80), al);
    }
    dropped += was_dropped;
    products++;
  }
  ck_assert_ptr_nonnull(strstr(text, kept_all ? ": the choices are kept\n"
                                   : dropped == products ? "# every choice was dropped, each product keeps its default tiling\n"
                                                         : "; the others keep their default tilings\n"));
  ck_assert_int_eq(products, 5);
  free(text);
  snprintf(dir, sizeof dir, "%s/w", scratch);
  snprintf(cmd, sizeof cmd, "'%s' gen examples/xor.lua --isa avx2 --batch 3 --tune '%s' --out '%s'", chainrule(), out, dir);
  r = run(cmd);
  ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
  /* a compiler that fails on the whole-network program only: one line, exit 2, no file */
  char cc[600], none[600];
  snprintf(cc, sizeof cc, "%s/ccfail.sh", scratch);
  write_text(cc, "#!/bin/sh\ncase \"$*\" in *whole.c*) echo 'whole.c:1: error: boom' >&2; exit 1;; esac\nexec cc \"$@\"\n");
  ck_assert_int_eq(chmod(cc, 0755), 0);
  snprintf(none, sizeof none, "%s/never.tune", scratch);
  snprintf(cmd, sizeof cmd, "CC='%s' CHAINRULE_TUNE_FORCE=1 '%s' tune examples/xor.lua --isa avx2 --batch 3 --budget 0.2 --out '%s'",
           cc, chainrule(), none);
  r = run(cmd);
  char want[1400];
  snprintf(want, sizeof want, "chainrule tune: '%s' failed to build the whole-network timing program: whole.c:1: error: boom\n", cc);
  const char *last = r.out + strlen(r.out);
  while (last > r.out && last[-1] == '\n') last--;
  while (last > r.out && last[-1] != '\n') last--;
  ck_assert_msg(r.status == 2 && strcmp(last, want) == 0, "%d %s", r.status, r.out);
  ck_assert_ptr_null(read_text(none, NULL));
}

/* A forced tune (CHAINRULE_TUNE_FORCE=1: every other form chosen whatever the timing) of the
   spec text written to scratch/NAME.lua (its path into spec) with flags, the file to
   scratch/NAME.tune (into out): it succeeds, its first log line names the forms (summary) and
   the log has every line of logged. */
static void forced_tune(const char *name, const char *text, const char *flags, char *spec, char *out,
                        const char *summary, const char *const *logged, size_t nlogged) {
  char cmd[2048];
  snprintf(spec, 600, "%s/%s.lua", scratch, name);
  write_text(spec, text);
  snprintf(out, 600, "%s/%s.tune", scratch, name);
  snprintf(cmd, sizeof cmd, "CHAINRULE_TUNE_FORCE=1 '%s' tune '%s' %s --out '%s'", chainrule(), spec, flags, out);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
  ck_assert_msg(strstr(r.out, summary), "no '%s' in %s", summary, r.out);
  for (size_t i = 0; i < nlogged; i++) ck_assert_msg(strstr(r.out, logged[i]), "no '%s' in %s", logged[i], r.out);
}

/* tune on a conv net: CHAINRULE_TUNE_FORCE=1 also flips every conv2d form tune can switch,
   whatever the timing; the log says what it timed, the file's conv lines name the other
   forms, and gen reads the file: the first conv's dW and the second's dW and dx (its dx
   dense by default at 8 output channels, forced sparse) change form. */
static void check_conv_tune(void) {
  char spec[600], out[600], dir[600], cmd[2048], file[700];
  static const char *logged[] = {
    "tune: [conv 1/3] conv 1x8x8 -> 4 k3 s1 p1 B=4: dW dense against sparse (the default sparse) in the whole train step",
    "tune: [conv 2/3] conv 4x4x4 -> 8 k3 s1 p1 B=4: dW dense against sparse (the default sparse) in the whole train step",
    "tune: [conv 3/3] conv 4x4x4 -> 8 k3 s1 p1 B=4: dx sparse against dense (the default dense) in the whole train step",
  };
  forced_tune("tc", "return network \"tc\" {\n  input = {1, 8, 8},\n  layers = {\n"
              "    conv2d(4, {kernel = 3, padding = 1}), relu(), maxpool2d{kernel = 2},\n"
              "    conv2d(8, {kernel = 3, padding = 1}), relu(), maxpool2d{kernel = 2},\n"
              "    flatten(), linear(2),\n  },\n  loss = \"cross_entropy\",\n  batch = 4,\n  optimizer = sgd { lr = 0.1 },\n}\n",
              "--isa avx2 --budget 0.1", spec, out, ", 3 conv2d backward forms; compiling with ", logged, COUNT(logged));
  char *text = read_text(out, NULL);
  ck_assert_ptr_nonnull(text);
  ck_assert_msg(strstr(text, "\nconv 1 8 8 4 3 1 1 4 wgrad=dense\n") && strstr(text, "\nconv 4 4 4 8 3 1 1 4 wgrad=dense dx=sparse\n")
                && strstr(text, "# conv 4x4x4 -> 8 k3 s1 p1 B=4: dx sparse: "), "%s", text);
  free(text);
  snprintf(dir, sizeof dir, "%s/tcg", scratch);
  snprintf(cmd, sizeof cmd, "'%s' gen '%s' --isa avx2 --tune '%s' --out '%s'", chainrule(), spec, out, dir);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
  snprintf(file, sizeof file, "%s/tc.c", dir);
  char *c = read_text(file, NULL);
  ck_assert_ptr_nonnull(c);
  ck_assert_msg(strstr(c, "avx2 register tiles: dW over taps x channels, dx from g's nonzero pixels")
                && !strstr(c, "dW from g's nonzero pixels"), "the forms of the tune file: %s", c);
  free(c);
}

/* tune on avx512 (when this machine runs it): the weight gradient behind a ReLU where the form
   from g's nonzeros can run is timed both ways in the whole train step; CHAINRULE_TUNE_FORCE=1
   flips each, from --cpu zen4's defaults: layer 0 (128x32 at batch 16, the form by default
   there) to sparse=no, layer 1 (32x16: too few inputs for the default) to sparse=yes; the log and the file say so, layer 2 (no ReLU)
   has no sparse key, and gen follows the file (the form's lists gv hold zen4's 3/5 of g's
   N x batch elements and 16 floats: 3 x 32 x 16 / 5 + 16 = 323 for layer 0, 169 for layer 1). */
static void check_sparse_tune(void) {
  char spec[600], out[600], dir[600], cmd[2048], file[700];
  static const char *logged[] = {
    "tune: [sparse 1/2] xtg 128x32 B=16 behind a ReLU: sparse no against yes (the default yes) in the whole train step",
    "tune: [sparse 2/2] xtg 32x16 B=16 behind a ReLU: sparse yes against no (the default no) in the whole train step",
  };
  forced_tune("ts", "return network \"ts\" {\n  input = 128,\n  layers = {\n"
              "    linear(32), relu(), linear(16), relu(), linear(2),\n  },\n  loss = \"cross_entropy\",\n  batch = 16,\n"
              "  optimizer = sgd { lr = 0.1 },\n}\n",
              "--isa avx512 --cpu zen4 --budget 0.2", spec, out, ", 2 sparse weight gradients; compiling with ", logged, COUNT(logged));
  char *text = read_text(out, NULL);
  ck_assert_ptr_nonnull(text);
  const char *l0 = strstr(text, "\nxtg 128 32 16 "), *l1 = strstr(text, "\nxtg 32 16 16 "), *l2 = strstr(text, "\nxtg 16 2 16 ");
  ck_assert_msg(l0 && l1 && l2, "%s", text);
  ck_assert_msg(strstr(text, "\n# xtg 32x16 B=16: sparse yes: ") && strstr(text, "; forced: chose yes\n"), "%s", text);
  ck_assert_msg(strstr(l0, " sparse=no") && strstr(l0, " sparse=no") < strchr(l0 + 1, '\n'), "%s", text);
  ck_assert_msg(strstr(l1, " sparse=yes") && strstr(l1, " sparse=yes") < strchr(l1 + 1, '\n'), "%s", text);
  ck_assert_msg(!strstr(l2, "sparse=") || strstr(l2, "sparse=") > strchr(l2 + 1, '\n'), "%s", text);
  free(text);
  for (int tuned = 0; tuned < 2; tuned++) {
    snprintf(dir, sizeof dir, "%s/tsg%d", scratch, tuned);
    snprintf(cmd, sizeof cmd, "'%s' gen '%s' --isa avx512 --cpu zen4 %s%s%s --out '%s'", chainrule(), spec,
             tuned ? "--tune '" : "", tuned ? out : "", tuned ? "'" : "", dir);
    run_result r = run(cmd);
    ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
    snprintf(file, sizeof file, "%s/ts.c", dir);
    char *c = read_text(file, NULL);
    ck_assert_ptr_nonnull(c);
    const int sparse0 = strstr(c, "float gv[323];") != NULL, sparse1 = strstr(c, "float gv[169];") != NULL;
    ck_assert_msg(sparse0 == !tuned && sparse1 == tuned, "tuned=%d: layer 0 sparse %d, layer 1 sparse %d", tuned, sparse0, sparse1);
    free(c);
  }
}

/* chainrule tune runs (a short budget, when this machine runs avx2), writes a file gen reads;
   a failing tune writes nothing. */
START_TEST(test_tune_command) {
  char out[600], cmd[2048], dir[600];
  snprintf(out, sizeof out, "%s/x.tune", scratch);
  snprintf(cmd, sizeof cmd, "'%s' tune specs/mnist_mlp.lua --isa scalar --out '%s'", chainrule(), out);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 2 && strcmp(r.out, "chainrule tune: isa scalar has no tiled kernels to tune (use sse2, avx2, avx512, neon or native)\n") == 0,
                "%d %s", r.status, r.out);
  ck_assert_ptr_null(read_text(out, NULL));
  if (system("grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo") != 0) return;
  snprintf(cmd, sizeof cmd, "'%s' tune tests/isa/specs/b1_wide.lua --isa avx2 --budget 0.3 --out '%s'", chainrule(), out);
  r = run(cmd);
  ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
  ck_assert_msg(strstr(r.out, "tune: [8/8] ") != NULL, "no progress lines: %s", r.out);
  char *text = read_text(out, NULL);
  ck_assert_ptr_nonnull(text);
  ck_assert_ptr_nonnull(strstr(text, "\nstream 5 460 1 kind="));
  free(text);
  snprintf(dir, sizeof dir, "%s/g", scratch);
  snprintf(cmd, sizeof cmd, "'%s' gen tests/isa/specs/b1_wide.lua --isa avx2 --tune '%s' --out '%s'", chainrule(), out, dir);
  r = run(cmd);
  ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
  /* --batch: the training build at that batch (xor's spec says 32) */
  snprintf(cmd, sizeof cmd, "'%s' tune examples/xor.lua --isa avx2 --batch 3 --budget 0.3 --out '%s'", chainrule(), out);
  r = run(cmd);
  ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
  text = read_text(out, NULL);
  ck_assert_ptr_nonnull(text);
  ck_assert_msg(strstr(text, "\nxw 2 16 3 ") && strstr(text, "\nxtg 16 2 3 "), "%s", text);
  /* no product line at the spec's batch 32 (comment lines may say "in 32 paired runs") */
  for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s ", (int)(len < sizeof buf - 2 ? len : sizeof buf - 2), line);
    ck_assert_msg(buf[0] == '#' || !strstr(buf, " 32 "), "a product line at batch 32: %s", buf);
  }
  free(text);
  check_whole_step(out);
  check_conv_tune();
  if (system("grep -qw avx512f /proc/cpuinfo") == 0) check_sparse_tune();
}
END_TEST

/* gen --batch N: the bytes of the same spec file saying batch = N (the banner names the spec by
   its file name, the same here); tune --batch / --max-batch exclude each other. */
START_TEST(test_batch_option) {
  char dir[3][600], path[700], cmd[2048], *c[3][2];
  const char *batch[3] = {"batch = 32", "batch = 5", "batch = 32"};
  for (int k = 0; k < 3; k++) {
    snprintf(dir[k], sizeof dir[k], "%s/b%d", scratch, k);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/spec'", dir[k]);
    ck_assert_int_eq(system(cmd), 0);
    char *text = read_text("examples/xor.lua", NULL);
    ck_assert_ptr_nonnull(text);
    char *at = strstr(text, "batch  = 32");
    ck_assert_ptr_nonnull(at);
    snprintf(path, sizeof path, "%s/spec/xor.lua", dir[k]);
    char spec[4096];
    snprintf(spec, sizeof spec, "%.*s%s%s", (int)(at - text), text, batch[k], at + strlen("batch  = 32"));
    write_text(path, spec);
    free(text);
    snprintf(cmd, sizeof cmd, "'%s' gen '%s' --isa avx2 %s --out '%s'", chainrule(), path, k == 0 ? "--batch 5" : "", dir[k]);
    run_result r = run(cmd);
    ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
    for (int f = 0; f < 2; f++) {
      snprintf(path, sizeof path, "%s/xor.%s", dir[k], f ? "c" : "h");
      c[k][f] = read_text(path, NULL);
      ck_assert_ptr_nonnull(c[k][f]);
    }
  }
  ck_assert_int_eq(macro_value(c[0][0], "XOR_BATCH"), 5);
  for (int f = 0; f < 2; f++) {
    ck_assert_msg(strcmp(c[0][f], c[1][f]) == 0, "gen --batch 5 differs from a spec with batch = 5 (xor.%s)", f ? "c" : "h");
    ck_assert_msg(strcmp(c[0][f], c[2][f]) != 0, "--batch 5 changed nothing");
  }
  for (int k = 0; k < 3; k++) free(c[k][0]), free(c[k][1]);
}
END_TEST

/* gen --inference --weights --dispatch: NAME.c holds the weights and NAME_predict once, the
   variants neither; NAME.h is the inference header with NAME_isa/NAME_use_isa; NAME_predict's
   stack is its NAME_work and a frame over NAME_predict_with, which is a frame over the deepest
   variant's. */
START_TEST(test_dispatch_inference) {
  char cmd[2048], file[512];
  snprintf(cmd, sizeof cmd,
           "'%s' gen specs/mnist_mlp.lua --inference --weights tests/inference/vectors/mnist_mlp --max-batch 4 "
           "--dispatch avx512,sse2,scalar --out '%s'", chainrule(), scratch);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
  ck_assert_msg(strstr(r.out, " bytes, entry points dispatching to avx512, sse2, scalar; stack at most ") &&
                    strstr(r.out, " bytes (mnist_mlp_predict); wrote "), "%s", r.out);
  snprintf(file, sizeof file, "%s/mnist_mlp.h", scratch);
  char *h = read_text(file, NULL);
  ck_assert_ptr_nonnull(h);
  ck_assert_int_eq(macro_value(h, "MNIST_MLP_INFERENCE"), 1);
  ck_assert_int_eq(macro_value(h, "MNIST_MLP_DISPATCH"), 1);
  ck_assert_int_eq(macro_value(h, "MNIST_MLP_HAS_WEIGHTS"), 1);
  ck_assert_int_eq(macro_value(h, "MNIST_MLP_BATCH"), 4);
  ck_assert_ptr_nonnull(strstr(h, "\nint mnist_mlp_use_isa(const char *isa);\n"));
  ck_assert_ptr_nonnull(strstr(h, "\nextern const mnist_mlp_params mnist_mlp_weights;\n"));
  const long work = macro_value(h, "MNIST_MLP_WORK_BYTES");
  ck_assert_int_gt(work, 0);
  free(h);
  snprintf(file, sizeof file, "%s/mnist_mlp.c", scratch);
  char *pub = read_text(file, NULL);
  ck_assert_ptr_nonnull(pub);
  ck_assert_ptr_nonnull(strstr(pub, "\nconst mnist_mlp_params mnist_mlp_weights = {\n"));
  ck_assert_ptr_nonnull(strstr(pub, "\nvoid mnist_mlp_predict(int32_t *classes, const float *x, int n) {\n"));
  ck_assert_ptr_nonnull(strstr(pub, "mnist_mlp_sse2_predict_with(classes, (mnist_mlp_sse2_work *)w"));
  long most = 0;
  static const char *const isas[3] = {"avx512", "sse2", "scalar"};
  for (int i = 0; i < 3; i++) {
    snprintf(file, sizeof file, "%s/mnist_mlp_%s.c", scratch, isas[i]);
    char *v = read_text(file, NULL);
    ck_assert_ptr_nonnull(v);
    ck_assert_msg(strstr(v, "_weights = {") == NULL && strstr(v, "_predict(int32_t") == NULL,
                  "mnist_mlp_%s.c has weights of its own", isas[i]);
    ck_assert_ptr_nonnull(strstr(v, "no weights (the caller fills mnist_mlp_"));
    long pw = banner_stack(v, "predict_with");
    ck_assert_int_gt(pw, 0);
    if (pw > most) most = pw;
    free(v);
  }
  ck_assert_int_eq(banner_stack(pub, "predict_with"), most + 1024);
  ck_assert_int_eq(banner_stack(pub, "predict"), 1024 + work + 1024 + most);
  free(pub);
}
END_TEST

/* --dispatch ISA:FAMILY: the variant NAME_ISA_FAMILY is `gen --isa ISA --cpu FAMILY --name
   NAME_ISA_FAMILY`'s bytes, listed before ISA's plain variant; the summary line names a family
   variant whose code is the plain one's (the family's defaults do not touch the network:
   conv_sparse_deep has small layers and no linear layer behind a ReLU, which zen5 changes;
   zen4 changes its second conv's weight gradient). */
START_TEST(test_dispatch_families) {
  char cmd[2048], file[512];
  snprintf(cmd, sizeof cmd, "'%s' gen tests/isa/specs/conv_sparse_deep.lua --dispatch scalar,avx512,avx512:zen5,avx512:zen4 --out '%s/d'",
           chainrule(), scratch);
  run_result r = run(cmd);
  ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
  ck_assert_msg(strstr(r.out, " bytes, entry points dispatching to avx512:zen4, avx512:zen5, avx512, scalar "
                              "(avx512:zen5 is the plain variant's code for this network); stack at most "),
                "%s", r.out);
  snprintf(cmd, sizeof cmd, "'%s' gen tests/isa/specs/conv_sparse_deep.lua --isa avx512 --cpu zen4 --name conv_sparse_deep_avx512_zen4 --out '%s/s'",
           chainrule(), scratch);
  r = run(cmd);
  ck_assert_msg(r.status == 0, "%s: %s", cmd, r.out);
  char *v[2];
  for (int k = 0; k < 2; k++) {
    snprintf(file, sizeof file, "%s/%s/conv_sparse_deep_avx512_zen4.c", scratch, k ? "s" : "d");
    v[k] = read_text(file, NULL);
    ck_assert_ptr_nonnull(v[k]);
  }
  ck_assert_msg(strcmp(v[0], v[1]) == 0, "the avx512:zen4 variant is not gen --isa avx512 --cpu zen4's bytes");
  ck_assert_ptr_nonnull(strstr(v[0], " * defaults: CPU family zen4 "));
  free(v[0]);
  free(v[1]);
  snprintf(file, sizeof file, "%s/d/conv_sparse_deep.c", scratch);
  char *pub = read_text(file, NULL);
  ck_assert_ptr_nonnull(pub);
  ck_assert_ptr_nonnull(strstr(pub, "isa_names[4] = {\"avx512:zen4\", \"avx512:zen5\", \"avx512\", \"scalar\"};"));
  ck_assert_ptr_nonnull(strstr(pub, "while (!supported(v) || !preferred(v)) v++;"));
  free(pub);
}
END_TEST

static Suite *suite_gen(void) {
  Suite *s = suite_create("gen");
  TCase *errors = tcase_create("errors");
  tcase_add_checked_fixture(errors, scratch_create, scratch_remove);
  tcase_add_loop_test(errors, test_bad_spec, 0, COUNT(SPEC_BAD));
  tcase_add_loop_test(errors, test_wall_clock_spec, 0, COUNT(SPEC_WALL_CLOCK));
  tcase_add_test(errors, test_sandbox_did_not_escape);
  tcase_add_test(errors, test_bad_spec_keeps_old_output);
  tcase_add_test(errors, test_hostile_specs);
  tcase_add_test(errors, test_hostile_suggestions);
  tcase_add_test(errors, test_hostile_spec_files);
  tcase_set_timeout(errors, 60);
  suite_add_tcase(s, errors);

  TCase *weights = tcase_create("weights");
  tcase_add_checked_fixture(weights, scratch_create, scratch_remove);
  tcase_add_loop_test(weights, test_bad_weights, 0, COUNT(WEIGHTS_BAD));
  tcase_add_test(weights, test_good_weights);
  tcase_add_test(weights, test_dispatch_inference);
  tcase_add_test(weights, test_dispatch_families);
  tcase_set_timeout(weights, 60);
  suite_add_tcase(s, weights);

  TCase *tune = tcase_create("tune");
  tcase_add_checked_fixture(tune, scratch_create, scratch_remove);
  tcase_set_timeout(tune, 120);
  tcase_add_loop_test(tune, test_bad_tune, 0, COUNT(TUNE_BAD));
  tcase_add_test(tune, test_tune_deterministic);
  tcase_add_test(tune, test_xtg_g_size_rules);
  tcase_add_test(tune, test_tune_command);
  tcase_add_test(tune, test_tune_conv);
  suite_add_tcase(s, tune);

  TCase *cli = tcase_create("cli");
  tcase_add_loop_test(cli, test_cli, 0, COUNT(CLI_CASES));
  suite_add_tcase(s, cli);

  TCase *core = tcase_create("core");
  tcase_add_checked_fixture(core, scratch_create, scratch_remove);
  tcase_add_test(core, test_deterministic_and_unchanged);
  tcase_add_test(core, test_same_bytes_any_directory);
  tcase_add_test(core, test_depfile);
  tcase_add_test(core, test_spec_features);
  tcase_add_test(core, test_cli_file);
  tcase_add_test(core, test_cli_family_named);
  tcase_add_test(core, test_cpu_native);
  tcase_add_test(core, test_cli_schedule);
  tcase_add_test(core, test_lua_units);
  tcase_add_test(core, test_template_errors);
  tcase_add_test(core, test_specs_compile);
  tcase_add_test(core, test_code_size_bounded);
  tcase_add_test(core, test_compact_shared_tiles);
  tcase_add_test(core, test_hostile_spec_path);
  tcase_add_test(core, test_gen_writes_all_or_nothing);
  tcase_add_test(core, test_straight_line);
  tcase_add_test(core, test_rename);
  tcase_add_test(core, test_batch_option);
  tcase_set_timeout(core, 120);
  suite_add_tcase(s, core);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite_gen());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
