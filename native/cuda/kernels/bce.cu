// Binary cross-entropy with logits over flat, contiguous operands of one float dtype, as
// native/cpu/bce.cpp (the same formulas in the compute type: float for float32 and the half types,
// double for float64):
//   forward   reduce 0: o = l elementwise; reduce 1: block b sums chunk b (kChunk elements, in
//             double) into part[b], and one thread adds the chunks in order, times scale, so the
//             result is deterministic;
//   backward  gx = g w ((1 - t) - c sigmoid(-x)), g elementwise or g[0] * scale.
#include "rows.h"
#include "rows_common.cuh"

namespace kiln::cuda {

namespace {

using namespace rows;

constexpr int64_t kChunk = 4096;
constexpr int kBlock = 256;

__device__ __forceinline__ float d_exp(float x) { return expf(x); }
__device__ __forceinline__ double d_exp(double x) { return exp(x); }
__device__ __forceinline__ float d_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double d_log1p(double x) { return log1p(x); }

template <class T>
struct Ops {
  const T *x, *t, *pw, *w;
};

template <class C, class T>
__device__ __forceinline__ C bce_loss(const Ops<T> &a, int64_t i) {
  const C x = (C)load(a.x[i]), t = (C)load(a.t[i]);
  const C c = a.pw ? (C)1 + ((C)load(a.pw[i]) - (C)1) * t : (C)1;
  const C sp = (x < 0 ? -x : (C)0) + d_log1p(d_exp(x < 0 ? x : -x));  // softplus(-x)
  const C l = ((C)1 - t) * x + c * sp;
  return a.w ? l * (C)load(a.w[i]) : l;
}

template <class T>
__global__ void __launch_bounds__(kBlock) bce_loss_kernel(T *__restrict__ o, Ops<T> a, int64_t n) {
  using C = compute_t<T>;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    o[i] = store<T>(bce_loss<C>(a, i));
}

template <class T>
__global__ void __launch_bounds__(kBlock)
    bce_sum_kernel(double *__restrict__ part, Ops<T> a, int64_t n, int64_t chunks) {
  using C = compute_t<T>;
  __shared__ double shd[32];
  for (int64_t b = blockIdx.x; b < chunks; b += gridDim.x) {
    const int64_t i0 = b * kChunk, i1 = i0 + kChunk < n ? i0 + kChunk : n;
    double s = 0;
    for (int64_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) s += (double)bce_loss<C>(a, i);
    s = block_sum(s, shd);
    if (threadIdx.x == 0) part[b] = s;
  }
}

template <class T>
__global__ void bce_total_kernel(T *__restrict__ o, const double *__restrict__ part, int64_t chunks, double scale) {
  double s = 0;
  for (int64_t b = 0; b < chunks; b++) s += part[b];
  o[0] = store<T>(s * scale);
}

template <class T>
__global__ void __launch_bounds__(kBlock)
    bce_grad_kernel(T *__restrict__ gx, const T *__restrict__ g, double scale, Ops<T> a, int64_t n, bool scalar_g) {
  using C = compute_t<T>;
  const C gs = scalar_g ? (C)((double)load(g[0]) * scale) : (C)0;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const C x = (C)load(a.x[i]), t = (C)load(a.t[i]);
    const C c = a.pw ? (C)1 + ((C)load(a.pw[i]) - (C)1) * t : (C)1;
    const C s = (C)1 / ((C)1 + d_exp(x));  // sigmoid(-x)
    C gi = scalar_g ? gs : (C)load(g[i]);
    if (a.w) gi *= (C)load(a.w[i]);
    gx[i] = store<T>(gi * (((C)1 - t) - c * s));
  }
}

int64_t numel_of(const kiln_tensor &t) {
  int64_t n = 1;
  for (int d = 0; d < t.ndim; d++) n *= t.shape[d];
  return n;
}

kiln_status check(const Launch &L, const char *op, const kiln_tensor &x, const kiln_tensor *const *ts,
                  const char *const *names, int k) {
  if (!contiguous(x)) return fail(L, KILN_ERR_SHAPE, "%s: the input must be contiguous", op);
  if (!dtype_is_float(x.dtype)) return fail(L, KILN_ERR_DTYPE, "%s: needs a floating dtype", op);
  for (int i = 0; i < k; i++) {
    if (!ts[i]) continue;
    if (numel_of(*ts[i]) != numel_of(x) || !contiguous(*ts[i]))
      return fail(L, KILN_ERR_SHAPE, "%s: %s must be contiguous with the input's elements", op, names[i]);
    if (ts[i]->dtype != x.dtype) return fail(L, KILN_ERR_DTYPE, "%s: %s has a different dtype", op, names[i]);
  }
  return KILN_OK;
}

template <class T>
Ops<T> ops_of(const kiln_tensor &x, const kiln_tensor &t, const kiln_tensor *pw, const kiln_tensor *w) {
  return Ops<T>{(const T *)x.data, (const T *)t.data, pw ? (const T *)pw->data : nullptr,
                w ? (const T *)w->data : nullptr};
}

template <class T>
kiln_status forward_typed(const Launch &L, const kiln_tensor &o, const Ops<T> &a, int64_t n, bool reduce,
                          double scale) {
  const char *op = "bce_with_logits";
  if (!reduce) {
    if (n == 0) return KILN_OK;
    bce_loss_kernel<T><<<grid_for(n, kBlock), kBlock, 0, L.stream>>>((T *)o.data, a, n);
    return check_launch(L, op, "bce_loss_kernel");
  }
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  Scratch sc(L, (size_t)(chunks > 0 ? chunks : 1) * sizeof(double));
  if (!sc.ptr) return fail(L, KILN_ERR_OOM, "%s: no scratch for the partial sums", op);
  if (chunks > 0) {
    bce_sum_kernel<T>
        <<<grid_for(chunks, 1, (unsigned)L.sm_count * 16u), kBlock, 0, L.stream>>>(sc.as<double>(), a, n, chunks);
    if (kiln_status st = check_launch(L, op, "bce_sum_kernel")) return st;
  }
  bce_total_kernel<T><<<1, 1, 0, L.stream>>>((T *)o.data, sc.as<double>(), chunks, scale);
  return check_launch(L, op, "bce_total_kernel");
}

}  // namespace

