// Batch normalisation over contiguous x viewed as [N, C, S] (S = the spatial size, 1 for [N, C]),
// every float dtype (half types compute in float, float64 in double), as native/cpu/batch_norm.cpp:
//   stats     per-channel mean and biased variance: each channel's N x S elements are cut into
//             fixed chunks (a function of the shape only); a block reduces its chunk twice (sum,
//             then squared deviations from the chunk mean, in double) into (count, mean, M2), and
//             a second kernel merges a channel's chunks in order with Chan's formula, so the
//             result is deterministic and no sum of squares is formed;
//   apply     y = w invstd (x - mean) + b, one pass (coefficients per channel first);
//   backward  gx = w invstd (gy - mean(gy) - xhat mean(gy xhat)), gw = sum(gy xhat), gb = sum(gy):
//             chunk sums of gy and gy (x - mean) as above, merged in order, then one pass for gx;
//   group norm backward  the same over x viewed as [1, N C, S] (a row's chunk sums with its group's
//             mean), merged per group into per-row coefficients of gx, and per channel into gw, gb
//             (native/cpu/group_norm.cpp has the formulas).
// With channels innermost (S = 1) a chunk is a block of rows read 32 channels wide (coalesced).
#include "rows.h"
#include "rows_common.cuh"

namespace kiln::cuda {

namespace {

using namespace rows;

constexpr int64_t kChunk = 4096;   // elements of one channel per chunk (S > 1)
constexpr int64_t kColRows = 256;  // rows per chunk when channels are innermost (S = 1)
constexpr int kStatsBlock = 256;   // threads of a chunk's block (S > 1)
constexpr int kApplyBlock = 256;

struct Partial {
  double count, a, b;  // stats: count, mean, M2; backward: -, sum gy, sum gy (x - mean)
};

// How one channel's N x S elements split into chunks (a function of the shape only).
struct Chunks {
  int64_t N, C, S;
  bool cols;            // S == 1: chunk j is rows [j kColRows, (j + 1) kColRows) of every channel
  int64_t rows, segs;   // rows per chunk; segments per row (S > kChunk)
  int64_t per_channel;  // chunks per channel
  explicit Chunks(const kiln_tensor &x) : Chunks(x.shape[0], x.shape[1], x.shape[2]) {}
  Chunks(int64_t n, int64_t c, int64_t s) : N(n), C(c), S(s) {
    cols = S == 1;
    if (S == 0 || N == 0) {
      rows = segs = 1;
      per_channel = 0;
    } else if (cols) {
      rows = kColRows;
      segs = 1;
      per_channel = ceil_div(N, rows);
    } else {
      rows = S <= kChunk ? kChunk / S : 1;
      segs = S <= kChunk ? 1 : ceil_div(S, kChunk);
      per_channel = segs == 1 ? ceil_div(N, rows) : N * segs;
    }
  }
};

struct ChunkRange {
  int64_t n0, n1, s0, s1;
};
__device__ __forceinline__ ChunkRange chunk_range(int64_t j, int64_t N, int64_t S, int64_t rows, int64_t segs) {
  ChunkRange r;
  if (segs == 1) {
    r.n0 = j * rows;
    r.n1 = r.n0 + rows < N ? r.n0 + rows : N;
    r.s0 = 0;
    r.s1 = S;
  } else {
    r.n0 = j / segs;
    r.n1 = r.n0 + 1;
    r.s0 = (j % segs) * kChunk;
    r.s1 = r.s0 + kChunk < S ? r.s0 + kChunk : S;
  }
  return r;
}

// f(offset) for every element of chunk r of channel c; at most kChunk elements, so 32-bit math.
template <class F>
__device__ __forceinline__ void for_chunk(const ChunkRange &r, int64_t c, int64_t C, int64_t S, F f) {
  const uint32_t len = (uint32_t)(r.s1 - r.s0), cnt = (uint32_t)((r.n1 - r.n0) * (r.s1 - r.s0));
  for (uint32_t e = threadIdx.x; e < cnt; e += blockDim.x) {
    const uint32_t dn = e / len, ds = e - dn * len;
    f(((r.n0 + dn) * C + c) * S + r.s0 + ds);
  }
}

// ---- statistics ----

// Block b: chunk b % per of channel b / per (S > 1); part[b] = (count, mean, M2).
template <class T>
__global__ void __launch_bounds__(kStatsBlock)
    bn_stats_chunks_kernel(Partial *__restrict__ part, const T *__restrict__ x, int64_t N, int64_t C, int64_t S,
                           int64_t rows, int64_t segs, int64_t per) {
  __shared__ double shd[32];
  for (int64_t b = blockIdx.x; b < C * per; b += gridDim.x) {
    const int64_t c = b / per, j = b % per;
    const ChunkRange r = chunk_range(j, N, S, rows, segs);
    const double cnt = (double)((r.n1 - r.n0) * (r.s1 - r.s0));
    double s = 0;
    for_chunk(r, c, C, S, [&](int64_t at) { s += (double)load(x[at]); });
    const double mu = block_sum(s, shd) / cnt;
    double q = 0;
    for_chunk(r, c, C, S, [&](int64_t at) {
      const double d = (double)load(x[at]) - mu;
      q += d * d;
    });
    q = block_sum(q, shd);
    if (threadIdx.x == 0) part[b] = Partial{cnt, mu, q};
  }
}

// Channels innermost (S = 1): block (32, 8) reads channels [32 bx, 32 bx + 32) of row chunk j
// (j = by, by + gridDim.y, ...); part[j * C + c] = (count, mean, M2). Row sums per thread, then
// the 8 of a column in order.
template <class T>
__global__ void __launch_bounds__(256)
    bn_stats_cols_kernel(Partial *__restrict__ part, const T *__restrict__ x, int64_t N, int64_t C, int64_t per) {
  __shared__ double sh[8][33];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c = (int64_t)blockIdx.x * 32 + tx;
  for (int64_t j = blockIdx.y; j < per; j += gridDim.y) {
    const int64_t n0 = j * kColRows, n1 = n0 + kColRows < N ? n0 + kColRows : N;
    double s = 0;
    if (c < C)
      for (int64_t n = n0 + ty; n < n1; n += 8) s += (double)load(x[n * C + c]);
    __syncthreads();  // the previous chunk's reads of sh are done
    sh[ty][tx] = s;
    __syncthreads();
    const double cnt = (double)(n1 - n0);
    double mu = 0;
    for (int k = 0; k < 8; k++) mu += sh[k][tx];
    mu /= cnt;
    double q = 0;
    if (c < C)
      for (int64_t n = n0 + ty; n < n1; n += 8) {
        const double d = (double)load(x[n * C + c]) - mu;
        q += d * d;
      }
    __syncthreads();
    sh[ty][tx] = q;
    __syncthreads();
    if (ty == 0 && c < C) {
      double m2 = 0;
      for (int k = 0; k < 8; k++) m2 += sh[k][tx];
      part[j * C + c] = Partial{cnt, mu, m2};
    }
  }
}

// One thread per channel: Chan's merge of its chunks in order.
template <class T>
__global__ void bn_stats_merge_kernel(T *__restrict__ mean, T *__restrict__ var, const Partial *__restrict__ part,
                                      int64_t C, int64_t per, bool cols) {
  for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
    double n = 0, mu = 0, m2 = 0;
    for (int64_t j = 0; j < per; j++) {
      const Partial p = cols ? part[j * C + c] : part[c * per + j];
      const double tot = n + p.count, d = p.a - mu;
      mu += d * (p.count / tot);
      m2 += p.b + d * d * (n * p.count / tot);
      n = tot;
    }
    mean[c] = store<T>(n > 0 ? mu : (double)NAN);
    var[c] = store<T>(n > 0 ? m2 / n : (double)NAN);
  }
}

// ---- apply: o = b (x - m) + a g + k per channel (coefficients in the compute type) ----

template <class T, class I>
__global__ void __launch_bounds__(kApplyBlock)
    bn_apply_kernel(T *__restrict__ o, const T *__restrict__ x, const T *__restrict__ g,
                    const compute_t<T> *__restrict__ coef, I total, I C, I S) {
  using Cm = compute_t<T>;
  const Cm *m = coef, *b = coef + C, *a = coef + 2 * C, *k = coef + 3 * C;
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    const I c = (i / S) % C;
    Cm y = b[c] * (load(x[i]) - m[c]);
    if (g) y += a[c] * load(g[i]);
    o[i] = store<T>(y + k[c]);
  }
}

