// What the per-channel normalisation kernels (batch_norm.cpp, group_norm.cpp) share: the inner
// loops for element type T, computing in compute_t<T> (float32 runs take the ISA table,
// arch/nn_kernels.inc; the loops here are the other dtypes' path: half types compute in float,
// float64 in double), and the shape checks of their [N, C, S] and [C] operands.
#pragma once

#include <type_traits>

#include "cpu_ops.h"
#include "strided_loop.h"

namespace kiln::cpu::bn {

// The inner loops for element type T (compute type C); float32 goes to the ISA table.
template <class T>
struct Loops {
  using C = compute_t<T>;
  const NnKernels *nn;
  C sum(const T *x, int64_t n) const {
    if constexpr (std::is_same_v<T, float>) return isa_sum(x, n);
    C s = 0;
    for (int64_t i = 0; i < n; i++) s += load(x[i]);
    return s;
  }
  C sq_dev(const T *x, int64_t n, C m, const T *ahead) const {
    if constexpr (std::is_same_v<T, float>) return nn->sq_dev_sum_f32(x, n, m, ahead);
    C s = 0;
    for (int64_t i = 0; i < n; i++) s += (load(x[i]) - m) * (load(x[i]) - m);
    return s;
  }
  void grad_sums(const T *gy, const T *x, int64_t n, C m, C *sg, C *sgx) const {
    if constexpr (std::is_same_v<T, float>) return nn->grad_sums_f32(gy, x, n, m, sg, sgx);
    C a = 0, b = 0;
    for (int64_t i = 0; i < n; i++) {
      a += load(gy[i]);
      b += load(gy[i]) * (load(x[i]) - m);
    }
    *sg = a;
    *sgx = b;
  }
  void col_add(C *acc, const T *x, int64_t n) const {
    if constexpr (std::is_same_v<T, float>) return add_f32(acc, x, n);
    for (int64_t i = 0; i < n; i++) acc[i] += load(x[i]);
  }
  void col_sq_dev(C *acc, const T *x, const C *m, int64_t n) const {
    if constexpr (std::is_same_v<T, float>) return nn->col_sq_dev_f32(acc, x, m, n);
    for (int64_t i = 0; i < n; i++) acc[i] += (load(x[i]) - m[i]) * (load(x[i]) - m[i]);
  }
  void col_grad(C *sg, C *sgx, const T *gy, const T *x, const C *m, int64_t n) const {
    if constexpr (std::is_same_v<T, float>) return nn->col_grad_f32(sg, sgx, gy, x, m, n);
    for (int64_t i = 0; i < n; i++) {
      sg[i] += load(gy[i]);
      sgx[i] += load(gy[i]) * (load(x[i]) - m[i]);
    }
  }
  void apply(T *o, const T *x, const T *g, int64_t n, const C *m, const C *b, const C *a, const C *k,
             int64_t sp) const {
    if constexpr (std::is_same_v<T, float>) return nn->bn_apply_f32(o, x, g, n, m, b, a, k, sp);
    for (int64_t i = 0; i < n; i++) {
      int64_t j = i * sp;
      C y = b[j] * (load(x[i]) - m[j]);
      if (g) y += a[j] * load(g[i]);
      o[i] = store<T>(y + k[j]);
    }
  }
  const IsaKernels *isa;
  float isa_sum(const float *x, int64_t n) const { return isa->sum_f32(x, n); }
  void add_f32(float *acc, const float *x, int64_t n) const { isa->add_f32(acc, x, n); }
};

template <class T>
Loops<T> loops_for(kiln_context *ctx) {
  const IsaKernels *isa = isa_kernels(ctx->isa);
  return Loops<T>{&isa->nn, isa};
}

// The shape checks: t a contiguous [N, C, S] like x; t (when given) a contiguous [C] of x's dtype.
inline kiln_status check_nd(kiln_context *ctx, const kiln_tensor &t, const char *name, const kiln_tensor &x) {
  if (t.ndim != 3 || t.shape[0] != x.shape[0] || t.shape[1] != x.shape[1] || t.shape[2] != x.shape[2] || !contiguous(t))
    return fail(ctx, KILN_ERR_SHAPE, "%s must be a contiguous [N, C, S] tensor like the input", name);
  if (t.dtype != x.dtype) return fail(ctx, KILN_ERR_DTYPE, "%s has a different dtype from the input", name);
  return KILN_OK;
}
inline kiln_status check_c(kiln_context *ctx, const kiln_tensor *t, const char *name, const kiln_tensor &x) {
  if (!t) return KILN_OK;
  if (t->ndim != 1 || t->shape[0] != x.shape[1] || (t->shape[0] > 1 && t->strides[0] != 1))
    return fail(ctx, KILN_ERR_SHAPE, "%s must be a contiguous [C] tensor (C = %lld)", name, (long long)x.shape[1]);
  if (t->dtype != x.dtype) return fail(ctx, KILN_ERR_DTYPE, "%s has a different dtype from the input", name);
  return KILN_OK;
}

}  // namespace kiln::cpu::bn
