// AVX2 + FMA form of the vector vocabulary (see vec_generic.h for what each member means): 8 float
// lanes, masks are all-ones/all-zeros float lanes, tails use vmaskmov (masked-off lanes never fault).
// Included only by avx2.cpp, the one file built with -mavx2 -mfma; the anonymous namespace keeps
// these inline functions from being merged by the linker into code that runs on other CPUs.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace kiln::cpu::avx2 {
namespace {

struct Vec {
  using F = __m256;
  using M = __m256;
  using I = __m256i;
  static constexpr int W = 8;
  static constexpr int kGemmMR = 6, kGemmNV = 2;  // GEMM register tile (gemm.inc)
  static constexpr bool kLut32 = false;           // no 32-lane permute: GELU takes its erfc path (gemm.inc)
  static constexpr bool kFusedFma = true;         // fma rounds once (rows.inc lse_pass relies on it)

  static __m256i head(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static F loadu(const float *p) { return _mm256_loadu_ps(p); }
  static void storeu(float *p, F v) { _mm256_storeu_ps(p, v); }
  static F load_n(const float *p, int n) { return _mm256_maskload_ps(p, head(n)); }
  static void store_n(float *p, F v, int n) { _mm256_maskstore_ps(p, head(n), v); }
  static F set1(float x) { return _mm256_set1_ps(x); }
  static F zero() { return _mm256_setzero_ps(); }

  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F sqrt(F a) { return _mm256_sqrt_ps(a); }
  // vmaxps is exactly `a > b ? a : b` (b when unordered), so only a NaN in `a` needs patching.
  static F max(F a, F b) { return _mm256_blendv_ps(_mm256_max_ps(a, b), a, is_nan(a)); }
  static F min(F a, F b) { return _mm256_blendv_ps(_mm256_min_ps(a, b), a, is_nan(a)); }
  // x as the second operand: vmaxps/vminps return it when it is NaN.
  static F clamp(F x, F lo, F hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, x)); }
  static F max_any(F a, F b) { return _mm256_max_ps(a, b); }
  // p 2^n for integral n in [-252, 254], in two exact power-of-two factors.
  static F scalef(F p, F n) {
    __m256i k = _mm256_cvtps_epi32(n), h = _mm256_srai_epi32(k, 1);
    auto pow2 = [](__m256i e) {
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
    };
    return _mm256_mul_ps(_mm256_mul_ps(p, pow2(h)), pow2(_mm256_sub_epi32(k, h)));
  }
  static F exp2_split(F u, F &n) {
    u = clamp(u, _mm256_set1_ps(-151.0f), _mm256_set1_ps(128.0f));
    n = floor(u);
    return _mm256_sub_ps(u, n);
  }
  static void stream(float *p, F v) { _mm256_stream_ps(p, v); }  // p 32-byte aligned
  static F neg(F a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }
  static F abs(F a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static F floor(F a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  static F ceil(F a) { return _mm256_round_ps(a, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC); }
  static F round(F a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F trunc(F a) { return _mm256_round_ps(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC); }

  static F bit_and(F a, F b) { return _mm256_and_ps(a, b); }
  static F bit_or(F a, F b) { return _mm256_or_ps(a, b); }
  static F bit_xor(F a, F b) { return _mm256_xor_ps(a, b); }

  static M lt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M le(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
  static M gt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static M ge(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static M eq(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  static M is_nan(F a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  static M mask_or(M a, M b) { return _mm256_or_ps(a, b); }
  static M mask_and(M a, M b) { return _mm256_and_ps(a, b); }
  static bool all(M a) { return _mm256_movemask_ps(a) == 0xff; }
  static F select(M m, F t, F f) { return _mm256_blendv_ps(f, t, m); }
  static M span(int lo, int hi) {
    const __m256i i = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_castsi256_ps(_mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(hi), i),
                                                _mm256_cmpgt_epi32(i, _mm256_set1_epi32(lo - 1))));
  }
  static F load_m(const float *p, M m) { return _mm256_maskload_ps(p, _mm256_castps_si256(m)); }
  static F load_i64(const int64_t *p) {  // no int64 -> float conversion before AVX-512DQ
    return _mm256_setr_ps((float)p[0], (float)p[1], (float)p[2], (float)p[3], (float)p[4], (float)p[5], (float)p[6],
                          (float)p[7]);
  }
  // Across the 128-bit halves: t = (lo's high half, hi's low half), then a byte align per half.
  template <int K>
  static F align(F lo, F hi) {
    const __m256i t = _mm256_castps_si256(_mm256_permute2f128_ps(lo, hi, 0x21));
    if constexpr (K == 0)
      return lo;
    else if constexpr (K == 4)
      return _mm256_castsi256_ps(t);
    else if constexpr (K < 4)
      return _mm256_castsi256_ps(_mm256_alignr_epi8(t, _mm256_castps_si256(lo), 4 * K));
    else
      return _mm256_castsi256_ps(_mm256_alignr_epi8(_mm256_castps_si256(hi), t, 4 * (K - 4)));
  }
  // Per 128-bit half (a0 a2 b0 b2 | a4 a6 b4 b6), then the 64-bit pairs put in order.
  static void deinterleave(F a, F b, F &e, F &o) {
    const __m256 se = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                 so = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(se), _MM_SHUFFLE(3, 1, 2, 0)));
    o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(so), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  // Per 128-bit half (e0 o0 e1 o1 | e4 o4 e5 o5 and e2 o2 e3 o3 | e6 o6 e7 o7), then the halves.
  static void interleave(F e, F o, F &lo, F &hi) {
    const __m256 t0 = _mm256_unpacklo_ps(e, o), t1 = _mm256_unpackhi_ps(e, o);
    lo = _mm256_permute2f128_ps(t0, t1, 0x20);
    hi = _mm256_permute2f128_ps(t0, t1, 0x31);
  }

  static I as_int(F a) { return _mm256_castps_si256(a); }
  static F as_float(I a) { return _mm256_castsi256_ps(a); }
  static I iset1(int32_t x) { return _mm256_set1_epi32(x); }
  static I iadd(I a, I b) { return _mm256_add_epi32(a, b); }
  static I isub(I a, I b) { return _mm256_sub_epi32(a, b); }
  static I iand(I a, I b) { return _mm256_and_si256(a, b); }
  template <int K>
  static I sra(I a) {
    return _mm256_srai_epi32(a, K);
  }
  template <int K>
  static I sll(I a) {
    return _mm256_slli_epi32(a, K);
  }
  static F i2f(I a) { return _mm256_cvtepi32_ps(a); }
  // r[i][j] <- r[j][i] (GEMM packing).
  static void transpose(F *r) {
    F t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int q = 0; q < 8; q += 4) {
      u[q] = _mm256_shuffle_ps(t[q], t[q + 2], 0x44);
      u[q + 1] = _mm256_shuffle_ps(t[q], t[q + 2], 0xee);
      u[q + 2] = _mm256_shuffle_ps(t[q + 1], t[q + 3], 0x44);
      u[q + 3] = _mm256_shuffle_ps(t[q + 1], t[q + 3], 0xee);
    }
    for (int c = 0; c < 4; c++) {
      r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
      r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
  }
};

// float64 lanes for the double GEMM tile (gemm_f64.inc): 4 lanes; 6 rows by 2 vectors, as float's.
struct VecD {
  using D = __m256d;
  static constexpr int W = 4;
  static constexpr int kGemmMR = 6, kGemmNV = 2;

  static __m256i head(int n) { return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3)); }
  static D loadu(const double *p) { return _mm256_loadu_pd(p); }
  static void storeu(double *p, D v) { _mm256_storeu_pd(p, v); }
  static D load_n(const double *p, int n) { return _mm256_maskload_pd(p, head(n)); }
  static void store_n(double *p, D v, int n) { _mm256_maskstore_pd(p, head(n), v); }
  static D set1(double x) { return _mm256_set1_pd(x); }
  static D zero() { return _mm256_setzero_pd(); }
  static D add(D a, D b) { return _mm256_add_pd(a, b); }
  static D mul(D a, D b) { return _mm256_mul_pd(a, b); }
  static D fma(D a, D b, D c) { return _mm256_fmadd_pd(a, b, c); }
  // exp_f64 (math_f64.inc): x - y, round half to even, clamp (NaN in x passes), p 2^n for integral n
  static D sub(D a, D b) { return _mm256_sub_pd(a, b); }
  static D round(D a) { return _mm256_round_pd(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static D clamp(D x, D lo, D hi) { return _mm256_min_pd(hi, _mm256_max_pd(lo, x)); }
  // |n| <= 1100: 2^n as two factors 2^h 2^(n-h) (each within the normal exponents), built in the exponent bits:
  // n + 1.5 2^52 + 1023 holds n + 1023 in its low mantissa bits, which the shift moves into the exponent.
  static D pow2(D n) {
    const D magic = _mm256_set1_pd(6755399441055744.0 + 1023.0);
    return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_castpd_si256(_mm256_add_pd(n, magic)), 52));
  }
  static D scale(D p, D n) {
    const D h = _mm256_round_pd(_mm256_mul_pd(n, _mm256_set1_pd(0.5)), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    return _mm256_mul_pd(_mm256_mul_pd(p, pow2(h)), pow2(_mm256_sub_pd(n, h)));
  }
};

}  // namespace
}  // namespace kiln::cpu::avx2
