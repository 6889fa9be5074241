// The CUDA runtime (runtime.h) and the C API's kiln_cuda_* entries (kiln.h): devices, memory,
// copies through pinned staging buffers, synchronisation. Every entry returns a status.
#include "runtime.h"

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/bad_index.h"
#include "op_args.h"

namespace kiln::cuda {

namespace {

thread_local int t_current = -1;

void sync_stream(void *arg) { cudaStreamSynchronize(static_cast<Device *>(arg)->stream); }

void *scratch_alloc(void *owner, size_t bytes) {
  return static_cast<Device *>(owner)->allocator->alloc(bytes, nullptr);
}
void scratch_release(void *owner, void *ptr) { static_cast<Device *>(owner)->allocator->free(ptr); }

}  // namespace

kiln_status cuda_fail(kiln_context *ctx, cudaError_t e, const char *fmt, ...) {
  char where[384];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(where, sizeof where, fmt, ap);
  va_end(ap);
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  return kiln::fail(ctx, KILN_ERR_CUDA, "%s: CUDA error %s (%s)", where, cudaGetErrorName(e), cudaGetErrorString(e));
}

Device::Device(int i) : index(i) {}

Device::~Device() {
  if (stream) cudaStreamSynchronize(stream);
  if (bad_words) cudaFree(bad_words);
  if (bad_host) cudaFreeHost(bad_host);
  if (bad_copied) cudaEventDestroy(bad_copied);
  allocator.reset();
  for (int k = 0; k < 2; k++) {
    if (staged[k]) cudaEventDestroy(staged[k]);
    if (staging[k]) cudaFreeHost(staging[k]);
  }
  if (stream) cudaStreamDestroy(stream);
}

static_assert(Device::kBadWords == bad_index::kWords, "a slot holds bad_index.h's pair of words");

int64_t *Device::bad_slot(const BadSlot &what) {
  if (!bad_words) return nullptr;
  int k;
  if (bad_used < kBadSlots - kBadKinds) {
    k = bad_used++;
  } else {
    k = kBadSlots - kBadKinds + (int)what.kind;
    bad_shared = true;
    if (bad_slots[k].launches > 0) {
      bad_slots[k].launches++;
      return bad_words + k * kBadWords;
    }
  }
  bad_slots[k] = what;
  bad_slots[k].launches = 1;
  bad_slots[k].seq = bad_seq++;
  return bad_words + k * kBadWords;
}

namespace {

// The CPU's message for a slot whose words `w` saw a bad index (runtime.h's kinds), with where and
// when it was found; "" when they saw none.
std::string bad_message(const Device::BadSlot &b, const int64_t *w, int device) {
  char buf[512];
  const long long lim = (long long)b.limit;
  if (b.kind == Device::BadKind::Dim) {
    if (w[0] == bad_index::kNone) return "";
    if (b.launches == 1)
      std::snprintf(buf, sizeof buf,
                    "index %lld is out of range for dimension %d of size %lld (%s on cuda:%d, reported at the next "
                    "synchronisation)",
                    (long long)w[0], b.dim, lim, b.op, device);
    else
      std::snprintf(buf, sizeof buf,
                    "index %lld is out of range in one of %d index ops on cuda:%d (the first: %s, dimension %d of "
                    "size %lld), reported at the next synchronisation",
                    (long long)w[0], b.launches, device, b.op, b.dim, lim);
    return buf;
  }
  const bad_index::First f = bad_index::decode(w);
  if (!f.any) return "";
  char what[160];  // the CPU message's subject: the first bad index, or its position when not exact
  if (b.kind == Device::BadKind::Embedding) {
    if (f.exact)
      std::snprintf(what, sizeof what, "embedding: index %lld", (long long)f.value);
    else
      std::snprintf(what, sizeof what, "embedding: an index at position %lld or later", (long long)f.pos);
    if (b.launches == 1)
      std::snprintf(buf, sizeof buf,
                    "%s is out of range for a table of %lld rows (%s on cuda:%d, reported at the next "
                    "synchronisation)",
                    what, lim, b.op, device);
    else
      std::snprintf(buf, sizeof buf,
                    "%s is out of range in one of %d embedding launches on cuda:%d (the first: %s, a table of %lld "
                    "rows), reported at the next synchronisation",
                    what, b.launches, device, b.op, lim);
    return buf;
  }
  if (f.exact)
    std::snprintf(what, sizeof what, "cross_entropy: target %lld of row %lld", (long long)f.value, (long long)f.pos);
  else
    std::snprintf(what, sizeof what, "cross_entropy: the target of row %lld or a later row", (long long)f.pos);
  if (b.launches == 1)
    std::snprintf(buf, sizeof buf,
                  "%s is outside [0, %lld) and is not ignore_index %lld (%s on cuda:%d, reported at the next "
                  "synchronisation)",
                  what, lim, (long long)b.ignore, b.op, device);
  else
    std::snprintf(buf, sizeof buf,
                  "%s is out of range in one of %d cross_entropy launches on cuda:%d (the first: %lld classes, "
                  "ignore_index %lld), reported at the next synchronisation",
                  what, b.launches, device, lim, (long long)b.ignore);
  return buf;
}

}  // namespace

kiln_status Device::take_bad_index(std::string *why) {
  std::lock_guard<std::mutex> c(bad_check_mu);
  int64_t pageable[kBadSlots * kBadWords];
  int64_t *seen = bad_host ? bad_host : pageable;
  BadSlot slots[kBadSlots];
  int n = 0;  // slots [0, n) are read
  cudaError_t e = cudaSuccess, r = cudaSuccess;
  {
    std::lock_guard<std::mutex> g(bad_mu);
    if (!bad_words || (bad_used == 0 && !bad_shared)) return KILN_OK;
    n = bad_shared ? kBadSlots : bad_used;
    std::copy(bad_slots, bad_slots + n, slots);
    const size_t bytes = (size_t)n * kBadWords * sizeof(int64_t);
    // Ordered after every launch that took one of these words (they were enqueued under bad_mu),
    // and the reset before every later one.
    e = cudaMemcpyAsync(seen, bad_words, bytes, cudaMemcpyDeviceToHost, stream);
    if (e == cudaSuccess && bad_copied) e = cudaEventRecord(bad_copied, stream);
    r = cudaMemcpyAsync(bad_words, bad_words + kBadSlots * kBadWords, bytes, cudaMemcpyDeviceToDevice, stream);
    bad_used = 0;
    for (int k = kBadSlots - kBadKinds; k < kBadSlots; k++) bad_slots[k].launches = 0;
    bad_shared = false;
    bad_seq = 0;
  }
  if (e == cudaSuccess) e = bad_copied ? cudaEventSynchronize(bad_copied) : cudaStreamSynchronize(stream);
  if (e != cudaSuccess || r != cudaSuccess) {
    if (e == cudaSuccess) e = r;
    cudaGetLastError();
    char buf[256];
    std::snprintf(buf, sizeof buf, "checking indices on cuda:%d: CUDA error %s (%s)", index, cudaGetErrorName(e),
                  cudaGetErrorString(e));
    *why = buf;
    return KILN_ERR_CUDA;
  }
  // The earliest launch that saw a bad index (shared slots come last but are ordered by seq too).
  int first = -1;
  std::string msg;
  for (int k = 0; k < n; k++) {
    if (slots[k].launches == 0 || (first >= 0 && slots[k].seq > slots[first].seq)) continue;
    std::string m = bad_message(slots[k], seen + k * kBadWords, index);
    if (m.empty()) continue;
    first = k;
    msg = std::move(m);
  }
  if (first < 0) return KILN_OK;
  *why = msg;
  return KILN_ERR_INDEX;
}

Launch Device::launch() {
  Launch L;
  L.stream = stream;
  L.owner = this;
  L.alloc = scratch_alloc;
  L.release = scratch_release;
  L.sm_count = props.multiProcessorCount;
  message[0] = 0;
  L.message = message;
  L.message_len = sizeof message;
  return L;
}

bool use_device(kiln_context *ctx, int index) {
  if (t_current == index) return true;
  cudaError_t e = cudaSetDevice(index);
  if (e != cudaSuccess) {
    cuda_fail(ctx, e, "cuda:%d: cudaSetDevice", index);
    return false;
  }
  t_current = index;
  return true;
}

Device *device(kiln_context *ctx, int index, kiln_status *why) {
  kiln_status ignored;
  if (!why) why = &ignored;
  *why = KILN_ERR_CUDA;
  State *s = state(ctx);
  if (!s) {
    s = new (std::nothrow) State();
    if (!s) {
      *why = kiln::fail(ctx, KILN_ERR_OOM, "cuda: out of host memory");
      return nullptr;
    }
    const char *sync = std::getenv("KILN_CUDA_SYNC");
    s->sync_each_op = sync && *sync && std::strcmp(sync, "0") != 0;
    ctx->cuda = s;
  }
  if (index >= 0 && index < (int)s->devices.size() && s->devices[index]) {
    if (!use_device(ctx, index)) return nullptr;
    return s->devices[index].get();
  }
  int count = kiln_cuda_device_count();
  if (index < 0 || index >= count) {
    *why = kiln::fail(ctx, KILN_ERR_DEVICE, "cuda:%d does not exist (%d CUDA device%s visible)", index, count,
                      count == 1 ? "" : "s");
    return nullptr;
  }
  if (!use_device(ctx, index)) return nullptr;
  std::unique_ptr<Device> d(new Device(index));
  cudaError_t e = cudaGetDeviceProperties(&d->props, index);
  if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&d->stream, cudaStreamNonBlocking);
  if (e != cudaSuccess) {
    cuda_fail(ctx, e, "cuda:%d: initialising the device", index);
    return nullptr;
  }
  d->allocator.reset(new DeviceAllocator(index, sync_stream, d.get()));
  // The bad-index words (Device::bad_slot), all preset to INT64_MIN; without them bad indices are
  // only skipped, so a failure here is not fatal.
  {
    std::vector<int64_t> none(2 * Device::kBadSlots * Device::kBadWords, INT64_MIN);
    void *w = nullptr;
    if (cudaMalloc(&w, none.size() * sizeof(int64_t)) == cudaSuccess &&
        cudaMemcpy(w, none.data(), none.size() * sizeof(int64_t), cudaMemcpyHostToDevice) == cudaSuccess) {
      d->bad_words = static_cast<int64_t *>(w);
    } else {
      cudaGetLastError();
      if (w) cudaFree(w);
    }
    void *h = nullptr;
    if (d->bad_words &&
        cudaHostAlloc(&h, Device::kBadSlots * Device::kBadWords * sizeof(int64_t), cudaHostAllocDefault) == cudaSuccess)
      d->bad_host = static_cast<int64_t *>(h);
    if (d->bad_words && cudaEventCreateWithFlags(&d->bad_copied, cudaEventDisableTiming) != cudaSuccess)
      d->bad_copied = nullptr;
    cudaGetLastError();
  }
  // Pinned staging is an optimisation: without it copies fall back to pageable memory.
  for (int k = 0; k < 2; k++) {
    if (cudaHostAlloc(&d->staging[k], Device::kStagingBytes, cudaHostAllocDefault) != cudaSuccess ||
        cudaEventCreateWithFlags(&d->staged[k], cudaEventDisableTiming) != cudaSuccess) {
      cudaGetLastError();
      if (d->staging[k]) cudaFreeHost(d->staging[k]);
      d->staging[k] = nullptr;
      if (d->staged[k]) cudaEventDestroy(d->staged[k]);
      d->staged[k] = nullptr;
    }
  }
  if ((int)s->devices.size() <= index) s->devices.resize(index + 1);
  s->devices[index] = std::move(d);
  return s->devices[index].get();
}

