// Embedding, mirroring native/cpu/embedding.cpp. Forward copies rows of weight [num, D] (any
// dtype: rows are copied as raw elements, 16 bytes at a time when the rows allow it) picked by an
// int32/int64 index [T] (any stride) into a contiguous [T, D] output. Backward scatter-adds gy rows
// into a contiguous [num, D] gradient (floating dtypes), deterministically and in the CPU's order:
// the positions are sorted by destination row with CUB's stable radix sort, then one thread per
// (run of equal rows, column) sums its run in index order (the CPU's order, in its compute type).
//
// Out-of-range indices: the CPU rejects them with ERR_INDEX before touching memory; a launcher
// cannot read device indices without synchronising, so here they never read or write out of
// bounds instead (the forward writes a zero row for them and the backward drops them), and with a
// bad-index slot the first bad position and its value are recorded there (bad_index.h) by the
// kernels that read the indices anyway: no extra launch, and nothing extra when all are in range
// (a table with no columns or no rows launches a check of its own, as it launches nothing else).
#include <cub/device/device_radix_sort.cuh>

#include "bad_index.h"
#include "nn.h"
#include "nn_common.cuh"

namespace kiln::cuda {

namespace {

constexpr int kThreads = 256;

template <class I>
__device__ __forceinline__ int64_t index_at(const I *idx, int64_t is0, int64_t t) {
  return (int64_t)idx[t * is0];
}

// Units of U (an element, or 16 bytes of a row): out[t, j] = w[idx[t], j]. A bad index is recorded
// once, by its row's unit 0.
template <class U, class I>
__global__ void embedding_forward_kernel(U *out, const U *w, const I *idx, int64_t is0, int64_t T, int64_t Du,
                                         int64_t num, int64_t ws0, int64_t ws1, int64_t *bad) {
  const int64_t total = T * Du, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t t = i / Du, j = i - t * Du;
    const int64_t v = index_at(idx, is0, t);
    if (v >= 0 && v < num) {
      out[i] = w[v * ws0 + j * ws1];
    } else {
      out[i] = U{};
      if (j == 0) bad_index::record_first_bad(bad, t, v);
    }
  }
}

// Only the check, for a launch that reads no rows (no columns, or no table rows in the backward).
template <class I>
__global__ void embedding_check_kernel(const I *idx, int64_t is0, int64_t T, int64_t num, int64_t *bad) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < T; t += stride) {
    const int64_t v = index_at(idx, is0, t);
    if (v < 0 || v >= num) bad_index::record_first_bad(bad, t, v);
  }
}

// Sort keys: the destination row, or num for an out-of-range index (dropped later, and recorded).
template <class I>
__global__ void embedding_keys_kernel(uint32_t *keys, uint32_t *pos, const I *idx, int64_t is0, int64_t T, int64_t num,
                                      int64_t *bad) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < T; t += stride) {
    const int64_t v = index_at(idx, is0, t);
    const bool ok = v >= 0 && v < num;
    keys[t] = (uint32_t)(ok ? v : num);
    pos[t] = (uint32_t)t;
    if (!ok) bad_index::record_first_bad(bad, t, v);
  }
}

// gw was zeroed; the first sorted position of each run of equal rows sums the run, column d.
template <class T>
__global__ void embedding_backward_kernel(T *gw, const T *gy, const uint32_t *keys, const uint32_t *pos, int64_t gs0,
                                          int64_t Tn, int64_t D, int64_t num, int64_t padding_idx) {
  using C = compute_t<T>;
  const int64_t total = Tn * D, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t k = i / D, d = i - k * D;
    const uint32_t r = keys[k];
    if ((k > 0 && keys[k - 1] == r) || (int64_t)r >= num || (int64_t)r == padding_idx) continue;
    C acc = (C)0;
    for (int64_t k2 = k; k2 < Tn && keys[k2] == r; k2++) acc += (C)load(gy[(int64_t)pos[k2] * gs0 + d]);
    gw[(int64_t)r * D + d] = store<T>(acc);
  }
}

kiln_status check_index(const Launch &L, const char *op, const kiln_tensor &idx) {
  if (idx.dtype != KILN_INT64 && idx.dtype != KILN_INT32)
    return fail(L, KILN_ERR_DTYPE, "%s: indices must be int32 or int64", op);
  if (idx.ndim != 1) return fail(L, KILN_ERR_SHAPE, "%s: the index must be flattened to 1-d", op);
  return KILN_OK;
}

bool rows_contiguous(const kiln_tensor &t) { return t.shape[1] <= 1 || t.strides[1] == 1; }

