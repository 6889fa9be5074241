// N-d strided iteration shared by the CPU drivers: operands of one shape are collapsed to the
// fewest dimensions, then walked as runs along the innermost dimension, so a kernel sees
// (pointers, inner strides, run length) and can take a SIMD path when the strides are 1 or 0.
#pragma once
#include <algorithm>
#include <cstdint>
#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>  // _mm_sfence
#endif

#include "../core/collapse.h"
#include "../core/dtype.h"
#include "../core/thread_pool.h"
#include "kiln.h"

namespace kiln::cpu {

// The walk's operands: their collapsed shape (core/collapse.h) and where each starts.
template <int K>
struct Plan : Collapsed<K> {
  char *base[K];
  int64_t esize[K];
};

template <int K>
Plan<K> make_plan(const kiln_tensor *const (&ops)[K]) {
  Plan<K> p;
  for (int k = 0; k < K; k++) {
    p.base[k] = (char *)ops[k]->data;
    p.esize[k] = (int64_t)dtype_size(ops[k]->dtype);
  }
  collapse_dims(p, ops);
  return p;
}

// Calls f(ptrs, inner_strides, n) for each inner run covering flat indices [begin, end).
template <int K, class F>
void walk(const Plan<K> &p, int64_t begin, int64_t end, const F &f) {
  if (begin >= end) return;
  const int nd = p.ndim, last = nd - 1;
  int64_t idx[KILN_MAX_DIMS];
  int64_t rem = begin;
  for (int d = last; d >= 0; d--) {
    idx[d] = rem % p.shape[d];
    rem /= p.shape[d];
  }
  char *ptr[K];
  int64_t inner[K];
  for (int k = 0; k < K; k++) {
    int64_t off = 0;
    for (int d = 0; d < nd; d++) off += idx[d] * p.st[k][d];
    ptr[k] = p.base[k] + off * p.esize[k];
    inner[k] = p.st[k][last];
  }
  int64_t pos = begin;
  while (pos < end) {
    int64_t n = p.shape[last] - idx[last];
    if (n > end - pos) n = end - pos;
    f(ptr, inner, n);
    pos += n;
    if (pos >= end) break;
    // advance: inner run finished (idx[last] wraps to 0), carry into outer dims
    for (int k = 0; k < K; k++)
      ptr[k] += (p.st[k][last] * (p.shape[last] - idx[last])) * p.esize[k] - p.st[k][last] * p.shape[last] * p.esize[k];
    idx[last] = 0;
    for (int d = last - 1; d >= 0; d--) {
      for (int k = 0; k < K; k++) ptr[k] += p.st[k][d] * p.esize[k];
      if (++idx[d] < p.shape[d]) break;
      for (int k = 0; k < K; k++) ptr[k] -= p.st[k][d] * p.shape[d] * p.esize[k];
      idx[d] = 0;
    }
  }
}

// Elements per task for memory-bound loops: a share must be worth well over a ~2 us handoff.
constexpr int64_t kElementwiseGrain = 1 << 16;

// Outputs of at least this many bytes are written with non-temporal stores by the memory-bound
// kernels (the `stream` flag of arch/isa.h's row and nn entries): half of a 32 MB last-level
// cache, so an output that size would not be read back from it anyway, and streaming saves the
// read-for-ownership of every line (the copy-bandwidth reference, memcpy, does the same).
constexpr int64_t kStreamBytes = 16 << 20;
// Orders a task's non-temporal stores before what follows it; called once at the end of a task.
inline void stream_fence() {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_sfence();
#endif
}
inline bool stream_output(const kiln_tensor &t) {
  int64_t n = t.dtype == KILN_FLOAT64 ? 8 : 4;
  for (int d = 0; d < t.ndim; d++) n *= t.shape[d];
  return n >= kStreamBytes;
}

// Elements per task of a memory-bound loop over `total` elements: about kTasksPerThread tasks per
// thread of the pool, at least min_grain, in whole kStreamGrainStep blocks. Each task costs more
// than its handoff: its first lines arrive unprefetched, its streamed stores are fenced at its end,
// and a thread's next task lies elsewhere, so its stream restarts (softmax [16384, 1024] on two
// threads, tasks of 16K elements: 0.53 of copy_; 512K: 0.84). Several tasks per thread still let
// the others take over the share of a thread that a neighbour on the host slows down.
constexpr int64_t kTasksPerThread = 8;
constexpr int64_t kStreamGrainStep = 4096;
inline int64_t stream_grain(ThreadPool *pool, int64_t total, int64_t min_grain) {
  const int64_t threads = pool ? pool->size() : 1;
  const int64_t g = (total / (threads * kTasksPerThread) + kStreamGrainStep - 1) / kStreamGrainStep * kStreamGrainStep;
  return std::max(min_grain, g);
}
// The same in rows of n elements (at least one row).
inline int64_t stream_grain_rows(ThreadPool *pool, int64_t rows, int64_t n, int64_t min_grain) {
  return std::max<int64_t>(1, stream_grain(pool, rows * n, min_grain) / std::max<int64_t>(n, 1));
}
// Columns per strip of an [outer, n, inner] walk down columns (inner > 1: scan.cpp, var.cpp):
// about two strips per thread, a multiple of 16, within [256, 4096] (each row of a strip is read
// whole; 4096 double accumulators are 32 KB).
inline int64_t column_strip(ThreadPool *pool, int64_t outer, int64_t inner) {
  const int64_t threads = pool ? pool->size() : 1;
  const int64_t want = (inner * outer + 2 * threads - 1) / (2 * threads * outer);
  return std::clamp<int64_t>((want + 15) / 16 * 16, 256, 4096);
}
// The widest strip for column kernels that read their strip twice (softmax and its backward,
// crossEntropy with its gradient): the second pass finds more of a narrower strip still in cache
// ([8, 64, 32768] softmax(1): 4.18-4.20 ms at 4096 columns, 3.33-3.91 at 1024, 3.97-4.15 at 256).
constexpr int64_t kTwoPassStrip = 1024;
// Columns per strip for the float32 column kernels (rows.inc: groups of `most` = kColGroup
// columns, one vector of 16 at least): about two strips per thread, a multiple of 16, within
// [16, most], so that a short outer dim still gives every thread work (a column's bits do not
// depend on the columns beside it, so the strip width never changes a result).
inline int64_t col_group_strip(ThreadPool *pool, int64_t outer, int64_t inner, int64_t most) {
  const int64_t threads = pool ? pool->size() : 1;
  const int64_t want = (inner * outer + 2 * threads - 1) / (2 * threads * std::max<int64_t>(outer, 1));
  return std::clamp<int64_t>((want + 15) / 16 * 16, 16, most);
}
// stream_grain for an elementwise loop of n elements on ctx's pool.
template <class Ctx>
inline int64_t ew_grain(Ctx *ctx, int64_t n) {
  return stream_grain(ctx->pool.get(), n, kElementwiseGrain);
}

template <int K, class F>
void parallel_walk(ThreadPool *pool, const Plan<K> &p, int64_t grain, const F &f) {
  parallel_for(pool, p.numel, grain, [&](int64_t b, int64_t e) { walk(p, b, e, f); });
}

}  // namespace kiln::cpu
