// CUDA uniform and normal fills from Philox 4x32-10 (core/philox.h), the same numbers as
// native/cpu/random.cpp for the same (seed, offset): element e (row-major in the output) uses
// counter offset + e / 4 (32-bit outputs: one word each, normals by Box-Muller over word pairs) or
// offset + e / 2 (float64: two words each). One thread per counter block computes its 4 (or 2)
// elements. The math is the CPU's, in double, with every add and multiply rounded separately
// (__dadd_rn / __dmul_rn: nvcc would otherwise fuse them into FMAs the CPU does not use). log,
// sin and cos come from CUDA's libm (1-2 ulp in double), so float64 normals can differ from the
// CPU's glibc results in the last bits; rounded to float32 or narrower they agree except in
// rare ties (see elementwise_test.cu).
#include <cmath>
#include <limits>

#include "../../core/philox.h"
#include "elementwise.h"
#include "ew_common.cuh"

namespace kiln::cuda {

namespace {

constexpr double kTwoPi = 6.283185307179586;
constexpr int kRandThreads = 256;

template <class T, bool Normal>
struct RandArgs {
  Geom<1> g;  // byte strides
  bool contig;
  uint64_t seed, offset;
  double p0, p1, span;  // span = p1 - p0 (uniform)
  T top;                // where a uniform draw that rounded up to p1 goes
};

template <bool Normal, bool Wide>
__device__ __forceinline__ double sample(const Philox4 &r, int64_t e, double p0, double p1, double span) {
  if (Wide) {
    if (!Normal) {
      const int l = (int)(e & 1) * 2;
      return __dadd_rn(p0, __dmul_rn(span, u64_to_unit(r.v[l], r.v[l + 1])));
    }
    const double u1 = __dsub_rn(1.0, u64_to_unit(r.v[0], r.v[1])), u2 = u64_to_unit(r.v[2], r.v[3]);
    const double rad = sqrt(__dmul_rn(-2.0, log(u1)));
    const double a = __dmul_rn(kTwoPi, u2);
    return __dadd_rn(p0, __dmul_rn(__dmul_rn(p1, rad), (e & 1) ? sin(a) : cos(a)));
  }
  const int lane = (int)(e & 3);
  if (!Normal) return __dadd_rn(p0, __dmul_rn(span, (double)u32_to_unit(r.v[lane])));
  const int pair = lane & 2;
  const double u1 = u32_to_open_unit(r.v[pair]), u2 = (double)u32_to_unit(r.v[pair + 1]);
  const double rad = sqrt(__dmul_rn(-2.0, log(u1)));
  const double a = __dmul_rn(kTwoPi, u2);
  return __dadd_rn(p0, __dmul_rn(__dmul_rn(p1, rad), (lane & 1) ? sin(a) : cos(a)));
}

template <class T, bool Normal>
__global__ void __launch_bounds__(kRandThreads) random_kernel(RandArgs<T, Normal> a) {
  constexpr bool kWide = std::is_same_v<T, double>;
  constexpr int kLanes = kWide ? 2 : 4;
  const int64_t n = a.g.numel, nblocks = (n + kLanes - 1) / kLanes, step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; q < nblocks; q += step) {
    const Philox4 r = philox4x32_10(a.offset + (uint64_t)q, a.seed);
    Pack<T, kLanes> vals;
#pragma unroll
    for (int l = 0; l < kLanes; l++) {
      const int64_t e = q * kLanes + l;
      T v = store<T>(sample<Normal, kWide>(r, e, a.p0, a.p1, a.span));
      if (!Normal && (double)load(v) >= a.p1) v = a.top;
      vals.v[l] = v;
    }
    const int64_t e0 = q * kLanes;
    if (a.contig) {
      T *o = (T *)a.g.base[0] + e0;
      if (e0 + kLanes <= n && aligned(o, sizeof(vals))) {
        store_pack(o, vals);
      } else {
        for (int l = 0; l < kLanes && e0 + l < n; l++) o[l] = vals.v[l];
      }
    } else {
      for (int l = 0; l < kLanes && e0 + l < n; l++) {
        int64_t off[1];
        geom_offsets<1, uint64_t>(a.g, (uint64_t)(e0 + l), off);
        *(T *)(a.g.base[0] + off[0]) = vals.v[l];
      }
    }
  }
}

// The largest value of T below hi (and not below lo): random.cpp's below().
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
kiln_status fill_random(const Launch &L, const kiln_tensor &out, uint64_t seed, uint64_t offset, double p0, double p1) {
  const char *name = Normal ? "normal" : "uniform";
  const kiln_tensor *ops[1] = {&out};
  Geom<1> g = make_geom<1>(ops);
  // Collapsing only merges and drops size-1 dims, so the flat index is the row-major index.
  KILN_DISPATCH_FLOAT(out.dtype, return fail(L, KILN_ERR_DTYPE, "random fill needs a floating dtype"), {
    if (g.numel == 0) return KILN_OK;
    RandArgs<scalar_t, Normal> a;
    a.contig = g.ndim == 1 && g.st[0][0] == 1;
    to_bytes(g);
    a.g = g;
    a.seed = seed;
    a.offset = offset;
    a.p0 = p0;
    a.p1 = p1;
    a.span = p1 - p0;
    a.top = Normal ? store<scalar_t>(0.0) : below<scalar_t>(p0, p1);
    constexpr int lanes = std::is_same_v<scalar_t, double> ? 2 : 4;
    random_kernel<scalar_t, Normal>
        <<<grid_for((g.numel + lanes - 1) / lanes, kRandThreads, 1u << 30), kRandThreads, 0, L.stream>>>(a);
    return check_launch(L, name, "random_kernel");
  });
  return KILN_OK;
}

}  // namespace

kiln_status uniform_cuda(const Launch &L, const kiln_tensor &out, uint64_t seed, uint64_t offset, double lo,
                         double hi) {
  return fill_random<false>(L, out, seed, offset, lo, hi);
}
kiln_status normal_cuda(const Launch &L, const kiln_tensor &out, uint64_t seed, uint64_t offset, double mean,
                        double std) {
  return fill_random<true>(L, out, seed, offset, mean, std);
}

}  // namespace kiln::cuda
