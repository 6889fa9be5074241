// tridiagonal_dc (linalg_kernels.h): eigenvalues and eigenvectors of a symmetric tridiagonal matrix by divide and
// conquer (Cuppen's method with Gu and Eisenstat's eigenvectors: the method of LAPACK's stedc, laed0..laed6),
// computed in T.
//
// Each block between negligible off-diagonals (|e_i| <= u sqrt|d_i| sqrt|d_i+1|, u the unit roundoff: stedc's
// test) is solved on its own, scaled by a power of two (exact) so that its largest entry is in [1, 2). A block of
// more than kLeaf rows is torn in the middle, T = diag(T1, T2) + beta v vᵀ with v = e_m-1 + sign(beta) e_m (|beta|
// comes off the two diagonal entries that touch), its halves are solved recursively (a leaf by tridiagonal_ql on
// an identity Zᵀ), and the merge diagonalises D + rho z zᵀ, where D holds the halves' eigenvalues,
// z = [last row of Q1, sign(beta) first row of Q2] / sqrt 2 and rho = 2 |beta|:
//   - deflation (laed2): a pole with rho |z_i| <= tol keeps d_i and its column; two poles that a Givens rotation
//     zeroing one z component leaves coupled by |t c s| <= tol are rotated together, columns too, and the one
//     whose z became zero deflates; tol = 8 u max(max|d|, max|z|);
//   - the secular equation 1 / rho + sum z_i² / (d_i - lambda) = 0, for each remaining root in its own interval
//     (laed4): the root is kept as an offset tau from the nearer pole, so every d_j - lambda is formed as
//     (d_j - pole) - tau with high relative accuracy; psi and phi are interpolated by rational functions (fixed
//     weight, or the middle way, or laed6's three poles when the neighbours pull the root away from its origin),
//     every step kept inside a shrinking bracket, bisecting when it would leave it; laed5's closed form for K = 2;
//   - Gu and Eisenstat: z is recomputed from the computed roots (Löwner's formula, as a product of ratios that
//     stays in range), so the vectors z^_i / (d_i - lambda_j) are orthogonal to working precision;
//   - the merged vectors are [Q1 0; 0 Q2] U. The non-deflated columns are grouped as laed2's types: top rows
//     only, both (rotated across the halves), bottom rows only; the product is then two GEMMs on linalg_gemm (the
//     top rows with the first two groups, the bottom rows with the last two: half the flops of one dense product
//     when nothing mixes), written straight into Q's first K columns.
// Columns are not kept in order: a solved block's eigenvalue d[c] belongs to its column c, and perm lists the
// columns in ascending order (laed0's indxq), so a merge only moves the deflated columns that lie where its GEMM
// writes, and Z is permuted once at the end. Copies of columns go row by row, in runs of consecutive columns.
// The secular sums keep several partial sums so that they vectorise without reassociation; LAPACK's error bound
// (the sum of the running partial sums) is the same sum written with weights. The secular solver agrees with
// OpenBLAS's slaed4/dlaed4 on 40,000 float and 20,000 double random problems (a harness outside the
// repository; bench/results/2026-12-08-twenty-fourth-linalg-dc.md); it differs in two ways, both for robustness: a
// laed6 that does not converge hands back its last iterate as a proposal instead of failing the root, and laed6 stops
// when its bracket is an ulp wide. Secular arithmetic: SecularReal<T> (kSecularInDouble) is the type of the roots,
// differences and U; float's is float by default, as in sstedc, whose accuracy it matches. Everything of O(n³) runs in
// T. Non-finite input gives NaN outputs and returns 1.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <type_traits>
#include <vector>

#include "linalg_kernels.h"
#include "linalg_vec.h"
#include "scratch.h"

namespace kiln::cpu {
namespace {

// Blocks of at most kLeaf rows are solved by tridiagonal_ql (LAPACK's smlsiz is 25).
constexpr int64_t kLeaf = 25;
// When true, float's secular equations (roots, differences, U) are solved in double.
constexpr bool kSecularInDouble = false;
// Largest block whose scratch a thread keeps between calls (2 n² elements: 4 MiB of double at 512).
constexpr int64_t kKeepMax = 512;
// Iteration limits of laed4 and laed6.
constexpr int kMaxIt = 30, kMaxIt3 = 40;

template <class T>
using SecularReal = std::conditional_t<kSecularInDouble, double, T>;

// LAPACK's eps: the unit roundoff.
template <class R>
constexpr R unit_roundoff() {
  return std::numeric_limits<R>::epsilon() / 2;
}

// dst[j] = src[idx[j]] for j < m, row after row. idx is mostly runs of consecutive columns (the columns of a solved
// block are its roots in order, then the few it deflated), copied as blocks; when runs are short on average it
// gathers element by element.
class RowGather {
 public:
  RowGather(const int64_t *idx, int64_t m) : idx_(idx), m_(m) {
    for (int64_t j = 0; j < m; j++)
      if (j == 0 || idx[j] != idx[j - 1] + 1) runs_.push_back({j, idx[j], 0});
    for (size_t r = 0; r < runs_.size(); r++)
      runs_[r].len = (r + 1 < runs_.size() ? runs_[r + 1].dst : m) - runs_[r].dst;
    blocks_ = int64_t(runs_.size()) * 8 <= m;
  }
  template <class T>
  void row(const T *src, T *dst) const {
    if (blocks_) {
      for (const Run &r : runs_) std::copy(src + r.src, src + r.src + r.len, dst + r.dst);
    } else {
      for (int64_t j = 0; j < m_; j++) dst[j] = src[idx_[j]];
    }
  }

