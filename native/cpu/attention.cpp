// Fused scaled-dot-product attention (flash-style), forward and backward, float32 and float64.
//
//   out[b, h, i, :] = sum_j P[i, j] v[b, hk, j, :],  P = softmax_j(scale * q_i . k_j + mask[i, j])
//
// q [B, H, Sq, D], k [B, Hk, Sk, D], v [B, Hk, Sk, Dv]: query head h reads kv head h / (H / Hk)
// (grouped-query attention). Masks: causal (key j <= query i, top-left aligned as torch's SDPA),
// boolean (true = attend) or additive, read through its own strides (0 on broadcast dims).
//
// Forward: one task per (b, h, block of kBq queries). Keys stream in blocks of kBk: the score
// tile S = scale * Q K^T and the product P V run on the GEMM register tiles (arch/gemm.inc) with
// Q and K^T packed like GEMM operands and P read in place from the score rows, and the softmax is
// online (running max and sum per row, arch/attention.inc), so no Sq x Sk matrix exists. Each
// sliver of mr queries goes through its scores, softmax and P V before the next, so that its score
// rows stay in L1. Causal attention skips key blocks past the diagonal. Besides out it saves
// lse = max + log(sum) per query row for the backward pass.
//
// Backward: one task per (b, kv head), walking its query heads, key blocks and query blocks in a
// fixed order; P = exp(S - lse) is recomputed tile by tile, then
//   dV += P^T dO,  dP = dO V^T,  dS = P (dP - rowsum(dO O)),  dQ += scale dS K,  dK += scale dS^T Q
// each accumulated in place, so the bits do not depend on the thread count.
//
// Dropout keeps P[i, j] with probability 1 - p (scaled by 1 / (1 - p)) where Philox 4x32-10
// (core/philox.h) at (seed, offset + e / 4), lane e % 4, e = ((b H + h) Sq + i) Sk + j, gives a
// uniform >= p: the backward pass regenerates the same decisions and nothing is stored.
//
// Fully masked rows: out is NaN (0/0) and lse -inf, as the composite softmax(...) v gives (and
// PyTorch 1.13); in the backward such a row gives NaN to dv (P = exp(-inf + inf)), nothing to dq
// and dk. Masked positions get a zero score gradient, as masked_fill's gradient does.
//
// Bench: `npx tsx ts/bench/cli.ts attention`.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "../core/philox.h"
#include "cpu_ops.h"
#include "scratch.h"

