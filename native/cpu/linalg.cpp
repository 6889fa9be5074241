// The kiln.linalg kernel entries: each checks its operands (contiguous [batch, rows, cols] stacks,
// float32 or float64, as ts/ops/linalg_rows.ts makes them) and runs one linalg_kernels.h routine per
// matrix. Batches of small matrices are split over the thread pool, one matrix per task; a large
// matrix runs alone and the GEMM inside its routine uses the threads.
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu_ops.h"
#include "linalg_kernels.h"

namespace kiln::cpu {
namespace {

struct Dims {
  int64_t batch, rows, cols;
};

Dims dims(const kiln_tensor &t) { return {t.shape[0], t.shape[1], t.shape[2]}; }

bool is_stack(const kiln_tensor &t, int64_t batch, int64_t rows, int64_t cols) {
  return t.ndim == 3 && t.shape[0] == batch && t.shape[1] == rows && t.shape[2] == cols && contiguous(t);
}

bool is_vecs(const kiln_tensor &t, int64_t batch, int64_t n) {
  return t.ndim == 2 && t.shape[0] == batch && t.shape[1] == n && contiguous(t);
}

// Runs fn(b) for every matrix b of the batch: one matrix per pool task when the matrices are small (an
// O(n³) routine of n < 96 is well under a millisecond) or there are at least two per thread (their serial
// parts then overlap: 8 x 256² eigh, svd and qr 1.2-2x faster, 4 x 512² inv 1.4-1.7x, than one matrix at a
// time on the threaded GEMM), otherwise one after the other.
template <class F>
void each_matrix(kiln_context *ctx, int64_t batch, int64_t n, const F &fn) {
  const int64_t threads = ctx->pool ? ctx->pool->size() : 1;
  const bool small = n < 96 || batch >= 2 * threads;
  parallel_for(small ? ctx->pool.get() : nullptr, batch, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) fn(b);
  });
}

kiln_status check_float(kiln_context *ctx, const char *op, const kiln_tensor &a) {
  if (a.dtype != KILN_FLOAT32 && a.dtype != KILN_FLOAT64)
    return fail(ctx, KILN_ERR_DTYPE, "%s: expected float32 or float64 matrices", op);
  if (a.ndim != 3 || !contiguous(a))
    return fail(ctx, KILN_ERR_SHAPE, "%s: expected a contiguous [batch, rows, cols] stack", op);
  return KILN_OK;
}

template <class T>
void copy_matrices(T *dst, const kiln_tensor &src) {
  const Dims d = dims(src);
  if (d.batch * d.rows * d.cols != 0) std::memcpy(dst, src.data, sizeof(T) * d.batch * d.rows * d.cols);
}

template <class T>
void cholesky_typed(kiln_context *ctx, const kiln_tensor &l, const kiln_tensor &info, const kiln_tensor &a) {
  const Dims d = dims(a);
  T *lp = (T *)l.data;
  copy_matrices<T>(lp, a);
  each_matrix(ctx, d.batch, d.rows, [&](int64_t b) {
    ((int32_t *)info.data)[b] = (int32_t)cholesky_lower(ctx, lp + b * d.rows * d.rows, d.rows, d.rows);
  });
}

template <class T>
void lu_typed(kiln_context *ctx, const kiln_tensor &lu, const kiln_tensor &piv, const kiln_tensor &info,
              const kiln_tensor &a) {
  const Dims d = dims(a);
  const int64_t k = std::min(d.rows, d.cols);
  T *p = (T *)lu.data;
  copy_matrices<T>(p, a);
  each_matrix(ctx, d.batch, std::max(d.rows, d.cols), [&](int64_t b) {
    ((int32_t *)info.data)[b] =
        (int32_t)lu_factor(ctx, p + b * d.rows * d.cols, d.rows, d.cols, d.cols, (int32_t *)piv.data + b * k);
  });
}

template <class T>
void solve_triangular_typed(kiln_context *ctx, const kiln_tensor &x, const kiln_tensor &a, const kiln_tensor &rhs,
                            bool upper, bool trans, bool unit) {
  const Dims d = dims(rhs);
  T *xp = (T *)x.data;
  copy_matrices<T>(xp, rhs);
  each_matrix(ctx, d.batch, d.rows, [&](int64_t b) {
    trsm_left(ctx, (const T *)a.data + b * d.rows * d.rows, d.rows, d.rows, xp + b * d.rows * d.cols, d.cols, d.cols,
              upper, trans, unit);
  });
}

