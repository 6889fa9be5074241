// Softmax and log-softmax along one dim, forward and backward, on contiguous operands viewed as
// [outer, n, inner]. inner == 1 is the row path (a row is read from memory once, its max taken
// in the previous row's write pass: sum of exp and the write run on it while it sits in L1/L2;
// the forward passes each task's rows in one call, rows.inc softmax_rows); inner > 1 runs on column strips,
// vectorised across columns (float32: up to kTwoPassStrip columns, rows.inc softmax_cols: one pass for each
// column's max and sum, in blocks of rows with a running max, and one that writes; the backward walks each task's
// strips, summing one while the one before writes: walk_strips). float32 goes through the ISA's rows (arch/rows.inc);
// float64 runs the scalar loops below, which are also the reference shape of the float32 math. Each output row depends
// only on its own input row, so any thread count gives the same bits. logsumexp along one dim lives here too, on the
// same [outer, n, inner] pieces (rows.inc logsumexp_f32: short rows run kLseRows at a time). Bench: `npx tsx
// ts/bench/cli.ts softmax`; logsumexp: ts/bench/rows_loop.ts.
#include <algorithm>
#include <cmath>

#include "cpu_ops.h"
#include "prefetch.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kStrip = 64;              // float64's columns per task on the inner > 1 path
constexpr int64_t kTaskElems = 1 << 14;     // elements per task, at least
constexpr int64_t kLseStrip = kColGroup;    // float32 logsumexp's columns per task on the inner > 1 path, at most
constexpr int64_t kLseTaskElems = 1 << 17;  // logsumexp's elements per row task, at least

// The float32 backward's walk down column strips (isa.h ColWalk): a thread writes one strip's
// gradient while it sums the next strip's columns from the cache and asks for the one after that,
// so each strip is read from memory once, as a prefetch, while the stores stream out. Strips of
// kWalkBytes of gy and y together (kWalkBytes / (8 n) columns: 256 for n = 64), three of them in
// L2 at once; with more rows than a strip of kWalkCols columns fits, strips of kTwoPassStrip
// without a walk (asking ahead in pieces of 32 columns, two lines a row, made [64, 1000, 256]
// 20% slower).
// On 2 threads, time over copy_'s in the same process (bench/results/2026-12-06-fourteenth-*):
// [8, 64, 32768] softmax 2.34-2.65 -> 1.57-2.09, log-softmax 2.84-3.39 -> 1.53-2.13; [8, 256, 8192]
// 2.55-2.63 -> 1.91-2.11 and 2.76-2.87 -> 1.92-2.20. The forward walked the same way (the next
// strip's maxima taken while one writes, then its sums from the cache) was no faster and its
// log form slower: its passes are bound by their exps, not by memory.
constexpr int64_t kWalkBytes = 128 << 10, kWalkCols = 64;
bool walks(int64_t n) { return 8 * kWalkCols * n <= kWalkBytes; }
int64_t walk_strip(int64_t n) {
  return walks(n) ? std::min(kWalkBytes / (8 * n) / 16 * 16, kTwoPassStrip) : kTwoPassStrip;
}

struct Geometry {
  int64_t outer = 1, n = 1, inner = 1;
};

Geometry geometry(const kiln_tensor &t, int dim) {
  Geometry g;
  for (int d = 0; d < t.ndim; d++) (d < dim ? g.outer : d == dim ? g.n : g.inner) *= t.shape[d];
  return g;
}

// Softmax of column j of an [n, s] block (s = 1: a row), the float64 path.
template <class T>
void softmax_ref(T *o, const T *x, int64_t n, int64_t s, bool log) {
  T m = x[0];
  for (int64_t i = 1; i < n; i++)
    if (x[i * s] > m || x[i * s] != x[i * s]) m = x[i * s];  // a NaN sticks: nothing compares above it
  T sum = 0;
  if (log) {
    for (int64_t i = 0; i < n; i++) sum += std::exp(x[i * s] - m);
    const T ls = std::log(sum);
    for (int64_t i = 0; i < n; i++) o[i * s] = x[i * s] - m - ls;
    return;
  }
  for (int64_t i = 0; i < n; i++) sum += o[i * s] = std::exp(x[i * s] - m);  // one exp per element
  for (int64_t i = 0; i < n; i++) o[i * s] /= sum;
}

