@-- The scalar SGD helpers (gen/optim/scalar.lua; name the network): sopt_set reads one
@-- step's constants from NAME_opt (the first-step test before s->t advances), sopt_begin
@-- also counts the step, sopt_tensor updates floats a..b-1 of one tensor. NAME_step and
@-- NAME_step_range call them tensor by tensor: one copy of the update.
/* SGD's constants of one step (sopt_set). */
typedef struct {
  float lr, momentum, weight_decay, keep;   /* keep = 1 - dampening */
  int nesterov, first;                      /* first: s->t == 0 */
} sopt_k;

static void sopt_set(sopt_k *k, const $(name)_opt *s) {
  k->lr = s->lr, k->momentum = s->momentum, k->weight_decay = s->weight_decay;
  k->keep = 1.0f - s->dampening;
  k->nesterov = s->nesterov, k->first = s->t == 0;
}

static void sopt_begin(sopt_k *k, $(name)_opt *s) {
  sopt_set(k, s);
  s->t++;
}

/* Floats a..b-1 of one tensor pt, its momentum buffer bt, its gradient gt. Returns 1 when
   one of those gradients was NaN or +-Inf (sopt_seen), else 0. */
static int sopt_tensor(float *restrict pt, float *restrict bt, const float *restrict gt,
                       size_t a, size_t b, const sopt_k *k) {
  const float lr = k->lr, momentum = k->momentum, weight_decay = k->weight_decay;
  const float keep = k->keep;
  const int nesterov = k->nesterov, first = k->first;
  uint32_t seen = 0;
  if (momentum == 0.0f && weight_decay == 0.0f) {   /* plain SGD: a loop that vectorises */
    for (size_t i = a; i < b; i++) {
      pt[i] = pt[i] - lr * gt[i];
      seen |= sopt_seen(gt[i]);
    }
    return sopt_nonfinite(seen);
  }
  for (size_t i = a; i < b; i++) {
    seen |= sopt_seen(gt[i]);
    float d = gt[i];
    if (weight_decay != 0.0f) d = d + weight_decay * pt[i];
    if (momentum != 0.0f) {
      const float v = first ? d : momentum * bt[i] + keep * d;
      bt[i] = v;
      d = nesterov ? d + momentum * v : v;
    }
    pt[i] = pt[i] - lr * d;
  }
  return sopt_nonfinite(seen);
}

