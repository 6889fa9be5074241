// Cross-entropy fused with log-softmax over the class dim of contiguous [rows, C] logits (or, for
// float32 with index targets and no smoothing, [N, C, d...] logits read in place: forward_cols), with
// class-index targets (int64, with ignore_index) or class-probability targets ([rows, C]), class
// weights and label smoothing, as torch.nn.functional.cross_entropy. Forward: per row the
// log-sum-exp and the loss, from one read of the row (the row stays in L1/L2 for its second pass):
//   indices: (1 - e) w[t] (lse - x[t]) + e / C sum_c w[c] (lse - x[c])
//   probabilities: sum_c w[c] ((1 - e) p[c] + e / C) (lse - x[c])
// with lse = m + ls (the row's max and log-sum) and lse - x[t] as (m - x[t]) + ls: for logits of
// 1e4 a float lse's own rounding is 5e-4, which that form keeps out of the loss, as PyTorch's
// log-softmax x - m - ls does; the gradient's lse is saved in float64 for float32 logits
// (SavedLse) for the same reason.
// plus the weight each row counts with in a mean (w[t], 0 when ignored), and, when gx is given,
// each row's gradient times a scale (training: the backward of a mean or sum then reads nothing
// again). Backward: the gradient from the logits and the saved lse, without stored probabilities:
//   g (A softmax(x)[j] - ((1 - e) p[j] + e / C) w[j]) with A = sum_c w[c] ((1 - e) p[c] + e / C)
// (indices: p is one-hot at t). Rows are independent, so results do not depend on the thread
// count. float32 runs the ISA's rows (arch/rows.inc); float64 the scalar loops here.
// Bench: `npx tsx ts/bench/cli.ts xent`.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <type_traits>
#include <vector>

#include "cpu_ops.h"
#include "prefetch.h"
#include "scratch.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kTaskElems = 1 << 14;        // elements per task, at least
constexpr int64_t kStreamTaskElems = 1 << 17;  // the forward's elements per task, at least
constexpr int64_t kChunkBytes = 16 << 10;      // float64's rows per lse chunk, in bytes of logits
constexpr int64_t kTargetAhead = 64;           // index targets are asked for this many rows ahead
constexpr int64_t kTermsMaxC = 4096;           // classes up to which the fused gradient takes the lse's exps
constexpr int64_t kGradAhead = 16384;          // logits (64 KB) past a row the fused gradient asks for

// e^d for the d of SavedLse (|d| <= ulp(lse) / 2: at most 2^-11 for any lse below 2^14) without a
// libm call per row (about 0.5 ms of [65536, 256]'s fused forward + backward): three terms of the
// series below 2^-10, whose rest is below 2e-10 there.
inline double exp_small(double d) { return std::fabs(d) < 0x1p-10 ? 1 + d * (1 + d * 0.5) : std::exp(d); }