template <class T>
__global__ void bn_coef_kernel(compute_t<T> *__restrict__ coef, const T *__restrict__ w, const T *__restrict__ bias,
                               const T *__restrict__ mean, const T *__restrict__ var, int64_t C, double eps) {
  using Cm = compute_t<T>;
  for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
    const double invstd = 1.0 / sqrt((double)load(var[c]) + eps), wc = w ? (double)load(w[c]) : 1.0;
    coef[c] = load(mean[c]);
    coef[C + c] = (Cm)(wc * invstd);
    coef[2 * C + c] = 0;
    coef[3 * C + c] = bias ? load(bias[c]) : (Cm)0;
  }
}

// ---- backward sums ----

template <class T>
__global__ void __launch_bounds__(kStatsBlock)
    bn_grad_chunks_kernel(Partial *__restrict__ part, const T *__restrict__ gy, const T *__restrict__ x,
                          const T *__restrict__ mean, int64_t N, int64_t C, int64_t S, int64_t rows, int64_t segs,
                          int64_t per) {
  __shared__ double shd[32];
  for (int64_t b = blockIdx.x; b < C * per; b += gridDim.x) {
    const int64_t c = b / per, j = b % per;
    const ChunkRange r = chunk_range(j, N, S, rows, segs);
    const double m = (double)load(mean[c]);
    double sg = 0, sgx = 0;
    for_chunk(r, c, C, S, [&](int64_t at) {
      const double gv = (double)load(gy[at]);
      sg += gv;
      sgx += gv * ((double)load(x[at]) - m);
    });
    sg = block_sum(sg, shd);
    sgx = block_sum(sgx, shd);
    if (threadIdx.x == 0) part[b] = Partial{0, sg, sgx};
  }
}

