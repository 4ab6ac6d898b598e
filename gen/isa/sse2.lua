-- SSE2 (x86-64's baseline: every x86-64 CPU has it): 4 floats per vector, 16 vector
-- registers. For the x86 machines without AVX2 + FMA (older or low-power cores) and as the
-- --dispatch build's fallback before scalar. No fused multiply-add: fma is a multiply and
-- an add, rounded twice as in the scalar ISA. No masked loads: tails of 1-3 floats are
-- read and written through 32- and 64-bit moves (nothing past `lanes` floats is touched).
-- Fields as in gen/isa/avx512.lua.
local function at(base, index)
  if index == 0 or index == "0" then return base end
  return base .. " + " .. index
end
local function plus(index, k)
  if tonumber(index) then return tonumber(index) + k end
  return index .. " + " .. k
end
-- f ? a : b lane by lane, f all-ones or zero lanes (SSE2 has no blendv: and, andnot, or)
local function sel(f, a, b) return "simd_sel128(" .. f .. ", " .. a .. ", " .. b .. ")" end
local function gt(a, b) return "_mm_cmpgt_ps(" .. a .. ", " .. b .. ")" end
-- "v > m ? v : m" lane by lane (the scalar max: m where either is NaN)
local function max_gt(v, m) return sel(gt(v, m), v, m) end
local function low2(p) return "_mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(" .. p .. "))" end

return {
  name = "sse2",
  width = 4,
  vtype = "__m128",
  includes = {"emmintrin.h"},
  guard = "defined(__SSE2__)",
  guard_flags = "-msse2",
  -- 4 rows x 2 vectors: 8 accumulators + 2 operands + 1 broadcast + the product's temporary
  -- (no FMA: the multiply needs a register of its own), and 8 independent adds in flight
  -- (addps: latency 3-4, 1-2 ports). Zen 4, train_step_scratch, clang / gcc -O2, fastest of 3
  -- alternated runs, us: 784-50-10 B=64 4x2 293 / 297, 6x2 306 / 293, 4x3 365-405 / 271
  -- (clang spills); 784-256-256-10 4x2 2109 / 2132, 6x2 2256 / 2093
  acc_regs = 8,
  vec_max = 2,
  max_rows = 4,
  regs = 16,                         -- vector registers (the B = 1 streams, gen/kernels/stream.lua)
  zero = function() return "_mm_setzero_ps()" end,
  load = function(base, index) return "_mm_loadu_ps(" .. at(base, index) .. ")" end,
  store = function(base, index, v) return "_mm_storeu_ps(" .. at(base, index) .. ", " .. v .. ");" end,
  -- base + index on a 16-byte boundary (the kernels' own stack buffers)
  load_aligned = function(base, index) return "_mm_load_ps(" .. at(base, index) .. ")" end,
  store_aligned = function(base, index, v) return "_mm_store_ps(" .. at(base, index) .. ", " .. v .. ");" end,
  -- the first `lanes` floats, the others zero
  load_part = function(base, index, lanes)
    local p = at(base, index)
    if lanes == 1 then return "_mm_load_ss(" .. p .. ")" end
    if lanes == 2 then return low2(p) end
    return "_mm_movelh_ps(" .. low2(p) .. ", _mm_load_ss(" .. at(base, plus(index, 2)) .. "))"
  end,
  store_part = function(base, index, v, lanes)
    local p = at(base, index)
    if lanes == 1 then return "_mm_store_ss(" .. p .. ", " .. v .. ");" end
    local two = "_mm_storel_pi((__m64 *)(" .. p .. "), " .. v .. ");"
    if lanes == 2 then return two end
    return two .. " _mm_store_ss(" .. at(base, plus(index, 2)) .. ", _mm_movehl_ps(" .. v .. ", " .. v .. "));"
  end,
  -- a hint to bring the line at addr into L1 (the fused update's weights, gen/kernels/tiled.lua)
  prefetch = function(addr) return "_mm_prefetch((const char *)(" .. addr .. "), _MM_HINT_T0);" end,
  broadcast = function(x) return "_mm_set1_ps(" .. x .. ")" end,
  add = function(a, b) return "_mm_add_ps(" .. a .. ", " .. b .. ")" end,
  sub = function(a, b) return "_mm_sub_ps(" .. a .. ", " .. b .. ")" end,
  mul = function(a, b) return "_mm_mul_ps(" .. a .. ", " .. b .. ")" end,
  div = function(a, b) return "_mm_div_ps(" .. a .. ", " .. b .. ")" end,   -- IEEE: as C's /
  sqrt = function(a) return "_mm_sqrt_ps(" .. a .. ")" end,             -- IEEE: as sqrtf
  -- c + a*b, rounded twice (the scalar ISA's c + a * b)
  fma = function(a, b, c) return "_mm_add_ps(" .. c .. ", _mm_mul_ps(" .. a .. ", " .. b .. "))" end,
  -- bitwise or of the lanes' bits (the fused update's NaN/Inf test, gen/optim/vector.lua)
  bor = function(a, b) return "_mm_or_ps(" .. a .. ", " .. b .. ")" end,
  max = function(a, b) return "_mm_max_ps(" .. a .. ", " .. b .. ")" end,
  -- and with the all-ones compare mask: x where m > 0, +0 elsewhere
  select_pos = function(m, x) return "_mm_and_ps(" .. gt(m, "_mm_setzero_ps()") .. ", " .. x .. ")" end,
  blend_pos = function(m, x, y) return sel(gt(m, "_mm_setzero_ps()"), x, y) end,
  -- fixed order: (v0 + v2) + (v1 + v3), as neon's
  hsum = function(v) return "simd_hsum128(" .. v .. ")" end,
  -- softmax: e^v (simd_exp128 below) and "v > m ? v : m" lane by lane (the scalar max)
  exp = function(v) return "simd_exp128(" .. v .. ")" end,
  max_gt = max_gt,
  -- square block transpose (the input gradient's copy of W)
  transpose = "simd_tr4x4",
  transpose_n = 4,
  helpers = [[
/* f ? a : b lane by lane, f's lanes all ones or all zeros (a compare's result). */
static inline __attribute__((unused)) __m128 simd_sel128(__m128 f, __m128 a, __m128 b) {
  return _mm_or_ps(_mm_and_ps(f, a), _mm_andnot_ps(f, b));
}

/* dst[j][i] = src[i][j] for a 4x4 block (row strides lds, ldd). */
static inline __attribute__((unused)) void simd_tr4x4(float *restrict dst, int ldd,
                                                      const float *restrict src, int lds) {
  const __m128 a = _mm_loadu_ps(src), b = _mm_loadu_ps(src + lds);
  const __m128 c = _mm_loadu_ps(src + 2 * lds), d = _mm_loadu_ps(src + 3 * lds);
  const __m128 ab01 = _mm_unpacklo_ps(a, b), cd01 = _mm_unpacklo_ps(c, d);
  const __m128 ab23 = _mm_unpackhi_ps(a, b), cd23 = _mm_unpackhi_ps(c, d);
  _mm_storeu_ps(dst, _mm_movelh_ps(ab01, cd01));
  _mm_storeu_ps(dst + ldd, _mm_movehl_ps(cd01, ab01));
  _mm_storeu_ps(dst + 2 * ldd, _mm_movelh_ps(ab23, cd23));
  _mm_storeu_ps(dst + 3 * ldd, _mm_movehl_ps(cd23, ab23));
}

/* e^x for 4 floats, the steps and constants of simd_exp512 (gen/isa/avx512.lua) with each
   fused multiply-add a multiply and an add: x = n ln2 + r (n = x log2 e rounded to the
   nearest integer by cvtps2dq, in the default rounding mode; ln2 in two parts), e^r by its
   Taylor polynomial of degree 7, times 2^n as two exact powers of two 2^(n>>1) *
   2^(n-(n>>1)). x is clamped to [-104, 88.8] first (maxps/minps pass a NaN x through). */
static inline __attribute__((unused)) __m128 simd_exp128(__m128 x) {
  x = _mm_min_ps(_mm_set1_ps(88.8f), _mm_max_ps(_mm_set1_ps(-104.0f), x));
  const __m128i ni = _mm_cvtps_epi32(_mm_mul_ps(x, _mm_set1_ps(1.44269504f)));
  const __m128 n = _mm_cvtepi32_ps(ni);
  __m128 r = _mm_sub_ps(x, _mm_mul_ps(n, _mm_set1_ps(0.693359375f)));
  r = _mm_sub_ps(r, _mm_mul_ps(n, _mm_set1_ps(-2.12194440e-4f)));
  __m128 p = _mm_set1_ps(1.98412698e-4f);
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.38888889e-3f));
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(8.33333333e-3f));
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(4.16666667e-2f));
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.66666667e-1f));
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(0.5f));
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0f));
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0f));
  const __m128i n1 = _mm_srai_epi32(ni, 1), n2 = _mm_sub_epi32(ni, n1), bias = _mm_set1_epi32(127);
  p = _mm_mul_ps(p, _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(n1, bias), 23)));
  return _mm_mul_ps(p, _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(n2, bias), 23)));
}

static inline __attribute__((unused)) float simd_hsum128(__m128 v) {
  const __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
]],
}
