// Cholesky, LU with partial pivoting and triangular solves (linalg_kernels.h), right-looking and
// blocked: a block of kBlock columns is factored (or solved) with row-contiguous loops, and the
// trailing matrix is updated with the GEMM (gemm_f32 for float, so the O(n³) part runs on the
// register tiles and the thread pool; a plain loop for double). Matrices under 2 * kBlock are
// factored unblocked.
#include <algorithm>
#include <cmath>
#include <vector>

#include "gemm.h"
#include "linalg_kernels.h"

namespace kiln::cpu {
namespace {

constexpr int64_t kBlock = 64;

// C[M, N] (row stride ldc) -= A[M, K] B[K, N]; A[i, p] at a[i * rsa + p * csa], B[p, j] at
// b[p * rsb + j * csb].
void gemm_sub(kiln_context *ctx, int64_t M, int64_t N, int64_t K, const float *a, int64_t rsa, int64_t csa,
              const float *b, int64_t rsb, int64_t csb, float *c, int64_t ldc) {
  if (M <= 0 || N <= 0 || K <= 0) return;
  GemmGeometry g;
  g.M = M, g.N = N, g.K = K;
  g.rsa = rsa, g.csa = csa, g.rsb = rsb, g.csb = csb, g.rsc = ldc;
  g.alpha = -1.0f, g.beta = 1.0f;
  gemm_f32(ctx, g, {GemmPtrs{a, b, c, nullptr}});
}

void gemm_sub(kiln_context *, int64_t M, int64_t N, int64_t K, const double *a, int64_t rsa, int64_t csa,
              const double *b, int64_t rsb, int64_t csb, double *c, int64_t ldc) {
  for (int64_t i = 0; i < M; i++) {
    double *ci = c + i * ldc;
    if (csb == 1) {  // rows of B are contiguous: axpy form
      for (int64_t p = 0; p < K; p++) {
        const double aip = a[i * rsa + p * csa];
        const double *bp = b + p * rsb;
        for (int64_t j = 0; j < N; j++) ci[j] -= aip * bp[j];
      }
    } else {  // dot form
      for (int64_t j = 0; j < N; j++) {
        double s = 0;
        for (int64_t p = 0; p < K; p++) s += a[i * rsa + p * csa] * b[p * rsb + j * csb];
        ci[j] -= s;
      }
    }
  }
}

template <class T>
T dot(const T *x, const T *y, int64_t n) {
  T s = 0;
  for (int64_t i = 0; i < n; i++) s += x[i] * y[i];
  return s;
}

// Unblocked Cholesky of the n x n lower triangle at a, row by row (each entry one contiguous dot).
template <class T>
int64_t cholesky_unblocked(T *a, int64_t n, int64_t lda) {
  for (int64_t i = 0; i < n; i++) {
    T *ai = a + i * lda;
    for (int64_t j = 0; j < i; j++) ai[j] = (ai[j] - dot(ai, a + j * lda, j)) / a[j * lda + j];
    const T d = ai[i] - dot(ai, ai, i);
    if (!(d > 0)) return i + 1;  // also catches NaN
    ai[i] = std::sqrt(d);
  }
  return 0;
}

// X Lᵀ = B for the rows of B [rows, n] (lower L [n, n]): forward substitution along each row.
template <class T>
void solve_rows_lower_t(const T *l, int64_t n, int64_t ldl, T *b, int64_t rows, int64_t ldb) {
  for (int64_t r = 0; r < rows; r++) {
    T *x = b + r * ldb;
    for (int64_t j = 0; j < n; j++) x[j] = (x[j] - dot(l + j * ldl, x, j)) / l[j * ldl + j];
  }
}

// Unblocked LU with partial pivoting of the panel A[k0:m, k0:k1] (row swaps span all n columns, so
// the rows left and right of the panel move with it). Returns the first zero pivot (1-based) or 0.
template <class T>
int64_t lu_panel(T *a, int64_t m, int64_t n, int64_t lda, int32_t *piv, int64_t k0, int64_t k1) {
  int64_t info = 0;
  for (int64_t j = k0; j < k1 && j < m; j++) {
    int64_t p = j;
    T best = std::abs(a[j * lda + j]);
    for (int64_t i = j + 1; i < m; i++) {
      const T v = std::abs(a[i * lda + j]);
      if (v > best) best = v, p = i;
    }
    piv[j] = (int32_t)(p + 1);
    if (p != j) std::swap_ranges(a + j * lda, a + j * lda + n, a + p * lda);
    const T *aj = a + j * lda;
    const T d = aj[j];
    if (d == 0) {
      if (!info) info = j + 1;
      continue;  // LAPACK leaves the column below a zero pivot as it is
    }
    for (int64_t i = j + 1; i < m; i++) {
      T *ai = a + i * lda;
      const T l = ai[j] /= d;
      for (int64_t c = j + 1; c < k1; c++) ai[c] -= l * aj[c];
    }
  }
  return info;
}

}  // namespace

template <class T>
int64_t cholesky_lower(kiln_context *ctx, T *a, int64_t n, int64_t lda) {
  for (int64_t i = 0; i < n; i++) std::fill(a + i * lda + i + 1, a + i * lda + n, T(0));
  if (n < 2 * kBlock) return cholesky_unblocked(a, n, lda);
  for (int64_t k = 0; k < n; k += kBlock) {
    const int64_t kb = std::min(kBlock, n - k), r0 = k + kb;
    T *akk = a + k * lda + k;
    const int64_t info = cholesky_unblocked(akk, kb, lda);
    if (info) return k + info;
    if (r0 == n) break;
    T *a21 = a + r0 * lda + k;  // [n - r0, kb]
    solve_rows_lower_t(akk, kb, lda, a21, n - r0, lda);
    // A22 -= A21 A21ᵀ, lower part only: one GEMM per block column, from its diagonal down.
    for (int64_t j = r0; j < n; j += kBlock) {
      const int64_t jb = std::min(kBlock, n - j);
      gemm_sub(ctx, n - j, jb, kb, a + j * lda + k, lda, 1, a + j * lda + k, 1, lda, a + j * lda + j, lda);
    }
  }
  for (int64_t i = 0; i < n; i++) std::fill(a + i * lda + i + 1, a + i * lda + n, T(0));  // GEMM spill
  return 0;
}

template <class T>
int64_t lu_factor(kiln_context *ctx, T *a, int64_t m, int64_t n, int64_t lda, int32_t *piv) {
  const int64_t kmax = std::min(m, n);
  const int64_t nb = std::min(m, n) < 2 * kBlock ? kmax : kBlock;
  int64_t info = 0;
  for (int64_t k = 0; k < kmax; k += nb) {
    const int64_t kb = std::min(nb, kmax - k), k1 = k + kb;
    const int64_t i1 = lu_panel(a, m, n, lda, piv, k, k1);
    if (i1 && !info) info = i1;
    if (k1 >= n) continue;
    // U12 = L11⁻¹ A12 (unit lower L11), row by row: contiguous row operations.
    for (int64_t i = k + 1; i < k1; i++) {
      T *ai = a + i * lda;
      for (int64_t p = k; p < i; p++) {
        const T l = ai[p];
        const T *ap = a + p * lda;
        for (int64_t c = k1; c < n; c++) ai[c] -= l * ap[c];
      }
    }
    // A22 -= L21 U12.
    gemm_sub(ctx, m - k1, n - k1, kb, a + k1 * lda + k, lda, 1, a + k * lda + k1, lda, 1, a + k1 * lda + k1, lda);
  }
  return info;
}

template <class T>
void trsm_left(kiln_context *ctx, const T *a, int64_t n, int64_t lda, T *b, int64_t k, int64_t ldb, bool upper,
               bool trans, bool unit) {
  if (n == 0 || k == 0) return;
  // op(A)[i, p] at a[i * ra + p * ca]; op(A) is lower (forward substitution) or upper (backward).
  const int64_t ra = trans ? 1 : lda, ca = trans ? lda : 1;
  const bool forward = upper == trans;
  const int64_t nb = n < 2 * kBlock ? n : kBlock;
  const int64_t nblocks = (n + nb - 1) / nb;
  for (int64_t bi = 0; bi < nblocks; bi++) {
    // Block rows [r0, r1), taken from the top (forward) or the bottom (backward).
    const int64_t r0 = forward ? bi * nb : std::max<int64_t>(0, n - (bi + 1) * nb);
    const int64_t r1 = forward ? std::min(n, r0 + nb) : n - bi * nb;
    for (int64_t s = 0; s < r1 - r0; s++) {
      const int64_t i = forward ? r0 + s : r1 - 1 - s;
      T *bi_row = b + i * ldb;
      const int64_t p0 = forward ? r0 : i + 1, p1 = forward ? i : r1;
      for (int64_t p = p0; p < p1; p++) {
        const T l = a[i * ra + p * ca];
        const T *bp = b + p * ldb;
        for (int64_t c = 0; c < k; c++) bi_row[c] -= l * bp[c];
      }
      if (!unit) {
        const T d = a[i * ra + i * ca];
        for (int64_t c = 0; c < k; c++) bi_row[c] /= d;
      }
    }
    // The rows not yet solved lose this block's contribution.
    if (forward)
      gemm_sub(ctx, n - r1, k, r1 - r0, a + r1 * ra + r0 * ca, ra, ca, b + r0 * ldb, ldb, 1, b + r1 * ldb, ldb);
    else
      gemm_sub(ctx, r0, k, r1 - r0, a + r0 * ca, ra, ca, b + r0 * ldb, ldb, 1, b, ldb);
  }
}

#define KILN_LINALG_FACTOR(T)                                                               \
  template int64_t cholesky_lower<T>(kiln_context *, T *, int64_t, int64_t);                \
  template int64_t lu_factor<T>(kiln_context *, T *, int64_t, int64_t, int64_t, int32_t *); \
  template void trsm_left<T>(kiln_context *, const T *, int64_t, int64_t, T *, int64_t, int64_t, bool, bool, bool);
KILN_LINALG_FACTOR(float)
KILN_LINALG_FACTOR(double)
#undef KILN_LINALG_FACTOR

}  // namespace kiln::cpu
