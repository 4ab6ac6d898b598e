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
-- image, so every loop bound is a constant and the inner loop has no tests. The accumulators
-- go whole into a pixel-major stage of a band of output rows, moved to the NCHW rows by square
-- block transposes (then the activation as a vector pass). The forward is this routine with
-- the bias; the input gradient dx is the
-- same routine over g scattered into a zero frame (stride S dilation, K-1-P border) with the
-- weights flipped and transposed ([O][K][K][C] lanes over C), a stride-1 convolution (or, at
-- stride 1 where it costs less, per-tap sums over the output channels shifted into the rows:
-- tapsum_dx); dW is a
-- second tile, R taps × V channel vectors summed over the output pixels of each image, from g
-- transposed per image into pixel-major rows gT[pixel][Op] (on ISAs of 32 registers the
-- tile is (c, ky) pairs × kx × channel vectors instead, each broadcast input feeding every
-- kx tap that reads it: emit_wgrad_rows); few output channels put pixels in the lanes
-- (pixel_wgrad_image, or flat_wgrad_image over the flat plane and K column-shifted copies
-- of the input); where a max pooling follows (g mostly zeros: schedule.g_density) dW reads
-- only g's nonzero pixels, each times its input patch (sparse_wgrad). Every sum has a fixed
-- order (taps in (c, ky, kx) order; dW and db over images, then pixels in row order), so a
-- build gives the same bits on every run; they differ in rounding from the scalar loops
-- (fused multiply-adds, zero taps in the border).
local emit = require "emit"
local epilogue = require "kernels.epilogue"
local scalar = require "isa.scalar"
local convcall = require "kernels.convcall"
local schedule = require "schedule"
local errors = require "errors"
local shared = require "kernels.shared"

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
-- One k step of a register tile: per row r, one broadcast (`bname` = at(r)) times the
-- vectors vec0..vec(nv-1) into the accumulators a<r>_<v>, one line per row.
local function fma_rows(b, depth, isa, vt, rows, nv, bname, at, vec)
  for r = 0, rows - 1 do
    local line = {string.format("{ const %s %s = %s;", vt, bname, isa.broadcast(at(r)))}
    for v = 0, nv - 1 do
      line[#line + 1] = string.format("a%d_%d = %s;", r, v, isa.fma(bname, vec .. v, string.format("a%d_%d", r, v)))
    end
    b.put(depth, table.concat(line, " ") .. " }")
  end
end

local function array(b, depth, name, n)
  b.put(depth, string.format("_Alignas(64) float %s[%d];", name, n))
end

-- Output rows per band of the channel-lane tiles' stage (tb[band pixels][Op]): the most
-- rows, a divisor of OH, whose stage fits STAGE_FLOATS (one row at least).
local STAGE_FLOATS = 4096
local function band_rows(OH, OW, Op)
  for r = OH, 1, -1 do
    if OH % r == 0 and r * OW * Op <= STAGE_FLOATS then return r end
  end
  return 1
end

-- Blocks of `step` over 0..n-1 as C: the whole blocks a loop over `var`, tile(depth + 1,
-- step, var), then the short last one in braces, tile(depth + 1, n % step, its start, true).
local function block_loop(b, depth, n, step, var, tile)
  local full, tail = n // step, n % step
  if full > 0 then
    b.put(depth, string.format("for (int %s = 0; %s < %d; %s += %d) {", var, var, full * step, var, step))
    tile(depth + 1, step, var, false)
    b.put(depth, "}")
  end
  if tail > 0 then
    b.put(depth, "{")
    tile(depth + 1, tail, tostring(full * step), true)
    b.put(depth, "}")
  end
end

-- Block starts 0, T, 2T, ... over n and a last one ending at n (overlapping the one before
-- when T does not divide n); nil when n < T.
local function block_starts(n, T)
  if n < T then return nil end
  local xs = {}
  for x = 0, n - T, T do xs[#xs + 1] = x end
  if xs[#xs] ~= n - T then xs[#xs + 1] = n - T end
  return xs
end

-- Square blocks through isa.transpose over Q pixels x O channels: block(d, q0, o0) emits the
-- block at pixel q0 (a C expression) and channel o0; the last block of a dimension that T
-- does not divide overlaps the one before (it writes the same values again). false, with
-- nothing emitted, when there is not a whole block of pixels and of channels.
local function square_blocks(b, d, isa, Q, O, block)
  local T = isa.transpose_n
  local os = isa.transpose and Q >= T and block_starts(O, T)
  if not os then return false end
  local full = (Q // T) * T
  local function blocks(dd, q0)
    for _, o0 in ipairs(os) do block(dd, q0, o0) end
  end
  b.put(d, string.format("for (int q0 = 0; q0 < %d; q0 += %d) {", full, T))
  blocks(d + 1, "q0")
  b.put(d, "}")
  if full < Q then blocks(d, tostring(Q - T)) end
  return true
end

-- A band's outputs from the stage tb[q][Op] (q < BP, the band's pixels in row order) to
-- channel rows: `dst` (C pointer to channel 0's first band pixel) + o·plane + q. Square
-- blocks (no arithmetic here; the caller's band_pass applies the activation after) where the
-- band has a block of pixels and of channels: returns true. Else float by float through
-- put(o, q, val) (o, q: C expressions; the final value, activation included): false.
local function unstage(b, d, isa, p)
  if square_blocks(b, d, isa, p.BP, p.O, function(dd, q0, o0)
    b.put(dd, string.format("%s(%s + %d + %s, %d, %s + %s * %d + %d, %d);", isa.transpose, p.dst, o0 * p.plane,
      q0, p.plane, p.tb, q0, p.Op, o0, p.Op))
  end) then
    return true
  end
  b.put(d, string.format("for (int o = 0; o < %d; o++)", p.O))
  b.put(d + 1, string.format("for (int q = 0; q < %d; q++) %s", p.BP, p.put("o", "q", string.format("%s[q * %d + o]", p.tb, p.Op))))
  return false
end

-- The activation pass over a band just stored by unstage: `fix(at, vec)` is the C statement
-- rewriting the element(s) at offset `at` from channel 0's first band pixel (a vector when
-- vec, else one float). Vectors over each channel's BP floats (all O·BP at once when the band
-- is the whole plane), the remainder float by float: every element once, so an in-place
-- rewrite (dx times the derivative) is right.
local function band_pass(b, d, isa, O, BP, plane, vector, fix)
  local W = vector and isa.width or 1
  if BP == plane then
    local n = O * BP
    local nv = vector and n // W * W or 0
    if nv > 0 then b.put(d, string.format("for (int j = 0; j < %d; j += %d) %s", nv, W, fix("j", true))) end
    if nv < n then b.put(d, string.format("for (int j = %d; j < %d; j++) %s", nv, n, fix("j", false))) end
    return
  end
  local nv = vector and BP // W * W or 0
  b.put(d, string.format("for (int o = 0; o < %d; o++) {", O))
  if nv > 0 then b.put(d + 1, string.format("for (int j = 0; j < %d; j += %d) %s", nv, W, fix(string.format("o * %d + j", plane), true))) end
  if nv < BP then b.put(d + 1, string.format("for (int j = %d; j < %d; j++) %s", nv, BP, fix(string.format("o * %d + j", plane), false))) end
  b.put(d, "}")
end

-- The tile loops at `depth` for one image. p: src (C pointer expression of the padded input
-- plane 0), Cin, Hp, Wp (its channel is Hp·Wp floats), K, S, OH, OW, Op, O, wp (packed
-- weights, aligned when wa), init(blk, v) (the accumulator's first value), tb (the stage of
-- band_rows(OH, OW, Op) output rows, pixel-major [q][Op]: the accumulators go there whole),
-- flush(b, d) (the C statements moving a band out of tb, `oy0` its first row), act(v) (nil,
-- or the activation of an accumulator as it goes to the stage).
local function emit_tiles(b, depth, isa, p)
  local W, vt = isa.width, isa.vtype
  local wload = p.wa and isa.load_aligned or isa.load
  local blocks = channel_blocks(isa, p.O, p.Op)
  local SR = band_rows(p.OH, p.OW, p.Op)
  b.put(depth, string.format("for (int oy0 = 0; oy0 < %d; oy0 += %d) {", p.OH, SR))
  depth = depth + 1
  b.put(depth, string.format("for (int oy = oy0; oy < oy0 + %d; oy++) {", SR))
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
      b.put(0, shared.gcc_unroll(p.K))
      b.put(d + 3, string.format("for (int kx = 0; kx < %d; kx++) {", p.K))
      local ws = {}
      for v = 0, blk.nv - 1 do
        ws[#ws + 1] = string.format("w%d = %s", v, wload("wr", string.format("kx * %d + %d", p.Op, v * W)))
      end
      b.put(d + 4, "const " .. vt .. " " .. table.concat(ws, ", ") .. ";")
      fma_rows(b, d + 4, isa, vt, t.r, blk.nv, "xb", function(r) return string.format("xr[kx + %d]", r * p.S) end, "w")
      b.put(d + 3, "}")
      b.put(d + 2, "}")
      b.put(d + 1, "}")
      -- whole accumulators into the band's stage tb[q][Op]
      b.put(d + 1, string.format("float *tp = %s + ((oy - oy0) * %d + %s) * %d + %d;", p.tb, p.OW, t.x, p.Op, blk.v0 * W))
      for r = 0, t.r - 1 do
        for v = 0, blk.nv - 1 do
          local acc = string.format("a%d_%d", r, v)
          b.put(d + 1, isa.store_aligned("tp", r * p.Op + v * W, p.act and p.act(acc) or acc))
        end
      end
      b.put(d, "}")
    end
  end
  b.put(depth, "}")
  p.flush(b, depth)
  b.put(depth - 1, "}")
end

-- The pixel-lane tiles: the other orientation of emit_tiles for stride 1, used when the
-- output channels fill the lanes worse than an output row does (LeNet's 6-channel conv at
-- 28 wide, the 6-channel input gradient at 14 wide; rows narrower than a vector go to
-- emit_narrow_tiles below). The lanes are W consecutive output
-- pixels of one row (positions 0, W, 2W, ... and a last one ending at the row's end, which
-- may overlap the one before: those lanes get the same sums again and store the same
-- bits), a tile RO channels × NV positions of accumulators, each tap (c, ky, kx) NV
-- unaligned loads of the input row under the pixels and RO broadcast weights. The sums are
-- the channel tiles' (init, then the taps in (c, ky, kx) order, fused multiply-adds), so
-- the bits are the same; the stores are whole vectors into the NCHW rows, the activation
-- applied as a vector. p as for emit_tiles (without tb, put, init), plus wld (the weight
-- row length), init(o) (the accumulator's first value for channel expression o) and
-- store(o, pix, v) (the C statements storing vector v at channel o, pixel expression pix).
local function pixel_positions(isa, OW)
  return block_starts(OW, isa.width) or {0}
end

-- Channels × positions per tile: the split of O channels and NP positions into tiles whose
-- cost sums smallest, RO·NV within the accumulators. A tile's cycles per tap: its fused
-- multiply-adds at two a cycle, its loads at three, or an accumulator's chain (one
-- multiply-add per tap, 4 cycles of latency), whichever is longest.
local function pixel_plan(isa, O, NP)
  local best
  for nv = 1, math.min(NP, isa.acc_regs) do
    local ro = math.min(O, isa.acc_regs // nv)
    local cost = 0
    for o0 = 0, O - 1, ro do
      for x0 = 0, NP - 1, nv do
        local r, v = math.min(ro, O - o0), math.min(nv, NP - x0)
        cost = cost + math.max(r * v / 2, (r + v) / 3, 4)
      end
    end
    if not best or cost < best.cost then best = {nv = nv, ro = ro, cost = cost} end
  end
  return best
end

-- One register tile of the pixel-lane forms: channels o0..o0+ro-1 (broadcast weights) x the
-- vectors loaded at xr + offs[j] for every tap (c, ky from ky0 to ky1-1, kx) into the
-- accumulators a<r>_<j-1>; each stored at output pixel at(j-1) through p.store (with `part`,
-- the lanes a narrow row keeps).
local function lane_tile(b, d, isa, p, o0, ro, ky0, ky1, offs, at, part)
  local vt = isa.vtype
  b.put(d, "{")
  local acc = {}
  for r = 0, ro - 1 do
    for j = 1, #offs do acc[#acc + 1] = string.format("a%d_%d = %s", r, j - 1, p.init(o0 + r)) end
  end
  b.put(d + 1, vt .. " " .. table.concat(acc, ", ") .. ";")
  b.put(d + 1, string.format("for (int c = 0; c < %d; c++) {", p.Cin))
  b.put(d + 2, string.format("for (int ky = %s; ky < %s; ky++) {", ky0, ky1))
  b.put(d + 3, string.format("const float *xr = %s + c * %d + (oy + ky) * %d;", p.src, p.Hp * p.Wp, p.Wp))
  b.put(d + 3, string.format("const float *wr = %s + (c * %d + ky) * %d + %d;", p.wp, p.K, p.K * p.wld, o0))
  b.put(0, shared.gcc_unroll(p.K))
  b.put(d + 3, string.format("for (int kx = 0; kx < %d; kx++) {", p.K))
  local xv = {}
  for j = 1, #offs do xv[#xv + 1] = string.format("x%d = %s", j - 1, isa.load("xr", offs[j])) end
  b.put(d + 4, "const " .. vt .. " " .. table.concat(xv, ", ") .. ";")
  fma_rows(b, d + 4, isa, vt, ro, #offs, "wb", function(r) return string.format("wr[kx * %d + %d]", p.wld, r) end, "x")
  b.put(d + 3, "}")
  b.put(d + 2, "}")
  b.put(d + 1, "}")
  for r = 0, ro - 1 do
    for j = 1, #offs do b.put(d + 1, p.store(o0 + r, at(j - 1), string.format("a%d_%d", r, j - 1), part)) end
  end
  b.put(d, "}")
end

local emit_narrow_tiles   -- below: rows narrower than a vector

local function emit_pixel_tiles(b, depth, isa, p)
  if p.OW < isa.width then return emit_narrow_tiles(b, depth, isa, p) end
  local xs = pixel_positions(isa, p.OW)
  local plan = pixel_plan(isa, p.O, #xs)
  -- taps over rows of the frame's zero border (rows outside p.rows) add nothing: each
  -- output row takes only the ky that reach real rows (the dx frame's K-1-P border rows
  -- were ~30 % of LeNet's second-layer dx taps)
  local ky0, ky1 = "0", tostring(p.K)
  if p.rows then
    local lo, hi, clipped = {}, {}, false
    for oy = 0, p.OH - 1 do
      lo[#lo + 1] = math.max(0, p.rows[1] - oy)
      hi[#hi + 1] = math.max(lo[#lo], math.min(p.K, p.rows[2] - oy + 1))
      clipped = clipped or lo[#lo] > 0 or hi[#hi] < p.K
    end
    if clipped then
      b.put(depth, string.format("static const int kylo[%d] = {%s}, kyhi[%d] = {%s};", p.OH,
        table.concat(lo, ", "), p.OH, table.concat(hi, ", ")))
      ky0, ky1 = "kylo[oy]", "kyhi[oy]"
    end
  end
  b.put(depth, string.format("for (int oy = 0; oy < %d; oy++) {", p.OH))
  for o0 = 0, p.O - 1, plan.ro do
    local ro = math.min(plan.ro, p.O - o0)
    for x0 = 1, #xs, plan.nv do
      local pos, offs = {}, {}
      for j = x0, math.min(#xs, x0 + plan.nv - 1) do
        pos[#pos + 1], offs[#offs + 1] = xs[j], "kx + " .. xs[j]
      end
      lane_tile(b, depth + 1, isa, p, o0, ro, ky0, ky1, offs,
        function(j) return string.format("oy * %d + %d", p.OW, pos[j + 1]) end)
    end
  end
  b.put(depth, "}")
end

-- Rows narrower than a vector (OW < W: LeNet's 14-wide input gradient on avx512): each
-- output row is one position, its pixels in lanes 0..OW-1; the lanes past OW read the
-- frame's next columns and rows (garbage sums, never stored: the stores and the derivative's
-- loads take the first OW lanes, isa.store_part / load_part). Lanes are then scarce per
-- row, so a tile spans rows instead: RO channels × NR consecutive output rows (pixel_plan
-- over the OH rows), each tap NR unaligned loads (row j at xr + j·Wp) × RO broadcast
-- weights. A tile's ky range is the union of its rows' (a tap over the frame's zero rows adds
-- a zero product: same value, as in the channel tiles, which take every tap; LeNet's dx
-- gives the same bits as those). The last load of a row may read past the frame by up to
-- W−OW−1 floats: the caller's buffer `src` has W−OW floats of slack (narrow_slack).
local function narrow_ky(p, oy0, nr)
  if not p.rows then return 0, p.K end
  local lo, hi
  for oy = oy0, oy0 + nr - 1 do
    local l = math.max(0, p.rows[1] - oy)
    local h = math.min(p.K, p.rows[2] - oy + 1)
    if h > l then
      lo = lo and math.min(lo, l) or l
      hi = hi and math.max(hi, h) or h
    end
  end
  if not lo then return 0, 0 end
  return lo, hi
end

function emit_narrow_tiles(b, depth, isa, p)
  local plan = pixel_plan(isa, p.O, p.OH)
  local NR = plan.nv
  local full, tail = p.OH // NR, p.OH % NR
  -- one tile of nr rows from output row `oy` (a C variable in scope), taps ky0..ky1-1
  local function tile(d, nr, ky0, ky1)
    local offs = {}
    for j = 0, nr - 1 do offs[#offs + 1] = j == 0 and "kx" or string.format("kx + %d", j * p.Wp) end
    for o0 = 0, p.O - 1, plan.ro do
      lane_tile(b, d, isa, p, o0, math.min(plan.ro, p.O - o0), ky0, ky1, offs, function(j)
        return j == 0 and string.format("oy * %d", p.OW) or string.format("(oy + %d) * %d", j, p.OW)
      end, p.OW)
    end
  end
  if full > 0 then
    local lo, hi, clipped = {}, {}, false
    for t = 0, full - 1 do
      lo[#lo + 1], hi[#hi + 1] = narrow_ky(p, t * NR, NR)
      clipped = clipped or lo[#lo] > 0 or hi[#hi] < p.K
    end
    local ky0, ky1 = "0", tostring(p.K)
    if clipped then
      b.put(depth, string.format("static const int kylo[%d] = {%s}, kyhi[%d] = {%s};", full,
        table.concat(lo, ", "), full, table.concat(hi, ", ")))
      ky0, ky1 = string.format("kylo[oy / %d]", NR), string.format("kyhi[oy / %d]", NR)
      if NR == 1 then ky0, ky1 = "kylo[oy]", "kyhi[oy]" end
    end
    b.put(depth, string.format("for (int oy = 0; oy < %d; oy += %d) {", full * NR, NR))
    tile(depth + 1, NR, ky0, ky1)
    b.put(depth, "}")
  end
  if tail > 0 then
    local lo, hi = narrow_ky(p, full * NR, tail)
    b.put(depth, "{")
    b.put(depth + 1, string.format("const int oy = %d;", full * NR))
    tile(depth + 1, tail, tostring(lo), tostring(hi))
    b.put(depth, "}")
  end
end

-- Floats of slack the narrow tiles' input buffer needs past its end (0 for wider rows).
local function narrow_slack(isa, OW)
  return OW < isa.width and isa.width - OW or 0
end

-- Whether the pixel-lane tiles serve an output of O channels OW wide at stride S: stride 1,
-- fewer wasted lanes than with the channels in the lanes (a lane wasted when it holds no
-- pixel of the row or a pixel already held by an overlapping position), and a row at least
-- a vector wide unless `narrow` (the caller gives the narrow tiles their slack).
local function pixel_lanes(isa, O, OW, S, narrow)
  if S ~= 1 or (OW < isa.width and not narrow) then return false end
  local W = isa.width
  return #pixel_positions(isa, OW) * W / OW < round_up(O, W) / O
end

-- Copies image i of `src` (C×H×W at leading dimension ld) into the zero-framed buffer `dst`
-- (C×Hp×Wp, the image at row and column offset `off`, every `step`-th row and column: step
-- 1 for the padded input, S for g dilated); rows and columns past the buffer are left out
-- (torch drops the input rows no window reaches). The frame was zeroed once.
-- A negative `off` (dx's K-1-P frame when the padding passes K-1: g's first rows and
-- columns reach no input) leaves out the rows and columns before the buffer too.
local function frame_copy(b, depth, dst, src, ld, C, H, W, Hp, Wp, off, step)
  local ylim = math.min(H, (Hp - 1 - off) // step + 1)
  local xlim = math.min(W, (Wp - 1 - off) // step + 1)
  local first = off < 0 and (step - 1 - off) // step or 0
  b.put(depth, string.format("for (int c = 0; c < %d; c++)", C))
  b.put(depth + 1, string.format("for (int iy = %d; iy < %d; iy++)", first, ylim))
  if step == 1 then
    -- (a row is contiguous: memcpy, which both compilers inline as vector moves; gcc -O2
    -- left the element loop scalar where its trip count is not a multiple of the vector:
    -- fashion_cnn's 14-wide rows, ~3 % of its training step on avx512)
    b.put(depth + 2, string.format("memcpy(%s + c * %d + (iy + %d) * %d + %d, %s + i * %d + (c * %d + iy) * %d + %d, %d * sizeof(float));",
      dst, Hp * Wp, off, Wp, first + off, src, ld, H, W, first, xlim - first))
    return
  end
  b.put(depth + 2, string.format("for (int ix = %d; ix < %d; ix++) %s[c * %d + (iy%s + %d) * %d + ix%s + %d] = %s[i * %d + (c * %d + iy) * %d + ix];",
    first, xlim, dst, Hp * Wp, step > 1 and " * " .. step or "", off, Wp, step > 1 and " * " .. step or "", off, src, ld, H, W))
end

-- The forward's padded input: nil when there is no padding (the tiles read x itself).
local function input_frame(g)
  local Hp, Wp = (g.OH - 1) * g.S + g.K, (g.OW - 1) * g.S + g.K
  return Hp, Wp, g.P > 0 or Hp > g.H or Wp > g.W
end

-- The zeroed stack frame `xp` of the padded input, when there is one (with `slack` more
-- zeros past its end for the narrow tiles, 0 if nil).
local function declare_frame(b, g, Hp, Wp, framed, slack)
  if not framed then return end
  local n = g.C * Hp * Wp + (slack or 0)
  array(b, 1, "xp", n)
  b.put(1, string.format("for (int j = 0; j < %d; j++) xp[j] = 0.0f;", n))
end

-- A forward's input: its frame declared, and the sizes the tiles walk (x's own without one).
local function forward_frame(b, g, slack)
  local Hp, Wp, framed = input_frame(g)
  if not framed then return g.H, g.W, false end
  declare_frame(b, g, Hp, Wp, true, slack)
  return Hp, Wp, true
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

-- The channel-lane tiles' stage: one band of output rows, pixel-major (emit_tiles).
local function stage_floats(OH, OW, Op) return band_rows(OH, OW, Op) * OW * Op end

local function stage_buffer(b, OH, OW, Op)
  array(b, 1, "tb", stage_floats(OH, OW, Op))
end

-- emit_tiles' flush for an output of O channels in planes of OH×OW: f.dst (C pointer to
-- channel 0's first band pixel; i and oy0 in scope), f.put(o, q, val) (one final value at
-- band pixel q), f.fix(at, vec) (the activation pass's statement for the element, or the
-- vector when vec, at offset `at` from f.dst; nil: no pass), f.vector (the pass may use
-- vectors).
local function flush_to(isa, f)
  local SR = band_rows(f.OH, f.OW, f.Op)
  return function(b, d)
    local moved = unstage(b, d, isa, {tb = "tb", BP = SR * f.OW, O = f.O, Op = f.Op, dst = f.dst,
      plane = f.OH * f.OW, put = f.put})
    if moved and f.fix then band_pass(b, d, isa, f.O, SR * f.OW, f.OH * f.OW, f.vector, f.fix) end
  end
end

-- Near-equal groups of at most m of the n items, the larger first: {first, count} each.
local function even_groups(n, m)
  local k = (n + m - 1) // m
  local out, at = {}, 1
  for j = 0, k - 1 do
    local c = n // k + (j < n % k and 1 or 0)
    out[#out + 1] = {at, c}
    at = at + c
  end
  return out
end

-- dW and db from g's nonzero pixels only, where the step's g is mostly zeros (a max pooling
-- follows: schedule.g_density, CONV_SPARSE_*). Per image the input goes into the zeroed
-- frame xp (declare_frame: padding as the forward's, 8 floats of slack, even where the
-- forward has none); per output channel o the nonzero
-- gradients of its plane are compressed in pixel order into gv[] with their patches'
-- frame offsets gi[] (no branch: avx512's 16-lane compress; avx2's 8-lane permute by a
-- table of the 256 lane masks, lpack), db[o] summing the whole plane as it goes; then each
-- (c, ky) row of dW[o] is an 8-lane accumulator (kx in lanes 0..K-1, the rest never read)
-- taking, per nonzero, its gradient times the patch row's 8 floats. At most SPARSE.rows
-- rows at a time (the registers less the broadcast and one spare); with fewer rows, A sets
-- of accumulators take the nonzeros in turn (independent FMA chains) and are added in set
-- order after. Sums in a fixed order (images, then each plane's nonzero pixels in row
-- order), so a build gives the same bits on every run; a zero gradient's taps (0·x) are the
-- ones left out. On avx512 the 8-lane FMAs need FMA3 and their 30 accumulators the 32 ymm
-- registers of AVX512VL (every AVX-512 CPU but the Xeon Phi has both, and --dispatch asks
-- for them): the function carries target("fma,avx512vl"). Compiled with -mavx512f alone
-- (the generated file's guard) it had only ymm0-15 and spilled the accumulators: a
-- 16@14x14 -> 32 kernel-3 conv's train step took 1.2x the dense form's time instead of
-- the same (Zen 4, clang 14).
--
-- The ISA's pieces of the sparse forms (this dW and sparse_dx below), one entry per ISA
-- that has them; any other ISA keeps the dense forms. rows: the most dW accumulators at a
-- time; dx_vecs: the most dx accumulators; attribute: what the backward function needs
-- for the 8-lane FMAs; mask: the C type of nonzero's result; nonzero(v): the bits of v's
-- nonzero lanes (NaN included); compress(b, d, q): v's nonzeros onto gv and their patch
-- offsets (poff from q) onto gi at cnt, by the mask nz; tables(b): static data compress
-- reads; slot(a, k): the 8-lane patch row k of accumulator a (two per 16-lane vector);
-- minus_zero_past(a, K): a with each row's lanes from K on set to -0.0f (sparse_dx). The
-- 8-lane patch rows themselves are AVX __m256 in the emitters (both x86 ISAs have them):
-- an ISA without an 8-lane vector (neon) needs those written for it too, not just an entry.
local SPARSE = {
  avx512 = {
    rows = 30, dx_vecs = 24, attribute = '__attribute__((target("fma,avx512vl")))', mask = "__mmask16",
    nonzero = function(v) return "_mm512_cmp_ps_mask(" .. v .. ", _mm512_setzero_ps(), _CMP_NEQ_UQ)" end,
    compress = function(b, d, q)
      b.put(d, "_mm512_storeu_ps(gv + cnt, _mm512_maskz_compress_ps(nz, v));")
      b.put(d, string.format("_mm512_storeu_si512(gi + cnt, _mm512_maskz_compress_epi32(nz, _mm512_loadu_si512(poff + %s)));", q))
    end,
    tables = function() end,
    slot = function(a, k)
      if k == 0 then return "_mm512_castps512_ps256(" .. a .. ")" end
      return "_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(" .. a .. "), 1))"
    end,
    minus_zero_past = function(a, K)
      return string.format("_mm512_mask_mov_ps(_mm512_set1_ps(-0.0f), (__mmask16)0x%X, %s)", ((1 << K) - 1) * 0x101, a)
    end,
  },
  avx2 = {
    rows = 14, dx_vecs = 12, mask = "int",
    nonzero = function(v) return "_mm256_movemask_ps(_mm256_cmp_ps(" .. v .. ", _mm256_setzero_ps(), _CMP_NEQ_UQ))" end,
    -- an 8-lane permute by lpack[nz], the left-packing permutation of the lanes set in nz
    compress = function(b, d, q)
      b.put(d, "const __m256i lp = _mm256_load_si256((const __m256i *)lpack[nz]);")
      b.put(d, "_mm256_storeu_ps(gv + cnt, _mm256_permutevar8x32_ps(v, lp));")
      b.put(d, string.format("_mm256_storeu_si256((__m256i *)(gi + cnt), _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(poff + %s)), lp));", q))
    end,
    tables = function(b)
      -- lpack[m]: the lanes set in mask m, in order, then zeros
      local rows = {}
      for m = 0, 255 do
        local l = {}
        for k = 0, 7 do if m & (1 << k) ~= 0 then l[#l + 1] = tostring(k) end end
        while #l < 8 do l[#l + 1] = "0" end
        rows[#rows + 1] = "{" .. table.concat(l, ", ") .. "}"
      end
      b.put(1, "_Alignas(32) static const int32_t lpack[256][8] = {")
      for k = 1, 256, 8 do
        b.put(2, table.concat(rows, ", ", k, k + 7) .. (k + 7 < 256 and "," or ""))
      end
      b.put(1, "};")
    end,
    slot = function(a) return a end,
    minus_zero_past = function(a, K)
      return string.format("_mm256_blend_ps(_mm256_set1_ps(-0.0f), %s, 0x%X)", a, (1 << K) - 1)
    end,
  },
}

-- Whether step s's g is sparse enough for a form that reads only its nonzeros, that form
-- (key: CONV_SPARSE_WGRAD, CONV_SPARSE_DX) on for this ISA (or forced: a tune file asks for
-- it) and each patch row one 8-lane vector (K up to 8).
local function sparse_gate(isa, g, s, key, forced)
  if not (s.g_density and s.g_density <= schedule.CONV_SPARSE_DENSITY) then return false end
  return (forced or schedule.pick(isa, key) == true) and SPARSE[isa.name] ~= nil and g.K <= 8
end

-- (forced: a tune file asks for it, whatever the kernel width CONV_SPARSE_K)
local function sparse_wgrad(isa, g, s, forced)
  if not sparse_gate(isa, g, s, "CONV_SPARSE_WGRAD", forced)
    or not forced and g.K < schedule.pick(isa, "CONV_SPARSE_K") then
    return nil
  end
  local R, most = g.C * g.K, SPARSE[isa.name].rows
  local passes = {}
  for _, grp in ipairs(even_groups(R, most)) do
    local r0 = grp[1] - 1
    passes[#passes + 1] = {r0 = r0, r1 = r0 + grp[2], A = math.max(1, math.min(4, most // grp[2]))}
  end
  local Hp, Wp = input_frame(g)
  local PIX = g.OH * g.OW
  return {R = R, passes = passes, Hp = Hp, Wp = Wp, PIX = PIX, PIXV = round_up(PIX, isa.width)}
end

-- Where each of g's pixels q < n has its patch in a frame of rows Wf floats wide (the
-- pixel at stride S from the frame's corner; 0 for the padding pixels q >= OH·OW).
local function patch_offsets(g, Wf, n)
  local off = {}
  for q = 0, n - 1 do
    off[q + 1] = q < g.OH * g.OW and tostring((q // g.OW) * g.S * Wf + (q % g.OW) * g.S) or "0"
  end
  return off
end

local function sparse_floats(isa, g, sp)
  return g.C * sp.Hp * sp.Wp + 8 + g.O * sp.R * 8 + 2 * (sp.PIXV + isa.width) + g.O
end

-- One vector v of g's plane (`load`, pixels from q) compressed onto gv/gi at cnt (and added
-- to db's sum sb), as the ISA can (SPARSE).
local function sparse_squeeze(b, d, isa, has_bias, load, q)
  local sp = SPARSE[isa.name]
  b.put(d, "{")
  b.put(d + 1, string.format("const %s v = %s;", isa.vtype, load))
  if has_bias then b.put(d + 1, "sb = " .. isa.add("sb", "v") .. ";") end
  b.put(d + 1, string.format("const %s nz = %s;", sp.mask, sp.nonzero("v")))
  sp.compress(b, d + 1, q)
  b.put(d + 1, "cnt += __builtin_popcount((unsigned)nz);")
  b.put(d, "}")
end

local function emit_sparse_wgrad(b, isa, g, sp, has_bias, g_ld, x_ld)
  local K, R, Hp, Wp, CW = g.K, sp.R, sp.Hp, sp.Wp, isa.width
  b.put(1, string.format("_Alignas(64) static const int32_t poff[%d] = {%s};", sp.PIXV,
    table.concat(patch_offsets(g, Wp, sp.PIXV), ", ")))
  SPARSE[isa.name].tables(b)
  declare_frame(b, g, Hp, Wp, true, 8)
  array(b, 1, "dwt", g.O * R * 8)
  array(b, 1, "gv", sp.PIXV + CW)
  b.put(1, string.format("_Alignas(64) int32_t gi[%d];", sp.PIXV + CW))
  b.put(1, string.format("for (int j = 0; j < %d; j++) dwt[j] = 0.0f;", g.O * R * 8))
  if has_bias then
    array(b, 1, "dbp", g.O)
    b.put(1, string.format("for (int o = 0; o < %d; o++) dbp[o] = 0.0f;", g.O))
  end
  b.put(1, "for (int i = 0; i < n; i++) {")
  frame_copy(b, 2, "xp", "x", x_ld, g.C, g.H, g.W, Hp, Wp, g.P, 1)
  b.put(2, string.format("for (int o = 0; o < %d; o++) {", g.O))
  b.put(3, string.format("const float *restrict go = g + i * %d + o * %d;", g_ld, sp.PIX))
  b.put(3, "int cnt = 0;")
  if has_bias then b.put(3, string.format("%s sb = %s;", isa.vtype, isa.zero())) end
  local full = sp.PIX // CW * CW
  if full > 0 then
    b.put(3, string.format("for (int q = 0; q < %d; q += %d)", full, CW))
    sparse_squeeze(b, 4, isa, has_bias, isa.load("go", "q"), "q")
  end
  if full < sp.PIX then
    sparse_squeeze(b, 3, isa, has_bias, isa.load_part("go", full, sp.PIX - full), tostring(full))
  end
  if has_bias then b.put(3, "dbp[o] += " .. isa.hsum("sb") .. ";") end
  for _, p in ipairs(sp.passes) do
    local A = p.A
    local function acc(a, r) return string.format("s%d_%d", a, r) end
    local function at(r) return string.format("dwt + (o * %d + %d) * 8", R, r) end
    b.put(3, "{")
    for a = 0, A - 1 do
      local decl = {}
      for r = p.r0, p.r1 - 1 do
        decl[#decl + 1] = acc(a, r) .. " = " .. (a == 0 and "_mm256_load_ps(" .. at(r) .. ")" or "_mm256_setzero_ps()")
      end
      b.put(4, "__m256 " .. table.concat(decl, ", ") .. ";")
    end
    local function one(d, a, e)
      b.put(d, string.format("{ const __m256 v = _mm256_set1_ps(gv[%s]); const float *xr = xp + gi[%s];", e, e))
      for r = p.r0, p.r1 - 1 do
        local c, ky = r // K, r % K
        b.put(d + 1, string.format("%s = _mm256_fmadd_ps(v, _mm256_loadu_ps(xr + %d), %s);", acc(a, r),
          c * Hp * Wp + ky * Wp, acc(a, r)))
      end
      b.put(d, "}")
    end
    b.put(4, "int e = 0;")
    if A > 1 then
      b.put(4, string.format("for (; e + %d <= cnt; e += %d) {", A, A))
      for a = 0, A - 1 do one(5, a, a == 0 and "e" or "e + " .. a) end
      b.put(4, "}")
    end
    b.put(4, "for (; e < cnt; e++)")
    one(5, 0, "e")
    for r = p.r0, p.r1 - 1 do
      local sum = acc(0, r)
      for a = 1, A - 1 do sum = "_mm256_add_ps(" .. sum .. ", " .. acc(a, r) .. ")" end
      b.put(4, string.format("_mm256_store_ps(%s, %s);", at(r), sum))
    end
    b.put(3, "}")
  end
  b.put(2, "}")
  b.put(1, "}")
  b.put(1, string.format("for (int o = 0; o < %d; o++)", g.O))
  b.put(2, string.format("for (int r = 0; r < %d; r++)", R))
  b.put(3, string.format("for (int kx = 0; kx < %d; kx++) dw[(r * %d + kx) * %d + o] = dwt[(o * %d + r) * 8 + kx];", K, K, g.O, R))
  if has_bias then b.put(1, string.format("for (int o = 0; o < %d; o++) db[o] = dbp[o];", g.O)) end
end

-- Floats of stack each function needs (forward, backward).
local function stack_floats(isa, g)
  local W = isa.width
  local Op, Cp = round_up(g.O, W), round_up(g.C, W)
  local Hp, Wp, framed = input_frame(g)
  local xpad = framed and g.C * Hp * Wp or 0
  local fwd = xpad + g.C * g.K * g.K * Op + Op + stage_floats(g.OH, g.OW, Op)
    + (framed and pixel_lanes(isa, g.O, g.OW, g.S, true) and narrow_slack(isa, g.OW) or 0)
  local wgrad = g.OH * g.OW * Op + g.C * g.K * g.K * Op + Op
  if pixel_lanes(isa, g.O, g.OW, g.S) then
    wgrad = g.O * g.OH * #pixel_positions(isa, g.OW) * W + (g.C * g.K * g.K + 1) * g.O * W
  end
  local bwd = xpad + wgrad + g.O * (g.H + g.K - 1) * (g.W + g.K - 1) + g.O * g.K * g.K * Cp
    + stage_floats(g.H, g.W, Cp) + (pixel_lanes(isa, g.C, g.W, 1, true) and narrow_slack(isa, g.W) or 0)
  return fwd, bwd, xpad + wgrad
end

-- Whether the tiles serve this conv2d layer on this ISA.
function M.applies(isa, L)
  if isa.width <= 1 or not isa.fma or not isa.broadcast then return false end
  local fwd, bwd = stack_floats(isa, geometry(L))
  return math.max(fwd, bwd) <= M.STACK_FLOATS
end

-- The forward in pixel lanes: W itself is the weight table ([C·K·K][O], broadcast one
-- weight at a time), the bias broadcast into the accumulators.
local function pixel_forward(b, isa, g, mem, act, has_bias, out_ld, skip_z)
  local Hp, Wp, framed = forward_frame(b, g, narrow_slack(isa, g.OW))
  if skip_z then b.put(1, "(void)z;") end
  b.put(1, "for (int i = 0; i < n; i++) {")
  if framed then frame_copy(b, 2, "xp", "x", mem.input.ld, g.C, g.H, g.W, Hp, Wp, g.P, 1) end
  -- lanes: the narrow tiles' first `lanes` floats (nil: whole vectors)
  local function store(o, pix, v, lanes)
    local at = string.format("i * %d + %d + %s", out_ld, o * g.OH * g.OW, pix)
    local st = isa.store
    if lanes then st = function(base, idx, val) return isa.store_part(base, idx, val, lanes) end end
    if not act then return st("y", at, v) end
    if skip_z then return st("a", at, epilogue.forward(act, isa, v)) end
    return st("z", at, v) .. " " .. st("a", at, epilogue.forward(act, isa, v))
  end
  emit_pixel_tiles(b, 2, isa, {src = framed and "xp" or string.format("(x + i * %d)", mem.input.ld), Cin = g.C,
    Hp = Hp, Wp = Wp, K = g.K, OH = g.OH, OW = g.OW, O = g.O, wp = "w", wld = g.O, store = store,
    rows = framed and {g.P, g.P + g.H - 1} or nil,
    init = function(o) return has_bias and isa.broadcast(string.format("b[%d]", o)) or isa.zero() end})
  b.put(1, "}")
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
  -- z unread (ctx.mask_unread: gen/kernels/conv.lua's z_unread, which plan.lua documents;
  -- the next step's backward takes the activation's derivative from a): a alone is stored,
  -- the activation applied in the registers (the channel tiles' stage holds a, no pass over
  -- the band after the transposes)
  local skip_z = act and ctx.mask_unread or false
  assert(not skip_z or epilogue.forward(act, isa, "v") and mem.z.ld == mem.a.ld, "z_unread without a vector activation")
  if skip_z then y = "a" end
  local b = emit.buffer()
  b.put(0, convcall.forward_title(s, g, act, has_bias))
  b.put(0, string.format("   x [n][%d][%d][%d], W [%d][%d][%d][%d]%s -> %s [n][%d][%d][%d] (NCHW rows); %s register",
    g.C, g.H, g.W, g.C, g.K, g.K, g.O, has_bias and ", b [" .. g.O .. "]" or "", y, g.O, g.OH, g.OW, isa.name))
  b.put(0, "   tiles over output pixels x channels (gen/kernels/convtile.lua). */")
  convcall.forward_signature(b, fn, act, has_bias)
  if pixel_lanes(isa, g.O, g.OW, g.S, select(3, input_frame(g))) and (not act or epilogue.forward(act, isa, "v")) then
    pixel_forward(b, isa, g, mem, act, has_bias, out_ld, skip_z)
    b.put(0, "}")
    return b.text(), convcall.forward(fn, L, mem, ctx, act, has_bias)
  end
  local wp = pack_weights(b, g, Op) or "w"
  array(b, 1, "bp", Op)
  b.put(1, string.format("for (int o = 0; o < %d; o++) bp[o] = %s;", Op,
    has_bias and string.format("o < %d ? b[o] : 0.0f", g.O) or "0.0f"))
  stage_buffer(b, g.OH, g.OW, Op)
  local Hp, Wp, framed = forward_frame(b, g)
  if skip_z then b.put(1, "(void)z;") end
  b.put(1, "for (int i = 0; i < n; i++) {")
  if framed then frame_copy(b, 2, "xp", "x", mem.input.ld, g.C, g.H, g.W, Hp, Wp, g.P, 1) end
  local band = string.format("i * %d + oy0 * %d", out_ld, g.OW)
  local function put(o, q, val)
    local at = string.format("%s + (%s) * %d + %s", band, o, g.OH * g.OW, q)
    if not act then return string.format("y[%s] = %s;", at, val) end
    if skip_z then return string.format("a[%s] = %s;", at, val) end
    return string.format("{ const float v = %s; z[%s] = v; a[%s] = %s; }", val, at, at,
      epilogue.forward_scalar(act, "v"))
  end
  local fix
  if act and not skip_z then
    fix = function(at, vec)
      local k = band .. " + " .. at
      if vec then return isa.store("a", k, epilogue.forward(act, isa, isa.load("z", k))) end
      return string.format("a[%s] = %s;", k, epilogue.forward_scalar(act, string.format("z[%s]", k)))
    end
  end
  emit_tiles(b, 2, isa, {src = framed and "xp" or string.format("(x + i * %d)", mem.input.ld), Cin = g.C, Hp = Hp, Wp = Wp,
    K = g.K, S = g.S, OH = g.OH, OW = g.OW, Op = Op, O = g.O, wp = wp, wa = wp ~= "w", tb = "tb",
    act = skip_z and function(v) return epilogue.forward(act, isa, v) end or nil,
    init = function(blk, v) return isa.load_aligned("bp", (blk.v0 + v) * W) end,
    flush = flush_to(isa, {O = g.O, Op = Op, OH = g.OH, OW = g.OW, dst = y .. " + " .. band, put = put, fix = fix,
      vector = act and epilogue.forward(act, isa, "v") ~= nil})})
  b.put(1, "}")
  b.put(0, "}")
  return b.text(), convcall.forward(fn, L, mem, ctx, act, has_bias)
end

-- dW of one image with the input rows reused across taps (ISAs of 32 vector registers): a
-- tile holds NP (c, ky) pairs × K kx × nv vectors of accumulators and walks the output rows
-- in segments of R pixels; a segment's g vectors (R × nv, one load each) stay in registers
-- while each pair's input row is broadcast once per input column ((R-1)·S + K columns),
-- every broadcast feeding the kx taps that read it (pixel (col - kx)/S). Per accumulator
-- the pixels still come in row order (kx fixed: the column grows with the pixel), so the
-- sums are emit_wgrad's, bit for bit. One pointer per pair (poff: the pair's input
-- offset), the columns and dwp's taps immediate offsets. The cycles of a plan per image:
-- per tile, its segments' multiply-adds or loads at two a cycle, whichever is more, or the
-- accumulators' chains (one multiply-add per pixel, 4 cycles each) when longer, plus the
-- accumulators' load and store; ties go to the plan with fewer loads.
local function wgrad_rows_cost(g, np, r, nv)
  local segs = row_tiles(g.OW, r)
  local function tile(p)
    local c, l = 0, 0
    for _, s in ipairs(segs) do
      local fma = p * g.K * s.r * nv
      local loads = s.r * nv + p * ((s.r - 1) * g.S + g.K)
      c, l = c + math.max(fma / 2, loads / 2), l + loads
    end
    return math.max(c * g.OH, 4 * g.OH * g.OW) + p * g.K * nv, l * g.OH + 2 * p * g.K * nv
  end
  local NPT = g.C * g.K
  local c, l = tile(np)
  c, l = (NPT // np) * c, (NPT // np) * l
  if NPT % np > 0 then
    local c2, l2 = tile(NPT % np)
    c, l = c + c2, l + l2
  end
  return c, l
end

-- Whether a plan of this cost (then loads, to break a tie) beats best (nil: none yet), for
-- the planners' searches (wgrad_rows_plan, flat_plan).
local function cheaper(best, cost, loads)
  return not best or cost < best.cost or (cost == best.cost and loads < best.loads)
end

-- The rows plan for a block of nv vectors, or nil where the taps tile is as cheap (fewer
-- than 32 registers, or a kernel row of accumulators that does not fit).
local function wgrad_rows_plan(isa, g, nv)
  if (isa.regs or 0) < 32 then return nil end
  local best
  for np = 1, g.C * g.K do
    for r = 1, g.OW do
      if np * g.K * nv + r * nv + 1 <= isa.regs - 2 then
        local cost, loads = wgrad_rows_cost(g, np, r, nv)
        if cheaper(best, cost, loads) then
          best = {np = np, r = r, cost = cost, loads = loads}
        end
      end
    end
  end
  if not best then return nil end
  -- the taps tile: rmax taps × nv vectors, per pixel nv + rmax loads for rmax·nv FMAs
  local rmax = math.max(1, isa.acc_regs // nv)
  local T = g.C * g.K * g.K
  local old = 0
  for t0 = 0, T - 1, rmax do
    local rr = math.min(rmax, T - t0)
    old = old + g.OH * g.OW * math.max(rr * nv / 2, (nv + rr) / 2, 4) + rr * nv
  end
  if best.cost >= old then return nil end
  return best
end

local function emit_wgrad_rows(b, depth, isa, g, xsrc, Hp, Wp, Op, dwp, blk, plan)
  local W, vt, K, S = isa.width, isa.vtype, g.K, g.S
  local NPT = g.C * K
  local segs = row_tiles(g.OW, plan.r)
  local function tile(d, np, p0)
    local acc, xs = {}, {}
    local function at(p, kx, v)
      return string.format("(%s + %d) * %d + %d", p0, p, K * Op, kx * Op + (blk.v0 + v) * W)
    end
    for p = 0, np - 1 do
      for kx = 0, K - 1 do
        for v = 0, blk.nv - 1 do
          acc[#acc + 1] = string.format("a%d_%d_%d = %s", p, kx, v, isa.load_aligned(dwp, at(p, kx, v)))
        end
      end
      xs[#xs + 1] = string.format("*x%d = %s + poff[%s + %d]", p, xsrc, p0, p)
    end
    b.put(d, vt .. " " .. table.concat(acc, ", ") .. ";")
    b.put(d, "const float " .. table.concat(xs, ", ") .. ";")
    b.put(d, string.format("for (int oy = 0; oy < %d; oy++) {", g.OH))
    b.put(d + 1, string.format("const float *gr = gt + oy * %d + %d;", g.OW * Op, blk.v0 * W))
    b.put(d + 1, string.format("const int xo = oy * %d;", S * Wp))
    for _, s in ipairs(segs) do
      b.put(d + 1, "{")
      local gs = {}
      for j = 0, s.r - 1 do
        for v = 0, blk.nv - 1 do
          gs[#gs + 1] = string.format("g%d_%d = %s", j, v, isa.load_aligned("gr", (s.x + j) * Op + v * W))
        end
      end
      b.put(d + 2, "const " .. vt .. " " .. table.concat(gs, ", ") .. ";")
      for p = 0, np - 1 do
        for col = 0, (s.r - 1) * S + K - 1 do
          local line = {}
          for kx = 0, K - 1 do
            local j = col - kx
            if j >= 0 and j % S == 0 and j // S < s.r then
              for v = 0, blk.nv - 1 do
                line[#line + 1] = string.format("a%d_%d_%d = %s;", p, kx, v,
                  isa.fma("xb", string.format("g%d_%d", j // S, v), string.format("a%d_%d_%d", p, kx, v)))
              end
            end
          end
          if #line > 0 then
            b.put(d + 2, string.format("{ const %s xb = %s; %s }", vt,
              isa.broadcast(string.format("x%d[xo + %d]", p, s.x * S + col)), table.concat(line, " ")))
          end
        end
      end
      b.put(d + 1, "}")
    end
    b.put(d, "}")
    for p = 0, np - 1 do
      for kx = 0, K - 1 do
        for v = 0, blk.nv - 1 do
          b.put(d, isa.store_aligned(dwp, at(p, kx, v), string.format("a%d_%d_%d", p, kx, v)))
        end
      end
    end
  end
  local poff = {}
  for c = 0, g.C - 1 do
    for ky = 0, K - 1 do poff[#poff + 1] = (c * Hp + ky) * Wp end
  end
  b.put(depth, "{")
  depth = depth + 1
  b.put(depth, string.format("static const int poff[%d] = {%s};", NPT, table.concat(poff, ", ")))
  block_loop(b, depth, NPT, plan.np, "pb", tile)
  b.put(depth - 1, "}")
end

-- dW (and db) of one image: the R-taps × V-vectors tile over the output pixels, into dwp.
local emit_wgrad_taps
local function emit_wgrad(b, depth, isa, g, xsrc, Hp, Wp, Op, dwp)
  local T = g.C * g.K * g.K
  for _, blk in ipairs(channel_blocks(isa, g.O, Op)) do
    local plan = wgrad_rows_plan(isa, g, blk.nv)
    if plan then
      emit_wgrad_rows(b, depth, isa, g, xsrc, Hp, Wp, Op, dwp, blk, plan)
    else
      emit_wgrad_taps(b, depth, isa, g, xsrc, Wp, Op, dwp, blk, T)
    end
  end
end

-- emit_wgrad's taps tile for one block (where the rows tile is not cheaper): R taps × nv
-- vectors, each tap its own pointer (x + toff[t]), one broadcast per multiply-add.
function emit_wgrad_taps(b, depth, isa, g, xsrc, Wp, Op, dwp, blk, T)
  local W, vt = isa.width, isa.vtype
  local rmax = math.max(1, isa.acc_regs // blk.nv)
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
  block_loop(b, depth, T, rmax, "tb0", tile)
end

-- dW and db of one image in pixel lanes (stride 1, few channels: LeNet's first conv):
-- dws[t][o] holds W partial sums of dW[t][o], one per lane, over the images so far. g is
-- copied per image into gz[o][oy][NP·W], position j's pixels at j·W, the lanes a last
-- overlapping position shares with the one before left zero (so no pixel counts twice);
-- a tile of RT taps × RO channels adds, per row and position, the input vector under each
-- tap times each channel's g vector. db's lanes add the gz vectors the same way. The sums
-- over the lanes (lane 0 first) are taken once, after the last image.
local function pixel_wgrad_image(b, isa, g, xsrc, Wp, has_bias)
  local W = isa.width
  local xs = pixel_positions(isa, g.OW)
  local NPW = #xs * W
  local T = g.C * g.K * g.K
  local last, shift = (#xs - 1) * W, (#xs - 1) * W - xs[#xs]
  b.put(2, string.format("for (int o = 0; o < %d; o++)", g.O))
  b.put(3, string.format("for (int oy = 0; oy < %d; oy++) {", g.OH))
  b.put(4, string.format("const float *gr = g + i * %d + (o * %d + oy) * %d;", g.g_ld, g.OH, g.OW))
  b.put(4, string.format("float *zr = gz + (o * %d + oy) * %d;", g.OH, NPW))
  b.put(4, string.format("for (int ox = 0; ox < %d; ox++) zr[ox] = gr[ox];", last))
  b.put(4, string.format("for (int ox = %d; ox < %d; ox++) zr[ox + %d] = gr[ox];", last, g.OW, shift))
  b.put(3, "}")
  if has_bias then
    b.put(2, string.format("for (int o = 0; o < %d; o++) {", g.O))
    b.put(3, string.format("%s s = %s;", isa.vtype, isa.load_aligned("dbs", "o * " .. W)))
    b.put(3, string.format("for (int q = 0; q < %d; q++) s = %s;", g.OH * #xs,
      isa.add("s", isa.load_aligned("gz", string.format("o * %d + q * %d", g.OH * NPW, W)))))
    b.put(3, isa.store_aligned("dbs", "o * " .. W, "s"))
    b.put(2, "}")
  end
  local plan = pixel_plan(isa, g.O, T)
  local function tile(d, rt, t0, o0, ro)
    local acc, xp = {}, {}
    for k = 0, rt - 1 do
      for r = 0, ro - 1 do
        acc[#acc + 1] = string.format("a%d_%d = %s", k, r,
          isa.load_aligned("dws", string.format("((%s + %d) * %d + %d) * %d", t0, k, g.O, o0 + r, W)))
      end
      xp[#xp + 1] = string.format("*x%d = %s + toff[%s + %d]", k, xsrc, t0, k)
    end
    b.put(d, isa.vtype .. " " .. table.concat(acc, ", ") .. ";")
    b.put(d, "const float " .. table.concat(xp, ", ") .. ";")
    b.put(d, string.format("for (int oy = 0; oy < %d; oy++) {", g.OH))
    for j = 1, #xs do
      b.put(d + 1, "{")
      local gs = {}
      for r = 0, ro - 1 do
        gs[#gs + 1] = string.format("g%d = %s", r, isa.load_aligned("gz", string.format("(%d * %d + oy) * %d + %d", o0 + r, g.OH, NPW, (j - 1) * W)))
      end
      b.put(d + 2, "const " .. isa.vtype .. " " .. table.concat(gs, ", ") .. ";")
      for k = 0, rt - 1 do
        local line = {string.format("{ const %s xv = %s;", isa.vtype, isa.load("x" .. k, string.format("oy * %d + %d", Wp, xs[j])))}
        for r = 0, ro - 1 do
          line[#line + 1] = string.format("a%d_%d = %s;", k, r, isa.fma("xv", "g" .. r, string.format("a%d_%d", k, r)))
        end
        b.put(d + 2, table.concat(line, " ") .. " }")
      end
      b.put(d + 1, "}")
    end
    b.put(d, "}")
    for k = 0, rt - 1 do
      for r = 0, ro - 1 do
        b.put(d, isa.store_aligned("dws", string.format("((%s + %d) * %d + %d) * %d", t0, k, g.O, o0 + r, W), string.format("a%d_%d", k, r)))
      end
    end
  end
  for o0 = 0, g.O - 1, plan.ro do
    local ro = math.min(plan.ro, g.O - o0)
    block_loop(b, 2, T, plan.nv, "tb0", function(d, rt, t0) tile(d, rt, t0, o0, ro) end)
  end
end

-- dW and db in pixel lanes over the flat output plane (stride 1): output pixel q = oy·OW +
-- ox, so g of each channel is read as it lies (NF = PIX/W whole vectors, and a last one
-- of the PIX mod W pixels left, copied per image into gtl[o][W] behind W - (PIX mod W) zero
-- lanes and read with the input at PIX - W), and the input is copied per image into K
-- column-shifted planes xk[c][kx][Hp][OW] (xk[c][kx][r][ox] = the padded input at row r,
-- column ox + kx; the border zero, written once), so tap (c, ky, kx) at pixel q is
-- xk[c][kx] + ky·OW + q: a lane holds the same pixel for every tap and no lane is
-- wasted on the padding columns. dws[t][o] holds W partial sums per lane as in
-- pixel_wgrad_image (summed by pixel_wgrad_finish); a tile of NT taps × MO channels adds,
-- per vector of pixels, the MO g vectors (registers) times each tap's input vector. The
-- plan: NT·MO accumulators + MO g vectors + 1 within the registers, per vector of pixels
-- the larger of the FMAs and the loads (an input load not at a whole vector counted
-- twice: it crosses a cache line) at two a cycle, at least 4 (one accumulator's chain).
local function flat_geometry(isa, g)
  local W = isa.width
  local Hp = g.OH + g.K - 1
  local PIX = g.OH * g.OW
  return {Hp = Hp, PIX = PIX, NF = PIX // W, TR = PIX % W, xk = g.C * g.K * Hp * g.OW}
end

-- Whether the flat form serves: stride 1, the shifted planes within FLAT_FLOATS (32 KB, to
-- stay in L1 with an image of g), and the backward's stack with them (in place of the
-- per-row form's gz and xp) within STACK_FLOATS, the budget applies() checked.
local FLAT_FLOATS = 8192
local function flat_wgrad(isa, g)
  if g.S ~= 1 then return false end
  local f = flat_geometry(isa, g)
  if f.xk > FLAT_FLOATS then return false end
  local NPW = #pixel_positions(isa, g.OW) * isa.width
  local Hp, Wp, framed = input_frame(g)
  local _, bwd = stack_floats(isa, g)
  bwd = bwd - g.O * g.OH * NPW - (framed and g.C * Hp * Wp or 0) + f.xk + (f.TR > 0 and g.O * isa.width or 0)
  return bwd <= M.STACK_FLOATS
end

local function flat_plan(isa, g, T)
  local W, f = isa.width, flat_geometry(isa, g)
  local function split(t)
    local ky = (t // g.K) % g.K
    return (ky * g.OW) % W ~= 0 and 2 or 1
  end
  local best
  for mo = 1, g.O do
    for nt = 1, T do
      if nt * mo + mo + 1 <= isa.regs - 1 then
        local cost, loads = 0, 0
        for o0 = 0, g.O - 1, mo do
          local m = math.min(mo, g.O - o0)
          for t0 = 0, T - 1, nt do
            local n, l = math.min(nt, T - t0), m
            for t = t0, math.min(T, t0 + nt) - 1 do l = l + split(t) end
            cost = cost + math.max(n * m / 2, l / 2, 4)
            loads = loads + l
          end
        end
        if cheaper(best, cost, loads) then
          best = {nt = nt, mo = mo, cost = cost, loads = loads}
        end
      end
    end
  end
  return best
end

local function flat_wgrad_image(b, isa, g, has_bias, x_ld)
  local W, vt = isa.width, isa.vtype
  local f = flat_geometry(isa, g)
  local T = g.C * g.K * g.K
  local plane = f.Hp * g.OW
  -- the shifted planes: input row iy at row iy + P, column ix at ox = ix + P - kx
  local ylim = math.min(g.H, f.Hp - g.P)
  b.put(2, string.format("for (int c = 0; c < %d; c++)", g.C))
  b.put(3, string.format("for (int iy = 0; iy < %d; iy++) {", ylim))
  b.put(4, string.format("const float *xr = x + i * %d + (c * %d + iy) * %d;", x_ld, g.H, g.W))
  b.put(4, string.format("float *kr = xk + c * %d + (iy + %d) * %d;", g.K * plane, g.P, g.OW))
  -- whole vectors at lo, lo + W, ... and one ending at hi (overlapping: the same values)
  for kx = 0, g.K - 1 do
    local lo, hi = math.max(0, g.P - kx), math.min(g.OW, g.W + g.P - kx)
    if hi - lo >= W then
      local line = {}
      for _, o in ipairs(block_starts(hi - lo, W)) do
        line[#line + 1] = isa.store("kr", kx * plane + lo + o, isa.load("xr", lo + o + kx - g.P))
      end
      b.put(4, table.concat(line, " "))
    elseif lo < hi then
      b.put(4, string.format("for (int ox = %d; ox < %d; ox++) kr[%d + ox] = xr[ox + %d];", lo, hi, kx * plane, kx - g.P))
    end
  end
  b.put(3, "}")
  local gi = string.format("g + i * %d", g.g_ld)
  if f.TR > 0 then
    b.put(2, string.format("for (int o = 0; o < %d; o++)", g.O))
    b.put(3, string.format("for (int l = 0; l < %d; l++) gtl[o * %d + %d + l] = g[i * %d + o * %d + %d + l];", f.TR, W,
      W - f.TR, g.g_ld, f.PIX, f.NF * W))
  end
  local plan = flat_plan(isa, g, T)
  -- db: in the tail tile of each channel group when there is one and the registers allow
  -- (its g vectors are there already), else up to 8 channels' sums side by side
  -- (independent chains); either way each channel's vectors in j order
  local tail = T % plan.nt
  local db_fused = has_bias and tail > 0 and tail * plan.mo + 2 * plan.mo + 1 <= isa.regs - 1
  if has_bias and not db_fused then
    for o0 = 0, g.O - 1, 8 do
      local m = math.min(8, g.O - o0)
      local ss, adds, tl = {}, {}, {}
      for r = 0, m - 1 do
        ss[#ss + 1] = string.format("s%d = %s", r, isa.load_aligned("dbs", (o0 + r) * W))
        adds[#adds + 1] = string.format("s%d = %s;", r, isa.add("s" .. r, isa.load("go", string.format("%d + j", (o0 + r) * f.PIX))))
        tl[#tl + 1] = string.format("s%d = %s;", r, isa.add("s" .. r, isa.load_aligned("gtl", (o0 + r) * W)))
      end
      b.put(2, "{")
      b.put(3, string.format("const float *go = %s;", gi))
      b.put(3, vt .. " " .. table.concat(ss, ", ") .. ";")
      b.put(3, string.format("for (int j = 0; j < %d; j += %d) { %s }", f.NF * W, W, table.concat(adds, " ")))
      if f.TR > 0 then b.put(3, table.concat(tl, " ")) end
      for r = 0, m - 1 do b.put(3, isa.store_aligned("dbs", (o0 + r) * W, "s" .. r)) end
      b.put(2, "}")
    end
  end
  local function tile(d, nt, t0, o0, mo, db)
    local acc, xp = {}, {}
    local function at(k, r)
      return string.format("((%s + %d) * %d + %d) * %d", t0, k, g.O, o0 + r, W)
    end
    for k = 0, nt - 1 do
      for r = 0, mo - 1 do
        acc[#acc + 1] = string.format("a%d_%d = %s", k, r, isa.load_aligned("dws", at(k, r)))
      end
      xp[#xp + 1] = string.format("*x%d = xk + koff[%s + %d]", k, t0, k)
    end
    if db then
      for r = 0, mo - 1 do acc[#acc + 1] = string.format("s%d = %s", r, isa.load_aligned("dbs", (o0 + r) * W)) end
    end
    b.put(d, vt .. " " .. table.concat(acc, ", ") .. ";")
    b.put(d, "const float " .. table.concat(xp, ", ") .. ";")
    b.put(d, string.format("const float *gp = %s + %d;", gi, o0 * f.PIX))
    local function step(dd, gload, xat)
      local gs = {}
      for r = 0, mo - 1 do gs[#gs + 1] = string.format("g%d = %s", r, gload(r)) end
      b.put(dd, "const " .. vt .. " " .. table.concat(gs, ", ") .. ";")
      if db then
        local line = {}
        for r = 0, mo - 1 do line[#line + 1] = string.format("s%d = %s;", r, isa.add("s" .. r, "g" .. r)) end
        b.put(dd, table.concat(line, " "))
      end
      for k = 0, nt - 1 do
        local line = {string.format("{ const %s xv = %s;", vt, isa.load("x" .. k, xat))}
        for r = 0, mo - 1 do
          line[#line + 1] = string.format("a%d_%d = %s;", k, r, isa.fma("xv", "g" .. r, string.format("a%d_%d", k, r)))
        end
        b.put(dd, table.concat(line, " ") .. " }")
      end
    end
    b.put(d, string.format("for (int j = 0; j < %d; j += %d) {", f.NF * W, W))
    step(d + 1, function(r) return isa.load("gp", string.format("%d + j", r * f.PIX)) end, "j")
    b.put(d, "}")
    if f.TR > 0 then
      b.put(d, "{")
      step(d + 1, function(r) return isa.load_aligned("gtl", (o0 + r) * W) end, tostring(f.PIX - W))
      b.put(d, "}")
    end
    for k = 0, nt - 1 do
      for r = 0, mo - 1 do
        b.put(d, isa.store_aligned("dws", at(k, r), string.format("a%d_%d", k, r)))
      end
    end
    if db then
      for r = 0, mo - 1 do b.put(d, isa.store_aligned("dbs", (o0 + r) * W, "s" .. r)) end
    end
  end
  for o0 = 0, g.O - 1, plan.mo do
    local mo = math.min(plan.mo, g.O - o0)
    block_loop(b, 2, T, plan.nt, "tb0", function(d, nt, t0, last) tile(d, nt, t0, o0, mo, last and db_fused) end)
  end
end

-- The lane sums of pixel_wgrad_image's partial sums into dw (and db), lane 0 first.
local function pixel_wgrad_finish(b, isa, g, has_bias)
  local W, T = isa.width, g.C * g.K * g.K
  b.put(1, string.format("for (int t = 0; t < %d; t++) {", T * g.O))
  b.put(2, string.format("float s = dws[t * %d];", W))
  b.put(2, string.format("for (int l = 1; l < %d; l++) s += dws[t * %d + l];", W, W))
  b.put(2, "dw[t] = s;")
  b.put(1, "}")
  if has_bias then
    b.put(1, string.format("for (int o = 0; o < %d; o++) {", g.O))
    b.put(2, string.format("float s = dbs[o * %d];", W))
    b.put(2, string.format("for (int l = 1; l < %d; l++) s += dbs[o * %d + l];", W, W))
    b.put(2, "db[o] = s;")
    b.put(1, "}")
  end
end

local wgrad_channels, dx_part, sparse_dx, emit_sparse_dx

-- The backward's forms of dW and dx for step s: each the sparse form's plan or nil (the
-- dense tiles). want (a tune file's conv entry, or nil): wgrad, dx = "sparse" or "dense" in
-- place of the defaults (CONV_SPARSE_* and the operation counts); a sparse form asked for
-- that cannot be had here (no max pooling after that leaves g sparse, a kernel past 8, an
-- ISA without it, the stack budget) comes back nil as well: the caller says so.
local function backward_forms(isa, g, s, in_act, want)
  want = want or {}
  local sparse = want.wgrad ~= "dense" and sparse_wgrad(isa, g, s, want.wgrad == "sparse") or nil
  local _, bwd, share = stack_floats(isa, g)
  if sparse and bwd - share + sparse_floats(isa, g, sparse) > M.STACK_FLOATS then sparse = nil end
  local sdx = want.dx ~= "dense" and sparse_dx(isa, g, s, in_act, want.dx == "sparse") or nil
  if sdx and (sparse and sparse_floats(isa, g, sparse) or share) + sdx.floats > M.STACK_FLOATS then sdx = nil end
  return sparse, sdx
end

-- Whether step s's backward has a choice of forms that a tune file's conv entry may make:
-- g sparse enough for the sparse forms (a max pooling after the conv).
function M.has_choice(s)
  return s.g_density ~= nil and s.g_density <= schedule.CONV_SPARSE_DENSITY
end

-- The tune file's key of a conv2d layer: its sizes and the batch (gen/tune.lua).
function M.tune_key(g, batch)
  return {g.C, g.H, g.W, g.O, g.K, g.S, g.P, batch}
end

-- What chainrule tune can switch in step s's backward on isa (in_act: the previous step's
-- activation {op, opts}; with_dx: whether the step's dx is computed): nil when the tiles do
-- not serve the layer, else {geometry g, forms = {{key = "wgrad" or "dx", default =
-- "sparse" or "dense", other}...}}, only the forms whose other choice can be had.
function M.backward_choices(isa, s, in_act, with_dx)
  if not (M.applies(isa, s.product) and M.has_choice(s)) then return nil end
  local g = geometry(s.product)
  local w0, d0 = backward_forms(isa, g, s, in_act)
  local def = {wgrad = w0 and "sparse" or "dense", dx = d0 and "sparse" or "dense"}
  local forms = {}
  for _, key in ipairs(with_dx and {"wgrad", "dx"} or {"wgrad"}) do
    local other = def[key] == "sparse" and "dense" or "sparse"
    local want = {wgrad = def.wgrad, dx = def.dx}
    want[key] = other
    local w1, d1 = backward_forms(isa, g, s, in_act, want)
    local got = {wgrad = w1 and "sparse" or "dense", dx = d1 and "sparse" or "dense"}
    if got.wgrad == want.wgrad and got.dx == want.dx then
      forms[#forms + 1] = {key = key, default = def[key], other = other}
    end
  end
  return {g = g, forms = forms}
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
  -- dW and dx from g's nonzeros only (sparse_wgrad, sparse_dx) or dense: the defaults, or
  -- what a tune file's entry for the layer's sizes says, for a layer with a choice (a max
  -- pooling after it leaves g sparse, M.has_choice): a layer of the same sizes without one
  -- (VGG's first conv of a block, where the second has the pooling) keeps the dense forms
  local want = ctx.tuned and M.has_choice(s) and ctx.tuned("conv", table.unpack(M.tune_key(g, ctx.batch)))
  local sparse, sdx = backward_forms(isa, g, s, in_act, want)
  if want then
    for _, form in ipairs({{"wgrad", sparse}, {"dx", sdx}}) do
      local key, got = form[1], form[2]
      if want[key] == "sparse" and not got then
        errors.user(want.where .. ": " .. key .. "=sparse: layer " .. L.index .. " cannot take it on " .. isa.name
          .. " (the sparse forms need avx2 or avx512, a kernel of at most 8"
          .. (key == "dx" and ", at most 64 output channels, a vector derivative of the activation before" or "")
          .. " and room on the stack)")
      end
    end
  end
  convcall.backward_comment(b, L, g, ctx, in_act, has_bias, ";")
  b.put(0, string.format("   %s register tiles: dW %s, dx %s", isa.name,
    sparse and "from g's nonzero pixels (a max pooling follows)" or "over taps x channels",
    sdx and "from g's nonzero pixels, each adding its weights times g into a framed dx" or "as a stride-1 convolution of g dilated"))
  b.put(0, sdx and "   (gen/kernels/convtile.lua). */" or "   and framed with the flipped weights (gen/kernels/convtile.lua). */")
  if sparse and SPARSE[isa.name].attribute then b.put(0, SPARSE[isa.name].attribute) end
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
  -- the tap offsets: the per-row pixel-lane tiles' and the taps tile's (not the flat form's,
  -- nor the rows tile's)
  local pixel = not sparse and pixel_lanes(isa, g.O, g.OW, g.S)
  local flat = pixel and flat_wgrad(isa, g)
  local need_toff = pixel and not flat
  if not pixel and not sparse then
    for _, blk in ipairs(channel_blocks(isa, g.O, Op)) do
      need_toff = need_toff or wgrad_rows_plan(isa, g, blk.nv) == nil
    end
  end
  if need_toff then
    b.put(1, string.format("static const int toff[%d] = {%s};", T, table.concat(toff, ", ")))
  end
  local xsrc = framed and "xp" or string.format("(x + i * %d)", x_ld)
  g.g_ld = g_ld
  if sparse then
    emit_sparse_wgrad(b, isa, g, sparse, has_bias, g_ld, x_ld)
  elseif flat then
    local f = flat_geometry(isa, g)
    local koff = {}
    for c = 0, g.C - 1 do
      for ky = 0, g.K - 1 do
        for kx = 0, g.K - 1 do koff[#koff + 1] = ((c * g.K + kx) * f.Hp + ky) * g.OW end
      end
    end
    b.put(1, string.format("static const int koff[%d] = {%s};", T, table.concat(koff, ", ")))
    array(b, 1, "xk", f.xk)
    array(b, 1, "dws", T * g.O * W)
    b.put(1, string.format("for (int j = 0; j < %d; j++) xk[j] = 0.0f;", f.xk))
    b.put(1, string.format("for (int j = 0; j < %d; j++) dws[j] = 0.0f;", T * g.O * W))
    if f.TR > 0 then
      array(b, 1, "gtl", g.O * W)
      b.put(1, string.format("for (int j = 0; j < %d; j++) gtl[j] = 0.0f;", g.O * W))
    end
    if has_bias then
      array(b, 1, "dbs", g.O * W)
      b.put(1, string.format("for (int j = 0; j < %d; j++) dbs[j] = 0.0f;", g.O * W))
    end
    b.put(1, "for (int i = 0; i < n; i++) {")
    flat_wgrad_image(b, isa, g, has_bias, x_ld)
    b.put(1, "}")
    pixel_wgrad_finish(b, isa, g, has_bias)
  elseif pixel then
    local NPW = #pixel_positions(isa, g.OW) * W
    array(b, 1, "gz", g.O * g.OH * NPW)
    array(b, 1, "dws", T * g.O * W)
    b.put(1, string.format("for (int j = 0; j < %d; j++) gz[j] = 0.0f;", g.O * g.OH * NPW))
    b.put(1, string.format("for (int j = 0; j < %d; j++) dws[j] = 0.0f;", T * g.O * W))
    if has_bias then
      array(b, 1, "dbs", g.O * W)
      b.put(1, string.format("for (int j = 0; j < %d; j++) dbs[j] = 0.0f;", g.O * W))
    end
    declare_frame(b, g, Hp, Wp, framed)
    b.put(1, "for (int i = 0; i < n; i++) {")
    if framed then frame_copy(b, 2, "xp", "x", x_ld, g.C, g.H, g.W, Hp, Wp, g.P, 1) end
    pixel_wgrad_image(b, isa, g, xsrc, Wp, has_bias)
    b.put(1, "}")
    pixel_wgrad_finish(b, isa, g, has_bias)
  else
    wgrad_channels(b, isa, g, Hp, Wp, framed, xsrc, Op, PIX, T, has_bias, g_ld, x_ld)
  end
  if ctx.first then b.put(1, "if (dx == NULL) return;") end
  dx_part(b, isa, g, ctx, in_act, Op, Cp, sdx)
  b.put(0, "}")
  return b.text(), convcall.backward(fn, L, mem, ctx, in_act, has_bias)
end

-- gt[q][o] = g[i][o][q] (q < PIX, o < O; gt's lanes past O stay zero), into `dst` when
-- given (else gt): square blocks (square_blocks) when there is a block of pixels and of
-- channels, else float by float.
local function transpose_g(b, isa, O, PIX, Op, g_ld, dst)
  dst = dst or "gt"
  if square_blocks(b, 2, isa, PIX, O, function(d, q0, o0)
    b.put(d, string.format("%s(%s + %s * %d + %d, %d, g + i * %d + %d + %s, %d);", isa.transpose, dst, q0, Op, o0, Op,
      g_ld, o0 * PIX, q0, PIX))
  end) then
    return
  end
  b.put(2, string.format("for (int o = 0; o < %d; o++)", O))
  b.put(3, string.format("for (int q = 0; q < %d; q++) %s[q * %d + o] = g[i * %d + o * %d + q];", PIX, dst, Op, g_ld, PIX))
end

-- dW and db with the channels in the lanes (emit_wgrad), g transposed per image.
function wgrad_channels(b, isa, g, Hp, Wp, framed, xsrc, Op, PIX, T, has_bias, g_ld, x_ld)
  array(b, 1, "gt", PIX * Op)
  array(b, 1, "dwp", T * Op)
  b.put(1, string.format("for (int j = 0; j < %d; j++) gt[j] = 0.0f;", PIX * Op))
  b.put(1, string.format("for (int j = 0; j < %d; j++) dwp[j] = 0.0f;", T * Op))
  if has_bias then
    array(b, 1, "dbp", Op)
    b.put(1, string.format("for (int o = 0; o < %d; o++) dbp[o] = 0.0f;", Op))
  end
  declare_frame(b, g, Hp, Wp, framed)
  b.put(1, "for (int i = 0; i < n; i++) {")
  transpose_g(b, isa, g.O, PIX, Op, g_ld)
  if has_bias then
    b.put(2, string.format("for (int q = 0; q < %d; q++)", PIX))
    b.put(3, string.format("for (int o = 0; o < %d; o++) dbp[o] += gt[q * %d + o];", Op, Op))
  end
  if framed then frame_copy(b, 2, "xp", "x", x_ld, g.C, g.H, g.W, Hp, Wp, g.P, 1) end
  emit_wgrad(b, 2, isa, g, xsrc, Hp, Wp, Op, "dwp")
  b.put(1, "}")
  b.put(1, string.format("for (int t = 0; t < %d; t++)", T))
  b.put(2, string.format("for (int o = 0; o < %d; o++) dw[t * %d + o] = dwp[t * %d + o];", g.O, g.O, Op))
  if has_bias then b.put(1, string.format("for (int o = 0; o < %d; o++) db[o] = dbp[o];", g.O)) end
end

-- dx as tap sums (stride 1; `tapsum`): per image and input channel c, first A[t][q] =
-- Σ_o W[c·K²+t][o] · g[o][q] for the K² taps t = (ky, kx), the OH·OW pixels of g's plane in
-- the lanes (positions block_starts(OH·OW, W), g read in place: no frame, no copy, no
-- transposed weights), a register tile of R taps (broadcast weights) × V pixel vectors
-- summed over o; then each dx row is a sum of A's rows shifted, dx[c][iy][ix] = Σ_(ky,kx)
-- A[ky·K+kx][(iy+P-ky)·OW + ix+P-kx], one load per (ky, kx) and row block whose lanes off
-- g's row are masked (isa.load_lanes), only the ky whose g row exists. So every
-- multiply-add is a real one: the frame forms compute the K-1-P border's zero taps, under
-- every lane (LeNet's 6-channel dx at 14 wide: 10 of 14 lanes hold a g pixel per kx), and
-- the padded lanes of a row. Sums: per A element over o in order; per dx element, kx
-- modulo NA (≤ 4 accumulators per row block, short add chains), ky ascending in each, then
-- the NA partial sums in order; overlapping row blocks add the same terms per lane (same
-- bits). Chosen by tapsum_plan when its operations (FMAs, the shifted loads' adds, A's
-- stores) are fewer than the frame form's multiply-adds and one channel's A (K²·OH·OW
-- floats, read back from L1 at once) fits TAPSUM_FLOATS, 16 KB: half of a Zen 3 L1d (32
-- KB), next to one image of g and W.
local TAPSUM_FLOATS = 4096

local function tapsum_rows(g)
  local lo, hi, n = {}, {}, 0
  for iy = 0, g.H - 1 do
    lo[iy + 1] = math.max(0, iy + g.P - g.OH + 1)
    hi[iy + 1] = math.max(lo[iy + 1], math.min(g.K, iy + g.P + 1))
    n = n + hi[iy + 1] - lo[iy + 1]
  end
  return lo, hi, n
end

-- The frame form's multiply-adds per image (dx_part's pixel-lane or channel-lane tiles).
local function frame_dx_ops(isa, g)
  local _, _, rows = tapsum_rows(g)
  if pixel_lanes(isa, g.C, g.W, 1, true) then
    return g.C * g.O * g.K * rows * #pixel_positions(isa, g.W)
  end
  return g.H * g.W * g.K * g.K * g.O * round_up(g.C, isa.width) // isa.width
end

-- The plan of the tap-sum dx, or nil where it does not serve (see above): qs (pixel
-- positions of A's rows), xs (dx row blocks), lanes (a narrow row's width, else nil), QP
-- (A's row length), FS (floats before A's first row: the shifted loads' lowest address),
-- n (A's floats), na (partial sums per row block), ops (its operations, as counted here).
local function tapsum_plan(isa, g, in_act)
  local W = isa.width
  local PIX, KK = g.OH * g.OW, g.K * g.K
  if g.S ~= 1 or not isa.load_lanes or PIX < W then return nil end
  if in_act and not epilogue.grad(in_act, isa, "v", "m") then return nil end
  local QP = round_up(PIX, W)
  if KK * QP > TAPSUM_FLOATS then return nil end
  local qs = block_starts(PIX, W)
  local xs = block_starts(g.W, W) or {0}
  local klo, khi, rows = tapsum_rows(g)
  local new = g.C * KK * g.O * #qs + g.C * rows * g.K * #xs + g.C * KK * #qs
  if new >= frame_dx_ops(isa, g) then return nil end
  -- the shifted loads' span (lanes of every load, masked or not), from A's first float
  local lo, hi = math.huge, -math.huge
  for iy = 0, g.H - 1 do
    for ky = klo[iy + 1], khi[iy + 1] - 1 do
      for kx = 0, g.K - 1 do
        for _, x0 in ipairs(xs) do
          local at = (ky * g.K + kx) * QP + (iy + g.P - ky) * g.OW + x0 + g.P - kx
          lo, hi = math.min(lo, at), math.max(hi, at + W - 1)
        end
      end
    end
  end
  local FS = round_up(math.max(0, -lo), W)
  return {qs = qs, xs = xs, lanes = g.W < W and g.W or nil, QP = QP, FS = FS,
    n = FS + math.max(hi + 1, KK * QP), na = math.min(g.K, 4), ops = new}
end

local function tapsum_dx(b, isa, g, ctx, in_act, t)
  local W, vt = isa.width, isa.vtype
  local KK, PIX = g.K * g.K, g.OH * g.OW
  local klo, khi = tapsum_rows(g)
  array(b, 1, "ta", t.n)
  b.put(1, string.format("for (int j = 0; j < %d; j++) ta[j] = 0.0f;", t.n))
  local clipped = false
  for iy = 1, g.H do clipped = clipped or klo[iy] ~= 0 or khi[iy] ~= g.K end
  local ky0, ky1 = "0", tostring(g.K)
  if clipped then
    b.put(1, string.format("static const int kylo[%d] = {%s}, kyhi[%d] = {%s};", g.H, table.concat(klo, ", "),
      g.H, table.concat(khi, ", ")))
    ky0, ky1 = "kylo[iy]", "kyhi[iy]"
  end
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, string.format("const float *gi = g + i * %d;", g.g_ld))
  b.put(2, string.format("for (int c = 0; c < %d; c++) {", g.C))
  b.put(3, string.format("const float *wc = w + c * %d;", KK * g.O))
  -- A = W·g for this channel's taps: tiles of R taps × V pixel vectors
  for _, grp in ipairs(even_groups(#t.qs, isa.vec_max)) do
    local q1, V = grp[1], grp[2]
    local tiles = row_tiles(KK, math.max(1, isa.acc_regs // V))
    local nsame = (#tiles > 1 and tiles[#tiles].r < tiles[1].r) and #tiles - 1 or #tiles
    local runs = {{x = "t0", r = tiles[1].r, loop = nsame > 1 and nsame * tiles[1].r}}
    if nsame == 1 then runs[1].x = "0" end
    if nsame < #tiles then runs[2] = {x = tostring(tiles[#tiles].x), r = tiles[#tiles].r} end
    for _, run in ipairs(runs) do
      local d = 3
      b.put(d, run.loop and string.format("for (int t0 = 0; t0 < %d; t0 += %d) {", run.loop, run.r) or "{")
      local acc = {}
      for r = 0, run.r - 1 do
        for v = 0, V - 1 do acc[#acc + 1] = string.format("a%d_%d = %s", r, v, isa.zero()) end
      end
      b.put(d + 1, vt .. " " .. table.concat(acc, ", ") .. ";")
      b.put(d + 1, string.format("for (int o = 0; o < %d; o++) {", g.O))
      b.put(d + 2, string.format("const float *go = gi + o * %d;", PIX))
      local gv = {}
      for v = 0, V - 1 do gv[#gv + 1] = string.format("g%d = %s", v, isa.load("go", t.qs[q1 + v])) end
      b.put(d + 2, "const " .. vt .. " " .. table.concat(gv, ", ") .. ";")
      fma_rows(b, d + 2, isa, vt, run.r, V, "wb", function(r)
        return string.format("wc[(%s + %d) * %d + o]", run.x, r, g.O)
      end, "g")
      b.put(d + 1, "}")
      for r = 0, run.r - 1 do
        for v = 0, V - 1 do
          b.put(d + 1, isa.store("ta", string.format("(%s + %d) * %d + %d", run.x, r, t.QP, t.FS + t.qs[q1 + v]),
            string.format("a%d_%d", r, v)))
        end
      end
      b.put(d, "}")
    end
  end
  -- dx rows: A's rows shifted and summed, then stored with the previous derivative
  b.put(3, string.format("for (int iy = 0; iy < %d; iy++) {", g.H))
  local per = math.max(1, isa.acc_regs // t.na)
  for x1 = 1, #t.xs, per do
    local blk = {}
    for j = x1, math.min(#t.xs, x1 + per - 1) do blk[#blk + 1] = t.xs[j] end
    local d = 4
    b.put(d, "{")
    local acc = {}
    for j = 1, #blk do
      for a = 0, t.na - 1 do acc[#acc + 1] = string.format("s%d_%d = %s", j - 1, a, isa.zero()) end
    end
    b.put(d + 1, vt .. " " .. table.concat(acc, ", ") .. ";")
    b.put(d + 1, string.format("for (int ky = %s; ky < %s; ky++) {", ky0, ky1))
    b.put(d + 2, string.format("const float *ar = ta + %d + ky * %d + (iy + %d - ky) * %d;",
      t.FS, g.K * t.QP, g.P, g.OW))
    for kx = 0, g.K - 1 do
      for j, x0 in ipairs(blk) do
        local width = t.lanes or W
        local lo = math.max(0, kx - g.P - x0)
        local hi = math.min(width, g.OW + kx - g.P - x0)
        if hi > lo then
          local s = string.format("s%d_%d", j - 1, kx % t.na)
          local ld = (lo == 0 and hi == W) and isa.load("ar", kx * t.QP + x0 + g.P - kx)
            or isa.load_lanes("ar", kx * t.QP + x0 + g.P - kx, lo, hi)
          b.put(d + 2, string.format("%s = %s;", s, isa.add(s, ld)))
        end
      end
    end
    b.put(d + 1, "}")
    for j, x0 in ipairs(blk) do
      local sum = string.format("s%d_0", j - 1)
      for a = 1, t.na - 1 do sum = isa.add(sum, string.format("s%d_%d", j - 1, a)) end
      local at = string.format("i * %d + c * %d + iy * %d + %d", ctx.dx_ld, g.H * g.W, g.W, x0)
      local v = sum
      if in_act then
        local mat = string.format("i * %d + c * %d + iy * %d + %d", in_act.buf.ld, g.H * g.W, g.W, x0)
        v = epilogue.grad(in_act, isa, sum, t.lanes and isa.load_part("m", mat, t.lanes) or isa.load("m", mat))
      end
      b.put(d + 1, t.lanes and isa.store_part("dx", at, v, t.lanes) or isa.store("dx", at, v))
    end
    b.put(d, "}")
  end
  b.put(3, "}")
  b.put(2, "}")
  b.put(1, "}")
end

-- dx from g's nonzero pixels only, where g is mostly zeros (as sparse_wgrad; its own switch
-- CONV_SPARSE_DX). Each pixel q = (oy, ox) of g adds Σ_o g[o][q]·W[c][ky][kx][o] into the
-- input patch at (oy·S + ky - P, ox·S + kx - P); per pixel the sum over o runs over its
-- nonzero channels only. Per image g is transposed to gs[q][Op]; per pixel a bit mask of
-- its nonzero channels (one compare per vector of gs's row) is walked lowest bit first,
-- each channel's gradient broadcast times its weights wo[o][(c·K + ky)·8 + kx] (the C·K
-- patch rows each in an 8-float slot, kx < K, zeros past K) into accumulators of whole
-- slots (two per 16-lane vector, one per 8-lane one); then every patch row is added as an
-- 8-lane vector into the zeroed frame df (the padded input: the frame's row Wf wide enough
-- for 8 lanes from any pixel; the lanes past K hold -0.0f, which an add leaves any float as
-- it was, -0 and NaN included, where 0·W would be NaN·0 for a non-finite g), and after
-- the image's pixels the frame's interior goes to dx (times the previous derivative) and
-- the frame is zeroed. At most SPARSE's dx_vecs accumulators: more patch rows take passes over the same
-- mask. Sums in a fixed order (pixels in row order, each pixel's channels ascending);
-- a zero gradient's terms (0·W) are the ones left out. Chosen where its operations (the
-- FMAs at g_density's share of nonzeros, CONV_SPARSE_DX_ADD per patch row and pixel for
-- the adds into the frame) are fewer than the dense form's (tapsum_plan's, else the frame
-- form's).
sparse_dx = function(isa, g, s, in_act, forced)
  if not sparse_gate(isa, g, s, "CONV_SPARSE_DX", forced) or g.O > 64 then return nil end
  if in_act and not epilogue.grad(in_act, isa, "v", "m") then return nil end
  local W, per = isa.width, isa.width // 8
  local R, PIX = g.C * g.K, g.OH * g.OW
  local nv = (R + per - 1) // per
  if not forced then   -- (a tune file's choice: no comparison)
    local tap = tapsum_plan(isa, g, in_act)
    local dense = tap and tap.ops or frame_dx_ops(isa, g)
    if s.g_density * g.O * PIX * nv + schedule.pick(isa, "CONV_SPARSE_DX_ADD") * PIX * R >= dense then return nil end
  end
  local passes = {}
  for _, grp in ipairs(even_groups(nv, SPARSE[isa.name].dx_vecs)) do
    passes[#passes + 1] = {v0 = grp[1] - 1, v1 = grp[1] - 1 + grp[2]}
  end
  local Hf = math.max((g.OH - 1) * g.S + g.K, g.H + g.P)
  local Wf = math.max((g.OW - 1) * g.S + 8, g.W + g.P)
  local Op = round_up(g.O, W)
  local RS = nv * W
  return {passes = passes, R = R, RS = RS, Hf = Hf, Wf = Wf, Op = Op, PIX = PIX,
    floats = g.O * RS + PIX * Op + g.C * Hf * Wf}
end

-- The bits of gs's row gq that are nonzero (NaN included), vector j of the row.
local function nonzero_bits(isa, j)
  local m = SPARSE[isa.name].nonzero(isa.load_aligned("gq", j * isa.width))
  return j == 0 and "(uint64_t)" .. m or string.format("((uint64_t)%s << %d)", m, j * isa.width)
end

function emit_sparse_dx(b, isa, g, ctx, in_act, p)
  local W, vt, K = isa.width, isa.vtype, g.K
  local per = W // 8
  local plane = p.Hf * p.Wf
  array(b, 1, "wo", g.O * p.RS)
  b.put(1, string.format("for (int o = 0; o < %d; o++)", g.O))
  b.put(2, string.format("for (int r = 0; r < %d; r++)", p.RS // 8))
  b.put(3, string.format("for (int l = 0; l < 8; l++) wo[o * %d + r * 8 + l] = r < %d && l < %d ? w[(r * %d + l) * %d + o] : 0.0f;",
    p.RS, p.R, K, K, g.O))
  array(b, 1, "gs", p.PIX * p.Op)
  b.put(1, string.format("for (int j = 0; j < %d; j++) gs[j] = 0.0f;", p.PIX * p.Op))
  array(b, 1, "df", g.C * plane)
  b.put(1, string.format("for (int j = 0; j < %d; j++) df[j] = 0.0f;", g.C * plane))
  b.put(1, string.format("static const int foff[%d] = {%s};", p.PIX, table.concat(patch_offsets(g, p.Wf, p.PIX), ", ")))
  b.put(1, "for (int i = 0; i < n; i++) {")
  transpose_g(b, isa, g.O, p.PIX, p.Op, g.g_ld, "gs")
  b.put(2, string.format("for (int q = 0; q < %d; q++) {", p.PIX))
  b.put(3, string.format("const float *gq = gs + q * %d;", p.Op))
  local bits = {}
  for j = 0, p.Op // W - 1 do bits[#bits + 1] = nonzero_bits(isa, j) end
  b.put(3, "const uint64_t m = " .. table.concat(bits, " | ") .. ";")
  b.put(3, "if (m == 0) continue;")
  b.put(3, "float *fr = df + foff[q];")
  for _, ps in ipairs(p.passes) do
    b.put(3, "{")
    local acc = {}
    for v = ps.v0, ps.v1 - 1 do acc[#acc + 1] = string.format("a%d = %s", v, isa.zero()) end
    b.put(4, vt .. " " .. table.concat(acc, ", ") .. ";")
    b.put(4, "uint64_t mm = m;")
    b.put(4, "do {")
    b.put(5, "const int o = __builtin_ctzll(mm);")
    b.put(5, "mm &= mm - 1;")
    b.put(5, string.format("const %s v = %s;", vt, isa.broadcast("gq[o]")))
    b.put(5, string.format("const float *wr = wo + o * %d;", p.RS))
    for v = ps.v0, ps.v1 - 1 do
      b.put(5, string.format("a%d = %s;", v, isa.fma("v", isa.load_aligned("wr", v * W), "a" .. v)))
    end
    b.put(4, "} while (mm);")
    for v = ps.v0, ps.v1 - 1 do
      if K < 8 then b.put(4, string.format("a%d = %s;", v, SPARSE[isa.name].minus_zero_past("a" .. v, K))) end
      for k = 0, per - 1 do
        local r = v * per + k
        if r < p.R then
          local c, ky = r // K, r % K
          b.put(4, string.format("{ float *pr = fr + %d; _mm256_storeu_ps(pr, _mm256_add_ps(_mm256_loadu_ps(pr), %s)); }",
            c * plane + ky * p.Wf, SPARSE[isa.name].slot("a" .. v, k)))
        end
      end
    end
    b.put(3, "}")
  end
  b.put(2, "}")
  -- the frame's interior to dx (times the previous derivative), then zeroed for the next image
  local xs = block_starts(g.W, W) or {0}
  local lanes = g.W < W and g.W or nil
  b.put(2, string.format("for (int c = 0; c < %d; c++)", g.C))
  b.put(3, string.format("for (int iy = 0; iy < %d; iy++) {", g.H))
  b.put(4, string.format("const float *fr = df + c * %d + (iy + %d) * %d + %d;", plane, g.P, p.Wf, g.P))
  for _, x0 in ipairs(xs) do
    local v = lanes and isa.load_part("fr", x0, lanes) or isa.load("fr", x0)
    local at = string.format("i * %d + c * %d + iy * %d + %d", ctx.dx_ld, g.H * g.W, g.W, x0)
    if in_act then
      local mat = string.format("i * %d + c * %d + iy * %d + %d", in_act.buf.ld, g.H * g.W, g.W, x0)
      v = epilogue.grad(in_act, isa, v, lanes and isa.load_part("m", mat, lanes) or isa.load("m", mat))
    end
    b.put(4, lanes and isa.store_part("dx", at, v, lanes) or isa.store("dx", at, v))
  end
  b.put(3, "}")
  b.put(2, string.format("for (int j = 0; j < %d; j++) df[j] = 0.0f;", g.C * plane))
  b.put(1, "}")
end

-- dx: g dilated by S into a frame of K-1-P zeros, convolved with the flipped weights.
function dx_part(b, isa, g, ctx, in_act, Op, Cp, sdx)
  if sdx then return emit_sparse_dx(b, isa, g, ctx, in_act, sdx) end
  local g_ld = g.g_ld
  local tap = tapsum_plan(isa, g, in_act)
  if tap then return tapsum_dx(b, isa, g, ctx, in_act, tap) end
  -- dx: g dilated by S into a frame of K-1-P zeros (gf, O×Hg×Wg), flipped transposed
  -- weights wd[o][ky][kx][Cp] = W[c][K-1-ky][K-1-kx][o]
  local Hg, Wg = g.H + g.K - 1, g.W + g.K - 1
  local pixel = pixel_lanes(isa, g.C, g.W, 1, true) and (not in_act or epilogue.grad(in_act, isa, "v", "m"))
  local nf = g.O * Hg * Wg + (pixel and narrow_slack(isa, g.W) or 0)
  array(b, 1, "gf", nf)
  array(b, 1, "wd", g.O * g.K * g.K * Cp)
  b.put(1, string.format("for (int j = 0; j < %d; j++) gf[j] = 0.0f;", nf))
  b.put(1, string.format("for (int o = 0; o < %d; o++)", g.O))
  b.put(2, string.format("for (int ky = 0; ky < %d; ky++)", g.K))
  b.put(3, string.format("for (int kx = 0; kx < %d; kx++)", g.K))
  b.put(4, string.format("for (int c = 0; c < %d; c++) wd[((o * %d + ky) * %d + kx) * %d + c] = c < %d ? w[((c * %d + %d - ky) * %d + %d - kx) * %d + o] : 0.0f;",
    Cp, g.K, g.K, Cp, g.C, g.K, g.K - 1, g.K, g.K - 1, g.O))
  if pixel then
    b.put(1, "for (int i = 0; i < n; i++) {")
    frame_copy(b, 2, "gf", "g", g_ld, g.O, g.OH, g.OW, Hg, Wg, g.K - 1 - g.P, g.S)
    -- lanes: the narrow tiles' first `lanes` floats (nil: whole vectors)
    local function store(c, pix, v, lanes)
      local at = string.format("i * %d + %d + %s", ctx.dx_ld, c * g.H * g.W, pix)
      local st, ld = isa.store, isa.load
      if lanes then
        st = function(base, idx, val) return isa.store_part(base, idx, val, lanes) end
        ld = function(base, idx) return isa.load_part(base, idx, lanes) end
      end
      if not in_act then return st("dx", at, v) end
      local mat = string.format("i * %d + %d + %s", in_act.buf.ld, c * g.H * g.W, pix)
      return st("dx", at, epilogue.grad(in_act, isa, v, ld("m", mat)))
    end
    emit_pixel_tiles(b, 2, isa, {src = "gf", Cin = g.O, Hp = Hg, Wp = Wg, K = g.K, OH = g.H, OW = g.W, O = g.C,
      wp = "wd", wld = Cp, store = store, init = function() return isa.zero() end,
      rows = {g.K - 1 - g.P, g.K - 1 - g.P + (g.OH - 1) * g.S}})
    b.put(1, "}")
    return
  end
  stage_buffer(b, g.H, g.W, Cp)
  b.put(1, "for (int i = 0; i < n; i++) {")
  frame_copy(b, 2, "gf", "g", g_ld, g.O, g.OH, g.OW, Hg, Wg, g.K - 1 - g.P, g.S)
  local band = string.format("i * %d + oy0 * %d", ctx.dx_ld, g.W)
  local mband = in_act and string.format("i * %d + oy0 * %d", in_act.buf.ld, g.W)
  local function put(c, q, val)
    local at = string.format("%s + (%s) * %d + %s", band, c, g.H * g.W, q)
    if not in_act then return string.format("dx[%s] = %s;", at, val) end
    local mat = string.format("%s + (%s) * %d + %s", mband, c, g.H * g.W, q)
    return string.format("dx[%s] = %s;", at, epilogue.grad_scalar(in_act, val, scalar.load("m", mat)))
  end
  local fix
  if in_act then
    fix = function(at, vec)
      local k, mk = band .. " + " .. at, mband .. " + " .. at
      if vec then return isa.store("dx", k, epilogue.grad(in_act, isa, isa.load("dx", k), isa.load("m", mk))) end
      return string.format("dx[%s] = %s;", k, epilogue.grad_scalar(in_act, string.format("dx[%s]", k), scalar.load("m", mk)))
    end
  end
  emit_tiles(b, 2, isa, {src = "gf", Cin = g.O, Hp = Hg, Wp = Wg, K = g.K, S = 1, OH = g.H, OW = g.W, Op = Cp,
    O = g.C, wp = "wd", wa = true, tb = "tb", init = function() return isa.zero() end,
    flush = flush_to(isa, {O = g.C, Op = Cp, OH = g.H, OW = g.W, dst = "dx + " .. band, put = put, fix = fix,
      vector = in_act and epilogue.grad(in_act, isa, "v", "m") ~= nil})})
  b.put(1, "}")
end

-- Max pooling of 2×2 windows at stride 2 as vector code (avx2, avx512, neon). One window per lane:
-- its four elements in four vectors e0..e3 (top left, top right, bottom left, bottom right),
-- gathered from the loaded rows by the ISA's shuffles; the rest is the same lane-wise
-- arithmetic on every ISA, spelled by the ISA table's `flags(lanes)`: the running maximum
-- and the flags up[k] = "element k raised it" are compares and blends, the first maximum
-- is the last raiser, and each position's gradient is g masked by its flag (+0.0f
-- elsewhere, g's bits kept); the ISA's shuffles put the four back in row order, times the
-- previous derivative. Same values as the scalar windows (pool_forward, tiled_pool_backward
-- in gen/kernels/conv.lua), NaN included: a NaN never raises the maximum (the compares are
-- false), a first element NaN stays the maximum.
--
-- avx2: vw = 8 windows of two input rows at a time (4, in 128-bit vectors, for rows of 4 to
-- 7 windows); the rows' even and odd elements are split by in-lane shuffles, so with 8 the
-- windows come out in lane order 0 1 4 5 2 3 6 7 and g is permuted to match; with 8 the
-- stores apply the previous derivative, with 4 the caller's contiguous pass; a last block
-- overlapping the one before recomputes the same windows.
-- avx512: any width, see avx512_walk below; neon: see neon_rows.
local function pool_lanes(g) return g.OW >= 8 and 8 or 4 end

function M.pool_pairs_applies(isa, g)
  if not (g.K == 2 and g.S == 2 and g.OH * 2 == g.H and g.OW * 2 == g.W) then return false end
  if isa.name == "avx2" or isa.name == "neon" then return g.OW >= 4 end
  return isa.name == "avx512"
end

-- The forward's maximum of e0..e3 (the scalar loop's rule e > v ? e : v) into v.
local function window_max(b, d, f)
  b.put(d, string.format("%s v = e0;", f.vtype))
  for k = 1, 3 do b.put(d, "v = " .. f.max_gt("e" .. k, "v") .. ";") end
end

-- The backward's flags u1..u3 (u0 is always set) from e0..e3.
local function window_flags(b, d, f)
  b.put(d, string.format("const %s u1 = %s;", f.ftype, f.gt("e1", "e0")))
  b.put(d, string.format("const %s v1 = %s;", f.vtype, f.blend("e0", "e1", "u1")))
  b.put(d, string.format("const %s u2 = %s;", f.ftype, f.gt("e2", "v1")))
  b.put(d, string.format("const %s v2 = %s;", f.vtype, f.blend("v1", "e2", "u2")))
  b.put(d, string.format("const %s u3 = %s;", f.ftype, f.gt("e3", "v2")))
end

-- g0..g3: gv at the last raiser, +0.0f at the others.
local function window_grads(b, d, f)
  local T = f.vtype
  b.put(d, string.format("const %s g3 = %s;", T, f.keep("u3", "gv")))
  b.put(d, string.format("const %s g2 = %s;", T, f.drop("u3", f.keep("u2", "gv"))))
  b.put(d, string.format("const %s g1 = %s;", T, f.drop(f.either("u2", "u3"), f.keep("u1", "gv"))))
  b.put(d, string.format("const %s g0 = %s;", T, f.drop(f.either("u1", f.either("u2", "u3")), "gv")))
end

-- The derivative's mask from x itself (the activation's output) when the activation allows
-- it: m is not read at all.
local function own_sign(in_act)
  return in_act and in_act.op.grad.output_sign and in_act.op.grad.output_sign(in_act.opts) or false
end

-- Whether the vector pooling's backward reads m, the previous activation's derivative
-- buffer: not when it takes the mask from x (own_sign).
function M.pool_pairs_reads_mask(in_act) return in_act ~= nil and not own_sign(in_act) end

-- avx2: the lane count, the flags' spelling, the window blocks' first windows, and the C
-- expression putting 8 windows in (or out of) the shuffles' lane order.
local function pool_setup(isa, g)
  local vw = pool_lanes(g)
  local f = isa.flags(vw)
  local blocks = block_starts(g.OW, vw)
  local function order(v)
    if vw == 4 then return v end
    return "_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(" .. v .. "), 0xD8))"
  end
  return vw, f, blocks, order
end

-- avx2: the two rows' four window positions e0..e3 of block j (x0, x1: the rows).
local function pool_loads(b, d, f, vw)
  local P, T = f.prefix, f.vtype
  b.put(d, "const int e = 2 * ox0s[j];")
  b.put(d, string.format("const %s a0 = %sloadu_ps(x0 + e), b0 = %sloadu_ps(x0 + e + %d);", T, P, P, vw))
  b.put(d, string.format("const %s a1 = %sloadu_ps(x1 + e), b1 = %sloadu_ps(x1 + e + %d);", T, P, P, vw))
  b.put(d, string.format("const %s e0 = %sshuffle_ps(a0, b0, 0x88), e1 = %sshuffle_ps(a0, b0, 0xDD);", T, P, P))
  b.put(d, string.format("const %s e2 = %sshuffle_ps(a1, b1, 0x88), e3 = %sshuffle_ps(a1, b1, 0xDD);", T, P, P))
end

local function avx2_forward(b, isa, g, mem)
  local vw, f, blocks, order = pool_setup(isa, g)
  local P = f.prefix
  b.put(2, string.format("for (int c = 0; c < %d; c++)", g.C))
  b.put(3, string.format("for (int oy = 0; oy < %d; oy++) {", g.OH))
  b.put(4, string.format("const float *x0 = x + i * %d + c * %d + oy * %d, *x1 = x0 + %d;", mem.input.ld, g.H * g.W, 2 * g.W, g.W))
  b.put(4, string.format("float *ar = a + i * %d + (c * %d + oy) * %d;", mem.a.ld, g.OH, g.OW))
  b.put(4, string.format("static const int ox0s[%d] = {%s};", #blocks, table.concat(blocks, ", ")))
  b.put(4, string.format("for (int j = 0; j < %d; j++) {", #blocks))
  pool_loads(b, 5, f, vw)
  window_max(b, 5, f)
  b.put(5, string.format("%sstoreu_ps(ar + ox0s[j], %s);", P, order("v")))
  b.put(4, "}")
  b.put(3, "}")
end

local function avx2_backward(b, isa, g, mem, ctx)
  local vw, f, blocks, order = pool_setup(isa, g)
  local P, T = f.prefix, f.vtype
  -- rows of 4 windows (SSE vectors) apply the derivative here only when its mask comes from
  -- x (own_sign: the ReLU's select_pos, spelled by the flags), else the caller's pass
  local in_act = (vw == 8 or own_sign(ctx.in_act)) and ctx.in_act
  if in_act and not epilogue.grad(in_act, isa, "v", "m") then in_act = nil end
  local visa = isa
  if vw == 4 then
    visa = setmetatable({select_pos = function(m, x) return f.keep(f.gt(m, P .. "setzero_ps()"), x) end,
      store = function(base, index, v) return string.format("%sstoreu_ps(%s + %s, %s);", P, base, index, v) end},
      {__index = isa})
  end
  b.put(2, string.format("for (int c = 0; c < %d; c++)", g.C))
  b.put(3, string.format("for (int oy = 0; oy < %d; oy++) {", g.OH))
  b.put(4, string.format("const int r0 = c * %d + oy * %d, r1 = r0 + %d;", g.H * g.W, 2 * g.W, g.W))
  b.put(4, string.format("const float *gr = g + i * %d + (c * %d + oy) * %d;", mem.d.ld, g.OH, g.OW))
  b.put(4, string.format("const float *x0 = x + i * %d + r0, *x1 = x + i * %d + r1;", mem.input.ld, mem.input.ld))
  b.put(4, string.format("float *d0 = dx + i * %d + r0, *d1 = dx + i * %d + r1;", ctx.dx_ld, ctx.dx_ld))
  -- the derivative's mask from x itself, loaded below as a0 b0 a1 b1
  local own = own_sign(in_act)
  if own then
    b.put(4, "(void)m;")
  elseif in_act then
    b.put(4, string.format("const float *m0 = m + i * %d + r0, *m1 = m + i * %d + r1;", in_act.buf.ld, in_act.buf.ld))
  end
  b.put(4, string.format("static const int ox0s[%d] = {%s};", #blocks, table.concat(blocks, ", ")))
  b.put(4, string.format("for (int j = 0; j < %d; j++) {", #blocks))
  local d = 5
  pool_loads(b, d, f, vw)
  window_flags(b, d, f)
  b.put(d, string.format("const %s gv = %s;", T, order(P .. "loadu_ps(gr + ox0s[j])")))
  window_grads(b, d, f)
  local hi = "e + " .. vw
  local outs = {{"d0", "m0", P .. "unpacklo_ps(g0, g1)", "e", "a0"}, {"d0", "m0", P .. "unpackhi_ps(g0, g1)", hi, "b0"},
                {"d1", "m1", P .. "unpacklo_ps(g2, g3)", "e", "a1"}, {"d1", "m1", P .. "unpackhi_ps(g2, g3)", hi, "b1"}}
  for _, o in ipairs(outs) do
    if in_act then
      b.put(d, visa.store(o[1], o[4], epilogue.grad(in_act, visa, o[3], own and o[5] or isa.load(o[2], o[4]))))
    else
      b.put(d, string.format("%sstoreu_ps(%s + %s, %s);", P, o[1], o[4], o[3]))
    end
  end
  b.put(4, "}")
  b.put(3, "}")
  return in_act and true or false
end

-- avx512: blocks of up to 16 windows with the lanes in window order, any row width, tails
-- by k-masks (no overlapping blocks). The pairs of input rows under one output row are
-- contiguous in memory, across channels too (H = 2·OH): pair r = c·OH + oy starts at
-- r·2W, its outputs at r·OW. Rows of more than 8 windows: blocks of 16 windows of one pair
-- (sources: the top row's 32 floats as two vectors, the bottom row's two); narrower rows:
-- G = 16 // OW whole pairs per block (sources: the ≤ 64 contiguous floats, four vectors).
-- Each e_k is one two-source lane permute (vpermt2ps) of a pair of sources, or two and a
-- blend when it needs all four; the gradients go back into the sources' places the same way
-- from (g0, g1) and (g2, g3).

-- The block of `rows` pairs, windows [w0, w0 + nw) of each: its source vectors {off, lanes}
-- (offsets from the block's first input element), and for each window lane l the offsets of
-- its four elements.
local function avx512_block(g, rows, nw)
  local W, srcs = g.W, {}
  if rows == 1 then
    for _, top in ipairs({0, W}) do
      for h = 0, 1 do
        local lanes = math.min(16, 2 * nw - 16 * h)
        if lanes > 0 then srcs[#srcs + 1] = {off = top + 16 * h, lanes = lanes} end
      end
    end
  else
    local len = rows * 2 * W
    for s = 0, (len - 1) // 16 do srcs[#srcs + 1] = {off = 16 * s, lanes = math.min(16, len - 16 * s)} end
  end
  local elems = {}   -- elems[k][l]: offset of element k of window lane l
  for k = 0, 3 do
    elems[k] = {}
    for l = 0, rows * nw - 1 do
      elems[k][l] = l // nw * 2 * W + 2 * (l % nw) + k // 2 * W + k % 2
    end
  end
  return {srcs = srcs, elems = elems, nw = rows * nw}
end

local function epi32(idx)
  local t = {}
  for l = 0, 15 do t[l + 1] = tostring(idx[l] or 0) end
  return "_mm512_setr_epi32(" .. table.concat(t, ", ") .. ")"
end

-- One vector whose lane l is lane pick[l] = {s, lane} of the sources names[s] (0-based s;
-- sources paired (0, 1), (2, 3)): one permute per pair it reads, a blend when both.
local function avx512_gather(names, pick, lanes)
  local idx, used, hi = {}, {}, 0
  for l = 0, lanes - 1 do
    local s, lane = pick[l][1], pick[l][2]
    idx[l] = s % 2 * 16 + lane
    used[s // 2] = true
    if s >= 2 then hi = hi | (1 << l) end
  end
  local function perm(p)
    local a, b2 = names[2 * p], names[2 * p + 1]
    if b2 then return "_mm512_permutex2var_ps(" .. a .. ", " .. epi32(idx) .. ", " .. b2 .. ")" end
    return "_mm512_permutexvar_ps(" .. epi32(idx) .. ", " .. a .. ")"
  end
  if used[0] and used[1] then
    return string.format("_mm512_mask_blend_ps((__mmask16)0x%X, %s, %s)", hi, perm(0), perm(1))
  end
  return perm(used[0] and 0 or 1)
end

-- base + w0-relative offset as C (w0: the block's first window in its pair, a C expression).
local function block_at(w0, scale, off)
  local parts = {}
  if w0 ~= "0" then parts[#parts + 1] = scale == 1 and w0 or scale .. " * " .. w0 end
  if off ~= 0 or #parts == 0 then parts[#parts + 1] = tostring(off) end
  return table.concat(parts, " + ")
end

-- The sources s0.. loaded from xr and e0..e3 gathered from them.
local function avx512_sources(b, d, isa, blk, w0)
  local names = {}
  for s, src in ipairs(blk.srcs) do
    names[s - 1] = "s" .. (s - 1)
    local at = block_at(w0, 2, src.off)
    b.put(d, string.format("const __m512 s%d = %s;", s - 1,
      src.lanes == 16 and isa.load("xr", at) or isa.load_part("xr", at, src.lanes)))
  end
  for k = 0, 3 do
    local pick = {}
    for l = 0, blk.nw - 1 do
      local o = blk.elems[k][l]
      for s, src in ipairs(blk.srcs) do
        if o >= src.off and o < src.off + src.lanes then pick[l] = {s - 1, o - src.off} end
      end
    end
    b.put(d, string.format("const __m512 e%d = %s;", k, avx512_gather(names, pick, blk.nw)))
  end
  return names
end

-- The loops over the pairs of rows: head(d) declares the pair's pointers (r: its first
-- pair), block(d, blk, w0) writes one block.
local function avx512_walk(b, g, head, block)
  local R, OW = g.C * g.OH, g.OW
  if OW > 8 then
    local full, tail = OW // 16, OW % 16
    b.put(2, string.format("for (int r = 0; r < %d; r++) {", R))
    head(3)
    if full == 1 then
      block(3, avx512_block(g, 1, 16), "0")
    elseif full > 1 then
      b.put(3, string.format("for (int w0 = 0; w0 < %d; w0 += 16) {", 16 * full))
      block(4, avx512_block(g, 1, 16), "w0")
      b.put(3, "}")
    end
    if tail > 0 then block(3, avx512_block(g, 1, tail), tostring(16 * full)) end
    b.put(2, "}")
    return
  end
  local G = 16 // OW
  local full, rest = R // G, R % G
  if full > 0 then
    b.put(2, string.format("for (int r = 0; r < %d; r += %d) {", full * G, G))
    head(3)
    block(3, avx512_block(g, G, OW), "0")
    b.put(2, "}")
  end
  if rest > 0 then
    b.put(2, "{")
    b.put(3, string.format("const int r = %d;", full * G))
    head(3)
    block(3, avx512_block(g, rest, OW), "0")
    b.put(2, "}")
  end
end

local function avx512_forward(b, isa, g, mem)
  local f = isa.flags(16)
  avx512_walk(b, g, function(d)
    b.put(d, string.format("const float *xr = x + i * %d + r * %d;", mem.input.ld, 2 * g.W))
    b.put(d, string.format("float *ar = a + i * %d + r * %d;", mem.a.ld, g.OW))
  end, function(d, blk, w0)
    b.put(d, "{")
    avx512_sources(b, d + 1, isa, blk, w0)
    window_max(b, d + 1, f)
    local at = block_at(w0, 1, 0)
    b.put(d + 1, blk.nw == 16 and isa.store("ar", at, "v") or isa.store_part("ar", at, "v", blk.nw))
    b.put(d, "}")
  end)
end

local function avx512_backward(b, isa, g, mem, ctx)
  local f = isa.flags(16)
  local in_act = ctx.in_act
  local own = own_sign(in_act)
  if in_act and own then b.put(2, "(void)m;") end
  avx512_walk(b, g, function(d)
    b.put(d, string.format("const float *xr = x + i * %d + r * %d;", mem.input.ld, 2 * g.W))
    b.put(d, string.format("const float *gr = g + i * %d + r * %d;", mem.d.ld, g.OW))
    b.put(d, string.format("float *dr = dx + i * %d + r * %d;", ctx.dx_ld, 2 * g.W))
    if in_act and not own then
      b.put(d, string.format("const float *mr = m + i * %d + r * %d;", in_act.buf.ld, 2 * g.W))
    end
  end, function(d, blk, w0)
    b.put(d, "{")
    local names = avx512_sources(b, d + 1, isa, blk, w0)
    window_flags(b, d + 1, f)
    local gat = block_at(w0, 1, 0)
    b.put(d + 1, string.format("const __m512 gv = %s;", blk.nw == 16 and isa.load("gr", gat) or isa.load_part("gr", gat, blk.nw)))
    window_grads(b, d + 1, f)
    -- each source's elements: which g_k lane goes where
    local from = {}
    for k = 0, 3 do
      for l = 0, blk.nw - 1 do from[blk.elems[k][l]] = {k, l} end
    end
    local gs = {[0] = "g0", "g1", "g2", "g3"}
    for s, src in ipairs(blk.srcs) do
      local pick = {}
      for lane = 0, src.lanes - 1 do pick[lane] = from[src.off + lane] end
      local v = avx512_gather(gs, pick, src.lanes)
      local at = block_at(w0, 2, src.off)
      if in_act then
        local mv = own and names[s - 1]
          or (src.lanes == 16 and isa.load("mr", at) or isa.load_part("mr", at, src.lanes))
        v = epilogue.grad(in_act, isa, v, mv)
      end
      b.put(d + 1, src.lanes == 16 and isa.store("dr", at, v) or isa.store_part("dr", at, v, src.lanes))
    end
    b.put(d, "}")
  end)
  return true
end

-- neon (rows of 4 or more windows): 4 windows per block, a last block overlapping the one
-- before; the de-interleaving loads vld2q split each row into its even and odd elements
-- (e0 e1 from the top row, e2 e3 from the bottom one) in window order, and vst2q interleaves
-- the gradients back. The previous derivative is applied before the interleave, each g_k
-- with its own element (x itself, or m split the same way).
local function neon_rows(b, g, mem, lines)
  local blocks = block_starts(g.OW, 4)
  b.put(2, string.format("for (int r = 0; r < %d; r++) {", g.C * g.OH))
  b.put(3, string.format("const float *x0 = x + i * %d + r * %d, *x1 = x0 + %d;", mem.input.ld, 2 * g.W, g.W))
  for _, l in ipairs(lines) do b.put(3, l) end
  b.put(3, string.format("static const int ox0s[%d] = {%s};", #blocks, table.concat(blocks, ", ")))
  b.put(3, string.format("for (int j = 0; j < %d; j++) {", #blocks))
  b.put(4, "const int e = 2 * ox0s[j];")
  b.put(4, "const float32x4x2_t t0 = vld2q_f32(x0 + e), t1 = vld2q_f32(x1 + e);")
  b.put(4, "const float32x4_t e0 = t0.val[0], e1 = t0.val[1], e2 = t1.val[0], e3 = t1.val[1];")
end

local function neon_forward(b, isa, g, mem)
  local f = isa.flags(4)
  neon_rows(b, g, mem, {string.format("float *ar = a + i * %d + r * %d;", mem.a.ld, g.OW)})
  window_max(b, 4, f)
  b.put(4, isa.store("ar", "ox0s[j]", "v"))
  b.put(3, "}")
  b.put(2, "}")
end

local function neon_backward(b, isa, g, mem, ctx)
  local f = isa.flags(4)
  local in_act = ctx.in_act
  local own = own_sign(in_act)
  local lines = {string.format("const float *gr = g + i * %d + r * %d;", mem.d.ld, g.OW),
                 string.format("float *d0 = dx + i * %d + r * %d, *d1 = d0 + %d;", ctx.dx_ld, 2 * g.W, g.W)}
  if in_act and own then
    lines[#lines + 1] = "(void)m;"
  elseif in_act then
    lines[#lines + 1] = string.format("const float *m0 = m + i * %d + r * %d, *m1 = m0 + %d;", in_act.buf.ld, 2 * g.W, g.W)
  end
  neon_rows(b, g, mem, lines)
  window_flags(b, 4, f)
  b.put(4, "const float32x4_t gv = " .. isa.load("gr", "ox0s[j]") .. ";")
  window_grads(b, 4, f)
  if in_act and not own then b.put(4, "const float32x4x2_t n0 = vld2q_f32(m0 + e), n1 = vld2q_f32(m1 + e);") end
  for row = 0, 1 do
    local v = {}
    for h = 0, 1 do
      local k = 2 * row + h
      v[h + 1] = "g" .. k
      if in_act then
        v[h + 1] = epilogue.grad(in_act, isa, "g" .. k, own and "e" .. k or string.format("n%d.val[%d]", row, h))
      end
    end
    b.put(4, string.format("const float32x4x2_t o%d = {{%s, %s}};", row, v[1], v[2]))
    b.put(4, string.format("vst2q_f32(d%d + e, o%d);", row, row))
  end
  b.put(3, "}")
  b.put(2, "}")
  return true
end

local POOL_FORWARD = {avx2 = avx2_forward, avx512 = avx512_forward, neon = neon_forward}
local POOL_BACKWARD = {avx2 = avx2_backward, avx512 = avx512_backward, neon = neon_backward}

function M.pool_pairs_forward(b, isa, g, mem)
  return POOL_FORWARD[isa.name](b, isa, g, mem)
end

-- Returns whether it applied the previous derivative.
function M.pool_pairs_backward(b, isa, g, mem, ctx)
  return POOL_BACKWARD[isa.name](b, isa, g, mem, ctx)
end

return M
