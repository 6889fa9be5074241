// qr_householder, qr_form_q and svd_jacobi (linalg_kernels.h), computed in T.
//
// QR: Householder reflectors with LAPACK's conventions (geqrf/larfg: beta = -sign(alpha) ||x||, tau = 0 when
// the column below the diagonal is zero; norms scaled by a power of two so no square overflows). Panels of
// kBlock columns are factored one reflector at a time (w = vᵀ A accumulated row by row, then A -= tau v wᵀ
// row by row); the rest of the matrix gets each panel as one block reflector I - V T Vᵀ (larft's T),
// applied with two small matrix products whose inner loops run along contiguous rows. qr_form_q applies the
// blocks backwards to the identity's first columns the same way (orgqr).
//
// SVD: one-sided (Hestenes) Jacobi. A (or Aᵀ when m < n, so the matrix is tall) is scaled by a power of two
// so that every sum of squares stays finite, then reduced by QR to R [k, k]; Jacobi rotations act on R's
// rows (contiguous), R ← J R, until every pair is orthogonal to working precision (|x·y| <= tol |x||y|),
// sweeping in cyclic order with the remaining rows sorted by norm first (de Rijk), which converges in a few
// sweeps. Then J R = Σ W with orthonormal rows W, so A = (Q Jᵀ) Σ W: U = Q Jᵀ and Vᵀ = W (rows of zero
// norm, and the extra rows/columns of full bases, are completed by a Householder QR of the rest).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "linalg_kernels.h"

