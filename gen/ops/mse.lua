-- Mean squared error of a one-output network, output squeezed: out [n][1] vs t [n].
-- loss = mean_i (out_i - t_i)², gradient 2 (out_i - t_i) / n.
local M = {}

M.target_type = "float"
M.has_correct = false

-- ctx.mask: the last step's mask buffer name (a ReLU at the end), or nil.
function M.emit(ctx)
  local m = ctx.mask
  return [=[
/* Loss: mean over the n rows of (out - t)^2; out [n][1] (squeezed), t [n]. */
static float mse_loss(const float *restrict out, const float *restrict t, int n) {
  float sum = 0.0f;
  for (int i = 0; i < n; i++) {
    const float e = out[i] - t[i];
    sum = sum + e * e;
  }
  return sum / (float)n;
}

/* Loss and its gradient d = 2 (out - t) / n]=] .. (m and " * [m > 0] (the last ReLU's derivative)" or "") .. [=[;
   out [n][1], t [n]]=] .. (m and ", m [n][1]" or "") .. [=[ -> d [n][1]. */
static float mse_backward(float *restrict d, const float *restrict out, const float *restrict t,
                          ]=] .. (m and "const float *restrict m, " or "") .. [=[int n) {
  const float scale = 2.0f / (float)n;
  float sum = 0.0f;
  for (int i = 0; i < n; i++) {
    const float e = out[i] - t[i];
    sum = sum + e * e;
    d[i] = ]=] .. (m and "m[i] > 0.0f ? e * scale : 0.0f" or "e * scale") .. [=[;
  }
  return sum / (float)n;
}
]=], "mse_loss", "mse_backward"
end

return M
