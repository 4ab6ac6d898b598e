-- What gen/kernels/conv.lua (portable loops) and gen/kernels/convtile.lua (SIMD tiles) share
-- about a conv2d step: its geometry, the continuation indent of a C signature, and the calls
-- of its forward and backward functions (the same arguments in both families).
local M = {}

function M.pad(fn) return string.rep(" ", #fn + 13) end

-- Geometry of an image layer: input C×H×W, output O×OH×OW, kernel K, stride S, padding P.
function M.geometry(node)
  local ins, outs = node.in_shape, node.shape or node.in_shape
  return {C = ins[1], H = ins[2], W = ins[3], O = outs[1], OH = outs[2], OW = outs[3],
          K = node.opts.kernel or 1, S = node.opts.stride or 1, P = node.opts.padding or 0,
          IN = node.in_, OUT = node.out}
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
