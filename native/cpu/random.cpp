// Uniform and normal sampling from Philox 4x32-10: each element's value is core/philox_sample.h's
// (shared with the CUDA fill), so the numbers depend only on (seed, offset, e); each task computes
// one Philox block per 4 (float64: 2) elements. The TS generator advances offset by numel per call.
#include <cmath>
#include <limits>
#include <type_traits>

#include "../core/philox_sample.h"
#include "cpu_ops.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

template <bool Normal>
kiln_status fill_random(kiln_context *ctx, const kiln_tensor &out, uint64_t seed, uint64_t offset, double p0,
                        double p1) {
  const kiln_tensor *ops[1] = {&out};
  auto p = make_plan<1>(ops);
  // Collapsing only merges and drops size-1 dims, so the walk's flat index is the row-major index.
  KILN_DISPATCH_FLOAT(out.dtype, return fail(ctx, KILN_ERR_DTYPE, "random fill needs a floating dtype"), {
    constexpr bool wide = std::is_same_v<scalar_t, double>;
    const scalar_t top = philox_uniform_top<scalar_t>(p0, p1);
    parallel_for(ctx->pool.get(), p.numel, 1 << 14, [&](int64_t b, int64_t e) {
      int64_t idx = b;
      uint64_t block = philox_block<wide>(offset, b);
      Philox4 r = philox4x32_10(block, seed);
      walk(p, b, e, [&](char *const *ptr, const int64_t *st, int64_t n) {
        scalar_t *o = (scalar_t *)ptr[0];
        for (int64_t i = 0; i < n; i++, idx++) {
          if (philox_block<wide>(offset, idx) != block)
            r = philox4x32_10(block = philox_block<wide>(offset, idx), seed);
          scalar_t v = store<scalar_t>(philox_sample<Normal, wide>(r, idx, p0, p1, p1 - p0));
          if (!Normal && (double)load(v) >= p1) v = top;
          o[i * st[0]] = v;
        }
      });
    });
  });
  return KILN_OK;
}

}  // namespace

kiln_status uniform_cpu(kiln_context *ctx, const kiln_tensor &out, uint64_t seed, uint64_t offset, double lo,
                        double hi) {
  return fill_random<false>(ctx, out, seed, offset, lo, hi);
}
kiln_status normal_cpu(kiln_context *ctx, const kiln_tensor &out, uint64_t seed, uint64_t offset, double mean,
                       double std) {
  return fill_random<true>(ctx, out, seed, offset, mean, std);
}

}  // namespace kiln::cpu