// The row primitives per dtype: the ISA's for float32, scalar loops for float64.
template <class T>
struct RowOps {
  const IsaKernels *k;
  bool stream = false;  // grad: write gx with non-temporal stores
  // The log-sum-exp of `rows` consecutive rows of n, handed to each(first, count, m, ls) a few rows
  // at a time while they are still in cache (isa.h LseSink): row first + j has max m[j] and
  // log-sum ls[j] (a max that is not finite: ls 0). float32: the ISA's rows, which ask for later rows' lines
  // themselves; float64: chunks of kChunkBytes (kLseSinkMaxRows rows at most), the next one's first kAheadBytes asked
  // for in one burst.
  // With `terms` (float32: room for kLseSinkMaxRows rows of n), each also gets the rows' exps there
  // and their sums s (isa.h LseSink; s[j] 0: none for that row); else s is null.
  template <class Each>
  void lse(const T *x, int64_t n, int64_t rows, Each &&each, float *terms = nullptr) const {
    if constexpr (std::is_same_v<T, float>) {
      struct Self {
        Each &each;
      } self{each};
      const LseSink sink{[](void *p, int64_t first, int64_t count, const float *m, const float *ls, const float *s) {
                           ((Self *)p)->each(first, count, m, ls, s);
                         },
                         &self, terms};
      k->rows.logsumexp_f32(nullptr, x, n, 1, rows, &sink);
      return;
    }
    const int64_t chunk =
        std::clamp<int64_t>(kChunkBytes / (int64_t)sizeof(T) / std::max<int64_t>(n, 1), 1, kLseSinkMaxRows);
    T m[kLseSinkMaxRows], ls[kLseSinkMaxRows];
    for (int64_t r = 0; r < rows; r += chunk) {
      const int64_t g = std::min(chunk, rows - r);
      if (r + g < rows)
        prefetch_bytes(x + (r + g) * n, std::min<int64_t>(kAheadBytes, (rows - r - g) * n * (int64_t)sizeof(T)));
      for (int64_t q = 0; q < g; q++) {
        const T *xr = x + (r + q) * n;
        T mq = n ? xr[0] : -INFINITY;
        for (int64_t i = 1; i < n; i++)
          if (xr[i] > mq || xr[i] != xr[i]) mq = xr[i];
        T s = 0;
        if (std::isfinite(mq))
          for (int64_t i = 0; i < n; i++) s += std::exp(xr[i] - mq);
        m[q] = mq;
        ls[q] = std::isfinite(mq) ? std::log(s) : T(0);
      }
      each(r, g, m, ls, (const T *)nullptr);
    }
  }
  T sum(const T *x, int64_t n) const {
    if constexpr (std::is_same_v<T, float>) return k->sum_f32(x, n);
    T s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s;
  }
  T dot(const T *a, const T *b, int64_t n) const {
    if constexpr (std::is_same_v<T, float>) return k->gemm.dot_f32(a, b, n);
    T s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
  }
  // sum of a * b * c in double (weighted probability targets only)
  T dot3(const T *a, const T *b, const T *c, int64_t n) const {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i] * (c ? c[i] : T(1));
    return (T)s;
  }
  // `ahead`: the offset to a later row (prefetch.h row_ahead; 0: none), which float32 prefetches
  // while it writes the gradient, float64 before. The row's lse is l + lo (SavedLse): a e^(x - l - lo)
  // as (a e^-lo) e^(x - l), x - l exact for the terms that matter (Sterbenz), the factor a scalar
  // per row ((x - l) - lo, an operation more per vector, read 3-6% slower in one A/B run).
  // With `d` (float32: the row's exps from the forward's lse pass, LseSink::terms), a / s times them
  // instead: no exp, and the logits are not read.
  void grad(T *gx, const T *x, int64_t ahead, int64_t n, T l, T lo, T a, const T *t, T ts, const T *w, T c,
            int64_t hot = -1, T hot_v = 0, const float *d = nullptr, T s = 0) const {
    if constexpr (std::is_same_v<T, float>)
      if (d)
        return k->rows.xent_grad_terms_f32(gx, d, n, a / s, t, ts, w, c, hot, hot_v, stream,
                                           ahead ? x + ahead : nullptr);
    if (lo != 0) a = (T)((double)a * exp_small(-(double)lo));
    if constexpr (std::is_same_v<T, float>)
      return k->rows.xent_grad_f32(gx, x, n, l, a, t, ts, w, c, hot, hot_v, stream, ahead);
    if (ahead) prefetch_bytes(x + ahead, n * (int64_t)sizeof(T));
    for (int64_t j = 0; j < n; j++) gx[j] = a * std::exp(x[j] - l) - ((t ? ts * t[j] : T(0)) + c) * (w ? w[j] : T(1));
    if (hot >= 0 && hot < n) gx[hot] -= hot_v;
  }
};

// The lse each row saves for the gradient: in the logits' dtype, or for float32 logits in float64,
// where m + ls is exact (24-bit m and ls whose exponents differ by less than 29). The gradient
// then takes lse as its nearest float l and the rest lo, and e^(x - l) e^-lo keeps the bits that a
// float lse rounds away: for logits of 1e4 that is 5e-4 of every softmax term. float32 lse
// (lo = 0) is accepted too (the CUDA backend saves that).
template <class T>
struct SavedLse {
  void *p;  // null: not kept (a forward whose backward cannot be asked for)
  bool wide;
  void put(int64_t r, T m, T ls) const {
    if (!p) return;
    if (wide)
      ((double *)p)[r] = (double)m + (double)ls;
    else
      ((T *)p)[r] = m + ls;
  }
  void get(int64_t r, T *l, T *lo) const {
    if (!wide) {
      *l = ((const T *)p)[r];
      *lo = 0;
      return;
    }
    const double d = ((const double *)p)[r];
    *l = (T)d;
    *lo = std::isfinite(*l) ? (T)(d - (double)*l) : T(0);
  }
};

