// The CUDA entry points of a build without CUDA (the CPU-only addon): no devices, and every request
// answers ERR_NOT_COMPILED with the command that builds the CUDA backend. native/cuda/ replaces
// this file in the CUDA build (native/sources.json: "cuda_stub" vs "cuda").
#include <cstdio>

#include "context.h"
#include "op_args.h"

namespace kiln {

namespace {
const char *kHow =
    "this kiln build has no CUDA backend; build it with `KILN_CUDA=1 npm install kiln` "
    "(or `npm run build:cuda` in a clone) on a machine with the CUDA toolkit";
}

kiln_status cuda_op_run(kiln_context *ctx, int device, int op, kiln_tensor *, const kiln_tensor *, int, const double *,
                        const OpArgs &) {
  return fail(ctx, KILN_ERR_NOT_COMPILED, "cuda:%d: %s", device, kHow);
}
kiln_status cuda_optim_step(kiln_context *ctx, int device, kiln_optim, kiln_dtype, const kiln_optim_item *, int,
                            const double *, int) {
  return fail(ctx, KILN_ERR_NOT_COMPILED, "optim_step on cuda:%d: %s", device, kHow);
}
void cuda_state_destroy(kiln_context *) {}

}  // namespace kiln

extern "C" {
int kiln_cuda_compiled(void) { return 0; }
int kiln_cuda_device_count(void) { return 0; }
kiln_status kiln_cuda_device_props(kiln_context *ctx, int device, kiln_cuda_props *) {
  return kiln::fail(ctx, KILN_ERR_NOT_COMPILED, "cuda:%d: %s", device, kiln::kHow);
}
void *kiln_cuda_alloc(kiln_context *ctx, int device, size_t) {
  kiln::fail(ctx, KILN_ERR_NOT_COMPILED, "cuda:%d: %s", device, kiln::kHow);
  return nullptr;
}
kiln_status kiln_cuda_free(kiln_context *ctx, int device, void *) {
  return kiln::fail(ctx, KILN_ERR_NOT_COMPILED, "cuda:%d: %s", device, kiln::kHow);
}
size_t kiln_cuda_block_room(kiln_context *, int, const void *) { return 0; }
kiln_status kiln_cuda_copy_h2d(kiln_context *ctx, int device, void *, const void *, size_t) {
  return kiln::fail(ctx, KILN_ERR_NOT_COMPILED, "cuda:%d: %s", device, kiln::kHow);
}
kiln_status kiln_cuda_copy_d2h(kiln_context *ctx, int device, void *, const void *, size_t, char *msg, size_t len) {
  if (msg && len) {
    std::snprintf(msg, len, "cuda:%d: %s", device, kiln::kHow);
    return KILN_ERR_NOT_COMPILED;
  }
  return kiln::fail(ctx, KILN_ERR_NOT_COMPILED, "cuda:%d: %s", device, kiln::kHow);
}
kiln_status kiln_cuda_copy_d2d(kiln_context *ctx, int device, void *, const void *, size_t) {
  return kiln::fail(ctx, KILN_ERR_NOT_COMPILED, "cuda:%d: %s", device, kiln::kHow);
}
kiln_status kiln_cuda_synchronize(kiln_context *ctx, int device) {
  return device < 0 ? KILN_OK : kiln::fail(ctx, KILN_ERR_NOT_COMPILED, "cuda:%d: %s", device, kiln::kHow);
}
kiln_status kiln_cuda_memory_stats(kiln_context *ctx, int device, kiln_memory_stats *) {
  return kiln::fail(ctx, KILN_ERR_NOT_COMPILED, "cuda:%d: %s", device, kiln::kHow);
}
kiln_status kiln_cuda_empty_cache(kiln_context *ctx, int device) {
  return device < 0 ? KILN_OK : kiln::fail(ctx, KILN_ERR_NOT_COMPILED, "cuda:%d: %s", device, kiln::kHow);
}
int kiln_cuda_op_supported(int) { return 0; }
}
