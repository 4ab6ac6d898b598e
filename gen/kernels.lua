-- HOW the products of a linear layer are computed (the ops say WHAT is computed).
--
-- Three products, each with its fused elementwise work:
--   matmul_xw   y = x·W + b           (forward; epilogue: a = max(y, 0) + shift)
--   matmul_gwt  dx = g·Wᵀ             (input gradient; epilogue: ⊙ [mask > 0])
--   matmul_xtg  dW = xᵀ·g, db = Σ_i g (weight and bias gradient)
-- Each function takes one table of named arguments (C names of the buffers, the
-- compile-time sizes K = features in, N = features out, leading dimensions, the runtime
-- row count n; matmul_xw's relu = {out, out_ld, shift (a number), shift_literal (its C
-- float literal, nil when 0)}) plus the ISA table, and returns the C statements of a
-- function body.
--
-- The loops here are the portable ones: compile-time bounds except n, i-k-j order so the
-- innermost loop runs along contiguous memory without a reduction (compilers vectorise
-- it without relaxed floating-point flags), and a fixed summation order. The operations are spelled via
-- the ISA table (isa.load, isa.fma, ...), here always with width 1.
--
-- Adding an ISA (avx2, avx512, neon):
--   1. write gen/isa/<name>.lua with the same fields as gen/isa/scalar.lua (width, vtype,
--      includes, spellings of load/store/broadcast/add/mul/fma/max/select_pos, plus masked
--      variants if the kernels need them) and set `kernels = "kernels_<name>"`;
--   2. write gen/kernels_<name>.lua exporting any of matmul_xw / matmul_gwt / matmul_xtg
--      (same arguments, same results up to rounding) with register tiles, tails, etc.
--      Functions it leaves out fall back to the portable ones below;
--   3. gen/target.lua already lists the name; `native` picks it when /proc/cpuinfo allows.
-- Everything is embedded by mk/gen.mk's wildcards (gen/*.lua, gen/*/*.lua).
local emit = require "emit"

local M = {}

local buffer = emit.buffer

-- "for j in [0, N): stmt" as loops whose trip counts are multiples of 8 where possible,
-- plus a short tail loop: gcc -O2 (its very cheap vectoriser) only vectorises loops that
-- need no epilogue. The order of work per j is unchanged, so results are the same.
local function jloop(b, depth, N, stmt)
  local main = N - N % 8
  if main == 0 or main == N then
    b.put(depth, "for (int j = 0; j < " .. N .. "; j++) " .. stmt)
  else
    b.put(depth, "for (int j = 0; j < " .. main .. "; j++) " .. stmt)
    b.put(depth, "for (int j = " .. main .. "; j < " .. N .. "; j++) " .. stmt)
  end
end

-- Rows are addressed as parameter + offset (not through local row pointers): gcc
-- applies `restrict` to parameters, and without it would need alias checks.
local function portable_xw(a, isa)
  local b = buffer()
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, "const int xo = i * " .. a.x_ld .. ", yo = i * " .. a.y_ld .. ";")
  jloop(b, 2, a.N, isa.store(a.y, "yo + j", isa.load(a.b, "j")))
  b.put(2, "for (int k = 0; k < " .. a.K .. "; k++) {")
  b.put(3, "const " .. isa.vtype .. " xk = " .. isa.broadcast(isa.load(a.x, "xo + k")) .. ";")
  b.put(3, "const int wo = k * " .. a.N .. ";")
  jloop(b, 3, a.N, isa.store(a.y, "yo + j", isa.fma("xk", isa.load(a.w, "wo + j"), isa.load(a.y, "yo + j"))))
  b.put(2, "}")
  if a.relu then
    local r = a.relu
    b.put(2, "const int ao = i * " .. r.out_ld .. ";")
    local v = isa.max(isa.load(a.y, "yo + j"), isa.zero())
    if r.shift < 0 then v = isa.sub(v, isa.broadcast(emit.float(-r.shift)))
    elseif r.shift > 0 then v = isa.add(v, isa.broadcast(emit.float(r.shift))) end
    jloop(b, 2, a.N, isa.store(r.out, "ao + j", v))
  end
  b.put(1, "}")
  return b.text()
