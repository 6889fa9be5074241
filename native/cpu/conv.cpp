// 2-d convolution over NCHW tensors: forward, gradient with respect to the input (which is also
// convTranspose2d's forward) and gradient with respect to the weight.
//   float32 3x3, stride 1, dilation 1, at least 16 input and output channels per group, 1024 as
//     their product, and at least 256 output pixels in all (conv.h: winograd_fits): Winograd
//     (winograd.cpp) for the forward, so also for grad input (below), and for grad weight:
//     F(4x4, 3x3) / F(3x3, 4x4) on outputs at least 12 wide and high (4x fewer products than the
//     direct sums; rounding errors up to about 4e-5 of the result's RMS), F(2x2, 3x3) / F(3x3, 2x2)
//     below (2.25x fewer, errors of the direct sums' size, a few 1e-6). KILN_CONV_WINOGRAD=2 keeps
//     F(2x2) everywhere, KILN_CONV_WINOGRAD=0 turns Winograd off.
//   float32 otherwise, more than one input channel per group: implicit GEMM on the packed GEMM
//     (gemm.h). The weight [K/g, C/g*R*S] is A; B is the im2col of the (zero-padded) image, packed
//     panel by panel straight from the image through GemmGeometry::pack_b (arch/conv.inc:
//     pack_f32), so no im2col buffer exists. Images of few output pixels (conv.h: conv_image_batch;
//     7x7 fills 49 of a panel's 64 lanes) go in batches: one GEMM over several images' pixels,
//     its panels gathered across them; taken before Winograd too, whose per-call weight transform
//     costs more than it saves there.
//   float32 1x1, stride 1, unpadded (conv_pointwise.cpp): forward, grad input and grad weight read
//     the image (or grad_out) in place, without the GEMM driver's packing of it (small images: in
//     batches through the GEMM driver); conv2d_backward's grad bias is summed by the weight
//     gradient as it packs grad_out, not in a pass of its own. With a stride (unpadded): the same
//     on the pixels a stride apart, copied out (grad input: written back among zeros).
//   float32 depthwise (one input channel per group): vector kernels per plane (arch/conv.inc).
//     Stride 1, dilation 1, 3x3 or 5x5 with padding inside the window (depthwise_s1): the forward
//     (so also grad input at stride 1, below) and the weight gradient read the plane unpadded,
//     each input row loaded once per block of rows and its column shifts made in registers.
//     Otherwise over taps into a padded copy of the plane (a column stride of 2: its two column
//     phases, made from the unpadded plane): forward (a column stride above 2 computes stride-1
//     rows and keeps every sw-th column), weight gradient (vector lane accumulators per tap, per
//     channel), and, for a stride or a channel multiplier, grad input added tap by tap into a
//     padded plane (stride 2: into its four row and column phases, then merged). conv2d_backward's three gradients at
//     stride 1 with one channel per group (depthwise_s1_bwd_f32) come from one pass over grad_out, plane by plane while
//     it is in L1, with the bits of the separate ops.
//   grad input, stride 1: the forward kernel on grad_out with the weight flipped and its channel
//     roles swapped (a transposed convolution is a convolution; 1x1 reads the weight so in place);
//     larger strides: a GEMM into a column buffer per chunk of pixels, then col2im into a padded
//     image.
//   grad weight: grad_out [K/g, pixels] @ im2col^T per chunk of pixels, summed over a fixed number
//     of image blocks whose partials are added in block order.
//   float64: im2col and the float64 GEMM (conv_f64.cpp).
// Every split is over images, planes or output blocks and never over a sum (or over a sum in a fixed
// order), so the bits do not depend on the thread count. Bench: npx tsx ts/bench/cli.ts conv
#include "conv.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../core/arg_checks.h"
#include "../core/thread_pool.h"
#include "conv_pointwise.h"
#include "gemm.h"
#include "scratch.h"

