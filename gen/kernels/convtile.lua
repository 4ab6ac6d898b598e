-- conv2d's forward and backward as SIMD register tiles (direct convolution) for any ISA
-- table with vectors (avx512, avx2, neon); gen/kernels/conv.lua asks here first and keeps
-- its portable loops for the scalar ISA and for layers whose buffers would not fit the
-- stack budget below.
--
-- One tile routine (emit_tiles) computes out[o][oy][ox] = init[o] + Σ_(c,ky,kx) in[c][oy·S +
-- ky][ox·S + kx] · w[c][ky][kx][o] over a zero-padded input: output channels in the vector
-- lanes (weights packed [C·K·K][Op], Op = O rounded up to the vector width), R output pixels
-- of one row times V vectors of channels in accumulators, each tap a broadcast of the input
-- under each pixel times V weight vectors. Padding is a zero border in a stack copy of the
-- image, so every loop bound is a constant and the inner loop has no tests. The forward is
-- this routine with the bias (and the activation in its store); the input gradient dx is the
-- same routine over g scattered into a zero frame (stride S dilation, K-1-P border) with the
-- weights flipped and transposed ([O][K][K][C] lanes over C), a stride-1 convolution; dW is a
-- second tile, R taps × V channel vectors summed over the output pixels of each image, from g
-- transposed per image into pixel-major rows gT[pixel][Op]. Every sum has a fixed order (taps
-- in (c, ky, kx) order; dW and db over images, then pixels in row order), so a build gives
-- the same bits on every run; they differ in rounding from the scalar loops (fused
-- multiply-adds, zero taps in the border).
local emit = require "emit"
local epilogue = require "kernels.epilogue"
local scalar = require "isa.scalar"
local convcall = require "kernels.convcall"

local M = {}

-- Stack budget of one step function's buffers, in floats (256 KB): beyond it conv.lua's
-- portable loops run instead.
M.STACK_FLOATS = 64 * 1024

local function round_up(v, w) return (v + w - 1) // w * w end

local geometry = convcall.geometry

