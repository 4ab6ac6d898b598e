-- AVX-512F (x86-64): 16 floats per vector, 32 vector registers, k-masks for tails.
-- The fields are those of gen/isa/scalar.lua plus what the tiled kernels
-- (gen/kernels/tiled.lua) need: partial loads/stores of the first `lanes` floats, a
-- horizontal sum, the register budget that sizes the tiles, and the compile-time guard
-- of the generated .c.
local function at(base, index)
  if index == 0 or index == "0" then return base end
  return base .. " + " .. index
end
local function mask(lanes) return string.format("(__mmask16)0x%X", (1 << lanes) - 1) end
-- "v > m ? v : m" lane by lane (the scalar max: m where either is NaN)
local function max_gt(v, m)
  return "_mm512_mask_mov_ps(" .. m .. ", _mm512_cmp_ps_mask(" .. v .. ", " .. m .. ", _CMP_GT_OQ), " .. v .. ")"
end

return {
  name = "avx512",
  width = 16,
  vtype = "__m512",
  includes = {"immintrin.h"},
  -- the generated .c refuses to compile without these
  guard = "defined(__AVX512F__)",
  guard_flags = "-mavx512f",
  acc_regs = 24,                     -- accumulators per register tile (32 registers minus operands)
  vec_max = 3,                       -- vectors per tile row: 8 rows x 3 vectors = 24 accumulators
  max_rows = 8,
  zero = function() return "_mm512_setzero_ps()" end,
  load = function(base, index) return "_mm512_loadu_ps(" .. at(base, index) .. ")" end,
  store = function(base, index, v) return "_mm512_storeu_ps(" .. at(base, index) .. ", " .. v .. ");" end,
  -- base + index on a 64-byte boundary (the kernels' own stack buffers)
  load_aligned = function(base, index) return "_mm512_load_ps(" .. at(base, index) .. ")" end,
  store_aligned = function(base, index, v) return "_mm512_store_ps(" .. at(base, index) .. ", " .. v .. ");" end,
  load_part = function(base, index, lanes)
    return "_mm512_maskz_loadu_ps(" .. mask(lanes) .. ", " .. at(base, index) .. ")"
  end,
  store_part = function(base, index, v, lanes)
    return "_mm512_mask_storeu_ps(" .. at(base, index) .. ", " .. mask(lanes) .. ", " .. v .. ");"
  end,
  -- lanes lo..hi-1 loaded, the others zero and not read (conv2d's tap-sum dx, convtile.lua)
  load_lanes = function(base, index, lo, hi)
    return string.format("_mm512_maskz_loadu_ps((__mmask16)0x%X, %s)", (1 << hi) - (1 << lo), at(base, index))
  end,
  -- (optional) V floats at base + idx[l], from and to memory, idx the C expressions of the
  -- lanes' offsets in order (the fused update of the folded weight-gradient tail's weights,
  -- gen/kernels/tiled.lua's opt_gathered): vgatherdps / vscatterdps, offsets all distinct
  index = function(idx)
    local r = {}
    for l = #idx, 1, -1 do r[#r + 1] = idx[l] end
    return "_mm512_set_epi32(" .. table.concat(r, ", ") .. ")", "__m512i"
  end,
  gather = function(base, ix) return "_mm512_i32gather_ps(" .. ix .. ", " .. base .. ", 4)" end,
  scatter = function(base, ix, v) return "_mm512_i32scatter_ps(" .. base .. ", " .. ix .. ", " .. v .. ", 4);" end,
  -- a hint to bring the line at addr into L1 (the fused update's weights, gen/kernels/tiled.lua)
  prefetch = function(addr) return "_mm_prefetch((const char *)(" .. addr .. "), _MM_HINT_T0);" end,
  broadcast = function(x) return "_mm512_set1_ps(" .. x .. ")" end,
  add = function(a, b) return "_mm512_add_ps(" .. a .. ", " .. b .. ")" end,
  sub = function(a, b) return "_mm512_sub_ps(" .. a .. ", " .. b .. ")" end,
  mul = function(a, b) return "_mm512_mul_ps(" .. a .. ", " .. b .. ")" end,
  div = function(a, b) return "_mm512_div_ps(" .. a .. ", " .. b .. ")" end,   -- IEEE: as C's /
  sqrt = function(a) return "_mm512_sqrt_ps(" .. a .. ")" end,             -- IEEE: as sqrtf
  fma = function(a, b, c) return "_mm512_fmadd_ps(" .. a .. ", " .. b .. ", " .. c .. ")" end,   -- a*b + c
  -- bitwise or of the lanes' bits (the fused update's NaN/Inf test, gen/optim/vector.lua;
  -- the integer form: _mm512_or_ps needs AVX512DQ)
  bor = function(a, b)
    return "_mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(" .. a .. "), _mm512_castps_si512(" .. b .. ")))"
  end,
  -- max(a, 0)-style: returns b when either is NaN, like the scalar (a > b ? a : b)
  max = function(a, b) return "_mm512_max_ps(" .. a .. ", " .. b .. ")" end,
  select_pos = function(m, x)
    return "_mm512_maskz_mov_ps(_mm512_cmp_ps_mask(" .. m .. ", _mm512_setzero_ps(), _CMP_GT_OQ), " .. x .. ")"
  end,
  blend_pos = function(m, x, y)
    return "_mm512_mask_blend_ps(_mm512_cmp_ps_mask(" .. m .. ", _mm512_setzero_ps(), _CMP_GT_OQ), " .. y .. ", " .. x .. ")"
  end,
  hsum = function(v) return "_mm512_reduce_add_ps(" .. v .. ")" end,
  helpers = [[
/* dst[j][i] = src[i][j] for a 16x16 block (row strides lds, ldd): pairs of rows
   interleaved, then 4-row groups per 128-bit lane, then the lanes transposed. */
static inline __attribute__((unused)) void simd_tr16x16(float *restrict dst, int ldd,
                                                        const float *restrict src, int lds) {
  __m512 r[16], t[16], u[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * lds);
  for (int k = 0; k < 8; k++) {
    t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
  }
  for (int k = 0; k < 4; k++) {
    u[4 * k] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
    u[4 * k + 1] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
    u[4 * k + 2] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
    u[4 * k + 3] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
  }
  for (int c = 0; c < 4; c++) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44), v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    _mm512_storeu_ps(dst + c * ldd, _mm512_shuffle_f32x4(v0, v2, 0x88));
    _mm512_storeu_ps(dst + (4 + c) * ldd, _mm512_shuffle_f32x4(v0, v2, 0xDD));
    _mm512_storeu_ps(dst + (8 + c) * ldd, _mm512_shuffle_f32x4(v1, v3, 0x88));
    _mm512_storeu_ps(dst + (12 + c) * ldd, _mm512_shuffle_f32x4(v1, v3, 0xDD));
  }
}

/* e^x for 16 floats: x = n ln2 + r (n = round(x log2 e), ln2 in two parts), e^r by its
   Taylor polynomial of degree 7 (|r| <= ln2/2: truncation < 1e-8 relative), times 2^n by
   vscalefps (exact; underflows to 0, overflows to inf). x is clamped to [-104, 88.8] first,
   as simd_exp256 does (NaN goes through), so e^+inf is inf, not inf - inf in r. */
static inline __attribute__((unused)) __m512 simd_exp512(__m512 x) {
  x = _mm512_min_ps(_mm512_set1_ps(88.8f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.98412698e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.38888889e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.33333333e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.16666667e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.66666667e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}
]],
  -- lane permute (B = 1 flat stream): v[idx[l]] for each lane l; indices are int32
  regs = 32,
  load_index = function(p) return "_mm512_loadu_si512((const void *)(" .. p .. "))" end,
  permute = function(idx, v) return "_mm512_permutexvar_ps(" .. idx .. ", " .. v .. ")" end,
  -- lanes r .. r+15 of the 32 lanes lo, hi (valignd; the B = 1 flat stream's sums)
  alignr = function(hi, lo, r)
    return "_mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(" .. hi .. "), _mm512_castps_si512(" .. lo .. "), " .. r .. "))"
  end,
  -- the flat stream's inputs in registers: lane i of each 128-bit block of v in every lane;
  -- lo in the first `split` lanes, hi in the others; v itself through an operation the
  -- compiler keeps (max(v, v) is v, NaNs included: vmaxps returns its second operand),
  -- so clang does not turn load_rep + splat4 back into one broadcast load per input
  splat4 = function(v, i) return "_mm512_permute_ps(" .. v .. ", " .. (i * 0x55) .. ")" end,
  blend2 = function(lo, hi, split)
    return string.format("_mm512_mask_mov_ps(%s, (__mmask16)0x%X, %s)", lo, 0xFFFF - ((1 << split) - 1), hi)
  end,
  opaque = function(v) return "_mm512_max_ps(" .. v .. ", " .. v .. ")" end,
  -- *lo in the first `split` lanes, *hi in the others (broadcast, then masked broadcast)
  bcast2 = function(lo, hi, split)
    return string.format("_mm512_mask_broadcastss_ps(_mm512_set1_ps(*(%s)), (__mmask16)0x%X, _mm_load_ss(%s))",
                         lo, 0xFFFF - ((1 << split) - 1), hi)
  end,
  -- square block transpose (the input gradient's copy of W): a helper of `transpose_n` rows
  transpose = "simd_tr16x16",
  transpose_n = 16,
  -- softmax: e^v (simd_exp512 below) and "v > m ? v : m" lane by lane (the scalar max)
  exp = function(v) return "simd_exp512(" .. v .. ")" end,
  max_gt = max_gt,
  -- lane flags of compares (max pooling's windows, gen/kernels/convtile.lua): k-masks; the
  -- fields as in gen/isa/avx2.lua
  flags = function(lanes)
    assert(lanes == 16)
    return {
      vtype = "__m512", ftype = "__mmask16",
      gt = function(a, b) return "_mm512_cmp_ps_mask(" .. a .. ", " .. b .. ", _CMP_GT_OQ)" end,
      blend = function(a, b, u) return "_mm512_mask_blend_ps(" .. u .. ", " .. a .. ", " .. b .. ")" end,
      keep = function(u, v) return "_mm512_maskz_mov_ps(" .. u .. ", " .. v .. ")" end,
      drop = function(u, v) return "_mm512_maskz_mov_ps((__mmask16)~(" .. u .. "), " .. v .. ")" end,
      either = function(u, w) return "(__mmask16)(" .. u .. " | " .. w .. ")" end,
      max_gt = max_gt,
    }
  end,
  -- `lanes` floats at p repeated across the vector (one broadcast load)
  load_rep = function(p, lanes)
    if lanes == 8 then
      return "_mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_loadu_pd((const double *)(" .. p .. "))))"
    elseif lanes == 4 then
      return "_mm512_broadcast_f32x4(_mm_loadu_ps(" .. p .. "))"
    end
    return nil
  end,
}