struct Args {
  int64_t rows, C;
  bool prob;
  int64_t ignore;
  double eps;
  int64_t inner = 1;  // logits [N, C, d...] (the class dim not last), inner = prod d: forward_cols
};

// The first row (lowest index) whose target is out of range, or -1.
struct BadRow {
  std::atomic<int64_t> row{-1};
  void note(int64_t r) {
    int64_t cur = row.load();
    while ((cur < 0 || r < cur) && !row.compare_exchange_weak(cur, r)) {
    }
  }
};

// Row r's gradient times g into o, from its logits xr and lse l + lo (SavedLse; sw: the weights'
// sum). A row whose target is ignored (or out of range: the forward has failed on it) gets zeros.
// The forward writes it from the lse it saves (the two agree bit for bit), or for float32 rows of up
// to kTermsMaxC classes from the exps d its lse pass kept and their sum s (softmax = d / s, within a
// few ulp of the backward's e^(x - lse): the same sums, terms to output precision).
template <class T>
void grad_row(const RowOps<T> &ops, const Args &a, T *o, const T *xr, int64_t ahead, T l, T lo, T g,
              const kiln_tensor &target, int64_t r, const T *w, T sw, const float *d = nullptr, T s = 0) {
  const int64_t C = a.C;
  const T e = (T)a.eps, keep = 1 - e, share = C ? e / (T)C : T(0);
  if (a.prob) {
    const T *t = (const T *)target.data + r * C;
    const T st = w ? ops.dot3(w, t, nullptr, C) : ops.sum(t, C);
    ops.grad(o, xr, ahead, C, l, lo, g * (keep * st + share * sw), t, g * keep, w, g * share, -1, 0, d, s);
    return;
  }
  const int64_t t = ((const int64_t *)target.data)[r * target.strides[0]];
  if (t == a.ignore || t < 0 || t >= C) {
    for (int64_t j = 0; j < C; j++) o[j] = 0;
    return;
  }
  const T wt = w ? w[t] : T(1);
  ops.grad(o, xr, ahead, C, l, lo, g * (keep * wt + share * sw), nullptr, T(0), w, g * share, t, g * keep * wt, d, s);
}