kiln_status bce_with_logits_cuda(const Launch &L, const kiln_tensor &o, const kiln_tensor &x, const kiln_tensor &t,
                                 const kiln_tensor *pw, const kiln_tensor *w, bool reduce, double scale) {
  const char *op = "bce_with_logits";
  const kiln_tensor *ts[4] = {&t, pw, w, reduce ? nullptr : &o};
  const char *names[4] = {"target", "pos_weight", "weight", "the output"};
  if (kiln_status st = check(L, op, x, ts, names, 4)) return st;
  if (reduce && (numel_of(o) != 1 || o.dtype != x.dtype))
    return fail(L, KILN_ERR_SHAPE, "%s: a reduced output must be one element of the input's dtype", op);
  const int64_t n = numel_of(x);
  KILN_DISPATCH_FLOAT(x.dtype, return fail(L, KILN_ERR_DTYPE, "%s: needs a floating dtype", op),
                      { return forward_typed<scalar_t>(L, o, ops_of<scalar_t>(x, t, pw, w), n, reduce, scale); });
}

kiln_status bce_with_logits_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &g,
                                          const kiln_tensor &x, const kiln_tensor &t, const kiln_tensor *pw,
                                          const kiln_tensor *w, bool scalar_g, double scale) {
  const char *op = "bce_with_logits_backward";
  const kiln_tensor *ts[4] = {&t, pw, w, &gx};
  const char *names[4] = {"target", "pos_weight", "weight", "grad_input"};
  if (kiln_status st = check(L, op, x, ts, names, 4)) return st;
  if (scalar_g ? numel_of(g) != 1 : (numel_of(g) != numel_of(x) || !contiguous(g)))
    return fail(L, KILN_ERR_SHAPE, "%s: grad_output must be one element or contiguous with the input's", op);
  if (g.dtype != x.dtype) return fail(L, KILN_ERR_DTYPE, "%s: grad_output has a different dtype", op);
  const int64_t n = numel_of(x);
  if (n == 0) return KILN_OK;
  KILN_DISPATCH_FLOAT(x.dtype, return fail(L, KILN_ERR_DTYPE, "%s: needs a floating dtype", op), {
    bce_grad_kernel<scalar_t><<<grid_for(n, kBlock), kBlock, 0, L.stream>>>(
        (scalar_t *)gx.data, (const scalar_t *)g.data, scale, ops_of<scalar_t>(x, t, pw, w), n, scalar_g);
    return check_launch(L, op, "bce_grad_kernel");
  });
}

}  // namespace kiln::cuda
