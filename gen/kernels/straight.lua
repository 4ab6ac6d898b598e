-- The straight-line product kernels (chosen by gen/schedule.lua for a scalar network
-- whose products fit the spec's code_budget): only the row loop over the runtime n
-- remains; every multiply-add is its own statement with constant indices. Same arguments
-- as gen/kernels/portable.lua. The SGD update is not fused here.
local emit = require "emit"
local epilogue = require "kernels.epilogue"

local M = {}

local buffer = emit.buffer

-- The row's inputs are read once into locals. Each sum runs in the portable loops' order
-- (b[j], then k = 0, 1, ...; 0, then j = 0, 1, ...; dW and db accumulated row by row),
-- spelled with the same `acc + a * b` statements, so the results are those of the loops.
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
    .. (a.act and ", ao = i * " .. a.act.out_ld or "") .. ";")
  locals(b, 2, "x", a.x, "xo", K)
  b.put(2, "float s;")
  for j = 0, N - 1 do
    b.put(2, "s = " .. (a.b and isa.load(a.b, j) or isa.zero()) .. ";")
    for k = 0, K - 1 do
      b.put(2, "s = " .. isa.fma("x" .. k, isa.load(a.w, k * N + j), "s") .. ";")
    end
    b.put(2, isa.store(a.y, "yo + " .. j, "s"))
    if a.act then
      b.put(2, isa.store(a.act.out, "ao + " .. j, epilogue.forward(a.act, isa, "s")))
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
    b.put(2, isa.store(a.dx, "dxo + " .. k, a.mask and epilogue.grad(a.mask_act, isa, "s", isa.load(a.mask, "mo + " .. k)) or "s"))
  end
  b.put(1, "}")
  return b.text()
end

local function straight_xtg(a, isa)
  assert(not a.sgd, "straight-line products do not fuse the SGD update")
  local b = buffer()
  local K, N = a.K, a.N
  b.put(1, "for (int t = 0; t < " .. K * N .. "; t++) " .. isa.store(a.dw, "t", isa.zero()))
  if a.db then b.put(1, "for (int t = 0; t < " .. N .. "; t++) " .. isa.store(a.db, "t", isa.zero())) end
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
  for j = 0, a.db and N - 1 or -1 do
    b.put(2, isa.store(a.db, j, isa.add(isa.load(a.db, j), "g" .. j)))
  end
  b.put(1, "}")
  return b.text()
end

M.matmul_xw, M.matmul_gwt, M.matmul_xtg = straight_xw, straight_gwt, straight_xtg

-- Multiply-add statements the straight-line products of a K -> N linear layer take
-- (forward, input gradient, weight gradient): the size gen/schedule.lua holds to the budget.
function M.cost(K, N) return 3 * K * N end

return M