namespace kiln::cpu {

namespace {

thread_local Scratch tl_pad, tl_col, tl_parts;  // scratch.h
thread_local Scratch tl_bpad, tl_bout;          // a batch of images: padded inputs, output (conv_fwd_batched)
thread_local Scratch tl_wt;                     // grad input's flipped, transposed weight

// The extent of the padded image the windows read: rows 0..Hp of the input shifted down by ph.
int64_t padded_h(const Conv &c) { return (c.OH - 1) * c.sh + (c.R - 1) * c.dh + 1; }
int64_t padded_w(const Conv &c) { return (c.OW - 1) * c.sw + (c.S - 1) * c.dw + 1; }

// An image as the windows read it: element (ch, i, j) of the padded image at base[ch * plane + i * rs + j].
struct Src {
  const float *base;
  int64_t plane, rs;
};

struct Padding {
  bool copy;  // a padded copy is needed (else the input is read in place)
  int64_t Hp, Wp, plane, rs;
};

Padding padding_of(const Conv &c) {
  Padding p{};
  p.Hp = padded_h(c), p.Wp = padded_w(c);
  p.copy = c.ph != 0 || c.pw != 0 || p.Hp > c.H || p.Wp > c.W;
  p.plane = p.copy ? p.Hp * p.Wp : c.H * c.W;
  p.rs = p.copy ? p.Wp : c.W;
  return p;
}

// Image n of x as the windows read it (padded into this thread's scratch when needed).
Src image_src(const ConvKernels &ck, const Conv &c, const Padding &p, const float *x, int64_t n) {
  const float *img = x + n * c.C * c.H * c.W;
  if (!p.copy) return {img, p.plane, p.rs};
  float *buf = tl_pad.get((size_t)(c.C * p.plane));
  for (int64_t ch = 0; ch < c.C; ch++)
    ck.pad_plane_f32(buf + ch * p.plane, img + ch * c.H * c.W, c.H, c.W, p.Hp, p.Wp, c.ph, c.pw);
  return {buf, p.plane, p.rs};
}

// Offsets of the im2col rows k = (ch, r, s) of one group in the padded image.
std::vector<int64_t> row_offsets(const Conv &c, const Padding &p) {
  std::vector<int64_t> koff((size_t)c.CRS());
  for (int64_t ch = 0, k = 0; ch < c.Cg(); ch++)
    for (int64_t r = 0; r < c.R; r++)
      for (int64_t s = 0; s < c.S; s++) koff[(size_t)k++] = ch * p.plane + r * c.dh * p.rs + s * c.dw;
  return koff;
}

// The implicit im2col operand B[k, pixel] = src[koff[k] + pixel offset] of one image and group,
// or of a batch of images side by side: pixel j of the batch is pixel j % P of image j / P, whose
// padded image starts img floats after the previous one's (P = 0: one image).
struct Im2col {
  const ConvKernels *ck;
  const int64_t *koff;
  int64_t OW, sh, sw, rs;
  int64_t P = 0, img = 0;
  // the offset of pixel j's window from src, and the columns from j on that follow it in the
  // source: the rest of its output row, or of its image where rows follow each other (a source
  // row stride of OW: a 1x1 at stride 1, unpadded, whose planes are runs of P)
  int64_t at(int64_t j, int64_t *run) const {
    const int64_t n = P ? j / P : 0, q = P ? j % P : j, oh = q / OW, ow = q % OW;
    *run = sw == 1 && sh * rs == OW ? (P ? P - q : INT64_MAX) : OW - ow;
    return n * img + oh * sh * rs + ow * sw;
  }
};

// dst[k * ld + j] = B[k0 + k, j0 + j] for k < kc, j < n, zeros for n <= j < ld. With unit column
// stride each output row the columns cross is one contiguous run of the image.
void im2col_pack(const Im2col &m, float *dst, int64_t ld, const float *src, int64_t k0, int64_t kc, int64_t j0,
                 int64_t n) {
  if (m.sw == 1) {
    ConvSeg local[64];
    std::vector<ConvSeg> many;
    ConvSeg *seg = local;
    const int64_t most = n / m.OW + 2 + (m.P ? n / m.P + 1 : 0);
    if (most > 64) {
      many.resize((size_t)most);
      seg = many.data();
    }
    int ns = 0;
    for (int64_t j = 0; j < n;) {
      int64_t run;
      const int64_t off = m.at(j0 + j, &run), len = std::min(n - j, run);
      seg[ns++] = {off, (int32_t)j, (int32_t)len};
      j += len;
    }
    m.ck->pack_f32(dst, ld, src, m.koff + k0, kc, seg, ns, (int)n);
    return;
  }
  std::vector<int64_t> off((size_t)n);
  int64_t run;
  for (int64_t j = 0; j < n; j++) off[j] = m.at(j0 + j, &run);
  for (int64_t k = 0; k < kc; k++) {
    const float *s = src + m.koff[k0 + k];
    float *d = dst + k * ld;
    for (int64_t j = 0; j < n; j++) d[j] = s[off[j]];
    for (int64_t j = n; j < ld; j++) d[j] = 0.0f;
  }
}

void pack_b_hook(const void *user, float *dst, const float *b, int64_t k0, int64_t kc, int64_t j0, int nr,
                 int nr_full) {
  im2col_pack(*(const Im2col *)user, dst, nr_full, b, k0, kc, j0, nr);
}

// Runs body(n) for every image: across the pool when there are enough images to share out
// (each then runs its GEMMs on one thread), else one after the other with the GEMMs threaded.
template <class F>
void for_images(kiln_context *ctx, int64_t N, const F &body) {
  if (threads_of(ctx) > 1 && N >= 2 * threads_of(ctx))
    parallel_for(ctx->pool.get(), N, 1, [&](int64_t s, int64_t e) {
      for (int64_t n = s; n < e; n++) body(n);
    });
  else
    for (int64_t n = 0; n < N; n++) body(n);
}

// ---- depthwise (one input channel per group) ----

// The taps of a depthwise window over plane `src` of the input: output (oh, ow) of tap (r, s)
// reads taps[r * S + s][oh * step + ow]. The plane is padded into this thread's scratch when
// needed (else read in place); a column stride of 2 splits the padded plane's columns into their
// two phases (even, odd: ConvKernels::phase_planes_f32, straight from the unpadded plane), which
// every tap reads as unit-stride rows; a larger one first gathers each s's columns into a plane of
// their own, OW wide.
struct DepthwiseTaps {
  std::vector<const float *> tap;
  int64_t step = 0;
  const float *last = nullptr;  // the plane the taps point at now
  bool zeroed = false;          // the padded scratch holds this geometry's zeros already

  explicit DepthwiseTaps(const Conv &c) : tap((size_t)(c.R * c.S)) {}

