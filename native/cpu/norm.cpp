// Layer norm and RMS norm over the last dim of a contiguous [rows, n] input, forward and backward.
// Forward: each task's rows in one stream (rows.inc layer_norm_rows: a row's mean and sum of
// squares of x - mean are taken while earlier rows are written), saving mean and rstd per row. Backward: gx per row,
// and grad weight / grad bias as column sums: rows are cut into fixed blocks of about kBlockElems elements, each block
// sums its rows into its own partial (rows.inc: a partial is read and written once per vector for several rows, not
// once per row), and the partials are added in block order, so the bits do not depend on the thread count; a task takes
// consecutive blocks. [16384, 1024] with weight and bias, 2 threads: 7.0 -> 4.9 ms (3.1 without them). float32 runs the
// ISA's rows (arch/rows.inc); float64 the scalar loops here. Bench: `npx tsx ts/bench/cli.ts norm`.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <type_traits>

#include "cpu_ops.h"
#include "prefetch.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kBlockElems = 1 << 18;  // elements per block of rows in the backward's column sums
constexpr int64_t kTaskElems = 1 << 14;   // elements per forward task, at least
constexpr int64_t kSumCols = 512;         // columns per task of the backward's sum of partials

template <class T>
void layer_norm_ref(T *y, const T *x, const T *w, const T *b, int64_t n, T eps, bool rms, T *mean_out, T *rstd_out) {
  T mean = 0, var = 0;
  if (!rms) {
    for (int64_t i = 0; i < n; i++) mean += x[i];
    mean /= (T)n;
  }
  for (int64_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
  const T rstd = 1 / std::sqrt(var / (T)n + eps);
  for (int64_t i = 0; i < n; i++) {
    T v = (x[i] - mean) * rstd;
    if (w) v *= w[i];
    if (b) v += b[i];
    y[i] = v;
  }
  *mean_out = mean;
  *rstd_out = rstd;
}

template <class T>
void layer_norm_backward_ref(T *gx, T *dw, T *db, const T *gy, const T *x, const T *w, int64_t n, T mean, T rstd,
                             bool rms) {
  T sa = 0, sb = 0;
  for (int64_t i = 0; i < n; i++) {
    const T xh = (x[i] - mean) * rstd, g = w ? gy[i] * w[i] : gy[i];
    sa += g * xh;
    sb += g;
    if (dw) dw[i] += gy[i] * xh;
    if (db) db[i] += gy[i];
  }
  const T ca = sa / (T)n, cb = rms ? 0 : sb / (T)n;
  for (int64_t i = 0; i < n; i++) {
    const T xh = (x[i] - mean) * rstd, g = w ? gy[i] * w[i] : gy[i];
    gx[i] = rstd * (g - cb - xh * ca);
  }
}

const void *opt(const kiln_tensor &t) { return t.ndim > 0 && t.shape[0] > 0 ? t.data : nullptr; }

template <class T>
kiln_status forward(kiln_context *ctx, const kiln_tensor &y, const kiln_tensor &mean, const kiln_tensor &rstd,
                    const kiln_tensor &x, const kiln_tensor &w, const kiln_tensor &b, double eps, bool rms) {
  const int64_t rows = x.shape[0], n = x.shape[1];
  T *yo = (T *)y.data, *mo = (T *)mean.data, *ro = (T *)rstd.data;
  const T *xi = (const T *)x.data, *wi = (const T *)opt(w), *bi = (const T *)opt(b);
  const RowKernels &k = isa_kernels(ctx->isa)->rows;
  const bool stream = stream_output(y);
  const int64_t grain = stream_grain_rows(ctx->pool.get(), rows, n, kTaskElems);
  parallel_for(ctx->pool.get(), rows, grain, [&](int64_t r0, int64_t r1) {
    if constexpr (std::is_same_v<T, float>) {  // the kernel asks for the rows ahead itself
      k.layer_norm_f32(yo + r0 * n, xi + r0 * n, wi, bi, n, r1 - r0, (float)eps, rms, mo + r0, ro + r0, stream);
    } else {
      for (int64_t r = r0; r < r1; r++) {
        if (r + 1 < r1) prefetch_bytes(xi + (r + 1) * n, n * (int64_t)sizeof(T));
        layer_norm_ref<T>(yo + r * n, xi + r * n, wi, bi, n, (T)eps, rms, mo + r, ro + r);
      }
    }
    stream_fence();  // the rows may have streamed their output
  });
  return KILN_OK;
}

template <class T>
kiln_status backward(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gw, const kiln_tensor &gb,
                     const kiln_tensor &gy, const kiln_tensor &x, const kiln_tensor &w, const kiln_tensor &mean,
                     const kiln_tensor &rstd, bool rms) {
  const int64_t rows = x.shape[0], n = x.shape[1];
  T *gxo = (T *)gx.data, *gwo = (T *)opt(gw), *gbo = (T *)opt(gb);
  const T *gyi = (const T *)gy.data, *xi = (const T *)x.data, *wi = (const T *)opt(w);
  const T *mi = (const T *)mean.data, *ri = (const T *)rstd.data;
  const RowKernels &k = isa_kernels(ctx->isa)->rows;
  const bool stream = stream_output(gx);
  const int64_t block = n >= kBlockElems ? 1 : kBlockElems / (n > 0 ? n : 1);
  const int64_t nblocks = (rows + block - 1) / block;
  const bool sums = gwo || gbo;
  // Per-block partials of grad weight (the first nblocks rows of ld) and grad bias (the rest), each
  // on its own 64-byte lines (from a std::vector's 16-byte base, every vector read-add-store of a
  // partial split two cache lines: [65536, 256] from memory, rows_ab: 7.4 -> 5.5 ms), in a block of
  // the caching allocator (a fresh malloc of 512 KB faulted its pages in on every call).
  const int64_t ld = (n + 15) / 16 * 16;
  const size_t part_bytes = sums ? (size_t)(2 * nblocks * ld) * sizeof(T) : 0;
  struct Release {
    CpuAllocator &a;
    void operator()(void *p) const { a.free(p); }
  };
  std::unique_ptr<void, Release> part_mem(part_bytes ? ctx->allocator.alloc(part_bytes) : nullptr,
                                          Release{ctx->allocator});
  T *part = (T *)part_mem.get();
  if (part_bytes && !part) return fail(ctx, KILN_ERR_OOM, "layer_norm_backward: no memory for %zu bytes", part_bytes);
  if (part) std::memset(part, 0, part_bytes);
  // Tasks of consecutive blocks (each thread's rows one long stream); the blocks, and so the bits,
  // are the same for any task size.
  parallel_for(ctx->pool.get(), nblocks, stream_grain_rows(ctx->pool.get(), nblocks, block * n, block * n),
               [&](int64_t b0, int64_t b1) {
                 for (int64_t q = b0; q < b1; q++) {
                   T *dw = gwo ? part + q * ld : nullptr, *db = gbo ? part + (nblocks + q) * ld : nullptr;
                   const int64_t r1 = (q + 1) * block < rows ? (q + 1) * block : rows;
                   if constexpr (std::is_same_v<T, float>) {
                     const int64_t r = q * block;
                     k.layer_norm_backward_f32(gxo + r * n, dw, db, gyi + r * n, xi + r * n, wi, n, r1 - r, mi + r,
                                               ri + r, rms, stream);
                   } else {
                     for (int64_t r = q * block; r < r1; r++)
                       layer_norm_backward_ref<T>(gxo + r * n, dw, db, gyi + r * n, xi + r * n, wi, n, mi[r], ri[r],
                                                  rms);
                   }
                 }
                 stream_fence();  // the rows may have streamed their output
               });
  if (!sums) return KILN_OK;
  // The partials added in block order, a strip of kSumCols columns at a time read along the rows
  // (a column at a time, each partial's element was a line of its own: 16% of [4096, 4096]'s
  // backward went to this loop).
  parallel_for(ctx->pool.get(), (n + kSumCols - 1) / kSumCols, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; s++) {
      const int64_t j0 = s * kSumCols, cols = std::min<int64_t>(kSumCols, n - j0);
      for (int half = 0; half < 2; half++) {
        T *out = half ? gbo : gwo;
        if (!out) continue;
        T acc[kSumCols] = {};
        for (int64_t q = 0; q < nblocks; q++) {
          const T *p = part + (half * nblocks + q) * ld + j0;
          for (int64_t j = 0; j < cols; j++) acc[j] += p[j];
        }
        std::memcpy(out + j0, acc, (size_t)cols * sizeof(T));
      }
    }
  });
  return KILN_OK;
}

