// Reductions (sum, prod, max, min, argmax, argmin) over the trailing `nred` dims of a strided view.
// Paths: (1) the reduced dims form one contiguous run: SIMD run reductions (float32) per output;
// (2) the outputs are contiguous in the input (reducing an outer dim, e.g. sum over dim 0 of a
// matrix): rows are added into a block of column accumulators in memory order (float32 sum / max /
// min through the ISA's accumulate_f32, a run of rows per call: compiled here, for the baseline
// ISA, the loop ran on SSE2: [16384, 1024] sum(0) 3.4 -> 1.1-1.9 ms, amax(0) 6.8 -> 1.5-2.6, copy_
// 1.8-2.1; wide rows go four at a time, kernels.inc); (3) general:
// per output, walk the reduced sub-view. A single huge reduction is split into
// fixed-size blocks whose partials are combined in block order, so the bits do not depend on
// the thread count. Accumulation: double for floating types, int64 for integers and bool.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "cpu_ops.h"
#include "scalar_math.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kBlock = 1 << 15;  // elements per partial of a split single reduction

template <class T>
using acc_t = std::conditional_t<std::is_floating_point_v<compute_t<T>>, double, int64_t>;

// Compared in the accumulation type, so int64 values above 2^53 keep their order.
template <class A>
struct ArgResult {
  A v;
  int64_t i;
};

// Reduces `n` elements at p with stride s (elements), from reduced-flat index `base`.
template <class T, Reduce R>
struct Runner {
  using A = acc_t<T>;
  static A init() {
    if constexpr (R == Reduce::Sum) return A(0);
    if constexpr (R == Reduce::Prod) return A(1);
    if constexpr (R == Reduce::Max)
      return std::is_floating_point_v<A> ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::lowest();
    if constexpr (R == Reduce::Min)
      return std::is_floating_point_v<A> ? std::numeric_limits<A>::infinity() : std::numeric_limits<A>::max();
    return A(0);
  }
  static void step(A &acc, A v) {
    if constexpr (R == Reduce::Sum) acc = math::wrap_add(acc, v);
    if constexpr (R == Reduce::Prod) acc = math::wrap_mul(acc, v);
    if constexpr (R == Reduce::Max) acc = (acc != acc || v != v) ? (acc != acc ? acc : v) : (v > acc ? v : acc);
    if constexpr (R == Reduce::Min) acc = (acc != acc || v != v) ? (acc != acc ? acc : v) : (v < acc ? v : acc);
  }
};

template <class T>
struct SubView {
  Plan<1> plan;  // the reduced dims, base rebased per output
  int64_t n;
};

template <class T, Reduce R>
acc_t<T> reduce_range(const SubView<T> &sv, char *base, int64_t b, int64_t e) {
  using Run = Runner<T, R>;
  acc_t<T> acc = Run::init();
  Plan<1> p = sv.plan;
  p.base[0] = base;
  walk(p, b, e, [&](char *const *ptr, const int64_t *st, int64_t n) {
    const T *x = (const T *)ptr[0];
    for (int64_t i = 0; i < n; i++) Run::step(acc, (acc_t<T>)load(x[i * st[0]]));
  });
  return acc;
}

template <class T, bool Max>
ArgResult<acc_t<T>> arg_range(const SubView<T> &sv, char *base, int64_t b, int64_t e) {
  using A = acc_t<T>;
  ArgResult<A> r{0, -1};
  Plan<1> p = sv.plan;
  p.base[0] = base;
  int64_t idx = b;
  walk(p, b, e, [&](char *const *ptr, const int64_t *st, int64_t n) {
    const T *x = (const T *)ptr[0];
    for (int64_t i = 0; i < n; i++, idx++) {
      A v = (A)load(x[i * st[0]]);
      if (r.i >= 0 && r.v != r.v) continue;  // first NaN wins, like PyTorch
      if (r.i < 0 || v != v || (Max ? v > r.v : v < r.v)) r = {v, idx};
    }
  });
  return r;
}

// argmax / argmin of a contiguous float32 run as arg_range finds it (the first NaN, else the first
// index of the extreme), from the ISA's max / min and a search: [4096, 4096].argmax(1) 7.4 ms
// element by element in double.
template <bool Max>
int64_t arg_run_f32(const IsaKernels *isa, const float *x, int64_t n) {
  const float m = Max ? isa->max_f32(x, n) : isa->min_f32(x, n);
  if (m != m) {
    for (int64_t i = 0; i < n; i++)
      if (x[i] != x[i]) return i;
  }
  for (int64_t i = 0; i < n; i++)
    if (x[i] == m) return i;
  return 0;
}

