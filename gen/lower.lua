-- Lowering: graph + schedule + memory plan + ISA -> the pieces of C the templates put
-- together (templates/header.h.tpl, source.c.tpl, banner.tpl): one static function per
-- step and pass (gen/kernels/layer.lua with the schedule's kernel family), the calls that
-- chain them, the loss (gen/kernels/loss.lua), the optimizer (gen/optim/), the tables and
-- the banner. The templates see only the table returned here, never the graph or plan.
local emit = require "emit"
local layer = require "kernels.layer"
local loss = require "kernels.loss"
local names = require "names"
local ops = require "ops"

local M = {}

local function ref(b)
  if b.is_input then return "x" end
  return "w->" .. b.cname
end

-- Rows of the banner's layer table.
local function banner_rows(g, sched)
  local rows = {{"layer", "shape", "params", "bytes", "fwd FLOPs", "bwd FLOPs", "code"}}
  local tp, tf, tb = 0, 0, 0
  for i, l in ipairs(g.layers) do
    local kind, code = l.kind, sched.style
    if l.op.role == "activation" then
      kind = l.op.shown(l.opts)
      code = g.layers[i - 1] and g.layers[i - 1].op.role == "product" and "fused" or "loops"
    end
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

-- The activation {op, opts} of a step, with `buf` the buffer its derivative reads.
local function act_of(s, mem)
  return s.act and {op = s.act.op, opts = s.act.opts, buf = mem.mask} or nil
end

local function steps(g, sched, plan, isa, ctx)
  local function tensor(index) return g.tensors[index + 1] end
  local base = {isa = isa, family = sched.kernels, ref = ref, tensor = tensor, batch = g.batch,
                noinline = sched.noinline}
  for k, s in ipairs(sched.steps) do
    local emitter = s.product and layer.product_forward or layer.activation_forward
    local text, call = emitter(s, plan.steps[k], base)
    ctx.functions[#ctx.functions + 1] = text
    ctx.forward_calls[k] = call
  end
  for k = #sched.steps, 1, -1 do
    local s, prev, pm = sched.steps[k], sched.steps[k - 1], plan.steps[k - 1]
    local c = setmetatable({first = prev == nil, fuse_sgd = sched.fuse_sgd,
                            dx = prev and ref(pm.d) or "dx", dx_ld = prev and pm.d.ld or g.input,
                            in_act = prev and act_of(prev, pm)}, {__index = base})
    local emitter = s.product and layer.product_backward or layer.activation_backward
    local text, call, call_fused = emitter(s, plan.steps[k], c)
    ctx.functions[#ctx.functions + 1] = text
    ctx.backward_calls[#ctx.backward_calls + 1] = call
    ctx.backward_fused_calls[#ctx.backward_fused_calls + 1] = call_fused or call
  end
end

function M.build(g, sched, plan, isa, opts)
  local o = g.optimizer
  local ctx = {
    name = g.name, NAME = emit.upper(g.name), spec = opts.spec_path, version = opts.version, isa = isa.name,
    emit = emit, loss = g.loss, optimizer = o.kind, target_type = loss.TARGET_TYPE[g.loss],
    input = g.input, output = g.output, batch = g.batch, param_count = g.param_count,
    params_floats = plan.params_floats, work_bytes = plan.work_bytes,
    tensors = plan.params, work = plan.work, layers = {},
    functions = {}, forward_calls = {}, backward_calls = {}, backward_fused_calls = {},
    fuse_sgd = sched.fuse_sgd, code_style = sched.style, code_phrase = sched.phrase,
    code_fmas = sched.fmas, code_budget = sched.budget,
  }
  -- NAME_layers[]: the layer table of the public API
  local words = {}
  for k, w in ipairs(ops.words()) do words[k] = '"' .. w .. '"' end
  ctx.op_words = table.concat(words, ", ")
  for i, l in ipairs(g.layers) do
    ctx.layers[i] = {kind = l.kind, in_ = l.in_, out = l.out, shift = l.opts.shift or 0,
                     slope = l.opts.slope or 0, weight = l.weight, bias = l.bias}
  end
  -- the tensors a fused SGD path updates after the tiles (those the kernels do not)
  ctx.unfused_tensors = {}
  for _, t in ipairs(plan.params) do
    if not t.fused_sgd then ctx.unfused_tensors[#ctx.unfused_tensors + 1] = t end
  end
  steps(g, sched, plan, isa, ctx)
  -- NAME_backward reads x only through the first step's weight gradient
  ctx.backward_reads_x = sched.steps[1].product ~= nil

  local last, lm = sched.steps[#sched.steps], plan.steps[#sched.steps]
  assert(lm.a.ld == g.output, "the output buffer must be dense: NAME_loss reads the caller's out")
  local act = act_of(last, lm)
  local loss_text, loss_fn, loss_bwd, correct_fn = loss.emit(g.loss, {out = g.output, out_ld = lm.a.ld, act = act, isa = isa})
  assert(loss_fn == names.LOSS[g.loss] .. "_loss", "gen/names.lua must know the loss functions' names")
  ctx.functions[#ctx.functions + 1] = loss_text
  ctx.loss_call = string.format("%s(out, t, n)", loss_fn)
  ctx.loss_backward_call = string.format("%s(%s, %s, t, %sn)", loss_bwd, ref(lm.d), ref(lm.a),
    act and ref(act.buf) .. ", " or "")
  ctx.correct_call = correct_fn and string.format("%s(out, t, n)", correct_fn) or false
  ctx.output_ref = ref(lm.a)

  local optim = require("optim." .. (o.kind == "sgd" and "sgd" or "adam"))
  ctx.opt_state = optim.state(g.name)
  ctx.opt_step = optim.step(plan.params, o.kind)
  ctx.opt_init_state = optim.init()
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
  ctx.banner_rows = banner_rows(g, sched)
  ctx.math_h = g.loss == "cross_entropy" or o.kind ~= "sgd"
  for _, l in ipairs(g.layers) do ctx.math_h = ctx.math_h or l.op.libm or false end
  return ctx
end

return M
