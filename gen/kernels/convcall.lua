-- What gen/kernels/conv.lua (portable loops) and gen/kernels/convtile.lua (SIMD tiles) share
-- about a conv2d step: its geometry, the comments and signatures of its forward and backward
-- functions and the calls of them (the same in both families).
local epilogue = require "kernels.epilogue"

local M = {}

-- the continuation indent of a signature: under the first parameter of "static void fn("
local function pad(fn) return string.rep(" ", #fn + 13) end

-- Geometry of an image layer: input C×H×W, output O×OH×OW, kernel K, stride S, padding P.
function M.geometry(node)
  local ins, outs = node.in_shape, node.shape or node.in_shape
  return {C = ins[1], H = ins[2], W = ins[3], O = outs[1], OH = outs[2], OW = outs[3],
          K = node.opts.kernel or 1, S = node.opts.stride or 1, P = node.opts.padding or 0,
          IN = node.in_, OUT = node.out}
end

-- The forward's first comment line: "Layer(s) I: y = conv2d(x, W, ...) [+ b][, a = f(z)]."
function M.forward_title(s, g, act, has_bias)
  local L, y = s.product, act and "z" or "y"
  return string.format("/* Layer%s %s: %s = conv2d(x, W, kernel %d, stride %d, padding %d)%s%s.",
    act and "s" or "", act and (L.index .. "-" .. s.act.index) or tostring(L.index), y, g.K, g.S, g.P,
    has_bias and " + b" or "", act and ", a = " .. act.op.formula(act.opts, "z") or "")
end

-- The forward's signature, fn(z, a | y, x, w[, b], n), opening its body.
function M.forward_signature(b, fn, act, has_bias)
  local sig = act and "float *restrict z, float *restrict a, " or "float *restrict y, "
  b.put(0, string.format("static void %s(%sconst float *restrict x,", fn, sig))
  b.put(0, pad(fn) .. "const float *restrict w, " .. (has_bias and "const float *restrict b, " or "") .. "int n) {")
end

-- The backward's two comment lines (what it computes, the shapes), the second ending in
-- `close` (". */", or ";" when the caller adds lines).
function M.backward_comment(b, L, g, ctx, in_act, has_bias, close)
  b.put(0, string.format("/* Layer %d backward: dW = sum of g * x over the taps, %sdx = the transposed convolution of g with W%s.",
    L.index, has_bias and "db = sum of g, " or "", in_act and epilogue.grad_prose(in_act, "m", "previous") or ""))
  b.put(0, string.format("   g [n][%d][%d][%d], x [n][%d][%d][%d]%s -> dW [%d][%d][%d][%d]%s, dx [n][%d][%d][%d]%s%s",
    g.O, g.OH, g.OW, g.C, g.H, g.W, in_act and ", m [n][" .. g.IN .. "]" or "", g.C, g.K, g.K, g.O,
    has_bias and ", db [" .. g.O .. "]" or "", g.C, g.H, g.W, ctx.first and " (skipped if dx is NULL)" or "", close))
end

-- The backward's signature, fn(dw[, db], dx, g, x[, m], w, n), opening its body.
function M.backward_signature(b, fn, in_act, has_bias)
  b.put(0, string.format("static void %s(float *restrict dw, %sfloat *restrict dx,", fn,
    has_bias and "float *restrict db, " or ""))
  b.put(0, pad(fn) .. "const float *restrict g, const float *restrict x, "
    .. (in_act and "const float *restrict m, " or "") .. "const float *restrict w, int n) {")
end

-- fn(z, a, x, W[, b], n) with an activation, fn(a, x, W[, b], n) without.
function M.forward(fn, L, mem, ctx, act, has_bias)
  local w = ctx.tensor(L.weight)
  local bias = has_bias and ", p->" .. ctx.tensor(L.bias).cname or ""
  if act then
    return string.format("%s(%s, %s, %s, p->%s%s, n);", fn, ctx.ref(mem.z), ctx.ref(mem.a), ctx.ref(mem.input),
                         w.cname, bias)
  end
  return string.format("%s(%s, %s, p->%s%s, n);", fn, ctx.ref(mem.a), ctx.ref(mem.input), w.cname, bias)
end

-- The backward's two calls: NAME_backward's (dx = ctx.dx) and NAME_train_step's, which never
-- wants the first layer's input gradient (NULL there).
function M.backward(fn, L, mem, ctx, in_act, has_bias)
  local w = ctx.tensor(L.weight)
  local function call(dx)
    return string.format("%s(g->%s, %s%s, %s, %s, %sp->%s, n);", fn, w.cname,
      has_bias and "g->" .. ctx.tensor(L.bias).cname .. ", " or "", dx, ctx.ref(mem.d), ctx.ref(mem.input),
      in_act and ctx.ref(in_act.buf) .. ", " or "", w.cname)
  end
  return call(ctx.dx), call(ctx.first and "NULL" or ctx.dx)
end

return M
