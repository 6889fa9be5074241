// eigh_symmetric (linalg_kernels.h): eigenvalues, and optionally eigenvectors, of a symmetric matrix given by
// its lower triangle, computed in T; and tridiagonal_ql, the implicit QL solver it and tridiagonal_dc use.
//
// Method: the matrix is scaled by a power of two so its largest entry is in [1, 2) (exact; keeps the sums of
// squares below clear of overflow and underflow) and reduced to tridiagonal form T = Qᵀ A Q by Householder
// reflectors on the lower triangle. From kBlockedMin rows up the reduction is blocked (linalg_reduce.cpp), the
// eigenvectors Z of T come from divide and conquer (linalg_stedc.cpp) and V = Q Z is formed by the blocked
// reflectors on the GEMM; eigenvalues alone, and small matrices, take implicit QL with Wilkinson shifts (QR,
// its mirror image, on blocks whose bottom end is the smaller; LAPACK's steqr does the same), deflating where
// |e_i| <= eps (|d_i| + |d_i+1|). There eigenvectors accumulate in a transposed scratch Vᵀ (one eigenvector
// per contiguous row): Qᵀ is formed by applying the reflectors backwards, each plane rotation then mixes two
// adjacent rows, and V is transposed into a at the end, its columns permuted to match the ascending
// eigenvalues. All inner loops run over contiguous rows; dot products keep several partial sums so they
// vectorise without reassociation flags.
// The QL rotations run on one thread: splitting them over the pool measured slower on this 2-vCPU VM (n = 512,
// interleaved in one process: 67 ms serial, 88 ms split; bench/results 2026-12-07 twenty-third).
// Non-finite input gives NaN outputs and returns 1 (torch and numpy report it as non-convergence).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "linalg_kernels.h"
#include "linalg_vec.h"

