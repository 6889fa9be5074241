// CPU caching allocator (see allocator.h). Size classes: multiples of 64 B up to 4 KiB, then four
// steps per power of two (at most 25% waste). The cache is capped (KILN_CPU_CACHE_MB, default 4096)
// and trimmed largest-first past the cap.
#include "allocator.h"

#include <algorithm>
#include <cstdlib>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kiln {

namespace {

// Blocks of kHugeMin and more are 2 MiB aligned and, on Linux, asked to be backed by transparent
// huge pages (MADV_HUGEPAGE; THP's default mode "madvise" backs only regions that ask). Their first
// touch then faults once per 2 MiB instead of once per 4 KiB: a fresh 64 MB kiln.zeros took 180 ms
// here (each 4 KiB fault is a trip to the hypervisor), the same from a cached block 5 ms. The cost:
// up to one huge page past a tensor's last byte becomes resident (at most 1/8 of a block this size).
constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kHugeMin = size_t(16) << 20;

void *os_alloc(size_t cls) {
  if (cls < kHugeMin) return std::aligned_alloc(64, cls);
  const size_t bytes = (cls + kHugePage - 1) / kHugePage * kHugePage;
  void *p = std::aligned_alloc(kHugePage, bytes);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (p) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: a kernel without THP ignores or refuses it
#endif
  return p;
}

}  // namespace

size_t CpuAllocator::size_class(size_t n) {
  if (n == 0) n = 1;
  if (n <= 4096) return (n + 63) & ~size_t(63);
  int top = 63 - __builtin_clzll((unsigned long long)(n - 1));  // 2^top < n <= 2^(top+1)
  size_t step = size_t(1) << (top - 2);
  return (n + step - 1) / step * step;
}

CpuAllocator::~CpuAllocator() {
  empty_cache();
  for (auto &kv : live_) std::free(kv.first);
}

void *CpuAllocator::alloc(size_t nbytes) {
  size_t cls = size_class(nbytes);
  std::lock_guard<std::mutex> g(mu_);
  if (cache_limit_ == 0) {
    const char *env = std::getenv("KILN_CPU_CACHE_MB");
    long mb = env ? std::atol(env) : 4096;
    cache_limit_ = (uint64_t)(mb > 0 ? mb : 1) << 20;
  }
  st_.alloc_calls++;
  void *p = nullptr;
  auto it = free_.find(cls);
  if (it != free_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    st_.cached_bytes -= cls;
    st_.cached_blocks--;
    st_.cache_hits++;
  } else {
    p = os_alloc(cls);
    if (!p && st_.cached_bytes) {  // give the cache back and retry once
      trim_to(0);
      p = os_alloc(cls);
    }
    if (!p) return nullptr;
  }
  live_[p] = Block{cls, 1};
  st_.live_bytes += cls;
  st_.live_blocks++;
  st_.peak_bytes = std::max(st_.peak_bytes, st_.live_bytes);
  return p;
}

bool CpuAllocator::free(void *ptr) {
  if (!ptr) return true;
  std::lock_guard<std::mutex> g(mu_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return false;
  if (--it->second.refs > 0) return true;
  size_t cls = it->second.cls;
  live_.erase(it);
  st_.live_bytes -= cls;
  st_.live_blocks--;
  free_[cls].push_back(ptr);
  st_.cached_bytes += cls;
  st_.cached_blocks++;
  if (st_.cached_bytes > cache_limit_) trim_to(cache_limit_ / 2);
  return true;
}

bool CpuAllocator::retain(void *ptr) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return false;
  it->second.refs++;
  return true;
}

size_t CpuAllocator::size_of(const void *ptr) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = live_.find(const_cast<void *>(ptr));
  return it == live_.end() ? 0 : it->second.cls;
}

void CpuAllocator::trim_to(uint64_t limit) {
  std::vector<size_t> classes;
  for (auto &kv : free_)
    if (!kv.second.empty()) classes.push_back(kv.first);
  std::sort(classes.rbegin(), classes.rend());
  for (size_t cls : classes) {
    auto &v = free_[cls];
    while (!v.empty() && st_.cached_bytes > limit) {
      std::free(v.back());
      v.pop_back();
      st_.cached_bytes -= cls;
      st_.cached_blocks--;
    }
    if (st_.cached_bytes <= limit) break;
  }
}

void CpuAllocator::empty_cache() {
  std::lock_guard<std::mutex> g(mu_);
  trim_to(0);
  free_.clear();
}

kiln_memory_stats CpuAllocator::stats() const {
  std::lock_guard<std::mutex> g(mu_);
  return st_;
}

}  // namespace kiln