  void point(const ConvKernels &ck, const Conv &c, const Padding &pd, const float *src) {
    if (src == last) return;
    last = src;
    if (c.sw == 2) {
      // Rows of whole vectors: the phase columns the windows reach, or all the input row's, and a
      // vector of room; with all of them, the zeros stay from one plane to the next.
      const int64_t need = c.OW + (c.S - 1) * c.dw / 2, all = (c.W + 1) / 2 + (c.pw + 1) / 2;
      const int64_t L = (std::max(need, all) + 2 * kConvLanes - 1) / kConvLanes * kConvLanes;
      const int64_t ps = pd.Hp * L + kConvLanes;  // a phase and its slack
      float *buf = tl_pad.get((size_t)(2 * ps));
      ck.phase_planes_f32(buf, buf + ps, L, src, c.H, c.W, pd.Hp, c.ph, c.pw, !zeroed);
      zeroed = true;
      for (int64_t r = 0; r < c.R; r++)
        for (int64_t s = 0; s < c.S; s++)
          tap[(size_t)(r * c.S + s)] = buf + (s * c.dw % 2) * ps + r * c.dh * L + s * c.dw / 2;
      step = c.sh * L;
      return;
    }
    const float *img = src;
    if (pd.copy || c.sw > 1) {
      float *buf = tl_pad.get((size_t)(pd.Hp * pd.Wp + (c.sw > 1 ? c.S * pd.Hp * c.OW : 0)));
      if (pd.copy) {
        // Padding that holds the whole plane keeps its zeros from one plane to the next.
        const bool inside = c.ph >= 0 && c.pw >= 0 && c.H + c.ph <= pd.Hp && c.W + c.pw <= pd.Wp;
        if (inside && zeroed)
          ck.copy_plane_f32(buf + c.ph * pd.Wp + c.pw, pd.Wp, src, c.H, c.W);
        else
          ck.pad_plane_f32(buf, src, c.H, c.W, pd.Hp, pd.Wp, c.ph, c.pw);
        zeroed = inside;
        img = buf;
      }
      if (c.sw > 1) {
        float *sub = buf + pd.Hp * pd.Wp;
        for (int64_t s = 0; s < c.S; s++)
          for (int64_t i = 0; i < pd.Hp; i++) {
            const float *row = img + i * pd.rs + s * c.dw;
            float *d = sub + (s * pd.Hp + i) * c.OW;
            for (int64_t ow = 0; ow < c.OW; ow++) d[ow] = row[ow * c.sw];
          }
        for (int64_t r = 0; r < c.R; r++)
          for (int64_t s = 0; s < c.S; s++) tap[(size_t)(r * c.S + s)] = sub + (s * pd.Hp + r * c.dh) * c.OW;
        step = c.sh * c.OW;
        return;
      }
    }
    for (int64_t r = 0; r < c.R; r++)
      for (int64_t s = 0; s < c.S; s++) tap[(size_t)(r * c.S + s)] = img + r * c.dh * pd.rs + s * c.dw;
    step = c.sh * pd.rs;
  }
};

// The stride-1 kernel that reads each plane unpadded (ConvKernels::depthwise_s1_f32): 3x3 and 5x5,
// dilation 1, padding narrower than the window.
bool depthwise_s1(const Conv &c) {
  return c.sh == 1 && c.sw == 1 && c.dh == 1 && c.dw == 1 && c.R == c.S && (c.R == 3 || c.R == 5) && c.ph >= 0 &&
         c.ph < c.R && c.pw >= 0 && c.pw < c.S;
}

void depthwise_fwd_f32(kiln_context *ctx, const Conv &c, float *y, const float *x, const float *w, const float *bias) {
  const ConvKernels &ck = isa_kernels(ctx->isa)->conv;
  const Padding pd = padding_of(c);
  const int64_t mult = c.K / c.C, P = c.OH * c.OW, RS = c.R * c.S;
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, P * RS));
  if (depthwise_s1(c)) {
    // One channel per input plane: output plane t reads input plane t, so runs of planes go in one
    // call (the kernel's masks made once for them); a multiplier calls plane by plane.
    parallel_for(ctx->pool.get(), c.N * c.K, grain, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1;) {
        const int64_t k = t % c.K, np = mult == 1 ? std::min(t1 - t, c.K - k) : 1;
        ck.depthwise_s1_f32(y + t * P, x + (t / c.K * c.C + k / mult) * c.H * c.W, c.H * c.W, w + k * RS,
                            bias ? bias + k : nullptr, np, (int)c.R, c.H, c.W, (int)c.ph, (int)c.pw, c.OH, c.OW);
        t += np;
      }
    });
    return;
  }
  // A column stride above 2 computes every column (same sums per kept element) into this
  // thread's scratch and keeps every sw-th: cheaper than gathering each tap's columns. Stride 2
  // reads the column phases (DepthwiseTaps), the same sums again.
  Conv c1 = c;
  if (c.sw > 2) c1.sw = 1, c1.OW = (c.OW - 1) * c.sw + 1;
  parallel_for(ctx->pool.get(), c.N * c.K, grain, [&](int64_t t0, int64_t t1) {
    DepthwiseTaps tp(c1);
    for (int64_t t = t0; t < t1; t++) {
      const int64_t n = t / c.K, k = t % c.K;
      tp.point(ck, c1, pd, x + (n * c.C + k / mult) * c.H * c.W);
      const float b = bias ? bias[k] : 0.0f;
      if (c1.sw == c.sw) {
        ck.depthwise_plane_f32(y + t * P, tp.tap.data(), w + k * RS, (int)RS, tp.step, c.OH, c.OW, b);
        continue;
      }
      float *full = tl_col.get((size_t)(c.OH * c1.OW));
      ck.depthwise_plane_f32(full, tp.tap.data(), w + k * RS, (int)RS, tp.step, c.OH, c1.OW, b);
      float *yp = y + t * P;
      for (int64_t oh = 0; oh < c.OH; oh++)
        for (int64_t ow = 0; ow < c.OW; ow++) yp[oh * c.OW + ow] = full[oh * c1.OW + ow * c.sw];
    }
  });
}

// Depthwise grad input at stride 2 (rows and columns), per input plane: each tap reaches one of the
// padded plane's four row and column phases, so grad_out, unspread, is added into each phase by
// that phase's taps (in tap order, channel by channel), which are then merged into dx
// (ConvKernels::phase_merge_f32): the sums of depthwise_bwd_input_f32 below, in its order, over
// half the columns and without its spread copy of grad_out.
void depthwise_bwd_input_s2_f32(kiln_context *ctx, const Conv &c, float *dx, const float *dy, const float *w) {
  const ConvKernels &ck = isa_kernels(ctx->isa)->conv;
  const int64_t mult = c.K / c.C, P = c.OH * c.OW, RS = c.R * c.S;
  const int64_t Hq = std::max(padded_h(c), c.H + c.ph), Wq = std::max(padded_w(c), c.W + c.pw);
  const int64_t ls = ((Wq + 1) / 2 + kConvLanes - 1) / kConvLanes * kConvLanes, ps = (Hq + 1) / 2 * ls;
  std::vector<int64_t> toff[4];
  std::vector<int64_t> tix[4];
  for (int64_t r = 0; r < c.R; r++)
    for (int64_t s = 0; s < c.S; s++) {
      const int64_t q = 2 * (r * c.dh % 2) + s * c.dw % 2;
      toff[q].push_back(r * c.dh / 2 * ls + s * c.dw / 2);
      tix[q].push_back(r * c.S + s);
    }
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, mult * P * RS));
  parallel_for(ctx->pool.get(), c.N * c.C, grain, [&](int64_t t0, int64_t t1) {
    float *d = tl_pad.get((size_t)(4 * ps + 2 * ls + kConvLanes)), *row = d + 4 * ps;
    std::vector<float> wq((size_t)RS);
    for (int64_t t = t0; t < t1; t++) {
      const int64_t n = t / c.C, ch = t % c.C;
      std::memset(d, 0, (size_t)(4 * ps) * sizeof(float));
      for (int64_t k = ch * mult; k < (ch + 1) * mult; k++)
        for (int q = 0; q < 4; q++) {
          if (tix[q].empty()) continue;
          for (size_t i = 0; i < tix[q].size(); i++) wq[i] = w[k * RS + tix[q][i]];
          ck.depthwise_scatter_f32(d + q * ps, toff[q].data(), wq.data(), (int)tix[q].size(), ls,
                                   dy + (n * c.K + k) * P, c.OW, c.OW, c.OH);
        }
      ck.phase_merge_f32(dx + t * c.H * c.W, d, ps, ls, row, c.H, c.W, c.ph, c.pw);
    }
  });
}

