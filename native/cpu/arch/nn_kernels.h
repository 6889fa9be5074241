// The nn kernels' float32 vector loops (IsaKernels::nn): GELU (erf and tanh forms) and SiLU with
// their backward rows, the Philox dropout mask, batch-norm block statistics and per-channel
// apply, max pooling's inner windows, and binary cross-entropy with logits. Written once in
// nn_kernels.inc against the vector vocabulary; the drivers are native/cpu/activation.cpp,
// dropout.cpp, batch_norm.cpp, pool.cpp and bce.cpp.
#pragma once
#include <cstdint>

namespace kiln::cpu {

enum class NnAct : int { Gelu, GeluTanh, Silu };

// One output row of 2-d max pooling over a float32 plane x of width W: the window's rows are
// ih0, ih0 + dh, ... (`rows` of them, all inside the plane), its taps in a row at
// ow sw - pw + s dw for s < kw.
struct MaxPoolRow {
  const float *x;
  int64_t W, ih0, rows, dh, kw, sw, pw, dw;
};

// One output row of max pooling's backward over an H x W plane: the window of output ow spans rows
// top + r dh (r < kh) and columns ow sw - pw + s dw (s < kw).
struct MaxPoolGradRow {
  int64_t H, W, top, kh, dh, kw, sw, pw, dw;
};

struct NnKernels {
  // o[i] = act(x[i]) and gx[i] = gy[i] * act'(x[i]); o may equal x, gx may equal gy or x. With
  // `stream` (outputs past the last-level cache) the gradient goes out as non-temporal stores; the
  // driver fences once per task. (The forward measured faster with cached stores.)
  void (*act_f32)(NnAct act, float *o, const float *x, int64_t n);
  void (*act_backward_f32)(NnAct act, float *gx, const float *gy, const float *x, int64_t n, bool stream);
  // o[i] = keep ? x[i] * scale : 0, keep = (word >> 8) >= threshold, with word i % 4 of
  // Philox(counter + i / 4, seed): the caller starts each run at a multiple of 4 elements.
  void (*dropout_f32)(float *o, const float *x, int64_t n, uint64_t seed, uint64_t counter, uint32_t threshold,
                      float scale);
  // Sum of (x[i] - mean)^2, and sums of gy[i] and gy[i] * (x[i] - mean), in an order fixed by n.
  // `ahead` (null: none): n floats whose lines are asked for as the squares are summed (the
  // caller's next piece: its sum then reads cache while memory works through this pass).
  float (*sq_dev_sum_f32)(const float *x, int64_t n, float mean, const float *ahead);
  void (*grad_sums_f32)(const float *gy, const float *x, int64_t n, float mean, float *sg, float *sgx);
  // Channels innermost ([rows, C]): acc[i] += (x[i] - mean[i])^2; sg[i] += gy[i],
  // sgx[i] += gy[i] * (x[i] - mean[i]).
  void (*col_sq_dev_f32)(float *acc, const float *x, const float *mean, int64_t n);
  void (*col_grad_f32)(float *sg, float *sgx, const float *gy, const float *x, const float *mean, int64_t n);
  // o[i] = b * (x[i] - m) + a * g[i] + k (the g term only when g is not null); m, b, a, k are
  // read at [i * sp] with sp 0 (one channel's scalars) or 1 (channels innermost).
  void (*bn_apply_f32)(float *o, const float *x, const float *g, int64_t n, const float *m, const float *b,
                       const float *a, const float *k, int64_t sp);
  // y[ow] and idx[ow] (the flat ih W + iw of the pick) for ow in [ow0, ow1), windows whose taps all
  // lie inside the row (the driver takes the border ones), sw 1 or 2, ih W + iw < 2^24 (indices
  // are exact in a float lane): PyTorch's rule, the first tap, then a larger value or a NaN wins.
  void (*max_pool_row_f32)(float *y, int64_t *idx, const MaxPoolRow &p, int64_t ow0, int64_t ow1);
  // g[idx[ow]] += gy[ow] in ow order for ow < n whose index is one of window ow's taps inside the
  // plane (others add nothing); H W <= 2^24.
  void (*max_pool_grad_row_f32)(float *g, const float *gy, const int64_t *idx, const MaxPoolGradRow &p, int64_t n);
  // Binary cross-entropy with logits: l[i] = w[i] ((1 - t[i]) x[i] + c[i] softplus(-x[i])), c = 1 +
  // (pw[i] - 1) t[i] (pw, w null: c = 1, w = 1). The forward writes l to o unless o is null and
  // returns the float sum of the n losses in an order fixed by n; the backward writes
  // gx[i] = g[i] w[i] ((1 - t[i]) - c[i] sigmoid(-x[i])), g null: gs for every g[i].
  float (*bce_logits_f32)(float *o, const float *x, const float *t, const float *pw, const float *w, int64_t n);
  void (*bce_logits_grad_f32)(float *gx, const float *g, float gs, const float *x, const float *t, const float *pw,
                              const float *w, int64_t n);
};

}  // namespace kiln::cpu