template <class T>
__global__ void __launch_bounds__(256)
    bn_grad_cols_kernel(Partial *__restrict__ part, const T *__restrict__ gy, const T *__restrict__ x,
                        const T *__restrict__ mean, int64_t N, int64_t C, int64_t per) {
  __shared__ double sa[8][33], sb[8][33];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c = (int64_t)blockIdx.x * 32 + tx;
  const double m = c < C ? (double)load(mean[c]) : 0.0;
  for (int64_t j = blockIdx.y; j < per; j += gridDim.y) {
    const int64_t n0 = j * kColRows, n1 = n0 + kColRows < N ? n0 + kColRows : N;
    double sg = 0, sgx = 0;
    if (c < C)
      for (int64_t n = n0 + ty; n < n1; n += 8) {
        const double gv = (double)load(gy[n * C + c]);
        sg += gv;
        sgx += gv * ((double)load(x[n * C + c]) - m);
      }
    __syncthreads();
    sa[ty][tx] = sg;
    sb[ty][tx] = sgx;
    __syncthreads();
    if (ty == 0 && c < C) {
      double A = 0, B = 0;
      for (int k = 0; k < 8; k++) {
        A += sa[k][tx];
        B += sb[k][tx];
      }
      part[j * C + c] = Partial{0, A, B};
    }
  }
}

