// Fused multi-tensor optimizer steps (kiln_optim_step, native/cpu/optim.cpp) over device memory:
// SGD (momentum, dampening, nesterov, weight decay), Adam/AdamW (amsgrad), Adagrad and RMSprop
// (centered, momentum), float32 and float64, with optim.cpp's hyperparameter layout and math (the
// step-dependent scalars are computed on the host exactly as the CPU computes them, in T).
//
// Multi-tensor: up to kItems tensors per launch travel in the kernel's parameter struct (pointers,
// sizes, per-item scalars and a prefix sum of their 16-byte vector counts); the kernel grid-strides
// over the concatenated vectors and finds each vector's tensor by binary search of the prefix.
// A vector whose tensor's buffers are all 16-byte aligned moves as 16-byte loads and stores; a
// tensor's tail (and any misaligned tensor) goes element by element. Every element is updated by
// one thread with the CPU's formula, so the result does not depend on the launch geometry.
// Bench: native/cuda/test/nn_test.cu ("adamw_f32", 28 bytes per parameter).
#include <cmath>

#include "nn.h"
#include "nn_common.cuh"

namespace kiln::cuda {

namespace {

constexpr int kItems = 48;  // tensors per launch: keeps the parameter struct under 4 KB
constexpr int kThreads = 256;

__device__ __forceinline__ float dsqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double dsqrt(double x) { return sqrt(x); }

template <class T>
struct ItemBatch {
  int n = 0;
  bool use[3] = {false, false, false};  // which state buffers the options read and write
  int64_t start[kItems + 1];            // prefix of each item's vector count (16 / sizeof(T) elements)
  T *p[kItems];
  const T *g[kItems];
  T *s[3][kItems];
  int64_t numel[kItems];
  T c0[kItems], c1[kItems];  // per-item scalars (step dependent)
  bool aligned[kItems];
};

// optim.cpp's rules, one element at a time. p, s0..s2: the element's parameter and state values.
template <class T>
struct SgdRule {
  T lr, momentum, dampening, wd;
  bool nesterov, maximize;
  __device__ __forceinline__ void operator()(T &p, T g, T &s0, T &, T &, T first, T) const {
    T d = maximize ? -g : g;
    if (wd != 0) d = d + wd * p;
    if (momentum != 0) {
      T m = first != 0 ? d : momentum * s0 + (1 - dampening) * d;
      s0 = m;
      d = nesterov ? d + momentum * m : m;
    }
    p -= lr * d;
  }
};

template <class T>
struct AdamRule {
  T beta1, beta2, eps, wd, decay;
  bool amsgrad, maximize, decoupled;
  __device__ __forceinline__ void operator()(T &p, T g, T &m, T &v, T &vmax, T step_size, T bc2_sqrt) const {
    T d = maximize ? -g : g;
    T w = p;
    if (wd != 0) {
      if (decoupled)
        w *= decay;
      else
        d += wd * w;
    }
    T mi = beta1 * m + (1 - beta1) * d;
    T vi = beta2 * v + (1 - beta2) * d * d;
    m = mi;
    v = vi;
    if (amsgrad) {
      vi = vi > vmax ? vi : vmax;
      vmax = vi;
    }
    T denom = dsqrt(vi) / bc2_sqrt + eps;
    p = w - step_size * mi / denom;
  }
};

template <class T>
struct AdagradRule {
  T wd, eps;
  bool maximize;
  __device__ __forceinline__ void operator()(T &p, T g, T &sum, T &, T &, T clr, T) const {
    T d = maximize ? -g : g;
    if (wd != 0) d = d + wd * p;
    T s = sum + d * d;
    sum = s;
    p -= clr * d / (dsqrt(s) + eps);
  }
};

template <class T>
struct RmspropRule {
  T lr, alpha, eps, wd, momentum;
  bool centered, maximize;
  __device__ __forceinline__ void operator()(T &p, T g, T &sq, T &buf, T &ga, T, T) const {
    T d = maximize ? -g : g;
    if (wd != 0) d = d + wd * p;
    T s = alpha * sq + (1 - alpha) * d * d;
    sq = s;
    T avg;
    if (centered) {
      T a = alpha * ga + (1 - alpha) * d;
      ga = a;
      avg = dsqrt(s - a * a) + eps;
    } else {
      avg = dsqrt(s) + eps;
    }
    if (momentum > 0) {
      T m = momentum * buf + d / avg;
      buf = m;
      p -= lr * m;
    } else {
      p -= lr * d / avg;
    }
  }
};

// Up to one vector's elements one by one (a tail, or a tensor that is not 16-byte aligned); kept
// out of line so the vector path's register budget does not pay for it.
template <class T, class Rule>
__device__ __noinline__ void step_elements(const ItemBatch<T> &b, const Rule &rule, int it, int64_t first) {
  constexpr int W = 16 / sizeof(T);
  T *p = b.p[it];
  const T *g = b.g[it];
  T *s0 = b.s[0][it], *s1 = b.s[1][it], *s2 = b.s[2][it];
  const T c0 = b.c0[it], c1 = b.c1[it];
  const int64_t n = b.numel[it], e1 = first + W < n ? first + W : n;
  for (int64_t e = first; e < e1; e++) {
    T x = p[e], a0 = b.use[0] ? s0[e] : T(0), a1 = b.use[1] ? s1[e] : T(0), a2 = b.use[2] ? s2[e] : T(0);
    rule(x, g[e], a0, a1, a2, c0, c1);
    p[e] = x;
    if (b.use[0]) s0[e] = a0;
    if (b.use[1]) s1[e] = a1;
    if (b.use[2]) s2[e] = a2;
  }
}

// U vectors per thread per iteration: all their loads are issued before any arithmetic, so U
// times as many bytes are in flight (the variants trade this against registers / occupancy).
template <class T, class Rule, int U>
__global__ void __launch_bounds__(kThreads, U == 1   ? 4
                                            : U == 2 ? 3
                                                     : 2)
    optim_step_kernel(const __grid_constant__ ItemBatch<T> b, const Rule rule) {
  using V = nn::Vec16<T>;
  constexpr int W = V::N;
  const int64_t total = b.start[b.n], stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t base = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; base < total; base += stride * U) {
    int item[U];
    int64_t first[U];  // the vector's first element in its item
    bool vec[U];
    V vp[U], vg[U], v0[U], v1[U], v2[U];
#pragma unroll
    for (int u = 0; u < U; u++) {
      const int64_t unit = base + u * stride;
      vec[u] = false;
      item[u] = -1;
      if (unit >= total) continue;
      int lo = 0, hi = b.n - 1;  // the last item whose prefix start is <= unit (items are never empty)
      while (lo < hi) {
        const int mid = (lo + hi + 1) >> 1;
        if (b.start[mid] <= unit)
          lo = mid;
        else
          hi = mid - 1;
      }
      item[u] = lo;
      first[u] = (unit - b.start[lo]) * W;
      vec[u] = b.aligned[lo] && first[u] + W <= b.numel[lo];
      if (vec[u]) {
        const int64_t q = first[u] / W;
        vp[u] = ((const V *)b.p[lo])[q];
        vg[u] = ((const V *)b.g[lo])[q];
        if (b.use[0]) v0[u] = ((const V *)b.s[0][lo])[q];
        if (b.use[1]) v1[u] = ((const V *)b.s[1][lo])[q];
        if (b.use[2]) v2[u] = ((const V *)b.s[2][lo])[q];
      }
    }
#pragma unroll
    for (int u = 0; u < U; u++) {
      const int it = item[u];
      if (it < 0) break;  // this and later units are past the end
      if (vec[u]) {
        const int64_t q = first[u] / W;
        const T c0 = b.c0[it], c1 = b.c1[it];
#pragma unroll
        for (int j = 0; j < W; j++) rule(vp[u].v[j], vg[u].v[j], v0[u].v[j], v1[u].v[j], v2[u].v[j], c0, c1);
        ((V *)b.p[it])[q] = vp[u];
        if (b.use[0]) ((V *)b.s[0][it])[q] = v0[u];
        if (b.use[1]) ((V *)b.s[1][it])[q] = v1[u];
        if (b.use[2]) ((V *)b.s[2][it])[q] = v2[u];
      } else {  // a tail shorter than a vector, or a tensor not 16-byte aligned
        step_elements(b, rule, it, first[u]);
      }
    }
  }
}

// Per-item scalars of each rule, exactly as optim.cpp computes them in T.
template <class T>
struct ItemScalars {
  kiln_optim kind;
  T lr, beta1, beta2, lr_decay;
  void operator()(const kiln_optim_item &it, T *c0, T *c1) const {
    *c0 = *c1 = 0;
    switch (kind) {
      case KILN_OPTIM_SGD: *c0 = it.step == 1 ? T(1) : T(0); break;
      case KILN_OPTIM_ADAM: {
        const double t = (double)it.step;
        *c0 = lr / (T)(1 - std::pow((double)beta1, t));
        *c1 = (T)std::sqrt(1 - std::pow((double)beta2, t));
        break;
      }
      case KILN_OPTIM_ADAGRAD: *c0 = lr / (1 + (T)(it.step - 1) * lr_decay); break;
      case KILN_OPTIM_RMSPROP: break;
    }
  }
};

template <class T, int U, class Rule>
kiln_status run_unrolled(const Launch &L, const Rule &rule, const ItemScalars<T> &sc, const bool (&use)[3],
                         const kiln_optim_item *items, int n) {
  constexpr int W = 16 / sizeof(T);
  static const int occ = nn::blocks_per_sm(optim_step_kernel<T, Rule, U>, kThreads);
  ItemBatch<T> b;
  for (int k = 0; k < 3; k++) b.use[k] = use[k];
  auto flush = [&]() -> kiln_status {
    if (b.n == 0) return KILN_OK;
    optim_step_kernel<T, Rule, U>
        <<<nn::ew_grid(L, (b.start[b.n] + U - 1) / U, occ, kThreads), kThreads, 0, L.stream>>>(b, rule);
    b.n = 0;
    return check_launch(L, "optim_step", "optim_step_kernel");
  };
  b.start[0] = 0;
  for (int i = 0; i < n; i++) {
    const kiln_optim_item &it = items[i];
    if (it.numel == 0) continue;
    const int j = b.n;
    b.p[j] = (T *)it.param;
    b.g[j] = (const T *)it.grad;
    bool al = nn::aligned16(it.param) && nn::aligned16(it.grad);
    for (int k = 0; k < 3; k++) {
      b.s[k][j] = use[k] ? (T *)it.state[k] : nullptr;
      if (use[k]) al = al && nn::aligned16(it.state[k]);
    }
    b.aligned[j] = al;
    b.numel[j] = it.numel;
    sc(it, &b.c0[j], &b.c1[j]);
    b.start[j + 1] = b.start[j] + (it.numel + W - 1) / W;
    b.n++;
    if (b.n == kItems) {
      if (kiln_status st = flush()) return st;
    }
  }
  return flush();
}

template <class T, class Rule>
kiln_status run(const Launch &L, int variant, const Rule &rule, const ItemScalars<T> &sc, const bool (&use)[3],
                const kiln_optim_item *items, int n) {
  switch (variant) {
    case 1: return run_unrolled<T, 1>(L, rule, sc, use, items, n);
    case 4: return run_unrolled<T, 4>(L, rule, sc, use, items, n);
    default: return run_unrolled<T, 2>(L, rule, sc, use, items, n);
  }
}

template <class T>
kiln_status step(const Launch &L, int variant, kiln_optim kind, const kiln_optim_item *items, int n, const double *h,
                 int nh) {
  bool use[3] = {false, false, false};
  ItemScalars<T> sc{kind, 0, 0, 0, 0};
  auto need_state = [&]() -> kiln_status {
    for (int i = 0; i < n; i++)
      for (int k = 0; k < 3; k++)
        if (use[k] && items[i].numel > 0 && !items[i].state[k])
          return fail(L, KILN_ERR_ARG, "optim_step: item %d lacks state buffer %d, which the options use", i, k);
    return KILN_OK;
  };
  switch (kind) {
    case KILN_OPTIM_SGD: {
      if (nh < 6) break;
      SgdRule<T> r{(T)h[0], (T)h[1], (T)h[2], (T)h[3], h[4] != 0, h[5] != 0};
      use[0] = r.momentum != 0;
      if (kiln_status st = need_state()) return st;
      return run<T>(L, variant, r, sc, use, items, n);
    }
    case KILN_OPTIM_ADAM: {
      if (nh < 8) break;
      const T lr = (T)h[0], wd = (T)h[4];
      AdamRule<T> r{(T)h[1], (T)h[2], (T)h[3], wd, (T)(1 - lr * wd), h[5] != 0, h[6] != 0, h[7] != 0};
      use[0] = use[1] = true;
      use[2] = r.amsgrad;
      sc.lr = lr, sc.beta1 = r.beta1, sc.beta2 = r.beta2;
      if (kiln_status st = need_state()) return st;
      return run<T>(L, variant, r, sc, use, items, n);
    }
    case KILN_OPTIM_ADAGRAD: {
      if (nh < 5) break;
      AdagradRule<T> r{(T)h[2], (T)h[3], h[4] != 0};
      use[0] = true;
      sc.lr = (T)h[0], sc.lr_decay = (T)h[1];
      if (kiln_status st = need_state()) return st;
      return run<T>(L, variant, r, sc, use, items, n);
    }
    case KILN_OPTIM_RMSPROP: {
      if (nh < 7) break;
      RmspropRule<T> r{(T)h[0], (T)h[1], (T)h[2], (T)h[3], (T)h[4], h[5] != 0, h[6] != 0};
      use[0] = true;
      use[1] = r.momentum > 0;
      use[2] = r.centered;
      if (kiln_status st = need_state()) return st;
      return run<T>(L, variant, r, sc, use, items, n);
    }
  }
  return fail(L, KILN_ERR_ARG, "optim_step: unknown optimizer %d or too few hyperparameters (%d)", (int)kind, nh);
}

}  // namespace

