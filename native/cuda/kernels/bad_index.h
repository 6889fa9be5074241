// The first out-of-range index of a launch, recorded without a synchronisation in a pair of device
// words (one bad-index slot of runtime.h; both preset to INT64_MIN), for the ops whose CPU message
// names the first bad position and its value (embedding: the first index in index order; cross
// entropy: the first row's target). Each word keeps a minimum over the bad positions of
//   position << 32 | one half of the value (word 0: the high 32 bits, word 1: the low 32 bits)
// compared as unsigned, so both words end up holding the lowest bad position with the two halves of
// that position's value, whatever order the threads ran in. The preset INT64_MIN (2^63 unsigned) is
// above every key, since positions are capped at kMaxPos (2^31 - 1): a position at or past the cap
// still records that some index is bad, but its value is then not exact (decode says so).
// Host/device: the kernels record (record_first_bad, CUDA only), the runtime and the tests decode.
#pragma once
#include <cstdint>

#include "dtype.h"

namespace kiln::cuda::bad_index {

constexpr int kWords = 2;                     // device words per slot
constexpr int64_t kNone = INT64_MIN;          // a word no launch wrote
constexpr int64_t kMaxPos = (1ll << 31) - 1;  // positions are capped here

// The key for word k (0: the value's high half, 1: its low half) of a bad `value` at `pos` >= 0.
KILN_HD uint64_t key(int64_t pos, int64_t value, int k) {
  const uint64_t p = (uint64_t)(pos < kMaxPos ? pos : kMaxPos);
  const uint64_t v = (uint64_t)value;
  return p << 32 | (k == 0 ? v >> 32 : v & 0xffffffffull);
}

struct First {
  bool any;     // some index was bad
  bool exact;   // pos and value are the first bad position and its value
  int64_t pos;  // the position (kMaxPos: that or a later one)
  int64_t value;
};

// The slot's two words, as read back after the launch.
KILN_HD First decode(const int64_t *w) {
  First f{false, false, 0, 0};
  if (w[0] == kNone && w[1] == kNone) return f;
  f.any = true;
  const uint64_t hi = (uint64_t)w[0], lo = (uint64_t)w[1];
  f.pos = (int64_t)(hi >> 32);
  f.value = (int64_t)((hi << 32) | (lo & 0xffffffffull));
  f.exact = w[0] != kNone && w[1] != kNone && (hi >> 32) == (lo >> 32) && f.pos < kMaxPos;
  return f;
}

#if defined(__CUDACC__)
// Records a bad `value` at `pos` in `words` (a slot's pair; nothing when null). The plain read
// first skips the atomics once a lower position is in, so a launch full of bad indices does not
// serialise on the two words.
__device__ __forceinline__ void record_first_bad(int64_t *words, int64_t pos, int64_t value) {
  if (!words) return;
  unsigned long long *w = (unsigned long long *)words;
#pragma unroll
  for (int k = 0; k < kWords; k++) {
    const unsigned long long mine = key(pos, value, k);
    if (*(volatile unsigned long long *)(w + k) > mine) atomicMin(w + k, mine);
  }
}
#endif

}  // namespace kiln::cuda::bad_index
