-- The layers with a training and an inference mode: batchnorm and dropout (gen/ops/), as
-- portable C loops (the same text for every ISA). Every bound is a compile-time constant
-- except the row count n; every sum runs in a fixed order (per image, then over the images),
-- so a build gives the same bits on every run.
--
-- M.forward(s, mem, ctx) returns the inference-mode function and its call, then the
-- training-mode call (its function is part of the text, except in an inference-only build,
-- ctx.inference); M.backward has gen/kernels/layer.lua's contract and follows the training
-- forward. mem: input, a, d, and stats (batchnorm) or keep (dropout) from gen/plan.lua.
local emit = require "emit"
local epilogue = require "kernels.epilogue"

local M = {}

local function pad(fn) return string.rep(" ", #fn + 13) end

-- The uniform draw of the dropout mask: PCG32 (PCG-XSH-RR 64/32, runtime/cr_rng.c's
-- generator) on r[0] (state) and r[1] (increment), top 24 bits as a float in [0, 1), from
-- the state before its step (each step: state = state * PCG_MUL + increment).
local DRAW = [[
/* Dropout's generator: PCG32 (XSH-RR 64/32) with state r[0] and increment r[1]; the draw
   of state s, before its step s * 6364136223846793005 + r[1], is the top 24 bits of its
   output as a float in [0, 1) (runtime/cr_rng.c's cr_rng_uniform). */
static float dropout_draw(uint64_t s) {
  const uint32_t xs = (uint32_t)(((s >> 18) ^ s) >> 27);
  const uint32_t rot = (uint32_t)(s >> 59);
  const uint32_t u = (xs >> rot) | (xs << ((32u - rot) & 31u));
  return (float)(u >> 8) * 0x1p-24f;
}
]]
-- One step per draw (the scalar ISA: DROP_LANES below)
local UNIFORM = [[
/* One draw and its step. */
static float dropout_uniform(uint64_t *restrict r) {
  const uint64_t s = r[0];
  r[0] = s * 6364136223846793005ULL + r[1];
  return dropout_draw(s);
}
]]
local PCG_MUL = 6364136223846793005

-- The generator's C functions for an ISA of `width` floats.
function M.helpers(width) return width > 1 and DRAW or DRAW .. UNIFORM end

-- The draws of a row run in DROP_LANES lanes, lane l holding the state of draw j0 + l: from
-- the row's first state s, s_l = A^l·s + S_l·c (A = PCG_MUL, c the increment, S_l = 1 + A +
-- ... + A^(l-1)); each block of lanes steps by DROP_LANES at once (A^L, S_L·c), and r[0]
-- moves past the row (A^N, S_N·c). The same states in the same order as one step per draw
-- (the lanes are independent, so compilers vectorise the 64-bit steps and the output
-- function), where one step per draw was a chain of dependent 64-bit multiplies: the
-- training forward of fashion_cnn's first dropout (64 x 1568 draws) 140-160 -> 24-30 us
-- with -march=native on the Zen 4 VM, 141-150 -> 53-57 us with -mavx2 (clang, gcc). The
-- scalar ISA keeps one step per draw: with SSE2 alone gcc took 141 -> 167 us.
M.DROP_LANES = 16

