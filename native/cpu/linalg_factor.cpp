// Cholesky, LU with partial pivoting and triangular solves (linalg_kernels.h). The O(n³) work goes
// to the GEMM (linalg_gemm: gemm_f32 or gemm_f64, on the register tiles and the thread pool): Cholesky is right-looking
// in blocks of kBlock columns, LU and the triangular solves are recursive (halving down to blocks of 16 or 32), which
// leaves only thin strips to the row-contiguous substitution loops, and those are split over the pool where they are
// wide.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/thread_pool.h"
#include "gemm.h"
#include "linalg_kernels.h"

namespace kiln::cpu {

// C = alpha A B + beta C on a plain loop: the GEMM without a context, and for one-row or one-column C.
template <class T>
void gemm_plain(int64_t M, int64_t N, int64_t K, T alpha, const T *a, int64_t rsa, int64_t csa, const T *b, int64_t rsb,
                int64_t csb, T beta, T *c, int64_t ldc) {
  for (int64_t i = 0; i < M; i++) {
    T *ci = c + i * ldc;
    for (int64_t j = 0; j < N; j++) ci[j] = beta == 0 ? T(0) : beta * ci[j];
    if (csb == 1) {  // rows of B are contiguous: axpy form
      for (int64_t p = 0; p < K; p++) {
        const T aip = alpha * a[i * rsa + p * csa];
        const T *bp = b + p * rsb;
        for (int64_t j = 0; j < N; j++) ci[j] += aip * bp[j];
      }
    } else {  // dot form
      for (int64_t j = 0; j < N; j++) {
        T s = 0;
        for (int64_t p = 0; p < K; p++) s += a[i * rsa + p * csa] * b[p * rsb + j * csb];
        ci[j] += alpha * s;
      }
    }
  }
}

// linalg_gemm (linalg_kernels.h).
template <>
void linalg_gemm<float>(kiln_context *ctx, int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t rsa,
                        int64_t csa, const float *b, int64_t rsb, int64_t csb, float beta, float *c, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || !ctx) return gemm_plain(M, N, K, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc);
  GemmGeometry g;
  g.M = M, g.N = N, g.K = K;
  g.rsa = rsa, g.csa = csa, g.rsb = rsb, g.csb = csb, g.rsc = ldc;
  g.alpha = alpha, g.beta = beta;
  gemm_f32(ctx, g, {GemmPtrs{a, b, c, nullptr}});
}

template <>
void linalg_gemm<double>(kiln_context *ctx, int64_t M, int64_t N, int64_t K, double alpha, const double *a, int64_t rsa,
                         int64_t csa, const double *b, int64_t rsb, int64_t csb, double beta, double *c, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || !ctx || M == 1 || N == 1) return gemm_plain(M, N, K, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc);
  GemmF64Geometry g;
  g.M = M, g.N = N, g.K = K;
  g.rsa = rsa, g.csa = csa, g.rsb = rsb, g.csb = csb, g.rsc = ldc;
  g.alpha = alpha, g.beta = beta;
  gemm_f64(ctx, g, {GemmF64Ptrs{a, b, c}});
}

namespace {

constexpr int64_t kBlock = 64;

// C -= A B through linalg_gemm (linalg_kernels.h).
template <class T>
void gemm_sub(kiln_context *ctx, int64_t M, int64_t N, int64_t K, const T *a, int64_t rsa, int64_t csa, const T *b,
              int64_t rsb, int64_t csb, T *c, int64_t ldc) {
  linalg_gemm<T>(ctx, M, N, K, T(-1), a, rsa, csa, b, rsb, csb, T(1), c, ldc);
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
    parallel_for(ctx ? ctx->pool.get() : nullptr, n - r0, 64,
                 [&](int64_t i0, int64_t i1) { solve_rows_lower_t(akk, kb, lda, a21 + i0 * lda, i1 - i0, lda); });
    // A22 -= A21 A21ᵀ, lower part only: one GEMM per block column, from its diagonal down.
    for (int64_t j = r0; j < n; j += kBlock) {
      const int64_t jb = std::min(kBlock, n - j);
      gemm_sub(ctx, n - j, jb, kb, a + j * lda + k, lda, 1, a + j * lda + k, 1, lda, a + j * lda + j, lda);
    }
  }
  for (int64_t i = 0; i < n; i++) std::fill(a + i * lda + i + 1, a + i * lda + n, T(0));  // GEMM spill
  return 0;
}

