// GELU (erf and tanh forms) and SiLU, forward and backward (gx = gy * f'(x)), elementwise over
// strided operands. Contiguous float32 runs take the ISA table (arch/nn_kernels.inc); other runs
// and dtypes use the scalar formulas below in the compute type (float for half types, double for
// float64), which are also the float64 reference the tests compare the vector paths with.
#include <cmath>

#include "cpu_ops.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

template <class C>
C act_ref(NnAct act, C x) {
  const C half = (C)0.5, one = (C)1;
  switch (act) {
    case NnAct::Gelu: return x * half * (one + std::erf(x * (C)0.70710678118654752440));
    case NnAct::GeluTanh:
      return half * x * (one + std::tanh((C)0.79788456080286535588 * (x + (C)0.044715 * x * x * x)));
    case NnAct::Silu: return x / (one + std::exp(-x));
  }
  return x;
}

template <class C>
C act_grad_ref(NnAct act, C gy, C x) {
  const C half = (C)0.5, one = (C)1;
  switch (act) {
    case NnAct::Gelu: {
      C cdf = half * (one + std::erf(x * (C)0.70710678118654752440));
      C pdf = std::exp((C)-0.5 * x * x) * (C)0.39894228040143267794;
      return gy * (cdf + x * pdf);
    }
    case NnAct::GeluTanh: {
      const C beta = (C)0.79788456080286535588, kappa = (C)0.044715;
      C u = beta * (x + kappa * x * x * x);
      C e = std::exp((C)-2 * std::fabs(u));  // 1 - tanh(u)^2 = 4e / (1 + e)^2, no cancellation
      C din = beta * (one + (C)3 * kappa * x * x);
      return gy * (half * (one + std::tanh(u)) + half * x * ((C)4 * e / ((one + e) * (one + e))) * din);
    }
    case NnAct::Silu: {
      C s = one / (one + std::exp(-x));
      return gy * s * (one + x * (one - s));
    }
  }
  return gy;
}

bool contiguous_f32(const kiln_tensor *const *ops, int k, int64_t numel) {
  for (int i = 0; i < k; i++) {
    if (ops[i]->dtype != KILN_FLOAT32) return false;
    int64_t expect = 1;
    for (int d = ops[i]->ndim - 1; d >= 0; d--) {
      if (ops[i]->shape[d] != 1 && ops[i]->strides[d] != expect) return false;
      expect *= ops[i]->shape[d];
    }
  }
  return numel > 0;
}

}  // namespace

kiln_status act_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &x, NnAct act) {
  if (out.dtype != x.dtype) return fail(ctx, KILN_ERR_DTYPE, "output dtype differs from the input's");
  const kiln_tensor *ops[2] = {&out, &x};
  auto p = make_plan<2>(ops);
  if (contiguous_f32(ops, 2, p.numel)) {
    const NnKernels &nn = isa_kernels(ctx->isa)->nn;
    float *o = (float *)out.data;
    const float *a = (const float *)x.data;
    // Cached stores: at 64 MB on two threads, beside a memcpy in one process, the forward ran at
    // 0.84-0.89 of it, and at 0.74-0.76 with non-temporal stores (the backward the other way round).
    parallel_for(ctx->pool.get(), p.numel, ew_grain(ctx, p.numel),
                 [&](int64_t b, int64_t e) { nn.act_f32(act, o + b, a + b, e - b); });
    return KILN_OK;
  }
  KILN_DISPATCH_FLOAT(x.dtype, return fail(ctx, KILN_ERR_DTYPE, "needs a floating dtype"), {
    parallel_walk(ctx->pool.get(), p, ew_grain(ctx, p.numel), [&](char *const *ptr, const int64_t *st, int64_t n) {
      scalar_t *o = (scalar_t *)ptr[0];
      const scalar_t *a = (const scalar_t *)ptr[1];
      for (int64_t i = 0; i < n; i++) o[i * st[0]] = store<scalar_t>(act_ref(act, load(a[i * st[1]])));
    });
  });
  return KILN_OK;
}

kiln_status act_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gy, const kiln_tensor &x,
                             NnAct act) {
  if (gx.dtype != x.dtype || gy.dtype != x.dtype) return fail(ctx, KILN_ERR_DTYPE, "operand dtypes differ");
  const kiln_tensor *ops[3] = {&gx, &gy, &x};
  auto p = make_plan<3>(ops);
  if (contiguous_f32(ops, 3, p.numel)) {
    const NnKernels &nn = isa_kernels(ctx->isa)->nn;
    float *o = (float *)gx.data;
    const float *g = (const float *)gy.data, *a = (const float *)x.data;
    // Non-temporal stores from kStreamBytes: 0.59-0.62 -> 0.74-0.81 of a memcpy (64 MB, two threads)
    const bool stream = stream_output(gx);
    parallel_for(ctx->pool.get(), p.numel, ew_grain(ctx, p.numel), [&](int64_t b, int64_t e) {
      nn.act_backward_f32(act, o + b, g + b, a + b, e - b, stream);
      if (stream) stream_fence();
    });
    return KILN_OK;
  }
  KILN_DISPATCH_FLOAT(x.dtype, return fail(ctx, KILN_ERR_DTYPE, "needs a floating dtype"), {
    parallel_walk(ctx->pool.get(), p, ew_grain(ctx, p.numel), [&](char *const *ptr, const int64_t *st, int64_t n) {
      scalar_t *o = (scalar_t *)ptr[0];
      const scalar_t *g = (const scalar_t *)ptr[1], *a = (const scalar_t *)ptr[2];
      for (int64_t i = 0; i < n; i++)
        o[i * st[0]] = store<scalar_t>(act_grad_ref(act, load(g[i * st[1]]), load(a[i * st[2]])));
    });
  });
  return KILN_OK;
}

}  // namespace kiln::cpu