// Depthwise grad input with a stride above 1 or a channel multiplier, per input plane (the split):
// each of its output channels' grad_out, spread to stride-1 columns (zeros between), is added
// tap by tap into a padded plane (fixed order: channel, tap, row), which is cropped into dx.
void depthwise_bwd_input_f32(kiln_context *ctx, const Conv &c, float *dx, const float *dy, const float *w) {
  if (c.sh == 2 && c.sw == 2) return depthwise_bwd_input_s2_f32(ctx, c, dx, dy, w);
  const ConvKernels &ck = isa_kernels(ctx->isa)->conv;
  const int64_t mult = c.K / c.C, P = c.OH * c.OW, RS = c.R * c.S, OW1 = (c.OW - 1) * c.sw + 1;
  const int64_t Hq = std::max(padded_h(c), c.H + c.ph), Wq = std::max(padded_w(c), c.W + c.pw);
  std::vector<int64_t> toff((size_t)RS);
  for (int64_t r = 0; r < c.R; r++)
    for (int64_t s = 0; s < c.S; s++) toff[(size_t)(r * c.S + s)] = r * c.dh * Wq + s * c.dw;
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, mult * P * RS));
  parallel_for(ctx->pool.get(), c.N * c.C, grain, [&](int64_t t0, int64_t t1) {
    float *pad = tl_pad.get((size_t)(Hq * Wq + (c.sw > 1 ? c.OH * OW1 : 0)));
    float *gz = pad + Hq * Wq;
    if (c.sw > 1) std::memset(gz, 0, (size_t)(c.OH * OW1) * sizeof(float));  // the zeros stay
    for (int64_t t = t0; t < t1; t++) {
      const int64_t n = t / c.C, ch = t % c.C;
      std::memset(pad, 0, (size_t)(Hq * Wq) * sizeof(float));
      for (int64_t k = ch * mult; k < (ch + 1) * mult; k++) {
        const float *g = dy + (n * c.K + k) * P;
        int64_t gs = c.OW;
        if (c.sw > 1) {
          for (int64_t oh = 0; oh < c.OH; oh++)
            for (int64_t ow = 0; ow < c.OW; ow++) gz[oh * OW1 + ow * c.sw] = g[oh * c.OW + ow];
          g = gz, gs = OW1;
        }
        ck.depthwise_scatter_f32(pad, toff.data(), w + k * RS, (int)RS, c.sh * Wq, g, gs, OW1, c.OH);
      }
      ck.pad_plane_f32(dx + t * c.H * c.W, pad, Hq, Wq, c.H, c.W, -c.ph, -c.pw);
    }
  });
}

// Split over channels; each channel's planes are taken in image order into vector lane
// accumulators (the kernel's order), then its lanes added in order in float64. Images are the
// outer loop, so a task streams through consecutive planes of one image at a time.
void depthwise_bwd_weight_f32(kiln_context *ctx, const Conv &c, float *dw, const float *x, const float *dy) {
  const ConvKernels &ck = isa_kernels(ctx->isa)->conv;
  const Padding pd = padding_of(c);
  const int64_t mult = c.K / c.C, P = c.OH * c.OW, RS = c.R * c.S, L = RS * kConvLanes;
  parallel_for(ctx->pool.get(), c.K, 1, [&](int64_t k0, int64_t k1) {
    std::vector<float> lanes((size_t)((k1 - k0) * L), 0.0f);
    const bool s1 = depthwise_s1(c);
    DepthwiseTaps tp(c);
    for (int64_t n = 0; n < c.N; n++) {
      // One channel per input plane: this task's planes of image n go in one call.
      if (s1 && mult == 1) {
        ck.depthwise_s1_bwd_weight_f32(lanes.data(), L, dy + (n * c.K + k0) * P, x + (n * c.C + k0) * c.H * c.W,
                                       c.H * c.W, k1 - k0, (int)c.R, c.H, c.W, (int)c.ph, (int)c.pw, c.OH, c.OW);
        continue;
      }
      for (int64_t k = k0; k < k1; k++) {
        const float *xk = x + (n * c.C + k / mult) * c.H * c.W;
        if (s1) {
          ck.depthwise_s1_bwd_weight_f32(lanes.data() + (k - k0) * L, L, dy + (n * c.K + k) * P, xk, 0, 1, (int)c.R,
                                         c.H, c.W, (int)c.ph, (int)c.pw, c.OH, c.OW);
          continue;
        }
        tp.point(ck, c, pd, xk);
        ck.depthwise_bwd_weight_f32(lanes.data() + (k - k0) * L, dy + (n * c.K + k) * P, tp.tap.data(), (int)RS,
                                    tp.step, c.OH, c.OW);
      }
    }
    for (int64_t k = k0; k < k1; k++)
      for (int64_t i = 0; i < RS; i++) {
        const float *l = lanes.data() + (k - k0) * L + i * kConvLanes;
        double s = 0;
        for (int q = 0; q < kConvLanes; q++) s += l[q];
        dw[k * RS + i] = (float)s;
      }
  });
}

// Stride-1 depthwise with one channel per group whose grad input runs the unpadded stride-1
// kernel (its flipped padding R - 1 - ph stays inside the window): the fused backward's case.
bool depthwise_s1_fused(const Conv &c) {
  return c.Cg() == 1 && c.K == c.C && depthwise_s1(c) && c.N > 0 && c.H * c.W > 0 && c.OH * c.OW > 0;
}

