// Dropout over strided operands of any floating dtype, with native/cpu/dropout.cpp's mask bit for
// bit: element e (row-major over the shape) keeps when (word >> 8) >= threshold, word = word e % 4
// of Philox4x32-10(offset + e / 4, seed), and y = x * (keep ? scale : 0) in the compute type (so a
// dropped NaN stays NaN, as on CPU). One thread per Philox block of 4 elements; contiguous operands
// aligned to 4 elements load and store the block as one access.
#include "../../core/philox.h"
#include "nn.h"
#include "nn_common.cuh"

namespace kiln::cuda {

namespace {

using nn::EwPlan;

template <class T>
struct alignas(4 * sizeof(T)) Quad {
  T v[4];
};

template <class T, bool CONTIG>
__global__ void dropout_kernel(T *out, const T *x, const __grid_constant__ EwPlan<2> p, uint64_t seed, uint64_t offset,
                               uint32_t threshold, compute_t<T> scale) {
  using C = compute_t<T>;
  const int64_t n = p.numel, groups = (n + 3) / 4, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < groups; g += stride) {
    const Philox4 r = philox4x32_10(offset + (uint64_t)g, seed);
    C mult[4];
#pragma unroll
    for (int j = 0; j < 4; j++) mult[j] = (r.v[j] >> 8) >= threshold ? scale : (C)0;
    const int64_t e0 = 4 * g;
    if (CONTIG && e0 + 4 <= n) {
      Quad<T> a = ((const Quad<T> *)x)[g], o;
#pragma unroll
      for (int j = 0; j < 4; j++) o.v[j] = store<T>((C)load(a.v[j]) * mult[j]);
      ((Quad<T> *)out)[g] = o;
    } else {
      for (int j = 0; j < 4 && e0 + j < n; j++) {
        int64_t off[2];
        if (CONTIG)
          off[0] = off[1] = e0 + j;
        else
          nn::ew_offsets(p, e0 + j, off);
        out[off[0]] = store<T>((C)load(x[off[1]]) * mult[j]);
      }
    }
  }
}

bool aligned_to(const void *ptr, size_t bytes) { return ((uintptr_t)ptr % bytes) == 0; }

}  // namespace

kiln_status dropout_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &x, uint64_t seed, uint64_t offset,
                         uint32_t threshold, double scale) {
  if (out.dtype != x.dtype) return fail(L, KILN_ERR_DTYPE, "dropout: output dtype differs from the input's");
  if (threshold > (1u << 24)) return fail(L, KILN_ERR_ARG, "dropout: threshold %u is above 2^24", threshold);
  const kiln_tensor *ops[2] = {&out, &x};
  if (!nn::same_shapes(ops)) return fail(L, KILN_ERR_SHAPE, "dropout: output shape differs from the input's");
  auto p = nn::ew_plan(ops);
  KILN_DISPATCH_FLOAT(x.dtype, return fail(L, KILN_ERR_DTYPE, "dropout: dropout needs a floating dtype"), {
    if (p.numel == 0) return KILN_OK;
    using C = compute_t<scalar_t>;
    const size_t q = 4 * sizeof(scalar_t);
    if (nn::plan_contiguous(p) && aligned_to(out.data, q) && aligned_to(x.data, q)) {
      static const int occ = nn::blocks_per_sm(dropout_kernel<scalar_t, true>, nn::kEwThreads);
      dropout_kernel<scalar_t, true><<<nn::ew_grid(L, (p.numel + 3) / 4, occ), nn::kEwThreads, 0, L.stream>>>(
          (scalar_t *)out.data, (const scalar_t *)x.data, p, seed, offset, threshold, (C)scale);
    } else {
      static const int occ = nn::blocks_per_sm(dropout_kernel<scalar_t, false>, nn::kEwThreads);
      dropout_kernel<scalar_t, false><<<nn::ew_grid(L, (p.numel + 3) / 4, occ), nn::kEwThreads, 0, L.stream>>>(
          (scalar_t *)out.data, (const scalar_t *)x.data, p, seed, offset, threshold, (C)scale);
    }
  });
  return check_launch(L, "dropout", "dropout_kernel");
}

}  // namespace kiln::cuda
