@-- The scalar Adam / AdamW helpers (gen/optim/scalar.lua; kind "adam" or "adamw", name the
@-- network): sopt_set computes one step's constants from NAME_opt for the step s->t would
@-- take next, sopt_begin also counts it, sopt_tensor updates floats a..b-1 of one tensor.
@-- NAME_step and NAME_step_range call them tensor by tensor: one copy of the update.
/* Adam's constants of one step (sopt_set). */
typedef struct {
  float beta1, beta2, eps, step_size, bc2_sqrt;
@ if kind == "adamw" then
  float decay;           /* 1 - lr weight_decay */
@ else
  float weight_decay;
@ end
} sopt_k;

static void sopt_set(sopt_k *k, const $(name)_opt *s) {
  const long t = s->t + 1;
  k->beta1 = s->beta1, k->beta2 = s->beta2, k->eps = s->eps;
  k->step_size = s->lr / (1.0f - adam_power(s->beta1, t));
  k->bc2_sqrt = sqrtf(1.0f - adam_power(s->beta2, t));
@ if kind == "adamw" then
  k->decay = 1.0f - s->lr * s->weight_decay;
@ else
  k->weight_decay = s->weight_decay;
@ end
}

static void sopt_begin(sopt_k *k, $(name)_opt *s) {
  sopt_set(k, s);
  s->t++;
}

/* Floats a..b-1 of one tensor pt, its moments mt and vt, its gradient gt. Returns 1 when
   one of those gradients was NaN or +-Inf (sopt_seen), else 0. */
static int sopt_tensor(float *restrict pt, float *restrict mt, float *restrict vt,
                       const float *restrict gt, size_t a, size_t b, const sopt_k *k) {
  const float beta1 = k->beta1, beta2 = k->beta2, eps = k->eps;
  const float step_size = k->step_size, bc2_sqrt = k->bc2_sqrt;
@ if kind == "adamw" then
  const float decay = k->decay;
@ else
  const float weight_decay = k->weight_decay;
@ end
  uint32_t seen = 0;
  for (size_t i = a; i < b; i++) {
    seen |= sopt_seen(gt[i]);
@ if kind == "adamw" then
    const float gi = gt[i];
    pt[i] = pt[i] * decay;
@ else
    const float gi = weight_decay != 0.0f ? gt[i] + weight_decay * pt[i] : gt[i];
@ end
    mt[i] = mt[i] * beta1 + (1.0f - beta1) * gi;
    vt[i] = vt[i] * beta2 + (1.0f - beta2) * (gi * gi);
    const float denom = sqrtf(vt[i]) / bc2_sqrt + eps;
    pt[i] = pt[i] - step_size * (mt[i] / denom);
  }
  return sopt_nonfinite(seen);
}

