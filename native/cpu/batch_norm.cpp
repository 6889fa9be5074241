// Batch normalisation over x viewed as [N, C, S] (contiguous; S = the spatial size, 1 for [N, C]):
//   stats     per-channel mean and biased variance in one read of x: fixed chunks of about kBlock
//             elements of one channel are reduced twice while they sit in cache (sum, then squared
//             deviations from the chunk mean), and the chunks merge in order with Chan's formula in
//             float64, so no sum of squares is ever formed and the result is thread-count independent;
//   apply     y = w * invstd * (x - mean) + b in one pass (training and eval alike);
//   backward  gx = w * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)), gw = sum(gy * xhat),
//             gb = sum(gy): one read of gy and x for the sums (same chunks), one pass for gx. With
//             enough channels per thread a channel's gx follows its sums at once, reading its x
//             and gy again from cache rather than memory.
// With channels innermost (S = 1) chunks are blocks of rows and the loops run across channels.
// The inner loops are batch_norm_loops.h's (float32 on the ISA table).
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include "batch_norm_loops.h"
#include "cpu_ops.h"

namespace kiln::cpu {

namespace {

using bn::check_c;
using bn::check_nd;
using bn::Loops;
using bn::loops_for;

constexpr int64_t kBlock = 4096;        // elements per statistics chunk (16 KiB of float32)
constexpr int64_t kColBlock = 1 << 15;  // elements per chunk when channels are innermost (L2-sized)
constexpr int64_t kMinRows = 16;        // and at least this many rows
constexpr int64_t kGrainElems = 1 << 16;
// The backward runs one channel at a time (its sums, then its gx from cache) when there are at
// least this many channels per thread; with fewer, one channel's chunks are spread over threads.
constexpr int64_t kChannelsPerThread = 4;

// How the [N, C, S] elements of one channel split into chunks.
struct Chunks {
  int64_t N, C, S;
  bool cols;           // S == 1: a chunk is `rows` rows across all channels
  int64_t rows, segs;  // rows per chunk; segments per row (S > kBlock)
  int64_t per_channel;
  explicit Chunks(const kiln_tensor &x) : N(x.shape[0]), C(x.shape[1]), S(x.shape[2]) {
    cols = S == 1;
    if (cols) {
      rows = kColBlock / (C > 0 ? C : 1);
      if (rows < kMinRows) rows = kMinRows;
      segs = 1;
      per_channel = (N + rows - 1) / rows;
    } else {
      rows = S <= kBlock ? kBlock / S : 1;
      segs = S <= kBlock ? 1 : (S + kBlock - 1) / kBlock;
      per_channel = segs == 1 ? (N + rows - 1) / rows : N * segs;
    }
  }
  // Chunk j of a channel: rows [n0, n1) and the span [s0, s1) of each row.
  void range(int64_t j, int64_t *n0, int64_t *n1, int64_t *s0, int64_t *s1) const {
    if (segs == 1) {
      *n0 = j * rows;
      *n1 = *n0 + rows < N ? *n0 + rows : N;
      *s0 = 0;
      *s1 = S;
    } else {
      *n0 = j / segs;
      *n1 = *n0 + 1;
      *s0 = (j % segs) * kBlock;
      *s1 = *s0 + kBlock < S ? *s0 + kBlock : S;
    }
  }
};

// Per-chunk partial results of one channel, merged in chunk order.
struct Partial {
  double count, a, b;  // stats: count, mean, M2; backward: -, sum gy, sum gy (x - mean)
};

// Runs chunk(c, j, n0, n1, s0, s1) -> Partial for every chunk, in parallel (each chunk writes its own slot).
template <class F>
std::vector<Partial> over_chunks(kiln_context *ctx, const Chunks &ch, const F &chunk) {
  int64_t per = ch.cols ? ch.per_channel : ch.per_channel * ch.C;
  std::vector<Partial> part((size_t)(ch.cols ? per * ch.C : per));
  int64_t elems = ch.cols ? ch.rows * ch.C : (ch.segs == 1 ? ch.rows * ch.S : kBlock);
  int64_t grain = kGrainElems / (elems > 0 ? elems : 1);
  parallel_for(ctx->pool.get(), per, grain < 1 ? 1 : grain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      int64_t n0, n1, s0, s1;
      if (ch.cols) {
        ch.range(t, &n0, &n1, &s0, &s1);
        chunk(-1, t, n0, n1, s0, s1, &part[(size_t)(t * ch.C)]);
      } else {
        int64_t c = t / ch.per_channel, j = t % ch.per_channel;
        ch.range(j, &n0, &n1, &s0, &s1);
        chunk(c, j, n0, n1, s0, s1, &part[(size_t)t]);
      }
    }
  });
  return part;
}