// Host -> device through the staging buffers: chunk k goes into buffer k % 2 once the copy that
// last used that buffer is done, so the host fills one while the other is in flight.
static kiln_status h2d(kiln_context *ctx, Device *d, char *dst, const char *src, size_t n) {
  std::lock_guard<std::mutex> g(d->staging_mu);
  if (!d->staging[0] || !d->staging[1]) {
    cudaError_t e = cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, d->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(d->stream);
    return e == cudaSuccess ? KILN_OK : cuda_fail(ctx, e, "copy to cuda:%d", d->index);
  }
  size_t k = 0;
  for (size_t off = 0; off < n; off += Device::kStagingBytes, k++) {
    size_t len = std::min(Device::kStagingBytes, n - off);
    int b = (int)(k & 1);
    cudaError_t e = cudaEventSynchronize(d->staged[b]);
    if (e != cudaSuccess) return cuda_fail(ctx, e, "copy to cuda:%d", d->index);
    std::memcpy(d->staging[b], src + off, len);
    e = cudaMemcpyAsync(dst + off, d->staging[b], len, cudaMemcpyHostToDevice, d->stream);
    if (e == cudaSuccess) e = cudaEventRecord(d->staged[b], d->stream);
    if (e != cudaSuccess) return cuda_fail(ctx, e, "copy to cuda:%d", d->index);
  }
  return KILN_OK;
}