// X = A⁻¹ B (or A⁻ᵀ B) from P A = L U: X = U⁻¹ L⁻¹ P B, or Pᵀ L⁻ᵀ U⁻ᵀ B.
template <class T>
void lu_solve_typed(kiln_context *ctx, const kiln_tensor &x, const kiln_tensor &lu, const kiln_tensor &piv,
                    const kiln_tensor &rhs, bool trans) {
  const Dims d = dims(rhs);
  const int64_t n = d.rows, k = d.cols;
  T *xp = (T *)x.data;
  copy_matrices<T>(xp, rhs);
  each_matrix(ctx, d.batch, n, [&](int64_t b) {
    const T *f = (const T *)lu.data + b * n * n;
    const int32_t *pv = (const int32_t *)piv.data + b * n;
    T *xb = xp + b * n * k;
    const auto swap_row = [&](int64_t i) {
      const int64_t p = pv[i] - 1;
      if (p != i) std::swap_ranges(xb + i * k, xb + i * k + k, xb + p * k);
    };
    if (!trans) {
      for (int64_t i = 0; i < n; i++) swap_row(i);
      trsm_left(ctx, f, n, n, xb, k, k, false, false, true);
      trsm_left(ctx, f, n, n, xb, k, k, true, false, false);
    } else {
      trsm_left(ctx, f, n, n, xb, k, k, true, true, false);
      trsm_left(ctx, f, n, n, xb, k, k, false, true, true);
      for (int64_t i = n - 1; i >= 0; i--) swap_row(i);
    }
  });
}

template <class T>
void qr_typed(kiln_context *ctx, const kiln_tensor &q, const kiln_tensor &r, const kiln_tensor &a) {
  const Dims d = dims(a);
  const int64_t m = d.rows, n = d.cols, k = std::min(m, n), qcols = q.shape[2], rrows = r.shape[1];
  each_matrix(ctx, d.batch, std::max(m, n), [&](int64_t b) {
    std::vector<T> f((const T *)a.data + b * m * n, (const T *)a.data + (b + 1) * m * n);
    std::vector<T> tau((size_t)k), work((size_t)std::max<int64_t>(std::max(m, n), 1));
    qr_householder(ctx, f.data(), m, n, n, tau.data(), work.data());
    T *rb = (T *)r.data + b * rrows * n;
    for (int64_t i = 0; i < rrows; i++)
      for (int64_t j = 0; j < n; j++) rb[i * n + j] = j >= i ? f[i * n + j] : T(0);
    if (qcols) qr_form_q(ctx, f.data(), m, n, n, tau.data(), (T *)q.data + b * m * qcols, qcols, qcols, work.data());
  });
}

template <class T>
void eigh_typed(kiln_context *ctx, const kiln_tensor &w, const kiln_tensor &v, const kiln_tensor &info,
                const kiln_tensor &a, bool upper, bool vectors) {
  const Dims d = dims(a);
  const int64_t n = d.rows;
  each_matrix(ctx, d.batch, n, [&](int64_t b) {
    std::vector<T> scratch;
    T *vb = vectors ? (T *)v.data + b * n * n : (scratch.resize((size_t)(n * n)), scratch.data());
    const T *ab = (const T *)a.data + b * n * n;
    for (int64_t i = 0; i < n; i++)  // the lower triangle, or the upper one's transpose
      for (int64_t j = 0; j <= i; j++) vb[i * n + j] = upper ? ab[j * n + i] : ab[i * n + j];
    ((int32_t *)info.data)[b] = (int32_t)eigh_symmetric(ctx, vb, n, n, (T *)w.data + b * n, vectors);
  });
}

constexpr int64_t kSvdDcMin = 20;  // min(m, n) from which svd_dc is faster than svd_jacobi (measured 12-31)

