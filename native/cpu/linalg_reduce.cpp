// Blocked Householder reductions (linalg_kernels.h): tridiagonalise_blocked and tridiagonal_apply_q for eigh,
// bidiagonalise, bidiagonal_apply_q and bidiagonal_apply_pt for the SVD, computed in T.
//
// Method (LAPACK's sytrd/latrd and gebrd/labrd): the columns are reduced in panels (kTriPanel, kBiPanel).
// Within a panel each reflector is made from its column brought up to date on the fly, and the matrix-vector
// products that define the next one run against the trailing matrix as it was at the panel's start, corrected
// by the panel's earlier reflectors V and their companions W (tridiagonal: A v - V (Wᵀ v) - W (Vᵀ v)) or X and
// Y (bidiagonal). After the panel the trailing matrix gets all of it at once, one linalg_gemm product of inner
// size twice the panel:
//   tridiagonal: A -= [V W] [W V]ᵀ on the lower triangle: halves recursively, each off-diagonal rectangle one
//     product, diagonal blocks of at most kDiag rows computed whole (the upper triangle is free storage);
//   bidiagonal: A -= [U X] [Y V]ᵀ.
// The other half of the flops are the matrix-vector products, bound by the speed the matrix streams in at.
// float with a context runs them on the ISA table's dot_f32 and gemv_rows_f32 (AVX-512 / AVX2 where the CPU
// has them); double and float without one on portable loops with several partial sums. The symmetric product
// (symv) reads the whole trailing square as one pass of row axpys while that fits in L2 (the lower triangle is
// mirrored onto the upper after each trailing update), and beyond that only the lower triangle, in blocks of
// rows (dots, then the same rows as axpys from L1). A tall matrix is bidiagonalised on its transpose (A v and
// Aᵀ u then run along columns of length m instead of many short rows) and transposed back.
// Reflectors follow LAPACK's conventions (beta = -sign(alpha) ||x||, tau = 0 when nothing is below alpha;
// alpha = 0 gives beta > 0, as the unblocked tridiagonalise in linalg_eigh.cpp does);
// the vector is scaled by the power of two that brings its largest entry into [0.5, 1) (exact) before the
// sum of squares, so tiny and huge columns give orthogonal reflectors without overflow or underflow.
// The apply functions use the compact WY form: blocks of 32 or 64 reflectors as I - V T Vᵀ (larft's T from
// the Gram matrix VᵀV), three linalg_gemm products each (W = Vᵀ C, W = T W, C -= V W; from the right for Pᵀ),
// the last block first so each touches only the rows (columns) its reflectors act on.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "arch/isa.h"
#include "linalg_kernels.h"
#include "linalg_vec.h"

