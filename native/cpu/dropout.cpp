// Dropout: y = x * scale where Philox keeps the element, else x * 0, with scale = 1 / (1 - p).
// Element e (row-major) keeps when (word >> 8) >= threshold, word = word e % 4 of
// Philox4x32-10(offset + e / 4, seed): the same counter convention as random.cpp's 32-bit
// draws, so the mask depends only on (seed, offset, e), never on threads or layout. The mask is
// never stored: the backward pass runs this kernel on the gradient with the same (seed, offset).
#include "../core/philox.h"
#include "cpu_ops.h"
#include "strided_loop.h"

namespace kiln::cpu {

kiln_status dropout_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &x, uint64_t seed, uint64_t offset,
                        uint32_t threshold, double scale) {
  if (out.dtype != x.dtype) return fail(ctx, KILN_ERR_DTYPE, "output dtype differs from the input's");
  if (threshold > (1u << 24)) return fail(ctx, KILN_ERR_ARG, "threshold %u is above 2^24", threshold);
  const kiln_tensor *ops[2] = {&out, &x};
  auto p = make_plan<2>(ops);
  // ew_grain gives kElementwiseGrain or whole kStreamGrainStep blocks, both multiples of 4, so every
  // task starts on a Philox block boundary.
  static_assert(kElementwiseGrain % 4 == 0 && kStreamGrainStep % 4 == 0, "dropout tasks must start on a counter block");
  if (out.dtype == KILN_FLOAT32 && p.ndim == 1 && p.st[0][0] == 1 && p.st[1][0] == 1) {
    const NnKernels &nn = isa_kernels(ctx->isa)->nn;
    float *o = (float *)p.base[0];
    const float *a = (const float *)p.base[1];
    parallel_for(ctx->pool.get(), p.numel, ew_grain(ctx, p.numel), [&](int64_t b, int64_t e) {
      nn.dropout_f32(o + b, a + b, e - b, seed, offset + (uint64_t)b / 4, threshold, (float)scale);
    });
    return KILN_OK;
  }
  KILN_DISPATCH_FLOAT(x.dtype, return fail(ctx, KILN_ERR_DTYPE, "dropout needs a floating dtype"), {
    using C = compute_t<scalar_t>;
    const C s = (C)scale;
    parallel_for(ctx->pool.get(), p.numel, ew_grain(ctx, p.numel), [&](int64_t b, int64_t e) {
      int64_t idx = b;
      Philox4 r = philox4x32_10(offset + (uint64_t)idx / 4, seed);
      walk(p, b, e, [&](char *const *ptr, const int64_t *st, int64_t n) {
        scalar_t *o = (scalar_t *)ptr[0];
        const scalar_t *a = (const scalar_t *)ptr[1];
        for (int64_t i = 0; i < n; i++, idx++) {
          if ((idx & 3) == 0) r = philox4x32_10(offset + (uint64_t)idx / 4, seed);
          bool keep = (r.v[idx & 3] >> 8) >= threshold;
          o[i * st[0]] = store<scalar_t>(load(a[i * st[1]]) * (keep ? s : (C)0));
        }
      });
    });
  });
  return KILN_OK;
}

}  // namespace kiln::cpu