 private:
  struct Run {
    int64_t dst, src, len;
  };
  const int64_t *idx_;
  int64_t m_;
  std::vector<Run> runs_;
  bool blocks_;
};

// Over j in [j0, j1), with delta_j = (d_j - org) - tau: s = sum t_j where t_j = z_j² / delta_j, ds = sum (z_j /
// delta_j)², err = sum w_j t_j with the weights w_j = w0 + ws (j - j0). err with w_j the number of running partial sums
// that contain t_j is LAPACK's bound for summing t in order. kLanes partial sums keep the loop in SIMD
// registers (the weights are small integers, exact in R).
template <class R>
void secular_sums(const R *d, R org, const R *z, int64_t j0, int64_t j1, R tau, R w0, R ws, R &s_out, R &ds_out,
                  R &err_out) {
  constexpr int kLanes = 64 / sizeof(R);
  R s[kLanes] = {}, ds[kLanes] = {}, err[kLanes] = {}, wt[kLanes];
  for (int u = 0; u < kLanes; u++) wt[u] = w0 + ws * R(u);
  const R wstep = ws * R(kLanes);
  int64_t j = j0;
  for (; j + kLanes <= j1; j += kLanes)
    for (int u = 0; u < kLanes; u++) {
      const R q = z[j + u] / ((d[j + u] - org) - tau);
      const R t = z[j + u] * q;
      s[u] += t;
      ds[u] += q * q;
      err[u] += wt[u] * t;
      wt[u] += wstep;
    }
  for (int u = 0; j < j1; j++, u++) {
    const R q = z[j] / ((d[j] - org) - tau);
    const R t = z[j] * q;
    s[u] += t;
    ds[u] += q * q;
    err[u] += wt[u] * t;
  }
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int u = 0; u < w; u++) {
      s[u] += s[u + w];
      ds[u] += ds[u + w];
      err[u] += err[u + w];
    }
  s_out = s[0], ds_out = ds[0], err_out = err[0];
}

// The root a + sqrt |a² - 4 b c| form used by every step below, written to avoid cancellation: the root of
// c x² - a x + b = 0 that laed4 and laed6 take.
template <class R>
R quad_root(R a, R b, R c) {
  if (c == 0) return b / a;
  const R s = std::sqrt(std::fabs(a * a - 4 * b * c));
  return a <= 0 ? (a - s) / (2 * c) : 2 * b / (a + s);
}

// laed6: the root, in the interval of the origin (between d[1] and d[2] when orgati, else d[0] and d[1]), nearest
// 0 of f(x) = rho + sum_k z[k] / (d[k] - x), given finit = f(0) (Gragg-Thornton-Warner cubically convergent
// iteration, bracketed). kniter == 2 asks for laed6's own starting guess. Returns false when it did not converge.
template <class R>
bool laed6(int kniter, bool orgati, R rho, const R *d, const R *z, R finit, R &tau_out) {
  R lbd = orgati ? d[1] : d[0], ubd = orgati ? d[2] : d[1];
  if (finit < 0)
    lbd = 0;
  else
    ubd = 0;
  R tau = 0;
  if (kniter == 2) {
    R a, b, c;
    if (orgati) {
      const R t = (d[2] - d[1]) / 2;
      c = rho + z[0] / ((d[0] - d[1]) - t);
      a = c * (d[1] + d[2]) + z[1] + z[2];
      b = c * d[1] * d[2] + z[1] * d[2] + z[2] * d[1];
    } else {
      const R t = (d[0] - d[1]) / 2;
      c = rho + z[2] / ((d[2] - d[1]) - t);
      a = c * (d[0] + d[1]) + z[0] + z[1];
      b = c * d[0] * d[1] + z[0] * d[1] + z[1] * d[0];
    }
    const R m = std::max({std::fabs(a), std::fabs(b), std::fabs(c)});
    if (m > 0) tau = quad_root(a / m, b / m, c / m);
    if (!(tau >= lbd && tau <= ubd)) tau = (lbd + ubd) / 2;
    if (d[0] == tau || d[1] == tau || d[2] == tau) {
      tau = 0;
    } else {
      const R t = finit + tau * z[0] / (d[0] * (d[0] - tau)) + tau * z[1] / (d[1] * (d[1] - tau)) +
                  tau * z[2] / (d[2] * (d[2] - tau));
      if (t <= 0)
        lbd = tau;
      else
        ubd = tau;
      if (std::fabs(finit) <= std::fabs(t)) tau = 0;
    }
  }
  // Scale up when the poles are so near that 1 / (d - tau)³ could overflow (d, z, tau are O(1) here).
  const int e1 = std::ilogb(std::numeric_limits<R>::min()) / 3;
  const R small1 = std::ldexp(R(1), e1), small2 = small1 * small1;
  const R near = orgati ? std::min(std::fabs(d[1] - tau), std::fabs(d[2] - tau))
                        : std::min(std::fabs(d[0] - tau), std::fabs(d[1] - tau));
  R ds[3] = {d[0], d[1], d[2]}, zs[3] = {z[0], z[1], z[2]}, sclinv = 1;
  if (near <= small1) {
    const R sclfac = near <= small2 ? 1 / small2 : 1 / small1;
    sclinv = near <= small2 ? small2 : small1;
    for (int k = 0; k < 3; k++) ds[k] *= sclfac, zs[k] *= sclfac;
    tau *= sclfac, lbd *= sclfac, ubd *= sclfac;
  }
  R fc = 0, df = 0, ddf = 0;
  for (int k = 0; k < 3; k++) {
    const R t = 1 / (ds[k] - tau), t1 = zs[k] * t, t2 = t1 * t;
    fc += t1 / ds[k];
    df += t2;
    ddf += t2 * t;
  }
  R f = finit + tau * fc;
  bool ok = false;
  if (f == 0) {
    ok = true;
  } else {
    if (f <= 0)
      lbd = tau;
    else
      ubd = tau;
    for (int it = 2; it <= kMaxIt3; it++) {
      const R t1 = orgati ? ds[1] - tau : ds[0] - tau, t2 = orgati ? ds[2] - tau : ds[1] - tau;
      R a = (t1 + t2) * f - t1 * t2 * df, b = t1 * t2 * f, c = f - (t1 + t2) * df + t1 * t2 * ddf;
      const R m = std::max({std::fabs(a), std::fabs(b), std::fabs(c)});
      R eta = m > 0 ? quad_root(a / m, b / m, c / m) : R(0);
      if (f * eta >= 0) eta = -f / df;
      const R prev = tau;
      tau += eta;
      if (!(tau >= lbd && tau <= ubd)) tau = (lbd + ubd) / 2;
      if (tau == prev) break;  // stalled (the bracket is an ulp wide)
      fc = 0, df = 0, ddf = 0;
      R erretm = 0;
      for (int k = 0; k < 3; k++) {
        const R t = 1 / (ds[k] - tau), u1 = zs[k] * t, u2 = u1 * t, u4 = u1 / ds[k];
        fc += u4;
        erretm += std::fabs(u4);
        df += u2;
        ddf += u2 * t;
      }
      f = finit + tau * fc;
      erretm = 8 * (std::fabs(finit) + std::fabs(tau) * erretm) + std::fabs(tau) * df;
      if (std::fabs(f) <= unit_roundoff<R>() * erretm) {
        ok = true;
        break;
      }
      if (f <= 0)
        lbd = tau;
      else
        ubd = tau;
    }
  }
  tau_out = tau * sclinv;
  return ok;
}

// laed4 for K >= 3: root i (0-based) of 1 / rho + sum_j z_j² / (d_j - lambda) = 0, d strictly ascending, rho > 0.
// On return lambda = org + tau with org the pole it is measured from: d_j - lambda is then formed as
// (d_j - org) - tau, with high relative accuracy. Returns false when the iteration did not converge (the last iterate
// is returned).
template <class R>
bool secular_root(int64_t K, int64_t i, const R *d, const R *z, R rho, R &org_out, R &tau_out) {
  const R eps = unit_roundoff<R>(), rhoinv = 1 / rho;
  R tau, lb, ub, psi, dpsi, epsi, phi, dphi, ephi, w, dw, erretm;
  int64_t org;
  bool ok = false;
  if (i == K - 1) {
    // The last root lies in (d_K-1, d_K-1 + rho]; origin d_K-1.
    const int64_t n1 = K - 1, n2 = K - 2;
    org = n1;
    const R dorg = d[n1];
    auto dd = [&](int64_t j) { return d[j] - dorg; };
    const R midpt = rho / 2;
    R t0, t1;
    secular_sums(d, dorg, z, 0, n2, midpt, R(0), R(0), psi, t0, t1);
    const R c0 = rhoinv + psi;
    w = c0 + z[n2] * z[n2] / (dd(n2) - midpt) + z[n1] * z[n1] / -midpt;
    const R del = d[n1] - d[n2];
    auto guess = [&]() {
      const R a = -c0 * del + z[n2] * z[n2] + z[n1] * z[n1], b = z[n1] * z[n1] * del;
      const R s = std::sqrt(a * a + 4 * b * c0);
      return a < 0 ? 2 * b / (s - a) : (a + s) / (2 * c0);
    };
    if (w <= 0) {
      const R temp = z[n2] * z[n2] / (del + rho) + z[n1] * z[n1] / rho;
      tau = c0 <= temp ? rho : guess();
      lb = midpt, ub = rho;
    } else {
      tau = guess();
      lb = 0, ub = midpt;
    }
    auto eval = [&]() {
      secular_sums(d, dorg, z, 0, n1, tau, R(n1), R(-1), psi, dpsi, epsi);
      const R q = z[n1] / -tau;
      phi = z[n1] * q;
      dphi = q * q;
      erretm = 8 * (-phi - psi) + std::fabs(epsi) - phi + rhoinv + std::fabs(tau) * (dpsi + dphi);
      w = rhoinv + phi + psi;
    };
    eval();
    for (int it = 2; it <= kMaxIt + 1; it++) {
      if (std::fabs(w) <= eps * erretm) {
        ok = true;
        break;
      }
      if (it > kMaxIt) break;
      if (w <= 0)
        lb = std::max(lb, tau);
      else
        ub = std::min(ub, tau);
      // laed4 takes |c| on the first step only: a negative c later is what lets the step leave the two-pole
      // model when a distant pole carries the weight (without it such a root is only reached by bisection).
      const R dm = dd(n2) - tau, dn = -tau;
      R c = w - dm * dpsi - dn * dphi;
      if (it == 2) c = std::fabs(c);
      const R a = (dm + dn) * w - dm * dn * (dpsi + dphi), b = dm * dn * w;
      R eta;
      if (c == 0 && it == 2) {
        eta = ub - tau;
      } else if (c == 0 && a >= 0) {
        eta = std::numeric_limits<R>::infinity();  // as laed4's division by zero: the bracket takes over below
      } else {
        const R s = std::sqrt(std::fabs(a * a - 4 * b * c));
        eta = a >= 0 ? (a + s) / (2 * c) : 2 * b / (a - s);
      }
      if (w * eta > 0) eta = -w / (dpsi + dphi);
      if (tau + eta > ub || tau + eta < lb) eta = w < 0 ? (ub - tau) / 2 : (lb - tau) / 2;
      tau += eta;
      eval();
    }
  } else {
    // Root i lies in (d_i, d_i+1): the origin is the nearer of the two, decided by the sign at the midpoint.
    const int64_t ip1 = i + 1;
    const R del = d[ip1] - d[i], midpt = del / 2;
    R t0, t1;
    secular_sums(d, d[i], z, 0, i, midpt, R(0), R(0), psi, t0, t1);
    secular_sums(d, d[i], z, i + 2, K, midpt, R(0), R(0), phi, t0, t1);
    const R c0 = rhoinv + psi + phi;
    w = c0 + z[i] * z[i] / -midpt + z[ip1] * z[ip1] / (del - midpt);
    const bool orgati = w > 0;
    if (orgati) {
      const R a = c0 * del + z[i] * z[i] + z[ip1] * z[ip1], b = z[i] * z[i] * del;
      const R s = std::sqrt(std::fabs(a * a - 4 * b * c0));
      tau = a > 0 ? 2 * b / (a + s) : (a - s) / (2 * c0);
      lb = 0, ub = midpt;
      org = i;
    } else {
      const R a = c0 * del - z[i] * z[i] - z[ip1] * z[ip1], b = z[ip1] * z[ip1] * del;
      const R s = std::sqrt(std::fabs(a * a + 4 * b * c0));
      tau = a < 0 ? 2 * b / (a - s) : -(a + s) / (2 * c0);
      lb = -midpt, ub = 0;
      org = ip1;
    }
    const R dorg = d[org];
    auto dd = [&](int64_t j) { return d[j] - dorg; };
    const int64_t ii = org, iim1 = ii - 1, iip1 = ii + 1;
    R wbase;  // w without the origin's own term
    auto eval = [&]() {
      secular_sums(d, dorg, z, 0, ii, tau, R(ii), R(-1), psi, dpsi, epsi);
      secular_sums(d, dorg, z, iip1, K, tau, R(1), R(1), phi, dphi, ephi);
      wbase = rhoinv + phi + psi;
      R q = z[ii] / (dd(ii) - tau);
      dw = dpsi + dphi + q * q;
      q = z[ii] * q;
      w = wbase + q;
      erretm = 8 * (phi - psi) + std::fabs(epsi) + ephi + 2 * rhoinv + 3 * std::fabs(q) + std::fabs(tau) * dw;
    };
    eval();
    // Three poles (laed6) when the origin's neighbours pull the root away from it.
    const bool swtch3 = (orgati ? wbase < 0 : wbase > 0) && ii != 0 && ii != K - 1;
    bool swtch = false;
    for (int it = 2; it <= kMaxIt + 1; it++) {
      if (std::fabs(w) <= eps * erretm) {
        ok = true;
        break;
      }
      if (it > kMaxIt) break;
      if (w <= 0)
        lb = std::max(lb, tau);
      else
        ub = std::min(ub, tau);
      const R di = dd(i) - tau, dip1 = dd(ip1) - tau;
      R eta;
      if (!swtch3) {
        R c;
        if (!swtch) {
          if (orgati) {
            const R q = z[i] / di;
            c = w - dip1 * dw - (d[i] - d[ip1]) * q * q;
          } else {
            const R q = z[ip1] / dip1;
            c = w - di * dw - (d[ip1] - d[i]) * q * q;
          }
        } else {
          const R q = z[ii] / (dd(ii) - tau);
          if (orgati)
            dpsi += q * q;
          else
            dphi += q * q;
          c = w - di * dpsi - dip1 * dphi;
        }
        R a = (di + dip1) * w - di * dip1 * dw;
        const R b = di * dip1 * w;
        if (c == 0 && a == 0) {
          if (!swtch)
            a = orgati ? z[i] * z[i] + dip1 * dip1 * (dpsi + dphi) : z[ip1] * z[ip1] + di * di * (dpsi + dphi);
          else
            a = di * di * dpsi + dip1 * dip1 * dphi;
        }
        eta = quad_root(a, b, c);
      } else {
        const R dm = dd(iim1) - tau, d0 = dd(ii) - tau, dpl = dd(iip1) - tau;
        const R temp = rhoinv + psi + phi;
        R c, zz[3], dl[3] = {dm, d0, dpl};
        if (swtch) {
          c = temp - dm * dpsi - dpl * dphi;
          zz[0] = dm * dm * dpsi;
          zz[2] = dpl * dpl * dphi;
        } else if (orgati) {
          const R q = z[iim1] / dm, t1 = q * q;
          c = temp - dpl * (dpsi + dphi) - (d[iim1] - d[iip1]) * t1;
          zz[0] = z[iim1] * z[iim1];
          zz[2] = dpl * dpl * ((dpsi - t1) + dphi);
        } else {
          const R q = z[iip1] / dpl, t1 = q * q;
          c = temp - dm * (dpsi + dphi) - (d[iip1] - d[iim1]) * t1;
          zz[0] = dm * dm * (dpsi + (dphi - t1));
          zz[2] = z[iip1] * z[iip1];
        }
        zz[1] = z[ii] * z[ii];
        // laed4 gives up when laed6 does; here its last iterate is only a proposal like any other step, which
        // the bracket below may replace by bisection. (laed6 can stall when the model's root lies within an ulp
        // of a pole, its test failing by a hair: a float case where the true root was far from that pole.)
        laed6(it, orgati, c, dl, zz, w, eta);
      }
      if (w * eta >= 0) eta = -w / dw;
      if (tau + eta > ub || tau + eta < lb) eta = w < 0 ? (ub - tau) / 2 : (lb - tau) / 2;
      const R prew = w;
      tau += eta;
      eval();
      if (it == 2)
        swtch = orgati ? -w > std::fabs(prew) / 10 : w > std::fabs(prew) / 10;
      else if (w * prew > 0 && std::fabs(w) > std::fabs(prew) / 10)
        swtch = !swtch;
    }
  }
  org_out = d[org];
  tau_out = tau;
  return ok;
}

// laed5: both roots of diag(d0, d1) + rho z zᵀ (d0 < d1, rho > 0) and their unit eigenvectors, v[j] = (v0, v1).
template <class R>
void secular_two(const R *d, const R *z, R rho, R *lambda, R (*v)[2]) {
  const R del = d[1] - d[0], z0 = z[0] * z[0], z1 = z[1] * z[1];
  auto unit = [](R a, R b, R *out) {
    const R s = std::sqrt(a * a + b * b);
    out[0] = a / s, out[1] = b / s;
  };
  const R w = 1 + 2 * rho * (z1 - z0) / del;
  if (w > 0) {  // root 0 nearer d0
    const R b = del + rho * (z0 + z1), c = rho * z0 * del;
    const R tau = 2 * c / (b + std::sqrt(std::fabs(b * b - 4 * c)));
    lambda[0] = d[0] + tau;
    unit(-z[0] / tau, z[1] / (del - tau), v[0]);
  } else {  // root 0 nearer d1
    const R b = -del + rho * (z0 + z1), c = rho * z1 * del;
    const R s = std::sqrt(b * b + 4 * c);
    const R tau = b > 0 ? -2 * c / (b + s) : (b - s) / 2;
    lambda[0] = d[1] + tau;
    unit(-z[0] / (del + tau), -z[1] / tau, v[0]);
  }
  const R b = -del + rho * (z0 + z1), c = rho * z1 * del;
  const R s = std::sqrt(b * b + 4 * c);
  const R tau = b > 0 ? (b + s) / 2 : 2 * c / (s - b);
  lambda[1] = d[1] + tau;
  unit(-z[0] / (del + tau), -z[1] / tau, v[1]);
}

// The recursion. A solved block leaves its eigenvectors in its diagonal block of q, column c with eigenvalue d[c],
// in no particular column order: perm[k] is the column of the k-th smallest eigenvalue (LAPACK's indxq). So a
// merge moves only the few deflated columns that sit where its GEMM writes, and the columns are sorted once, at
// the end.
template <class T>
class DivideConquer {
  using R = SecularReal<T>;