template <class U, class I>
void launch_forward(const Launch &L, const kiln_tensor &out, const kiln_tensor &w, const kiln_tensor &idx, int64_t Du,
                    int64_t ws0, int64_t ws1, int64_t *bad) {
  const int64_t T = idx.shape[0];
  embedding_forward_kernel<U, I><<<nn::ew_grid(L, T * Du), kThreads, 0, L.stream>>>(
      (U *)out.data, (const U *)w.data, (const I *)idx.data, idx.strides[0], T, Du, w.shape[0], ws0, ws1, bad);
}

template <class U>
void forward_units(const Launch &L, const kiln_tensor &out, const kiln_tensor &w, const kiln_tensor &idx, int64_t Du,
                   int64_t ws0, int64_t ws1, int64_t *bad) {
  if (idx.dtype == KILN_INT64)
    launch_forward<U, int64_t>(L, out, w, idx, Du, ws0, ws1, bad);
  else
    launch_forward<U, int32_t>(L, out, w, idx, Du, ws0, ws1, bad);
}

// The check alone (embedding_check_kernel) over idx against a table of num rows.
kiln_status check_only(const Launch &L, const char *op, const kiln_tensor &idx, int64_t num, int64_t *bad) {
  const int64_t T = idx.shape[0];
  if (!bad || T == 0) return KILN_OK;
  const unsigned grid = nn::ew_grid(L, T);
  if (idx.dtype == KILN_INT64)
    embedding_check_kernel<int64_t>
        <<<grid, kThreads, 0, L.stream>>>((const int64_t *)idx.data, idx.strides[0], T, num, bad);
  else
    embedding_check_kernel<int32_t>
        <<<grid, kThreads, 0, L.stream>>>((const int32_t *)idx.data, idx.strides[0], T, num, bad);
  return check_launch(L, op, "embedding_check_kernel");
}

size_t align256(size_t n) { return (n + 255) & ~(size_t)255; }

}  // namespace

kiln_status embedding_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &weight, const kiln_tensor &idx) {
  return embedding_cuda(L, out, weight, idx, nullptr);
}

kiln_status embedding_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &weight, const kiln_tensor &idx,
                           int64_t *bad_index) {
  if (weight.ndim != 2 || out.ndim != 2 || out.shape[1] != weight.shape[1] || idx.ndim != 1 ||
      out.shape[0] != idx.shape[0] || !rows_contiguous(out) || (out.shape[0] > 1 && out.strides[0] != out.shape[1]))
    return fail(L, KILN_ERR_SHAPE, "embedding: expected weight [num, D], index [T] and a contiguous output [T, D]");
  if (out.dtype != weight.dtype) return fail(L, KILN_ERR_DTYPE, "embedding: output dtype differs from weight");
  if (kiln_status st = check_index(L, "embedding", idx)) return st;
  const int64_t es = (int64_t)dtype_size(weight.dtype), T = idx.shape[0], D = weight.shape[1];
  if (es == 0) return fail(L, KILN_ERR_DTYPE, "embedding: bad dtype %d", (int)weight.dtype);
  if (T == 0) return KILN_OK;
  if (D == 0) return check_only(L, "embedding", idx, weight.shape[0], bad_index);
  const int64_t ws0 = weight.strides[0], ws1 = D > 1 ? weight.strides[1] : 1;
  const int64_t row_bytes = D * es;
  if (ws1 == 1 && row_bytes % 16 == 0 && (ws0 * es) % 16 == 0 && nn::aligned16(out.data) &&
      nn::aligned16(weight.data)) {
    forward_units<uint4>(L, out, weight, idx, row_bytes / 16, ws0 * es / 16, 1, bad_index);
  } else {
    switch (es) {
      case 1: forward_units<uint8_t>(L, out, weight, idx, D, ws0, ws1, bad_index); break;
      case 2: forward_units<uint16_t>(L, out, weight, idx, D, ws0, ws1, bad_index); break;
      case 4: forward_units<uint32_t>(L, out, weight, idx, D, ws0, ws1, bad_index); break;
      default: forward_units<uint64_t>(L, out, weight, idx, D, ws0, ws1, bad_index); break;
    }
  }
  return check_launch(L, "embedding", "embedding_forward_kernel");
}

kiln_status embedding_backward_cuda(const Launch &L, const kiln_tensor &gw, const kiln_tensor &gy,
                                    const kiln_tensor &idx, int64_t padding_idx) {
  return embedding_backward_cuda(L, gw, gy, idx, padding_idx, nullptr);
}

