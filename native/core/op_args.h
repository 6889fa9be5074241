// Device-independent checks and attribute decoding of kiln_op_run, shared by the CPU dispatch
// (dispatch.cpp) and the CUDA dispatch (native/cuda/dispatch_cuda.cpp), so both backends accept and
// reject exactly the same calls with the same messages.
#pragma once
#include <cstdint>

#include "../cpu/cpu_ops.h"
#include "context.h"

namespace kiln {

// What the attributes decode to (only the fields the op uses are set).
struct OpArgs {
  int iattr = 0;  // reduced-dim count, softmax / gather / scatter dim
  cpu::MatmulOpts mm{};
  bool has_bias = false;
};

// Checks operand counts, descriptors (ranks, dtypes, sizes, outputs that alias) and the op's
// attributes; fills `args`. Returns a status with a message naming the op.
kiln_status op_prepare(kiln_context *ctx, int op, kiln_tensor *outs, int nout, const kiln_tensor *ins, int nin,
                       const double *attrs, int nattr, OpArgs *args);

// A 64-bit seed/offset attribute stored as two doubles (high, low 32 bits).
inline uint64_t u64_from(const double *a) { return ((uint64_t)a[0] << 32) | (uint64_t)a[1]; }

// The CUDA dispatch (native/cuda/dispatch_cuda.cpp; a stub answering ERR_NOT_COMPILED in the
// CPU-only build): runs a prepared op on cuda:`device`.
kiln_status cuda_op_run(kiln_context *ctx, int device, int op, kiln_tensor *outs, const kiln_tensor *ins, int nin,
                        const double *attrs, const OpArgs &args);
kiln_status cuda_optim_step(kiln_context *ctx, int device, kiln_optim kind, kiln_dtype dtype,
                            const kiln_optim_item *items, int n, const double *hyper, int nhyper);
// Releases the per-context CUDA state (streams, caches); a no-op without CUDA.
void cuda_state_destroy(kiln_context *ctx);

}  // namespace kiln
