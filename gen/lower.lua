-- Lowering: graph + schedule + memory plan + ISA -> the pieces of C the templates put
-- together (templates/header.h.tpl, source.c.tpl, banner.tpl): one static function per
-- step and pass (gen/kernels/layer.lua with the schedule's kernel family), the calls that
-- chain them, the loss (gen/kernels/loss.lua), the optimizer (gen/optim/), the tables and
-- the banner. The templates see only the table returned here, never the graph or plan.
local emit = require "emit"
local pad = require("plan").pad
local layer = require "kernels.layer"
local loss = require "kernels.loss"
local shared = require "kernels.shared"
local actmath = require "kernels.actmath"
local convtile = require "kernels.convtile"
local names = require "names"
local ops = require "ops"

local M = {}

local function ref(b)
  if b.is_input then return "x" end
  return "w->" .. b.cname
end

-- Rows of the banner's layer table. flash: the layer's tensors as laid out in NAME_params
-- (64-byte padded); RAM: its buffers in NAME_work (training: z, a, d named after their layer;
-- inference: the slots, counted at the first layer that uses each). Inference has no
-- backward column.
-- A banner cell: "C×H×W" of an image (ASCII x), else the flat width.
local function shape_cell(shape, width)
  return shape and string.format("%dx%dx%d", shape[1], shape[2], shape[3]) or tostring(width)
end

-- An image layer's window in the banner: "conv2d k5 s1 p2", "maxpool2d k2 s2".
local function window_label(kind, o)
  if not o.kernel then return kind end
  return string.format("%s k%d s%d%s", kind, o.kernel, o.stride, (o.padding or 0) > 0 and " p" .. o.padding or "")
end

local function banner_rows(g, sched, plan, isa, inference)
  local head = {"layer", "shape", "params", "flash", "RAM", "fwd FLOPs", "bwd FLOPs", "code"}
  if inference then table.remove(head, 7) end
  local rows = {head}
  local flash, ram = {}, {}
  for _, t in ipairs(plan.params) do
    flash[t.layer] = (flash[t.layer] or 0) + 4 * pad(t.floats)
  end
  for _, b in ipairs(plan.members) do ram[b.layer] = (ram[b.layer] or 0) + 4 * pad(b.floats) end
  -- the activations the schedule put into a product's or a map's step
  local fused = {}
  for _, s in ipairs(sched.steps) do
    if (s.product or s.map) and s.act then fused[s.act.index] = true end
  end
  -- the layers with kernels of their own that run as register tiles here (a conv2d that
  -- gen/kernels/convtile.lua takes); the others' kernels are loops
  local tiles = {}
  for _, s in ipairs(sched.steps) do
    if s.product and s.product.op.kernels and convtile.applies(isa, s.product) then tiles[s.product.index] = true end
  end
  local tp, tf, tb, tfl, tr = 0, 0, 0, 0, 0
  local function row(cells)
    if inference then table.remove(cells, 7) end
    rows[#rows + 1] = cells
  end
  for _, l in ipairs(g.layers) do
    local kind, code = window_label(l.kind, l.opts), l.op.kernels and (tiles[l.index] and "tiled" or "loops") or sched.style
    if l.op.role == "activation" then
      kind = l.op.shown(l.opts)
      code = fused[l.index] and "fused" or "loops"
    end
    local fl, r = flash[l.index] or 0, ram[l.index] or 0
    row({l.index .. " " .. kind, shape_cell(l.in_shape, l.in_) .. " -> " .. shape_cell(l.shape, l.out),
      emit.grouped(l.param_count),
      emit.grouped(fl), emit.grouped(r), emit.grouped(l.flops_fwd), emit.grouped(l.flops_bwd), code})
    tp, tf, tb, tfl, tr = tp + l.param_count, tf + l.flops_fwd, tb + l.flops_bwd, tfl + fl, tr + r
  end
  if not inference then rows[#rows + 1] = {"loss " .. g.loss, g.output .. " -> 1", "", "", "", "", "", "loops"} end
  row({"total", shape_cell(g.input_shape, g.input) .. " -> " .. g.output, emit.grouped(tp), emit.grouped(tfl), emit.grouped(tr),
       emit.grouped(tf), emit.grouped(tb), ""})
  return emit.table(rows)
end

-- The activation {op, opts} of a step, with `buf` the buffer its derivative reads.
local function act_of(s, mem)
  return s.act and {op = s.act.op, opts = s.act.opts, buf = mem.mask} or nil
end

local function step_base(g, sched, isa, inference)
  local function tensor(index) return g.tensors[index + 1] end
  return {isa = isa, family = sched.kernels, ref = ref, tensor = tensor, batch = g.batch,
          noinline = sched.noinline, inference = inference or false, tuned = sched.tuned}
end

-- The module that writes a step's functions: the op's own kernels (schedule.own_kernels) or
-- gen/kernels/layer.lua.
local own_kernels = require("schedule").own_kernels

local function forward_steps(sched, plan, base, ctx)
  for k, s in ipairs(sched.steps) do
    local own = own_kernels(s)
    local emitter = own and own.forward or s.product and layer.product_forward or layer.activation_forward
    local c = base
    -- a training forward that need not store z (schedule.decide: s.z_unread)
    if s.z_unread and not base.inference then c = setmetatable({mask_unread = true}, {__index = base}) end
    -- a layer with modes (batchnorm, dropout) also gives its training-mode call
    local text, call, train_call = emitter(s, plan.steps[k], c)
    ctx.functions[#ctx.functions + 1] = text
    ctx.forward_calls[k] = call
    ctx.train_forward_calls[k] = train_call or call
  end
end

local function backward_steps(g, sched, plan, base, ctx)
  for k = #sched.steps, 1, -1 do
    local s, prev, pm = sched.steps[k], sched.steps[k - 1], plan.steps[k - 1]
    local c = setmetatable({first = prev == nil, fuse_opt = sched.fuse_opt and g.optimizer.kind,
                            dx = prev and ref(pm.d) or "dx", dx_ld = prev and pm.d.ld or g.input,
                            in_act = prev and act_of(prev, pm)}, {__index = base})
    -- (plan.lua PASS_THROUGH: the step's gradient is the one before it, nothing to do)
    if not plan.steps[k].pass_through then
      local own = own_kernels(s)
      local emitter = own and own.backward or s.product and layer.product_backward or layer.activation_backward
      local text, call, call_fused, call_scratch = emitter(s, plan.steps[k], c)
      ctx.functions[#ctx.functions + 1] = text
      ctx.backward_calls[#ctx.backward_calls + 1] = call
      ctx.backward_fused_calls[#ctx.backward_fused_calls + 1] = call_fused or call
      ctx.backward_scratch_calls[#ctx.backward_scratch_calls + 1] = call_scratch or call_fused or call
    end
  end
end

-- An image shape {C, H, W} as the body of a C array initializer; zeros when flat (nil).
local function shape_c(s)
  return s and string.format("%d, %d, %d", s[1], s[2], s[3]) or "0, 0, 0"
end

function M.build(g, sched, plan, isa, opts)
  local o = g.optimizer
  local ctx = {
    name = g.name, NAME = emit.upper(g.name), spec = opts.spec_path, version = opts.version, isa = isa.name,
    emit = emit, loss = g.loss, optimizer = o.kind, target_type = loss.TARGET_TYPE[g.loss],
    input = g.input, input_shape = g.input_shape or false, output = g.output, batch = g.batch, param_count = g.param_count,
    params_floats = plan.params_floats, work_bytes = plan.work_bytes, params_bytes = 4 * plan.params_floats,
    tensors = plan.params, work = plan.work, layers = {},
    functions = {}, forward_calls = {}, train_forward_calls = {}, backward_calls = {}, backward_fused_calls = {},
    backward_scratch_calls = {},
    fuse_opt = sched.fuse_opt, code_style = sched.style, code_phrase = sched.phrase,
    code_fmas = sched.fmas, code_budget = sched.budget, inference = false, members = plan.members,
    dispatch = false, modes = M.has_modes(g), dropout = M.has_dropout(g),
  }
  ctx.train_min_rows, ctx.train_min_rows_layer = M.train_min_rows(g)
  -- NAME_layers[]: the layer table of the public API
  local words = {}
  for k, w in ipairs(ops.words()) do words[k] = '"' .. w .. '"' end
  ctx.op_words = table.concat(words, ", ")
  for i, l in ipairs(g.layers) do
    -- batchnorm's weight and bias are not a product's (no init scheme of their own): -1
    local product = l.op.role == "product"
    ctx.layers[i] = {kind = l.kind, in_ = l.in_, out = l.out, shift = l.opts.shift or 0,
                     slope = l.opts.slope or 0, weight = product and l.weight or -1,
                     bias = product and l.bias or -1,
                     kernel = l.opts.kernel or 0, stride = l.opts.stride or 0, padding = l.opts.padding or 0,
                     in_shape = shape_c(l.in_shape), out_shape = shape_c(l.shape),
                     eps = l.kind == "batchnorm" and l.opts.eps or 0, p = l.kind == "dropout" and l.opts.p or 0}
  end
  -- the tensors NAME_train_step updates after the tiles (those the kernels do not), as
  -- vopt_tensor calls (gen/optim/vector.lua)
  ctx.unfused_calls = {}
  for _, t in ipairs(plan.params) do
    if not t.fused_update and not t.buffer then
      ctx.unfused_calls[#ctx.unfused_calls + 1] = require("optim.vector").tensor_call(o.kind, t, "p", "s", "g")
    end
  end
  local base = step_base(g, sched, isa, opts.inference)
  shared.reset()
  forward_steps(sched, plan, base, ctx)
  local first_step = ctx.functions[1]
  local lm = plan.steps[#sched.steps]
  ctx.output_ref = ref(lm.a)
  if opts.inference then
    M.inference(g, ctx, opts)
  else
    M.training(g, sched, plan, base, ctx)
  end
  -- compact mode's shared tile functions (gen/kernels/shared.lua), before the steps
  ctx.shared_tiles = shared.count()
  ctx.noinline = shared.NOINLINE
  if ctx.shared_tiles > 0 then
    for i, f in ipairs(ctx.functions) do
      if f == first_step then table.insert(ctx.functions, i, shared.definitions()); break end
    end
  end
  -- SIMD ISAs: the target guard, headers and helper functions of gen/isa/<name>.lua
  ctx.isa_guard = isa.guard or false
  ctx.isa_guard_flags = isa.guard_flags or ""
  ctx.isa_includes = isa.includes or {}
  -- (the activations' vector helpers after the ISA's, whose exp they call)
  local acts = {}
  for _, l in ipairs(g.layers) do acts[#acts + 1] = l.op end
  local act_helpers = actmath.helpers(isa, acts)
  if act_helpers then table.insert(ctx.functions, 1, act_helpers) end
  if isa.helpers then table.insert(ctx.functions, 1, isa.helpers) end
  if ctx.dropout and not opts.inference then table.insert(ctx.functions, 1, require("kernels.norm").helpers(isa.width)) end
  ctx.banner_rows = banner_rows(g, sched, plan, isa, opts.inference)
  ctx.stack, ctx.stack_frame = M.stack_bounds(g, sched, isa, ctx)
  ctx.math_h = not opts.inference and (g.loss == "cross_entropy" or g.optimizer.kind ~= "sgd")
  for _, l in ipairs(g.layers) do ctx.math_h = ctx.math_h or l.op.libm or false end
  return ctx
end

-- Whether a layer has a training and an inference mode (batchnorm, dropout): then the
-- API has NAME_forward_train, and NAME_seed with a dropout layer.
function M.has_modes(g)
  for _, l in ipairs(g.layers) do
    if l.op.modes then return true end
  end
  return false
end

-- The fewest rows the training mode takes: 2 when a batchnorm sees one value per channel
-- per row (after a linear layer, or a 1x1 image), where a batch of 1 has no variance (torch
-- raises "Expected more than 1 value per channel when training"); else 1. Also the index
-- (0-based, as NAME_layers) of the first such layer, or false.
function M.train_min_rows(g)
  for i, l in ipairs(g.layers) do
    if l.kind == "batchnorm" and l.opts.pixels == 1 then return 2, i - 1 end
  end
  return 1, false
end

function M.has_dropout(g)
  for _, l in ipairs(g.layers) do
    if l.kind == "dropout" then return true end
  end
  return false
end

-- Worst-case stack of the entry points, as a bound: the explicit stack arrays of each static
-- function (the kernels' _Alignas(64) float and int32_t blocks) plus FRAME bytes for every
-- function on the call chain (spills, saved registers; SIMD tiles spill whole vectors).
-- Calls into libm and libc (expf, memcpy) are not counted. make test-stack measures the
-- real figure with gcc's -fstack-usage/-fcallgraph-info and checks it against these.
local function stack_arrays(functions)
  local by_name = {}
  local text = table.concat(functions, "\n")
  local cur
  for line in text:gmatch("[^\n]*") do
    local fn = line:match("^static [%w_ ]-%*?([%w_]+)%(")
    if fn then cur = fn; by_name[cur] = by_name[cur] or 0 end
    local decl = line:match("_Alignas%(64%) float ([^;]*);") or line:match("_Alignas%(64%) int32_t ([^;]*);")
    if decl and cur then
      for n in decl:gmatch("%[(%d+)%]") do by_name[cur] = by_name[cur] + 4 * tonumber(n) end
    end
  end
  return by_name
end

function M.stack_bounds(g, sched, isa, ctx)
  local A = isa.width > 1 and 4096 or 1024
  local arr = stack_arrays(ctx.functions)
  -- (a step calling shared tile functions: one more frame on its chain)
  local tiles = (ctx.shared_tiles or 0) > 0 and A or 0
  local function leaf(name) return A + tiles + (arr[name] or 0) end
  local fwd = 0
  for _, s in ipairs(sched.steps) do fwd = math.max(fwd, leaf(s.fname .. "_forward")) end
  local work = A + fwd                  -- forward_work and the deepest step it calls
  local b = {{"forward", A + work}}
  if ctx.inference then
    if ctx.predict then
      b[#b + 1] = {"predict_with", A + work}
      if ctx.weights then b[#b + 1] = {"predict", A + ctx.work_bytes + A + work} end
    end
  else
    local bwd = leaf(names.LOSS[g.loss] .. "_backward")
    for _, s in ipairs(sched.steps) do bwd = math.max(bwd, leaf(s.fname .. "_backward")) end
    local step = A + leaf("vopt_tensor")   -- NAME_step (and adam_power, vopt_tensor or sopt_tensor)
    if ctx.modes then b[#b + 1] = {"forward_train", A + work} end
    b[#b + 1] = {"backward", A + bwd}
    b[#b + 1] = {"step", step}
    b[#b + 1] = {"step_range", step}
    b[#b + 1] = {"train_step", A + math.max(work, A + bwd, step)}
    b[#b + 1] = {"train_step_scratch", A + math.max(work, A + bwd, step)}
    b[#b + 1] = {"loss", A + leaf(names.LOSS[g.loss] .. "_loss")}
  end
  return b, A
end

-- The public entry points of a build, for templates/dispatch.c.tpl: {return type, name,
-- {{type, parameter}, ...}}, where P, G, W, O, T stand for NAME_params, _grads, _work, _opt and
-- _target. An inference build's NAME_predict is not among them: dispatch.c.tpl writes it on
-- NAME_predict_with (the variants have no weights of their own).
function M.entry_points(g, inference)
  local forward = {"void", "forward", {{"float *", "out"}, {"W *", "w"}, {"const P *", "p"}, {"const float *", "x"},
                                        {"int", "n"}}}
  local export = {"void", "export_tensor", {{"float *", "dst"}, {"const P *", "p"}, {"int", "tensor"}}}
  local import = {"void", "import_tensor", {{"P *", "p"}, {"int", "tensor"}, {"const float *", "src"}}}
  if inference then
    local e = {forward}
    if g.loss == "cross_entropy" then
      e[#e + 1] = {"void", "predict_with", {{"int32_t *", "classes"}, {"W *", "w"}, {"const P *", "p"},
                                            {"const float *", "x"}, {"int", "n"}}}
    end
    e[#e + 1], e[#e + 2] = export, import
    return e
  end
  local e = {
    forward,
    {"float", "backward", {{"G *", "g"}, {"float *", "dx"}, {"W *", "w"}, {"const P *", "p"}, {"const float *", "x"},
                           {"const T *", "t"}, {"int", "n"}}},
    {"void", "opt_init", {{"O *", "s"}}},
    {"void", "step", {{"P *", "p"}, {"O *", "s"}, {"const G *", "g"}}},
    {"void", "step_range", {{"P *", "p"}, {"O *", "s"}, {"const G *", "g"}, {"size_t", "lo"}, {"size_t", "hi"}}},
    {"float", "train_step", {{"P *", "p"}, {"O *", "s"}, {"G *", "g"}, {"W *", "w"}, {"const float *", "x"},
                             {"const T *", "t"}, {"int", "n"}}},
    {"float", "train_step_scratch", {{"P *", "p"}, {"O *", "s"}, {"G *", "g"}, {"W *", "w"}, {"const float *", "x"},
                                     {"const T *", "t"}, {"int", "n"}}},
    {"float", "loss", {{"const float *", "out"}, {"const T *", "t"}, {"int", "n"}}},
    {"int", "nonfinite", {{"const W *", "w"}}},
  }
  if M.has_modes(g) then
    e[#e + 1] = {"void", "forward_train", {{"float *", "out"}, {"W *", "w"}, {"P *", "p"}, {"const float *", "x"},
                                           {"int", "n"}}}
  end
  if M.has_dropout(g) then
    e[#e + 1] = {"void", "seed", {{"W *", "w"}, {"uint64_t", "seed"}, {"uint64_t", "stream"}}}
  end
  if g.loss == "cross_entropy" then
    e[#e + 1] = {"int", "correct", {{"const float *", "out"}, {"const T *", "t"}, {"int", "n"}}}
  end
  e[#e + 1], e[#e + 2] = export, import
  return e
end

-- Forward-only output (gen --inference): NAME_predict for a classifier, const weights.
function M.inference(g, ctx, opts)
  ctx.inference = true
  ctx.predict = g.loss == "cross_entropy"
  ctx.source = opts.weights_path or false
  ctx.norm = opts.norm or false
  ctx.weights = false
  if opts.weights then
    -- per tensor: the initializer's lines, 8 literals each
    ctx.weights = {}
    for i, t in ipairs(ctx.tensors) do
      local lines, row = {}, {}
      for k, v in ipairs(opts.weights[i]) do
        row[#row + 1] = emit.float(v)
        if #row == 8 or k == #opts.weights[i] then
          lines[#lines + 1] = table.concat(row, ", ")
          row = {}
        end
      end
      ctx.weights[i] = {cname = t.cname, lines = lines}
    end
  end
end

-- Training output: backward, loss, optimizer.
function M.training(g, sched, plan, base, ctx)
  local o = g.optimizer
  backward_steps(g, sched, plan, base, ctx)
  -- NAME_backward reads x through the first step's weight gradient, or as the buffer a first
  -- standalone activation's derivative reads (relu, leaky_relu: their input)
  local m1 = plan.steps[1].mask
  ctx.backward_reads_x = sched.steps[1].product ~= nil or (m1 ~= nil and m1.is_input == true)
    or (sched.steps[1].map ~= nil and sched.steps[1].map.op.backward_reads_input == true)

  local last, lm = sched.steps[#sched.steps], plan.steps[#sched.steps]
  assert(lm.a.ld == g.output, "the output buffer must be dense: NAME_loss reads the caller's out")
  local act = act_of(last, lm)
  local loss_text, loss_fn, loss_bwd, correct_fn = loss.emit(g.loss, {out = g.output, out_ld = lm.a.ld, act = act, isa = base.isa})
  assert(loss_fn == names.LOSS[g.loss] .. "_loss", "gen/names.lua must know the loss functions' names")
  ctx.functions[#ctx.functions + 1] = loss_text
  ctx.loss_call = string.format("%s(out, t, n)", loss_fn)
  ctx.loss_backward_call = string.format("%s(%s, %s, t, %sn)", loss_bwd, ref(lm.d), ref(lm.a),
    act and ref(act.buf) .. ", " or "")
  ctx.correct_call = correct_fn and string.format("%s(out, t, n)", correct_fn) or false

  local optim = require("optim." .. (o.kind == "sgd" and "sgd" or "adam"))
  ctx.opt_state = optim.state(g.name)
  -- batchnorm's running statistics are state, not trained: the optimizer leaves them, and
  -- NAME_backward writes 0 to their gradients
  local trained = {}
  ctx.buffer_tensors = {}
  for _, t in ipairs(plan.params) do
    if t.buffer then ctx.buffer_tensors[#ctx.buffer_tensors + 1] = t else trained[#trained + 1] = t end
  end
  ctx.opt_init_state = optim.init()
  -- sizeof(NAME_opt): the public fields (40 bytes with an 8-byte long, 36 with a 4-byte one)
  -- padded to the 64-byte alignment of the state buffers, then the buffers
  ctx.opt_bytes = 64 + optim.STATE_COPIES * ctx.params_bytes
  if sched.fuse_opt then
    -- SIMD: one vector update for NAME_step and the fused tiles (gen/optim/vector.lua)
    local vopt = require "optim.vector"
    ctx.opt_step = vopt.step(trained, o.kind)
    ctx.opt_step_range = vopt.step_range(trained, o.kind)
    -- compact code (shared tiles written: all are, once the backward steps are) keeps
    -- vopt_tensor out of line, one copy for NAME_step and NAME_step_range
    local attr = shared.count() > 0 and shared.NOINLINE or ""
    table.insert(ctx.functions, 1, vopt.helpers(base.isa, g.name, o.kind, attr))
  else
    -- scalar: one sopt_tensor per tensor (gen/optim/scalar.lua)
    local sopt = require "optim.scalar"
    ctx.opt_step = sopt.step()
    ctx.opt_step_range = sopt.step_range(trained, o.kind)
    table.insert(ctx.functions, 1, sopt.helpers(g.name, o.kind) .. "\n" .. sopt.checked(g.name, trained, o.kind))
  end
  if optim.helpers then table.insert(ctx.functions, 1, optim.helpers()) end
  ctx.opt_fields = {
    {"lr", emit.float(o.lr)}, {"momentum", emit.float(o.momentum or 0)},
    {"dampening", emit.float(o.dampening or 0)}, {"weight_decay", emit.float(o.weight_decay or 0)},
    {"nesterov", o.nesterov and "1" or "0"},
    {"beta1", emit.float(o.beta1 or 0)}, {"beta2", emit.float(o.beta2 or 0)}, {"eps", emit.float(o.eps or 0)},
  }
end

return M