// Operands: [rows, n] contiguous; per-row stats [rows]; w, b, gw, gb [n] or empty (absent).
kiln_status check(kiln_context *ctx, const char *op, const kiln_tensor &x, const kiln_tensor *rowwise, int nrow,
                  const kiln_tensor *vecs, int nvec) {
  if (x.ndim != 2) return fail(ctx, KILN_ERR_SHAPE, "%s: input must be viewed as [rows, n]", op);
  const int64_t rows = x.shape[0], n = x.shape[1];
  if (x.dtype != KILN_FLOAT32 && x.dtype != KILN_FLOAT64)
    return fail(ctx, KILN_ERR_DTYPE, "%s: float32 or float64 only (half types are widened by the caller)", op);
  auto dense = [](const kiln_tensor &t) {
    int64_t st = 1;
    for (int d = t.ndim - 1; d >= 0; d--) {
      if (t.shape[d] != 1 && t.strides[d] != st) return false;
      st *= t.shape[d];
    }
    return true;
  };
  for (int i = 0; i < nrow; i++) {
    const kiln_tensor &t = rowwise[i];
    const bool ok = t.dtype == x.dtype && dense(t) &&
                    ((t.ndim == 2 && t.shape[0] == rows && t.shape[1] == n) || (t.ndim == 1 && t.shape[0] == rows));
    if (!ok) return fail(ctx, KILN_ERR_SHAPE, "%s: operand %d is not a contiguous %s-shaped tensor", op, i, "row");
  }
  for (int i = 0; i < nvec; i++) {
    const kiln_tensor &t = vecs[i];
    if (t.dtype != x.dtype || t.ndim != 1 || (t.shape[0] != n && t.shape[0] != 0) || !dense(t))
      return fail(ctx, KILN_ERR_SHAPE, "%s: weight/bias operand %d must be [%lld] or empty", op, i, (long long)n);
  }
  return KILN_OK;
}

}  // namespace

