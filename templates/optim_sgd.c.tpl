@-- NAME_step's body for SGD (gen/optim/sgd.lua): p, s, g are the C parameters; tensors
@-- the parameter tensors (cname, name, floats, offset). range: NAME_step_range's body
@-- instead (floats lo..hi-1 of NAME_params, s->t not advanced), the same expressions.
  const float lr = s->lr, momentum = s->momentum, weight_decay = s->weight_decay;
  const float keep = 1.0f - s->dampening;
  const int nesterov = s->nesterov, first = s->t == 0;
@ for _, t in ipairs(tensors) do
  {  /* $(t.name) */
    float *restrict pt = p->$(t.cname), *restrict bt = s->buf.$(t.cname);
    const float *restrict gt = g->$(t.cname);
@   local a, b = "0", t.floats
@   if range then
@     a, b = "a", "b"
    $(require("optim.vector").range_bounds(t.offset))
    if (b > $(t.floats)) b = $(t.floats);
@   end
    if (momentum == 0.0f && weight_decay == 0.0f) {   /* plain SGD: a loop that vectorises */
      for ($(range and "size_t" or "int") i = $(a); i < $(b); i++) pt[i] = pt[i] - lr * gt[i];
    } else {
      for ($(range and "size_t" or "int") i = $(a); i < $(b); i++) {
        float d = gt[i];
        if (weight_decay != 0.0f) d = d + weight_decay * pt[i];
        if (momentum != 0.0f) {
          const float v = first ? d : momentum * bt[i] + keep * d;
          bt[i] = v;
          d = nesterov ? d + momentum * v : v;
        }
        pt[i] = pt[i] - lr * d;
      }
    }
  }
@ end
@ if not range then
  s->t++;
@ end