// One thread per channel: sums its chunks in order, writes gw, gb and gx's coefficients.
template <class T>
__global__ void bn_grad_merge_kernel(T *__restrict__ gw, T *__restrict__ gb, compute_t<T> *__restrict__ coef,
                                     const Partial *__restrict__ part, const T *__restrict__ w,
                                     const T *__restrict__ mean, const T *__restrict__ var, int64_t C, int64_t per,
                                     bool cols, double M, double eps) {
  using Cm = compute_t<T>;
  for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
    double sg = 0, sgx = 0;
    for (int64_t j = 0; j < per; j++) {
      const Partial p = cols ? part[j * C + c] : part[c * per + j];
      sg += p.a;
      sgx += p.b;
    }
    const double invstd = 1.0 / sqrt((double)load(var[c]) + eps), wc = w ? (double)load(w[c]) : 1.0;
    gb[c] = store<T>(sg);
    gw[c] = store<T>(sgx * invstd);
    const double A = wc * invstd, mg = M > 0 ? sg / M : 0, mgx = M > 0 ? sgx * invstd / M : 0;
    coef[c] = load(mean[c]);
    coef[2 * C + c] = (Cm)A;
    coef[C + c] = (Cm)(-A * invstd * mgx);
    coef[3 * C + c] = (Cm)(-A * mg);
  }
}

// ---- group norm backward: x viewed as [1, N C, S], row r = (n, c) in group q = n G + c / per ----

// rm[r] = mean[q]: each row's group mean, for the chunk sums of the [1, N C, S] view.
template <class T>
__global__ void gn_row_mean_kernel(T *__restrict__ rm, const T *__restrict__ mean, int64_t R, int64_t C, int64_t per) {
  const int64_t G = C / per;
  for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < R; r += (int64_t)gridDim.x * blockDim.x)
    rm[r] = mean[(r / C) * G + (r % C) / per];
}

// One thread per group q: its rows' chunk sums in order, A = sum w sg, B = sum w sgx, then gx's
// coefficients per row (rstd w, -rstd^3 B / L, -rstd A / L) and rs[r] = (sg, rstd sgx) for gw, gb.
template <class T>
__global__ void gn_grad_merge_kernel(compute_t<T> *__restrict__ coef, double2 *__restrict__ rs,
                                     const Partial *__restrict__ part, const T *__restrict__ w,
                                     const T *__restrict__ mean, const T *__restrict__ var, int64_t N, int64_t C,
                                     int64_t per, int64_t chunks, bool cols, double Lg, double eps) {
  using Cm = compute_t<T>;
  const int64_t G = C / per, R = N * C;
  for (int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; q < N * G; q += (int64_t)gridDim.x * blockDim.x) {
    const double rstd = 1.0 / sqrt((double)load(var[q]) + eps);
    const int64_t r0 = (q / G) * C + (q % G) * per;
    double A = 0, B = 0;
    for (int64_t r = r0; r < r0 + per; r++) {
      double sg = 0, sgx = 0;
      for (int64_t j = 0; j < chunks; j++) {
        const Partial p = cols ? part[j * R + r] : part[r * chunks + j];
        sg += p.a;
        sgx += p.b;
      }
      const double wc = w ? (double)load(w[r % C]) : 1.0;
      A += wc * sg;
      B += wc * sgx;
      rs[r] = make_double2(sg, rstd * sgx);
    }
    for (int64_t r = r0; r < r0 + per; r++) {
      const double wc = w ? (double)load(w[r % C]) : 1.0;
      coef[r] = load(mean[q]);
      coef[R + r] = (Cm)(Lg > 0 ? -rstd * rstd * rstd * B / Lg : 0);
      coef[2 * R + r] = (Cm)(rstd * wc);
      coef[3 * R + r] = (Cm)(Lg > 0 ? -rstd * A / Lg : 0);
    }
  }
}

