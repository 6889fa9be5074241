// CUDA reductions (sum, prod, max, min, argmax, argmin) over the trailing `nred` dims of a strided
// view, mirroring native/cpu/reduce.cpp: accumulation in double for floating types and int64 for
// integers and bool, max/min propagate NaN, argmax/argmin return the first NaN or else the first
// index of the extreme value, any output dtype for sum/prod/max/min (stored like dtype.h).
//
// Paths (all deterministic: no atomics; the order of combination depends only on the shapes):
// - thread per output: small reductions, or outputs adjacent in memory with a strided reduced
//   dim ("columns": a warp then reads contiguous memory at each step);
// - warp per output (reduced extent <= kWarpMax) or block per output (larger);
// - two passes for few outputs with a huge reduction (a full sum of 1 GB): fixed chunks of
//   kChunk elements, one block each, partials in Launch scratch, then one block per output
//   combines its partials. Without scratch, the block-per-output path runs instead.
// Contiguous reduced runs whose base is 16-byte aligned are read in 16-byte packs.
// Bench: native/cuda/test/elementwise_test.cu (sum of 1 GB float32).
#include <cmath>
#include <limits>

#include "elementwise.h"
#include "ew_common.cuh"
#include "ew_ops.cuh"

namespace kiln::cuda {

namespace {

constexpr int kRedThreads = 256;
constexpr int64_t kWarpMax = 1024;        // reduced extent up to which a warp handles one output
constexpr int64_t kThreadMax = 32;        // up to which one thread handles one output
constexpr int64_t kChunk = 1 << 14;       // elements per block of the two-pass path
constexpr int64_t kFewOutputs = 512;      // fewer outputs than this with >= 2 chunks: two passes
constexpr int64_t kColumnsMin = 1 << 12;  // outputs needed for the columns path

template <class T>
using acc_t = std::conditional_t<std::is_floating_point_v<compute_t<T>>, double, int64_t>;

template <class A>
struct Acc {
  A v;
  int64_t i;
};

template <Reduce R, class A>
struct Red {
  static constexpr bool kArg = R == Reduce::ArgMax || R == Reduce::ArgMin;
  static constexpr bool kMax = R == Reduce::ArgMax;
  __device__ static Acc<A> init() {
    if constexpr (R == Reduce::Sum) return {A(0), 0};
    if constexpr (R == Reduce::Prod) return {A(1), 0};
    if constexpr (R == Reduce::Max)
      return {std::is_floating_point_v<A> ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::lowest(), 0};
    if constexpr (R == Reduce::Min)
      return {std::is_floating_point_v<A> ? std::numeric_limits<A>::infinity() : std::numeric_limits<A>::max(), 0};
    return {A(0), -1};
  }
  // Sequential step, exactly the CPU's Runner::step / arg_range (indices arrive in increasing order).
  __device__ static void step(Acc<A> &acc, A v, int64_t idx) {
    if constexpr (R == Reduce::Sum) acc.v = math::wrap_add(acc.v, v);
    if constexpr (R == Reduce::Prod) acc.v = math::wrap_mul(acc.v, v);
    if constexpr (R == Reduce::Max)
      acc.v = (acc.v != acc.v || v != v) ? (acc.v != acc.v ? acc.v : v) : (v > acc.v ? v : acc.v);
    if constexpr (R == Reduce::Min)
      acc.v = (acc.v != acc.v || v != v) ? (acc.v != acc.v ? acc.v : v) : (v < acc.v ? v : acc.v);
    if constexpr (kArg) {
      if (acc.i >= 0 && acc.v != acc.v) return;  // first NaN wins, like PyTorch
      if (acc.i < 0 || v != v || (kMax ? v > acc.v : v < acc.v)) acc = {v, idx};
    }
  }
  // Combines two partials over disjoint index sets: for arg, the NaN or extreme with the smallest
  // index, which is what the sequential scan over the union returns.
  __device__ static Acc<A> combine(Acc<A> a, Acc<A> b) {
    if constexpr (kArg) {
      if (b.i < 0) return a;
      if (a.i < 0) return b;
      bool an = a.v != a.v, bn = b.v != b.v;
      if (an || bn) return (an && bn) ? (a.i < b.i ? a : b) : (an ? a : b);
      if (kMax ? b.v > a.v : b.v < a.v) return b;
      if (kMax ? a.v > b.v : a.v < b.v) return a;
      return a.i < b.i ? a : b;
    } else {
      step(a, b.v, 0);
      return a;
    }
  }
};

template <class Rd, class A>
__device__ __forceinline__ Acc<A> warp_combine(Acc<A> a) {
#pragma unroll
  for (int o = kWarp / 2; o > 0; o >>= 1) {
    Acc<A> b;
    using S = std::conditional_t<std::is_same_v<A, double>, double, long long>;  // shuffle overloads
    b.v = (A)__shfl_xor_sync(0xffffffffu, (S)a.v, o);
    b.i = Rd::kArg ? (int64_t)__shfl_xor_sync(0xffffffffu, (long long)a.i, o) : 0;
    a = Rd::combine(a, b);
  }
  return a;
}

// Block-wide combine; the result is valid in thread 0. blockDim.x is a multiple of 32.
template <class Rd, class A>
__device__ __forceinline__ Acc<A> block_combine(Acc<A> a) {
  __shared__ Acc<A> sh[kWarp];
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, nwarps = blockDim.x / kWarp;
  a = warp_combine<Rd>(a);
  __syncthreads();  // sh may still be read by the previous output's combine
  if (lane == 0) sh[warp] = a;
  __syncthreads();
  if (warp == 0) {
    a = lane < nwarps ? sh[lane] : Rd::init();
    a = warp_combine<Rd>(a);
  }
  return a;
}

template <class A>
__device__ __forceinline__ void store_dyn(char *o, int dt, A v) {
  switch (dt) {
    case KILN_FLOAT32: *(float *)o = store<float>(v); break;
    case KILN_FLOAT64: *(double *)o = store<double>(v); break;
    case KILN_FLOAT16: *(half_t *)o = store<half_t>(v); break;
    case KILN_BFLOAT16: *(bfloat16_t *)o = store<bfloat16_t>(v); break;
    case KILN_INT32: *(int32_t *)o = store<int32_t>(v); break;
    case KILN_INT64: *(int64_t *)o = store<int64_t>(v); break;
    case KILN_UINT8: *(uint8_t *)o = store<uint8_t>(v); break;
    case KILN_BOOL: *(bool *)o = store<bool>(v); break;
    default: break;
  }
}

template <class Rd, class A>
__device__ __forceinline__ void write_result(char *o, int dt, const Acc<A> &a) {
  if constexpr (Rd::kArg)
    *(int64_t *)o = a.i;
  else
    store_dyn(o, dt, a.v);
}

// What every kernel gets: outer geometry (out, in) in bytes, the reduced dims' geometry in bytes.
struct RedArgs {
  Geom<2> og;
  Geom<1> rg;
  int64_t rn;  // reduced elements per output
  int out_dtype;
  bool contig;              // reduced dims form one contiguous run
  int64_t inner, inner_st;  // the last reduced dim: size and byte stride
};

__device__ __forceinline__ void outer_ptrs(const RedArgs &a, int64_t o, char *&out, const char *&in) {
  int64_t off[2];
  geom_offsets<2, uint64_t>(a.og, (uint64_t)o, off);
  out = a.og.base[0] + off[0];
  in = a.og.base[1] + off[1];
}

__device__ __forceinline__ int64_t red_offset(const Geom<1> &rg, int64_t j) {
  if (rg.ndim == 1) return j * rg.st[0][0];
  int64_t off[1];
  geom_offsets<1, uint64_t>(rg, (uint64_t)j, off);
  return off[0];
}

// Elements [lo, hi) of one output's reduced view, strided over the group's threads (rank t of nt):
// each thread sees increasing indices, so the sequential step applies.
template <class T, class Rd, class A>
__device__ __forceinline__ void accumulate(Acc<A> &acc, const RedArgs &a, const char *base, int64_t lo, int64_t hi,
                                           int t, int nt) {
  constexpr int V = (int)(16 / sizeof(T));
  if (a.contig) {
    const T *x = (const T *)base + lo;
    const int64_t len = hi - lo;
    int64_t done = 0;
    if (V > 1 && aligned(x, 16)) {
      const int64_t nv = len / V;
      int64_t v = t;
      // Four packs in flight per thread (indices still increase: v, v + nt, ...).
      for (; v + 3 * nt < nv; v += 4 * nt) {
        Pack<T, V> p[4];
#pragma unroll
        for (int u = 0; u < 4; u++) p[u] = load_pack<Pack<T, V>>(x + (v + u * nt) * V);
#pragma unroll
        for (int u = 0; u < 4; u++)
#pragma unroll
          for (int k = 0; k < V; k++) Rd::step(acc, (A)load(p[u].v[k]), lo + (v + u * nt) * V + k);
      }
      for (; v < nv; v += nt) {
        Pack<T, V> p = load_pack<Pack<T, V>>(x + v * V);
#pragma unroll
        for (int k = 0; k < V; k++) Rd::step(acc, (A)load(p.v[k]), lo + v * V + k);
      }
      done = nv * V;
    }
    for (int64_t j = done + t; j < len; j += nt) Rd::step(acc, (A)load(x[j]), lo + j);
    return;
  }
  for (int64_t j = lo + t; j < hi; j += nt) Rd::step(acc, (A)load(*(const T *)(base + red_offset(a.rg, j))), j);
}

template <class T, Reduce R>
__global__ void __launch_bounds__(kRedThreads) reduce_thread_kernel(RedArgs a) {
  using A = acc_t<T>;
  using Rd = Red<R, A>;
  const int64_t nout = a.og.numel, step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < nout; o += step) {
    char *out;
    const char *in;
    outer_ptrs(a, o, out, in);
    Acc<A> acc = Rd::init();
    if (a.rg.ndim == 1) {
      const int64_t st = a.rg.st[0][0];
      for (int64_t j = 0; j < a.rn; j++) Rd::step(acc, (A)load(*(const T *)(in + j * st)), j);
    } else {  // runs along the last reduced dim; one decomposition per run
      const int64_t inner = a.inner, st = a.inner_st;
      for (int64_t j0 = 0; j0 < a.rn; j0 += inner) {
        const char *p = in + red_offset(a.rg, j0);
        for (int64_t k = 0; k < inner; k++) Rd::step(acc, (A)load(*(const T *)(p + k * st)), j0 + k);
      }
    }
    write_result<Rd>(out, a.out_dtype, acc);
  }
}

template <class T, Reduce R>
__global__ void __launch_bounds__(kRedThreads) reduce_warp_kernel(RedArgs a) {
  using A = acc_t<T>;
  using Rd = Red<R, A>;
  const int lane = threadIdx.x % kWarp;
  const int64_t nout = a.og.numel, warps = (int64_t)gridDim.x * (blockDim.x / kWarp);
  for (int64_t o = (int64_t)blockIdx.x * (blockDim.x / kWarp) + threadIdx.x / kWarp; o < nout; o += warps) {
    char *out;
    const char *in;
    outer_ptrs(a, o, out, in);
    Acc<A> acc = Rd::init();
    accumulate<T, Rd>(acc, a, in, 0, a.rn, lane, kWarp);
    acc = warp_combine<Rd>(acc);
    if (lane == 0) write_result<Rd>(out, a.out_dtype, acc);
  }
}

template <class T, Reduce R>
__global__ void __launch_bounds__(kRedThreads) reduce_block_kernel(RedArgs a) {
  using A = acc_t<T>;
  using Rd = Red<R, A>;
  for (int64_t o = blockIdx.x; o < a.og.numel; o += gridDim.x) {  // uniform per block: syncs are safe
    char *out;
    const char *in;
    outer_ptrs(a, o, out, in);
    Acc<A> acc = Rd::init();
    accumulate<T, Rd>(acc, a, in, 0, a.rn, threadIdx.x, blockDim.x);
    acc = block_combine<Rd>(acc);
    if (threadIdx.x == 0) write_result<Rd>(out, a.out_dtype, acc);
  }
}

// Pass 1: block b reduces chunk b % nchunks of output b / nchunks into part[b].
template <class T, Reduce R>
__global__ void __launch_bounds__(kRedThreads) reduce_partial_kernel(RedArgs a, int64_t nchunks, Acc<acc_t<T>> *part) {
  using A = acc_t<T>;
  using Rd = Red<R, A>;
  const int64_t total = a.og.numel * nchunks;
  for (int64_t b = blockIdx.x; b < total; b += gridDim.x) {
    const int64_t o = b / nchunks, c = b % nchunks;
    char *out;
    const char *in;
    outer_ptrs(a, o, out, in);
    Acc<A> acc = Rd::init();
    const int64_t lo = c * kChunk, hi = lo + kChunk < a.rn ? lo + kChunk : a.rn;
    accumulate<T, Rd>(acc, a, in, lo, hi, threadIdx.x, blockDim.x);
    acc = block_combine<Rd>(acc);
    if (threadIdx.x == 0) part[b] = acc;
  }
}

// Pass 2: block per output combines its nchunks partials (in an order fixed by blockDim).
template <class T, Reduce R>
__global__ void __launch_bounds__(kRedThreads)
    reduce_final_kernel(RedArgs a, int64_t nchunks, const Acc<acc_t<T>> *part) {
  using A = acc_t<T>;
  using Rd = Red<R, A>;
  for (int64_t o = blockIdx.x; o < a.og.numel; o += gridDim.x) {
    char *out;
    const char *in;
    outer_ptrs(a, o, out, in);
    Acc<A> acc = Rd::init();
    for (int64_t c = threadIdx.x; c < nchunks; c += blockDim.x) acc = Rd::combine(acc, part[o * nchunks + c]);
    acc = block_combine<Rd>(acc);
    if (threadIdx.x == 0) write_result<Rd>(out, a.out_dtype, acc);
  }
}

template <class T, Reduce R>
kiln_status reduce_typed(const Launch &L, const kiln_tensor &out, const kiln_tensor &in, int nred, const char *name) {
  constexpr bool is_arg = R == Reduce::ArgMax || R == Reduce::ArgMin;
  const int nouter = in.ndim - nred;
  kiln_tensor red{};
  red.data = in.data;
  red.dtype = in.dtype;
  red.ndim = nred;
  int64_t rn = 1;
  for (int d = 0; d < nred; d++) {
    red.shape[d] = in.shape[nouter + d];
    red.strides[d] = in.strides[nouter + d];
    rn *= red.shape[d];
  }
  if (rn == 0 && (R == Reduce::Max || R == Reduce::Min || is_arg))
    return fail(L, KILN_ERR_SHAPE, "reduction over an empty dimension has no identity");
  kiln_tensor outer_in = in;
  outer_in.ndim = nouter;
  const kiln_tensor *oops[2] = {&out, &outer_in};
  const kiln_tensor *rops[1] = {&red};
  RedArgs a;
  a.og = make_geom<2>(oops);
  a.rg = make_geom<1>(rops);
  a.rn = rn;
  a.out_dtype = out.dtype;
  a.contig = a.rg.ndim == 1 && a.rg.st[0][0] == 1;
  const int64_t nout = a.og.numel;
  // Outputs adjacent in memory, reduced dims not: one thread per output reads coalesced rows.
  const bool columns = !a.contig && a.og.st[1][a.og.ndim - 1] == 1 && a.og.st[0][a.og.ndim - 1] == 1;
  to_bytes(a.og);
  to_bytes(a.rg);
  a.inner = a.rg.shape[a.rg.ndim - 1];
  a.inner_st = a.rg.st[0][a.rg.ndim - 1];
  if (nout == 0) return KILN_OK;
  const unsigned cap = (unsigned)(L.sm_count > 0 ? L.sm_count : 132) * (2048 / kRedThreads);
  const int64_t nchunks = (rn + kChunk - 1) / kChunk;
  if (nchunks >= 2 && nout < kFewOutputs && !(columns && nout >= kColumnsMin)) {
    Scratch s(L, (size_t)(nout * nchunks) * sizeof(Acc<acc_t<T>>));
    if (s.ptr) {
      auto *part = s.as<Acc<acc_t<T>>>();
      reduce_partial_kernel<T, R>
          <<<grid_for(nout * nchunks, 1, 1u << 30), kRedThreads, 0, L.stream>>>(a, nchunks, part);
      if (kiln_status st = check_launch(L, name, "reduce_partial_kernel")) return st;
      reduce_final_kernel<T, R><<<grid_for(nout, 1, cap), kRedThreads, 0, L.stream>>>(a, nchunks, part);
      return check_launch(L, name, "reduce_final_kernel");
    }
  }
  if (rn <= kThreadMax || (columns && nout >= kColumnsMin)) {
    reduce_thread_kernel<T, R><<<grid_for(nout, kRedThreads, cap), kRedThreads, 0, L.stream>>>(a);
    return check_launch(L, name, "reduce_thread_kernel");
  }
  if (rn <= kWarpMax) {
    reduce_warp_kernel<T, R><<<grid_for(nout, kRedThreads / kWarp, cap), kRedThreads, 0, L.stream>>>(a);
    return check_launch(L, name, "reduce_warp_kernel");
  }
  reduce_block_kernel<T, R><<<grid_for(nout, 1, cap), kRedThreads, 0, L.stream>>>(a);
  return check_launch(L, name, "reduce_block_kernel");
}

}  // namespace