namespace kiln::cpu {

namespace {

// Block sizes in register tiles (blocks() below); measured at B2 H4 S512-2048 D64 on one thread.
constexpr int kFwdQTiles = 8, kFwdKTiles = 8, kBwdQTiles = 4, kBwdKTiles = 4;

// The matrix pieces for one dtype: float32 uses the ISA's GEMM tiles and row passes; float64 a
// scalar twin with the same packed layouts (a 4 x 4 tile).
template <class T>
struct Ops;

template <>
struct Ops<float> {
  const IsaKernels *isa;
  int mr, nr;
  explicit Ops(const IsaKernels *k) : isa(k), mr(k->gemm.mr), nr(k->gemm.nr) {}
  void tile(int64_t kc, const float *a, const float *b, int64_t ldb, bool padded, float *c, int64_t ldc, int m, int n,
            float alpha, float beta) const {
    isa->gemm.tile_f32(kc, a, b, ldb, padded, c, ldc, m, n, alpha, beta);
  }
  void tile_rows(int64_t kc, const float *a, const float *b, int64_t ldb, float *c, int64_t ldc, int m, int n,
                 float alpha, float beta) const {
    isa->attn.tile_rows_f32(kc, a, b, ldb, c, ldc, m, n, alpha, beta);
  }
  void tile_cols(int64_t kc, const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc, int m,
                 int n, float alpha, float beta) const {
    isa->attn.tile_cols_f32(kc, a, lda, b, ldb, c, ldc, m, n, alpha, beta);
  }
  void pack_kmajor(float *dst, int64_t ld, const float *src, int64_t rs, int n, int nfull, int64_t kc) const {
    isa->gemm.pack_kmajor_f32(dst, ld, src, rs, n, nfull, kc);
  }
  float max(const float *s, int64_t n) const { return isa->max_f32(s, n); }
  float exp_sum(float *s, int64_t n, float m) const { return isa->attn.exp_sum_f32(s, n, m); }
  float dot(const float *x, const float *y, int64_t n) const { return isa->gemm.dot_f32(x, y, n); }
  void dsoftmax(float *dp, const float *p, int64_t n, float d) const { isa->attn.dsoftmax_f32(dp, p, n, d); }
  void scale(float *x, int64_t n, float c) const { isa->attn.scale_f32(x, n, c); }
};

template <>
struct Ops<double> {
  int mr = 4, nr = 4;
  explicit Ops(const IsaKernels *) {}
  // A[i][k] at a[i * ia + k * ka], otherwise as tile().
  static void tile_strided(int64_t kc, const double *a, int64_t ia, int64_t ka, const double *b, int64_t ldb, double *c,
                           int64_t ldc, int m, int n, double alpha, double beta) {
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int64_t k = 0; k < kc; k++) s += a[i * ia + k * ka] * b[k * ldb + j];
        c[i * ldc + j] = beta == 0 ? alpha * s : alpha * s + beta * c[i * ldc + j];
      }
  }
  void tile(int64_t kc, const double *a, const double *b, int64_t ldb, bool, double *c, int64_t ldc, int m, int n,
            double alpha, double beta) const {
    tile_strided(kc, a, 1, mr, b, ldb, c, ldc, m, n, alpha, beta);
  }
  void tile_rows(int64_t kc, const double *a, const double *b, int64_t ldb, double *c, int64_t ldc, int m, int n,
                 double alpha, double beta) const {
    tile_strided(kc, a, kAttnLd, 1, b, ldb, c, ldc, m, n, alpha, beta);
  }
  void tile_cols(int64_t kc, const double *a, int64_t lda, const double *b, int64_t ldb, double *c, int64_t ldc, int m,
                 int n, double alpha, double beta) const {
    tile_strided(kc, a, 1, lda, b, ldb, c, ldc, m, n, alpha, beta);
  }
  void pack_kmajor(double *dst, int64_t ld, const double *src, int64_t rs, int n, int nfull, int64_t kc) const {
    for (int64_t k = 0; k < kc; k++)
      for (int r = 0; r < nfull; r++) dst[k * ld + r] = r < n ? src[r * rs + k] : 0.0;
  }
  double max(const double *s, int64_t n) const {
    double m = s[0];
    for (int64_t j = 1; j < n; j++)
      if (s[j] != s[j] || s[j] > m) m = s[j] != s[j] || m != m ? std::numeric_limits<double>::quiet_NaN() : s[j];
    return m;
  }
  double exp_sum(double *s, int64_t n, double m) const {
    double sum = 0;
    for (int64_t j = 0; j < n; j++) sum += (s[j] = std::exp(s[j] - m));
    return sum;
  }
  double dot(const double *x, const double *y, int64_t n) const {
    double s = 0;
    for (int64_t j = 0; j < n; j++) s += x[j] * y[j];
    return s;
  }
  void dsoftmax(double *dp, const double *p, int64_t n, double d) const {
    for (int64_t j = 0; j < n; j++) dp[j] = p[j] * (dp[j] - d);
  }
  void scale(double *x, int64_t n, double c) const {
    for (int64_t j = 0; j < n; j++) x[j] *= c;
  }
};

// A per-thread scratch vector, grown on demand and kept for the next call (fresh pages are slow;
// scratch.h).
template <class T>
T *scratch(size_t n) {
  thread_local ScratchVec<T> buf;
  return buf.get(n);
}

enum MaskKind { kNoMask = 0, kBoolMask = 1, kAddMask = 2 };

// Validated geometry and options shared by the forward and backward passes (strides in elements).
struct Geo {
  int64_t B, H, Hk, Sq, Sk, D, Dv;
  int64_t qs[3], ks[3], vs[3], ms[4];  // (b, h, row) strides; the mask's (b, h, i, j)
  double scale;
  bool causal;
  int mask_kind;
  const void *mask;
  double p;  // dropout probability, 0 when off
  uint64_t seed, offset;
};

