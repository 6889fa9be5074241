// gather / scatter / scatter-add along one dim. Index values are checked here (only native code
// sees them) and a bad one returns KILN_ERR_INDEX naming the value and the bound. Scatter runs
// serially in index order, so duplicate indices give one deterministic result.
#include <atomic>
#include <cinttypes>
#include <cstring>

#include "cpu_ops.h"
#include "scalar_math.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

template <class I>
int64_t read_index(const char *p) {
  return (int64_t) * (const I *)p;
}

int64_t index_at(int dt, const char *p) { return dt == KILN_INT64 ? read_index<int64_t>(p) : read_index<int32_t>(p); }

}  // namespace

kiln_status gather_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, const kiln_tensor &index,
                       int dim) {
  if (index.dtype != KILN_INT64 && index.dtype != KILN_INT32)
    return fail(ctx, KILN_ERR_DTYPE, "gather: index must be int64 or int32");
  if (out.dtype != in.dtype) return fail(ctx, KILN_ERR_DTYPE, "gather: output dtype differs from input");
  if (dim < 0 || dim >= in.ndim || out.ndim != in.ndim || index.ndim != in.ndim)
    return fail(ctx, KILN_ERR_SHAPE, "gather: rank mismatch");
  kiln_tensor src = in;  // shaped like out; the gathered dim is addressed through the index
  for (int d = 0; d < in.ndim; d++) src.shape[d] = out.shape[d];
  src.strides[dim] = 0;
  const kiln_tensor *ops[3] = {&out, &index, &src};
  auto p = make_plan<3>(ops);
  int64_t limit = in.shape[dim], sdim = in.strides[dim];
  size_t es = dtype_size(in.dtype);
  std::atomic<int64_t> bad{INT64_MIN};
  auto fix = [&](int64_t ix) {  // the index wrapped, or -1 (and noted) when out of range
    if (ix < 0) ix += limit;
    if (ix < 0 || ix >= limit) {
      bad.store(ix < 0 ? ix - limit : ix);
      return int64_t(-1);
    }
    return ix;
  };
  parallel_walk(ctx->pool.get(), p, kElementwiseGrain, [&](char *const *ptr, const int64_t *st, int64_t n) {
    // One index for a whole contiguous run (index_select's rows, an expanded index): one copy.
    // Element by element, each was a memcpy call of es bytes ([4096, 4096] rows: 35 ms).
    if (st[1] == 0 && st[0] == 1 && st[2] == 1) {
      const int64_t ix = fix(index_at(index.dtype, ptr[1]));
      if (ix >= 0) memcpy(ptr[0], ptr[2] + ix * sdim * (int64_t)es, (size_t)n * es);
      return;
    }
    auto run = [&](auto word) {
      using U = decltype(word);
      for (int64_t i = 0; i < n; i++) {
        const int64_t ix = fix(index_at(index.dtype, ptr[1] + i * st[1] * p.esize[1]));
        if (ix >= 0) memcpy(ptr[0] + i * st[0] * es, ptr[2] + (i * st[2] + ix * sdim) * (int64_t)es, sizeof(U));
      }
    };
    switch (es) {
      case 1: run(uint8_t{}); break;
      case 2: run(uint16_t{}); break;
      case 4: run(uint32_t{}); break;
      default: run(uint64_t{}); break;
    }
  });
  if (bad.load() != INT64_MIN)
    return fail(ctx, KILN_ERR_INDEX, "index %" PRId64 " is out of range for dimension %d of size %" PRId64, bad.load(),
                dim, limit);
  return KILN_OK;
}

kiln_status scatter_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &index, const kiln_tensor &src,
                        int dim, bool accumulate) {
  if (index.dtype != KILN_INT64 && index.dtype != KILN_INT32)
    return fail(ctx, KILN_ERR_DTYPE, "scatter: index must be int64 or int32");
  if (out.dtype != src.dtype) return fail(ctx, KILN_ERR_DTYPE, "scatter: source dtype differs from output");
  if (dim < 0 || dim >= out.ndim || index.ndim != out.ndim || src.ndim != out.ndim)
    return fail(ctx, KILN_ERR_SHAPE, "scatter: rank mismatch");
  kiln_tensor dst = out;
  for (int d = 0; d < out.ndim; d++) dst.shape[d] = index.shape[d];
  dst.strides[dim] = 0;
  kiln_tensor s = src;
  for (int d = 0; d < out.ndim; d++) s.shape[d] = index.shape[d];
  const kiln_tensor *ops[3] = {&index, &s, &dst};
  auto p = make_plan<3>(ops);
  int64_t limit = out.shape[dim], sdim = out.strides[dim];
  // Validate first so a bad index leaves the output untouched.
  int64_t bad = INT64_MIN;
  walk(p, 0, p.numel, [&](char *const *ptr, const int64_t *st, int64_t n) {
    for (int64_t i = 0; i < n && bad == INT64_MIN; i++) {
      int64_t ix = index_at(index.dtype, ptr[0] + i * st[0] * p.esize[0]);
      if (ix < -limit || ix >= limit) bad = ix;
    }
  });
  if (bad != INT64_MIN)
    return fail(ctx, KILN_ERR_INDEX, "index %" PRId64 " is out of range for dimension %d of size %" PRId64, bad, dim,
                limit);
  KILN_DISPATCH_ALL(out.dtype, return fail(ctx, KILN_ERR_DTYPE, "scatter: bad dtype"), {
    walk(p, 0, p.numel, [&](char *const *ptr, const int64_t *st, int64_t n) {
      for (int64_t i = 0; i < n; i++) {
        int64_t ix = index_at(index.dtype, ptr[0] + i * st[0] * p.esize[0]);
        if (ix < 0) ix += limit;
        scalar_t *d = (scalar_t *)(ptr[2]) + i * st[2] + ix * sdim;
        const scalar_t *v = (const scalar_t *)(ptr[1]) + i * st[1];
        if (accumulate)
          *d = store<scalar_t>(math::Add{}(load(*d), load(*v)));
        else
          *d = *v;
      }
    });
  });
  return KILN_OK;
}

}  // namespace kiln::cpu