 public:
  // buf: scratch of at least buffer_size(nmax) elements.
  DivideConquer(kiln_context *ctx, int64_t nmax, T *buf)
      : ctx_(ctx),
        wbuf_(buf),
        u_(buf + nmax * nmax),
        z_(nmax),
        dl_(nmax),
        wl_(nmax),
        dg_(nmax),
        wg_(nmax),
        lam_(nmax),
        org_(nmax),
        tau_(nmax),
        what_(nmax),
        s_(nmax),
        order_(nmax),
        type_(nmax),
        ndcol_(nmax),
        defcol_(nmax),
        gp_(nmax),
        colg_(nmax),
        moves_(nmax) {}

  static int64_t buffer_size(int64_t nmax) { return 2 * nmax * nmax; }

  // Eigen-decomposition of the block d [n], e [n] (e destroyed) into q's diagonal block [n, n] (row stride ldq,
  // zero on entry) and perm [n] (local column indices).
  bool solve(T *d, T *e, int64_t n, T *q, int64_t ldq, int64_t *perm) {
    if (n <= kLeaf) return leaf(d, e, n, q, ldq, perm);
    const int64_t n1 = n / 2;
    const T beta = e[n1 - 1];
    d[n1 - 1] -= std::fabs(beta);
    d[n1] -= std::fabs(beta);
    bool ok = solve(d, e, n1, q, ldq, perm);
    ok = solve(d + n1, e + n1, n - n1, q + n1 * ldq + n1, ldq, perm + n1) && ok;
    return merge(d, n, n1, beta, q, ldq, perm) && ok;
  }

