-- The B = 1 forward product (one row: y = x·W + b is a matrix-vector product that reads
-- each weight once), for every SIMD ISA and every width. gen/kernels/tiled.lua's
-- matmul_xw asks `M.xw` first when the batch is 1. Three ways, chosen by `M.plan`:
--   flat   (ISAs with a lane permute or bcast2, N not a multiple of V): W as one flat
--          stream of whole vectors, x's lanes permuted to meet them (below); its
--          accumulators in up to FLAT_GROUPS passes where they outnumber the registers;
--   regs   (the N outputs fit in registers): every output vector an accumulator, W read row
--          after row: one sequential stream. With fewer vectors than the FMA pipes need in
--          flight, S sets of accumulators take the rows k ≡ s (mod S) and are summed at the
--          end, (set 0 + set 1) + set 2 ..., in that fixed order;
--   rows   (wider layers): y is accumulated in its output buffer (it stays in L1), S rows
--          of W at a time, so W is read as S sequential streams and never at stride N.
--          The order of every sum is the tiled kernels' (b, then k ascending), so the
--          outputs are theirs bit for bit.
local emit = require "emit"
local epilogue = require "kernels.epilogue"
local shared = require "kernels.shared"

local M = {}

local buffer = emit.buffer

-- "base + off" (C text) with a zero left out and two numbers added up.
local function at(base, off)
  if type(base) == "number" and type(off) == "number" then return tostring(base + off) end
  if off == 0 or off == "0" then return tostring(base) end
  if base == 0 or base == "0" then return tostring(off) end
  return base .. " + " .. off
end

-- "k * N" (C text) for a row index k that is a number or C text
local function times(k, N)
  if type(k) == "number" then return tostring(k * N) end
  return (k:find(" ") and "(" .. k .. ")" or k) .. " * " .. N
end

local function vload(isa, base, off, lanes)
  if lanes == isa.width then return isa.load(base, off) end
  return isa.load_part(base, off, lanes)
end

local function vstore(isa, base, off, v, lanes)
  if lanes == isa.width then return isa.store(base, off, v) end
  return isa.store_part(base, off, v, lanes)
end

-- FMAs in flight that keep the pipes busy (latency 4 x 2 pipes on current x86 and Arm
-- cores): fewer accumulators than this make the regs stream latency-bound.
local IN_FLIGHT = 8
-- rows of W per pass of the rows stream (its number of sequential streams; 8 measured
-- best of 2, 4, 6, 8, 16 for 784-2048-2048-10, 784-1024-10, 784-256-256-10 on AVX2)
local ROWS = 8
-- passes over W of the flat stream when its U accumulators outnumber the registers (avx2's
-- 16: 784-50 has U = 25, three passes of 8, 8, 9 vectors, each reading its own lines of
-- every period): more passes read W in ever thinner slices
local FLAT_GROUPS = 3
-- with several passes, each runs over FLAT_RUN_BYTES of W before the next pass reads the
-- same run from L1: half of a 32 KB L1d (Zen 3's, the avx2 default's; 48 KB here). 784-50
-- avx2 on the Xeon: 16 KB runs 1.655 us, 6.4 KB 1.697, one run 1.737 (p10 of 8 rounds)
local FLAT_RUN_BYTES = 16384