// Partial of chunk j of channel c (channel-major in row mode, chunk-major in column mode).
const Partial &partial_at(const std::vector<Partial> &p, const Chunks &ch, int64_t c, int64_t j) {
  return ch.cols ? p[(size_t)(j * ch.C + c)] : p[(size_t)(c * ch.per_channel + j)];
}

template <class T>
kiln_status stats_typed(kiln_context *ctx, const kiln_tensor &mean, const kiln_tensor &var, const kiln_tensor &x) {
  using C = compute_t<T>;
  const Loops<T> L = loops_for<T>(ctx);
  const Chunks ch(x);
  const T *xp = (const T *)x.data;
  const int64_t C_ = ch.C, S = ch.S;
  auto part =
      over_chunks(ctx, ch, [&](int64_t c, int64_t, int64_t n0, int64_t n1, int64_t s0, int64_t s1, Partial *out) {
        if (ch.cols) {
          std::vector<C> acc((size_t)C_, (C)0), m2((size_t)C_, (C)0);
          for (int64_t n = n0; n < n1; n++) L.col_add(acc.data(), xp + n * C_, C_);
          const C cnt = (C)(n1 - n0);
          for (auto &v : acc) v /= cnt;
          for (int64_t n = n0; n < n1; n++) L.col_sq_dev(m2.data(), xp + n * C_, acc.data(), C_);
          for (int64_t k = 0; k < C_; k++) out[k] = Partial{(double)(n1 - n0), (double)acc[k], (double)m2[k]};
          return;
        }
        double s = 0;
        for (int64_t n = n0; n < n1; n++) s += (double)L.sum(xp + (n * C_ + c) * S + s0, s1 - s0);
        const double cnt = (double)((n1 - n0) * (s1 - s0));
        const C m = (C)(s / cnt);
        // each piece's squares (from cache) ask for the next chunk's piece in its place, which the
        // next sum then reads from cache (over_chunks hands a task consecutive chunks of a
        // channel): [16, 64, 128, 128] stats / copy_ 1.09 -> 0.88, alternating in one process
        const auto next = [&](int64_t n) -> const T * {
          if (ch.segs == 1) return n + ch.rows < ch.N ? xp + ((n + ch.rows) * C_ + c) * S : nullptr;
          if (s1 < S) return xp + (n * C_ + c) * S + s1;
          return n + 1 < ch.N ? xp + ((n + 1) * C_ + c) * S : nullptr;
        };
        double m2 = 0;
        for (int64_t n = n0; n < n1; n++) m2 += (double)L.sq_dev(xp + (n * C_ + c) * S + s0, s1 - s0, m, next(n));
        *out = Partial{cnt, (double)m, m2};
      });
  T *mo = (T *)mean.data, *vo = (T *)var.data;
  for (int64_t c = 0; c < C_; c++) {
    double n = 0, mu = 0, m2 = 0;
    for (int64_t j = 0; j < ch.per_channel; j++) {
      const Partial &p = partial_at(part, ch, c, j);
      double tot = n + p.count, d = p.a - mu;
      mu += d * (p.count / tot);
      m2 += p.b + d * d * (n * p.count / tot);
      n = tot;
    }
    mo[c] = store<T>(n > 0 ? mu : NAN);
    vo[c] = store<T>(n > 0 ? m2 / n : NAN);
  }
  return KILN_OK;
}

// Per-channel coefficients of o = b * (x - m) + a * g + k, in the compute type.
template <class C>
struct Coef {
  std::vector<C> m, b, a, k;
  explicit Coef(int64_t n) : m((size_t)n), b((size_t)n), a((size_t)n), k((size_t)n) {}
};

template <class T>
void apply_all(kiln_context *ctx, const Loops<T> &L, const Chunks &ch, T *o, const T *x, const T *g,
               const Coef<compute_t<T>> &cf) {
  const int64_t C_ = ch.C, S = ch.S;
  if (ch.cols) {
    int64_t grain = kGrainElems / (C_ > 0 ? C_ : 1);
    parallel_for(ctx->pool.get(), ch.N, grain < 1 ? 1 : grain, [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; n++)
        L.apply(o + n * C_, x + n * C_, g ? g + n * C_ : nullptr, C_, cf.m.data(), cf.b.data(), cf.a.data(),
                cf.k.data(), 1);
    });
    return;
  }
  int64_t grain = kGrainElems / (S > 0 ? S : 1);
  parallel_for(ctx->pool.get(), ch.N * C_, grain < 1 ? 1 : grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) {
      int64_t c = r % C_;
      L.apply(o + r * S, x + r * S, g ? g + r * S : nullptr, S, &cf.m[c], &cf.b[c], &cf.a[c], &cf.k[c], 0);
    }
  });
}

