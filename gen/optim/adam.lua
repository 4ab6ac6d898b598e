-- Adam and AdamW with torch.optim.Adam / AdamW's semantics (PyTorch 1.13, amsgrad off),
-- per element, with t counted from 1:
--   Adam:  g = g + weight_decay·p          AdamW: p = p·(1 - lr·weight_decay)
--   m = beta1·m + (1 - beta1)·g
--   v = beta2·v + (1 - beta2)·g²
--   p = p - (lr / (1 - beta1^t)) · m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
-- The bias corrections are computed in double, as PyTorch does in Python.
local M = {}

function M.state(NAME)
  return {NAME .. "_params m;     /* first moments, one per tensor */",
          NAME .. "_params v;     /* second moments */"}
end

function M.step(tensors, kind)
  local b = {}
  b[#b + 1] = "  const float lr = s->lr, beta1 = s->beta1, beta2 = s->beta2, eps = s->eps;"
  b[#b + 1] = "  const float weight_decay = s->weight_decay;"
  b[#b + 1] = "  s->t++;"
  b[#b + 1] = "  const double t = (double)s->t;"
  b[#b + 1] = "  const float step_size = (float)((double)lr / (1.0 - pow((double)beta1, t)));"
  b[#b + 1] = "  const float bc2_sqrt = (float)sqrt(1.0 - pow((double)beta2, t));"
  if kind == "adamw" then
    b[#b + 1] = "  const float decay = 1.0f - lr * weight_decay;"
  end
  for _, t in ipairs(tensors) do
    b[#b + 1] = "  {  /* " .. t.name .. " */"
    b[#b + 1] = string.format("    float *restrict pt = p->%s, *restrict mt = s->m.%s, *restrict vt = s->v.%s;",
                              t.cname, t.cname, t.cname)
    b[#b + 1] = string.format("    const float *restrict gt = g->%s;", t.cname)
    b[#b + 1] = string.format("    for (int i = 0; i < %d; i++) {", t.floats)
    if kind == "adamw" then
      b[#b + 1] = "      const float gi = gt[i];"
      b[#b + 1] = "      pt[i] = pt[i] * decay;"
    else
      b[#b + 1] = "      const float gi = weight_decay != 0.0f ? gt[i] + weight_decay * pt[i] : gt[i];"
    end
    b[#b + 1] = "      mt[i] = mt[i] * beta1 + (1.0f - beta1) * gi;"
    b[#b + 1] = "      vt[i] = vt[i] * beta2 + (1.0f - beta2) * (gi * gi);"
    b[#b + 1] = "      const float denom = sqrtf(vt[i]) / bc2_sqrt + eps;"
    b[#b + 1] = "      pt[i] = pt[i] - step_size * (mt[i] / denom);"
    b[#b + 1] = "    }"
    b[#b + 1] = "  }"
  end
  return table.concat(b, "\n") .. "\n"
end

function M.init()
  return "  memset(&s->m, 0, sizeof s->m);\n  memset(&s->v, 0, sizeof s->v);\n"
end

return M
