// AVX-512 (F/DQ/BW/VL) form of the vector vocabulary (see vec_generic.h for what each member means):
// 16 float lanes, k-register masks, so tails are single masked loads/stores that never fault.
// Included only by avx512.cpp, the one file built with -mavx512*; the anonymous namespace keeps
// these inline functions from being merged by the linker into code that runs on other CPUs.
#pragma once
// GCC 12's AVX-512 headers seed the unmasked intrinsics with `__m512 __Y = __Y;`, which
// -Wuninitialized then reports at every inlined call (GCC bug 105593, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif

#include <cstdint>

namespace kiln::cpu::avx512 {
namespace {

struct Vec {
  using F = __m512;
  using M = __mmask16;
  using I = __m512i;
  static constexpr int W = 16;
  static constexpr int kGemmMR = 14, kGemmNV = 2;  // GEMM register tile (gemm.inc)
  static constexpr bool kLut32 = true;             // lut32 below (GELU's table path, gemm.inc)
  static constexpr bool kFusedFma = true;          // fma rounds once (rows.inc lse_pass relies on it)

  static M head(int n) { return (M)((1u << n) - 1); }
  static F loadu(const float *p) { return _mm512_loadu_ps(p); }
  static void storeu(float *p, F v) { _mm512_storeu_ps(p, v); }
  static F load_n(const float *p, int n) { return _mm512_maskz_loadu_ps(head(n), p); }
  static void store_n(float *p, F v, int n) { _mm512_mask_storeu_ps(p, head(n), v); }
  static F set1(float x) { return _mm512_set1_ps(x); }
  static F zero() { return _mm512_setzero_ps(); }

  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F sqrt(F a) { return _mm512_sqrt_ps(a); }
  // vmaxps is exactly `a > b ? a : b` (b when unordered), so only a NaN in `a` needs patching.
  static F max(F a, F b) { return _mm512_mask_blend_ps(is_nan(a), _mm512_max_ps(a, b), a); }
  static F min(F a, F b) { return _mm512_mask_blend_ps(is_nan(a), _mm512_min_ps(a, b), a); }
  // x as the second operand: vmaxps/vminps return it when it is NaN.
  static F clamp(F x, F lo, F hi) { return _mm512_min_ps(hi, _mm512_max_ps(lo, x)); }
  // vmaxps as is: b when unordered (reductions whose NaN shows up again later; max_any(lo, x) keeps x's NaN).
  static F max_any(F a, F b) { return _mm512_max_ps(a, b); }
  static F scalef(F p, F n) { return _mm512_scalef_ps(p, n); }  // p 2^floor(n), rounded once
  // vreduceps: u - floor(u), 0 for +-inf (so e^-inf = 0 and e^inf = inf through scalef's floor).
  static F exp2_split(F u, F &n) {
    n = u;
    return _mm512_reduce_ps(u, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  }
  // Non-temporal store of a full vector at a 64-byte-aligned p (the driver fences: strided_loop.h).
  static void stream(float *p, F v) { _mm512_stream_ps(p, v); }
  static F neg(F a) { return _mm512_xor_ps(a, _mm512_set1_ps(-0.0f)); }
  static F abs(F a) { return _mm512_abs_ps(a); }
  static F floor(F a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  static F ceil(F a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC); }
  static F round(F a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F trunc(F a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC); }

  static F bit_and(F a, F b) { return _mm512_and_ps(a, b); }
  static F bit_or(F a, F b) { return _mm512_or_ps(a, b); }
  static F bit_xor(F a, F b) { return _mm512_xor_ps(a, b); }

  static M lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M le(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static M gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static M ge(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static M eq(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static M is_nan(F a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static M not_lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_NLT_UQ); }  // !(a < b): true when unordered
  static M mask_or(M a, M b) { return (M)(a | b); }
  static M mask_and(M a, M b) { return (M)(a & b); }
  static bool all(M a) { return a == (M)0xffff; }
  static F select(M m, F t, F f) { return _mm512_mask_blend_ps(m, f, t); }
  static M span(int lo, int hi) {
    lo = lo < 0 ? 0 : lo > W ? W : lo, hi = hi < lo ? lo : hi > W ? W : hi;
    return (M)(head(hi) & ~head(lo));
  }
  static F load_m(const float *p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  static F load_i64(const int64_t *p) {  // two vcvtqq2ps (AVX-512DQ)
    const __m256 lo = _mm512_cvtepi64_ps(_mm512_loadu_si512(p)), hi = _mm512_cvtepi64_ps(_mm512_loadu_si512(p + 8));
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
  }
  template <int K>
  static F align(F lo, F hi) {
    return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), K));
  }
  static void deinterleave(F a, F b, F &e, F &o) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    e = _mm512_permutex2var_ps(a, ie, b);
    o = _mm512_permutex2var_ps(a, _mm512_add_epi32(ie, _mm512_set1_epi32(1)), b);
  }
  static void interleave(F e, F o, F &lo, F &hi) {
    const __m512i il = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    lo = _mm512_permutex2var_ps(e, il, o);
    hi = _mm512_permutex2var_ps(e, _mm512_add_epi32(il, _mm512_set1_epi32(8)), o);
  }