// softmax_ref of a row (s = 1) of doubles with the ISA's vector exp (isa.h exp_f64): the same steps, each
// exponential within 2 ulp of the C library's (which softmax_ref calls).
void softmax_row_f64(const IsaKernels *isa, double *o, const double *x, int64_t n, bool log) {
  double m = x[0];
  for (int64_t i = 1; i < n; i++)
    if (x[i] > m || x[i] != x[i]) m = x[i];
  for (int64_t i = 0; i < n; i++) o[i] = x[i] - m;
  isa->exp_f64(o, o, n);
  double sum = 0;
  for (int64_t i = 0; i < n; i++) sum += o[i];
  if (log) {
    const double ls = std::log(sum);
    for (int64_t i = 0; i < n; i++) o[i] = x[i] - m - ls;
  } else {
    for (int64_t i = 0; i < n; i++) o[i] /= sum;
  }
}

template <class T>
void softmax_backward_ref(T *gx, const T *gy, const T *y, int64_t n, int64_t s, bool log) {
  T sum = 0;
  for (int64_t i = 0; i < n; i++) sum += log ? gy[i * s] : gy[i * s] * y[i * s];
  for (int64_t i = 0; i < n; i++) gx[i * s] = log ? gy[i * s] - std::exp(y[i * s]) * sum : y[i * s] * (gy[i * s] - sum);
}

// log(sum(exp(x))) of column j of an [n, s] block, the float64 path, with PyTorch's answers for
// +-inf maxima (the shift is 0 there: all -inf gives -inf, a +inf gives +inf).
template <class T>
T logsumexp_ref(const T *x, int64_t n, int64_t s) {
  T m = -INFINITY;
  for (int64_t i = 0; i < n; i++)
    if (x[i * s] > m || x[i * s] != x[i * s]) m = x[i * s];
  if (m != m) return m;
  const T c = std::isinf(m) ? T(0) : m;
  T sum = 0;
  for (int64_t i = 0; i < n; i++) sum += std::exp(x[i * s] - c);
  return c + std::log(sum);
}

// Runs body(b, n, stride, cols, ahead) over the geometry's pieces: each piece is one row (inner == 1)
// or a strip of up to `strip` columns of one [n, inner] block, at element offset b. `ahead`, for
// rows of elements of `es` bytes, is the offset in elements to the later row the body prefetches
// (prefetch.h row_ahead); for strips, to the task's next strip (0: none; RowKernels::softmax_f32).
template <class Body>
void for_pieces(kiln_context *ctx, const Geometry &g, const Body &body, int64_t es = 4, int64_t strip = kStrip) {
  if (g.n == 0 || g.outer * g.inner == 0) return;
  const int64_t strips = g.inner == 1 ? 1 : (g.inner + strip - 1) / strip;
  const int64_t pieces = g.outer * strips, per = g.n * (g.inner == 1 ? 1 : strip);
  const int64_t grain = stream_grain_rows(ctx->pool.get(), pieces, per, kTaskElems);
  const auto at = [&](int64_t p) { return p / strips * g.n * g.inner + p % strips * strip; };
  parallel_for(ctx->pool.get(), pieces, grain, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      const int64_t j = (p % strips) * strip;
      const int64_t cols = g.inner == 1 ? 1 : (g.inner - j < strip ? g.inner - j : strip);
      const int64_t ahead = g.inner == 1 ? row_ahead(p, p1, g.n, es) : p + 1 < p1 ? at(p + 1) - at(p) : 0;
      body(at(p), g.n, g.inner, cols, ahead);
    }
    stream_fence();  // the rows may have streamed their output
  });
}