namespace kiln::cpu {
namespace {

// Panel widths, measured against 16, 24, 32, 48, 64 (n = 256..1024, 2048 x 256): the bidiagonal panel's
// corrections cost twice the tridiagonal's per column, so it prefers the narrower one.
constexpr int64_t kTriPanel = 32;        // columns per panel of the tridiagonal reduction
constexpr int64_t kBiPanel = 16;         // and of the bidiagonal one
constexpr int64_t kDiag = 64;            // rows of the trailing update's diagonal blocks (computed whole)
constexpr int64_t kFullBytes = 1 << 20;  // see symv_full

// Leading dimension for a buffer of rows of n elements: a multiple of 16 elements, not of 256 (rows a large
// power of two apart share cache sets).
inline int64_t pad_ld(int64_t n) {
  int64_t ld = (std::max<int64_t>(n, 1) + 15) / 16 * 16;
  if (ld % 256 == 0) ld += 16;
  return ld;
}

// The vector kernels: dot products and row axpys. float with a context uses the ISA table; everything else
// portable loops (kLanes partial sums so they vectorise without reassociation).
template <class T>
struct Vec {
  const IsaKernels *isa = nullptr;
  const GemmKernels *gk = nullptr;
  explicit Vec(kiln_context *ctx) {
    if constexpr (std::is_same_v<T, float>)
      if (ctx) isa = isa_kernels(ctx->isa), gk = &isa->gemm;
  }
  // Sum of x[i] y[i], i < n.
  T dot(const T *x, const T *y, int64_t n) const {
    if constexpr (std::is_same_v<T, float>)
      if (gk) return gk->dot_f32(x, y, n);
    return dot_lanes(x, y, n);
  }
  // o[j * ldo + i] = x[i * ldx + j] for i < rows, j < cols.
  void transpose(T *o, int64_t ldo, const T *x, int64_t ldx, int64_t rows, int64_t cols) const {
    if constexpr (std::is_same_v<T, float>)
      if (isa) return isa->transpose32(o, ldo, x, ldx, rows, cols);
    constexpr int64_t kTile = 8;  // the rows written are ldo apart, often a power of two: one cache set
    for (int64_t j0 = 0; j0 < cols; j0 += kTile)
      for (int64_t i = 0; i < rows; i++)
        for (int64_t j = j0; j < std::min(cols, j0 + kTile); j++) o[j * ldo + i] = x[i * ldx + j];
  }
  // y[0:n] += sum over k < kc of x[k] b[k * ldb + 0:n].
  void axpys(T *y, const T *x, const T *b, int64_t ldb, int64_t kc, int64_t n) const {
    if (n <= 0 || kc <= 0) return;
    if constexpr (std::is_same_v<T, float>)
      if (gk) return gk->gemv_rows_f32(y, x, b, ldb, kc, n);
    int64_t k = 0;
    for (; k + 4 <= kc; k += 4) {
      const T x0 = x[k], x1 = x[k + 1], x2 = x[k + 2], x3 = x[k + 3];
      const T *b0 = b + k * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
      for (int64_t j = 0; j < n; j++) y[j] += x0 * b0[j] + x1 * b1[j] + x2 * b2[j] + x3 * b3[j];
    }
    for (; k < kc; k++) {
      const T xk = x[k], *bk = b + k * ldb;
      for (int64_t j = 0; j < n; j++) y[j] += xk * bk[j];
    }
  }
};

// Copies the lower triangle of a[lo:hi, lo:hi] onto its upper triangle: blocks of 16 rows, the rectangle left
// of each block transposed at once, its small triangle element by element.
template <class T>
void mirror_lower(const Vec<T> &vk, T *a, int64_t lda, int64_t lo, int64_t hi) {
  for (int64_t i0 = lo; i0 < hi; i0 += 16) {
    const int64_t i1 = std::min(hi, i0 + 16);
    vk.transpose(a + lo * lda + i0, lda, a + i0 * lda + lo, lda, i1 - i0, i0 - lo);
    for (int64_t i = i0; i < i1; i++)
      for (int64_t j = i0; j < i; j++) a[j * lda + i] = a[i * lda + j];
  }
}

// y[0:n] = A v for symmetric A [n, n] (row stride lda). full: both triangles hold A, and y = Aᵀ v is one
// pass of row axpys over the square. Otherwise only the lower triangle is read, in blocks of kRows rows: the
// part of each row left of its block gives its dot with v to y[i] and, as the transposed column, v[i] times
// itself to y[0:i0] (row axpys over the block, which the dots have just brought into L1); the block's own
// small triangle goes element by element.
template <class T>
void symv(const Vec<T> &vk, const T *a, int64_t lda, int64_t n, const T *v, T *y, bool full) {
  std::fill(y, y + n, T(0));
  if (full) return vk.axpys(y, v, a, lda, n, n);
  constexpr int64_t kRows = 8;
  for (int64_t i0 = 0; i0 < n; i0 += kRows) {
    const int64_t i1 = std::min(n, i0 + kRows);
    if (i0 > 0) {
      for (int64_t i = i0; i < i1; i++) y[i] += vk.dot(a + i * lda, v, i0);
      vk.axpys(y, v + i0, a + i0 * lda, lda, i1 - i0, i0);
    }
    for (int64_t i = i0; i < i1; i++) {
      const T *row = a + i * lda;
      T s = row[i] * v[i];
      for (int64_t j = i0; j < i; j++) {
        s += row[j] * v[j];
        y[j] += row[j] * v[i];
      }
      y[i] += s;
    }
  }
}

// Whether the symmetric product on a trailing matrix of order n reads the whole square (kept symmetric by
// mirroring after each trailing update): while it fits in the L2 cache, one stream at twice the data beats
// the lower triangle's dots and axpys; beyond, the data read from further out dominates.
template <class T>
bool symv_full(int64_t n) {
  return n * n * (int64_t)sizeof(T) <= kFullBytes;
}

// Householder reflector for x [len] (x[0] = alpha, contiguous): H = I - tau v vᵀ, v = (1, x[1:] / (alpha -
// beta)), with H x = (beta, 0, ...). Overwrites x[1:] with v[1:], returns tau (0: H = I, x left as it is) and
// beta through *beta. The sums of squares are taken of x scaled by a power of two (exact) that brings the
// largest magnitude into [0.5, 1).
template <class T>
T make_reflector(T *x, int64_t len, T *beta) {
  const T alpha = x[0];
  *beta = alpha;
  if (len <= 1) return 0;
  constexpr int kLanes = 32 / sizeof(T);  // partial maxima and sums, so the loops vectorise
  T acc[kLanes] = {};
  int64_t i = 1;
  for (; i + kLanes <= len; i += kLanes)
    for (int u = 0; u < kLanes; u++) {
      const T ax = std::fabs(x[i + u]);
      acc[u] = ax > acc[u] ? ax : acc[u];
    }
  T xmax = std::fabs(alpha);
  for (int u = 0; u < kLanes; u++) xmax = std::max(xmax, acc[u]);
  for (; i < len; i++) xmax = std::max(xmax, std::fabs(x[i]));
  if (xmax == 0) return 0;
  int ex = 0;  // inf or NaN: no scaling, they propagate
  if (xmax <= std::numeric_limits<T>::max()) std::frexp(xmax, &ex);
  // x scaled by 2^-ex, in two factors where 2^-ex alone overflows (xmax subnormal).
  const T s1 = std::ldexp(T(1), -ex / 2), s2 = std::ldexp(T(1), -ex - (-ex / 2)), sc = s1 * s2;
  const bool one = sc <= std::numeric_limits<T>::max();
  std::fill(acc, acc + kLanes, T(0));
  i = 1;
  if (one) {
    for (; i + kLanes <= len; i += kLanes)
      for (int u = 0; u < kLanes; u++) {
        const T y = x[i + u] * sc;
        acc[u] += y * y;
      }
  }
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int u = 0; u < w; u++) acc[u] += acc[u + w];
  T sigma = acc[0];
  for (; i < len; i++) {
    const T y = x[i] * s1 * s2;
    sigma += y * y;
  }
  if (sigma == 0) return 0;  // everything below alpha is negligible against it
  const T as = alpha * s1 * s2;
  const T norm = std::sqrt(as * as + sigma);
  const T bs = as > 0 ? -norm : norm;
  const T tau = (bs - as) / bs;
  const T inv = 1 / (as - bs);
  if (one) {
    const T f = sc * inv;  // a power of two times inv: the same rounding as scaling, then dividing
    for (int64_t j = 1; j < len; j++) x[j] *= f;
  } else {
    for (int64_t j = 1; j < len; j++) x[j] = (x[j] * s1 * s2) * inv;
  }
  *beta = std::ldexp(bs, ex);
  return tau;
}

// ---------------------------------------------------------------------------------------------------------
// Tridiagonal reduction.

// Lower triangle of a[lo:hi, lo:hi] -= X Y, X(i, p) = x[p * ld + i], Y(p, j) = y[p * ld + j], inner size K
// (indices global: x and y are indexed by the matrix's row and column numbers). Halves recursively; the
// rectangle below each diagonal pair of halves is one product, diagonal blocks of at most kDiag rows are
// computed whole.
template <class T>
void syr2k_lower(kiln_context *ctx, T *a, int64_t lda, int64_t lo, int64_t hi, const T *x, const T *y, int64_t ld,
                 int64_t K) {
  const int64_t n = hi - lo;
  if (n <= 0) return;
  if (n <= kDiag) {
    linalg_gemm<T>(ctx, n, n, K, T(-1), x + lo, 1, ld, y + lo, ld, 1, T(1), a + lo * lda + lo, lda);
    return;
  }
  const int64_t mid = lo + (n / 2 + 15) / 16 * 16;
  syr2k_lower(ctx, a, lda, lo, mid, x, y, ld, K);
  linalg_gemm<T>(ctx, hi - mid, mid - lo, K, T(-1), x + mid, 1, ld, y + lo, ld, 1, T(1), a + mid * lda + lo, lda);
  syr2k_lower(ctx, a, lda, mid, hi, x, y, ld, K);
}

// The panel's columns k0 .. k0 + w - 1 of a (rows from k0 + j down to rows - 1), gathered row by row into the
// rows of P (row stride ld, indexed by the matrix's row number): one pass over w contiguous entries per row
// instead of a strided walk down each column.
template <class T>
void gather_columns(const T *a, int64_t lda, int64_t rows, int64_t k0, int64_t w, T *P, int64_t ld) {
  for (int64_t i = k0; i < rows; i++) {
    const T *ai = a + i * lda + k0;
    const int64_t jn = std::min(w, i - k0 + 1);
    for (int64_t j = 0; j < jn; j++) P[j * ld + i] = ai[j];
  }
}

// One panel of the tridiagonal reduction: columns k0 .. k0 + w - 1. buf holds 4 kTriPanel rows of ld (>= n)
// elements: rows p < kTriPanel are V (reflector k0 + p over the matrix's indices, 1 at k0 + p + 1), rows
// kTriPanel + p are W, rows 2 kTriPanel + p V again (copied after the panel, so that [V W] and [W V] are both runs
// of rows for the trailing update), rows 3 kTriPanel + p the panel's columns. y: n elements of scratch.
template <class T>
void tridiagonal_panel(const Vec<T> &vk, T *a, int64_t n, int64_t lda, int64_t k0, int64_t w, T *d, T *e, T *tau,
                       T *buf, int64_t ld, T *y, bool full) {
  T *V = buf, *W = buf + kTriPanel * ld, *P = buf + 3 * kTriPanel * ld;
  std::fill(buf, buf + 2 * kTriPanel * ld, T(0));
  gather_columns(a, lda, n, k0, w, P, ld);
  T s1[kTriPanel], s2[kTriPanel];
  for (int64_t j = 0; j < w; j++) {
    const int64_t c = k0 + j;
    // Column c (rows c..n-1) brought up to date: minus V W(c, :)ᵀ + W V(c, :)ᵀ over the panel's earlier
    // reflectors.
    T *col = P + j * ld;
    for (int64_t p = 0; p < j; p++) s1[p] = -W[p * ld + c], s2[p] = -V[p * ld + c];
    vk.axpys(col + c, s1, V + c, ld, j, n - c);
    vk.axpys(col + c, s2, W + c, ld, j, n - c);
    d[c] = col[c];
    if (c + 1 >= n) break;
    if (c + 2 >= n) {  // the last off-diagonal entry: no reflector
      e[c] = col[c + 1];
      continue;
    }
    const int64_t c1 = c + 1, len = n - c1;
    T beta;
    const T t = make_reflector(col + c1, len, &beta);
    tau[c] = t;
    e[c] = beta;
    T *arow = a + c * lda;  // v into row c (upper triangle), v[c + 1] = 1
    arow[c1] = 1;
    std::copy(col + c1 + 1, col + n, arow + c1 + 1);
    if (t == 0) continue;  // V and W rows stay zero
    T *v = V + j * ld;
    v[c1] = 1;
    std::copy(col + c1 + 1, col + n, v + c1 + 1);

    // y = A22 v on the trailing matrix as at the panel's start, then minus V (Wᵀ v) + W (Vᵀ v).
    symv(vk, a + c1 * lda + c1, lda, len, v + c1, y + c1, full);
    for (int64_t p = 0; p < j; p++) {
      s1[p] = -vk.dot(W + p * ld + c1, v + c1, len);
      s2[p] = -vk.dot(V + p * ld + c1, v + c1, len);
    }
    vk.axpys(y + c1, s1, V + c1, ld, j, len);
    vk.axpys(y + c1, s2, W + c1, ld, j, len);
    // w = tau y - (tau / 2)(tau yᵀ v) v.
    T *wr = W + j * ld;
    for (int64_t i = c1; i < n; i++) wr[i] = t * y[i];
    const T kk = T(0.5) * t * vk.dot(wr + c1, v + c1, len);
    for (int64_t i = c1; i < n; i++) wr[i] -= kk * v[i];
  }
}

// ---------------------------------------------------------------------------------------------------------
// Bidiagonal reduction (m >= n).

// One panel: columns (and rows) k0 .. k0 + w - 1. L: 3 kBiPanel rows of ldm (>= m) elements: U (left reflector
// k0 + p over the row index, 1 at k0 + p), then X, then the panel's columns (which become the left
// reflectors' stored form, written back to a at the end). R: 2 kBiPanel rows of ldn (>= n): Y (over the column
// index), then V (right reflector k0 + p, 1 at k0 + p + 1). row: n elements of scratch.
template <class T>
void bidiagonal_panel(const Vec<T> &vk, T *a, int64_t m, int64_t n, int64_t lda, int64_t k0, int64_t w, T *d, T *e,
                      T *tauq, T *taup, T *L, int64_t ldm, T *R, int64_t ldn, T *row) {
  T *U = L, *X = L + kBiPanel * ldm, *P = L + 2 * kBiPanel * ldm, *Y = R, *V = R + kBiPanel * ldn;
  std::fill(L, L + 2 * kBiPanel * ldm, T(0));
  std::fill(R, R + 2 * kBiPanel * ldn, T(0));
  gather_columns(a, lda, m, k0, w, P, ldm);
  T t1[kBiPanel], t2[kBiPanel];
  for (int64_t j = 0; j < w; j++) {
    const int64_t i = k0 + j;
    // Column i (rows i..m-1) up to date: minus U Y(i, :)ᵀ + X V(i, :)ᵀ.
    T *col = P + j * ldm;
    for (int64_t p = 0; p < j; p++) t1[p] = -Y[p * ldn + i], t2[p] = -V[p * ldn + i];
    vk.axpys(col + i, t1, U + i, ldm, j, m - i);
    vk.axpys(col + i, t2, X + i, ldm, j, m - i);
    T beta;
    const T tq = make_reflector(col + i, m - i, &beta);
    tauq[i] = tq;
    d[i] = beta;
    a[i * lda + i] = beta;
    T *u = U + j * ldm;
    if (tq != 0) {
      u[i] = 1;
      std::copy(col + i + 1, col + m, u + i + 1);
    }
    if (i + 1 >= n) break;
    const int64_t i1 = i + 1, cols = n - i1;

    // Y(:, j) = tauq (A[i:, i1:]ᵀ u - Y (Uᵀ u) - V (Xᵀ u)) over columns i1..n-1.
    T *yj = Y + j * ldn;
    if (tq != 0) {
      std::fill(yj + i1, yj + n, T(0));
      vk.axpys(yj + i1, u + i, a + i * lda + i1, lda, m - i, cols);
      for (int64_t p = 0; p < j; p++) {
        t1[p] = -vk.dot(U + p * ldm + i, u + i, m - i);
        t2[p] = -vk.dot(X + p * ldm + i, u + i, m - i);
      }
      vk.axpys(yj + i1, t1, Y + i1, ldn, j, cols);
      vk.axpys(yj + i1, t2, V + i1, ldn, j, cols);
      for (int64_t c = i1; c < n; c++) yj[c] *= tq;
    }
    // Row i (columns i1..n-1) up to date: minus U(i, :) Yᵀ (U(i, j) = 1) + X(i, :) Vᵀ.
    std::copy(a + i * lda + i1, a + i * lda + n, row + i1);
    for (int64_t p = 0; p <= j; p++) t1[p] = -U[p * ldm + i], t2[p] = p < j ? -X[p * ldm + i] : T(0);
    vk.axpys(row + i1, t1, Y + i1, ldn, j + 1, cols);
    vk.axpys(row + i1, t2, V + i1, ldn, j, cols);
    if (cols == 1) {  // the last superdiagonal entry: no reflector
      e[i] = row[i1];
      a[i * lda + i1] = row[i1];
      continue;
    }
    const T tp = make_reflector(row + i1, cols, &beta);
    taup[i] = tp;
    e[i] = beta;
    a[i * lda + i1] = beta;
    std::copy(row + i1 + 1, row + n, a + i * lda + i1 + 1);
    if (tp == 0) continue;  // V and X rows stay zero
    T *v = V + j * ldn;
    v[i1] = 1;
    std::copy(row + i1 + 1, row + n, v + i1 + 1);

    // X(:, j) = taup (A[i1:, i1:] v - U (Yᵀ v) - X (Vᵀ v)) over rows i1..m-1.
    T *xj = X + j * ldm;
    for (int64_t r = i1; r < m; r++) xj[r] = vk.dot(a + r * lda + i1, v + i1, cols);
    for (int64_t p = 0; p <= j; p++) {
      t1[p] = -vk.dot(Y + p * ldn + i1, v + i1, cols);
      t2[p] = p < j ? -vk.dot(V + p * ldn + i1, v + i1, cols) : T(0);
    }
    vk.axpys(xj + i1, t1, U + i1, ldm, j + 1, m - i1);
    vk.axpys(xj + i1, t2, X + i1, ldm, j, m - i1);
    for (int64_t r = i1; r < m; r++) xj[r] *= tp;
  }
  // The left reflectors' vectors into a, below the diagonal, row by row.
  for (int64_t r = k0 + 1; r < m; r++) {
    T *ar = a + r * lda + k0;
    const int64_t jn = std::min(w, r - k0);
    for (int64_t j = 0; j < jn; j++) ar[j] = P[j * ldm + r];
  }
}

// The same panel on the transpose: at [n, ldt] holds A column by column (A[r, c] = at[c * ldt + r]), so the
// left reflectors are contiguous rows of at and serve as U in place (their unit entries set to 1 during the
// panel, d restored at its end), Aᵀ u is one long dot per column and A v row axpys of whole columns: for tall
// matrices these are long vectors where the row-major form has many short rows. L: 2 kBiPanel rows of ldm as
// above (rows p < kBiPanel receive a copy of U for the trailing update), R as above; row: n elements.
template <class T>
void bidiagonal_panel_t(const Vec<T> &vk, T *at, int64_t m, int64_t n, int64_t ldt, int64_t k0, int64_t w, T *d, T *e,
                        T *tauq, T *taup, T *L, int64_t ldm, T *R, int64_t ldn, T *row) {
  T *U = at + k0 * ldt, *X = L + kBiPanel * ldm, *Y = R, *V = R + kBiPanel * ldn;
  std::fill(X, X + kBiPanel * ldm, T(0));
  std::fill(R, R + 2 * kBiPanel * ldn, T(0));
  T t1[kBiPanel], t2[kBiPanel];
  for (int64_t j = 0; j < w; j++) {
    const int64_t i = k0 + j;
    // Column i (rows i..m-1), in place: minus U Y(i, :)ᵀ + X V(i, :)ᵀ.
    T *col = at + i * ldt;
    for (int64_t p = 0; p < j; p++) t1[p] = -Y[p * ldn + i], t2[p] = -V[p * ldn + i];
    vk.axpys(col + i, t1, U + i, ldt, j, m - i);
    vk.axpys(col + i, t2, X + i, ldm, j, m - i);
    T beta;
    const T tq = make_reflector(col + i, m - i, &beta);
    tauq[i] = tq;
    d[i] = beta;
    col[i] = 1;
    const T *u = col;
    if (i + 1 >= n) break;
    const int64_t i1 = i + 1, cols = n - i1;

    // Y(:, j) = tauq (A[i:, i1:]ᵀ u - Y (Uᵀ u) - V (Xᵀ u)) over columns i1..n-1.
    T *yj = Y + j * ldn;
    if (tq != 0) {
      for (int64_t c = i1; c < n; c++) yj[c] = vk.dot(at + c * ldt + i, u + i, m - i);
      for (int64_t p = 0; p < j; p++) {
        t1[p] = -vk.dot(U + p * ldt + i, u + i, m - i);
        t2[p] = -vk.dot(X + p * ldm + i, u + i, m - i);
      }
      vk.axpys(yj + i1, t1, Y + i1, ldn, j, cols);
      vk.axpys(yj + i1, t2, V + i1, ldn, j, cols);
      for (int64_t c = i1; c < n; c++) yj[c] *= tq;
    }
    // Row i (columns i1..n-1) up to date: minus U(i, :) Yᵀ (U(i, j) = 1) + X(i, :) Vᵀ.
    for (int64_t c = i1; c < n; c++) row[c] = at[c * ldt + i];
    for (int64_t p = 0; p <= j; p++) t1[p] = -U[p * ldt + i], t2[p] = p < j ? -X[p * ldm + i] : T(0);
    vk.axpys(row + i1, t1, Y + i1, ldn, j + 1, cols);
    vk.axpys(row + i1, t2, V + i1, ldn, j, cols);
    if (cols == 1) {  // the last superdiagonal entry: no reflector
      e[i] = row[i1];
      at[i1 * ldt + i] = row[i1];
      continue;
    }
    const T tp = make_reflector(row + i1, cols, &beta);
    taup[i] = tp;
    e[i] = beta;
    at[i1 * ldt + i] = beta;
    for (int64_t c = i1 + 1; c < n; c++) at[c * ldt + i] = row[c];
    if (tp == 0) continue;  // V and X rows stay zero
    T *v = V + j * ldn;
    v[i1] = 1;
    std::copy(row + i1 + 1, row + n, v + i1 + 1);

    // X(:, j) = taup (A[i1:, i1:] v - U (Yᵀ v) - X (Vᵀ v)) over rows i1..m-1.
    T *xj = X + j * ldm;
    vk.axpys(xj + i1, v + i1, at + i1 * ldt + i1, ldt, cols, m - i1);
    for (int64_t p = 0; p <= j; p++) {
      t1[p] = -vk.dot(Y + p * ldn + i1, v + i1, cols);
      t2[p] = p < j ? -vk.dot(V + p * ldn + i1, v + i1, cols) : T(0);
    }
    vk.axpys(xj + i1, t1, U + i1, ldt, j + 1, m - i1);
    vk.axpys(xj + i1, t2, X + i1, ldm, j, m - i1);
    for (int64_t r = i1; r < m; r++) xj[r] *= tp;
  }
  for (int64_t p = 0; p < w; p++) at[(k0 + p) * ldt + k0 + p] = d[k0 + p];
}

// ---------------------------------------------------------------------------------------------------------
// Block reflectors.

// Reflectors per block reflector in the apply functions for k reflectors in all: 32 for up to 512 (measured
// faster at 256 and 512: less of the work sits in the triangular T and the blocks' ragged edges), 64 beyond
// (the products' inner size is the block, and kiln's GEMM wants it longer).
inline int64_t apply_block(int64_t k) { return k <= 512 ? 32 : 64; }

// T [kb, kb] upper triangular with H_0 H_1 ... H_{kb-1} = I - V T Vᵀ, V = Vtᵀ, from Vt [kb, len] (row p:
// reflector p, zeros before its unit entry): T[p, p] = tau_p, T[:p, p] = -tau_p T[:p, :p] (Vt Vtᵀ)[:p, p]
// (larft, forward), the Gram matrix Vt Vtᵀ one product.
template <class T>
void block_t(kiln_context *ctx, const T *vt, int64_t ldv, int64_t kb, int64_t len, const T *tau, T *tm) {
  std::vector<T> g(kb * kb);
  linalg_gemm<T>(ctx, kb, kb, len, T(1), vt, ldv, 1, vt, 1, ldv, T(0), g.data(), kb);
  for (int64_t p = 0; p < kb; p++) {
    for (int64_t r = 0; r < p; r++) {
      T z = 0;
      for (int64_t q = r; q < p; q++) z += tm[r * kb + q] * g[q * kb + p];
      tm[r * kb + p] = -tau[p] * z;
    }
    tm[p * kb + p] = tau[p];
    for (int64_t r = p + 1; r < kb; r++) tm[r * kb + p] = 0;
  }
}

// c [len, nc] ← (I - V T Vᵀ) c with V = Vtᵀ, Vt [kb, len] (row stride ldv).
template <class T>
void apply_left(kiln_context *ctx, const T *vt, int64_t ldv, const T *tm, int64_t kb, int64_t len, T *c, int64_t ldc,
                int64_t nc, std::vector<T> &work) {
  work.resize(2 * kb * nc);
  T *w1 = work.data(), *w2 = w1 + kb * nc;
  linalg_gemm<T>(ctx, kb, nc, len, T(1), vt, ldv, 1, c, ldc, 1, T(0), w1, nc);
  linalg_gemm<T>(ctx, kb, nc, kb, T(1), tm, kb, 1, w1, nc, 1, T(0), w2, nc);
  linalg_gemm<T>(ctx, len, nc, kb, T(-1), vt, 1, ldv, w2, nc, 1, T(1), c, ldc);
}

// c [r, len] ← c (I - V T Vᵀ)ᵀ = c - (c V) Tᵀ Vᵀ with V = Vtᵀ, Vt [kb, len] (row stride ldv).
template <class T>
void apply_right_t(kiln_context *ctx, const T *vt, int64_t ldv, const T *tm, int64_t kb, int64_t len, T *c, int64_t ldc,
                   int64_t r, std::vector<T> &work) {
  work.resize(2 * kb * r);
  T *w1 = work.data(), *w2 = w1 + kb * r;
  linalg_gemm<T>(ctx, r, kb, len, T(1), c, ldc, 1, vt, 1, ldv, T(0), w1, kb);
  linalg_gemm<T>(ctx, r, kb, kb, T(1), w1, kb, 1, tm, 1, kb, T(0), w2, kb);
  linalg_gemm<T>(ctx, r, len, kb, T(-1), w2, kb, 1, vt, ldv, 1, T(1), c, ldc);
}

// Vt [kb, len] for reflectors k0 .. k0 + kb - 1 stored in rows (reflector k0 + p in row k0 + p of a, its unit
// entry at column off + p, the rest after it): row p is zeros, 1 at p, then a[(k0 + p), off + p + 1 ...].
// Reflectors with tau 0 get zeros past the unit (whatever their row holds is not read).
template <class T>
void rows_to_vt(const T *a, int64_t lda, int64_t k0, int64_t off, int64_t kb, int64_t len, const T *tau, T *vt,
                int64_t ldv) {
  for (int64_t p = 0; p < kb; p++) {
    T *v = vt + p * ldv;
    std::fill(v, v + p, T(0));
    v[p] = 1;
    if (tau[p] != 0)
      std::copy(a + (k0 + p) * lda + off + p + 1, a + (k0 + p) * lda + off + len, v + p + 1);
    else
      std::fill(v + p + 1, v + len, T(0));
  }
}

}  // namespace