template <class T>
kiln_status apply_typed(kiln_context *ctx, const kiln_tensor &y, const kiln_tensor &x, const kiln_tensor *w,
                        const kiln_tensor *b, const kiln_tensor &mean, const kiln_tensor &var, double eps) {
  using C = compute_t<T>;
  const Chunks ch(x);
  Coef<C> cf(ch.C);
  for (int64_t c = 0; c < ch.C; c++) {
    double invstd = 1.0 / std::sqrt((double)load(((const T *)var.data)[c]) + eps);
    double wc = w ? (double)load(((const T *)w->data)[c]) : 1.0;
    cf.m[c] = load(((const T *)mean.data)[c]);
    cf.b[c] = (C)(wc * invstd);
    cf.a[c] = 0;
    cf.k[c] = b ? load(((const T *)b->data)[c]) : (C)0;
  }
  apply_all(ctx, loops_for<T>(ctx), ch, (T *)y.data, (const T *)x.data, (const T *)nullptr, cf);
  return KILN_OK;
}

// gx = a * (gy + b * (x - m)) + k for channel c from its sums: gb, gw and the coefficients.
template <class T>
struct BackwardCoef {
  using C = compute_t<T>;
  const kiln_tensor &gw, &gb, &var, *w;
  double eps, M;  // M: elements per channel
  void operator()(int64_t c, double sg, double sgx, C m, Coef<C> *cf) const {
    double invstd = 1.0 / std::sqrt((double)load(((const T *)var.data)[c]) + eps);
    double wc = w ? (double)load(((const T *)w->data)[c]) : 1.0;
    ((T *)gb.data)[c] = store<T>(sg);
    ((T *)gw.data)[c] = store<T>(sgx * invstd);
    double A = wc * invstd, mg = M > 0 ? sg / M : 0, mgx = M > 0 ? sgx * invstd / M : 0;
    cf->m[c] = m;
    cf->a[c] = (C)A;
    cf->b[c] = (C)(-A * invstd * mgx);
    cf->k[c] = (C)(-A * mg);
  }
};

// The sums of chunk [n0, n1) x [s0, s1) of channel c, as over_chunks' row-mode partials.
template <class T>
Partial grad_chunk(const Loops<T> &L, const Chunks &ch, const T *gp, const T *xp, compute_t<T> m, int64_t c, int64_t n0,
                   int64_t n1, int64_t s0, int64_t s1) {
  double a = 0, b = 0;
  for (int64_t n = n0; n < n1; n++) {
    compute_t<T> sg, sgx;
    int64_t at = (n * ch.C + c) * ch.S + s0;
    L.grad_sums(gp + at, xp + at, s1 - s0, m, &sg, &sgx);
    a += (double)sg;
    b += (double)sgx;
  }
  return Partial{0, a, b};
}

