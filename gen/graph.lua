-- Shape inference: a checked network -> the graph IR.
--
-- Nodes are the spec's layers with their shapes, parameter tensors and FLOP counts
-- (each op module knows its own). Then the layers are grouped into steps, the units the
-- generated code runs: a linear layer followed by a relu becomes one step (bias + ReLU
-- fused into the product, the ReLU mask fused into the next product's input gradient);
-- any other layer is a step of its own.
local M = {}

local function op(kind) return require("ops." .. kind) end

function M.build(net)
  local g = {
    name = net.name, path = net.path, input = net.input, output = net.output,
    batch = net.batch, loss = net.loss, optimizer = net.optimizer, code_budget = net.code_budget,
    layers = {}, tensors = {}, steps = {},
  }
  g.loss_op = op(net.loss == "mse" and "mse" or "softmax_cross_entropy")
  local count = 0
  for i, l in ipairs(net.layers) do
    local o = op(l.kind)
    local node = {index = l.index, kind = l.kind, op = o, spec = l, in_ = l.in_, out = l.out,
                  weight = -1, bias = -1}
    node.tensors = o.params(l)
    node.param_count = 0
    for _, t in ipairs(node.tensors) do
      t.index = #g.tensors           -- 0-based, as in NAME_tensors[]
      t.name = l.index .. "." .. t.suffix
      t.cname = "l" .. l.index .. "_" .. t.suffix
      t.layer = l.index
      g.tensors[#g.tensors + 1] = t
      node[t.suffix] = t.index
      node.param_count = node.param_count + t.rows * t.cols
    end
    -- backward FLOPs leave out the input gradient of layer 0 (NAME_train_step skips it)
    local fwd, bwd_params, bwd_input = o.flops(l, net.batch)
    node.flops_fwd, node.flops_bwd = fwd, bwd_params + (i == 1 and 0 or bwd_input)
    count = count + node.param_count
    g.layers[i] = node
  end
  g.param_count = count

  local i = 1
  while i <= #g.layers do
    local node = g.layers[i]
    local step = {index = #g.steps + 1, first = node.index, layers = {node}}
    if node.kind == "linear" and g.layers[i + 1] and g.layers[i + 1].kind == "relu" then
      step.kind, step.linear, step.relu = "linear_relu", node, g.layers[i + 1]
      step.layers[2] = g.layers[i + 1]
      i = i + 2
    else
      step.kind = node.kind
      step[node.kind] = node
      i = i + 1
    end
    step.last = step.layers[#step.layers].index
    step.in_, step.out = step.layers[1].in_, step.layers[#step.layers].out
    step.fname = "l" .. step.first .. "_" .. step.kind
    g.steps[#g.steps + 1] = step
  end
  return g
end

return M
