// Winograd convolution for float32 3x3, stride 1, dilation 1 (conv.h: winograd_fits), the path
// conv.cpp takes for the forward, for grad input (a stride-1 forward on grad_out) and for grad
// weight. Each m x m block of outputs ("tile") reads an (m + 2) x (m + 2) patch of the (zero-padded)
// input; m = 4 (F(4x4, 3x3), 36 products per tile) on outputs at least kWino4MinSize (12) wide
// and high, m = 2 (F(2x2, 3x3), 16 products) below (forward_tile); the weight gradient uses the
// same m (F(3x3, 4x4) or F(3x3, 2x2)). KILN_CONV_WINOGRAD=0 turns Winograd off (implicit GEMM),
// KILN_CONV_WINOGRAD=2 keeps F(2x2) everywhere (its error is about 10x smaller, below).
//   forward, F(m x m, 3x3): U = G g G^T per (k, c), once per call in float64, packed as the GEMM's
//     A slivers. Per task (a group and a block of tiles, in order across images): V = B^T d B
//     written straight into panels the register tiles read ([e][panel][c][nr] and a row's
//     slack), then per sliver of output channels the (m + 2)^2 products M[e] = U[e] V[e] on the
//     register tiles (arch/gemm.inc) and the output transform Y = A^T M A + bias, cropped at
//     the edges. Multiplies per output and (k, c): 4 (m = 2) or 2.25 (m = 4) instead of 9.
//   grad weight, F(3x3, m x m): the tiles of all images, in order, in chunks (1 MiB of transformed
//     operands); per chunk A dy A^T and B^T d B (both tile-fastest), then (m + 2)^2 products
//     [K x tiles] . [tiles x C] (the 1x1 weight gradient's register tile: the first read in place,
//     the second packed; gemm_f32 when there is one group) that sum over the tiles into one
//     partial per fixed group of chunks (one task each, never the thread count); the partials
//     are added in order and dW = G^T S G in float64.
// The arithmetic differs from the direct sum: the transforms add and subtract inputs before the
// products, F(4x4)'s with factors up to 8. Measured against float64 on the shapes of
// test/nn/conv_winograd.test.ts (N(0, 1) data), max error over a result / its RMS: F(4x4) at most
// 3.9e-5 (forward 1.4e-5 .. 3.9e-5, grad input 1.8e-5 .. 3.3e-5, grad weight 1.1e-5 .. 1.9e-5),
// F(2x2) at most 2.7e-6, the implicit GEMM's direct float32 sums 3.8e-6. F(4x4)'s points are 0,
// 1, -1, 2, -2: in a float32 simulation 0, 1, -1, 1/2, -2 had 1.5-1.8x less error, but B^T rows
// of 5 terms (these have 3 or 4); untried here. Every output element is computed the same way
// whatever the thread count.
// Bench: KILN_NUM_THREADS=2 npx tsx ts/bench/conv_stages.ts (implicit GEMM, F2 only and the
// default side by side).
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "conv.h"
#include "gemm.h"
#include "scratch.h"