  static I as_int(F a) { return _mm512_castps_si512(a); }
  static F as_float(I a) { return _mm512_castsi512_ps(a); }
  static I iset1(int32_t x) { return _mm512_set1_epi32(x); }
  static I iadd(I a, I b) { return _mm512_add_epi32(a, b); }
  static I isub(I a, I b) { return _mm512_sub_epi32(a, b); }
  static I iand(I a, I b) { return _mm512_and_si512(a, b); }
  template <int K>
  static I sra(I a) {
    return _mm512_srai_epi32(a, K);
  }
  template <int K>
  static I sll(I a) {
    return _mm512_slli_epi32(a, K);
  }
  static F i2f(I a) { return _mm512_cvtepi32_ps(a); }
  static I cvtt(F a) { return _mm512_cvttps_epi32(a); }  // toward zero
  // Lane i: lane idx[i] % 32 of the 32 lanes lo (0..15), hi (16..31); one vpermt2ps.
  static F lut32(I idx, F lo, F hi) { return _mm512_permutex2var_ps(lo, idx, hi); }
  // r[i][j] <- r[j][i] (GEMM packing): 32-bit unpacks, 64-bit shuffles, then two rounds of
  // 128-bit lane shuffles.
  static void transpose(F *r) {
    F t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int q = 0; q < 16; q += 4) {  // u[q + c]: column 4l + c of rows q..q+3, in lane l
      u[q] = _mm512_shuffle_ps(t[q], t[q + 2], 0x44);
      u[q + 1] = _mm512_shuffle_ps(t[q], t[q + 2], 0xee);
      u[q + 2] = _mm512_shuffle_ps(t[q + 1], t[q + 3], 0x44);
      u[q + 3] = _mm512_shuffle_ps(t[q + 1], t[q + 3], 0xee);
    }
    for (int c = 0; c < 4; c++) {
      F v = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), w = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
      F v2 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd), w2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
      r[c] = _mm512_shuffle_f32x4(v, w, 0x88);
      r[8 + c] = _mm512_shuffle_f32x4(v, w, 0xdd);
      r[4 + c] = _mm512_shuffle_f32x4(v2, w2, 0x88);
      r[12 + c] = _mm512_shuffle_f32x4(v2, w2, 0xdd);
    }
  }
};

// float64 lanes for the double GEMM tile (gemm_f64.inc): 8 lanes, k-mask tails; the tile is 14 rows by 2
// vectors, as float's.
struct VecD {
  using D = __m512d;
  static constexpr int W = 8;
  static constexpr int kGemmMR = 14, kGemmNV = 2;

  static __mmask8 head(int n) { return (__mmask8)((1u << n) - 1); }
  static D loadu(const double *p) { return _mm512_loadu_pd(p); }
  static void storeu(double *p, D v) { _mm512_storeu_pd(p, v); }
  static D load_n(const double *p, int n) { return _mm512_maskz_loadu_pd(head(n), p); }
  static void store_n(double *p, D v, int n) { _mm512_mask_storeu_pd(p, head(n), v); }
  static D set1(double x) { return _mm512_set1_pd(x); }
  static D zero() { return _mm512_setzero_pd(); }
  static D add(D a, D b) { return _mm512_add_pd(a, b); }
  static D mul(D a, D b) { return _mm512_mul_pd(a, b); }
  static D fma(D a, D b, D c) { return _mm512_fmadd_pd(a, b, c); }
  // exp_f64 (math_f64.inc): x - y, round half to even, clamp (NaN in x passes), p 2^n for integral n
  static D sub(D a, D b) { return _mm512_sub_pd(a, b); }
  static D round(D a) { return _mm512_roundscale_pd(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static D clamp(D x, D lo, D hi) { return _mm512_min_pd(hi, _mm512_max_pd(lo, x)); }
  static D scale(D p, D n) { return _mm512_scalef_pd(p, n); }
};

}  // namespace
}  // namespace kiln::cpu::avx512
