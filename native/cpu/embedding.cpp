// Embedding: forward copies rows of weight [num, D] picked by an int32/int64 index [T] into a
// contiguous [T, D] output; backward scatter-adds gy rows into a [num, D] gradient. The backward is
// deterministic for any thread count: indices are bucketed by destination row (a stable counting
// sort, in index order), then each task owns whole destination rows and adds its rows' gy rows in
// that order, so no two tasks touch one row and nothing needs atomics.
#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cpu_ops.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

int64_t index_value(const kiln_tensor &idx, int64_t i) {
  const char *p = (const char *)idx.data + i * idx.strides[0] * (int64_t)dtype_size(idx.dtype);
  return idx.dtype == KILN_INT64 ? *(const int64_t *)p : (int64_t) * (const int32_t *)p;
}

kiln_status check_index(kiln_context *ctx, const kiln_tensor &idx, int64_t num) {
  if (idx.dtype != KILN_INT64 && idx.dtype != KILN_INT32)
    return fail(ctx, KILN_ERR_DTYPE, "embedding: indices must be int32 or int64");
  if (idx.ndim != 1) return fail(ctx, KILN_ERR_SHAPE, "embedding: the index must be flattened to 1-d");
  for (int64_t i = 0; i < idx.shape[0]; i++) {
    int64_t v = index_value(idx, i);
    if (v < 0 || v >= num)
      return fail(ctx, KILN_ERR_INDEX, "embedding: index %" PRId64 " is out of range for a table of %" PRId64 " rows",
                  v, num);
  }
  return KILN_OK;
}

bool rows_contiguous(const kiln_tensor &t) { return t.shape[1] <= 1 || t.strides[1] == 1; }

}  // namespace

kiln_status embedding_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &weight,
                          const kiln_tensor &idx) {
  if (weight.ndim != 2 || out.ndim != 2 || out.shape[1] != weight.shape[1] || idx.ndim != 1 ||
      out.shape[0] != idx.shape[0] || !rows_contiguous(out) || (out.shape[0] > 1 && out.strides[0] != out.shape[1]))
    return fail(ctx, KILN_ERR_SHAPE, "embedding: expected weight [num, D], index [T] and a contiguous output [T, D]");
  if (out.dtype != weight.dtype) return fail(ctx, KILN_ERR_DTYPE, "embedding: output dtype differs from weight");
  if (kiln_status st = check_index(ctx, idx, weight.shape[0])) return st;
  const int64_t D = weight.shape[1], es = (int64_t)dtype_size(weight.dtype);
  const int64_t ws0 = weight.strides[0], ws1 = weight.strides[1];
  char *o = (char *)out.data;
  const char *w = (const char *)weight.data;
  int64_t grain = kElementwiseGrain / (D > 0 ? D : 1);
  parallel_for(ctx->pool.get(), idx.shape[0], grain < 1 ? 1 : grain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      const char *src = w + index_value(idx, t) * ws0 * es;
      char *dst = o + t * D * es;
      if (ws1 == 1 || D <= 1)
        memcpy(dst, src, (size_t)(D * es));
      else
        for (int64_t d = 0; d < D; d++) memcpy(dst + d * es, src + d * ws1 * es, (size_t)es);
    }
  });
  return KILN_OK;
}

kiln_status embedding_backward_cpu(kiln_context *ctx, const kiln_tensor &gw, const kiln_tensor &gy,
                                   const kiln_tensor &idx, int64_t padding_idx) {
  if (gw.ndim != 2 || gy.ndim != 2 || gy.shape[1] != gw.shape[1] || idx.ndim != 1 || gy.shape[0] != idx.shape[0] ||
      !rows_contiguous(gw) || !rows_contiguous(gy) || (gw.shape[0] > 1 && gw.strides[0] != gw.shape[1]))
    return fail(ctx, KILN_ERR_SHAPE, "embedding_backward: expected grad [T, D], index [T], a contiguous [num, D]");
  if (gw.dtype != gy.dtype) return fail(ctx, KILN_ERR_DTYPE, "embedding_backward: gradient dtypes differ");
  const int64_t num = gw.shape[0], D = gw.shape[1], T = idx.shape[0];
  if (kiln_status st = check_index(ctx, idx, num)) return st;
  // Stable counting sort of positions by destination row.
  std::vector<int64_t> start((size_t)num + 1, 0), order((size_t)T);
  for (int64_t t = 0; t < T; t++) start[(size_t)index_value(idx, t) + 1]++;
  for (int64_t r = 0; r < num; r++) start[(size_t)r + 1] += start[(size_t)r];
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t t = 0; t < T; t++) order[(size_t)fill[(size_t)index_value(idx, t)]++] = t;
  }
  const IsaKernels *isa = isa_kernels(ctx->isa);
  const int64_t gs0 = gy.strides[0];
  int64_t grain = kElementwiseGrain / (D > 0 ? D : 1);
  KILN_DISPATCH_FLOAT(gw.dtype, return fail(ctx, KILN_ERR_DTYPE, "embedding_backward: needs a floating dtype"), {
    using C = compute_t<scalar_t>;
    scalar_t *g = (scalar_t *)gw.data;
    const scalar_t *src = (const scalar_t *)gy.data;
    parallel_for(ctx->pool.get(), num, grain < 1 ? 1 : grain, [&](int64_t b, int64_t e) {
      std::vector<C> acc((size_t)D);
      for (int64_t r = b; r < e; r++) {
        scalar_t *dst = g + r * D;
        if constexpr (std::is_same_v<scalar_t, float>) {
          memset(dst, 0, (size_t)D * sizeof(float));
          if (r != padding_idx)
            for (int64_t k = start[(size_t)r]; k < start[(size_t)r + 1]; k++)
              isa->add_f32((float *)dst, (const float *)src + order[(size_t)k] * gs0, D);
        } else {
          std::fill(acc.begin(), acc.end(), (C)0);
          if (r != padding_idx)
            for (int64_t k = start[(size_t)r]; k < start[(size_t)r + 1]; k++) {
              const scalar_t *row = src + order[(size_t)k] * gs0;
              for (int64_t d = 0; d < D; d++) acc[(size_t)d] += load(row[d]);
            }
          for (int64_t d = 0; d < D; d++) dst[d] = store<scalar_t>(acc[(size_t)d]);
        }
      }
    });
  });
  return KILN_OK;
}

}  // namespace kiln::cpu
