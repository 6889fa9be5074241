// Batched matmul with the GEMM options, mirroring native/cpu/matmul.cpp:
//   out[b] = act(alpha * a[b] @ b[b] + beta * out[b] + bias[b])
// over batch dims already expanded by the caller (any batch strides, 0 included), a and b with any
// strides in their matrix dims (transposed views), out's rows contiguous, bias null or expanded to
// out's shape with a last stride of 0 or 1. float32, float16 and bfloat16 accumulate in float,
// float64 in double, int32/int64/uint8 in wrapping int64 (like the CPU); GELU only for floats.
//
// A placeholder until the GEMM issue: a plain shared-memory tiled SGEMM with register blocking
// (128x128x8 tiles, 8x8 outputs per thread for the float accumulators; 64x64x8, 4x4 for double and
// int64). Tiles are loaded with bounds checks and zero fill, in the order that makes the operand's
// unit-stride dimension the fast one, so transposed views stay coalesced. K is never split, so the
// bits do not depend on the launch geometry.
// Bench: native/cuda/test/nn_test.cu ("matmul_f32 4096^3", GFLOP/s).
#include <type_traits>

#include "nn.h"
#include "nn_common.cuh"

namespace kiln::cuda {

namespace {

using nn::EwPlan;

struct MmArgs {
  void *out;
  const void *a, *b, *bias;
  int64_t M, N, K;
  int64_t sam, sak, sbk, sbn, som, sbm, sbj;
  bool a_k_fast, b_n_fast;  // the load order of each tile (which dim is unit-stride)
  int act;
  double alpha, beta;
  int64_t alpha_i, beta_i;  // integers: alpha and beta as the CPU casts them
  int64_t nbatch;
  EwPlan<4> batch;  // batch dims of out, a, b, bias
};

template <class A>
__device__ __forceinline__ A mac(A acc, A x, A y) {
  if constexpr (std::is_integral_v<A>)
    return (A)((uint64_t)acc + (uint64_t)x * (uint64_t)y);
  else
    return acc + x * y;
}

__device__ __forceinline__ float d_erfc(float x) { return erfcf(x); }
__device__ __forceinline__ double d_erfc(double x) { return erfc(x); }
__device__ __forceinline__ float d_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double d_tanh(double x) { return tanh(x); }

template <class A>
__device__ __forceinline__ A activate(int act, A x) {
  if constexpr (std::is_floating_point_v<A>) {
    switch (act) {
      case (int)GemmAct::Relu: return x < 0 ? A(0) : x;
      case (int)GemmAct::Gelu: return (A)0.5 * x * d_erfc(-x * (A)0.70710678118654752);
      case (int)GemmAct::GeluTanh:
        return (A)0.5 * x * ((A)1 + d_tanh((A)0.79788456080286536 * (x + (A)0.044715 * x * x * x)));
      default: return x;
    }
  } else {
    return act == (int)GemmAct::Relu && x < 0 ? A(0) : x;
  }
}

// Threads: (BM / TM) x (BN / TN) = 256. A thread owns TM / 4 groups of 4 consecutive rows, BM / (TM / 4)
// apart, times TN / 4 groups of 4 consecutive columns, so fragment reads from shared memory are
// 4-wide and conflict-free and each row's stores from a half-warp are contiguous.
template <class T, class A, int BM, int BN, int BK, int TM, int TN, int MINB>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), MINB) matmul_kernel(const __grid_constant__ MmArgs g) {
  constexpr int NT = (BM / TM) * (BN / TN), GM = TM / 4, GN = TN / 4, PAD = 4;
  constexpr int RS = BM / GM, CS = BN / GN;            // distance between a thread's row (column) groups
  constexpr int LA = BM * BK / NT, LB = BK * BN / NT;  // tile elements each thread loads
  static_assert(TM % 4 == 0 && TN % 4 == 0 && (BM * BK) % NT == 0 && (BK * BN) % NT == 0, "tile shape");
  __shared__ __align__(16) A As[BK][BM + PAD];
  __shared__ __align__(16) A Bs[BK][BN + PAD];
  const int tid = threadIdx.x, tx = tid % (BN / TN), ty = tid / (BN / TN);
  const T *a = (const T *)g.a, *b = (const T *)g.b, *bias = (const T *)g.bias;
  T *out = (T *)g.out;
  const int64_t mtiles = (g.M + BM - 1) / BM, ntiles = (g.N + BN - 1) / BN;
  for (int64_t bz = blockIdx.z; bz < g.nbatch; bz += gridDim.z) {
    int64_t off[4];
    nn::ew_offsets(g.batch, bz, off);
    const T *ab = a + off[1], *bb = b + off[2];
    T *ob = out + off[0];
    const T *zb = bias ? bias + off[3] : nullptr;
    for (int64_t tn = blockIdx.y; tn < ntiles; tn += gridDim.y)
      for (int64_t tm = blockIdx.x; tm < mtiles; tm += gridDim.x) {
        const int64_t m0 = tm * BM, n0 = tn * BN;
        A acc[TM][TN];
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
          for (int j = 0; j < TN; j++) acc[i][j] = A(0);
        // Register prefetch: the next k-tile's global loads are in flight while this one computes.
        A ra[LA], rb[LB];
        auto fetch = [&](int64_t k0) {
#pragma unroll
          for (int r = 0; r < LA; r++) {
            const int l = tid + r * NT;
            const int m = g.a_k_fast ? l / BK : l % BM, k = g.a_k_fast ? l % BK : l / BM;
            const int64_t gm = m0 + m, gk = k0 + k;
            ra[r] = gm < g.M && gk < g.K ? (A)load(ab[gm * g.sam + gk * g.sak]) : A(0);
          }
#pragma unroll
          for (int r = 0; r < LB; r++) {
            const int l = tid + r * NT;
            const int n = g.b_n_fast ? l % BN : l / BK, k = g.b_n_fast ? l / BN : l % BK;
            const int64_t gn = n0 + n, gk = k0 + k;
            rb[r] = gn < g.N && gk < g.K ? (A)load(bb[gk * g.sbk + gn * g.sbn]) : A(0);
          }
        };
        fetch(0);
        for (int64_t k0 = 0; k0 < g.K; k0 += BK) {
#pragma unroll
          for (int r = 0; r < LA; r++) {
            const int l = tid + r * NT;
            As[g.a_k_fast ? l % BK : l / BM][g.a_k_fast ? l / BK : l % BM] = ra[r];
          }
#pragma unroll
          for (int r = 0; r < LB; r++) {
            const int l = tid + r * NT;
            Bs[g.b_n_fast ? l / BN : l % BK][g.b_n_fast ? l % BN : l / BK] = rb[r];
          }
          __syncthreads();
          if (k0 + BK < g.K) fetch(k0 + BK);
#pragma unroll
          for (int k = 0; k < BK; k++) {
            A af[TM], bf[TN];
#pragma unroll
            for (int q = 0; q < GM; q++)
#pragma unroll
              for (int r = 0; r < 4; r++) af[q * 4 + r] = As[k][q * RS + ty * 4 + r];
#pragma unroll
            for (int q = 0; q < GN; q++)
#pragma unroll
              for (int r = 0; r < 4; r++) bf[q * 4 + r] = Bs[k][q * CS + tx * 4 + r];
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
              for (int j = 0; j < TN; j++) acc[i][j] = mac(acc[i][j], af[i], bf[j]);
          }
          __syncthreads();
        }
        // Epilogue: alpha, beta * out, bias, activation (the CPU's order).
        const A alpha = std::is_integral_v<A> ? (A)g.alpha_i : (A)g.alpha;
        const A beta = std::is_integral_v<A> ? (A)g.beta_i : (A)g.beta;
#pragma unroll
        for (int i = 0; i < TM; i++) {
          const int64_t gm = m0 + (i / 4) * RS + ty * 4 + i % 4;
          if (gm >= g.M) continue;
#pragma unroll
          for (int j = 0; j < TN; j++) {
            const int64_t gn = n0 + (j / 4) * CS + tx * 4 + j % 4;
            if (gn >= g.N) continue;
            T &dst = ob[gm * g.som + gn];
            A v = mac(A(0), alpha, acc[i][j]);
            if (beta != A(0)) v = mac(v, beta, (A)load(dst));
            if (zb) v = mac(v, A(1), (A)load(zb[gm * g.sbm + gn * g.sbj]));
            dst = store<T>(activate(g.act, v));
          }
        }
      }
  }
}

