// What every CUDA launcher receives instead of the CPU kernels' kiln_context: the stream to enqueue
// on, stream-ordered scratch memory, and a place for the error message. Host-only C++ (no device
// code), so the runtime's dispatch (compiled by the host compiler) can include the family headers.
//
// Convention for the families in this folder: `kiln_status X_cuda(const Launch &L, ...)` takes the
// same operands as native/cpu's `X_cpu(kiln_context *ctx, ...)` (kiln_tensor descriptors whose
// `data` is device memory), validates what the kernel relies on, enqueues, and returns at once.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdarg>
#include <cstddef>
#include <cstdio>

#include "kiln.h"

namespace kiln::cuda {

struct Launch {
  cudaStream_t stream = nullptr;
  // Scratch memory ordered on `stream`: released blocks may be reused by later work on the same
  // stream only, so a launcher may release its scratch right after enqueueing the kernels using it.
  void *owner = nullptr;
  void *(*alloc)(void *owner, size_t bytes) = nullptr;  // null on failure
  void (*release)(void *owner, void *ptr) = nullptr;
  int sm_count = 132;       // multiprocessors of the device (grid sizing)
  char *message = nullptr;  // where fail() writes; message_len bytes
  size_t message_len = 0;
};

inline kiln_status fail(const Launch &L, kiln_status st, const char *fmt, ...) {
  if (L.message && L.message_len) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(L.message, L.message_len, fmt, ap);
    va_end(ap);
  }
  return st;
}

// After enqueueing `kernel` for `op`: KILN_OK, or ERR_CUDA naming both and CUDA's error.
inline kiln_status check_launch(const Launch &L, const char *op, const char *kernel) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return KILN_OK;
  return fail(L, KILN_ERR_CUDA, "%s: CUDA kernel %s failed: %s", op, kernel, cudaGetErrorString(e));
}

// Scratch for one launcher call: released when it goes out of scope (stream-ordered, see Launch).
struct Scratch {
  const Launch &L;
  void *ptr = nullptr;
  Scratch(const Launch &l, size_t bytes) : L(l) { ptr = bytes && L.alloc ? L.alloc(L.owner, bytes) : nullptr; }
  ~Scratch() {
    if (ptr && L.release) L.release(L.owner, ptr);
  }
  Scratch(const Scratch &) = delete;
  Scratch &operator=(const Scratch &) = delete;
  template <typename T>
  T *as() const {
    return static_cast<T *>(ptr);
  }
};

}  // namespace kiln::cuda