template <class T>
void tridiagonalise_blocked(kiln_context *ctx, T *a, int64_t n, int64_t lda, T *d, T *e, T *tau) {
  if (n <= 0) return;
  const Vec<T> vk(ctx);
  const int64_t ld = pad_ld(n);
  std::vector<T> buf(4 * kTriPanel * ld), y(n);
  // full: both triangles of the trailing matrix hold it (see symv_full).
  bool full = symv_full<T>(n);
  if (full) mirror_lower(vk, a, lda, 0, n);
  for (int64_t k0 = 0; k0 < n; k0 += kTriPanel) {
    const int64_t w = std::min(kTriPanel, n - k0);
    tridiagonal_panel(vk, a, n, lda, k0, w, d, e, tau, buf.data(), ld, y.data(), full);
    const int64_t s = k0 + w;
    if (s >= n) break;
    std::copy(buf.data(), buf.data() + kTriPanel * ld, buf.data() + 2 * kTriPanel * ld);  // [V W V]
    syr2k_lower(ctx, a, lda, s, n, buf.data(), buf.data() + kTriPanel * ld, ld, 2 * kTriPanel);
    full = symv_full<T>(n - s);
    if (full) mirror_lower(vk, a, lda, s, n);
  }
}

template <class T>
void tridiagonal_apply_q(kiln_context *ctx, const T *a, int64_t n, int64_t lda, const T *tau, T *c, int64_t nc,
                         int64_t ldc) {
  const int64_t K = n - 2;  // reflectors
  if (K <= 0 || nc <= 0) return;
  std::vector<T> vt, tm, work;
  const int64_t nb = apply_block(K);
  for (int64_t k0 = (K - 1) / nb * nb; k0 >= 0; k0 -= nb) {
    const int64_t kb = std::min(nb, K - k0), len = n - k0 - 1, ldv = pad_ld(len);
    vt.resize(kb * ldv);
    tm.resize(kb * kb);
    rows_to_vt(a, lda, k0, k0 + 1, kb, len, tau + k0, vt.data(), ldv);
    block_t(ctx, vt.data(), ldv, kb, len, tau + k0, tm.data());
    apply_left(ctx, vt.data(), ldv, tm.data(), kb, len, c + (k0 + 1) * ldc, ldc, nc, work);
  }
}

