// Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator, so any element's numbers follow from (key, counter) alone. Host and
// device inline so CPU and CUDA produce the same streams.
#pragma once
#include <cstdint>

#include "dtype.h"

namespace kiln {

struct Philox4 {
  uint32_t v[4];
};

KILN_HD Philox4 philox4x32_10(uint64_t counter, uint64_t key) {
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
  for (int r = 0; r < 10; r++) {
    uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// [0, 1) with 24 random bits, and (0, 1] for logarithms.
KILN_HD float u32_to_unit(uint32_t u) { return (float)(u >> 8) * 5.9604644775390625e-8f; }
KILN_HD double u32_to_open_unit(uint32_t u) { return ((double)(u >> 8) + 1.0) * 5.9604644775390625e-8; }
// [0, 1) with 53 random bits from two words.
KILN_HD double u64_to_unit(uint32_t a, uint32_t b) {
  return (double)((((uint64_t)a << 32) | b) >> 11) * 1.1102230246251565e-16;
}

}  // namespace kiln
