// float64 GEMM driver (gemm.h: gemm_f64). The loop nest of the float32 driver (gemm.cpp), without its
// fused bias, activation and in-place B: per task a block of C; K in blocks of kc so an A sliver
// (mr x kc doubles) fills half of L1; A's slivers packed in blocks of at most 4 MiB; B's nr-wide panels
// packed in blocks that fill half of L2; one register tile (arch/gemm_f64.inc) per sliver and panel.
// Work is split over rows or columns of C, never over K, and kc depends only on K and the caches, so
// the bits are the same for any thread count.
#include <unistd.h>

#include <algorithm>

#include "../core/thread_pool.h"
#include "gemm.h"
#include "scratch.h"

namespace kiln::cpu {

namespace {

thread_local Scratch tl_a, tl_b;  // packed A slivers and B panels, as doubles (scratch.h)

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t cache_size(int level) {
  long v = -1;
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE)
  v = sysconf(level == 1 ? _SC_LEVEL1_DCACHE_SIZE : _SC_LEVEL2_CACHE_SIZE);
#endif
  if (level == 1) return v >= (16 << 10) && v <= (1 << 20) ? v : 32 << 10;
  return v >= (128 << 10) && v <= (64 << 20) ? v : 1 << 20;
}

double *doubles(Scratch &s, int64_t n) { return (double *)s.get((size_t)(2 * n)); }

// dst[k * full + r] = src[r * rs + k * ks] for r < count, zero up to full, k < kc: an A sliver (r a row of
// A) or a B panel (r a column of B). The source's contiguous direction is the inner loop.
void pack(double *dst, int full, const double *src, int64_t rs, int64_t ks, int count, int64_t kc) {
  if (ks == 1) {
    for (int64_t k = 0; k < kc; k++)
      for (int r = count; r < full; r++) dst[k * full + r] = 0.0;
    for (int r = 0; r < count; r++)
      for (int64_t k = 0; k < kc; k++) dst[k * full + r] = src[r * rs + k];
    return;
  }
  for (int64_t k = 0; k < kc; k++) {
    double *d = dst + k * full;
    const double *s = src + k * ks;
    for (int r = 0; r < count; r++) d[r] = s[r * rs];
    for (int r = count; r < full; r++) d[r] = 0.0;
  }
}

struct Plan {
  int64_t kc, tm, tn, mp, np, chunk, ablock;
};

void run_task(const GemmF64Kernels &gk, const GemmF64Geometry &g, const Plan &p, const GemmF64Ptrs &m, int64_t ti,
              int64_t tj) {
  const int mr_full = gk.mr, nr_full = gk.nr;
  const int64_t s0 = p.mp * ti / p.tm, s1 = p.mp * (ti + 1) / p.tm;  // row slivers of this task
  const int64_t q0 = p.np * tj / p.tn, q1 = p.np * (tj + 1) / p.tn;  // column panels
  if (s0 == s1 || q0 == q1) return;
  // A cache line of slack per sliver and panel, so power-of-two sizes do not share cache sets.
  const int64_t sliver = p.kc * mr_full + 8, panel = p.kc * nr_full + 8;
  double *abuf = doubles(tl_a, std::min(p.ablock, s1 - s0) * sliver);
  double *bbuf = doubles(tl_b, std::min(p.chunk, q1 - q0) * panel);
  for (int64_t k0 = 0; k0 < g.K; k0 += p.kc) {
    const int64_t kc = std::min(p.kc, g.K - k0);
    const double beta = k0 == 0 ? g.beta : 1.0;
    for (int64_t sa = s0; sa < s1; sa += p.ablock) {
      const int64_t sb = std::min(s1, sa + p.ablock);
      for (int64_t s = sa; s < sb; s++) {
        const int64_t i = s * mr_full;
        pack(abuf + (s - sa) * sliver, mr_full, m.a + i * g.rsa + k0 * g.csa, g.rsa, g.csa,
             (int)std::min<int64_t>(mr_full, g.M - i), kc);
      }
      for (int64_t qa = q0; qa < q1; qa += p.chunk) {
        const int64_t qb = std::min(q1, qa + p.chunk);
        for (int64_t q = qa; q < qb; q++) {
          const int64_t j = q * nr_full;
          pack(bbuf + (q - qa) * panel, nr_full, m.b + k0 * g.rsb + j * g.csb, g.csb, g.rsb,
               (int)std::min<int64_t>(nr_full, g.N - j), kc);
        }
        for (int64_t s = sa; s < sb; s++) {
          const int64_t i = s * mr_full;
          const int mr = (int)std::min<int64_t>(mr_full, g.M - i);
          for (int64_t q = qa; q < qb; q++) {
            const int64_t j = q * nr_full;
            gk.tile(kc, abuf + (s - sa) * sliver, bbuf + (q - qa) * panel, m.c + i * g.rsc + j, g.rsc, mr,
                    (int)std::min<int64_t>(nr_full, g.N - j), g.alpha, beta);
          }
        }
      }
    }
  }
}

}  // namespace

void gemm_f64(kiln_context *ctx, const GemmF64Geometry &g, const std::vector<GemmF64Ptrs> &batch) {
  if (batch.empty() || g.M <= 0 || g.N <= 0) return;
  if (g.K <= 0 || g.alpha == 0.0) {  // C = beta C (as BLAS: A and B are not read, so their NaNs do not reach C)
    for (const GemmF64Ptrs &m : batch)
      for (int64_t i = 0; i < g.M; i++)
        for (int64_t j = 0; j < g.N; j++) m.c[i * g.rsc + j] = g.beta == 0.0 ? 0.0 : g.beta * m.c[i * g.rsc + j];
    return;
  }
  const GemmF64Kernels &gk = isa_kernels(ctx->isa)->gemm_f64;
  const int threads = ctx->pool ? ctx->pool->size() : 1;
  const int64_t f = (int64_t)sizeof(double);
  Plan p{};
  const int64_t kc_max = std::max<int64_t>(64, cache_size(1) / 2 / (gk.mr * f) / 8 * 8);
  p.kc = ceil_div(g.K, std::max<int64_t>(1, ceil_div(g.K, kc_max)));  // near-equal blocks
  p.mp = ceil_div(g.M, gk.mr);
  p.np = ceil_div(g.N, gk.nr);
  p.chunk = std::max<int64_t>(1, cache_size(2) / 2 / (p.kc * gk.nr * f));
  p.ablock = std::max<int64_t>(1, (4 << 20) / (p.kc * gk.mr * f));
  p.tm = p.tn = 1;
  const int64_t nbatch = (int64_t)batch.size();
  const double flops = 2.0 * (double)g.M * (double)g.N * (double)g.K;
  if (threads > 1 && flops >= 1e6 && nbatch < 2 * threads) {
    // One block of C per thread, cut across the longer side.
    const bool rows = g.M >= g.N ? p.mp >= threads : p.np < threads;
    (rows ? p.tm : p.tn) = std::min<int64_t>(rows ? p.mp : p.np, threads);
  }
  const int64_t per = p.tm * p.tn;
  const int64_t grain = per > 1 || flops >= 1e6 ? 1 : std::max<int64_t>(1, (int64_t)(1e6 / std::max(1.0, flops)));
  parallel_for(ctx->pool.get(), nbatch * per, grain, [&](int64_t s, int64_t e) {
    for (int64_t t = s; t < e; t++) run_task(gk, g, p, batch[t / per], (t % per) / p.tn, (t % per) % p.tn);
  });
}

}  // namespace kiln::cpu
