// Binary cross-entropy with logits over flat, contiguous operands of one float dtype (the TS layer
// broadcasts pos_weight and weight to the input's shape):
//   l = w ((1 - t) x + c softplus(-x)),  c = 1 + (pw - 1) t,  softplus(-x) = max(-x, 0) + log1p(e^-|x|)
//   forward   reduce 0: o = l elementwise; reduce 1: o (one element) = scale * sum(l), the sum taken
//             in fixed chunks of kChunk (in the compute type), the chunks in order in double, so the
//             result does not depend on the thread count;
//   backward  gx = g w ((1 - t) - c sigmoid(-x)), g elementwise, or g[0] * scale for every element.
// float32 takes the ISA table (arch/nn_kernels.inc); the loops below are the other dtypes' path and
// the float64 reference (half types compute in float).
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "cpu_ops.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kChunk = 4096;
constexpr int64_t kGrainChunks = 16;

int64_t numel_of(const kiln_tensor &t) {
  int64_t n = 1;
  for (int d = 0; d < t.ndim; d++) n *= t.shape[d];
  return n;
}

template <class C>
C softplus_neg(C x) {
  return std::max(-x, (C)0) + std::log1p(std::exp(-std::fabs(x)));
}

template <class T>
struct Operands {
  const T *x, *t, *pw, *w;
  compute_t<T> coef(int64_t i, compute_t<T> tv) const {
    using C = compute_t<T>;
    return pw ? (C)1 + (load(pw[i]) - (C)1) * tv : (C)1;
  }
  compute_t<T> weight(int64_t i) const { return w ? load(w[i]) : (compute_t<T>)1; }
};

template <class T>
kiln_status forward_typed(kiln_context *ctx, const kiln_tensor &o, const Operands<T> &a, int64_t n, bool reduce,
                          double scale) {
  using C = compute_t<T>;
  const NnKernels &nn = isa_kernels(ctx->isa)->nn;
  T *out = reduce ? nullptr : (T *)o.data;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(reduce ? (size_t)chunks : 0);
  parallel_for(ctx->pool.get(), chunks, kGrainChunks, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; k++) {
      const int64_t i0 = k * kChunk, len = std::min(kChunk, n - i0);
      double s = 0;
      if constexpr (std::is_same_v<T, float>) {
        s = nn.bce_logits_f32(out ? out + i0 : nullptr, a.x + i0, a.t + i0, a.pw ? a.pw + i0 : nullptr,
                              a.w ? a.w + i0 : nullptr, len);
      } else {
        C acc = 0;
        for (int64_t i = i0; i < i0 + len; i++) {
          const C x = load(a.x[i]), t = load(a.t[i]);
          const C l = a.weight(i) * (((C)1 - t) * x + a.coef(i, t) * softplus_neg(x));
          if (out) out[i] = store<T>(l);
          acc += l;
        }
        s = (double)acc;
      }
      if (reduce) part[(size_t)k] = s;
    }
  });
  if (reduce) {
    double s = 0;
    for (double p : part) s += p;
    ((T *)o.data)[0] = store<T>(s * scale);  // mean of none: 0 * inf, NaN as PyTorch's
  }
  return KILN_OK;
}

template <class T>
kiln_status backward_typed(kiln_context *ctx, const kiln_tensor &gx, const T *g, const Operands<T> &a, int64_t n,
                           bool scalar_g, double scale) {
  using C = compute_t<T>;
  const NnKernels &nn = isa_kernels(ctx->isa)->nn;
  T *out = (T *)gx.data;
  const C gs = scalar_g ? (C)((double)load(g[0]) * scale) : (C)0;
  parallel_for(ctx->pool.get(), n, ew_grain(ctx, n), [&](int64_t b, int64_t e) {
    if constexpr (std::is_same_v<T, float>) {
      nn.bce_logits_grad_f32(out + b, scalar_g ? nullptr : g + b, gs, a.x + b, a.t + b, a.pw ? a.pw + b : nullptr,
                             a.w ? a.w + b : nullptr, e - b);
    } else {
      for (int64_t i = b; i < e; i++) {
        const C x = load(a.x[i]), t = load(a.t[i]);
        const C s = (C)1 / ((C)1 + std::exp(x));  // sigmoid(-x)
        const C gi = (scalar_g ? gs : load(g[i])) * a.weight(i);
        out[i] = store<T>(gi * (((C)1 - t) - a.coef(i, t) * s));
      }
    }
  });
  return KILN_OK;
}

