@-- Included by infer.c.tpl and dispatch.c.tpl (--inference --weights): the const weights.
/* Our layout ([in][out] weights); the padding after each tensor is zero. */
const $(name)_params $(name)_weights = {
@ for _, t in ipairs(weights) do
  .$(t.cname) = {
@   for _, line in ipairs(t.lines) do
    $(line),
@   end
  },
@ end
};
