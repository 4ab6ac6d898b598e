-- The portable product kernels (the "loops" family): the three products of a linear
-- layer as plain C loops, spelled with a one-float ISA table (gen/isa/scalar.lua).
--   matmul_xw   y = x·W + b           (epilogue: a = f(y), the fused activation)
--   matmul_gwt  dx = g·Wᵀ             (epilogue: ⊙ f' of the previous activation)
--   matmul_xtg  dW = xᵀ·g, db = Σ_i g (weight and bias gradient)
-- Each takes one table of named arguments (C names of the buffers, the compile-time
-- sizes K = features in, N = features out, leading dimensions, the runtime row count n;
-- matmul_xw's act = {op, opts, out, out_ld}; matmul_gwt's mask, mask_ld, mask_act) plus
-- the ISA table, and returns the C statements of a function body. A layer without a bias
-- (linear with bias = false) passes no b and no db: the sums start from zero.
-- gen/kernels/straight.lua and gen/kernels/tiled.lua take the same arguments and give the
-- same results (up to rounding for tiled).
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
  jloop(b, 2, a.N, isa.store(a.y, "yo + j", a.b and isa.load(a.b, "j") or isa.zero()))
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

-- dx = g·Wᵀ: each dx[i][k] a dot product over j in order from 0.0f (the loop of one sum per
-- (i, k) it replaces, bit for bit), GWT_ROWS rows x GWT_KS inputs at a time: independent sums
-- in flight instead of one chain of dependent adds, and each g and W value loaded once for
-- several multiply-adds (8 sums: the adds' latency covered on x86's two add ports, 14 of a
-- Cortex-M4F's 32 registers). Zen 4 VM, 784-256-256-10 B=64 train_step_scratch, -O2 without
-- -march, fastest of 2-3 runs: clang 5.66 -> 3.22 ms, gcc 6.57 -> 4.88 ms (its runs move by
-- 1.5x between processes either way). The x·W and xᵀ·g loops stay as they are: their inner
-- loops run along j without a reduction and compilers vectorise them; register tiles of 4x4
-- sums measured no faster for x·W with clang (182 against 172 us for 784x50 B=64).
local GWT_ROWS, GWT_KS = 2, 4

-- One block: dx rows i..i+rows-1 (i a C variable), inputs k0..k0+ks-1 (k0 C text).
local function gwt_block(b, d, a, isa, rows, ks, k0)
  local sums = {}
  for r = 0, rows - 1 do
    for c = 0, ks - 1 do sums[#sums + 1] = string.format("s%d_%d = %s", r, c, isa.zero()) end
  end
  b.put(d, isa.vtype .. " " .. table.concat(sums, ", ") .. ";")
  b.put(d, "for (int j = 0; j < " .. a.N .. "; j++) {")
  for r = 0, rows - 1 do
    b.put(d + 1, string.format("const %s g%d = %s;", isa.vtype, r, isa.load(a.g, string.format("(i + %d) * %d + j", r, a.g_ld))))
  end
  for c = 0, ks - 1 do
    b.put(d + 1, string.format("const %s w%d = %s;", isa.vtype, c, isa.load(a.w, string.format("(%s + %d) * %d + j", k0, c, a.N))))
  end
  for r = 0, rows - 1 do
    for c = 0, ks - 1 do
      local acc = string.format("s%d_%d", r, c)
      b.put(d + 1, acc .. " = " .. isa.fma("g" .. r, "w" .. c, acc) .. ";")
    end
  end
  b.put(d, "}")
  for r = 0, rows - 1 do
    for c = 0, ks - 1 do
      local acc, at = string.format("s%d_%d", r, c), string.format("(i + %d) * %%d + %s + %d", r, k0, c)
      local v = a.mask and epilogue.grad(a.mask_act, isa, acc, isa.load(a.mask, at:format(a.mask_ld))) or acc
      b.put(d, isa.store(a.dx, at:format(a.dx_ld), v))
    end
  end
end

-- Blocks of GWT_KS inputs, then one block of the K % GWT_KS left, for `rows` rows at i.
local function gwt_rows(b, d, a, isa, rows)
  local main = a.K - a.K % GWT_KS
  if main > 0 then
    b.put(d, "for (int k = 0; k < " .. main .. "; k += " .. GWT_KS .. ") {")
    gwt_block(b, d + 1, a, isa, rows, GWT_KS, "k")
    b.put(d, "}")
  end
  if main < a.K then
    b.put(d, "{")
    gwt_block(b, d + 1, a, isa, rows, a.K - main, tostring(main))
    b.put(d, "}")
  end
end

local function portable_gwt(a, isa)
  local b = buffer()
  b.put(1, "int i = 0;")
  b.put(1, "for (; i + " .. GWT_ROWS .. " <= n; i += " .. GWT_ROWS .. ") {")
  gwt_rows(b, 2, a, isa, GWT_ROWS)
  b.put(1, "}")
  b.put(1, "for (; i < n; i++) {")
  gwt_rows(b, 2, a, isa, 1)
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
  if not a.db then return b.text() end   -- (no bias)
  jloop(b, 1, a.N, isa.store(a.db, "j", isa.zero()))
  b.put(1, "for (int i = 0; i < n; i++) {")
  b.put(2, "const int go = i * " .. a.g_ld .. ";")
  jloop(b, 2, a.N, isa.store(a.db, "j", isa.add(isa.load(a.db, "j"), isa.load(a.g, "go + j"))))
  b.put(1, "}")
  return b.text()
end

M.matmul_xw, M.matmul_gwt, M.matmul_xtg = portable_xw, portable_gwt, portable_xtg

return M