// gx: [rows, C] for the gradient times gscale written beside the loss (the row still in L1/L2:
// the backward then need not read the logits again), or [0].
template <class T>
kiln_status forward(kiln_context *ctx, const Args &a, const kiln_tensor &loss, const kiln_tensor &lse,
                    const kiln_tensor &wrow, const kiln_tensor &gx, const kiln_tensor &logits,
                    const kiln_tensor &target, const kiln_tensor &weight, T gscale) {
  const RowOps<T> ops{isa_kernels(ctx->isa), stream_output(gx)};
  T *go = gx.ndim == 2 ? (T *)gx.data : nullptr;
  const int64_t C = a.C;
  const T *x = (const T *)logits.data, *w = weight.shape[0] ? (const T *)weight.data : nullptr;
  T *lo = (T *)loss.data, *wo = (T *)wrow.data;
  const SavedLse<T> lseo{lse.shape[0] ? lse.data : nullptr, lse.dtype != logits.dtype};
  const T e = (T)a.eps, keep = 1 - e, share = C ? e / (T)C : T(0);
  const T sw = w ? ops.sum(w, C) : (T)C;
  BadRow bad;
  // Tasks of at least kStreamTaskElems: each thread's rows are one long stream, which the
  // kernel's prefetch runs ahead of (tasks of 64 KB cut it into pieces taken in turn).
  const int64_t grain = stream_grain_rows(ctx->pool.get(), a.rows, C, kStreamTaskElems);
  // Row r's loss from its max m and log-sum ls: lse - x[t] as (m - x[t]) + ls, which keeps the
  // bits that lse = m + ls rounds away for logits of 1e4 (as PyTorch's log-softmax, x - m - ls).
  auto row = [&](int64_t r, T m, T ls) {
    const T *xr = x + r * C;
    lseo.put(r, m, ls);
    T v = 0, wr = 1;
    if (a.prob) {
      const T *t = (const T *)target.data + r * C;
      const T st = w ? ops.dot3(w, t, nullptr, C) : ops.sum(t, C);
      const T stx = w ? ops.dot3(w, t, xr, C) : ops.dot(t, xr, C);
      v = keep * ((m * st - stx) + ls * st);
    } else {
      const int64_t t = ((const int64_t *)target.data)[r * target.strides[0]];
      if (t == a.ignore) {
        lo[r] = 0;
        wo[r] = 0;
        return;
      }
      if (t < 0 || t >= C) return bad.note(r);
      wr = w ? w[t] : T(1);
      v = keep * wr * ((m - xr[t]) + ls);
    }
    if (e != 0) v += share * ((m * sw - (w ? ops.dot(w, xr, C) : ops.sum(xr, C))) + ls * sw);
    lo[r] = v;
    wo[r] = wr;
  };
  // The same as `row` for index targets without weights or smoothing, the common case, in a loop
  // whose pointers are locals (the general one reloaded them through the closure after every store).
  const bool plain = !a.prob && !w && e == 0;
  auto index_rows = [&](int64_t r, int64_t g, const T *m, const T *ls) {
    const int64_t *const tg = (const int64_t *)target.data, ts = target.strides[0], ignore = a.ignore;
    const T *const xs = x;
    T *const lr = lo, *const wr = wo;
    const SavedLse<T> sl = lseo;
    for (int64_t q = 0; q < g; q++) {
      const int64_t i = r + q, t = tg[i * ts];
      sl.put(i, m[q], ls[q]);
      if (t == ignore) {
        lr[i] = wr[i] = 0;
      } else if (t < 0 || t >= C) {
        bad.note(i);
      } else {
        lr[i] = (m[q] - xs[i * C + t]) + ls[q];
        wr[i] = 1;
      }
    }
  };
  // Each thread's rows in one lse call, which hands them back a few at a time while they are
  // still in L1/L2 (RowOps::lse) for their losses and gradients. Against calls of 16 KB of rows (16
  // at least: each call's first rows had a max pass of their own) and the loss from lse - x[t]
  // (main's and this addon run alternately, 200 steps, 2 threads): [65536, 256] forward 1.37-1.51
  // -> 1.33-1.45 ms median, 1.23-1.39 -> 1.11-1.30 min; forward + backward and [8192, 4096] even.
  // The index targets' lines are asked for kTargetAhead rows on: their loads were 15% of the
  // samples in the loss loop, 3.5% after.
  // The gradient from the lse pass's own exps (LseSink::terms) where a batch of them fits in L2:
  // the gradient pass then reads them, not the logits, and takes no exp; it asks for the logits
  // kGradAhead on (64 KB), so memory keeps reading while it writes. Against main's addon, run
  // alternately, 100 forward + backward steps, 3 rounds, 2 threads: [65536, 256] 5.44-5.57 ->
  // 4.46-4.50 ms, [8192, 4096] 7.30-8.93 -> 6.15-7.63 (copy_ 2.2-2.5 and 4.1-4.9 then); with the
  // prefetch on both sides, the stored exps against the backward kernel's exp path: 5-8% faster.
  const bool use_terms = std::is_same_v<T, float> && go && C <= kTermsMaxC;
  parallel_for(ctx->pool.get(), a.rows, grain, [&](int64_t r0, int64_t r1) {
    // Declared here, in the task: a block-scope thread_local is constructed (and so registered for
    // kiln.emptyCache) on each thread that runs its declaration; declared in the caller, a worker
    // used an instance that was never constructed, which emptyCache missed (65 KB kept per worker).
    thread_local ScratchVec<float> tl_terms;
    float *terms = nullptr;
    if (use_terms) {
      terms = tl_terms.get((size_t)(kLseSinkMaxRows * C));
    }
    ops.lse(
        x + r0 * C, C, r1 - r0,
        [&](int64_t first, int64_t g, const T *m, const T *ls, const T *s) {
          const int64_t r = r0 + first;
          if (!a.prob)  // 8 bytes a row against C * sizeof(T): too rare a stream for the hardware's prefetch
            for (int64_t q = r + kTargetAhead; q < std::min(r + g + kTargetAhead, r1); q += 8)
              __builtin_prefetch((const int64_t *)target.data + q * target.strides[0]);
          T mq[kLseSinkMaxRows];  // a max that is not finite gives NaN, as PyTorch's log-softmax (inf - inf)
          for (int64_t q = 0; q < g; q++) mq[q] = std::isfinite(m[q]) ? m[q] : NAN;
          if (plain)
            index_rows(r, g, mq, ls);
          else
            for (int64_t q = 0; q < g; q++) row(r + q, mq[q], ls[q]);
          if (go)
            for (int64_t q = 0; q < g; q++) {
              T l, lo;
              lseo.get(r + q, &l, &lo);
              const bool from_terms = s && s[q] > 0;
              const int64_t ahead = from_terms && r + q + kGradAhead / C < r1 ? kGradAhead : 0;
              grad_row(ops, a, go + (r + q) * C, x + (r + q) * C, ahead, l, lo, gscale, target, r + q, w, sw,
                       from_terms ? terms + q * C : nullptr, from_terms ? s[q] : T(0));
            }
        },
        terms);
    if (go) stream_fence();
  });
  if (bad.row.load() >= 0) {
    const int64_t r = bad.row.load();
    return fail(ctx, KILN_ERR_INDEX,
                "cross_entropy: target %lld of row %lld is outside [0, %lld) and is not "
                "ignore_index %lld",
                (long long)((const int64_t *)target.data)[r * target.strides[0]], (long long)r, (long long)C,
                (long long)a.ignore);
  }
  return KILN_OK;
}