// Dropout decision for element e: Philox block offset + e / 4, lane e % 4, kept when >= p.
struct Dropout {
  uint64_t seed, offset;
  float p;
  bool keep(uint64_t e) const {
    Philox4 r = philox4x32_10(offset + e / 4, seed);
    return u32_to_unit(r.v[e & 3]) >= p;
  }
};

// Scores of one tile: S[0:mq, 0:nk] (row stride lds) = scale * Qp . Kt, Q packed in slivers of
// mr rows (D each), K^T in panels of nr keys.
template <class T>
void scores(const Ops<T> &op, const Geo &g, const T *qp, const T *kt, T *s, int64_t lds, int64_t mq, int64_t nk) {
  for (int64_t i = 0; i < mq; i += op.mr)
    for (int64_t j = 0; j < nk; j += op.nr)
      op.tile(g.D, qp + i * g.D, kt + j * g.D, op.nr, true, s + i * lds + j, lds, (int)std::min<int64_t>(op.mr, mq - i),
              (int)std::min<int64_t>(op.nr, nk - j), (T)g.scale, 0);
}

// Masks one tile of scores for queries i0.. and keys j0.. of head (b, h): -inf where not allowed,
// the additive mask added.
template <class T>
void apply_mask(const Geo &g, int64_t b, int64_t h, int64_t i0, int64_t j0, T *s, int64_t lds, int64_t mq, int64_t nk) {
  const T ninf = -std::numeric_limits<T>::infinity();
  if (g.causal && j0 + nk - 1 > i0)
    for (int64_t i = 0; i < mq; i++)
      for (int64_t j = std::max<int64_t>(0, i0 + i - j0 + 1); j < nk; j++) s[i * lds + j] = ninf;
  if (g.mask_kind == kNoMask) return;
  const int64_t base = b * g.ms[0] + h * g.ms[1] + i0 * g.ms[2] + j0 * g.ms[3];
  for (int64_t i = 0; i < mq; i++) {
    T *si = s + i * lds;
    const int64_t mi = base + i * g.ms[2];
    if (g.mask_kind == kBoolMask) {
      const uint8_t *m = (const uint8_t *)g.mask + mi;
      for (int64_t j = 0; j < nk; j++)
        if (!m[j * g.ms[3]]) si[j] = ninf;
    } else {
      const T *m = (const T *)g.mask + mi;
      for (int64_t j = 0; j < nk; j++) si[j] += m[j * g.ms[3]];
    }
  }
}

// Zeroes dropped probabilities and scales kept ones by 1 / (1 - p), for one tile.
template <class T>
void apply_dropout(const Geo &g, const Dropout &dr, int64_t b, int64_t h, int64_t i0, int64_t j0, T *s, int64_t lds,
                   int64_t mq, int64_t nk) {
  const T keep_scale = (T)(1.0 / (1.0 - g.p));
  for (int64_t i = 0; i < mq; i++) {
    const uint64_t e0 = (uint64_t)(((b * g.H + h) * g.Sq + i0 + i) * g.Sk + j0);
    for (int64_t j = 0; j < nk; j++) s[i * lds + j] = dr.keep(e0 + (uint64_t)j) ? s[i * lds + j] * keep_scale : 0;
  }
}

// Keys that queries i0 .. i0 + mq - 1 may see: all, or (causal) those up to the last query.
int64_t key_end(const Geo &g, int64_t i0, int64_t mq) { return g.causal ? std::min(g.Sk, i0 + mq) : g.Sk; }

