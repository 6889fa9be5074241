// bidiagonal_svd_dc (linalg_kernels.h), computed in T: divide and conquer for the SVD of an upper bidiagonal
// matrix (the method of LAPACK's bdsdc with lasd0..lasd8; Gu and Eisenstat's singular vectors).
//
// B is scaled by its largest entry and split where |e_i| <= eps (after scaling) into independent blocks. A
// block is an upper bidiagonal n x m problem, m = n + sqre (sqre = 1: one more column, e[n - 1] at (n - 1, n)).
// It is cut at its middle row k: the rows above form a k x (k + 1) problem B1 (sqre = 1), the rows below an
// (n - k - 1) x (n - k - 1 + sqre) problem B2, and row k holds alpha = d[k] at column k and beta = e[k] at
// column k + 1. With the halves' SVDs B1 = U1 [S1 0] V1ᵀ, B2 = U2 [S2 (0)] V2ᵀ (the null columns last),
//     B = diag(e_k, U1, U2) M (V1 ⊕ V2 rotated)ᵀ,   M = [z; diag(0, S1, S2)] (an n x n "broken arrow"),
// z = (alpha V1's last row, beta V2's first row); the two null columns are rotated together so that only one
// of them meets z (z_0), the other being B's own null vector when sqre = 1. Leaves are the 1 x 1 and 1 x 2
// problems (closed form), so the recursion needs no second SVD method.
//
// Merge (as lasd2..lasd3): M is scaled to norm ~1 and its poles d sorted; a |z_j| <= tol = 8 eps (times the
// scale) deflates (d_j is then a singular value with unit vectors), and two poles closer than tol are
// rotated together (a Givens rotation on both sides, on V only where the other is the pole 0) so that one z
// vanishes; z_0 is kept >= eps so the pole 0 keeps its root. (64 eps, lasd2's tolerance, measured residuals up
// to ~10 n eps on small matrices; 8 eps keeps them below ~1.5 n eps.) The K remaining singular values are the
// roots of the secular equation
//     f(σ) = 1 + Σ_j z_j² / ((d_j - σ)(d_j + σ)) = 0,   σ_i ∈ (d_i, d_{i+1}),
// each found as an offset μ = σ² - d_o² from its nearer pole d_o (decided by f at the interval's midpoint), so
// that d_j² - σ² = (d_j - d_o)(d_j + d_o) - μ suffers no cancellation: Li's "middle way" rational model with
// two poles, safeguarded by bisection on the bracket that f's sign keeps (as lasd4), iterated until |f| is at
// the level of its rounding error. All of it runs in T (float roots are accurate enough this way). z is then
// recomputed from the roots (Löwner's formula, every difference σ_i ± d_j formed from the offsets), which makes
// the singular vectors of M, v_i ∝ (ẑ_j / (d_j² - σ_i²))_j and u_i ∝ (-1, d_j ẑ_j / (d_j² - σ_i²))_j,
// orthogonal to working precision. The merged U and V are the halves' vectors (gathered into one matrix,
// deflation rotations applied) times M's vectors: matrix products on linalg_gemm, split into the rows of the
// upper and of the lower half so that columns known to be zero there are left out (deflated columns are
// copied). V is built in vt's storage and transposed in place at the end.
//
// Without vectors only V's first and last rows are carried (z needs no more; as lasda does), so the work is
// O(n²). Singular values come out descending, their vectors permuted to match. Non-finite input gives NaN
// outputs and returns 1.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "linalg_kernels.h"
#include "linalg_vec.h"

namespace kiln::cpu {

namespace {

template <class T>
struct Rotation {
  int64_t p, c;  // coordinates: p ← cs p + sn c, c ← cs c - sn p
  T cs, sn;
  bool on_u;  // false where p is the pole 0 (V only)
};

// The recursion's state: the output blocks and the merge's work (merges run one at a time).
template <class T>
struct DcState {
  kiln_context *ctx = nullptr;
  bool vectors = false;
  T *u = nullptr;  // U [n, n]; the subproblem at offset o owns the block at (o, o)
  int64_t ldu = 0;
  // vectors: V [n, n] (V, not Vᵀ), blocks as U's. Otherwise two rows: V's first row at v[c], its last at
  // v[ldv + c] (c the global column), for every subproblem at once.
  T *v = nullptr;
  int64_t ldv = 0;
  int64_t failures = 0;

