-- SGD with torch.optim.SGD's semantics (PyTorch 1.13, foreach=False), per element:
--   d = g + weight_decay·p
--   if momentum ≠ 0: buf = d on the first step, else momentum·buf + (1 - dampening)·d
--                    d = nesterov ? d + momentum·buf : buf
--   p = p - lr·d
-- The hyperparameters are read from NAME_opt at every step (the caller may change them).
local M = {}

function M.state(NAME)
  return {NAME .. "_params buf;   /* momentum buffers, one per tensor */"}
end

-- Statements of NAME_step: p, s, g are the C parameters.
function M.step(tensors)
  local b = {}
  b[#b + 1] = "  const float lr = s->lr, momentum = s->momentum, weight_decay = s->weight_decay;"
  b[#b + 1] = "  const float keep = 1.0f - s->dampening;"
  b[#b + 1] = "  const int nesterov = s->nesterov, first = s->t == 0;"
  for _, t in ipairs(tensors) do
    b[#b + 1] = "  {  /* " .. t.name .. " */"
    b[#b + 1] = string.format("    float *restrict pt = p->%s, *restrict bt = s->buf.%s;", t.cname, t.cname)
    b[#b + 1] = string.format("    const float *restrict gt = g->%s;", t.cname)
    b[#b + 1] = "    if (momentum == 0.0f && weight_decay == 0.0f) {   /* plain SGD: a loop that vectorises */"
    b[#b + 1] = string.format("      for (int i = 0; i < %d; i++) pt[i] = pt[i] - lr * gt[i];", t.floats)
    b[#b + 1] = "    } else {"
    b[#b + 1] = string.format("      for (int i = 0; i < %d; i++) {", t.floats)
    b[#b + 1] = "        float d = gt[i];"
    b[#b + 1] = "        if (weight_decay != 0.0f) d = d + weight_decay * pt[i];"
    b[#b + 1] = "        if (momentum != 0.0f) {"
    b[#b + 1] = "          const float v = first ? d : momentum * bt[i] + keep * d;"
    b[#b + 1] = "          bt[i] = v;"
    b[#b + 1] = "          d = nesterov ? d + momentum * v : v;"
    b[#b + 1] = "        }"
    b[#b + 1] = "        pt[i] = pt[i] - lr * d;"
    b[#b + 1] = "      }"
    b[#b + 1] = "    }"
    b[#b + 1] = "  }"
  end
  b[#b + 1] = "  s->t++;"
  return table.concat(b, "\n") .. "\n"
end

-- Statements of NAME_opt_init after the public fields are set.
function M.init()
  return "  memset(&s->buf, 0, sizeof s->buf);\n"
end

return M