template <class T>
void forward_task(const Ops<T> &op, const Geo &g, const T *q, const T *k, const T *v, T *out, T *lse, int64_t b,
                  int64_t h, int64_t i0, int64_t Bq, int64_t Bk) {
  const int64_t mq = std::min(Bq, g.Sq - i0), hk = h / (g.H / g.Hk), D = g.D, Dv = g.Dv;
  const int64_t bq_pad = (Bq + op.mr - 1) / op.mr * op.mr, bk_pad = (Bk + op.nr - 1) / op.nr * op.nr;
  // s holds one sliver's scores (mr rows: the tiles read whole slivers of A)
  T *qp = scratch<T>((size_t)(bq_pad * D + bk_pad * D + op.mr * kAttnLd + Bq * Dv + 2 * Bq + op.mr));
  T *kt = qp + bq_pad * D, *s = kt + bk_pad * D, *o = s + op.mr * kAttnLd, *m = o + Bq * Dv;
  T *l = m + Bq, *corr = l + Bq;
  const T *qb = q + b * g.qs[0] + h * g.qs[1] + i0 * g.qs[2];
  const T *kb = k + b * g.ks[0] + hk * g.ks[1], *vb = v + b * g.vs[0] + hk * g.vs[1];
  for (int64_t i = 0; i < mq; i += op.mr)
    op.pack_kmajor(qp + i * D, op.mr, qb + i * g.qs[2], g.qs[2], (int)std::min<int64_t>(op.mr, mq - i), op.mr, D);
  std::fill(m, m + mq, -std::numeric_limits<T>::infinity());
  std::fill(l, l + mq, (T)0);
  std::fill(o, o + mq * Dv, (T)0);
  const Dropout dr{g.seed, g.offset, (float)g.p};
  const int64_t kend = key_end(g, i0, mq);
  for (int64_t j0 = 0; j0 < kend; j0 += Bk) {
    const int64_t nk = std::min(Bk, kend - j0);
    for (int64_t j = 0; j < nk; j += op.nr)
      op.pack_kmajor(kt + j * D, op.nr, kb + (j0 + j) * g.ks[2], g.ks[2], (int)std::min<int64_t>(op.nr, nk - j), op.nr,
                     D);
    // One sliver of queries at a time through scores, softmax and P V: its score rows stay in L1.
    for (int64_t i = 0; i < mq; i += op.mr) {
      const int64_t mr = std::min<int64_t>(op.mr, mq - i);
      scores(op, g, qp + i * D, kt, s, kAttnLd, mr, nk);
      apply_mask(g, b, h, i0 + i, j0, s, kAttnLd, mr, nk);
      bool rescale = false;
      for (int64_t r = 0; r < mr; r++) {
        T *si = s + r * kAttnLd;
        const T mx = std::max(m[i + r], op.max(si, nk));  // NaN scores still reach out through exp(s - mx)
        if (mx == -std::numeric_limits<T>::infinity()) {  // nothing to attend yet
          std::fill(si, si + nk, (T)0);
          corr[r] = 1;
          continue;
        }
        const T sum = op.exp_sum(si, nk, mx);
        corr[r] = std::exp(m[i + r] - mx);
        rescale |= corr[r] != 1;
        l[i + r] = l[i + r] * corr[r] + sum;
        m[i + r] = mx;
      }
      if (g.p > 0) apply_dropout(g, dr, b, h, i0 + i, j0, s, kAttnLd, mr, nk);
      if (rescale)
        for (int64_t r = 0; r < mr; r++)
          if (corr[r] != 1) op.scale(o + (i + r) * Dv, Dv, corr[r]);
      // O += P V, P read in place from the score rows.
      for (int64_t e = 0; e < Dv; e += op.nr)
        op.tile_rows(nk, s, vb + j0 * g.vs[2] + e, g.vs[2], o + i * Dv + e, Dv, (int)mr,
                     (int)std::min<int64_t>(op.nr, Dv - e), 1, 1);
    }
  }
  T *ob = out + ((b * g.H + h) * g.Sq + i0) * Dv;
  T *lb = lse + (b * g.H + h) * g.Sq + i0;
  for (int64_t i = 0; i < mq; i++) {
    // No keys at all (Sk = 0) gives zeros, as softmax(...) v does; a fully masked row 0/0 = NaN.
    for (int64_t e = 0; e < Dv; e++) ob[i * Dv + e] = g.Sk == 0 ? (T)0 : o[i * Dv + e] / l[i];
    lb[i] = m[i] + std::log(l[i]);
  }
}

