// The 1x1, stride-1, unpadded convolution (conv_pointwise.h), float32: per image and group a GEMM
// whose B operand is the image itself, so neither path packs the image.
//   forward (and the input gradient: the same on the weight's transpose, read in place): the GEMM
//     register tiles (arch/gemm.inc) driven here, W packed into slivers once per call, X's rows read
//     in place as B panel by panel; the GEMM driver packed W per image and B, a copy as large as the
//     image, which was a quarter of the forward's time.
//   weight gradient: dW^T = X . dY^T, by a register tile of its own (ConvKernels::pw_dw_tile_f32,
//     arch/conv.inc) whose A is the image's channel rows read in place; only dY's transpose is packed
//     (the GEMM transposed the image too, 4x dY's size at C256 K64). Partial sums per fixed image
//     block (kConvWeightBlocks), added in block order.
// Every output element is the same sums, in the same order, for any thread count: K and pixel
// blocks depend on the shape alone, and tasks split images, panels and channel slivers, never a sum.
// Bench: KILN_NUM_THREADS=2 npx tsx ts/bench/conv_pointwise.ts (per stage), ts/bench/cli.ts conv.
#include "conv_pointwise.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../core/thread_pool.h"
#include "arch/isa.h"
#include "scratch.h"

namespace kiln::cpu {

namespace {

thread_local Scratch tl_w, tl_dyt, tl_parts;  // packed W, packed dY^T, weight-gradient partials
thread_local Scratch tl_xc, tl_yc;            // batches of small images side by side (pointwise_batch)

// The 1x1 forward (pointwise_fwd_f32): K blocks of at most kPointwiseKc rows of X, and chunks of
// panels whose kc rows take about kPointwiseChunkBytes (half of L2), over which a sliver of W passes.
constexpr int64_t kPointwiseKc = 256, kPointwiseChunkBytes = 256 << 10;
// The 1x1 weight gradient (pointwise_bwd_weight_f32): pixel blocks and groups of panels whose
// packed grad_out transpose takes about this many bytes, read from L2 by the tiles (24 KiB for all
// panels, to keep them in L1, made the pixel blocks short and the partial sums' reloads cost
// more: C512 14² K128 1.4-1.8x slower than 128 KiB, one thread; 64 and 256 KiB within the noise).
constexpr int64_t kPointwisePanelBytes = 128 << 10;

}  // namespace

namespace {

// Images of few pixels: an image's P columns fill its panels of nr badly (7x7: 49 of 64 lanes
// on AVX-512, the rest masked), so batches of nb images are copied side by side into rows of
// ld = nb P rounded up to whole vectors and zero-filled past nb P, and each batch is one GEMM whose
// panels are all whole; the output comes back the same way. The copies hold at most about
// kPointwiseBatchBytes. Every output element is the same fma chain either way (a tile's sums do
// not depend on the column it computes), so the bits do not change.
constexpr int64_t kPointwiseBatchBytes = 8 << 20, kPointwiseBatchMax = 16;

// The images per batch for c's forward (1: each image its own GEMM, read in place): batches where
// an image's panels leave over a quarter of their columns empty and a batch's GEMM is at least
// kPointwiseBatchFlops. Measured in one process, alternating, 2 threads, forward ms:
//   C512 K2048 7x7 (8 images) 3.85 -> 3.30, C2048 K512 7x7 3.69 -> 3.33;
//   C512 K128 14x14 (1/8 of its panels empty) 0.72 -> 1.09 and C1024 K256 14x14 2.85 -> 3.57: a
//   batch of 14x14 images no longer fits L2, and each task read its panels from memory;
//   C64 K64 5x5 (32 images, 3 MFLOP a batch) 0.081 -> 0.127: the copies' passes and waits.
constexpr int64_t kPointwiseBatchFlops = int64_t(1) << 25;
// KILN_CONV_POINTWISE_BATCH=0 keeps every image its own GEMM, =1 batches whenever there are two
// images (tests, and timing the two paths against each other in one process).
int64_t pointwise_batch(const Conv &c, int64_t nr) {
  const char *env = std::getenv("KILN_CONV_POINTWISE_BATCH");
  const char force = env ? env[0] : 0;
  const int64_t P = c.OH * c.OW, empty = (P + nr - 1) / nr * nr - P;
  if (c.N < 2 || force == '0' || (force != '1' && empty * 4 <= P)) return 1;
  const int64_t per = (c.C + c.K) * P * (int64_t)sizeof(float);
  const int64_t nb = std::clamp<int64_t>(kPointwiseBatchBytes / per, 1, std::min(c.N, kPointwiseBatchMax));
  return nb > 1 && (force == '1' || 2 * c.Cg() * c.K * P * nb >= kPointwiseBatchFlops) ? nb : 1;
}

// rows [0, rows) of ld floats from nb images' planes of P at src + (image * img + row) * P, side by
// side, zero past nb P (to): one task per run of rows. from: the other way, into dst's planes.
void batch_rows(kiln_context *ctx, float *dst, const float *src, int64_t rows, int64_t nb, int64_t P, int64_t img,
                int64_t ld) {
  parallel_for(ctx->pool.get(), rows, std::max<int64_t>(1, 8192 / ld), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      float *d = dst + r * ld;
      for (int64_t n = 0; n < nb; n++) std::memcpy(d + n * P, src + (n * img + r) * P, (size_t)P * sizeof(float));
      std::fill(d + nb * P, d + ld, 0.0f);
    }
  });
}
void unbatch_rows(kiln_context *ctx, float *dst, const float *src, int64_t rows, int64_t nb, int64_t P, int64_t img,
                  int64_t ld) {
  parallel_for(ctx->pool.get(), rows, std::max<int64_t>(1, 8192 / ld), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
      for (int64_t n = 0; n < nb; n++)
        std::memcpy(dst + (n * img + r) * P, src + r * ld + n * P, (size_t)P * sizeof(float));
  });
}

