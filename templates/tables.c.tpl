@-- Included by source.c.tpl, infer.c.tpl and dispatch.c.tpl: the tensor and layer tables.
const $(name)_tensor_info $(name)_tensors[$(NAME)_TENSOR_COUNT] = {
@ for _, t in ipairs(tensors) do
  {"$(t.name)", $(t.rows), $(t.cols), $(t.offset), "$(t.init)", "$(t.mode)", "$(t.nonlinearity)", $(emit.float(t.a)), $(t.fan_in), $(t.fan_out)},
@ end
};

const $(name)_layer_info $(name)_layers[$(NAME)_LAYER_COUNT] = {
@ for _, l in ipairs(layers) do
  {"$(l.kind)", $(l.in_), $(l.out), $(emit.float(l.shift)), $(l.weight), $(l.bias), $(emit.float(l.slope)),
   $(l.kernel), $(l.stride), $(l.padding), {$(l.in_shape)}, {$(l.out_shape)}, $(emit.float(l.eps)), $(emit.float(l.p))},
@ end
};