template <class T>
void backward_task(const Ops<T> &op, const Geo &g, const T *q, const T *k, const T *v, const T *out, const T *lse,
                   const T *dout, const int64_t *dos, T *dq, T *dk, T *dv, int64_t b, int64_t hk, int64_t Bq,
                   int64_t Bk) {
  const int64_t D = g.D, Dv = g.Dv, G = g.H / g.Hk;
  const int64_t bq_pad = (Bq + op.mr - 1) / op.mr * op.mr, bk_pad = (Bk + op.nr - 1) / op.nr * op.nr;
  T *kt = scratch<T>((size_t)(bk_pad * D + bk_pad * Dv + bq_pad * D + bq_pad * Dv + 3 * bq_pad * kAttnLd + g.Sq));
  T *vt = kt + bk_pad * D, *qp = vt + bk_pad * Dv, *dop = qp + bq_pad * D, *p = dop + bq_pad * Dv;
  T *pd = p + bq_pad * kAttnLd, *ds = pd + bq_pad * kAttnLd, *di = ds + bq_pad * kAttnLd;
  const T *kb = k + b * g.ks[0] + hk * g.ks[1], *vb = v + b * g.vs[0] + hk * g.vs[1];
  T *dkb = dk + (b * g.Hk + hk) * g.Sk * D, *dvb = dv + (b * g.Hk + hk) * g.Sk * Dv;
  std::fill(dkb, dkb + g.Sk * D, (T)0);
  std::fill(dvb, dvb + g.Sk * Dv, (T)0);
  const Dropout dr{g.seed, g.offset, (float)g.p};
  const T ninf = -std::numeric_limits<T>::infinity();
  for (int64_t h = hk * G; h < (hk + 1) * G; h++) {
    const T *qb = q + b * g.qs[0] + h * g.qs[1], *dob = dout + b * dos[0] + h * dos[1];
    const T *ob = out + (b * g.H + h) * g.Sq * Dv, *lb = lse + (b * g.H + h) * g.Sq;
    T *dqb = dq + (b * g.H + h) * g.Sq * D;
    std::fill(dqb, dqb + g.Sq * D, (T)0);
    for (int64_t i = 0; i < g.Sq; i++) di[i] = op.dot(dob + i * dos[2], ob + i * Dv, Dv);
    for (int64_t j0 = 0; j0 < g.Sk; j0 += Bk) {
      const int64_t nk = std::min(Bk, g.Sk - j0);
      for (int64_t j = 0; j < nk; j += op.nr) {
        const int n = (int)std::min<int64_t>(op.nr, nk - j);
        op.pack_kmajor(kt + j * D, op.nr, kb + (j0 + j) * g.ks[2], g.ks[2], n, op.nr, D);
        op.pack_kmajor(vt + j * Dv, op.nr, vb + (j0 + j) * g.vs[2], g.vs[2], n, op.nr, Dv);
      }
      // Causal: queries before j0 see none of these keys.
      for (int64_t i0 = g.causal ? j0 / Bq * Bq : 0; i0 < g.Sq; i0 += Bq) {
        const int64_t mq = std::min(Bq, g.Sq - i0);
        for (int64_t i = 0; i < mq; i += op.mr) {
          const int rows = (int)std::min<int64_t>(op.mr, mq - i);
          op.pack_kmajor(qp + i * D, op.mr, qb + (i0 + i) * g.qs[2], g.qs[2], rows, op.mr, D);
          op.pack_kmajor(dop + i * Dv, op.mr, dob + (i0 + i) * dos[2], dos[2], rows, op.mr, Dv);
        }
        constexpr int64_t L = kAttnLd;
        scores(op, g, qp, kt, p, L, mq, nk);
        apply_mask(g, b, h, i0, j0, p, L, mq, nk);
        for (int64_t i = 0; i < mq; i++) op.exp_sum(p + i * L, nk, lb[i0 + i]);  // P = exp(S - lse)
        const T *pv = p;  // the probabilities V sees (dropped and rescaled when dropout is on)
        if (g.p > 0) {
          for (int64_t i = 0; i < mq; i++) std::copy(p + i * L, p + i * L + nk, pd + i * L);
          apply_dropout(g, dr, b, h, i0, j0, pd, L, mq, nk);
          pv = pd;
        }
        // The tiles read P and dS in place: down their columns for P^T and dS^T, along rows for dS.
        const auto rows_of = [&](int64_t j, int64_t n) { return (int)std::min<int64_t>(op.mr, n - j); };
        const auto cols_of = [&](int64_t e, int64_t n) { return (int)std::min<int64_t>(op.nr, n - e); };
        // dV[j0:, :] += P^T dO
        for (int64_t j = 0; j < nk; j += op.mr)
          for (int64_t e = 0; e < Dv; e += op.nr)
            op.tile_cols(mq, pv + j, L, dob + i0 * dos[2] + e, dos[2], dvb + (j0 + j) * Dv + e, Dv, rows_of(j, nk),
                         cols_of(e, Dv), 1, 1);
        // dP = dO V^T, then dS = P (dP - rowsum(dO O)) over it; masked positions get 0.
        for (int64_t i = 0; i < mq; i += op.mr)
          for (int64_t j = 0; j < nk; j += op.nr)
            op.tile(Dv, dop + i * Dv, vt + j * Dv, op.nr, true, ds + i * L + j, L, rows_of(i, mq), cols_of(j, nk), 1,
                    0);
        if (g.p > 0) apply_dropout(g, dr, b, h, i0, j0, ds, L, mq, nk);
        for (int64_t i = 0; i < mq; i++) {
          T *dsi = ds + i * L;
          if (lb[i0 + i] == ninf)
            std::fill(dsi, dsi + nk, (T)0);
          else
            op.dsoftmax(dsi, p + i * L, nk, di[i0 + i]);
        }
        // dK[j0:, :] += scale dS^T Q
        for (int64_t j = 0; j < nk; j += op.mr)
          for (int64_t e = 0; e < D; e += op.nr)
            op.tile_cols(mq, ds + j, L, qb + i0 * g.qs[2] + e, g.qs[2], dkb + (j0 + j) * D + e, D, rows_of(j, nk),
                         cols_of(e, D), (T)g.scale, 1);
        // dQ[i0:, :] += scale dS K
        for (int64_t i = 0; i < mq; i += op.mr)
          for (int64_t e = 0; e < D; e += op.nr)
            op.tile_rows(nk, ds + i * L, kb + j0 * g.ks[2] + e, g.ks[2], dqb + (i0 + i) * D + e, D, rows_of(i, mq),
                         cols_of(e, D), (T)g.scale, 1);
      }
    }
  }
}