kiln_status optim_step_cuda(const Launch &L, kiln_optim kind, kiln_dtype dtype, const kiln_optim_item *items, int n,
                            const double *hyper, int nhyper) {
  return optim_step_variant_cuda(L, kOptimVariant, kind, dtype, items, n, hyper, nhyper);
}

kiln_status optim_step_variant_cuda(const Launch &L, int variant, kiln_optim kind, kiln_dtype dtype,
                                    const kiln_optim_item *items, int n, const double *hyper, int nhyper) {
  if (n < 0 || (n > 0 && !items) || !hyper) return fail(L, KILN_ERR_ARG, "optim_step: bad item list");
  for (int i = 0; i < n; i++) {
    const kiln_optim_item &it = items[i];
    if (it.numel < 0 || it.step < 1 || (it.numel > 0 && (!it.param || !it.grad)))
      return fail(L, KILN_ERR_ARG, "optim_step: item %d has no parameter/gradient memory or a bad step", i);
  }
  if (dtype == KILN_FLOAT32) return step<float>(L, variant, kind, items, n, hyper, nhyper);
  if (dtype == KILN_FLOAT64) return step<double>(L, variant, kind, items, n, hyper, nhyper);
  return fail(L, KILN_ERR_DTYPE, "optim_step: parameters must be float32 or float64");
}

}  // namespace kiln::cuda