// One thread per channel: gb = sum_n sg, gw = sum_n rstd sgx, in order.
template <class T>
__global__ void gn_param_kernel(T *__restrict__ gw, T *__restrict__ gb, const double2 *__restrict__ rs, int64_t N,
                                int64_t C) {
  for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
    double a = 0, b = 0;
    for (int64_t n = 0; n < N; n++) {
      a += rs[n * C + c].x;
      b += rs[n * C + c].y;
    }
    gb[c] = store<T>(a);
    gw[c] = store<T>(b);
  }
}

// ---- launch ----

bool is_contiguous(const kiln_tensor &t) { return contiguous(t); }

kiln_status check_nd(const Launch &L, const char *op, const kiln_tensor &t, const char *name, const kiln_tensor &x) {
  if (t.ndim != 3 || t.shape[0] != x.shape[0] || t.shape[1] != x.shape[1] || t.shape[2] != x.shape[2] ||
      !is_contiguous(t))
    return fail(L, KILN_ERR_SHAPE, "%s: %s must be a contiguous [N, C, S] tensor like the input", op, name);
  if (t.dtype != x.dtype) return fail(L, KILN_ERR_DTYPE, "%s: %s has a different dtype from the input", op, name);
  return KILN_OK;
}
kiln_status check_c(const Launch &L, const char *op, const kiln_tensor *t, const char *name, const kiln_tensor &x) {
  if (!t) return KILN_OK;
  if (t->ndim != 1 || t->shape[0] != x.shape[1] || (t->shape[0] > 1 && t->strides[0] != 1))
    return fail(L, KILN_ERR_SHAPE, "%s: %s must be a contiguous [C] tensor (C = %lld)", op, name,
                (long long)x.shape[1]);
  if (t->dtype != x.dtype) return fail(L, KILN_ERR_DTYPE, "%s: %s has a different dtype from the input", op, name);
  return KILN_OK;
}
kiln_status check_x(const Launch &L, const char *op, const kiln_tensor &x) {
  if (x.ndim != 3 || !is_contiguous(x))
    return fail(L, KILN_ERR_SHAPE, "%s: the input must be a contiguous [N, C, S]", op);
  if (!dtype_is_float(x.dtype)) return fail(L, KILN_ERR_DTYPE, "%s: needs a floating dtype", op);
  return KILN_OK;
}

unsigned small_grid(int64_t n) { return grid_for(n, 256); }

// Per-chunk partials of x (stats) or of gy and x (backward) into part, per `ch`.
template <class T>
kiln_status chunk_partials(const Launch &L, const char *op, const Chunks &ch, Partial *part, const T *x, const T *gy,
                           const T *mean) {
  if (ch.per_channel == 0 || ch.C == 0) return KILN_OK;
  if (ch.cols) {
    const int64_t gy_blocks = ch.per_channel < 65535 ? ch.per_channel : 65535;
    const dim3 grid((unsigned)ceil_div(ch.C, 32), (unsigned)gy_blocks), block(32, 8);
    if (gy)
      bn_grad_cols_kernel<T><<<grid, block, 0, L.stream>>>(part, gy, x, mean, ch.N, ch.C, ch.per_channel);
    else
      bn_stats_cols_kernel<T><<<grid, block, 0, L.stream>>>(part, x, ch.N, ch.C, ch.per_channel);
  } else {
    const unsigned grid = grid_for(ch.C * ch.per_channel, 1, (unsigned)L.sm_count * 64u);
    if (gy)
      bn_grad_chunks_kernel<T>
          <<<grid, kStatsBlock, 0, L.stream>>>(part, gy, x, mean, ch.N, ch.C, ch.S, ch.rows, ch.segs, ch.per_channel);
    else
      bn_stats_chunks_kernel<T>
          <<<grid, kStatsBlock, 0, L.stream>>>(part, x, ch.N, ch.C, ch.S, ch.rows, ch.segs, ch.per_channel);
  }
  return check_launch(L, op, gy ? "bn_grad_chunks_kernel" : "bn_stats_chunks_kernel");
}

