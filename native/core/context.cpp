// kiln_context lifecycle, thread count and ISA choice, error messages, buffer entry points.
#include "context.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <set>
#include <string>

#include "dtype.h"
#include "op_args.h"
#include "thread_scratch.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace kiln {

kiln_status fail(kiln_context *ctx, kiln_status st, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (ctx) ctx->error = buf;
  return st;
}

// Physical cores: distinct (physical id, core id) pairs in /proc/cpuinfo; falls back to the
// hardware thread count.
static int physical_cores() {
  std::ifstream f("/proc/cpuinfo");
  std::set<std::pair<int, int>> cores;
  std::string line;
  int phys = 0;
  while (std::getline(f, line)) {
    if (line.rfind("physical id", 0) == 0) phys = std::atoi(line.c_str() + line.find(':') + 1);
    if (line.rfind("core id", 0) == 0) cores.insert({phys, std::atoi(line.c_str() + line.find(':') + 1)});
  }
  int hw = (int)std::thread::hardware_concurrency();
  if (cores.empty()) return hw > 0 ? hw : 1;
  return (int)cores.size();
}

}  // namespace kiln

extern "C" {

kiln_context *kiln_context_create(int num_threads, const char *isa) {
  kiln_context *ctx = new (std::nothrow) kiln_context();
  if (!ctx) return nullptr;
  if (num_threads <= 0) {
    const char *env = std::getenv("KILN_NUM_THREADS");
    num_threads = env && std::atoi(env) > 0 ? std::atoi(env) : kiln::physical_cores();
  }
  if (num_threads > 256) num_threads = 256;
  ctx->pool.reset(new (std::nothrow) kiln::ThreadPool(num_threads));
  if (!ctx->pool) {
    delete ctx;
    return nullptr;
  }
  unsigned supported = kiln_isa_supported();
  if (!isa) isa = std::getenv("KILN_ISA");
  kiln_isa best = KILN_ISA_GENERIC;
  for (kiln_isa c : {KILN_ISA_AVX2, KILN_ISA_AVX512, KILN_ISA_NEON})
    if (supported & (1u << c)) best = c;
  ctx->isa = best;
  if (isa && *isa) {
    bool found = false;
    for (kiln_isa c : {KILN_ISA_GENERIC, KILN_ISA_AVX2, KILN_ISA_AVX512, KILN_ISA_NEON})
      if (!std::strcmp(isa, kiln_isa_name(c))) {
        found = true;
        if (supported & (1u << c))
          ctx->isa = c;
        else
          kiln::fail(ctx, KILN_ERR_ARG, "KILN_ISA=%s is not supported by this CPU; using %s", isa, kiln_isa_name(best));
      }
    if (!found)
      kiln::fail(ctx, KILN_ERR_ARG, "KILN_ISA=%s is unknown (generic, avx2, avx512, neon); using %s", isa,
                 kiln_isa_name(best));
  }
  ctx->startup_warning = ctx->error;
  ctx->error.clear();
  return ctx;
}

const char *kiln_context_startup_warning(const kiln_context *ctx) { return ctx->startup_warning.c_str(); }

void kiln_context_destroy(kiln_context *ctx) {
  if (!ctx) return;
  kiln::cuda_state_destroy(ctx);
  delete ctx;
}
const char *kiln_last_error(const kiln_context *ctx) { return ctx ? ctx->error.c_str() : "no context"; }
int kiln_context_num_threads(const kiln_context *ctx) { return ctx->pool ? ctx->pool->size() : 1; }
size_t kiln_context_worker_stack(const kiln_context *ctx) { return ctx->pool ? ctx->pool->worker_stack() : 0; }
kiln_isa kiln_context_isa(const kiln_context *ctx) { return ctx->isa; }

void *kiln_buffer_alloc(kiln_context *ctx, size_t nbytes) {
  if (nbytes > ((size_t)1 << 52)) return nullptr;  // also keeps size classes from wrapping
  try {
    return ctx->allocator.alloc(nbytes);
  } catch (...) {  // the bookkeeping map could not grow
    return nullptr;
  }
}
size_t kiln_buffer_size(const kiln_context *ctx, const void *ptr) { return ctx->allocator.size_of(ptr); }
void kiln_buffer_free(kiln_context *ctx, void *ptr) {
  if (!ctx->allocator.free(ptr)) kiln::fail(ctx, KILN_ERR_ARG, "free of a pointer kiln did not allocate");
}
int kiln_buffer_retain(kiln_context *ctx, void *ptr) { return ctx->allocator.retain(ptr) ? 1 : 0; }
void kiln_memory_stats_get(const kiln_context *ctx, kiln_memory_stats *out) { *out = ctx->allocator.stats(); }
// The allocator's cached blocks, then every thread's kernel scratch (thread_scratch.h), on the pool's
// threads and this one; glibc keeps freed memory in its arenas until asked to trim them.
void kiln_memory_empty_cache(kiln_context *ctx) {
  ctx->allocator.empty_cache();
  if (ctx->pool)
    ctx->pool->run_on_each(kiln::release_thread_scratch);
  else
    kiln::release_thread_scratch();
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}
uint64_t kiln_memory_scratch_bytes(void) { return kiln::thread_scratch_bytes(); }
size_t kiln_dtype_size(int32_t dtype) { return kiln::dtype_size(dtype); }

}  // extern "C"