template <class T>
void svd_typed(kiln_context *ctx, const kiln_tensor &u, const kiln_tensor &s, const kiln_tensor &vt,
               const kiln_tensor &info, const kiln_tensor &a, bool vectors) {
  const Dims d = dims(a);
  const int64_t m = d.rows, n = d.cols, k = std::min(m, n);
  const int64_t ucols = vectors ? u.shape[2] : 0, vrows = vectors ? vt.shape[1] : 0;
  // Small matrices: one-sided Jacobi (fewer passes over memory, and more accurate); from kSvdDcMin up,
  // bidiagonalisation and divide and conquer.
  const bool dc = k >= kSvdDcMin;
  each_matrix(ctx, d.batch, std::max(m, n), [&](int64_t b) {
    const T *ab = (const T *)a.data + b * m * n;
    T *sb = (T *)s.data + b * k, *ub = vectors ? (T *)u.data + b * m * ucols : nullptr;
    T *vb = vectors ? (T *)vt.data + b * vrows * n : nullptr;
    ((int32_t *)info.data)[b] = (int32_t)(dc ? svd_dc(ctx, ab, m, n, n, sb, ub, ucols, ucols, vb, vrows, n, vectors)
                                             : svd_jacobi(ab, m, n, n, sb, ub, ucols, ucols, vb, vrows, n, vectors));
  });
}

#define KILN_FLOAT_SWITCH(dtype, CALL) \
  if ((dtype) == KILN_FLOAT32) {       \
    using T = float;                   \
    CALL;                              \
  } else {                             \
    using T = double;                  \
    CALL;                              \
  }

}  // namespace

kiln_status linalg_cholesky_cpu(kiln_context *ctx, const kiln_tensor &l, const kiln_tensor &info,
                                const kiln_tensor &a) {
  if (kiln_status st = check_float(ctx, "linalg_cholesky", a)) return st;
  const Dims d = dims(a);
  if (d.rows != d.cols || l.dtype != a.dtype || !is_stack(l, d.batch, d.rows, d.cols) || info.dtype != KILN_INT32 ||
      info.ndim != 1 || info.shape[0] != d.batch)
    return fail(ctx, KILN_ERR_SHAPE, "linalg_cholesky: expected square matrices, L of their shape and int32 info");
  KILN_FLOAT_SWITCH(a.dtype, cholesky_typed<T>(ctx, l, info, a));
  return KILN_OK;
}

kiln_status linalg_lu_cpu(kiln_context *ctx, const kiln_tensor &lu, const kiln_tensor &piv, const kiln_tensor &info,
                          const kiln_tensor &a) {
  if (kiln_status st = check_float(ctx, "linalg_lu", a)) return st;
  const Dims d = dims(a);
  if (lu.dtype != a.dtype || !is_stack(lu, d.batch, d.rows, d.cols) || piv.dtype != KILN_INT32 ||
      !is_vecs(piv, d.batch, std::min(d.rows, d.cols)) || info.dtype != KILN_INT32 || info.ndim != 1 ||
      info.shape[0] != d.batch)
    return fail(ctx, KILN_ERR_SHAPE, "linalg_lu: expected LU of the input's shape, int32 pivots and info");
  if (std::max(d.rows, d.cols) >= ((int64_t)1 << 31))
    return fail(ctx, KILN_ERR_SHAPE, "linalg_lu: matrices of 2^31 rows or more");
  KILN_FLOAT_SWITCH(a.dtype, lu_typed<T>(ctx, lu, piv, info, a));
  return KILN_OK;
}

kiln_status linalg_solve_triangular_cpu(kiln_context *ctx, const kiln_tensor &x, const kiln_tensor &a,
                                        const kiln_tensor &b, bool upper, bool trans, bool unit) {
  if (kiln_status st = check_float(ctx, "linalg_solve_triangular", a)) return st;
  const Dims d = dims(b);
  if (b.dtype != a.dtype || x.dtype != a.dtype || !is_stack(a, d.batch, d.rows, d.rows) ||
      !is_stack(b, d.batch, d.rows, d.cols) || !is_stack(x, d.batch, d.rows, d.cols))
    return fail(ctx, KILN_ERR_SHAPE, "linalg_solve_triangular: expected A [b, n, n] and B, X [b, n, k] of one dtype");
  KILN_FLOAT_SWITCH(a.dtype, solve_triangular_typed<T>(ctx, x, a, b, upper, trans, unit));
  return KILN_OK;
}

