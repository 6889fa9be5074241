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
// Images of few pixels (7x7, where an image fills 49 of its panels' 64 lanes) go as batches side
// by side through the GEMM driver instead (conv_image_batch, conv_fwd_images_f32, batched_weight).
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
#include "gemm.h"
#include "scratch.h"

namespace kiln::cpu {

namespace {

thread_local Scratch tl_w, tl_dyt, tl_parts;  // packed W, packed dY^T, weight-gradient partials
thread_local Scratch tl_xc, tl_gc;            // small images side by side (batched_weight)
thread_local Scratch tl_sub;                  // a strided 1x1's pixels a stride apart (pointwise_strided)

// The 1x1 forward (pointwise_fwd_f32): K blocks of at most kPointwiseKc rows of X, and chunks of
// panels whose kc rows take about kPointwiseChunkBytes (half of L2), over which a sliver of W passes.
constexpr int64_t kPointwiseKc = 256, kPointwiseChunkBytes = 256 << 10;
// The 1x1 weight gradient (pointwise_bwd_weight_f32): pixel blocks and groups of panels whose
// packed grad_out transpose takes about this many bytes, read from L2 by the tiles (24 KiB for all
// panels, to keep them in L1, made the pixel blocks short and the partial sums' reloads cost
// more: C512 14² K128 1.4-1.8x slower than 128 KiB, one thread; 64 and 256 KiB within the noise).
constexpr int64_t kPointwisePanelBytes = 128 << 10;

// Images of few pixels: an image's P columns fill its panels of nr badly (7x7: 49 of 64 lanes on
// AVX-512, the rest masked), and its B rows, read in place, are short runs at a stride. The
// forward (and input gradient) then runs as conv.cpp's batched implicit GEMM of a 1x1
// (conv_fwd_images_f32), whose panels the GEMM driver packs across each batch's images: whole
// panels, contiguous. conv_image_batch (conv.h) decides.

// The weight gradient of images of few pixels (conv_image_batch's rule) whose copies side by side
// take at most kPointwiseWeightCopyBytes: the images' planes of x and dy side by side, then per
// group one GEMM, dW_g [Kg, Cg] = dY_g [Kg, N P] . X_g^T, whose sums over pixels run in long
// blocks, straight into dW (per image, each image's short block was stored and reloaded as
// partial sums, and the result transposed into dW).
constexpr int64_t kPointwiseWeightCopyBytes = 32 << 20;
bool batch_weight(const Conv &c, int64_t nr) {
  return conv_image_batch(c, nr) > 1 &&
         (c.C + c.K) * c.N * c.OH * c.OW * (int64_t)sizeof(float) <= kPointwiseWeightCopyBytes;
}

// dst[r, n P + p] = src[(n rows + r) P + p]: the planes of `images` images of `rows` rows side by side.
void side_by_side(kiln_context *ctx, float *dst, const float *src, int64_t rows, int64_t images, int64_t P) {
  const int64_t cols = images * P;
  parallel_for(ctx->pool.get(), rows, std::max<int64_t>(1, 8192 / cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
      for (int64_t n = 0; n < images; n++)
        std::memcpy(dst + r * cols + n * P, src + (n * rows + r) * P, (size_t)P * sizeof(float));
  });
}

// batch_weight's path; db (unless null) summed from dy's planes as conv.cpp's grad bias does
// (conv_bwd_bias_f32).
void batched_weight(kiln_context *ctx, const Conv &c, float *dw, const float *x, const float *dy, float *db) {
  const int64_t P = c.OH * c.OW, cols = c.N * P, Cg = c.Cg(), Kg = c.Kg();
  float *xc = tl_xc.get((size_t)(c.C * cols)), *gc = tl_gc.get((size_t)(c.K * cols));
  side_by_side(ctx, xc, x, c.C, c.N, P);
  side_by_side(ctx, gc, dy, c.K, c.N, P);
  GemmGeometry g;
  g.M = Kg, g.N = Cg, g.K = cols, g.rsa = cols, g.csa = 1, g.rsb = 1, g.csb = cols, g.rsc = Cg;
  std::vector<GemmPtrs> batch;
  for (int64_t gr = 0; gr < c.G; gr++)
    batch.push_back({gc + gr * Kg * cols, xc + gr * Cg * cols, dw + gr * Kg * Cg, nullptr});
  gemm_f32(ctx, g, batch);
  if (db) conv_bwd_bias_f32(ctx, c, db, dy);
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
  const int64_t nbat = conv_image_batch(c, gk.nr);
  if (nbat > 1) return conv_fwd_images_f32(ctx, c, nbat, y, x, w, rsa, csa, bias);
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
  // Tasks: whole images (and groups) when there are at least two per thread, else runs of
  // panels. Two threads on neighbouring panels of one image write the same rows: the bias pass
  // over the output tiles cost 3x as much then.
  const int64_t ng = c.N * c.G;
  const int64_t runs = std::min(np, ng >= 2 * threads_of(ctx) ? 1 : (2 * threads_of(ctx) + ng - 1) / ng);
  const int64_t per = (np + runs - 1) / runs;
  // Within a task, chunks of panels whose kc rows take about kPointwiseChunkBytes (L2): each sliver
  // of W passes over a chunk, so its rows of the output are written in runs.
  const int64_t chunk = std::max<int64_t>(1, kPointwiseChunkBytes / (kc * nr * (int64_t)sizeof(float)));
  parallel_for(ctx->pool.get(), ng * runs, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
      const int64_t n = t / runs / c.G, gr = t / runs % c.G, q0 = t % runs * per, q1 = std::min(np, q0 + per);
      const float *xb = x + (n * c.C + gr * Cg) * P;
      float *yb = y + (n * c.K + gr * Kg) * P;
      for (int64_t qa = q0; qa < q1; qa += chunk) {
        const int64_t qb = std::min(q1, qa + chunk);
        for (int64_t kb = 0; kb < nkb; kb++) {
          const int64_t k0 = kb * kc, kcb = std::min(kc, Cg - k0);
          for (int64_t s = 0; s < mp; s++) {
            const int64_t i = s * mr;
            const int m = (int)std::min(mr, Kg - i);
            const float *a = wp + ((gr * nkb + kb) * mp + s) * sliver;
            for (int64_t q = qa; q < qb; q++) {
              const int64_t j = q * nr;
              const int nn = (int)std::min(nr, P - j);
              float *ct = yb + i * P + j;
              gk.tile_f32(kcb, a, xb + k0 * P + j, P, false, ct, P, m, nn, 1.0f, kb == 0 ? 0.0f : 1.0f);
              if (bias && kb == nkb - 1)
                for (int r = 0; r < m; r++) gk.epilogue_f32(GemmAct::None, ct + r * P, nn, bias + gr * Kg + i + r, 0);
            }
          }
        }
      }
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
  if (batch_weight(c, ik.gemm.nr)) return batched_weight(ctx, c, dw, x, dy, db);
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

// ---- 1x1 with a stride: the stride-1 1x1 of the pixels a stride apart ----

namespace {

// c at stride 1 on the [OH, OW] pixels its stride picks.
Conv subsampled(const Conv &c) {
  Conv s = c;
  s.H = c.OH, s.W = c.OW, s.sh = s.sw = 1, s.dh = s.dw = 1;
  return s;
}

// dst [N, planes, OH, OW] = src's pixels (oh sh, ow sw) of each [H, W] plane; back: dst [N, planes,
// H, W] is src [N, planes, OH, OW] at those pixels and 0 elsewhere.
void pick_pixels(kiln_context *ctx, const Conv &c, int64_t planes, float *dst, const float *src, bool back) {
  const int64_t P = c.OH * c.OW, HW = c.H * c.W;
  parallel_for(ctx->pool.get(), c.N * planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, HW)),
               [&](int64_t p0, int64_t p1) {
                 for (int64_t q = p0; q < p1; q++) {
                   float *d = dst + q * (back ? HW : P);
                   const float *s = src + q * (back ? P : HW);
                   if (back) std::fill(d, d + HW, 0.0f);
                   for (int64_t oh = 0; oh < c.OH; oh++)
                     for (int64_t ow = 0; ow < c.OW; ow++) {
                       const int64_t at = oh * c.sh * c.W + ow * c.sw, o = oh * c.OW + ow;
                       if (back)
                         d[at] = s[o];
                       else
                         d[o] = s[at];
                     }
                 }
               });
}

}  // namespace

void pointwise_strided_fwd_f32(kiln_context *ctx, const Conv &c, float *y, const float *x, const float *w,
                               const float *bias) {
  float *xs = tl_sub.get((size_t)(c.N * c.C * c.OH * c.OW));
  pick_pixels(ctx, c, c.C, xs, x, false);
  pointwise_fwd_f32(ctx, subsampled(c), y, xs, w, c.Cg(), 1, bias);
}

void pointwise_strided_bwd_input_f32(kiln_context *ctx, const Conv &c, float *dx, const float *dy, const float *w) {
  // dx at the picked pixels = the stride-1 1x1 on the weight's transpose (conv.cpp's t), 0 elsewhere
  Conv t = subsampled(c);
  t.C = c.K, t.K = c.C;
  float *ds = tl_sub.get((size_t)(c.N * c.C * c.OH * c.OW));
  pointwise_fwd_f32(ctx, t, ds, dy, w, 1, c.Cg(), nullptr);
  pick_pixels(ctx, c, c.C, dx, ds, true);
}

void pointwise_strided_bwd_weight_f32(kiln_context *ctx, const Conv &c, float *dw, const float *x, const float *dy,
                                      float *db) {
  float *xs = tl_sub.get((size_t)(c.N * c.C * c.OH * c.OW));
  pick_pixels(ctx, c, c.C, xs, x, false);
  pointwise_bwd_weight_f32(ctx, subsampled(c), dw, xs, dy, db);
}

int64_t conv_image_batch(const Conv &c, int64_t nr) {
  const char *env = std::getenv("KILN_CONV_IMAGE_BATCH");
  const char force = env ? env[0] : 0;
  const int64_t P = c.OH * c.OW, empty = (P + nr - 1) / nr * nr - P;
  if (c.N < 2 || force == '0' || (force != '1' && empty * 4 <= P)) return 1;
  const int64_t nb =
      std::clamp<int64_t>(kConvBatchBytes / (c.K * P * (int64_t)sizeof(float)), 1, std::min(c.N, kConvBatchMax));
  return nb > 1 && (force == '1' || 2 * c.CRS() * c.K * P * nb >= kConvBatchFlops) ? nb : 1;
}

}  // namespace kiln::cpu