namespace kiln::cpu {
namespace {

constexpr int64_t kBlock = 32;  // reflectors per block reflector

// Dot product with several partial sums, so the loop vectorises without reassociation flags.
template <class T>
T dot(const T *x, const T *y, int64_t n) {
  constexpr int kLanes = 32 / sizeof(T);
  T acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int u = 0; u < kLanes; u++) acc[u] += x[j + u] * y[j + u];
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int u = 0; u < w; u++) acc[u] += acc[u + w];
  T s = acc[0];
  for (; j < n; j++) s += x[j] * y[j];
  return s;
}

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
  if (inc == 1) {
    constexpr int kLanes = 32 / sizeof(T);
    T acc[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
      for (int u = 0; u < kLanes; u++) {
        const T y = x[i + u] * s1 * s2;
        acc[u] += y * y;
      }
    for (int u = 0; u < kLanes; u++) s += acc[u];
    for (; i < n; i++) s += (x[i] * s1 * s2) * (x[i] * s1 * s2);
  } else {
    for (int64_t i = 0; i < n; i++) s += (x[i * inc] * s1 * s2) * (x[i * inc] * s1 * s2);
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
  for (int64_t i = 1; i < len; i++) {
    const T vi = v[i * ldv], *ci = c + i * ldc;
    for (int64_t j = 0; j < nc; j++) w[j] += vi * ci[j];
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
void gemm_acc(int64_t R, int64_t N, int64_t K, const T *x, int64_t xrs, int64_t xcs, const T *y, int64_t ldy, T *c,
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
constexpr int64_t kNR = 48 / sizeof(T);  // columns of gemm_acc's register tile
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
template <class T>
void apply_block(const T *V, int64_t ldv, const T *Tm, int64_t rows, int64_t nb, T *c, int64_t ldc, int64_t nc,
                 bool trans) {
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
  apply_block(V.data(), ldv, Tm.data(), rows, h, p + h, ldp, w - h, true);
  factor_panel(p + h * ldp + h, rows - h, w - h, ldp, tau + h, work);
}

// (x, y) ← (c x - s y, s x + c y) for rows x, y [n].
template <class T>
void rotate(T *x, T *y, int64_t n, T c, T s) {
  for (int64_t i = 0; i < n; i++) {
    const T xi = x[i], yi = y[i];
    x[i] = c * xi - s * yi;
    y[i] = s * xi + c * yi;
  }
}

int g_sweeps = 0;  // DEBUG

// One-sided Jacobi on the rows of x [N, L] (row stride L): plane rotations of pairs of rows until every pair
// is orthogonal to working precision, |xᵢ·xⱼ| <= sqrt(L) eps ||xᵢ|| ||xⱼ|| (LAPACK gesvj's test), or
// kMaxSweeps sweeps; the rotations are applied to the rows of J [N, N] too when J is not null. Each sweep
// visits the pairs in cyclic order, first bringing the longest of rows i.. to position i (de Rijk), and each
// rotation moves length into the earlier row, so the rows end up nearly sorted. Squared norms are updated
// through the rotations (as gesvj does) and recomputed at each sweep and after a large drop. A NaN fails
// every test, so it stops the rotations instead of looping. Returns false when the sweeps ran out.
template <class T>
bool jacobi_rows(T *x, int64_t N, int64_t L, T *J, T floor_sq) {
  constexpr int kMaxSweeps = 60;
  const T eps = std::numeric_limits<T>::epsilon(), tol = eps * std::sqrt(T(std::max<int64_t>(L, 1)));
  const T big = 1 / std::sqrt(eps);
  std::vector<T> nrm(N);
  for (int sweep = 0; sweep < kMaxSweeps; sweep++) {
    g_sweeps = sweep + 1;
    for (int64_t i = 0; i < N; i++) nrm[i] = dot(x + i * L, x + i * L, L);
    bool rotated = false;
    for (int64_t i = 0; i + 1 < N; i++) {
      int64_t p = i;
      for (int64_t j = i + 1; j < N; j++)
        if (nrm[j] > nrm[p]) p = j;
      if (p != i) {
        std::swap_ranges(x + i * L, x + i * L + L, x + p * L);
        if (J) std::swap_ranges(J + i * N, J + i * N + N, J + p * N);
        std::swap(nrm[i], nrm[p]);
      }
      T *xi = x + i * L;
      for (int64_t j = i + 1; j < N; j++) {
        const T a = nrm[i], b = nrm[j];
        if (!(a >= floor_sq && b >= floor_sq)) continue;
        T *xj = x + j * L;
        const T g = dot(xi, xj, L);
        if (!(std::fabs(g) > tol * std::sqrt(a) * std::sqrt(b))) continue;
        // The angle that zeroes the dot product; t = tan, the smaller root of t² + 2 zeta t - 1 = 0.
        const T zeta = (a - b) / (2 * g);
        const T t = std::fabs(zeta) > big ? T(0.5) / zeta
                                          : std::copysign(T(1), zeta) / (std::fabs(zeta) + std::sqrt(1 + zeta * zeta));
        if (t == 0) continue;  // xⱼ is too small to matter next to xᵢ
        const T c = 1 / std::sqrt(1 + t * t), s = c * t;
        rotate(xj, xi, L, c, s);
        if (J) rotate(J + j * N, J + i * N, N, c, s);
        nrm[i] = a + t * g;
        nrm[j] = b - t * g;
        if (nrm[i] < T(0.25) * a) nrm[i] = dot(xi, xi, L);
        if (nrm[j] < T(0.25) * b) nrm[j] = dot(xj, xj, L);
        rotated = true;
      }
    }
    if (!rotated) return true;
  }
  return false;
}

// Multiplies x [n] by 2^e in two steps, so that e may exceed the exponent range of one factor.
template <class T>
T scale2(T x, int e) {
  return x * std::ldexp(T(1), e / 2) * std::ldexp(T(1), e - e / 2);
}

// Rows r.. of w [n, n] (row stride n) become an orthonormal basis of the complement of its rows 0..r-1
// (orthonormal): the columns of Q beyond r from a Householder QR of those rows' transpose.
template <class T>
void complete_rows(T *w, int64_t r, int64_t n) {
  if (r >= n) return;
  std::vector<T> c(n * std::max<int64_t>(r, 1)), tau(n), q(n * n), work(n);
  for (int64_t i = 0; i < r; i++)
    for (int64_t j = 0; j < n; j++) c[j * r + i] = w[i * n + j];
  qr_householder(c.data(), n, r, r, tau.data(), work.data());
  qr_form_q(c.data(), n, r, r, tau.data(), q.data(), n, n, work.data());
  for (int64_t i = r; i < n; i++)
    for (int64_t j = 0; j < n; j++) w[i * n + j] = q[j * n + i];
}

}  // namespace

template <class T>
void qr_householder(T *a, int64_t m, int64_t n, int64_t lda, T *tau, T *work) {
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
      apply_block(P.data(), ldp, Tm.data(), rows, jb, a + j0 * lda + j0 + jb, lda, n - j0 - jb, true);
    }
  }
}

template <class T>
void qr_form_q(const T *a, int64_t m, int64_t n, int64_t lda, const T *tau, T *q, int64_t qcols, int64_t ldq, T *work) {
  const int64_t k = std::min(m, n);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < qcols; j++) q[i * ldq + j] = T(i == j);
  // Q = H_0 (H_1 (... H_{k-1} I)). Before the block starting at j0 is applied, columns < j0 are still the
  // identity's (untouched by reflectors acting on rows >= j0) and rows < j0 of the other columns are zero,
  // so only q[j0:, j0:] changes.
  const int64_t nb = k <= 8 ? 1 : kBlock;
  std::vector<T> V, Tm;
  for (int64_t j0 = k > 0 ? (k - 1) / nb * nb : -1; j0 >= 0; j0 -= nb) {
    const int64_t jb = std::min(nb, k - j0), rows = m - j0, ldv = round_up(jb, kNR<T>);
    T *qq = q + j0 * ldq + j0;
    if (jb == 1) {
      apply_reflector(a + j0 * lda + j0, lda, rows, tau[j0], qq, ldq, qcols - j0, work);
      continue;
    }
    V.resize(rows * ldv);
    Tm.resize(jb * jb);
    unit_lower(a + j0 * lda + j0, lda, rows, jb, V.data(), ldv);
    block_t(V.data(), ldv, rows, jb, tau + j0, Tm.data());
    apply_block(V.data(), ldv, Tm.data(), rows, jb, qq, ldq, qcols - j0, false);
  }
}

