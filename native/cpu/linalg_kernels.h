// The dense linear-algebra routines behind kiln.linalg, one matrix at a time, on raw row-major
// storage: element (i, j) of a matrix is at a[i * lda + j]. T is float or double; each routine
// computes in T (as LAPACK's s- and d- routines do). No routine allocates except through the
// work buffers it is given, std::vector (which may throw std::bad_alloc), and the per-thread scratch
// of the GEMMs and of tridiagonal_dc, which kiln.emptyCache releases; none prints or aborts.
// The kernel entries in linalg.cpp batch them over leading dims and threads.
//
//   linalg_factor.cpp: linalg_gemm, cholesky_lower, lu_factor, trsm (the GEMM does their trailing updates)
//   linalg_qr.cpp:     qr_householder, qr_form_q, qr_apply_q (blocked Householder)
//   linalg_reduce.cpp: tridiagonalise_blocked, bidiagonalise and their reflectors' application (blocked)
//   linalg_eigh.cpp:   eigh_symmetric, tridiagonal_ql (and the unblocked reduction for small matrices)
//   linalg_stedc.cpp:  tridiagonal_dc (divide and conquer)
//   linalg_svd.cpp:    svd_jacobi (QR, then one-sided Jacobi on R: small matrices)
//   linalg_bdsdc.cpp:  bidiagonal_svd_dc (divide and conquer)
//   linalg_svd_dc.cpp: svd_dc (bidiagonalisation, bidiagonal_svd_dc, back-transformation)
#pragma once
#include <cstdint>

#include "../core/context.h"

