// svd_dc (linalg_kernels.h), computed in T: Golub-Kahan bidiagonalisation, then the bidiagonal SVD by divide
// and conquer, then the reflectors applied back (LAPACK's gesdd).
//
// B = A, or Aᵀ when A is wide (so B [M, N] is tall), is scaled by a power of two (exact) so its largest entry
// is in [1, 2). A B much taller than wide (M >= 5N/3, where the QR's flops are repaid) is first reduced by
// Householder QR to R [N, N], and R is bidiagonalised instead of B: B = Q R = Q (Q₂ Bd P₂ᵀ). Then
// Bd = U_d Σ V_dᵀ (bidiagonal_svd_dc), B's U = Q₂ U_d (on top of [Q₂ U_d; 0] goes the QR's Q) and Vᵀ =
// V_dᵀ P₂ᵀ. A full U applies the reflectors to the identity's further columns too. For a wide A the roles of
// U and V swap: A = Bᵀ = V_B Σ U_Bᵀ.
// Non-finite input goes to svd_jacobi, which gives its NaNs in the same places as for any other size.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "linalg_kernels.h"

namespace kiln::cpu {

template <class T>
int64_t svd_dc(kiln_context *ctx, const T *a, int64_t m, int64_t n, int64_t lda, T *s, T *u, int64_t ucols, int64_t ldu,
               T *vt, int64_t vrows, int64_t ldvt, bool vectors) {
  const int64_t k = std::min(m, n);
  T mx = 0;
  bool finite = true;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      const T v = std::fabs(a[i * lda + j]);
      finite = finite && v <= std::numeric_limits<T>::max();
      mx = std::max(mx, v);
    }
  if (k == 0 || !finite) return svd_jacobi(a, m, n, lda, s, u, ucols, ldu, vt, vrows, ldvt, vectors);

  // B [M, N], M >= N, scaled by 2^-ex.
  const bool tr = m < n;
  const int64_t M = std::max(m, n), N = k, uc = tr ? vrows : ucols;
  const int ex = mx > 0 ? std::ilogb(mx) : 0;
  const T f1 = std::ldexp(T(1), -ex / 2), f2 = std::ldexp(T(1), -ex + ex / 2);  // 2^-ex in two exact steps
  std::vector<T> b(M * N);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) b[tr ? j * N + i : i * N + j] = a[i * lda + j] * f1 * f2;

  // Optionally B = Q R first; then the matrix to bidiagonalise is R (N x N, zeros below) or B itself.
  const bool qr_first = 3 * M >= 5 * N && M > N;
  std::vector<T> qtau, work, r;
  if (qr_first) {
    qtau.resize(N);
    work.resize(std::max(M, uc) + 1);
    qr_householder(ctx, b.data(), M, N, N, qtau.data(), work.data());
    r.assign(N * N, T(0));
    for (int64_t i = 0; i < N; i++) std::copy(&b[i * N + i], &b[i * N + N], &r[i * N + i]);
  }
  T *g = qr_first ? r.data() : b.data();
  const int64_t gm = qr_first ? N : M;  // rows of the bidiagonalised matrix
  std::vector<T> d(N), e(N), tauq(N), taup(N);
  bidiagonalise(ctx, g, gm, N, N, d.data(), e.data(), tauq.data(), taup.data());

  std::vector<T> ud, vdt;
  if (vectors) ud.resize(N * N), vdt.resize(N * N);
  const int64_t info = bidiagonal_svd_dc(ctx, d.data(), e.data(), N, vectors ? ud.data() : nullptr, N,
                                         vectors ? vdt.data() : nullptr, N, vectors);
  const T u1 = std::ldexp(T(1), ex / 2), u2 = std::ldexp(T(1), ex - ex / 2);
  for (int64_t j = 0; j < N; j++) s[j] = d[j] * u1 * u2;
  if (!vectors) return info;

  // Vᵀ of B: V_dᵀ P₂ᵀ [N, N].
  bidiagonal_apply_pt(ctx, g, gm, N, N, taup.data(), vdt.data(), N, N);
  // U of B [M, uc]: the reflectors applied to [U_d 0; 0 I].
  std::vector<T> q(M * uc, T(0));
  if (qr_first) {  // Q₂ U_d in the top N x N block, then the QR's Q on all of it
    bidiagonal_apply_q(ctx, g, N, N, N, tauq.data(), ud.data(), N, N);
    for (int64_t i = 0; i < N; i++) std::copy(&ud[i * N], &ud[i * N + N], &q[i * uc]);
    for (int64_t j = N; j < uc; j++) q[j * uc + j] = 1;
    qr_apply_q(ctx, b.data(), M, N, N, qtau.data(), q.data(), uc, uc, work.data());
  } else {
    for (int64_t i = 0; i < N; i++) std::copy(&ud[i * N], &ud[i * N + N], &q[i * uc]);
    for (int64_t j = N; j < uc; j++) q[j * uc + j] = 1;
    bidiagonal_apply_q(ctx, g, M, N, N, tauq.data(), q.data(), uc, uc);
  }
  if (!tr) {
    for (int64_t i = 0; i < m; i++) std::copy(&q[i * uc], &q[i * uc + uc], u + i * ldu);
    for (int64_t i = 0; i < N; i++) std::copy(&vdt[i * N], &vdt[i * N + N], vt + i * ldvt);
  } else {  // A = Bᵀ = V_B Σ U_Bᵀ
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < ucols; j++) u[i * ldu + j] = vdt[j * N + i];
    for (int64_t j = 0; j < vrows; j++)
      for (int64_t c = 0; c < n; c++) vt[j * ldvt + c] = q[c * uc + j];
  }
  return info;
}

template int64_t svd_dc<float>(kiln_context *, const float *, int64_t, int64_t, int64_t, float *, float *, int64_t,
                               int64_t, float *, int64_t, int64_t, bool);
template int64_t svd_dc<double>(kiln_context *, const double *, int64_t, int64_t, int64_t, double *, double *, int64_t,
                                int64_t, double *, int64_t, int64_t, bool);

}  // namespace kiln::cpu
