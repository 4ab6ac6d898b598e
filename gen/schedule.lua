-- Schedule: graph + plan + ISA -> the pieces of C the templates put together: one
-- static function per step and pass (from the op modules, products from gen/kernels.lua),
-- the calls that chain them, the loss, the optimizer, the tables and the banner.
local emit = require "emit"
local kernels = require "kernels"

local M = {}

-- How the products of the linear layers are written: "straight-line" when the ISA takes
-- them (scalar) and their multiply-adds fit the spec's code_budget, else the ISA's
-- "tiled" kernels or the portable "loops". Returns the style and the multiply-add count.
local function code_style(g, isa)
  local cost = 0
  for _, s in ipairs(g.steps) do
    if s.linear then cost = cost + kernels.straight_cost(s.in_, s.out) end
  end
  if kernels.straight_ok(isa) and cost > 0 and cost <= g.code_budget then return "straight-line", cost end
  return isa.kernels and "tiled" or "loops", cost
end

local function ref(b)
  if b.is_input then return "x" end
  return "w->" .. b.cname
end

-- Rows of the banner's layer table.
local function banner_rows(g, style)
  local rows = {{"layer", "shape", "params", "bytes", "fwd FLOPs", "bwd FLOPs", "code"}}
  local tp, tf, tb = 0, 0, 0
  for i, l in ipairs(g.layers) do
    local kind = l.kind
    local code = l.kind == "linear" and style
      or (g.layers[i - 1] and g.layers[i - 1].kind == "linear" and "fused" or "loops")
    if kind == "relu" and l.spec.shift ~= 0 then kind = "relu(shift " .. emit.number(l.spec.shift) .. ")" end
    rows[#rows + 1] = {l.index .. " " .. kind, l.in_ .. " -> " .. l.out, emit.grouped(l.param_count),
      emit.grouped(4 * l.param_count), emit.grouped(l.flops_fwd), emit.grouped(l.flops_bwd),
      code}
    tp, tf, tb = tp + l.param_count, tf + l.flops_fwd, tb + l.flops_bwd
  end
  rows[#rows + 1] = {"loss " .. g.loss, g.output .. " -> 1", "", "", "", "", "loops"}
  rows[#rows + 1] = {"total", g.input .. " -> " .. g.output, emit.grouped(tp), emit.grouped(4 * tp),
                     emit.grouped(tf), emit.grouped(tb), ""}
  return emit.table(rows)
end

function M.build(g, plan, isa, opts)
  local NAME = emit.upper(g.name)
  local ctx = {
    name = g.name, NAME = NAME, spec = opts.spec_path, version = opts.version, isa = isa.name,
    g = g, plan = plan, emit = emit,
    loss = g.loss, optimizer = g.optimizer.kind,
    target_type = g.loss_op.target_type,
    functions = {}, forward_calls = {}, backward_calls = {}, backward_fused_calls = {},
  }
  -- Plain SGD with kernels that fuse the update into the weight-gradient tiles
  -- (isa.fuses_sgd): NAME_train_step takes that path when momentum and weight decay are 0.
  ctx.fuse_sgd = g.optimizer.kind == "sgd" and isa.fuses_sgd or false
  ctx.fused_bias = {}
  for _, t in ipairs(g.tensors) do
    if t.suffix == "bias" then ctx.fused_bias[#ctx.fused_bias + 1] = t end
  end
  local function tensor(index) return g.tensors[index + 1] end
  ctx.code_style, ctx.code_fmas = code_style(g, isa)
  ctx.code_budget = g.code_budget
  ctx.code_phrase = ({["straight-line"] = "straight-line products", tiled = "tiled products",
                      loops = "products in loops"})[ctx.code_style]
  local straight = ctx.code_style == "straight-line"
  ctx.fuse_sgd = ctx.fuse_sgd and not straight

  for k, s in ipairs(g.steps) do
    local text, call = s[s.kind == "linear_relu" and "linear" or s.kind].op.forward(s, {
      isa = isa, ref = ref, tensor = tensor, batch = g.batch, straight = straight})
    ctx.functions[#ctx.functions + 1] = text
    ctx.forward_calls[k] = call
  end
  for k = #g.steps, 1, -1 do
    local s, prev = g.steps[k], g.steps[k - 1]
    local text, call, call_fused = s[s.kind == "linear_relu" and "linear" or s.kind].op.backward(s, {
      isa = isa, ref = ref, tensor = tensor, first = prev == nil, batch = g.batch, fuse_sgd = ctx.fuse_sgd,
      straight = straight,
      dx = prev and ref(prev.d) or "dx", dx_ld = prev and prev.d.ld or g.input,
      in_mask = prev and prev.mask or nil})
    ctx.functions[#ctx.functions + 1] = text
    ctx.backward_calls[#ctx.backward_calls + 1] = call
    ctx.backward_fused_calls[#ctx.backward_fused_calls + 1] = call_fused or call
  end

  local last = g.steps[#g.steps]
  assert(last.a.ld == g.output, "the output buffer must be dense: NAME_loss reads the caller's out")
  local loss_text, loss_fn, loss_bwd, correct_fn = g.loss_op.emit({
    out = g.output, out_ld = last.a.ld, mask = last.mask and "m" or nil, isa = isa})
  ctx.functions[#ctx.functions + 1] = loss_text
  ctx.loss_call = string.format("%s(out, t, n)", loss_fn)
  ctx.loss_backward_call = string.format("%s(%s, %s, t, %sn)", loss_bwd, ref(last.d), ref(last.a),
    last.mask and ref(last.mask) .. ", " or "")
  ctx.correct_call = correct_fn and string.format("%s(out, t, n)", correct_fn) or false
  ctx.output_ref = ref(last.a)

  local optim = require("optim." .. (g.optimizer.kind == "sgd" and "sgd" or "adam"))
  ctx.opt_state = optim.state(g.name)
  ctx.opt_step = optim.step(g.tensors, g.optimizer.kind)
  ctx.opt_init_state = optim.init()
  local o = g.optimizer
  ctx.opt_fields = {
    {"lr", emit.float(o.lr)}, {"momentum", emit.float(o.momentum or 0)},
    {"dampening", emit.float(o.dampening or 0)}, {"weight_decay", emit.float(o.weight_decay or 0)},
    {"nesterov", o.nesterov and "1" or "0"},
    {"beta1", emit.float(o.beta1 or 0)}, {"beta2", emit.float(o.beta2 or 0)}, {"eps", emit.float(o.eps or 0)},
  }
  -- SIMD ISAs: the target guard, headers and helper functions of gen/isa/<name>.lua
  ctx.isa_guard = isa.guard or false
  ctx.isa_guard_flags = isa.guard_flags or ""
  ctx.isa_includes = isa.includes or {}
  if isa.helpers then table.insert(ctx.functions, 1, isa.helpers) end
  ctx.banner_rows = banner_rows(g, ctx.code_style)
  ctx.math_h = g.loss == "cross_entropy" or o.kind ~= "sgd"
  return ctx
end

return M