// Block sizes for this dtype and ISA: whole register tiles.
// Block sizes for this dtype and ISA, in whole register tiles (slivers of mr queries, panels of nr
// keys): the forward's longer key blocks halve the online rescaling and K^T repacking per score;
// the backward keeps its five tiles' working set near L1.
// Key blocks fit the score rows (kAttnLd), with room in the backward for the tiles that read
// mr columns from the last sliver of keys.
template <class T>
void blocks(const Ops<T> &op, bool backward, int64_t *Bq, int64_t *Bk) {
  *Bq = (int64_t)op.mr * (backward ? kBwdQTiles : kFwdQTiles);
  const int64_t room = backward ? kAttnLd - op.mr : kAttnLd;
  *Bk = (int64_t)op.nr * std::min<int64_t>(backward ? kBwdKTiles : kFwdKTiles, room / op.nr);
}

bool is4(const kiln_tensor &t) { return t.ndim == 4; }

// Checks what the kernels rely on; the TS layer has already validated and shaped the operands.
// ins: q, k, v, mask (ignored when attr[2] says there is none); attrs: scale, causal, mask kind,
// dropout p, seed (hi, lo), offset (hi, lo).
kiln_status make_geo(kiln_context *ctx, const char *op, const kiln_tensor *in, const double *attr, Geo *g) {
  const kiln_tensor &q = in[0], &k = in[1], &v = in[2], &mask = in[3];
  if (!is4(q) || !is4(k) || !is4(v)) return fail(ctx, KILN_ERR_SHAPE, "%s: q, k and v must be 4-d", op);
  if (q.dtype != KILN_FLOAT32 && q.dtype != KILN_FLOAT64)
    return fail(ctx, KILN_ERR_DTYPE, "%s: q, k, v must be float32 or float64", op);
  if (k.dtype != q.dtype || v.dtype != q.dtype) return fail(ctx, KILN_ERR_DTYPE, "%s: q, k, v dtypes differ", op);
  g->B = q.shape[0];
  g->H = q.shape[1];
  g->Hk = k.shape[1];
  g->Sq = q.shape[2];
  g->Sk = k.shape[2];
  g->D = q.shape[3];
  g->Dv = v.shape[3];
  if (k.shape[0] != g->B || v.shape[0] != g->B || v.shape[1] != g->Hk || v.shape[2] != g->Sk || k.shape[3] != g->D)
    return fail(ctx, KILN_ERR_SHAPE, "%s: q, k, v shapes do not fit", op);
  if (g->Hk == 0 ? g->H != 0 : g->H % g->Hk != 0)
    return fail(ctx, KILN_ERR_SHAPE, "%s: %lld query heads are not a multiple of %lld kv heads", op, (long long)g->H,
                (long long)g->Hk);
  for (const kiln_tensor *t : {&q, &k, &v})
    if (t->shape[3] > 1 && t->strides[3] != 1)
      return fail(ctx, KILN_ERR_ARG, "%s: q, k, v need a contiguous last dim", op);
  for (int d = 0; d < 3; d++) {
    g->qs[d] = q.strides[d];
    g->ks[d] = k.strides[d];
    g->vs[d] = v.strides[d];
  }
  int causal = 0, kind = 0;
  if (!std::isfinite(attr[0]) || (attr[1] != 0 && attr[1] != 1) || !(attr[2] == 0 || attr[2] == 1 || attr[2] == 2) ||
      !(attr[3] >= 0 && attr[3] < 1))
    return fail(ctx, KILN_ERR_ARG, "%s: bad scale, causal flag, mask kind or dropout probability", op);
  causal = (int)attr[1];
  kind = (int)attr[2];
  g->scale = attr[0];
  g->causal = causal != 0;
  g->mask_kind = kind;
  g->p = attr[3];
  g->seed = ((uint64_t)attr[4] << 32) | (uint64_t)attr[5];
  g->offset = ((uint64_t)attr[6] << 32) | (uint64_t)attr[7];
  g->mask = nullptr;
  if (kind != kNoMask) {
    if (!is4(mask) || mask.shape[0] != g->B || mask.shape[1] != g->H || mask.shape[2] != g->Sq ||
        mask.shape[3] != g->Sk)
      return fail(ctx, KILN_ERR_SHAPE, "%s: the mask must be expanded to [B, H, Sq, Sk]", op);
    if (kind == kBoolMask ? mask.dtype != KILN_BOOL : mask.dtype != q.dtype)
      return fail(ctx, KILN_ERR_DTYPE, "%s: the mask must be bool or q's dtype", op);
    for (int d = 0; d < 4; d++) g->ms[d] = mask.strides[d];
    g->mask = mask.data;
  }
  return KILN_OK;
}

