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
/* The smallest stack of the context's worker threads, in bytes; 0: no workers, or unknown. */
size_t kiln_context_worker_stack(const kiln_context *ctx);
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
/* Frees the allocator's cached blocks and the per-thread kernel scratch of ctx's threads. */
void kiln_memory_empty_cache(kiln_context *ctx);
/* Bytes of per-thread kernel scratch (packed GEMM panels, convolution workspaces, sort buffers)
 * held by every kiln thread of the process, kept between calls until kiln_memory_empty_cache. */
uint64_t kiln_memory_scratch_bytes(void);

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

/* Runs op `op` like kiln_op_run on `device`: -1 the CPU, N cuda:N (every operand's data is then
 * memory of that device). Without the CUDA build a device >= 0 gives KILN_ERR_NOT_COMPILED. */
kiln_status kiln_op_run_device(kiln_context *ctx, int device, int op, kiln_tensor *outs, int nout,
                               const kiln_tensor *ins, int nin, const double *attrs, int nattr);
kiln_status kiln_optim_step_device(kiln_context *ctx, int device, kiln_optim kind, kiln_dtype dtype,
                                   const kiln_optim_item *items, int n, const double *hyper, int nhyper);

/* CUDA. Without the CUDA build: kiln_cuda_compiled() is 0, there are no devices and every entry
 * returns KILN_ERR_NOT_COMPILED. Each context has, per device, one stream on which ops, copies and
 * frees are ordered, a caching allocator and pinned staging buffers. */
int kiln_cuda_compiled(void);
/* Devices the driver shows (0 without a driver or a GPU; never fails). */
int kiln_cuda_device_count(void);
typedef struct kiln_cuda_props {
  char name[256];
  uint64_t total_memory;
  int sm_count, major, minor;
} kiln_cuda_props;
kiln_status kiln_cuda_device_props(kiln_context *ctx, int device, kiln_cuda_props *out);
/* Device memory from the caching allocator; NULL with the message in kiln_last_error (ERR_OOM names
 * the requested and free bytes). Freed blocks are reused by later work on the device's stream. */
void *kiln_cuda_alloc(kiln_context *ctx, int device, size_t nbytes);
kiln_status kiln_cuda_free(kiln_context *ctx, int device, void *ptr);
/* Bytes from ptr to the end of the live block holding it (0: not inside a live block). */
size_t kiln_cuda_block_room(kiln_context *ctx, int device, const void *ptr);
/* Host to device: staged through pinned memory and enqueued (returns once src may be reused). */
kiln_status kiln_cuda_copy_h2d(kiln_context *ctx, int device, void *dst, const void *src, size_t n);
/* Device to host: waits for the stream's earlier work. msg (msg_len bytes) receives the error
 * message when not NULL (for calls from another thread), else kiln_last_error does. */
kiln_status kiln_cuda_copy_d2h(kiln_context *ctx, int device, void *dst, const void *src, size_t n, char *msg,
                               size_t msg_len);
kiln_status kiln_cuda_copy_d2d(kiln_context *ctx, int device, void *dst, const void *src, size_t n);
/* Waits for every op enqueued on the device (-1: every device this context used). */
kiln_status kiln_cuda_synchronize(kiln_context *ctx, int device);
kiln_status kiln_cuda_memory_stats(kiln_context *ctx, int device, kiln_memory_stats *out);
/* Returns the device's cached, unused segments to the driver (-1: every device). */
kiln_status kiln_cuda_empty_cache(kiln_context *ctx, int device);
/* 1 when op has a CUDA kernel in this build (0 without CUDA, and for ops still CPU-only). */
int kiln_cuda_op_supported(int op);

#ifdef __cplusplus
}
#endif
#endif
