// Device pieces shared by the elementwise, reduce, index and random launchers: strided geometry
// (operands of one shape collapsed to the fewest dims, byte strides), the flat kernel (all
// operands contiguous or broadcast scalars: 16-byte packs where every pointer is aligned, a scalar
// tail) and the general strided kernel (index decomposition over up to 8 dims, 32-bit division
// when the element count allows).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "../../core/collapse.h"
#include "../../core/dtype.h"
#include "common.cuh"
#include "launch.h"

namespace kiln::cuda {

constexpr int kEwThreads = 256;  // threads per block of the elementwise kernels

// Operands of one shape (ops[0]'s), collapsed by core/collapse.h; to_bytes() turns the strides
// into bytes.
template <int K>
struct Geom : Collapsed<K> {
  char *base[K];
  int esize[K];
};

template <int K>
Geom<K> make_geom(const kiln_tensor *const (&ops)[K]) {
  Geom<K> g;
  for (int k = 0; k < K; k++) {
    g.base[k] = (char *)ops[k]->data;
    g.esize[k] = (int)dtype_size(ops[k]->dtype);
  }
  collapse_dims(g, ops);
  return g;
}

template <int K>
void to_bytes(Geom<K> &g) {
  for (int k = 0; k < K; k++)
    for (int d = 0; d < g.ndim; d++) g.st[k][d] *= g.esize[k];
}

inline bool same_shape(const kiln_tensor &a, const kiln_tensor &b) {
  if (a.ndim != b.ndim) return false;
  for (int d = 0; d < a.ndim; d++)
    if (a.shape[d] != b.shape[d]) return false;
  return true;
}

// Blocks for `items` work items at `per_thread` each: one pass over the data with many blocks,
// not a grid sized to the SMs, so no partial last wave of long-running blocks (the block count
// resident per SM depends on register use). Kernels still grid-stride beyond the cap.
inline unsigned ew_grid(int64_t items, int per_thread) { return grid_for(items, kEwThreads * per_thread, 1u << 30); }

// Byte offsets of flat (row-major) index i in each operand. IdxT: uint32_t when numel < 2^32.
template <int K, class IdxT>
__device__ __forceinline__ void geom_offsets(const Geom<K> &g, IdxT i, int64_t (&off)[K]) {
#pragma unroll
  for (int k = 0; k < K; k++) off[k] = 0;
    // Constant indices only (dims above ndim skipped), so the kernel reads its parameter space
    // in place instead of copying the geometry to local memory.
#pragma unroll
  for (int d = KILN_MAX_DIMS - 1; d >= 0; d--) {
    if (d >= g.ndim) continue;
    IdxT s = (IdxT)g.shape[d];
    IdxT q = i / s, r = i - q * s;
    i = q;
#pragma unroll
    for (int k = 0; k < K; k++) off[k] += (int64_t)r * g.st[k][d];
  }
}

// f(char *const ptrs[K]) for every element; grid-stride over the flat index.
template <int K, class IdxT, class F>
__global__ void __launch_bounds__(kEwThreads) strided_kernel(Geom<K> g, F f) {
  const int64_t n = g.numel, step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[K];
    geom_offsets<K, IdxT>(g, (IdxT)i, off);
    char *p[K];
#pragma unroll
    for (int k = 0; k < K; k++) p[k] = g.base[k] + off[k];
    f(p);
  }
}

template <int K, class F>
kiln_status launch_strided(const Launch &L, const char *op, Geom<K> g, F f) {
  to_bytes(g);
  if (g.numel <= (int64_t)UINT32_MAX)
    strided_kernel<K, uint32_t, F><<<ew_grid(g.numel, 1), kEwThreads, 0, L.stream>>>(g, f);
  else
    strided_kernel<K, uint64_t, F><<<ew_grid(g.numel, 1), kEwThreads, 0, L.stream>>>(g, f);
  return check_launch(L, op, "strided_kernel");
}

// ---- flat path: 16-byte packs ----

template <class T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <class P>
__device__ __forceinline__ P load_pack(const void *p) {
  P r;
  if constexpr (sizeof(P) == 16) {
    uint4 u = *(const uint4 *)p;
    memcpy(&r, &u, 16);
  } else if constexpr (sizeof(P) == 8) {
    uint2 u = *(const uint2 *)p;
    memcpy(&r, &u, 8);
  } else if constexpr (sizeof(P) == 4) {
    uint32_t u = *(const uint32_t *)p;
    memcpy(&r, &u, 4);
  } else if constexpr (sizeof(P) == 2) {
    uint16_t u = *(const uint16_t *)p;
    memcpy(&r, &u, 2);
  } else {
    memcpy(&r, p, sizeof(P));
  }
  return r;
}
template <class P>
__device__ __forceinline__ void store_pack(void *p, const P &r) {
  if constexpr (sizeof(P) == 16) {
    uint4 u;
    memcpy(&u, &r, 16);
    *(uint4 *)p = u;
  } else if constexpr (sizeof(P) == 8) {
    uint2 u;
    memcpy(&u, &r, 8);
    *(uint2 *)p = u;
  } else if constexpr (sizeof(P) == 4) {
    uint32_t u;
    memcpy(&u, &r, 4);
    *(uint32_t *)p = u;
  } else if constexpr (sizeof(P) == 2) {
    uint16_t u;
    memcpy(&u, &r, 2);
    *(uint16_t *)p = u;
  } else {
    memcpy(p, &r, sizeof(P));
  }
}