template <class T, Reduce R>
acc_t<T> combine(acc_t<T> a, acc_t<T> b) {
  Runner<T, R>::step(a, b);
  return a;
}

// Float32 contiguous runs use the ISA table for sum/max/min.
template <class T, Reduce R>
bool fast_run(kiln_context *ctx, const SubView<T> &sv, char *base, int64_t b, int64_t e, acc_t<T> &out) {
  if constexpr (std::is_same_v<T, float> && (R == Reduce::Sum || R == Reduce::Max || R == Reduce::Min)) {
    if (sv.plan.ndim == 1 && sv.plan.st[0][0] == 1) {
      const IsaKernels *isa = isa_kernels(ctx->isa);
      const float *x = (const float *)base + b;
      if (R == Reduce::Sum) out = isa->sum_f32(x, e - b);
      if (R == Reduce::Max) out = isa->max_f32(x, e - b);
      if (R == Reduce::Min) out = isa->min_f32(x, e - b);
      return true;
    }
  }
  (void)ctx, (void)sv, (void)base, (void)b, (void)e, (void)out;
  return false;
}

template <class T, Reduce R>
void add_rows(const IsaKernels *isa, const SubView<T> &sv, char *x, int64_t r0, int64_t r1, acc_t<T> *acc, int64_t n) {
  using A = acc_t<T>;
  Plan<1> p = sv.plan;
  p.base[0] = x;
  walk(p, r0, r1, [&](char *const *rp, const int64_t *rst, int64_t m) {
    if constexpr (std::is_same_v<T, float> && (R == Reduce::Sum || R == Reduce::Max || R == Reduce::Min)) {
      isa->accumulate_f32(R == Reduce::Sum   ? Accumulate::Sum
                          : R == Reduce::Max ? Accumulate::Max
                                             : Accumulate::Min,
                          acc, (const T *)rp[0], n, m, rst[0]);
    } else {
      for (int64_t k = 0; k < m; k++) {
        const T *row = (const T *)rp[0] + k * rst[0];
        if constexpr (R == Reduce::Sum && std::is_same_v<T, double>) {
          A *__restrict a = acc;  // a plain loop the compiler vectorises
          for (int64_t j = 0; j < n; j++) a[j] += (A)row[j];
        } else {
          for (int64_t j = 0; j < n; j++) Runner<T, R>::step(acc[j], (A)load(row[j]));
        }
      }
    }
  });
}

template <class T, Reduce R>
void store_row(int out_dtype, char *o, const acc_t<T> *acc, int64_t n) {
  KILN_DISPATCH_ALL(out_dtype, , {
    scalar_t *dst = (scalar_t *)o;
    for (int64_t j = 0; j < n; j++) dst[j] = store<scalar_t>(acc[j]);
  });
}

// Path (2): outputs o[0..n) read x[r][0..n) for each reduced index r, so whole rows are added
// into accumulators in memory order. With one run of outputs and many rows, the rows are split
// into fixed chunks (partials combined in chunk order), so both threads stream contiguous memory
// and the bits still do not depend on the thread count.
template <class T, Reduce R>
void reduce_columns(kiln_context *ctx, const Plan<2> &op, const SubView<T> &sv, int out_dtype) {
  using A = acc_t<T>;
  const IsaKernels *isa = isa_kernels(ctx->isa);
  constexpr int64_t kRowChunk = 256, kColBlock = 4096;
  if (op.ndim == 1 && sv.n >= 2 * kRowChunk) {
    const int64_t n = op.shape[0], nchunks = (sv.n + kRowChunk - 1) / kRowChunk;
    const int64_t ncb = (n + kColBlock - 1) / kColBlock;
    std::vector<A> part((size_t)(nchunks * n), Runner<T, R>::init());
    parallel_for(ctx->pool.get(), nchunks * ncb, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; t++) {
        int64_t c = t / ncb, j0 = (t % ncb) * kColBlock, w = std::min(kColBlock, n - j0);
        add_rows<T, R>(isa, sv, op.base[1] + j0 * op.esize[1], c * kRowChunk, std::min(sv.n, (c + 1) * kRowChunk),
                       part.data() + c * n + j0, w);
      }
    });
    parallel_for(ctx->pool.get(), n, 1024, [&](int64_t j0, int64_t j1) {
      std::vector<A> acc(part.begin() + j0, part.begin() + j1);
      for (int64_t c = 1; c < nchunks; c++)
        for (int64_t j = j0; j < j1; j++) Runner<T, R>::step(acc[j - j0], part[c * n + j]);
      store_row<T, R>(out_dtype, op.base[0] + j0 * op.esize[0], acc.data(), j1 - j0);
    });
    return;
  }
  // Wide column blocks keep each row segment long enough for the prefetcher (1024 floats = 4 KiB).
  int64_t grain = std::max<int64_t>(1024, kElementwiseGrain / std::max<int64_t>(1, sv.n));
  parallel_walk(ctx->pool.get(), op, grain, [&](char *const *ptr, const int64_t *, int64_t n) {
    std::vector<A> acc((size_t)n, Runner<T, R>::init());
    add_rows<T, R>(isa, sv, ptr[1], 0, sv.n, acc.data(), n);
    store_row<T, R>(out_dtype, ptr[0], acc.data(), n);
  });
}

