// Variance along one dim (torch.var with a correction), on a contiguous float32 / float64 input
// viewed as [outer, n, inner], into [outer, inner]: the sum of squared deviations from the mean, in
// double (PyTorch's CPU var accumulates in double too), divided by max(n - correction, 0) (0 / 0
// is NaN, as PyTorch's).
//   inner == 1: rows, the mean and then the deviations (the second pass from L1/L2; moment_f32);
//   inner > 1: column strips in one pass (moments2_f32): sums of d and d^2 in double with d = x
//   minus the column's first element (a shift near the mean keeps the digits that
//   E[x^2] - E[x]^2 would cancel; in double the rest is far below float32's rounding).
// Each output depends on its own elements only: any thread count gives the same bits.
// Bench: `kiln bench ops` (var(1)).
#include <algorithm>
#include <type_traits>
#include <vector>

#include "cpu_ops.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kTaskElems = 1 << 15;  // elements per task, at least

double moment(const IsaKernels *isa, const float *x, int64_t n, double c, int p) { return isa->moment_f32(x, n, c, p); }
double moment(const IsaKernels *, const double *x, int64_t n, double c, int p) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += p == 1 ? x[i] - c : (x[i] - c) * (x[i] - c);
  return s;
}

template <class T>
kiln_status run(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, int dim, double correction) {
  int64_t outer = 1, n = 1, inner = 1;
  for (int d = 0; d < in.ndim; d++) (d < dim ? outer : d == dim ? n : inner) *= in.shape[d];
  const T *x = (const T *)in.data;
  T *o = (T *)out.data;
  const double div = std::max((double)n - correction, 0.0);
  if (outer * inner == 0) return KILN_OK;
  const IsaKernels *isa = isa_kernels(ctx->isa);
  if (inner == 1) {
    parallel_for(ctx->pool.get(), outer, std::max<int64_t>(1, kTaskElems / std::max<int64_t>(n, 1)),
                 [&](int64_t r0, int64_t r1) {
                   for (int64_t r = r0; r < r1; r++) {
                     const T *xr = x + r * n;
                     const double m = n ? moment(isa, xr, n, 0.0, 1) / (double)n : 0.0;
                     o[r] = (T)(moment(isa, xr, n, m, 2) / div);
                   }
                 });
    return KILN_OK;
  }
  const int64_t sw = column_strip(ctx->pool.get(), outer, inner);
  const int64_t strips = (inner + sw - 1) / sw;
  parallel_for(ctx->pool.get(), outer * strips, std::max<int64_t>(1, kTaskElems / std::max<int64_t>(n * sw, 1)),
               [&](int64_t a, int64_t b) {
                 std::vector<double> c((size_t)sw), s1((size_t)sw), s2((size_t)sw);
                 for (int64_t p = a; p < b; p++) {
                   const int64_t q = p / strips, j0 = (p % strips) * sw, cw = std::min(sw, inner - j0);
                   const T *xb = x + q * n * inner + j0;
                   for (int64_t j = 0; j < cw; j++) c[j] = n ? (double)xb[j] : 0.0, s1[j] = s2[j] = 0;
                   for (int64_t i = 0; i < n; i++) {
                     if constexpr (std::is_same_v<T, float>) {
                       isa->moments2_f32(s1.data(), s2.data(), c.data(), xb + i * inner, cw);
                     } else {
                       for (int64_t j = 0; j < cw; j++) {
                         const double d = xb[i * inner + j] - c[j];
                         s1[j] += d, s2[j] += d * d;
                       }
                     }
                   }
                   for (int64_t j = 0; j < cw; j++) {
                     const double m2 = n ? std::max(s2[j] - s1[j] * s1[j] / (double)n, 0.0) : 0.0;
                     o[q * inner + j0 + j] = (T)(m2 / div);
                   }
                 }
               });
  return KILN_OK;
}

}  // namespace

kiln_status var_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, int dim, double correction) {
  if (!contiguous(in) || !contiguous(out)) return fail(ctx, KILN_ERR_ARG, "var: operands must be contiguous");
  if (in.dtype != out.dtype) return fail(ctx, KILN_ERR_DTYPE, "var: operands must share one dtype");
  switch (in.dtype) {
    case KILN_FLOAT32: return run<float>(ctx, out, in, dim, correction);
    case KILN_FLOAT64: return run<double>(ctx, out, in, dim, correction);
    default: return fail(ctx, KILN_ERR_DTYPE, "var: float32 or float64 only (the caller widens half types)");
  }
}

}  // namespace kiln::cpu
