// GELU (erf and tanh forms) and SiLU, forward and backward (gx = gy * f'(x)), elementwise over
// strided operands of any floating dtype, mirroring native/cpu/activation.cpp: the same formulas
// in the compute type (float for float32 and the half types, double for float64). Contiguous
// operands whose pointers are 16-byte aligned take a vector kernel (16-byte loads and stores, a
// few independent loads in flight per thread); everything else takes the strided kernel.
// Bench: native/cuda/test/nn_test.cu ("gelu_f32" against the device copy).
#include "nn.h"
#include "nn_common.cuh"

namespace kiln::cuda {

namespace {

using nn::EwPlan;

__device__ __forceinline__ float d_erf(float x) { return erff(x); }
__device__ __forceinline__ double d_erf(double x) { return erf(x); }
__device__ __forceinline__ float d_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double d_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float d_exp(float x) { return expf(x); }
__device__ __forceinline__ double d_exp(double x) { return exp(x); }
__device__ __forceinline__ float d_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double d_abs(double x) { return fabs(x); }

// activation.cpp's act_ref / act_grad_ref, on the device.
template <int ACT, class C>
__device__ __forceinline__ C act_f(C x) {
  const C half = (C)0.5, one = (C)1;
  if constexpr (ACT == (int)NnAct::Gelu) {
    return x * half * (one + d_erf(x * (C)0.70710678118654752440));
  } else if constexpr (ACT == (int)NnAct::GeluTanh) {
    return half * x * (one + d_tanh((C)0.79788456080286535588 * (x + (C)0.044715 * x * x * x)));
  } else {
    return x / (one + d_exp(-x));
  }
}

template <int ACT, class C>
__device__ __forceinline__ C act_grad_f(C gy, C x) {
  const C half = (C)0.5, one = (C)1;
  if constexpr (ACT == (int)NnAct::Gelu) {
    C cdf = half * (one + d_erf(x * (C)0.70710678118654752440));
    C pdf = d_exp((C)-0.5 * x * x) * (C)0.39894228040143267794;
    return gy * (cdf + x * pdf);
  } else if constexpr (ACT == (int)NnAct::GeluTanh) {
    const C beta = (C)0.79788456080286535588, kappa = (C)0.044715;
    C u = beta * (x + kappa * x * x * x);
    C e = d_exp((C)-2 * d_abs(u));  // 1 - tanh(u)^2 = 4e / (1 + e)^2, no cancellation
    C din = beta * (one + (C)3 * kappa * x * x);
    return gy * (half * (one + d_tanh(u)) + half * x * ((C)4 * e / ((one + e) * (one + e))) * din);
  } else {
    C s = one / (one + d_exp(-x));
    return gy * s * (one + x * (one - s));
  }
}

constexpr int kUnroll = 4;  // independent 16-byte loads per operand in flight per thread

// Contiguous, 16-byte aligned: vectors of W elements, then the tail (< W elements) one by one.
template <class T, int ACT>
__global__ void act_forward_vec_kernel(T *out, const T *x, int64_t n) {
  using V = nn::Vec16<T>;
  using C = compute_t<T>;
  constexpr int W = V::N;
  const int64_t nv = n / W, stride = (int64_t)gridDim.x * blockDim.x;
  const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (int64_t base = tid; base < nv; base += stride * kUnroll) {
    V a[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; u++)
      if (base + u * stride < nv) a[u] = ((const V *)x)[base + u * stride];
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      if (base + u * stride >= nv) break;
      V o;
#pragma unroll
      for (int j = 0; j < W; j++) o.v[j] = store<T>(act_f<ACT>((C)load(a[u].v[j])));
      ((V *)out)[base + u * stride] = o;
    }
  }
  for (int64_t i = nv * W + tid; i < n; i += stride) out[i] = store<T>(act_f<ACT>((C)load(x[i])));
}

template <class T, int ACT>
__global__ void act_backward_vec_kernel(T *gx, const T *gy, const T *x, int64_t n) {
  using V = nn::Vec16<T>;
  using C = compute_t<T>;
  constexpr int W = V::N;
  constexpr int U = kUnroll / 2;  // two input streams
  const int64_t nv = n / W, stride = (int64_t)gridDim.x * blockDim.x;
  const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (int64_t base = tid; base < nv; base += stride * U) {
    V g[U], a[U];
#pragma unroll
    for (int u = 0; u < U; u++)
      if (base + u * stride < nv) {
        g[u] = ((const V *)gy)[base + u * stride];
        a[u] = ((const V *)x)[base + u * stride];
      }
#pragma unroll
    for (int u = 0; u < U; u++) {
      if (base + u * stride >= nv) break;
      V o;
#pragma unroll
      for (int j = 0; j < W; j++) o.v[j] = store<T>(act_grad_f<ACT>((C)load(g[u].v[j]), (C)load(a[u].v[j])));
      ((V *)gx)[base + u * stride] = o;
    }
  }
  for (int64_t i = nv * W + tid; i < n; i += stride) gx[i] = store<T>(act_grad_f<ACT>((C)load(gy[i]), (C)load(x[i])));
}

template <class T, int ACT>
__global__ void act_forward_strided_kernel(T *out, const T *x, const __grid_constant__ EwPlan<2> p) {
  using C = compute_t<T>;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < p.numel; i += stride) {
    int64_t off[2];
    nn::ew_offsets(p, i, off);
    out[off[0]] = store<T>(act_f<ACT>((C)load(x[off[1]])));
  }
}

