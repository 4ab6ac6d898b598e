-- The tiled product kernels: register-tiled micro-kernels for the three products of a
-- linear layer, for any SIMD ISA table (gen/isa/avx512.lua, avx2.lua, neon.lua), the
-- family gen/schedule.lua picks for an ISA wider than one float. Same arguments and
-- results (up to rounding) as the portable loops in gen/kernels/portable.lua:
--   matmul_xw   y = x·W + b            (epilogue: a = f(y), gen/kernels/epilogue.lua)
--   matmul_gwt  dx = g·Wᵀ ⊙ f'(m)
--   matmul_xtg  dW = xᵀ·g, db = Σ_i g  (optionally with the optimizer's update fused)
--
-- Shapes. A tile keeps R×V accumulators in registers (R rows, V vectors of the ISA's
-- width), broadcasts one scalar per row and loads V vectors per step of the reduction:
--   xw : rows = batch rows i, vectors along the layer's outputs j, reduce over k;
--   gwt: rows = batch rows i, vectors along the inputs k, reduce over j, against a
--        transposed block of W (k-block × N, on the stack) so W is read along k; or (form
--        "gt") rows = inputs k, vectors along the batch rows, against g transposed once;
--   xtg: rows = inputs k, vectors along outputs j, reduce over the batch rows i.
-- Every bound is a compile-time constant except the row count n: row tiles run while R
-- rows remain, then one tile each of the powers of two below R covers the rest. Column
-- tails (N not a multiple of the width) use the ISA's partial loads/stores (k-masks on
-- AVX-512, vmaskmov on AVX2, lane loads on NEON). The reduction order is fixed (k or j
-- or i ascending from the first), so results are the same bits on every run.
local emit = require "emit"
local vopt = require "optim.vector"
local epilogue = require "kernels.epilogue"
local schedule = require "schedule"
local stream = require "kernels.stream"
local shared = require "kernels.shared"
local plan = require "plan"

local M = {}

-- matmul_xtg can apply the optimizer to the weights inside its tiles (a.opt).
M.fuses_opt = true

local buffer = emit.buffer

-- "j0 + off", or "j0".
local function jplus(off) return off == 0 and "j0" or "j0 + " .. off end

-- "base + off" with the zero offset left out; off is an integer or C text.
local function at(base, off)
  if off == 0 or off == "0" then return base end
  return base .. " + " .. off
end

-- r * ld + off, where the stride ld is a number (folded) or, in a shared tile
-- (gen/kernels/shared.lua), the C name of an argument.
local function lin(r, ld, off)
  off = off or 0
  if type(ld) == "number" then return r * ld + off end
  local t = r == 0 and "" or (r == 1 and ld or r .. " * " .. ld)
  if off == 0 then return r == 0 and 0 or t end
  return r == 0 and off or t .. " + " .. off
end

local vectors = shared.vectors