// Runs body(b, cols, walk) over the column strips (inner > 1) of the geometry, each task's strips
// in order with one ColWalk where n lets them walk (walks), else with walk null. b: the strip's
// element offset.
template <class Body>
void walk_strips(kiln_context *ctx, const Geometry &g, const Body &body) {
  if (g.n == 0 || g.outer == 0) return;
  const bool walk = walks(g.n);
  const int64_t strip = col_group_strip(ctx->pool.get(), g.outer, g.inner, walk_strip(g.n)),
                strips = (g.inner + strip - 1) / strip, pieces = g.outer * strips;
  const auto at = [&](int64_t p) { return p / strips * g.n * g.inner + p % strips * strip; };
  const auto width = [&](int64_t p) { return std::min(strip, g.inner - p % strips * strip); };
  parallel_for(ctx->pool.get(), pieces, stream_grain_rows(ctx->pool.get(), pieces, g.n * strip, kTaskElems),
               [&](int64_t p0, int64_t p1) {
                 ColWalk w;
                 for (int64_t p = p0; p < p1; p++) {
                   const int64_t b = at(p), cols = width(p);
                   w.next = walk && p + 1 < p1 && width(p + 1) == cols ? at(p + 1) - b : 0;
                   w.after = walk && p + 2 < p1 ? at(p + 2) - b : 0;
                   body(b, cols, walk ? &w : nullptr);
                 }
                 stream_fence();  // the strips may have streamed their output
               });
}

kiln_status check(kiln_context *ctx, const char *op, const kiln_tensor *ts, int nt, int dim) {
  for (int i = 0; i < nt; i++) {
    if (!contiguous(ts[i])) return fail(ctx, KILN_ERR_ARG, "%s: operand %d must be contiguous", op, i);
    if (ts[i].dtype != ts[0].dtype) return fail(ctx, KILN_ERR_DTYPE, "%s: operands must share one dtype", op);
  }
  if (ts[0].dtype != KILN_FLOAT32 && ts[0].dtype != KILN_FLOAT64)
    return fail(ctx, KILN_ERR_DTYPE, "%s: float32 or float64 only (half types are widened by the caller)", op);
  if (dim < 0 || dim >= (ts[0].ndim > 0 ? ts[0].ndim : 1)) return fail(ctx, KILN_ERR_ARG, "%s: bad dim %d", op, dim);
  return KILN_OK;
}

}  // namespace

kiln_status softmax_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, int dim, bool log) {
  const kiln_tensor ts[2] = {out, in};
  if (kiln_status st = check(ctx, "softmax", ts, 2, dim)) return st;
  const Geometry g = geometry(in, dim);
  const bool stream = stream_output(out);
  if (in.dtype == KILN_FLOAT32) {
    const RowKernels &k = isa_kernels(ctx->isa)->rows;
    float *o = (float *)out.data;
    const float *x = (const float *)in.data;
    if (g.inner == 1) {  // rows: each task's rows in one call (rows.inc softmax_rows)
      if (g.n == 0 || g.outer == 0) return KILN_OK;
      const int64_t n = g.n;
      parallel_for(ctx->pool.get(), g.outer, stream_grain_rows(ctx->pool.get(), g.outer, n, kTaskElems),
                   [&](int64_t r0, int64_t r1) {
                     k.softmax_f32(o + r0 * n, x + r0 * n, n, 1, r1 - r0, log, stream, 0);
                     stream_fence();  // the rows may have streamed their output
                   });
    } else {
      for_pieces(
          ctx, g,
          [&](int64_t b, int64_t n, int64_t s, int64_t cols, int64_t next) {
            k.softmax_f32(o + b, x + b, n, s, cols, log, stream, next);
          },
          4, col_group_strip(ctx->pool.get(), g.outer, g.inner, kTwoPassStrip));
    }
  } else {
    double *o = (double *)out.data;
    const double *x = (const double *)in.data;
    const IsaKernels *isa = isa_kernels(ctx->isa);
    for_pieces(ctx, g, [&](int64_t b, int64_t n, int64_t s, int64_t cols, int64_t) {
      if (s == 1)
        softmax_row_f64(isa, o + b, x + b, n, log);
      else
        for (int64_t j = 0; j < cols; j++) softmax_ref(o + b + j, x + b + j, n, s, log);
    });
  }
  return KILN_OK;
}

