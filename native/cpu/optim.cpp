// Fused optimizer steps (kiln_optim_step in kiln.h): one pass per element over the parameter, its
// gradient and its state, for every tensor of a parameter group in one call. The update rules are
// PyTorch's (torch.optim, single-tensor forms), in the parameter's dtype with the scalars rounded
// to it. Work is cut into fixed element ranges of each tensor, so the result does not depend on
// the thread count; loops are plain C++ over __restrict pointers, which the compiler vectorises.
//
// hyper layout, by kind:
//   SGD:     lr, momentum, dampening, weight_decay, nesterov, maximize
//   Adam:    lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled (AdamW)
//   Adagrad: lr, lr_decay, weight_decay, eps, maximize
//   RMSprop: lr, alpha, eps, weight_decay, momentum, centered, maximize
// state: SGD [momentum_buffer]; Adam [exp_avg, exp_avg_sq, max_exp_avg_sq]; Adagrad [sum];
// RMSprop [square_avg, momentum_buffer, grad_avg]. A state buffer the options do not use may be null.
#include <cmath>
#include <exception>
#include <new>
#include <type_traits>
#include <vector>

#include "../core/context.h"
#include "../core/thread_pool.h"
#include "arch/isa.h"
#include "kiln.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kChunk = 1 << 15;  // elements per task

// The gradient a rule steps along: negated to maximize, plus L2 weight decay.
template <class T>
inline T grad_at(const T *g, const T *p, int64_t i, bool maximize, T wd) {
  T d = maximize ? -g[i] : g[i];
  return wd != 0 ? d + wd * p[i] : d;
}

template <class T>
struct Sgd {
  T lr, momentum, dampening, wd;
  bool nesterov, maximize;
  void operator()(const kiln_optim_item &it, int64_t b, int64_t e) const {
    T *__restrict p = (T *)it.param;
    const T *__restrict g = (const T *)it.grad;
    T *__restrict buf = (T *)it.state[0];
    const bool first = it.step == 1;
    for (int64_t i = b; i < e; i++) {
      T d = grad_at(g, p, i, maximize, wd);
      if (momentum != 0) {
        T m = first ? d : momentum * buf[i] + (1 - dampening) * d;
        buf[i] = m;
        d = nesterov ? d + momentum * m : m;
      }
      p[i] -= lr * d;
    }
  }
};

template <class T>
struct Adam {
  T lr, beta1, beta2, eps, wd;
  bool amsgrad, maximize, decoupled;
  void operator()(const kiln_optim_item &it, int64_t b, int64_t e) const {
    T *__restrict p = (T *)it.param;
    const T *__restrict g = (const T *)it.grad;
    T *__restrict m = (T *)it.state[0];
    T *__restrict v = (T *)it.state[1];
    T *__restrict vmax = (T *)it.state[2];
    const double t = (double)it.step;
    const T bc1 = (T)(1 - std::pow((double)beta1, t)), bc2_sqrt = (T)std::sqrt(1 - std::pow((double)beta2, t));
    const T step_size = lr / bc1, decay = 1 - lr * wd;
    for (int64_t i = b; i < e; i++) {
      T d = maximize ? -g[i] : g[i];
      T w = p[i];
      if (wd != 0) {
        if (decoupled)
          w *= decay;
        else
          d += wd * w;
      }
      T mi = beta1 * m[i] + (1 - beta1) * d;
      T vi = beta2 * v[i] + (1 - beta2) * d * d;
      m[i] = mi;
      v[i] = vi;
      if (amsgrad) {
        vi = vi > vmax[i] ? vi : vmax[i];
        vmax[i] = vi;
      }
      T denom = std::sqrt(vi) / bc2_sqrt + eps;
      p[i] = w - step_size * mi / denom;
    }
  }
};

// float32 Adam on the ISA's vectors (arch/optim.inc), the same rule as Adam<float>.
struct AdamVec {
  const IsaKernels *isa;
  float lr, beta1, beta2, eps, wd;
  bool amsgrad, maximize, decoupled;
  void operator()(const kiln_optim_item &it, int64_t b, int64_t e) const {
    const double t = (double)it.step;
    AdamScalars s{beta1,
                  beta2,
                  eps,
                  wd,
                  lr / (float)(1 - std::pow((double)beta1, t)),
                  (float)std::sqrt(1 - std::pow((double)beta2, t)),
                  1 - lr * wd,
                  amsgrad,
                  decoupled,
                  maximize};
    float *p = (float *)it.param + b;
    const float *g = (const float *)it.grad + b;
    float *m = (float *)it.state[0] + b, *v = (float *)it.state[1] + b;
    float *vmax = amsgrad ? (float *)it.state[2] + b : nullptr;
    isa->adam_f32(p, g, m, v, vmax, e - b, s);
  }
};

template <class T>
struct Adagrad {
  T lr, lr_decay, wd, eps;
  bool maximize;
  void operator()(const kiln_optim_item &it, int64_t b, int64_t e) const {
    T *__restrict p = (T *)it.param;
    const T *__restrict g = (const T *)it.grad;
    T *__restrict sum = (T *)it.state[0];
    const T clr = lr / (1 + (T)(it.step - 1) * lr_decay);
    for (int64_t i = b; i < e; i++) {
      T d = grad_at(g, p, i, maximize, wd);
      T s = sum[i] + d * d;
      sum[i] = s;
      p[i] -= clr * d / (std::sqrt(s) + eps);
    }
  }
};