// Device -> host: chunk k is copied into buffer k % 2; while it is in flight the host copies chunk
// k - 1 out of the other buffer. Returns when everything has arrived.
static cudaError_t d2h(Device *d, char *dst, const char *src, size_t n) {
  std::lock_guard<std::mutex> g(d->staging_mu);
  if (!d->staging[0] || !d->staging[1]) {
    cudaError_t e = cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, d->stream);
    return e == cudaSuccess ? cudaStreamSynchronize(d->stream) : e;
  }
  const size_t S = Device::kStagingBytes;
  size_t chunks = (n + S - 1) / S;
  for (size_t k = 0; k <= chunks; k++) {
    if (k < chunks) {
      int b = (int)(k & 1);
      size_t len = std::min(S, n - k * S);
      cudaError_t e = cudaEventSynchronize(d->staged[b]);  // an earlier upload may still read it
      if (e == cudaSuccess) e = cudaMemcpyAsync(d->staging[b], src + k * S, len, cudaMemcpyDeviceToHost, d->stream);
      if (e == cudaSuccess) e = cudaEventRecord(d->staged[b], d->stream);
      if (e != cudaSuccess) return e;
    }
    if (k > 0) {
      size_t j = k - 1;
      int b = (int)(j & 1);
      cudaError_t e = cudaEventSynchronize(d->staged[b]);
      if (e != cudaSuccess) return e;
      std::memcpy(dst + j * S, d->staging[b], std::min(S, n - j * S));
    }
  }
  return cudaSuccess;
}

}  // namespace kiln::cuda

