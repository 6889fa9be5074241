// CUDA caching allocator (one per device per context). Segments come from cudaMalloc and are cut
// into blocks; freed blocks are merged with free neighbours and reused. Everything that uses a
// device's memory runs on that device's one stream, so a block freed on the host may be handed out
// again at once: later work on the stream is ordered after the work that used it ("stream-ordered").
// Only returning segments to the driver (emptyCache, the OOM retry) waits for the stream.
//
// Size classes: requests round up to 512 B. Requests up to 1 MiB ("small") are cut from 2 MiB
// segments; larger ones get a segment rounded up to 2 MiB and split when a later request fits in a
// cached block with more than 1 MiB to spare. Best fit by (size, address) within each pool.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "kiln.h"

namespace kiln::cuda {

class DeviceAllocator {
 public:
  // sync waits for the device's stream (before segments go back to the driver).
  DeviceAllocator(int device, void (*sync)(void *), void *sync_arg)
      : device_(device), sync_(sync), sync_arg_(sync_arg) {}
  ~DeviceAllocator();
  DeviceAllocator(const DeviceAllocator &) = delete;
  DeviceAllocator &operator=(const DeviceAllocator &) = delete;

  // A block of at least nbytes; null on failure with the reason in *why (requested and free bytes).
  void *alloc(size_t nbytes, std::string *why);
  // Returns a block to the cache; false when ptr is not a live block of this allocator.
  bool free(void *ptr);
  // Bytes from ptr to the end of the live block holding it; 0 when none does.
  size_t room(const void *ptr) const;
  // Frees every cached segment none of whose memory is in use.
  void empty_cache();
  kiln_memory_stats stats() const { return st_; }
  uint64_t reserved_bytes() const { return reserved_; }

  static constexpr size_t kRound = 512;
  static constexpr size_t kSmallMax = size_t(1) << 20;
  static constexpr size_t kSmallSegment = size_t(2) << 20;
  static constexpr size_t kSegmentRound = size_t(2) << 20;

 private:
  struct Block {
    char *ptr;
    size_t size;
    bool small;
    bool free;
    Block *prev, *next;  // neighbours within the same segment
  };
  struct BySize {
    bool operator()(const Block *a, const Block *b) const {
      return a->size != b->size ? a->size < b->size : a->ptr < b->ptr;
    }
  };
  Block *take_cached(size_t size, bool small);
  Block *new_segment(size_t size, bool small, std::string *why);
  void release_free_segments();

  int device_;
  void (*sync_)(void *);
  void *sync_arg_;
  std::set<Block *, BySize> free_small_, free_large_;
  std::map<const char *, Block *> live_;  // by address
  kiln_memory_stats st_{};
  uint64_t reserved_ = 0;  // bytes held from cudaMalloc
  uint64_t segments_ = 0;
};

}  // namespace kiln::cuda