namespace kiln::cpu {
namespace {

// From this order up, eigh reduces with the blocked tridiagonalisation and finds the vectors by divide and
// conquer; below it, the unblocked reduction and QL with the rotations accumulated in Qᵀ.
constexpr int64_t kBlockedMin = 32;

template <class T>
T dot(const T *x, const T *y, int64_t n) {
  return dot_lanes(x, y, n);
}

// sqrt(x² + y²) without overflow or harmful underflow. In the usual range it is the plain formula: its
// rounding is about half that of the scaled one and unbiased, which keeps the rotations of many sweeps
// (c = g / r, s = f / r) from drifting off orthogonality.
template <class T>
T hypot2(T x, T y) {
  x = std::fabs(x);
  y = std::fabs(y);
  if (x < y) std::swap(x, y);
  constexpr T lo = T(1) / (1 << 30) / (1 << 30), hi = T(1 << 30) * (1 << 30);  // 2^-60, 2^60
  if (x > lo && x < hi) return std::sqrt(x * x + y * y);
  if (x == 0 || !(x <= std::numeric_limits<T>::max())) return x;
  const T r = y / x;
  return x * std::sqrt(1 + r * r);
}

// Householder tridiagonalisation of the lower triangle of a [n, n]: on return d [n] holds T's diagonal,
// e [n - 1] its subdiagonal, and for k < n - 2 reflector k (H_k = I - tau[k] v vᵀ, acting on indices k+1..n-1,
// v[k + 1] = 1) is stored in row k of a at columns k+1..n-1 (the upper triangle, which is free).
// A = Q T Qᵀ with Q = H_0 H_1 ... H_{n-3}.
template <class T>
void tridiagonalise(T *a, int64_t n, int64_t lda, T *d, T *e, T *tau) {
  std::vector<T> p(n);
  for (int64_t k = 0; k + 2 < n; k++) {
    T *v = a + k * lda;  // row k: v[j] for j > k
    // x = A[k+1:, k] (a column of the lower triangle), scaled by 1 / max|x| so its norm neither underflows
    // nor loses the smaller entries (a norm computed from squares that underflow gives a non-orthogonal H).
    // v = x / (alpha - beta), beta = -sign(alpha) ||x||. A column below tiny / eps is negligible against the
    // matrix (scaled to norm >= 1) and is left as it is.
    const T alpha = a[(k + 1) * lda + k];
    T xmax = std::fabs(alpha);
    for (int64_t i = k + 2; i < n; i++) xmax = std::max(xmax, std::fabs(a[i * lda + k]));
    d[k] = a[k * lda + k];
    if (xmax <= std::numeric_limits<T>::min() / std::numeric_limits<T>::epsilon()) {
      tau[k] = 0;
      e[k] = alpha;
      continue;
    }
    const T sc = 1 / xmax, as = alpha * sc;
    T sigma = 0;
    for (int64_t i = k + 2; i < n; i++) {
      v[i] = a[i * lda + k] * sc;
      sigma += v[i] * v[i];
    }
    if (sigma == 0) {  // nothing below alpha: H_k = I
      tau[k] = 0;
      e[k] = alpha;
      continue;
    }
    const T norm = std::sqrt(as * as + sigma);
    const T beta = as > 0 ? -norm : norm;
    tau[k] = (beta - as) / beta;
    const T inv = 1 / (as - beta);
    for (int64_t i = k + 2; i < n; i++) v[i] *= inv;
    v[k + 1] = 1;
    e[k] = beta * xmax;

    // p = tau A22 v from the lower triangle: row i contributes its dot with v to p[i] (the part left of the
    // diagonal and the diagonal) and, as the transposed column, v[i] times itself to p[k+1..i-1].
    const int64_t k1 = k + 1;
    std::fill(p.begin() + k1, p.end(), T(0));
    for (int64_t i = k1; i < n; i++) {
      const T *row = a + i * lda;
      const T vi = v[i];
      p[i] += dot(row + k1, v + k1, i - k1) + row[i] * vi;
      T *pp = p.data();
      for (int64_t j = k1; j < i; j++) pp[j] += row[j] * vi;
    }
    const T t = tau[k];
    for (int64_t j = k1; j < n; j++) p[j] *= t;
    // w = p - (tau/2)(pᵀv) v, then A22 -= v wᵀ + w vᵀ (lower triangle), with w kept in p.
    const T kk = T(0.5) * t * dot(p.data() + k1, v + k1, n - k1);
    for (int64_t j = k1; j < n; j++) p[j] -= kk * v[j];
    const T *w = p.data();
    for (int64_t i = k1; i < n; i++) {
      T *row = a + i * lda;
      const T vi = v[i], wi = w[i];
      for (int64_t j = k1; j <= i; j++) row[j] -= vi * w[j] + wi * v[j];
    }
  }
  if (n >= 2) {
    d[n - 2] = a[(n - 2) * lda + n - 2];
    e[n - 2] = a[(n - 1) * lda + n - 2];
  }
  if (n >= 1) d[n - 1] = a[(n - 1) * lda + n - 1];
}

// Forms Qᵀ = H_{n-3} ... H_1 H_0 into qt [n, n] (row stride n) by right-multiplying the identity by the
// reflectors backwards: before step k the product acts on indices > k + 1 only, so just rows and columns
// k+1.. change, and each row is one dot product and one axpy with v.
template <class T>
void form_qt(const T *a, int64_t n, int64_t lda, const T *tau, T *qt) {
  std::fill(qt, qt + n * n, T(0));
  for (int64_t i = 0; i < n; i++) qt[i * n + i] = 1;
  for (int64_t k = n - 3; k >= 0; k--) {
    const T t = tau[k];
    if (t == 0) continue;
    const int64_t k1 = k + 1, len = n - k1;
    const T *v = a + k * lda + k1;
    for (int64_t i = k1; i < n; i++) {
      T *row = qt + i * n + k1;
      const T s = t * dot(row, v, len);
      for (int64_t j = 0; j < len; j++) row[j] -= s * v[j];
    }
  }
}

// A sweep below works on a block of the tridiagonal seen through a local index k = 0..len: D(k) = dd[k * dir],
// E(k) = ee[k * dir] couples D(k) and D(k + 1). dir = +1 is QL on d[lo..], dir = -1 the mirror image, i.e. QR
// on d[..hi]; either way the sweep deflates at k = 0 and chases the bulge from k = len back to it.

// Applies a sweep's rotations k = kend-1 down to k0 to the rows of zt (n x n) that hold the block's vectors,
// row(k) = base + dir * k: (row(k), row(k+1)) become (c_k row(k) - s_k row(k+1), s_k row(k) + c_k row(k+1)).
// The new row(k) is the input of the next rotation, so it is carried in a buffer over a block of columns and
// each element is loaded and stored once per rotation.
template <class T>
void apply_rotations(T *zt, int64_t n, int64_t base, int64_t dir, int64_t k0, int64_t kend, const T *c, const T *s) {
  constexpr int64_t kBlock = 256;
  T carry[kBlock];
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t nb = std::min(kBlock, n - j0);
    const T *top = zt + (base + dir * kend) * n + j0;
    for (int64_t j = 0; j < nb; j++) carry[j] = top[j];
    for (int64_t k = kend - 1; k >= k0; k--) {
      const T *rk = zt + (base + dir * k) * n + j0;
      T *rn = zt + (base + dir * (k + 1)) * n + j0;
      const T ck = c[k], sk = s[k];
      for (int64_t j = 0; j < nb; j++) {
        const T x = rk[j], y = carry[j];
        rn[j] = sk * x + ck * y;
        carry[j] = ck * x - sk * y;
      }
    }
    T *bot = zt + (base + dir * k0) * n + j0;
    for (int64_t j = 0; j < nb; j++) bot[j] = carry[j];
  }
}

// One implicit QL sweep with a Wilkinson shift on an unreduced block (len >= 1), recording rotation k in
// c[k], s[k] when c is not null. Returns the lowest k whose rotation was made: 0, or k0 > 0 when a rotation
// underflowed (E(k0) became 0, which splits the block; the next search finds it).
template <class T>
int64_t ql_sweep(T *dd, T *ee, int64_t dir, int64_t len, T *c, T *s) {
  auto D = [&](int64_t k) -> T & { return dd[k * dir]; };
  auto E = [&](int64_t k) -> T & { return ee[k * dir]; };
  // Shift: the eigenvalue of the 2x2 block at k = 0 nearer D(0), written as D(0) - E(0) / (g ± r) with the
  // larger denominator (no cancellation). |g| < 1/eps since E(0) is not negligible.
  T g = (D(1) - D(0)) / (2 * E(0));
  T r = hypot2(g, T(1));
  g = D(len) - D(0) + E(0) / (g + (g >= 0 ? r : -r));
  T sn = 1, cs = 1, p = 0;
  for (int64_t k = len - 1; k >= 0; k--) {
    const T f = sn * E(k), b = cs * E(k);
    r = hypot2(f, g);
    if (k + 1 < len) E(k + 1) = r;
    if (r == 0) {  // f and g both underflowed
      D(k + 1) -= p;
      return k + 1;
    }
    sn = f / r;
    cs = g / r;
    g = D(k + 1) - p;
    r = (D(k) - g) * sn + 2 * cs * b;
    p = sn * r;
    D(k + 1) = g + p;
    g = cs * r - b;
    if (c) {
      c[k] = cs;
      s[k] = sn;
    }
  }
  D(0) -= p;
  E(0) = g;
  return 0;
}

}  // namespace