template <class T>
kiln_status apply(const Launch &L, const char *op, const Chunks &ch, T *o, const T *x, const T *g,
                  const compute_t<T> *coef) {
  const int64_t total = ch.N * ch.C * ch.S;
  if (total == 0) return KILN_OK;
  if (total < ((int64_t)1 << 31))  // i + the grid stride stays below 2^32
    bn_apply_kernel<T, uint32_t><<<grid_for(total, kApplyBlock), kApplyBlock, 0, L.stream>>>(
        o, x, g, coef, (uint32_t)total, (uint32_t)ch.C, (uint32_t)ch.S);
  else
    bn_apply_kernel<T, int64_t>
        <<<grid_for(total, kApplyBlock), kApplyBlock, 0, L.stream>>>(o, x, g, coef, total, ch.C, ch.S);
  return check_launch(L, op, "bn_apply_kernel");
}

template <class T>
kiln_status stats_typed(const Launch &L, const kiln_tensor &mean, const kiln_tensor &var, const kiln_tensor &x) {
  const char *op = "batch_norm_stats";
  const Chunks ch(x);
  if (ch.C == 0) return KILN_OK;
  Scratch sc(L, (size_t)(ch.C * ch.per_channel) * sizeof(Partial));
  if (ch.per_channel > 0 && !sc.ptr) return fail(L, KILN_ERR_OOM, "%s: no scratch for the partial sums", op);
  if (kiln_status st = chunk_partials<T>(L, op, ch, sc.as<Partial>(), (const T *)x.data, nullptr, nullptr)) return st;
  bn_stats_merge_kernel<T><<<small_grid(ch.C), 256, 0, L.stream>>>((T *)mean.data, (T *)var.data, sc.as<Partial>(),
                                                                   ch.C, ch.per_channel, ch.cols);
  return check_launch(L, op, "bn_stats_merge_kernel");
}

template <class T>
kiln_status apply_typed(const Launch &L, const kiln_tensor &y, const kiln_tensor &x, const kiln_tensor *w,
                        const kiln_tensor *b, const kiln_tensor &mean, const kiln_tensor &var, double eps) {
  const char *op = "batch_norm";
  const Chunks ch(x);
  if (ch.C == 0 || ch.N * ch.S == 0) return KILN_OK;
  Scratch sc(L, (size_t)(4 * ch.C) * sizeof(compute_t<T>));
  if (!sc.ptr) return fail(L, KILN_ERR_OOM, "%s: no scratch for the coefficients", op);
  bn_coef_kernel<T><<<small_grid(ch.C), 256, 0, L.stream>>>(sc.as<compute_t<T>>(), w ? (const T *)w->data : nullptr,
                                                            b ? (const T *)b->data : nullptr, (const T *)mean.data,
                                                            (const T *)var.data, ch.C, eps);
  if (kiln_status st = check_launch(L, op, "bn_coef_kernel")) return st;
  return apply<T>(L, op, ch, (T *)y.data, (const T *)x.data, (const T *)nullptr, sc.as<compute_t<T>>());
}

template <class T>
kiln_status backward_typed(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gw, const kiln_tensor &gb,
                           const kiln_tensor &gy, const kiln_tensor &x, const kiln_tensor *w, const kiln_tensor &mean,
                           const kiln_tensor &var, double eps) {
  const char *op = "batch_norm_backward";
  const Chunks ch(x);
  if (ch.C == 0) return KILN_OK;
  const size_t part_bytes = (size_t)(ch.C * ch.per_channel) * sizeof(Partial);
  const size_t coef_off = (part_bytes + 255) / 256 * 256;
  Scratch sc(L, coef_off + (size_t)(4 * ch.C) * sizeof(compute_t<T>));
  if (!sc.ptr) return fail(L, KILN_ERR_OOM, "%s: no scratch for the partial sums", op);
  Partial *part = sc.as<Partial>();
  compute_t<T> *coef = (compute_t<T> *)(sc.as<char>() + coef_off);
  const T *xp = (const T *)x.data, *gp = (const T *)gy.data, *mp = (const T *)mean.data;
  if (kiln_status st = chunk_partials<T>(L, op, ch, part, xp, gp, mp)) return st;
  bn_grad_merge_kernel<T><<<small_grid(ch.C), 256, 0, L.stream>>>(
      (T *)gw.data, (T *)gb.data, coef, part, w ? (const T *)w->data : nullptr, mp, (const T *)var.data, ch.C,
      ch.per_channel, ch.cols, (double)(ch.N * ch.S), eps);
  if (kiln_status st = check_launch(L, op, "bn_grad_merge_kernel")) return st;
  return apply<T>(L, op, ch, (T *)gx.data, xp, gp, coef);
}