kiln_status layer_norm_cpu(kiln_context *ctx, const kiln_tensor &y, const kiln_tensor &mean, const kiln_tensor &rstd,
                           const kiln_tensor &x, const kiln_tensor &w, const kiln_tensor &b, double eps, bool rms) {
  const kiln_tensor rowwise[4] = {x, y, mean, rstd}, vecs[2] = {w, b};
  if (kiln_status st = check(ctx, "layer_norm", x, rowwise, 4, vecs, 2)) return st;
  if (x.dtype == KILN_FLOAT32) return forward<float>(ctx, y, mean, rstd, x, w, b, eps, rms);
  return forward<double>(ctx, y, mean, rstd, x, w, b, eps, rms);
}

kiln_status layer_norm_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gw,
                                    const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                    const kiln_tensor &w, const kiln_tensor &mean, const kiln_tensor &rstd, bool rms) {
  const kiln_tensor rowwise[5] = {x, gx, gy, mean, rstd}, vecs[3] = {w, gw, gb};
  if (kiln_status st = check(ctx, "layer_norm_backward", x, rowwise, 5, vecs, 3)) return st;
  if (x.dtype == KILN_FLOAT32) return backward<float>(ctx, gx, gw, gb, gy, x, w, mean, rstd, rms);
  return backward<double>(ctx, gx, gw, gb, gy, x, w, mean, rstd, rms);
}

}  // namespace kiln::cpu