// The three gradients in one pass over grad_out (ConvKernels::depthwise_s1_bwd_f32), split over
// channels: a task takes its channels' planes image by image, each plane's grad input, weight
// and bias sums made while its grad_out is in L1. Grad input is the separate op's kernel on the
// same planes; the weight gradient's lanes fill in the separate op's order (images in order) and
// are added the same way, so both match conv2d_backward_input / _weight bit for bit. Grad bias:
// per channel, vector lanes over images in order, the lanes then added in order in float64.
void depthwise_s1_bwd_f32(kiln_context *ctx, const Conv &c, float *dx, float *dw, float *db, const float *x,
                          const float *dy, const float *w) {
  const ConvKernels &ck = isa_kernels(ctx->isa)->conv;
  const int64_t RS = c.R * c.S, L = RS * kConvLanes, P = c.OH * c.OW, HW = c.H * c.W;
  std::vector<float> wf(dx ? (size_t)(c.K * RS) : 0);
  for (int64_t k = 0; dx && k < c.K; k++)
    for (int64_t i = 0; i < RS; i++) wf[(size_t)(k * RS + RS - 1 - i)] = w[k * RS + i];
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, c.N * P * RS));
  parallel_for(ctx->pool.get(), c.K, grain, [&](int64_t k0, int64_t k1) {
    std::vector<float> lanes(dw ? (size_t)((k1 - k0) * L) : 0, 0.0f),
        bl(db ? (size_t)((k1 - k0) * kConvLanes) : 0, 0.0f);
    for (int64_t n = 0; n < c.N; n++)
      ck.depthwise_s1_bwd_f32(dx ? dx + (n * c.C + k0) * HW : nullptr, dw ? lanes.data() : nullptr, L,
                              db ? bl.data() : nullptr, dy + (n * c.K + k0) * P, x + (n * c.C + k0) * HW,
                              wf.data() + (dx ? k0 * RS : 0), k1 - k0, (int)c.R, c.H, c.W, (int)c.ph, (int)c.pw, c.OH,
                              c.OW);
    for (int64_t k = k0; k < k1; k++) {
      for (int64_t i = 0; dw && i < RS; i++) {
        const float *l = lanes.data() + (k - k0) * L + i * kConvLanes;
        double s = 0;
        for (int q = 0; q < kConvLanes; q++) s += l[q];
        dw[k * RS + i] = (float)s;
      }
      if (db) {
        double s = 0;
        for (int q = 0; q < kConvLanes; q++) s += bl[(size_t)((k - k0) * kConvLanes + q)];
        db[k] = (float)s;
      }
    }
  });
}

// Grad bias outside the fused case: per channel, the images' planes in order into a float64 sum.
// A float32 plane is summed first by the ISA's sum_f32 (its fixed pairwise order): a scalar float64
// add per element took longer than the depthwise grad input and grad weight together (N8 C256
// 28^2: about 0.4 ms of conv2d_backward's 1.0); float64's elements are added one by one.
template <class T>
void conv_bwd_bias(kiln_context *ctx, const Conv &c, T *db, const T *dy) {
  const IsaKernels *isa = isa_kernels(ctx->isa);
  const int64_t P = c.OH * c.OW;
  auto add_plane = [&](double &s, const T *p) {
    if constexpr (std::is_same_v<T, float>)
      s += isa->sum_f32(p, P);
    else
      for (int64_t i = 0; i < P; i++) s += p[i];
  };
  parallel_for(ctx->pool.get(), c.K, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, c.N * P)),
               [&](int64_t k0, int64_t k1) {
                 for (int64_t k = k0; k < k1; k++) {
                   double s = 0;
                   for (int64_t n = 0; n < c.N; n++) add_plane(s, dy + (n * c.K + k) * P);
                   db[k] = (T)s;
                 }
               });
}

// ---- float32 drivers ----

// The implicit GEMM forward of batches of nbat images (conv_image_batch): each batch's images
// padded side by side (or read in place), one GEMM per group over all their pixels, whose panels
// gather runs from each image (Im2col's P and img), the output copied out to the images' planes.
// W_g[i, k] = w[g Kg CRS + i rsa + k csa]: (CRS, 1) for the weight as stored; the 1x1 input
// gradient's is the stored weight's transpose, read in place (conv_pointwise.cpp).
void conv_fwd_batched(kiln_context *ctx, const Conv &c, int64_t nbat, float *y, const float *x, const float *w,
                      int64_t rsa, int64_t csa, const float *bias) {
  const ConvKernels &ck = isa_kernels(ctx->isa)->conv;
  const int64_t Kg = c.Kg(), Cg = c.Cg(), CRS = c.CRS(), P = c.OH * c.OW;
  const Padding pd = padding_of(c);
  const std::vector<int64_t> koff = row_offsets(c, pd);
  const int64_t img = c.C * pd.plane;
  Im2col m{&ck, koff.data(), c.OW, c.sh, c.sw, pd.rs};
  m.P = P, m.img = img;
  float *pad = pd.copy ? tl_bpad.get((size_t)(nbat * img)) : nullptr, *out = tl_bout.get((size_t)(c.K * nbat * P));
  GemmGeometry g;
  g.K = CRS, g.rsa = rsa, g.csa = csa, g.bias_rs = 1, g.bias_cs = 0;
  g.pack_b = pack_b_hook, g.pack_b_user = &m;
  for (int64_t n0 = 0; n0 < c.N; n0 += nbat) {
    const int64_t nb = std::min(nbat, c.N - n0), cols = nb * P;
    const float *src = x + n0 * c.C * c.H * c.W;
    if (pd.copy) {
      parallel_for(ctx->pool.get(), nb * c.C, std::max<int64_t>(1, 16384 / pd.plane), [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; q++)
          ck.pad_plane_f32(pad + q * pd.plane, src + q * c.H * c.W, c.H, c.W, pd.Hp, pd.Wp, c.ph, c.pw);
      });
      src = pad;
    }
    g.M = Kg, g.N = cols, g.rsc = cols;
    std::vector<GemmPtrs> batch;
    for (int64_t gr = 0; gr < c.G; gr++)
      batch.push_back(
          {w + gr * Kg * CRS, src + gr * Cg * pd.plane, out + gr * Kg * cols, bias ? bias + gr * Kg : nullptr});
    gemm_f32(ctx, g, batch);
    parallel_for(ctx->pool.get(), c.K, std::max<int64_t>(1, 8192 / cols), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; r++)
        for (int64_t n = 0; n < nb; n++)
          std::memcpy(y + ((n0 + n) * c.K + r) * P, out + r * cols + n * P, (size_t)P * sizeof(float));
    });
  }
}

