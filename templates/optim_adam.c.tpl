@-- NAME_step's body for Adam and AdamW (gen/optim/adam.lua): p, s, g are the C
@-- parameters; kind "adam" or "adamw"; tensors the parameter tensors (cname, name, floats,
@-- offset). range: NAME_step_range's body instead (floats lo..hi-1 of NAME_params, the
@-- step numbered s->t + 1 but s->t not advanced), the same expressions.
  const float lr = s->lr, beta1 = s->beta1, beta2 = s->beta2, eps = s->eps;
  const float weight_decay = s->weight_decay;
@ if range then
  const long t = s->t + 1;
  const float step_size = lr / (1.0f - adam_power(beta1, t));
  const float bc2_sqrt = sqrtf(1.0f - adam_power(beta2, t));
@ else
  s->t++;
  const float step_size = lr / (1.0f - adam_power(beta1, s->t));
  const float bc2_sqrt = sqrtf(1.0f - adam_power(beta2, s->t));
@ end
@ if kind == "adamw" then
  const float decay = 1.0f - lr * weight_decay;
@ end
@ for _, t in ipairs(tensors) do
  {  /* $(t.name) */
    float *restrict pt = p->$(t.cname), *restrict mt = s->m.$(t.cname), *restrict vt = s->v.$(t.cname);
    const float *restrict gt = g->$(t.cname);
@   local a, b = "0", t.floats
@   if range then
@     a, b = "a", "b"
    $(require("optim.vector").range_bounds(t.offset))
    if (b > $(t.floats)) b = $(t.floats);
@   end
    for ($(range and "size_t" or "int") i = $(a); i < $(b); i++) {
@   if kind == "adamw" then
      const float gi = gt[i];
      pt[i] = pt[i] * decay;
@   else
      const float gi = weight_decay != 0.0f ? gt[i] + weight_decay * pt[i] : gt[i];
@   end
      mt[i] = mt[i] * beta1 + (1.0f - beta1) * gi;
      vt[i] = vt[i] * beta2 + (1.0f - beta2) * (gi * gi);
      const float denom = sqrtf(vt[i]) / bc2_sqrt + eps;
      pt[i] = pt[i] - step_size * (mt[i] / denom);
    }
  }
@ end
