// float32 GEMM driver (gemm.h). The loops, outermost first:
//   task  a block of C (rows x columns) per thread, run on the pool
//   pc    K in blocks of kc, so that one packed A sliver (mr x kc) fills half of L1
//   ia    a block of A's slivers, packed (at most 4 MiB)
//   qa    a block of B's nr-wide panels, packed so that it fills half of L2
//   s     one A sliver (L1)
//   q     one B panel (streamed from L2): one register tile (arch/gemm.inc)
// This is Goto's loop nest with the two operands' cache levels swapped (as BLIS does for its
// AVX-512 sgemm), which suits a row-major C whose vectors run along N. B is read in place when its
// rows are contiguous and it fits in a quarter of L2, so small matrices pack only A. Packing is a
// register transpose when the source runs along k (arch/gemm.inc). M == 1 and N == 1 take a GEMV
// path that streams the matrix once.
#include "gemm.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "../core/thread_pool.h"
#include "scratch.h"

namespace kiln::cpu {

namespace {

struct Caches {
  int64_t l1, l2;
};

// L1d and L2 per core from sysconf where the C library knows them; Zen/Skylake-like defaults.
Caches caches() {
  static const Caches c = [] {
    Caches r{32 << 10, 1 << 20};
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE)
    long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (l1 >= (16 << 10) && l1 <= (1 << 20)) r.l1 = l1;
    if (l2 >= (128 << 10) && l2 <= (64 << 20)) r.l2 = l2;
#endif
    return r;
  }();
  return c;
}

thread_local Scratch tl_a, tl_b;  // packed A slivers and B panels (scratch.h)

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A sliver: dst[k * mr_full + i] = A[i, k] for i < mr, zero up to mr_full.
void pack_a(const GemmKernels &gk, float *dst, const float *a, int64_t rsa, int64_t csa, int mr, int64_t kc) {
  if (csa == 1) return gk.pack_kmajor_f32(dst, gk.mr, a, rsa, mr, gk.mr, kc);
  if (rsa == 1) return gk.pack_rows_f32(dst, gk.mr, a, csa, mr, gk.mr, kc);
  for (int64_t k = 0; k < kc; k++)
    for (int i = 0; i < gk.mr; i++) dst[k * gk.mr + i] = i < mr ? a[i * rsa + k * csa] : 0.0f;
}

// B panel: dst[k * nr_full + j] = B[k, j] for j < nr, zero up to nr_full.
void pack_b(const GemmKernels &gk, float *dst, const float *b, int64_t rsb, int64_t csb, int nr, int64_t kc) {
  if (csb == 1) return gk.pack_rows_f32(dst, gk.nr, b, rsb, nr, gk.nr, kc);
  if (rsb == 1) return gk.pack_kmajor_f32(dst, gk.nr, b, csb, nr, gk.nr, kc);
  for (int64_t k = 0; k < kc; k++)
    for (int j = 0; j < gk.nr; j++) dst[k * gk.nr + j] = j < nr ? b[k * rsb + j * csb] : 0.0f;
}

struct Plan {
  int64_t kc;      // K block
  int64_t tm, tn;  // tasks per matrix: row blocks x column blocks
  int64_t mp, np;  // row slivers (mr) and column panels (nr) of C
  int64_t chunk;   // column panels per packed B block (L2)
  int64_t ablock;  // row slivers per packed A block (bounded scratch)
  bool direct_b;   // B read in place
};

Plan plan(const GemmKernels &gk, const GemmGeometry &g, int64_t nbatch, int threads) {
  const Caches cs = caches();
  const int64_t f = (int64_t)sizeof(float);
  Plan p{};
  // kc: the A sliver (mr x kc floats) fills about half of L1. Blocks are near-equal so the last
  // is not a sliver; this depends on K and the cache only, never on the thread count.
  int64_t kc_max = std::max<int64_t>(64, cs.l1 / 2 / (gk.mr * f) / 8 * 8);
  int64_t nkb = std::max<int64_t>(1, ceil_div(g.K, kc_max));
  p.kc = ceil_div(g.K, nkb);
  p.mp = ceil_div(g.M, gk.mr);
  p.np = ceil_div(g.N, gk.nr);
  p.direct_b = !g.pack_b && g.csb == 1 && g.K * g.N * f <= cs.l2 / 4;
  p.chunk = std::max<int64_t>(1, cs.l2 / 2 / (p.kc * gk.nr * f));   // a packed B block fills half of L2
  p.ablock = std::max<int64_t>(1, (4 << 20) / (p.kc * gk.mr * f));  // 4 MiB of packed A at most
  p.tm = p.tn = 1;
  double flops = 2.0 * (double)g.M * (double)g.N * (double)g.K * (double)nbatch;
  if (threads > 1 && flops >= 2e6 && nbatch < 2 * threads) {
    // One block of C per thread, cut across the longer side: each thread packs its share of
    // that side's operand and all of the other.
    bool rows = p.direct_b ? p.mp >= threads : (g.M >= g.N ? p.mp >= threads : p.np < threads);
    (rows ? p.tm : p.tn) = std::min<int64_t>(rows ? p.mp : p.np, threads);
  }
  return p;
}

void run_task(const GemmKernels &gk, const GemmGeometry &g, const Plan &p, const GemmPtrs &m, int64_t ti, int64_t tj) {
  const int mr_full = gk.mr, nr_full = gk.nr;
  const int64_t s0 = p.mp * ti / p.tm, s1 = p.mp * (ti + 1) / p.tm;  // row slivers of this task
  const int64_t q0 = p.np * tj / p.tn, q1 = p.np * (tj + 1) / p.tn;  // column panels
  if (s0 == s1 || q0 == q1) return;
  // One cache line of slack per sliver and panel, so that power-of-two sizes do not map them all
  // onto the same cache sets (kc = 256 lost a quarter of the speed without it).
  const int64_t sliver = p.kc * mr_full + 16, panel = p.kc * nr_full + 16;
  float *abuf = tl_a.get((size_t)(std::min(p.ablock, s1 - s0) * sliver));
  float *bbuf = p.direct_b ? nullptr : tl_b.get((size_t)(std::min(p.chunk, q1 - q0) * panel));
  for (int64_t k0 = 0; k0 < g.K; k0 += p.kc) {
    const int64_t kc = std::min(p.kc, g.K - k0);
    const bool last = k0 + kc == g.K;
    const float beta = k0 == 0 ? g.beta : 1.0f;
    for (int64_t sa = s0; sa < s1; sa += p.ablock) {
      const int64_t sb = std::min(s1, sa + p.ablock);
      for (int64_t s = sa; s < sb; s++) {
        int64_t i = s * mr_full;
        pack_a(gk, abuf + (s - sa) * sliver, m.a + i * g.rsa + k0 * g.csa, g.rsa, g.csa,
               (int)std::min<int64_t>(mr_full, g.M - i), kc);
      }
      for (int64_t qa = q0; qa < q1; qa += p.chunk) {
        const int64_t qb = std::min(q1, qa + p.chunk);
        if (!p.direct_b)
          for (int64_t q = qa; q < qb; q++) {
            int64_t j = q * nr_full;
            const int nr = (int)std::min<int64_t>(nr_full, g.N - j);
            if (g.pack_b)
              g.pack_b(g.pack_b_user, bbuf + (q - qa) * panel, m.b, k0, kc, j, nr, nr_full);
            else
              pack_b(gk, bbuf + (q - qa) * panel, m.b + k0 * g.rsb + j * g.csb, g.rsb, g.csb, nr, kc);
          }
        for (int64_t s = sa; s < sb; s++) {
          const int64_t i = s * mr_full;
          const int mr = (int)std::min<int64_t>(mr_full, g.M - i);
          for (int64_t q = qa; q < qb; q++) {
            const int64_t j = q * nr_full;
            const int nr = (int)std::min<int64_t>(nr_full, g.N - j);
            float *c = m.c + i * g.rsc + j;
            if (p.direct_b)
              gk.tile_f32(kc, abuf + (s - sa) * sliver, m.b + k0 * g.rsb + j, g.rsb, false, c, g.rsc, mr, nr, g.alpha,
                          beta);
            else
              gk.tile_f32(kc, abuf + (s - sa) * sliver, bbuf + (q - qa) * panel, nr_full, true, c, g.rsc, mr, nr,
                          g.alpha, beta);
            if (last && (m.bias || g.act != GemmAct::None))
              for (int r = 0; r < mr; r++)
                gk.epilogue_f32(g.act, c + r * g.rsc, nr,
                                m.bias ? m.bias + (i + r) * g.bias_rs + j * g.bias_cs : nullptr, g.bias_cs);
          }
        }
      }
    }
  }
}

// K == 0: C = act(beta * C + bias).
void scale_only(const GemmKernels &gk, const GemmGeometry &g, const GemmPtrs &m) {
  for (int64_t i = 0; i < g.M; i++) {
    float *c = m.c + i * g.rsc;
    for (int64_t j = 0; j < g.N; j++) c[j] = g.beta == 0.0f ? 0.0f : g.beta * c[j];
    gk.epilogue_f32(g.act, c, g.N, m.bias ? m.bias + i * g.bias_rs : nullptr, g.bias_cs);
  }
}

// ---- GEMV: one output row (M == 1; N == 1 arrives transposed) ----

// Columns per task when B's rows are contiguous: long runs of each row (the prefetchers like
// them) with the accumulator in L1; dot products per task when B's columns are contiguous.
constexpr int64_t kGemvMinCols = 512, kGemvMaxCols = 8192, kGemvDots = 64;

// y[j] = alpha * acc[j] + beta * y[j], then the epilogue.
void gemv_store(const GemmKernels &gk, const GemmGeometry &g, const float *acc, float *y, int64_t n,
                const float *bias) {
  for (int64_t j = 0; j < n; j++) y[j] = g.alpha * acc[j] + (g.beta == 0.0f ? 0.0f : g.beta * y[j]);
  if (bias || g.act != GemmAct::None) gk.epilogue_f32(g.act, y, n, bias, g.bias_cs);
}

void gemv(kiln_context *ctx, const IsaKernels *isa, const GemmGeometry &g, const std::vector<GemmPtrs> &batch) {
  const GemmKernels &gk = isa->gemm;
  const bool rows = g.csb == 1;  // else g.rsb == 1: each column of B is contiguous
  // Each y[j] is one fma chain over k whatever the chunking, so the chunk may follow the threads.
  const int threads = ctx->pool ? ctx->pool->size() : 1;
  const int64_t per =
      rows ? std::clamp<int64_t>(ceil_div(ceil_div(g.N, threads), 16) * 16, kGemvMinCols, kGemvMaxCols) : kGemvDots;
  const int64_t chunks = ceil_div(g.N, per);
  std::vector<std::vector<float>> xs(g.csa == 1 ? 0 : batch.size());
  for (size_t b = 0; b < xs.size(); b++) {
    xs[b].resize((size_t)g.K);
    for (int64_t k = 0; k < g.K; k++) xs[b][k] = batch[b].a[k * g.csa];
  }
  int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, per * g.K));
  parallel_for(ctx->pool.get(), (int64_t)batch.size() * chunks, grain, [&](int64_t s, int64_t e) {
    alignas(64) float acc[kGemvMaxCols];
    for (int64_t t = s; t < e; t++) {
      const GemmPtrs &m = batch[t / chunks];
      const float *x = xs.empty() ? m.a : xs[t / chunks].data();
      int64_t j0 = (t % chunks) * per, n = std::min(per, g.N - j0);
      if (rows) {
        std::memset(acc, 0, (size_t)n * sizeof(float));
        gk.gemv_rows_f32(acc, x, m.b + j0, g.rsb, g.K, n);
      } else {
        for (int64_t j = 0; j < n; j++) acc[j] = gk.dot_f32(x, m.b + (j0 + j) * g.csb, g.K);
      }
      gemv_store(gk, g, acc, m.c + j0, n, m.bias ? m.bias + j0 * g.bias_cs : nullptr);
    }
  });
}

}  // namespace