template <class T>
void bidiagonalise(kiln_context *ctx, T *a, int64_t m, int64_t n, int64_t lda, T *d, T *e, T *tauq, T *taup) {
  if (n <= 0 || m < n) return;
  const Vec<T> vk(ctx);
  const int64_t ldm = pad_ld(m), ldn = pad_ld(n);
  std::vector<T> L(3 * kBiPanel * ldm), R(2 * kBiPanel * ldn), row(n);
  if (m > n) {  // tall: on the transpose (see bidiagonal_panel_t)
    std::vector<T> at(n * ldm);
    vk.transpose(at.data(), ldm, a, lda, m, n);
    for (int64_t k0 = 0; k0 < n; k0 += kBiPanel) {
      const int64_t w = std::min(kBiPanel, n - k0);
      bidiagonal_panel_t(vk, at.data(), m, n, ldm, k0, w, d, e, tauq, taup, L.data(), ldm, R.data(), ldn, row.data());
      const int64_t s = k0 + w;
      if (s >= n) break;
      // Aᵀ[s:, s:] -= [Y V] [U X]ᵀ, U copied next to X.
      for (int64_t p = 0; p < kBiPanel; p++)
        std::copy(at.data() + (k0 + p) * ldm + s, at.data() + (k0 + p) * ldm + m, L.data() + p * ldm + s);
      linalg_gemm<T>(ctx, n - s, m - s, 2 * kBiPanel, T(-1), R.data() + s, 1, ldn, L.data() + s, ldm, 1, T(1),
                     at.data() + s * ldm + s, ldm);
    }
    vk.transpose(a, lda, at.data(), ldm, n, m);
    return;
  }
  for (int64_t k0 = 0; k0 < n; k0 += kBiPanel) {
    const int64_t w = std::min(kBiPanel, n - k0);
    bidiagonal_panel(vk, a, m, n, lda, k0, w, d, e, tauq, taup, L.data(), ldm, R.data(), ldn, row.data());
    const int64_t s = k0 + w;
    if (s >= n) break;
    // A[s:, s:] -= [U X] [Y V]ᵀ.
    linalg_gemm<T>(ctx, m - s, n - s, 2 * kBiPanel, T(-1), L.data() + s, 1, ldm, R.data() + s, ldn, 1, T(1),
                   a + s * lda + s, lda);
  }
}

