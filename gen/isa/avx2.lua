-- AVX2 + FMA (x86-64): 8 floats per vector, 16 vector registers, masked loads/stores
-- (vmaskmovps) for tails. Fields as in gen/isa/avx512.lua.
local function at(base, index)
  if index == 0 or index == "0" then return base end
  return base .. " + " .. index
end
-- "v > m ? v : m" lane by lane (the scalar max: m where either is NaN) in the vectors of the
-- intrinsics' prefix P (_mm256_, or _mm_ for 4 lanes)
local function blend_gt(P, v, m)
  return P .. "blendv_ps(" .. m .. ", " .. v .. ", " .. P .. "cmp_ps(" .. v .. ", " .. m .. ", _CMP_GT_OQ))"
end
local function mask(lanes)
  local m = {}
  for l = 1, 8 do m[l] = l <= lanes and "-1" or "0" end
  return "_mm256_setr_epi32(" .. table.concat(m, ", ") .. ")"
end

return {
  name = "avx2",
  width = 8,
  vtype = "__m256",
  includes = {"immintrin.h"},
  guard = "defined(__AVX2__) && defined(__FMA__)",
  guard_flags = "-mavx2 -mfma",
  acc_regs = 12,                     -- 6 rows x 2 vectors, + 2 operands + 1 broadcast = 15 of 16
  vec_max = 2,
  max_rows = 6,
  regs = 16,                         -- vector registers (the B = 1 streams, gen/kernels/stream.lua)
  zero = function() return "_mm256_setzero_ps()" end,
  load = function(base, index) return "_mm256_loadu_ps(" .. at(base, index) .. ")" end,
  store = function(base, index, v) return "_mm256_storeu_ps(" .. at(base, index) .. ", " .. v .. ");" end,
  -- base + index on a 32-byte boundary (the kernels' own stack buffers)
  load_aligned = function(base, index) return "_mm256_load_ps(" .. at(base, index) .. ")" end,
  store_aligned = function(base, index, v) return "_mm256_store_ps(" .. at(base, index) .. ", " .. v .. ");" end,
  load_part = function(base, index, lanes)
    return "_mm256_maskload_ps(" .. at(base, index) .. ", " .. mask(lanes) .. ")"
  end,
  store_part = function(base, index, v, lanes)
    return "_mm256_maskstore_ps(" .. at(base, index) .. ", " .. mask(lanes) .. ", " .. v .. ");"
  end,
  -- lanes lo..hi-1 loaded, the others zero and not read (conv2d's tap-sum dx, convtile.lua)
  load_lanes = function(base, index, lo, hi)
    local m = {}
    for l = 0, 7 do m[l + 1] = (l >= lo and l < hi) and "-1" or "0" end
    return "_mm256_maskload_ps(" .. at(base, index) .. ", _mm256_setr_epi32(" .. table.concat(m, ", ") .. "))"
  end,
  -- a hint to bring the line at addr into L1 (the fused update's weights, gen/kernels/tiled.lua)
  prefetch = function(addr) return "_mm_prefetch((const char *)(" .. addr .. "), _MM_HINT_T0);" end,
  broadcast = function(x) return "_mm256_set1_ps(" .. x .. ")" end,
  -- the flat stream's inputs in registers (fields as in gen/isa/avx512.lua)
  splat4 = function(v, i) return "_mm256_permute_ps(" .. v .. ", " .. (i * 0x55) .. ")" end,
  blend2 = function(lo, hi, split)
    return string.format("_mm256_blend_ps(%s, %s, 0x%02X)", lo, hi, 0xFF - ((1 << split) - 1))
  end,
  opaque = function(v) return "_mm256_max_ps(" .. v .. ", " .. v .. ")" end,
  -- *lo in the first `split` lanes, *hi in the others (B = 1 flat stream, gen/kernels/stream.lua)
  bcast2 = function(lo, hi, split)
    return string.format("_mm256_blend_ps(_mm256_set1_ps(*(%s)), _mm256_set1_ps(*(%s)), 0x%02X)",
                         lo, hi, 0xFF - ((1 << split) - 1))
  end,
  add = function(a, b) return "_mm256_add_ps(" .. a .. ", " .. b .. ")" end,
  sub = function(a, b) return "_mm256_sub_ps(" .. a .. ", " .. b .. ")" end,
  mul = function(a, b) return "_mm256_mul_ps(" .. a .. ", " .. b .. ")" end,
  div = function(a, b) return "_mm256_div_ps(" .. a .. ", " .. b .. ")" end,   -- IEEE: as C's /
  sqrt = function(a) return "_mm256_sqrt_ps(" .. a .. ")" end,             -- IEEE: as sqrtf
  fma = function(a, b, c) return "_mm256_fmadd_ps(" .. a .. ", " .. b .. ", " .. c .. ")" end,
  -- bitwise or of the lanes' bits (the fused update's NaN/Inf test, gen/optim/vector.lua)
  bor = function(a, b) return "_mm256_or_ps(" .. a .. ", " .. b .. ")" end,
  max = function(a, b) return "_mm256_max_ps(" .. a .. ", " .. b .. ")" end,
  -- and with the all-ones compare mask: x where m > 0, +0 elsewhere
  select_pos = function(m, x)
    return "_mm256_and_ps(_mm256_cmp_ps(" .. m .. ", _mm256_setzero_ps(), _CMP_GT_OQ), " .. x .. ")"
  end,
  blend_pos = function(m, x, y)
    return "_mm256_blendv_ps(" .. y .. ", " .. x .. ", _mm256_cmp_ps(" .. m .. ", _mm256_setzero_ps(), _CMP_GT_OQ))"
  end,
  -- fixed order: (lo + hi) halves, then pairs
  hsum = function(v)
    return "simd_hsum256(" .. v .. ")"
  end,
  -- softmax: e^v (simd_exp256 below) and "v > m ? v : m" lane by lane (the scalar max)
  exp = function(v) return "simd_exp256(" .. v .. ")" end,
  -- 4 floats at p repeated across the vector (one vbroadcastf128 load): the folded
  -- weight-gradient tail of 4-input tiles (gen/kernels/tiled.lua, folded_tail)
  load_rep = function(p, lanes)
    if lanes == 4 then return "_mm256_broadcast_ps((const __m128 *)(" .. p .. "))" end
    return nil
  end,
  max_gt = function(v, m) return blend_gt("_mm256_", v, m) end,
  -- lane flags of compares (max pooling's windows, gen/kernels/convtile.lua) for vectors of
  -- `lanes` floats (8, or 4 in SSE registers): flags are all-ones/zero lanes of the vector type
  flags = function(lanes)
    local P, T = lanes == 8 and "_mm256_" or "_mm_", lanes == 8 and "__m256" or "__m128"
    return {
      vtype = T, ftype = T, prefix = P,
      gt = function(a, b) return P .. "cmp_ps(" .. a .. ", " .. b .. ", _CMP_GT_OQ)" end,     -- a > b, false on NaN
      blend = function(a, b, u) return P .. "blendv_ps(" .. a .. ", " .. b .. ", " .. u .. ")" end,   -- u ? b : a
      keep = function(u, v) return P .. "and_ps(" .. u .. ", " .. v .. ")" end,               -- u ? v : +0, v's bits
      drop = function(u, v) return P .. "andnot_ps(" .. u .. ", " .. v .. ")" end,            -- u ? +0 : v
      either = function(u, w) return P .. "or_ps(" .. u .. ", " .. w .. ")" end,
      max_gt = function(v, m) return blend_gt(P, v, m) end,                                     -- v > m ? v : m
    }
  end,
  -- square block transpose (the input gradient's copy of W)
  transpose = "simd_tr8x8",
  transpose_n = 8,
  helpers = [[
/* dst[j][i] = src[i][j] for an 8x8 block (row strides lds, ldd). */
static inline __attribute__((unused)) void simd_tr8x8(float *restrict dst, int ldd,
                                                      const float *restrict src, int lds) {
  __m256 r[8], t[8], u[8];
  for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * lds);
  for (int k = 0; k < 4; k++) {
    t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
  }
  for (int k = 0; k < 2; k++) {
    u[4 * k] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
    u[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
    u[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
    u[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
  }
  for (int c = 0; c < 4; c++) {
    _mm256_storeu_ps(dst + c * ldd, _mm256_permute2f128_ps(u[c], u[4 + c], 0x20));
    _mm256_storeu_ps(dst + (4 + c) * ldd, _mm256_permute2f128_ps(u[c], u[4 + c], 0x31));
  }
}

/* e^x for 8 floats, the same steps and constants as simd_exp512 (gen/isa/avx512.lua), so the
   same results: x = n ln2 + r (n = round(x log2 e), ln2 in two parts), e^r by its Taylor
   polynomial of degree 7, times 2^n as two exact powers of two 2^(n>>1) * 2^(n-(n>>1)) (each
   a normal float for n in [-150, 128]: one rounding, underflow to 0 and overflow to inf as
   one scaling would). x is clamped to [-104, 88.8] first; NaN goes through. */
static inline __attribute__((unused)) __m256 simd_exp256(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(88.8f), _mm256_max_ps(_mm256_set1_ps(-104.0f), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.98412698e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.38888889e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.33333333e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.16666667e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.66666667e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i ni = _mm256_cvtps_epi32(n), n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  p = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23)));
  return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23)));
}

static inline __attribute__((unused)) float simd_hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
]],
}
