-- NEON (AArch64 Advanced SIMD): 4 floats per vector, 32 vector registers. No masked
-- loads: tails of 1-3 floats are read and written lane by lane. Fields as in
-- gen/isa/avx512.lua.
local function at(base, index)
  if index == 0 or index == "0" then return base end
  return base .. " + " .. index
end

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
  fma = function(a, b, c) return "vfmaq_f32(" .. c .. ", " .. a .. ", " .. b .. ")" end,   -- c + a*b, fused
  -- fmaxnm would return the number for a NaN input; compare+select matches the scalar
  max = function(a, b) return "vbslq_f32(vcgtq_f32(" .. a .. ", " .. b .. "), " .. a .. ", " .. b .. ")" end,
  select_pos = function(m, x)
    return "vbslq_f32(vcgtq_f32(" .. m .. ", vdupq_n_f32(0.0f)), " .. x .. ", vdupq_n_f32(0.0f))"
  end,
  blend_pos = function(m, x, y)
    return "vbslq_f32(vcgtq_f32(" .. m .. ", vdupq_n_f32(0.0f)), " .. x .. ", " .. y .. ")"
  end,
  hsum = function(v) return "simd_hsum128(" .. v .. ")" end,
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

static inline __attribute__((unused)) float simd_hsum128(float32x4_t v) {
  float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
  return vget_lane_f32(s, 0) + vget_lane_f32(s, 1);
}
]],
}
