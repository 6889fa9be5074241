// AArch64 NEON form of the vector vocabulary (see vec_generic.h for what each member means): 4 float
// lanes, masks are all-ones/all-zeros uint32 lanes. NEON has no masked load, so tails go through a
// small stack buffer. Included only by neon.cpp; the anonymous namespace keeps these inline functions
// private to it.
#pragma once
#include <arm_neon.h>

#include <cstdint>

namespace kiln::cpu::neon {
namespace {

struct Vec {
  using F = float32x4_t;
  using M = uint32x4_t;
  using I = int32x4_t;
  static constexpr int W = 4;
  static constexpr int kGemmMR = 8, kGemmNV = 3;  // GEMM register tile (gemm.inc)
  static constexpr bool kLut32 = false;           // no 32-lane permute: GELU takes its erfc path (gemm.inc)
  static constexpr bool kFusedFma = true;         // fma rounds once (rows.inc lse_pass relies on it)

  static F loadu(const float *p) { return vld1q_f32(p); }
  static void storeu(float *p, F v) { vst1q_f32(p, v); }
  static F load_n(const float *p, int n) {
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < n; i++) t[i] = p[i];
    return vld1q_f32(t);
  }
  static void store_n(float *p, F v, int n) {
    float t[4];
    vst1q_f32(t, v);
    for (int i = 0; i < n; i++) p[i] = t[i];
  }
  static F set1(float x) { return vdupq_n_f32(x); }
  static F zero() { return vdupq_n_f32(0.0f); }

  static F add(F a, F b) { return vaddq_f32(a, b); }
  static F sub(F a, F b) { return vsubq_f32(a, b); }
  static F mul(F a, F b) { return vmulq_f32(a, b); }
  static F div(F a, F b) { return vdivq_f32(a, b); }
  static F fma(F a, F b, F c) { return vfmaq_f32(c, a, b); }
  static F sqrt(F a) { return vsqrtq_f32(a); }
  // Not vmaxq/vminq: FMAX orders -0 below +0 and picks its own NaN, and the scalar rule is
  // `a > b ? a : b` with a's NaN first.
  static F max(F a, F b) { return vbslq_f32(is_nan(a), a, vbslq_f32(vcgtq_f32(a, b), a, b)); }
  static F min(F a, F b) { return vbslq_f32(is_nan(a), a, vbslq_f32(vcltq_f32(a, b), a, b)); }
  static F clamp(F x, F lo, F hi) { return vminq_f32(vmaxq_f32(x, lo), hi); }  // FMAX/FMIN keep NaN
  static F max_any(F a, F b) { return vmaxq_f32(a, b); }                       // NaN if either is NaN
  // p 2^n for integral n in [-252, 254], in two exact power-of-two factors.
  static F scalef(F p, F n) {
    int32x4_t k = vcvtnq_s32_f32(n), h = vshrq_n_s32(k, 1);
    auto pow2 = [](int32x4_t e) { return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(e, vdupq_n_s32(127)), 23)); };
    return vmulq_f32(vmulq_f32(p, pow2(h)), pow2(vsubq_s32(k, h)));
  }
  static F exp2_split(F u, F &n) {
    u = clamp(u, vdupq_n_f32(-151.0f), vdupq_n_f32(128.0f));
    n = vrndmq_f32(u);
    return vsubq_f32(u, n);
  }
  static void stream(float *p, F v) { vst1q_f32(p, v); }
  static F neg(F a) { return vnegq_f32(a); }
  static F abs(F a) { return vabsq_f32(a); }
  static F floor(F a) { return vrndmq_f32(a); }
  static F ceil(F a) { return vrndpq_f32(a); }
  static F round(F a) { return vrndnq_f32(a); }
  static F trunc(F a) { return vrndq_f32(a); }

  static F bit_and(F a, F b) {
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(b)));
  }
  static F bit_or(F a, F b) {
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(b)));
  }
  static F bit_xor(F a, F b) {
    return vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(b)));
  }

  static M lt(F a, F b) { return vcltq_f32(a, b); }
  static M le(F a, F b) { return vcleq_f32(a, b); }
  static M gt(F a, F b) { return vcgtq_f32(a, b); }
  static M ge(F a, F b) { return vcgeq_f32(a, b); }
  static M eq(F a, F b) { return vceqq_f32(a, b); }
  static M is_nan(F a) { return vmvnq_u32(vceqq_f32(a, a)); }
  static M mask_or(M a, M b) { return vorrq_u32(a, b); }
  static M mask_and(M a, M b) { return vandq_u32(a, b); }
  static bool all(M a) { return vminvq_u32(a) != 0; }
  static M span(int lo, int hi) {
    const uint32_t m[4] = {lo <= 0 && 0 < hi ? ~0u : 0u, lo <= 1 && 1 < hi ? ~0u : 0u, lo <= 2 && 2 < hi ? ~0u : 0u,
                           lo <= 3 && 3 < hi ? ~0u : 0u};
    return vld1q_u32(m);
  }
  template <int K>
  static F align(F lo, F hi) {
    if constexpr (K == 0)
      return lo;
    else
      return vextq_f32(lo, hi, K);
  }
  static void deinterleave(F a, F b, F &e, F &o) { e = vuzp1q_f32(a, b), o = vuzp2q_f32(a, b); }
  static void interleave(F e, F o, F &lo, F &hi) { lo = vzip1q_f32(e, o), hi = vzip2q_f32(e, o); }
  static F load_m(const float *p, M m) {
    if (vminvq_u32(m) != 0) return vld1q_f32(p);
    uint32_t b[4];
    vst1q_u32(b, m);
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < 4; i++)
      if (b[i]) t[i] = p[i];
    return vld1q_f32(t);
  }
  static F load_i64(const int64_t *p) {  // by way of double
    return vcombine_f32(vcvt_f32_f64(vcvtq_f64_s64(vld1q_s64(p))), vcvt_f32_f64(vcvtq_f64_s64(vld1q_s64(p + 2))));
  }

  static F select(M m, F t, F f) { return vbslq_f32(m, t, f); }

  static I as_int(F a) { return vreinterpretq_s32_f32(a); }
  static F as_float(I a) { return vreinterpretq_f32_s32(a); }
  static I iset1(int32_t x) { return vdupq_n_s32(x); }
  static I iadd(I a, I b) { return vaddq_s32(a, b); }
  static I isub(I a, I b) { return vsubq_s32(a, b); }
  static I iand(I a, I b) { return vandq_s32(a, b); }
  template <int K>
  static I sra(I a) {
    return vshrq_n_s32(a, K);
  }
  template <int K>
  static I sll(I a) {
    return vshlq_n_s32(a, K);
  }
  static F i2f(I a) { return vcvtq_f32_s32(a); }
  // r[i][j] <- r[j][i] (GEMM packing).
  static void transpose(F *r) {
    float32x4x2_t a = vtrnq_f32(r[0], r[1]), b = vtrnq_f32(r[2], r[3]);
    r[0] = vcombine_f32(vget_low_f32(a.val[0]), vget_low_f32(b.val[0]));
    r[1] = vcombine_f32(vget_low_f32(a.val[1]), vget_low_f32(b.val[1]));
    r[2] = vcombine_f32(vget_high_f32(a.val[0]), vget_high_f32(b.val[0]));
    r[3] = vcombine_f32(vget_high_f32(a.val[1]), vget_high_f32(b.val[1]));
  }
};

