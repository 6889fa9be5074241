// qr_householder and qr_form_q (linalg_kernels.h), computed in T, and qr_apply_q for linalg_svd.cpp.
//
// Householder reflectors with LAPACK's conventions (geqrf/larfg: beta = -sign(alpha) ||x||, so R's diagonal
// may be negative; tau = 0 when the column below the diagonal is already zero; norms scaled by a power of two
// so no square overflows). Blocked as geqrf is: each panel of kBlock columns is factored in a contiguous copy,
// recursively (halves, the left one's block reflector applied to the right one with matrix products, down to
// 8 columns done one reflector at a time: w = vᵀ A accumulated row by row, then A -= tau v wᵀ row by row),
// and the trailing matrix gets the panel as one block reflector I - V T Vᵀ (larft's T): W = Vᵀ C, W = Tᵀ W,
// C -= V W, products whose register tiles run along contiguous rows (on kiln's GEMM, threaded, when a context
// is given and the block is large). qr_form_q applies the blocks backwards
// to the identity's first columns (orgqr); qr_apply_q to any matrix (ormqr, Q from the left).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "linalg_kernels.h"

namespace kiln::cpu {
namespace {

constexpr int64_t kBlock = 32;  // reflectors per block reflector

// ||x|| for x[0], x[inc], ..., x[(n-1) inc]: the squares are taken of x scaled by a power of two that brings
// the largest magnitude into [0.5, 1) (exact), so none overflows and the small ones underflow harmlessly.
template <class T>
T norm2(const T *x, int64_t n, int64_t inc) {
  T mx = 0;
  for (int64_t i = 0; i < n; i++) {
    const T v = std::fabs(x[i * inc]);
    if (v > mx) mx = v;
    if (v != v) return v;
  }
  if (mx == 0 || std::isinf(mx)) return mx;
  int e;
  std::frexp(mx, &e);
  // Two factors: 2^-e alone overflows when mx is subnormal.
  const T s1 = std::ldexp(T(1), -e / 2), s2 = std::ldexp(T(1), -e - (-e / 2));
  T s = 0;
  for (int64_t i0 = 0; i0 < n; i0 += 32) {  // sums of 32 squares, then their sum: the rounding errors grow
    T part = 0;                             // far slower than along one long sum
    for (int64_t i = i0; i < std::min(n, i0 + 32); i++) {
      const T y = x[i * inc] * s1 * s2;
      part += y * y;
    }
    s += part;
  }
  return std::ldexp(std::sqrt(s), e);
}

// LAPACK's larfg: finds H = I - tau v vᵀ with v = (1; x / (alpha - beta)) such that H (alpha; x) = (beta; 0),
// beta = -sign(alpha) ||(alpha; x)||. Overwrites x with v's tail and alpha with beta; returns tau (0: H = I).
template <class T>
T make_reflector(T &alpha, T *x, int64_t n, int64_t inc) {
  T xnorm = norm2(x, n, inc);
  if (xnorm == 0) return 0;
  const T safmin = std::numeric_limits<T>::min() / std::numeric_limits<T>::epsilon();
  T beta = -std::copysign(std::hypot(alpha, xnorm), alpha);
  int knt = 0;
  if (std::fabs(beta) < safmin) {  // tiny column: scale it up so 1 / (alpha - beta) is finite and accurate
    const T up = 1 / safmin;
    do {
      knt++;
      for (int64_t i = 0; i < n; i++) x[i * inc] *= up;
      beta *= up;
      alpha *= up;
    } while (std::fabs(beta) < safmin && knt < 20);
    xnorm = norm2(x, n, inc);
    beta = -std::copysign(std::hypot(alpha, xnorm), alpha);
  }
  const T tau = (beta - alpha) / beta, sc = 1 / (alpha - beta);
  for (int64_t i = 0; i < n; i++) x[i * inc] *= sc;
  for (; knt > 0; knt--) beta *= safmin;
  alpha = beta;
  return tau;
}

// Applies H = I - tau v vᵀ from the left to c [len, nc] (row stride ldc), v[0] = 1 implied and v[i] at
// v[i * ldv] for 0 < i < len. w: nc elements.
template <class T>
void apply_reflector(const T *v, int64_t ldv, int64_t len, T tau, T *c, int64_t ldc, int64_t nc, T *w) {
  if (tau == 0 || nc <= 0) return;
  std::copy(c, c + nc, w);
  // w += vᵀ c[1:] in blocks of 32 rows summed apart (a long sum of like terms, as a constant column gives,
  // would otherwise round the same way each time and drift by len eps).
  for (int64_t j0 = 0; j0 < nc; j0 += 64) {
    const int64_t jw = std::min<int64_t>(64, nc - j0);
    for (int64_t i0 = 1; i0 < len; i0 += 32) {
      T part[64] = {};
      for (int64_t i = i0; i < std::min(len, i0 + 32); i++) {
        const T vi = v[i * ldv], *ci = c + i * ldc + j0;
        for (int64_t j = 0; j < jw; j++) part[j] += vi * ci[j];
      }
      for (int64_t j = 0; j < jw; j++) w[j0 + j] += part[j];
    }
  }
  for (int64_t j = 0; j < nc; j++) {
    w[j] *= tau;
    c[j] -= w[j];
  }
  for (int64_t i = 1; i < len; i++) {
    const T vi = v[i * ldv];
    T *ci = c + i * ldc;
    for (int64_t j = 0; j < nc; j++) ci[j] -= vi * w[j];
  }
}

// Rows of c from x's rows [0, R) (X(r, k) = x[r * xrs + k * xcs]) and columns [j0, N) of y: the plain form
// of gemm_acc below, for the edges the register tiles do not cover.
template <class T>
void gemm_rows(int64_t R, int64_t j0, int64_t N, int64_t K, const T *x, int64_t xrs, int64_t xcs, const T *y,
               int64_t ldy, T *c, int64_t ldc, T sign) {
  for (int64_t r = 0; r < R; r++) {
    T *cr = c + r * ldc;
    for (int64_t k = 0; k < K; k++) {
      const T xv = sign * x[r * xrs + k * xcs], *yk = y + k * ldy;
      for (int64_t j = j0; j < N; j++) cr[j] += xv * yk[j];
    }
  }
}

// c [R, N] += sign * X Y with X(r, k) = x[r * xrs + k * xcs] and y [K, N] (row stride ldy): register tiles of
// 4 rows by 3 16-byte vectors (12 accumulators of SSE2's 16 registers), accumulated over all of K, then added
// to c. The tile is spelt with vector types and named accumulators: from plain loops the compiler makes a
// reduction over k, and arrays of accumulators end up in memory.
template <class T>
void gemm_tiles(int64_t R, int64_t N, int64_t K, const T *x, int64_t xrs, int64_t xcs, const T *y, int64_t ldy, T *c,
                int64_t ldc, T sign) {
  int64_t r = 0;
#if defined(__GNUC__)
  typedef T V __attribute__((vector_size(16)));
  constexpr int L = 16 / sizeof(T), NR = 3 * L;
  auto ld = [](const T *p) {
    V v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  };
  auto add = [&](T *p, V v0, V v1, V v2) {
    const V s0 = ld(p) + sign * v0, s1 = ld(p + L) + sign * v1, s2 = ld(p + 2 * L) + sign * v2;
    std::memcpy(p, &s0, sizeof(V));
    std::memcpy(p + L, &s1, sizeof(V));
    std::memcpy(p + 2 * L, &s2, sizeof(V));
  };
  for (; r + 4 <= R; r += 4) {
    const T *xr = x + r * xrs;
    int64_t j = 0;
    for (; j + NR <= N; j += NR) {
      V c00 = {}, c01 = {}, c02 = {}, c10 = {}, c11 = {}, c12 = {};
      V c20 = {}, c21 = {}, c22 = {}, c30 = {}, c31 = {}, c32 = {};
      for (int64_t k = 0; k < K; k++) {
        const T *yk = y + k * ldy + j, *xk = xr + k * xcs;
        const V y0 = ld(yk), y1 = ld(yk + L), y2 = ld(yk + 2 * L);
        const T x0 = xk[0], x1 = xk[xrs], x2 = xk[2 * xrs], x3 = xk[3 * xrs];
        c00 += x0 * y0, c01 += x0 * y1, c02 += x0 * y2;
        c10 += x1 * y0, c11 += x1 * y1, c12 += x1 * y2;
        c20 += x2 * y0, c21 += x2 * y1, c22 += x2 * y2;
        c30 += x3 * y0, c31 += x3 * y1, c32 += x3 * y2;
      }
      T *cr = c + r * ldc + j;
      add(cr, c00, c01, c02);
      add(cr + ldc, c10, c11, c12);
      add(cr + 2 * ldc, c20, c21, c22);
      add(cr + 3 * ldc, c30, c31, c32);
    }
    if (j < N) gemm_rows(4, j, N, K, xr, xrs, xcs, y, ldy, c + r * ldc, ldc, sign);
  }
#endif
  gemm_rows(R - r, 0, N, K, x + r * xrs, xrs, xcs, y, ldy, c + r * ldc, ldc, sign);
}

// gemm_tiles over K in blocks of 128, each block's sums added to c in turn (the long sums of QR's VᵀC have
// like terms when the columns are alike; summed in two levels their rounding errors stay small).
template <class T>
void gemm_acc(int64_t R, int64_t N, int64_t K, const T *x, int64_t xrs, int64_t xcs, const T *y, int64_t ldy, T *c,
              int64_t ldc, T sign) {
  for (int64_t k0 = 0; k0 < K; k0 += 128)
    gemm_tiles(R, N, std::min<int64_t>(128, K - k0), x + k0 * xcs, xrs, xcs, y + k0 * ldy, ldy, c, ldc, sign);
}

// Householder QR of the first nf columns of a [rows, cols], one reflector at a time, each applied to all
// the columns to its right.
template <class T>
void factor_columns(T *a, int64_t rows, int64_t cols, int64_t lda, int64_t nf, T *tau, T *work) {
  for (int64_t j = 0; j < nf; j++) {
    T *ajj = a + j * lda + j;
    tau[j] = rows - j > 1 ? make_reflector(*ajj, ajj + lda, rows - j - 1, lda) : T(0);
    apply_reflector(ajj, lda, rows - j, tau[j], ajj + 1, lda, cols - j - 1, work);
  }
}

template <class T>
constexpr int64_t kNR = 48 / sizeof(T);
constexpr int64_t kGemmMin =
    64 * 64;  // elements of c from which apply_block takes kiln's GEMM  // columns of gemm_acc's register tile
inline int64_t round_up(int64_t x, int64_t r) { return (x + r - 1) / r * r; }

// V [rows, ldv] (ldv >= nb) from nb reflectors stored geqrf-style in a [rows, nb] (reflector p's vector in
// column p below row p): unit diagonal, zeros above it and in the pad columns. a may be V itself.
template <class T>
void unit_lower(const T *a, int64_t lda, int64_t rows, int64_t nb, T *V, int64_t ldv) {
  for (int64_t i = 0; i < rows; i++) {
    const int64_t e = std::min(i, nb);
    for (int64_t p = 0; p < e; p++) V[i * ldv + p] = a[i * lda + p];
    for (int64_t p = e; p < ldv; p++) V[i * ldv + p] = T(p == i && p < nb);
  }
}

// T [nb, nb] upper triangular such that H_0 H_1 ... H_{nb-1} = I - V T Vᵀ (larft, forward and columnwise:
// T[:p, p] = -tau_p T[:p, :p] V[:, :p]ᵀ v_p), from V [rows, ldv] as unit_lower leaves it.
template <class T>
void block_t(const T *V, int64_t ldv, int64_t rows, int64_t nb, const T *tau, T *Tm) {
  std::vector<T> g(nb * ldv, T(0));  // VᵀV
  gemm_acc(nb, ldv, rows, V, 1, ldv, V, ldv, g.data(), ldv, T(1));
  for (int64_t p = 0; p < nb; p++) {
    for (int64_t r = 0; r < p; r++) {
      T z = 0;
      for (int64_t q = r; q < p; q++) z += Tm[r * nb + q] * g[q * ldv + p];
      Tm[r * nb + p] = -tau[p] * z;
    }
    Tm[p * nb + p] = tau[p];
    for (int64_t r = p + 1; r < nb; r++) Tm[r * nb + p] = 0;
  }
}

// c [rows, nc] ← (I - V op(T) Vᵀ) c, op(T) = Tᵀ when trans (applies Hᵀ = H_{nb-1} ... H_0), else T; V as
// unit_lower leaves it. Column chunks of c are copied to a buffer padded to whole register tiles (zeros) whose
// rows are not a power of two apart, and W = Vᵀ c [nb, chunk] stays in the L1 cache.
// With a context and a large enough c, the three products run on linalg_gemm (kiln's GEMM, on the pool) on c
// in place instead.
template <class T>
void apply_block(kiln_context *ctx, const T *V, int64_t ldv, const T *Tm, int64_t rows, int64_t nb, T *c, int64_t ldc,
                 int64_t nc, bool trans) {
  if (ctx && rows * nc >= kGemmMin) {
    std::vector<T> buf(2 * nb * nc);
    T *W = buf.data(), *W2 = W + nb * nc;
    linalg_gemm<T>(ctx, nb, nc, rows, T(1), V, 1, ldv, c, ldc, 1, T(0), W, nc);
    linalg_gemm<T>(ctx, nb, nc, nb, T(1), Tm, trans ? 1 : nb, trans ? nb : 1, W, nc, 1, T(0), W2, nc);
    linalg_gemm<T>(ctx, rows, nc, nb, T(-1), V, ldv, 1, W2, nc, 1, T(1), c, ldc);
    return;
  }
  const int64_t chunk = std::max(kNR<T>, (16384 / (int64_t)sizeof(T)) / nb / kNR<T> * kNR<T>);
  const int64_t width = std::min(chunk, round_up(nc, kNR<T>));
  std::vector<T> buf((2 * nb + rows) * width);
  T *W = buf.data(), *W2 = W + nb * width, *C = W2 + nb * width;
  for (int64_t c0 = 0; c0 < nc; c0 += chunk) {
    const int64_t cw = std::min(chunk, nc - c0), ld = round_up(cw, kNR<T>);
    for (int64_t i = 0; i < rows; i++) {
      std::copy(c + i * ldc + c0, c + i * ldc + c0 + cw, C + i * ld);
      std::fill(C + i * ld + cw, C + i * ld + ld, T(0));
    }
    std::fill(W, W + nb * ld, T(0));
    gemm_acc(nb, ld, rows, V, 1, ldv, C, ld, W, ld, T(1));
    // W2 = op(T) W as a full product (T's zero triangle costs less than a triangular loop of short axpys).
    std::fill(W2, W2 + nb * ld, T(0));
    gemm_acc(nb, ld, nb, Tm, trans ? 1 : nb, trans ? nb : 1, W, ld, W2, ld, T(1));
    gemm_acc(rows, ld, nb, V, ldv, 1, W2, ld, C, ld, T(-1));
    for (int64_t i = 0; i < rows; i++) std::copy(C + i * ld, C + i * ld + cw, c + i * ldc + c0);
  }
}

// Householder QR of a panel p [rows, w] (w <= rows), recursively: the left half is factored, its block
// reflector is applied to the right half, and the right half's lower part is factored, so most of the work
// runs in gemm_acc and only panels of at most 8 columns go one reflector at a time.
template <class T>
void factor_panel(T *p, int64_t rows, int64_t w, int64_t ldp, T *tau, T *work) {
  if (w <= 8) {
    factor_columns(p, rows, w, ldp, w, tau, work);
    return;
  }
  const int64_t h = round_up(w / 2, 4), ldv = round_up(h, kNR<T>);
  factor_panel(p, rows, h, ldp, tau, work);
  std::vector<T> V(rows * ldv), Tm(h * h);
  unit_lower(p, ldp, rows, h, V.data(), ldv);
  block_t(V.data(), ldv, rows, h, tau, Tm.data());
  apply_block<T>(nullptr, V.data(), ldv, Tm.data(), rows, h, p + h, ldp, w - h, true);
  factor_panel(p + h * ldp + h, rows - h, w - h, ldp, tau + h, work);
}

// c [m, nc] ← Q c for Q = H_0 H_1 ... H_{k-1} from qr_householder's output, the blocks applied backwards
// (orgqr / ormqr). identity: c starts as the identity's first nc columns, so before the block starting at j0 is
// applied its columns < j0 are still the identity's (reflectors acting on rows >= j0 leave them) and only
// c[j0:, j0:] changes. Otherwise rows j0.. of all columns change. work: nc elements.
template <class T>
void apply_q(kiln_context *ctx, const T *a, int64_t m, int64_t k, int64_t lda, const T *tau, T *c, int64_t nc,
             int64_t ldc, bool identity, T *work) {
  const int64_t nb = k <= 8 ? 1 : kBlock;
  std::vector<T> V, Tm;
  for (int64_t j0 = k > 0 ? (k - 1) / nb * nb : -1; j0 >= 0; j0 -= nb) {
    const int64_t jb = std::min(nb, k - j0), rows = m - j0, ldv = round_up(jb, kNR<T>), c0 = identity ? j0 : 0;
    T *cc = c + j0 * ldc + c0;
    if (jb == 1) {
      apply_reflector(a + j0 * lda + j0, lda, rows, tau[j0], cc, ldc, nc - c0, work);
      continue;
    }
    V.resize(rows * ldv);
    Tm.resize(jb * jb);
    unit_lower(a + j0 * lda + j0, lda, rows, jb, V.data(), ldv);
    block_t(V.data(), ldv, rows, jb, tau + j0, Tm.data());
    apply_block(ctx, V.data(), ldv, Tm.data(), rows, jb, cc, ldc, nc - c0, false);
  }
}

}  // namespace

template <class T>
void qr_householder(kiln_context *ctx, T *a, int64_t m, int64_t n, int64_t lda, T *tau, T *work) {
  const int64_t k = std::min(m, n);
  if (k <= 8) {  // small: one reflector at a time, each updating all the columns to its right
    factor_columns(a, m, n, lda, k, tau, work);
    return;
  }
  std::vector<T> P, Tm;
  for (int64_t j0 = 0; j0 < k; j0 += kBlock) {
    const int64_t jb = std::min(kBlock, k - j0), rows = m - j0, ldp = round_up(jb, kNR<T>);
    // The panel is factored in a contiguous copy: its rows in a are lda apart, often a power of two, where
    // they would all compete for the same few cache sets. Then the copy becomes V for the trailing update.
    P.resize(rows * ldp);
    for (int64_t i = 0; i < rows; i++) std::copy(a + (j0 + i) * lda + j0, a + (j0 + i) * lda + j0 + jb, &P[i * ldp]);
    factor_panel(P.data(), rows, jb, ldp, tau + j0, work);
    for (int64_t i = 0; i < rows; i++) std::copy(&P[i * ldp], &P[i * ldp] + jb, a + (j0 + i) * lda + j0);
    if (j0 + jb < n) {
      Tm.resize(jb * jb);
      unit_lower(P.data(), ldp, rows, jb, P.data(), ldp);
      block_t(P.data(), ldp, rows, jb, tau + j0, Tm.data());
      apply_block(ctx, P.data(), ldp, Tm.data(), rows, jb, a + j0 * lda + j0 + jb, lda, n - j0 - jb, true);
    }
  }
}

template <class T>
void qr_form_q(kiln_context *ctx, const T *a, int64_t m, int64_t n, int64_t lda, const T *tau, T *q, int64_t qcols,
               int64_t ldq, T *work) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < qcols; j++) q[i * ldq + j] = T(i == j);
  apply_q(ctx, a, m, std::min(m, n), lda, tau, q, qcols, ldq, true, work);
}