// tridiagonal_ql (linalg_kernels.h). Each unreduced block is iterated from its end of smaller magnitude (QL
// when that is the top, else QR), as a graded block chased from its small end loses the bulge to underflow
// and stalls. The budget is 30 n sweeps in all.
template <class T>
bool tridiagonal_ql(T *d, T *e, int64_t n, T *zt) {
  const T eps = std::numeric_limits<T>::epsilon();
  const T tiny = std::numeric_limits<T>::min();
  auto negligible = [&](int64_t i) {
    const T ei = std::fabs(e[i]);
    return ei <= eps * (std::fabs(d[i]) + std::fabs(d[i + 1])) || ei <= tiny;
  };
  std::vector<T> cs(zt ? 2 * n : 0);
  T *c = zt ? cs.data() : nullptr, *s = zt ? cs.data() + n : nullptr;
  int64_t budget = 30 * n;
  e[n - 1] = 0;
  for (int64_t start = 0; start < n;) {
    int64_t lo = start, hi = start;
    while (hi + 1 < n && !negligible(hi)) hi++;
    e[hi] = 0;
    start = hi + 1;
    const bool ql = std::fabs(d[hi]) >= std::fabs(d[lo]);
    while (lo < hi) {
      int64_t base, dir, len;
      if (ql) {  // deflate at lo
        int64_t m = lo;
        while (m < hi && !negligible(m)) m++;
        e[m] = 0;
        if (m == lo) {
          lo++;
          continue;
        }
        base = lo, dir = 1, len = m - lo;
      } else {  // deflate at hi
        int64_t m = hi;
        while (m > lo && !negligible(m - 1)) m--;
        if (m > lo) e[m - 1] = 0;
        if (m == hi) {
          hi--;
          continue;
        }
        base = hi, dir = -1, len = hi - m;
      }
      if (budget-- == 0) return false;
      const int64_t k0 = ql_sweep(d + base, e + (ql ? base : base - 1), dir, len, c, s);
      if (zt && k0 < len) apply_rotations(zt, n, base, dir, k0, len, c, s);
    }
  }
  return true;
}

