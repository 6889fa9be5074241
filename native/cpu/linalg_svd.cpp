// svd_jacobi (linalg_kernels.h), computed in T: one-sided (Hestenes) Jacobi on the rows of a QR's R.
//
// B = A, or Aᵀ when A is wide (so B [M, N] is tall), is scaled by a power of two (exact) so that every sum of
// squares stays finite, and reduced by Householder QR to R [N, N] (qr_householder; a tall B's Jacobi then
// works on N-long rows only). Plane rotations act on pairs of R's rows (contiguous), R ← J R, until every pair
// is orthogonal to working precision, |xᵢ·xⱼ| <= sqrt(N) eps ||xᵢ|| ||xⱼ||, sweeping in cyclic order with
// the longest remaining row brought forward first (de Rijk). Then J R = Σ W with orthonormal rows W, so
// B = (Q Jᵀ) Σ W: B's U = Q Jᵀ (qr_apply_q on Jᵀ, and on the identity's further columns for a full U), its
// Vᵀ = W; rows of R at the level of rounding noise are left out of the rotations and their rows of W
// orthonormalised against the rest (which also completes the basis for zero singular values).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "linalg_kernels.h"
#include "linalg_vec.h"

namespace kiln::cpu {

namespace {

template <class T>
T dot(const T *x, const T *y, int64_t n) {
  return dot_lanes(x, y, n);
}

// (x, y) ← (c x - s y, s x + c y) for rows x, y [n], written as x - s (y + tau x), y + s (x - tau y)
template <class T>
void rotate(T *x, T *y, int64_t n, T s, T tau) {
  int64_t i = 0;
#if defined(__GNUC__)
  constexpr int L = 16 / sizeof(T);
  for (; i + 2 * L <= n; i += 2 * L) {
    const V16<T> x0 = vload(x + i), x1 = vload(x + i + L), y0 = vload(y + i), y1 = vload(y + i + L);
    vstore(x + i, x0 - s * (y0 + tau * x0));
    vstore(x + i + L, x1 - s * (y1 + tau * x1));
    vstore(y + i, y0 + s * (x0 - tau * y0));
    vstore(y + i + L, y1 + s * (x1 - tau * y1));
  }
#endif
  for (; i < n; i++) {
    const T xi = x[i], yi = y[i];
    x[i] = xi - s * (yi + tau * xi);
    y[i] = yi + s * (xi - tau * yi);
  }
}

// One-sided Jacobi on the rows of x [N, L] (row stride L): plane rotations of pairs of rows until every pair
// is orthogonal to working precision, |xᵢ·xⱼ| <= sqrt(L) eps ||xᵢ|| ||xⱼ|| (LAPACK gesvj's test), or
// kMaxSweeps sweeps; the rotations are applied to the rows of J [N, N] too when J is not null. Rows of squared
// norm below floor_sq take no part. Each sweep visits the pairs in cyclic order of a permutation that first
// brings the longest of the remaining rows to position i (de Rijk), and each rotation moves length into the
// earlier row. Squared norms are updated through the rotations (as gesvj does) and recomputed at each sweep
// and after a large drop. A pair found orthogonal stays so until one of its rows is rotated (time stamps),
// which saves most dot products in the last sweeps. A NaN fails every test, so it stops the rotations instead
// of looping. Returns false when the sweeps ran out.
template <class T>
bool jacobi_rows(T *x, int64_t N, int64_t L, T *J, T floor_sq) {
  constexpr int kMaxSweeps = 60;
  const T eps = std::numeric_limits<T>::epsilon(), tol = eps * std::sqrt(T(std::max<int64_t>(L, 1)));
  const T big = 1 / std::sqrt(eps);
  std::vector<T> nrm(N), len(N);  // squared norms and norms of the rows
  std::vector<int64_t> perm(N);
  std::iota(perm.begin(), perm.end(), 0);
  // checked[r * N + q] (r < q): the clock when rows r and q were last found orthogonal; rotated[r]: when row r
  // last changed. The clock ticks at each rotation.
  std::vector<uint32_t> checked(N * N, 0), rotated(N, 0);
  uint32_t clock = 1;
  for (int sweep = 0; sweep < kMaxSweeps; sweep++) {
    for (int64_t i = 0; i < N; i++) {
      nrm[i] = dot(x + i * L, x + i * L, L);
      len[i] = std::sqrt(nrm[i]);
    }
    bool any = false;
    for (int64_t i = 0; i + 1 < N; i++) {
      int64_t p = i;
      for (int64_t j = i + 1; j < N; j++)
        if (nrm[perm[j]] > nrm[perm[p]]) p = j;
      std::swap(perm[i], perm[p]);
      const int64_t ri = perm[i];
      T *xi = x + ri * L;
      for (int64_t j = i + 1; j < N; j++) {
        const int64_t rj = perm[j];
        const T a = nrm[ri], b = nrm[rj];
        uint32_t &chk = checked[std::min(ri, rj) * N + std::max(ri, rj)];
        if ((chk && chk >= rotated[ri] && chk >= rotated[rj]) || !(a >= floor_sq && b >= floor_sq)) continue;
        T *xj = x + rj * L;
        const T g = dot(xi, xj, L);
        T t = 0;  // the angle's tangent: the smaller root of t² + 2 zeta t - 1 = 0, which zeroes the dot product
        if (std::fabs(g) > tol * len[ri] * len[rj]) {
          const T zeta = (a - b) / (2 * g);
          t = std::fabs(zeta) > big ? T(0.5) / zeta
                                    : std::copysign(T(1), zeta) / (std::fabs(zeta) + std::sqrt(1 + zeta * zeta));
        }
        if (t == 0) {  // orthogonal, or xⱼ too small to change next to xᵢ
          chk = clock;
          continue;
        }
        const T r = std::sqrt(1 + t * t), s = t / r, tau = t / (1 + r);
        rotate(xj, xi, L, s, tau);
        if (J) rotate(J + rj * N, J + ri * N, N, s, tau);
        nrm[ri] = a + t * g;
        nrm[rj] = b - t * g;
        if (nrm[ri] < T(0.25) * a) nrm[ri] = dot(xi, xi, L);
        if (nrm[rj] < T(0.25) * b) nrm[rj] = dot(xj, xj, L);
        len[ri] = std::sqrt(nrm[ri]);
        len[rj] = std::sqrt(nrm[rj]);
        if (clock == UINT32_MAX) {  // wrap: forget every check
          std::fill(checked.begin(), checked.end(), 0);
          std::fill(rotated.begin(), rotated.end(), 0);
          clock = 1;
        }
        rotated[ri] = rotated[rj] = ++clock;
        any = true;
      }
    }
    if (!any) return true;
  }
  return false;
}

// Multiplies x [n] by 2^e in two steps, so that e may exceed the exponent range of one factor.
template <class T>
T scale2(T x, int e) {
  return x * std::ldexp(T(1), e / 2) * std::ldexp(T(1), e - e / 2);
}

// Makes the rows of w [n, n] (row stride n) orthonormal, keeping rows 0..r-1 (already orthonormal): a
// Householder QR of wᵀ = Q R orthogonalises each later row against all the rows before it, and row j becomes
// sign(R[j, j]) Q[:, j]: the direction left of it, or (for a zero or dependent row) some unit vector of the
// complement.
template <class T>
void complete_rows(T *w, int64_t r, int64_t n) {
  if (r >= n) return;
  std::vector<T> c(n * n), tau(n), q(n * n), work(n);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) c[j * n + i] = w[i * n + j];
  qr_householder<T>(nullptr, c.data(), n, n, n, tau.data(), work.data());
  qr_form_q<T>(nullptr, c.data(), n, n, n, tau.data(), q.data(), n, n, work.data());
  for (int64_t i = r; i < n; i++)
    for (int64_t j = 0; j < n; j++) w[i * n + j] = c[i * n + i] < 0 ? -q[j * n + i] : q[j * n + i];
}

}  // namespace

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
  qr_householder<T>(nullptr, b.data(), M, N, N, tau.data(), work.data());
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
  for (int64_t i = 0; i < N; i++) longest = std::max(longest, std::sqrt(dot(&x[i * N], &x[i * N], N)));
  const T eps = std::numeric_limits<T>::epsilon();
  const T small = std::max(eps * longest, std::sqrt(std::numeric_limits<T>::min()) / eps);
  const bool converged = jacobi_rows(x.data(), N, N, vectors ? J.data() : nullptr, small * small);
  std::vector<T> sig(N);
  std::vector<int64_t> order(N);
  for (int64_t i = 0; i < N; i++) sig[i] = std::sqrt(dot(&x[i * N], &x[i * N], N));  // no overflow after the scaling
  std::iota(order.begin(), order.end(), 0);
  // Descending, NaN first (a consistent order, so the sort is well defined).
  auto key = [&](int64_t i) { return std::isnan(sig[i]) ? std::numeric_limits<T>::infinity() : sig[i]; };
  std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) { return key(p) > key(q); });
  for (int64_t j = 0; j < N; j++) s[j] = scale2(sig[order[j]], -e);
  if (!vectors) return converged ? 0 : 1;

  // W: the normalised rows of J R; the noise rows are orthonormalised against them and each other.
  std::vector<T> w(N * N, T(0));
  int64_t r = 0;
  while (r < N && !(sig[order[r]] < small)) r++;
  for (int64_t i = 0; i < N; i++)
    if (!(sig[order[i]] <= 0))  // (NaN rows give NaN)
      for (int64_t j = 0; j < N; j++) w[i * N + j] = x[order[i] * N + j] / sig[order[i]];
  complete_rows(w.data(), r, N);
  // U_B = Q Jᵀ with its columns in the sorted order: Q applied to [Y; 0] with y[p, j] = J[order[j], p]
  // (and, for a full U_B, to the identity's further columns too).
  std::vector<T> q(M * uc, T(0));
  for (int64_t p = 0; p < N; p++)
    for (int64_t j = 0; j < N; j++) q[p * uc + j] = J[order[j] * N + p];
  for (int64_t j = N; j < uc; j++) q[j * uc + j] = 1;
  qr_apply_q<T>(nullptr, b.data(), M, N, N, tau.data(), q.data(), uc, uc, work.data());
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

template int64_t svd_jacobi<float>(const float *, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t,
                                   float *, int64_t, int64_t, bool);
template int64_t svd_jacobi<double>(const double *, int64_t, int64_t, int64_t, double *, double *, int64_t, int64_t,
                                    double *, int64_t, int64_t, bool);

}  // namespace kiln::cpu
