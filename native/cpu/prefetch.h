// Software prefetch of the next row in row-wise kernels (softmax, norms, cross-entropy): their
// passes over one row run from L1, so the hardware prefetcher sees a stream that stops and
// restarts each row; asking for the next row while this one computes overlaps the two
// (layerNorm [16384, 1024] on 2 threads: 3.9 -> 2.6 ms).
// The backward passes of softmax and cross-entropy instead ask for the lines of the row `row_ahead`
// names one by one inside their writing pass (a burst of two operands' rows, up to 512 lines, stalls
// once the misses outstanding fill up): [16384, 1024] softmax backward 2.9-3.3 -> 2.3-2.7 ms,
// log-softmax 2.9-3.9 -> 2.4-2.8, cross-entropy [8192, 4096] 5.7-7.0 -> 4.3-5.4 (2 threads). The
// softmax forward does the same in its write pass, which also reads the next row (rows.inc
// softmax_rows); the other forwards keep the burst.
#pragma once
#include <algorithm>
#include <cstdint>

namespace kiln::cpu {

inline void prefetch_bytes(const void *p, int64_t bytes) {
  for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch((const char *)p + o);
}

// Contiguous rows of n elements of es bytes: the offset in elements from row r of a task's rows
// [r0, r1) to the row to prefetch while r computes, at least kAheadBytes on (a short row computes in
// less time than memory takes to answer); 0 (none) past r1.
constexpr int64_t kAheadBytes = 4096;
inline int64_t row_ahead(int64_t r, int64_t r1, int64_t n, int64_t es) {
  const int64_t k = std::max<int64_t>(1, kAheadBytes / std::max<int64_t>(1, n * es));
  return r + k < r1 ? k * n : 0;
}

}  // namespace kiln::cpu