-- B = 1 forward as one flat stream over W (for ISAs with a lane permute). A period of P
-- rows holds L = lcm(N, V) floats = U whole vectors; lane l of vector u always meets input
-- k = p*P + (u*V + l) div N and output j = (u*V + l) mod N. So each of the U accumulators
-- takes permute(x[p*P .. p*P+P), index_u) * W-vector per period: every load is a whole,
-- aligned-if-W-is vector and no lane is wasted; the U accumulators are summed per output at
-- the end (periods in order, then the leftover rows), in a fixed order. Returns nil when
-- the shape does not suit it (N a multiple of V, too many accumulators, tiny layers).
local function gcd(x, y) while y ~= 0 do x, y = y, x % y end return x end
function M.flat_plan(a, isa)
  if a.batch ~= 1 or not (isa.permute or isa.bcast2) or a.K * a.N < 4096 then return nil end
  local V, N = isa.width, a.N
  if N % V == 0 then return nil end
  local L = N * V // gcd(N, V)
  local P, U = L // N, L // V
  if P > V or a.K < P or N < V then return nil end
  -- accumulators per pass: the registers less the broadcasts and the W operand
  local cap = isa.regs - 6
  local groups = (U + cap - 1) // cap
  if groups > FLAT_GROUPS then return nil end
  local periods = a.K // P
  local chunk = groups > 1 and math.max(1, FLAT_RUN_BYTES // (4 * L)) or nil
  return {kind = "flat", L = L, P = P, U = U, periods = periods, groups = groups,
          chunk = chunk and chunk < periods and chunk or nil,
          splat = isa.splat4 and isa.bcast2 and P % 4 == 0 or nil}
end

-- How a B = 1 product is written: {kind = "flat" | "regs" | "rows", ...}, or nil (batch
-- above 1, scalar ISA). a.stream (a tune file's choice, checked by schedule.check) may ask
-- for a kind and its rows or sets; a kind the shape does not suit falls to the default.
function M.plan(a, isa)
  if a.batch ~= 1 or isa.width == 1 then return nil end
  local want = a.stream or {}
  local f = (want.kind == nil or want.kind == "flat") and M.flat_plan(a, isa)
  if f then return f end
  local V = isa.width
  local nvec = (a.N + V - 1) // V
  -- accumulators: the registers less the broadcast, a W operand and a mask or two
  local cap = assert(isa.regs, isa.name .. ": no register count") - 4
  if nvec <= cap and want.kind ~= "rows" then
    local sets = math.max(1, math.min(cap // nvec, (IN_FLIGHT + nvec - 1) // nvec, a.K))
    return {kind = "regs", nvec = nvec, sets = want.kind == "regs" and want.sets or sets}
  end
  local vecs = want.kind == "rows" and want.vecs or require("schedule").pick(isa, "STREAM_VECS") or 1
  return {kind = "rows", rows = want.kind == "rows" and want.rows or math.min(ROWS, a.K),
          vecs = math.max(1, math.min(vecs, a.N // V))}
end

-- Stores the finished output vector v of columns off .. off+lanes-1 (C text: a register or
-- an expression used once), and f(v) when the product has an activation (lane by lane
-- from the stored y when the ISA has no vector spelling of f).
-- (y is a itself, z unread: tiled.lua's z_unread) f(v) alone where it has a vector spelling.
local function finish(b, d, a, isa, off, lanes, v)
  local fv = a.act and epilogue.forward(a.act, isa, v)
  if not (fv and a.y == a.act.out) then b.put(d, vstore(isa, a.y, off, v, lanes)) end
  if not a.act then return end
  if fv then
    b.put(d, vstore(isa, a.act.out, off, fv, lanes))
  else
    b.put(d, "for (int l = 0; l < " .. lanes .. "; l++) " .. a.act.out .. "[" .. at(off, "l") .. "] = "
      .. epilogue.forward_scalar(a.act, a.y .. "[" .. at(off, "l") .. "]") .. ";")
  end
end

-- The flat stream's sums per output, in registers (one pass, an ISA with `alignr`): output
-- vector at column off takes, for each row q of a period, the lanes q*N + off .. of the
-- accumulators (one lane shift across two of them), added in row order, then the leftover
-- rows past the last period, then b: the order of the sums through `flat` below.
local function flat_sums_regs(b, d, a, isa, f)
  local V, N = isa.width, a.N
  for _, vec in ipairs(shared.vectors(N, V)) do
    local function part(q)
      local t = q * N + vec.off
      local u, r = t // V, t % V
      if r == 0 then return "c" .. u end
      return isa.alignr("c" .. (u + 1 < f.U and u + 1 or u), "c" .. u, r)
    end
    local sum = part(0)
    for q = 1, f.P - 1 do sum = isa.add(sum, part(q)) end
    b.put(d, "{")
    b.put(d + 1, isa.vtype .. " s = " .. sum .. ";")
    for k = f.periods * f.P, a.K - 1 do
      b.put(d + 1, "s = " .. isa.fma(isa.broadcast(a.x .. "[" .. k .. "]"), vload(isa, a.w, k * N + vec.off, vec.lanes), "s") .. ";")
    end
    if a.b then b.put(d + 1, "s = " .. isa.add("s", vload(isa, a.b, vec.off, vec.lanes)) .. ";") end
    finish(b, d + 1, a, isa, vec.off, vec.lanes, "s")
    b.put(d, "}")
  end
end

local function flat_gemv(b, a, isa, f)
  local V, N = isa.width, a.N
  local vt = isa.vtype
  b.put(1, "/* one row: W as a flat stream of " .. f.periods .. " periods of " .. f.P .. " rows = " .. f.U
    .. " vectors of " .. V .. (isa.bcast2 and (f.splat and " (x by splats of 4-input blocks)" or " (x by broadcasts)")
      or " (lanes permuted from x)")
    .. (f.groups > 1 and ", in " .. f.groups .. " passes of its vectors" or "")
    .. (f.chunk and " over runs of " .. f.chunk .. " periods" or "") .. " */")
  if not isa.bcast2 then
    local idx = {}
    for u = 0, f.U - 1 do
      for l = 0, V - 1 do idx[#idx + 1] = tostring((u * V + l) // N) end
    end
    b.put(1, "static const int32_t flat_idx[" .. f.U * V .. "] = {" .. table.concat(idx, ", ") .. "};")
  end
  local in_regs = f.groups == 1 and isa.alignr
  if not in_regs then b.put(1, "_Alignas(64) float flat[" .. f.L .. "];") end
  b.put(1, "(void)n;   /* n <= the batch, which is 1 */")
  local d = 1
  if f.chunk then
    -- each pass over a run of periods that stays in L1 for the passes after it; the
    -- accumulators wait in flat between runs (the same sums in the same order)
    b.put(1, "for (int p0 = 0; p0 < " .. f.periods .. "; p0 += " .. f.chunk .. ") {")
    b.put(2, "const int p1 = p0 + " .. f.chunk .. " < " .. f.periods .. " ? p0 + " .. f.chunk .. " : " .. f.periods .. ";")
    d = 2
  end
  for g = 0, f.groups - 1 do
    local u0, u1 = f.U * g // f.groups, f.U * (g + 1) // f.groups - 1
    local decl = {}
    for u = u0, u1 do
      decl[#decl + 1] = "c" .. u .. " = " .. (f.chunk and "p0 ? " .. (isa.load_aligned or isa.load)("flat", u * V) .. " : " .. isa.zero() or isa.zero())
    end
    b.put(d, "{")
    b.put(d + 1, vt .. " " .. table.concat(decl, ", ") .. ";")
    -- clang would unroll this loop twice and spill the accumulators
    b.put(0, "#if defined(__clang__)")
    b.put(0, "#pragma clang loop unroll(disable)")
    b.put(0, "#endif")
    b.put(d + 1, f.chunk and "for (int p = p0; p < p1; p++) {" or "for (int p = 0; p < " .. f.periods .. "; p++) {")
    b.put(d + 2, "const float *restrict wp = " .. a.w .. " + p * " .. f.L .. ";")
    if not isa.bcast2 then b.put(d + 2, "const " .. vt .. " xv = " .. vload(isa, a.x, "p * " .. f.P, f.P) .. ";") end
    -- the inputs this pass meets in a period (k1 of its first vector .. the last one's)
    local k_lo, k_hi = (u0 * V) // N, (u1 * V + V - 1) // N
    local splat = f.splat and {}
    if splat then
      -- inputs by in-register splats of 4-float blocks, not one broadcast load each:
      -- (784-50 avx512: 2 loads a period instead of 8; the loop −5..7 %)
      for q = k_lo // 4, k_hi // 4 do
        local xq = "xq" .. q
        b.put(d + 2, "const " .. vt .. " " .. xq .. "_ = " .. isa.load_rep(a.x .. " + p * " .. f.P .. (q > 0 and " + " .. 4 * q or ""), 4) .. ";")
        b.put(d + 2, "const " .. vt .. " " .. xq .. " = " .. isa.opaque(xq .. "_") .. ";")
      end
      for k = k_lo, k_hi do
        b.put(d + 2, "const " .. vt .. " x" .. k .. " = " .. isa.splat4("xq" .. k // 4, k % 4) .. ";")
      end
    end
    for u = u0, u1 do
      local c = "c" .. u
      local xu
      -- lanes of vector u meet at most two inputs (V < N): input k1 up to lane split, k1 + 1 after
      local k1 = (u * V) // N
      local split = (k1 + 1) * N - u * V
      if splat then
        xu = split >= V and "x" .. k1 or isa.blend2("x" .. k1, "x" .. k1 + 1, split)
      elseif isa.bcast2 then
        -- a broadcast of the first with the second broadcast into the lanes from the split
        -- on (no permute, no index load)
        local xp = a.x .. " + p * " .. f.P
        if split >= V then xu = isa.broadcast("(" .. xp .. ")[" .. k1 .. "]")
        else xu = isa.bcast2(xp .. " + " .. k1, xp .. " + " .. k1 + 1, split) end
      else
        xu = isa.permute(isa.load_index("flat_idx + " .. u * V), "xv")
      end
      b.put(d + 2, c .. " = " .. isa.fma(xu, isa.load("wp", u * V), c) .. ";")
    end
    b.put(d + 1, "}")
    if in_regs then
      flat_sums_regs(b, d + 1, a, isa, f)
    else
      for u = u0, u1 do b.put(d + 1, (isa.store_aligned or isa.store)("flat", u * V, "c" .. u)) end
    end
    b.put(d, "}")
  end
  if f.chunk then b.put(1, "}") end
  if in_regs then return end
  local k0 = f.periods * f.P
  b.put(1, "for (int j = 0; j < " .. N .. "; j++) {")
  b.put(2, "float s = flat[j];")
  b.put(2, "for (int q = 1; q < " .. f.P .. "; q++) s = s + flat[q * " .. N .. " + j];")
  if k0 < a.K then
    b.put(2, "for (int k = " .. k0 .. "; k < " .. a.K .. "; k++) s = s + " .. a.x .. "[k] * " .. a.w .. "[k * " .. N .. " + j];")
  end
  if a.b then b.put(2, "s = s + " .. a.b .. "[j];") end
  if not (a.act and a.y == a.act.out) then b.put(2, a.y .. "[j] = s;") end
  if a.act then b.put(2, a.act.out .. "[j] = " .. epilogue.forward_scalar(a.act, "s") .. ";") end
  b.put(1, "}")
end


-- One row of W (row expression `k`) into accumulator set s: c<s>_<v> += x[k] * W[k][vec v].
local function regs_row(b, d, a, isa, vecs, s, k)
  local st = {"const " .. isa.vtype .. " s = " .. isa.broadcast(a.x .. "[" .. k .. "]") .. ";"}
  local row = at(a.w, times(k, a.N))
  for v, vec in ipairs(vecs) do
    local c = "c" .. s .. "_" .. (v - 1)
    st[#st + 1] = c .. " = " .. isa.fma("s", vload(isa, row, vec.off, vec.lanes), c) .. ";"
  end
  b.put(d, "{ " .. table.concat(st, " ") .. " }")
end

local function regs_gemv(b, a, isa, p)
  local V, S, K = isa.width, p.sets, a.K
  local vecs = shared.vectors(a.N, V)
  b.put(1, "/* one row: the " .. #vecs .. " output vector" .. (#vecs > 1 and "s" or "") .. " in registers" .. (S > 1 and " (" .. S
    .. " sets, rows k mod " .. S .. ", summed in order)" or "") .. "; W read row after row */")
  b.put(1, "(void)n;   /* n <= the batch, which is 1 */")
  b.put(1, "{")
  for s = 0, S - 1 do
    local decl = {}
    for v, vec in ipairs(vecs) do
      decl[v] = "c" .. s .. "_" .. (v - 1) .. " = " .. (s == 0 and a.b and vload(isa, a.b, vec.off, vec.lanes) or isa.zero())
    end
    b.put(2, isa.vtype .. " " .. table.concat(decl, ", ") .. ";")
  end
  local KS = K // S * S
  b.put(0, "#if defined(__clang__)")
  b.put(0, "#pragma clang loop unroll(disable)")
  b.put(0, "#endif")
  b.put(2, "for (int k = 0; k < " .. KS .. "; k += " .. S .. ") {")
  for s = 0, S - 1 do regs_row(b, 3, a, isa, vecs, s, at("k", s)) end
  b.put(2, "}")
  for k = KS, K - 1 do regs_row(b, 2, a, isa, vecs, 0, k) end
  for v, vec in ipairs(vecs) do
    local sum = "c0_" .. (v - 1)
    for s = 1, S - 1 do sum = isa.add(sum, "c" .. s .. "_" .. (v - 1)) end
    finish(b, 2, a, isa, vec.off, vec.lanes, sum)
  end
  b.put(1, "}")
end

-- One pass of the rows stream over `rows` rows of W from row k0 (C text): y += x[k0..] W[k0..]
-- for every output vector, `vecs` output vectors per step (each its own chain of `rows`
-- FMAs, so the sums keep their order whatever vecs is); `first`: y starts from b; `last`:
-- f(y) is written too; `head`: a loop header the pass is the body of.
local function rows_pass(b, d, a, isa, k0, rows, vecs, first, last, head)
  local V, N = isa.width, a.N
  local xs = {}
  for s = 0, rows - 1 do xs[#xs + 1] = "x" .. s .. " = " .. isa.broadcast(a.x .. "[" .. at(k0, s) .. "]") end
  b.put(d, (head and head .. " " or "") .. "{")
  b.put(d + 1, "const float *restrict wk = " .. at(a.w, times(k0, N)) .. ";")
  b.put(d + 1, "const " .. isa.vtype .. " " .. table.concat(xs, ", ") .. ";")
  -- u output vectors from column j (C text or a number), the last one `lanes` wide
  local function vecs_at(dd, j, u, lanes)
    local c, w = {}, {}
    for v = 0, u - 1 do
      c[v], w[v] = u == 1 and "c" or "c" .. v, v == u - 1 and lanes or V
      local init = first and not a.b and isa.zero() or vload(isa, first and a.b or a.y, at(j, v * V), w[v])
      b.put(dd, isa.vtype .. " " .. c[v] .. " = " .. init .. ";")
    end
    for s = 0, rows - 1 do
      for v = 0, u - 1 do
        b.put(dd, c[v] .. " = " .. isa.fma("x" .. s, vload(isa, "wk", at(j, s * N + v * V), w[v]), c[v]) .. ";")
      end
    end
    for v = 0, u - 1 do
      if last then finish(b, dd, a, isa, at(j, v * V), w[v], c[v])
      else b.put(dd, vstore(isa, a.y, at(j, v * V), c[v], w[v])) end
    end
  end
  local NU = N // (V * vecs) * (V * vecs)
  if NU > 0 then
    b.put(d + 1, "for (int j = 0; j < " .. NU .. "; j += " .. V * vecs .. ") {")
    vecs_at(d + 2, "j", vecs, V)
    b.put(d + 1, "}")
  end
  -- the columns left over: fewer than vecs vectors, the last maybe partial
  if NU < N then
    b.put(d + 1, "{")
    vecs_at(d + 2, NU, (N - NU + V - 1) // V, (N - NU - 1) % V + 1)
    b.put(d + 1, "}")
  end
  b.put(d, "}")
end

local function rows_gemv(b, a, isa, p)
  local K, S, U = a.K, p.rows, p.vecs
  b.put(1, "/* one row: y updated " .. S .. " rows of W at a time (" .. S .. " sequential streams), in place"
    .. (U > 1 and ", " .. U .. " output vectors per step" or "") .. " */")
  b.put(1, "(void)n;   /* n <= the batch, which is 1 */")
  -- the first pass starts from b, the last writes f(y); the ones between run in a loop
  local first = math.min(S, K)
  if first == K then
    rows_pass(b, 1, a, isa, 0, K, U, true, true)
    return
  end
  local rest = K - first
  local lastn = rest % S == 0 and S or rest % S
  local mid0, mid1 = first, K - lastn
  rows_pass(b, 1, a, isa, 0, first, U, true, false)
  if mid1 > mid0 then
    rows_pass(b, 1, a, isa, "k0", S, U, false, false, "for (int k0 = " .. mid0 .. "; k0 < " .. mid1 .. "; k0 += " .. S .. ")")
  end
  rows_pass(b, 1, a, isa, mid1, lastn, U, false, true)
end

-- The body of matmul_xw for a batch of 1 (a as for tiled.matmul_xw), or nil when the
-- tiled kernels do it.
function M.xw(a, isa)
  local p = M.plan(a, isa)
  if not p then return nil end
  local b = buffer()
  if p.kind == "flat" then flat_gemv(b, a, isa, p)
  elseif p.kind == "regs" then regs_gemv(b, a, isa, p)
  else rows_gemv(b, a, isa, p) end
  return b.text()
end

return M