-- Consecutive vectors in blocks of at most `most`, as even as possible; past EVEN_MOST
-- blocks, whole blocks of `most` and one block of the rest (fewer block shapes, so less
-- code, where the narrower blocks would be a small share of the work anyway).
local EVEN_MOST = 4
local function blocks(vecs, most)
  local nb = (#vecs + most - 1) // most
  if nb > EVEN_MOST then
    local out = {}
    for i = 1, #vecs, most do
      local blk = {}
      for j = i, math.min(i + most - 1, #vecs) do blk[#blk + 1] = vecs[j] end
      out[#out + 1] = blk
    end
    return out
  end
  local out, i = {}, 1
  for bi = 1, nb do
    local size = (#vecs - i + 1 + (nb - bi)) // (nb - bi + 1)
    local blk = {}
    for _ = 1, size do blk[#blk + 1] = vecs[i]; i = i + 1 end
    out[#out + 1] = blk
  end
  return out
end

local function vload(isa, base, off, lanes)
  if lanes == isa.width then return isa.load(base, off) end
  return isa.load_part(base, off, lanes)
end

-- Our own stack buffers are _Alignas(64) with rows of whole vectors: aligned spellings.
local function aload(isa, base, off) return (isa.load_aligned or isa.load)(base, off) end
local function astore(isa, base, off, v) return (isa.store_aligned or isa.store)(base, off, v) end

local function vstore(isa, base, off, v, lanes)
  if lanes == isa.width then return isa.store(base, off, v) end
  return isa.store_part(base, off, v, lanes)
end

-- Rows per tile for tiles `nvec` vectors wide, never more than the batch.
local function tile_rows(isa, nvec, batch, cap)
  local r = math.max(1, math.min(cap or isa.max_rows, isa.acc_regs // nvec))
  if batch then r = math.min(r, batch) end
  return r
end

-- Emits body(depth, width) for blocks var = 0, step, ... of `total` (var "k0" unless
-- given): a loop over the whole blocks (its body in braces when `braces`), then one block
-- of the rest. A single block is not a loop.
local function k_blocks(b, d, total, step, braces, body, var)
  var = var or "k0"
  local full, rest = total // step, total % step
  if full > 1 then
    b.put(d, "for (int " .. var .. " = 0; " .. var .. " < " .. full * step .. "; " .. var .. " += " .. step .. ")"
      .. (braces and " {" or ""))
    body(d + 1, step)
    if braces then b.put(d, "}") end
  elseif full == 1 then
    b.put(d, "{")
    b.put(d + 1, "const int " .. var .. " = 0;")
    body(d + 1, step)
    b.put(d, "}")
  end
  if rest > 0 then
    b.put(d, "{")
    b.put(d + 1, "const int " .. var .. " = " .. full * step .. ";")
    body(d + 1, rest)
    b.put(d, "}")
  end
end

-- Like k_blocks, for a body whose block size is only a trip count or an offset (not the
-- shape of a register tile): one loop over every block, the last one short, with the
-- size in the C variable VAR.."n" (body(depth, "kbn")), so the rest is not a second copy
-- of the body. Without a rest it is k_blocks. The arithmetic is the same either way; only
-- the code size differs (a 16-layer net of odd widths: one copy per product, not two).
local function k_runs(b, d, total, step, body, var)
  if total % step == 0 or total < step then return k_blocks(b, d, total, step, true, body, var) end
  local n = var .. "n"
  b.put(d, "for (int " .. var .. " = 0; " .. var .. " < " .. total .. "; " .. var .. " += " .. step .. ") {")
  b.put(d + 1, "const int " .. n .. " = " .. total .. " - " .. var .. " < " .. step .. " ? " .. total .. " - " .. var .. " : " .. step .. ";")
  body(d + 1, n)
  b.put(d, "}")
end

-- The column blocks as loops: each run of consecutive blocks of one shape (the same
-- number of vectors, all whole) is one group {j0 = its first column, count = blocks,
-- width = columns per block, vecs = the shape, offsets from the block's first column}.
-- At most three groups (blocks() makes two sizes; the partial vector ends the last), so
-- the code does not grow with the width.
local function column_groups(blks, V)
  local groups = {}
  for _, blk in ipairs(blks) do
    local whole = true
    for _, vec in ipairs(blk) do whole = whole and vec.lanes == V end
    local g = groups[#groups]
    if g and whole and g.whole and #g.vecs == #blk then
      g.count = g.count + 1
    else
      local rel = {}
      for v, vec in ipairs(blk) do rel[v] = {off = vec.off - blk[1].off, lanes = vec.lanes} end
      groups[#groups + 1] = {j0 = blk[1].off, count = 1, width = #blk * V, vecs = rel, whole = whole}
    end
  end
  return groups
end

-- Emits body(depth, group) once per group: a loop over j0 (the group's blocks), or, for
-- at most UNROLL_BLOCKS blocks (small layers), each block with j0 a constant.
local UNROLL_BLOCKS = 4
local function group_loops(b, d, groups, body)
  for _, g in ipairs(groups) do
    if g.count <= UNROLL_BLOCKS then
      for j0 = g.j0, g.j0 + (g.count - 1) * g.width, g.width do
        b.put(d, "{")
        b.put(d + 1, "const int j0 = " .. j0 .. ";")
        body(d + 1, g)
        b.put(d, "}")
      end
    else
      b.put(d, "for (int j0 = " .. g.j0 .. "; j0 < " .. g.j0 + g.count * g.width .. "; j0 += " .. g.width .. ") {")
      body(d + 1, g)
      b.put(d, "}")
    end
  end
end

-- Compact row tails (M.set_compact, from schedule.decide): the driver asks for them when
-- a network's tiled code passes schedule.CODE_BYTES, so that a deep net of odd widths
-- stays within the size and compile-time bounds; the default is off.
local compact = false
function M.set_compact(on) compact = on and true or false end

-- Emits the row loop: full tiles of R rows, then tiles of the powers of two below R, or
-- (compact) a loop of one-row tiles: the rows past the last full tile then run at the
-- one-row tile's speed, but the code holds two tiles instead of about two full tiles'
-- worth. tile(b, depth, rows) emits one tile for rows i .. i+rows-1.
-- (rows i = i0 .. stop-1 when given: C expressions, default 0 and n)
local function row_loop(b, d, R, tile, i0, stop)
  stop = stop or "n"
  b.put(d, "{")
  b.put(d + 1, "int i = " .. (i0 or "0") .. ";")
  b.put(d + 1, "for (; i + " .. R .. " <= " .. stop .. "; i += " .. R .. ") {")
  tile(b, d + 2, R)
  b.put(d + 1, "}")
  local p = 1
  while p * 2 < R do p = p * 2 end
  if R > 1 and compact then
    b.put(d + 1, "for (; i < " .. stop .. "; i++) {")
    tile(b, d + 2, 1)
    b.put(d + 1, "}")
  elseif R > 1 then
    while p >= 1 do
      b.put(d + 1, "if (" .. stop .. " - i >= " .. p .. ") {")
      tile(b, d + 2, p)
      b.put(d + 2, "i += " .. p .. ";")
      b.put(d + 1, "}")
      p = p // 2
    end
  end
  b.put(d + 1, "(void)i;")
  b.put(d, "}")
end

-- Compact: the code emit(bb, d, a, sh) writes, as a shared function (gen/kernels/shared.lua)
-- called at depth d of b; while it is written (sh true) `a` has the fields of `sym` (field
-- -> parameter name) in place of its numbers. consts / muts: the float pointers it reads /
-- writes; ints: its other arguments {name, value}. Otherwise emit(b, d, a, false) in place.
local function leaf(b, d, prefix, a, sym, consts, muts, ints, emit_fn)
  if not compact then return emit_fn(b, d, a, false) end
  local ps = shared.ints(shared.pointers(consts, muts), ints)
  shared.call(b, d, prefix, ps, function(b1, d1) emit_fn(b1, d1, setmetatable(sym, {__index = a}), true) end)
end

-- One register tile that reduces over `t.count` steps (variable t.var):
--   acc[r][v] = init(v) + Σ_var bcast(t.a(r, var)) · load(t.brow(var) + vec v)
-- then t.finish(b, depth, r, v, vec, acc) consumes each accumulator and t.post(b, depth,
-- rows, vecs) (optional) may use them all once more. t.extra (optional):
-- {init(b, d), step(var) -> C statements inside the loop, finish(b, d)} for one more
-- accumulator riding along (the folded tail of matmul_xtg). t.copy(v, vec, w) (optional):
-- a C statement that uses the vector w just loaded (matmul_xw's fill=tile panel stores).
-- t.head(var) (optional): C statements at the top of the loop (matmul_xw's spread prefetches).
-- t.arow(var) (optional): a declaration after bk's (xtg's row pointer into x: XTG_X_ROW).
local function reduce_tile(b, d, isa, rows, vecs, t)
  local vt = isa.vtype
  b.put(d, "{")
  if t.pre then t.pre(b, d + 1) end
  for r = 0, rows - 1 do
    local decl = {}
    for v = 1, #vecs do decl[v] = string.format("c%d_%d = %s", r, v - 1, t.init and t.init(v, r) or isa.zero()) end
    b.put(d + 1, vt .. " " .. table.concat(decl, ", ") .. ";")
  end
  if t.extra then t.extra.init(b, d + 1) end
  b.put(d + 1, "for (int " .. t.var .. " = 0; " .. t.var .. " < " .. t.count .. "; " .. t.var .. "++) {")
  b.put(d + 2, "const float *restrict bk = " .. t.brow(t.var) .. ";")
  if t.arow then b.put(d + 2, t.arow(t.var)) end
  if t.head then b.put(d + 2, t.head(t.var)) end
  local ws = {}
  for v, vec in ipairs(vecs) do
    ws[v] = string.format("w%d = %s", v - 1, (t.aligned and vec.lanes == isa.width) and aload(isa, "bk", vec.off)
                                             or vload(isa, "bk", vec.off, vec.lanes))
  end
  b.put(d + 2, "const " .. vt .. " " .. table.concat(ws, ", ") .. ";")
  if t.copy then
    local cp = {}
    for v, vec in ipairs(vecs) do cp[v] = t.copy(v, vec, "w" .. (v - 1)) end
    b.put(d + 2, table.concat(cp, " "))
  end
  for r = 0, rows - 1 do
    local s = {"const " .. vt .. " s = " .. isa.broadcast(t.a(r, t.var)) .. ";"}
    for v = 1, #vecs do
      local c = string.format("c%d_%d", r, v - 1)
      s[#s + 1] = c .. " = " .. isa.fma("s", "w" .. (v - 1), c) .. ";"
    end
    b.put(d + 2, "{ " .. table.concat(s, " ") .. " }")
  end
  if t.extra then b.put(d + 2, t.extra.step(t.var)) end
  b.put(d + 1, "}")
  for r = 0, rows - 1 do
    for v, vec in ipairs(vecs) do t.finish(b, d + 1, r, v, vec, string.format("c%d_%d", r, v - 1)) end
  end
  if t.post then t.post(b, d + 1, rows, vecs) end
  if t.extra then t.extra.finish(b, d + 1) end
  b.put(d, "}")
end

-- How the columns of a product with N outputs are split: the vectors, in blocks, and
-- the last few columns that are better done as dot products along the reduction axis
-- ("transposed tail"): when N leaves a tail of at most a quarter vector after at least
-- one full vector and the batch fills whole tiles, a masked vector would waste most of
-- its lanes on every step while the dot products cost about tail/width of the work.
-- `most` vectors per block (default: the schedule's tiling of xw).
local function column_plan(isa, N, batch, kred, most)
  local V = isa.width
  local rows = math.min(isa.max_rows, batch or isa.max_rows)
  most = most or schedule.tiling(isa, "xw", {K = kred, N = N, batch = batch}).vecs
  local full, tail = N // V, N % V
  local plan = {tail = 0}
  if tail > 0 and full > 0 and tail * 4 <= V and rows == isa.max_rows
     and tail * kred * 4 <= 16384 then
    plan.vecs = vectors(full * V, V)
    plan.tail, plan.tail0 = tail, full * V
  else
    plan.vecs = vectors(N, V)
  end
  plan.blocks = blocks(plan.vecs, most)
  return plan
end

-- Transposed copy of the tail columns j0 .. j0+t-1 of w [K][N]: dst [t][K].
local function copy_tail(b, d, dst, w, K, N, j0, t)
  b.put(d, "_Alignas(64) float " .. dst .. "[" .. t * K .. "];")
  b.put(d, "for (int k = 0; k < " .. K .. "; k++) {")
  for c = 0, t - 1 do
    b.put(d + 1, dst .. "[" .. (c == 0 and "" or c * K .. " + ") .. "k] = " .. w .. "[k * " .. N .. " + " .. j0 + c .. "];")
  end
  b.put(d, "}")
end

-- The packed W panel: rows kb .. kb+count-1 of the column block at j0, contiguous and aligned.
local function pack_panel(b0, d0, a0, isa, g, count, kblocked)
  leaf(b0, d0, "xw_panel", a0, {N = "N"}, {a0.w}, {"pw"}, {{"kb", "kb"}, {"j0", "j0"}, {"kc", count}, {"N", a0.N}},
       function(b, d, a, sh)
    local row = "(" .. (kblocked and "kb + " or "") .. "k) * " .. a.N
    b.put(d, "for (int k = 0; k < " .. (sh and "kc" or count) .. "; k++) {")
    for _, vec in ipairs(g.vecs) do
      local src = vload(isa, a.w, row .. " + j0 + " .. vec.off, vec.lanes)
      b.put(d + 1, astore(isa, "pw", "k * " .. g.width .. " + " .. vec.off, src))
    end
    b.put(d, "}")
  end)
end

-- matmul_xw with x packed as well as W (tiling mc > 0), as a BLAS packs both operands: for
-- each block of kc inputs and MC rows, the rows are copied tile by tile (a tile of `rows`
-- rows starting at row i at px + (i - ib)·count, k-major: xr[k·rows + r]), so a tile's
-- broadcasts read one contiguous stream from L1/L2; then every column block packs its panel
-- and runs the row tiles of the block. The sums carry in y from one k block to the next
-- (bias first; the caller applies the activation after the last). tile(b, d, rows, g,
-- count) is matmul_xw's register tile.
local function xw_packed_x(b, a, isa, R, MC, kc, groups, tile, fill)
  local kblocked = kc < a.K
  local mblocked = MC < a.batch
  local function rows_block(d, count)
    -- this block of x, tile by tile, in the row loop's order
    row_loop(b, d, R, function(b0, d0, rows)
      leaf(b0, d0, "xw_copy", a, {x_ld = "ldx"}, {a.x}, {"px"}, {{"i", "i"}, {"ib", "ib"}, {"kb", "kb"}, {"kc", count},
           {"ldx", a.x_ld}}, function(bb, d2, a, sh)
        local count = sh and "kc" or count
        bb.put(d2, "{")
        bb.put(d2 + 1, "float *restrict pr = px + (i" .. (mblocked and " - ib" or "") .. ") * " .. count .. ";")
        bb.put(d2 + 1, "const float *restrict xr = " .. a.x .. " + i * " .. a.x_ld .. (kblocked and " + kb" or "") .. ";")
        local cp = {}
        for r = 0, rows - 1 do
          cp[#cp + 1] = "pr[k * " .. rows .. (r == 0 and "" or " + " .. r) .. "] = xr[" .. (r == 0 and "" or lin(r, a.x_ld) .. " + ") .. "k];"
        end
        bb.put(d2 + 1, "for (int k = 0; k < " .. count .. "; k++) { " .. table.concat(cp, " ") .. " }")
        bb.put(d2, "}")
      end)
    end, mblocked and "ib", mblocked and "ie")
    group_loops(b, d, groups, function(d2, g)
      local i0 = mblocked and "ib" or "0"
      if fill then
        -- (fill=tile) the block's first R-row tile reads W and fills the panel as it goes
        local has = (mblocked and "ie - ib" or "n") .. " >= " .. R
        b.put(d2, "if (" .. has .. ") {")
        b.put(d2 + 1, "const int i = " .. i0 .. ";")
        tile(b, d2 + 1, R, g, count, true)
        b.put(d2, "} else {")
        pack_panel(b, d2 + 1, a, isa, g, count, kblocked)
        b.put(d2, "}")
        i0 = has .. " ? " .. (mblocked and "ib + " or "") .. R .. " : " .. i0
      else
        pack_panel(b, d2, a, isa, g, count, kblocked)
      end
      row_loop(b, d2, R, function(bb, d3, rows) tile(bb, d3, rows, g, count) end, i0, mblocked and "ie")
    end)
  end
  local function kblock(d, count)
    if mblocked then
      b.put(d, "for (int ib = 0; ib < n; ib += " .. MC .. ") {")
      b.put(d + 1, "const int ie = n - ib < " .. MC .. " ? n : ib + " .. MC .. ";")
      rows_block(d + 1, count)
      b.put(d, "}")
    else
      rows_block(d, count)
    end
  end
  if kblocked then
    k_runs(b, 1, a.K, kc, kblock, "kb")
  else
    b.put(1, "{")
    kblock(2, a.K)
    b.put(1, "}")
  end
end

-- Whether a training build of step s (a linear layer and the activation fused after it)
-- leaves z unwritten: nothing reads it when the activation's
-- derivative comes from the step's output a (plan.mask_from_output: relu without a shift,
-- tanh, sigmoid). matmul_xw then gets y = a (layer.lua: ctx.mask_unread): the sums go
-- to a, f(sums) over them, so z's rows (784-256-10 B=256: 256 KB) are not streamed to L2
-- and back. gen/schedule.lua's decide asks; plan.lua documents z as not written.
function M.z_unread(s)
  return s.act ~= nil and plan.mask_from_output(s.act)
end

-- y [n][N] = x [n][K] · W [K][N] + b, then a = f(y) when a.act. Batch 1 is
-- gen/kernels/stream.lua's; otherwise the schedule's tiling (a.tiling, else
-- schedule.tiling) chooses the tile width, the loop order, packing and the block of the
-- reduction; the tiles are unrolled, the column blocks and rows are loops.
function M.matmul_xw(a, isa)
  local b = buffer()
  local V = isa.width
  local one = stream.xw(a, isa)   -- batch 1: gen/kernels/stream.lua
  if one then return one end
  local tp = schedule.tiling_for(isa, "xw", a)
  local plan = column_plan(isa, a.N, a.batch, a.K, tp.vecs)
  local blks = plan.blocks
  local R = tile_rows(isa, #blks[1], a.batch)
  local groups = column_groups(blks, V)
  local depth = tp.order == "depth"
  local cols = tp.order == "columns" or tp.pack or depth
  local kc = cols and math.min(tp.kc or a.K, a.K) or a.K
  local kblocked = kc < a.K
  -- x packed too (tiling mc): loops kc block, mc block of rows, column block
  local MC = tp.pack and a.batch and math.min(tp.mc or 0, a.batch) or 0
  local packx = MC > 0
  local mblocked = packx and MC < a.batch
  -- the next W panel prefetched from the tiles (tiling pf; x packed: huge layers)
  local prefetch = packx and tp.pf and isa.prefetch and true or false
  local N16 = a.N % 16
  -- the floats of a panel row (from its first) whose cache lines a prefetch of the row
  -- names: one per line, and one more when rows are not on line boundaries
  local function panel_lines(g)
    local lines = {}
    for l = 0, g.width - 1, 64 // 4 do lines[#lines + 1] = l end
    if g.width % 16 ~= 0 or N16 ~= 0 then lines[#lines + 1] = g.width - 1 end
    return lines
  end
  -- (schedule.XW_FILL_PREFETCH, x not packed, W and x within L2: schedule.xw_whole_k) the
  -- filling tile's hints for the block's row of W XW_FILL_AHEAD rows ahead (W's last row past
  -- the end), one per cache line it spans
  local fill_ahead = schedule.pick(isa, "XW_FILL_PREFETCH") and isa.prefetch and not packx and schedule.xw_whole_k(isa, a) and function(g)
    local row = (kblocked and "kb + " or "") .. "k + " .. schedule.XW_FILL_AHEAD
    local q = {"const float *wa = " .. a.w .. " + (" .. row .. " < " .. a.K .. " ? " .. row .. " : " .. a.K - 1 .. ") * " .. a.N .. " + j0;"}
    for _, l in ipairs(panel_lines(g)) do q[#q + 1] = isa.prefetch(l == 0 and "wa" or "wa + " .. l) end
    return "{ " .. table.concat(q, " ") .. " }"
  end
  b.put(1, "/* register tiles: " .. R .. " rows x " .. #blks[1] .. " vectors of " .. V
    .. (cols and (depth and kblocked and "; k-blocks outer" or "; column blocks outer") or "; row tiles outer")
    .. (tp.pack and ", each panel of W packed" or "")
    .. (packx and ", x packed " .. MC .. " rows at a time" or "")
    .. (prefetch and ", the next panel prefetched" or "")
    .. (kblocked and ", " .. kc .. " inputs at a time" or "")
    .. (plan.tail > 0 and "; columns " .. plan.tail0 .. ".." .. a.N - 1 .. " as dot products over k" or "") .. " */")
  if plan.tail > 0 then copy_tail(b, 1, "wtl", a.w, a.K, a.N, plan.tail0, plan.tail) end
  if tp.pack then b.put(1, "_Alignas(64) float pw[" .. kc * #blks[1] * V .. "];") end
  if packx then b.put(1, "_Alignas(64) float px[" .. kc * MC .. "];") end
  local function store_act(b2, d2, r, off, c, lanes)
    local yo = "(i + " .. r .. ") * " .. a.y_ld .. " + " .. off
    local ao = "(i + " .. r .. ") * " .. a.act.out_ld .. " + " .. off
    local v = lanes and epilogue.forward(a.act, isa, c)
    if v then
      b2.put(d2, vstore(isa, a.act.out, ao, v, lanes))
    elseif lanes then
      -- no vector spelling: lane by lane from the y just stored, while it is in L1
      b2.put(d2, "for (int l = 0; l < " .. lanes .. "; l++) " .. a.act.out .. "[" .. ao .. " + l] = "
        .. epilogue.forward_scalar(a.act, a.y .. "[" .. yo .. " + l]") .. ";")
    else
      b2.put(d2, a.act.out .. "[" .. ao .. "] = " .. epilogue.forward_scalar(a.act, c) .. ";")
    end
  end
  -- (y is a itself, z unread: z_unread) f(c) alone where it is spelled from the register
  local function store_out(b2, d2, r, off, c, lanes, no_act)
    local final = a.act and not no_act
    if not (final and a.y == a.act.out and (not lanes or epilogue.forward(a.act, isa, c))) then
      local yo = "(i + " .. r .. ") * " .. a.y_ld .. " + " .. off
      b2.put(d2, lanes and vstore(isa, a.y, yo, c, lanes) or a.y .. "[" .. yo .. "] = " .. c .. ";")
    end
    if final then store_act(b2, d2, r, off, c, lanes) end
  end
  -- one register tile of `rows` rows over the group's block at column j0, inputs kb ..
  -- kb+count-1 (kb only when the reduction is blocked: then the sums start from y after
  -- the first block and the activation waits for the last); `fill`: read W itself and
  -- store each vector into the packed panel (tiling fill=tile, the block's first tile)
  -- `spread`: (a tile after the filling one) one row of the next panel prefetched every
  -- tp.spread k steps, rows pr < pn from wn (declared by the k block: spread_decl)
  local function tile_inline(bb, d, rows, g, count, fill, spread)
    reduce_tile(bb, d, isa, rows, g.vecs, {
      var = "k", count = count,
      pre = function(b2, d2)
        if packx then
          b2.put(d2, "const float *restrict xr = px + (i" .. (mblocked and " - ib" or "") .. ") * " .. count .. ";")
        else
          b2.put(d2, "const float *restrict xr = " .. a.x .. " + i * " .. a.x_ld .. (kblocked and " + kb" or "") .. ";")
        end
        if prefetch then
          -- the next panel of this k block, or (after the last) row starts: inside W
          b2.put(d2, "const float *wn = " .. a.w .. " + (j0 + " .. 2 * g.width .. " <= " .. a.N .. " ? j0 + " .. g.width .. " : 0);")
        end
        if kblocked and a.b then
          -- the sums start from the bias (every row: stride 0) or from y's partial sums
          b2.put(d2, "const float *ci = kb == 0 ? " .. a.b .. " + j0 : " .. a.y .. " + i * " .. a.y_ld .. " + j0;")
          if rows > 1 then b2.put(d2, "const int cs = kb == 0 ? 0 : " .. a.y_ld .. ";") end
        elseif kblocked then
          -- (no bias) from zero or from y's partial sums
          b2.put(d2, "const float *ci = " .. a.y .. " + i * " .. a.y_ld .. " + j0;")
        end
      end,
      init = function(v, r)
        local vec = g.vecs[v]
        if not kblocked then return a.b and vload(isa, a.b, jplus(vec.off), vec.lanes) or isa.zero() end
        if not a.b then
          return "kb == 0 ? " .. isa.zero() .. " : " .. vload(isa, "ci", lin(r, a.y_ld, vec.off), vec.lanes)
        end
        return vload(isa, "ci", (r == 0 and "" or r .. " * cs + ") .. vec.off, vec.lanes)
      end,
      brow = function(k)
        if tp.pack and not fill then return "pw + " .. k .. " * " .. g.width end
        return at(a.w, "(" .. (kblocked and "kb + " or "") .. k .. ") * " .. a.N .. " + j0")
      end,
      aligned = tp.pack and not fill,
      copy = fill and function(v, vec, w)
        local st = astore(isa, "pw", "k * " .. g.width .. " + " .. vec.off, w)
        if v == 1 and fill_ahead then st = fill_ahead(g) .. " " .. st end
        return st
      end,
      a = function(r, k)
        if packx then return "xr[" .. k .. " * " .. rows .. (r == 0 and "" or " + " .. r) .. "]" end
        return "xr[" .. (r == 0 and "" or lin(r, a.x_ld) .. " + ") .. k .. "]"
      end,
      finish = function(b2, d2, r, _, vec, c) store_out(b2, d2, r, jplus(vec.off), c, vec.lanes, kblocked) end,
      -- (k blocked) the activation after the last k block from the registers, instead of a
      -- pass over all of y (z and a 2 x 256 KB at 784x1024 B=64; rows 4 KB apart, so the
      -- pass's loads and stores fall into a few L1 sets: 2.3 % of that forward on Zen 5)
      post = kblocked and a.act and function(b2, d2, rows, vecs)
        b2.put(d2, "if (kb + " .. count .. " == " .. a.K .. ") {")
        for r = 0, rows - 1 do
          for v, vec in ipairs(vecs) do store_act(b2, d2 + 1, r, jplus(vec.off), string.format("c%d_%d", r, v - 1), vec.lanes) end
        end
        b2.put(d2, "}")
      end or nil,
      head = spread and function(k)
        local q = {}
        for _, l in ipairs(panel_lines(g)) do
          -- (rows on line boundaries, blocks at whole vectors of V <= 16 floats: a line
          -- start within V floats of the row's end shares its line with the last float,
          -- which panel_lines lists unless the block is whole lines: then every line)
          if N16 ~= 0 or g.width % 16 == 0 or l == g.width - 1 or l < g.width - V then
            q[#q + 1] = isa.prefetch("wn + pr * " .. a.N .. (l == 0 and "" or " + " .. l))
          end
        end
        return "if ((" .. k .. " & " .. tp.spread - 1 .. ") == 0 && pr < pn) { " .. table.concat(q, " ") .. " pr++; }"
      end or nil,
      extra = prefetch and {init = function() end, finish = function() end, step = function(k)
        -- the next panel's row k, one hint per cache line, while this panel's tiles run
        -- (its rows a whole row stride apart: the copy would otherwise wait on each line)
        local row = "(" .. (kblocked and "kb + " or "") .. k .. ") * " .. a.N
        local q = {}
        for _, l in ipairs(panel_lines(g)) do q[#q + 1] = isa.prefetch("wn + " .. row .. (l == 0 and "" or " + " .. l)) end
        return table.concat(q, " ")
      end} or nil,
    })
  end
  -- compact: the tile as a shared function whose strides and counts are arguments (the
  -- closures above read `a`, so the parameters' names stand in for it while it is written)
  local function tile(bb, d, rows, g, count, fill, spread)
    if not compact or fill then return tile_inline(bb, d, rows, g, count, fill, spread) end
    local real = a
    local sym = {N = "N", K = "K", x_ld = "ldx", y_ld = "ldy",
                 act = a.act and setmetatable({out_ld = "lda"}, {__index = a.act})}
    local ps = shared.pointers({a.x, "px", "pw", a.w, a.b}, {a.y, a.act and a.act.out})
    shared.ints(ps, {{"i", "i"}, {"j0", "j0"}, {"kb", "kb"}, {"ib", "ib"}, {"kc", count}, {"N", a.N}, {"K", a.K},
                     {"ldx", a.x_ld}, {"ldy", a.y_ld}, {"lda", a.act and a.act.out_ld}})
    shared.call(bb, d, "xw", ps, function(b1, d1)
      a = setmetatable(sym, {__index = real})
      tile_inline(b1, d1, rows, g, "kc", fill)
      a = real
    end)
  end
  local function tail_tiles(bb, d, rows)
    M.dot_tile(bb, d, isa, rows, plan.tail, a.K, a.x .. " + i * " .. a.x_ld, a.x_ld, "wtl", function(b2, d2, r, c, sum)
      local j = plan.tail0 + c
      b2.put(d2, "{ const float s = " .. sum .. (a.b and " + " .. a.b .. "[" .. j .. "]" or "") .. ";")
      store_out(b2, d2 + 1, r, j, "s", nil)
      b2.put(d2, "}")
    end)
  end
  if not cols then
    row_loop(b, 1, R, function(bb, d, rows)
      group_loops(bb, d, groups, function(d2, g) tile(bb, d2, rows, g, a.K) end)
      if plan.tail > 0 then tail_tiles(bb, d, rows) end
    end)
    return b.text()
  end
  if packx then
    xw_packed_x(b, a, isa, R, MC, kc, groups, tile, tp.fill == "tile" and not compact)
    if plan.tail > 0 then row_loop(b, 1, R, tail_tiles) end
    return b.text()
  end
  -- fill=tile: the first R-row tile fills the panel (a batch below R: the copy loop). Not in
  -- compact code: a filling tile is written in place per layer, the copy loop is shared
  local fill = tp.pack and tp.fill == "tile" and not compact
  -- one k-block of column block g: its panel packed (by the first R-row tile with fill, or
  -- the copy loop), then every row tile over it (sp: each tile also copies a share of the
  -- next panel, below)
  local function panel_rows(d2, g, count, sp)
    if fill then
      b.put(d2, "if (n >= " .. R .. ") {")
      b.put(d2 + 1, "const int i = 0;")
      tile(b, d2 + 1, R, g, count, true)
      b.put(d2, "} else {")
      pack_panel(b, d2 + 1, a, isa, g, count, kblocked)
      b.put(d2, "}")
    elseif tp.pack then
      pack_panel(b, d2, a, isa, g, count, kblocked)
    end
    row_loop(b, d2, R, function(bb, d3, rows) tile(bb, d3, rows, g, count, false, sp) end, fill and "n >= " .. R .. " ? " .. R .. " : 0")
  end
  if depth and kblocked and tp.pack then
    -- k-blocks outer with packed panels (schedule.xw_depth: x larger than the L2): every
    -- column block's panel of a kc-row slab of W in turn, so the slab's kc columns of x,
    -- which every column block reads, stay in L2 instead of all of x streaming past once
    -- per column block; the partial sums carried in y, the activation from the registers
    -- after the last slab
    k_runs(b, 1, a.K, kc, function(d, count)
      group_loops(b, d, groups, function(d2, g) panel_rows(d2, g, count) end)
    end, "kb")
    if plan.tail > 0 then row_loop(b, 1, R, tail_tiles) end
    return b.text()
  end
  if depth and kblocked then
    -- k-blocks outer: every column block of a kc-row slab of W in turn, so W is read once
    -- and in order (its rows contiguous), the partial sums carried in y
    k_runs(b, 1, a.K, kc, function(d, count)
      group_loops(b, d, groups, function(d2, g)
        row_loop(b, d2, R, function(bb, d3, rows) tile(bb, d3, rows, g, count) end)
      end)
    end, "kb")
    if plan.tail > 0 then row_loop(b, 1, R, tail_tiles) end
    return b.text()
  end
  local spread = fill and (tp.spread or 0) > 0
  -- (spread) the next panel: the next k block of this column block, else the next column
  -- block's first (none after the last whole block: a narrower one may follow); wn stays
  -- inside W
  local function spread_decl(d2, g, count)
    local nextj = "j0 + " .. 2 * g.width .. " <= " .. a.N .. " ? " .. kc .. " : 0"
    if kblocked then
      local nextk, rest = "kb + " .. count .. " < " .. a.K, a.K .. " - kb - " .. count
      b.put(d2, "const float *wn = " .. a.w .. " + (" .. nextk .. " ? (kb + " .. count .. ") * " .. a.N
        .. " + j0 : j0 + " .. g.width .. ");")
      b.put(d2, "const int pn = " .. nextk .. " ? (" .. rest .. " < " .. kc .. " ? " .. rest .. " : " .. kc .. ") : " .. nextj .. ";")
    else
      b.put(d2, "const float *wn = " .. a.w .. " + j0 + " .. g.width .. ";")
      b.put(d2, "const int pn = " .. nextj .. ";")
    end
    b.put(d2, "int pr = 0;")
  end
  group_loops(b, 1, groups, function(d, g)
    -- (spread: in blocks of the full tile width only; the narrower last block of 784x256
    -- B=32 ran 1-3 % slower with it)
    local sp = spread and #g.vecs == tp.vecs
    local function kblock(d2, count)
      if sp then spread_decl(d2, g, count) end
      panel_rows(d2, g, count, sp)
    end
    if kblocked then
      k_runs(b, d, a.K, kc, kblock, "kb")
    else
      kblock(d, a.K)
    end
  end)
  if plan.tail > 0 then row_loop(b, 1, R, tail_tiles) end
  return b.text()
end

-- rows × t dot products of length K: row r of xr (stride ld) with row c of wt [t][K],
-- vectorised along K (partial last vector), summed in a fixed order; done(b, d, r, c,
-- sum_expr) stores each. xr is the C expression of row 0's start.
function M.dot_tile(b, d, isa, rows, t, K, xr, ld, wt, done)
  local V = isa.width
  local per = math.max(1, isa.acc_regs // t)
  for r0 = 0, rows - 1, per do
    local rn = math.min(per, rows - r0)
    b.put(d, "{")
    b.put(d + 1, "const float *restrict xq = " .. xr .. ";")
    for r = r0, r0 + rn - 1 do
      local decl = {}
      for c = 0, t - 1 do decl[#decl + 1] = "t" .. r .. "_" .. c .. " = " .. isa.zero() end
      b.put(d + 1, isa.vtype .. " " .. table.concat(decl, ", ") .. ";")
    end
    local function step(dd, k, lanes)
      local ws = {}
      for c = 0, t - 1 do ws[#ws + 1] = "u" .. c .. " = " .. vload(isa, wt, (c == 0 and "" or c * K .. " + ") .. k, lanes) end
      b.put(dd, "const " .. isa.vtype .. " " .. table.concat(ws, ", ") .. ";")
      for r = r0, r0 + rn - 1 do
        local s = {"const " .. isa.vtype .. " v = " .. vload(isa, "xq", (r == 0 and "" or r * ld .. " + ") .. k, lanes) .. ";"}
        for c = 0, t - 1 do
          local acc = "t" .. r .. "_" .. c
          s[#s + 1] = acc .. " = " .. isa.fma("v", "u" .. c, acc) .. ";"
        end
        b.put(dd, "{ " .. table.concat(s, " ") .. " }")
      end
    end
    local kf = K // V * V
    if kf > 0 then
      b.put(d + 1, "for (int k = 0; k < " .. kf .. "; k += " .. V .. ") {")
      step(d + 2, "k", V)
      b.put(d + 1, "}")
    end
    if K > kf then
      b.put(d + 1, "{")
      step(d + 2, kf, K - kf)
      b.put(d + 1, "}")
    end
    for r = r0, r0 + rn - 1 do
      for c = 0, t - 1 do done(b, d + 1, r, c, isa.hsum("t" .. r .. "_" .. c)) end
    end
    b.put(d, "}")
  end
end

-- gwt's form "gt" (schedule.lua's gwt_form): dxᵀ = W · gᵀ, register tiles of R rows of W
-- (broadcast along j, read in place) x 2 vectors of batch rows. g is transposed once into
-- a.scratch (the weight gradient's memory, written only after this product) as slices of
-- L = 2 vectors of rows, [slice][N][L], rows past n zero; each k-block's sums stay in dt
-- [KB][slices·L] on the stack across the blocks of SJC outputs, then go to dx through the
-- ISA's square transpose, times f'(m). Each dx element is the same FMA chain as the "wt"
-- form's (j ascending from 0), so the same bits; what goes is the transposes of W.
local function gwt_gt(a, isa, tp)
  local b = buffer()
  local V, T = isa.width, isa.transpose_n
  local L = schedule.GWT_GT_VECS * V
  local BP = schedule.gwt_gt_rows(isa, a.batch)   -- the batch in whole slices of L rows
  local R = math.max(1, math.min(isa.max_rows, isa.acc_regs // schedule.GWT_GT_VECS, tp.rows))
  local KB = schedule.gwt_gt_kb(isa, R)
  local SJC = math.min(a.N, math.max(1, schedule.GWT_GT_SLICE_BYTES // (4 * L)))
  local N, NT, SL = a.N, a.N // T * T, a.N * L
  local vecs = vectors(L, V)
  b.put(1, "/* dx^T = W g^T: register tiles of " .. R .. " rows of W x " .. #vecs .. " vectors of " .. V
    .. " rows of g; g transposed into the weight gradient's memory first (written after), "
    .. KB .. " inputs x " .. SJC .. " outputs at a time */")
  b.put(1, "float *gt = " .. a.scratch .. ";")
  b.put(1, "_Alignas(64) float dt[" .. KB * BP .. "], tb[" .. T * T .. "]" .. (a.mask and ", tm[" .. T .. "]" or "") .. ";")
  b.put(1, "const int ns = (n + " .. L - 1 .. ") / " .. L .. ", nt = n / " .. T .. " * " .. T .. ";")
  -- gt[s][j][l] = g[s·L + l][j]: whole T x T blocks, then the columns past NT, then the
  -- rows past nt (zeros from n to the end of the last slice)
  local function gti(i, j) return "(" .. i .. ") / " .. L .. " * " .. SL .. " + (" .. j .. ") * " .. L .. " + (" .. i .. ") % " .. L end
  if NT > 0 then
    b.put(1, "for (int i = 0; i < nt; i += " .. T .. ")")
    b.put(2, "for (int j = 0; j < " .. NT .. "; j += " .. T .. ")")
    b.put(3, isa.transpose .. "(gt + " .. gti("i", "j") .. ", " .. L .. ", " .. a.g .. " + i * " .. a.g_ld .. " + j, " .. a.g_ld .. ");")
  end
  if NT < N then
    b.put(1, "for (int i = 0; i < nt; i++)")
    b.put(2, "for (int j = " .. NT .. "; j < " .. N .. "; j++) gt[" .. gti("i", "j") .. "] = " .. a.g .. "[i * " .. a.g_ld .. " + j];")
  end
  b.put(1, "for (int i = nt; i < ns * " .. L .. "; i++)")
  b.put(2, "for (int j = 0; j < " .. N .. "; j++) gt[" .. gti("i", "j") .. "] = i < n ? " .. a.g .. "[i * " .. a.g_ld .. " + j] : 0.0f;")
  local function kblock(d, kn)
    local function jblock(dj, jn)
      local jb = SJC < N and "jb" or "0"
      b.put(dj, "for (int sl = 0; sl < ns; sl++) {")
      b.put(dj + 1, "const float *restrict gs = gt + sl * " .. SL .. (jb == "0" and "" or " + jb * " .. L) .. ";")
      b.put(dj + 1, "float *ds = dt + sl * " .. L .. ";")
      row_loop(b, dj + 1, R, function(bb, dd, rows)
        reduce_tile(bb, dd, isa, rows, vecs, {
          var = "j", count = jn,
          pre = function(b2, d2)
            b2.put(d2, "const float *wr = " .. a.w .. " + (kb + i) * " .. N .. (jb == "0" and "" or " + jb") .. ";")
          end,
          init = SJC < N and function(v, r)
            return "jb == 0 ? " .. isa.zero() .. " : " .. aload(isa, "ds", "(i + " .. r .. ") * " .. BP .. " + " .. vecs[v].off)
          end or nil,
          brow = function(j) return "gs + " .. j .. " * " .. L end,
          aligned = true,
          a = function(r, j) return "wr[" .. (r == 0 and "" or r * N .. " + ") .. j .. "]" end,
          finish = function(b2, d2, r, _, vec, c)
            b2.put(d2, astore(isa, "ds", "(i + " .. r .. ") * " .. BP .. " + " .. vec.off, c))
          end,
        })
      end, nil, kn)
      b.put(dj, "}")
    end
    if SJC < N then k_runs(b, d, N, SJC, jblock, "jb") else jblock(d, N) end
    -- dx[i][kb + r] = dt[r][i] · f'(m): T x T blocks through tb, then the rest one by one
    local function out(v, i, r)
      if not a.mask then return v end
      return epilogue.grad(a.mask_act, isa, v, vload(isa, a.mask, i .. " * " .. a.mask_ld .. " + kb + " .. r, V))
    end
    local ktv = type(kn) == "number" and kn // T * T or "(" .. kn .. ") / " .. T .. " * " .. T
    b.put(d, "const int kt = " .. ktv .. ";")
    b.put(d, "for (int r = 0; r < kt; r += " .. T .. ")")
    b.put(d + 1, "for (int i = 0; i < nt; i += " .. T .. ") {")
    b.put(d + 2, isa.transpose .. "(tb, " .. T .. ", dt + r * " .. BP .. " + i, " .. BP .. ");")
    b.put(d + 2, "for (int q = 0; q < " .. T .. "; q++)")
    b.put(d + 3, isa.store(a.dx, "(i + q) * " .. a.dx_ld .. " + kb + r", out(aload(isa, "tb", "q * " .. T), "(i + q)", "r")))
    b.put(d + 1, "}")
    -- the rest through tb as whole vectors too, so f' is the same vector operation (the
    -- same bits as the "wt" form's): rows past nt by T inputs, then inputs past kt
    b.put(d, "for (int i = nt; i < n; i++)")
    b.put(d + 1, "for (int r = 0; r < kt; r += " .. T .. ") {")
    b.put(d + 2, "for (int q = 0; q < " .. T .. "; q++) tb[q] = dt[(r + q) * " .. BP .. " + i];")
    b.put(d + 2, isa.store(a.dx, "i * " .. a.dx_ld .. " + kb + r", out(aload(isa, "tb", 0), "i", "r")))
    b.put(d + 1, "}")
    b.put(d, "if (kt < " .. kn .. ")")
    b.put(d + 1, "for (int i = 0; i < n; i++) {")
    if a.mask then
      b.put(d + 2, "for (int q = 0; q < " .. T .. "; q++) {")
      b.put(d + 3, "tb[q] = kt + q < " .. kn .. " ? dt[(kt + q) * " .. BP .. " + i] : 0.0f;")
      b.put(d + 3, "tm[q] = kt + q < " .. kn .. " ? " .. a.mask .. "[i * " .. a.mask_ld .. " + kb + kt + q] : 0.0f;")
      b.put(d + 2, "}")
      b.put(d + 2, astore(isa, "tb", 0, epilogue.grad(a.mask_act, isa, aload(isa, "tb", 0), aload(isa, "tm", 0))))
      b.put(d + 2, "for (int q = 0; kt + q < " .. kn .. "; q++) " .. a.dx .. "[i * " .. a.dx_ld .. " + kb + kt + q] = tb[q];")
    else
      b.put(d + 2, "for (int q = 0; kt + q < " .. kn .. "; q++) " .. a.dx .. "[i * " .. a.dx_ld .. " + kb + kt + q] = dt[(kt + q) * " .. BP .. " + i];")
    end
    b.put(d + 1, "}")
  end
  k_runs(b, 1, a.K, KB, kblock, "kb")
  return b.text(), true
end

-- dx [n][K] = g [n][N] · Wᵀ, times f'(m) of the previous activation when a.mask. W [K][N]
-- is read one block of KB inputs x jc outputs at a time into a transposed copy wt [jc][KB]
-- on the stack (the tiling's jc), so the tile loads W along k; when N > jc the sums over
-- j are carried in dx from one block to the next and f' is applied after the last.
function M.matmul_gwt(a, isa)
  local tp = schedule.tiling_for(isa, "gwt", a)
  -- (gt needs the scratch, which layer.lua gives; not in compact code: its tiles are not
  -- shared functions)
  if tp.form == "gt" and a.scratch and not compact then return gwt_gt(a, isa, tp) end
  local b = buffer()
  local V = isa.width
  local kv = tp.vecs
  local KB = kv * V
  local R = tile_rows(isa, kv, a.batch, tp.rows)
  local JC = math.min(tp.jc, a.N)
  local jblocked = JC < a.N
  b.put(1, "/* register tiles: " .. R .. " rows x " .. kv .. " vectors of " .. V
    .. "; W transposed " .. KB .. " inputs x " .. JC .. " outputs at a time */")
  b.put(1, "_Alignas(64) float wt[" .. JC * KB .. "];")
  local function dxo(row, k0, off) return row .. " * " .. a.dx_ld .. " + " .. k0 .. " + " .. off end
  local function block(d, k0, width)
    local vecs = vectors(width, V)
    local function jblock(dj, jn)
      local jb = jblocked and "jb + " or ""
      -- wt[j][kk] = w[k0 + kk][jb + j]: whole T x T blocks with the ISA's register
      -- transpose, the rest (and ISAs without one) element by element
      -- (jn: a number, or the C variable of k_runs' short last block)
      local T = isa.transpose_n
      -- (shared: the block's width and its whole T-blocks are arguments too, so every
      -- k block of every layer is one function; a loop may then run zero times)
      leaf(b, dj, "gwt_wt", a, {N = "N"}, {a.w}, {"wt"}, {{"k0", k0}, {"jb", "jb"}, {"jn", jn}, {"N", a.N},
           {"wd", width}, {"kt", isa.transpose and width // T * T or nil}}, function(b, dj, a, sh)
        local jn = sh and "jn" or jn
        local width = sh and "wd" or width
        local rt = type(jn) == "string"
        local jt, kt = 0, 0
        if isa.transpose then
          jt, kt = rt and "(" .. jn .. " / " .. T .. " * " .. T .. ")" or jn // T * T, sh and "kt" or width // T * T
        end
        if (rt or jt > 0) and (sh or kt > 0) then
          b.put(dj, "for (int j = 0; j < " .. jt .. "; j += " .. T .. ")")
          b.put(dj + 1, "for (int kk = 0; kk < " .. kt .. "; kk += " .. T .. ")")
          b.put(dj + 2, isa.transpose .. "(wt + j * " .. KB .. " + kk, " .. KB .. ", " .. a.w .. " + (" .. k0 .. " + kk) * "
            .. a.N .. " + " .. jb .. "j, " .. a.N .. ");")
        else
          jt, kt = 0, 0
        end
        if not sh and not rt and kt == 0 and jn < V and width >= V and isa.gather and isa.index then
          -- fewer outputs than lanes (a classifier's head): rows kk < width // V * V by one
          -- gather of V rows (stride N) per column, instead of V scalar copies (784-50-10
          -- avx512, layer 2 backward 1.63 -> 1.52 us); the same values, so the same bits
          kt = width // V * V
          local iv, it = shared.row_index(isa, a.N)
          b.put(dj, "{")
          b.put(dj + 1, "const " .. it .. " wix = " .. iv .. ";")
          b.put(dj + 1, "for (int j = 0; j < " .. jn .. "; j++)")
          b.put(dj + 2, "for (int kk = 0; kk < " .. kt .. "; kk += " .. V .. ") "
            .. astore(isa, "wt", "j * " .. KB .. " + kk", isa.gather(a.w .. " + (" .. k0 .. " + kk) * " .. a.N
            .. " + " .. jb .. "j", "wix")))
          b.put(dj, "}")
          jt = jn
        end
        if sh or kt < width then   -- rows kk >= kt, every j
          b.put(dj, "for (int kk = " .. kt .. "; kk < " .. width .. "; kk++)")
          b.put(dj + 1, "for (int j = 0; j < " .. jn .. "; j++) wt[j * " .. KB .. " + kk] = "
            .. a.w .. "[(" .. k0 .. " + kk) * " .. a.N .. " + " .. jb .. "j];")
        end
        if (rt or jt < jn) and (sh and isa.transpose or not sh and kt > 0) then   -- columns j >= jt of the rows kk < kt
          b.put(dj, "for (int kk = 0; kk < " .. kt .. "; kk++)")
          b.put(dj + 1, "for (int j = " .. jt .. "; j < " .. jn .. "; j++) wt[j * " .. KB .. " + kk] = "
            .. a.w .. "[(" .. k0 .. " + kk) * " .. a.N .. " + " .. jb .. "j];")
        end
      end)
      row_loop(b, dj, R, function(bb, dd, rows)
        local function emit_tile(bt, dt, count)
        reduce_tile(bt, dt, isa, rows, vecs, {
          var = "j", count = count,
          pre = function(b2, d2)
            b2.put(d2, "const float *restrict gr = " .. a.g .. " + i * " .. a.g_ld .. (jblocked and " + jb" or "") .. ";")
            if jblocked then b2.put(d2, "const float *ci = " .. a.dx .. " + i * " .. a.dx_ld .. " + " .. k0 .. ";") end
          end,
          init = jblocked and function(v, r)
            return "jb == 0 ? " .. isa.zero() .. " : "
              .. vload(isa, "ci", (r == 0 and "" or lin(r, a.dx_ld) .. " + ") .. vecs[v].off, vecs[v].lanes)
          end or nil,
          brow = function(j) return "wt + " .. j .. " * " .. KB end,
          aligned = true,
          a = function(r, j) return "gr[" .. (r == 0 and "" or lin(r, a.g_ld) .. " + ") .. j .. "]" end,
          finish = function(b2, d2, r, _, vec, c)
            local row = "(i + " .. r .. ")"
            local v = c
            if a.mask and not jblocked then
              v = epilogue.grad(a.mask_act, isa, c, vload(isa, a.mask, row .. " * " .. a.mask_ld .. " + " .. k0 .. " + " .. vec.off, vec.lanes))
            end
            b2.put(d2, vstore(isa, a.dx, dxo(row, k0, vec.off), v, vec.lanes))
          end,
        })
        end
        if not compact then return emit_tile(bb, dd, jn) end
        -- compact: a shared function (see matmul_xw's tile)
        local real = a
        local ps = shared.pointers({a.g, "wt", a.mask}, {a.dx})
        shared.ints(ps, {{"i", "i"}, {"jb", "jb"}, {"k0", k0}, {"jn", jn}, {"ldg", a.g_ld}, {"lddx", a.dx_ld},
                         {"ldm", a.mask_ld}})
        shared.call(bb, dd, "gwt", ps, function(b1, d1)
          a = setmetatable({g_ld = "ldg", dx_ld = "lddx", mask_ld = "ldm"}, {__index = real})
          emit_tile(b1, d1, "jn")
          a = real
        end)
      end)
    end
    if not jblocked then return jblock(d, a.N) end
    k_runs(b, d, a.N, JC, jblock, "jb")
    if a.mask then
      -- f'(m) on the finished block, while it is in L1
      leaf(b, d, "gwt_mask", a, {dx_ld = "lddx", mask_ld = "ldm"}, {a.mask}, {a.dx},
           {{"k0", k0}, {"n", "n"}, {"lddx", a.dx_ld}, {"ldm", a.mask_ld}}, function(b, d, sa)
        local ra = a
        a = sa   -- (dxo reads it)
        b.put(d, "for (int i = 0; i < n; i++) {")
        for _, vec in ipairs(vecs) do
          local g = vload(isa, a.dx, dxo("i", k0, vec.off), vec.lanes)
          local m = vload(isa, a.mask, "i * " .. a.mask_ld .. " + " .. k0 .. " + " .. vec.off, vec.lanes)
          b.put(d + 1, "{ const " .. isa.vtype .. " s = " .. g .. ";")
          b.put(d + 2, vstore(isa, a.dx, dxo("i", k0, vec.off), epilogue.grad(a.mask_act, isa, "s", m), vec.lanes))
          b.put(d + 1, "}")
        end
        b.put(d, "}")
        a = ra
      end)
    end
  end
  k_blocks(b, 1, a.K, KB, true, function(d, width) block(d, "k0", width) end)
  return b.text()
end

-- The fused update of one vector v of opt_vectors (vopt_at, or the general update for a
-- partial vector).
local function opt_one(b, d, isa, o, test, wbase, sbase, v)
  if v.lanes == isa.width then   -- gen/optim/vector.lua's vopt_at: one short call
    local ptrs = {}
    for si, st in ipairs(o.states) do ptrs[si] = at(sbase(st), v.o) end
    b.put(d + 1, vopt.at(at(wbase, v.o), ptrs, v.g, o.k))
  else
    local names, decl = {}, {}
    for si, st in ipairs(o.states) do
      names[si] = "s" .. (si - 1)
      local ld = vload(isa, sbase(st), v.o, v.lanes)
      decl[si] = names[si] .. " = " .. (test and test .. " ? " .. ld .. " : " .. isa.zero() or ld)
    end
    local s = {isa.vtype .. " " .. table.concat(decl, ", ") .. ";"}
    -- the new weights in a variable: a partial store may spell its operand twice (NEON)
    s[#s + 1] = "const " .. isa.vtype .. " pn = " .. vopt.call(vload(isa, wbase, v.o, v.lanes), v.g, names, o.k) .. ";"
    s[#s + 1] = vstore(isa, wbase, v.o, "pn", v.lanes)
    s[#s + 1] = vopt.NF .. " = " .. vopt.seen(isa, vopt.NF, v.g) .. ";"
    for si, st in ipairs(o.states) do
      s[#s + 1] = (test and "if (" .. test .. ") " or "") .. vstore(isa, sbase(st), v.o, names[si], v.lanes)
    end
    b.put(d + 1, "{ " .. table.concat(s, " ") .. " }")
  end
end

-- The fused update (a.opt = {kind, w, states, k, optional}: gen/optim/vector.lua's
-- vopt_update) of `vecs` vectors: vecs[i] = {o = offset from the pointers' bases (C text),
-- lanes, g = the gradient vector, row = the tile row (optional: contiguous whole vectors of
-- one row go through one vopt_row<n> call)}; the weights at wbase, each state at sbase(state name).
-- Under the NULL test of an optional w (unless `inside`: already tested) and the optimizer's
-- state test. Each gradient vector also goes into the kernel's NaN/Inf accumulator
-- (vopt.NF, gen/optim/vector.lua); in a shared tile function (o.nf_ptr) that is the caller's,
-- passed as a pointer and held in a local for the tile.
local function opt_vectors(b, d, isa, a, wbase, sbase, vecs, inside, decls)
  local o = a.opt
  local test = vopt.state_test(o.kind)
  b.put(d, (o.optional and not inside and "if (" .. o.w .. " != NULL) " or "") .. "{")
  if decls then b.put(d + 1, decls) end
  if o.nf_ptr then b.put(d + 1, isa.vtype .. " " .. vopt.NF .. " = *" .. o.nf_ptr .. ";") end
  local i = 1
  while i <= #vecs do
    -- a tile row of whole vectors (v.row: the post of matmul_xtg): one vopt_row<n> call
    local j, most = i, #vopt.row_widths(isa, o.kind) + 1
    while vecs[i].row and j < #vecs and j - i + 1 < most and vecs[j + 1].row == vecs[i].row
          and vecs[j + 1].lanes == isa.width do
      j = j + 1
    end
    local row
    if vecs[i].row and vecs[i].lanes == isa.width and j > i then
      local gs, ptrs = {}, {}
      for q = i, j do gs[#gs + 1] = vecs[q].g end
      for si, st in ipairs(o.states) do ptrs[si] = at(sbase(st), vecs[i].o) end
      row = vopt.row(isa, o.kind, at(wbase, vecs[i].o), ptrs, gs, o.k)
    end
    if row then
      b.put(d + 1, row)
      i = j + 1
    else
      opt_one(b, d, isa, o, test, wbase, sbase, vecs[i])
      i = i + 1
    end
  end
  if o.nf_ptr then b.put(d + 1, "*" .. o.nf_ptr .. " = " .. vopt.NF .. ";") end
  b.put(d, "}")
end

-- The kernel's NaN/Inf accumulator: declared at the top of a matmul_xtg whose tiles update
-- the weights, tested once at its end (under the NULL test of an optional w).
local function nf_begin(b, isa, o)
  if o then b.put(1, vopt.nf_decl(isa)) end
end
local function nf_end(b, o)
  if o then b.put(1, (o.optional and "if (" .. o.w .. " != NULL) " or "") .. vopt.nf_merge(o.k)) end
end

-- `head body` as a statement at depth d, under the C test `test` (nil: none); unroll (nil: no)
-- = the loop's constant count, which gcc is asked to write out (shared.gcc_unroll).
local function put_loop(b, d, test, head, body, unroll)
  if not unroll then
    b.put(d, (test and "if (" .. test .. ") " or "") .. head .. " " .. body)
    return
  end
  if test then
    b.put(d, "if (" .. test .. ")")
    d = d + 1
  end
  b.put(0, shared.gcc_unroll(unroll))
  b.put(d, head .. " " .. body)
end

-- The fused update of `count` scattered weights whose gradients are contiguous at tg: the
-- C loop `loop_head` runs l over them, `off` (C text) is weight l's offset in W. W and the
-- states are gathered into stack vectors, updated as vectors, scattered back.
-- gat (one whole vector, on an ISA with gather and scatter: XTG_GATHER): weight l at
-- gat.base + gat.idx(l) (C text), moved by one vector gather and one scatter per tensor
-- instead of V scalar copies each way, whose V stores the vector update then reloaded as
-- one vector (a store-forwarding stall per tile); the same values, so the same bits.
local function opt_gathered(b, d, isa, a, tg, count, loop_head, off, gat, unroll)
  local o = a.opt
  local V = isa.width
  local n = (count + V - 1) // V * V
  local bufs = {"gw"}
  for si = 1, #o.states do bufs[#bufs + 1] = "gs" .. (si - 1) end
  b.put(d, (o.optional and "if (" .. o.w .. " != NULL) " or "") .. "{")
  -- the states only under the optimizer's state test (plain SGD never reads its buffer)
  local test = vopt.state_test(o.kind)
  if gat and count == V and isa.gather and schedule.pick(isa, "XTG_GATHER") then
    -- (the states zeroed: gcc cannot tell the scatter's test is the gather's)
    local decl = {"gw[" .. n .. "]"}
    for si = 2, #bufs do decl[si] = bufs[si] .. "[" .. n .. "] = {0}" end
    b.put(d + 1, "_Alignas(64) float " .. table.concat(decl, ", ") .. ";")
    local idx = {}
    for l = 0, V - 1 do idx[#idx + 1] = gat.idx(l) end
    local iv, it = isa.index(idx)
    b.put(d + 1, "const " .. it .. " gix = " .. iv .. ";")
    local function move(to_w)
      local function one(t, buf)
        local base = t .. " + " .. gat.base
        if to_w then return isa.scatter(base, "gix", aload(isa, buf, 0)) end
        return astore(isa, buf, 0, isa.gather(base, "gix"))
      end
      b.put(d + 1, one(o.w, "gw"))
      local s = {}
      for si, st in ipairs(o.states) do s[#s + 1] = one(st, "gs" .. (si - 1)) end
      if #s > 0 then b.put(d + 1, (test and "if (" .. test .. ") " or "") .. "{ " .. table.concat(s, " ") .. " }") end
    end
    move(false)
    opt_vectors(b, d + 1, isa, a, "gw", function(st)
      for si, s2 in ipairs(o.states) do if s2 == st then return "gs" .. (si - 1) end end
    end, {{o = 0, lanes = V, g = vload(isa, tg, 0, V), row = 0}}, true)
    move(true)
    b.put(d, "}")
    return
  end
  b.put(d + 1, "_Alignas(64) float " .. table.concat(bufs, "[" .. n .. "], ") .. "[" .. n .. "];")
  local function copy(to_w)
    put_loop(b, d + 1, nil, loop_head, to_w and o.w .. "[" .. off .. "] = gw[l];" or "gw[l] = " .. o.w .. "[" .. off .. "];",
             unroll)
    local s = {}
    for si, st in ipairs(o.states) do
      s[#s + 1] = to_w and st .. "[" .. off .. "] = gs" .. (si - 1) .. "[l];"
                        or "gs" .. (si - 1) .. "[l] = " .. st .. "[" .. off .. "];"
    end
    if #s > 0 then put_loop(b, d + 1, test, loop_head, "{ " .. table.concat(s, " ") .. " }", unroll) end
  end
  copy(false)
  local vecs = {}
  for _, v in ipairs(vectors(count, V)) do   -- (row 0: whole vectors go by vopt_row<n>)
    vecs[#vecs + 1] = {o = v.off, lanes = v.lanes, g = vload(isa, tg, v.off, v.lanes), row = 0}
  end
  opt_vectors(b, d + 1, isa, a, "gw", function(st)
    for si, s2 in ipairs(o.states) do if s2 == st then return "gs" .. (si - 1) end end
  end, vecs, true)
  copy(true)
  b.put(d, "}")
end

-- A fused tile's dW (rows x nv accumulators c<r>_<v>; place(r, v) -> its offset from the
-- tile's first element and lanes), stored under one test of dw: NAME_train_step_scratch
-- passes NULL for a weight whose update is in the tiles, and nothing else reads its dW.
local function store_dw_tile(b, d, isa, a, place, rows, nv)
  b.put(d, "if (" .. a.dw .. " != NULL) {")
  b.put(d + 1, "float *dr = " .. a.dw .. " + k0 * " .. a.N .. " + j0;")
  for r = 0, rows - 1 do
    for v = 1, nv do
      local off, lanes = place(r, v)
      b.put(d + 1, vstore(isa, "dr", off, string.format("c%d_%d", r, v - 1), lanes))
    end
  end
  b.put(d, "}")
end

-- Folded tail of matmul_xtg (ISAs with load_rep): when R inputs x t tail columns fill one
-- vector, the tail rides in each main tile as one more accumulator, lane c*R + r holding
-- dW[k0 + r][tail0 + c]: per row i, x[i][k0 .. k0+R) repeated t times (one load) times
-- gp[i] = the t tail gradients each repeated R times (built once). This replaces the
-- separate tail pass, which streams x from L2 once more. Returns reduce_tile's `extra`, or
-- nil when the shape does not fold.
local function folded_tail(b, a, isa, plan, R, xrow)
  local V = isa.width
  local fold = plan.tail > 0 and isa.load_rep and R * plan.tail == V and a.K % R == 0 and a.batch
  if fold then
    local t = plan.tail
    -- each gradient broadcast and stored as a whole vector at its R lanes, in order, so the
    -- next store overwrites the V - R lanes it spilled past them (the last row's spill goes
    -- into the (t-1)R floats of padding). clang -O2 vectorized the former scalar loops
    -- (gp[i V + c R + r] = g[...]) over i with 2 gathers and 16 scatters of 8 floats per 8 rows
    -- on avx512: 784-50-10 B=64 layer-0 weight gradient + update 31.5 -> 31.1 us (Xeon,
    -- thread CPU, 10th percentile of 10 alternated processes; the same values, so the same bits)
    b.put(1, "_Alignas(64) float gp[" .. a.batch * V + (t - 1) * R .. "];   /* row i: tail gradients, each repeated "
      .. R .. " times (then " .. (t - 1) * R .. " floats of the last row's spill) */")
    b.put(1, "for (int i = 0; i < n; i++) {")
    for c = 0, t - 1 do
      b.put(2, isa.store("gp", "i * " .. V .. (c > 0 and " + " .. c * R or ""),
        isa.broadcast(a.g .. "[i * " .. a.g_ld .. " + " .. plan.tail0 + c .. "]")))
    end
    b.put(1, "}")
  end
  return fold and {
    init = function(b2, d2) b2.put(d2, isa.vtype .. " tl = " .. isa.zero() .. ";") end,
    -- gp's row through a size_t index: with an int one clang -O2 spent a mov and an and per
    -- row on it (784x50 on avx512: 44 -> 42 instructions per row; gcc made 42 already)
    step = function(i)
      return "tl = " .. isa.fma(isa.load_rep(xrow and "xk" or a.x .. " + " .. i .. " * " .. a.x_ld .. " + k0", R),
                                isa.load("gp", "(size_t)" .. i .. " * " .. V), "tl") .. ";"
    end,
    finish = function(b2, d2)
      b2.put(d2, "_Alignas(64) float tt[" .. V .. "];")
      b2.put(d2, astore(isa, "tt", 0, "tl"))
      -- lane l = c * R + r is dW[k0 + r][tail0 + c]
      local o = "(k0 + l % " .. R .. ") * " .. a.N .. " + " .. plan.tail0 .. " + l / " .. R
      local head = "for (int l = 0; l < " .. V .. "; l++)"
      put_loop(b2, d2, a.opt and a.dw .. " != NULL", head, a.dw .. "[" .. o .. "] = tt[l];", V)
      if a.opt then
        opt_gathered(b2, d2, isa, a, "tt", V, head, o, {base = "k0 * " .. a.N, idx = function(l)
          local r, c = l % R, plan.tail0 + l // R
          if math.type(a.N) == "integer" then return tostring(r * a.N + c) end
          return (r == 0 and "" or r .. " * " .. a.N .. " + ") .. c
        end}, V)
      end
    end,
  } or nil
end

-- The tail columns of matmul_xtg without folding: tiles of inputs k as vectors x the t
-- columns, reduced over the rows, through a transposed stack block.
local function tail_pass(b, a, isa, plan)
  local V = isa.width
  local t = plan.tail
  local kv = math.max(1, math.min(12, isa.acc_regs // t))
  local KB = kv * V
  local function kblock(d, width)
    local vecs = vectors(width, V)
    b.put(d, "{")
    for c = 0, t - 1 do
      local decl = {}
      for v = 1, #vecs do decl[v] = "u" .. c .. "_" .. (v - 1) .. " = " .. isa.zero() end
      b.put(d + 1, isa.vtype .. " " .. table.concat(decl, ", ") .. ";")
    end
    b.put(d + 1, "for (int i = 0; i < n; i++) {")
    b.put(d + 2, "const float *restrict xi = " .. a.x .. " + i * " .. a.x_ld .. " + k0;")
    local gs = {}
    for c = 0, t - 1 do gs[#gs + 1] = "g" .. c .. " = " .. isa.broadcast(a.g .. "[i * " .. a.g_ld .. " + " .. plan.tail0 + c .. "]") end
    b.put(d + 2, "const " .. isa.vtype .. " " .. table.concat(gs, ", ") .. ";")
    for v, vec in ipairs(vecs) do
      local s = {"const " .. isa.vtype .. " v = " .. vload(isa, "xi", vec.off, vec.lanes) .. ";"}
      for c = 0, t - 1 do
        local u = "u" .. c .. "_" .. (v - 1)
        s[#s + 1] = u .. " = " .. isa.fma("g" .. c, "v", u) .. ";"
      end
      b.put(d + 2, "{ " .. table.concat(s, " ") .. " }")
    end
    b.put(d + 1, "}")
    for c = 0, t - 1 do
      for v, vec in ipairs(vecs) do
        b.put(d + 1, astore(isa, "tt", c * KB + vec.off, "u" .. c .. "_" .. (v - 1)))
      end
    end
    -- (with the update here, dW only when dw is not NULL: see store_dw_tile)
    b.put(d + 1, (a.opt and "if (" .. a.dw .. " != NULL) " or "") .. "for (int kk = 0; kk < " .. width .. "; kk++) {")
    for c = 0, t - 1 do
      local o = "(k0 + kk) * " .. a.N .. " + " .. plan.tail0 + c
      local dv = "tt[" .. (c == 0 and "" or c * KB .. " + ") .. "kk]"
      b.put(d + 2, a.dw .. "[" .. o .. "] = " .. dv .. ";")
    end
    b.put(d + 1, "}")
    if a.opt then
      -- column c of the block: its `width` gradients are contiguous in tt at c * KB
      for c = 0, t - 1 do
        opt_gathered(b, d + 1, isa, a, c == 0 and "tt" or "tt + " .. c * KB, width, "for (int l = 0; l < " .. width .. "; l++)",
                     "(k0 + l) * " .. a.N .. " + " .. plan.tail0 + c)
      end
    end
    b.put(d, "}")
  end
  b.put(1, "{")
  b.put(2, "_Alignas(64) float tt[" .. t * KB .. "];")
  k_blocks(b, 2, a.K, KB, false, kblock)
  b.put(1, "}")
end

-- db [N] = Σ_i g (none without a bias): vectors of sums over the rows, eight vectors at a
-- time (a loop over the blocks of one shape).
local function bias_sums(b0, a0, isa)
  if not a0.db then return end   -- (a layer without a bias)
  group_loops(b0, 1, column_groups(blocks(vectors(a0.N, isa.width), 8), isa.width), function(d0, g)
    leaf(b0, d0, "db", a0, {g_ld = "ldg"}, {a0.g}, {a0.db}, {{"j0", "j0"}, {"n", "n"}, {"ldg", a0.g_ld}}, function(b, d, a)
    local decl = {}
    for v = 1, #g.vecs do decl[v] = "s" .. (v - 1) .. " = " .. isa.zero() end
    b.put(d, isa.vtype .. " " .. table.concat(decl, ", ") .. ";")
    b.put(d, "for (int i = 0; i < n; i++) {")
    for v, vec in ipairs(g.vecs) do
      b.put(d + 1, "s" .. (v - 1) .. " = " .. isa.add("s" .. (v - 1), vload(isa, a.g, "i * " .. a.g_ld .. " + " .. jplus(vec.off), vec.lanes)) .. ";")
    end
    b.put(d, "}")
    for v, vec in ipairs(g.vecs) do b.put(d, vstore(isa, a.db, jplus(vec.off), "s" .. (v - 1), vec.lanes)) end
    end)
  end)
end

-- matmul_xtg for big layers (tiling pack = yes; N a whole number of vectors: where it is
-- not a whole number of tiles, the last block ends in a narrower tile): g is copied,
-- jc columns x nc rows at a time, into an aligned stack buffer gp, each tile's columns
-- rows-contiguous (tile t of the block at t * nc * TW), so a tile reads its part of g in
-- order from L1. Unpacked, a tile reads one line per row at g's row stride, which for a
-- layer whose width is a multiple of 1024 floats puts every row into one cache set, and the
-- k-outer loop reads all of g again for every R inputs. When the batch is larger than nc the
-- reduction over the rows is blocked: the partial sums are kept in dW (stored and reloaded
-- exactly, so the same bits as one pass) and the optimizer's update waits for the last block.
-- The end of matmul_xtg's body: the NaN/Inf flag of the tiles' update (ta.opt), the
-- optimizer's pass over W after the tiles where the tiling puts it there (after), the bias
-- sums; returns the text and whether the tiles updated W.
local function xtg_finish(b, a, ta, isa, after)
  nf_end(b, ta.opt)
  if after then
    b.put(1, "if (" .. a.opt.w .. " != NULL) vopt_tensor(" .. a.opt.w .. ", "
      .. (#a.opt.states > 0 and table.concat(a.opt.states, ", ") .. ", " or "") .. a.dw .. ", " .. a.K * a.N .. ", " .. a.opt.k .. ");")
  end
  bias_sums(b, a, isa)
  return b.text(), ta.opt and true or false
end

local function xtg_packed(b, a, isa, tp)
  local V = isa.width
  local TW = tp.vecs * V
  local R = tile_rows(isa, tp.vecs, nil)
  local JC = math.min(tp.jc, a.N)
  local NC = math.min(tp.nc, a.batch)
  local nblocked = NC < a.batch
  local cnt = nblocked and "nb" or "n"
  -- the blocks of columns: a short last block as a run-time width (k_runs: one copy of the
  -- code), but as a second copy of its own width where N is not a whole number of tiles
  -- (its last tile is narrower: a shape, not a trip count)
  local columns = a.N % TW == 0 and k_runs or function(b2, d, total, step, body, var)
    return k_blocks(b2, d, total, step, true, body, var)
  end
  -- (tiling pf, with the update in the tiles) dW stored after the update: W's lines,
  -- fetched while the tile sums, are read before dW's lines (in the same L1 set when the
  -- row stride is a multiple of 4 KB) can evict them
  local late = tp.pf and a.opt and isa.prefetch and true or false
  -- with the update in the tiles and no partial sums to keep, dW is stored only when dw is
  -- not NULL (store_dw_tile): NAME_train_step_scratch passes NULL
  local skip = a.opt and not nblocked and true or false
  b.put(1, "/* register tiles: " .. R .. " inputs x " .. tp.vecs .. " vectors of " .. V .. "; g packed " .. JC
    .. " columns x " .. NC .. " rows at a time" .. (nblocked and " (partial sums in dW)" or "") .. " */")
  b.put(1, "_Alignas(64) float gp[" .. NC * JC .. "]" .. (tp.xq and ", xq[" .. NC * R .. "]" or "") .. ";")
  nf_begin(b, isa, a.opt)
  local function store_dw(b2, d2, r, vec, c) b2.put(d2, vstore(isa, "dr", r * a.N + vec.off, c, V)) end
  -- one tile of `rows` inputs x tw columns (TW, or the narrower last tile of a ragged block)
  local function tile(d, rows, tw)
    local vecs = vectors(tw, V)
    -- one prefetch per cache line of the tile's rows (addr(r, l): row r, float l of the row)
    local function tile_prefetch(rows2, addr)
      local q = {}
      for r = 0, rows2 - 1 do
        for l = 0, tw - 1, 64 // 4 do q[#q + 1] = isa.prefetch(addr(r, l)) end
      end
      return table.concat(q, " ")
    end
    reduce_tile(b, d, isa, rows, vecs, {
      var = "i", count = cnt,
      brow = function(i) return "gp + (j0 - jb) * " .. NC .. " + " .. i .. " * " .. tw end,
      aligned = true,
      a = function(r, i)
        if tp.xq then return "xq[" .. i .. " * " .. rows .. (r == 0 and "" or " + " .. r) .. "]" end
        return "xr[" .. i .. " * " .. a.x_ld .. (r == 0 and "" or " + " .. r) .. "]"
      end,
      pre = function(b2, d2)
        if not skip then b2.put(d2, "float *dr = " .. a.dw .. " + k0 * " .. a.N .. " + j0;") end
        if not tp.xq then b2.put(d2, "const float *restrict xr = " .. a.x .. (nblocked and " + ib * " .. a.x_ld or "") .. " + k0;") end
        if a.opt and isa.prefetch then
          -- the weights the update will read and write, on their way from L3 or memory
          -- while the tile sums (W is larger than L2 here)
          local q = tile_prefetch(rows, function(r, l)
            return a.opt.w .. " + (k0 + " .. r .. ") * " .. a.N .. " + j0" .. (l == 0 and "" or " + " .. l)
          end)
          b2.put(d2, (nblocked and "if (ib + nb == n && " or "if (") .. a.opt.w .. " != NULL) { " .. q .. " }")
        end
        if tp.pf and isa.prefetch and skip then
          -- (tiling pf) the tile's lines of dW too, so its stores need not wait for them
          b2.put(d2, "if (" .. a.dw .. " != NULL) { " .. tile_prefetch(rows, function(r, l)
            return a.dw .. " + (k0 + " .. r .. ") * " .. a.N .. " + j0" .. (l == 0 and "" or " + " .. l)
          end) .. " }")
        elseif tp.pf and isa.prefetch then
          b2.put(d2, tile_prefetch(rows, function(r, l) return at("dr", r * a.N + l) end))
        end
      end,
      init = nblocked and function(v, r)
        return "ib == 0 ? " .. isa.zero() .. " : " .. vload(isa, "dr", r * a.N + vecs[v].off, V)
      end or nil,
      finish = function(b2, d2, r, _, vec, c)
        if not late and not skip then store_dw(b2, d2, r, vec, c) end
      end,
      post = a.opt and function(b2, d2, rows2)
        local vs = {}
        for r = 0, rows2 - 1 do
          -- (late: a tile row in one vopt_row<n> call, one test of the plain case per row)
          for v, vec in ipairs(vecs) do
            vs[#vs + 1] = {o = r * a.N + vec.off, lanes = V, g = string.format("c%d_%d", r, v - 1), row = late and r or nil}
          end
        end
        local tile0 = " + k0 * " .. a.N .. " + j0"
        local ptrs = {"*wr = " .. a.opt.w .. tile0}
        for _, st in ipairs(a.opt.states) do ptrs[#ptrs + 1] = "*" .. st:sub(1, -2) .. "r = " .. st .. tile0 end
        local function place(r, v) return r * a.N + vecs[v].off, V end
        if skip and not late then store_dw_tile(b2, d2, isa, a, place, rows2, #vecs) end
        if nblocked then b2.put(d2, "if (ib + nb == n)") end
        opt_vectors(b2, d2, isa, a, "wr", function(st) return st:sub(1, -2) .. "r" end, vs, false,
                    "float " .. table.concat(ptrs, ", ") .. ";")
        if skip and late then
          store_dw_tile(b2, d2, isa, a, place, rows2, #vecs)
        elseif late then
          for r = 0, rows2 - 1 do
            for v, vec in ipairs(vecs) do store_dw(b2, d2, r, vec, string.format("c%d_%d", r, v - 1)) end
          end
        end
      end or nil,
    })
  end
  local function jblock(d, width)
    -- this block of g, tile by tile: whole tiles of TW columns, then (a ragged block, N not
    -- a whole number of tiles: width is a number) one tile of the rest's whole vectors
    local whole = type(width) == "number" and width // TW * TW or width
    local rest = type(width) == "number" and width - whole or 0
    local function copy(cols, tw, c0)
      local vs = vectors(tw, V)
      b.put(d, "for (int i = 0; i < " .. cnt .. "; i++)")
      if c0 then
        b.put(d + 1, "{")
        b.put(d + 2, "const int c = " .. c0 .. ";")
      else
        b.put(d + 1, "for (int c = 0; c < " .. cols .. "; c += " .. tw .. ") {")
      end
      for _, vec in ipairs(vs) do
        local src = vload(isa, a.g, "(" .. (nblocked and "ib + " or "") .. "i) * " .. a.g_ld .. " + jb + c + " .. vec.off, V)
        b.put(d + 2, astore(isa, "gp", "c * " .. NC .. " + i * " .. tw .. " + " .. vec.off, src))
      end
      b.put(d + 1, "}")
    end
    if whole ~= 0 then copy(whole, TW) end
    if rest > 0 then copy(rest, rest, whole) end
    k_blocks(b, d, a.K, R, true, function(d2, rows)
      if tp.xq then
        -- this tile's inputs of every row of the block, row-major: the tiles of all the
        -- block's columns broadcast from one contiguous stream instead of a line per row
        -- (the rows are K floats apart: one cache set when K is a multiple of 1024)
        -- (one memcpy of the row's `rows` contiguous floats: whole moves, where the
        -- float-by-float copy became a chain of lane inserts)
        b.put(d2, "for (int i = 0; i < " .. cnt .. "; i++)")
        b.put(d2 + 1, "memcpy(xq + i * " .. rows .. ", " .. a.x .. " + (" .. (nblocked and "ib + " or "") .. "i) * " .. a.x_ld
          .. " + k0, " .. rows .. " * sizeof(float));")
      end
      if whole ~= 0 then
        if whole == TW then
          b.put(d2, "{")
          b.put(d2 + 1, "const int j0 = jb;")
        else
          b.put(d2, "for (int j0 = jb; j0 < jb + " .. whole .. "; j0 += " .. TW .. ") {")
        end
        tile(d2 + 1, rows, TW)
        b.put(d2, "}")
      end
      if rest > 0 then
        b.put(d2, "{")
        b.put(d2 + 1, "const int j0 = jb + " .. whole .. ";")
        tile(d2 + 1, rows, rest)
        b.put(d2, "}")
      end
    end)
  end
  if nblocked then
    b.put(1, "for (int ib = 0; ib < n; ib += " .. NC .. ") {")
    b.put(2, "const int nb = n - ib < " .. NC .. " ? n - ib : " .. NC .. ";")
    columns(b, 2, a.N, JC, jblock, "jb")
    b.put(1, "}")
  else
    columns(b, 1, a.N, JC, jblock, "jb")
  end
  nf_end(b, a.opt)
  bias_sums(b, a, isa)
  return b.text(), skip
end

-- NAME_train_step_scratch's own tiling of the weight gradient a (K, N, batch, tiling), or
-- nil where the scratch step calls the same backward (gen/schedule.lua's scratch_tiling)
function M.xtg_scratch_tiling(a, isa)
  return schedule.scratch_tiling(isa, schedule.tiling_for(isa, "xtg", a))
end

-- dW [K][N] = x [n][K]ᵀ · g [n][N], db [N] = Σ_i g. Tiles of R inputs k × vectors along j,
-- reduced over the n rows; after the tile, a.opt (if given: {kind = optimizer, w = C name
-- of the weights, states = C names of its state tensors, k = the vopt_k pointer, optional =
-- only when w is not NULL}) also applies the optimizer's update (gen/optim/vector.lua)
-- while the tile is in registers. Tail columns (see
-- column_plan) are tiles of inputs k as vectors × the t columns, reduced over the rows.
-- Returns the text and whether, with the update in the tiles, dw may be NULL (dW not kept:
-- not when the update runs after the tiles or partial sums wait in dW between row blocks).
local function xtg_dense(a, isa)
  local b = buffer()
  local V = isa.width
  local tp = schedule.tiling_for(isa, "xtg", a)
  if tp.pack then return xtg_packed(b, a, isa, tp) end
  -- (schedule.XTG_NARROW) all N columns as tiles along k, the update after them or in
  -- them as the tiling says
  if schedule.xtg_narrow(isa, a) and not tp.pack then
    local after = a.opt and tp.update == "after"
    local ta = after and setmetatable({opt = false}, {__index = a}) or a
    b.put(1, "/* columns 0.." .. a.N - 1 .. " as tiles along k (narrower than a vector)"
      .. (after and "; the optimizer's update after the tiles" or "") .. " */")
    nf_begin(b, isa, ta.opt)
    tail_pass(b, ta, isa, {tail = a.N, tail0 = 0})
    return xtg_finish(b, a, ta, isa, after)
  end
  local plan = column_plan(isa, a.N, a.batch, a.K, tp.vecs)
  local blks = plan.blocks
  local R = tile_rows(isa, #blks[1], nil, tp.rows)
  -- fewer inputs per tile when that folds the tail (R x tail = one vector: avx2's 4 x 2
  -- columns against 6-input tiles) and the tiles keep IN_FLIGHT accumulators; the folded
  -- tail saves the tail pass, which streams x from L2 once more for a few columns (784x50
  -- B=64 on Zen 3: the weight gradient 60 -> 59 us, with update=after 58 -> 56.5 us)
  -- Only while g is small (schedule.XTG_FOLD_G_BYTES): every tile streams the rows of g
  -- it reads, so halving R doubles that stream, from L2 once g is past the L1
  local t = plan.tail
  if not tp.rows and t > 0 and isa.load_rep and V % t == 0 and V // t < R and a.K % (V // t) == 0
     and (V // t) * #blks[1] >= schedule.IN_FLIGHT
     and a.batch and 4 * a.batch * a.N <= schedule.XTG_FOLD_G_BYTES then
    R = V // t
  end
  -- update=after: the optimizer runs over the whole of W once the tiles have stored dW
  -- (vopt_tensor, aligned and contiguous) instead of inside each tile (schedule.lua)
  local after = a.opt and tp.update == "after"
  local ta = after and setmetatable({opt = false}, {__index = a}) or a
  b.put(1, "/* register tiles: " .. R .. " inputs x " .. #blks[1] .. " vectors of " .. V
    .. (plan.tail > 0 and "; columns " .. plan.tail0 .. ".." .. a.N - 1 .. " as tiles along k" or "")
    .. (after and "; the optimizer's update after the tiles" or "") .. " */")
  nf_begin(b, isa, ta.opt)
  -- (schedule.XTG_X_ROW) the tile's inputs through a pointer to row i of x at k0, set once
  -- per row: not an integer index per broadcast
  local xrow = schedule.pick(isa, "XTG_X_ROW")
  local extra = folded_tail(b, ta, isa, plan, R, xrow)
  -- (tiling gq) the main columns of g in gq, rows of whole vectors, aligned (schedule.lua)
  local gq = tp.gq and plan.tail > 0 and a.batch and type(a.g_ld) == "number" and a.g_ld % V ~= 0
  local gsrc, gld = a.g, a.g_ld
  if gq then
    local M0 = plan.tail0
    b.put(1, "_Alignas(64) float gq[" .. a.batch * M0 .. "];   /* g's columns 0.." .. M0 - 1 .. ", aligned rows */")
    b.put(1, "for (int i = 0; i < n; i++)")
    b.put(2, "for (int c = 0; c < " .. M0 .. "; c += " .. V .. ") "
      .. astore(isa, "gq", "i * " .. M0 .. " + c", isa.load(a.g, "i * " .. a.g_ld .. " + c")))
    gsrc, gld = "gq", M0
  end
  -- (gq) the tile with the folded tail asks for each row's next line of x (clamped to the row)
  local line = 64 // 4
  local xpf = gq and extra and isa.prefetch and function(var)
    return isa.prefetch(a.x .. " + " .. var .. " * " .. a.x_ld .. " + (k0 + " .. line .. " < " .. a.K .. " ? k0 + " .. line .. " : k0)")
  end or nil
  -- (tiling gpf) each tile prefetches row i + gpf of g (each line of its columns) and of x
  -- (the addresses as integers: past the last row they point nowhere, which a prefetch may,
  -- but pointer arithmetic may not)
  local gpf = tp.gpf and tp.gpf > 0 and not gq and not extra and isa.prefetch and function(var, vecs)
    local s = {}
    local last = vecs[#vecs].off + vecs[#vecs].lanes
    for off = 0, last - 1, line do
      s[#s + 1] = isa.prefetch("(uintptr_t)bk + (uintptr_t)(" .. tp.gpf .. " * " .. a.g_ld .. (off > 0 and " + " .. off or "") .. ") * 4")
    end
    s[#s + 1] = isa.prefetch("(uintptr_t)(" .. a.x .. " + " .. var .. " * " .. a.x_ld .. " + k0) + (uintptr_t)(" .. tp.gpf .. " * " .. a.x_ld .. ") * 4")
    return table.concat(s, " ")
  end or nil
  local groups = column_groups(blks, V)
  if extra and groups[1].count > 1 then
    -- the folded tail rides in the first block only: that block on its own
    local g = groups[1]
    table.insert(groups, 1, {j0 = g.j0, count = 1, width = g.width, vecs = g.vecs, whole = g.whole})
    g.j0, g.count = g.j0 + g.width, g.count - 1
  end
  local function ktile(d, rows)
    local first = true
    group_loops(b, d, groups, function(d2, g)
      local ex = first and extra or nil
      local function emit_tile(bt, dt)
      reduce_tile(bt, dt, isa, rows, g.vecs, {
        extra = ex,
        var = "i", count = "n",
        brow = function(i) return at(gsrc, i .. " * " .. (gq and gld or a.g_ld) .. " + j0") end,
        aligned = gq or nil,
        head = ex and xpf or gpf and function(var) return gpf(var, g.vecs) end or nil,
        arow = xrow and function(i) return "const float *restrict xk = " .. a.x .. " + " .. i .. " * " .. a.x_ld .. " + k0;" end or nil,
        a = function(r, i)
          if xrow then return "xk[" .. r .. "]" end
          return a.x .. "[" .. i .. " * " .. a.x_ld .. " + k0" .. (r == 0 and "" or " + " .. r) .. "]"
        end,
        -- dr: the tile's first element of dW (row r at r * N from it); with the update in the
        -- tiles, dW is stored (in post) only when dw is not NULL (NAME_train_step_scratch)
        pre = not ta.opt and function(b2, d3) b2.put(d3, "float *dr = " .. a.dw .. " + k0 * " .. a.N .. " + j0;") end or nil,
        finish = function(b2, d3, r, _, vec, c)
          if not ta.opt then b2.put(d3, vstore(isa, "dr", lin(r, a.N, vec.off), c, vec.lanes)) end
        end,
        -- the optimizer's update of the whole tile (gen/optim/vector.lua) under one test of wu
        post = ta.opt and function(b2, d3, rows2, vecs2)
          store_dw_tile(b2, d3, isa, a, function(r, v) return lin(r, a.N, vecs2[v].off), vecs2[v].lanes end, rows2, #vecs2)
          local vs = {}
          for r = 0, rows2 - 1 do
            for v, vec in ipairs(vecs2) do
              vs[#vs + 1] = {o = lin(r, a.N, vec.off), lanes = vec.lanes, g = string.format("c%d_%d", r, v - 1), row = r}
            end
          end
          -- the tile's first weight and state elements (row r at r * N from them)
          local tile0 = " + k0 * " .. a.N .. " + j0"
          local ptrs = {"*wr = " .. a.opt.w .. tile0}
          for _, st in ipairs(a.opt.states) do ptrs[#ptrs + 1] = "*" .. st:sub(1, -2) .. "r = " .. st .. tile0 end
          opt_vectors(b2, d3, isa, a, "wr", function(st) return st:sub(1, -2) .. "r" end, vs, false,
                      "float " .. table.concat(ptrs, ", ") .. ";")
        end or nil,
      })
      end
      first = false
      if not compact or ex then return emit_tile(b, d2) end
      -- compact: a shared function (see matmul_xw's tile)
      local real, real_ta = a, ta
      local ps = shared.pointers({gsrc, a.x}, {a.dw})
      if ta.opt then
        local P = shared.param
        ps[#ps + 1] = P("float *", a.opt.w, a.opt.w)
        for _, st in ipairs(a.opt.states) do ps[#ps + 1] = P("float *", st, st) end
        ps[#ps + 1] = P("const vopt_k *", a.opt.k, a.opt.k)
        ps[#ps + 1] = P(isa.vtype .. " *", "nfp", "&" .. vopt.NF)
      end
      shared.ints(ps, {{"j0", "j0"}, {"k0", "k0"}, {"n", "n"}, {"N", a.N}, {"ldx", a.x_ld}, {"ldg", a.g_ld}})
      shared.call(b, d2, "xtg", ps, function(b1, d1)
        a = setmetatable({N = "N", x_ld = "ldx", g_ld = "ldg",
                          opt = real.opt and setmetatable({nf_ptr = "nfp"}, {__index = real.opt})}, {__index = real})
        ta = real_ta == real and a or setmetatable({opt = false}, {__index = a})
        emit_tile(b1, d1)
        a, ta = real, real_ta
      end)
    end)
  end
  k_blocks(b, 1, a.K, R, true, ktile)
  if plan.tail > 0 and not extra then tail_pass(b, ta, isa, plan) end
  return xtg_finish(b, a, ta, isa, after)
end

-- (tiling sparse, schedule.XTG_SPARSE; avx512) The weight gradient from g's nonzeros, with
-- the tiles' form (`dense`: xtg_dense's text) as its fallback. Behind a ReLU about half of g
-- is zero, and the tiles multiply those zeros too. Per column j of g, its nonzero values gv
-- and the row offsets in x of their rows gi, in row order (16 rows at a time: a masked
-- gather down the column, the nonzero lanes compressed into a register, then stored; the
-- memory form of the compress costs several times more on Zen 4); gc[j] of them from gs[j],
-- the columns' lists one after another (schedule.xtg_sparse_entries). When more
-- than XTG_SPARSE_DENSITY of g is nonzero, the tiles run. Else, per block of KB vectors of
-- inputs k and group of 16 columns, one accumulator per vector over the column's nonzeros
-- (acc += g[i][j] * x[i][k..]), the group's sums transposed (simd_tr16x16) into 16 rows of
-- dW [k][N], each row stored (when dw is not NULL) and updated by the optimizer (a.opt) as a
-- vector. Each element of dW sums the same products in the same row order as the tiles (the
-- terms left out are 0 * x), so the same bits, but for an Inf or NaN in x under a zero
-- gradient, which the tiles carry into dW as a NaN and this form leaves out. Measured on
-- Zen 4 (docs/PERFORMANCE.md, 2026-12-07): 784x50 B=64 at density 0.48 1.37x the tiles.
local function xtg_sparse(a, isa, dense)
  local b = buffer()
  local V = isa.width
  local N, K, B = a.N, a.K, a.batch
  local KB = schedule.XTG_SPARSE_KB
  local nkv = K // V
  local den = schedule.xtg_sparse_density(isa)
  b.put(1, "/* the weight gradient from g's nonzeros when at most " .. den[1] .. "/" .. den[2]
    .. " of g is nonzero (columns' nonzero values gv, their rows' offsets in x gi), else the"
    .. " register tiles; the same bits either way (the terms left out are 0 * x) */")
  -- the lists one after another (column j's from gs[j]), as long as the step's nonzeros, at
  -- most the density's share of g (the count below sends denser steps to the tiles), and a
  -- vector more (the last compress stores a whole vector)
  local cap = schedule.xtg_sparse_entries(isa, a)
  b.put(1, "_Alignas(64) float gv[" .. cap .. "];")
  b.put(1, "_Alignas(64) int32_t gi[" .. cap .. "];")
  b.put(1, "_Alignas(64) int32_t gc[" .. N .. "], gs[" .. N .. "];")
  -- g's nonzeros counted first, row by row (a compare and a popcount per vector), so a step
  -- whose g is too dense runs the tiles without building the lists: on Zen 5 the lists alone
  -- cost 2-3 % of the 784-256-10 and 784-50-10 steps at half of g nonzero
  local cols = N // V * V
  b.put(1, "int nnz = 0;")
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, "const float *restrict gr = " .. a.g .. " + i * " .. a.g_ld .. ";")
  if cols > 0 then
    b.put(2, "for (int j = 0; j < " .. cols .. "; j += " .. V .. ")")
    b.put(3, "nnz += __builtin_popcount((unsigned)_mm512_cmp_ps_mask(_mm512_loadu_ps(gr + j), _mm512_setzero_ps(), _CMP_NEQ_UQ));")
  end
  if N > cols then
    local m = string.format("(__mmask16)0x%x", (1 << (N - cols)) - 1)
    b.put(2, "nnz += __builtin_popcount((unsigned)_mm512_mask_cmp_ps_mask(" .. m .. ", _mm512_maskz_loadu_ps(" .. m
      .. ", gr + " .. cols .. "), _mm512_setzero_ps(), _CMP_NEQ_UQ));")
  end
  b.put(1, "}")
  b.put(1, "if (nnz * " .. den[2] .. " > " .. den[1] .. " * n * " .. N .. ") {")
  b.put(0, dense:gsub("\n$", ""))
  b.put(1, "} else {")
  b.put(1, "{")
  local lanes = {}
  for l = 0, V - 1 do lanes[#lanes + 1] = tostring(l) end
  b.put(2, "const __m512i lane = _mm512_setr_epi32(" .. table.concat(lanes, ", ") .. ");")
  b.put(2, "int c0 = 0;")
  b.put(2, "for (int j = 0; j < " .. N .. "; j++) {")
  b.put(3, "int c = 0;")
  b.put(3, "gs[j] = c0;")
  b.put(3, "for (int i0 = 0; i0 < n; i0 += " .. V .. ") {")
  b.put(4, "const __m512i rows = _mm512_add_epi32(lane, _mm512_set1_epi32(i0));")
  b.put(4, "const __mmask16 live = _mm512_cmplt_epi32_mask(rows, _mm512_set1_epi32(n));")
  b.put(4, "const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, _mm512_mullo_epi32(rows, _mm512_set1_epi32("
    .. a.g_ld .. ")), " .. a.g .. " + j, 4);")
  b.put(4, "const __mmask16 nz = _mm512_mask_cmp_ps_mask(live, v, _mm512_setzero_ps(), _CMP_NEQ_UQ);")
  b.put(4, "_mm512_storeu_ps(gv + c0 + c, _mm512_maskz_compress_ps(nz, v));")
  b.put(4, "_mm512_storeu_si512(gi + c0 + c, _mm512_maskz_compress_epi32(nz, _mm512_mullo_epi32(rows, _mm512_set1_epi32("
    .. a.x_ld .. "))));")
  b.put(4, "c += __builtin_popcount((unsigned)nz);")
  b.put(3, "}")
  b.put(3, "gc[j] = c;")
  b.put(3, "c0 += c;")
  b.put(2, "}")
  b.put(1, "}")
  nf_begin(b, isa, a.opt)
  local TB = KB * V
  b.put(1, "_Alignas(64) float tb[" .. V * TB .. "] = {0};   /* a group of " .. V .. " columns' sums, [column][k] */")
  b.put(1, "_Alignas(64) float tt[" .. V * V .. "];   /* one vector of k of them transposed */")
  local function block(d, kv)
    -- kv vectors of inputs from k0, every column group
    local function group(d2, cw)
      b.put(d2, "for (int jj = 0; jj < " .. cw .. "; jj++) {")
      b.put(d2 + 1, "const float *restrict gvj = gv + gs[j0 + jj];")
      b.put(d2 + 1, "const int32_t *restrict gij = gi + gs[j0 + jj];")
      local acc = {}
      for q = 0, kv - 1 do acc[#acc + 1] = "a" .. q .. " = " .. isa.zero() end
      b.put(d2 + 1, isa.vtype .. " " .. table.concat(acc, ", ") .. ";")
      b.put(d2 + 1, "for (int t = 0; t < gc[j0 + jj]; t++) {")
      b.put(d2 + 2, "const " .. isa.vtype .. " s = " .. isa.broadcast("gvj[t]") .. ";")
      b.put(d2 + 2, "const float *restrict xr = " .. a.x .. " + gij[t] + k0;")
      for q = 0, kv - 1 do
        b.put(d2 + 2, "a" .. q .. " = " .. isa.fma("s", isa.load("xr", q * V), "a" .. q) .. ";")
      end
      b.put(d2 + 1, "}")
      for q = 0, kv - 1 do
        b.put(d2 + 1, isa.store_aligned("tb", "jj * " .. kv * V .. (q > 0 and " + " .. q * V or ""), "a" .. q))
      end
      b.put(d2, "}")
      b.put(d2, "for (int q = 0; q < " .. kv .. "; q++) {")
      b.put(d2 + 1, isa.transpose .. "(tt, " .. V .. ", tb + q * " .. V .. ", " .. kv * V .. ");")
      local loads, vs = {}, {}
      for r = 0, V - 1 do
        loads[#loads + 1] = "t" .. r .. " = " .. vload(isa, "tt", r * V, cw)
        vs[#vs + 1] = {o = tostring(r * N), lanes = cw, g = "t" .. r, row = r}
      end
      b.put(d2 + 1, "const " .. isa.vtype .. " " .. table.concat(loads, ", ") .. ";")
      b.put(d2 + 1, "if (" .. a.dw .. " != NULL) {")
      b.put(d2 + 2, "float *dr = " .. a.dw .. " + (k0 + q * " .. V .. ") * " .. N .. " + j0;")
      for r = 0, V - 1 do b.put(d2 + 2, vstore(isa, "dr", r * N, "t" .. r, cw)) end
      b.put(d2 + 1, "}")
      if a.opt then
        local base = " + (k0 + q * " .. V .. ") * " .. N .. " + j0"
        local ptrs = {"*wr = " .. a.opt.w .. base}
        for _, st in ipairs(a.opt.states) do ptrs[#ptrs + 1] = "*" .. st:sub(1, -2) .. "r = " .. st .. base end
        opt_vectors(b, d2 + 1, isa, a, "wr", function(st) return st:sub(1, -2) .. "r" end, vs, false,
                    "float " .. table.concat(ptrs, ", ") .. ";")
      end
      b.put(d2, "}")
    end
    local full = N // V * V
    if full > 0 then
      b.put(d, "for (int j0 = 0; j0 < " .. full .. "; j0 += " .. V .. ") {")
      group(d + 1, V)
      b.put(d, "}")
    end
    if N > full then
      b.put(d, "{")
      b.put(d + 1, "const int j0 = " .. full .. ";")
      group(d + 1, N - full)
      b.put(d, "}")
    end
  end
  local main = nkv // KB * KB
  if main > 0 then
    b.put(1, "for (int k0 = 0; k0 < " .. main * V .. "; k0 += " .. TB .. ") {")
    block(2, KB)
    b.put(1, "}")
  end
  if nkv > main then
    b.put(1, "{")
    b.put(2, "const int k0 = " .. main * V .. ";")
    block(2, nkv - main)
    b.put(1, "}")
  end
  nf_end(b, a.opt)
  bias_sums(b, a, isa)
  b.put(1, "}")
  return b.text()
end

-- dW [K][N] = x [n][K]ᵀ · g [n][N], db [N] = Σ_i g: the tiles (xtg_dense), or where the
-- tiling says sparse (a ReLU's gradient, schedule.tiling), the form from g's nonzeros with
-- the tiles as its fallback. Returns the text and whether dw may be NULL (xtg_dense's).
function M.matmul_xtg(a, isa)
  local dense, skips = xtg_dense(a, isa)
  if not schedule.tiling_for(isa, "xtg", a).sparse then return dense, skips end
  return xtg_sparse(a, isa, dense), skips
end

-- The tile planners, for the unit tests (tests/gen/unit.lua).
M.vectors, M.blocks, M.column_plan, M.column_groups = vectors, blocks, column_plan, column_groups
return M