kiln_status reduce_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in, int nred, Reduce op) {
  if (nred < 0 || nred > in.ndim || out.ndim != in.ndim - nred)
    return fail(L, KILN_ERR_SHAPE, "reduce: output rank %d does not match input rank %d minus %d", out.ndim, in.ndim,
                nred);
  for (int d = 0; d < out.ndim; d++)
    if (out.shape[d] != in.shape[d])
      return fail(L, KILN_ERR_SHAPE, "reduce: output dim %d has size %lld, the input %lld", d, (long long)out.shape[d],
                  (long long)in.shape[d]);
  if ((op == Reduce::ArgMax || op == Reduce::ArgMin) && out.dtype != KILN_INT64)
    return fail(L, KILN_ERR_DTYPE, "argmax/argmin: output must be int64");
  if (out.dtype < 0 || out.dtype >= KILN_NUM_DTYPES) return fail(L, KILN_ERR_DTYPE, "reduce: bad output dtype");
  if ((int)op < 0 || (int)op > (int)Reduce::ArgMin) return fail(L, KILN_ERR_ARG, "reduce: bad op %d", (int)op);
  static const char *names[] = {"sum", "prod", "amax", "amin", "argmax", "argmin"};
  const char *name = names[(int)op];
  kiln_status st = KILN_OK;
  KILN_DISPATCH_ALL(in.dtype, return fail(L, KILN_ERR_DTYPE, "reduce: bad dtype"), {
    switch (op) {
      case Reduce::Sum: st = reduce_typed<scalar_t, Reduce::Sum>(L, out, in, nred, name); break;
      case Reduce::Prod: st = reduce_typed<scalar_t, Reduce::Prod>(L, out, in, nred, name); break;
      case Reduce::Max: st = reduce_typed<scalar_t, Reduce::Max>(L, out, in, nred, name); break;
      case Reduce::Min: st = reduce_typed<scalar_t, Reduce::Min>(L, out, in, nred, name); break;
      case Reduce::ArgMax: st = reduce_typed<scalar_t, Reduce::ArgMax>(L, out, in, nred, name); break;
      case Reduce::ArgMin: st = reduce_typed<scalar_t, Reduce::ArgMin>(L, out, in, nred, name); break;
    }
  });
  return st;
}

}  // namespace kiln::cuda
