-- dropout{p = 0.5}: torch.nn.Dropout (inverted). Training mode: each element kept with
-- probability 1 − p and scaled by 1/(1 − p), else 0; the mask is drawn from the generated
-- code's PCG32 generator in NAME_work (NAME_seed) and kept for the backward pass.
-- Inference mode: the identity.
return {
  word = "dropout",
  role = "map",
  kernels = "norm",
  modes = true,
  args = {"opts"},
  example = "dropout{p = 0.5}",
  summary = "x * mask / (1 - p) (training), x (inference)",
  check = function(l, v)
    if l.extra > 0 then v.fail("dropout takes one options table like dropout{p = 0.5}, got more arguments") end
    local o = v.opts({"p"})
    local p = o.p
    if p == nil then p = 0.5 end
    if not v.finite(p) or p < 0 or p >= 1 then v.fail("p must be a number in [0, 1), got " .. v.show(p)) end
    local shape = v.shape and {v.shape[1], v.shape[2], v.shape[3]}
    return {p = p + 0.0, out = v.width, shape = shape}
  end,
  flops = function(l, B) return 2 * B * l.out, 0, B * l.out end,
}
