-- linear(out): y = x @ W + b with W [in][out] (the seed's layout; PyTorch's nn.Linear
-- stores the transpose). Forward, and backward dW = x^T @ g, db = sum_i g, dx = g @ W^T.
-- The products themselves come from gen/kernels.lua; this file says what they are.
local kernels = require "kernels"
local emit = require "emit"

local M = {}

-- Straight-line functions are kept out of their callers: inlining several into one
-- function makes it large, and clang's -fsanitize=undefined builds then compile for long.
local NOINLINE = "#if defined(__GNUC__)\n__attribute__((noinline))\n#endif\n"

function M.params(l)
  return {
    {suffix = "weight", rows = l.in_, cols = l.out, init = l.init, mode = l.mode,
     nonlinearity = l.nonlinearity, a = l.a, fan_in = l.in_, fan_out = l.out},
    {suffix = "bias", rows = 1, cols = l.out, init = l.bias_init, mode = "fan_in",
     nonlinearity = "linear", a = 0.0, fan_in = l.in_, fan_out = l.out},
  }
end

-- Per batch of B rows: forward 2*B*in*out; backward 2*B*in*out for dW and as much
-- again for dx (returned separately: the first layer's dx is only computed on request).
function M.flops(l, B)
  return 2 * B * l.in_ * l.out, 2 * B * l.in_ * l.out, 2 * B * l.in_ * l.out
end

-- Forward of a step that is this linear layer, optionally with a fused relu.
-- Returns the C function and the statement that calls it.
function M.forward(s, ctx)
  local L, K, N = s.linear, s.in_, s.out
  local isa = ctx.isa
  local b = {}
  local fn = s.fname .. "_forward"
  if s.relu then
    local shift = s.relu.spec.shift
    local shown = shift == 0 and "" or (shift < 0 and " - " .. emit.number(-shift) or " + " .. emit.number(shift))
    b[#b + 1] = string.format("/* Layers %d-%d: z = x @ W + b, a = max(z, 0)%s.\n", L.index, s.relu.index, shown)
    b[#b + 1] = string.format("   x [n][%d], W [%d][%d], b [%d] -> z [n][%d], a [n][%d]. */\n", K, K, N, N, N, N)
    b[#b + 1] = (ctx.straight and NOINLINE or "") .. string.format("static void %s(float *restrict z, float *restrict a, const float *restrict x,\n", fn)
    b[#b + 1] = string.rep(" ", #fn + 13) .. "const float *restrict w, const float *restrict b, int n) {\n"
    local relu = {out = "a", out_ld = s.a.ld, shift = shift,
                  shift_literal = shift ~= 0 and emit.float(shift) or nil}
    b[#b + 1] = kernels.matmul_xw({n = "n", K = K, N = N, x = "x", x_ld = s.input.ld, w = "w", b = "b",
                                   y = "z", y_ld = s.z.ld, relu = relu, batch = ctx.batch, straight = ctx.straight}, isa)
  else
    b[#b + 1] = string.format("/* Layer %d: y = x @ W + b.\n", L.index)
    b[#b + 1] = string.format("   x [n][%d], W [%d][%d], b [%d] -> y [n][%d]. */\n", K, K, N, N, N)
    b[#b + 1] = (ctx.straight and NOINLINE or "") .. string.format("static void %s(float *restrict y, const float *restrict x, const float *restrict w,\n", fn)
    b[#b + 1] = string.rep(" ", #fn + 13) .. "const float *restrict b, int n) {\n"
    b[#b + 1] = kernels.matmul_xw({n = "n", K = K, N = N, x = "x", x_ld = s.input.ld, w = "w", b = "b",
                                   y = "y", y_ld = s.a.ld, batch = ctx.batch, straight = ctx.straight}, isa)
  end
  b[#b + 1] = "}\n"
  local w, bias = ctx.tensor(L.weight), ctx.tensor(L.bias)
  local call
  if s.relu then
    call = string.format("%s(%s, %s, %s, p->%s, p->%s, n);", fn, ctx.ref(s.z), ctx.ref(s.a),
                         ctx.ref(s.input), w.cname, bias.cname)
  else
    call = string.format("%s(%s, %s, p->%s, p->%s, n);", fn, ctx.ref(s.a), ctx.ref(s.input), w.cname, bias.cname)
  end
  return table.concat(b), call
end

-- Backward of the step: g = s.d is the gradient with respect to x @ W + b (already
-- masked by whoever wrote it). Writes dW, db and the gradient with respect to the
-- step's input, masked by the producer of that input (ctx.in_mask) if it has one.
function M.backward(s, ctx)
  local L, K, N = s.linear, s.in_, s.out
  local isa = ctx.isa
  local fn = s.fname .. "_backward"
  local mask = ctx.in_mask
  local b = {}
  b[#b + 1] = string.format("/* Layer %d backward: dW = x^T @ g, db = sum over rows of g, dx = g @ W^T%s%s.\n", L.index,
    mask and " * [m > 0]" or "", mask and " (the previous ReLU's derivative)" or "")
  b[#b + 1] = string.format("   g [n][%d], x [n][%d]%s, W [%d][%d] -> dW [%d][%d], db [%d], dx [n][%d]%s. */\n",
    N, K, mask and string.format(", m [n][%d]", K) or "", K, N, K, N, N, K,
    ctx.first and " (skipped if dx is NULL)" or "")
  -- ctx.fuse_sgd (plain SGD, kernels that can fuse): the function also takes wu and lr and,
  -- when wu is not NULL, applies wu -= lr * dW inside the weight-gradient tiles; dx is then
  -- computed first, while W is unchanged (so w and wu, the same tensor, are not restrict).
  local fuse = ctx.fuse_sgd
  b[#b + 1] = (ctx.straight and NOINLINE or "") .. string.format("static void %s(float *restrict dw, float *restrict db, float *restrict dx,\n", fn)
  b[#b + 1] = string.rep(" ", #fn + 13) .. "const float *restrict g, const float *restrict x, "
    .. (mask and "const float *restrict m,\n" .. string.rep(" ", #fn + 13) or "")
    .. (fuse and "const float *w, float *wu, float lr, int n) {\n" or "const float *restrict w, int n) {\n")
  local xtg = kernels.matmul_xtg({n = "n", K = K, N = N, x = "x", x_ld = s.input.ld, g = "g", g_ld = s.d.ld,
                                  dw = "dw", db = "db", batch = ctx.batch, straight = ctx.straight,
                                  sgd = fuse and {w = "wu", lr = "lr", optional = true} or nil}, isa)
  local gwt = kernels.matmul_gwt({n = "n", K = K, N = N, g = "g", g_ld = s.d.ld, w = "w", dx = "dx",
                                  dx_ld = ctx.dx_ld, mask = mask and "m", mask_ld = mask and mask.ld,
                                  batch = ctx.batch, straight = ctx.straight}, isa)
  if fuse then
    if ctx.first then
      b[#b + 1] = "  if (dx != NULL) {\n" .. gwt .. "  }\n"
    else
      b[#b + 1] = gwt
    end
    b[#b + 1] = xtg
  else
    b[#b + 1] = xtg
    if ctx.first then
      b[#b + 1] = "  if (dx == NULL) return;\n"
    end
    b[#b + 1] = gwt
  end
  b[#b + 1] = "}\n"
  local w, bias = ctx.tensor(L.weight), ctx.tensor(L.bias)
  local function args(dx)
    return string.format("g->%s, g->%s, %s, %s, %s, %sp->%s", w.cname, bias.cname,
      dx, ctx.ref(s.d), ctx.ref(s.input), mask and ctx.ref(mask) .. ", " or "", w.cname)
  end
  local call = string.format("%s(%s%s, n);", fn, args(ctx.dx), fuse and ", NULL, 0.0f" or "")
  -- the fused call sits in NAME_train_step, which never wants the input's gradient
  local call_fused = fuse and string.format("%s(%s, p->%s, lr, n);", fn, args(ctx.first and "NULL" or ctx.dx),
                                            w.cname) or nil
  return table.concat(b), call, call_fused
end

return M