void conv_fwd_f32(kiln_context *ctx, const Conv &c, float *y, const float *x, const float *w, const float *bias) {
  if (c.N == 0 || c.K == 0 || c.OH * c.OW == 0) return;
  if (c.Cg() == 1) return depthwise_fwd_f32(ctx, c, y, x, w, bias);
  // Images of few pixels run as batches through the implicit GEMM, also where Winograd fits:
  // Winograd's weight transform (all K x C filters, each call, 16/9 of the weights' size) then
  // outweighs the products it saves (N8 C512 7x7 3x3: Winograd 8.5-8.8 ms, batched 6.1; C256
  // 7x7 2.4 / 1.7; N2 C512 7x7 2.2 / 1.9; 10x10 level; 12x12, not batched, Winograd 4.1-4.2 / 4.5).
  const int64_t nbat = conv_image_batch(c, isa_kernels(ctx->isa)->gemm.nr);
  if (nbat <= 1 && winograd_fits(c)) return winograd_fwd_f32(ctx, c, y, x, w, bias);
  if (pointwise(c)) return pointwise_fwd_f32(ctx, c, y, x, w, c.Cg(), 1, bias);
  if (pointwise_strided(c)) return pointwise_strided_fwd_f32(ctx, c, y, x, w, bias);
  if (nbat > 1) return conv_fwd_batched(ctx, c, nbat, y, x, w, c.CRS(), 1, bias);
  const int64_t Kg = c.Kg(), Cg = c.Cg(), CRS = c.CRS(), P = c.OH * c.OW;
  GemmGeometry g;
  g.M = Kg, g.N = P, g.K = CRS;
  g.rsa = CRS, g.csa = 1, g.rsc = P;
  g.bias_rs = 1, g.bias_cs = 0;
  const Padding pd = padding_of(c);
  const std::vector<int64_t> koff = row_offsets(c, pd);
  const Im2col m{&isa_kernels(ctx->isa)->conv, koff.data(), c.OW, c.sh, c.sw, pd.rs};
  g.pack_b = pack_b_hook, g.pack_b_user = &m;
  for_images(ctx, c.N, [&](int64_t n) {
    const Src s = image_src(*m.ck, c, pd, x, n);
    std::vector<GemmPtrs> batch;
    for (int64_t gr = 0; gr < c.G; gr++)
      batch.push_back({w + gr * Kg * CRS, s.base + gr * Cg * s.plane, y + (n * c.K + gr * Kg) * P,
                       bias ? bias + gr * Kg : nullptr});
    gemm_f32(ctx, g, batch);
  });
}

// Stride > 1: per image, columns = W_g^T @ dy_g for a chunk of pixels, added into a padded
// image at the windows' places (col2im), then cropped into dx.
void conv_bwd_input_col2im_f32(kiln_context *ctx, const Conv &c, float *dx, const float *dy, const float *w) {
  const int64_t Kg = c.Kg(), Cg = c.Cg(), CRS = c.CRS(), P = c.OH * c.OW;
  const int64_t Hp = std::max(padded_h(c), c.H + c.ph), Wp = std::max(padded_w(c), c.W + c.pw);
  const int64_t pc = std::clamp<int64_t>((128 << 10) / CRS / 16 * 16, 16, 1024);
  GemmGeometry g;
  g.K = Kg, g.M = CRS;
  g.rsa = 1, g.csa = CRS, g.rsb = P, g.csb = 1;
  for_images(ctx, c.N, [&](int64_t n) {
    float *img = tl_pad.get((size_t)(c.C * Hp * Wp));
    std::memset(img, 0, (size_t)(c.C * Hp * Wp) * sizeof(float));
    float *cols = tl_col.get((size_t)(CRS * std::min(pc, P)));
    for (int64_t gr = 0; gr < c.G; gr++)
      for (int64_t p0 = 0; p0 < P; p0 += pc) {
        GemmGeometry gc = g;
        gc.N = gc.rsc = std::min(pc, P - p0);
        gemm_f32(ctx, gc, {{w + gr * Kg * CRS, dy + (n * c.K + gr * Kg) * P + p0, cols, nullptr}});
        for (int64_t i = 0; i < CRS; i++) {
          const int64_t ch = gr * Cg + i / (c.R * c.S), r = i / c.S % c.R, s = i % c.S;
          float *base = img + ch * Hp * Wp + r * c.dh * Wp + s * c.dw;
          const float *col = cols + i * gc.N;
          int64_t oh = p0 / c.OW, ow = p0 % c.OW;
          for (int64_t j = 0; j < gc.N; j++) {
            base[oh * c.sh * Wp + ow * c.sw] += col[j];
            if (++ow == c.OW) ow = 0, oh++;
          }
        }
      }
    for (int64_t ch = 0; ch < c.C; ch++)
      for (int64_t i = 0; i < c.H; i++)
        std::memcpy(dx + ((n * c.C + ch) * c.H + i) * c.W, img + (ch * Hp + i + c.ph) * Wp + c.pw,
                    (size_t)c.W * sizeof(float));
  });
}

void conv_bwd_input_f32(kiln_context *ctx, const Conv &c, float *dx, const float *dy, const float *w) {
  if (c.N == 0 || c.C == 0 || c.H * c.W == 0) return;
  if (c.K == 0 || c.OH * c.OW == 0) {
    std::memset(dx, 0, (size_t)(c.N * c.C * c.H * c.W) * sizeof(float));
    return;
  }
  if (c.Cg() == 1 && (c.sh != 1 || c.sw != 1 || c.K != c.C)) return depthwise_bwd_input_f32(ctx, c, dx, dy, w);
  if (pointwise_strided(c)) return pointwise_strided_bwd_input_f32(ctx, c, dx, dy, w);
  if (c.sh != 1 || c.sw != 1) return conv_bwd_input_col2im_f32(ctx, c, dx, dy, w);
  // dx = conv(dy, w') with w'[g*Cg + ch, kk, R-1-r, S-1-s] = w[g*Kg + kk, ch, r, s], stride 1,
  // padding (R-1)*dh - ph (possibly negative: a crop) and output size H x W.
  Conv t = c;
  t.C = c.K, t.H = c.OH, t.W = c.OW, t.K = c.C, t.OH = c.H, t.OW = c.W;
  t.ph = (c.R - 1) * c.dh - c.ph, t.pw = (c.S - 1) * c.dw - c.pw;
  // 1x1: w' is w's transpose per group, which the 1x1 forward reads in place (the copy, a strided
  // scatter, cost 10 ms of 17 at C512->2048 7² N8). One output channel per group stays with
  // conv_fwd_f32's depthwise kernels.
  if (pointwise(c) && c.Kg() > 1) return pointwise_fwd_f32(ctx, t, dx, dy, w, 1, c.Cg(), nullptr);
  const int64_t Kg = c.Kg(), Cg = c.Cg(), RS = c.R * c.S;
  // w' row by row (each written once, in order), across the pool into this thread's scratch: one
  // thread into a fresh vector took 2.1 ms of N8 C512 7x7's 8.8 (the forward: 6.6)
  float *wt = tl_wt.get((size_t)(c.K * Cg * RS));
  parallel_for(ctx->pool.get(), c.G * Cg, std::max<int64_t>(1, 8192 / (Kg * RS)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
      const int64_t gr = t / Cg, ch = t % Cg;
      float *o = wt + t * Kg * RS;
      for (int64_t kk = 0; kk < Kg; kk++)
        for (int64_t i = 0; i < RS; i++) o[kk * RS + RS - 1 - i] = w[((gr * Kg + kk) * Cg + ch) * RS + i];
    }
  });
  conv_fwd_f32(ctx, t, dx, dy, wt, nullptr);
}