// The losses of cw columns (rows r0...) from lse_cols_f32's max m, log-sum ls and nll: lo = w[t]
// nll and wo = w[t], 0 for both where hot (t as a float) is negative (ignored, or off the classes:
// the caller tells them apart); the lse saved; hv = gscale w[t], the gradient's scale. Loops the
// compiler vectorises, but for the weights' gather (scalar code with branches here took 4.5 ns a
// column, a quarter of the forward).
void col_losses(const float *__restrict m, const float *__restrict ls, const float *__restrict hot,
                const float *__restrict nll, float *__restrict hv, int64_t cw, const float *w, float gscale,
                const SavedLse<float> &lseo, int64_t r0, float *__restrict lo, float *__restrict wo) {
  if (w)
    for (int64_t j = 0; j < cw; j++) wo[j] = hot[j] >= 0 ? w[(int64_t)hot[j]] : 0.0f;
  else
    for (int64_t j = 0; j < cw; j++) wo[j] = hot[j] >= 0 ? 1.0f : 0.0f;
  for (int64_t j = 0; j < cw; j++) {
    lo[j] = wo[j] * nll[j];
    hv[j] = gscale * wo[j];
  }
  for (int64_t j = 0; j < cw; j++) lseo.put(r0 + j, m[j], ls[j]);
}

// The target row of each of cw columns as a float (exact: C <= 2^24), -1 where the target t[j ts]
// is ignored or off the classes; whether any is. Branch-free (this file is built for baseline
// x86-64, without the 64-bit compares that would vectorise it).
bool hot_rows(float *__restrict hot, const int64_t *__restrict t, int64_t ts, int64_t cw, int64_t C, int64_t ignore) {
  int32_t off = 0;
  for (int64_t j = 0; j < cw; j++) {
    const int64_t v = t[j * ts];
    const bool on = (uint64_t)v < (uint64_t)C && v != ignore;
    hot[j] = on ? (float)(int32_t)v : -1.0f;
    off |= !on;
  }
  return off != 0;
}