 private:
  bool leaf(T *d, T *e, int64_t n, T *q, int64_t ldq, int64_t *perm) {
    T *zt = wbuf_;
    std::fill(zt, zt + n * n, T(0));
    for (int64_t i = 0; i < n; i++) zt[i * n + i] = 1;
    const bool ok = tridiagonal_ql(d, e, n, zt);
    for (int64_t r = 0; r < n; r++)
      for (int64_t c = 0; c < n; c++) q[r * ldq + c] = zt[c * n + r];
    std::iota(perm, perm + n, int64_t(0));
    std::stable_sort(perm, perm + n, [&](int64_t x, int64_t y) { return d[x] < d[y]; });
    return ok;
  }

  // Merges the solved halves (columns [0, n1) with the top rows, [n1, n) with the bottom rows; perm[0, n1) and
  // perm[n1, n) their local orders) coupled by beta. q's off-diagonal blocks are zero on entry.
  bool merge(T *d, int64_t n, int64_t n1, T beta, T *q, int64_t ldq, int64_t *perm) {
    const T eps = unit_roundoff<T>();
    const int64_t n2 = n - n1;
    T *z = z_.data();
    const T r2 = T(1) / std::sqrt(T(2));
    for (int64_t i = 0; i < n1; i++) z[i] = q[(n1 - 1) * ldq + i] * r2;
    const T sg = beta < 0 ? -r2 : r2;
    for (int64_t i = n1; i < n; i++) z[i] = q[n1 * ldq + i] * sg;
    const T rho = 2 * std::fabs(beta);

    // Poles in ascending order, and laed2's column types: 1 top rows only, 3 bottom rows only, 2 both.
    int64_t *order = order_.data();
    for (int64_t i = 0, j = 0, k = 0; k < n; k++) {
      const bool top = j >= n2 || (i < n1 && d[perm[i]] <= d[n1 + perm[n1 + j]]);
      order[k] = top ? perm[i++] : n1 + perm[n1 + j++];
    }
    int8_t *type = type_.data();
    T dmax = 0, zmax = 0;
    for (int64_t i = 0; i < n; i++) {
      type[i] = i < n1 ? 1 : 3;
      dmax = std::max(dmax, std::fabs(d[i]));
      zmax = std::max(zmax, std::fabs(z[i]));
    }
    const T tol = 8 * eps * std::max(dmax, zmax);

    // Deflation.
    int64_t K = 0, ndef = 0;
    int64_t *ndcol = ndcol_.data(), *defcol = defcol_.data();
    if (rho * zmax <= tol) {
      for (int64_t k = 0; k < n; k++) defcol[ndef++] = order[k];
    } else {
      int64_t pj = -1;
      for (int64_t k = 0; k < n; k++) {
        const int64_t nj = order[k];
        if (rho * std::fabs(z[nj]) <= tol) {
          defcol[ndef++] = nj;
          continue;
        }
        if (pj < 0) {
          pj = nj;
          continue;
        }
        const T tau = std::hypot(z[nj], z[pj]);
        const T c = z[nj] / tau, s = -z[pj] / tau, t = d[nj] - d[pj];
        if (std::fabs(t * c * s) <= tol) {
          // Rotate pj and nj so that z[pj] = 0: pj deflates with the Rayleigh quotient of its new column.
          z[nj] = tau;
          z[pj] = 0;
          const int8_t tp = type[pj], tn = type[nj];
          const int64_t r0 = tp == 3 && tn == 3 ? n1 : 0, r1 = tp == 1 && tn == 1 ? n1 : n;
          for (int64_t r = r0; r < r1; r++) {
            T *qr = q + r * ldq;
            const T x = qr[pj], y = qr[nj];
            qr[pj] = c * x + s * y;
            qr[nj] = c * y - s * x;
          }
          if (tp != tn) type[nj] = 2;
          const T dp = d[pj] * c * c + d[nj] * s * s;
          d[nj] = d[pj] * s * s + d[nj] * c * c;
          d[pj] = dp;
          defcol[ndef++] = pj;
        } else {
          ndcol[K++] = pj;
        }
        pj = nj;
      }
      if (pj >= 0) ndcol[K++] = pj;
    }

    // Non-deflated columns grouped by type for the two GEMMs: gp[k] is the group position of the k-th pole.
    int64_t cnt[4] = {0, 0, 0, 0};
    for (int64_t k = 0; k < K; k++) cnt[type[ndcol[k]]]++;
    const int64_t c1 = cnt[1], c2 = cnt[2];
    int64_t next[4] = {0, 0, c1, c1 + c2};
    int64_t *gp = gp_.data(), *colg = colg_.data();
    for (int64_t k = 0; k < K; k++) {
      gp[k] = next[type[ndcol[k]]]++;
      colg[gp[k]] = ndcol[k];
    }

    // Roots and U, the unit eigenvectors of the roots with components in group order: root j's is row j of ut.
    bool ok = true;
    R *dl = dl_.data(), *wl = wl_.data(), *lam = lam_.data();
    for (int64_t k = 0; k < K; k++) dl[k] = R(d[ndcol[k]]), wl[k] = R(z[ndcol[k]]);
    T *ut = u_;
    if (K == 1) {
      lam[0] = dl[0] + R(rho) * wl[0] * wl[0];
      ut[0] = 1;
    } else if (K == 2) {
      R v[2][2];
      secular_two(dl, wl, R(rho), lam, v);
      for (int64_t j = 0; j < 2; j++)
        for (int64_t k = 0; k < 2; k++) ut[j * K + gp[k]] = T(v[j][k]);
    } else if (K > 2) {
      // Everything indexed by the pole below is in group order (p = gp[k]), so U's rows come out contiguous.
      R *dg = dg_.data(), *wg = wg_.data();
      for (int64_t k = 0; k < K; k++) dg[gp[k]] = dl[k], wg[gp[k]] = wl[k];
      R *org = org_.data(), *tau = tau_.data();
      for (int64_t j = 0; j < K; j++) {
        ok = secular_root(K, j, dl, wl, R(rho), org[j], tau[j]) && ok;
        lam[j] = org[j] + tau[j];
      }
      // Löwner: z^_p² rho = -(d_p - lambda_p) prod_{j != p} (d_p - lambda_j) / (d_p - d_j), every d_p - lambda_j
      // formed from root j's pole as (d_p - org_j) - tau_j.
      R *what = what_.data();
      for (int64_t j = 0; j < K; j++) what[gp[j]] = (dl[j] - org[j]) - tau[j];
      for (int64_t j = 0; j < K; j++) {
        const R dj = dl[j], oj = org[j], tj = tau[j];
        const int64_t pj = gp[j];
        for (int64_t p = 0; p < pj; p++) what[p] *= ((dg[p] - oj) - tj) / (dg[p] - dj);
        for (int64_t p = pj + 1; p < K; p++) what[p] *= ((dg[p] - oj) - tj) / (dg[p] - dj);
      }
      for (int64_t p = 0; p < K; p++) what[p] = std::copysign(std::sqrt(-what[p]), wg[p]);
      R *s = s_.data();
      // row j of ut is root j's vector
      for (int64_t j = 0; j < K; j++) {
        R nrm = std::sqrt(vector_of_root(what, dg, org[j], tau[j], K, s));
        if (!(nrm > 0 && nrm <= std::numeric_limits<R>::max())) nrm = scaled_norm(s, K);
        const R inv = 1 / nrm;
        T *u = ut + j * K;
        for (int64_t p = 0; p < K; p++) u[p] = T(s[p] * inv);
      }
    }

    // W_top [n1, c1 + c2] (top rows of groups 1 and 2) and W_bot [n2, c2 + c3] (bottom rows of groups 2 and 3).
    const int64_t kt = c1 + c2, kb = K - c1;
    T *wt = wbuf_, *wb = wt + n1 * kt;
    const RowGather gtop(colg, kt), gbot(colg + c1, kb);
    for (int64_t r = 0; r < n1; r++) gtop.row(q + r * ldq, wt + r * kt);
    for (int64_t r = 0; r < n2; r++) gbot.row(q + (n1 + r) * ldq, wb + r * kb);
    // The roots' vectors go to columns [0, K): deflated columns there move to the columns >= K that non-deflated
    // ones leave free (as many), pairs (from, to) in moves.
    int64_t *moves = moves_.data(), nmov = 0;
    for (int64_t m = 0, f = 0; m < ndef; m++) {
      if (defcol[m] >= K) continue;
      while (ndcol[f] < K) f++;
      moves[nmov++] = defcol[m];
      moves[nmov++] = ndcol[f];
      d[ndcol[f]] = d[defcol[m]];
      defcol[m] = ndcol[f++];
    }
    if (nmov > 0)
      for (int64_t r = 0; r < n; r++) {
        T *qr = q + r * ldq;
        for (int64_t t = 0; t < nmov; t += 2) qr[moves[t + 1]] = qr[moves[t]];
      }
    // q[:, 0:K] = [W_top U_top; W_bot U_bot]: U_top is U's rows [0, c1 + c2), U_bot its rows [c1, K).
    // U[p, j] at ut[j * K + p]: root j's vector is row j, so B's columns are contiguous (the GEMM packs it).
    linalg_gemm<T>(ctx_, n1, K, kt, T(1), wt, kt, 1, ut, 1, K, T(0), q, ldq);
    linalg_gemm<T>(ctx_, n2, K, kb, T(1), wb, kb, 1, ut + c1, 1, K, T(0), q + n1 * ldq, ldq);
    // New eigenvalues and order: roots (ascending, columns 0..K-1) merged with the deflated ones.
    for (int64_t j = 0; j < K; j++) d[j] = T(lam[j]);
    std::stable_sort(defcol, defcol + ndef, [&](int64_t x, int64_t y) { return d[x] < d[y]; });
    for (int64_t p = 0, j = 0, m = 0; p < n; p++)
      perm[p] = m >= ndef || (j < K && d[j] <= d[defcol[m]]) ? j++ : defcol[m++];
    return ok;
  }

