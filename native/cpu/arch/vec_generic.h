// The vector vocabulary that kernels.inc is written against, in its plain-C++ form: one lane, no
// intrinsics. It is the generic twin of vec_avx2.h / vec_avx512.h / vec_neon.h and the reference for
// what every member means, so the other headers only document where their ISA needs a trick.
//
//   F, M, I          float vector, lane mask, int32 vector; W lanes
//   loadu/storeu     unaligned full vectors; load_n/store_n touch only lanes [0, n), n < W, and
//                    load zeros into the rest (tails never read or write past the end)
//   max/min          scalar_math.h semantics: NaN if either is NaN (a's NaN first), else a > b ? a : b
//   clamp(x, lo, hi) NaN in x passes through (the exp-style kernels rely on it)
//   round            half to even (nearbyint in the default rounding mode)
//   fma(a, b, c)     a * b + c, fused where the ISA has it (never used where bits must match scalar);
//                    kFusedFma says which
//   sra/sll<K>       arithmetic / logical shifts of int32 lanes; as_int/as_float reinterpret bits
//   max_any(a, b)    a > b ? a : b where either operand may win when one is NaN (reductions whose
//                    NaN reappears later); max_any(lo, x) keeps a NaN x
//   scalef(p, n)     p * 2^n, n integral: any n on AVX-512, [-252, 254] elsewhere
//   exp2_split(u, n) r = u - floor(u) in [0, 1), and n such that scalef(p, n) = p 2^floor(u) (u
//                    clamped to [-151, 128] first, so -inf gives 0, +inf inf, NaN passes); AVX-512:
//                    vreduceps and n = u itself (vscalefps floors its exponent), one operation
//   span(lo, hi)     the mask of lanes i with lo <= i < hi (any ints); load_m(p, m) loads lane i from
//                    p[i] where m holds it, zero elsewhere, never touching the other lanes' memory
//   load_i64(p)      the W int64 at p as floats: exact below 2^24, and never out of order above
//   align<K>(lo, hi) lanes K .. K + W - 1 of lo's lanes followed by hi's (0 <= K < W)
//   deinterleave(a, b, e, o)  of the 2W floats a then b, the even-indexed ones into e and the
//                    odd-indexed ones into o, in order (a stride-2 window's column phases)
//   interleave(e, o, lo, hi)  its inverse: e0 o0 e1 o1 .. into lo (the first W) and hi
//   stream(p, v)     a store that bypasses the caches where the ISA has one, p aligned to a full
//                    vector; the driver fences after its task (strided_loop.h stream_fence)
//
// Included only by generic.cpp. The anonymous namespace keeps each ISA's inline functions out of
// the linker's reach so it can never merge them with another ISA's copy compiled with other flags.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace kiln::cpu::generic {
namespace {

struct Vec {
  using F = float;
  using M = bool;
  using I = int32_t;
  static constexpr int W = 1;
  static constexpr int kGemmMR = 4, kGemmNV = 4;  // GEMM register tile (gemm.inc)
  static constexpr bool kLut32 = false;           // no 32-lane permute: GELU takes its erfc path (gemm.inc)
  static constexpr bool kFusedFma = false;        // fma rounds a * b first (lse_pass)

  static F loadu(const float *p) { return *p; }
  static void storeu(float *p, F v) { *p = v; }
  static F load_n(const float *p, int n) { return n > 0 ? *p : 0.0f; }
  static void store_n(float *p, F v, int n) {
    if (n > 0) *p = v;
  }
  static F set1(float x) { return x; }
  static F zero() { return 0.0f; }

