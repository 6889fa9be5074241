// The per-ISA fast paths: contiguous float32 inner loops, one table per ISA (avx512.cpp, avx2.cpp,
// neon.cpp, generic.cpp), picked at load time from kiln_context::isa. The strided, multi-dtype
// drivers in native/cpu/*.cpp call these for contiguous float32 runs and fall back to their own
// scalar loops when an entry returns false. generic.cpp is the twin the tests compare against.
#pragma once
#include <cstdint>
#include <cstring>      // kernels.inc: transpose32's edges
#include <limits>       // gemm.inc: GELU's table path
#include <type_traits>  // gemm.inc: GELU's table path
#include <vector>       // rows.inc: per-thread row scratch

#include "../../core/dtype.h"  // kernels.inc: the scalar half conversions
#include "kiln.h"
#include "nn_kernels.h"

namespace kiln::cpu {

enum class Unary : int {
  Neg,
  Abs,
  Sign,
  Exp,
  Log,
  Sqrt,
  Rsqrt,
  Sin,
  Cos,
  Tanh,
  Sigmoid,
  Erf,
  Floor,
  Ceil,
  Round,
  Trunc,
  Reciprocal,
  Log1p,
  Expm1,
  Erfc,
  Lgamma,
  Digamma,
  Trigamma,
  LogicalNot,
  Count
};
enum class Binary : int {
  Add,
  Sub,
  Mul,
  Div,
  Pow,
  Maximum,
  Minimum,
  Remainder,
  Atan2,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  LogicalAnd,
  LogicalOr,
  LogicalXor,
  Count
};

enum class GemmAct : int { None, Relu, Gelu, GeluTanh };

// The GEMM pieces each ISA provides (gemm.inc); native/cpu/gemm.cpp does the blocking and packing.
struct GemmKernels {
  int mr, nr;  // register tile: rows of a packed A sliver, columns of a packed B panel
  // C[0:mr, 0:nr] (row stride ldc) = alpha * A.B + beta * C, C unread when beta == 0. A: packed
  // sliver a[k * mr_full + i]; row k of B at b + k * ldb; padded: B is a packed panel zero-filled to
  // nr_full columns. mr <= mr_full, nr <= nr_full.
  void (*tile_f32)(int64_t kc, const float *a, const float *b, int64_t ldb, bool padded, float *c, int64_t ldc, int mr,
                   int nr, float alpha, float beta);
  // Packing, for rows r < nr of a sliver or panel (zero-filled up to nfull) and k < kc:
  // dst[k * ld + r] = src[r * rs + k] (kmajor: a transpose) or src[k * ks + r] (rows).
  void (*pack_kmajor_f32)(float *dst, int64_t ld, const float *src, int64_t rs, int nr, int nfull, int64_t kc);
  void (*pack_rows_f32)(float *dst, int64_t ld, const float *src, int64_t ks, int nr, int nfull, int64_t kc);
  // Sum of x[i] * y[i], in an order that depends only on n.
  float (*dot_f32)(const float *x, const float *y, int64_t n);
  // y[0:n] += sum over k < kc of x[k] * b[k * ldb + 0:n], each element one fma chain in k order.
  void (*gemv_rows_f32)(float *y, const float *x, const float *b, int64_t ldb, int64_t kc, int64_t n);
  // c[j] = act(c[j] + bias[j * bias_stride]) for j < n; bias may be null; bias_stride is 0 or 1.
  void (*epilogue_f32)(GemmAct act, float *c, int64_t n, const float *bias, int64_t bias_stride);
};

// The float64 register tile (arch/gemm_f64.inc): C[0:mr, 0:nr] (row stride ldc) = alpha * A.B + beta * C, C
// unread when beta == 0, from a packed A sliver a[k * mr_full + i] and a packed B panel b[k * nr_full + j],
// both zero-padded. mr <= mr_full, nr <= nr_full.
struct GemmF64Kernels {
  int mr, nr;
  void (*tile)(int64_t kc, const double *a, const double *b, double *c, int64_t ldc, int mr, int nr, double alpha,
               double beta);
};

// A bfloat16 dot-product tile (vdpbf16ps): float32 results for a whole mr x nr tile into c.
// Operands are packed in k pairs: a[(p * mr + i) * 2 + e] = A[i, 2p + e] and
// b[(p * nr + j) * 2 + e] = B[2p + e, j], zero-padded.
struct GemmBf16Kernels {
  int mr, nr;
  void (*tile)(int64_t kp, const uint16_t *a, const uint16_t *b, float *c, int64_t ldc, float alpha);
};

// Scalars of one Adam/AdamW step (optim.cpp computes the bias corrections).
struct AdamScalars {
  float beta1, beta2, eps, weight_decay, step_size, bc2_sqrt, decay;
  bool amsgrad, decoupled, maximize;
};

// One contiguous run of an im2col row (conv.inc): columns [j, j + len) come from src + off.
struct ConvSeg {
  int64_t off;
  int32_t j, len;
};
// Lane accumulators per tap of ConvKernels::depthwise_bwd_weight_f32: the widest vector's floats.
constexpr int kConvLanes = 16;
// The convolution inner loops each ISA provides (conv.inc); native/cpu/conv.cpp does the blocking.
struct ConvKernels {
  // dst[k * ld + seg.j + t] = src[koff[k] + seg.off + t] for t < seg.len, k < kc; zeros at nr <= j < ld.
  void (*pack_f32)(float *dst, int64_t ld, const float *src, const int64_t *koff, int64_t kc, const ConvSeg *seg,
                   int nseg, int nr);
  // One plane: dst[i * Wp + j] = src[(i - ph) * W + j - pw] inside H x W, zero elsewhere (Hp x Wp).
  void (*pad_plane_f32)(float *dst, const float *src, int64_t H, int64_t W, int64_t Hp, int64_t Wp, int64_t ph,
                        int64_t pw);
  // dst[i * ds + j] = src[i * W + j] for i < H, j < W.
  void (*copy_plane_f32)(float *dst, int64_t ds, const float *src, int64_t H, int64_t W);
  // Depthwise forward over one plane: y[oh * OW + ow] = bias + sum over t < nt (in order) of
  // w[t] * taps[t][oh * step + ow].
  void (*depthwise_plane_f32)(float *y, const float *const *taps, const float *w, int nt, int64_t step, int64_t OH,
                              int64_t OW, float bias);
  // Depthwise weight gradient over one plane: adds dy[oh * OW + ow] * taps[t][oh * step + ow] for
  // oh < OH, ow < OW into lanes[t * kConvLanes + ow % W] (W: the ISA's vector width; the other
  // lanes are left alone), in an order fixed by the shape alone.
  void (*depthwise_bwd_weight_f32)(float *lanes, const float *dy, const float *const *taps, int nt, int64_t step,
                                   int64_t OH, int64_t OW);
  // Depthwise grad input: dx[oh * step + toff[t] + j] += w[t] * g[oh * gs + j] for j < n, t < nt,
  // oh < OH, in the order t, then oh.
  void (*depthwise_scatter_f32)(float *dx, const int64_t *toff, const float *w, int nt, int64_t step, const float *g,
                                int64_t gs, int64_t n, int64_t OH);
  // Stride-1, dilation-1 R x R depthwise forward over np unpadded H x W planes x + p xs, each padded
  // by ph rows and pw columns (0 <= ph, pw < R), into y + p OH OW: y[oh * OW + ow] = bias[p] (0
  // when bias is null) + sum over (r, s) in order of w[p R R + r * R + s] * x[oh + r - ph][ow + s - pw]
  // (zero outside the plane). R = 3 or 5; false (nothing written) otherwise.
  bool (*depthwise_s1_f32)(float *y, const float *x, int64_t xs, const float *w, const float *bias, int64_t np, int R,
                           int64_t H, int64_t W, int ph, int pw, int64_t OH, int64_t OW);
  // Its weight gradient over np plane pairs (grad_out dy + p OH OW, input x + p xs), added into lane
  // accumulators lanes + p ls as depthwise_bwd_weight_f32 adds them (lanes[t * kConvLanes + ow % W]
  // for tap t = r * R + s; its own fixed order): R = 3 or 5; false (nothing added) otherwise.
  bool (*depthwise_s1_bwd_weight_f32)(float *lanes, int64_t ls, const float *dy, const float *x, int64_t xs, int64_t np,
                                      int R, int64_t H, int64_t W, int ph, int pw, int64_t OH, int64_t OW);
  // The fused stride-1 backward of np planes with one channel each (conv.cpp: grad input, grad
  // weight and grad bias from one read of grad_out): dx + p H W = depthwise_s1_f32 of dy + p OH OW
  // by the flipped weights wf + p R R with padding R - 1 - ph, R - 1 - pw; the weight gradient of
  // (dy + p OH OW, x + p H W) added into lanes + p ls as depthwise_s1_bwd_weight_f32 adds it; and
  // blanes[p kConvLanes + j] += the sum of dy[p OH OW + i] over i % W == j, in order. A null
  // output is skipped. R = 3 or 5; false (nothing written) otherwise.
  bool (*depthwise_s1_bwd_f32)(float *dx, float *lanes, int64_t ls, float *blanes, const float *dy, const float *x,
                               const float *wf, int64_t np, int R, int64_t H, int64_t W, int ph, int pw, int64_t OH,
                               int64_t OW);
  // The two column phases of an H x W plane padded by ph rows and pw columns (>= 0), for windows
  // with a column stride of 2: p0 / p1 [i * ls + j] = the padded plane's (i, 2j) / (i, 2j + 1) for
  // i < Hp, j < ls (zero outside the plane); ls a multiple of kConvLanes. Each of p0 and p1 needs
  // kConvLanes floats of slack after its Hp rows (written with garbage). zero false: the planes
  // hold a previous call's result for the same geometry with ls >= (W + 1) / 2 + (pw + 1) / 2 +
  // kConvLanes (so no row's stores ran into the next), whose zeros are kept.
  void (*phase_planes_f32)(float *p0, float *p1, int64_t ls, const float *x, int64_t H, int64_t W, int64_t Hp,
                           int64_t ph, int64_t pw, bool zero);
  // Its inverse, cropped: dx[i * W + j] = d[(2 ((i + ph) % 2) + (j + pw) % 2) ps + ((i + ph) / 2) ls +
  // (j + pw) / 2] for i < H, j < W; row: scratch of 2 ls + kConvLanes floats; ls a multiple of kConvLanes with
  // (W + pw + 1) / 2 <= ls.
  void (*phase_merge_f32)(float *dx, const float *d, int64_t ps, int64_t ls, float *row, int64_t H, int64_t W,
                          int64_t ph, int64_t pw);
  // Winograd 3x3 transforms (winograd.inc) of n <= 32 tiles along one row of tiles, element e < 16
  // of tile t at e * es + t. Input patches: dst = B^T d B, d[r][s] = rows[r][c0 + 2t + s] (zero
  // where rows[r] is null or outside [0, wd)); may also write (garbage) up to 15 floats past each
  // e's n-th, so that every store is a whole vector.
  void (*wino_input_f32)(float *dst, int64_t es, const float *const *rows, int64_t wd, int64_t c0, int n);
  // Output tiles: A^T m A + bias into y[i * ldy + 2t + j] for rows i < nrows (at most 2; fewer:
  // cropped) and 2t + j < ow.
  void (*wino_output_f32)(float *y, int64_t ldy, int nrows, const float *m, int64_t es, int n, int64_t ow, float bias);
  // Grad-weight tiles of grad_out: dst = A g A^T, g[i][j] = row[i * ldr + 2t + j] (zero for
  // 2t + j >= ow or i >= nrows).
  void (*wino_dy_f32)(float *dst, int64_t es, const float *row, int64_t ldr, int nrows, int64_t ow, int n);
  // F(4x4, 3x3) and F(3x3, 4x4): as the above with 6x6 patches (36 elements per tile) and 4x4
  // output and grad_out tiles, on a tw-wide grid of tiles: tile t < n at row a_t = (tj + t) / tw
  // (counted from the first tile's) and column b_t = (tj + t) % tw, so that a call may run past a
  // row of tiles' end. Input patches d_t[r][s] = x[(4 a_t + r) ldx + 4 b_t + s], every one in
  // padded memory (and up to 4 x 16 floats past each row of tiles' last patch may be read);
  // outputs y[(4 a_t + i) ldy + 4 b_t + j] for 4 a_t + i < oh, 4 b_t + j < ow; grad_out tiles
  // g[i][j] = gp[(4 a_t + i) ldg + 4 b_t + j], zero where 4 a_t + i >= oh or 4 b_t + j >= ow.
  void (*wino4_input_f32)(float *dst, int64_t es, const float *x, int64_t ldx, int64_t tw, int64_t tj, int n);
  void (*wino4_output_f32)(float *y, int64_t ldy, int64_t oh, int64_t ow, int64_t tw, int64_t tj, const float *m,
                           int64_t es, int n, float bias);
  void (*wino4_dy_f32)(float *dst, int64_t es, const float *gp, int64_t ldg, int64_t oh, int64_t ow, int64_t tw,
                       int64_t tj, int n);
  // The weight transform U = G f G^T (m = 2 or 4) in float64, rounded once, of one channel of a
  // sliver of filters f_i = w + i * fs: o[e * es + i] for i < mr (zeros for i >= rows).
  void (*wino_weight_f32)(float *o, int64_t es, const float *w, int64_t fs, int rows, int mr, int m);
  // The 1x1 weight gradient's register tile (conv.inc), pw_mr rows by pw_nr columns:
  // c[i * ldc + j] (+)= sum over k < kc, in order, of a[i * lda + k] * b[k * pw_nr + j] for i < m <= pw_mr,
  // j < n <= pw_nr (added to c when accumulate). a: rows of the image, read in place; b: a packed
  // panel of grad_out's transpose, zero-padded to pw_nr columns.
  int pw_mr, pw_nr;
  void (*pw_dw_tile_f32)(int64_t kc, const float *a, int64_t lda, const float *b, float *c, int64_t ldc, int m, int n,
                         bool accumulate);
};
// The columns the column kernels take a pass over the rows for at a time (rows.inc kLseColGroup):
// 8 KB of each row, read as a stream. A driver's strips are at most this wide. The kernels keep a
// few vectors per column of a group on the stack (about 40 KB at the deepest, lse_cols_f32).
constexpr int64_t kColGroup = 2048;

// A task's walk down strips of columns for softmax_backward_f32 (one per task, kept by the driver
// across its calls): `next` and `after` are the offsets in floats from the strip a call gets to the
// task's next two (0: none); the call sums the next strip's columns while it writes its own (`next`
// only for a strip of the same width) and asks for the lines of the one after into L2, so that a
// thread reads memory, sums from the cache and streams its stores out at once. `have`: s holds the
// sums of the strip the call gets (the previous call's), in the order its own first pass would take.
struct ColWalk {
  int64_t next = 0, after = 0;
  bool have = false;
  alignas(64) float s[kColGroup];
};
// Rows in lockstep in the norm backward: grad weight / grad bias are read and written once for them.
constexpr int kNormRows = 4;
// Log-sum-exp rows in flight at once (rows.inc lse_pass), for rows of up to kLseShort floats: four
// rows of 1 KB read from memory as one stream; longer rows, each its own, measured faster one at
// a time (one thread, from memory: [*, 1024] 0.20 -> 0.16 ns/elem, [*, 512] 0.25-0.48 -> 0.20).
constexpr int kLseRows = 4;
constexpr int64_t kLseShort = 256;
// Fused memory-bound rows (arch/rows.inc), driven by softmax.cpp, norm.cpp and cross_entropy.cpp.
// Where logsumexp_f32 hands its rows, in row order, a vector's worth at a time (up to
// kLseSinkMaxRows) while their lines are still in L1/L2: row first + j (counted from the call's x)
// has max m[j] and log-sum ls[j] = log(sum(exp(x - m[j]))), so lse = m + ls, and log-softmax's
// (x - m) - ls keeps the bits that m + ls rounds away for logits of 1e4 (cross-entropy's loss, as
// PyTorch's). A row whose lse is not finite and no sum (its max not finite, or a NaN) has m = the
// lse, ls = 0.
// With `terms` set (room for kLseSinkMaxRows rows of n), the kernel also leaves there the exps it
// summed, row j of the batch at terms + j n, and hands their sums in s[j]: terms / s is the
// softmax, to output precision (a degree-6 polynomial then, not the sum's degree 5). s[j] is 0 for
// a row without terms (the ones with ls 0 above, and rows whose max is too large for the fma's
// range); s is null without `terms`.
struct LseSink {
  void (*rows)(void *self, int64_t first, int64_t count, const float *m, const float *ls, const float *s);
  void *self;
  float *terms = nullptr;
};
constexpr int kLseSinkMaxRows = 16;

struct RowKernels {
  // Each writer takes `stream`: write the output with non-temporal stores (set by the drivers for
  // outputs of at least kStreamBytes, cpu_ops.h).
  // Softmax (log: log-softmax) over n elements at `stride`: 1 is `cols` contiguous rows (row r at
  // r n); otherwise columns [0, cols) of an [n, stride] block, vectorised across columns.
  // `next` (columns only; 0: none): the offset in floats from x to the strip the caller runs next,
  // whose lines the write pass asks for, so that its stats pass finds them in L2 (rows.inc write_cols).
  void (*softmax_f32)(float *o, const float *x, int64_t n, int64_t stride, int64_t cols, bool log, bool stream,
                      int64_t next);
  // `ahead` (rows only; 0: none): the offset in elements from this row to a later one (prefetch.h
  // row_ahead), whose lines are asked for while this one writes its gradient. `walk` (columns only,
  // cols <= kColGroup; null: none): the task's walk down its strips (ColWalk).
  void (*softmax_backward_f32)(float *gx, const float *gy, const float *y, int64_t n, int64_t stride, int64_t cols,
                               bool log, bool stream, int64_t ahead, ColWalk *walk);
  // log(sum(exp(x))) over n elements at `stride` into o[0..count), as PyTorch's logsumexp (all -inf:
  // -inf; +inf: +inf; NaN: NaN; n == 0: -inf). stride 1: count contiguous rows (row r at x + r n),
  // kLseRows of them at a time when n <= kLseShort, the lines of rows past count asked for ahead
  // (the caller's next rows), each call's first rows with a max pass of their own (the others' runs
  // beside the rows before them); otherwise columns [0, count) of an [n, stride] block. A row's
  // bits do not depend on count or on which rows run beside it. With a sink (stride 1 only), o is
  // not written: the rows go to the sink instead, a few at a time while they are still in cache.
  void (*logsumexp_f32)(float *o, const float *x, int64_t n, int64_t stride, int64_t count, const LseSink *sink);
  // `rows` consecutive rows (row q at offset q * n): y, and each row's mean[q] and rstd[q] (rms: mean
  // 0, rstd = 1 / sqrt(mean(x^2) + eps)); w, b may be null. A row's bits do not depend on rows or on
  // which rows run beside it. Asks for the lines of rows past `rows` (the caller's next call).
  void (*layer_norm_f32)(float *y, const float *x, const float *w, const float *b, int64_t n, int64_t rows, float eps,
                         bool rms, float *mean, float *rstd, bool stream);
  // The gx of `rows` consecutive rows (row q at offset q * n, its stats at mean[q], rstd[q]); adds
  // their shares of grad weight / grad bias into dw / db (when not null) in row order.
  void (*layer_norm_backward_f32)(float *gx, float *dw, float *db, const float *gy, const float *x, const float *w,
                                  int64_t n, int64_t rows, const float *mean, const float *rstd, bool rms, bool stream);
  // gx[j] = a exp(x[j] - lse) - (ts t[j] + c) w[j] (t null: 0, w null: 1), minus hot_v at j = hot
  // (an index target; -1: none): cross-entropy's gradient. `ahead` as for softmax_backward_f32.
  void (*xent_grad_f32)(float *gx, const float *x, int64_t n, float lse, float a, const float *t, float ts,
                        const float *w, float c, int64_t hot, float hot_v, bool stream, int64_t ahead);
  // The same from a row's exps d (LseSink::terms, already in cache): gx[j] = a d[j] - (ts t[j] + c)
  // w[j], minus hot_v at hot; a carries the 1 / s. `ahead` (null: none): n floats whose lines are
  // asked for as it goes (a later row's logits, for the lse pass to come).
  void (*xent_grad_terms_f32)(float *gx, const float *d, int64_t n, float a, const float *t, float ts, const float *w,
                              float c, int64_t hot, float hot_v, bool stream, const float *ahead);
  // Columns [0, cols) of an [n, stride] block (n >= 1), in groups of kColGroup columns, each read
  // by one pass over the rows: each column's max m[j] and log-sum ls[j] = log(sum(exp(x - m[j])))
  // (a max that is not finite: m NaN and ls 0, cross-entropy's NaN). With hot (null: none; a row
  // index per column as a float, exact below 2^24; negative: none), also cross-entropy's
  // nll[j] = (m[j] - x[hot[j], j]) + ls[j], 0 for none.
  void (*lse_cols_f32)(float *m, float *ls, const float *x, int64_t n, int64_t stride, int64_t cols, const float *hot,
                       float *nll);
  // Cross-entropy's gradient down the columns (classes down the rows), from lse_cols_f32's m and ls:
  // gx[i, j] = hv[j] (exp(x[i, j] - m[j] - ls[j]) - (i == hot[j])); hot[j] is a row index as a float
  // (exact below 2^24), and where it is negative (an ignored target) the column is 0. `next` as
  // for softmax_f32.
  void (*xent_grad_cols_f32)(float *gx, const float *x, int64_t n, int64_t stride, int64_t cols, const float *m,
                             const float *ls, const float *hot, const float *hv, bool stream, int64_t next);
};
// Attention's pieces (arch/attention.inc; native/cpu/attention.cpp drives them). Score tiles are
// row-major with rows kAttnLd floats apart, so GEMM tiles can read them as A in place:
// tile_rows takes A[i][k] = a[i * kAttnLd + k], tile_cols A[i][k] = a[k * lda + i]; otherwise
// as GemmKernels::tile_f32 (m <= mr rows, n <= nr columns).
constexpr int64_t kAttnLd = 256;
struct AttnKernels {
  float (*exp_sum_f32)(float *s, int64_t n, float m);  // s = exp(s - m), returns the sum (order: n only)
  void (*dsoftmax_f32)(float *dp, const float *p, int64_t n, float d);  // dp = p * (dp - d)
  void (*scale_f32)(float *x, int64_t n, float c);                      // x *= c
  void (*tile_rows_f32)(int64_t kc, const float *a, const float *b, int64_t ldb, float *c, int64_t ldc, int m, int n,
                        float alpha, float beta);
  void (*tile_cols_f32)(int64_t kc, const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc,
                        int m, int n, float alpha, float beta);
};

enum class Accumulate : int { Sum, Max, Min };

struct IsaKernels {
  const char *name;
  // o[i] = op(a[i*sa], b[i*sb]) for i < n; sa and sb are each 0 or 1; o never aliases partially.
  // Only arithmetic ops (Add..Minimum); returns false for others so the caller's loop runs.
  bool (*binary_f32)(Binary op, float *o, const float *a, int64_t sa, const float *b, int64_t sb, int64_t n);
  // o[i] = op(a[i]); returns false for ops without a vector path.
  bool (*unary_f32)(Unary op, float *o, const float *a, int64_t n);
  // o[i] = min(max(a[i], lo), hi) with V::max / V::min's rules (a NaN of a passes; -0 against +0
  // gives the bound), as the composite maximum then minimum; o may equal a.
  void (*clamp_f32)(float *o, const float *a, int64_t n, float lo, float hi);
  // Sum of a[0..n) in a fixed order that depends only on n (never on threads).
  float (*sum_f32)(const float *a, int64_t n);
  // o[r] = sum_f32(a + r n, n) for r < rows: many short sums in one call, each with sum_f32's bits.
  void (*sum_rows_f32)(float *o, const float *a, int64_t n, int64_t rows);
  // Max / min of a[0..n), n >= 1; NaN if any element is NaN (PyTorch semantics).
  float (*max_f32)(const float *a, int64_t n);
  float (*min_f32)(const float *a, int64_t n);
  // acc[i] += x[i]
  void (*add_f32)(float *acc, const float *x, int64_t n);
  // o[j * ldo + i] = x[i * ldx + j] for i < rows, j < cols: a block of a transposed copy, moved
  // as raw 4-byte words (any 4-byte dtype).
  void (*transpose32)(void *o, int64_t ldo, const void *x, int64_t ldx, int64_t rows, int64_t cols);
  // IEEE half <-> float32 casts of contiguous runs, bit for bit as dtype.h's scalar ones (the
  // hardware's conversions where the ISA has them; blocks with a NaN go the scalar way).
  void (*f32_to_f16)(uint16_t *o, const float *x, int64_t n);
  void (*f16_to_f32)(float *o, const uint16_t *x, int64_t n);
  // float32 -> bfloat16 of a contiguous run, bit for bit dtype.h's float_to_bf16 (round to nearest
  // even on the bits, subnormals kept, NaN kept a NaN); the hardware's vcvtneps2bf16 flushes
  // subnormals, so this is integer arithmetic the ISA vectorises.
  void (*f32_to_bf16)(uint16_t *o, const float *x, int64_t n);
  // acc[i] = op(acc[i], x[r * stride + i]) in double for each of `rows` rows in order: the column
  // reductions' accumulators (reduce.cpp).
  void (*accumulate_f32)(Accumulate op, double *acc, const float *x, int64_t n, int64_t rows, int64_t stride);
  // sum of (x[i] - c)^p over a row in double (p 1 or 2: var's mean and squared deviations, var.cpp),
  // in kMomentLanes interleaved partial sums folded pairwise: the bits depend on n only.
  double (*moment_f32)(const float *x, int64_t n, double c, int p);
  // d = x[i] - c[i] in double; s1[i] += d, s2[i] += d^2: var's one pass over columns (var.cpp).
  void (*moments2_f32)(double *s1, double *s2, const double *c, const float *x, int64_t n);
  // Running sums down `rows` rows of n columns (row r at x + r * ld, o + r * ld; ld may be
  // negative; o and x apart): acc[i] += x[i] in double, o[i] = acc[i] rounded to float (cumsum).
  void (*scan_f32)(float *o, double *acc, const float *x, int64_t n, int64_t rows, int64_t ld);
  GemmKernels gemm;
  // One Adam/AdamW step over n float32 elements (arch/optim.inc); vmax only with amsgrad.
  void (*adam_f32)(float *p, const float *g, float *m, float *v, float *vmax, int64_t n, const AdamScalars &s);
  NnKernels nn;           // nn_kernels.inc: activations, dropout, batch norm
  ConvKernels conv = {};  // set by with_conv (conv.inc)
  RowKernels rows;
  AttnKernels attn{};         // filled by with_attention (arch/attention.inc)
  GemmF64Kernels gemm_f64{};  // filled by with_gemm_f64 (arch/gemm_f64.inc)
  // o[i] = exp(x[i]) in float64 for i < n, within 2 ulp (arch/math_f64.inc); o may equal x.
  void (*exp_f64)(double *o, const double *x, int64_t n) = nullptr;
};

const IsaKernels *isa_kernels(kiln_isa isa);  // never null: unknown ISAs get the generic table
// The bfloat16 dot-product tile for this ISA, or null when the CPU (or build) has none.
const GemmBf16Kernels *gemm_bf16_kernels(kiln_isa isa);

extern const IsaKernels kGenericKernels;
#if defined(__x86_64__) || defined(_M_X64)
extern const IsaKernels kAvx2Kernels;
extern const IsaKernels kAvx512Kernels;
extern const GemmBf16Kernels kAvx512Bf16Kernels;
#endif
#if defined(__aarch64__)
extern const IsaKernels kNeonKernels;
#endif

}  // namespace kiln::cpu