end

local function portable_gwt(a, isa)
  local b = buffer()
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, "const float *restrict gi = " .. a.g .. " + i * " .. a.g_ld .. ";")
  b.put(2, "float *restrict di = " .. a.dx .. " + i * " .. a.dx_ld .. ";")
  if a.mask then b.put(2, "const float *restrict mi = " .. a.mask .. " + i * " .. a.mask_ld .. ";") end
  b.put(2, "for (int k = 0; k < " .. a.K .. "; k++) {")
  b.put(3, "const float *restrict wk = " .. a.w .. " + k * " .. a.N .. ";")
  b.put(3, isa.vtype .. " s = " .. isa.zero() .. ";")
  b.put(3, "for (int j = 0; j < " .. a.N .. "; j++) s = "
    .. isa.fma(isa.load("gi", "j"), isa.load("wk", "j"), "s") .. ";")
  b.put(3, isa.store("di", "k", a.mask and isa.select_pos(isa.load("mi", "k"), "s") or "s"))
  b.put(2, "}")
  b.put(1, "}")
  return b.text()
end

local function portable_xtg(a, isa)
  local b = buffer()
  b.put(1, "for (int k = 0; k < " .. a.K .. "; k++) {")
  b.put(2, "const int wo = k * " .. a.N .. ";")
  jloop(b, 2, a.N, isa.store(a.dw, "wo + j", isa.zero()))
  b.put(2, "for (int i = 0; i < n; i++) {")
  b.put(3, "const " .. isa.vtype .. " xk = " .. isa.broadcast(isa.load(a.x, "i * " .. a.x_ld .. " + k")) .. ";")
  b.put(3, "const int go = i * " .. a.g_ld .. ";")
  jloop(b, 3, a.N, isa.store(a.dw, "wo + j", isa.fma("xk", isa.load(a.g, "go + j"), isa.load(a.dw, "wo + j"))))
  b.put(2, "}")
  b.put(1, "}")
  jloop(b, 1, a.N, isa.store(a.db, "j", isa.zero()))
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, "const int go = i * " .. a.g_ld .. ";")
  jloop(b, 2, a.N, isa.store(a.db, "j", isa.add(isa.load(a.db, "j"), isa.load(a.g, "go + j"))))
  b.put(1, "}")
  return b.text()
end

local portable = {matmul_xw = portable_xw, matmul_gwt = portable_gwt, matmul_xtg = portable_xtg}

-- Straight-line products (a.straight, chosen by gen/schedule.lua for a network whose
-- products fit the spec's code_budget): only the row loop over the runtime n remains;
-- every multiply-add is its own statement with constant indices. The row's inputs are
-- read once into locals. Each sum runs in the portable loops' order (b[j], then k = 0, 1,
-- ...; 0, then j = 0, 1, ...; dW and db accumulated row by row), spelled with the same
-- `acc + a * b` statements, so the results are those of the loops above.
local function locals(b, depth, prefix, base, off, count)
  for c = 0, count - 1, 8 do
    local parts = {}
    for t = c, math.min(c + 7, count - 1) do
      parts[#parts + 1] = prefix .. t .. " = " .. base .. "[" .. off .. " + " .. t .. "]"
    end
    b.put(depth, "const float " .. table.concat(parts, ", ") .. ";")
  end
end

local function straight_xw(a, isa)
  local b = buffer()
  local K, N = a.K, a.N
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, "const int xo = i * " .. a.x_ld .. ", yo = i * " .. a.y_ld
    .. (a.relu and ", ao = i * " .. a.relu.out_ld or "") .. ";")
  locals(b, 2, "x", a.x, "xo", K)
  b.put(2, "float s;")
  for j = 0, N - 1 do
    b.put(2, "s = " .. isa.load(a.b, j) .. ";")
    for k = 0, K - 1 do
      b.put(2, "s = " .. isa.fma("x" .. k, isa.load(a.w, k * N + j), "s") .. ";")
    end
    b.put(2, isa.store(a.y, "yo + " .. j, "s"))
    if a.relu then
      local r = a.relu
      local v = isa.max("s", isa.zero())
      if r.shift < 0 then v = isa.sub(v, emit.float(-r.shift))
      elseif r.shift > 0 then v = isa.add(v, emit.float(r.shift)) end
      b.put(2, isa.store(r.out, "ao + " .. j, v))
    end
  end
  b.put(1, "}")
  return b.text()
