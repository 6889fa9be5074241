// CUDA gather / scatter / scatter-add along one dim, mirroring native/cpu/index.cpp (int32 or
// int64 indices, negative indices count from the end, any dtype).
//
// Out-of-range indices: the CPU returns KILN_ERR_INDEX after its loop; a CUDA launcher cannot
// read the indices without synchronising, so here
// - nothing is ever read or written out of bounds: gather skips the element (the output keeps its
//   old value, as on CPU); scatter first checks every index in a separate kernel and, when one is
//   bad, the scatter kernel writes nothing (the output is untouched, as on CPU);
// - the bad value is recorded in `*bad_index` when the caller passes that device word (an int64
//   it initialised to INT64_MIN; one of the bad values wins), so the runtime can raise
//   KILN_ERR_INDEX at the next synchronisation. The overloads without it only skip.
// Scatter without accumulate: with duplicate indices, which source element lands is not
// specified (the CPU's serial loop keeps the last). Scatter-add uses atomics: float32, float64,
// int32 and int64 atomicAdd, a 32-bit compare-and-swap loop for float16, bfloat16, uint8 and bool
// (computing store(load(a) + load(b)) exactly like the CPU); the order of the additions is not
// deterministic, so float results may differ in the last bits between runs.
#include "elementwise.h"
#include "ew_common.cuh"
#include "ew_ops.cuh"

namespace kiln::cuda {

namespace {

__device__ __forceinline__ void record_bad(int64_t *bad, int64_t ix) {
  if (bad) atomicCAS((unsigned long long *)bad, (unsigned long long)INT64_MIN, (unsigned long long)ix);
}

// p[0]: out element, p[1]: index, p[2]: input row (dim stride 0; the index selects along dim).
template <class U, class I>
struct GatherF {
  int64_t limit, sdim;  // size of dim in the input, its stride in bytes
  int64_t *bad;
  __device__ __forceinline__ void operator()(char *const *p) const {
    int64_t ix = (int64_t) * (const I *)p[1];
    if (ix < 0) ix += limit;
    if (ix < 0 || ix >= limit) {
      record_bad(bad, ix < 0 ? ix - limit : ix);
      return;
    }
    *(U *)p[0] = *(const U *)(p[2] + ix * sdim);
  }
};

// p[0]: index; sets *flag and records the value when out of [-limit, limit).
template <class I>
struct CheckF {
  int64_t limit;
  int *flag;
  int64_t *bad;
  __device__ __forceinline__ void operator()(char *const *p) const {
    int64_t ix = (int64_t) * (const I *)p[0];
    if (ix < -limit || ix >= limit) {
      *flag = 1;
      record_bad(bad, ix);
    }
  }
};

// Adds v into *addr with a compare-and-swap on the aligned 32-bit word holding it (1- or 2-byte T;
// the word stays inside the allocation, whose granularity is at least 4 bytes).
template <class T>
__device__ __forceinline__ void atomic_add_narrow(T *addr, T v) {
  static_assert(sizeof(T) == 1 || sizeof(T) == 2, "narrow types only");
  const uintptr_t a = (uintptr_t)addr;
  unsigned *word = (unsigned *)(a & ~(uintptr_t)3);
  const unsigned shift = (unsigned)(a & 3) * 8, mask = (sizeof(T) == 1 ? 0xffu : 0xffffu) << shift;
  unsigned old = *word, assumed;
  do {
    assumed = old;
    using B = typename uint_of_size<sizeof(T)>::type;
    B cur_bits = (B)((assumed & mask) >> shift);
    T cur;
    memcpy(&cur, &cur_bits, sizeof(T));
    T sum = store<T>(math::Add{}(load(cur), load(v)));
    B sum_bits;
    memcpy(&sum_bits, &sum, sizeof(T));
    old = atomicCAS(word, assumed, (assumed & ~mask) | ((unsigned)sum_bits << shift));
  } while (old != assumed);
}

template <class T>
__device__ __forceinline__ void atomic_accumulate(T *d, T v) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
    atomicAdd(d, v);
  else if constexpr (std::is_same_v<T, int32_t>)
    atomicAdd((int *)d, (int)v);
  else if constexpr (std::is_same_v<T, int64_t>)
    atomicAdd((unsigned long long *)d, (unsigned long long)v);  // two's complement: wraps like the CPU
  else
    atomic_add_narrow(d, v);
}

// p[0]: index, p[1]: source element, p[2]: output row (dim stride 0).
template <class T, class I, bool Acc>
struct ScatterF {
  int64_t limit, sdim;
  const int *flag;  // set by the check kernel: write nothing
  int64_t *bad;
  __device__ __forceinline__ void operator()(char *const *p) const {
    if (flag && *flag) return;
    int64_t ix = (int64_t) * (const I *)p[0];
    if (ix < 0) ix += limit;
    if (ix < 0 || ix >= limit) {  // only reachable without the check kernel
      record_bad(bad, ix);
      return;
    }
    T *d = (T *)(p[2] + ix * sdim);
    const T v = *(const T *)p[1];
    if constexpr (Acc)
      atomic_accumulate(d, v);
    else
      *d = v;
  }
};

template <class I>
kiln_status gather_typed(const Launch &L, const Geom<3> &g, size_t es, int64_t limit, int64_t sdim, int64_t *bad) {
  switch (es) {
    case 1: return launch_strided<3>(L, "gather", g, GatherF<uint8_t, I>{limit, sdim, bad});
    case 2: return launch_strided<3>(L, "gather", g, GatherF<uint16_t, I>{limit, sdim, bad});
    case 4: return launch_strided<3>(L, "gather", g, GatherF<uint32_t, I>{limit, sdim, bad});
    case 8: return launch_strided<3>(L, "gather", g, GatherF<uint64_t, I>{limit, sdim, bad});
    default: return fail(L, KILN_ERR_DTYPE, "gather: bad dtype");
  }
}

template <class T, class I>
kiln_status scatter_typed(const Launch &L, const Geom<3> &g, bool accumulate, int64_t limit, int64_t sdim,
                          const int *flag, int64_t *bad) {
  const char *name = accumulate ? "scatter_add" : "scatter";
  if (accumulate) return launch_strided<3>(L, name, g, ScatterF<T, I, true>{limit, sdim, flag, bad});
  using U = typename uint_of_size<sizeof(T)>::type;  // a plain write moves bits
  return launch_strided<3>(L, name, g, ScatterF<U, I, false>{limit, sdim, flag, bad});
}

}  // namespace