// The forward of batches of nbat images (pointwise_batch): each batch copied in, its GEMM by
// `tiles` (pointwise_fwd_f32), the output copied out. Tasks: runs of the batch's panels, each
// about a chunk that stays in L2 (chunk panels), times runs of W's slivers, enough of them for
// 8 tasks a thread (a batch has few panels: split over panels alone, C512 K2048 7x7's 25 took 4
// runs of 7, 7, 7 and 4; over slivers alone, every task read the whole batch from memory).
template <class Tiles>
void batched_fwd(kiln_context *ctx, const Conv &c, int64_t nbat, float *y, const float *x, int64_t mp, int64_t chunk,
                 const Tiles &tiles) {
  const int64_t P = c.OH * c.OW, Cg = c.Cg(), Kg = c.Kg(), ldm = (nbat * P + 15) / 16 * 16;
  const int64_t nr = isa_kernels(ctx->isa)->gemm.nr;
  float *xc = tl_xc.get((size_t)(c.C * ldm)), *yc = tl_yc.get((size_t)(c.K * ldm));
  for (int64_t n0 = 0; n0 < c.N; n0 += nbat) {
    const int64_t nb = std::min(nbat, c.N - n0), ld = (nb * P + 15) / 16 * 16, nq = (ld + nr - 1) / nr;
    const int64_t rq = (nq + chunk - 1) / chunk,
                  rs = std::clamp<int64_t>((8 * threads_of(ctx) + c.G * rq - 1) / (c.G * rq), 1, mp);
    batch_rows(ctx, xc, x + n0 * c.C * P, c.C, nb, P, c.C, ld);
    parallel_for(ctx->pool.get(), c.G * rq * rs, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; t++) {
        const int64_t gr = t / (rq * rs), iq = t / rs % rq, is = t % rs;
        tiles(xc + gr * Cg * ld, ld, yc + gr * Kg * ld, ld, ld, true, gr, nq * iq / rq, nq * (iq + 1) / rq,
              mp * is / rs, mp * (is + 1) / rs);
      }
    });
    unbatch_rows(ctx, y + n0 * c.K * P, yc, c.K, nb, P, c.K, ld);
  }
}

}  // namespace

