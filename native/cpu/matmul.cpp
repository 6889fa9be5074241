// Batched matmul: out[b] = a[b] @ b[b] over broadcast batch dims (the TS layer expands them).
// float32: cache-blocked rank-1 updates on the ISA axpy (B packed to contiguous rows when its
// N stride is not 1). Other dtypes: a plain loop in the compute type. Work is split over
// (batch, row block) pairs, never over K, so the bits do not depend on the thread count.
// The fast packed SIMD GEMM replaces the float32 path in its own change (issue: CPU GEMM).
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cpu_ops.h"
#include "scalar_math.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kRowBlock = 16, kColBlock = 512, kDepthBlock = 128;

struct Batch {
  char *o, *a, *b;
};

std::vector<Batch> batches(const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b) {
  kiln_tensor bo = out, ba = a, bb = b;
  bo.ndim = ba.ndim = bb.ndim = out.ndim - 2;
  const kiln_tensor *ops[3] = {&bo, &ba, &bb};
  auto p = make_plan<3>(ops);
  std::vector<Batch> v;
  v.reserve((size_t)p.numel);
  walk(p, 0, p.numel, [&](char *const *ptr, const int64_t *st, int64_t n) {
    for (int64_t i = 0; i < n; i++)
      v.push_back({ptr[0] + i * st[0] * p.esize[0], ptr[1] + i * st[1] * p.esize[1], ptr[2] + i * st[2] * p.esize[2]});
  });
  return v;
}

void matmul_f32(kiln_context *ctx, const std::vector<Batch> &bs, int64_t M, int64_t N, int64_t K,
                const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b) {
  const IsaKernels *isa = isa_kernels(ctx->isa);
  const int nd = a.ndim;
  int64_t sam = a.strides[nd - 2], sak = a.strides[nd - 1];
  int64_t sbk = b.strides[nd - 2], sbn = b.strides[nd - 1];
  int64_t som = out.strides[nd - 2];
  bool pack = sbn != 1;
  // Pack each distinct B once: broadcast batches (x[B, M, K] @ W.T) share one packed copy.
  std::vector<float> packed;
  std::vector<int64_t> slot(bs.size(), 0);
  if (pack) {
    std::vector<const char *> uniq;
    for (size_t i = 0; i < bs.size(); i++) {
      size_t u = 0;
      while (u < uniq.size() && uniq[u] != bs[i].b) u++;
      if (u == uniq.size()) uniq.push_back(bs[i].b);
      slot[i] = (int64_t)u;
      if (uniq.size() > 64) {  // many distinct Bs: no search, one slot each
        for (size_t j = 0; j < bs.size(); j++) slot[j] = (int64_t)j;
        uniq.clear();
        for (auto &b : bs) uniq.push_back(b.b);
        break;
      }
    }
    packed.resize(uniq.size() * (size_t)(K * N));
    parallel_for(ctx->pool.get(), (int64_t)uniq.size() * K, 64, [&](int64_t s, int64_t e) {
      for (int64_t t = s; t < e; t++) {
        const float *src = (const float *)uniq[t / K] + (t % K) * sbk;
        float *dst = packed.data() + t * N;
        for (int64_t j = 0; j < N; j++) dst[j] = src[j * sbn];
      }
    });
  }
  int64_t rblocks = (M + kRowBlock - 1) / kRowBlock;
  int64_t grain = std::max<int64_t>(1, (1 << 18) / std::max<int64_t>(1, kRowBlock * N * K));
  parallel_for(ctx->pool.get(), (int64_t)bs.size() * rblocks, grain, [&](int64_t s, int64_t e) {
    for (int64_t t = s; t < e; t++) {
      int64_t bi = t / rblocks, i0 = (t % rblocks) * kRowBlock, i1 = std::min(M, i0 + kRowBlock);
      const float *A = (const float *)bs[bi].a;
      const float *B = pack ? packed.data() + slot[bi] * K * N : (const float *)bs[bi].b;
      int64_t ldb = pack ? N : sbk;
      float *C = (float *)bs[bi].o;
      for (int64_t i = i0; i < i1; i++) std::memset(C + i * som, 0, (size_t)N * sizeof(float));
      for (int64_t j0 = 0; j0 < N; j0 += kColBlock) {
        int64_t nj = std::min(kColBlock, N - j0);
        for (int64_t k0 = 0; k0 < K; k0 += kDepthBlock) {
          int64_t k1 = std::min(K, k0 + kDepthBlock);
          for (int64_t i = i0; i < i1; i++)
            for (int64_t k = k0; k < k1; k++)
              isa->axpy_f32(C + i * som + j0, A[i * sam + k * sak], B + k * ldb + j0, nj);
        }
      }
    }
  });
}

template <class T>
void matmul_generic(kiln_context *ctx, const std::vector<Batch> &bs, int64_t M, int64_t N, int64_t K,
                    const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b) {
  using A = std::conditional_t<std::is_floating_point_v<compute_t<T>>, double, int64_t>;
  const int nd = a.ndim;
  int64_t sam = a.strides[nd - 2], sak = a.strides[nd - 1], sbk = b.strides[nd - 2], sbn = b.strides[nd - 1];
  int64_t som = out.strides[nd - 2], son = out.strides[nd - 1];
  parallel_for(ctx->pool.get(), (int64_t)bs.size() * M, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, N * K)),
               [&](int64_t s, int64_t e) {
                 for (int64_t t = s; t < e; t++) {
                   const Batch &bt = bs[t / M];
                   int64_t i = t % M;
                   const T *x = (const T *)bt.a;
                   const T *y = (const T *)bt.b;
                   T *o = (T *)bt.o;
                   for (int64_t j = 0; j < N; j++) {
                     A acc = 0;
                     for (int64_t k = 0; k < K; k++)
                       acc = math::wrap_add(
                           acc, math::wrap_mul((A)load(x[i * sam + k * sak]), (A)load(y[k * sbk + j * sbn])));
                     o[i * som + j * son] = store<T>(acc);
                   }
                 }
               });
}

}  // namespace

kiln_status matmul_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b) {
  int nd = out.ndim;
  if (nd < 2 || a.ndim != nd || b.ndim != nd)
    return fail(ctx, KILN_ERR_SHAPE, "matmul: operands must have equal rank >= 2");
  int64_t M = a.shape[nd - 2], K = a.shape[nd - 1], N = b.shape[nd - 1];
  if (b.shape[nd - 2] != K || out.shape[nd - 2] != M || out.shape[nd - 1] != N)
    return fail(ctx, KILN_ERR_SHAPE, "matmul: inner dimensions disagree");
  if (a.dtype != b.dtype || out.dtype != a.dtype) return fail(ctx, KILN_ERR_DTYPE, "matmul: dtypes disagree");
  if (out.strides[nd - 1] != 1 && N > 1) return fail(ctx, KILN_ERR_ARG, "matmul: output rows must be contiguous");
  auto bs = batches(out, a, b);
  if (bs.empty() || M == 0 || N == 0) return KILN_OK;
  if (out.dtype == KILN_FLOAT32) {
    matmul_f32(ctx, bs, M, N, K, out, a, b);
    return KILN_OK;
  }
  if (out.dtype == KILN_BOOL) return fail(ctx, KILN_ERR_DTYPE, "matmul: bool is not supported");
  KILN_DISPATCH_ALL(out.dtype, return fail(ctx, KILN_ERR_DTYPE, "matmul: bad dtype"),
                    matmul_generic<scalar_t>(ctx, bs, M, N, K, out, a, b));
  return KILN_OK;
}

}  // namespace kiln::cpu
