// Per-instance state (one per addon instance, so worker_threads each get their own): allocator,
// thread pool, chosen ISA, last error message. No mutable globals.
#pragma once
#include <memory>
#include <string>

#include "allocator.h"
#include "kiln.h"
#include "thread_pool.h"

struct kiln_context {
  kiln::CpuAllocator allocator;
  std::unique_ptr<kiln::ThreadPool> pool;
  kiln_isa isa = KILN_ISA_GENERIC;
  std::string error;
  std::string startup_warning;  // from KILN_ISA / KILN_NUM_THREADS parsing, kept apart from op errors
  void *cuda = nullptr;         // kiln::cuda::State (native/cuda/runtime.h), made on first CUDA use
};

namespace kiln {
// Records a message for kiln_last_error and returns the status, so kernels can `return fail(...)`.
kiln_status fail(kiln_context *ctx, kiln_status st, const char *fmt, ...);
}  // namespace kiln