namespace kiln {
void cuda_state_destroy(kiln_context *ctx) {
  delete cuda::state(ctx);
  ctx->cuda = nullptr;
}
}  // namespace kiln

using kiln::cuda::Device;

extern "C" {

int kiln_cuda_compiled(void) { return 1; }

int kiln_cuda_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // no driver, or no device: simply none
    return 0;
  }
  return n;
}

kiln_status kiln_cuda_device_props(kiln_context *ctx, int device, kiln_cuda_props *out) {
  kiln_status why;
  Device *d = kiln::cuda::device(ctx, device, &why);
  if (!d) return why;
  std::snprintf(out->name, sizeof out->name, "%s", d->props.name);
  out->total_memory = d->props.totalGlobalMem;
  out->sm_count = d->props.multiProcessorCount;
  out->major = d->props.major;
  out->minor = d->props.minor;
  return KILN_OK;
}

void *kiln_cuda_alloc(kiln_context *ctx, int device, size_t nbytes) {
  Device *d = kiln::cuda::device(ctx, device);
  if (!d) return nullptr;
  std::string why;
  void *p = d->allocator->alloc(nbytes, &why);
  if (!p) kiln::fail(ctx, KILN_ERR_OOM, "%s", why.c_str());
  return p;
}

kiln_status kiln_cuda_free(kiln_context *ctx, int device, void *ptr) {
  kiln_status why;
  Device *d = kiln::cuda::device(ctx, device, &why);
  if (!d) return why;
  return d->allocator->free(ptr)
             ? KILN_OK
             : kiln::fail(ctx, KILN_ERR_ARG, "free of a pointer kiln did not allocate on cuda:%d", device);
}

size_t kiln_cuda_block_room(kiln_context *ctx, int device, const void *ptr) {
  Device *d = kiln::cuda::device(ctx, device);
  return d ? d->allocator->room(ptr) : 0;
}

kiln_status kiln_cuda_copy_h2d(kiln_context *ctx, int device, void *dst, const void *src, size_t n) {
  kiln_status why;
  Device *d = kiln::cuda::device(ctx, device, &why);
  if (!d) return why;
  if (n == 0) return KILN_OK;
  if (d->allocator->room(dst) < n)
    return kiln::fail(ctx, KILN_ERR_ARG, "copy to cuda:%d: larger than its block", device);
  return kiln::cuda::h2d(ctx, d, (char *)dst, (const char *)src, n);
}

