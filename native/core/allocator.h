// CPU caching allocator: 64-byte aligned blocks in size classes, freed blocks kept for reuse.
// Reuse matters here: first touch of fresh memory costs ~11 us per 4 KiB page on these VMs (blocks
// of 16 MB and more ask for transparent huge pages, allocator.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "kiln.h"

namespace kiln {

class CpuAllocator {
 public:
  ~CpuAllocator();
  void *alloc(size_t nbytes);
  // Drops one reference (alloc gives one); the block returns to the cache at zero. Returns false
  // when ptr was not allocated here (a caller bug the glue reports, never a crash).
  bool free(void *ptr);
  // Adds a reference (a zero-copy view handed to JS holds one).
  bool retain(void *ptr);
  // Size class of a live block, 0 if ptr is not one.
  size_t size_of(const void *ptr) const;
  void empty_cache();
  kiln_memory_stats stats() const;
  // Size class a request is rounded up to (exposed for tests).
  static size_t size_class(size_t nbytes);

 private:
  void trim_to(uint64_t limit);
  mutable std::mutex mu_;
  std::unordered_map<size_t, std::vector<void *>> free_;  // size class -> cached blocks
  struct Block {
    size_t cls;
    int refs;
  };
  std::unordered_map<void *, Block> live_;
  kiln_memory_stats st_{};
  uint64_t cache_limit_ = 0;
};

}  // namespace kiln