void gemm_f32(kiln_context *ctx, const GemmGeometry &g0, const std::vector<GemmPtrs> &batch0) {
  if (batch0.empty() || g0.M == 0 || g0.N == 0) return;
  const IsaKernels *isa = isa_kernels(ctx->isa);
  const GemmKernels &gk = isa->gemm;
  GemmGeometry g = g0;
  const std::vector<GemmPtrs> *batch = &batch0;
  std::vector<GemmPtrs> swapped;
  // N == 1 with a contiguous output column: C^T = B^T A^T is a one-row product.
  if (g.N == 1 && g.M > 1 && g.rsc == 1 && !g.pack_b) {
    g = g0;
    g.M = 1;
    g.N = g0.M;
    g.rsa = 0;
    g.csa = g0.rsb;
    g.rsb = g0.csa;
    g.csb = g0.rsa;
    g.rsc = g0.M;
    g.bias_rs = 0;
    g.bias_cs = g0.bias_rs;
    swapped.reserve(batch0.size());
    for (const GemmPtrs &m : batch0) swapped.push_back({m.b, m.a, m.c, m.bias});
    batch = &swapped;
  }
  if (g.K > 0 && g.M == 1 && !g.pack_b && (g.csb == 1 || g.rsb == 1) && g.N > 1) return gemv(ctx, isa, g, *batch);
  if (g.K == 0) {
    for (const GemmPtrs &m : *batch) scale_only(gk, g, m);
    return;
  }
  Plan p = plan(gk, g, (int64_t)batch->size(), ctx->pool ? ctx->pool->size() : 1);
  const int64_t per = p.tm * p.tn;
  double flops = 2.0 * (double)g.M * (double)g.N * (double)g.K;
  int64_t grain =
      flops * (double)per >= 2e6 || per > 1 ? 1 : std::max<int64_t>(1, (int64_t)(2e6 / std::max(1.0, flops)));
  parallel_for(ctx->pool.get(), (int64_t)batch->size() * per, grain, [&](int64_t s, int64_t e) {
    for (int64_t t = s; t < e; t++) {
      int64_t r = t % per;
      run_task(gk, g, p, (*batch)[t / per], r / p.tn, r % p.tn);
    }
  });
}

}  // namespace kiln::cpu