// The forward for logits [N, C, d...] whose class dim is not last (inner = the product of d),
// float32 with index targets and no label smoothing: per strip of up to kColGroup columns of one
// image, each column's max, log-sum and x[t] in one pass down the C rows (the ISA's lse_cols_f32),
// the losses from them, and with gx the gradient written down the same columns, read again while
// they may still be in cache (xent_grad_cols_f32). Rows are (image, column)
// in order, as the [N inner, C] the input would be permuted to: the same losses, lse and weights
// out, without the permuted copy, and gx comes out in the logits' own layout.
kiln_status forward_cols(kiln_context *ctx, const Args &a, const kiln_tensor &loss, const kiln_tensor &lse,
                         const kiln_tensor &wrow, const kiln_tensor &gx, const kiln_tensor &logits,
                         const kiln_tensor &target, const kiln_tensor &weight, float gscale) {
  if (a.rows == 0) return KILN_OK;
  const RowKernels &k = isa_kernels(ctx->isa)->rows;
  float *go = gx.ndim >= 3 ? (float *)gx.data : nullptr;
  // strips of gw <= kColGroup columns, at least two a thread (col_group_strip); narrower with the
  // gradient, whose pass reads the strip again (softmax.cpp kTwoPassStrip)
  const int64_t C = a.C, inner = a.inner,
                gw = col_group_strip(ctx->pool.get(), a.rows / inner, inner, go ? kTwoPassStrip : kColGroup),
                groups = (inner + gw - 1) / gw;
  const float *x = (const float *)logits.data, *w = weight.shape[0] ? (const float *)weight.data : nullptr;
  const int64_t *tg = (const int64_t *)target.data, ts = target.strides[0];
  float *lo = (float *)loss.data, *wo = (float *)wrow.data;
  const SavedLse<float> lseo{lse.shape[0] ? lse.data : nullptr, lse.dtype != logits.dtype};
  const bool stream = go && stream_output(gx);
  BadRow bad;
  const int64_t pieces = (a.rows / inner) * groups;
  const auto at = [&](int64_t p) { return p / groups * C * inner + p % groups * gw; };  // piece p's first logit
  parallel_for(ctx->pool.get(), pieces, stream_grain_rows(ctx->pool.get(), pieces, C * gw, kStreamTaskElems),
               [&](int64_t p0, int64_t p1) {
                 // per column: max, log-sum, target row (-1: none), lse - x there, the gradient's scale;
                 // kept per thread (a heap block freed per call was faulted in again each time, 0.4 ms
                 // here; on the stack it would be 40 KB of the caller's thread too, whose stack kiln
                 // does not choose, unlike its workers')
                 thread_local ScratchVec<float> cols;
                 float *m = cols.get((size_t)(5 * kColGroup)), *ls = m + kColGroup, *hot = ls + kColGroup,
                       *nll = hot + kColGroup, *hv = nll + kColGroup;
                 for (int64_t p = p0; p < p1; p++) {
                   const int64_t q = p / groups, j0 = p % groups * gw, cw = std::min(gw, inner - j0);
                   const float *xb = x + at(p);
                   const int64_t r0 = q * inner + j0;
                   const bool off = hot_rows(hot, tg + r0 * ts, ts, cw, C, a.ignore);
                   k.lse_cols_f32(m, ls, xb, C, inner, cw, hot, nll);
                   col_losses(m, ls, hot, nll, hv, cw, w, gscale, lseo, r0, lo + r0, wo + r0);
                   for (int64_t j = 0; off && j < cw; j++)  // off the classes and not ignore_index: an error
                     if (hot[j] < 0 && tg[(r0 + j) * ts] != a.ignore) {
                       bad.note(r0 + j);
                       break;
                     }
                   if (go)  // the next strip's lines asked for as this one's gradient is written
                     k.xent_grad_cols_f32(go + at(p), xb, C, inner, cw, m, ls, hot, hv, stream,
                                          p + 1 < p1 ? at(p + 1) - at(p) : 0);
                 }
                 if (go) stream_fence();
               });
  if (bad.row.load() >= 0) {
    const int64_t r = bad.row.load();
    return fail(ctx, KILN_ERR_INDEX,
                "cross_entropy: target %lld of row %lld is outside [0, %lld) and is not ignore_index %lld",
                (long long)tg[r * ts], (long long)r, (long long)C, (long long)a.ignore);
  }
  return KILN_OK;
}

