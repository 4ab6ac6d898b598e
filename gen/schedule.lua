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
--   fuse_sgd   plain SGD applied inside the weight-gradient tiles (a family that can)
--   noinline   step functions kept out of their callers (straight-line code)
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
    fuse_sgd = g.optimizer.kind == "sgd" and kernels.fuses_sgd or false,
    noinline = family == "straight",
  }
end

return M