template <class T, class A, int BM, int BN, int BK, int TM, int TN, int MINB>
void launch(const Launch &L, const MmArgs &g) {
  const int64_t mtiles = (g.M + BM - 1) / BM, ntiles = (g.N + BN - 1) / BN;
  dim3 grid((unsigned)(mtiles < 0x7fffffff ? mtiles : 0x7fffffff), (unsigned)(ntiles < 65535 ? ntiles : 65535),
            (unsigned)(g.nbatch < 65535 ? g.nbatch : 65535));
  matmul_kernel<T, A, BM, BN, BK, TM, TN, MINB><<<grid, (BM / TM) * (BN / TN), 0, L.stream>>>(g);
}

template <class T>
void launch_for(const Launch &L, const MmArgs &g) {
  if constexpr (std::is_same_v<T, double>)
    launch<T, double, 64, 64, 8, 4, 4, 2>(L, g);
  else if constexpr (std::is_floating_point_v<compute_t<T>>)
    launch<T, float, 128, 128, 8, 8, 8, 1>(L, g);  // ~210 registers: one block per SM
  else
    launch<T, int64_t, 64, 64, 8, 4, 4, 2>(L, g);
}

}  // namespace

kiln_status matmul_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b,
                        const kiln_tensor *bias, const MatmulOpts &o) {
  const int nd = out.ndim;
  if (nd < 2 || nd > KILN_MAX_DIMS || a.ndim != nd || b.ndim != nd || (bias && bias->ndim != nd))
    return fail(L, KILN_ERR_SHAPE, "matmul: operands must have equal rank >= 2");
  const int64_t M = a.shape[nd - 2], K = a.shape[nd - 1], N = b.shape[nd - 1];
  if (b.shape[nd - 2] != K || out.shape[nd - 2] != M || out.shape[nd - 1] != N)
    return fail(L, KILN_ERR_SHAPE, "matmul: inner dimensions disagree");
  for (int d = 0; d < nd - 2; d++)
    if (a.shape[d] != out.shape[d] || b.shape[d] != out.shape[d] || (bias && bias->shape[d] != out.shape[d]))
      return fail(L, KILN_ERR_SHAPE, "matmul: batch dim %d is not expanded to the output's", d);
  if (bias && (bias->shape[nd - 2] != M || bias->shape[nd - 1] != N))
    return fail(L, KILN_ERR_SHAPE, "matmul: the bias must be expanded to the output's shape");
  if (a.dtype != b.dtype || out.dtype != a.dtype || (bias && bias->dtype != a.dtype))
    return fail(L, KILN_ERR_DTYPE, "matmul: dtypes disagree");
  if (out.strides[nd - 1] != 1 && N > 1) return fail(L, KILN_ERR_ARG, "matmul: output rows must be contiguous");
  if (bias && N > 1 && bias->strides[nd - 1] != 0 && bias->strides[nd - 1] != 1)
    return fail(L, KILN_ERR_ARG, "matmul: the bias's last stride must be 0 or 1");
  if (out.dtype == KILN_BOOL) return fail(L, KILN_ERR_DTYPE, "matmul: bool is not supported");
  const bool floating =
      out.dtype == KILN_FLOAT32 || out.dtype == KILN_FLOAT64 || out.dtype == KILN_FLOAT16 || out.dtype == KILN_BFLOAT16;
  if (!floating && (o.act == GemmAct::Gelu || o.act == GemmAct::GeluTanh))
    return fail(L, KILN_ERR_DTYPE, "matmul: GELU needs a floating dtype");
  if ((int)o.act < 0 || (int)o.act > (int)GemmAct::GeluTanh)
    return fail(L, KILN_ERR_ARG, "matmul: unknown activation %d", (int)o.act);
  if (out.dtype != KILN_INT32 && out.dtype != KILN_INT64 && out.dtype != KILN_UINT8 && !floating)
    return fail(L, KILN_ERR_DTYPE, "matmul: bad dtype");

  MmArgs g{};
  g.out = out.data, g.a = a.data, g.b = b.data, g.bias = bias ? bias->data : nullptr;
  g.M = M, g.N = N, g.K = K;
  g.sam = a.strides[nd - 2], g.sak = a.strides[nd - 1];
  g.sbk = b.strides[nd - 2], g.sbn = b.strides[nd - 1];
  g.som = out.strides[nd - 2];
  g.sbm = bias ? bias->strides[nd - 2] : 0;
  g.sbj = bias && N > 1 ? bias->strides[nd - 1] : 0;
  g.a_k_fast = !(a.strides[nd - 2] == 1 && M > 1) && (a.strides[nd - 1] == 1 || K <= 1);
  g.b_n_fast = b.strides[nd - 1] == 1 || N <= 1 || b.strides[nd - 2] != 1;
  g.act = (int)o.act;
  g.alpha = o.alpha, g.beta = o.beta;
  g.alpha_i = (int64_t)o.alpha, g.beta_i = (int64_t)o.beta;
  kiln_tensor bo = out, ba = a, bb = b, bc = bias ? *bias : a;
  bo.ndim = ba.ndim = bb.ndim = bc.ndim = nd - 2;
  const kiln_tensor *ops[4] = {&bo, &ba, &bb, &bc};
  g.batch = nn::ew_plan(ops);
  g.nbatch = g.batch.numel;
  if (g.nbatch == 0 || M == 0 || N == 0) return KILN_OK;

  KILN_DISPATCH_ALL(out.dtype, return fail(L, KILN_ERR_DTYPE, "matmul: bad dtype"), {
    if constexpr (!std::is_same_v<scalar_t, bool>) launch_for<scalar_t>(L, g);
  });
  return check_launch(L, "matmul", "matmul_kernel");
}

}  // namespace kiln::cuda
