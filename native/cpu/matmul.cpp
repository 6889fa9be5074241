// Batched matmul with the GEMM options: out[b] = act(alpha * a[b] @ b[b] + beta * out[b] + bias[b])
// over broadcast batch dims (the TS layer expands them). float32 runs on the packed SIMD GEMM
// (gemm.cpp), float16 and bfloat16 on its low-precision twin (gemm_lowp.cpp), float64 on its own
// register tiles (gemm_f64.cpp; a bias and activation then in a second pass), and the integers, and
// float64's one-row or one-column products, on a plain loop in their accumulation type (double, or
// wrapping int64). Work is never split over K, so the bits do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cpu_ops.h"
#include "gemm.h"
#include "scalar_math.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

struct Batch {
  char *o, *a, *b, *bias;
};

// The batch's matrices; bias may be null (no bias), else it has out's shape (expanded).
std::vector<Batch> batches(const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b,
                           const kiln_tensor *bias) {
  kiln_tensor bo = out, ba = a, bb = b, bc = bias ? *bias : a;
  bo.ndim = ba.ndim = bb.ndim = bc.ndim = out.ndim - 2;
  const kiln_tensor *ops[4] = {&bo, &ba, &bb, &bc};
  auto p = make_plan<4>(ops);
  std::vector<Batch> v;
  v.reserve((size_t)p.numel);
  walk(p, 0, p.numel, [&](char *const *ptr, const int64_t *st, int64_t n) {
    for (int64_t i = 0; i < n; i++)
      v.push_back({ptr[0] + i * st[0] * p.esize[0], ptr[1] + i * st[1] * p.esize[1], ptr[2] + i * st[2] * p.esize[2],
                   bias ? ptr[3] + i * st[3] * p.esize[3] : nullptr});
  });
  return v;
}

GemmGeometry geometry(int64_t M, int64_t N, int64_t K, const kiln_tensor &out, const kiln_tensor &a,
                      const kiln_tensor &b, const kiln_tensor *bias, const MatmulOpts &o) {
  const int nd = a.ndim;
  GemmGeometry g;
  g.M = M, g.N = N, g.K = K;
  g.rsa = a.strides[nd - 2], g.csa = a.strides[nd - 1];
  g.rsb = b.strides[nd - 2], g.csb = b.strides[nd - 1];
  g.rsc = out.strides[nd - 2];
  g.alpha = (float)o.alpha, g.beta = (float)o.beta;
  g.act = o.act;
  if (bias) g.bias_rs = bias->strides[nd - 2], g.bias_cs = N > 1 ? bias->strides[nd - 1] : 0;
  return g;
}

void matmul_f32(kiln_context *ctx, const std::vector<Batch> &bs, const GemmGeometry &g, bool bias) {
  std::vector<GemmPtrs> ps;
  ps.reserve(bs.size());
  for (const Batch &x : bs)
    ps.push_back({(const float *)x.a, (const float *)x.b, (float *)x.o, bias ? (const float *)x.bias : nullptr});
  gemm_f32(ctx, g, ps);
}

void matmul_lowp(kiln_context *ctx, kiln_dtype dtype, const std::vector<Batch> &bs, const GemmGeometry &g, bool bias) {
  std::vector<GemmPtrsLowp> ps;
  ps.reserve(bs.size());
  for (const Batch &x : bs) ps.push_back({x.a, x.b, x.o, bias ? x.bias : nullptr});
  gemm_lowp(ctx, dtype, g, ps);
}

// The epilogue activation in the accumulation type (integers: relu only, checked by the caller).
template <class A>
A activate(GemmAct act, A x) {
  if constexpr (std::is_floating_point_v<A>) {
    switch (act) {
      case GemmAct::Relu: return x < 0 ? 0 : x;
      case GemmAct::Gelu: return 0.5 * x * std::erfc(-x * 0.70710678118654752);
      case GemmAct::GeluTanh: return 0.5 * x * (1 + std::tanh(0.79788456080286536 * (x + 0.044715 * x * x * x)));
      default: return x;
    }
  } else {
    return act == GemmAct::Relu && x < 0 ? 0 : x;
  }
}

// out = act(alpha a b + beta out + bias): the product on gemm_f64, then bias and activation per element.
void matmul_f64(kiln_context *ctx, const std::vector<Batch> &bs, int64_t M, int64_t N, int64_t K,
                const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b, const kiln_tensor *bias,
                const MatmulOpts &o) {
  const int nd = a.ndim;
  GemmF64Geometry g;
  g.M = M, g.N = N, g.K = K;
  g.rsa = a.strides[nd - 2], g.csa = a.strides[nd - 1];
  g.rsb = b.strides[nd - 2], g.csb = b.strides[nd - 1];
  g.rsc = out.strides[nd - 2];
  g.alpha = o.alpha, g.beta = o.beta;
  std::vector<GemmF64Ptrs> ps;
  ps.reserve(bs.size());
  for (const Batch &x : bs) ps.push_back({(const double *)x.a, (const double *)x.b, (double *)x.o});
  gemm_f64(ctx, g, ps);
  if (!bias && o.act == GemmAct::None) return;
  const int64_t sbm = bias ? bias->strides[nd - 2] : 0, sbj = bias ? bias->strides[nd - 1] : 0;
  parallel_for(ctx->pool.get(), (int64_t)bs.size() * M, std::max<int64_t>(1, 4096 / N), [&](int64_t s, int64_t e) {
    for (int64_t t = s; t < e; t++) {
      const Batch &bt = bs[t / M];
      const int64_t i = t % M;
      double *row = (double *)bt.o + i * g.rsc;
      const double *z = bias ? (const double *)bt.bias + i * sbm : nullptr;
      for (int64_t j = 0; j < N; j++) row[j] = activate(o.act, z ? row[j] + z[j * sbj] : row[j]);
    }
  });
}