template <class T>
void bidiagonal_apply_q(kiln_context *ctx, const T *a, int64_t m, int64_t n, int64_t lda, const T *tauq, T *c,
                        int64_t nc, int64_t ldc) {
  const int64_t K = std::min(m, n);
  if (K <= 0 || nc <= 0) return;
  std::vector<T> vt, tm, work;
  const int64_t nb = apply_block(K);
  for (int64_t k0 = (K - 1) / nb * nb; k0 >= 0; k0 -= nb) {
    const int64_t kb = std::min(nb, K - k0), len = m - k0, ldv = pad_ld(len);
    vt.resize(kb * ldv);
    tm.resize(kb * kb);
    // Reflector k0 + p is column k0 + p of a below the diagonal: gathered into row p of Vt.
    for (int64_t p = 0; p < kb; p++) {
      T *v = vt.data() + p * ldv;
      std::fill(v, v + p, T(0));
      v[p] = 1;
      const bool zero = tauq[k0 + p] == 0;
      for (int64_t i = p + 1; i < len; i++) v[i] = zero ? T(0) : a[(k0 + i) * lda + k0 + p];
    }
    block_t(ctx, vt.data(), ldv, kb, len, tauq + k0, tm.data());
    apply_left(ctx, vt.data(), ldv, tm.data(), kb, len, c + k0 * ldc, ldc, nc, work);
  }
}

