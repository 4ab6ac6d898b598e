-- Tune files: per-machine tiling choices for the tiled kernels (gen/schedule.lua's tiling and
-- the batch-1 stream plan) and the forms of conv2d backwards (gen/kernels/convtile.lua).
-- `chainrule tune SPEC` times candidate tilings of every product of the spec and the conv
-- layers' forms on the machine it runs on and writes one (M.run); `chainrule gen --tune FILE`
-- reads it (M.load). The file is user input: plain text, no code, every line checked
-- (FILE:LINE: what), unknown words refused. Generation stays deterministic: the same spec,
-- flags and tune file give the same bytes (the file's entries are looked up by product and
-- sizes, nothing else about the machine is read).
--
--   chainrule-tune 1                        first line (the format and its version)
--   isa avx2                                the ISA the entries are for (one per file)
--   cpu AMD EPYC 7B13 64-Core Processor     where it was measured (shown in the banner)
--   xw 784 256 64 kc=784 order=rows pack=no vecs=3
--   PRODUCT K N BATCH key=value ...         a product of K inputs, N outputs at BATCH rows;
--                                           keys left out keep the layer's default where
--                                           it agrees with the keys given (schedule.tiling:
--                                           xw's mc, order and pack fix the rest)
--   conv C H W O K S P BATCH wgrad=sparse dx=dense
--                                           a conv2d layer's backward forms (conv_entry)
-- '#' starts a comment line. Products and keys: schedule.TUNE_KEYS.
local errors = require "errors"
local schedule = require "schedule"

local M = {}

M.HEADER = "chainrule-tune 1"
M.MAX_BYTES = 1 << 20
M.MAX_SIZE = 1 << 24   -- largest K, N or batch an entry may name
M.PRODUCTS = {"xw", "gwt", "xtg", "stream", "conv"}

-- "PRODUCT K N BATCH" (a conv2d layer: "conv C H W O K S P BATCH")
local function key_of(product, ...)
  return table.concat({product, ...}, " ")
end

-- An integer word (digits only) in [1, max], or nil.
local function int(word, max)
  if not word:match("^%d+$") or #word > 9 then return nil end
  local v = math.tointeger(tonumber(word))
  return v and v >= 1 and v <= max and v or nil
end

-- The sorted list of a table's keys (messages name them in a fixed order).
local function sorted_keys(t)
  local k = {}
  for name in pairs(t) do k[#k + 1] = name end
  table.sort(k)
  return k
end

-- The key=value words of an entry line from w[first] on, checked against allowed (key ->
-- "int", "int0" or a list of words; a list starting with "no" means no/yes, a boolean):
-- {key = value}.
local function given_keys(fail, product, allowed, w, first)
  local given = {}
  for i = first, #w do
    local k, v = w[i]:match("^([%w_]+)=(.+)$")
    if not k then fail(product .. ": expected key=value, got '" .. w[i] .. "'") end
    local kind = allowed[k]
    if not kind then
      local names = sorted_keys(allowed)
      fail(product .. ": unknown key '" .. k .. "'" .. errors.suggest(k, names) .. " (one of " .. table.concat(names, ", ") .. ")")
    end
    if given[k] ~= nil then fail(product .. ": key '" .. k .. "' given twice") end
    if kind == "int" or kind == "int0" then
      -- (int0: 0 allowed, meaning off)
      given[k] = (kind == "int0" and v == "0") and 0 or int(v, M.MAX_SIZE)
      if not given[k] then
        fail(product .. ": " .. k .. "=" .. v .. ": expected a " .. (kind == "int0" and "non-negative" or "positive") .. " integer")
      end
    else
      local ok = false
      for _, word in ipairs(kind) do ok = ok or word == v end
      if not ok then fail(product .. ": " .. k .. "=" .. v .. ": expected " .. table.concat(kind, " or ")) end
      if kind[1] == "no" then given[k] = v == "yes" else given[k] = v end
    end
  end
  return given
end

-- A conv2d layer's entry: 'conv C H W O K S P BATCH wgrad=sparse|dense dx=sparse|dense'
-- (its input channels, height and width, output channels, kernel, stride, padding and the
-- batch): which form of the weight and input gradients its backward takes
-- (gen/kernels/convtile.lua: the sparse forms read only g's nonzeros, where a max pooling
-- follows). It applies to the layers of those sizes that a max pooling follows (the others
-- have no choice: convtile.has_choice). The words after CONV, the key and {wgrad, dx,
-- where = FILE:LINE}; whether the layer can take a sparse form is known only when a network
-- is generated (convtile.lua says so then, naming FILE:LINE).
M.CONV_KEYS = {wgrad = {"dense", "sparse"}, dx = {"dense", "sparse"}}
local CONV_SIZES = {"C", "H", "W", "O", "K", "S", "P", "BATCH"}
local function conv_entry(fail, w, where)
  if #w < 10 then fail("conv: expected 'conv C H W O K S P BATCH key=value ...'") end
  local v = {}
  for i, name in ipairs(CONV_SIZES) do
    v[i] = name == "P" and w[i + 1] == "0" and 0 or int(w[i + 1], M.MAX_SIZE)
    if not v[i] then
      fail("conv: " .. name .. " must be " .. (name == "P" and "an integer from 0" or "an integer from 1") .. " to "
        .. M.MAX_SIZE .. ", got '" .. w[i + 1] .. "'")
    end
  end
  local e = given_keys(fail, "conv", M.CONV_KEYS, w, 10)
  if (e.wgrad == "sparse" or e.dx == "sparse") and v[5] > 8 then
    fail("conv: kernel " .. v[5] .. ": the sparse forms take kernels of at most 8")
  end
  e.where = where
  return key_of("conv", table.unpack(v)), e
end

-- One entry line's words after the product: K N BATCH key=value ... -> K, N, batch, tiling
-- (full: the default with the given keys replaced, checked here; t.given keeps the keys the
-- line gave, so the kernel can take the rest from the default of its own layer, which knows
-- more than K, N and BATCH: whether it is the first layer, schedule.tiling's s.first), or a
-- user error at FILE:LINE.
local function entry(fail, isa, product, w)
  if #w < 4 then fail(product .. ": expected '" .. product .. " K N BATCH key=value ...'") end
  local K, N, batch = int(w[2], M.MAX_SIZE), int(w[3], M.MAX_SIZE), int(w[4], M.MAX_SIZE)
  if not (K and N and batch) then
    fail(product .. ": K, N and BATCH must be integers from 1 to " .. M.MAX_SIZE .. ", got '"
      .. w[2] .. " " .. w[3] .. " " .. w[4] .. "'")
  end
  local s = {K = K, N = N, batch = batch}
  local given = given_keys(fail, product, schedule.TUNE_KEYS[product], w, 5)
  local t
  if product == "stream" then
    if batch ~= 1 then fail("stream: the batch-1 forward: BATCH must be 1, got " .. batch) end
    if not given.kind then fail("stream: kind= is required (flat, regs or rows)") end
    if given.rows and given.kind ~= "rows" then fail("stream: rows= is for kind=rows") end
    if given.sets and given.kind ~= "regs" then fail("stream: sets= is for kind=regs") end
    if given.vecs and given.kind ~= "rows" then fail("stream: vecs= is for kind=rows") end
    local p = schedule.stream_plan(isa, s, {kind = given.kind})
    t = {kind = given.kind, rows = given.rows or (given.kind == "rows" and p.rows or nil),
         sets = given.sets or (given.kind == "regs" and p.sets or nil),
         vecs = given.vecs or (given.kind == "rows" and p.vecs or nil)}
  else
    if product == "xw" and batch == 1 then fail("xw: at batch 1 the forward is the stream (use a 'stream' entry)") end
    t = schedule.tiling(isa, product, s, given)
    t.given = given
  end
  local problem = schedule.check(isa, product, s, t)
  if problem then fail(product .. " " .. K .. "x" .. N .. " B=" .. batch .. ": " .. problem) end
  return K, N, batch, t
end

-- The ISAs a tune file can name: target.NAMES's but scalar (no tiled kernels) and native.
function M.tiled_isas(target)
  local names = {}
  for _, n in ipairs(target.NAMES) do
    if n ~= "scalar" and n ~= "native" then names[#names + 1] = n end
  end
  return names
end

-- Reads and checks the tune file at path: {path, isa = name, cpu = text or nil,
-- entries = {[key] = tiling}, count}. Any problem: one line naming FILE(:LINE), exit 2.
function M.load(path)
  local target = require "target"
  local text, err = host.read_plain(path, M.MAX_BYTES)
  if not text then errors.user(path .. ": cannot read tune file: " .. (tostring(err):match(":%s*([^:]+)$") or tostring(err))) end
  local lineno = 0
  local function fail(what) errors.user(path .. ":" .. lineno .. ": " .. what) end
  local tune = {path = path, entries = {}, lines = {}, count = 0}
  local isa, header = nil, false
  for line in (text .. (text:sub(-1) == "\n" and "" or "\n")):gmatch("([^\n]*)\n") do
    lineno = lineno + 1
    local bad = line:find("[^\t\r\32-\126]")
    if bad then fail(string.format("unexpected byte 0x%02x (a tune file is plain ASCII text)", line:byte(bad))) end
    line = line:gsub("\r$", "")
    local w = {}
    for word in line:gmatch("%S+") do w[#w + 1] = word end
    if #w == 0 or w[1]:sub(1, 1) == "#" then
      -- blank or comment
    elseif not header then
      if line:match("^%s*(.-)%s*$") ~= M.HEADER then
        fail("expected '" .. M.HEADER .. "' (the first line of a file written by chainrule tune)")
      end
      header = true
    elseif w[1] == "isa" then
      if isa then fail("a second 'isa' line (one ISA per tune file)") end
      if #w ~= 2 then fail("expected 'isa NAME'") end
      local names = M.tiled_isas(target)
      local ok = false
      for _, n in ipairs(names) do ok = ok or n == w[2] end
      if not ok then fail("isa '" .. w[2] .. "'" .. errors.suggest(w[2], names) .. ": expected one of " .. table.concat(names, ", ") .. " (the ISAs with tiled kernels)") end
      isa = target.resolve(w[2], path .. ":" .. lineno .. ": isa")
      tune.isa = isa.name
    elseif w[1] == "cpu" then
      if tune.cpu then fail("a second 'cpu' line") end
      tune.cpu = line:match("^%s*cpu%s+(.-)%s*$")
      if #tune.cpu > 200 then fail("cpu: at most 200 characters") end
    elseif schedule.TUNE_KEYS[w[1]] or w[1] == "conv" then
      if not isa then fail("the 'isa' line must come before the entries") end
      local key, t
      if w[1] == "conv" then
        key, t = conv_entry(fail, w, path .. ":" .. lineno)
      else
        local K, N, batch
        K, N, batch, t = entry(fail, isa, w[1], w)
        t.where = path .. ":" .. lineno   -- (schedule.tiling_for's error when generating)
        key = key_of(w[1], K, N, batch)
      end
      if tune.entries[key] then fail(key .. ": given twice (first at line " .. tune.lines[key] .. ")") end
      tune.entries[key], tune.lines[key] = t, lineno
      tune.count = tune.count + 1
    else
      fail("unknown line '" .. w[1] .. "'" .. errors.suggest(w[1], {"isa", "cpu", table.unpack(M.PRODUCTS)})
        .. " (expected isa, cpu or a product: " .. table.concat(M.PRODUCTS, ", ") .. ")")
    end
  end
  if not header then errors.user(path .. ": empty: expected '" .. M.HEADER .. "' (a file written by chainrule tune)") end
  if not isa then errors.user(path .. ": no 'isa' line") end
  return tune
end

-- The lookup the schedule hands the kernels: tiling(product, K, N, batch) -> the tune file's
-- tiling for it, or nil (the default). `used` collects the keys looked up and found.
function M.lookup(tune)
  local used = {}
  return function(product, ...)
    local key = key_of(product, ...)
    local t = tune.entries[key]
    if t then used[key] = true end
    return t
  end, used
end

------------------------------------------------------------------------------------------
-- chainrule tune: measuring.

-- The products of a graph's steps that the tiled kernels write, each once per size:
-- {product, K, N, batch, act (forward's fused activation), mask_act (gwt's previous
-- activation), fuse (xtg's fused SGD)}.
local function products_of(g, sched, inference)
  local list, seen = {}, {}
  local function add(p)
    local key = key_of(p.product, p.K, p.N, p.batch)
    if not seen[key] then seen[key] = p; p.key = key; list[#list + 1] = p end
    return seen[key]
  end
  for i, s in ipairs(sched.steps) do
    if s.product and not s.product.op.kernels then
      local K, N, B = s.in_, s.out, g.batch
      -- (bias: the layer has one; a tiling is keyed by sizes alone, so layers of the same
      -- sizes with and without a bias are timed as the first of them)
      local bias = s.product.bias >= 0
      add({product = B == 1 and "stream" or "xw", K = K, N = N, batch = B, act = s.act, bias = bias})
      if not inference then
        -- (first: its default tiling depends on it, schedule.XTG_TILES_UNDER_GT; a hidden
        -- layer of the first layer's sizes shares its line, as in a tune file)
        local x = add({product = "xtg", K = K, N = N, batch = B, fuse = sched.fuse_sgd, first = i == 1, bias = bias})
        -- (relu: some layer of these sizes has a ReLU's gradient, zero wherever the unit was
        -- off, as gen/kernels/layer.lua's relu_g: flip_check times the form from its
        -- nonzeros; not relu_g, which would make the candidates' default that form)
        x.relu = x.relu or (s.act ~= nil and s.act.op.word == "relu")
        if i > 1 then
          local prev = sched.steps[i - 1]
          add({product = "gwt", K = K, N = N, batch = B, mask_act = prev.act})
        end
      end
    end
  end
  return list
end

-- The C of one candidate: a function pP_cC(void) that runs the kernel on the product's
-- buffers (struct pP), the kernel written by gen/kernels/tiled.lua with the tiling t.
local function candidate_c(isa, p, pi, ci, t)
  local tiled = require "kernels.tiled"
  local K, N = p.K, p.N
  local pre = string.format("static void p%d_c%d(void) {\n  const int n = %d;\n", pi, ci, p.batch)
  local body
  if p.product == "xw" or p.product == "stream" then
    pre = pre .. string.format("  float *restrict z = P%d.z, *restrict a = P%d.a;\n  const float *restrict x = P%d.x, *restrict w = P%d.w, *restrict b = P%d.b;\n  (void)a; (void)b;\n", pi, pi, pi, pi, pi)
    local act = p.act and {op = p.act.op, opts = p.act.opts, out = "a", out_ld = N}
    body = tiled.matmul_xw({n = "n", K = K, N = N, x = "x", x_ld = K, w = "w", b = p.bias and "b" or nil, y = "z", y_ld = N,
                            act = act, batch = p.batch, tiling = p.product == "xw" and t or nil,
                            stream = p.product == "stream" and t or nil}, isa)
  elseif p.product == "gwt" then
    pre = pre .. string.format("  float *restrict dx = P%d.dx;\n  const float *restrict g = P%d.g, *restrict m = P%d.m, *restrict w = P%d.w;\n  (void)m;\n", pi, pi, pi, pi)
    local in_act = p.mask_act and {op = p.mask_act.op, opts = p.mask_act.opts}
    body = tiled.matmul_gwt({n = "n", K = K, N = N, g = "g", g_ld = N, w = "w", dx = "dx", dx_ld = K,
                             mask = in_act and "m", mask_ld = K, mask_act = in_act, batch = p.batch, tiling = t}, isa)
  else
    pre = pre .. string.format("  float *restrict dw = P%d.dw, *restrict db = P%d.db;\n  const float *restrict x = P%d.x, *restrict g = P%d.g;\n  float *wu = P%d.wu;\n  const float lr = 0.0f;\n  (void)wu; (void)lr; (void)db;\n", pi, pi, pi, pi, pi)
    body = tiled.matmul_xtg({n = "n", K = K, N = N, x = "x", x_ld = K, g = "g", g_ld = N, dw = "dw", db = p.bias and "db" or nil,
                             batch = p.batch, tiling = t,
                             sgd = p.fuse and {w = "wu", lr = "lr", optional = true} or nil}, isa)
  end
  return pre .. body .. "}\n"
end

-- The timing program's fixed part: buffers, the bit-for-bit check of every candidate against
-- the first (the default), and the timing (interleaved rounds, minimum per candidate).
-- Every run is timed in this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), the wall clock only
-- bounds the budget. Wall time was wrong for long products on a loaded machine: a call longer
-- than the scheduler's slice is preempted on every run, so no minimum over rounds recovers its
-- cost. On a 2-core Xeon at load 8, xw 2048x2048 B=64 (avx2 default tiling) took 5.9-6.4 ms
-- of CPU alone (min of 60 calls), about its share of the network's forward (784-2048-2048-10
-- minus 784-2048-10: 6.4-6.9 ms), but 15-38 ms wall per call, and tune printed 17.9-21.2 ms;
-- in CPU time tune prints 6.2 ms. Products of a millisecond or less were barely affected (the
-- minimum finds unpreempted runs: xw 784x1024 B=64, 1.0-1.2 ms either way). The buffers were
-- not the cause: first touch costs only the checking run (the first call, 7.4 ms against 6.8),
-- the inputs are in [-1, 1) (no denormals), and the build flags are the network's.
-- The two clocks, shared by the products' program and the whole-step one (WHOLE_MAIN).
local CLOCKS = [==[
static double now(void) {   /* wall clock: only for the budget */
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* What a run costs: this thread's CPU time (wall time where the system has no such clock). */
static double cpu(void) {
  struct timespec t;
#ifdef CLOCK_THREAD_CPUTIME_ID
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
#else
  clock_gettime(CLOCK_MONOTONIC, &t);
#endif
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
]==]

-- Memory for both programs (the products' buffers, the whole step's structs): the runtime's
-- cr_alloc (runtime/cr_util.c, which both are compiled with: driver.write_runtime).
local ALLOC = [==[
#include "cr.h"
/* Memory as the trainer and the bench get it (cr_alloc: 64-byte aligned, a block of 2 MB and
   more 2 MB-aligned and advised to huge pages, zeroed), so a big layer's candidates are timed
   with the TLB behaviour of the step they are chosen for. */
static void *tune_alloc(size_t bytes) {
  void *p = cr_alloc(bytes);
  if (!p) { fprintf(stderr, "tune: out of memory\n"); exit(1); }
  return p;
}
]==]

local RUNNER = [==[
typedef struct { float *x, *w, *b, *z, *a, *g, *m, *dx, *dw, *db, *wu; } bufs;
typedef struct {
  int K, N, B, ncand, exact; void (*const *fns)(void); bufs *p;
  int copies, turn; float **wc, **uc;   /* the copies of w and wu the timed calls rotate through */
} product;

]==] .. CLOCKS .. ALLOC .. [==[

static unsigned long long rng = 88172645463325252ull;
static float *fill(size_t n) {
  float *p = tune_alloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    p[i] = (float)((double)(rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
  }
  return p;
}

static void setup(product *q) {
  size_t K = (size_t)q->K, N = (size_t)q->N, B = (size_t)q->B;
  bufs *p = q->p;
  p->x = fill(B * K); p->w = fill(K * N); p->b = fill(N); p->z = fill(B * N); p->a = fill(B * N);
  p->g = fill(B * N); p->m = fill(B * K); p->dx = fill(B * K); p->dw = fill(K * N); p->db = fill(N);
  p->wu = fill(K * N);
}

/* Outputs of one run, concatenated: every candidate must give the default's bits. */
static size_t outputs(product *q, float *to) {
  size_t K = (size_t)q->K, N = (size_t)q->N, B = (size_t)q->B, o = 0;
  float *bufs_[] = {q->p->z, q->p->a, q->p->dx, q->p->dw, q->p->db};
  size_t lens[] = {B * N, B * N, B * K, K * N, N};
  for (int i = 0; i < 5; i++) {
    if (to) memcpy(to + o, bufs_[i], lens[i] * sizeof(float));
    o += lens[i];
  }
  return o;
}

/* After the check: copies - 1 more copies of w and wu (the same values), so that the timed
   calls, each on the next copy, find W where the step finds it, not in the cache the last
   call left it in (copies = 1: no rotation). */
static void make_copies(product *q) {
  if (q->copies <= 1) return;
  size_t bytes = (size_t)q->K * (size_t)q->N * sizeof(float);
  q->wc = malloc((size_t)q->copies * sizeof(float *));
  q->uc = malloc((size_t)q->copies * sizeof(float *));
  if (!q->wc || !q->uc) { fprintf(stderr, "tune: out of memory\n"); exit(1); }
  q->wc[0] = q->p->w; q->uc[0] = q->p->wu;
  for (int i = 1; i < q->copies; i++) {
    q->wc[i] = tune_alloc(bytes);
    q->uc[i] = tune_alloc(bytes);
    memcpy(q->wc[i], q->p->w, bytes);
    memcpy(q->uc[i], q->p->wu, bytes);
  }
}

/* The copies made by make_copies freed, w and wu the original buffers again (so a tune of
   many huge layers holds one product's copies at a time). */
static void free_copies(product *q) {
  if (q->copies <= 1) return;
  q->p->w = q->wc[0]; q->p->wu = q->uc[0];
  for (int i = 1; i < q->copies; i++) { free(q->wc[i]); free(q->uc[i]); }
  free(q->wc); free(q->uc);
}

/* One timed call of fn, on the next copy of the weights. */
static void call(product *q, void (*fn)(void)) {
  if (q->copies > 1) {
    int k = q->turn++ % q->copies;
    q->p->w = q->wc[k]; q->p->wu = q->uc[k];
  }
  fn();
}

static void clear(product *q) {
  size_t len = outputs(q, NULL);
  float *tmp = malloc(len * sizeof(float));
  if (!tmp) exit(1);
  for (size_t i = 0; i < len; i++) tmp[i] = NAN;
  size_t K = (size_t)q->K, N = (size_t)q->N, B = (size_t)q->B, o = 0;
  float *bufs_[] = {q->p->z, q->p->a, q->p->dx, q->p->dw, q->p->db};
  size_t lens[] = {B * N, B * N, B * K, K * N, N};
  for (int i = 0; i < 5; i++) { memcpy(bufs_[i], tmp + o, lens[i] * sizeof(float)); o += lens[i]; }
  free(tmp);
}

/* The default's bits (exact), or within the tests' tolerance of them: 1e-5 + 1e-4 max|want|
   (the batch-1 streams' kinds and sets sum in other orders). A NaN result never passes. */
static int same(const float *want, const float *got, size_t len, int exact) {
  if (exact) return memcmp(want, got, len * sizeof(float)) == 0;
  double big = 0;
  for (size_t i = 0; i < len; i++) if (fabs((double)want[i]) > big) big = fabs((double)want[i]);   /* NaN: no */
  for (size_t i = 0; i < len; i++)   /* (an output the product does not write stays NaN in both) */
    if (memcmp(&got[i], &want[i], sizeof(float)) != 0 && !(fabs((double)got[i] - (double)want[i]) <= 1e-5 + 1e-4 * big))
      return 0;
  return 1;
}

static int run(int pi, product *q, double budget) {
  setup(q);
  size_t len = outputs(q, NULL);
  float *want = malloc(len * sizeof(float)), *got = malloc(len * sizeof(float));
  double *best = malloc((size_t)q->ncand * sizeof(double));
  if (!want || !got || !best) exit(1);
  for (int c = 0; c < q->ncand; c++) {
    clear(q);
    q->fns[c]();
    outputs(q, c == 0 ? want : got);
    if (c > 0 && !same(want, got, len, q->exact)) { printf("mismatch %d %d\n", pi, c); fflush(stdout); return 1; }
    best[c] = 1e30;
  }
  make_copies(q);
  /* reps: calls per timed block, doubled until a block takes 0.5 ms (reading the CPU clock is
     a system call, ~0.6 us under KVM: a block must dwarf it) */
  long reps = 1;
  for (;;) {
    double t0 = cpu();
    for (long r = 0; r < reps; r++) call(q, q->fns[0]);
    if (cpu() - t0 >= 5e-4 || reps >= (1L << 24)) break;
    reps *= 2;
  }
  double start = now();
  for (int round = 0; round < 3 || now() - start < 0.6 * budget; round++) {
    for (int i = 0; i < q->ncand; i++) {
      int c = (round + i) % q->ncand;
      double s = cpu();
      for (long r = 0; r < reps; r++) call(q, q->fns[c]);
      double t = (cpu() - s) / (double)reps;
      if (t < best[c]) best[c] = t;
    }
    if (round > 10000) break;
  }
  for (int c = 0; c < q->ncand; c++) printf("time %d %d %.6f\n", pi, c, best[c] * 1e6);
  /* The fastest of many noisy minimums is biased towards luck: time it again against the
     default, in pairs (default, it, default, it, ...), and report the median of the ratios. */
  int win = 0;
  for (int c = 1; c < q->ncand; c++) if (best[c] < best[win]) win = c;
  if (win > 0) {
    enum { MAX_PAIRS = 4096 };
    static double ratio[MAX_PAIRS];
    int np = 0;
    start = now();
    while (np < MAX_PAIRS && (np < 5 || now() - start < 0.4 * budget)) {
      double t[2];
      for (int k = 0; k < 2; k++) {
        void (*fn)(void) = q->fns[k ? win : 0];
        double s = cpu();
        for (long r = 0; r < reps; r++) call(q, fn);
        t[k] = cpu() - s;
      }
      ratio[np++] = t[0] / t[1];
    }
    for (int i = 1; i < np; i++)   /* insertion sort: a few thousand at most */
      for (int j = i; j > 0 && ratio[j - 1] > ratio[j]; j--) { double x = ratio[j]; ratio[j] = ratio[j - 1]; ratio[j - 1] = x; }
    printf("confirm %d %d %.6f %d\n", pi, win, np % 2 ? ratio[np / 2] : 0.5 * (ratio[np / 2 - 1] + ratio[np / 2]), np);
  }
  printf("done %d\n", pi);
  fflush(stdout);
  free_copies(q);
  free(want); free(got); free(best);
  return 0;
}
]==]

-- What one step of the network sweeps through, in bytes, as tune estimates it: every layer's
-- W once (its forward product's K x N; a training step's update rewrites W in place, and the
-- activations of the batch are small beside the weights of the layers where this matters).
function M.step_bytes(prods)
  local w = 0
  for _, p in ipairs(prods) do
    if p.product == "xw" or p.product == "stream" then w = w + 4 * p.K * p.N end
  end
  return w
end

-- How many copies of a product's W (bytes) its timed calls rotate through: as many Ws of this
-- size as the step sweeps through (reach, M.step_bytes), rounded, so each call finds W in the
-- cache level the step leaves it in (a W that the rest of the step pushes out of the L3 comes
-- from memory; one call after the other would find it in the L3). At most WEIGHT_COPIES, and
-- at most WEIGHT_COPY_BYTES of W's copies (as much again for wu's; freed after the
-- product). Measured on Zen 4 (EPYC, 1 MB L2, a VM's share of a 32 MB L3; 784-2048-2048-10
-- B=64, the 784x2048 forward alone, fastest of 100 calls): unpacked W
-- read in place 1824 us against 2098-2126 for the default's packed panels with one W, but
-- 2134-2173 with 2, 4 or 8 copies, where packed panels of 196 inputs took 1906-1930; inside
-- the step the unpacked choice (tune's without copies) made the forward 1.6 % slower, the
-- 196-input panels 5 % faster. Rounded, not rounded up: 784-1024-10 (the 784x1024 W is almost
-- all of the step's) with 2 copies timed its default at 1223 us against 1003 inside the step,
-- and tune chose packed panels that made the step's forward 4 % slower than unpacked W.
M.WEIGHT_COPIES = 16
M.WEIGHT_COPY_BYTES = 256 * 1024 * 1024
function M.weight_copies(bytes, reach)
  bytes = math.max(1, bytes)
  local n = (2 * reach + bytes) // (2 * bytes)
  n = math.min(n, M.WEIGHT_COPIES, M.WEIGHT_COPY_BYTES // bytes)
  return math.max(1, n)
end

-- The whole timing program for the products and their candidates.
local function program(isa, prods, budget)
  -- (stdint.h: the kernels' prefetches may compute addresses as uintptr_t, as NAME.c gets it
  -- from NAME.h)
  local c = {"#define _POSIX_C_SOURCE 200809L\n#include <math.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <time.h>\n"}
  for _, h in ipairs(isa.includes or {}) do c[#c + 1] = "#include <" .. h .. ">\n" end
  c[#c + 1] = RUNNER
  if isa.helpers then c[#c + 1] = isa.helpers end
  -- (the fused activations' vector helpers, as NAME.c has them: gen/lower.lua)
  local acts = {}
  for _, p in ipairs(prods) do if p.act then acts[#acts + 1] = p.act.op end end
  local act_helpers = require("kernels.actmath").helpers(isa, acts)
  if act_helpers then c[#c + 1] = act_helpers end
  for pi, p in ipairs(prods) do
    c[#c + 1] = string.format("static bufs P%d;\n", pi)
    local fns = {}
    for ci, t in ipairs(p.cands) do
      c[#c + 1] = candidate_c(isa, p, pi, ci, t)
      fns[ci] = string.format("p%d_c%d", pi, ci)
    end
    c[#c + 1] = string.format("static void (*const p%d_fns[])(void) = {%s};\n", pi, table.concat(fns, ", "))
  end
  c[#c + 1] = "int main(void) {\n  int bad = 0;\n"
  local reach = M.step_bytes(prods)
  for pi, p in ipairs(prods) do
    c[#c + 1] = string.format("  { product q = {%d, %d, %d, %d, %d, p%d_fns, &P%d, %d, 0, 0, 0}; bad |= run(%d, &q, %.3f); }\n",
      p.K, p.N, p.batch, #p.cands, p.product == "stream" and 0 or 1, pi, pi, M.weight_copies(4 * p.K * p.N, reach), pi,
      budget / #prods)
  end
  c[#c + 1] = "  return bad;\n}\n"
  return table.concat(c)
end

-- The CPU model from /proc/cpuinfo (tune measures this machine, so it may read it), printable.
local function cpu_model()
  local info = require("target").cpuinfo()
  local m = info:match("model name%s*:%s*([^\n]+)") or info:match("Hardware%s*:%s*([^\n]+)")
    or (info:match("CPU implementer%s*:%s*(%S+)") and "Arm implementer " .. info:match("CPU implementer%s*:%s*(%S+)")
        .. " part " .. (info:match("CPU part%s*:%s*(%S+)") or "?"))
    or "unknown"
  return (m:gsub("[^\32-\126]", "?"):gsub("%s+", " "):sub(1, 200))
end

local function file_name(path)
  return (path:gsub("/+$", ""):match("[^/]*$"))
end

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- cmd (run in the temporary directory tmp) under a shell whose traps take tmp away when a
-- signal ends it: Ctrl-C reaches the whole process group, and chainrule itself either dies of
-- it while it reads a pipe or, in os.execute (which ignores SIGINT), sees the command end by
-- it (by_signal) and says so.
local function trapped(tmp, cmd)
  local rm = "rm -rf " .. sh_quote(tmp)
  return string.format("trap %s INT; trap %s TERM; trap %s HUP; %s", sh_quote(rm .. "; exit 130"),
    sh_quote(rm .. "; exit 143"), sh_quote(rm .. "; exit 129"), cmd)
end
-- An os.execute's or a pipe's close status: the command ended by a signal (or a trap above).
local function by_signal(how, code)
  return how == "signal" or (how == "exit" and (code == 129 or code == 130 or code == 143))
end
local INTERRUPTED = "interrupted by a signal; nothing written"

-- How much faster (median of paired runs) a candidate must be than the default to be chosen:
-- below this the difference is within the noise of a loaded machine; the default is kept.
M.MARGIN = 0.04

-- The whole-network check's decision: ratios = the paired runs' tuned/default times of the
-- whole step. Keeps the per-product choices only if the median says the tuned step is faster
-- (a product timed alone can win and still slow the step: the caches are in another state).
-- Returns keep (boolean) and the median (nil without ratios: nothing measured, keep nothing).
function M.whole_keeps(ratios)
  local r = {}
  for i, v in ipairs(ratios) do r[i] = v end
  if #r == 0 then return false, nil end
  table.sort(r)
  local n = #r
  local median = n % 2 == 1 and r[(n + 1) // 2] or 0.5 * (r[n // 2] + r[n // 2 + 1])
  return median < 1.0, median
end

-- The whole-network timing program's main: the step (training: NAME_train_step_scratch, the
-- step the trainer and make bench run; inference:
-- NAME_forward) of the tuned and the default build, in pairs of blocks of reps calls, the
-- order alternating; prints "pair RATIO" (tuned/default) for each pair. Deterministic inputs,
-- parameters and targets, the same for both builds; a small lr keeps the weights bounded.
-- Timed in thread CPU time, as the products (RUNNER). Each timed block follows one untimed
-- step of its own net: the rounds run A B | B A | A B ..., so without it the second block
-- of a round found the caches as the other net left them and the first as its own net
-- did. On Zen 4 (a conv net of 5 MB of activations at B=64, one step per block) the second
-- block ran 7-9 % slower, the paired ratios fell into two clusters (0.89-0.91 and 1.05-1.10
-- on average over the rounds where one or the other ran first) and their median anywhere
-- between: 0.80 in one tune run, 0.97-0.98 in the next three; with the untimed step the
-- two orders' averages were within 2-3 % and the median 0.93-0.97.
local WHOLE_MAIN = [==[
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "tuned_net.h"
#include "default_net.h"

]==] .. CLOCKS .. ALLOC .. [==[

static unsigned long long rng;
static float rnd(void) {   /* in [-1, 1) */
  rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
  return (float)((double)(rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

/* (the structs from tune_alloc, as the trainer's: huge pages from 2 MB; static arrays would
   sit on 4 KB pages) */
#define NET(N, U) \
  static N##_params *N##_p; static N##_work *N##_w; static float *N##_x; \
  EXTRA(N, U) \
  static void N##_setup(void) { \
    N##_p = tune_alloc(sizeof *N##_p); N##_w = tune_alloc(sizeof *N##_w); \
    N##_x = tune_alloc(sizeof(float) * U##_BATCH * U##_IN); \
    rng = 88172645463325252ull; \
    for (int t = 0; t < U##_TENSOR_COUNT; t++) { \
      float *f = (float *)(void *)N##_p + N##_tensors[t].offset; \
      for (size_t i = 0; i < (size_t)N##_tensors[t].rows * (size_t)N##_tensors[t].cols; i++) f[i] = 0.05f * rnd(); \
    } \
    for (size_t i = 0; i < (size_t)U##_BATCH * U##_IN; i++) N##_x[i] = rnd(); \
    SETUP_EXTRA(N, U) \
  }

$EXTRA

NET(tuned_net, TUNED_NET)
NET(default_net, DEFAULT_NET)

int main(int argc, char **argv) {
  double budget = argc > 1 ? atof(argv[1]) : 1.0;
  tuned_net_setup();
  default_net_setup();
  long reps = 1;   /* steps per timed block: doubled until a block takes 2 ms of each */
  for (;;) {
    double t0 = cpu();
    for (long r = 0; r < reps; r++) { STEP(tuned_net, TUNED_NET); STEP(default_net, DEFAULT_NET); }
    if (cpu() - t0 >= 4e-3 || reps >= (1L << 20)) break;
    reps *= 2;
  }
  double start = now();
  for (int round = 0; round < 4096 && (round < 6 || now() - start < budget); round++) {
    double t[2];
    for (int k = 0; k < 2; k++) {
      int which = (round + k) % 2;   /* 0: tuned */
      /* one untimed step first: the block then starts from its own net's caches, not from
         the other net's (without it the second block of a round ran ~8 % slower) */
      if (which == 0) STEP(tuned_net, TUNED_NET); else STEP(default_net, DEFAULT_NET);
      double s = cpu();
      if (which == 0) for (long r = 0; r < reps; r++) STEP(tuned_net, TUNED_NET);
      else for (long r = 0; r < reps; r++) STEP(default_net, DEFAULT_NET);
      t[which] = cpu() - s;
    }
    printf("pair %.6f\n", t[0] / t[1]);
  }
  (void)out_sink;
  return 0;
}
]==]

local WHOLE_TRAIN = [==[
#define EXTRA(N, U) static N##_grads *N##_g; static N##_opt *N##_s; static N##_target N##_t[U##_BATCH];
#define SETUP_EXTRA(N, U) \
  N##_g = tune_alloc(sizeof *N##_g); N##_s = tune_alloc(sizeof *N##_s); \
  N##_opt_init(N##_s); N##_s->lr = 1e-4f; \
  for (int i = 0; i < U##_BATCH; i++) N##_t[i] = TARGET(U);
#ifdef TUNED_NET_LOSS_CROSS_ENTROPY
#define TARGET(U) (int)((rng = rng * 6364136223846793005ull + 1) >> 33) % U##_OUT
#else
#define TARGET(U) rnd()
#endif
static volatile float out_sink;
#define STEP(N, U) (out_sink = N##_train_step_scratch(N##_p, N##_s, N##_g, N##_w, N##_x, N##_t, U##_BATCH))
]==]

local WHOLE_INFER = [==[
#define EXTRA(N, U) static float N##_out[U##_BATCH * U##_OUT];
#define SETUP_EXTRA(N, U)
static volatile float out_sink;
#define STEP(N, U) (N##_forward(N##_out, N##_w, N##_p, N##_x, U##_BATCH), out_sink = N##_out[0])
]==]

-- Generates the network twice into dir (tuned_net with the tune file at tune_path, default_net
-- without, or with the one at base_path), compiles them with the timing main and dir's runtime
-- files (M.run writes them), runs it for budget seconds: the ratios, or nil
-- and why not (a user error for a failed compile).
-- A net whose generated files are those of an earlier call of the same tune run (the default
-- against every kind's choices in whole_check, the same base across flip_check's flips) links
-- that call's object instead of compiling it again (whole_objects[dir].by_files: the role and
-- its files -> the object; the same command on the same text); cr_util.c is compiled once.
local whole_objects = {}   -- (by the temporary directory: one per tune run, dropped by its cleanup)
local function whole_step(o, isa, cc, dir, tune_path, budget, base_path)
  local driver = require "driver"
  local base = {spec = o.spec, isa = isa.name, cpu = isa.cpu.name, batch = o.batch, inference = o.max_batch ~= nil,
                max_batch = o.max_batch}
  local objects = whole_objects[dir] or {by_files = {}, count = 0}
  whole_objects[dir] = objects
  local compile, link = {}, {}
  local function cc_obj(src, obj)
    return string.format("%s -std=c11 -O2 %s -Iruntime -c -o %s %s", cc, isa.guard_flags or "", obj, src)
  end
  if not objects.runtime then
    objects.runtime = "cr_util.o"
    compile[#compile + 1] = cc_obj("runtime/cr_util.c", "cr_util.o")
  end
  for _, v in ipairs({{"tuned_net", tune_path}, {"default_net", base_path}}) do
    local c = {}
    for k, x in pairs(base) do c[k] = x end
    c.name = v[1]
    if v[2] then c.tune, c.tune_file = v[2], M.load(v[2]) end
    local key = {v[1]}
    for _, f in ipairs(driver.generate(c)) do
      key[#key + 1] = f[1] .. "\0" .. f[2]
      local h = io.open(dir .. "/" .. f[1], "wb")
      if not h then return nil, "cannot write to " .. dir end
      h:write(f[2])
      h:close()
    end
    key = table.concat(key, "\0")
    if not objects.by_files[key] then
      objects.count = objects.count + 1
      local obj = string.format("%s_%d.o", v[1], objects.count)
      compile[#compile + 1] = cc_obj(v[1] .. ".c", obj)
      objects.by_files[key] = obj
    end
    link[#link + 1] = objects.by_files[key]
  end
  local main = WHOLE_MAIN:gsub("%$EXTRA", function() return o.max_batch and WHOLE_INFER or WHOLE_TRAIN end)
  local h = io.open(dir .. "/whole.c", "wb")
  if not h then return nil, "cannot write to " .. dir end
  h:write(main)
  h:close()
  compile[#compile + 1] = string.format("%s -std=c11 -O2 %s -Iruntime -o whole whole.c %s %s -lm", cc, isa.guard_flags or "",
    table.concat(link, " "), objects.runtime)
  local cmd = string.format("cd %s && { %s; } >wlog 2>&1", sh_quote(dir), table.concat(compile, " && "))
  local ok, how, code = os.execute(trapped(dir, cmd))
  if not ok then
    whole_objects[dir] = nil   -- (an object may be half written: each is compiled again)
    if by_signal(how, code) then return nil, INTERRUPTED, true end
    local msg = host.read_plain(dir .. "/wlog", 1 << 20) or ""
    return nil, "'" .. cc .. "' failed to build the whole-network timing program: "
      .. (msg:match("[^\n]*error[^\n]*") or msg:match("[^\n]+") or "no message"), true
  end
  local ratios = {}
  local run = io.popen(trapped(dir, sh_quote(dir .. "/whole") .. " " .. string.format("%.3f", budget)))
  for line in run:lines() do
    local r = line:match("^pair (%S+)$")
    if r then ratios[#ratios + 1] = tonumber(r) end
  end
  ok, how, code = run:close()
  if not ok then return nil, by_signal(how, code) and INTERRUPTED or "the whole-network timing program failed", true end
  return ratios
end

-- The tune file's product lines (each after a comment saying what was measured) onto out;
-- an xtg product's sparse choice (p.sparse: sparses_of, flip_check) as its sparse key.
local function entry_lines(out, prods)
  for _, p in ipairs(prods) do
    out[#out + 1] = string.format("# %s %dx%d B=%d: %d candidates, default %.2f us; %s", p.product, p.K, p.N, p.batch,
      #p.cands, p.t_default, p.note)
    if p.sparse_note then out[#out + 1] = string.format("# xtg %dx%d B=%d: %s", p.K, p.N, p.batch, p.sparse_note) end
    local t = p.cands[p.chosen]
    if p.sparse ~= nil then
      local copy = {}
      for k, v in pairs(t) do copy[k] = v end
      copy.sparse, t = p.sparse, copy
    end
    out[#out + 1] = p.key .. " " .. schedule.words(p.product, t)
  end
end

-- M.WHOLE_SHARE of the budget times the whole step tuned against untuned
M.WHOLE_SHARE = 0.25

-- After the per-product choices: when one chose a non-default candidate, times the whole
-- step with the choices against the defaults (M.whole_keeps). When that step is not faster
-- and the choices are of more than one kind of product (xw, gwt, xtg, stream), one kind can
-- be what slows it (a product timed alone sees the caches in another state; gwt is timed as
-- "wt" alone, and a "gt" default then loses to a "wt" choice only inside the step): each
-- kind's choices are timed alone against the defaults, for the same share of the budget
-- each, and kept if that step is faster; two or more kept kinds are timed together once
-- more, and if together they are not faster, only the kind whose step was fastest stays.
-- Returns the tune file's comment lines saying so (or nil when nothing was chosen); resets
-- p.chosen to the default of every product whose choice was dropped.
local function set_of(list)
  local set = {}
  for _, k in ipairs(list) do set[k] = true end
  return set
end

local function whole_check(o, isa, cc, tmp, prods, cleanup, log)
  local picked = {}   -- p -> its chosen candidate
  local kinds, by_kind = {}, {}
  for _, p in ipairs(prods) do
    if p.chosen ~= 1 then
      picked[p] = p.chosen
      if not by_kind[p.product] then by_kind[p.product] = true; kinds[#kinds + 1] = p.product end
    end
  end
  if #kinds == 0 then return nil end
  local path = tmp .. "/chosen.tune"
  local budget = math.max(0.05, M.WHOLE_SHARE * o.budget)
  local what = o.max_batch and "forward" or "train step"
  -- the whole step with the choices of the kinds in set (kind -> true), the others at their
  -- defaults: keep, median, pairs; or nil and the comment line when it could not be timed
  local function time_with(set, label)
    for p, c in pairs(picked) do p.chosen = set[p.product] and c or 1 end
    local lines = {M.HEADER, "isa " .. isa.name}
    entry_lines(lines, prods)
    local f = io.open(path, "wb")
    if not f then cleanup(); errors.user("chainrule tune: cannot write to " .. tmp) end
    f:write(table.concat(lines, "\n"), "\n")
    f:close()
    log(string.format("tune: timing the whole %s%s, tuned against the default, about %g s", what, label, budget))
    local ok, ratios, why, fatal = pcall(whole_step, o, isa, cc, tmp, path, budget)
    if not ok then cleanup(); error(ratios, 0) end
    if not ratios then
      if fatal then cleanup(); errors.user("chainrule tune: " .. why) end
      return nil, why
    end
    local keep, median = M.whole_keeps(ratios)
    return keep, median, #ratios
  end
  local keep, median, n = time_with(set_of(kinds), "")
  if keep == nil then
    log("tune: whole step not timed (" .. median .. "): kept the choices")
    return {"# whole step not timed (" .. median .. "): the choices are kept unchecked"}
  end
  local said = string.format("whole %s: tuned %.3fx the default's time in %d paired runs", what, median or 0, n)
  if keep then
    log("tune: " .. said .. ": kept the choices")
    return {"# " .. said .. ": the choices are kept"}
  end
  local out = {"# " .. said .. " (not faster)" .. (#kinds > 1 and "; each kind of product alone:" or ":")}
  local kept = {}
  if #kinds > 1 then
    log("tune: " .. said .. ": not faster; timing each kind of product's choices alone")
    local best, best_median
    for _, k in ipairs(kinds) do
      local kk, km, kn = time_with({[k] = true}, " with the " .. k .. " choices alone")
      local line
      if kk == nil then
        line = string.format("%s choices alone: not timed (%s): dropped", k, km)
      else
        line = string.format("%s choices alone: tuned %.3fx the default's time in %d paired runs: %s", k, km or 0, kn,
          kk and "kept" or "dropped")
        if kk then
          kept[#kept + 1] = k
          if not best_median or km < best_median then best, best_median = k, km end
        end
      end
      log("tune: whole " .. what .. ", " .. line)
      out[#out + 1] = "#   " .. line
    end
    if #kept > 1 then
      local label = table.concat(kept, " + ")
      local tk, tm, tn = time_with(set_of(kept), " with the " .. label .. " choices together")
      local line
      if tk then
        line = string.format("%s choices together: tuned %.3fx the default's time in %d paired runs: kept", label, tm, tn)
      else
        line = string.format("%s choices together: %s: only the %s choices kept", label,
          tk == nil and "not timed (" .. tm .. ")" or string.format("tuned %.3fx the default's time in %d paired runs, not faster", tm or 0, tn), best)
        kept = {best}
      end
      log("tune: whole " .. what .. ", " .. line)
      out[#out + 1] = "#   " .. line
    end
  else
    log("tune: " .. said .. ": kept the defaults")
  end
  local set = set_of(kept)
  for p, c in pairs(picked) do
    if set[p.product] then
      p.chosen = c
    else
      p.chosen = 1
      p.note = p.note .. "; dropped (whole step)"
    end
  end
  if #kept == 0 then
    if #kinds > 1 then log("tune: whole " .. what .. ": no kind of choice made it faster: kept the defaults") end
    out[#out + 1] = "# every choice was dropped, each product keeps its default tiling"
  else
    out[#out + 1] = "# kept the " .. table.concat(kept, " + ") .. " choices; the others keep their default tilings"
  end
  return out
end

-- The conv2d layers of a training build whose backward can take another form of dW or dx
-- than its default on isa (gen/kernels/convtile.lua backward_choices), each size once:
-- {key (the tune file's words after "conv"), what (for the log), forms = {{key = "wgrad" or
-- "dx", default, other}...}, chosen = {wgrad, dx} (the defaults)}. The first layer's dx is
-- not computed in a train step: only its dW.
local function convs_of(sched, isa, batch)
  local convtile = require "kernels.convtile"
  local list, seen = {}, {}
  for k, s in ipairs(sched.steps) do
    local prev = sched.steps[k - 1]
    if s.product and s.product.op.word == "conv2d" then
      local c = convtile.backward_choices(isa, s, prev and prev.act and {op = prev.act.op, opts = prev.act.opts}, k > 1)
      if c and #c.forms > 0 then
        local key = table.concat(convtile.tune_key(c.g, batch), " ")
        if not seen[key] then
          seen[key] = true
          local g = c.g
          c.key = key
          c.what = string.format("conv %dx%dx%d -> %d k%d s%d p%d B=%d", g.C, g.H, g.W, g.O, g.K, g.S, g.P, batch)
          c.chosen = {}
          for _, f in ipairs(c.forms) do c.chosen[f.key] = f.default end
          c.notes = {}
          list[#list + 1] = c
        end
      end
    end
  end
  return list
end

-- A tune file's conv lines (each after its comments) onto out.
local function conv_lines(out, convs)
  for _, c in ipairs(convs) do
    for _, note in ipairs(c.notes) do out[#out + 1] = "# " .. c.what .. ": " .. note end
    local words = {}
    for _, f in ipairs(c.forms) do words[#words + 1] = f.key .. "=" .. c.chosen[f.key] end
    out[#out + 1] = "conv " .. c.key .. " " .. table.concat(words, " ")
  end
end

-- How much faster (median of paired runs of the whole step) a layer's other form (a conv
-- layer's backward, a sparse weight gradient) must make the step to be chosen: the step is
-- timed whole, whose median moves less than a product's alone; a form that changes one
-- layer's backward by 1.07x changes LeNet-5's step by about 2 %.
M.FORM_MARGIN = 0.01

-- The weight gradients behind a ReLU (products_of's relu) that can take the form from g's
-- nonzeros (schedule.xtg_sparse_fits), each with p.sparse set to its default. Whether that
-- form pays depends on g's density, which the products' timing program (random g) does not
-- have: it is timed in the whole train step, where the network's own ReLUs make g.
local function sparses_of(isa, prods)
  local list = {}
  for _, p in ipairs(prods) do
    if p.product == "xtg" and p.relu and schedule.xtg_sparse_fits(isa, p) then
      p.sparse = schedule.xtg_sparse_default(isa, {K = p.K, N = p.N, batch = p.batch, relu_g = true})
      list[#list + 1] = p
    end
  end
  return list
end

-- After the products: each switchable form, in turn, is timed in the whole train step
-- against the step with the choices so far (the products', the earlier forms'), for
-- M.WHOLE_SHARE of the budget each, and kept when the step is M.FORM_MARGIN faster. Greedy,
-- one form at a time: two layers' forms are not timed in every combination. flips: {tag
-- (the log's), what, name, default, other, get(), set(value), note(line)}, the forms being
-- a layer's sparse weight gradient (sparses_of: yes/no) and conv layers' backward forms
-- (convs_of: dense/sparse).
local function flip_check(o, isa, cc, tmp, prods, convs, flips, cleanup, log, force)
  local budget = math.max(0.05, M.WHOLE_SHARE * o.budget)
  local function write(path)
    local lines = {M.HEADER, "isa " .. isa.name}
    entry_lines(lines, prods)
    conv_lines(lines, convs)
    local f = io.open(path, "wb")
    if not f then cleanup(); errors.user("chainrule tune: cannot write to " .. tmp) end
    f:write(table.concat(lines, "\n"), "\n")
    f:close()
  end
  local count = {}
  for _, f in ipairs(flips) do count[f.tag] = (count[f.tag] or 0) + 1 end
  local seen = {}
  for _, f in ipairs(flips) do
    seen[f.tag] = (seen[f.tag] or 0) + 1
    local at = string.format("[%s %d/%d] %s", f.tag, seen[f.tag], count[f.tag], f.what)
    local name = f.name
    write(tmp .. "/base.tune")
    local was = f.get()
    f.set(f.other)
    write(tmp .. "/flip.tune")
    log(string.format("tune: %s: %s %s against %s (the default %s) in the whole train step, about %g s",
      at, name, f.other, was, f.default, budget))
    local ok, ratios, why, fatal = pcall(whole_step, o, isa, cc, tmp, tmp .. "/flip.tune", budget, tmp .. "/base.tune")
    if not ok then cleanup(); error(ratios, 0) end
    if not ratios and fatal then cleanup(); errors.user("chainrule tune: " .. why) end
    local _, median = M.whole_keeps(ratios or {})
    local keep = median and median <= 1 - M.FORM_MARGIN
    local said = median and string.format("%s %s: %.3fx the train step's time with %s %s in %d paired runs", name,
      f.other, median, name, was, #ratios) or string.format("%s %s: not timed (%s)", name, f.other, why)
    if force then keep, said = true, said .. "; forced" end
    f.set(keep and f.other or was)
    said = said .. (keep and ": chose " .. f.other or ": kept " .. was)
    f.note(said)
    log("tune: " .. at .. ": " .. said)
  end
end

-- The flips of sparses_of's products and of convs_of's layers' forms, in that order.
local function flips_of(sparses, convs)
  local flips = {}
  for _, p in ipairs(sparses) do
    local default = p.sparse and "yes" or "no"
    flips[#flips + 1] = {tag = "sparse", what = string.format("xtg %dx%d B=%d behind a ReLU", p.K, p.N, p.batch),
      name = "sparse", default = default, other = default == "yes" and "no" or "yes",
      get = function() return p.sparse and "yes" or "no" end, set = function(v) p.sparse = v == "yes" end,
      note = function(line) p.sparse_note = line end}
  end
  for _, c in ipairs(convs) do
    for _, f in ipairs(c.forms) do
      flips[#flips + 1] = {tag = "conv", what = c.what, name = f.key == "wgrad" and "dW" or "dx",
        default = f.default, other = f.other,
        get = function() return c.chosen[f.key] end, set = function(v) c.chosen[f.key] = v end,
        note = function(line) c.notes[#c.notes + 1] = line end}
    end
  end
  return flips
end

local time_products

-- chainrule tune: o = {spec, isa, out, budget, batch or max_batch}. Times the candidates, writes
-- the tune file (all or nothing) and returns its text.
function M.run(o, log)
  local spec = require "spec"
  local graph = require "graph"
  local target = require "target"
  local net = o.net or spec.load(o.spec)
  if o.max_batch or o.batch then   -- the inference build's rows, or the training build's batch
    local copy = {}
    for k, v in pairs(net) do copy[k] = v end
    copy.batch = o.max_batch or o.batch
    net = copy
  end
  local isa_name = o.isa or net.isa or "native"
  local isa = target.resolve(isa_name, o.isa and "chainrule tune" or (net.isa and net.path .. ":" .. net.isa_line .. ": isa" or "chainrule tune"))
  if isa.width == 1 then
    errors.user("chainrule tune: isa " .. isa.name .. " has no tiled kernels to tune (use "
      .. table.concat(M.tiled_isas(target), ", ") .. " or native)")
  end
  if not target.host_supports(isa.name) then
    errors.user("chainrule tune: this machine cannot run " .. isa.name .. " code: tune on the machine the code will run on")
  end
  -- the defaults it times against and starts from: this machine's family unless --cpu
  local cpus = require "cpus"
  isa = cpus.specialise(isa, cpus.resolve(o.cpu or "native", "chainrule tune: --cpu"))
  local g = graph.build(net)
  local sched = schedule.decide(g, isa)
  if sched.family ~= "tiled" then errors.user("chainrule tune: " .. o.spec .. ": no tiled products to tune") end
  local prods = products_of(g, sched, o.max_batch ~= nil)
  local convs = o.max_batch and {} or convs_of(sched, isa, g.batch)
  if #prods == 0 and #convs == 0 then
    errors.user("chainrule tune: " .. o.spec .. ": no linear layers to tune" .. (o.max_batch and "" or " and no conv2d backward with another form"))
  end
  local ncand = 0
  for _, p in ipairs(prods) do
    p.cands = schedule.candidates(isa, p.product, p)
    ncand = ncand + #p.cands
  end
  local sparses = o.max_batch and {} or sparses_of(isa, prods)
  local cc = os.getenv("CC")
  if not cc or cc:match("^%s*$") then cc = "cc" end
  local first = cc:match("^%s*(%S+)")
  if not os.execute("command -v " .. sh_quote(first) .. " >/dev/null 2>&1") then
    errors.user("chainrule tune: no C compiler: '" .. first .. "' not found (install one or set CC)")
  end
  local pipe = io.popen("mktemp -d \"${TMPDIR:-/tmp}/chainrule-tune.XXXXXX\"")
  local tmp = pipe and pipe:read("l")
  if pipe then pipe:close() end
  if not tmp or tmp == "" then errors.user("chainrule tune: cannot make a temporary directory") end
  -- (and forget the whole-step objects compiled there, whose keys hold the generated texts)
  local function cleanup() os.execute("rm -rf " .. sh_quote(tmp)); whole_objects[tmp] = nil end
  -- the runtime's files, once, for every timing program built in tmp (cr_alloc: ALLOC)
  if not require("driver").write_runtime(tmp) then cleanup(); errors.user("chainrule tune: cannot write to " .. tmp) end
  local nforms = 0
  for _, c in ipairs(convs) do nforms = nforms + #c.forms end
  log(string.format("tune: %s on %s (%s; defaults of cpu %s): %d products, %d candidates%s; compiling with %s",
    file_name(o.spec), isa.name, cpu_model(), isa.cpu.name, #prods, ncand,
    (#sparses > 0 and string.format(", %d sparse weight gradient%s", #sparses, #sparses > 1 and "s" or "") or "")
      .. (#convs > 0 and string.format(", %d conv2d backward forms", nforms) or ""), cc))
  -- hidden, for the tests: choose each product's last candidate (never the default), each
  -- other form (sparse weight gradients', conv layers')
  local force = os.getenv("CHAINRULE_TUNE_FORCE") == "1"
  local whole
  if #prods > 0 then
    whole = time_products(o, isa, cc, tmp, prods, cleanup, log, force)
  end
  local flips = flips_of(sparses, convs)
  if #flips > 0 then flip_check(o, isa, cc, tmp, prods, convs, flips, cleanup, log, force) end
  cleanup()
  local out = {"# written by chainrule tune from " .. file_name(o.spec) .. "; read by chainrule gen --tune FILE",
               "# each product's fastest candidate (minimum over interleaved runs), kept if the median of paired",
               string.format("# runs against the default says it is at least %d%% faster. CPU microseconds per call, this machine.",
                 math.floor(M.MARGIN * 100 + 0.5)),
               "# the default: gen --cpu " .. isa.cpu.name .. "'s (a key left out below keeps that family's default)"}
  if #flips > 0 then
    out[#out + 1] = string.format("# %s: each form timed in the whole train step, kept if the median of paired runs says it is at least %d%% faster",
      #sparses > 0 and #convs > 0 and "sparse and conv" or #sparses > 0 and "sparse" or "conv", math.floor(M.FORM_MARGIN * 100 + 0.5))
  end
  for _, line in ipairs(whole or {}) do out[#out + 1] = line end
  out[#out + 1] = M.HEADER
  out[#out + 1] = "isa " .. isa.name
  out[#out + 1] = "cpu " .. cpu_model()
  entry_lines(out, prods)
  conv_lines(out, convs)
  return table.concat(out, "\n") .. "\n", prods
end

-- The products' candidates timed alone (the timing program), each product's choice, then
-- the whole-step check of the choices (whole_check): its comment lines.
function time_products(o, isa, cc, tmp, prods, cleanup, log, force)
  local f = io.open(tmp .. "/tune.c", "wb")
  if not f then cleanup(); errors.user("chainrule tune: cannot write to " .. tmp) end
  f:write(program(isa, prods, o.budget))
  f:close()
  local cmd = string.format("cd %s && %s -std=c11 -O2 %s -Iruntime -o tune tune.c runtime/cr_util.c -lm >log 2>&1", sh_quote(tmp), cc, isa.guard_flags or "")
  local built, how, code = os.execute(trapped(tmp, cmd))
  if not built then
    if by_signal(how, code) then cleanup(); errors.user("chainrule tune: " .. INTERRUPTED) end
    local msg = host.read_plain(tmp .. "/log", 1 << 20) or ""
    cleanup()
    errors.user("chainrule tune: '" .. cc .. "' failed to build the timing program: "
      .. (msg:match("[^\n]*error[^\n]*") or msg:match("[^\n]+") or "no message"))
  end
  log(string.format("tune: timing, about %g s (--budget)", o.budget))
  local times, confirm = {}, {}
  local run = io.popen(trapped(tmp, sh_quote(tmp .. "/tune")))
  local mismatch
  for line in run:lines() do
    local pi, ci, us = line:match("^time (%d+) (%d+) (%S+)$")
    if pi then
      pi = math.tointeger(tonumber(pi))
      times[pi] = times[pi] or {}
      times[pi][math.tointeger(tonumber(ci)) + 1] = tonumber(us)   -- the program counts from 0
    end
    local cp, cc_, cr, cn = line:match("^confirm (%d+) (%d+) (%S+) (%d+)$")
    if cp then confirm[math.tointeger(tonumber(cp))] = {math.tointeger(tonumber(cc_)) + 1, tonumber(cr), tonumber(cn)} end
    local mp, mc = line:match("^mismatch (%d+) (%d+)$")
    if mp then mismatch = {tonumber(mp), tonumber(mc)} end
    local done = line:match("^done (%d+)$")
    if done then
      local pi = math.tointeger(tonumber(done))
      local p, t, cf = prods[pi], times[pi], confirm[pi]
      -- the fastest candidate, if its paired re-timing against the default says it is faster
      local best, speedup = 1, 1
      if cf and cf[2] >= 1 + M.MARGIN then best, speedup = cf[1], cf[2] end
      p.chosen, p.t_default, p.t_best, p.speedup = best, t[1], t[best], speedup
      p.note = cf and string.format("fastest %s: %.2fx in %d paired runs", schedule.words(p.product, p.cands[cf[1]]), cf[2], cf[3])
        or "the default was fastest"
      if force and #p.cands > 1 then   -- (tests: the whole-step check runs whatever the timing)
        best = #p.cands
        p.chosen, p.t_best = best, t[best]
        p.note = "forced " .. schedule.words(p.product, p.cands[best])
      end
      log(string.format("tune: [%d/%d] %s %dx%d B=%d: %d candidates, default %.1f us; %s; %s", pi, #prods, p.product,
        p.K, p.N, p.batch, #p.cands, t[1], p.note, best == 1 and "kept the default" or "chose it"))
    end
  end
  local ok, how2, code2 = run:close()
  if not ok and by_signal(how2, code2) then cleanup(); errors.user("chainrule tune: " .. INTERRUPTED) end
  if mismatch then
    cleanup()
    local p = prods[mismatch[1]]
    error(string.format("tune: %s %dx%d B=%d: candidate %s gives other results than the default (a kernel bug)",
      p.product, p.K, p.N, p.batch, schedule.words(p.product, p.cands[mismatch[2] + 1])))
  end
  if not ok then cleanup(); errors.user("chainrule tune: the timing program failed") end
  return whole_check(o, isa, cc, tmp, prods, cleanup, log)
end

return M
