-- The schedule: HOW the graph is computed, every choice in one place (the ops say WHAT).
--   steps      which layers run as one C function: a product layer followed by an
--              activation is one step (the activation fused into the product's epilogue,
--              its derivative fused where the gradient that needs it is written); any
--              other layer (an activation, a "map" such as pooling or flatten) is a step
--              of its own. A product op may bring its own kernels (op.kernels, e.g.
--              conv2d's gen/kernels/conv.lua); the family then writes only the others
--   family     which kernels write the products: "straight" (every multiply-add a
--              statement, scalar only, when the products fit the spec's code_budget),
--              "tiled" (register tiles, for an ISA wider than one float) or "portable"
--              (loops); the modules are gen/kernels/<family>.lua
--   fuse_opt   the optimizer's update applied inside the weight-gradient tiles (a family
--              that can: gen/optim/vector.lua)
--   noinline   step functions kept out of their callers (straight-line code)
--   tiling     the size-dependent choices of the tiled kernels, per product (M.tiling)
-- decide(graph, isa) returns a new table with these; gen/plan.lua lays out memory for
-- the steps and gen/lower.lua turns both into C text.
local names = require "names"
local straight = require "kernels.straight"

local M = {}

local function steps_of(g)
  local steps = {}
  local i = 1
  while i <= #g.layers do
    local node, nxt = g.layers[i], g.layers[i + 1]
    local s = {index = #steps + 1, first = node.index}
    if node.op.role == "product" then
      s.product = node
      if nxt and nxt.op.role == "activation" then s.act = nxt end
    elseif node.op.role == "map" then
      s.map = node
    else
      s.act = node
    end
    local last = s.product and s.act or node
    s.last, s.in_, s.out = last.index, node.in_, last.out
    local words = {node.kind}
    if s.product and s.act then words[2] = s.act.kind end
    s.fname = names.step(s.first, words)
    steps[#steps + 1] = s
    i = i + #words
  end
  return steps
end

-- The straight-line family when the ISA is one float wide and the products' multiply-adds
-- fit the budget; else tiled for a SIMD ISA, portable loops for scalar.
local function family_of(g, steps, isa)
  local cost = 0
  for _, s in ipairs(steps) do
    if s.product and not s.product.op.kernels then cost = cost + straight.cost(s.in_, s.out) end
  end
  if isa.width == 1 and cost > 0 and cost <= g.code_budget then return "straight", cost end
  return isa.width > 1 and "tiled" or "portable", cost
end

-- Tiling: every size-dependent choice of gen/kernels/tiled.lua, per product, from the
-- sizes the generator knows. tiling(isa, product, s, over) -> a new table, s = {K =
-- inputs, N = outputs, batch = most rows (nil: any)}; `over` (optional) replaces fields
-- (a later `chainrule tune` writes them). None of these change the results: every output
-- is summed in the same order whatever the tiles, so a choice changes speed, not bits.
--   xw  (y = x·W):  vecs   most vectors per register tile row (blocks of vectors as even
--                          as possible); default the ISA's vec_max, up to 12 when a small
--                          batch leaves accumulator registers free
--                   order  "rows": row tiles outer, all of W streamed per row tile (small
--                          layers: x stays in L1); "columns": column blocks outer, each
--                          K x block panel of W reused by every row tile
--                   pack   copy each panel into an aligned contiguous stack buffer first;
--                          default on when W is larger than a quarter of the ISA's usual L2
--                          (L2_BYTES) or its row stride is a multiple of 4 KB (a strided
--                          panel then maps into few cache sets); not at batch 1 (W is read
--                          once)
--                   kc     inputs per packed panel (the panel at most PANEL_BYTES; the
--                          reduction over k is blocked when K > kc, the partial sums kept in y)
--   gwt (dx = g·Wᵀ): vecs  inputs per register tile, in vectors (default vec_max)
--                   rows   most rows per tile
--                   jc     outputs per transposed block of W (the block at most WT_BYTES;
--                          the reduction over j is blocked when N > jc, partial sums in dx)
--   xtg (dW = xᵀ·g): vecs  as for xw
M.L2_BYTES = {avx2 = 512 * 1024, avx512 = 2048 * 1024, neon = 1024 * 1024}
M.PANEL_BYTES = 32 * 1024
M.WT_BYTES = 32 * 1024

-- A block size for a loop over `total` in blocks of at most `most`: all of it when it
-- fits; else the largest divisor of total in [most/2, most], a multiple of `unit` if one
-- is (one block shape, so one copy of the code); else `most` (whole blocks and a rest).
function M.block(total, most, unit)
  if total <= most then return total end
  for _, u in ipairs({unit, 1}) do
    for c = most // u * u, (most + 1) // 2, -u do
      if c > 0 and total % c == 0 then return c end
    end
  end
  return most
end

function M.tiling(isa, product, s, over)
  local t
  if product == "xw" or product == "xtg" then
    local rows = math.min(isa.max_rows, s.batch or isa.max_rows)
    -- small batches: fewer rows, so wider tiles (one pass over W) fit the registers
    t = {vecs = math.max(isa.vec_max, math.min(isa.acc_regs // (rows + 1), 12))}
    if product == "xw" then
      local bytes = 4 * s.K * s.N
      t.pack = s.batch ~= 1 and s.K >= 64 and (4 * bytes > (M.L2_BYTES[isa.name] or 512 * 1024) or (4 * s.N) % 4096 == 0)
      t.order = t.pack and "columns" or "rows"
      t.kc = s.K
      if t.pack then t.kc = M.block(s.K, math.max(1, M.PANEL_BYTES // (4 * t.vecs * isa.width)), 1) end
    end
  elseif product == "gwt" then
    local kv = isa.vec_max
    t = {vecs = kv, rows = isa.max_rows}
    local T = isa.transpose_n or 1
    t.jc = M.block(s.N, math.max(T, M.WT_BYTES // (4 * kv * isa.width) // T * T), T)
  else
    error("tiling: unknown product " .. tostring(product))
  end
  for k, v in pairs(over or {}) do t[k] = v end
  return t
end

M.PHRASE = {straight = "straight-line products", tiled = "tiled products", portable = "products in loops"}
M.STYLE = {straight = "straight-line", tiled = "tiled", portable = "loops"}

function M.decide(g, isa)
  local steps = steps_of(g)
  local family, fmas = family_of(g, steps, isa)
  local kernels = require("kernels." .. family)
  return {
    steps = steps,
    family = family,
    kernels = kernels,
    style = M.STYLE[family],
    phrase = M.PHRASE[family],
    fmas = fmas,
    budget = g.code_budget,
    fuse_opt = kernels.fuses_opt or false,
    noinline = family == "straight",
  }
end

return M