kiln_status check(kiln_context *ctx, const kiln_tensor &x, const kiln_tensor *const *ops, const char *const *names,
                  int k) {
  if (!contiguous(x)) return fail(ctx, KILN_ERR_SHAPE, "the input must be contiguous");
  for (int i = 0; i < k; i++) {
    if (!ops[i]) continue;
    if (numel_of(*ops[i]) != numel_of(x) || !contiguous(*ops[i]))
      return fail(ctx, KILN_ERR_SHAPE, "%s must be contiguous with the input's %lld elements", names[i],
                  (long long)numel_of(x));
    if (ops[i]->dtype != x.dtype) return fail(ctx, KILN_ERR_DTYPE, "%s has a different dtype from the input", names[i]);
  }
  return KILN_OK;
}

}  // namespace

kiln_status bce_with_logits_cpu(kiln_context *ctx, const kiln_tensor &o, const kiln_tensor &x, const kiln_tensor &t,
                                const kiln_tensor *pw, const kiln_tensor *w, bool reduce, double scale) {
  const kiln_tensor *ops[4] = {&t, pw, w, reduce ? nullptr : &o};
  const char *names[4] = {"target", "pos_weight", "weight", "the output"};
  if (kiln_status st = check(ctx, x, ops, names, 4)) return st;
  if (reduce && (numel_of(o) != 1 || o.dtype != x.dtype))
    return fail(ctx, KILN_ERR_SHAPE, "a reduced output must be one element of the input's dtype");
  const int64_t n = numel_of(x);
  KILN_DISPATCH_FLOAT(x.dtype, return fail(ctx, KILN_ERR_DTYPE, "needs a floating dtype"), {
    const Operands<scalar_t> a{(const scalar_t *)x.data, (const scalar_t *)t.data,
                               pw ? (const scalar_t *)pw->data : nullptr, w ? (const scalar_t *)w->data : nullptr};
    return forward_typed<scalar_t>(ctx, o, a, n, reduce, scale);
  });
}

kiln_status bce_with_logits_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &g,
                                         const kiln_tensor &x, const kiln_tensor &t, const kiln_tensor *pw,
                                         const kiln_tensor *w, bool scalar_g, double scale) {
  const kiln_tensor *ops[4] = {&t, pw, w, &gx};
  const char *names[4] = {"target", "pos_weight", "weight", "grad_input"};
  if (kiln_status st = check(ctx, x, ops, names, 4)) return st;
  if (scalar_g ? numel_of(g) != 1 : (numel_of(g) != numel_of(x) || !contiguous(g)))
    return fail(ctx, KILN_ERR_SHAPE, "grad_output must be one element or contiguous with the input's elements");
  if (g.dtype != x.dtype) return fail(ctx, KILN_ERR_DTYPE, "grad_output has a different dtype from the input");
  const int64_t n = numel_of(x);
  KILN_DISPATCH_FLOAT(x.dtype, return fail(ctx, KILN_ERR_DTYPE, "needs a floating dtype"), {
    const Operands<scalar_t> a{(const scalar_t *)x.data, (const scalar_t *)t.data,
                               pw ? (const scalar_t *)pw->data : nullptr, w ? (const scalar_t *)w->data : nullptr};
    return backward_typed<scalar_t>(ctx, gx, (const scalar_t *)g.data, a, n, scalar_g, scale);
  });
}

}  // namespace kiln::cpu