kiln_status kiln_cuda_copy_d2h(kiln_context *ctx, int device, void *dst, const void *src, size_t n, char *msg,
                               size_t msg_len) {
  // From another thread (msg != NULL) the device must already exist: only look it up.
  Device *d = nullptr;
  if (msg) {
    kiln::cuda::State *s = kiln::cuda::state(ctx);
    if (s && device >= 0 && device < (int)s->devices.size()) d = s->devices[device].get();
    if (d && cudaSetDevice(device) != cudaSuccess) d = nullptr;
    if (!d) {
      std::snprintf(msg, msg_len, "read from cuda:%d: the device is not initialised", device);
      return KILN_ERR_DEVICE;
    }
  } else {
    kiln_status why;
    d = kiln::cuda::device(ctx, device, &why);
    if (!d) return why;
    if (n && d->allocator->room(src) < n)
      return kiln::fail(ctx, KILN_ERR_ARG, "copy from cuda:%d: larger than its block", device);
  }
  cudaError_t e = n ? kiln::cuda::d2h(d, (char *)dst, (const char *)src, n) : cudaSuccess;
  if (e == cudaSuccess) {
    // A read is a synchronisation point: report a bad index an earlier index op saw.
    std::string why;
    kiln_status st = d->take_bad_index(&why);
    if (st == KILN_OK) return KILN_OK;
    if (msg) {
      std::snprintf(msg, msg_len, "%s", why.c_str());
      return st;
    }
    return kiln::fail(ctx, st, "%s", why.c_str());
  }
  cudaGetLastError();
  if (msg) {
    std::snprintf(msg, msg_len, "read from cuda:%d: CUDA error %s (%s)", device, cudaGetErrorName(e),
                  cudaGetErrorString(e));
    return KILN_ERR_CUDA;
  }
  return kiln::cuda::cuda_fail(ctx, e, "read from cuda:%d", device);
}

kiln_status kiln_cuda_copy_d2d(kiln_context *ctx, int device, void *dst, const void *src, size_t n) {
  kiln_status why;
  Device *d = kiln::cuda::device(ctx, device, &why);
  if (!d) return why;
  if (n == 0) return KILN_OK;
  if (d->allocator->room(dst) < n || d->allocator->room(src) < n)
    return kiln::fail(ctx, KILN_ERR_ARG, "copy on cuda:%d: larger than its block", device);
  cudaError_t e = cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, d->stream);
  return e == cudaSuccess ? KILN_OK : kiln::cuda::cuda_fail(ctx, e, "copy on cuda:%d", device);
}

kiln_status kiln_cuda_synchronize(kiln_context *ctx, int device) {
  kiln::cuda::State *s = kiln::cuda::state(ctx);
  if (device >= 0) {
    kiln_status why;
    Device *d = kiln::cuda::device(ctx, device, &why);
    if (!d) return why;
    cudaError_t e = cudaStreamSynchronize(d->stream);
    if (e != cudaSuccess) return kiln::cuda::cuda_fail(ctx, e, "synchronize cuda:%d", device);
    std::string bad;
    kiln_status st = d->take_bad_index(&bad);
    return st == KILN_OK ? KILN_OK : kiln::fail(ctx, st, "%s", bad.c_str());
  }
  if (!s) return KILN_OK;
  for (size_t i = 0; i < s->devices.size(); i++)
    if (s->devices[i])
      if (kiln_status st = kiln_cuda_synchronize(ctx, (int)i)) return st;
  return KILN_OK;
}

kiln_status kiln_cuda_memory_stats(kiln_context *ctx, int device, kiln_memory_stats *out) {
  kiln::cuda::State *s = kiln::cuda::state(ctx);
  *out = kiln_memory_stats{};
  // A device this context never used holds nothing: do not initialise it just to say so.
  if (device < 0 || device >= kiln_cuda_device_count())
    return kiln::fail(ctx, KILN_ERR_DEVICE, "cuda:%d does not exist", device);
  if (!s || device >= (int)s->devices.size() || !s->devices[device]) return KILN_OK;
  *out = s->devices[device]->allocator->stats();
  return KILN_OK;
}

kiln_status kiln_cuda_empty_cache(kiln_context *ctx, int device) {
  kiln::cuda::State *s = kiln::cuda::state(ctx);
  if (!s) return KILN_OK;
  for (size_t i = 0; i < s->devices.size(); i++)
    if (s->devices[i] && (device < 0 || device == (int)i)) {
      if (!kiln::cuda::use_device(ctx, (int)i)) return KILN_ERR_CUDA;
      s->devices[i]->allocator->empty_cache();
    }
  return KILN_OK;
}

}  // extern "C"
