-- The tiled product kernels: register-tiled micro-kernels for the three products of a
-- linear layer, for any SIMD ISA table (gen/isa/avx512.lua, avx2.lua, neon.lua), the
-- family gen/schedule.lua picks for an ISA wider than one float. Same arguments and
-- results (up to rounding) as the portable loops in gen/kernels/portable.lua:
--   matmul_xw   y = x·W + b            (epilogue: a = f(y), gen/kernels/epilogue.lua)
--   matmul_gwt  dx = g·Wᵀ ⊙ f'(m)
--   matmul_xtg  dW = xᵀ·g, db = Σ_i g  (optionally with the plain SGD update fused)
--
-- Shapes. A tile keeps R×V accumulators in registers (R rows, V vectors of the ISA's
-- width), broadcasts one scalar per row and loads V vectors per step of the reduction:
--   xw : rows = batch rows i, vectors along the layer's outputs j, reduce over k;
--   gwt: rows = batch rows i, vectors along the inputs k, reduce over j, against a
--        transposed block of W (k-block × N, on the stack) so W is read along k;
--   xtg: rows = inputs k, vectors along outputs j, reduce over the batch rows i.
-- Every bound is a compile-time constant except the row count n: row tiles run while R
-- rows remain, then one tile each of the powers of two below R covers the rest. Column
-- tails (N not a multiple of the width) use the ISA's partial loads/stores (k-masks on
-- AVX-512, vmaskmov on AVX2, lane loads on NEON). The reduction order is fixed (k or j
-- or i ascending from the first), so results are the same bits on every run.
local emit = require "emit"
local epilogue = require "kernels.epilogue"
local stream = require "kernels.stream"

local M = {}

-- matmul_xtg can apply plain SGD to the weights inside its tiles (a.sgd).
M.fuses_sgd = true

local buffer = emit.buffer

-- "base + off" with the zero offset left out; off is an integer or C text.
local function at(base, off)
  if off == 0 or off == "0" then return base end
  return base .. " + " .. off
end

