-- The graph: a checked network (gen/spec.lua) -> layers with their op module (gen/ops.lua),
-- shapes, parameter tensors and FLOP counts. A new table; the network is not changed.
local ops = require "ops"

local M = {}

function M.build(net)
  local g = {
    name = net.name, path = net.path, input = net.input, output = net.output,
    input_shape = net.input_shape,
    batch = net.batch, loss = net.loss, optimizer = net.optimizer, schedule = net.schedule,
    code_budget = net.code_budget,
    layers = {}, tensors = {},
  }
  local count = 0
  for i, l in ipairs(net.layers) do
    local op = ops.get(l.kind)
    -- opts: the layer's validated fields (shift, init, ...), read-only from here on
    local node = {index = l.index, kind = l.kind, op = op, opts = l, in_ = l.in_, out = l.out,
                  shape = l.shape, in_shape = l.in_shape,
                  weight = -1, bias = -1, param_count = 0}
    for _, p in ipairs(op.params(l)) do
      local t = {}
      for k, v in pairs(p) do t[k] = v end
      t.index = #g.tensors           -- 0-based, as in NAME_tensors[]
      t.name = l.index .. "." .. p.suffix
      t.cname = "l" .. l.index .. "_" .. p.suffix
      t.layer = l.index
      t.floats = p.rows * p.cols
      g.tensors[#g.tensors + 1] = t
      node[p.suffix] = t.index
      node.param_count = node.param_count + t.floats
    end
    -- backward FLOPs leave out the input gradient of layer 0 (NAME_train_step skips it)
    local fwd, bwd_params, bwd_input = op.flops(l, net.batch)
    node.flops_fwd, node.flops_bwd = fwd, bwd_params + (i == 1 and 0 or bwd_input)
    count = count + node.param_count
    g.layers[i] = node
  end
  g.param_count = count
  return g
end

return M
