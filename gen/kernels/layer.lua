-- The C functions of one step (gen/schedule.lua decides the steps): a product layer with
-- its fused activation, or a standalone activation; forward and backward. The products'
-- bodies come from the kernel family the schedule chose (gen/kernels/portable.lua,
-- straight.lua, tiled.lua); this file writes the function around them: comment with the
-- formula and shapes, signature, the order of the products, and the call.
--
-- ctx (from gen/lower.lua): isa, family (the kernel module), batch, ref(buffer) -> C
-- expression, tensor(index) -> the tensor, noinline, fuse_opt (nil or the optimizer's
-- kind, fused into the weight-gradient tiles), first (no step before:
-- the input gradient is optional), dx / dx_ld (where the input gradient goes), in_act
-- (the previous step's activation whose derivative the input gradient takes, with its
-- buffer as in_act.buf), and the step's own buffers (mem: input, z, a, d).
local epilogue = require "kernels.epilogue"
local scalar = require "isa.scalar"
local vopt = require "optim.vector"

local M = {}

-- A tune file's tiling of this product (gen/tune.lua through the schedule), or nil: default.
local function tuned(ctx, product, K, N)
  return ctx.tuned and ctx.tuned(product, K, N, ctx.batch) or nil
end

-- Straight-line functions are kept out of their callers (gen/schedule.lua asks for it):
-- inlining several into one function makes it large, and clang's -fsanitize=undefined
-- builds then compile for long.
local NOINLINE = require("kernels.shared").NOINLINE
-- (gcc only: a kernel with the update in its tiles, kernels/shared.lua)
local GCC_NOINLINE = require("kernels.shared").GCC_NOINLINE

