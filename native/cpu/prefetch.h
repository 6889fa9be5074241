// Software prefetch of the next row in row-wise kernels (softmax, norms, cross-entropy): their
// passes over one row run from L1, so the hardware prefetcher sees a stream that stops and
// restarts each row; asking for the next row while this one computes overlaps the two
// (layerNorm [16384, 1024] on 2 threads: 3.9 -> 2.6 ms).
#pragma once
#include <cstdint>

namespace kiln::cpu {

inline void prefetch_bytes(const void *p, int64_t bytes) {
  for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch((const char *)p + o);
}

}  // namespace kiln::cpu