bool has_shape(const kiln_tensor &t, std::initializer_list<int64_t> shape) {
  if (t.ndim != (int)shape.size()) return false;
  int d = 0;
  for (int64_t s : shape)
    if (t.shape[d++] != s) return false;
  return true;
}

template <class T>
void forward_run(kiln_context *ctx, const Geo &g, const kiln_tensor *o, const kiln_tensor *in) {
  const Ops<T> op(isa_kernels(ctx->isa));
  int64_t Bq, Bk;
  blocks(op, false, &Bq, &Bk);
  const int64_t nqb = (g.Sq + Bq - 1) / Bq, per_head = nqb;
  const T *q = (const T *)in[0].data, *k = (const T *)in[1].data, *v = (const T *)in[2].data;
  T *out = (T *)o[0].data, *lse = (T *)o[1].data;
  parallel_for(ctx->pool.get(), g.B * g.H * per_head, 1, [&](int64_t s, int64_t e) {
    for (int64_t t = s; t < e; t++) {
      const int64_t bh = t / per_head;
      forward_task(op, g, q, k, v, out, lse, bh / g.H, bh % g.H, (t % per_head) * Bq, Bq, Bk);
    }
  });
}

template <class T>
void backward_run(kiln_context *ctx, const Geo &g, const kiln_tensor *o, const kiln_tensor *in) {
  const Ops<T> op(isa_kernels(ctx->isa));
  int64_t Bq, Bk;
  blocks(op, true, &Bq, &Bk);
  const int64_t dos[3] = {in[5].strides[0], in[5].strides[1], in[5].strides[2]};
  parallel_for(ctx->pool.get(), g.B * g.Hk, 1, [&](int64_t s, int64_t e) {
    for (int64_t t = s; t < e; t++)
      backward_task(op, g, (const T *)in[0].data, (const T *)in[1].data, (const T *)in[2].data, (const T *)in[3].data,
                    (const T *)in[4].data, (const T *)in[5].data, dos, (T *)o[0].data, (T *)o[1].data, (T *)o[2].data,
                    t / g.Hk, t % g.Hk, Bq, Bk);
  });
}

}  // namespace

