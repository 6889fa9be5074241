// float16 / bfloat16 GEMM (gemm.h). Operands are converted while they are packed, the register
// tiles accumulate in float32 over all of K into a small float32 tile, and the store applies
// beta, bias and activation in float32 before rounding once to the output dtype. bfloat16 on a
// CPU with AVX512_BF16 packs k pairs and runs the vdpbf16ps tile (arch/avx512_bf16.cpp), which
// does twice the work per instruction of the float32 FMA tile.
#include <algorithm>
#include <new>
#include <vector>

#include "../core/dtype.h"
#include "../core/thread_pool.h"
#include "gemm.h"

namespace kiln::cpu {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <class T>
float ld(const void *p, int64_t i) {
  return load(((const T *)p)[i]);
}

// The tile width and height in use, and how operands are packed for it.
struct Tiles {
  const GemmKernels *f32;       // float32 FMA tile (operands widened while packing)
  const GemmBf16Kernels *bf16;  // or the bf16 pair tile
  int mr, nr;
};

template <class T>
struct Task {
  const Tiles &tl;
  const GemmGeometry &g;
  int64_t kp;  // k pairs (bf16 tile) or k (f32 tile)

  // Packs rows i0.. of A (an mr sliver) and columns of B (nr panels) in the tile's format.
  void pack_a(void *dst, const void *a, int mr) const {
    if (tl.bf16) {
      uint16_t *d = (uint16_t *)dst;
      for (int64_t p = 0; p < kp; p++)
        for (int i = 0; i < tl.mr; i++)
          for (int e = 0; e < 2; e++) {
            int64_t k = 2 * p + e;
            d[(p * tl.mr + i) * 2 + e] =
                i < mr && k < g.K ? ((const bfloat16_t *)a)[i * g.rsa + k * g.csa].bits : (uint16_t)0;
          }
    } else {
      float *d = (float *)dst;
      for (int64_t k = 0; k < g.K; k++)
        for (int i = 0; i < tl.mr; i++) d[k * tl.mr + i] = i < mr ? ld<T>(a, i * g.rsa + k * g.csa) : 0.0f;
    }
  }
  void pack_b(void *dst, const void *b, int nr) const {
    if (tl.bf16) {
      uint16_t *d = (uint16_t *)dst;
      for (int64_t p = 0; p < kp; p++)
        for (int j = 0; j < tl.nr; j++)
          for (int e = 0; e < 2; e++) {
            int64_t k = 2 * p + e;
            d[(p * tl.nr + j) * 2 + e] =
                j < nr && k < g.K ? ((const bfloat16_t *)b)[k * g.rsb + j * g.csb].bits : (uint16_t)0;
          }
    } else {
      float *d = (float *)dst;
      for (int64_t k = 0; k < g.K; k++)
        for (int j = 0; j < tl.nr; j++) d[k * tl.nr + j] = j < nr ? ld<T>(b, k * g.rsb + j * g.csb) : 0.0f;
    }
  }
  size_t sliver_bytes() const { return (size_t)(tl.bf16 ? kp * tl.mr * 4 : g.K * tl.mr * 4); }
  size_t panel_bytes() const { return (size_t)(tl.bf16 ? kp * tl.nr * 4 : g.K * tl.nr * 4); }

  // out = act(tile + beta * out + bias) rounded to T, for the mr x nr corner of the tile.
  void store(float *tile, T *c, const T *bias, int64_t i, int64_t j, int mr, int nr) const {
    float brow[256];
    for (int r = 0; r < mr; r++) {
      float *t = tile + r * tl.nr;
      T *cr = c + (i + r) * g.rsc + j;
      if (g.beta != 0.0f)
        for (int q = 0; q < nr; q++) t[q] += g.beta * load(cr[q]);
      const float *bp = nullptr;
      if (bias) {
        for (int q = 0; q < nr; q++) brow[q] = load(bias[(i + r) * g.bias_rs + (j + q) * g.bias_cs]);
        bp = brow;
      }
      if (bp || g.act != GemmAct::None) tl.f32->epilogue_f32(g.act, t, nr, bp, 1);
      for (int q = 0; q < nr; q++) cr[q] = store_as(t[q]);
    }
  }
  static T store_as(float v) { return kiln::store<T>(v); }

