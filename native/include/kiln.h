/* kiln C API: the plain C surface that the N-API glue, C++ tests and bench binaries drive.
 * No Node headers here. Every entry returns a status; nothing aborts the host process. */
#ifndef KILN_H
#define KILN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_MAX_DIMS 8
#define KILN_MAX_OPERANDS 8
#define KILN_MAX_ATTRS 32

typedef enum kiln_status {
  KILN_OK = 0,
  KILN_ERR_ARG = 1,
  KILN_ERR_SHAPE = 2,
  KILN_ERR_DTYPE = 3,
  KILN_ERR_DEVICE = 4,
  KILN_ERR_OOM = 5,
  KILN_ERR_NOT_COMPILED = 6,
  KILN_ERR_CUDA = 7,
  KILN_ERR_INTERNAL = 8,
  KILN_ERR_INDEX = 9
} kiln_status;

/* Order matches ts/dtype.ts (DTYPE_IDS). */
typedef enum kiln_dtype {
  KILN_FLOAT32 = 0,
  KILN_FLOAT64 = 1,
  KILN_FLOAT16 = 2,
  KILN_BFLOAT16 = 3,
  KILN_INT32 = 4,
  KILN_INT64 = 5,
  KILN_UINT8 = 6,
  KILN_BOOL = 7,
  KILN_NUM_DTYPES = 8
} kiln_dtype;

typedef enum kiln_isa { KILN_ISA_GENERIC = 0, KILN_ISA_AVX2 = 1, KILN_ISA_AVX512 = 2, KILN_ISA_NEON = 3 } kiln_isa;

/* A strided view: data points at element [0,...,0]; strides are in elements and may be 0 or negative. */
typedef struct kiln_tensor {
  void *data;
  int32_t dtype;
  int32_t ndim;
  int64_t shape[KILN_MAX_DIMS];
  int64_t strides[KILN_MAX_DIMS];
} kiln_tensor;

typedef struct kiln_memory_stats {
  uint64_t live_bytes, live_blocks, cached_bytes, cached_blocks, peak_bytes, alloc_calls, cache_hits;
} kiln_memory_stats;

typedef struct kiln_context kiln_context;

/* num_threads <= 0: physical cores (or KILN_NUM_THREADS). isa NULL: detect (or KILN_ISA). */
kiln_context *kiln_context_create(int num_threads, const char *isa);
void kiln_context_destroy(kiln_context *ctx);
const char *kiln_last_error(const kiln_context *ctx);
/* What the context noted at creation (an unusable KILN_ISA, ...); empty when nothing. */
const char *kiln_context_startup_warning(const kiln_context *ctx);
int kiln_context_num_threads(const kiln_context *ctx);
kiln_isa kiln_context_isa(const kiln_context *ctx);
const char *kiln_isa_name(kiln_isa isa);
/* Bit set of ISAs this CPU can run (1 << kiln_isa). */
unsigned kiln_isa_supported(void);
/* Non-zero when the CPU has AVX512_BF16 (vdpbf16ps), used by the bfloat16 matmul. */
int kiln_cpu_has_avx512_bf16(void);

void *kiln_buffer_alloc(kiln_context *ctx, size_t nbytes);
/* Drops one reference; alloc gives one, retain adds one; the block is reused at zero. */
void kiln_buffer_free(kiln_context *ctx, void *ptr);
int kiln_buffer_retain(kiln_context *ctx, void *ptr);
/* Usable size of a live block (its size class), or 0 when ptr is not a live block. */
size_t kiln_buffer_size(const kiln_context *ctx, const void *ptr);
void kiln_memory_stats_get(const kiln_context *ctx, kiln_memory_stats *out);
void kiln_memory_empty_cache(kiln_context *ctx);

size_t kiln_dtype_size(int32_t dtype);

/* Runs op `op` (an id from kiln_ops.gen.h) on validated descriptors. Outputs first. */
kiln_status kiln_op_run(kiln_context *ctx, int op, kiln_tensor *outs, int nout, const kiln_tensor *ins, int nin,
                        const double *attrs, int nattr);

/* Fused optimizer steps over many tensors in one call (one pass over parameter, gradient and state
 * per element). Each item: parameter, gradient and up to three state buffers, all contiguous, of
 * one floating dtype (float32 or float64) and `numel` elements; `step` is the item's step count
 * after this update (1 on the first). `hyper` holds the optimizer's scalars (see optim.cpp). */
typedef enum kiln_optim { KILN_OPTIM_SGD, KILN_OPTIM_ADAM, KILN_OPTIM_ADAGRAD, KILN_OPTIM_RMSPROP } kiln_optim;
typedef struct kiln_optim_item {
  void *param;
  const void *grad;
  void *state[3];
  int64_t numel;
  int64_t step;
} kiln_optim_item;
kiln_status kiln_optim_step(kiln_context *ctx, kiln_optim kind, kiln_dtype dtype, const kiln_optim_item *items, int n,
                            const double *hyper, int nhyper);

#ifdef __cplusplus
}
#endif
#endif
