-- Softmax + cross-entropy over OUT classes, target = class index per row.
-- loss = mean_i (logsumexp(out_i) - out_i[t_i]) with the max subtracted first;
-- gradient (softmax(out_i) - onehot(t_i)) / n.
local M = {}

M.target_type = "int32_t"
M.has_correct = true

function M.emit(ctx)
  local C, ld, m = ctx.out, ctx.out_ld, ctx.mask
  local function fill(s)
    return (s:gsub("%$(%w+)", {C = tostring(C), LD = tostring(ld)}))
  end
  -- An ISA's kernel module may supply a vectorised backward (gen/tile.lua's
  -- softmax_ce_backward); it then replaces the scalar one below.
  local simd = ctx.isa and ctx.isa.kernels and require(ctx.isa.kernels).softmax_ce_backward
  simd = simd and simd({C = C, LD = ld, mask = m ~= nil}, ctx.isa)
  local text = fill([=[
/* Loss: mean over the n rows of logsumexp(out_i) - out_i[t_i];
   out [n][$C] (logits), t [n] (class indices 0..$C-1). */
static float softmax_cross_entropy_loss(const float *restrict out, const int32_t *restrict t, int n) {
  float sum = 0.0f;
  for (int i = 0; i < n; i++) {
    const float *restrict oi = out + i * $LD;
    float m = oi[0];
    for (int j = 1; j < $C; j++) m = oi[j] > m ? oi[j] : m;
    float s = 0.0f;
    for (int j = 0; j < $C; j++) s = s + expf(oi[j] - m);
    sum = sum + ((m - oi[t[i]]) + logf(s));
  }
  return sum / (float)n;
}

/* Loss and its gradient d = (softmax(out) - onehot(t)) / n]=] .. (m and " * [mk > 0] (the last ReLU's derivative)" or "") .. [=[;
   out [n][$C], t [n]]=] .. (m and ", mk [n][$C]" or "") .. [=[ -> d [n][$C]. */
static float softmax_cross_entropy_backward(float *restrict d, const float *restrict out,
                                            const int32_t *restrict t, ]=] .. (m and "const float *restrict mk, " or "") .. [=[int n) {
  const float inv_n = 1.0f / (float)n;
  float sum = 0.0f;
  for (int i = 0; i < n; i++) {
    const float *restrict oi = out + i * $LD;
    float *restrict di = d + i * $LD;
    float m = oi[0];
    for (int j = 1; j < $C; j++) m = oi[j] > m ? oi[j] : m;
    float s = 0.0f;
    for (int j = 0; j < $C; j++) {
      di[j] = expf(oi[j] - m);
      s = s + di[j];
    }
    sum = sum + ((m - oi[t[i]]) + logf(s));
    for (int j = 0; j < $C; j++) {
      const float gj = (di[j] / s - (j == t[i] ? 1.0f : 0.0f)) * inv_n;
      di[j] = ]=] .. (m and "mk[i * $LD + j] > 0.0f ? gj : 0.0f" or "gj") .. [=[;
    }
  }
  return sum / (float)n;
}

/* Rows whose first maximum is at the target class; out [n][$C], t [n]. */
static int softmax_cross_entropy_correct(const float *restrict out, const int32_t *restrict t, int n) {
  int count = 0;
  for (int i = 0; i < n; i++) {
    const float *restrict oi = out + i * $LD;
    int best = 0;
    for (int j = 1; j < $C; j++) best = oi[j] > oi[best] ? j : best;
    count += best == t[i];
  }
  return count;
}
]=])
  if simd then
    local from = assert(text:find("/* Loss and its gradient", 1, true))
    local to = assert(text:find("/* Rows whose first maximum", 1, true))
    text = text:sub(1, from - 1) .. simd .. "\n" .. text:sub(to)
  end
  return text, "softmax_cross_entropy_loss", "softmax_cross_entropy_backward", "softmax_cross_entropy_correct"
end

return M
