-- NEON (AArch64 Advanced SIMD): 4 floats per vector, 32 vector registers. No masked
-- loads: tails of 1-3 floats are read and written lane by lane. Fields as in
-- gen/isa/avx512.lua.
local function at(base, index)
  if index == 0 or index == "0" then return base end
  return base .. " + " .. index
end
-- "v > m ? v : m" lane by lane (the scalar max: m where either is NaN)
local function max_gt(v, m) return "vbslq_f32(vcgtq_f32(" .. v .. ", " .. m .. "), " .. v .. ", " .. m .. ")" end

return {
  name = "neon",
  width = 4,
  vtype = "float32x4_t",
  includes = {"arm_neon.h"},
  guard = "defined(__aarch64__) && defined(__ARM_NEON)",
  guard_flags = "--target=aarch64-linux-gnu (AArch64 with Advanced SIMD)",
  acc_regs = 24,
  vec_max = 3,
  max_rows = 8,
  regs = 32,                         -- vector registers (the B = 1 streams, gen/kernels/stream.lua)
  zero = function() return "vdupq_n_f32(0.0f)" end,
  load = function(base, index) return "vld1q_f32(" .. at(base, index) .. ")" end,
  store = function(base, index, v) return "vst1q_f32(" .. at(base, index) .. ", " .. v .. ");" end,
  -- NEON loads and stores have no alignment requirement: the aligned spellings are the same
  load_aligned = function(base, index) return "vld1q_f32(" .. at(base, index) .. ")" end,
  store_aligned = function(base, index, v) return "vst1q_f32(" .. at(base, index) .. ", " .. v .. ");" end,
  load_part = function(base, index, lanes)
    local p = at(base, index)
    if lanes == 1 then return "vsetq_lane_f32((" .. p .. ")[0], vdupq_n_f32(0.0f), 0)" end
    local two = "vcombine_f32(vld1_f32(" .. p .. "), vdup_n_f32(0.0f))"
    if lanes == 2 then return two end
    return "vsetq_lane_f32((" .. p .. ")[2], " .. two .. ", 2)"
  end,
  store_part = function(base, index, v, lanes)
    local p = at(base, index)
    if lanes == 1 then return "vst1q_lane_f32(" .. p .. ", " .. v .. ", 0);" end
    local two = "vst1_f32(" .. p .. ", vget_low_f32(" .. v .. "));"
    if lanes == 2 then return two end
    return two .. " vst1q_lane_f32(" .. at(base, (tonumber(index) and index + 2) or (index .. " + 2")) .. ", " .. v .. ", 2);"
  end,
  broadcast = function(x) return "vdupq_n_f32(" .. x .. ")" end,
  add = function(a, b) return "vaddq_f32(" .. a .. ", " .. b .. ")" end,
  sub = function(a, b) return "vsubq_f32(" .. a .. ", " .. b .. ")" end,
  mul = function(a, b) return "vmulq_f32(" .. a .. ", " .. b .. ")" end,
  div = function(a, b) return "vdivq_f32(" .. a .. ", " .. b .. ")" end,   -- IEEE: as C's /
  sqrt = function(a) return "vsqrtq_f32(" .. a .. ")" end,             -- IEEE: as sqrtf
  fma = function(a, b, c) return "vfmaq_f32(" .. c .. ", " .. a .. ", " .. b .. ")" end,   -- c + a*b, fused
  -- bitwise or of the lanes' bits (the fused update's NaN/Inf test, gen/optim/vector.lua)
  bor = function(a, b)
    return "vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(" .. a .. "), vreinterpretq_u32_f32(" .. b .. ")))"
  end,
  -- fmaxnm would return the number for a NaN input; compare+select matches the scalar
  max = function(a, b) return "vbslq_f32(vcgtq_f32(" .. a .. ", " .. b .. "), " .. a .. ", " .. b .. ")" end,
  select_pos = function(m, x)
    return "vbslq_f32(vcgtq_f32(" .. m .. ", vdupq_n_f32(0.0f)), " .. x .. ", vdupq_n_f32(0.0f))"
  end,
  blend_pos = function(m, x, y)
    return "vbslq_f32(vcgtq_f32(" .. m .. ", vdupq_n_f32(0.0f)), " .. x .. ", " .. y .. ")"
  end,
  hsum = function(v) return "simd_hsum128(" .. v .. ")" end,
  -- lane flags of compares (max pooling's windows, gen/kernels/convtile.lua): all-ones/zero
  -- lanes of uint32x4_t; the fields as in gen/isa/avx2.lua
  flags = function(lanes)
    assert(lanes == 4)
    local function u(v) return "vreinterpretq_u32_f32(" .. v .. ")" end
    return {
      vtype = "float32x4_t", ftype = "uint32x4_t",
      gt = function(a, b) return "vcgtq_f32(" .. a .. ", " .. b .. ")" end,
      blend = function(a, b, f) return "vbslq_f32(" .. f .. ", " .. b .. ", " .. a .. ")" end,
      keep = function(f, v) return "vreinterpretq_f32_u32(vandq_u32(" .. f .. ", " .. u(v) .. "))" end,
      drop = function(f, v) return "vreinterpretq_f32_u32(vbicq_u32(" .. u(v) .. ", " .. f .. "))" end,
      either = function(f, w) return "vorrq_u32(" .. f .. ", " .. w .. ")" end,
      max_gt = max_gt,
    }
  end,
  -- softmax: e^v (simd_exp128 below) and "v > m ? v : m" lane by lane (the scalar max)
  exp = function(v) return "simd_exp128(" .. v .. ")" end,
  max_gt = max_gt,
  -- square block transpose (the input gradient's copy of W)
  transpose = "simd_tr4x4",
  transpose_n = 4,
  helpers = [[
/* dst[j][i] = src[i][j] for a 4x4 block (row strides lds, ldd). */
static inline __attribute__((unused)) void simd_tr4x4(float *restrict dst, int ldd,
                                                      const float *restrict src, int lds) {
  const float32x4x2_t a = vtrnq_f32(vld1q_f32(src), vld1q_f32(src + lds));
  const float32x4x2_t b = vtrnq_f32(vld1q_f32(src + 2 * lds), vld1q_f32(src + 3 * lds));
  vst1q_f32(dst, vcombine_f32(vget_low_f32(a.val[0]), vget_low_f32(b.val[0])));
  vst1q_f32(dst + ldd, vcombine_f32(vget_low_f32(a.val[1]), vget_low_f32(b.val[1])));
  vst1q_f32(dst + 2 * ldd, vcombine_f32(vget_high_f32(a.val[0]), vget_high_f32(b.val[0])));
  vst1q_f32(dst + 3 * ldd, vcombine_f32(vget_high_f32(a.val[1]), vget_high_f32(b.val[1])));
}

/* e^x for 4 floats, the same steps and constants as simd_exp512 (gen/isa/avx512.lua): x =
   n ln2 + r (n = round(x log2 e), ln2 in two parts), e^r by its Taylor polynomial of degree
   7, times 2^n as two exact powers of two 2^(n>>1) * 2^(n-(n>>1)) (each a normal float for
   n in [-150, 128]: one rounding, underflow to 0 and overflow to inf as one scaling would).
   x is clamped to [-104, 88.8] first (vmax/vmin return NaN for a NaN). */
static inline __attribute__((unused)) float32x4_t simd_exp128(float32x4_t x) {
  x = vminq_f32(vdupq_n_f32(88.8f), vmaxq_f32(vdupq_n_f32(-104.0f), x));
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504f)));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.98412698e-4f);
  p = vfmaq_f32(vdupq_n_f32(1.38888889e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(8.33333333e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(4.16666667e-2f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.66666667e-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  const int32x4_t ni = vcvtq_s32_f32(n), n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
  const int32x4_t bias = vdupq_n_s32(127);
  p = vmulq_f32(p, vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23)));
  return vmulq_f32(p, vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23)));
}

static inline __attribute__((unused)) float simd_hsum128(float32x4_t v) {
  float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
  return vget_lane_f32(s, 0) + vget_lane_f32(s, 1);
}
]],
}
