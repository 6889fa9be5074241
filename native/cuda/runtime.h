// The CUDA runtime of one kiln_context: per device one stream (non-blocking, so nothing else in
// the process serialises with it), a caching allocator, two pinned staging buffers for host<->device
// copies, and the message buffer a launcher's fail() writes. Plain C++ against the CUDA runtime API
// (no device code); the launchers in kernels/ receive a Launch made here.
#pragma once
#include <cuda_runtime_api.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "context.h"
#include "device_allocator.h"
#include "kernels/launch.h"

namespace kiln::cuda {

struct Device {
  explicit Device(int index);
  ~Device();
  Device(const Device &) = delete;
  Device &operator=(const Device &) = delete;

  // What a launcher gets for one op: the stream, scratch from the caching allocator, the message.
  Launch launch();

  int index;
  cudaStream_t stream = nullptr;
  cudaDeviceProp props{};
  std::unique_ptr<DeviceAllocator> allocator;
  // Pinned staging: copies go in kStagingBytes chunks, alternating between the two buffers; each
  // buffer's event marks when the copy that last used it is done. Guarded by staging_mu (an async
  // read copies on a worker thread).
  static constexpr size_t kStagingBytes = size_t(8) << 20;
  std::mutex staging_mu;
  void *staging[2] = {nullptr, nullptr};
  cudaEvent_t staged[2] = {nullptr, nullptr};
  char message[1024] = {0};

  // Out-of-range indices (KILN_ERR_INDEX) without a synchronisation per op: every launch of an
  // index op since the last check gets a slot of kBadWords device words of its own (the first
  // kBadSlots - kBadKinds launches; later ones share one slot per kind), preset to INT64_MIN, where
  // the kernels record a bad index. The existing sync points (reads, synchronize, KILN_CUDA_SYNC)
  // call take_bad_index, which reads the words in use, resets them and reports the earliest launch
  // that saw a bad index, with the CPU's message for its op:
  // - Dim (gather, scatter, scatter_add): word 0 holds one of the bad index values;
  // - Embedding (embedding, embedding_backward) and CrossEntropy (class-index targets, not
  //   ignore_index): both words hold the first bad position and its value (kernels/bad_index.h).
  // bad_mu is held from taking a slot until its kernels are enqueued, so a check on another thread
  // (the async read) never resets a word before the launch using it is on the stream.
  enum class BadKind { Dim, Embedding, CrossEntropy };
  static constexpr int kBadKinds = 3;
  static constexpr int kBadSlots = 64;
  static constexpr int kBadWords = 2;  // = bad_index::kWords
  struct BadSlot {
    BadKind kind;
    const char *op;  // the first launch using the slot: its op and what its message names:
    int dim;         // Dim: the dim
    int64_t limit;   // Dim: the dim's size; Embedding: the table's rows; CrossEntropy: the classes
    int64_t ignore;  // CrossEntropy: ignore_index
    int launches;    // > 1 only for a shared slot
    int64_t seq;     // launch order since the last check
  };
  std::mutex bad_mu;
  // device: kBadSlots * kBadWords words, then as many INT64_MIN (the reset source)
  int64_t *bad_words = nullptr;
  BadSlot bad_slots[kBadSlots] = {};
  int bad_used = 0;         // own slots handed out, from 0 (at most kBadSlots - kBadKinds)
  bool bad_shared = false;  // some shared slot is in use
  int64_t bad_seq = 0;
  // The check's side: one at a time (bad_check_mu); the words are copied into pinned bad_host and
  // waited for through bad_copied outside bad_mu, so launches on the main thread never wait for
  // the stream while an async read checks (with pageable memory or no event, they may).
  std::mutex bad_check_mu;
  int64_t *bad_host = nullptr;
  cudaEvent_t bad_copied = nullptr;
  // The slot's words for one more launch described by `what` (its launches and seq are filled in
  // here; caller holds bad_mu); null when the words could not be allocated (bad indices are then
  // only skipped, as before).
  int64_t *bad_slot(const BadSlot &what);
  // After a synchronisation: KILN_OK, or KILN_ERR_INDEX (or KILN_ERR_CUDA) with *why set; the
  // words are reset either way. Takes bad_check_mu, and bad_mu briefly.
  kiln_status take_bad_index(std::string *why);
};

struct State {
  std::vector<std::unique_ptr<Device>> devices;  // by index, made on first use
  bool sync_each_op = false;                     // KILN_CUDA_SYNC=1
};

// Makes `index` the calling thread's current device (cached per thread); false with ctx's error set.
bool use_device(kiln_context *ctx, int index);
// The device state (made on first use, and made current on this thread); null with the error set
// (ERR_DEVICE for a device that does not exist, ERR_CUDA when CUDA fails).
Device *device(kiln_context *ctx, int index, kiln_status *why = nullptr);
// Records "where: CUDA error ..." for a failed CUDA call; returns KILN_ERR_CUDA.
kiln_status cuda_fail(kiln_context *ctx, cudaError_t e, const char *fmt, ...);
// The per-context state (null before the first CUDA call).
inline State *state(kiln_context *ctx) { return static_cast<State *>(ctx->cuda); }

}  // namespace kiln::cuda