kiln_status attention_forward_cpu(kiln_context *ctx, const kiln_tensor *o, const kiln_tensor *in, const double *attr) {
  Geo g;
  if (kiln_status st = make_geo(ctx, "attention", in, attr, &g)) return st;
  if (!has_shape(o[0], {g.B, g.H, g.Sq, g.Dv}) || !has_shape(o[1], {g.B, g.H, g.Sq}) || !contiguous(o[0]) ||
      !contiguous(o[1]) || o[0].dtype != in[0].dtype || o[1].dtype != in[0].dtype)
    return fail(ctx, KILN_ERR_SHAPE, "attention: out must be [B, H, Sq, Dv] and lse [B, H, Sq], contiguous");
  if (in[0].dtype == KILN_FLOAT32)
    forward_run<float>(ctx, g, o, in);
  else
    forward_run<double>(ctx, g, o, in);
  return KILN_OK;
}

// ins: q, k, v, out, lse, dout, mask; outs: dq, dk, dv (contiguous).
kiln_status attention_backward_cpu(kiln_context *ctx, const kiln_tensor *o, const kiln_tensor *in, const double *attr) {
  Geo g;
  const kiln_tensor qkvm[4] = {in[0], in[1], in[2], in[6]};
  if (kiln_status st = make_geo(ctx, "attention_backward", qkvm, attr, &g)) return st;
  const kiln_tensor &out = in[3], &lse = in[4], &dout = in[5];
  if (!has_shape(out, {g.B, g.H, g.Sq, g.Dv}) || !contiguous(out) || !has_shape(lse, {g.B, g.H, g.Sq}) ||
      !contiguous(lse) || !has_shape(dout, {g.B, g.H, g.Sq, g.Dv}) || (g.Dv > 1 && dout.strides[3] != 1))
    return fail(ctx, KILN_ERR_SHAPE, "attention_backward: out, lse or dout do not fit q, k, v");
  if (!has_shape(o[0], {g.B, g.H, g.Sq, g.D}) || !has_shape(o[1], {g.B, g.Hk, g.Sk, g.D}) ||
      !has_shape(o[2], {g.B, g.Hk, g.Sk, g.Dv}) || !contiguous(o[0]) || !contiguous(o[1]) || !contiguous(o[2]))
    return fail(ctx, KILN_ERR_SHAPE, "attention_backward: dq, dk, dv must be contiguous and shaped like q, k, v");
  for (const kiln_tensor *t : {&out, &lse, &dout, &o[0], &o[1], &o[2]})
    if (t->dtype != in[0].dtype) return fail(ctx, KILN_ERR_DTYPE, "attention_backward: dtypes differ");
  if (in[0].dtype == KILN_FLOAT32)
    backward_run<float>(ctx, g, o, in);
  else
    backward_run<double>(ctx, g, o, in);
  return KILN_OK;
}

}  // namespace kiln::cpu