template <class T>
kiln_status backward(kiln_context *ctx, const Args &a, const kiln_tensor &gx, const kiln_tensor &logits,
                     const kiln_tensor &target, const kiln_tensor &weight, const kiln_tensor &lse,
                     const kiln_tensor &gloss) {
  const RowOps<T> ops{isa_kernels(ctx->isa), stream_output(gx)};
  const int64_t C = a.C;
  const T *x = (const T *)logits.data, *w = weight.shape[0] ? (const T *)weight.data : nullptr;
  const SavedLse<T> li{lse.data, lse.dtype != logits.dtype};
  const T *gi = (const T *)gloss.data;
  const int64_t gs = gloss.strides[0];
  T *go = (T *)gx.data;
  const T sw = w ? ops.sum(w, C) : (T)C;
  const int64_t grain = stream_grain_rows(ctx->pool.get(), a.rows, C, kTaskElems);
  parallel_for(ctx->pool.get(), a.rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const T g = gi[r * gs], *xr = x + r * C;
      T l, lo;
      li.get(r, &l, &lo);
      grad_row(ops, a, go + r * C, xr, row_ahead(r, r1, C, sizeof(T)), l, lo, g, target, r, w, sw);
    }
    stream_fence();  // the rows may have streamed their gradient
  });
  return KILN_OK;
}

// logits [rows, C] contiguous; target int64 [rows] or logits-shaped; weight [C] or [0].
// cols_ok: logits may also be [N, C, d...] (the forward only). lse_optional: the saved lse may be
// [0], not kept (the forward of logits whose gradient cannot be asked for).
kiln_status check(kiln_context *ctx, const char *op, const kiln_tensor &logits, const kiln_tensor &target,
                  const kiln_tensor &weight, const kiln_tensor *rowwise, int nrow, int lse_at, const double *attr,
                  Args *a, bool cols_ok = false, bool lse_optional = false) {
  if (logits.ndim >= 3 && cols_ok) {  // [N, C, d...]: forward_cols, inner = the product of d
    if (!contiguous(logits)) return fail(ctx, KILN_ERR_SHAPE, "%s: logits [N, C, d...] must be contiguous", op);
    if (logits.dtype != KILN_FLOAT32)
      return fail(ctx, KILN_ERR_DTYPE, "%s: logits [N, C, d...] must be float32 (others go as [rows, C])", op);
    if (target.dtype != KILN_INT64 || attr[1] != 0)
      return fail(ctx, KILN_ERR_ARG, "%s: logits [N, C, d...] take index targets without label smoothing", op);
    if (logits.shape[1] > (int64_t)1 << 24)  // the gradient finds a target's row as a float
      return fail(ctx, KILN_ERR_ARG, "%s: logits [N, C, d...] take at most 2^24 classes (more go as rows)", op);
    a->inner = 1;
    for (int d = 2; d < logits.ndim; d++) a->inner *= logits.shape[d];
    a->rows = logits.shape[0] * a->inner;
    a->C = logits.shape[1];
  } else {
    if (logits.ndim != 2 || !contiguous(logits))  // (a size-1 dim may have any stride)
      return fail(ctx, KILN_ERR_SHAPE, "%s: logits must be contiguous [rows, C]%s", op,
                  cols_ok ? " or [N, C, d...]" : "");
    if (logits.dtype != KILN_FLOAT32 && logits.dtype != KILN_FLOAT64)
      return fail(ctx, KILN_ERR_DTYPE, "%s: float32 or float64 logits only (half types are widened by the caller)", op);
    a->rows = logits.shape[0];
    a->C = logits.shape[1];
  }
  a->prob = target.dtype != KILN_INT64;
  if (a->C == 0 && a->rows > 0) return fail(ctx, KILN_ERR_SHAPE, "%s: logits need at least one class", op);
  if (a->prob) {
    if (target.dtype != logits.dtype || target.ndim != 2 || target.shape[0] != a->rows || target.shape[1] != a->C ||
        !contiguous(target))
      return fail(ctx, KILN_ERR_SHAPE, "%s: probability targets must be contiguous and shaped like the logits", op);
  } else if (target.ndim != 1 || target.shape[0] != a->rows) {
    return fail(ctx, KILN_ERR_SHAPE, "%s: index targets must be int64 [rows]", op);
  }
  if (weight.dtype != logits.dtype || weight.ndim != 1 || (weight.shape[0] != a->C && weight.shape[0] != 0) ||
      (weight.shape[0] > 1 && weight.strides[0] != 1))
    return fail(ctx, KILN_ERR_SHAPE, "%s: weight must be contiguous [C] or empty", op);
  // the saved lse (i == lse_at) may be float64 for float32 logits, and [0] (not kept) where optional
  for (int i = 0; i < nrow; i++)
    if (!(rowwise[i].dtype == logits.dtype || (i == lse_at && rowwise[i].dtype == KILN_FLOAT64)) ||
        rowwise[i].ndim != 1 ||
        (rowwise[i].shape[0] != a->rows && !(i == lse_at && lse_optional && rowwise[i].shape[0] == 0)))
      return fail(ctx, KILN_ERR_SHAPE, "%s: per-row operand %d must be [rows] in the logits' dtype", op, i);
  const double ig = attr[0], eps = attr[1];
  if (ig != std::floor(ig) || std::fabs(ig) > 9e15 || !(eps >= 0 && eps <= 1))
    return fail(ctx, KILN_ERR_ARG, "%s: bad ignore_index or label_smoothing", op);
  a->ignore = (int64_t)ig;
  a->eps = eps;
  return KILN_OK;
}

}  // namespace

