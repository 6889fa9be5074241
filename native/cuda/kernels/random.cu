// CUDA uniform and normal fills from Philox 4x32-10: each element's value is
// core/philox_sample.h's, the function native/cpu/random.cpp uses, so the same (seed, offset)
// gives the CPU's numbers (float64 normals up to libm's last bits; see that header). One thread
// per counter block computes its 4 (float64: 2) elements.
#include <cmath>
#include <limits>

#include "../../core/philox_sample.h"
#include "elementwise.h"
#include "ew_common.cuh"

namespace kiln::cuda {

namespace {

constexpr int kRandThreads = 256;

template <class T, bool Normal>
struct RandArgs {
  Geom<1> g;  // byte strides
  bool contig;
  uint64_t seed, offset;
  double p0, p1, span;  // span = p1 - p0 (uniform)
  T top;                // where a uniform draw that rounded up to p1 goes
};

template <class T, bool Normal>
__global__ void __launch_bounds__(kRandThreads) random_kernel(RandArgs<T, Normal> a) {
  constexpr bool kWide = std::is_same_v<T, double>;
  constexpr int kLanes = kWide ? 2 : 4;
  const int64_t n = a.g.numel, nblocks = (n + kLanes - 1) / kLanes, step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; q < nblocks; q += step) {
    const Philox4 r = philox4x32_10(philox_block<kWide>(a.offset, q * kLanes), a.seed);
    Pack<T, kLanes> vals;
#pragma unroll
    for (int l = 0; l < kLanes; l++) {
      const int64_t e = q * kLanes + l;
      T v = store<T>(philox_sample<Normal, kWide>(r, e, a.p0, a.p1, a.span));
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
    a.top = Normal ? store<scalar_t>(0.0) : philox_uniform_top<scalar_t>(p0, p1);
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