namespace kiln::cpu {

// C [M, N] (row stride ldc) = alpha A B + beta C, with A[i, p] at a[i * rsa + p * csa] and B[p, j] at
// b[p * rsb + j * csb] (any strides, so transposed operands need no copy). With ctx, on kiln's GEMMs (gemm_f32,
// gemm_f64: their register tiles and ctx's thread pool); without, on a plain loop. beta = 0 ignores C's old
// contents (NaN included).
template <class T>
void linalg_gemm(kiln_context *ctx, int64_t M, int64_t N, int64_t K, T alpha, const T *a, int64_t rsa, int64_t csa,
                 const T *b, int64_t rsb, int64_t csb, T beta, T *c, int64_t ldc);

// A = L Lᵀ for symmetric positive-definite A [n, n], reading the lower triangle only. On return the
// lower triangle holds L and the strict upper triangle is zero. Returns 0, or k + 1 when the leading
// minor of order k + 1 is not positive definite (LAPACK's info; a is then partly overwritten).
// ctx may be null (no threads); with it, large matrices use the threaded GEMM for their updates.
template <class T>
int64_t cholesky_lower(kiln_context *ctx, T *a, int64_t n, int64_t lda);

// P A = L U with partial pivoting for A [m, n]: on return a holds U on and above the diagonal and L's
// strict lower part (its unit diagonal implied). piv[i] (i < min(m, n)) is the 1-based row swapped
// with row i at step i (LAPACK's and torch's ipiv). Returns 0, or k + 1 for the first exactly zero
// pivot U[k, k] (the factorisation still completes, as LAPACK's does).
template <class T>
int64_t lu_factor(kiln_context *ctx, T *a, int64_t m, int64_t n, int64_t lda, int32_t *piv);

// Solves op(A) X = B in place of B [n, k] for triangular A [n, n] (the other triangle is not read):
// op(A) = A, or Aᵀ when trans. unit: A's diagonal is taken as ones (not read).
template <class T>
void trsm_left(kiln_context *ctx, const T *a, int64_t n, int64_t lda, T *b, int64_t k, int64_t ldb, bool upper,
               bool trans, bool unit);

// Householder QR of A [m, n] in place (LAPACK's geqrf layout): R on and above the diagonal; below it,
// reflector j's vector v (v[j] = 1 implied, v[i] for i > j stored at a[i, j]); tau [min(m, n)].
// H_j = I - tau[j] v vᵀ and A = H_0 H_1 ... H_{k-1} R. work: at least n elements. With ctx (it may be null),
// the large block-reflector products of these three run on kiln's GEMM and its pool.
template <class T>
void qr_householder(kiln_context *ctx, T *a, int64_t m, int64_t n, int64_t lda, T *tau, T *work);

// Forms the first qcols (min(m, n) <= qcols <= m) columns of Q = H_0 ... H_{k-1} from
// qr_householder's output (a [m, n], tau) into q [m, qcols]. work: at least qcols elements.
template <class T>
void qr_form_q(kiln_context *ctx, const T *a, int64_t m, int64_t n, int64_t lda, const T *tau, T *q, int64_t qcols,
               int64_t ldq, T *work);

// c [m, nc] ← Q c from qr_householder's output (a [m, >= k] with k reflectors, tau). work: at least nc
// elements.
template <class T>
void qr_apply_q(kiln_context *ctx, const T *a, int64_t m, int64_t k, int64_t lda, const T *tau, T *c, int64_t nc,
                int64_t ldc, T *work);

// Singular values of A [m, n] in descending order into s [k], k = min(m, n), and when vectors:
// U [m, ucols] and Vᵀ [vrows, n] with A = U[:, :k] diag(s) Vᵀ[:k, :], where ucols and vrows are each
// k (reduced) or m and n respectively (full: the extra columns/rows complete orthonormal bases).
// Singular vectors' signs are whatever the algorithm gives (as with LAPACK). a is not modified.
// Returns 0, or 1 when the iteration did not converge (results then approximate).
template <class T>
int64_t svd_jacobi(const T *a, int64_t m, int64_t n, int64_t lda, T *s, T *u, int64_t ucols, int64_t ldu, T *vt,
                   int64_t vrows, int64_t ldvt, bool vectors);

// svd_jacobi's contract, computed by bidiagonalisation and divide and conquer (LAPACK's gesdd): faster from
// min(m, n) of a few dozen up. ctx may be null (no threads). (linalg_svd_dc.cpp)
template <class T>
int64_t svd_dc(kiln_context *ctx, const T *a, int64_t m, int64_t n, int64_t lda, T *s, T *u, int64_t ucols, int64_t ldu,
               T *vt, int64_t vrows, int64_t ldvt, bool vectors);

// Eigen-decomposition of symmetric A [n, n], reading the lower triangle only: eigenvalues ascending
// into w [n]; when vectors, a is overwritten with V (eigenvectors as columns: A = V diag(w) Vᵀ),
// otherwise its contents are unspecified on return. Returns 0, or 1 when the iteration did not
// converge. ctx may be null (no threads).
template <class T>
int64_t eigh_symmetric(kiln_context *ctx, T *a, int64_t n, int64_t lda, T *w, bool vectors);

// Eigenvalues of the symmetric tridiagonal matrix with diagonal d [n] and off-diagonal e [n] (e[i] couples
// d[i] and d[i + 1]; e[n - 1] is scratch) into d, unordered, by implicit QL/QR with Wilkinson shifts. When zt
// is not null (n x n, row stride n), each rotation is applied to its rows: starting from the identity, row j
// ends as the eigenvector of d[j]. e is destroyed. Returns false when the iteration did not converge.
template <class T>
bool tridiagonal_ql(T *d, T *e, int64_t n, T *zt);

// Divide and conquer (Cuppen's, with Gu and Eisenstat's eigenvectors; LAPACK's stedc) for the symmetric
// tridiagonal matrix with diagonal d [n] and off-diagonal e [n] (e[i] couples d[i] and d[i + 1]; e[n - 1] is
// scratch): eigenvalues ascending into d and the eigenvectors as the columns of z [n, n] (row stride ldz), so
// T = Z diag(d) Zᵀ. e is destroyed. The merges' products run on linalg_gemm. Returns 0, or 1 when a
// subproblem did not converge. (linalg_stedc.cpp)
template <class T>
int64_t tridiagonal_dc(kiln_context *ctx, T *d, T *e, int64_t n, T *z, int64_t ldz);

// SVD of the upper bidiagonal matrix B [n, n] with diagonal d [n] and superdiagonal e [n] (e[i] at (i, i + 1);
// e[n - 1] is scratch) by divide and conquer (LAPACK's bdsdc): singular values descending into d, and when
// vectors, U [n, n] (row stride ldu) and Vᵀ [n, n] (row stride ldvt) with B = U diag(d) Vᵀ. e is destroyed.
// Returns 0, or 1 when a subproblem did not converge. (linalg_bdsdc.cpp)
template <class T>
int64_t bidiagonal_svd_dc(kiln_context *ctx, T *d, T *e, int64_t n, T *u, int64_t ldu, T *vt, int64_t ldvt,
                          bool vectors);

// Blocked Householder reductions, their panels' updates on linalg_gemm (linalg_reduce.cpp).
//
// tridiagonalise_blocked: A [n, n] symmetric, lower triangle read, to T = Qᵀ A Q with diagonal d [n] and
// subdiagonal e [n - 1]; Q = H_0 H_1 ... H_{n-3}, H_k = I - tau[k] v vᵀ acting on indices k+1..n-1 with
// v[k + 1] = 1 and v[j] (j > k + 1) stored in row k of a at column j (the upper triangle).
// tridiagonal_apply_q: c [n, nc] (row stride ldc) ← Q c.
template <class T>
void tridiagonalise_blocked(kiln_context *ctx, T *a, int64_t n, int64_t lda, T *d, T *e, T *tau);
template <class T>
void tridiagonal_apply_q(kiln_context *ctx, const T *a, int64_t n, int64_t lda, const T *tau, T *c, int64_t nc,
                         int64_t ldc);

// bidiagonalise: A [m, n], m >= n, to B = Qᵀ A P, upper bidiagonal with diagonal d [n] and superdiagonal
// e [n - 1]. Q = H_0 ... H_{n-1} (H_j = I - tauq[j] u uᵀ on rows j.., u[j] = 1, u[i > j] stored at a[i, j]);
// P = G_0 ... G_{n-3} (G_j = I - taup[j] v vᵀ on columns j+1.., v[j + 1] = 1, v[k > j + 1] stored at
// a[j, k]); LAPACK's gebrd layout. bidiagonal_apply_q: c [m, nc] ← Q c. bidiagonal_apply_pt: c [r, n] ← c Pᵀ.
template <class T>
void bidiagonalise(kiln_context *ctx, T *a, int64_t m, int64_t n, int64_t lda, T *d, T *e, T *tauq, T *taup);
template <class T>
void bidiagonal_apply_q(kiln_context *ctx, const T *a, int64_t m, int64_t n, int64_t lda, const T *tauq, T *c,
                        int64_t nc, int64_t ldc);
template <class T>
void bidiagonal_apply_pt(kiln_context *ctx, const T *a, int64_t m, int64_t n, int64_t lda, const T *taup, T *c,
                         int64_t r, int64_t ldc);

}  // namespace kiln::cpu
