-- The image layers' functions: conv2d (with its fused activation), maxpool2d, avgpool2d and
-- flatten, forward and backward, as portable C loops (the same text for every ISA: the
-- compilers vectorise the contiguous inner loops). On an ISA with vectors conv2d's forward
-- and backward come from gen/kernels/convtile.lua's register tiles instead (the loops here
-- stay for the scalar ISA and for layers past its stack budget). Every size is
-- a compile-time constant, only the row count n is a runtime bound; no malloc; every
-- reduction in a fixed order, so a build gives the same bits on every run.
--
-- Rows are NCHW, flat: image i's element [c][y][x] is at i * ld + (c * H + y) * W + x, as
-- torch lays out a contiguous batch (so flatten() copies and a linear layer after it sees
-- torch's order). The conv weight is [C][K][K][O] (gen/ops/conv2d.lua); padding is handled
-- by clipping each kernel tap's output range (per-tap bounds are constants in a table),
-- never by a test inside the innermost loop.
--
-- M.forward(s, mem, ctx) and M.backward(s, mem, ctx) have gen/kernels/layer.lua's contract
-- (ctx from gen/lower.lua: ref, tensor, first, dx, dx_ld, in_act; mem: input, z, a, d).
local emit = require "emit"
local epilogue = require "kernels.epilogue"
local scalar = require "isa.scalar"
local convtile = require "kernels.convtile"
local convcall = require "kernels.convcall"
local shared = require "kernels.shared"

local M = {}

local geometry = convcall.geometry

-- For each kernel tap k in [0, K): the outputs o in [lo, hi) whose input o*S + k - P lies in
-- [0, size); computed here, so the C sees constants.
local function tap_ranges(size, outs, K, S, P)
  local lo, hi = {}, {}
  for k = 0, K - 1 do
    local a, b = 0, -1
    for o = 0, outs - 1 do
      local i = o * S + k - P
      if i >= 0 and i < size then
        if b < a then a = o end
        b = o
      end
    end
    lo[k + 1], hi[k + 1] = a, math.max(b + 1, a)
  end
  return lo, hi
end

-- Declares the constant tables NAMElo[], NAMEhi[] indexed by `var`, unless every entry is
-- [0, full); returns the C expressions of the two bounds.
local function bound_table(b, depth, name, lo, hi, full, var)
  local all = true
  for k = 1, #lo do all = all and lo[k] == 0 and hi[k] == full end
  if all then return "0", tostring(full) end
  b.put(depth, string.format("static const int %slo[%d] = {%s}, %shi[%d] = {%s};", name, #lo,
    table.concat(lo, ", "), name, #hi, table.concat(hi, ", ")))
  return name .. "lo[" .. var .. "]", name .. "hi[" .. var .. "]"
end

-- "s * v" as C, without the multiply when s is 1.
local function times(v, s)
  if s == 1 then return v end
  return v .. " * " .. s
end

-- For each output position o in [0, outs): the taps k in [lo, hi) whose input o*S + k - P lies
-- in [0, size) (the same clipping seen from the output side).
local function output_taps(size, outs, K, S, P)
  local lo, hi = {}, {}
  for o = 0, outs - 1 do
    local a, b = math.max(0, P - o * S), math.min(K, size + P - o * S)
    lo[o + 1], hi[o + 1] = a, math.max(a, b)
  end
  return lo, hi
end

-- Loop bounds as C expressions (tables declared when padding clips any), per tap (per_tap:
-- ylo/yhi, xlo/xhi, the output rows and columns tap ky, kx reaches) or per output pixel
-- (kylo/kyhi, kxlo/kxhi, the taps inside the input for pixel oy, ox).
local function bounds(b, depth, g, per_tap)
  local e = {}
  for _, d in ipairs({{"y", g.H, g.OH}, {"x", g.W, g.OW}}) do
    local name, lo, hi, full, var
    if per_tap then
      name, full, var = d[1], d[3], "k" .. d[1]
      lo, hi = tap_ranges(d[2], d[3], g.K, g.S, g.P)
    else
      name, full, var = "k" .. d[1], g.K, "o" .. d[1]
      lo, hi = output_taps(d[2], d[3], g.K, g.S, g.P)
    end
    e[name .. "lo"], e[name .. "hi"] = bound_table(b, depth, name, lo, hi, full, var)
  end
  return e
end

-- Offset of the input row under output pixel (oy, ox) for tap row ky, channel c, image i (the
-- tap column kx is added by the caller).
local function pixel_input(g, ld)
  local minus = g.P > 0 and " - " .. g.P or ""
  return string.format("i * %d + c * %d + (%s + ky%s) * %d + %s%s", ld, g.H * g.W, times("oy", g.S), minus, g.W,
    times("ox", g.S), minus)
end

-- Whether conv2d runs pixel by pixel with the output channels as the inner, contiguous loop
-- (weight rows [c][ky][kx][0..O) are contiguous): when there are enough of them to fill a
-- vector; else plane by plane, output rows as the inner loop.
local function pixel_major(g) return g.O >= 4 end


-- Offset of the input element under output (oy, ox) for taps ky, kx, image plane `plane`.
local function input_offset(g, row, plane)
  -- (oy*S + ky - P) * W + ox*S + kx - P, with the ox term left to the caller
  return string.format("%s + %s + (%s + ky - %d) * %d + kx - %d", row, plane, times("oy", g.S), g.P, g.W, g.P)
end

-- The plane-order tap loops at depth 3: for each tap (c, ky, kx): `pre` (lines), then for each
-- output row oy its tap puts under the input (xo: the input row of image i at leading
-- dimension `ld`, ro: the output row, `base` + oy·OW) the line `inner`; then `post` (lines).
local function plane_taps(b, g, e, ld, base, pre, inner, post)
  b.put(3, "for (int c = 0; c < " .. g.C .. "; c++) {")
  b.put(4, "for (int ky = 0; ky < " .. g.K .. "; ky++) {")
  b.put(5, "for (int kx = 0; kx < " .. g.K .. "; kx++) {")
  for _, l in ipairs(pre) do b.put(6, l) end
  b.put(6, string.format("for (int oy = %s; oy < %s; oy++) {", e.ylo, e.yhi))
  b.put(7, "const int xo = " .. input_offset(g, "i * " .. ld, "c * " .. g.H * g.W) .. ";")
  b.put(7, string.format("const int ro = %s + oy * %d;", base, g.OW))
  b.put(7, inner)
  b.put(6, "}")
  for _, l in ipairs(post) do b.put(6, l) end
  b.put(5, "}")
  b.put(4, "}")
  b.put(3, "}")
end

-- The pixel-order loops: for each image i and output pixel (oy, ox): `before` (lines at depth
-- 4), then for each tap (c, ky, kx) inside the input, xv = the input under it (leading
-- dimension `ld`) and wo = its weight row: `inner`; then `after` (lines at depth 4).
local function pixel_loops(b, g, e, ld, before, inner, after)
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, "for (int oy = 0; oy < " .. g.OH .. "; oy++) {")
  b.put(3, "for (int ox = 0; ox < " .. g.OW .. "; ox++) {")
  for _, l in ipairs(before) do b.put(4, l) end
  b.put(4, "for (int c = 0; c < " .. g.C .. "; c++) {")
  b.put(5, string.format("for (int ky = %s; ky < %s; ky++) {", e.kylo, e.kyhi))
  b.put(6, "const int xo = " .. pixel_input(g, ld) .. ";")
  b.put(6, string.format("for (int kx = %s; kx < %s; kx++) {", e.kxlo, e.kxhi))
  b.put(7, "const float xv = x[xo + kx];")
  b.put(7, string.format("const int wo = ((c * %d + ky) * %d + kx) * %d;", g.K, g.K, g.O))
  b.put(7, inner)
  b.put(6, "}")
  b.put(5, "}")
  b.put(4, "}")
  for _, l in ipairs(after) do b.put(4, l) end
  b.put(3, "}")
  b.put(2, "}")
  b.put(1, "}")
end

-- dx[j] = g[j] (or g[j] * f'(m[j]) of the previous activation) over one image row j in [0, IN),
-- in place on dx (the scattered gradient) when in_act is given.
local function apply_in_act(b, depth, ctx, g, n_var)
  local in_act = ctx.in_act
  if not in_act then return end
  -- whole vectors where the ISA spells the derivative (compilers left the select scalar),
  -- the rest float by float
  local isa = ctx.isa
  local W = isa.width > 1 and epilogue.grad(in_act, isa, "v", "m") and isa.width or 1
  local nv = W > 1 and g.IN // W * W or 0
  local function at(buf, ld) return n_var .. " * " .. ld .. " + j" end
  if nv > 0 then
    b.put(depth, string.format("for (int j = 0; j < %d; j += %d) ", nv, W)
      .. isa.store("dx", at("dx", ctx.dx_ld), epilogue.grad(in_act, isa, isa.load("dx", at("dx", ctx.dx_ld)),
                                                            isa.load("m", at("m", in_act.buf.ld)))))
  end
  if nv == g.IN then return end
  b.put(depth, string.format("for (int j = %d; j < %d; j++) ", nv, g.IN)
    .. scalar.store("dx", at("dx", ctx.dx_ld),
         epilogue.grad_scalar(in_act, scalar.load("dx", at("dx", ctx.dx_ld)), scalar.load("m", at("m", in_act.buf.ld)))))
end

-- The end of conv2d's forward (the activation over the whole output) and its call.
local function finish_forward(b, s, mem, ctx, act, g, fn, has_bias)
  local L = s.product
  if act then
    b.put(1, string.format("for (int j = 0; j < n * %d; j++) %s", g.OUT,
      scalar.store("a", "j", epilogue.forward_scalar(act, scalar.load("z", "j")))))
  end
  b.put(0, "}")
  return b.text(), convcall.forward(fn, L, mem, ctx, act, has_bias)
end

-- conv2d forward: y = conv(x, W) + b [, a = f(y)].
local function conv_forward(s, mem, ctx)
  local L = s.product
  local g = geometry(L)
  local fn = s.fname .. "_forward"
  local act = s.act and {op = s.act.op, opts = s.act.opts}
  local y = act and "z" or "y"
  local has_bias = L.bias >= 0
  local b = emit.buffer()
  local shape = string.format("x [n][%d][%d][%d], W [%d][%d][%d][%d]%s -> %s [n][%d][%d][%d]%s", g.C, g.H, g.W,
    g.C, g.K, g.K, g.O, has_bias and ", b [" .. g.O .. "]" or "", y, g.O, g.OH, g.OW,
    act and string.format(", a [n][%d][%d][%d]", g.O, g.OH, g.OW) or "")
  b.put(0, convcall.forward_title(s, g, act, has_bias))
  b.put(0, "   " .. shape .. " (NCHW rows). */")
  convcall.forward_signature(b, fn, act, has_bias)
  if pixel_major(g) then
    -- per output pixel: acc[o] = b[o], then + x·w[c][ky][kx][o] over the taps in (c, ky, kx)
    -- order (the same sums as the plane order below)
    local e = bounds(b, 1, g, false)
    b.put(1, "_Alignas(64) float acc[" .. g.O .. "];")
    pixel_loops(b, g, e, mem.input.ld,
      {string.format("for (int o = 0; o < %d; o++) acc[o] = %s;", g.O, has_bias and "b[o]" or "0.0f")},
      string.format("for (int o = 0; o < %d; o++) acc[o] += xv * w[wo + o];", g.O),
      {string.format("for (int o = 0; o < %d; o++) %s[i * %d + o * %d + oy * %d + ox] = acc[o];", g.O, y,
        mem[act and "z" or "a"].ld, g.OH * g.OW, g.OW)})
    return finish_forward(b, s, mem, ctx, act, g, fn, has_bias)
  end
  local e = bounds(b, 1, g, true)
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, "for (int o = 0; o < " .. g.O .. "; o++) {")
  b.put(3, string.format("const int yo = i * %d + o * %d;", mem[act and "z" or "a"].ld, g.OH * g.OW))
  b.put(3, string.format("for (int p = 0; p < %d; p++) %s[yo + p] = %s;", g.OH * g.OW, y, has_bias and "b[o]" or "0.0f"))
  plane_taps(b, g, e, mem.input.ld, "yo",
    {string.format("const float wv = w[((c * %d + ky) * %d + kx) * %d + o];", g.K, g.K, g.O)},
    string.format("for (int ox = %s; ox < %s; ox++) %s[ro + ox] += wv * x[xo + %s];", e.xlo, e.xhi, y,
      times("ox", g.S)), {})
  b.put(2, "}")
  b.put(1, "}")
  return finish_forward(b, s, mem, ctx, act, g, fn, has_bias)
end


-- conv2d backward: g = mem.d, the gradient with respect to the convolution's output (its
-- activation's derivative already applied). dW[c][ky][kx][o] = Σ_i Σ_{oy,ox} g·x, summed per
-- image over the output columns in a vector of partial sums (acc, one per ox: element-wise,
-- so compilers vectorise it without reassociating) then across it; db[o] = Σ g; dx is the
-- transposed convolution, scattered, then times the previous activation's derivative.
local function conv_backward(s, mem, ctx)
  local L = s.product
  local g = geometry(L)
  local fn = s.fname .. "_backward"
  local in_act = ctx.in_act
  local has_bias = L.bias >= 0
  local g_ld, x_ld = mem.d.ld, mem.input.ld
  local b = emit.buffer()
  convcall.backward_comment(b, L, g, ctx, in_act, has_bias, ". */")
  -- kept out of NAME_backward: clang -O2 inlined every layer's loops into it, unrolled their
  -- small constant tap loops fully, and Loop Strength Reduction then took most of the compile
  -- (tests/isa/specs/conv_narrow scalar: 17.8 s, 14.7 of it LSR; 4.6 s with these kept out).
  -- A call per layer and step; the same arithmetic, so the same bits.
  b.put(0, (shared.NOINLINE:gsub("\n$", "")))
  convcall.backward_signature(b, fn, in_act, has_bias)
  local e = bounds(b, 1, g, true)
  b.put(1, string.format("for (int j = 0; j < %d; j++) dw[j] = 0.0f;", g.C * g.K * g.K * g.O))
  if has_bias then b.put(1, string.format("for (int o = 0; o < %d; o++) db[o] = 0.0f;", g.O)) end
  if pixel_major(g) then
    -- per output pixel: its gradient over the channels gathered into gv, then
    -- dW[c][ky][kx][0..O) += x·gv along the contiguous channel rows (and db += gv)
    local t = bounds(b, 1, g, false)
    b.put(1, "_Alignas(64) float gv[" .. g.O .. "];")
    local before = {string.format("for (int o = 0; o < %d; o++) gv[o] = g[i * %d + o * %d + oy * %d + ox];", g.O,
      g_ld, g.OH * g.OW, g.OW)}
    if has_bias then before[2] = string.format("for (int o = 0; o < %d; o++) db[o] += gv[o];", g.O) end
    pixel_loops(b, g, t, x_ld, before, string.format("for (int o = 0; o < %d; o++) dw[wo + o] += xv * gv[o];", g.O),
      {})
  else
    b.put(1, "_Alignas(64) float acc[" .. g.OW .. "];")
    b.put(1, "for (int i = 0; i < n; i++) {")
    b.put(2, "for (int o = 0; o < " .. g.O .. "; o++) {")
    b.put(3, string.format("const int go = i * %d + o * %d;", g_ld, g.OH * g.OW))
    if has_bias then
      b.put(3, "float sb = 0.0f;")
      b.put(3, string.format("for (int p = 0; p < %d; p++) sb += g[go + p];", g.OH * g.OW))
      b.put(3, "db[o] += sb;")
    end
    plane_taps(b, g, e, x_ld, "go", {string.format("for (int ox = 0; ox < %d; ox++) acc[ox] = 0.0f;", g.OW)},
      string.format("for (int ox = %s; ox < %s; ox++) acc[ox] += g[ro + ox] * x[xo + %s];", e.xlo, e.xhi,
        times("ox", g.S)),
      {"float sw = 0.0f;", string.format("for (int ox = 0; ox < %d; ox++) sw += acc[ox];", g.OW),
       string.format("dw[((c * %d + ky) * %d + kx) * %d + o] += sw;", g.K, g.K, g.O)})
    b.put(2, "}")
    b.put(1, "}")
  end
  if ctx.first then b.put(1, "if (dx == NULL) return;") end
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, string.format("for (int j = 0; j < %d; j++) dx[i * %d + j] = 0.0f;", g.IN, ctx.dx_ld))
  b.put(2, "for (int o = 0; o < " .. g.O .. "; o++) {")
  b.put(3, string.format("const int go = i * %d + o * %d;", g_ld, g.OH * g.OW))
  plane_taps(b, g, e, ctx.dx_ld, "go",
    {string.format("const float wv = w[((c * %d + ky) * %d + kx) * %d + o];", g.K, g.K, g.O)},
    string.format("for (int ox = %s; ox < %s; ox++) dx[xo + %s] += wv * g[ro + ox];", e.xlo, e.xhi, times("ox", g.S)),
    {})
  b.put(2, "}")
  apply_in_act(b, 2, ctx, g, "i")
  b.put(1, "}")
  b.put(0, "}")
  return b.text(), convcall.backward(fn, L, mem, ctx, in_act, has_bias)
end

-- Pooling forward: each output the max (first maximum) or the mean of its window.
local function pool_forward(s, mem, ctx)
  local L = s.map
  local g = geometry(L)
  local max = L.kind == "maxpool2d"
  local fn = s.fname .. "_forward"
  local b = emit.buffer()
  b.put(0, string.format("/* Layer %d: a = %s of each %dx%d window, stride %d; x [n][%d][%d][%d] -> a [n][%d][%d][%d]. */",
    L.index, max and "max" or "mean", g.K, g.K, g.S, g.C, g.H, g.W, g.O, g.OH, g.OW))
  b.put(0, string.format("static void %s(float *restrict a, const float *restrict x, int n) {", fn))
  b.put(1, "for (int i = 0; i < n; i++) {")
  if max and convtile.pool_pairs_applies(ctx.isa, g) then
    convtile.pool_pairs_forward(b, ctx.isa, g, mem)
    b.put(1, "}")
    b.put(0, "}")
    return b.text(), string.format("%s(%s, %s, n);", fn, ctx.ref(mem.a), ctx.ref(mem.input))
  end
  b.put(2, "for (int c = 0; c < " .. g.C .. "; c++) {")
  b.put(3, "for (int oy = 0; oy < " .. g.OH .. "; oy++) {")
  b.put(4, "for (int ox = 0; ox < " .. g.OW .. "; ox++) {")
  b.put(5, string.format("const int xo = i * %d + c * %d + %s * %d + %s;", mem.input.ld, g.H * g.W,
    times("oy", g.S), g.W, times("ox", g.S)))
  b.put(5, max and "float v = x[xo];" or "float v = 0.0f;")
  b.put(5, "for (int ky = 0; ky < " .. g.K .. "; ky++)")
  b.put(6, "for (int kx = 0; kx < " .. g.K .. "; kx++) "
    .. (max and "v = x[xo + ky * " .. g.W .. " + kx] > v ? x[xo + ky * " .. g.W .. " + kx] : v;"
            or "v += x[xo + ky * " .. g.W .. " + kx];"))
  b.put(5, string.format("a[i * %d + (c * %d + oy) * %d + ox] = %s;", mem.a.ld, g.OH, g.OW,
    max and "v" or "v / " .. emit.float(g.K * g.K)))
  b.put(4, "}")
  b.put(3, "}")
  b.put(2, "}")
  b.put(1, "}")
  b.put(0, "}")
  return b.text(), string.format("%s(%s, %s, n);", fn, ctx.ref(mem.a), ctx.ref(mem.input))
end

-- The pooling backward's end (closing the image loop) and its two calls.
local function finish_pool_backward(b, fn, mem, ctx, max)
  local in_act = ctx.in_act
  b.put(1, "}")
  b.put(0, "}")
  local function call(dx)
    return string.format("%s(%s, %s, %s%sn);", fn, dx, ctx.ref(mem.d), max and ctx.ref(mem.input) .. ", " or "",
      in_act and ctx.ref(in_act.buf) .. ", " or "")
  end
  return b.text(), call(ctx.dx), call(ctx.first and "NULL" or ctx.dx)
end

-- Pooling backward when the windows tile the input exactly (stride = kernel, no rest):
-- every input element belongs to one window, so each is written once, with its share of
-- the window's gradient, without zeroing or scattering; the previous derivative follows in
-- a contiguous pass. For max pooling no comparison may become a branch (on real data they
-- are coin flips: the scattering loop's `if` cost ~1 ms of a 5 ms LeNet step): per window,
-- up[k] = "element k raised the running maximum" (element 0 always), the first maximum is
-- the last k with up[k], and its gradient is g with all bits kept, every other element's
-- +0.0f (an and-mask on the bits). The values are the scattering loop's, except that a
-- gradient of -0.0f stays -0.0f (the loop's 0.0f + g made it +0.0f).
local function tiled_pool_backward(b, g, mem, ctx, max)
  local K, OW, KK = g.K, g.OW, g.K * g.K
  b.put(2, "for (int c = 0; c < " .. g.C .. "; c++) {")
  b.put(3, "for (int oy = 0; oy < " .. g.OH .. "; oy++) {")
  b.put(4, string.format("const int ro = c * %d + oy * %d;", g.H * g.W, K * g.W))
  b.put(4, string.format("const float *restrict gr = g + i * %d + (c * %d + oy) * %d;", mem.d.ld, g.OH, OW))
  local share
  if max then
    b.put(4, string.format("const float *restrict xr = x + i * %d + ro;", mem.input.ld))
    b.put(4, string.format("uint32_t up[%d][%d];", KK, OW))
    b.put(4, string.format("for (int ox = 0; ox < %d; ox++) {", OW))
    b.put(5, string.format("float v = xr[%s];", times("ox", K)))
    b.put(5, "up[0][ox] = 1u;")
    b.put(5, string.format("for (int k = 1; k < %d; k++) {", KK))
    b.put(6, string.format("const float e = xr[k / %d * %d + %s + k %% %d];", K, g.W, times("ox", K), K))
    b.put(6, "up[k][ox] = e > v;")
    b.put(6, "v = e > v ? e : v;")
    b.put(5, "}")
    b.put(5, "uint32_t later = 0u;")
    b.put(5, string.format("for (int k = %d; k >= 0; k--) { const uint32_t u = up[k][ox]; up[k][ox] = 0u - (u & (later ^ 1u)); later |= u; }", KK - 1))
    b.put(4, "}")
    share = string.format("keep.f")
  else
    share = "gr[ox] / " .. emit.float(K * K)
  end
  local at = string.format("ro + ky * %d + %s + kx", g.W, times("ox", K))
  b.put(4, "for (int ky = 0; ky < " .. K .. "; ky++)")
  b.put(5, "for (int kx = 0; kx < " .. K .. "; kx++)")
  if max then
    b.put(6, string.format("for (int ox = 0; ox < %d; ox++) {", OW))
    b.put(7, string.format("union { float f; uint32_t u; } keep = {gr[ox]};"))
    b.put(7, string.format("keep.u &= up[ky * %d + kx][ox];", K))
    b.put(7, string.format("dx[i * %d + %s] = keep.f;", ctx.dx_ld, at))
    b.put(6, "}")
  else
    b.put(6, string.format("for (int ox = 0; ox < %d; ox++) dx[i * %d + %s] = %s;", OW, ctx.dx_ld, at, share))
  end
  b.put(3, "}")
  b.put(2, "}")
  -- the previous derivative in a contiguous pass (vectorised)
  apply_in_act(b, 2, ctx, g, "i")
end

-- Pooling backward: the gradient of each output goes to its window's first maximum (found
-- again from x) or, divided by K², to every element of its window; then times the previous
-- activation's derivative.
local function pool_backward(s, mem, ctx)
  local L = s.map
  local g = geometry(L)
  local max = L.kind == "maxpool2d"
  local in_act = ctx.in_act
  local fn = s.fname .. "_backward"
  local b = emit.buffer()
  local pairs = max and convtile.pool_pairs_applies(ctx.isa, g) and (not in_act or epilogue.grad(in_act, ctx.isa, "v", "m"))
  -- the vector pairs take the derivative's mask from x itself where it is the activation's
  -- output (m then goes unread), so the comment names the buffer the code reads
  local mask = (pairs and not convtile.pool_pairs_reads_mask(in_act)) and "x" or "m"
  b.put(0, string.format("/* Layer %d backward: dx = %s%s; g [n][%d][%d][%d] -> dx [n][%d][%d][%d]%s. */",
    L.index, max and "g at each window's first maximum of x, 0 elsewhere" or "g / " .. g.K * g.K .. " over each window",
    in_act and epilogue.grad_prose(in_act, mask, "previous") or "", g.O, g.OH, g.OW, g.C, g.H, g.W,
    ctx.first and " (skipped if dx is NULL)" or ""))
  b.put(0, string.format("static void %s(float *restrict dx, const float *restrict g, %s%sint n) {", fn,
    max and "const float *restrict x, " or "", in_act and "const float *restrict m, " or ""))
  if ctx.first then b.put(1, "if (dx == NULL) return;") end
  b.put(1, "for (int i = 0; i < n; i++) {")
  if pairs then
    if not convtile.pool_pairs_backward(b, ctx.isa, g, mem, ctx) then apply_in_act(b, 2, ctx, g, "i") end
    return finish_pool_backward(b, fn, mem, ctx, max)
  end
  -- (the flags' stack array, up to 1 KB, is within lower.stack_bounds' per-function slack)
  if g.S == g.K and g.OH * g.K == g.H and g.OW * g.K == g.W and g.K * g.K * g.OW <= 256 then
    tiled_pool_backward(b, g, mem, ctx, max)
    return finish_pool_backward(b, fn, mem, ctx, max)
  end
  b.put(2, string.format("for (int j = 0; j < %d; j++) dx[i * %d + j] = 0.0f;", g.IN, ctx.dx_ld))
  b.put(2, "for (int c = 0; c < " .. g.C .. "; c++) {")
  b.put(3, "for (int oy = 0; oy < " .. g.OH .. "; oy++) {")
  b.put(4, "for (int ox = 0; ox < " .. g.OW .. "; ox++) {")
  b.put(5, string.format("const int wo = c * %d + %s * %d + %s;", g.H * g.W, times("oy", g.S), g.W, times("ox", g.S)))
  b.put(5, string.format("const float go = g[i * %d + (c * %d + oy) * %d + ox];", mem.d.ld, g.OH, g.OW))
  if max then
    local xo = "i * " .. mem.input.ld .. " + "
    b.put(5, "int best = wo;")
    b.put(5, "for (int ky = 0; ky < " .. g.K .. "; ky++)")
    b.put(6, "for (int kx = 0; kx < " .. g.K .. "; kx++)")
    b.put(7, string.format("if (x[%swo + ky * %d + kx] > x[%sbest]) best = wo + ky * %d + kx;", xo, g.W, xo, g.W))
    b.put(5, string.format("dx[i * %d + best] += go;", ctx.dx_ld))
  else
    b.put(5, "const float share = go / " .. emit.float(g.K * g.K) .. ";")
    b.put(5, "for (int ky = 0; ky < " .. g.K .. "; ky++)")
    b.put(6, string.format("for (int kx = 0; kx < %d; kx++) dx[i * %d + wo + ky * %d + kx] += share;", g.K,
      ctx.dx_ld, g.W))
  end
  b.put(4, "}")
  b.put(3, "}")
  b.put(2, "}")
  apply_in_act(b, 2, ctx, g, "i")
  return finish_pool_backward(b, fn, mem, ctx, max)
end

-- flatten: a copy forward, the gradient copied back (times the previous derivative).
local function flatten_forward(s, mem, ctx)
  local L = s.map
  local fn = s.fname .. "_forward"
  local text = string.format("/* Layer %d: a = x, flat; x, a [n][%d]. */\n", L.index, L.out)
    .. string.format("static void %s(float *restrict a, const float *restrict x, int n) {\n", fn)
    .. "  for (int i = 0; i < n; i++)\n"
    .. string.format("    for (int j = 0; j < %d; j++) a[i * %d + j] = x[i * %d + j];\n", L.out, mem.a.ld, mem.input.ld)
    .. "}\n"
  return text, string.format("%s(%s, %s, n);", fn, ctx.ref(mem.a), ctx.ref(mem.input))
end

local function flatten_backward(s, mem, ctx)
  local L = s.map
  local in_act = ctx.in_act
  local fn = s.fname .. "_backward"
  local dx = "dx[i * " .. ctx.dx_ld .. " + j]"
  local gj = scalar.load("g", "i * " .. mem.d.ld .. " + j")
  local v = in_act and epilogue.grad_scalar(in_act, gj, scalar.load("m", "i * " .. in_act.buf.ld .. " + j")) or gj
  local text = string.format("/* Layer %d backward: dx = g%s; g, dx [n][%d]%s. */\n", L.index,
      in_act and epilogue.grad_prose(in_act, "m", "previous") or "", L.out,
      ctx.first and " (skipped if dx is NULL)" or "")
    .. string.format("static void %s(float *restrict dx, const float *restrict g, %sint n) {\n", fn,
         in_act and "const float *restrict m, " or "")
    .. (ctx.first and "  if (dx == NULL) return;\n" or "")
    .. "  for (int i = 0; i < n; i++)\n"
    .. string.format("    for (int j = 0; j < %d; j++) %s = %s;\n", L.out, dx, v)
    .. "}\n"
  local function call(d)
    return string.format("%s(%s, %s, %sn);", fn, d, ctx.ref(mem.d), in_act and ctx.ref(in_act.buf) .. ", " or "")
  end
  return text, call(ctx.dx), call(ctx.first and "NULL" or ctx.dx)
end

-- Whether step s's backward reads m, the buffer of in_act = {op, opts}, the activation
-- before it: the vector max pooling takes a ReLU's mask from its input x.
local function reads_mask(s, in_act, isa)
  if s.product or s.map.kind ~= "maxpool2d" then return true end
  local g = geometry(s.map)
  if not (convtile.pool_pairs_applies(isa, g) and epilogue.grad(in_act, isa, "v", "m")) then return true end
  return convtile.pool_pairs_reads_mask(in_act)
end

-- Whether a training build of step s (a conv2d and the activation fused after it; nxt the
-- step after it) leaves z, the conv's output before the activation, unwritten: nothing reads
-- it when the activation's derivative reads its input and nxt's backward takes that mask
-- from s's output a instead (reads_mask), and the forward (convtile.lua's, the activation in
-- vectors) then stores a alone. The one place that decides it: gen/schedule.lua's decide
-- records it as the step's z_unread, plan.lua documents z as not written, lower.lua passes
-- it to the forward (ctx.mask_unread).
function M.z_unread(s, nxt, isa)
  local act = s.product and s.act and {op = s.act.op, opts = s.act.opts}
  if not (act and nxt and act.op.grad.uses == "input") then return false end
  local node = nxt.product or nxt.map
  if not (node and node.op.kernels == "conv") then return false end
  if not (convtile.applies(isa, s.product) and epilogue.forward(act, isa, "v")) then return false end
  return not reads_mask(nxt, act, isa)
end

function M.forward(s, mem, ctx)
  if s.product and convtile.applies(ctx.isa, s.product) then return convtile.forward(s, mem, ctx) end
  if s.product then return conv_forward(s, mem, ctx) end
  if s.map.kind == "flatten" then return flatten_forward(s, mem, ctx) end
  return pool_forward(s, mem, ctx)
end

function M.backward(s, mem, ctx)
  if s.product and convtile.applies(ctx.isa, s.product) then return convtile.backward(s, mem, ctx) end
  if s.product then return conv_backward(s, mem, ctx) end
  if s.map.kind == "flatten" then return flatten_backward(s, mem, ctx) end
  return pool_backward(s, mem, ctx)
end

return M