template <class T>
struct Rmsprop {
  T lr, alpha, eps, wd, momentum;
  bool centered, maximize;
  void operator()(const kiln_optim_item &it, int64_t b, int64_t e) const {
    T *__restrict p = (T *)it.param;
    const T *__restrict g = (const T *)it.grad;
    T *__restrict sq = (T *)it.state[0];
    T *__restrict buf = (T *)it.state[1];
    T *__restrict ga = (T *)it.state[2];
    for (int64_t i = b; i < e; i++) {
      T d = grad_at(g, p, i, maximize, wd);
      T s = alpha * sq[i] + (1 - alpha) * d * d;
      sq[i] = s;
      T avg;
      if (centered) {
        T a = alpha * ga[i] + (1 - alpha) * d;
        ga[i] = a;
        avg = std::sqrt(s - a * a) + eps;
      } else {
        avg = std::sqrt(s) + eps;
      }
      if (momentum > 0) {
        T m = momentum * buf[i] + d / avg;
        buf[i] = m;
        p[i] -= lr * m;
      } else {
        p[i] -= lr * d / avg;
      }
    }
  }
};

template <class Rule>
void run(kiln_context *ctx, const Rule &rule, const kiln_optim_item *items, int n) {
  struct Task {
    int item;
    int64_t b, e;
  };
  std::vector<Task> tasks;
  for (int i = 0; i < n; i++)
    for (int64_t b = 0; b < items[i].numel; b += kChunk)
      tasks.push_back({i, b, b + kChunk < items[i].numel ? b + kChunk : items[i].numel});
  // Consecutive ranges per parallel task (stream_grain): each thread's share is long streams.
  const int64_t ntasks = (int64_t)tasks.size();
  parallel_for(ctx->pool.get(), ntasks, stream_grain_rows(ctx->pool.get(), ntasks, kChunk, kChunk),
               [&](int64_t s, int64_t e) {
                 for (int64_t t = s; t < e; t++) rule(items[tasks[t].item], tasks[t].b, tasks[t].e);
               });
}

template <class T>
kiln_status step(kiln_context *ctx, kiln_optim kind, const kiln_optim_item *items, int n, const double *h, int nh) {
  auto need = [&](int k) { return nh >= k; };
  switch (kind) {
    case KILN_OPTIM_SGD:
      if (!need(6)) break;
      run(ctx, Sgd<T>{(T)h[0], (T)h[1], (T)h[2], (T)h[3], h[4] != 0, h[5] != 0}, items, n);
      return KILN_OK;
    case KILN_OPTIM_ADAM:
      if (!need(8)) break;
      if constexpr (std::is_same_v<T, float>) {
        run(ctx,
            AdamVec{isa_kernels(ctx->isa), (T)h[0], (T)h[1], (T)h[2], (T)h[3], (T)h[4], h[5] != 0, h[6] != 0,
                    h[7] != 0},
            items, n);
        return KILN_OK;
      }
      run(ctx, Adam<T>{(T)h[0], (T)h[1], (T)h[2], (T)h[3], (T)h[4], h[5] != 0, h[6] != 0, h[7] != 0}, items, n);
      return KILN_OK;
    case KILN_OPTIM_ADAGRAD:
      if (!need(5)) break;
      run(ctx, Adagrad<T>{(T)h[0], (T)h[1], (T)h[2], (T)h[3], h[4] != 0}, items, n);
      return KILN_OK;
    case KILN_OPTIM_RMSPROP:
      if (!need(7)) break;
      run(ctx, Rmsprop<T>{(T)h[0], (T)h[1], (T)h[2], (T)h[3], (T)h[4], h[5] != 0, h[6] != 0}, items, n);
      return KILN_OK;
  }
  return fail(ctx, KILN_ERR_ARG, "optim_step: unknown optimizer %d or too few hyperparameters (%d)", (int)kind, nh);
}

}  // namespace

}  // namespace kiln::cpu

extern "C" kiln_status kiln_optim_step(kiln_context *ctx, kiln_optim kind, kiln_dtype dtype,
                                       const kiln_optim_item *items, int n, const double *hyper, int nhyper) {
  if (!ctx) return KILN_ERR_INTERNAL;
  if (n < 0 || (n > 0 && !items) || !hyper) return kiln::fail(ctx, KILN_ERR_ARG, "optim_step: bad item list");
  for (int i = 0; i < n; i++) {
    const kiln_optim_item &it = items[i];
    if (it.numel < 0 || it.step < 1 || (it.numel > 0 && (!it.param || !it.grad)))
      return kiln::fail(ctx, KILN_ERR_ARG, "optim_step: item %d has no parameter/gradient memory or a bad step", i);
  }
  try {
    if (dtype == KILN_FLOAT32) return kiln::cpu::step<float>(ctx, kind, items, n, hyper, nhyper);
    if (dtype == KILN_FLOAT64) return kiln::cpu::step<double>(ctx, kind, items, n, hyper, nhyper);
    return kiln::fail(ctx, KILN_ERR_DTYPE, "optim_step: parameters must be float32 or float64");
  } catch (const std::bad_alloc &) {
    return kiln::fail(ctx, KILN_ERR_OOM, "optim_step: out of memory");
  } catch (const std::exception &e) {
    return kiln::fail(ctx, KILN_ERR_INTERNAL, "optim_step: %s", e.what());
  }
}