// A 1x1, stride-1, unpadded forward: Y_n,g = W_g . X_n,g for every image and group, with the GEMM
// register tiles (gemm.h's) driven here. W is packed into slivers once per call (the GEMM driver
// packed it once per image), and X's rows are read in place by the tiles: packing B, a copy as
// large as the image, was a quarter of the time. A task is an image and group (or, with few
// images, a run of its column panels); each sliver of W passes over a chunk of panels read from L2.
// K blocks depend on Cg alone, so each output element is the same sums whatever the thread count.
// W_g[i, k] = w[g * Kg * Cg + i * rsa + k * csa]: (Cg, 1) for the forward's weight, (1, Kg) for
// the transposed one of the input gradient, read so in place (no transposed copy).
void pointwise_fwd_f32(kiln_context *ctx, const Conv &c, float *y, const float *x, const float *w, int64_t rsa,
                       int64_t csa, const float *bias) {
  const GemmKernels &gk = isa_kernels(ctx->isa)->gemm;
  const int64_t Kg = c.Kg(), Cg = c.Cg(), P = c.OH * c.OW, mr = gk.mr, nr = gk.nr;
  const int64_t mp = (Kg + mr - 1) / mr, np = (P + nr - 1) / nr;
  const int64_t nkb = (Cg + kPointwiseKc - 1) / kPointwiseKc, kc = (Cg + nkb - 1) / nkb;
  const int64_t sliver = kc * mr + 16;  // a cache line of slack, as in gemm.cpp
  // wp[((gr * nkb + kb) * mp + s) * sliver + k * mr + i] = W_gr[s * mr + i, kb * kc + k]
  float *wp = tl_w.get((size_t)(c.G * nkb * mp * sliver));
  parallel_for(ctx->pool.get(), c.G * nkb * mp, 16, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
      const int64_t gr = t / (nkb * mp), kb = t / mp % nkb, s = t % mp, k0 = kb * kc;
      const float *a = w + gr * Kg * Cg + s * mr * rsa + k0 * csa;
      const int m = (int)std::min(mr, Kg - s * mr);
      if (csa == 1)
        gk.pack_kmajor_f32(wp + t * sliver, mr, a, rsa, m, (int)mr, std::min(kc, Cg - k0));
      else
        gk.pack_rows_f32(wp + t * sliver, mr, a, csa, m, (int)mr, std::min(kc, Cg - k0));
    }
  });
  // The tiles of group gr's output rows [s0 mr, s1 mr) and column panels [q0, q1) from B (Cg rows
  // of ldb) into C (Kg rows of ldc), P columns: within a task, chunks of panels whose kc rows take
  // about kPointwiseChunkBytes (L2), over which each sliver of W passes, so its rows of the output
  // are written in runs. padded: B's rows are zero past P up to whole vectors (nothing masked).
  const int64_t chunk = std::max<int64_t>(1, kPointwiseChunkBytes / (kc * nr * (int64_t)sizeof(float)));
  auto tiles = [&](const float *xb, int64_t ldb, float *yb, int64_t ldc, int64_t cols, bool padded, int64_t gr,
                   int64_t q0, int64_t q1, int64_t s0, int64_t s1) {
    for (int64_t qa = q0; qa < q1; qa += chunk) {
      const int64_t qb = std::min(q1, qa + chunk);
      for (int64_t kb = 0; kb < nkb; kb++) {
        const int64_t k0 = kb * kc, kcb = std::min(kc, Cg - k0);
        for (int64_t s = s0; s < s1; s++) {
          const int64_t i = s * mr;
          const int m = (int)std::min(mr, Kg - i);
          const float *a = wp + ((gr * nkb + kb) * mp + s) * sliver;
          for (int64_t q = qa; q < qb; q++) {
            const int64_t j = q * nr;
            const int nn = (int)std::min(nr, cols - j);
            float *ct = yb + i * ldc + j;
            gk.tile_f32(kcb, a, xb + k0 * ldb + j, ldb, padded, ct, ldc, m, nn, 1.0f, kb == 0 ? 0.0f : 1.0f);
            if (bias && kb == nkb - 1)
              for (int r = 0; r < m; r++) gk.epilogue_f32(GemmAct::None, ct + r * ldc, nn, bias + gr * Kg + i + r, 0);
          }
        }
      }
    }
  };
  const int64_t nbat = pointwise_batch(c, nr);
  if (nbat > 1) return batched_fwd(ctx, c, nbat, y, x, mp, chunk, tiles);
  // Tasks: whole images (and groups) when there are at least two per thread, else runs of
  // panels. Two threads on neighbouring panels of one image write the same rows: the bias pass
  // over the output tiles cost 3x as much then.
  const int64_t ng = c.N * c.G;
  const int64_t runs = std::min(np, ng >= 2 * threads_of(ctx) ? 1 : (2 * threads_of(ctx) + ng - 1) / ng);
  const int64_t per = (np + runs - 1) / runs;
  parallel_for(ctx->pool.get(), ng * runs, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
      const int64_t n = t / runs / c.G, gr = t / runs % c.G, q0 = t % runs * per, q1 = std::min(np, q0 + per);
      tiles(x + (n * c.C + gr * Cg) * P, P, y + (n * c.K + gr * Kg) * P, P, P, false, gr, q0, q1, 0, mp);
    }
  });
}