// float64 lanes for the double GEMM tile (gemm_f64.inc): 2 lanes; 8 rows by 3 vectors (24 of the 32
// registers accumulate).
struct VecD {
  using D = float64x2_t;
  static constexpr int W = 2;
  static constexpr int kGemmMR = 8, kGemmNV = 3;

  static D loadu(const double *p) { return vld1q_f64(p); }
  static void storeu(double *p, D v) { vst1q_f64(p, v); }
  static D load_n(const double *p, int n) {
    return n > 0 ? vsetq_lane_f64(p[0], vdupq_n_f64(0.0), 0) : vdupq_n_f64(0.0);
  }
  static void store_n(double *p, D v, int n) {
    if (n > 0) p[0] = vgetq_lane_f64(v, 0);
  }
  static D set1(double x) { return vdupq_n_f64(x); }
  static D zero() { return vdupq_n_f64(0.0); }
  static D add(D a, D b) { return vaddq_f64(a, b); }
  static D mul(D a, D b) { return vmulq_f64(a, b); }
  static D fma(D a, D b, D c) { return vfmaq_f64(c, a, b); }
  // exp_f64 (math_f64.inc): x - y, round half to even, clamp (NaN in x passes), p 2^n for integral n
  static D sub(D a, D b) { return vsubq_f64(a, b); }
  static D round(D a) { return vrndnq_f64(a); }
  static D clamp(D x, D lo, D hi) { return vminq_f64(hi, vmaxq_f64(lo, x)); }
  // |n| <= 1100: 2^n as two factors 2^h 2^(n-h), each built in the exponent bits.
  static D pow2(D n) { return vreinterpretq_f64_s64(vshlq_n_s64(vaddq_s64(vcvtq_s64_f64(n), vdupq_n_s64(1023)), 52)); }
  static D scale(D p, D n) {
    const D h = vrndq_f64(vmulq_f64(n, vdupq_n_f64(0.5)));
    return vmulq_f64(vmulq_f64(p, pow2(h)), pow2(vsubq_f64(n, h)));
  }
};

}  // namespace
}  // namespace kiln::cpu::neon