template <class T, int ACT>
__global__ void act_backward_strided_kernel(T *gx, const T *gy, const T *x, const __grid_constant__ EwPlan<3> p) {
  using C = compute_t<T>;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < p.numel; i += stride) {
    int64_t off[3];
    nn::ew_offsets(p, i, off);
    gx[off[0]] = store<T>(act_grad_f<ACT>((C)load(gy[off[1]]), (C)load(x[off[2]])));
  }
}

template <class T, int ACT>
void launch_forward(const Launch &L, const kiln_tensor &out, const kiln_tensor &x, const EwPlan<2> &p) {
  if (nn::plan_contiguous(p) && nn::aligned16(out.data) && nn::aligned16(x.data)) {
    static const int occ = nn::blocks_per_sm(act_forward_vec_kernel<T, ACT>, nn::kEwThreads);
    const int64_t nv = p.numel / nn::Vec16<T>::N;
    act_forward_vec_kernel<T, ACT><<<nn::ew_grid(L, nv > 0 ? nv : p.numel, occ), nn::kEwThreads, 0, L.stream>>>(
        (T *)out.data, (const T *)x.data, p.numel);
  } else {
    static const int occ = nn::blocks_per_sm(act_forward_strided_kernel<T, ACT>, nn::kEwThreads);
    act_forward_strided_kernel<T, ACT>
        <<<nn::ew_grid(L, p.numel, occ), nn::kEwThreads, 0, L.stream>>>((T *)out.data, (const T *)x.data, p);
  }
}

template <class T, int ACT>
void launch_backward(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gy, const kiln_tensor &x,
                     const EwPlan<3> &p) {
  if (nn::plan_contiguous(p) && nn::aligned16(gx.data) && nn::aligned16(gy.data) && nn::aligned16(x.data)) {
    static const int occ = nn::blocks_per_sm(act_backward_vec_kernel<T, ACT>, nn::kEwThreads);
    const int64_t nv = p.numel / nn::Vec16<T>::N;
    act_backward_vec_kernel<T, ACT><<<nn::ew_grid(L, nv > 0 ? nv : p.numel, occ), nn::kEwThreads, 0, L.stream>>>(
        (T *)gx.data, (const T *)gy.data, (const T *)x.data, p.numel);
  } else {
    static const int occ = nn::blocks_per_sm(act_backward_strided_kernel<T, ACT>, nn::kEwThreads);
    act_backward_strided_kernel<T, ACT><<<nn::ew_grid(L, p.numel, occ), nn::kEwThreads, 0, L.stream>>>(
        (T *)gx.data, (const T *)gy.data, (const T *)x.data, p);
  }
}

template <class T>
void forward(const Launch &L, const kiln_tensor &out, const kiln_tensor &x, const EwPlan<2> &p, NnAct act) {
  switch (act) {
    case NnAct::Gelu: return launch_forward<T, (int)NnAct::Gelu>(L, out, x, p);
    case NnAct::GeluTanh: return launch_forward<T, (int)NnAct::GeluTanh>(L, out, x, p);
    case NnAct::Silu: return launch_forward<T, (int)NnAct::Silu>(L, out, x, p);
  }
}

template <class T>
void backward(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gy, const kiln_tensor &x, const EwPlan<3> &p,
              NnAct act) {
  switch (act) {
    case NnAct::Gelu: return launch_backward<T, (int)NnAct::Gelu>(L, gx, gy, x, p);
    case NnAct::GeluTanh: return launch_backward<T, (int)NnAct::GeluTanh>(L, gx, gy, x, p);
    case NnAct::Silu: return launch_backward<T, (int)NnAct::Silu>(L, gx, gy, x, p);
  }
}

const char *act_name(NnAct act, bool bwd) {
  if (act == NnAct::Silu) return bwd ? "silu_backward" : "silu";
  return bwd ? "gelu_backward" : "gelu";
}

bool known(NnAct act) { return act == NnAct::Gelu || act == NnAct::GeluTanh || act == NnAct::Silu; }

}  // namespace

kiln_status act_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &x, NnAct act) {
  const char *op = act_name(act, false);
  if (!known(act)) return fail(L, KILN_ERR_ARG, "%s: unknown activation %d", op, (int)act);
  if (out.dtype != x.dtype) return fail(L, KILN_ERR_DTYPE, "%s: output dtype differs from the input's", op);
  const kiln_tensor *ops[2] = {&out, &x};
  if (!nn::same_shapes(ops)) return fail(L, KILN_ERR_SHAPE, "%s: output shape differs from the input's", op);
  auto p = nn::ew_plan(ops);
  KILN_DISPATCH_FLOAT(x.dtype, return fail(L, KILN_ERR_DTYPE, "%s: needs a floating dtype", op), {
    if (p.numel == 0) return KILN_OK;
    forward<scalar_t>(L, out, x, p, act);
  });
  return check_launch(L, op, "act_forward_kernel");
}

kiln_status act_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gy, const kiln_tensor &x,
                              NnAct act) {
  const char *op = act_name(act, true);
  if (!known(act)) return fail(L, KILN_ERR_ARG, "%s: unknown activation %d", op, (int)act);
  if (gx.dtype != x.dtype || gy.dtype != x.dtype) return fail(L, KILN_ERR_DTYPE, "%s: operand dtypes differ", op);
  const kiln_tensor *ops[3] = {&gx, &gy, &x};
  if (!nn::same_shapes(ops)) return fail(L, KILN_ERR_SHAPE, "%s: operand shapes differ", op);
  auto p = nn::ew_plan(ops);
  KILN_DISPATCH_FLOAT(x.dtype, return fail(L, KILN_ERR_DTYPE, "%s: needs a floating dtype", op), {
    if (p.numel == 0) return KILN_OK;
    backward<scalar_t>(L, gx, gy, x, p, act);
  });
  return check_launch(L, op, "act_backward_kernel");
}

}  // namespace kiln::cuda
