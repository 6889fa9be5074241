// DeviceAllocator (see device_allocator.h).
#include "device_allocator.h"

#include <cuda_runtime_api.h>

#include <cstdio>
#include <vector>

namespace kiln::cuda {

namespace {
size_t round_up(size_t n, size_t k) { return (n + k - 1) / k * k; }

std::string bytes_str(uint64_t b) {
  char buf[64];
  if (b >= (uint64_t(1) << 30))
    std::snprintf(buf, sizeof buf, "%llu bytes (%.2f GiB)", (unsigned long long)b, b / 1073741824.0);
  else
    std::snprintf(buf, sizeof buf, "%llu bytes (%.2f MiB)", (unsigned long long)b, b / 1048576.0);
  return buf;
}
}  // namespace

DeviceAllocator::~DeviceAllocator() {
  // The context is going away: wait for the stream, then give every segment back.
  if (sync_) sync_(sync_arg_);
  std::vector<Block *> all;
  for (Block *b : free_small_) all.push_back(b);
  for (Block *b : free_large_) all.push_back(b);
  for (auto &kv : live_) all.push_back(kv.second);
  for (Block *b : all)
    if (!b->prev) cudaFree(b->ptr);  // a segment's first block holds the cudaMalloc address
  for (Block *b : all) delete b;
}

DeviceAllocator::Block *DeviceAllocator::take_cached(size_t size, bool small) {
  auto &pool = small ? free_small_ : free_large_;
  Block key{nullptr, size, small, true, nullptr, nullptr};
  auto it = pool.lower_bound(&key);
  if (it == pool.end()) return nullptr;
  Block *b = *it;
  pool.erase(it);
  size_t rest = b->size - size;
  if (small ? rest >= kRound : rest > kSmallMax) {  // split: the tail stays cached
    Block *tail = new Block{b->ptr + size, rest, small, true, b, b->next};
    if (b->next) b->next->prev = tail;
    b->next = tail;
    b->size = size;
    pool.insert(tail);
    st_.cached_blocks++;  // the tail; b leaves the cache below
  }
  b->free = false;
  st_.cached_blocks--;
  st_.cached_bytes -= b->size;
  return b;
}

DeviceAllocator::Block *DeviceAllocator::new_segment(size_t size, bool small, std::string *why) {
  size_t seg = small ? kSmallSegment : round_up(size, kSegmentRound);
  void *p = nullptr;
  cudaError_t e = cudaMalloc(&p, seg);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear it; retry once with the cache returned to the driver
    release_free_segments();
    e = cudaMalloc(&p, seg);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    cudaGetLastError();
    if (why) {
      char buf[512];
      std::snprintf(
          buf, sizeof buf, "out of memory on cuda:%d: requested %s, %s free of %s (kiln holds %s, %s of it in use); %s",
          device_, bytes_str(size).c_str(), bytes_str(free_b).c_str(), bytes_str(total_b).c_str(),
          bytes_str(reserved_).c_str(), bytes_str(st_.live_bytes).c_str(),
          e == cudaErrorMemoryAllocation ? "cudaMalloc failed after emptying kiln's cache" : cudaGetErrorString(e));
      *why = buf;
    }
    return nullptr;
  }
  reserved_ += seg;
  segments_++;
  Block *b = new Block{(char *)p, seg, small, false, nullptr, nullptr};
  if (seg > size) {  // the rest of the segment is cached for later requests
    Block *tail = new Block{b->ptr + size, seg - size, small, true, b, nullptr};
    b->next = tail;
    b->size = size;
    (small ? free_small_ : free_large_).insert(tail);
    st_.cached_blocks++;
    st_.cached_bytes += tail->size;
  }
  return b;
}

void *DeviceAllocator::alloc(size_t nbytes, std::string *why) {
  if (nbytes > (size_t(1) << 56)) {
    if (why)
      *why = "out of memory on cuda:" + std::to_string(device_) + ": requested " + bytes_str(nbytes) +
             ", more than any device holds";
    return nullptr;
  }
  size_t size = round_up(nbytes ? nbytes : 1, kRound);
  bool small = size <= kSmallMax;
  st_.alloc_calls++;
  Block *b = take_cached(size, small);
  if (b)
    st_.cache_hits++;
  else
    b = new_segment(size, small, why);
  if (!b) return nullptr;
  live_[b->ptr] = b;
  st_.live_bytes += b->size;
  st_.live_blocks++;
  if (st_.live_bytes > st_.peak_bytes) st_.peak_bytes = st_.live_bytes;
  return b->ptr;
}

bool DeviceAllocator::free(void *ptr) {
  auto it = live_.find((const char *)ptr);
  if (it == live_.end()) return false;
  Block *b = it->second;
  live_.erase(it);
  st_.live_bytes -= b->size;
  st_.live_blocks--;
  auto &pool = b->small ? free_small_ : free_large_;
  b->free = true;
  st_.cached_bytes += b->size;
  st_.cached_blocks++;
  // Merge with free neighbours of the same segment.
  if (b->next && b->next->free) {
    Block *n = b->next;
    pool.erase(n);
    b->size += n->size;
    b->next = n->next;
    if (n->next) n->next->prev = b;
    delete n;
    st_.cached_blocks--;
  }
  if (b->prev && b->prev->free) {
    Block *p = b->prev;
    pool.erase(p);
    p->size += b->size;
    p->next = b->next;
    if (b->next) b->next->prev = p;
    delete b;
    b = p;
    st_.cached_blocks--;
  }
  pool.insert(b);
  return true;
}

size_t DeviceAllocator::room(const void *ptr) const {
  auto it = live_.upper_bound((const char *)ptr);
  if (it == live_.begin()) return 0;
  --it;
  const Block *b = it->second;
  const char *p = (const char *)ptr;
  return p >= b->ptr && p < b->ptr + b->size ? (size_t)(b->ptr + b->size - p) : 0;
}

void DeviceAllocator::release_free_segments() {
  std::vector<Block *> whole;
  for (auto *pool : {&free_small_, &free_large_})
    for (Block *b : *pool)
      if (!b->prev && !b->next) whole.push_back(b);
  if (whole.empty()) return;
  // Work still queued on the stream may use these blocks (they were freed stream-ordered).
  if (sync_) sync_(sync_arg_);
  for (Block *b : whole) {
    (b->small ? free_small_ : free_large_).erase(b);
    cudaFree(b->ptr);
    reserved_ -= b->size;
    segments_--;
    st_.cached_bytes -= b->size;
    st_.cached_blocks--;
    delete b;
  }
  cudaGetLastError();
}

void DeviceAllocator::empty_cache() { release_free_segments(); }

}  // namespace kiln::cuda