template bool tridiagonal_ql<float>(float *, float *, int64_t, float *);
template bool tridiagonal_ql<double>(double *, double *, int64_t, double *);

template <class T>
int64_t eigh_symmetric(kiln_context *ctx, T *a, int64_t n, int64_t lda, T *w, bool vectors) {
  if (n <= 0) return 0;
  // Largest magnitude in the lower triangle; NaN or inf anywhere makes it non-finite.
  T amax = 0;
  bool finite = true;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j <= i; j++) {
      const T x = std::fabs(a[i * lda + j]);
      finite = finite && x <= std::numeric_limits<T>::max();
      amax = std::max(amax, x);
    }
  if (!finite) {
    const T nan = std::numeric_limits<T>::quiet_NaN();
    std::fill(w, w + n, nan);
    if (vectors)
      for (int64_t i = 0; i < n; i++) std::fill(a + i * lda, a + i * lda + n, nan);
    return 1;
  }
  // Scale the largest entry into [1, 2) by a power of two (exact); eigenvalues are scaled back at the end.
  const int ex = amax > 0 ? std::ilogb(amax) : 0;
  if (ex != 0)
    for (int64_t i = 0; i < n; i++) scale2(a + i * lda, i + 1, -ex);

  std::vector<T> e(n), tau(n);
  const bool blocked = n >= kBlockedMin;
  if (blocked) {
    // The blocked reduction's trailing updates read and write whole diagonal blocks: give the (unread)
    // strict upper triangle defined values first.
    for (int64_t i = 0; i < n; i++) std::fill(a + i * lda + i + 1, a + i * lda + n, T(0));
    tridiagonalise_blocked(ctx, a, n, lda, w, e.data(), tau.data());
  } else {
    tridiagonalise(a, n, lda, w, e.data(), tau.data());
  }
  if (vectors && blocked) {  // T = Z diag(w) Zᵀ by divide and conquer (ascending), then V = Q Z
    std::vector<T> z(n * n);
    const bool ok = tridiagonal_dc(ctx, w, e.data(), n, z.data(), n) == 0;
    if (ex != 0) scale2(w, n, ex);
    tridiagonal_apply_q(ctx, a, n, lda, tau.data(), z.data(), n, n);
    for (int64_t i = 0; i < n; i++) std::copy(&z[i * n], &z[i * n + n], a + i * lda);
    return ok ? 0 : 1;
  }
  std::vector<T> qt;
  if (vectors) {
    qt.resize(n * n);
    form_qt(a, n, lda, tau.data(), qt.data());
  }
  const bool ok = tridiagonal_ql(w, e.data(), n, vectors ? qt.data() : nullptr);
  if (ex != 0) scale2(w, n, ex);

  // Ascending order (ties keep the QL order); V's column j is row perm[j] of Vᵀ.
  std::vector<int64_t> perm(n);
  std::iota(perm.begin(), perm.end(), int64_t(0));
  std::stable_sort(perm.begin(), perm.end(), [&](int64_t x, int64_t y) { return w[x] < w[y]; });
  std::vector<T> sorted(n);
  for (int64_t j = 0; j < n; j++) sorted[j] = w[perm[j]];
  std::copy(sorted.begin(), sorted.end(), w);
  if (vectors) {
    constexpr int64_t kTile = 32;  // transpose in tiles so both sides stay in cache
    for (int64_t r0 = 0; r0 < n; r0 += kTile)
      for (int64_t j0 = 0; j0 < n; j0 += kTile) {
        const int64_t r1 = std::min(n, r0 + kTile), j1 = std::min(n, j0 + kTile);
        for (int64_t r = r0; r < r1; r++)
          for (int64_t j = j0; j < j1; j++) a[r * lda + j] = qt[perm[j] * n + r];
      }
  }
  return ok ? 0 : 1;
}

template int64_t eigh_symmetric<float>(kiln_context *, float *, int64_t, int64_t, float *, bool);
template int64_t eigh_symmetric<double>(kiln_context *, double *, int64_t, int64_t, double *, bool);

}  // namespace kiln::cpu