template <class T>
kiln_status gn_backward_typed(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gw, const kiln_tensor &gb,
                              const kiln_tensor &gy, const kiln_tensor &x, const kiln_tensor *w,
                              const kiln_tensor &mean, const kiln_tensor &var, int64_t G, double eps) {
  const char *op = "group_norm_backward";
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2], R = N * C, per = C / G;
  if (C == 0) return KILN_OK;
  const Chunks ch(1, R, S);  // a chunk never crosses a row, so its sums are the row's
  const auto aligned = [](size_t b) { return (b + 255) / 256 * 256; };
  const size_t part_bytes = aligned((size_t)(R * ch.per_channel) * sizeof(Partial));
  const size_t rm_bytes = aligned((size_t)R * sizeof(T)), rs_bytes = aligned((size_t)R * sizeof(double2));
  Scratch sc(L, part_bytes + rm_bytes + rs_bytes + (size_t)(4 * R) * sizeof(compute_t<T>));
  // N = 0 (R = 0) asks for no scratch (null); only gw = gb = 0 are written then, as on the CPU.
  if (R > 0 && !sc.ptr) return fail(L, KILN_ERR_OOM, "%s: no scratch for the partial sums", op);
  Partial *part = sc.as<Partial>();
  T *rm = (T *)(sc.as<char>() + part_bytes);
  double2 *rs = (double2 *)(sc.as<char>() + part_bytes + rm_bytes);
  compute_t<T> *coef = (compute_t<T> *)(sc.as<char>() + part_bytes + rm_bytes + rs_bytes);
  const T *xp = (const T *)x.data, *gp = (const T *)gy.data;
  if (R > 0) {
    gn_row_mean_kernel<T><<<small_grid(R), 256, 0, L.stream>>>(rm, (const T *)mean.data, R, C, per);
    if (kiln_status st = check_launch(L, op, "gn_row_mean_kernel")) return st;
  }
  if (kiln_status st = chunk_partials<T>(L, op, ch, part, xp, gp, rm)) return st;
  if (R > 0) {
    gn_grad_merge_kernel<T><<<small_grid(N * G), 256, 0, L.stream>>>(
        coef, rs, part, w ? (const T *)w->data : nullptr, (const T *)mean.data, (const T *)var.data, N, C, per,
        ch.per_channel, ch.cols, (double)(per * S), eps);
    if (kiln_status st = check_launch(L, op, "gn_grad_merge_kernel")) return st;
  }
  gn_param_kernel<T><<<small_grid(C), 256, 0, L.stream>>>((T *)gw.data, (T *)gb.data, rs, N, C);
  if (kiln_status st = check_launch(L, op, "gn_param_kernel")) return st;
  return apply<T>(L, op, ch, (T *)gx.data, xp, gp, coef);
}

}  // namespace

kiln_status batch_norm_stats_cuda(const Launch &L, const kiln_tensor &mean, const kiln_tensor &var,
                                  const kiln_tensor &x) {
  const char *op = "batch_norm_stats";
  if (kiln_status st = check_x(L, op, x)) return st;
  if (kiln_status st = check_c(L, op, &mean, "mean", x)) return st;
  if (kiln_status st = check_c(L, op, &var, "var", x)) return st;
  KILN_DISPATCH_FLOAT(x.dtype, return fail(L, KILN_ERR_DTYPE, "%s: needs a floating dtype", op),
                      { return stats_typed<scalar_t>(L, mean, var, x); });
}