namespace {

constexpr int64_t kLuBase = 16;

// Recursive LU of columns [c0, c1) of rows [c0, m) (Toledo's): the left half, then its U12 by a
// unit-lower triangular solve and the trailing update by the GEMM, then the right half. Row swaps
// span whole rows, so the columns outside [c0, c1) move with them.
template <class T>
int64_t lu_rec(kiln_context *ctx, T *a, int64_t m, int64_t n, int64_t lda, int32_t *piv, int64_t c0, int64_t c1) {
  const int64_t w = c1 - c0;
  if (w <= kLuBase) return lu_panel(a, m, n, lda, piv, c0, c1);
  const int64_t half = (w / 2 + 7) / 8 * 8, cm = c0 + half;
  int64_t info = lu_rec(ctx, a, m, n, lda, piv, c0, cm);
  T *a11 = a + c0 * lda + c0;
  trsm_left(ctx, a11, half, lda, a + c0 * lda + cm, c1 - cm, lda, false, false, true);
  gemm_sub(ctx, m - cm, c1 - cm, half, a + cm * lda + c0, lda, 1, a + c0 * lda + cm, lda, 1, a + cm * lda + cm, lda);
  const int64_t i2 = lu_rec(ctx, a, m, n, lda, piv, cm, c1);
  return info ? info : i2;
}

}  // namespace

template <class T>
int64_t lu_factor(kiln_context *ctx, T *a, int64_t m, int64_t n, int64_t lda, int32_t *piv) {
  const int64_t k = std::min(m, n);
  const int64_t info = lu_rec(ctx, a, m, n, lda, piv, 0, k);
  if (n > k) {  // wide: the columns right of the square part, U12 = L11⁻¹ A12
    trsm_left(ctx, a, k, lda, a + k, n - k, lda, false, false, true);
  }
  return info;
}

namespace {

// op(A)[i, p] at a[i * ra + p * ca].
template <class T>
struct TriOp {
  const T *a;
  int64_t ra, ca;
  bool forward, unit;
  T at(int64_t i, int64_t p) const { return a[i * ra + p * ca]; }
};

// Rows [r0, r1) of X by substitution, for columns [c0, c1) of B (earlier rows already applied).
template <class T>
void trsm_base(const TriOp<T> &op, int64_t r0, int64_t r1, T *b, int64_t ldb, int64_t c0, int64_t c1) {
  for (int64_t s = 0; s < r1 - r0; s++) {
    const int64_t i = op.forward ? r0 + s : r1 - 1 - s;
    T *bi = b + i * ldb;
    const int64_t p0 = op.forward ? r0 : i + 1, p1 = op.forward ? i : r1;
    for (int64_t p = p0; p < p1; p++) {
      const T l = op.at(i, p);
      const T *bp = b + p * ldb;
      for (int64_t c = c0; c < c1; c++) bi[c] -= l * bp[c];
    }
    if (!op.unit) {
      const T d = op.at(i, i);
      for (int64_t c = c0; c < c1; c++) bi[c] /= d;
    }
  }
}

// Recursive: solve one half of the rows, subtract its contribution from the other half with the
// GEMM, solve the other half. Substitution is left to blocks of kTrsmBase rows, so the O(n² k)
// work is almost all GEMM; each base block's columns are split over the pool.
constexpr int64_t kTrsmBase = 32;

template <class T>
void trsm_rec(kiln_context *ctx, const TriOp<T> &op, int64_t r0, int64_t r1, T *b, int64_t ldb, int64_t k) {
  const int64_t n = r1 - r0;
  if (n <= kTrsmBase) {
    const int64_t grain = std::max<int64_t>(64, (int64_t)(16384 / std::max<int64_t>(n * n, 1)) * 16);
    parallel_for(ctx ? ctx->pool.get() : nullptr, k, grain,
                 [&](int64_t c0, int64_t c1) { trsm_base(op, r0, r1, b, ldb, c0, c1); });
    return;
  }
  const int64_t half = (n / 2 + 15) / 16 * 16, m = r0 + half;
  const int64_t first0 = op.forward ? r0 : m, first1 = op.forward ? m : r1;
  const int64_t rest0 = op.forward ? m : r0, rest1 = op.forward ? r1 : m;
  trsm_rec(ctx, op, first0, first1, b, ldb, k);
  gemm_sub(ctx, rest1 - rest0, k, first1 - first0, op.a + rest0 * op.ra + first0 * op.ca, op.ra, op.ca,
           b + first0 * ldb, ldb, 1, b + rest0 * ldb, ldb);
  trsm_rec(ctx, op, rest0, rest1, b, ldb, k);
}

}  // namespace

template <class T>
void trsm_left(kiln_context *ctx, const T *a, int64_t n, int64_t lda, T *b, int64_t k, int64_t ldb, bool upper,
               bool trans, bool unit) {
  if (n == 0 || k == 0) return;
  // op(A) is lower (forward substitution) or upper (backward).
  const TriOp<T> op{a, trans ? 1 : lda, trans ? lda : 1, upper == trans, unit};
  trsm_rec(ctx, op, 0, n, b, ldb, k);
}

#define KILN_LINALG_FACTOR(T)                                                               \
  template int64_t cholesky_lower<T>(kiln_context *, T *, int64_t, int64_t);                \
  template int64_t lu_factor<T>(kiln_context *, T *, int64_t, int64_t, int64_t, int32_t *); \
  template void trsm_left<T>(kiln_context *, const T *, int64_t, int64_t, T *, int64_t, int64_t, bool, bool, bool);
KILN_LINALG_FACTOR(float)
KILN_LINALG_FACTOR(double)
#undef KILN_LINALG_FACTOR

}  // namespace kiln::cpu