  // s[p] = zhat[p] / ((d[p] - org) - tau) for p < n, and returns the sum of their squares.
  static R vector_of_root(const R *zhat, const R *d, R org, R tau, int64_t n, R *s) {
    constexpr int kLanes = 32 / sizeof(R);
    R acc[kLanes] = {};
    int64_t p = 0;
    for (; p + kLanes <= n; p += kLanes)
      for (int u = 0; u < kLanes; u++) {
        const R x = zhat[p + u] / ((d[p + u] - org) - tau);
        s[p + u] = x;
        acc[u] += x * x;
      }
    for (int w = kLanes / 2; w > 0; w /= 2)
      for (int u = 0; u < w; u++) acc[u] += acc[u + w];
    R sum = acc[0];
    for (; p < n; p++) {
      s[p] = zhat[p] / ((d[p] - org) - tau);
      sum += s[p] * s[p];
    }
    return sum;
  }

  static R scaled_norm(const R *x, int64_t n) {
    R m = 0;
    for (int64_t i = 0; i < n; i++) m = std::max(m, std::fabs(x[i]));
    if (!(m > 0)) return 1;
    R s = 0;
    for (int64_t i = 0; i < n; i++) s += (x[i] / m) * (x[i] / m);
    return m * std::sqrt(s);
  }