// Sums this short or shorter go to the ISA's sum_rows_f32 a run of outputs at a time.
constexpr int64_t kShortSums = 64;

template <class T, Reduce R>
kiln_status reduce_typed(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, int nred) {
  constexpr bool is_arg = R == Reduce::ArgMax || R == Reduce::ArgMin;
  int nouter = in.ndim - nred;
  // Sub-view of the reduced dims, and a 2-operand view (out, in) over the outer dims.
  kiln_tensor red{};
  red.data = in.data;
  red.dtype = in.dtype;
  red.ndim = nred;
  int64_t R_n = 1;
  for (int d = 0; d < nred; d++) {
    red.shape[d] = in.shape[nouter + d];
    red.strides[d] = in.strides[nouter + d];
    R_n *= red.shape[d];
  }
  const kiln_tensor *rops[1] = {&red};
  SubView<T> sv{make_plan<1>(rops), R_n};
  kiln_tensor outer_in = in;
  outer_in.ndim = nouter;
  kiln_tensor outer_out = out;
  const kiln_tensor *oops[2] = {&outer_out, &outer_in};
  auto op = make_plan<2>(oops);
  if (R_n == 0 && (R == Reduce::Max || R == Reduce::Min || is_arg))
    return fail(ctx, KILN_ERR_SHAPE, "reduction over an empty dimension has no identity");

  auto write = [&](char *o, acc_t<T> v) { KILN_DISPATCH_ALL(out.dtype, , *(scalar_t *)o = store<scalar_t>(v)); };
  auto reduce_one = [&](char *o, char *x, int64_t b, int64_t e) -> acc_t<T> {
    acc_t<T> v;
    if (!fast_run<T, R>(ctx, sv, x, b, e, v)) v = reduce_range<T, R>(sv, x, b, e);
    (void)o;
    return v;
  };

  if (op.numel == 1 && R_n >= 4 * kBlock) {  // one big reduction: fixed blocks, any thread count
    // A task takes a run of blocks (stream_grain: about kTasksPerThread a thread), so a thread reads
    // long stretches of memory rather than every other block (x.sum() of 64 MB on 2 threads,
    // standalone: a block a task read about 15% slower than halves).
    const int64_t nb = (R_n + kBlock - 1) / kBlock,
                  per = std::max<int64_t>(1, stream_grain(ctx->pool.get(), R_n, kBlock) / kBlock);
    char *x = op.base[1], *o = op.base[0];
    if constexpr (is_arg) {
      std::vector<ArgResult<acc_t<T>>> parts(nb);
      parallel_for(ctx->pool.get(), nb, per, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; b++)
          parts[b] = arg_range<T, R == Reduce::ArgMax>(sv, x, b * kBlock, std::min(R_n, (b + 1) * kBlock));
      });
      ArgResult<acc_t<T>> best = parts[0];
      for (int64_t b = 1; b < nb; b++) {
        const ArgResult<acc_t<T>> &c = parts[b];
        if (best.v != best.v) break;
        if (c.v != c.v || (R == Reduce::ArgMax ? c.v > best.v : c.v < best.v)) best = c;
      }
      *(int64_t *)o = best.i;
    } else {
      std::vector<acc_t<T>> parts(nb);
      parallel_for(ctx->pool.get(), nb, per, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; b++) parts[b] = reduce_one(o, x, b * kBlock, std::min(R_n, (b + 1) * kBlock));
      });
      acc_t<T> acc = parts[0];
      for (int64_t b = 1; b < nb; b++) acc = combine<T, R>(acc, parts[b]);
      write(o, acc);
    }
    return KILN_OK;
  }

  if constexpr (R == Reduce::Sum || R == Reduce::Max || R == Reduce::Min) {
    const int last = op.ndim - 1;
    bool columns = R_n > 0 && op.st[0][last] == 1 && op.st[1][last] == 1 && op.shape[last] >= 16 &&
                   !(sv.plan.ndim == 1 && sv.plan.st[0][0] == 1);
    if (columns) {
      reduce_columns<T, R>(ctx, op, sv, out.dtype);
      return KILN_OK;
    }
  }

  int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, R_n));
  // Short contiguous float32 sums of rows that follow each other, into float32 outputs in a row:
  // one ISA call per run of outputs (sum_rows_f32, sum_f32's bits) instead of a call each. A sum
  // over dims 3 and 5 of [16, 64, 56, 2, 56, 2] (an expand's gradient: sums of 4), 2 threads:
  // 36 -> 10 ms.
  const bool rows_f32 = std::is_same_v<T, float> && R == Reduce::Sum && out.dtype == KILN_FLOAT32 && R_n > 0 &&
                        R_n <= kShortSums && sv.plan.ndim == 1 && sv.plan.st[0][0] == 1;
  const IsaKernels *isa = isa_kernels(ctx->isa);
  parallel_walk(ctx->pool.get(), op, grain, [&](char *const *ptr, const int64_t *st, int64_t n) {
    if (rows_f32 && st[0] == 1 && st[1] == R_n) {
      isa->sum_rows_f32((float *)ptr[0], (const float *)ptr[1], R_n, n);
      return;
    }
    for (int64_t j = 0; j < n; j++) {
      char *o = ptr[0] + j * st[0] * op.esize[0];
      char *x = ptr[1] + j * st[1] * op.esize[1];
      if constexpr (is_arg) {
        if constexpr (std::is_same_v<T, float>)
          if (R_n && sv.plan.ndim == 1 && sv.plan.st[0][0] == 1) {
            *(int64_t *)o = arg_run_f32<R == Reduce::ArgMax>(isa_kernels(ctx->isa), (const float *)x, R_n);
            continue;
          }
        *(int64_t *)o = R_n ? arg_range<T, R == Reduce::ArgMax>(sv, x, 0, R_n).i : 0;
      } else {
        write(o, R_n ? reduce_one(o, x, 0, R_n) : Runner<T, R>::init());
      }
    }
  });
  return KILN_OK;
}

}  // namespace