end

local function straight_gwt(a, isa)
  local b = buffer()
  local K, N = a.K, a.N
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, "const int go = i * " .. a.g_ld .. ", dxo = i * " .. a.dx_ld
    .. (a.mask and ", mo = i * " .. a.mask_ld or "") .. ";")
  locals(b, 2, "g", a.g, "go", N)
  b.put(2, "float s;")
  for k = 0, K - 1 do
    b.put(2, "s = " .. isa.zero() .. ";")
    for j = 0, N - 1 do
      b.put(2, "s = " .. isa.fma("g" .. j, isa.load(a.w, k * N + j), "s") .. ";")
    end
    b.put(2, isa.store(a.dx, "dxo + " .. k, a.mask and isa.select_pos(isa.load(a.mask, "mo + " .. k), "s") or "s"))
  end
  b.put(1, "}")
  return b.text()
end

local function straight_xtg(a, isa)
  assert(not a.sgd, "straight-line products do not fuse the SGD update")
  local b = buffer()
  local K, N = a.K, a.N
  b.put(1, "for (int t = 0; t < " .. K * N .. "; t++) " .. isa.store(a.dw, "t", isa.zero()))
  b.put(1, "for (int t = 0; t < " .. N .. "; t++) " .. isa.store(a.db, "t", isa.zero()))
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, "const int xo = i * " .. a.x_ld .. ", go = i * " .. a.g_ld .. ";")
  locals(b, 2, "x", a.x, "xo", K)
  locals(b, 2, "g", a.g, "go", N)
  for k = 0, K - 1 do
    for j = 0, N - 1 do
      local o = k * N + j
      b.put(2, isa.store(a.dw, o, isa.fma("x" .. k, "g" .. j, isa.load(a.dw, o))))
    end
  end
  for j = 0, N - 1 do
    b.put(2, isa.store(a.db, j, isa.add(isa.load(a.db, j), "g" .. j)))
  end
  b.put(1, "}")
  return b.text()
end

local straight = {matmul_xw = straight_xw, matmul_gwt = straight_gwt, matmul_xtg = straight_xtg}

-- Multiply-add statements the straight-line products of a K -> N linear layer take
-- (forward, input gradient, weight gradient): the size gen/schedule.lua holds to the budget.
function M.straight_cost(K, N) return 3 * K * N end

-- Whether `isa` can take the straight-line products (the portable scalar spelling only;
-- SIMD ISAs keep their tiles).
function M.straight_ok(isa) return isa.width == 1 and not isa.kernels end

-- Product `name` for `isa`: the ISA's own kernel module if it has that function, else
-- the portable loops, spelled with the ISA's table when it is one float wide and with
-- the scalar table otherwise (plain C compiles for every target).
local function emit(name, a, isa)
  if a.straight then
    assert(M.straight_ok(isa), "straight-line products are scalar only")
    return straight[name](a, isa)
  end
  if isa.kernels then
    local k = require(isa.kernels)
    if k[name] then return k[name](a, isa) end
  end
  return portable[name](a, isa.width == 1 and isa or require("isa.scalar"))
end

function M.matmul_xw(a, isa) return emit("matmul_xw", a, isa) end
function M.matmul_gwt(a, isa) return emit("matmul_gwt", a, isa) end
function M.matmul_xtg(a, isa) return emit("matmul_xtg", a, isa) end

M.buffer = buffer
return M