void conv_bwd_weight_f32(kiln_context *ctx, const Conv &c, float *dw, const float *x, const float *dy) {
  const int64_t total = c.K * c.CRS();
  if (total == 0) return;
  if (c.N == 0 || c.OH * c.OW == 0) {
    std::memset(dw, 0, (size_t)total * sizeof(float));
    return;
  }
  if (c.Cg() == 1) return depthwise_bwd_weight_f32(ctx, c, dw, x, dy);
  if (winograd_fits(c)) return winograd_bwd_weight_f32(ctx, c, dw, x, dy);
  if (pointwise(c)) return pointwise_bwd_weight_f32(ctx, c, dw, x, dy);
  if (pointwise_strided(c)) return pointwise_strided_bwd_weight_f32(ctx, c, dw, x, dy);
  const int64_t Kg = c.Kg(), Cg = c.Cg(), CRS = c.CRS(), P = c.OH * c.OW;
  const int64_t pc = std::clamp<int64_t>((128 << 10) / CRS / 16 * 16, 16, 1024);
  const Padding pd = padding_of(c);
  const std::vector<int64_t> koff = row_offsets(c, pd);
  const Im2col m{&isa_kernels(ctx->isa)->conv, koff.data(), c.OW, c.sh, c.sw, pd.rs};
  // Fixed image blocks (never the thread count), each summing into its own partial; fewer when the
  // partials would pass kConvPartialBytes (one at C512 3x3: the GEMMs then split instead). The
  // partials are kept by the calling thread: fresh pages for 8 x 9 MiB of them each call made
  // C512 7x7 3x3's weight gradient 219 ms, 20x its products.
  const int64_t nb = conv_weight_blocks(c, total);
  float *const parts = nb > 1 ? tl_parts.get((size_t)(nb * total)) : nullptr;
  GemmGeometry g;
  g.M = Kg, g.N = CRS;
  g.rsa = P, g.csa = 1, g.rsb = 1, g.rsc = CRS;
  parallel_for(ctx->pool.get(), nb, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      float *acc = nb > 1 ? parts + b * total : dw;
      for (int64_t n = c.N * b / nb; n < c.N * (b + 1) / nb; n++) {
        const bool first = n == c.N * b / nb;
        const Src s = image_src(*m.ck, c, pd, x, n);
        for (int64_t gr = 0; gr < c.G; gr++)
          for (int64_t p0 = 0; p0 < P; p0 += pc) {
            const int64_t np = std::min(pc, P - p0);
            float *col = tl_col.get((size_t)(CRS * np));
            im2col_pack(m, col, np, s.base + gr * Cg * s.plane, 0, CRS, p0, np);
            GemmGeometry gc = g;
            gc.K = np, gc.csb = np;
            gc.beta = first && p0 == 0 ? 0.0f : 1.0f;
            gemm_f32(ctx, gc, {{dy + (n * c.K + gr * Kg) * P + p0, col, acc + gr * Kg * CRS, nullptr}});
          }
      }
    }
  });
  if (nb > 1)
    parallel_for(ctx->pool.get(), total, 1 << 14, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; i++) {
        float s = parts[i];
        for (int64_t b = 1; b < nb; b++) s += parts[b * total + i];
        dw[i] = s;
      }
    });
}

// ---- argument checks ----

// Fills c from the operands ([N, C, H, W] input, [K, C/g, R, S] weight, [N, K, OH, OW] output)
// and the attributes stride, padding (top, left), dilation, groups.
kiln_status conv_setup(kiln_context *ctx, const char *op, const kiln_tensor &in, const kiln_tensor &wt,
                       const kiln_tensor &out, const double *attr, Conv *c) {
  for (const kiln_tensor *t : {&in, &wt, &out}) {
    if (t->ndim != 4) return fail(ctx, KILN_ERR_SHAPE, "%s: operands must be 4-d", op);
    if (!contiguous(*t)) return fail(ctx, KILN_ERR_ARG, "%s: operands must be contiguous", op);
    if (t->dtype != in.dtype) return fail(ctx, KILN_ERR_DTYPE, "%s: dtypes disagree", op);
  }
  if (in.dtype != KILN_FLOAT32 && in.dtype != KILN_FLOAT64)
    return fail(ctx, KILN_ERR_DTYPE, "%s: float32 or float64 expected", op);
  const int64_t big = (int64_t)1 << 30;
  int64_t v[7];
  for (int i = 0; i < 7; i++)
    if (!int_arg(attr[i], i == 2 || i == 3 ? 0 : 1, big, &v[i]))
      return fail(ctx, KILN_ERR_ARG, "%s: bad stride, padding, dilation or groups", op);
  c->N = in.shape[0], c->C = in.shape[1], c->H = in.shape[2], c->W = in.shape[3];
  c->K = wt.shape[0], c->R = wt.shape[2], c->S = wt.shape[3];
  c->OH = out.shape[2], c->OW = out.shape[3];
  c->sh = v[0], c->sw = v[1], c->ph = v[2], c->pw = v[3], c->dh = v[4], c->dw = v[5], c->G = v[6];
  if (c->C % c->G || c->K % c->G || wt.shape[1] != c->C / c->G || out.shape[0] != c->N || out.shape[1] != c->K)
    return fail(ctx, KILN_ERR_SHAPE, "%s: channels, weight and groups do not fit", op);
  return KILN_OK;
}

}  // namespace