template <class T>
void bidiagonal_apply_pt(kiln_context *ctx, const T *a, int64_t m, int64_t n, int64_t lda, const T *taup, T *c,
                         int64_t r, int64_t ldc) {
  const int64_t K = n - 2;  // reflectors G_0 .. G_{n-3}
  if (K <= 0 || r <= 0) return;
  std::vector<T> vt, tm, work;
  const int64_t nb = apply_block(K);
  for (int64_t k0 = (K - 1) / nb * nb; k0 >= 0; k0 -= nb) {
    const int64_t kb = std::min(nb, K - k0), len = n - k0 - 1, ldv = pad_ld(len);
    vt.resize(kb * ldv);
    tm.resize(kb * kb);
    rows_to_vt(a, lda, k0, k0 + 1, kb, len, taup + k0, vt.data(), ldv);
    block_t(ctx, vt.data(), ldv, kb, len, taup + k0, tm.data());
    apply_right_t(ctx, vt.data(), ldv, tm.data(), kb, len, c + k0 + 1, ldc, r, work);
  }
}

template void tridiagonalise_blocked<float>(kiln_context *, float *, int64_t, int64_t, float *, float *, float *);
template void tridiagonal_apply_q<float>(kiln_context *, const float *, int64_t, int64_t, const float *, float *,
                                         int64_t, int64_t);
template void bidiagonalise<float>(kiln_context *, float *, int64_t, int64_t, int64_t, float *, float *, float *,
                                   float *);
template void bidiagonal_apply_q<float>(kiln_context *, const float *, int64_t, int64_t, int64_t, const float *,
                                        float *, int64_t, int64_t);
template void bidiagonal_apply_pt<float>(kiln_context *, const float *, int64_t, int64_t, int64_t, const float *,
                                         float *, int64_t, int64_t);
template void tridiagonalise_blocked<double>(kiln_context *, double *, int64_t, int64_t, double *, double *, double *);
template void tridiagonal_apply_q<double>(kiln_context *, const double *, int64_t, int64_t, const double *, double *,
                                          int64_t, int64_t);
template void bidiagonalise<double>(kiln_context *, double *, int64_t, int64_t, int64_t, double *, double *, double *,
                                    double *);
template void bidiagonal_apply_q<double>(kiln_context *, const double *, int64_t, int64_t, int64_t, const double *,
                                         double *, int64_t, int64_t);
template void bidiagonal_apply_pt<double>(kiln_context *, const double *, int64_t, int64_t, int64_t, const double *,
                                          double *, int64_t, int64_t);

}  // namespace kiln::cpu
