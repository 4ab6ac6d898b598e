-- The loss kernels: mean squared error (one output, squeezed) and softmax + cross-entropy,
-- each as NAME_loss's function, the backward that writes the loss gradient (with the last
-- activation's derivative fused in, gen/kernels/epilogue.lua) and, for a classifier, the
-- count of correct rows. Function names come from gen/names.lua.
--   mse            loss = mean_i (out_i - t_i)², gradient 2 (out_i - t_i) / n
--   cross_entropy  loss = mean_i (logsumexp(out_i) - out_i[t_i]) with the max subtracted
--                  first; gradient (softmax(out_i) - onehot(t_i)) / n
local emit = require "emit"
local epilogue = require "kernels.epilogue"
local shared = require "kernels.shared"

local M = {}

local buffer = emit.buffer

-- C type of one row's target.
M.TARGET_TYPE = {mse = "float", cross_entropy = "int32_t"}

local function aload(isa, base, off) return (isa.load_aligned or isa.load)(base, off) end
local function astore(isa, base, off, v) return (isa.store_aligned or isa.store)(base, off, v) end

local function mse(ctx)
  local act = ctx.act
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

/* Loss and its gradient d = 2 (out - t) / n]=] .. (act and epilogue.grad_prose(act, "m", "last") or "") .. [=[;
   out [n][1], t [n]]=] .. (act and ", m [n][1]" or "") .. [=[ -> d [n][1]. */
static float mse_backward(float *restrict d, const float *restrict out, const float *restrict t,
                          ]=] .. (act and "const float *restrict m, " or "") .. [=[int n) {
  const float scale = 2.0f / (float)n;
  float sum = 0.0f;
  for (int i = 0; i < n; i++) {
    const float e = out[i] - t[i];
    sum = sum + e * e;
    d[i] = ]=] .. (act and epilogue.grad_scalar(act, "e * scale", "m[i]") or "e * scale") .. [=[;
  }
  return sum / (float)n;
}
]=], "mse_loss", "mse_backward"
end