-- The vectors that cover `count` floats: {off = first float, lanes = floats used}.
local function vectors(count, width)
  local v = {}
  for off = 0, count - 1, width do
    v[#v + 1] = {off = off, lanes = math.min(width, count - off)}
  end
  return v
end

-- Consecutive vectors in blocks of at most `most`, as even as possible.
local function blocks(vecs, most)
  local nb = (#vecs + most - 1) // most
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

-- Emits body(depth, width) for blocks k0 = 0, step, ... of `total` inputs: a loop over the
-- whole blocks (its body in braces when `braces`), then one block of the rest.
local function k_blocks(b, d, total, step, braces, body)
  local full, rest = total // step, total % step
  if full > 0 then
    b.put(d, "for (int k0 = 0; k0 < " .. full * step .. "; k0 += " .. step .. ")" .. (braces and " {" or ""))
    body(d + 1, step)
    if braces then b.put(d, "}") end
  end
  if rest > 0 then
    b.put(d, "{")
    b.put(d + 1, "const int k0 = " .. full * step .. ";")
    body(d + 1, rest)
    b.put(d, "}")
  end
end

-- Emits the row loop: full tiles of R rows, then tiles of the powers of two below R.
-- tile(b, depth, rows) emits one tile for rows i .. i+rows-1.
local function row_loop(b, d, R, tile)
  b.put(d, "{")
  b.put(d + 1, "int i = 0;")
  b.put(d + 1, "for (; i + " .. R .. " <= n; i += " .. R .. ") {")
  tile(b, d + 2, R)
  b.put(d + 1, "}")
  local p = 1
  while p * 2 < R do p = p * 2 end
  if R > 1 then
    while p >= 1 do
      b.put(d + 1, "if (n - i >= " .. p .. ") {")
      tile(b, d + 2, p)
      b.put(d + 2, "i += " .. p .. ";")
      b.put(d + 1, "}")
      p = p // 2
    end
  end
  b.put(d + 1, "(void)i;")
  b.put(d, "}")
end

-- One register tile that reduces over `t.count` steps (variable t.var):
--   acc[r][v] = init(v) + Σ_var bcast(t.a(r, var)) · load(t.brow(var) + vec v)
-- then t.finish(b, depth, r, v, vec, acc) consumes each accumulator and t.post(b, depth,
-- rows, vecs) (optional) may use them all once more. t.extra (optional):
-- {init(b, d), step(var) -> C statements inside the loop, finish(b, d)} for one more
-- accumulator riding along (the folded tail of matmul_xtg).
local function reduce_tile(b, d, isa, rows, vecs, t)
  local vt = isa.vtype
  b.put(d, "{")
  if t.pre then t.pre(b, d + 1) end
  for r = 0, rows - 1 do
    local decl = {}
    for v = 1, #vecs do decl[v] = string.format("c%d_%d = %s", r, v - 1, t.init and t.init(v) or isa.zero()) end
    b.put(d + 1, vt .. " " .. table.concat(decl, ", ") .. ";")
  end
  if t.extra then t.extra.init(b, d + 1) end
  b.put(d + 1, "for (int " .. t.var .. " = 0; " .. t.var .. " < " .. t.count .. "; " .. t.var .. "++) {")
  b.put(d + 2, "const float *restrict bk = " .. t.brow(t.var) .. ";")
  local ws = {}
  for v, vec in ipairs(vecs) do
    ws[v] = string.format("w%d = %s", v - 1, (t.aligned and vec.lanes == isa.width) and aload(isa, "bk", vec.off)
                                             or vload(isa, "bk", vec.off, vec.lanes))
  end
  b.put(d + 2, "const " .. vt .. " " .. table.concat(ws, ", ") .. ";")
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
local function column_plan(isa, N, batch, kred)
  local V = isa.width
  local rows = math.min(isa.max_rows, batch or isa.max_rows)
  -- small batches: fewer rows, so wider tiles (one pass over W) fit the registers
  local most = math.max(isa.vec_max, math.min(isa.acc_regs // (rows + 1), 12))
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

-- y [n][N] = x [n][K] · W [K][N] + b, then a = f(y) when a.act.
function M.matmul_xw(a, isa)
  local b = buffer()
  local V = isa.width
  local one = stream.xw(a, isa)   -- batch 1: gen/kernels/stream.lua
  if one then return one end
  local plan = column_plan(isa, a.N, a.batch, a.K)
  local blks = plan.blocks
  local R = tile_rows(isa, #blks[1], a.batch)
  b.put(1, "/* register tiles: " .. R .. " rows x " .. #blks[1] .. " vectors of " .. V
    .. (plan.tail > 0 and "; columns " .. plan.tail0 .. ".." .. a.N - 1 .. " as dot products over k" or "") .. " */")
  if plan.tail > 0 then copy_tail(b, 1, "wtl", a.w, a.K, a.N, plan.tail0, plan.tail) end
  local function store_out(b2, d2, r, off, c, lanes)
    local yo = "(i + " .. r .. ") * " .. a.y_ld .. " + " .. off
    b2.put(d2, lanes and vstore(isa, a.y, yo, c, lanes) or a.y .. "[" .. yo .. "] = " .. c .. ";")
    if a.act then
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
  end
  row_loop(b, 1, R, function(bb, d, rows)
    for _, blk in ipairs(blks) do
      reduce_tile(bb, d, isa, rows, blk, {
        var = "k", count = a.K,
        pre = function(b2, d2)
          b2.put(d2, "const float *restrict xr = " .. a.x .. " + i * " .. a.x_ld .. ";")
        end,
        init = function(v) return vload(isa, a.b, blk[v].off, blk[v].lanes) end,
        brow = function(k) return at(a.w, k .. " * " .. a.N) end,
        a = function(r, k) return "xr[" .. (r == 0 and "" or r * a.x_ld .. " + ") .. k .. "]" end,
        finish = function(b2, d2, r, _, vec, c) store_out(b2, d2, r, vec.off, c, vec.lanes) end,
      })
    end
    if plan.tail > 0 then
      M.dot_tile(bb, d, isa, rows, plan.tail, a.K, a.x .. " + i * " .. a.x_ld, a.x_ld, "wtl", function(b2, d2, r, c, sum)
        local j = plan.tail0 + c
        b2.put(d2, "{ const float s = " .. sum .. " + " .. a.b .. "[" .. j .. "];")
        store_out(b2, d2 + 1, r, j, "s", nil)
        b2.put(d2, "}")
      end)
    end
  end)
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

-- dx [n][K] = g [n][N] · Wᵀ, times f'(m) of the previous activation when a.mask. W [K][N] is read one k-block at
-- a time into a transposed copy wt [N][KB] on the stack (at most 16 KB), so the tile
-- loads W along k.
function M.matmul_gwt(a, isa)
  local b = buffer()
  local V = isa.width
  local kv = math.max(1, math.min(isa.vec_max, 16384 // (4 * a.N * V)))
  local KB = kv * V
  local R = tile_rows(isa, kv, a.batch, 3 * isa.max_rows)
  b.put(1, "/* register tiles: " .. R .. " rows x " .. kv .. " vectors of " .. V
    .. "; W transposed " .. KB .. " inputs at a time */")
  b.put(1, "_Alignas(64) float wt[" .. a.N * KB .. "];")
  local function block(d, k0, width)
    local vecs = vectors(width, V)
    -- wt[j][kk] = w[k0 + kk][j]: whole T x T blocks with the ISA's register transpose,
    -- the rest (and ISAs without one) element by element
    local T = isa.transpose_n
    local jt, kt = 0, 0
    if isa.transpose then
      jt, kt = a.N // T * T, width // T * T
    end
    if jt > 0 and kt > 0 then
      b.put(d, "for (int j = 0; j < " .. jt .. "; j += " .. T .. ")")
      b.put(d + 1, "for (int kk = 0; kk < " .. kt .. "; kk += " .. T .. ")")
      b.put(d + 2, isa.transpose .. "(wt + j * " .. KB .. " + kk, " .. KB .. ", " .. a.w .. " + (" .. k0 .. " + kk) * "
        .. a.N .. " + j, " .. a.N .. ");")
    else
      jt, kt = 0, 0
    end
    if kt < width then   -- rows kk >= kt, every j
      b.put(d, "for (int kk = " .. kt .. "; kk < " .. width .. "; kk++)")
      b.put(d + 1, "for (int j = 0; j < " .. a.N .. "; j++) wt[j * " .. KB .. " + kk] = "
        .. a.w .. "[(" .. k0 .. " + kk) * " .. a.N .. " + j];")
    end
    if jt < a.N and kt > 0 then   -- columns j >= jt of the rows kk < kt
      b.put(d, "for (int kk = 0; kk < " .. kt .. "; kk++)")
      b.put(d + 1, "for (int j = " .. jt .. "; j < " .. a.N .. "; j++) wt[j * " .. KB .. " + kk] = "
        .. a.w .. "[(" .. k0 .. " + kk) * " .. a.N .. " + j];")
    end
    row_loop(b, d, R, function(bb, dd, rows)
      reduce_tile(bb, dd, isa, rows, vecs, {
        var = "j", count = a.N,
        pre = function(b2, d2)
          b2.put(d2, "const float *restrict gr = " .. a.g .. " + i * " .. a.g_ld .. ";")
        end,
        brow = function(j) return "wt + " .. j .. " * " .. KB end,
        aligned = true,
        a = function(r, j) return "gr[" .. (r == 0 and "" or r * a.g_ld .. " + ") .. j .. "]" end,
        finish = function(b2, d2, r, _, vec, c)
          local row = "(i + " .. r .. ")"
          local v = c
          if a.mask then
            v = epilogue.grad(a.mask_act, isa, c,
                              vload(isa, a.mask, row .. " * " .. a.mask_ld .. " + " .. k0 .. " + " .. vec.off, vec.lanes))
          end
          b2.put(d2, vstore(isa, a.dx, row .. " * " .. a.dx_ld .. " + " .. k0 .. " + " .. vec.off, v, vec.lanes))
        end,
      })
    end)
  end
  k_blocks(b, 1, a.K, KB, true, function(d, width) block(d, "k0", width) end)
  return b.text()
end

-- w[o] -= lr * dv for a fused SGD update of one weight (a.sgd), under the NULL test of
-- an optional one.
local function sgd_update(a, o, dv)
  return (a.sgd.optional and "if (" .. a.sgd.w .. " != NULL) " or "") .. a.sgd.w .. "[" .. o .. "] = "
    .. a.sgd.w .. "[" .. o .. "] - (" .. a.sgd.lr .. ") * " .. dv .. ";"
end

-- Folded tail of matmul_xtg (ISAs with load_rep): when R inputs x t tail columns fill one
-- vector, the tail rides in each main tile as one more accumulator, lane c*R + r holding
-- dW[k0 + r][tail0 + c]: per row i, x[i][k0 .. k0+R) repeated t times (one load) times
-- gp[i] = the t tail gradients each repeated R times (built once). This replaces the
-- separate tail pass, which streams x from L2 once more. Returns reduce_tile's `extra`, or
-- nil when the shape does not fold.
local function folded_tail(b, a, isa, plan, R)
  local V = isa.width
  local fold = plan.tail > 0 and isa.load_rep and R * plan.tail == V and a.K % R == 0 and a.batch
  if fold then
    local t = plan.tail
    b.put(1, "_Alignas(64) float gp[" .. a.batch * V .. "];   /* row i: tail gradients, each repeated "
      .. R .. " times */")
    b.put(1, "for (int i = 0; i < n; i++)")
    b.put(2, "for (int c = 0; c < " .. t .. "; c++)")
    b.put(3, "for (int r = 0; r < " .. R .. "; r++) gp[i * " .. V .. " + c * " .. R .. " + r] = "
      .. a.g .. "[i * " .. a.g_ld .. " + " .. plan.tail0 .. " + c];")
  end
  return fold and {
    init = function(b2, d2) b2.put(d2, isa.vtype .. " tl = " .. isa.zero() .. ";") end,
    step = function(i)
      return "tl = " .. isa.fma(isa.load_rep(a.x .. " + " .. i .. " * " .. a.x_ld .. " + k0", R),
                                isa.load("gp", i .. " * " .. V), "tl") .. ";"
    end,
    finish = function(b2, d2)
      b2.put(d2, "_Alignas(64) float tt[" .. V .. "];")
      b2.put(d2, astore(isa, "tt", 0, "tl"))
      b2.put(d2, "for (int c = 0; c < " .. plan.tail .. "; c++)")
      b2.put(d2 + 1, "for (int r = 0; r < " .. R .. "; r++) {")
      local o = "(k0 + r) * " .. a.N .. " + " .. plan.tail0 .. " + c"
      b2.put(d2 + 2, a.dw .. "[" .. o .. "] = tt[c * " .. R .. " + r];")
      if a.sgd then b2.put(d2 + 2, sgd_update(a, o, "tt[c * " .. R .. " + r]")) end
      b2.put(d2 + 1, "}")
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
    b.put(d + 1, "for (int kk = 0; kk < " .. width .. "; kk++) {")
    for c = 0, t - 1 do
      local o = "(k0 + kk) * " .. a.N .. " + " .. plan.tail0 + c
      local dv = "tt[" .. (c == 0 and "" or c * KB .. " + ") .. "kk]"
      b.put(d + 2, a.dw .. "[" .. o .. "] = " .. dv .. ";")
      if a.sgd then b.put(d + 2, sgd_update(a, o, dv)) end
    end
    b.put(d + 1, "}")
    b.put(d, "}")
  end
  b.put(1, "{")
  b.put(2, "_Alignas(64) float tt[" .. t * KB .. "];")
  k_blocks(b, 2, a.K, KB, false, kblock)
  b.put(1, "}")
end

-- db [N] = Σ_i g: vectors of sums over the rows, eight vectors at a time.
local function bias_sums(b, a, isa)
  for _, blk in ipairs(blocks(vectors(a.N, isa.width), 8)) do
    b.put(1, "{")
    local decl = {}
    for v = 1, #blk do decl[v] = "s" .. (v - 1) .. " = " .. isa.zero() end
    b.put(2, isa.vtype .. " " .. table.concat(decl, ", ") .. ";")
    b.put(2, "for (int i = 0; i < n; i++) {")
    for v, vec in ipairs(blk) do
      b.put(3, "s" .. (v - 1) .. " = " .. isa.add("s" .. (v - 1), vload(isa, a.g, "i * " .. a.g_ld .. " + " .. vec.off, vec.lanes)) .. ";")
    end
    b.put(2, "}")
    for v, vec in ipairs(blk) do b.put(2, vstore(isa, a.db, vec.off, "s" .. (v - 1), vec.lanes)) end
    b.put(1, "}")
  end
end

-- dW [K][N] = x [n][K]ᵀ · g [n][N], db [N] = Σ_i g. Tiles of R inputs k × vectors along j,
-- reduced over the n rows; after the tile, a.sgd (if given: {w = C name, lr = C expr,
-- optional = only when w is not NULL}) also applies w -= lr · dW while the tile is in
-- registers. Tail columns (see
-- column_plan) are tiles of inputs k as vectors × the t columns, reduced over the rows.
function M.matmul_xtg(a, isa)
  local b = buffer()
  local V = isa.width
  local plan = column_plan(isa, a.N, a.batch, a.K)
  local blks = plan.blocks
  local R = tile_rows(isa, #blks[1], nil)
  b.put(1, "/* register tiles: " .. R .. " inputs x " .. #blks[1] .. " vectors of " .. V
    .. (plan.tail > 0 and "; columns " .. plan.tail0 .. ".." .. a.N - 1 .. " as tiles along k" or "") .. " */")
  local extra = folded_tail(b, a, isa, plan, R)
  local function ktile(d, rows)
    for bi, blk in ipairs(blks) do
      reduce_tile(b, d, isa, rows, blk, {
        extra = bi == 1 and extra or nil,
        var = "i", count = "n",
        brow = function(i) return at(a.g, i .. " * " .. a.g_ld) end,
        a = function(r, i) return a.x .. "[" .. i .. " * " .. a.x_ld .. " + k0" .. (r == 0 and "" or " + " .. r) .. "]" end,
        finish = function(b2, d2, r, _, vec, c)
          b2.put(d2, vstore(isa, a.dw, "(k0 + " .. r .. ") * " .. a.N .. " + " .. vec.off, c, vec.lanes))
        end,
        -- the SGD update of the whole tile under one test of wu
        post = a.sgd and function(b2, d2, rows2, vecs2)
          local dd = d2
          if a.sgd.optional then b2.put(d2, "if (" .. a.sgd.w .. " != NULL) {"); dd = d2 + 1 end
          for r = 0, rows2 - 1 do
            for v, vec in ipairs(vecs2) do
              local o = "(k0 + " .. r .. ") * " .. a.N .. " + " .. vec.off
              local c = string.format("c%d_%d", r, v - 1)
              b2.put(dd, vstore(isa, a.sgd.w, o, isa.fma(c, "nlr", vload(isa, a.sgd.w, o, vec.lanes)), vec.lanes))
            end
          end
          if a.sgd.optional then b2.put(d2, "}") end
        end or nil,
      })
    end
  end
  if a.sgd then b.put(1, "const " .. isa.vtype .. " nlr = " .. isa.broadcast("-(" .. a.sgd.lr .. ")") .. ";") end
  k_blocks(b, 1, a.K, R, true, ktile)
  if plan.tail > 0 and not extra then tail_pass(b, a, isa, plan) end
  bias_sums(b, a, isa)
  return b.text()
end

-- The tile planners, for the unit tests (tests/gen/unit.lua).
M.vectors, M.blocks, M.column_plan = vectors, blocks, column_plan
return M