kiln_status linalg_lu_solve_cpu(kiln_context *ctx, const kiln_tensor &x, const kiln_tensor &lu, const kiln_tensor &piv,
                                const kiln_tensor &b, bool trans) {
  if (kiln_status st = check_float(ctx, "linalg_lu_solve", lu)) return st;
  const Dims d = dims(b);
  if (b.dtype != lu.dtype || x.dtype != lu.dtype || !is_stack(lu, d.batch, d.rows, d.rows) ||
      !is_stack(b, d.batch, d.rows, d.cols) || !is_stack(x, d.batch, d.rows, d.cols) || piv.dtype != KILN_INT32 ||
      !is_vecs(piv, d.batch, d.rows))
    return fail(ctx, KILN_ERR_SHAPE, "linalg_lu_solve: expected LU [b, n, n], int32 pivots [b, n], B and X [b, n, k]");
  const int32_t *pv = (const int32_t *)piv.data;
  for (int64_t i = 0; i < d.batch * d.rows; i++)
    if (pv[i] < 1 + i % d.rows || pv[i] > d.rows)
      return fail(ctx, KILN_ERR_INDEX, "linalg_lu_solve: pivot %d at position %lld is out of range [%lld, %lld]",
                  (int)pv[i], (long long)(i % d.rows), (long long)(1 + i % d.rows), (long long)d.rows);
  KILN_FLOAT_SWITCH(lu.dtype, lu_solve_typed<T>(ctx, x, lu, piv, b, trans));
  return KILN_OK;
}

kiln_status linalg_qr_cpu(kiln_context *ctx, const kiln_tensor &q, const kiln_tensor &r, const kiln_tensor &a) {
  if (kiln_status st = check_float(ctx, "linalg_qr", a)) return st;
  const Dims d = dims(a);
  const int64_t k = std::min(d.rows, d.cols);
  const bool q_ok =
      q.ndim == 3 && q.shape[0] == d.batch &&
      ((q.shape[1] == d.rows && q.shape[2] >= k && q.shape[2] <= d.rows) || (q.shape[1] == 0 && q.shape[2] == 0));
  if (q.dtype != a.dtype || r.dtype != a.dtype || !q_ok || !contiguous(q) || r.ndim != 3 ||
      !is_stack(r, d.batch, r.shape[1], d.cols) || r.shape[1] < k || r.shape[1] > d.rows)
    return fail(ctx, KILN_ERR_SHAPE, "linalg_qr: expected Q [b, m, k..m] (or [b, 0, 0]) and R [b, k..m, n]");
  KILN_FLOAT_SWITCH(a.dtype, qr_typed<T>(ctx, q.shape[1] ? q : kiln_tensor{}, r, a));
  return KILN_OK;
}

kiln_status linalg_eigh_cpu(kiln_context *ctx, const kiln_tensor &w, const kiln_tensor &v, const kiln_tensor &info,
                            const kiln_tensor &a, bool upper, bool vectors) {
  if (kiln_status st = check_float(ctx, "linalg_eigh", a)) return st;
  const Dims d = dims(a);
  if (d.rows != d.cols || w.dtype != a.dtype || !is_vecs(w, d.batch, d.rows) || info.dtype != KILN_INT32 ||
      info.ndim != 1 || info.shape[0] != d.batch ||
      (vectors && (v.dtype != a.dtype || !is_stack(v, d.batch, d.rows, d.rows))))
    return fail(ctx, KILN_ERR_SHAPE, "linalg_eigh: expected square matrices, w [b, n], V [b, n, n] and int32 info");
  KILN_FLOAT_SWITCH(a.dtype, eigh_typed<T>(ctx, w, v, info, a, upper, vectors));
  return KILN_OK;
}

kiln_status linalg_svd_cpu(kiln_context *ctx, const kiln_tensor &u, const kiln_tensor &s, const kiln_tensor &vt,
                           const kiln_tensor &info, const kiln_tensor &a, bool vectors) {
  if (kiln_status st = check_float(ctx, "linalg_svd", a)) return st;
  const Dims d = dims(a);
  const int64_t k = std::min(d.rows, d.cols);
  const bool uv_ok =
      !vectors || (u.dtype == a.dtype && vt.dtype == a.dtype && u.ndim == 3 && vt.ndim == 3 &&
                   (u.shape[2] == k || u.shape[2] == d.rows) && (vt.shape[1] == k || vt.shape[1] == d.cols) &&
                   is_stack(u, d.batch, d.rows, u.shape[2]) && is_stack(vt, d.batch, vt.shape[1], d.cols));
  if (s.dtype != a.dtype || !is_vecs(s, d.batch, k) || !uv_ok || info.dtype != KILN_INT32 || info.ndim != 1 ||
      info.shape[0] != d.batch)
    return fail(ctx, KILN_ERR_SHAPE, "linalg_svd: expected S [b, k], U [b, m, k or m], Vh [b, k or n, n], int32 info");
  KILN_FLOAT_SWITCH(a.dtype, svd_typed<T>(ctx, u, s, vt, info, a, vectors));
  return KILN_OK;
}

}  // namespace kiln::cpu