kiln_status cross_entropy_cpu(kiln_context *ctx, const kiln_tensor &loss, const kiln_tensor &lse,
                              const kiln_tensor &wrow, const kiln_tensor &gx, const kiln_tensor &logits,
                              const kiln_tensor &target, const kiln_tensor &weight, const double *attr) {
  Args a;
  const kiln_tensor rowwise[3] = {loss, lse, wrow};
  if (kiln_status st = check(ctx, "cross_entropy", logits, target, weight, rowwise, 3, 1, attr, &a, true, true))
    return st;
  if (!(loss.strides[0] == 1 && (lse.strides[0] == 1 || lse.shape[0] == 0) && wrow.strides[0] == 1) && a.rows > 1)
    return fail(ctx, KILN_ERR_ARG, "cross_entropy: outputs must be contiguous");
  const bool fused = !(gx.ndim == 1 && gx.shape[0] == 0);
  if (logits.ndim >= 3) {
    if (fused && (gx.dtype != logits.dtype || gx.ndim != logits.ndim || !contiguous(gx) ||
                  !std::equal(gx.shape, gx.shape + gx.ndim, logits.shape)))
      return fail(ctx, KILN_ERR_SHAPE, "cross_entropy: gx must be [0] or contiguous and shaped like the logits");
    return forward_cols(ctx, a, loss, lse, wrow, gx, logits, target, weight, (float)attr[2]);
  }
  if (fused &&
      (gx.dtype != logits.dtype || gx.ndim != 2 || gx.shape[0] != a.rows || gx.shape[1] != a.C || !contiguous(gx)))
    return fail(ctx, KILN_ERR_SHAPE, "cross_entropy: gx must be [0] or contiguous and shaped like the logits");
  if (logits.dtype == KILN_FLOAT32)
    return forward<float>(ctx, a, loss, lse, wrow, gx, logits, target, weight, (float)attr[2]);
  return forward<double>(ctx, a, loss, lse, wrow, gx, logits, target, weight, attr[2]);
}

kiln_status cross_entropy_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &logits,
                                       const kiln_tensor &target, const kiln_tensor &weight, const kiln_tensor &lse,
                                       const kiln_tensor &gloss, const double *attr) {
  Args a;
  const kiln_tensor rowwise[2] = {lse, gloss};
  if (kiln_status st = check(ctx, "cross_entropy_backward", logits, target, weight, rowwise, 2, 0, attr, &a)) return st;
  if (gx.dtype != logits.dtype || gx.ndim != 2 || gx.shape[0] != a.rows || gx.shape[1] != a.C || !contiguous(gx) ||
      (a.rows > 1 && lse.strides[0] != 1))
    return fail(ctx, KILN_ERR_SHAPE, "cross_entropy_backward: gx must be contiguous and shaped like the logits");
  if (logits.dtype == KILN_FLOAT32) return backward<float>(ctx, a, gx, logits, target, weight, lse, gloss);
  return backward<double>(ctx, a, gx, logits, target, weight, lse, gloss);
}

}  // namespace kiln::cpu
