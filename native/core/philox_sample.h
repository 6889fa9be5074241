// The values of kiln's random fills, shared by native/cpu/random.cpp and
// native/cuda/kernels/random.cu so the same (seed, offset) gives the same numbers on both.
// Element e (row-major in the output) reads counter block offset + e / 4 (32-bit outputs: one
// word each; normals by Box-Muller over the word pairs (0, 1) and (2, 3), cos for the even
// element, sin for the odd) or offset + e / 2 (float64: two words each, 53-bit uniforms; normals
// from all four words). The math is in double with every add and multiply rounded on its own:
// the CPU build never contracts (-ffp-contract=off) and the device form says so with __dadd_rn /
// __dmul_rn. log, sin and cos are each side's libm (glibc, CUDA: 1-2 ulp in double), so float64
// normals can differ in the last bits; rounded to float32 or narrower they agree except in rare
// ties.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "dtype.h"
#include "philox.h"

namespace kiln {

#if defined(__CUDA_ARCH__)
#define KILN_DADD(a, b) __dadd_rn(a, b)
#define KILN_DMUL(a, b) __dmul_rn(a, b)
#else
#define KILN_DADD(a, b) ((a) + (b))
#define KILN_DMUL(a, b) ((a) * (b))
#endif

// The counter block element e reads: 4 elements per block for 32-bit outputs, 2 for float64.
template <bool Wide>
KILN_HD uint64_t philox_block(uint64_t offset, int64_t e) {
  return offset + (uint64_t)e / (Wide ? 2 : 4);
}

// Element e's value from its block's words r: normal (p0 mean, p1 std) or uniform in
// [p0, p0 + span) before rounding to the output type.
template <bool Normal, bool Wide>
KILN_HD double philox_sample(const Philox4 &r, int64_t e, double p0, double p1, double span) {
  constexpr double kTwoPi = 6.283185307179586;
  double u1, u2;
  bool odd;
  if (Wide) {
    if (!Normal) {
      const int l = (int)(e & 1) * 2;
      return KILN_DADD(p0, KILN_DMUL(span, u64_to_unit(r.v[l], r.v[l + 1])));
    }
    u1 = KILN_DADD(1.0, -u64_to_unit(r.v[0], r.v[1]));
    u2 = u64_to_unit(r.v[2], r.v[3]);
    odd = e & 1;
  } else {
    const int lane = (int)(e & 3);
    if (!Normal) return KILN_DADD(p0, KILN_DMUL(span, (double)u32_to_unit(r.v[lane])));
    const int pair = lane & 2;
    u1 = u32_to_open_unit(r.v[pair]);
    u2 = (double)u32_to_unit(r.v[pair + 1]);
    odd = lane & 1;
  }
  const double rad = sqrt(KILN_DMUL(-2.0, log(u1))), a = KILN_DMUL(kTwoPi, u2);
  return KILN_DADD(p0, KILN_DMUL(KILN_DMUL(p1, rad), odd ? sin(a) : cos(a)));
}

#undef KILN_DADD
#undef KILN_DMUL

// The largest value of T below hi (and not below lo): where a uniform draw that rounded up to hi
// in T goes, so [lo, hi) stays half-open in every dtype (host: computed once per fill).
template <class T>
inline T philox_uniform_top(double lo, double hi) {
  T x = store<T>(hi);
  for (int guard = 0; guard < 4 && (double)load(x) >= hi; guard++) {
    if constexpr (std::is_floating_point_v<T>) {
      x = std::nextafter(x, -std::numeric_limits<T>::infinity());
    } else {  // half_t / bfloat16_t: step the bit pattern one unit down
      uint16_t b = x.bits;
      if ((b & 0x7fff) == 0)
        b = 0x8001;
      else
        b = (b & 0x8000) ? (uint16_t)(b + 1) : (uint16_t)(b - 1);
      x.bits = b;
    }
  }
  return (double)load(x) < lo ? store<T>(lo) : x;
}

}  // namespace kiln