kiln_status gather_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in, const kiln_tensor &index,
                        int dim, int64_t *bad_index) {
  if (index.dtype != KILN_INT64 && index.dtype != KILN_INT32)
    return fail(L, KILN_ERR_DTYPE, "gather: index must be int64 or int32");
  if (out.dtype != in.dtype) return fail(L, KILN_ERR_DTYPE, "gather: output dtype differs from input");
  if (dim < 0 || dim >= in.ndim || out.ndim != in.ndim || index.ndim != in.ndim)
    return fail(L, KILN_ERR_SHAPE, "gather: rank mismatch");
  if (!same_shape(out, index)) return fail(L, KILN_ERR_SHAPE, "gather: the output must have the index's shape");
  for (int d = 0; d < in.ndim; d++)
    if (d != dim && out.shape[d] > in.shape[d]) return fail(L, KILN_ERR_SHAPE, "gather: index larger than the input");
  kiln_tensor src = in;  // shaped like out; the gathered dim is addressed through the index
  for (int d = 0; d < in.ndim; d++) src.shape[d] = out.shape[d];
  src.strides[dim] = 0;
  const kiln_tensor *ops[3] = {&out, &index, &src};
  Geom<3> g = make_geom<3>(ops);
  if (g.numel == 0) return KILN_OK;
  const size_t es = dtype_size(in.dtype);
  const int64_t limit = in.shape[dim], sdim = in.strides[dim] * (int64_t)es;
  if (index.dtype == KILN_INT64) return gather_typed<int64_t>(L, g, es, limit, sdim, bad_index);
  return gather_typed<int32_t>(L, g, es, limit, sdim, bad_index);
}

kiln_status gather_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in, const kiln_tensor &index,
                        int dim) {
  return gather_cuda(L, out, in, index, dim, nullptr);
}

kiln_status scatter_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &index, const kiln_tensor &src,
                         int dim, bool accumulate, int64_t *bad_index) {
  if (index.dtype != KILN_INT64 && index.dtype != KILN_INT32)
    return fail(L, KILN_ERR_DTYPE, "scatter: index must be int64 or int32");
  if (out.dtype != src.dtype) return fail(L, KILN_ERR_DTYPE, "scatter: source dtype differs from output");
  if (dim < 0 || dim >= out.ndim || index.ndim != out.ndim || src.ndim != out.ndim)
    return fail(L, KILN_ERR_SHAPE, "scatter: rank mismatch");
  for (int d = 0; d < out.ndim; d++) {
    if (index.shape[d] > src.shape[d]) return fail(L, KILN_ERR_SHAPE, "scatter: index larger than its source");
    if (d != dim && index.shape[d] > out.shape[d])
      return fail(L, KILN_ERR_SHAPE, "scatter: index larger than the input");
  }
  kiln_tensor dst = out;
  for (int d = 0; d < out.ndim; d++) dst.shape[d] = index.shape[d];
  dst.strides[dim] = 0;
  kiln_tensor s = src;
  for (int d = 0; d < out.ndim; d++) s.shape[d] = index.shape[d];
  const kiln_tensor *ops[3] = {&index, &s, &dst};
  Geom<3> g = make_geom<3>(ops);
  if (g.numel == 0) return KILN_OK;
  const int64_t limit = out.shape[dim], sdim = out.strides[dim] * (int64_t)dtype_size(out.dtype);
  const char *name = accumulate ? "scatter_add" : "scatter";
  // Check every index first so that a bad one leaves the output untouched (the CPU's contract).
  Scratch flag(L, sizeof(int));
  if (!flag.ptr) return fail(L, KILN_ERR_OOM, "%s: no scratch memory for the index check", name);
  if (cudaMemsetAsync(flag.ptr, 0, sizeof(int), L.stream) != cudaSuccess)
    return check_launch(L, name, "cudaMemsetAsync");
  const kiln_tensor *iops[1] = {&index};
  Geom<1> gi = make_geom<1>(iops);
  kiln_status st = index.dtype == KILN_INT64
                       ? launch_strided<1>(L, name, gi, CheckF<int64_t>{limit, flag.as<int>(), bad_index})
                       : launch_strided<1>(L, name, gi, CheckF<int32_t>{limit, flag.as<int>(), bad_index});
  if (st) return st;
  const int *f = flag.as<int>();
  KILN_DISPATCH_ALL(out.dtype, return fail(L, KILN_ERR_DTYPE, "scatter: bad dtype"), {
    if (index.dtype == KILN_INT64)
      st = scatter_typed<scalar_t, int64_t>(L, g, accumulate, limit, sdim, f, bad_index);
    else
      st = scatter_typed<scalar_t, int32_t>(L, g, accumulate, limit, sdim, f, bad_index);
  });
  return st;
}

kiln_status scatter_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &index, const kiln_tensor &src,
                         int dim, bool accumulate) {
  return scatter_cuda(L, out, index, src, dim, accumulate, nullptr);
}

}  // namespace kiln::cuda