kiln_status reduce_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, int nred, Reduce op) {
  if (nred < 0 || nred > in.ndim || out.ndim != in.ndim - nred)
    return fail(ctx, KILN_ERR_SHAPE, "reduce: output rank %d does not match input rank %d minus %d", out.ndim, in.ndim,
                nred);
  if ((op == Reduce::ArgMax || op == Reduce::ArgMin) && out.dtype != KILN_INT64)
    return fail(ctx, KILN_ERR_DTYPE, "argmax/argmin: output must be int64");
  kiln_status st = KILN_OK;
  KILN_DISPATCH_ALL(in.dtype, return fail(ctx, KILN_ERR_DTYPE, "reduce: bad dtype"), {
    switch (op) {
      case Reduce::Sum: st = reduce_typed<scalar_t, Reduce::Sum>(ctx, out, in, nred); break;
      case Reduce::Prod: st = reduce_typed<scalar_t, Reduce::Prod>(ctx, out, in, nred); break;
      case Reduce::Max: st = reduce_typed<scalar_t, Reduce::Max>(ctx, out, in, nred); break;
      case Reduce::Min: st = reduce_typed<scalar_t, Reduce::Min>(ctx, out, in, nred); break;
      case Reduce::ArgMax: st = reduce_typed<scalar_t, Reduce::ArgMax>(ctx, out, in, nred); break;
      case Reduce::ArgMin: st = reduce_typed<scalar_t, Reduce::ArgMin>(ctx, out, in, nred); break;
    }
  });
  return st;
}

}  // namespace kiln::cpu