  static F add(F a, F b) { return a + b; }
  static F sub(F a, F b) { return a - b; }
  static F mul(F a, F b) { return a * b; }
  static F div(F a, F b) { return a / b; }
  static F fma(F a, F b, F c) { return a * b + c; }  // std::fma is a libm call without hardware FMA
  static F sqrt(F a) { return std::sqrt(a); }
  static F max(F a, F b) {
    if (a != a || b != b) return a != a ? a : b;
    return a > b ? a : b;
  }
  static F min(F a, F b) {
    if (a != a || b != b) return a != a ? a : b;
    return a < b ? a : b;
  }
  static F clamp(F x, F lo, F hi) { return x < lo ? lo : (x > hi ? hi : x); }
  static F max_any(F a, F b) { return a > b ? a : b; }
  static F scalef(F p, F n) { return std::ldexp(p, (int)n); }
  static F exp2_split(F u, F &n) {
    u = clamp(u, -151.0f, 128.0f);
    n = floor(u);
    return u - n;
  }
  static void stream(float *p, F v) { *p = v; }
  static F neg(F a) { return bit_xor(a, -0.0f); }
  static F abs(F a) { return bit_and(a, as_float(0x7fffffff)); }
  static F floor(F a) { return std::floor(a); }
  static F ceil(F a) { return std::ceil(a); }
  static F round(F a) { return std::nearbyint(a); }
  static F trunc(F a) { return std::trunc(a); }

  static F bit_and(F a, F b) { return as_float(as_int(a) & as_int(b)); }
  static F bit_or(F a, F b) { return as_float(as_int(a) | as_int(b)); }
  static F bit_xor(F a, F b) { return as_float(as_int(a) ^ as_int(b)); }

  static M lt(F a, F b) { return a < b; }
  static M le(F a, F b) { return a <= b; }
  static M gt(F a, F b) { return a > b; }
  static M ge(F a, F b) { return a >= b; }
  static M eq(F a, F b) { return a == b; }
  static M is_nan(F a) { return a != a; }
  static M mask_or(M a, M b) { return a || b; }
  static M mask_and(M a, M b) { return a && b; }
  static bool all(M a) { return a; }
  static F select(M m, F t, F f) { return m ? t : f; }
  static M span(int lo, int hi) { return lo <= 0 && 0 < hi; }
  static F load_m(const float *p, M m) { return m ? *p : 0.0f; }
  static F load_i64(const int64_t *p) { return (float)*p; }
  template <int K>
  static F align(F lo, F hi) {
    return K == 0 ? lo : hi;
  }
  static void deinterleave(F a, F b, F &e, F &o) { e = a, o = b; }
  static void interleave(F e, F o, F &lo, F &hi) { lo = e, hi = o; }

  static I as_int(F a) {
    I r;
    std::memcpy(&r, &a, 4);
    return r;
  }
  static F as_float(I a) {
    F r;
    std::memcpy(&r, &a, 4);
    return r;
  }
  static I iset1(int32_t x) { return x; }
  // Through uint32_t: NaN lanes carry garbage exponents through exp/log, and signed overflow is UB.
  static I iadd(I a, I b) { return (I)((uint32_t)a + (uint32_t)b); }
  static I isub(I a, I b) { return (I)((uint32_t)a - (uint32_t)b); }
  static I iand(I a, I b) { return a & b; }
  template <int K>
  static I sra(I a) {
    return a >> K;
  }
  template <int K>
  static I sll(I a) {
    return (I)((uint32_t)a << K);
  }
  static F i2f(I a) { return (F)a; }
  static void transpose(F *) {}  // one lane: nothing to move
};

// float64 lanes for the double GEMM tile (gemm_f64.inc), in plain C++: one lane, 4 rows by 4 columns.
struct VecD {
  using D = double;
  static constexpr int W = 1;
  static constexpr int kGemmMR = 4, kGemmNV = 4;

  static D loadu(const double *p) { return *p; }
  static void storeu(double *p, D v) { *p = v; }
  static D load_n(const double *p, int n) { return n > 0 ? *p : 0.0; }
  static void store_n(double *p, D v, int n) {
    if (n > 0) *p = v;
  }
  static D set1(double x) { return x; }
  static D zero() { return 0.0; }
  static D add(D a, D b) { return a + b; }
  static D mul(D a, D b) { return a * b; }
  static D fma(D a, D b, D c) { return a * b + c; }
  // exp_f64 (math_f64.inc): x - y, round half to even, clamp (NaN in x passes), p 2^n for integral n
  static D sub(D a, D b) { return a - b; }
  static D round(D a) { return std::nearbyint(a); }
  static D clamp(D x, D lo, D hi) { return x < lo ? lo : (x > hi ? hi : x); }
  static D scale(D p, D n) { return n != n ? n : std::ldexp(p, (int)n); }
};

}  // namespace
}  // namespace kiln::cpu::generic