  std::vector<T> dd, z, dk, zk, zh, sig, tau, dorg, delta, work, work2, qu, qv, um, vm, vo;
  std::vector<int64_t> order, nondef, defl, org, coord, cpos, invu, invv, src;
  std::vector<unsigned char> tu, tv;
  std::vector<Rotation<T>> rots;
};

// s = Σ z_j² / (delta_j - mu) and ds = Σ z_j² / (delta_j - mu)² over j in [lo, hi).
template <class T>
void secular_sums(const T *z, const T *delta, int64_t lo, int64_t hi, T mu, T &s, T &ds) {
  int64_t j = lo;
  T a = 0, b = 0;
#if defined(__GNUC__)
  constexpr int L = 16 / sizeof(T);
  if (hi - lo >= 4 * L) {
    V16<T> s0 = {}, s1 = {}, d0 = {}, d1 = {};
    for (; j + 2 * L <= hi; j += 2 * L) {
      const V16<T> z0 = vload(z + j), z1 = vload(z + j + L);
      const V16<T> r0 = z0 / (vload(delta + j) - mu), r1 = z1 / (vload(delta + j + L) - mu);
      s0 += z0 * r0, s1 += z1 * r1;
      d0 += r0 * r0, d1 += r1 * r1;
    }
    const V16<T> sv = s0 + s1, dv = d0 + d1;
    for (int l = 0; l < L; l++) a += sv[l], b += dv[l];
  }
#endif
  for (; j < hi; j++) {
    const T r = z[j] / (delta[j] - mu);
    a += z[j] * r;
    b += r * r;
  }
  s = a, ds = b;
}

// Root i (0 <= i < K, K >= 2) of f(σ) = 1 + Σ_j z_j² / ((d_j - σ)(d_j + σ)) for 0 = d_0 < d_1 < ... < d_{K-1},
// z_j != 0: σ_i in (d_i, d_{i+1}), the last in (d_{K-1}, sqrt(d_{K-1}² + rho)] (rho = Σ z²). Returned as the
// pole o nearer to it and μ = σ² - d_o², with τ = σ - d_o. delta: K scratch. Returns false when the iteration
// ran out of steps (the estimate is still usable).
template <class T>
bool secular_root(const T *d, const T *z, int64_t K, int64_t i, T rho, T *delta, int64_t &org, T &tau) {
  const T eps = std::numeric_limits<T>::epsilon();
  const bool last = i == K - 1;
  int64_t o;
  T lo, hi, mu;
  if (!last) {
    const T di = d[i], dn = d[i + 1];
    const T gap = (dn - di) * (dn + di), half = gap / 2;
    for (int64_t j = 0; j < K; j++) delta[j] = (d[j] - di) * (d[j] + di);
    T f, unused;  // f, and c: f without the two nearest terms, at σ² = d_i² + gap / 2
    secular_sums(z, delta, 0, K, half, f, unused);
    f += 1;
    const T c = f - z[i] * z[i] / (delta[i] - half) - z[i + 1] * z[i + 1] / (delta[i + 1] - half);
    // First guess: the root of c + z_i² / (Δ_i - μ) + z_{i+1}² / (Δ_{i+1} - μ) with Δ relative to the pole.
    const T zi2 = z[i] * z[i], zn2 = z[i + 1] * z[i + 1];
    if (f >= 0) {  // nearer d_i
      o = i, lo = 0, hi = half;
      const T a = c * gap + zi2 + zn2, b = zi2 * gap;
      const T disc = std::sqrt(std::fabs(a * a - 4 * b * c));
      mu = a > 0 ? 2 * b / (a + disc) : (a - disc) / (2 * c);
    } else {  // nearer d_{i+1}
      o = i + 1, lo = -half, hi = 0;
      const T a = c * gap - zi2 - zn2, b = zn2 * gap;
      const T disc = std::sqrt(std::fabs(a * a + 4 * b * c));
      mu = a < 0 ? 2 * b / (a - disc) : -(a + disc) / (2 * c);
    }
  } else {
    o = K - 1, lo = 0, hi = rho;
    const T dl = d[K - 1], half = rho / 2;
    for (int64_t j = 0; j < K; j++) delta[j] = (d[j] - dl) * (d[j] + dl);
    T f, unused;
    secular_sums(z, delta, 0, K, half, f, unused);
    f += 1;
    const T c = f - z[K - 1] * z[K - 1] / (delta[K - 1] - half);
    if (f >= 0)
      hi = half;
    else
      lo = half;
    mu = c > 0 ? z[K - 1] * z[K - 1] / c : half;  // the one-pole model's root
  }
  const T dorg = d[o];
  if (o != (last ? K - 1 : i))
    for (int64_t j = 0; j < K; j++) delta[j] = (d[j] - dorg) * (d[j] + dorg);  // Δ_j = d_j² - d_o²
  // The model's two poles: pa (with the terms j <= pa) and pb (the rest).
  const int64_t pa = last ? K - 2 : i, pb = pa + 1;
  bool ok = false;
  for (int it = 0; it < 80; it++) {
    if (!(mu > lo && mu < hi)) mu = lo + (hi - lo) / 2;
    T psi, dpsi, phi, dphi;
    secular_sums(z, delta, 0, pa + 1, mu, psi, dpsi);
    secular_sums(z, delta, pb, K, mu, phi, dphi);
    const T w = 1 + psi + phi;
    const T err = 1 + std::fabs(psi) + std::fabs(phi);
    if (std::fabs(w) <= eps * err) {
      ok = true;
      break;
    }
    if (w > 0)
      hi = mu;
    else
      lo = mu;
    // Middle way: c + s / (δa - η) + S / (δb - η) matching f and the derivatives of both parts at η = 0.
    const T da = delta[pa] - mu, db = delta[pb] - mu;
    const T c = w - da * dpsi - db * dphi;
    const T a = (da + db) * w - da * db * (dpsi + dphi);
    const T b = da * db * w;
    T eta;
    if (c == 0) {
      eta = b / a;
    } else {
      const T disc = std::sqrt(std::fabs(a * a - 4 * b * c));
      if (!last)
        eta = a <= 0 ? (a - disc) / (2 * c) : 2 * b / (a + disc);
      else
        eta = a >= 0 ? (a + disc) / (2 * c) : 2 * b / (a - disc);
    }
    T next = mu + eta;
    if (!(next > lo && next < hi)) next = lo + (hi - lo) / 2;
    if (std::fabs(next - mu) <= 2 * eps * std::fabs(next) ||
        hi - lo <= 2 * eps * std::max(std::fabs(lo), std::fabs(hi))) {
      mu = next;
      ok = true;
      break;
    }
    mu = next;
  }
  org = o;
  const T den = dorg + std::sqrt(dorg * dorg + mu);
  tau = den > 0 ? mu / den : T(0);
  return ok;
}

// n x (n + sqre) leaves, n <= 1.
template <class T>
void solve_leaf(DcState<T> &s, T *d, const T *e, int64_t n, int sqre, int64_t off) {
  T *U = s.vectors ? s.u + off * s.ldu + off : nullptr;
  T *V = s.vectors ? s.v + off * s.ldv + off : s.v + off;
  const int64_t ldv = s.ldv;
  if (n == 0 && sqre == 0) return;
  if (n == 0 || sqre == 0) {  // 0 x 1 (V = [1]) or 1 x 1
    V[0] = 1;
    if (!s.vectors) V[ldv] = 1;
    if (n == 1) {
      if (s.vectors) U[0] = d[0] < 0 ? T(-1) : T(1);
      d[0] = std::fabs(d[0]);
    }
    return;
  }
  const T a = d[0], b = e[0], r = std::hypot(a, b);
  T c = 1, sn = 0;
  if (r > 0) c = a / r, sn = b / r;
  if (s.vectors) U[0] = 1;
  V[0] = c, V[1] = -sn, V[ldv] = sn, V[ldv + 1] = c;  // rows 0 and 1: V's first and last rows in both layouts
  d[0] = r;
}

template <class T>
void merge(DcState<T> &s, T *d, int64_t off, int64_t n, int sqre, int64_t k, T alpha, T beta);

// The n x (n + sqre) problem with diagonal d [n] and superdiagonal e [n - 1 + sqre] at block offset off.
template <class T>
void solve(DcState<T> &s, T *d, T *e, int64_t n, int sqre, int64_t off) {
  if (n <= 1) return solve_leaf(s, d, e, n, sqre, off);
  const int64_t k = n / 2;
  const T alpha = d[k], beta = k + 1 < n + sqre ? e[k] : T(0);
  solve(s, d, e, k, 1, off);
  solve(s, d + k + 1, e + k + 1, n - k - 1, sqre, off + k + 1);
  merge(s, d, off, n, sqre, k, alpha, beta);
}

template <class T>
void merge(DcState<T> &s, T *d, int64_t off, int64_t n, int sqre, int64_t k, T alpha, T beta) {
  const T eps = std::numeric_limits<T>::epsilon();
  const int64_t m = n + sqre, nr = n - k - 1, mr = nr + sqre;
  const int64_t ldv = s.ldv, ldu = s.ldu;
  T *U = s.vectors ? s.u + off * ldu + off : nullptr;
  T *V = s.vectors ? s.v + off * ldv + off : s.v + off;
  // V's rows that are carried: all m, or its first and last; the first rtop of them lie in the upper half.
  const int64_t R = s.vectors ? m : 2, rtop = s.vectors ? k + 1 : (mr == 0 ? 2 : 1);
  const T *top_last = s.vectors ? V + k * ldv : V + ldv;   // V1's last row (columns 0..k)
  const T *bot_first = s.vectors ? V + (k + 1) * ldv : V;  // V2's first row (columns k + 1..m - 1)

  // Coordinates of M: 0 (row k / the null columns), 1..k (B1's column c - 1), k + 1..n - 1 (B2's column c).
  T scale = std::max(std::fabs(alpha), std::fabs(beta));
  for (int64_t j = 0; j < n; j++)
    if (j != k) scale = std::max(scale, d[j]);
  if (scale == 0) scale = 1;
  const T a = alpha / scale, b = beta / scale;
  T *dd = s.dd.data(), *z = s.z.data();
  dd[0] = 0;
  for (int64_t c = 1; c <= k; c++) dd[c] = d[c - 1] / scale, z[c] = a * top_last[c - 1];
  for (int64_t c = k + 1; c < n; c++) dd[c] = d[c] / scale, z[c] = b * bot_first[c];
  const T z1 = a * top_last[k], z2 = sqre ? b * bot_first[n] : T(0);
  z[0] = std::hypot(z1, z2);
  T c0 = 1, s0 = 0;
  if (z[0] > 0) c0 = z1 / z[0], s0 = z2 / z[0];

  // Deflation.
  int64_t *order = s.order.data();
  for (int64_t c = 1; c < n; c++) order[c - 1] = c;
  std::sort(order, order + n - 1, [dd](int64_t x, int64_t y) { return dd[x] < dd[y]; });
  T tol = std::max(std::fabs(a), std::fabs(b));
  if (n > 1) tol = std::max(tol, dd[order[n - 2]]);
  tol *= 8 * eps;
  unsigned char *tu = s.tu.data(), *tv = s.tv.data();  // bit 1: nonzero in the upper rows, bit 2: in the lower
  tu[0] = 1, tv[0] = s0 != 0 ? 3 : 1;
  for (int64_t c = 1; c < n; c++) tu[c] = tv[c] = c <= k ? 1 : 2;
  s.nondef.clear(), s.defl.clear(), s.rots.clear();
  s.nondef.push_back(0);
  int64_t p = 0;
  for (int64_t q = 0; q < n - 1; q++) {
    const int64_t c = order[q];
    if (std::fabs(z[c]) <= tol) {
      s.defl.push_back(c);
      continue;
    }
    if (dd[c] - dd[p] <= tol) {
      const T r = std::hypot(z[p], z[c]);
      s.rots.push_back({p, c, z[p] / r, z[c] / r, p != 0});
      z[p] = r, z[c] = 0;
      tv[p] = tv[c] = tv[p] | tv[c];
      if (p != 0) tu[p] = tu[c] = tu[p] | tu[c];
      s.defl.push_back(c);
      continue;
    }
    s.nondef.push_back(c);
    p = c;
  }
  const int64_t K = static_cast<int64_t>(s.nondef.size());
  const T zfloor = eps;  // z_0 must not vanish (pole 0 keeps its root); M is scaled to norm ~1
  if (K > 1 && std::fabs(z[0]) < zfloor) z[0] = zfloor;

  T *dk = s.dk.data(), *zk = s.zk.data(), *zh = s.zh.data(), *sig = s.sig.data(), *tau = s.tau.data();
  int64_t *org = s.org.data();
  T rho = 0;
  for (int64_t j = 0; j < K; j++) dk[j] = dd[s.nondef[j]], zk[j] = z[s.nondef[j]], rho += zk[j] * zk[j];
  const int64_t ndefl = n - K;

  // The halves' vectors as the columns of one matrix per side, in the order of the products' rows: the K kept
  // coordinates nonzero in the upper half only, in both, in the lower only (n1 and n12 count the first groups),
  // then the deflated ones, then (V, sqre = 1) B's own null vector. Deflation's rotations are applied to them.
  auto arrange = [&](const unsigned char *type, int64_t *inv, int64_t &n1, int64_t &n12) {
    int64_t pos = 0;
    for (int want : {1, 3, 2}) {
      if (want == 3) n1 = pos;
      if (want == 2) n12 = pos;
      for (int64_t j = 0; j < K; j++)
        if (type[s.nondef[j]] == want) inv[j] = pos++;
    }
  };
  int64_t *coord = s.coord.data(), *cpos = s.cpos.data();  // column -> coordinate, coordinate -> column
  auto place = [&](const int64_t *inv) {
    for (int64_t j = 0; j < K; j++) coord[inv[j]] = s.nondef[j];
    for (int64_t q = 0; q < ndefl; q++) coord[K + q] = s.defl[q];
    for (int64_t x = 0; x < n; x++) cpos[coord[x]] = x;
  };
  auto rotate = [&](T *Q, int64_t rows, int64_t ld, bool u_side) {
    for (const Rotation<T> &g : s.rots) {
      if (u_side && !g.on_u) continue;
      const int64_t xp = cpos[g.p], xc = cpos[g.c];
      for (int64_t r = 0; r < rows; r++) {
        const T x = Q[r * ld + xp], y = Q[r * ld + xc];
        Q[r * ld + xp] = g.cs * x + g.sn * y;
        Q[r * ld + xc] = g.cs * y - g.sn * x;
      }
    }
  };
  int64_t *invu = s.invu.data(), *invv = s.invv.data();
  int64_t n1u = 0, n12u = 0, n1v = 0, n12v = 0;
  T *Qu = s.qu.data(), *Qv = s.qv.data();  // [n, n], [R, m]
  if (s.vectors) {
    arrange(tu, invu, n1u, n12u);
    place(invu);
    // Outside the halves' blocks this block of U is still zero (as set at the start), so every column is a
    // plain gather; coordinate 0 is e_k, U[k, k] set to 1.
    int64_t *src = s.src.data();
    for (int64_t x = 0; x < n; x++) {
      const int64_t c = coord[x];
      src[x] = c == 0 ? k : c <= k ? c - 1 : c;
    }
    U[k * ldu + k] = 1;
    for (int64_t r = 0; r < n; r++) {
      T *qr = Qu + r * n;
      const T *ur = U + r * ldu;
      for (int64_t x = 0; x < n; x++) qr[x] = ur[src[x]];
    }
    rotate(Qu, n, n, true);
  }
  arrange(tv, invv, n1v, n12v);
  place(invv);
  if (s.vectors) {  // as U's, V's null columns (k and n) mixed into coordinate 0 and B's null vector
    int64_t *src = s.src.data();
    int64_t x0 = 0;
    for (int64_t x = 0; x < n; x++) {
      const int64_t c = coord[x];
      src[x] = c == 0 ? k : c <= k ? c - 1 : c;
      if (c == 0) x0 = x;
    }
    for (int64_t t = 0; t < R; t++) {
      T *qr = Qv + t * m;
      const T *vr = V + t * ldv;
      for (int64_t x = 0; x < n; x++) qr[x] = vr[src[x]];
      if (sqre) {
        qr[x0] = c0 * vr[k] + s0 * vr[n];
        qr[n] = c0 * vr[n] - s0 * vr[k];
      } else {
        qr[x0] = c0 * vr[k];
      }
    }
  } else {  // the first and last rows of the whole problem: the halves' entries side by side
    for (int64_t t = 0; t < R; t++) {
      T *qr = Qv + t * m;
      const T *vr = V + t * ldv;
      if (t < rtop) {
        for (int64_t x = 0; x < n; x++) {
          const int64_t c = coord[x];
          qr[x] = c == 0 ? c0 * vr[k] : c <= k ? vr[c - 1] : T(0);
        }
        if (sqre) qr[n] = -s0 * vr[k];
      } else {
        for (int64_t x = 0; x < n; x++) {
          const int64_t c = coord[x];
          qr[x] = c == 0 ? (sqre ? s0 * vr[n] : T(0)) : c > k ? vr[c] : T(0);
        }
        if (sqre) qr[n] = c0 * vr[n];
      }
    }
  }
  rotate(Qv, R, m, false);

  // The secular equation's roots, Löwner's z, and M's singular vectors: with vectors, um and vm [K, K] (rows in
  // the columns' order above, a column per root); without, the two carried rows of V's products directly (vo).
  T *um = s.um.data(), *vm = s.vm.data(), *vo = s.vo.data();
  if (K == 1) {
    sig[0] = std::fabs(zk[0]);
    um[0] = 1;
    vm[0] = zk[0] < 0 ? T(-1) : T(1);
    if (!s.vectors)
      for (int64_t t = 0; t < 2; t++) vo[t * K] = Qv[t * m + invv[0]] * vm[0];
  } else {
    for (int64_t i = 0; i < K; i++) {
      if (!secular_root(dk, zk, K, i, rho, s.delta.data(), org[i], tau[i])) s.failures++;
      sig[i] = dk[org[i]] + tau[i];
    }
    // Löwner: ẑ_j² = (σ_{K-1}² - d_j²) Π_{i<j} (σ_i² - d_j²) / (d_i² - d_j²)
    //                                  Π_{i>j} (σ_{i-1}² - d_j²) / (d_i² - d_j²),
    // accumulated a root at a time over all j (contiguous loops); σ_i - d_j = (d_o - d_j) + τ_i.
    T *dorg = s.dorg.data();
    for (int64_t i = 0; i < K; i++) dorg[i] = dk[org[i]];
    for (int64_t j = 0; j < K; j++) zh[j] = ((dorg[K - 1] - dk[j]) + tau[K - 1]) * (sig[K - 1] + dk[j]);
    for (int64_t i = 0; i < K; i++) {
      const T di = dk[i];
      if (i > 0) {  // j < i: the root below pole i
        const T dp = dorg[i - 1], tp = tau[i - 1], sp = sig[i - 1];
        for (int64_t j = 0; j < i; j++) zh[j] *= ((dp - dk[j]) + tp) * (sp + dk[j]) / ((di - dk[j]) * (di + dk[j]));
      }
      const T dp = dorg[i], tp = tau[i], sp = sig[i];
      for (int64_t j = i + 1; j < K; j++)  // j > i: root i
        zh[j] *= ((dp - dk[j]) + tp) * (sp + dk[j]) / ((di - dk[j]) * (di + dk[j]));
    }
    for (int64_t j = 0; j < K; j++) zh[j] = std::copysign(std::sqrt(std::fabs(zh[j])), zk[j]);
    // x_ij = ẑ_j / (d_j² - σ_i²): v_i ∝ x_i, u_i ∝ (-1, d_j x_ij). Rows j (coordinates), contiguous over
    // roots i.
    T *nv = s.work.data(), *nu = s.work2.data();
    for (int64_t i = 0; i < K; i++) nv[i] = 0, nu[i] = 1;
    if (s.vectors) {
      for (int64_t j = 0; j < K; j++) {
        T *xr = vm + invv[j] * K;
        const T dj = dk[j], zj = zh[j];
        for (int64_t i = 0; i < K; i++) {
          const T t = zj / (-((dorg[i] - dj) + tau[i]) * (sig[i] + dj));
          xr[i] = t;
          nv[i] += t * t;
          nu[i] += (dj * t) * (dj * t);  // dk[0] = 0
        }
      }
      for (int64_t i = 0; i < K; i++) nv[i] = 1 / std::sqrt(nv[i]), nu[i] = 1 / std::sqrt(nu[i]);
      for (int64_t j = 0; j < K; j++) {
        T *vr = vm + invv[j] * K, *ur = um + invu[j] * K;
        const T dj = dk[j];
        if (j == 0)
          for (int64_t i = 0; i < K; i++) ur[i] = -nu[i];
        else
          for (int64_t i = 0; i < K; i++) ur[i] = dj * vr[i] * nu[i];
        for (int64_t i = 0; i < K; i++) vr[i] *= nv[i];
      }
    } else {  // V's two carried rows, vo[t, i] = Σ_j Qv[t, j's column] x_ij / ||x_i||, x formed twice
      for (int64_t j = 0; j < K; j++) {
        const T dj = dk[j], zj = zh[j];
        for (int64_t i = 0; i < K; i++) {
          const T t = zj / (-((dorg[i] - dj) + tau[i]) * (sig[i] + dj));
          nv[i] += t * t;
        }
      }
      for (int64_t i = 0; i < 2 * K; i++) vo[i] = 0;
      for (int64_t j = 0; j < K; j++) {
        const T dj = dk[j], zj = zh[j], q0 = Qv[invv[j]], q1 = Qv[m + invv[j]];
        for (int64_t i = 0; i < K; i++) {
          const T t = zj / (-((dorg[i] - dj) + tau[i]) * (sig[i] + dj));
          vo[i] += q0 * t, vo[K + i] += q1 * t;
        }
      }
      for (int64_t i = 0; i < K; i++) {
        const T r = 1 / std::sqrt(nv[i]);
        vo[i] *= r, vo[K + i] *= r;
      }
    }
  }

  // The products (deflated columns copied).
  if (s.vectors) {
    kiln_context *ctx = s.ctx;
    linalg_gemm<T>(ctx, k + 1, K, n12u, T(1), Qu, n, 1, um, K, 1, T(0), U, ldu);
    linalg_gemm<T>(ctx, nr, K, K - n1u, T(1), Qu + (k + 1) * n + n1u, n, 1, um + n1u * K, K, 1, T(0), U + (k + 1) * ldu,
                   ldu);
    if (ndefl > 0)
      for (int64_t r = 0; r < n; r++) std::memcpy(U + r * ldu + K, Qu + r * n + K, ndefl * sizeof(T));
    linalg_gemm<T>(ctx, rtop, K, n12v, T(1), Qv, m, 1, vm, K, 1, T(0), V, ldv);
    linalg_gemm<T>(ctx, R - rtop, K, K - n1v, T(1), Qv + rtop * m + n1v, m, 1, vm + n1v * K, K, 1, T(0), V + rtop * ldv,
                   ldv);
  } else {
    for (int64_t t = 0; t < 2; t++) std::memcpy(V + t * ldv, vo + t * K, K * sizeof(T));
  }
  if (m > K)
    for (int64_t t = 0; t < R; t++) std::memcpy(V + t * ldv + K, Qv + t * m + K, (m - K) * sizeof(T));

  for (int64_t i = 0; i < K; i++) d[i] = sig[i] * scale;
  for (int64_t q = 0; q < ndefl; q++) d[K + q] = dd[s.defl[q]] * scale;
}

}  // namespace

template <class T>
int64_t bidiagonal_svd_dc(kiln_context *ctx, T *d, T *e, int64_t n, T *u, int64_t ldu, T *vt, int64_t ldvt,
                          bool vectors) {
  if (n <= 0) return 0;
  const T eps = std::numeric_limits<T>::epsilon();
  T anorm = 0;
  for (int64_t i = 0; i < n; i++) anorm = std::max(anorm, std::fabs(d[i]));
  for (int64_t i = 0; i + 1 < n; i++) anorm = std::max(anorm, std::fabs(e[i]));
  bool finite = std::isfinite(anorm);
  for (int64_t i = 0; i < n && finite; i++) finite = std::isfinite(d[i]) && (i + 1 == n || std::isfinite(e[i]));
  if (!finite) {
    const T nan = std::numeric_limits<T>::quiet_NaN();
    for (int64_t i = 0; i < n; i++) {
      d[i] = nan;
      if (vectors)
        for (int64_t j = 0; j < n; j++) u[i * ldu + j] = nan, vt[i * ldvt + j] = nan;
    }
    return 1;
  }
  DcState<T> s;
  s.ctx = ctx;
  s.vectors = vectors;
  std::vector<T> vbuf;
  if (vectors) {  // V itself is built in vt, transposed at the end
    for (int64_t i = 0; i < n; i++) {
      std::fill(u + i * ldu, u + i * ldu + n, T(0));
      std::fill(vt + i * ldvt, vt + i * ldvt + n, T(0));
    }
    s.u = u, s.ldu = ldu, s.v = vt, s.ldv = ldvt;
  } else {
    vbuf.assign(2 * (n + 1), T(0));
    s.v = vbuf.data(), s.ldv = n + 1;
  }
  if (anorm > 0) {
    for (int64_t i = 0; i < n; i++) d[i] /= anorm;
    for (int64_t i = 0; i + 1 < n; i++) e[i] /= anorm;
    std::vector<int64_t> ends;  // blocks end after rows where |e_i| <= eps (e_i dropped)
    int64_t nb = 0;
    for (int64_t i = 0, start = 0; i < n; i++) {
      if (i + 1 < n && !(std::fabs(e[i]) <= eps)) continue;
      ends.push_back(i + 1);
      nb = std::max(nb, i + 1 - start);
      start = i + 1;
    }
    const int64_t cap = nb + 1;  // the merges' work, for the largest block
    for (std::vector<T> *w : {&s.dd, &s.z, &s.dk, &s.zk, &s.zh, &s.sig, &s.tau, &s.dorg, &s.delta, &s.work, &s.work2})
      w->resize(cap);
    for (std::vector<int64_t> *w : {&s.order, &s.org, &s.coord, &s.cpos, &s.src, &s.invu, &s.invv}) w->resize(cap);
    s.tu.resize(cap), s.tv.resize(cap);
    if (vectors)
      s.qu.resize(nb * nb), s.qv.resize(nb * nb), s.um.resize(nb * nb), s.vm.resize(nb * nb);
    else
      s.qv.resize(2 * cap), s.vo.resize(2 * cap), s.um.resize(1), s.vm.resize(1);
    int64_t start = 0;
    for (const int64_t end : ends) {
      solve(s, d + start, e + start, end - start, 0, start);
      start = end;
    }
    for (int64_t i = 0; i < n; i++) d[i] *= anorm;
  } else {
    for (int64_t i = 0; i < n; i++) {
      d[i] = 0;
      if (vectors) u[i * ldu + i] = 1, vt[i * ldvt + i] = 1;
    }
  }
  // Descending order, vectors permuted to match.
  std::vector<int64_t> idx(n);
  for (int64_t i = 0; i < n; i++) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [d](int64_t x, int64_t y) { return d[x] > d[y]; });
  std::vector<T> ds(d, d + n);
  for (int64_t i = 0; i < n; i++) d[i] = ds[idx[i]];
  if (vectors) {
    std::vector<T> row(n);
    for (T *a : {u, vt}) {
      const int64_t lda = a == u ? ldu : ldvt;
      for (int64_t r = 0; r < n; r++) {
        T *ar = a + r * lda;
        std::copy(ar, ar + n, row.begin());
        for (int64_t i = 0; i < n; i++) ar[i] = row[idx[i]];
      }
    }
    constexpr int64_t kTile = 16;  // V to Vᵀ in place, tile by tile (32 thrashes L1 at power-of-two strides)
    for (int64_t i0 = 0; i0 < n; i0 += kTile)
      for (int64_t j0 = i0; j0 < n; j0 += kTile) {
        const int64_t i1 = std::min(n, i0 + kTile), j1 = std::min(n, j0 + kTile);
        for (int64_t i = i0; i < i1; i++)
          for (int64_t j = std::max(j0, i + 1); j < j1; j++) std::swap(vt[i * ldvt + j], vt[j * ldvt + i]);
      }
  }
  return s.failures > 0 ? 1 : 0;
}

template int64_t bidiagonal_svd_dc<float>(kiln_context *, float *, float *, int64_t, float *, int64_t, float *, int64_t,
                                          bool);
template int64_t bidiagonal_svd_dc<double>(kiln_context *, double *, double *, int64_t, double *, int64_t, double *,
                                           int64_t, bool);

}  // namespace kiln::cpu
