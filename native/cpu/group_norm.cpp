// Group normalisation's backward over x viewed as [N, C, S] (contiguous; S = the spatial size), the
// C channels in G groups of C / G, each (sample, group) normalised over its L = C / G S elements
// with mean and biased variance from the forward ([N G] each, as batch_norm_stats over the
// [1, N G, L] view gives them):
//   sums   per row (n, c): sg = sum gy and sgx = sum gy (x - mean), in one read of gy and x
//          (kBlock pieces summed in the compute type, the pieces in double);
//   merge  per group, in double: A = sum_c w sg, B = sum_c w sgx, so that with rstd = (var + eps)^-1/2
//          gx = rstd w gy - rstd^3 B / L (x - mean) - rstd A / L, batch norm's apply form per row;
//          gw = sum_n rstd sgx and gb = sum_n sg, in order (thread-count independent);
//   apply  one pass for gx (batch_norm_loops.h's apply, coefficients per row).
// The composite it replaces (batch norm's gradient over the group view, then x-hat and two sums for
// gw and gb) read and wrote the tensor about 14 times; this reads gy and x twice and writes gx once.
#include <cmath>
#include <utility>
#include <vector>

#include "batch_norm_loops.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kBlock = 4096;  // elements of a row summed in the compute type before going to double
constexpr int64_t kGrainElems = 1 << 16;

template <class T>
kiln_status backward_typed(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gw, const kiln_tensor &gb,
                           const kiln_tensor &gy, const kiln_tensor &x, const kiln_tensor *w, const kiln_tensor &mean,
                           const kiln_tensor &var, int64_t G, double eps) {
  using C = compute_t<T>;
  const bn::Loops<T> L = bn::loops_for<T>(ctx);
  const int64_t N = x.shape[0], C_ = x.shape[1], S = x.shape[2], R = N * C_, per = C_ / G;
  const T *xp = (const T *)x.data, *gp = (const T *)gy.data, *mp = (const T *)mean.data, *vp = (const T *)var.data;
  const T *wp = w ? (const T *)w->data : nullptr;
  const auto group = [&](int64_t r) { return (r / C_) * G + (r % C_) / per; };
  std::vector<double> sg((size_t)R), sgx((size_t)R);
  const int64_t grain = S > 0 ? kGrainElems / S : R;
  parallel_for(ctx->pool.get(), R, grain < 1 ? 1 : grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) {
      const C m = load(mp[group(r)]);
      double a = 0, q = 0;
      for (int64_t s0 = 0; s0 < S; s0 += kBlock) {
        C pa, pq;
        L.grad_sums(gp + r * S + s0, xp + r * S + s0, S - s0 < kBlock ? S - s0 : kBlock, m, &pa, &pq);
        a += (double)pa;
        q += (double)pq;
      }
      sg[(size_t)r] = a;
      sgx[(size_t)r] = q;
    }
  });
  std::vector<C> cm((size_t)R), cb((size_t)R), ca((size_t)R), ck((size_t)R);
  const double Lg = (double)(per * S);
  for (int64_t q = 0; q < N * G; q++) {
    const double rstd = 1.0 / std::sqrt((double)load(vp[q]) + eps);
    const int64_t r0 = (q / G) * C_ + (q % G) * per;
    double A = 0, B = 0;
    for (int64_t r = r0; r < r0 + per; r++) {
      const double wc = wp ? (double)load(wp[r % C_]) : 1.0;
      A += wc * sg[(size_t)r];
      B += wc * sgx[(size_t)r];
    }
    for (int64_t r = r0; r < r0 + per; r++) {
      const double wc = wp ? (double)load(wp[r % C_]) : 1.0;
      cm[(size_t)r] = load(mp[q]);
      ca[(size_t)r] = (C)(rstd * wc);
      cb[(size_t)r] = (C)(Lg > 0 ? -rstd * rstd * rstd * B / Lg : 0);
      ck[(size_t)r] = (C)(Lg > 0 ? -rstd * A / Lg : 0);
      sgx[(size_t)r] *= rstd;  // gw's term
    }
  }
  for (int64_t c = 0; c < C_; c++) {
    double a = 0, q = 0;
    for (int64_t n = 0; n < N; n++) {
      a += sg[(size_t)(n * C_ + c)];
      q += sgx[(size_t)(n * C_ + c)];
    }
    ((T *)gb.data)[c] = store<T>(a);
    ((T *)gw.data)[c] = store<T>(q);
  }
  T *op = (T *)gx.data;
  parallel_for(ctx->pool.get(), R, grain < 1 ? 1 : grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++)
      L.apply(op + r * S, xp + r * S, gp + r * S, S, &cm[(size_t)r], &cb[(size_t)r], &ca[(size_t)r], &ck[(size_t)r], 0);
  });
  return KILN_OK;
}

}  // namespace

kiln_status group_norm_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gw,
                                    const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                    const kiln_tensor *w, const kiln_tensor &mean, const kiln_tensor &var, int64_t G,
                                    double eps) {
  if (x.ndim != 3 || !contiguous(x)) return fail(ctx, KILN_ERR_SHAPE, "the input must be a contiguous [N, C, S]");
  if (G < 1 || x.shape[1] % G != 0)
    return fail(ctx, KILN_ERR_ARG, "%lld channels do not split into %lld groups", (long long)x.shape[1], (long long)G);
  if (kiln_status st = bn::check_nd(ctx, gx, "grad_input", x)) return st;
  if (kiln_status st = bn::check_nd(ctx, gy, "grad_output", x)) return st;
  for (auto [t, name] : {std::pair{&gw, "grad_weight"}, {&gb, "grad_bias"}, {w, "weight"}})
    if (kiln_status st = bn::check_c(ctx, t, name, x)) return st;
  for (auto [t, name] : {std::pair{&mean, "mean"}, {&var, "var"}}) {
    if (t->ndim != 1 || t->shape[0] != x.shape[0] * G || (t->shape[0] > 1 && t->strides[0] != 1))
      return fail(ctx, KILN_ERR_SHAPE, "%s must be a contiguous [N G] tensor (N G = %lld)", name,
                  (long long)(x.shape[0] * G));
    if (t->dtype != x.dtype) return fail(ctx, KILN_ERR_DTYPE, "%s has a different dtype from the input", name);
  }
  KILN_DISPATCH_FLOAT(x.dtype, return fail(ctx, KILN_ERR_DTYPE, "needs a floating dtype"),
                      { return backward_typed<scalar_t>(ctx, gx, gw, gb, gy, x, w, mean, var, G, eps); });
}

}  // namespace kiln::cpu