// The 1x1, stride-1, unpadded weight gradient: dW_g^T [Cg, Kg] = sum over images and pixels of
// X_n,g [Cg, P] . dY_n,g^T [P, Kg], by ConvKernels::pw_dw_tile_f32, whose A is the image's channel
// rows read in place; only dY's transpose is packed, a pixel block at a time (the GEMM transposed
// the image, 4x dY's size at C256 K64, into packed panels: a quarter of its time). Partial sums per
// fixed image block (kConvWeightBlocks), added in block order; a task is one block and a run of
// channel slivers (runs only when there are too few blocks to share out). Every element's sum runs
// over images, then pixel blocks, in an order fixed by the shape: the bits do not depend on the
// thread count.
void pointwise_bwd_weight_f32(kiln_context *ctx, const Conv &c, float *dw, const float *x, const float *dy, float *db) {
  const IsaKernels &ik = *isa_kernels(ctx->isa);
  const ConvKernels &ck = ik.conv;
  const GemmKernels &gk = ik.gemm;
  const int64_t Kg = c.Kg(), Cg = c.Cg(), P = c.OH * c.OW, total = c.K * Cg, mr = ck.pw_mr, nr = ck.pw_nr;
  const int64_t nq = (Kg + nr - 1) / nr, ns = (Cg + mr - 1) / mr;
  // Pixel blocks: one packed panel of dY^T (kc x nr floats) in about kPointwisePanelBytes, and
  // groups of qg panels (output columns) taking about as much, packed together.
  const int64_t kc_max = std::max<int64_t>(16, kPointwisePanelBytes / (nr * (int64_t)sizeof(float)));
  const int64_t nkb = (P + kc_max - 1) / kc_max, kc = (P + nkb - 1) / nkb;
  const int64_t qg = std::clamp<int64_t>(kPointwisePanelBytes / (kc * nr * (int64_t)sizeof(float)), 1, nq);
  const int64_t nb = conv_weight_blocks(c, total);
  const int64_t runs = std::min<int64_t>(ns, nb >= 2 * threads_of(ctx) ? 1 : 2 * threads_of(ctx));
  // parts[b * total + gr * Cg * Kg + ch * Kg + k]: block b's dW_gr^T.
  float *const parts = tl_parts.get((size_t)(nb * total));
  // dbp[b * K + k]: block b's grad bias of channel k, in float64 (the tasks of run 0 sum it).
  std::vector<double> dbp(db ? (size_t)(nb * c.K) : 0, 0.0);
  parallel_for(ctx->pool.get(), nb * runs, 1, [&](int64_t t0, int64_t t1) {
    float *bt = tl_dyt.get((size_t)(qg * kc * nr));
    for (int64_t t = t0; t < t1; t++) {
      const int64_t b = t / runs, s0 = ns * (t % runs) / runs, s1 = ns * (t % runs + 1) / runs;
      for (int64_t q0 = 0; q0 < nq; q0 += qg) {
        const int64_t q1 = std::min(nq, q0 + qg);
        for (int64_t n = c.N * b / nb; n < c.N * (b + 1) / nb; n++)
          for (int64_t gr = 0; gr < c.G; gr++)
            for (int64_t kb = 0; kb < nkb; kb++) {
              const int64_t p0 = kb * kc, kcb = std::min(kc, P - p0);
              const float *g = dy + (n * c.K + gr * Kg) * P + p0;
              for (int64_t q = q0; q < q1; q++)
                gk.pack_kmajor_f32(bt + (q - q0) * kc * nr, nr, g + q * nr * P, P, (int)std::min(nr, Kg - q * nr),
                                   (int)nr, kcb);
              // Grad bias from grad_out's planes as the packing reaches them (in L1 and L2): each
              // channel's plane summed in float32 (IsaKernels::sum_f32's fixed pairwise order), added
              // in float64 per block.
              if (db && kb == 0 && t % runs == 0)
                for (int64_t k = q0 * nr; k < std::min(Kg, q1 * nr); k++)
                  dbp[(size_t)(b * c.K + gr * Kg + k)] += (double)ik.sum_f32(g + k * P, P);
              const bool accumulate = n != c.N * b / nb || kb > 0;
              const float *xg = x + (n * c.C + gr * Cg) * P + p0;
              float *out = parts + b * total + gr * Cg * Kg;
              for (int64_t s = s0; s < s1; s++)
                for (int64_t q = q0; q < q1; q++)
                  ck.pw_dw_tile_f32(kcb, xg + s * mr * P, P, bt + (q - q0) * kc * nr, out + s * mr * Kg + q * nr, Kg,
                                    (int)std::min(mr, Cg - s * mr), (int)std::min(nr, Kg - q * nr), accumulate);
            }
      }
    }
  });
  // Runs of 16 channels: their rows of every block's dW^T added in block order into block 0's
  // (contiguous), then written across into dW.
  const int64_t cr = (Cg + 15) / 16;
  parallel_for(ctx->pool.get(), c.G * cr, std::max<int64_t>(1, (1 << 14) / (16 * Kg * nb)),
               [&](int64_t t0, int64_t t1) {
                 for (int64_t t = t0; t < t1; t++) {
                   const int64_t gr = t / cr, ch0 = t % cr * 16, ch1 = std::min(Cg, ch0 + 16);
                   float *p = parts + (gr * Cg + ch0) * Kg;
                   const int64_t len = (ch1 - ch0) * Kg;
                   for (int64_t b = 1; b < nb; b++) isa_kernels(ctx->isa)->add_f32(p, p + b * total, len);
                   for (int64_t k = 0; k < Kg; k++)
                     for (int64_t ch = ch0; ch < ch1; ch++) dw[(gr * Kg + k) * Cg + ch] = p[(ch - ch0) * Kg + k];
                 }
               });
  // Grad bias: the blocks' float64 sums added in block order.
  for (int64_t k = 0; db && k < c.K; k++) {
    double s = 0;
    for (int64_t b = 0; b < nb; b++) s += dbp[(size_t)(b * c.K + k)];
    db[k] = (float)s;
  }
}

}  // namespace kiln::cpu
