// Per-thread scratch for the convolution paths (conv.cpp, conv_pointwise.cpp, winograd.cpp): a 64-byte aligned float
// buffer, grown on demand and kept for the next call. The alignment matters: the GEMM register
// tiles read packed panels in whole vectors, which a malloc'd base (16 bytes) could make split two
// cache lines each.
#pragma once
#include <cstdlib>
#include <cstring>
#include <new>

#include "../core/context.h"
#include "../core/thread_pool.h"

namespace kiln::cpu {

struct Scratch {
  float *p = nullptr;
  size_t cap = 0;
  Scratch() = default;
  Scratch(const Scratch &) = delete;
  Scratch &operator=(const Scratch &) = delete;
  ~Scratch() { std::free(p); }
  // At least n floats. Growing does not keep the contents; new memory is zeroed, so padding lanes
  // a register tile reads past the last column are finite (never denormal garbage) the first time.
  float *get(size_t n) {
    if (n > cap) {
      std::free(p);
      p = (float *)std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
      if (!p) {
        cap = 0;
        throw std::bad_alloc();
      }
      std::memset(p, 0, n * sizeof(float));
      cap = n;
    }
    return p;
  }
};

// The threads an op's parallel_for can use.
inline int threads_of(kiln_context *ctx) { return ctx->pool ? ctx->pool->size() : 1; }

}  // namespace kiln::cpu