kiln_status batch_norm_cuda(const Launch &L, const kiln_tensor &y, const kiln_tensor &x, const kiln_tensor *w,
                            const kiln_tensor *b, const kiln_tensor &mean, const kiln_tensor &var, double eps) {
  const char *op = "batch_norm";
  if (kiln_status st = check_x(L, op, x)) return st;
  if (kiln_status st = check_nd(L, op, y, "the output", x)) return st;
  const kiln_tensor *vecs[4] = {w, b, &mean, &var};
  const char *names[4] = {"weight", "bias", "mean", "var"};
  for (int i = 0; i < 4; i++)
    if (kiln_status st = check_c(L, op, vecs[i], names[i], x)) return st;
  KILN_DISPATCH_FLOAT(x.dtype, return fail(L, KILN_ERR_DTYPE, "%s: needs a floating dtype", op),
                      { return apply_typed<scalar_t>(L, y, x, w, b, mean, var, eps); });
}

kiln_status batch_norm_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gw,
                                     const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                     const kiln_tensor *w, const kiln_tensor &mean, const kiln_tensor &var,
                                     double eps) {
  const char *op = "batch_norm_backward";
  if (kiln_status st = check_x(L, op, x)) return st;
  if (kiln_status st = check_nd(L, op, gx, "grad_input", x)) return st;
  if (kiln_status st = check_nd(L, op, gy, "grad_output", x)) return st;
  const kiln_tensor *vecs[5] = {&gw, &gb, w, &mean, &var};
  const char *names[5] = {"grad_weight", "grad_bias", "weight", "mean", "var"};
  for (int i = 0; i < 5; i++)
    if (kiln_status st = check_c(L, op, vecs[i], names[i], x)) return st;
  KILN_DISPATCH_FLOAT(x.dtype, return fail(L, KILN_ERR_DTYPE, "%s: needs a floating dtype", op),
                      { return backward_typed<scalar_t>(L, gx, gw, gb, gy, x, w, mean, var, eps); });
}

kiln_status group_norm_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gw,
                                     const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                     const kiln_tensor *w, const kiln_tensor &mean, const kiln_tensor &var, int64_t G,
                                     double eps) {
  const char *op = "group_norm_backward";
  if (kiln_status st = check_x(L, op, x)) return st;
  if (G < 1 || x.shape[1] % G != 0)
    return fail(L, KILN_ERR_ARG, "%s: %lld channels do not split into %lld groups", op, (long long)x.shape[1],
                (long long)G);
  if (kiln_status st = check_nd(L, op, gx, "grad_input", x)) return st;
  if (kiln_status st = check_nd(L, op, gy, "grad_output", x)) return st;
  const kiln_tensor *vecs[3] = {&gw, &gb, w};
  const char *names[3] = {"grad_weight", "grad_bias", "weight"};
  for (int i = 0; i < 3; i++)
    if (kiln_status st = check_c(L, op, vecs[i], names[i], x)) return st;
  for (const kiln_tensor *t : {&mean, &var}) {
    if (t->ndim != 1 || t->shape[0] != x.shape[0] * G || (t->shape[0] > 1 && t->strides[0] != 1))
      return fail(L, KILN_ERR_SHAPE, "%s: mean and var must be contiguous [N G] tensors", op);
    if (t->dtype != x.dtype) return fail(L, KILN_ERR_DTYPE, "%s: the statistics have a different dtype", op);
  }
  KILN_DISPATCH_FLOAT(x.dtype, return fail(L, KILN_ERR_DTYPE, "%s: needs a floating dtype", op),
                      { return gn_backward_typed<scalar_t>(L, gx, gw, gb, gy, x, w, mean, var, G, eps); });
}

}  // namespace kiln::cuda