-- Softmax + cross-entropy gradient for ISAs with a vector exp (isa.exp, isa.max_gt): the
-- same function as the scalar one above, with V rows at a time in
-- the lanes (the [rows][C] logits transposed through a stack block: a whole block by the
-- ISA's square transpose), so the max, the exponentials and their sum are vector
-- operations; max and sum order are the scalar code's, only e^x differs (a polynomial
-- instead of libm's expf). Without a last activation the gradient is vector arithmetic
-- too, transposed back the same way (784-50-10 B=64 on Zen 3: 1.17 -> 1.02 us); its
-- target entry is (e / s - 1) / n in two statements, one rounding each, whatever the
-- compiler's contraction (the scalar loop's one expression may become an FMA).
-- a = {C = classes, LD = row stride, act = the last activation (its derivative is applied) or nil}.
-- Returns the C function, or nil when the ISA has no exp or C is large (the stack block).
local function softmax_ce_backward_simd(a, isa)
  if not (isa.exp and isa.max_gt) or a.C > 64 then return nil end
  local V, C, LD = isa.width, a.C, a.LD
  local vt = isa.vtype
  local b = buffer()
  b.put(0, "/* Loss and its gradient d = (softmax(out) - onehot(t)) / n" .. (a.act and epilogue.grad_prose(a.act, "mk", "last") or "")
    .. ";")
  b.put(0, "   out [n][" .. C .. "], t [n]" .. (a.act and ", mk [n][" .. C .. "]" or "") .. " -> d [n][" .. C .. "]. "
    .. V .. " rows at a time, one per lane. */")
  b.put(0, "static float softmax_cross_entropy_backward(float *restrict d, const float *restrict out,")
  b.put(0, "                                            const int32_t *restrict t, "
    .. (a.act and "const float *restrict mk, " or "") .. "int n) {")
  -- without a last activation the gradient is vector arithmetic (fast), with one the
  -- scalar loop applies its derivative row by row
  local fast = not a.act
  b.put(1, "const float inv_n = 1.0f / (float)n;")
  if fast then b.put(1, "const " .. vt .. " vinv_n = " .. isa.broadcast("inv_n") .. ";") end
  b.put(1, "float sum = 0.0f;")
  b.put(1, "_Alignas(64) float e[" .. C * V .. "], ms[" .. V .. "], ss[" .. V .. "]"
    .. (fast and ", is[" .. V .. "], et[" .. V .. "]" or "") .. ";")
  b.put(1, "for (int i0 = 0; i0 < n; i0 += " .. V .. ") {")
  b.put(2, "const int rows = n - i0 < " .. V .. " ? n - i0 : " .. V .. ";")
  -- a whole block of rows moves in and out through the ISA's square transpose (V x V
  -- blocks of columns, the last C mod V columns one by one), a short one element by element
  local T = fast and C >= V and isa.transpose_n == V and isa.transpose
  -- fewer classes than lanes (C < V) on an ISA with gather and scatter: a whole block moves
  -- in by one gather per class (lane r at row r's entry) and out by one scatter, instead of
  -- C x V scalar copies each way; the same values, so the same bits (784-50-10 B=64 on the
  -- Xeon, avx512: 1.16 -> 0.89 us)
  local G = fast and C < V and isa.gather and isa.scatter and isa.index
  if G then
    local iv, it = shared.row_index(isa, LD)
    b.put(2, "const " .. it .. " gix = " .. iv .. ";")
  end
  -- "if (rows == V) {" and the whole block's move: V x V transposes from src to dst (C
  -- expressions at column j, with their row strides), the last C mod V columns by `tail`
  -- (an assignment at j, r); the caller writes the else branch
  local function whole_block(dst, dst_ld, src, src_ld, tail)
    b.put(2, "if (rows == " .. V .. ") {")
    b.put(3, "for (int j = 0; j + " .. V .. " <= " .. C .. "; j += " .. V .. ") " .. T .. "(" .. dst .. ", " .. dst_ld
      .. ", " .. src .. ", " .. src_ld .. ");")
    if C % V > 0 then
      b.put(3, "for (int j = " .. C - C % V .. "; j < " .. C .. "; j++)")
      b.put(4, "for (int r = 0; r < " .. V .. "; r++) " .. tail .. ";")
    end
    b.put(2, "} else {")
  end
  if T then
    whole_block("e + j * " .. V, V, "out + i0 * " .. LD .. " + j", LD,
                "e[j * " .. V .. " + r] = out[(i0 + r) * " .. LD .. " + j]")
  elseif G then
    b.put(2, "if (rows == " .. V .. ") {")
    b.put(3, "for (int j = 0; j < " .. C .. "; j++) " .. astore(isa, "e", "j * " .. V, isa.gather("out + i0 * " .. LD .. " + j", "gix")))
    b.put(2, "} else {")
  end
  local d0 = (T or G) and 3 or 2
  b.put(d0, "for (int j = 0; j < " .. C .. "; j++)")
  b.put(d0 + 1, "for (int r = 0; r < " .. V .. "; r++) e[j * " .. V .. " + r] = r < rows ? out[(i0 + r) * " .. LD .. " + j] : 0.0f;")
  if T or G then b.put(2, "}") end
  b.put(2, vt .. " m = " .. aload(isa, "e", 0) .. ", s = " .. isa.zero() .. ";")
  b.put(2, "for (int j = 1; j < " .. C .. "; j++) m = " .. isa.max_gt(aload(isa, "e", "j * " .. V), "m") .. ";")
  b.put(2, "for (int j = 0; j < " .. C .. "; j++) {")
  b.put(3, "const " .. vt .. " ej = " .. isa.exp(isa.sub(aload(isa, "e", "j * " .. V), "m")) .. ";")
  b.put(3, astore(isa, "e", "j * " .. V, "ej"))
  b.put(3, "s = " .. isa.add("s", "ej") .. ";")
  b.put(2, "}")
  b.put(2, isa.store("ms", 0, "m"))
  b.put(2, isa.store("ss", 0, "s"))
  if fast then
    -- every class as if it were not the target, (e / s - 0) / n = e · (1 / s) · (1 / n) in
    -- vectors (1 / s: the IEEE division of the scalar code), then the target's own value:
    -- two statements, so no compiler fuses e · (1 / s) - 1 into one rounding
    b.put(2, "const " .. vt .. " inv_s = " .. isa.div(isa.broadcast("1.0f"), "s") .. ";")
    b.put(2, isa.store("is", 0, "inv_s"))
    -- (a class index outside 0..C-1 breaks the API's contract; it is not written out of e)
    b.put(2, "for (int r = 0; r < rows; r++) et[r] = (uint32_t)t[i0 + r] < " .. C .. "u ? e[t[i0 + r] * " .. V .. " + r] : 0.0f;")
    b.put(2, "for (int j = 0; j < " .. C .. "; j++) "
      .. astore(isa, "e", "j * " .. V, isa.mul(isa.mul(aload(isa, "e", "j * " .. V), "inv_s"), "vinv_n")))
    b.put(2, "for (int r = 0; r < rows; r++) {")
    b.put(3, "const int i = i0 + r;")
    b.put(3, "sum = sum + ((ms[r] - out[i * " .. LD .. " + t[i]]) + logf(ss[r]));")
    b.put(3, "const float q = et[r] * is[r];")
    b.put(3, "if ((uint32_t)t[i] < " .. C .. "u) e[t[i] * " .. V .. " + r] = (q - 1.0f) * inv_n;")
    b.put(2, "}")
    if T then
      whole_block("d + i0 * " .. LD .. " + j", LD, "e + j * " .. V, V,
                  "d[(i0 + r) * " .. LD .. " + j] = e[j * " .. V .. " + r]")
    elseif G then
      b.put(2, "if (rows == " .. V .. ") {")
      b.put(3, "for (int j = 0; j < " .. C .. "; j++) " .. isa.scatter("d + i0 * " .. LD .. " + j", "gix", aload(isa, "e", "j * " .. V)))
      b.put(2, "} else {")
    end
    b.put(d0, "for (int j = 0; j < " .. C .. "; j++)")
    b.put(d0 + 1, "for (int r = 0; r < rows; r++) d[(i0 + r) * " .. LD .. " + j] = e[j * " .. V .. " + r];")
    if T or G then b.put(2, "}") end
    b.put(1, "}")
  else
    b.put(2, "for (int r = 0; r < rows; r++) {")
    b.put(3, "const int i = i0 + r;")
    b.put(3, "const float *restrict oi = out + i * " .. LD .. ";")
    b.put(3, "float *restrict di = d + i * " .. LD .. ";")
    b.put(3, "sum = sum + ((ms[r] - oi[t[i]]) + logf(ss[r]));")
    b.put(3, "const float inv_s = 1.0f / ss[r];")
    b.put(3, "for (int j = 0; j < " .. C .. "; j++) {")
    b.put(4, "const float gj = (e[j * " .. V .. " + r] * inv_s - (j == t[i] ? 1.0f : 0.0f)) * inv_n;")
    b.put(4, "di[j] = " .. epilogue.grad_scalar(a.act, "gj", "mk[i * " .. LD .. " + j]") .. ";")
    b.put(3, "}")
    b.put(2, "}")
    b.put(1, "}")
  end
  b.put(1, "return sum / (float)n;")
  b.put(0, "}")
  return b.text()
end

local function cross_entropy(ctx)
  local C, ld, act = ctx.out, ctx.out_ld, ctx.act
  local function fill(s)
    return (s:gsub("%$(%w+)", {C = tostring(C), LD = tostring(ld)}))
  end
  local loss_fn = fill([=[
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

]=])
  -- with a vector exp the backward runs V rows at a time, else one row at a time
  local simd = ctx.isa.width > 1 and softmax_ce_backward_simd({C = C, LD = ld, act = act}, ctx.isa)
  local backward = simd and simd .. "\n" or fill([=[/* Loss and its gradient d = (softmax(out) - onehot(t)) / n]=] .. (act and epilogue.grad_prose(act, "mk", "last") or "") .. [=[;
   out [n][$C], t [n]]=] .. (act and ", mk [n][$C]" or "") .. [=[ -> d [n][$C]. */
static float softmax_cross_entropy_backward(float *restrict d, const float *restrict out,
                                            const int32_t *restrict t, ]=] .. (act and "const float *restrict mk, " or "") .. [=[int n) {
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
      di[j] = ]=] .. (act and epilogue.grad_scalar(act, "gj", "mk[i * $LD + j]") or "gj") .. [=[;
    }
  }
  return sum / (float)n;
}

]=])
  local correct = fill([=[/* Rows whose first maximum is at the target class; out [n][$C], t [n]. */
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
  local text = loss_fn .. backward .. correct
  return text, "softmax_cross_entropy_loss", "softmax_cross_entropy_backward", "softmax_cross_entropy_correct"
end

-- emit(loss, ctx) -> C text, loss function, backward function, correct function (or nil).
-- ctx = {out = outputs per row, out_ld = their row stride, act = the last step's
-- activation {op, opts} or nil, isa = the ISA table}.
function M.emit(loss, ctx)
  if loss == "mse" then return mse(ctx) end
  return cross_entropy(ctx)
end

return M