template <class T>
int64_t svd_jacobi(const T *a, int64_t m, int64_t n, int64_t lda, T *s, T *u, int64_t ucols, int64_t ldu, T *vt,
                   int64_t vrows, int64_t ldvt, bool vectors) {
  const int64_t k = std::min(m, n);
  if (k == 0) {  // nothing to decompose; full bases are the identity
    if (vectors) {
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < ucols; j++) u[i * ldu + j] = T(i == j);
      for (int64_t i = 0; i < vrows; i++)
        for (int64_t j = 0; j < n; j++) vt[i * ldvt + j] = T(i == j);
    }
    return 0;
  }
  // B = A, or Aᵀ when A is wide: [M, N] with M >= N. Its SVD B = U_B Σ W gives A's (U = Wᵀ, Vᵀ = U_Bᵀ when
  // transposed), so U_B has the columns of A's U or of A's V, and W is [N, N].
  const bool tr = m < n;
  const int64_t M = tr ? n : m, N = k, uc = tr ? vrows : ucols;
  std::vector<T> b(M * N);
  T mx = 0;
  bool finite = true;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      const T v = a[i * lda + j];
      b[tr ? j * N + i : i * N + j] = v;
      finite = finite && std::isfinite(v);
      mx = std::max(mx, std::fabs(v));
    }
  // Scale by 2^e (exact) so the largest entry is near sqrt(max / (16 M N)): every sum of squares, and so every
  // squared norm and dot product of rows of R (bounded by ||A||²), stays below max / 16, and as little as
  // possible underflows.
  int e = 0;
  if (finite && mx > 0) {
    const T target = std::sqrt(std::numeric_limits<T>::max()) / (4 * std::sqrt(T(M)) * std::sqrt(T(N)));
    e = std::ilogb(target) - std::ilogb(mx);
    for (T &v : b) v = scale2(v, e);
  }
  // B = Q R; the Jacobi rotations act on R's rows: J R = Σ W.
  std::vector<T> tau(N), work(M + 1), x(N * N, T(0)), J;
  qr_householder(b.data(), M, N, N, tau.data(), work.data());
  for (int64_t i = 0; i < N; i++) std::copy(&b[i * N + i], &b[i * N + N], &x[i * N + i]);
  if (vectors) {
    J.assign(N * N, T(0));
    for (int64_t i = 0; i < N; i++) J[i * N + i] = 1;
  }
  // Rows shorter than eps times the longest are noise at the level of the QR's rounding errors: they take no
  // part in the rotations (among themselves they would need many sweeps, each rotation of two such rows of very
  // different lengths spoiling the orthogonality of the shorter to the long rows) and their Vᵀ rows are
  // completed instead. Their norms remain as the singular values. The floor also keeps the dot products
  // clear of underflow, where orthogonality could not be judged.
  T longest = 0;
  for (int64_t i = 0; i < N; i++) longest = std::max(longest, norm2(&x[i * N], N, 1));
  const T eps = std::numeric_limits<T>::epsilon();
  const T small = std::max(eps * longest, std::sqrt(std::numeric_limits<T>::min()) / eps);
  const bool converged = jacobi_rows(x.data(), N, N, vectors ? J.data() : nullptr, small * small);
  std::vector<T> sig(N);
  std::vector<int64_t> order(N);
  for (int64_t i = 0; i < N; i++) sig[i] = norm2(&x[i * N], N, 1);
  std::iota(order.begin(), order.end(), 0);
  // Descending, NaN first (a consistent order, so the sort is well defined).
  auto key = [&](int64_t i) { return std::isnan(sig[i]) ? std::numeric_limits<T>::infinity() : sig[i]; };
  std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) { return key(p) > key(q); });
  for (int64_t j = 0; j < N; j++) s[j] = scale2(sig[order[j]], -e);
  if (!vectors) return converged ? 0 : 1;

  // W: the normalised rows of J R, then (for the noise rows) a completed basis.
  std::vector<T> w(N * N);
  int64_t r = 0;
  for (; r < N && !(sig[order[r]] < small); r++)
    for (int64_t j = 0; j < N; j++) w[r * N + j] = x[order[r] * N + j] / sig[order[r]];
  complete_rows(w.data(), r, N);
  // U_B = Q Jᵀ with its columns in the sorted order: Q's first N columns times y[p, j] = J[order[j], p]; the
  // columns of a full U_B beyond N are Q's.
  const int64_t ldy = round_up(N, kNR<T>);
  std::vector<T> q(M * uc), y(N * ldy, T(0)), ub(M * ldy, T(0));
  qr_form_q(b.data(), M, N, N, tau.data(), q.data(), uc, uc, work.data());
  for (int64_t j = 0; j < N; j++)
    for (int64_t p = 0; p < N; p++) y[p * ldy + j] = J[order[j] * N + p];
  gemm_acc(M, ldy, N, q.data(), uc, 1, y.data(), ldy, ub.data(), ldy, T(1));
  for (int64_t i = 0; i < M; i++) std::copy(&ub[i * ldy], &ub[i * ldy + N], &q[i * uc]);
  if (!tr) {
    for (int64_t i = 0; i < m; i++) std::copy(&q[i * uc], &q[i * uc + uc], u + i * ldu);
    for (int64_t i = 0; i < N; i++) std::copy(&w[i * N], &w[i * N + N], vt + i * ldvt);
  } else {  // A = Wᵀ Σ U_Bᵀ
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < ucols; j++) u[i * ldu + j] = w[j * N + i];
    for (int64_t j = 0; j < vrows; j++)
      for (int64_t c = 0; c < n; c++) vt[j * ldvt + c] = q[c * uc + j];
  }
  return converged ? 0 : 1;
}

template void qr_householder<float>(float *, int64_t, int64_t, int64_t, float *, float *);
template void qr_householder<double>(double *, int64_t, int64_t, int64_t, double *, double *);
template void qr_form_q<float>(const float *, int64_t, int64_t, int64_t, const float *, float *, int64_t, int64_t,
                               float *);
template void qr_form_q<double>(const double *, int64_t, int64_t, int64_t, const double *, double *, int64_t, int64_t,
                                double *);

template int64_t svd_jacobi<float>(const float *, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t,
                                   float *, int64_t, int64_t, bool);
template int64_t svd_jacobi<double>(const double *, int64_t, int64_t, int64_t, double *, double *, int64_t, int64_t,
                                    double *, int64_t, int64_t, bool);

}  // namespace kiln::cpu