  kiln_context *ctx_;
  T *wbuf_, *u_;  // wbuf_: a leaf's Zᵀ, a merge's W_top and W_bot; u_: U (both nmax²)
  std::vector<T> z_;
  std::vector<R> dl_, wl_, dg_, wg_, lam_, org_, tau_, what_, s_;
  std::vector<int64_t> order_;
  std::vector<int8_t> type_;
  std::vector<int64_t> ndcol_, defcol_, gp_, colg_, moves_;
};

}  // namespace

template <class T>
int64_t tridiagonal_dc(kiln_context *ctx, T *d, T *e, int64_t n, T *z, int64_t ldz) {
  if (n <= 0) return 0;
  bool finite = true;
  for (int64_t i = 0; i < n; i++) finite = finite && std::isfinite(d[i]) && (i + 1 == n || std::isfinite(e[i]));
  if (!finite) {
    const T nan = std::numeric_limits<T>::quiet_NaN();
    std::fill(d, d + n, nan);
    for (int64_t i = 0; i < n; i++) std::fill(z + i * ldz, z + i * ldz + n, nan);
    return 1;
  }
  for (int64_t i = 0; i < n; i++) std::fill(z + i * ldz, z + i * ldz + n, T(0));
  e[n - 1] = 0;
  // Split at negligible off-diagonals (stedc's test); each block is scaled and solved on its own.
  const T eps = unit_roundoff<T>();
  std::vector<int64_t> starts;
  int64_t largest = 0;
  for (int64_t start = 0; start < n;) {
    int64_t end = start;
    while (end + 1 < n && !(std::fabs(e[end]) <= eps * std::sqrt(std::fabs(d[end])) * std::sqrt(std::fabs(d[end + 1]))))
      end++;
    e[end] = 0;
    starts.push_back(start);
    largest = std::max(largest, end - start + 1);
    start = end + 1;
  }
  starts.push_back(n);
  std::vector<int64_t> perm(n);
  bool ok = true;
  {
    const int64_t nmax = std::max(largest, kLeaf);
    // Kept per thread up to kKeepMax rows (fresh pages cost more than the merges; kiln.emptyCache releases
    // it, scratch.h); larger problems take a buffer of their own, so threads never each hold a big one.
    thread_local ScratchVec<T> scratch;
    std::vector<T> own;
    const int64_t size = DivideConquer<T>::buffer_size(nmax);
    T *buf = nmax <= kKeepMax ? scratch.get(size) : (own.resize((size_t)size), own.data());
    DivideConquer<T> dc(ctx, nmax, buf);
    for (size_t b = 0; b + 1 < starts.size(); b++) {
      const int64_t start = starts[b], m = starts[b + 1] - start;
      T *db = d + start, *eb = e + start;
      if (m == 1) {
        z[start * ldz + start] = 1;
        perm[start] = 0;
        continue;
      }
      T amax = 0;
      for (int64_t i = 0; i < m; i++) amax = std::max(amax, std::fabs(db[i]));
      for (int64_t i = 0; i + 1 < m; i++) amax = std::max(amax, std::fabs(eb[i]));
      const int ex = std::ilogb(amax);
      scale2(db, m, -ex);
      scale2(eb, m - 1, -ex);
      ok = dc.solve(db, eb, m, z + start * ldz + start, ldz, perm.data() + start) && ok;
      scale2(db, m, ex);
    }
  }
  // Columns into ascending order of the eigenvalues: each block's own order, then merged across blocks.
  for (size_t b = 0; b + 1 < starts.size(); b++)
    for (int64_t k = starts[b]; k < starts[b + 1]; k++) perm[k] += starts[b];
  if (starts.size() > 2) std::stable_sort(perm.begin(), perm.end(), [&](int64_t x, int64_t y) { return d[x] < d[y]; });
  bool identity = true;
  for (int64_t j = 0; j < n; j++) identity = identity && perm[j] == j;
  if (!identity) {
    std::vector<T> row(n);
    const RowGather g(perm.data(), n);
    g.row(d, row.data());
    std::copy(row.begin(), row.end(), d);
    for (int64_t r = 0; r < n; r++) {
      T *zr = z + r * ldz;
      std::copy(zr, zr + n, row.begin());
      g.row(row.data(), zr);
    }
  }
  return ok ? 0 : 1;
}

template int64_t tridiagonal_dc<float>(kiln_context *, float *, float *, int64_t, float *, int64_t);
template int64_t tridiagonal_dc<double>(kiln_context *, double *, double *, int64_t, double *, int64_t);

}  // namespace kiln::cpu