namespace kiln::cpu {

namespace {

thread_local Scratch tl_u, tl_v, tl_m, tl_x, tl_parts, tl_pack;

// Tiles per forward block: V's E x Cg x tiles floats at most this (and 8 panels). Each block
// re-reads all of U (E x Kg x Cg), so longer blocks read it less often, but each sliver of output
// channels re-reads all of V. 1 MiB (C64 56²: 96 tiles, V all of L2) ran 5% faster than 256 KiB
// in a quiet window (2 threads); in a busy one (2026-12-05, another process's memory traffic
// beside, A/B alternating call by call in one process) 512 KiB (C64: 32 tiles) was 5% faster on
// one thread and 5-20% on two, forward and grad input. C128 28² is 32 tiles (one panel) either way.
constexpr int64_t kWinoVBytes = 1 << 19;
// A grad-weight chunk's two transformed operands (E x (Kg + Cg) x tiles floats), written once and
// read once by the products. 256 KiB to 2 MiB measured alike (C16 to C256, with gemm_f32's packing
// of both); 4 MiB was 1.5-5x slower on small channel counts (the operands no longer in L2 while
// written). With the products on pw_dw_tile_f32, at C64 56² (A/B call by call in one process),
// 2 MiB (112 tiles a chunk instead of 64) was 5% faster on one thread but 15-20% slower on two in
// a quiet window (each thread's chunk past its L2); C128 28² alike (64 tiles either way).
constexpr int64_t kWinoWeightBytes = 1 << 20;
// The grad-weight partial sums (one E x K x C/g block per group of chunks): groups while all of
// them fit kWinoPartialSumBytes, but two (the tasks of two threads) while one fits
// kWinoPartialBytes; past that one group (C512: the GEMMs then split over the E products
// instead). Each partial is read again to sum them: at C128 28² seven groups of 2.4 MiB read 16
// MiB (7% of a 1-thread grad weight); four (98 tiles a chunk) were 3-10% faster than seven and
// than two (66 tiles, three chunks a group), on one thread and two (A/B call by call in one process).
constexpr int64_t kWinoPartialBytes = 16 << 20, kWinoPartialSumBytes = 10 << 20;

// Tiles [t0, t1) of a TW-wide grid, cut into runs along one row of tiles of at most `cap` tiles
// that never cross a multiple of `cap` counted from t0: f(t, ti, tj, n).
template <class Fn>
void tile_runs(int64_t t0, int64_t t1, int64_t TW, int64_t cap, const Fn &f) {
  for (int64_t t = t0; t < t1;) {
    const int64_t ti = t / TW, tj = t % TW;
    const int64_t n = std::min({TW - tj, t1 - t, cap - (t - t0) % cap});
    f(t, ti, tj, n);
    t += n;
  }
}

// Tiles [t0, t1) cut into runs of at most `cap` tiles that never cross a multiple of `cap` counted
// from t0, across rows of tiles (F(4x4)'s transforms take such runs): f(t, n).
template <class Fn>
void tile_spans(int64_t t0, int64_t t1, int64_t cap, const Fn &f) {
  for (int64_t t = t0; t < t1;) {
    const int64_t n = std::min(t1 - t, cap - (t - t0) % cap);
    f(t, n);
    t += n;
  }
}

// f(n, t0, t1, o) for tiles [a, e) of the images' grids laid end to end (T tiles each): image n's
// tiles [t0, t1) of its own grid, at o = n T + t0 - base (their offset in a block starting at base).
template <class Fn>
void image_pieces(int64_t a, int64_t e, int64_t T, int64_t base, const Fn &f) {
  for (int64_t n = a / T; n * T < e; n++) {
    const int64_t t0 = std::max(a, n * T) - n * T, t1 = std::min(e, (n + 1) * T) - n * T;
    f(n, t0, t1, n * T + t0 - base);
  }
}

// KILN_CONV_WINOGRAD's first character ('0': Winograd off, '2': F(2x2) only), or 0 when unset.
char winograd_setting() {
  const char *env = std::getenv("KILN_CONV_WINOGRAD");
  return env ? env[0] : 0;
}

// Asks for rows [r0, r1) of a plane `w` floats wide ahead of use: the transforms read a few rows of
// every channel, a plane apart, which the hardware prefetchers do not follow.
constexpr int64_t kWinoAhead = 4;  // planes ahead
void prefetch_rows(const float *plane, int64_t w, int64_t r0, int64_t r1, bool write = false) {
  const char *a = (const char *)(plane + r0 * w), *e = (const char *)(plane + r1 * w);
  if (write)
    for (; a < e; a += 64) __builtin_prefetch(a, 1);
  else
    for (; a < e; a += 64) __builtin_prefetch(a);
}

// Rows r0 .. r0 + nrows of the zero-padded planes (padded coordinates) of `planes` consecutive
// channels from x, into X[ch][nrows][Wp].
void pad_rows(const ConvKernels &ck, float *X, const float *x, const Conv &c, int64_t planes, int64_t r0, int64_t nrows,
              int64_t Wp) {
  const int64_t lo = std::max<int64_t>(0, r0 - c.ph), hi = std::min(c.H, r0 + nrows - c.ph);
  for (int64_t ch = 0; ch < planes; ch++) {
    const float *plane = x + ch * c.H * c.W;
    if (ch + kWinoAhead < planes && hi > lo) prefetch_rows(plane + kWinoAhead * c.H * c.W, c.W, lo, hi);
    ck.pad_plane_f32(X + ch * nrows * Wp, plane, c.H, c.W, nrows, Wp, c.ph - r0, c.pw);
  }
}

using WinoInput = void (*)(float *dst, int64_t es, const float *const *rows, int64_t wd, int64_t c0, int n);

// The input transform (m x m output tiles, (m + 2)^2 patches: ck.wino4_input_f32 for m = 4, `in`
// for m = 2) of tiles [t0, t1) (a TW-wide grid) of image n, group g: the rows they read are padded
// for every channel first (the transform's loads right after a padding store to the same place
// would wait for it: no store forwarding across misaligned stores), then each channel's tiles are
// transformed in runs of at most `run` (F(4x4): tile_spans, across rows of tiles; F(2x2):
// tile_runs, along one); tile t of channel ch goes to dst(ch, t), its elements `es` floats apart.
// F(4x4)'s transform reads whole vectors of four columns per tile past each row of tiles' last
// (up to kWinoOverread floats): a row is followed by the next row, and the last by this slack:
// past a run's tiles it only makes lanes that are never used. F(2x2)'s is told it may read past a
// run (wd = Wp: padded_width leaves room).
constexpr int64_t kWinoOverread = 96;
template <class Dst>
void transform_input(const ConvKernels &ck, WinoInput in, int64_t m, const Conv &c, const float *x, int64_t n,
                     int64_t g, int64_t Cg, int64_t t0, int64_t t1, int64_t TW, int64_t Wp, int64_t run, int64_t es,
                     const Dst &dst) {
  const int64_t r0 = m * (t0 / TW), nrows = m * ((t1 - 1) / TW) + m + 2 - r0;
  float *X = tl_x.get((size_t)(Cg * nrows * Wp + kWinoOverread));
  pad_rows(ck, X, x + (n * c.C + g * Cg) * c.H * c.W, c, Cg, r0, nrows, Wp);
  for (int64_t ch = 0; ch < Cg; ch++)
    if (m == 4)
      tile_spans(t0, t1, run, [&](int64_t t, int64_t len) {
        ck.wino4_input_f32(dst(ch, t), es, X + (ch * nrows + m * (t / TW) - r0) * Wp, Wp, TW, t % TW, (int)len);
      });
    else
      tile_runs(t0, t1, TW, run, [&](int64_t t, int64_t ti, int64_t tj, int64_t len) {
        const float *row = X + (ch * nrows + m * ti - r0) * Wp;
        const float *rows[4];
        for (int64_t r = 0; r < m + 2; r++) rows[r] = row + r * Wp;
        in(dst(ch, t), es, rows, Wp, m * tj, (int)len);
      });
}

// The forward's tile size: 4 (F(4x4, 3x3)) on outputs at least kWino4MinSize wide and high, else
// 2; KILN_CONV_WINOGRAD=2 asks for F(2x2, 3x3) only.
int64_t forward_tile(const Conv &c) {
  if (winograd_setting() == '2') return 2;
  return c.OH >= kWino4MinSize && c.OW >= kWino4MinSize ? 4 : 2;
}

// The padded rows' width for tile size m on a TW-wide grid: F(2x2)'s transform reads whole
// vectors past a run (at most 16 floats); F(4x4)'s reads past the row (transform_input).
int64_t padded_width(int64_t m, int64_t TW) { return m == 2 ? 2 * TW + 2 + 16 : 4 * TW + 2; }

// G^T applied to a = m + 2 values x (a column or row of S), in float64: three.
inline void gt4(const double *x, double *o) {
  o[0] = x[0] + 0.5 * (x[1] + x[2]), o[1] = 0.5 * (x[1] - x[2]), o[2] = 0.5 * (x[1] + x[2]) + x[3];
}
inline void gt6(const double *x, double *o) {
  const double r6 = 1.0 / 6, p = x[1] + x[2], q = x[3] + x[4];
  o[0] = 0.25 * x[0] - p * r6 + q * (1.0 / 24);
  o[1] = (x[2] - x[1]) * r6 + (x[3] - x[4]) * (1.0 / 12);
  o[2] = (q - p) * r6 + x[5];
}

// dW = G^T S G in float64 for n <= 16 consecutive channels of one output channel: S[e] of channel
// i at s[e * st + i], its 3x3 filter gradient at o + 9 i. Channel innermost (vectorised).
template <int a>
void weight_grad_transform(const float *s, int64_t st, int n, float *o) {
  constexpr int L = 16;
  double S[36][L], Z[3][6][L], D[9][L];
  for (int e = 0; e < a * a; e++)
    for (int i = 0; i < n; i++) S[e][i] = s[e * st + i];
  for (int j = 0; j < a; j++)
    for (int i = 0; i < n; i++) {
      double x[6], z[3];
      for (int r = 0; r < a; r++) x[r] = S[r * a + j][i];
      if constexpr (a == 6)
        gt6(x, z);
      else
        gt4(x, z);
      for (int r = 0; r < 3; r++) Z[r][j][i] = z[r];
    }
  for (int r = 0; r < 3; r++)
    for (int i = 0; i < n; i++) {
      double x[6], z[3];
      for (int j = 0; j < a; j++) x[j] = Z[r][j][i];
      if constexpr (a == 6)
        gt6(x, z);
      else
        gt4(x, z);
      for (int c = 0; c < 3; c++) D[r * 3 + c][i] = z[c];
    }
  for (int i = 0; i < n; i++)
    for (int e = 0; e < 9; e++) o[i * 9 + e] = (float)D[e][i];
}

}  // namespace

bool winograd_fits(const Conv &c) {
  // KILN_CONV_WINOGRAD=0 keeps the implicit GEMM (for benchmarking one against the other in one
  // run); =2 keeps Winograd but only F(2x2, 3x3) (forward_tile), whose error is the smaller.
  if (winograd_setting() == '0') return false;
  return c.R == 3 && c.S == 3 && c.sh == 1 && c.sw == 1 && c.dh == 1 && c.dw == 1 && c.Cg() >= kWinoMinChannels &&
         c.Kg() >= kWinoMinChannels && c.Cg() * c.Kg() >= kWinoMinProducts && c.N * c.OH * c.OW >= kWinoMinOutputs;
}

void winograd_fwd_f32(kiln_context *ctx, const Conv &c, float *y, const float *x, const float *w, const float *bias) {
  const IsaKernels *isa = isa_kernels(ctx->isa);
  const GemmKernels &gk = isa->gemm;
  const ConvKernels &ck = isa->conv;
  const int64_t m = forward_tile(c), E = (m + 2) * (m + 2);
  const WinoInput in = ck.wino_input_f32;  // F(2x2); F(4x4)'s are called directly
  const int64_t mr = gk.mr, nr = gk.nr, Cg = c.Cg(), Kg = c.Kg();
  const int64_t TH = (c.OH + m - 1) / m, TW = (c.OW + m - 1) / m, T = TH * TW, S = (Kg + mr - 1) / mr;
  // U[g][e][sliver][c][mr] = (G w G^T)[e] (rows past Kg zero), computed in float64, rounded once.
  // Sliver by sliver, channel by channel, so that each e's mr floats are written together (k by k,
  // every cache line of U was written mr times, from far apart), into the calling thread's
  // scratch (fresh pages each call: a fault per 4 KiB, 10 MiB at C256).
  float *const U = tl_u.get((size_t)(c.G * E * S * Cg * mr));
  parallel_for(ctx->pool.get(), c.G * S, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      const int64_t g = b / S, s = b % S;
      for (int64_t ch = 0; ch < Cg; ch++)
        ck.wino_weight_f32(U + ((g * E * S + s) * Cg + ch) * mr, S * Cg * mr, w + ((g * Kg + s * mr) * Cg + ch) * 9,
                           Cg * 9, (int)std::min(mr, Kg - s * mr), (int)mr, (int)m);
    }
  });
  // Blocks run across images (no ragged ends), and are cut shorter when there would be fewer than
  // two tasks per thread (batch 1, small images). No result depends on the blocking: each output is
  // its own sums, so this may follow the thread count.
  const int64_t NT = c.N * T, tasks = 2 * threads_of(ctx);
  const int64_t per_task = ((NT * c.G + tasks - 1) / tasks + nr - 1) / nr * nr;
  const int64_t nt =
      std::max(nr, std::min(std::clamp<int64_t>(kWinoVBytes / (4 * E * Cg) / nr * nr, nr, 8 * nr), per_task));
  const int64_t nblk = (NT + nt - 1) / nt;
  const int64_t kcmax = 256;  // the A sliver (mr x kc) stays in L1
  const int64_t Wp = padded_width(m, TW);
  parallel_for(ctx->pool.get(), c.G * nblk, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      const int64_t g = b / nblk, q0 = b % nblk * nt, q1 = std::min(NT, q0 + nt);
      const int64_t P = (q1 - q0 + nr - 1) / nr, ld = P * nr;
      auto pieces = [&](int64_t a, int64_t e, const auto &f) { image_pieces(a, e, T, q0, f); };  // at block offsets
      // V[e][panel][c][vr]: rows of nr tiles and 16 floats of slack, which take the transform's
      // spill (a panel can hold the tiles of two images, and the second's spill past a row's end
      // must not land on the first's, written before it); a cache line between the e, so that the
      // E streams the transform writes do not fall on the same cache sets.
      const int64_t vr = nr + 16, ves = P * Cg * vr + 16;
      float *V = tl_v.get((size_t)(E * ves));
      float *M = tl_m.get((size_t)(E * mr * ld));  // M[e][row of the sliver][tile]
      // Panel by panel, so that the transform writes E sequential streams (one per e). First the
      // rows the panel's tiles read, of every channel, padded (the transform then reads them as
      // whole vectors; stores it read right away would not forward), then the transform.
      for (int64_t p = 0; p < P; p++)
        pieces(q0 + p * nr, std::min(q1, q0 + (p + 1) * nr), [&](int64_t n, int64_t t0, int64_t t1, int64_t o) {
          transform_input(ck, in, m, c, x, n, g, Cg, t0, t1, TW, Wp, nr, ves,
                          [&](int64_t ch, int64_t t) { return V + (p * Cg + ch) * vr + (o + t - t0) % nr; });
        });
      for (int64_t s = 0; s < S; s++) {
        const int mm = (int)std::min(mr, Kg - s * mr);
        for (int64_t e = 0; e < E; e++) {
          const float *a = U + ((g * E + e) * S + s) * Cg * mr;
          for (int64_t p = 0; p < P; p++) {
            const int ncols = (int)std::min(nr, q1 - q0 - p * nr);
            for (int64_t c0 = 0; c0 < Cg; c0 += kcmax)
              gk.tile_f32(std::min(kcmax, Cg - c0), a + c0 * mr, V + e * ves + (p * Cg + c0) * vr, vr, true,
                          M + e * mr * ld + p * nr, ld, mm, ncols, 1.0f, c0 == 0 ? 0.0f : 1.0f);
          }
        }
        for (int64_t i = 0; i < mm; i++) {
          const int64_t k = g * Kg + s * mr + i;
          const float bk = bias ? bias[k] : 0.0f;
          pieces(q0, q1, [&](int64_t n, int64_t t0, int64_t t1, int64_t o) {
            float *yp = y + (n * c.K + k) * c.OH * c.OW;
            if (i + 2 < mm)  // the output rows two planes on, for writing
              prefetch_rows(yp + 2 * c.OH * c.OW, c.OW, m * (t0 / TW), std::min(c.OH, m * ((t1 - 1) / TW) + m), true);
            if (m == 4)
              tile_spans(t0, t1, kWinoRun, [&](int64_t t, int64_t len) {
                const int64_t ti = t / TW;
                ck.wino4_output_f32(yp + m * ti * c.OW, c.OW, c.OH - m * ti, c.OW, TW, t % TW,
                                    M + i * ld + o + (t - t0), mr * ld, (int)len, bk);
              });
            else
              tile_runs(t0, t1, TW, kWinoRun, [&](int64_t t, int64_t ti, int64_t tj, int64_t len) {
                ck.wino_output_f32(yp + m * (ti * c.OW + tj), c.OW, (int)std::min(m, c.OH - m * ti),
                                   M + i * ld + o + (t - t0), mr * ld, (int)len, c.OW - m * tj, bk);
              });
          });
        }
      }
    }
  });
}