local function pad(fn) return string.rep(" ", #fn + 13) end

-- Forward of a product step (+ activation): y = x @ W + b [, a = f(y)].
function M.product_forward(s, mem, ctx)
  local L, K, N = s.product, s.in_, s.out
  local fn = s.fname .. "_forward"
  local b = {}
  local act = s.act and {op = s.act.op, opts = s.act.opts, out = "a", out_ld = mem.a.ld}
  local y = act and mem.z or mem.a
  -- (a linear layer with bias = false: no b, the sums start from zero)
  local has_b = L.bias >= 0
  local plus_b, b_shape = has_b and " + b" or "", has_b and string.format(", b [%d]", N) or ""
  if act then
    b[#b + 1] = string.format("/* Layers %d-%d: z = x @ W%s, a = %s.\n", L.index, s.act.index, plus_b,
                              act.op.formula(act.opts, "z"))
    b[#b + 1] = string.format("   x [n][%d], W [%d][%d]%s -> z [n][%d], a [n][%d]. */\n", K, K, N, b_shape, N, N)
    b[#b + 1] = (ctx.noinline and NOINLINE or "")
      .. string.format("static void %s(float *restrict z, float *restrict a, const float *restrict x,\n", fn)
    b[#b + 1] = pad(fn) .. "const float *restrict w, " .. (has_b and "const float *restrict b, " or "") .. "int n) {\n"
  else
    b[#b + 1] = string.format("/* Layer %d: y = x @ W%s.\n", L.index, plus_b)
    b[#b + 1] = string.format("   x [n][%d], W [%d][%d]%s -> y [n][%d]. */\n", K, K, N, b_shape, N)
    b[#b + 1] = (ctx.noinline and NOINLINE or "")
      .. string.format("static void %s(float *restrict y, const float *restrict x, const float *restrict w,\n", fn)
    b[#b + 1] = pad(fn) .. (has_b and "const float *restrict b, " or "") .. "int n) {\n"
  end
  -- (z unread, ctx.mask_unread: the family's z_unread) the sums go to a and f over them
  local yname = act and (ctx.mask_unread and "a" or "z") or "y"
  if act and ctx.mask_unread then
    assert(mem.a.ld == y.ld, "z_unread: a and z of different strides")
    b[#b + 1] = "  (void)z;   /* not written: the next backward reads f's derivative from a */\n"
  end
  b[#b + 1] = ctx.family.matmul_xw({n = "n", K = K, N = N, x = "x", x_ld = mem.input.ld, w = "w", b = has_b and "b" or nil,
                                    y = yname, y_ld = y.ld, act = act, batch = ctx.batch,
                                    tiling = tuned(ctx, "xw", K, N), stream = tuned(ctx, "stream", K, N)}, ctx.isa)
  b[#b + 1] = "}\n"
  local params = "p->" .. ctx.tensor(L.weight).cname .. (has_b and ", p->" .. ctx.tensor(L.bias).cname or "")
  local call
  if act then
    call = string.format("%s(%s, %s, %s, %s, n);", fn, ctx.ref(mem.z), ctx.ref(mem.a), ctx.ref(mem.input), params)
  else
    call = string.format("%s(%s, %s, %s, n);", fn, ctx.ref(mem.a), ctx.ref(mem.input), params)
  end
  return table.concat(b), call
end

-- Backward of a product step: g = mem.d is the gradient with respect to x @ W + b (its
-- activation's derivative already applied by whoever wrote it). Writes dW, db and the
-- gradient with respect to the step's input, times the derivative of the activation that
-- produced that input (ctx.in_act) if there is one. With ctx.fuse_opt the function also
-- takes wu, the optimizer's state tensors of W (s0u, ...) and its step constants k and,
-- when wu is not NULL, applies the optimizer's update (gen/optim/vector.lua) inside the
-- weight-gradient tiles; dx is then computed first, while W is unchanged (so w and wu,
-- the same tensor, are not restrict).
function M.product_backward(s, mem, ctx)
  local L, K, N = s.product, s.in_, s.out
  local fn = s.fname .. "_backward"
  local in_act = ctx.in_act
  local has_b = L.bias >= 0
  local b = {}
  b[#b + 1] = string.format("/* Layer %d backward: dW = x^T @ g,%s dx = g @ W^T%s.\n", L.index,
    has_b and " db = sum over rows of g," or "", in_act and epilogue.grad_prose(in_act, "m", "previous") or "")
  b[#b + 1] = string.format("   g [n][%d], x [n][%d]%s, W [%d][%d] -> dW [%d][%d],%s dx [n][%d]%s. */\n",
    N, K, in_act and string.format(", m [n][%d]", K) or "", K, N, K, N, has_b and string.format(" db [%d],", N) or "", K,
    ctx.first and " (skipped if dx is NULL)" or "")
  local fuse = ctx.fuse_opt
  local states = {}
  if fuse then
    for i = 1, #vopt.states(fuse) do states[i] = "s" .. (i - 1) .. "u" end
  end
  -- (g is zero wherever a ReLU after the product was off: the tiling may take g's nonzeros alone)
  local relu_g = s.act ~= nil and s.act.op.word == "relu"
  -- the weight-gradient product into dw (C name) with tiling (default: the step's own)
  local function weight_grad(dw, tiling)
    return ctx.family.matmul_xtg({n = "n", K = K, N = N, x = "x", x_ld = mem.input.ld, g = "g", g_ld = mem.d.ld,
                                  dw = dw, db = has_b and "db" or nil, batch = ctx.batch, first = ctx.first and true or false,
                                  relu_g = relu_g,
                                  opt = fuse and {kind = fuse, w = "wu", states = states, k = "k", optional = true} or nil,
                                  tiling = tiling or tuned(ctx, "xtg", K, N)}, ctx.isa)
  end
  local xtg, skips_dw = weight_grad("dw")
  -- (scratch: dW's memory, which a family may use before the weight gradient writes it;
  -- one that does says so, and its dx comes first)
  local gwt, scratched = ctx.family.matmul_gwt({n = "n", K = K, N = N, g = "g", g_ld = mem.d.ld, w = "w", dx = "dx",
                                     dx_ld = ctx.dx_ld, mask = in_act and "m", mask_ld = in_act and in_act.buf.ld,
                                     mask_act = in_act, batch = ctx.batch, scratch = "dw", first = ctx.first,
                                     tiling = tuned(ctx, "gwt", K, N)}, ctx.isa)
  -- gt's scratch is dW's memory, so NAME_train_step_scratch cannot pass a NULL dw there:
  -- it passes dw and keep = 0, and the weight-gradient tiles store through dwk (NULL then)
  local keep = scratched and fuse and skips_dw
  if keep then
    xtg = "  float *restrict dwk = keep ? dw : NULL;   /* keep = 0: gt's scratch only */\n" .. weight_grad("dwk")
  end
  -- the function's head under the name `name`
  local function head(name)
    return (ctx.noinline and NOINLINE or vopt.gcc_apart(fuse) and GCC_NOINLINE or "")
      .. string.format("static void %s(float *restrict dw, %s%sfloat *restrict dx,\n", name,
                       keep and "int keep, " or "", has_b and "float *restrict db, " or "")
      .. pad(name) .. "const float *restrict g, const float *restrict x, "
      .. (in_act and "const float *restrict m,\n" .. pad(name) or "")
      .. (fuse and "const float *w, float *wu, float *" .. table.concat(states, ", float *")
                   .. ", const vopt_k *k, int n) {\n" or "const float *restrict w, int n) {\n")
  end
  b[#b + 1] = head(fn)
  if fuse or scratched then
    b[#b + 1] = ctx.first and "  if (dx != NULL) {\n" .. gwt .. "  }\n" or gwt
    b[#b + 1] = xtg
  else
    b[#b + 1] = xtg
    if ctx.first then b[#b + 1] = "  if (dx == NULL) return;\n" end
    b[#b + 1] = gwt
  end
  b[#b + 1] = "}\n"
  -- NAME_train_step_scratch's own copy where the schedule moves the update into the tiles
  -- for it (schedule.scratch_tiling: no dW stored, so none read back by the update after)
  -- (the first layer only: the scratch step wants no dx there, so the copy is the weight
  -- gradient alone, not a second dx product)
  local st = fuse and not scratched and ctx.first and ctx.family.xtg_scratch_tiling
    and ctx.family.xtg_scratch_tiling({K = K, N = N, batch = ctx.batch, tiling = tuned(ctx, "xtg", K, N), relu_g = relu_g}, ctx.isa)
  local sfn = fn
  if st then
    sfn = fn .. "_scratch"
    b[#b + 1] = "\n/* Layer " .. L.index .. " backward for NAME_train_step_scratch (dw NULL, dx NULL): dW's"
      .. " update in the weight-gradient tiles, dW not stored. */\n"
    b[#b + 1] = head(sfn)
    b[#b + 1] = "  (void)dx;\n" .. (in_act and "  (void)m;\n" or "") .. "  (void)w;\n"
      .. weight_grad("dw", st) .. "}\n"
  end
  local w = ctx.tensor(L.weight)
  local db = has_b and "g->" .. ctx.tensor(L.bias).cname .. ", " or ""
  local function args(dx, dw)
    if keep then dw = "g->" .. w.cname .. (dw == "NULL" and ", 0" or ", 1") end
    return string.format("%s, %s%s, %s, %s, %sp->%s", dw or "g->" .. w.cname, db,
      dx, ctx.ref(mem.d), ctx.ref(mem.input), in_act and ctx.ref(in_act.buf) .. ", " or "", w.cname)
  end
  local nulls, fused = {}, {"p->" .. w.cname}
  for i, st in ipairs(fuse and vopt.states(fuse) or {}) do
    nulls[i] = "NULL"
    fused[#fused + 1] = "s->" .. st .. "." .. w.cname
  end
  local call = string.format("%s(%s%s, n);", fn, args(ctx.dx),
                             fuse and ", NULL, " .. table.concat(nulls, ", ") .. ", NULL" or "")
  -- the fused call sits in NAME_train_step, which never wants the input's gradient
  local call_fused = fuse and string.format("%s(%s, %s, &k, n);", fn, args(ctx.first and "NULL" or ctx.dx),
                                            table.concat(fused, ", ")) or nil
  -- NAME_train_step_scratch's: no dW where the tiles update W and nothing else reads dW
  local call_scratch = fuse and (skips_dw or st) and string.format("%s(%s, %s, &k, n);", sfn,
    args(ctx.first and "NULL" or ctx.dx, "NULL"), table.concat(fused, ", ")) or call_fused
  return table.concat(b), call, call_fused, call_scratch
end

-- Forward of a standalone activation (first layer, or after another activation), as a
-- portable loop over the n rows; on a SIMD ISA whose spelling of f is a vector one, row by
-- row in vectors, the row's last W mod V elements as one partial vector (so every element
-- goes through the same f as in the fused epilogues: actmath's tanh, not libm's).
function M.activation_forward(s, mem, ctx)
  local W, act, isa = s.out, {op = s.act.op, opts = s.act.opts}, ctx.isa
  local fn = s.fname .. "_forward"
  local head = string.format("/* Layer %d: a = %s; x, a [n][%d]. */\n", s.act.index, act.op.formula(act.opts, "x"), W)
    .. string.format("static void %s(float *restrict a, const float *restrict x, int n) {\n", fn)
  local body
  local run = epilogue.forward_run(act, isa, "a", "x", "i * " .. W, W)
  if run then
    body = "  for (int i = 0; i < n; i++) {\n    " .. table.concat(run, "\n    ") .. "\n  }\n"
  else
    body = string.format("  for (int i = 0; i < n * %d; i++) %s\n", W,
      scalar.store("a", "i", epilogue.forward_scalar(act, scalar.load("x", "i"))))
  end
  return head .. body .. "}\n", string.format("%s(%s, %s, n);", fn, ctx.ref(mem.a), ctx.ref(mem.input))
end

-- Backward of a standalone activation: g = mem.d is the gradient with respect to its
-- input, already times its derivative (applied by its consumer); pass it on to the
-- producer of the input, times that producer's derivative.
function M.activation_backward(s, mem, ctx)
  local W, in_act = s.out, ctx.in_act
  local fn = s.fname .. "_backward"
  local text = string.format("/* Layer %d backward: dx = g%s; g, dx [n][%d]%s. */\n", s.act.index,
      in_act and epilogue.grad_prose(in_act, "m", "previous") or " (the mask is applied by the consumer)", W,
      in_act and ", m [n][" .. W .. "]" or "")
    .. string.format("static void %s(float *restrict dx, const float *restrict g%s, int n) {\n", fn,
         in_act and ", const float *restrict m" or "")
    .. (ctx.first and "  if (dx == NULL) return;\n" or "")
    .. string.format("  for (int i = 0; i < n * %d; i++) %s\n", W,
         scalar.store("dx", "i", in_act and epilogue.grad_scalar(in_act, scalar.load("g", "i"), scalar.load("m", "i"))
                                 or scalar.load("g", "i")))
    .. "}\n"
  local function call(dx)
    return string.format("%s(%s, %s, %sn);", fn, dx, ctx.ref(mem.d), in_act and ctx.ref(in_act.buf) .. ", " or "")
  end
  -- the fused call sits in NAME_train_step, which never wants the input's gradient
  return text, call(ctx.dx), call(ctx.first and "NULL" or ctx.dx)
end

return M