kiln_status embedding_backward_cuda(const Launch &L, const kiln_tensor &gw, const kiln_tensor &gy,
                                    const kiln_tensor &idx, int64_t padding_idx, int64_t *bad_index) {
  if (gw.ndim != 2 || gy.ndim != 2 || gy.shape[1] != gw.shape[1] || idx.ndim != 1 || gy.shape[0] != idx.shape[0] ||
      !rows_contiguous(gw) || !rows_contiguous(gy) || (gw.shape[0] > 1 && gw.strides[0] != gw.shape[1]))
    return fail(L, KILN_ERR_SHAPE, "embedding_backward: expected grad [T, D], index [T], a contiguous [num, D]");
  if (gw.dtype != gy.dtype) return fail(L, KILN_ERR_DTYPE, "embedding_backward: gradient dtypes differ");
  if (kiln_status st = check_index(L, "embedding_backward", idx)) return st;
  if (!dtype_is_float(gw.dtype) || gw.dtype < 0)
    return fail(L, KILN_ERR_DTYPE, "embedding_backward: needs a floating dtype");
  const int64_t num = gw.shape[0], D = gw.shape[1], T = idx.shape[0];
  if (num == 0 || D == 0) return check_only(L, "embedding_backward", idx, num, bad_index);
  if (num >= (int64_t)UINT32_MAX || T >= (int64_t)INT32_MAX)
    return fail(L, KILN_ERR_ARG, "embedding_backward: tables of 2^32-1 rows or more, or 2^31-1 indices, unsupported");
  const size_t es = dtype_size(gw.dtype);
  cudaError_t e = cudaMemsetAsync(gw.data, 0, (size_t)(num * D) * es, L.stream);
  if (e != cudaSuccess)
    return fail(L, KILN_ERR_CUDA, "embedding_backward: cudaMemsetAsync failed: %s", cudaGetErrorString(e));
  if (T == 0) return KILN_OK;
  int end_bit = 0;
  while (end_bit < 32 && ((uint64_t)num >> end_bit) != 0) end_bit++;  // keys are <= num
  size_t temp_bytes = 0;
  e = cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, (const uint32_t *)nullptr, (uint32_t *)nullptr,
                                      (const uint32_t *)nullptr, (uint32_t *)nullptr, (int)T, 0, end_bit, L.stream);
  if (e != cudaSuccess)
    return fail(L, KILN_ERR_CUDA, "embedding_backward: CUB sort sizing failed: %s", cudaGetErrorString(e));
  const size_t arr = align256((size_t)T * sizeof(uint32_t));
  Scratch s(L, 4 * arr + align256(temp_bytes));
  if (!s.ptr) return fail(L, KILN_ERR_OOM, "embedding_backward: out of device scratch memory");
  char *base = s.as<char>();
  uint32_t *keys = (uint32_t *)base, *pos = (uint32_t *)(base + arr);
  uint32_t *keys_sorted = (uint32_t *)(base + 2 * arr), *pos_sorted = (uint32_t *)(base + 3 * arr);
  void *temp = base + 4 * arr;
  const unsigned grid_t = nn::ew_grid(L, T);
  if (idx.dtype == KILN_INT64)
    embedding_keys_kernel<int64_t>
        <<<grid_t, kThreads, 0, L.stream>>>(keys, pos, (const int64_t *)idx.data, idx.strides[0], T, num, bad_index);
  else
    embedding_keys_kernel<int32_t>
        <<<grid_t, kThreads, 0, L.stream>>>(keys, pos, (const int32_t *)idx.data, idx.strides[0], T, num, bad_index);
  if (kiln_status st = check_launch(L, "embedding_backward", "embedding_keys_kernel")) return st;
  e = cub::DeviceRadixSort::SortPairs(temp, temp_bytes, (const uint32_t *)keys, keys_sorted, (const uint32_t *)pos,
                                      pos_sorted, (int)T, 0, end_bit, L.stream);
  if (e != cudaSuccess) return fail(L, KILN_ERR_CUDA, "embedding_backward: CUB sort failed: %s", cudaGetErrorString(e));
  const int64_t gs0 = gy.strides[0];
  const unsigned grid = nn::ew_grid(L, T * D);
  KILN_DISPATCH_FLOAT(gw.dtype, return fail(L, KILN_ERR_DTYPE, "embedding_backward: needs a floating dtype"), {
    embedding_backward_kernel<scalar_t><<<grid, kThreads, 0, L.stream>>>(
        (scalar_t *)gw.data, (const scalar_t *)gy.data, keys_sorted, pos_sorted, gs0, T, D, num, padding_idx);
  });
  return check_launch(L, "embedding_backward", "embedding_backward_kernel");
}

}  // namespace kiln::cuda