// dW = G^T (sum over tiles of (A dy A^T) . (B^T d B)) G, with the tile size m of the forward
// (forward_tile: F(3x3, 4x4) or F(3x3, 2x2), the forward's points). The tiles of all images, in
// order, are cut into chunks of nt (from the shape: kWinoWeightBytes of transformed operands), and
// the chunks into nb fixed groups (at most kConvWeightBlocks, fewer when the partial sums would
// pass kWinoPartialSumBytes, two while one fits kWinoPartialBytes, one past it), one task each.
// Per chunk, both operands transformed tile-fastest ([e][k or c][tile]), then for each e the
// product [Kg x nt] . [nt x Cg] adds into the group's partial; the partials are added in group
// order.
void winograd_bwd_weight_f32(kiln_context *ctx, const Conv &c, float *dw, const float *x, const float *dy) {
  const ConvKernels &ck = isa_kernels(ctx->isa)->conv;
  const GemmKernels &gk = isa_kernels(ctx->isa)->gemm;
  const int64_t pmr = ck.pw_mr, pnr = ck.pw_nr;
  const int64_t m = forward_tile(c), a = m + 2, E = a * a;
  const WinoInput in = ck.wino_input_f32;  // F(2x2); F(4x4)'s are called directly
  const int64_t Cg = c.Cg(), Kg = c.Kg(), TW = (c.OW + m - 1) / m, T = (c.OH + m - 1) / m * TW, NT = c.N * T;
  const int64_t nt0 = std::clamp<int64_t>(kWinoWeightBytes / (4 * E * (Cg + Kg)) / 16 * 16, 64, 1024);
  const int64_t per = E * Kg * Cg, total = c.G * per;  // S[g][e][k][c]
  const int64_t Q0 = (NT + nt0 - 1) / nt0;
  const int64_t total_bytes = total * (int64_t)sizeof(float);
  const int64_t nb = std::max<int64_t>(
      1, std::min({Q0, kConvWeightBlocks,
                   total_bytes > kWinoPartialBytes ? 1 : std::max<int64_t>(2, kWinoPartialSumBytes / total_bytes)}));
  // As many chunks in every group (a multiple of nb, the chunks a little longer than nt0): the
  // groups are the tasks, and 7 chunks in 6 groups (C128 28²) left one thread of two a chunk
  // behind. From the shape alone, like nt0 and nb.
  const int64_t Q = std::max(nb, Q0 / nb * nb), nt = (NT + Q - 1) / Q;
  const int64_t ld = nt + 16;  // a row's slack takes the transforms' spill
  // The e-th operands a cache line more than K or C rows apart: at 64 rows of 80 floats the 16
  // streams a transform writes fell on one set of L1's (20 KiB apart).
  const int64_t des = Kg * ld + 16, xes = Cg * ld + 16;
  const int64_t Wp = padded_width(m, TW);
  // Each written (beta 0) before it is read; kept by the calling thread for the next call (fresh
  // pages cost a fault each: 16 MiB of them took longer than the products at C512 7x7).
  float *const partial0 = tl_parts.get((size_t)(nb * total));
  GemmGeometry gg;
  gg.M = Kg, gg.N = Cg;
  gg.rsa = ld, gg.csa = 1, gg.rsb = 1, gg.csb = ld, gg.rsc = Cg;
  parallel_for(ctx->pool.get(), nb, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++)
      for (int64_t q = Q * b / nb; q < Q * (b + 1) / nb; q++) {
        const int64_t q0 = q * nt, q1 = std::min(NT, q0 + nt);
        // Rounding nt up can leave the last chunks empty (fewer than Q / 64 of them: never a
        // group's first, which writes its partial).
        if (q0 >= NT) break;
        float *DY = tl_m.get((size_t)(E * des)), *XV = tl_v.get((size_t)(E * xes));
        for (int64_t g = 0; g < c.G; g++) {
          image_pieces(q0, q1, T, q0, [&](int64_t n, int64_t t0, int64_t t1, int64_t o) {
            for (int64_t k = 0; k < Kg; k++) {
              const float *plane = dy + (n * c.K + g * Kg + k) * c.OH * c.OW;
              if (k + kWinoAhead < Kg)
                prefetch_rows(plane + kWinoAhead * c.OH * c.OW, c.OW, m * (t0 / TW),
                              std::min(c.OH, m * ((t1 - 1) / TW) + m));
              if (m == 4)
                tile_spans(t0, t1, kWinoRun, [&](int64_t t, int64_t len) {
                  const int64_t ti = t / TW;
                  ck.wino4_dy_f32(DY + k * ld + o + (t - t0), des, plane + m * ti * c.OW, c.OW, c.OH - m * ti, c.OW, TW,
                                  t % TW, (int)len);
                });
              else
                tile_runs(t0, t1, TW, kWinoRun, [&](int64_t t, int64_t ti, int64_t tj, int64_t len) {
                  ck.wino_dy_f32(DY + k * ld + o + (t - t0), des, plane + m * (ti * c.OW + tj), c.OW,
                                 (int)std::min(m, c.OH - m * ti), c.OW - m * tj, (int)len);
                });
            }
            transform_input(ck, in, m, c, x, n, g, Cg, t0, t1, TW, Wp, kWinoRun, xes,
                            [&](int64_t ch, int64_t t) { return XV + ch * ld + o + (t - t0); });
          });
          float *S = partial0 + b * total + g * per;
          const int64_t kq = q1 - q0;
          const bool first = q == Q * b / nb;
          if (nb == 1) {  // one task: the GEMMs split over the threads
            GemmGeometry gq = gg;
            gq.K = kq;
            gq.beta = first ? 0.0f : 1.0f;
            std::vector<GemmPtrs> batch;
            for (int64_t e = 0; e < E; e++) batch.push_back({DY + e * des, XV + e * xes, S + e * Kg * Cg, nullptr});
            gemm_f32(ctx, gq, batch);
            continue;
          }
          // Otherwise this task's own products, on the 1x1 weight gradient's register tile: its A
          // (rows of grad_out's transform, tiles fastest) read in place, its B (the input's
          // transform, pw_nr channels) packed tile by tile. Each element one fma chain over the
          // chunk's tiles in order, added to the partial as gemm_f32 would (same bits).
          float *B = tl_pack.get((size_t)(kq * pnr));
          for (int64_t e = 0; e < E; e++)
            for (int64_t c0 = 0; c0 < Cg; c0 += pnr) {
              const int ncol = (int)std::min(pnr, Cg - c0);
              gk.pack_kmajor_f32(B, pnr, XV + e * xes + c0 * ld, ld, ncol, (int)pnr, kq);
              for (int64_t k0 = 0; k0 < Kg; k0 += pmr)
                ck.pw_dw_tile_f32(kq, DY + e * des + k0 * ld, ld, B, S + e * Kg * Cg + k0 * Cg + c0, Cg,
                                  (int)std::min(pmr, Kg - k0), ncol, !first);
            }
        }
      }
  });
  float *sum = partial0;
  if (nb > 1)
    parallel_for(ctx->pool.get(), total, 1 << 14, [&](int64_t i0, int64_t i1) {
      for (int64_t b = 1; b < nb; b++) isa_kernels(ctx->isa)->add_f32(sum + i0, sum + b * total + i0, i1 - i0);
    });
  // G^T S G per (k, c), 16 channels at a time.
  parallel_for(ctx->pool.get(), c.K, 4, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; k++) {
      const int64_t g = k / Kg, kk = k % Kg;
      for (int64_t ch = 0; ch < Cg; ch += 16)
        (m == 4 ? weight_grad_transform<6> : weight_grad_transform<4>)(sum + g * per + kk * Cg + ch, Kg * Cg,
                                                                       (int)std::min<int64_t>(16, Cg - ch),
                                                                       dw + (k * Cg + ch) * 9);
    }
  });
}

}  // namespace kiln::cpu