-- A^k and S_k = 1 + A + ... + A^(k-1) modulo 2^64 (Lua's integers wrap around).
local function pcg_jump(k)
  local a, s = 1, 0
  for _ = 1, k do s, a = s + a, a * PCG_MUL end
  return a, s
end

local function u64(v) return string.format("0x%016xULL", v) end

-- The C text of the in_act derivative applied to value v at element (row i, column j).
local function times_in_act(ctx, v, j)
  local in_act = ctx.in_act
  if not in_act then return v end
  return epilogue.grad_scalar(in_act, "(" .. v .. ")", "m[i * " .. in_act.buf.ld .. " + " .. j .. "]")
end

-- The tensors of a batchnorm layer (cnames; gamma and beta nil without affine).
local function bn_tensors(L, ctx)
  local t = {}
  for _, name in ipairs({"running_mean", "running_var", "num_batches_tracked"}) do
    t[name] = ctx.tensor(L[name]).cname
  end
  if L.opts.affine then t.weight, t.bias = ctx.tensor(L.weight).cname, ctx.tensor(L.bias).cname end
  return t
end

-- A channel's sums over its n·P pixels (batchnorm after an image layer) run in LANES partial
-- sums: lane l takes the pixels q ≡ l (mod LANES) of each image in turn, and the lanes fold
-- pairwise at the end (lane l + w into lane l, w = LANES/2 down to 1). The order is fixed by
-- the C text, so every compiler and ISA gives the same bits, and each lane is its own chain:
-- compilers vectorise the lane loops without reassociating anything (one running sum was a
-- chain of n·P dependent adds, latency-bound: half of a Fashion-MNIST CNN's train step).
M.LANES = 64
-- Where every channel's lanes fit this many bytes of stack (two sets in the backward) and
-- the ISA is a SIMD one (the scalar ISA is also the microcontrollers': its stack stays at one
-- channel's lanes, 256-512 bytes), the passes walk the buffers in memory order, images outside and channels inside ("seq");
-- else channel by channel, each channel's n segments of P pixels a pass ("chan"). The sums
-- are the same, lane by lane, so are the bits. The stride of the chan form costs in DRAM
-- bandwidth: on the Zen 4 VM, fashion_cnn's first batchnorm (16×28×28, B=64), buffers
-- evicted to DRAM as in the train step: backward 750 → 590 µs, training forward 610 →
-- 450 µs (with the buffers in L3, 175 µs and 130–140 µs either way).
M.SEQ_BYTES = 32768

-- The main blocks and the tail of one image's pixels of channel c, lane by lane: stmt(q,
-- slot) is a C statement for pixel q (a C expression), slot(name) the lane's partial sum.
local function plane_lanes(b, d, P, stmt, slot)
  local main = P - P % M.LANES
  if main > 0 then
    b.put(d, string.format("for (int q0 = 0; q0 < %d; q0 += %d)", main, M.LANES))
    b.put(d + 1, string.format("for (int l = 0; l < %d; l++) %s", M.LANES, stmt("q0 + l", slot)))
  end
  if P % M.LANES > 0 then
    b.put(d, string.format("for (int l = 0; l < %d; l++) %s", P % M.LANES, stmt(main > 0 and main .. " + l" or "l", slot)))
  end
end

-- The plan of a batchnorm's sums over planes: its loop order, declarations and loops.
-- sums.declare(d, names) declares and zeroes the partial sums `names`; sums.over(d, pre,
-- stmt) walks the n images' pixels (seq: of every channel, `pre` the channel's constants;
-- chan: of channel c, inside the caller's channel loop); sums.fold(d, names) folds channel
-- c's lanes, leaving each sum in sums.total(name).
local function plane_sums(b, C, P, arrays, isa)
  local seq = isa.width > 1 and C * M.LANES * 4 * arrays <= M.SEQ_BYTES
  local sums = {seq = seq}
  local function slot(name) return name .. (seq and "[c][l]" or "[l]") end
  function sums.total(name) return name .. (seq and "[c][0]" or "[0]") end
  function sums.zero(d, names)
    local zero = {}
    for _, a in ipairs(names) do zero[#zero + 1] = slot(a) .. " = 0.0f;" end
    b.put(d, string.format("for (int l = 0; l < %d; l++) { %s }", M.LANES, table.concat(zero, " ")))
  end
  function sums.declare(d, names)
    local dims = seq and string.format("[%d][%d]", C, M.LANES) or string.format("[%d]", M.LANES)
    b.put(d, "_Alignas(64) float " .. table.concat(names, dims .. ", ") .. dims .. ";")
    if seq then b.put(d, string.format("for (int c = 0; c < %d; c++)", C)); d = d + 1 end
    sums.zero(d, names)
  end
  function sums.over(d, pre, stmt)
    b.put(d, "for (int i = 0; i < n; i++) {")
    if seq then
      b.put(d + 1, string.format("for (int c = 0; c < %d; c++) {", C))
      if pre then b.put(d + 2, pre) end
      plane_lanes(b, d + 2, P, stmt, slot)
      b.put(d + 1, "}")
    else
      plane_lanes(b, d + 1, P, stmt, slot)
    end
    b.put(d, "}")
  end
  function sums.fold(d, names)
    local fold = {}
    for _, a in ipairs(names) do
      local at = seq and a .. "[c]" or a
      fold[#fold + 1] = string.format("%s[l] += %s[l + w];", at, at)
    end
    b.put(d, string.format("for (int w = %d; w > 0; w /= 2)", M.LANES // 2))
    b.put(d + 1, string.format("for (int l = 0; l < w; l++) { %s }", table.concat(fold, " ")))
  end
  return sums
end

-- Element e of channel c, image i, pixel q (a C expression) of the [n][C][P] buffer `name`.
local function plane_at(name, ld, P, q) return string.format("%s[i * %d + c * %d + %s]", name, ld, P, q) end

-- The loops over every element of the n images (channel c's only, inside a channel loop, when
-- not seq), `pre` the channel's constants; body(q) a statement for pixel q; after(b, d, base),
-- if given, emits statements after each image's plane of channel c (base: its offset in a).
local function plane_map(b, d, C, P, seq, pre, body, after, ld)
  local loop = string.format("for (int q = 0; q < %d; q++) %s", P, body("q"))
  local base = after and string.format("i * %d + c * %d", ld, P)
  if not seq then
    if not after then return b.put(d, "for (int i = 0; i < n; i++) " .. loop) end
    b.put(d, "for (int i = 0; i < n; i++) {")
    b.put(d + 1, loop)
    after(b, d + 1, base)
    return b.put(d, "}")
  end
  b.put(d, "for (int i = 0; i < n; i++)")
  b.put(d + 1, string.format("for (int c = 0; c < %d; c++) {", C))
  b.put(d + 2, pre)
  b.put(d + 2, loop)
  if after then after(b, d + 2, base) end
  b.put(d + 1, "}")
end

-- Channel c's statistics in the training forward, from the C text of its mean and of its sum
-- of squared deviations: var, invstd, s, scale and shift (stats); the running statistics
-- (running, after stats).
local function train_stats(b, d, g, scale, shift, mean, squares)
  b.put(d, "const float var = " .. squares .. " / count;")
  b.put(d, "const float invstd = 1.0f / sqrtf(var + " .. g.eps .. ");")
  b.put(d, "s[c] = " .. mean .. ";")
  b.put(d, "s[" .. g.C .. " + c] = invstd;")
  b.put(d, "const float scale = " .. scale .. ", shift = " .. shift .. ";")
end

local function train_running(b, d, g, mean, squares)
  b.put(d, "const float unbiased = count > 1.0f ? " .. squares .. " / (count - 1.0f) : var;")
  b.put(d, string.format("running_mean[c] = %s * %s + %s * running_mean[c];", g.m, mean, g.keep))
  b.put(d, string.format("running_var[c] = %s * unbiased + %s * running_var[c];", g.m, g.keep))
end

-- Training-mode statistics and output of a batchnorm over image planes (P > 1 pixels).
local function bn_train_planes(b, g, mem, scale, shift)
  local C = g.C
  local function x(q) return plane_at("x", mem.input.ld, g.P, q) end
  local sums = plane_sums(b, C, g.P, 1, g.isa)
  local function add(q, slot) return slot("part") .. " += " .. x(q) .. ";" end
  local function dev(q, slot) return "{ const float d = " .. x(q) .. " - mean; " .. slot("part") .. " += d * d; }" end
  local function out(q) return g.store(plane_at("a", mem.a.ld, g.P, q), x(q) .. " * scale + shift") end
  local function stats(d, mean, squares) train_stats(b, d, g, scale, shift, mean, squares) end
  local function running(d, mean, squares) train_running(b, d, g, mean, squares) end
  if sums.seq then
    -- stat: each channel's mean, scale and shift
    sums.declare(1, {"part"})
    b.put(1, string.format("_Alignas(64) float stat[3][%d];", C))
    sums.over(1, nil, add)
    b.put(1, "for (int c = 0; c < " .. C .. "; c++) {")
    sums.fold(2, {"part"})
    b.put(2, "stat[0][c] = " .. sums.total("part") .. " / count;")
    sums.zero(2, {"part"})
    b.put(1, "}")
    sums.over(1, "const float mean = stat[0][c];", dev)
    b.put(1, "for (int c = 0; c < " .. C .. "; c++) {")
    sums.fold(2, {"part"})
    b.put(2, "const float mean = stat[0][c], squares = " .. sums.total("part") .. ";")
    stats(2, "mean", "squares")
    b.put(2, "stat[1][c] = scale;")
    b.put(2, "stat[2][c] = shift;")
    running(2, "mean", "squares")
    b.put(1, "}")
    plane_map(b, 1, C, g.P, true, "const float scale = stat[1][c], shift = stat[2][c];", out, g.after, mem.a.ld)
    return
  end
  b.put(1, "for (int c = 0; c < " .. C .. "; c++) {")
  sums.declare(2, {"part"})
  sums.over(2, nil, add)
  sums.fold(2, {"part"})
  b.put(2, "const float mean = part[0] / count;")
  sums.zero(2, {"part"})
  sums.over(2, nil, dev)
  sums.fold(2, {"part"})
  b.put(2, "const float squares = part[0];")
  stats(2, "mean", "squares")
  plane_map(b, 2, C, g.P, false, nil, out, g.after, mem.a.ld)
  running(2, "mean", "squares")
  b.put(1, "}")
end

-- Over flat features (P = 1) the loops run over the rows outside and the C features inside,
-- each feature's sum in its own slot of a [C] array (the rows added in order), so the feature
-- loop vectorises. feature_rows: those loops around body; feature_sums: the arrays, zeroed.
local function feature_rows(b, C, body, after, ld)
  local loop = string.format("for (int c = 0; c < %d; c++) %s", C, body)
  if not after then
    b.put(1, "for (int i = 0; i < n; i++)")
    return b.put(2, loop)
  end
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, loop)
  after(b, 2, "i * " .. ld)
  b.put(1, "}")
end

local function feature_sums(b, C, names)
  local decl, zero = {}, {}
  for _, a in ipairs(names) do
    decl[#decl + 1], zero[#zero + 1] = string.format("%s[%d]", a, C), a .. "[c] = 0.0f;"
  end
  b.put(1, "_Alignas(64) float " .. table.concat(decl, ", ") .. ";")
  b.put(1, string.format("for (int c = 0; c < %d; c++) { %s }", C, table.concat(zero, " ")))
end

-- The training forward over flat features; the arrays then hold each feature's scale and shift.
local function bn_train_features(b, g, mem, scale, shift)
  local C = g.C
  local x = string.format("x[i * %d + c]", mem.input.ld)
  local function rows(body) feature_rows(b, C, body) end
  feature_sums(b, C, {"sum", "squares"})
  rows("sum[c] += " .. x .. ";")
  b.put(1, string.format("for (int c = 0; c < %d; c++) sum[c] = sum[c] / count;", C))
  rows("{ const float d = " .. x .. " - sum[c]; squares[c] += d * d; }")
  b.put(1, "for (int c = 0; c < " .. C .. "; c++) {")
  b.put(2, "const float mean = sum[c];")
  train_stats(b, 2, g, scale, shift, "mean", "squares[c]")
  train_running(b, 2, g, "mean", "squares[c]")
  b.put(2, "sum[c] = scale;")
  b.put(2, "squares[c] = shift;")
  b.put(1, "}")
  feature_rows(b, C, g.store(string.format("a[i * %d + c]", mem.a.ld), x .. " * sum[c] + squares[c]"), g.after, mem.a.ld)
end

local function bn_forward(s, mem, ctx)
  local L = s.map
  local o = L.opts
  local act = s.act and {op = s.act.op, opts = s.act.opts}
  local g = {C = o.channels, P = o.pixels, isa = ctx.isa, eps = emit.float(o.eps), m = emit.float(o.momentum),
             keep = emit.float(1.0 - o.momentum)}
  -- the statement storing the normalised value v into dst (the fused activation applied:
  -- schedule.lua MAP_ACT). An activation whose vector form is a helper call (vector_math:
  -- tanh, sigmoid on SIMD ISAs) goes over each contiguous run of a in vectors after the run
  -- is written instead (g.after: the same f as the products' epilogues; lane by lane it
  -- would be the scalar libm call, which keeps the loop from vectorising)
  local vec_act = act and act.op.vector_math and epilogue.vector(act, g.isa)
  function g.store(dst, v)
    if not act or vec_act then return dst .. " = " .. v .. ";" end
    return "{ const float y = " .. v .. "; " .. dst .. " = " .. epilogue.forward_scalar(act, "y") .. "; }"
  end
  g.after = vec_act and function(b, d, base)
    for _, line in ipairs(epilogue.forward_run(act, g.isa, "a", "a", base, g.P > 1 and g.P or g.C)) do b.put(d, line) end
  end or nil
  local t = bn_tensors(L, ctx)
  local then_act = act and ", then a = " .. act.op.formula(act.opts, "a") or ""
  local affine_args = o.affine and "const float *restrict weight, const float *restrict bias, " or ""
  local scale = o.affine and "invstd * weight[c]" or "invstd"
  local shift = (o.affine and "bias[c]" or "0.0f") .. " - mean * scale"
  local b = emit.buffer()
  local fn = s.fname .. "_forward"
  b.put(0, string.format("/* Layer %d, inference mode: a = (x - running_mean) / sqrt(running_var + %s)%s per %s%s;",
    L.index, g.eps, o.affine and " * weight + bias" or "", g.P > 1 and "channel" or "feature", then_act))
  b.put(0, string.format("   x, a [n][%d][%d]. */", g.C, g.P))
  b.put(0, (string.format("static void %s(float *restrict a, const float *restrict x, %s", fn, affine_args):gsub(" $", "")))
  b.put(0, pad(fn) .. "const float *restrict running_mean, const float *restrict running_var, int n) {")
  -- each channel's scale and shift first, then the elements in memory order (as the
  -- training forward's seq form: the same values)
  b.put(1, string.format("_Alignas(64) float coef[2][%d];", g.C))
  b.put(1, "for (int c = 0; c < " .. g.C .. "; c++) {")
  b.put(2, "const float mean = running_mean[c];")
  b.put(2, "const float invstd = 1.0f / sqrtf(running_var[c] + " .. g.eps .. ");")
  b.put(2, "const float scale = " .. scale .. ", shift = " .. shift .. ";")
  b.put(2, "coef[0][c] = scale;")
  b.put(2, "coef[1][c] = shift;")
  b.put(1, "}")
  if g.P > 1 then
    plane_map(b, 1, g.C, g.P, true, "const float scale = coef[0][c], shift = coef[1][c];", function(q)
      return g.store(plane_at("a", mem.a.ld, g.P, q), plane_at("x", mem.input.ld, g.P, q) .. " * scale + shift")
    end, g.after, mem.a.ld)
  else
    feature_rows(b, g.C, g.store(string.format("a[i * %d + c]", mem.a.ld),
      string.format("x[i * %d + c] * coef[0][c] + coef[1][c]", mem.input.ld)), g.after, mem.a.ld)
  end
  b.put(0, "}")
  local pa = o.affine and string.format("p->%s, p->%s, ", t.weight, t.bias) or ""
  local call = string.format("%s(%s, %s, %sp->%s, p->%s, n);", fn, ctx.ref(mem.a), ctx.ref(mem.input), pa,
    t.running_mean, t.running_var)
  if ctx.inference then return b.text(), call end

  local tf = s.fname .. "_forward_train"
  b.put(0, "")
  b.put(0, string.format("/* Layer %d, training mode: the batch's mean and biased variance per %s over %s,",
    L.index, g.P > 1 and "channel" or "feature", g.P > 1 and "the n images' " .. g.P .. " pixels" or "the n rows"))
  b.put(0, string.format("   a = (x - mean) / sqrt(var + %s)%s%s; s [2][%d] keeps mean and 1/sqrt(var + eps) for",
    g.eps, o.affine and " * weight + bias" or "", then_act, g.C))
  b.put(0, string.format("   the backward pass; running_mean, running_var (with the unbiased variance, var*m/(m-1),"))
  b.put(0, string.format("   m = n*%d > 1) move by momentum %s, num_batches_tracked + 1 (torch's BatchNorm). */", g.P, g.m))
  b.put(0, (string.format("static void %s(float *restrict a, float *restrict s, const float *restrict x, %s", tf, affine_args):gsub(" $", "")))
  b.put(0, pad(tf) .. "float *restrict running_mean, float *restrict running_var,")
  b.put(0, pad(tf) .. "float *restrict num_batches_tracked, int n) {")
  b.put(1, "const float count = (float)(n * " .. g.P .. ");")
  if g.P > 1 then
    bn_train_planes(b, g, mem, scale, shift)
  else
    bn_train_features(b, g, mem, scale, shift)
  end
  b.put(1, "num_batches_tracked[0] += 1.0f;")
  b.put(0, "}")
  local train = string.format("%s(%s, %s, %s, %sp->%s, p->%s, p->%s, n);", tf, ctx.ref(mem.a), ctx.ref(mem.stats),
    ctx.ref(mem.input), pa, t.running_mean, t.running_var, t.num_batches_tracked)
  return b.text(), call, train
end

-- The backward's sums and dx over image planes (P > 1), k the C text of weight·invstd.
local function bn_backward_planes(b, C, P, mem, ctx, affine, k)
  local function at(name, ld, q) return plane_at(name, ld, P, q) end
  local sums = plane_sums(b, C, P, 2, ctx.isa)
  local consts = "const float mean = s[c], invstd = s[" .. C .. " + c];"
  local function add(q, slot)
    return string.format("{ const float gv = %s; %s += gv; %s += gv * ((%s - mean) * invstd); }",
      at("g", mem.d.ld, q), slot("pg"), slot("pgx"), at("x", mem.input.ld, q))
  end
  local v = "k * (" .. at("g", mem.d.ld, "q") .. " - mg - ((" .. at("x", mem.input.ld, "q") .. " - mean) * invstd) * mgx)"
  local function dx(q) return at("dx", ctx.dx_ld, q) .. " = " .. times_in_act(ctx, v, "c * " .. P .. " + q") .. ";" end
  local scale = "const float k = " .. k .. ", mg = %s / count, mgx = %s / count;"
  local sg, sgx = sums.total("pg"), sums.total("pgx")
  if sums.seq then
    sums.declare(1, {"pg", "pgx"})
    sums.over(1, consts, add)
    b.put(1, "for (int c = 0; c < " .. C .. "; c++) {")
    sums.fold(2, {"pg", "pgx"})
    if affine then b.put(2, string.format("dbias[c] = %s;", sg)); b.put(2, string.format("dweight[c] = %s;", sgx)) end
    b.put(1, "}")
    if ctx.first then b.put(1, "if (dx == NULL) return;") end
    plane_map(b, 1, C, P, true, consts .. " " .. string.format(scale, sg, sgx), dx)
    return
  end
  b.put(1, "for (int c = 0; c < " .. C .. "; c++) {")
  b.put(2, consts)
  sums.declare(2, {"pg", "pgx"})
  sums.over(2, nil, add)
  sums.fold(2, {"pg", "pgx"})
  if affine then b.put(2, string.format("dbias[c] = %s;", sg)); b.put(2, string.format("dweight[c] = %s;", sgx)) end
  if ctx.first then b.put(2, "if (dx == NULL) continue;") end
  b.put(2, string.format(scale, sg, sgx))
  plane_map(b, 2, C, P, false, nil, dx)
  b.put(1, "}")
end

-- Backward of the training mode: with x̂ = (x - mean)·invstd, dβ = Σ g, dγ = Σ g·x̂, and
-- dx = γ·invstd·(g - dβ/m - x̂·dγ/m), times the previous activation's derivative.
local function bn_backward(s, mem, ctx)
  local L = s.map
  local o = L.opts
  local C, P = o.channels, o.pixels
  local t = bn_tensors(L, ctx)
  local in_act = ctx.in_act
  local fn = s.fname .. "_backward"
  local b = emit.buffer()
  b.put(0, string.format("/* Layer %d backward (training mode): xh = (x - mean) * invstd from s, %sdx = %sinvstd * (g - sum(g)/m",
    L.index, o.affine and "dbias = sum(g), dweight = sum(g * xh), " or "", o.affine and "weight * " or ""))
  b.put(0, string.format("   - xh * sum(g * xh)/m)%s, sums per %s over m = n*%d elements; g, x, dx [n][%d][%d]%s. */",
    in_act and epilogue.grad_prose(in_act, "m", "previous") or "", P > 1 and "channel" or "feature", P, C, P,
    ctx.first and " (dx skipped if NULL)" or ""))
  b.put(0, string.format("static void %s(float *restrict dx, %sconst float *restrict g,", fn,
    o.affine and "float *restrict dweight, float *restrict dbias, " or ""))
  b.put(0, pad(fn) .. string.format("const float *restrict x, const float *restrict s, %s%sint n) {",
    o.affine and "const float *restrict weight, " or "", in_act and "const float *restrict m, " or ""))
  b.put(1, "const float count = (float)(n * " .. P .. ");")
  -- dx's factor γ·invstd, given how the kernel spells invstd
  local function k(invstd) return o.affine and "weight[c] * " .. invstd or invstd end
  if P > 1 then
    bn_backward_planes(b, C, P, mem, ctx, o.affine, k("invstd"))
  else
    -- flat features: rows outside, features inside (bn_train_features)
    local xh = string.format("((x[i * %d + c] - s[c]) * s[%d + c])", mem.input.ld, C)
    local gi = string.format("g[i * %d + c]", mem.d.ld)
    local function rows(body) feature_rows(b, C, body) end
    feature_sums(b, C, {"sg", "sgx"})
    rows(string.format("{ const float gv = %s; sg[c] += gv; sgx[c] += gv * %s; }", gi, xh))
    if o.affine then
      b.put(1, string.format("for (int c = 0; c < %d; c++) { dbias[c] = sg[c]; dweight[c] = sgx[c]; }", C))
    end
    if ctx.first then b.put(1, "if (dx == NULL) return;") end
    b.put(1, string.format("for (int c = 0; c < %d; c++) { sg[c] = sg[c] / count; sgx[c] = sgx[c] / count; }", C))
    local v = string.format("(%s) * (%s - sg[c] - %s * sgx[c])", k("s[" .. C .. " + c]"), gi, xh)
    rows(string.format("dx[i * %d + c] = %s;", ctx.dx_ld, times_in_act(ctx, v, "c")))
  end
  b.put(0, "}")
  local function call(dx)
    return string.format("%s(%s, %s%s, %s, %s, %s%sn);", fn, dx,
      o.affine and string.format("g->%s, g->%s, ", t.weight, t.bias) or "", ctx.ref(mem.d), ctx.ref(mem.input),
      ctx.ref(mem.stats), o.affine and "p->" .. t.weight .. ", " or "", in_act and ctx.ref(in_act.buf) .. ", " or "")
  end
  return b.text(), call(ctx.dx), call(ctx.first and "NULL" or ctx.dx)
end

-- The training forward's loops over the n rows of N draws in DROP_LANES lanes; keep(draw, j,
-- after) is the C statement for element j.
local function dropout_lanes(b, N, keep)
  local L = M.DROP_LANES
  local pows, sums = {}, {}
  for l = 0, L - 1 do
    local a, s = pcg_jump(l)
    pows[#pows + 1], sums[#sums + 1] = u64(a), u64(s)
  end
  local aL, sL = pcg_jump(L)
  local aN, sN = pcg_jump(N)
  b.put(1, string.format("static const uint64_t jump[%d] = {%s};", L, table.concat(pows, ", ")))
  b.put(1, string.format("static const uint64_t jsum[%d] = {%s};", L, table.concat(sums, ", ")))
  local main = N - N % L
  b.put(1, string.format("const uint64_t c = r[1], %srow = c * %s;", main > 0 and "step = c * " .. u64(sL) .. ", " or "", u64(sN)))
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, string.format("uint64_t st[%d];", L))
  b.put(2, string.format("for (int l = 0; l < %d; l++) st[l] = r[0] * jump[l] + c * jsum[l];", L))
  if main > 0 then
    b.put(2, string.format("for (int j0 = 0; j0 < %d; j0 += %d)", main, L))
    b.put(3, string.format("for (int l = 0; l < %d; l++) %s", L,
      keep("dropout_draw(st[l])", "j0 + l", string.format(" st[l] = st[l] * %s + step;", u64(aL)))))
  end
  if N % L > 0 then
    b.put(2, string.format("for (int l = 0; l < %d; l++) %s", N % L,
      keep("dropout_draw(st[l])", main > 0 and main .. " + l" or "l")))
  end
  b.put(2, string.format("r[0] = r[0] * %s + row;", u64(aN)))
  b.put(1, "}")
end

local function dropout_forward(s, mem, ctx)
  local L = s.map
  local p = L.opts.p
  local N = L.out
  local fn = s.fname .. "_forward"
  local b = emit.buffer()
  b.put(0, string.format("/* Layer %d, inference mode: dropout is the identity, a = x; x, a [n][%d]. */", L.index, N))
  b.put(0, string.format("static void %s(float *restrict a, const float *restrict x, int n) {", fn))
  b.put(1, "for (int i = 0; i < n; i++)")
  b.put(2, string.format("for (int j = 0; j < %d; j++) a[i * %d + j] = x[i * %d + j];", N, mem.a.ld, mem.input.ld))
  b.put(0, "}")
  local call = string.format("%s(%s, %s, n);", fn, ctx.ref(mem.a), ctx.ref(mem.input))
  if ctx.inference then return b.text(), call end
  local tf = s.fname .. "_forward_train"
  local scale = emit.float(1.0 / (1.0 - p))
  b.put(0, "")
  b.put(0, string.format("/* Layer %d, training mode: each element kept when a uniform draw u >= p = %s (so with",
    L.index, emit.float(p)))
  b.put(0, string.format("   probability 1 - p) and scaled by 1/(1 - p) = %s, else 0: k = the mask, a = x*k;", scale))
  b.put(0, string.format("   draws in row-major order from the generator r%s;",
    ctx.isa.width > 1 and string.format(", %d lanes at a time (norm.lua DROP_LANES)", M.DROP_LANES) or ""))
  b.put(0, string.format("   x, a, k [n][%d]. */", N))
  b.put(0, string.format("static void %s(float *restrict a, float *restrict k, const float *restrict x,", tf))
  b.put(0, pad(tf) .. "uint64_t *restrict r, int n) {")
  -- element j of row i kept or not by `draw`; `after`: C text after it
  local function keep(draw, j, after)
    return string.format("{ const float keep = %s >= %s ? %s : 0.0f; k[i * %d + %s] = keep; "
      .. "a[i * %d + %s] = x[i * %d + %s] * keep;%s }", draw, emit.float(p), scale, mem.keep.ld, j, mem.a.ld, j,
      mem.input.ld, j, after or "")
  end
  if ctx.isa.width > 1 then
    dropout_lanes(b, N, keep)
  else
    b.put(1, "for (int i = 0; i < n; i++)")
    b.put(2, string.format("for (int j = 0; j < %d; j++) %s", N, keep("dropout_uniform(r)", "j")))
  end
  b.put(0, "}")
  local train = string.format("%s(%s, %s, %s, w->rng, n);", tf, ctx.ref(mem.a), ctx.ref(mem.keep), ctx.ref(mem.input))
  return b.text(), call, train
end

local function dropout_backward(s, mem, ctx)
  local L = s.map
  local in_act = ctx.in_act
  local fn = s.fname .. "_backward"
  local b = emit.buffer()
  b.put(0, string.format("/* Layer %d backward: dx = g*k (the training forward's mask)%s; g, k, dx [n][%d]%s. */",
    L.index, in_act and epilogue.grad_prose(in_act, "m", "previous") or "", L.out,
    ctx.first and " (skipped if dx is NULL)" or ""))
  b.put(0, string.format("static void %s(float *restrict dx, const float *restrict g, const float *restrict k, %sint n) {",
    fn, in_act and "const float *restrict m, " or ""))
  if ctx.first then b.put(1, "if (dx == NULL) return;") end
  b.put(1, "for (int i = 0; i < n; i++)")
  b.put(2, string.format("for (int j = 0; j < %d; j++) dx[i * %d + j] = %s;", L.out, ctx.dx_ld,
    times_in_act(ctx, string.format("g[i * %d + j] * k[i * %d + j]", mem.d.ld, mem.keep.ld), "j")))
  b.put(0, "}")
  local function call(dx)
    return string.format("%s(%s, %s, %s, %sn);", fn, dx, ctx.ref(mem.d), ctx.ref(mem.keep),
      in_act and ctx.ref(in_act.buf) .. ", " or "")
  end
  return b.text(), call(ctx.dx), call(ctx.first and "NULL" or ctx.dx)
end

function M.forward(s, mem, ctx)
  if s.map.kind == "batchnorm" then return bn_forward(s, mem, ctx) end
  return dropout_forward(s, mem, ctx)
end

function M.backward(s, mem, ctx)
  if s.map.kind == "batchnorm" then return bn_backward(s, mem, ctx) end
  return dropout_backward(s, mem, ctx)
end

return M
