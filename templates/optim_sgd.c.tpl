@-- NAME_step's body for SGD (gen/optim/sgd.lua): p, s, g are the C parameters; tensors
@-- the parameter tensors (cname, name, floats).
  const float lr = s->lr, momentum = s->momentum, weight_decay = s->weight_decay;
  const float keep = 1.0f - s->dampening;
  const int nesterov = s->nesterov, first = s->t == 0;
@ for _, t in ipairs(tensors) do
  {  /* $(t.name) */
    float *restrict pt = p->$(t.cname), *restrict bt = s->buf.$(t.cname);
    const float *restrict gt = g->$(t.cname);
    if (momentum == 0.0f && weight_decay == 0.0f) {   /* plain SGD: a loop that vectorises */
      for (int i = 0; i < $(t.floats); i++) pt[i] = pt[i] - lr * gt[i];
    } else {
      for (int i = 0; i < $(t.floats); i++) {
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
  s->t++;