// A flat input: contiguous (s == 1) or one value broadcast to every element (s == 0).
template <class T>
struct In {
  const T *p;
  int64_t s;
  template <int V>
  __device__ __forceinline__ Pack<T, V> pack(int64_t i) const {
    if (s) return load_pack<Pack<T, V>>(p + i);
    Pack<T, V> r;
    T x = p[0];
#pragma unroll
    for (int k = 0; k < V; k++) r.v[k] = x;
    return r;
  }
  __device__ __forceinline__ T at(int64_t i) const { return p[i * s]; }
};

template <class O, int V, class F, class... P>
__device__ __forceinline__ Pack<O, V> apply_packs(const F &f, const P &...p) {
  Pack<O, V> r;
#pragma unroll
  for (int k = 0; k < V; k++) r.v[k] = f(p.v[k]...);
  return r;
}

// o[i] = f(in[i]...) for i < n: V elements per pack (every contiguous pointer aligned to its pack),
// then the n % V tail one element per thread.
template <int V, class O, class F, class... I>
__global__ void __launch_bounds__(kEwThreads) flat_kernel(O *o, int64_t n, F f, In<I>... in) {
  const int64_t nv = n / V, step = (int64_t)gridDim.x * blockDim.x,
                tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  int64_t v = tid;
  for (; v + step < nv; v += 2 * step) {  // two packs per operand in flight before any store
    const int64_t i0 = v * V, i1 = (v + step) * V;
    Pack<O, V> r0 = apply_packs<O, V>(f, in.template pack<V>(i0)...);
    Pack<O, V> r1 = apply_packs<O, V>(f, in.template pack<V>(i1)...);
    store_pack(o + i0, r0);
    store_pack(o + i1, r1);
  }
  for (; v < nv; v += step) {
    const int64_t i = v * V;
    store_pack(o + i, apply_packs<O, V>(f, in.template pack<V>(i)...));
  }
  for (int64_t i = nv * V + tid; i < n; i += step) o[i] = f(in.at(i)...);
}

template <class... T>
constexpr size_t max_size_of() {
  size_t m = 1;
  ((m = sizeof(T) > m ? sizeof(T) : m), ...);
  return m;
}

__host__ __device__ inline bool aligned(const void *p, size_t a) { return ((uintptr_t)p % a) == 0; }

// Writes element functor for the strided path: *(O *)p[0] = f(*(const I *)p[1 + k]...).
template <class O, class F, class... I>
struct AtPtrs {
  F f;
  template <size_t... k>
  __device__ __forceinline__ void run(char *const *p, std::index_sequence<k...>) const {
    *(O *)p[0] = f(*(const I *)p[k + 1]...);
  }
  __device__ __forceinline__ void operator()(char *const *p) const { run(p, std::index_sequence_for<I...>{}); }
};

template <class O, class... I, class F, int K, size_t... k>
kiln_status launch_flat(const Launch &L, const char *op, const F &f, const Geom<K> &g, std::index_sequence<k...>) {
  constexpr int V = (int)(16 / max_size_of<O, I...>());
  const int64_t n = g.numel;
  flat_kernel<V, O, F, I...><<<ew_grid(n / V, 2), kEwThreads, 0, L.stream>>>(
      (O *)g.base[0], n, f, In<I>{(const I *)g.base[k + 1], g.st[k + 1][0]}...);
  return check_launch(L, op, "flat_kernel");
}

// out = f(ins...) elementwise, out of storage type O and inputs of storage types I...; every
// operand already checked to have out's shape. The flat path (16-byte packs) when the output and
// every input are contiguous or broadcast scalars and every contiguous pointer is aligned to its
// pack; otherwise the strided path (which also takes misaligned contiguous operands).
template <class O, class... I, class F, class... Ts>
kiln_status launch_map(const Launch &L, const char *op, const F &f, const kiln_tensor &out, const Ts &...ins) {
  static_assert(sizeof...(I) == sizeof...(Ts), "one storage type per input");
  constexpr int K = 1 + (int)sizeof...(I);
  constexpr int V = (int)(16 / max_size_of<O, I...>());
  const kiln_tensor *ops[K] = {&out, &ins...};
  Geom<K> g = make_geom<K>(ops);
  if (g.numel == 0) return KILN_OK;
  constexpr size_t sizes[K] = {sizeof(O), sizeof(I)...};
  bool flat = g.ndim == 1 && g.st[0][0] == 1 && aligned(g.base[0], sizeof(O) * V);
  for (int k = 1; k < K; k++) flat = flat && (g.st[k][0] == 0 || (g.st[k][0] == 1 && aligned(g.base[k], sizes[k] * V)));
  if (flat) return launch_flat<O, I...>(L, op, f, g, std::index_sequence_for<I...>{});
  return launch_strided<K>(L, op, g, AtPtrs<O, F, I...>{f});
}

}  // namespace kiln::cuda