-- R pixels per tile along an output row of `ow`, at most `rmax`: the row cut into the fewest
-- tiles, of nearly equal widths (28 with 12 at most: 10, 10, 8).
local function row_tiles(ow, rmax)
  local n = (ow + rmax - 1) // rmax
  local r = (ow + n - 1) // n
  local tiles, x = {}, 0
  while x < ow do
    tiles[#tiles + 1] = {x = x, r = math.min(r, ow - x)}
    x = x + r
  end
  return tiles
end

-- Blocks of at most isa.vec_max vectors over Op channels: {v0 = first vector, nv, o0, no =
-- real channels in the block}.
local function channel_blocks(isa, O, Op)
  local blocks, nvec = {}, Op // isa.width
  local v = 0
  while v < nvec do
    local nv = math.min(isa.vec_max, nvec - v)
    local o0 = v * isa.width
    blocks[#blocks + 1] = {v0 = v, nv = nv, o0 = o0, no = math.min(O, o0 + nv * isa.width) - o0}
    v = v + nv
  end
  return blocks
end

-- Declares `_Alignas(64) float name[n];` (lower.lua's stack bound counts these lines).
local function array(b, depth, name, n)
  b.put(depth, string.format("_Alignas(64) float %s[%d];", name, n))
end

-- The tile loops at `depth` for one image. p: src (C pointer expression of the padded input
-- plane 0), Cin, Hp, Wp (its channel is Hp·Wp floats), K, S, OH, OW, Op, O, wp (packed
-- weights, aligned when wa), init(blk, v) (the accumulator's first value), put(o, pix, val)
-- (the C statement storing one output), tb (a stack tile of acc_regs·width floats).
local function emit_tiles(b, depth, isa, p)
  local W, vt = isa.width, isa.vtype
  local wload = p.wa and isa.load_aligned or isa.load
  local blocks = channel_blocks(isa, p.O, p.Op)
  b.put(depth, string.format("for (int oy = 0; oy < %d; oy++) {", p.OH))
  for _, blk in ipairs(blocks) do
    local rmax = math.max(1, math.min(isa.max_rows * 2, isa.acc_regs // blk.nv))
    -- the equal-width tiles in a loop over ox0, the narrower last one after it (bounded code
    -- for wide images)
    local tiles = row_tiles(p.OW, rmax)
    local groups = {}
    local nsame = (#tiles > 1 and tiles[#tiles].r < tiles[1].r) and #tiles - 1 or #tiles
    groups[1] = {x = "ox0", r = tiles[1].r, loop = nsame > 1 and nsame * tiles[1].r}
    if nsame == 1 then groups[1].x = "0" end
    if nsame < #tiles then groups[2] = {x = tostring(tiles[#tiles].x), r = tiles[#tiles].r} end
    for _, t in ipairs(groups) do
      local d = depth + 1
      b.put(d, t.loop and string.format("for (int ox0 = 0; ox0 < %d; ox0 += %d) {", t.loop, t.r) or "{")
      if not t.loop and t.x == "ox0" then t.x = "0" end
      local acc = {}
      for r = 0, t.r - 1 do
        for v = 0, blk.nv - 1 do
          acc[#acc + 1] = string.format("a%d_%d = %s", r, v, p.init(blk, v))
        end
      end
      b.put(d + 1, vt .. " " .. table.concat(acc, ", ") .. ";")
      b.put(d + 1, string.format("const float *xs = %s + oy * %d + %s;", p.src, p.S * p.Wp,
        p.S == 1 and t.x or t.x .. " * " .. p.S))
      b.put(d + 1, string.format("for (int c = 0; c < %d; c++) {", p.Cin))
      b.put(d + 2, string.format("for (int ky = 0; ky < %d; ky++) {", p.K))
      b.put(d + 3, string.format("const float *xr = xs + c * %d + ky * %d;", p.Hp * p.Wp, p.Wp))
      b.put(d + 3, string.format("const float *wr = %s + (c * %d + ky) * %d + %d;", p.wp, p.K, p.K * p.Op, blk.v0 * W))
      b.put(d + 3, string.format("for (int kx = 0; kx < %d; kx++) {", p.K))
      local ws = {}
      for v = 0, blk.nv - 1 do
        ws[#ws + 1] = string.format("w%d = %s", v, wload("wr", string.format("kx * %d + %d", p.Op, v * W)))
      end
      b.put(d + 4, "const " .. vt .. " " .. table.concat(ws, ", ") .. ";")
      for r = 0, t.r - 1 do
        local line = {string.format("{ const %s xb = %s;", vt, isa.broadcast(string.format("xr[kx + %d]", r * p.S)))}
        for v = 0, blk.nv - 1 do
          line[#line + 1] = string.format("a%d_%d = %s;", r, v, isa.fma("xb", "w" .. v, string.format("a%d_%d", r, v)))
        end
        b.put(d + 4, table.concat(line, " ") .. " }")
      end
      b.put(d + 3, "}")
      b.put(d + 2, "}")
      b.put(d + 1, "}")
      -- lanes out through the stack tile: tb[r][v·W + lane], then channel by channel
      local stride = blk.nv * W
      for r = 0, t.r - 1 do
        for v = 0, blk.nv - 1 do
          b.put(d + 1, isa.store_aligned(p.tb, r * stride + v * W, string.format("a%d_%d", r, v)))
        end
      end
      b.put(d + 1, string.format("for (int o = 0; o < %d; o++)", blk.no))
      b.put(d + 2, string.format("for (int r = 0; r < %d; r++) %s", t.r,
        p.put(string.format("%d + o", blk.o0), string.format("oy * %d + %s + r", p.OW, t.x),
              string.format("%s[r * %d + o]", p.tb, stride))))
      b.put(d, "}")
    end
  end
  b.put(depth, "}")
end

-- Copies image i of `src` (C×H×W at leading dimension ld) into the zero-framed buffer `dst`
-- (C×Hp×Wp, the image at row and column offset `off`, every `step`-th row and column: step
-- 1 for the padded input, S for g dilated); rows and columns past the buffer are left out
-- (torch drops the input rows no window reaches). The frame was zeroed once.
local function frame_copy(b, depth, dst, src, ld, C, H, W, Hp, Wp, off, step)
  local ylim = math.min(H, (Hp - 1 - off) // step + 1)
  local xlim = math.min(W, (Wp - 1 - off) // step + 1)
  b.put(depth, string.format("for (int c = 0; c < %d; c++)", C))
  b.put(depth + 1, string.format("for (int iy = 0; iy < %d; iy++)", ylim))
  b.put(depth + 2, string.format("for (int ix = 0; ix < %d; ix++) %s[c * %d + (iy%s + %d) * %d + ix%s + %d] = %s[i * %d + (c * %d + iy) * %d + ix];",
    xlim, dst, Hp * Wp, step > 1 and " * " .. step or "", off, Wp, step > 1 and " * " .. step or "", off, src, ld, H, W))
end

-- The forward's padded input: nil when there is no padding (the tiles read x itself).
local function input_frame(g)
  local Hp, Wp = (g.OH - 1) * g.S + g.K, (g.OW - 1) * g.S + g.K
  return Hp, Wp, g.P > 0 or Hp > g.H or Wp > g.W
end

-- Floats of stack each function needs (forward, backward).
local function stack_floats(isa, g)
  local W = isa.width
  local Op, Cp = round_up(g.O, W), round_up(g.C, W)
  local Hp, Wp, framed = input_frame(g)
  local xpad = framed and g.C * Hp * Wp or 0
  local tb = isa.acc_regs * W
  local fwd = xpad + g.C * g.K * g.K * Op + Op + tb
  local bwd = xpad + g.OH * g.OW * Op + g.C * g.K * g.K * Op + Op
              + g.O * (g.H + g.K - 1) * (g.W + g.K - 1) + g.O * g.K * g.K * Cp + tb
  return fwd, bwd
end

-- Whether the tiles serve this conv2d layer on this ISA.
function M.applies(isa, L)
  if isa.width <= 1 or not isa.fma or not isa.broadcast then return false end
  local fwd, bwd = stack_floats(isa, geometry(L))
  return math.max(fwd, bwd) <= M.STACK_FLOATS
end

-- The weights packed [C·K·K][Op] (zero lanes past O) into `wp`, or nil when Op = O (the
-- tiles read w itself, unaligned).
local function pack_weights(b, g, Op)
  if Op == g.O then return nil end
  local T = g.C * g.K * g.K
  array(b, 1, "wp", T * Op)
  b.put(1, string.format("for (int t = 0; t < %d; t++)", T))
  b.put(2, string.format("for (int o = 0; o < %d; o++) wp[t * %d + o] = o < %d ? w[t * %d + o] : 0.0f;", Op, Op, g.O, g.O))
  return "wp"
end

-- Tile scratch: the accumulators of one tile (rows x vectors <= acc_regs), stored for the
-- channel-by-channel stores.
local function tile_buffer(b, isa)
  array(b, 1, "tb", isa.acc_regs * isa.width)
end

function M.forward(s, mem, ctx)
  local isa = ctx.isa
  local L = s.product
  local g = geometry(L)
  local fn = s.fname .. "_forward"
  local act = s.act and {op = s.act.op, opts = s.act.opts}
  local y = act and "z" or "y"
  local has_bias = L.bias >= 0
  local W = isa.width
  local Op = round_up(g.O, W)
  local out_ld = mem[act and "z" or "a"].ld
  local b = emit.buffer()
  b.put(0, convcall.forward_title(s, g, act, has_bias))
  b.put(0, string.format("   x [n][%d][%d][%d], W [%d][%d][%d][%d]%s -> %s [n][%d][%d][%d] (NCHW rows); %s register",
    g.C, g.H, g.W, g.C, g.K, g.K, g.O, has_bias and ", b [" .. g.O .. "]" or "", y, g.O, g.OH, g.OW, isa.name))
  b.put(0, "   tiles over output pixels x channels (gen/kernels/convtile.lua). */")
  convcall.forward_signature(b, fn, act, has_bias)
  local wp = pack_weights(b, g, Op) or "w"
  array(b, 1, "bp", Op)
  b.put(1, string.format("for (int o = 0; o < %d; o++) bp[o] = %s;", Op,
    has_bias and string.format("o < %d ? b[o] : 0.0f", g.O) or "0.0f"))
  tile_buffer(b, isa)
  local Hp, Wp, framed = input_frame(g)
  if framed then
    array(b, 1, "xp", g.C * Hp * Wp)
    b.put(1, string.format("for (int j = 0; j < %d; j++) xp[j] = 0.0f;", g.C * Hp * Wp))
  else
    Hp, Wp = g.H, g.W
  end
  b.put(1, "for (int i = 0; i < n; i++) {")
  if framed then frame_copy(b, 2, "xp", "x", mem.input.ld, g.C, g.H, g.W, Hp, Wp, g.P, 1) end
  local function put(o, pix, val)
    local at = string.format("i * %d + (%s) * %d + %s", out_ld, o, g.OH * g.OW, pix)
    if not act then return string.format("y[%s] = %s;", at, val) end
    return string.format("{ const float v = %s; z[%s] = v; a[%s] = %s; }", val, at, at,
      epilogue.forward_scalar(act, "v"))
  end
  emit_tiles(b, 2, isa, {src = framed and "xp" or string.format("(x + i * %d)", mem.input.ld), Cin = g.C, Hp = Hp, Wp = Wp,
    K = g.K, S = g.S, OH = g.OH, OW = g.OW, Op = Op, O = g.O, wp = wp, wa = wp ~= "w", tb = "tb", put = put,
    init = function(blk, v) return isa.load_aligned("bp", (blk.v0 + v) * W) end})
  b.put(1, "}")
  b.put(0, "}")
  return b.text(), convcall.forward(fn, L, mem, ctx, act, has_bias)
end

-- dW (and db) of one image: the R-taps × V-vectors tile over the output pixels, into dwp.
local function emit_wgrad(b, depth, isa, g, xsrc, Hp, Wp, Op, dwp)
  local W, vt = isa.width, isa.vtype
  local T = g.C * g.K * g.K
  for _, blk in ipairs(channel_blocks(isa, g.O, Op)) do
    local rmax = math.max(1, isa.acc_regs // blk.nv)
    local full, tail = T // rmax, T % rmax
    local function tile(d, r, t0)
      local acc, xs = {}, {}
      for k = 0, r - 1 do
        for v = 0, blk.nv - 1 do
          acc[#acc + 1] = string.format("a%d_%d = %s", k, v,
            isa.load_aligned(dwp, string.format("(%s + %d) * %d + %d", t0, k, Op, (blk.v0 + v) * W)))
        end
        xs[#xs + 1] = string.format("*x%d = %s + toff[%s + %d]", k, xsrc, t0, k)
      end
      b.put(d, vt .. " " .. table.concat(acc, ", ") .. ";")
      b.put(d, "const float " .. table.concat(xs, ", ") .. ";")
      b.put(d, string.format("for (int oy = 0; oy < %d; oy++)", g.OH))
      b.put(d + 1, string.format("for (int ox = 0; ox < %d; ox++) {", g.OW))
      b.put(d + 2, string.format("const int px = oy * %d + ox%s;", g.S * Wp, g.S > 1 and " * " .. g.S or ""))
      b.put(d + 2, string.format("const float *gp = gt + (oy * %d + ox) * %d + %d;", g.OW, Op, blk.v0 * W))
      local gs = {}
      for v = 0, blk.nv - 1 do gs[#gs + 1] = string.format("g%d = %s", v, isa.load_aligned("gp", v * W)) end
      b.put(d + 2, "const " .. vt .. " " .. table.concat(gs, ", ") .. ";")
      for k = 0, r - 1 do
        local line = {string.format("{ const %s xb = %s;", vt, isa.broadcast(string.format("x%d[px]", k)))}
        for v = 0, blk.nv - 1 do
          line[#line + 1] = string.format("a%d_%d = %s;", k, v, isa.fma("xb", "g" .. v, string.format("a%d_%d", k, v)))
        end
        b.put(d + 2, table.concat(line, " ") .. " }")
      end
      b.put(d + 1, "}")
      for k = 0, r - 1 do
        for v = 0, blk.nv - 1 do
          b.put(d, isa.store_aligned(dwp, string.format("(%s + %d) * %d + %d", t0, k, Op, (blk.v0 + v) * W),
            string.format("a%d_%d", k, v)))
        end
      end
    end
    if full > 0 then
      b.put(depth, string.format("for (int tb0 = 0; tb0 < %d; tb0 += %d) {", full * rmax, rmax))
      tile(depth + 1, rmax, "tb0")
      b.put(depth, "}")
    end
    if tail > 0 then
      b.put(depth, "{")
      tile(depth + 1, tail, tostring(full * rmax))
      b.put(depth, "}")
    end
  end
end

function M.backward(s, mem, ctx)
  local isa = ctx.isa
  local L = s.product
  local g = geometry(L)
  local fn = s.fname .. "_backward"
  local in_act = ctx.in_act
  local has_bias = L.bias >= 0
  local g_ld, x_ld = mem.d.ld, mem.input.ld
  local W = isa.width
  local Op, Cp = round_up(g.O, W), round_up(g.C, W)
  local T = g.C * g.K * g.K
  local PIX = g.OH * g.OW
  local b = emit.buffer()
  convcall.backward_comment(b, L, g, ctx, in_act, has_bias, ";")
  b.put(0, string.format("   %s register tiles: dW over taps x channels, dx as a stride-1 convolution of g dilated", isa.name))
  b.put(0, "   and framed with the flipped weights (gen/kernels/convtile.lua). */")
  convcall.backward_signature(b, fn, in_act, has_bias)
  -- dW, db: per image, g transposed to gt[pixel][Op] and the taps' input offsets toff
  local Hp, Wp, framed = input_frame(g)
  if not framed then Hp, Wp = g.H, g.W end
  local toff = {}
  for c = 0, g.C - 1 do
    for ky = 0, g.K - 1 do
      for kx = 0, g.K - 1 do toff[#toff + 1] = (c * Hp + ky) * Wp + kx end
    end
  end
  b.put(1, string.format("static const int toff[%d] = {%s};", T, table.concat(toff, ", ")))
  array(b, 1, "gt", PIX * Op)
  array(b, 1, "dwp", T * Op)
  b.put(1, string.format("for (int j = 0; j < %d; j++) gt[j] = 0.0f;", PIX * Op))
  b.put(1, string.format("for (int j = 0; j < %d; j++) dwp[j] = 0.0f;", T * Op))
  if has_bias then
    array(b, 1, "dbp", Op)
    b.put(1, string.format("for (int o = 0; o < %d; o++) dbp[o] = 0.0f;", Op))
  end
  if framed then
    array(b, 1, "xp", g.C * Hp * Wp)
    b.put(1, string.format("for (int j = 0; j < %d; j++) xp[j] = 0.0f;", g.C * Hp * Wp))
  end
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, string.format("for (int o = 0; o < %d; o++)", g.O))
  b.put(3, string.format("for (int q = 0; q < %d; q++) gt[q * %d + o] = g[i * %d + o * %d + q];", PIX, Op, g_ld, PIX))
  if has_bias then
    b.put(2, string.format("for (int q = 0; q < %d; q++)", PIX))
    b.put(3, string.format("for (int o = 0; o < %d; o++) dbp[o] += gt[q * %d + o];", Op, Op))
  end
  if framed then frame_copy(b, 2, "xp", "x", x_ld, g.C, g.H, g.W, Hp, Wp, g.P, 1) end
  emit_wgrad(b, 2, isa, g, framed and "xp" or string.format("(x + i * %d)", x_ld), Hp, Wp, Op, "dwp")
  b.put(1, "}")
  b.put(1, string.format("for (int t = 0; t < %d; t++)", T))
  b.put(2, string.format("for (int o = 0; o < %d; o++) dw[t * %d + o] = dwp[t * %d + o];", g.O, g.O, Op))
  if has_bias then b.put(1, string.format("for (int o = 0; o < %d; o++) db[o] = dbp[o];", g.O)) end
  if ctx.first then b.put(1, "if (dx == NULL) return;") end
  -- dx: g dilated by S into a frame of K-1-P zeros (gf, O×Hg×Wg), flipped transposed
  -- weights wd[o][ky][kx][Cp] = W[c][K-1-ky][K-1-kx][o]
  local Hg, Wg = g.H + g.K - 1, g.W + g.K - 1
  array(b, 1, "gf", g.O * Hg * Wg)
  array(b, 1, "wd", g.O * g.K * g.K * Cp)
  b.put(1, string.format("for (int j = 0; j < %d; j++) gf[j] = 0.0f;", g.O * Hg * Wg))
  b.put(1, string.format("for (int o = 0; o < %d; o++)", g.O))
  b.put(2, string.format("for (int ky = 0; ky < %d; ky++)", g.K))
  b.put(3, string.format("for (int kx = 0; kx < %d; kx++)", g.K))
  b.put(4, string.format("for (int c = 0; c < %d; c++) wd[((o * %d + ky) * %d + kx) * %d + c] = c < %d ? w[((c * %d + %d - ky) * %d + %d - kx) * %d + o] : 0.0f;",
    Cp, g.K, g.K, Cp, g.C, g.K, g.K - 1, g.K, g.K - 1, g.O))
  tile_buffer(b, isa)
  b.put(1, "for (int i = 0; i < n; i++) {")
  frame_copy(b, 2, "gf", "g", g_ld, g.O, g.OH, g.OW, Hg, Wg, g.K - 1 - g.P, g.S)
  local function put(c, pix, val)
    local at = string.format("i * %d + (%s) * %d + %s", ctx.dx_ld, c, g.H * g.W, pix)
    if not in_act then return string.format("dx[%s] = %s;", at, val) end
    local mat = string.format("i * %d + (%s) * %d + %s", in_act.buf.ld, c, g.H * g.W, pix)
    return string.format("dx[%s] = %s;", at, epilogue.grad_scalar(in_act, val, scalar.load("m", mat)))
  end
  emit_tiles(b, 2, isa, {src = "gf", Cin = g.O, Hp = Hg, Wp = Wg, K = g.K, S = 1, OH = g.H, OW = g.W, Op = Cp,
    O = g.C, wp = "wd", wa = true, tb = "tb", put = put, init = function() return isa.zero() end})
  b.put(1, "}")
  b.put(0, "}")
  return b.text(), convcall.backward(fn, L, mem, ctx, in_act, has_bias)
end

return M
