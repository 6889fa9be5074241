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