  // Rows s0..s1 (mr slivers) by columns q0..q1 (nr panels) of C: A packed in blocks of at most
  // 4 MiB, each swept against B packed `chunk` panels at a time.
  void run(const GemmPtrsLowp &m, int64_t s0, int64_t s1, int64_t q0, int64_t q1, int64_t chunk) const {
    struct Buf {
      void *p = nullptr;
      ~Buf() { ::operator delete(p); }
      char *get(size_t n) { return (char *)(p = ::operator new(n)); }
    } abuf, bbuf;
    const size_t sb = sliver_bytes(), pb = panel_bytes();
    const int64_t ablock = std::max<int64_t>(1, (int64_t)((4u << 20) / std::max<size_t>(1, sb)));
    char *ap = abuf.get(sb * (size_t)std::min(ablock, s1 - s0));
    char *bp = bbuf.get(pb * (size_t)std::min(chunk, q1 - q0));
    alignas(64) float tile[16 * 64];
    for (int64_t sa = s0; sa < s1; sa += ablock) {
      const int64_t se = std::min(s1, sa + ablock);
      for (int64_t s = sa; s < se; s++) {
        int64_t i = s * tl.mr;
        pack_a(ap + (s - sa) * sb, (const T *)m.a + i * g.rsa, (int)std::min<int64_t>(tl.mr, g.M - i));
      }
      for (int64_t qa = q0; qa < q1; qa += chunk) {
        const int64_t qb = std::min(q1, qa + chunk);
        for (int64_t q = qa; q < qb; q++) {
          int64_t j = q * tl.nr;
          pack_b(bp + (q - qa) * pb, (const T *)m.b + j * g.csb, (int)std::min<int64_t>(tl.nr, g.N - j));
        }
        for (int64_t s = sa; s < se; s++) {
          const int64_t i = s * tl.mr;
          const int mr = (int)std::min<int64_t>(tl.mr, g.M - i);
          const char *a = ap + (s - sa) * sb;
          for (int64_t q = qa; q < qb; q++) {
            const int64_t j = q * tl.nr;
            const int nr = (int)std::min<int64_t>(tl.nr, g.N - j);
            const char *b = bp + (q - qa) * pb;
            if (tl.bf16)
              tl.bf16->tile(kp, (const uint16_t *)a, (const uint16_t *)b, tile, tl.nr, g.alpha);
            else
              tl.f32->tile_f32(g.K, (const float *)a, (const float *)b, tl.nr, true, tile, tl.nr, mr, nr, g.alpha,
                               0.0f);
            store(tile, (T *)m.c, (const T *)m.bias, i, j, mr, nr);
          }
        }
      }
    }
  }
};

template <class T>
void run_all(kiln_context *ctx, const Tiles &tl, const GemmGeometry &g, const std::vector<GemmPtrsLowp> &batch) {
  Task<T> task{tl, g, tl.bf16 ? (g.K + 1) / 2 : g.K};
  const int64_t mp = ceil_div(g.M, tl.mr), np = ceil_div(g.N, tl.nr);
  // Packed B panels of one block fill about half of a 1 MiB L2.
  const int64_t chunk = std::max<int64_t>(1, (512 << 10) / std::max<int64_t>(1, (int64_t)task.panel_bytes()));
  const int threads = ctx->pool ? ctx->pool->size() : 1;
  int64_t tm = 1, tn = 1;
  if ((int64_t)batch.size() < 2 * threads && 2.0 * g.M * g.N * g.K >= 2e6) {
    if (mp >= threads)
      tm = threads;
    else
      tn = std::min<int64_t>(np, threads);
  }
  const int64_t per = tm * tn;
  parallel_for(ctx->pool.get(), (int64_t)batch.size() * per, 1, [&](int64_t s, int64_t e) {
    for (int64_t t = s; t < e; t++) {
      int64_t r = t % per, ti = r / tn, tj = r % tn;
      task.run(batch[t / per], mp * ti / tm, mp * (ti + 1) / tm, np * tj / tn, np * (tj + 1) / tn, chunk);
    }
  });
}

}  // namespace

void gemm_lowp(kiln_context *ctx, kiln_dtype dtype, const GemmGeometry &g, const std::vector<GemmPtrsLowp> &batch) {
  if (batch.empty() || g.M == 0 || g.N == 0) return;
  const IsaKernels *isa = isa_kernels(ctx->isa);
  Tiles tl{&isa->gemm, nullptr, isa->gemm.mr, isa->gemm.nr};
  if (dtype == KILN_BFLOAT16 && g.K > 0)
    if (const GemmBf16Kernels *b = gemm_bf16_kernels(ctx->isa)) tl = Tiles{&isa->gemm, b, b->mr, b->nr};
  if (dtype == KILN_BFLOAT16)
    run_all<bfloat16_t>(ctx, tl, g, batch);
  else
    run_all<half_t>(ctx, tl, g, batch);
}

}  // namespace kiln::cpu