// c [m, nc] ← Q c (Q = H_0 ... H_{k-1} from qr_householder's a [m, >= k] and tau). work: nc elements.
// For linalg_svd.cpp, which declares it.
template <class T>
void qr_apply_q(kiln_context *ctx, const T *a, int64_t m, int64_t k, int64_t lda, const T *tau, T *c, int64_t nc,
                int64_t ldc, T *work) {
  apply_q(ctx, a, m, k, lda, tau, c, nc, ldc, false, work);
}

template void qr_householder<float>(kiln_context *, float *, int64_t, int64_t, int64_t, float *, float *);
template void qr_householder<double>(kiln_context *, double *, int64_t, int64_t, int64_t, double *, double *);
template void qr_form_q<float>(kiln_context *, const float *, int64_t, int64_t, int64_t, const float *, float *,
                               int64_t, int64_t, float *);
template void qr_form_q<double>(kiln_context *, const double *, int64_t, int64_t, int64_t, const double *, double *,
                                int64_t, int64_t, double *);

template void qr_apply_q<float>(kiln_context *, const float *, int64_t, int64_t, int64_t, const float *, float *,
                                int64_t, int64_t, float *);
template void qr_apply_q<double>(kiln_context *, const double *, int64_t, int64_t, int64_t, const double *, double *,
                                 int64_t, int64_t, double *);

}  // namespace kiln::cpu