kiln_status softmax_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gy, const kiln_tensor &y,
                                 int dim, bool log) {
  const kiln_tensor ts[3] = {gx, gy, y};
  if (kiln_status st = check(ctx, "softmax_backward", ts, 3, dim)) return st;
  const Geometry g = geometry(y, dim);
  const bool stream = stream_output(gx);
  if (y.dtype == KILN_FLOAT32) {
    const RowKernels &k = isa_kernels(ctx->isa)->rows;
    float *o = (float *)gx.data;
    const float *a = (const float *)gy.data, *b = (const float *)y.data;
    if (g.inner == 1) {
      for_pieces(ctx, g, [&](int64_t p, int64_t n, int64_t s, int64_t, int64_t ahead) {
        k.softmax_backward_f32(o + p, a + p, b + p, n, s, 1, log, stream, ahead, nullptr);
      });
    } else {
      walk_strips(ctx, g, [&](int64_t q, int64_t cols, ColWalk *w) {
        k.softmax_backward_f32(o + q, a + q, b + q, g.n, g.inner, cols, log, stream, 0, w);
      });
    }
  } else {
    double *o = (double *)gx.data;
    const double *a = (const double *)gy.data, *b = (const double *)y.data;
    for_pieces(ctx, g, [&](int64_t p, int64_t n, int64_t s, int64_t cols, int64_t) {
      for (int64_t j = 0; j < cols; j++) softmax_backward_ref(o + p + j, a + p + j, b + p + j, n, s, log);
    });
  }
  return KILN_OK;
}

kiln_status logsumexp_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, int dim) {
  const kiln_tensor ts[2] = {out, in};
  if (kiln_status st = check(ctx, "logsumexp", ts, 2, dim)) return st;
  const Geometry g = geometry(in, dim);
  const int64_t cells = g.outer * g.inner;
  if (in.dtype == KILN_FLOAT32) {
    const RowKernels &k = isa_kernels(ctx->isa)->rows;
    float *o = (float *)out.data;
    const float *x = (const float *)in.data;
    if (g.n == 0) {
      for (int64_t c = 0; c < cells; c++) o[c] = -INFINITY;
      return KILN_OK;
    }
    if (g.inner > 1) {  // column strips of one [n, inner] block, each read once (rows.inc lse_cols)
      const int64_t sw = col_group_strip(ctx->pool.get(), g.outer, g.inner, kLseStrip);
      const int64_t strips = (g.inner + sw - 1) / sw, per = g.n * sw;
      parallel_for(ctx->pool.get(), g.outer * strips,
                   stream_grain_rows(ctx->pool.get(), g.outer * strips, per, kTaskElems), [&](int64_t p0, int64_t p1) {
                     for (int64_t p = p0; p < p1; p++) {
                       const int64_t q = p / strips, j = (p % strips) * sw;
                       k.logsumexp_f32(o + q * g.inner + j, x + q * g.n * g.inner + j, g.n, g.inner,
                                       std::min(sw, g.inner - j), nullptr);
                     }
                   });
      return KILN_OK;
    }
    // Rows: the kernel runs short ones kLseRows at a time and asks for later rows' lines itself,
    // so tasks are long (kLseTaskElems) to keep each thread's rows one stream.
    const int64_t n = g.n;
    parallel_for(ctx->pool.get(), cells, stream_grain_rows(ctx->pool.get(), cells, n, kLseTaskElems),
                 [&](int64_t r0, int64_t r1) { k.logsumexp_f32(o + r0, x + r0 * n, n, 1, r1 - r0, nullptr); });
  } else {
    double *o = (double *)out.data;
    const double *x = (const double *)in.data;
    const int64_t grain = g.n >= kTaskElems ? 1 : kTaskElems / std::max<int64_t>(g.n, 1);
    parallel_for(ctx->pool.get(), cells, grain, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; c++)
        o[c] = logsumexp_ref(x + (c / g.inner) * g.n * g.inner + c % g.inner, g.n, g.inner);
    });
  }
  return KILN_OK;
}

}  // namespace kiln::cpu
