// Uniform and normal sampling from Philox 4x32-10 (core/philox.h). Element e (in row-major
// order of the output) uses counter block offset + e / 4 for 32-bit outputs (one word each;
// normals by Box-Muller over word pairs) and offset + e / 2 for float64 (two words each), so the
// numbers depend only on (seed, offset, e). The TS generator advances offset by numel per call.
#include <cmath>
#include <limits>
#include <type_traits>

#include "../core/philox.h"
#include "cpu_ops.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

constexpr double kTwoPi = 6.283185307179586;

// Value of element e; `Normal` picks Box-Muller, otherwise uniform in [lo, hi).
template <bool Normal, bool Wide>
double sample(uint64_t seed, uint64_t offset, int64_t e, double p0, double p1) {
  if (Wide) {  // float64: block e/2, lane pair
    Philox4 r = philox4x32_10(offset + (uint64_t)e / 2, seed);
    if (!Normal) {
      int l = (int)(e & 1) * 2;
      return p0 + (p1 - p0) * u64_to_unit(r.v[l], r.v[l + 1]);
    }
    double u1 = 1.0 - u64_to_unit(r.v[0], r.v[1]), u2 = u64_to_unit(r.v[2], r.v[3]);
    double rad = std::sqrt(-2.0 * std::log(u1));
    return p0 + p1 * rad * ((e & 1) ? std::sin(kTwoPi * u2) : std::cos(kTwoPi * u2));
  }
  Philox4 r = philox4x32_10(offset + (uint64_t)e / 4, seed);
  int lane = (int)(e & 3);
  if (!Normal) return p0 + (p1 - p0) * (double)u32_to_unit(r.v[lane]);
  int pair = lane & 2;
  double u1 = u32_to_open_unit(r.v[pair]), u2 = (double)u32_to_unit(r.v[pair + 1]);
  double rad = std::sqrt(-2.0 * std::log(u1));
  return p0 + p1 * rad * ((lane & 1) ? std::sin(kTwoPi * u2) : std::cos(kTwoPi * u2));
}

// The largest value of T below hi (and not below lo): where a uniform draw that rounded up to
// hi in T goes, so [lo, hi) stays half-open in every dtype.
template <class T>
T below(double lo, double hi) {
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

template <bool Normal>
kiln_status fill_random(kiln_context *ctx, const kiln_tensor &out, uint64_t seed, uint64_t offset, double p0,
                        double p1) {
  const kiln_tensor *ops[1] = {&out};
  auto p = make_plan<1>(ops);
  // Collapsing only merges and drops size-1 dims, so the walk's flat index is the row-major index.
  KILN_DISPATCH_FLOAT(out.dtype, return fail(ctx, KILN_ERR_DTYPE, "random fill needs a floating dtype"), {
    constexpr bool wide = std::is_same_v<scalar_t, double>;
    const scalar_t top = below<scalar_t>(p0, p1);
    parallel_for(ctx->pool.get(), p.numel, 1 << 14, [&](int64_t b, int64_t e) {
      int64_t idx = b;
      walk(p, b, e, [&](char *const *ptr, const int64_t *st, int64_t n) {
        scalar_t *o = (scalar_t *)ptr[0];
        for (int64_t i = 0; i < n; i++, idx++) {
          scalar_t v = store<scalar_t>(sample<Normal, wide>(seed, offset, idx, p0, p1));
          if (!Normal && (double)load(v) >= p1) v = top;
          o[i * st[0]] = v;
        }
      });
    });
  });
  return KILN_OK;
}

}  // namespace

kiln_status uniform_cpu(kiln_context *ctx, const kiln_tensor &out, uint64_t seed, uint64_t offset, double lo,
                        double hi) {
  return fill_random<false>(ctx, out, seed, offset, lo, hi);
}
kiln_status normal_cpu(kiln_context *ctx, const kiln_tensor &out, uint64_t seed, uint64_t offset, double mean,
                       double std) {
  return fill_random<true>(ctx, out, seed, offset, mean, std);
}

}  // namespace kiln::cpu
