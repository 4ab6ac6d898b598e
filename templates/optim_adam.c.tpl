@-- NAME_step's body for Adam and AdamW (gen/optim/adam.lua): p, s, g are the C
@-- parameters; kind "adam" or "adamw"; tensors the parameter tensors (cname, name, floats).
  const float lr = s->lr, beta1 = s->beta1, beta2 = s->beta2, eps = s->eps;
  const float weight_decay = s->weight_decay;
  s->t++;
  const float step_size = lr / (1.0f - adam_power(beta1, s->t));
  const float bc2_sqrt = sqrtf(1.0f - adam_power(beta2, s->t));
@ if kind == "adamw" then
  const float decay = 1.0f - lr * weight_decay;
@ end
@ for _, t in ipairs(tensors) do
  {  /* $(t.name) */
    float *restrict pt = p->$(t.cname), *restrict mt = s->m.$(t.cname), *restrict vt = s->v.$(t.cname);
    const float *restrict gt = g->$(t.cname);
    for (int i = 0; i < $(t.floats); i++) {
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