template <class T>
void matmul_generic(kiln_context *ctx, const std::vector<Batch> &bs, int64_t M, int64_t N, int64_t K,
                    const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b, const kiln_tensor *bias,
                    const MatmulOpts &o) {
  using A = std::conditional_t<std::is_floating_point_v<compute_t<T>>, double, int64_t>;
  const int nd = a.ndim;
  int64_t sam = a.strides[nd - 2], sak = a.strides[nd - 1], sbk = b.strides[nd - 2], sbn = b.strides[nd - 1];
  int64_t som = out.strides[nd - 2], son = out.strides[nd - 1];
  int64_t sbm = bias ? bias->strides[nd - 2] : 0, sbj = bias ? bias->strides[nd - 1] : 0;
  const A alpha = (A)o.alpha, beta = (A)o.beta;
  parallel_for(ctx->pool.get(), (int64_t)bs.size() * M, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, N * K)),
               [&](int64_t s, int64_t e) {
                 for (int64_t t = s; t < e; t++) {
                   const Batch &bt = bs[t / M];
                   int64_t i = t % M;
                   const T *x = (const T *)bt.a;
                   const T *y = (const T *)bt.b;
                   const T *z = (const T *)bt.bias;
                   T *out_ = (T *)bt.o;
                   for (int64_t j = 0; j < N; j++) {
                     A acc = 0;
                     for (int64_t k = 0; k < K; k++)
                       acc = math::wrap_add(
                           acc, math::wrap_mul((A)load(x[i * sam + k * sak]), (A)load(y[k * sbk + j * sbn])));
                     T &dst = out_[i * som + j * son];
                     acc = math::wrap_mul(alpha, acc);
                     if (beta != 0) acc = math::wrap_add(acc, math::wrap_mul(beta, (A)load(dst)));
                     if (z) acc = math::wrap_add(acc, (A)load(z[i * sbm + j * sbj]));
                     dst = store<T>(activate(o.act, acc));
                   }
                 }
               });
}

}  // namespace

kiln_status matmul_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b,
                       const kiln_tensor *bias, const MatmulOpts &o) {
  int nd = out.ndim;
  if (nd < 2 || a.ndim != nd || b.ndim != nd || (bias && bias->ndim != nd))
    return fail(ctx, KILN_ERR_SHAPE, "matmul: operands must have equal rank >= 2");
  int64_t M = a.shape[nd - 2], K = a.shape[nd - 1], N = b.shape[nd - 1];
  if (b.shape[nd - 2] != K || out.shape[nd - 2] != M || out.shape[nd - 1] != N)
    return fail(ctx, KILN_ERR_SHAPE, "matmul: inner dimensions disagree");
  if (a.dtype != b.dtype || out.dtype != a.dtype || (bias && bias->dtype != a.dtype))
    return fail(ctx, KILN_ERR_DTYPE, "matmul: dtypes disagree");
  if (out.strides[nd - 1] != 1 && N > 1) return fail(ctx, KILN_ERR_ARG, "matmul: output rows must be contiguous");
  if (bias && N > 1 && bias->strides[nd - 1] != 0 && bias->strides[nd - 1] != 1)
    return fail(ctx, KILN_ERR_ARG, "matmul: the bias's last stride must be 0 or 1");
  if (out.dtype == KILN_BOOL) return fail(ctx, KILN_ERR_DTYPE, "matmul: bool is not supported");
  bool floating =
      out.dtype == KILN_FLOAT32 || out.dtype == KILN_FLOAT64 || out.dtype == KILN_FLOAT16 || out.dtype == KILN_BFLOAT16;
  if (!floating && (o.act == GemmAct::Gelu || o.act == GemmAct::GeluTanh))
    return fail(ctx, KILN_ERR_DTYPE, "matmul: GELU needs a floating dtype");
  auto bs = batches(out, a, b, bias);
  if (bs.empty() || M == 0 || N == 0) return KILN_OK;
  if (out.dtype == KILN_FLOAT32) {
    matmul_f32(ctx, bs, geometry(M, N, K, out, a, b, bias, o), bias != nullptr);
    return KILN_OK;
  }
  if (out.dtype == KILN_FLOAT16 || out.dtype == KILN_BFLOAT16) {
    matmul_lowp(ctx, (kiln_dtype)out.dtype, bs, geometry(M, N, K, out, a, b, bias, o), bias != nullptr);
    return KILN_OK;
  }
  if (out.dtype == KILN_FLOAT64 && M > 1 && N > 1) {
    matmul_f64(ctx, bs, M, N, K, out, a, b, bias, o);
    return KILN_OK;
  }
  KILN_DISPATCH_ALL(out.dtype, return fail(ctx, KILN_ERR_DTYPE, "matmul: bad dtype"),
                    matmul_generic<scalar_t>(ctx, bs, M, N, K, out, a, b, bias, o));
  return KILN_OK;
}

}  // namespace kiln::cpu