template <class T>
kiln_status backward_typed(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gw, const kiln_tensor &gb,
                           const kiln_tensor &gy, const kiln_tensor &x, const kiln_tensor *w, const kiln_tensor &mean,
                           const kiln_tensor &var, double eps) {
  using C = compute_t<T>;
  const Loops<T> L = loops_for<T>(ctx);
  const Chunks ch(x);
  const T *xp = (const T *)x.data, *gp = (const T *)gy.data, *mp = (const T *)mean.data;
  T *gxp = (T *)gx.data;
  const int64_t C_ = ch.C, S = ch.S;
  std::vector<C> mc((size_t)C_);
  for (int64_t c = 0; c < C_; c++) mc[c] = load(mp[c]);
  Coef<C> cf(C_);
  const BackwardCoef<T> coef{gw, gb, var, w, eps, (double)(ch.N * ch.S)};
  const int threads = ctx->pool ? ctx->pool->size() : 1;
  if (!ch.cols && C_ >= kChannelsPerThread * threads) {
    // One channel at a time: its sums, then its gx while its x and gy are still in cache, so
    // memory sees x and gy once. The chunks and their order are those of the path below: the
    // same bits.
    const int64_t grain = kGrainElems / std::max<int64_t>(1, ch.N * S);  // small inputs stay on one thread
    parallel_for(ctx->pool.get(), C_, std::max<int64_t>(1, grain), [&](int64_t cb, int64_t ce) {
      for (int64_t c = cb; c < ce; c++) {
        double sg = 0, sgx = 0;
        for (int64_t j = 0; j < ch.per_channel; j++) {
          int64_t n0, n1, s0, s1;
          ch.range(j, &n0, &n1, &s0, &s1);
          const Partial p = grad_chunk(L, ch, gp, xp, mc[c], c, n0, n1, s0, s1);
          sg += p.a;
          sgx += p.b;
        }
        coef(c, sg, sgx, mc[c], &cf);
        for (int64_t n = 0; n < ch.N; n++) {
          const int64_t r = n * C_ + c;
          L.apply(gxp + r * S, xp + r * S, gp + r * S, S, &cf.m[c], &cf.b[c], &cf.a[c], &cf.k[c], 0);
        }
      }
    });
    return KILN_OK;
  }
  auto part =
      over_chunks(ctx, ch, [&](int64_t c, int64_t, int64_t n0, int64_t n1, int64_t s0, int64_t s1, Partial *out) {
        if (ch.cols) {
          std::vector<C> sg((size_t)C_, (C)0), sgx((size_t)C_, (C)0);
          for (int64_t n = n0; n < n1; n++) L.col_grad(sg.data(), sgx.data(), gp + n * C_, xp + n * C_, mc.data(), C_);
          for (int64_t k = 0; k < C_; k++) out[k] = Partial{0, (double)sg[k], (double)sgx[k]};
          return;
        }
        *out = grad_chunk(L, ch, gp, xp, mc[c], c, n0, n1, s0, s1);
      });
  for (int64_t c = 0; c < C_; c++) {
    double sg = 0, sgx = 0;
    for (int64_t j = 0; j < ch.per_channel; j++) {
      const Partial &p = partial_at(part, ch, c, j);
      sg += p.a;
      sgx += p.b;
    }
    coef(c, sg, sgx, mc[c], &cf);
  }
  apply_all(ctx, L, ch, gxp, xp, gp, cf);
  return KILN_OK;
}

}  // namespace

kiln_status batch_norm_stats_cpu(kiln_context *ctx, const kiln_tensor &mean, const kiln_tensor &var,
                                 const kiln_tensor &x) {
  if (x.ndim != 3 || !contiguous(x)) return fail(ctx, KILN_ERR_SHAPE, "the input must be a contiguous [N, C, S]");
  if (kiln_status st = check_c(ctx, &mean, "mean", x)) return st;
  if (kiln_status st = check_c(ctx, &var, "var", x)) return st;
  KILN_DISPATCH_FLOAT(x.dtype, return fail(ctx, KILN_ERR_DTYPE, "needs a floating dtype"),
                      { return stats_typed<scalar_t>(ctx, mean, var, x); });
}

kiln_status batch_norm_cpu(kiln_context *ctx, const kiln_tensor &y, const kiln_tensor &x, const kiln_tensor *w,
                           const kiln_tensor *b, const kiln_tensor &mean, const kiln_tensor &var, double eps) {
  if (x.ndim != 3 || !contiguous(x)) return fail(ctx, KILN_ERR_SHAPE, "the input must be a contiguous [N, C, S]");
  if (kiln_status st = check_nd(ctx, y, "the output", x)) return st;
  for (auto [t, name] : {std::pair{w, "weight"}, {b, "bias"}, {&mean, "mean"}, {&var, "var"}})
    if (kiln_status st = check_c(ctx, t, name, x)) return st;
  KILN_DISPATCH_FLOAT(x.dtype, return fail(ctx, KILN_ERR_DTYPE, "needs a floating dtype"),
                      { return apply_typed<scalar_t>(ctx, y, x, w, b, mean, var, eps); });
}

kiln_status batch_norm_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gw,
                                    const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                    const kiln_tensor *w, const kiln_tensor &mean, const kiln_tensor &var, double eps) {
  if (x.ndim != 3 || !contiguous(x)) return fail(ctx, KILN_ERR_SHAPE, "the input must be a contiguous [N, C, S]");
  if (kiln_status st = check_nd(ctx, gx, "grad_input", x)) return st;
  if (kiln_status st = check_nd(ctx, gy, "grad_output", x)) return st;
  for (auto [t, name] :
       {std::pair{&gw, "grad_weight"}, {&gb, "grad_bias"}, {w, "weight"}, {&mean, "mean"}, {&var, "var"}})
    if (kiln_status st = check_c(ctx, t, name, x)) return st;
  KILN_DISPATCH_FLOAT(x.dtype, return fail(ctx, KILN_ERR_DTYPE, "needs a floating dtype"),
                      { return backward_typed<scalar_t>(ctx, gx, gw, gb, gy, x, w, mean, var, eps); });
}

}  // namespace kiln::cpu