void conv_fwd_images_f32(kiln_context *ctx, const Conv &c, int64_t nbat, float *y, const float *x, const float *w,
                         int64_t rsa, int64_t csa, const float *bias) {
  conv_fwd_batched(ctx, c, nbat, y, x, w, rsa, csa, bias);
}

void conv_bwd_bias_f32(kiln_context *ctx, const Conv &c, float *db, const float *dy) {
  conv_bwd_bias<float>(ctx, c, db, dy);
}

kiln_status conv2d_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &x, const kiln_tensor &w,
                       const kiln_tensor *bias, const double *attr) {
  Conv c;
  if (kiln_status st = conv_setup(ctx, "conv2d", x, w, out, attr, &c)) return st;
  if (bias && (bias->ndim != 1 || bias->shape[0] != c.K || bias->dtype != x.dtype || !contiguous(*bias)))
    return fail(ctx, KILN_ERR_SHAPE, "conv2d: the bias must be a contiguous [K] of the input's dtype");
  if (x.dtype == KILN_FLOAT32)
    conv_fwd_f32(ctx, c, (float *)out.data, (const float *)x.data, (const float *)w.data,
                 bias ? (const float *)bias->data : nullptr);
  else
    conv_fwd_f64(ctx, c, (double *)out.data, (const double *)x.data, (const double *)w.data,
                 bias ? (const double *)bias->data : nullptr);
  return KILN_OK;
}

kiln_status conv2d_backward_input_cpu(kiln_context *ctx, const kiln_tensor &dx, const kiln_tensor &dy,
                                      const kiln_tensor &w, const double *attr) {
  Conv c;
  if (kiln_status st = conv_setup(ctx, "conv2d_backward_input", dx, w, dy, attr, &c)) return st;
  if (dx.dtype == KILN_FLOAT32)
    conv_bwd_input_f32(ctx, c, (float *)dx.data, (const float *)dy.data, (const float *)w.data);
  else
    conv_bwd_input_f64(ctx, c, (double *)dx.data, (const double *)dy.data, (const double *)w.data);
  return KILN_OK;
}

kiln_status conv2d_backward_weight_cpu(kiln_context *ctx, const kiln_tensor &dw, const kiln_tensor &x,
                                       const kiln_tensor &dy, const double *attr) {
  Conv c;
  if (kiln_status st = conv_setup(ctx, "conv2d_backward_weight", x, dw, dy, attr, &c)) return st;
  if (x.dtype == KILN_FLOAT32)
    conv_bwd_weight_f32(ctx, c, (float *)dw.data, (const float *)x.data, (const float *)dy.data);
  else
    conv_bwd_weight_f64(ctx, c, (double *)dw.data, (const double *)x.data, (const double *)dy.data);
  return KILN_OK;
}

kiln_status conv2d_backward_cpu(kiln_context *ctx, const kiln_tensor &dx, const kiln_tensor &dw, const kiln_tensor &db,
                                const kiln_tensor &dy, const kiln_tensor &x, const kiln_tensor &w, const double *attr) {
  Conv c;
  if (kiln_status st = conv_setup(ctx, "conv2d_backward", x, w, dy, attr, &c)) return st;
  // Each gradient is either skipped (an empty output) or exactly its operand's shape and dtype.
  const int64_t want[3][4] = {{c.N, c.C, c.H, c.W}, {c.K, c.C / c.G, c.R, c.S}, {c.K}};
  const kiln_tensor *outs[3] = {&dx, &dw, &db};
  bool on[3];
  for (int i = 0; i < 3; i++) {
    const kiln_tensor &t = *outs[i];
    int64_t numel = 1;
    for (int d = 0; d < t.ndim; d++) numel *= t.shape[d];
    on[i] = numel > 0;
    if (!on[i]) continue;
    bool ok = t.ndim == (i == 2 ? 1 : 4) && t.dtype == x.dtype && contiguous(t);
    for (int d = 0; ok && d < t.ndim; d++) ok = t.shape[d] == want[i][d];
    if (!ok)
      return fail(ctx, KILN_ERR_SHAPE,
                  "conv2d_backward: grad %s must be empty or a contiguous tensor of its operand's shape and dtype",
                  i == 0   ? "input"
                  : i == 1 ? "weight"
                           : "bias");
  }
  if (x.dtype == KILN_FLOAT32) {
    float *gx = on[0] ? (float *)dx.data : nullptr, *gw = on[1] ? (float *)dw.data : nullptr;
    float *gb = on[2] ? (float *)db.data : nullptr;
    const float *xp = (const float *)x.data, *g = (const float *)dy.data, *wp = (const float *)w.data;
    if (depthwise_s1_fused(c)) {
      depthwise_s1_bwd_f32(ctx, c, gx, gw, gb, xp, g, wp);
      return KILN_OK;
    }
    if (gx) conv_bwd_input_f32(ctx, c, gx, g, wp);
    // 1x1 (more than one input channel per group): grad bias summed by the weight gradient from
    // its packed panels of grad_out (pointwise_bwd_weight_f32), not in a pass of its own.
    if (gw && gb && pointwise(c) && c.Cg() > 1 && c.N > 0 && c.OH * c.OW > 0) {
      pointwise_bwd_weight_f32(ctx, c, gw, xp, g, gb);
      return KILN_OK;
    }
    if (gw && gb && pointwise_strided(c) && c.N > 0) {
      pointwise_strided_bwd_weight_f32(ctx, c, gw, xp, g, gb);
      return KILN_OK;
    }
    if (gw) conv_bwd_weight_f32(ctx, c, gw, xp, g);
    if (gb) conv_bwd_bias<float>(ctx, c, gb, g);
    return KILN_OK;
  }
  const double *xp = (const double *)x.data, *g = (const double *)dy.data, *wp = (const double *)w.data;
  if (on[0]) conv_bwd_input_f64(ctx, c, (double *)dx.data, g, wp);
  if (on[1]) conv_bwd_weight_f64(ctx, c, (double *)dw.data, xp, g);
  if (on[2]) conv_bwd_bias<double>(ctx, c, (double *)db.data, g);
  return KILN_OK;
}

}  // namespace kiln::cpu
