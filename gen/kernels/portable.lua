-- The portable product kernels (the "loops" family): the three products of a linear
-- layer as plain C loops, spelled with a one-float ISA table (gen/isa/scalar.lua).
--   matmul_xw   y = x·W + b           (epilogue: a = f(y), the fused activation)
--   matmul_gwt  dx = g·Wᵀ             (epilogue: ⊙ f' of the previous activation)
--   matmul_xtg  dW = xᵀ·g, db = Σ_i g (weight and bias gradient)
-- Each takes one table of named arguments (C names of the buffers, the compile-time
-- sizes K = features in, N = features out, leading dimensions, the runtime row count n;
-- matmul_xw's act = {op, opts, out, out_ld}; matmul_gwt's mask, mask_ld, mask_act) plus
-- the ISA table, and returns the C statements of a function body. gen/kernels/straight.lua
-- and gen/kernels/tiled.lua take the same arguments and give the same results (up to
-- rounding for tiled).
--
-- Compile-time bounds except n, i-k-j order so the innermost loop runs along contiguous
-- memory without a reduction (compilers vectorise it without relaxed floating-point
-- flags), and a fixed summation order.
local emit = require "emit"
local epilogue = require "kernels.epilogue"

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
  if a.act then
    b.put(2, "const int ao = i * " .. a.act.out_ld .. ";")
    jloop(b, 2, a.N, isa.store(a.act.out, "ao + j", epilogue.forward(a.act, isa, isa.load(a.y, "yo + j"))))
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
  b.put(3, isa.store("di", "k", a.mask and epilogue.grad(a.mask_act, isa, "s", isa.load("mi", "k")) or "s"))
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

M.matmul_xw, M.matmul_gwt, M.matmul_xtg = portable_xw, portable_gwt, portable_xtg

return M
