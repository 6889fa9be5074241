// Per-thread scratch for the GEMM and convolution paths (gemm.cpp, conv.cpp, conv_pointwise.cpp,
// winograd.cpp): a 64-byte aligned float buffer, grown on demand and kept for the next call, until
// kiln.emptyCache() (core/thread_scratch.h). The alignment matters: the GEMM register tiles read
// packed panels in whole vectors, which a malloc'd base (16 bytes) could make split two cache lines
// each. ScratchVec is the same for a vector of any element type (sort.cpp, attention.cpp,
// cross_entropy.cpp).
#pragma once
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "../core/context.h"
#include "../core/thread_pool.h"
#include "../core/thread_scratch.h"

namespace kiln::cpu {

class Scratch : public ThreadScratch {
 public:
  ~Scratch() override { release(); }
  // At least n floats. Growing does not keep the contents; new memory is zeroed, so padding lanes
  // a register tile reads past the last column are finite (never denormal garbage) the first time.
  float *get(size_t n) {
    if (n > cap_) {
      release();
      p_ = (float *)std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
      if (!p_) throw std::bad_alloc();
      std::memset(p_, 0, n * sizeof(float));
      cap_ = n;
      held((int64_t)(n * sizeof(float)));
    }
    return p_;
  }
  void release() override {
    std::free(p_);
    held(-(int64_t)(cap_ * sizeof(float)));
    p_ = nullptr;
    cap_ = 0;
  }

 private:
  float *p_ = nullptr;
  size_t cap_ = 0;
};

// A std::vector<T> kept per thread the same way: get(n) grows it to at least n elements (new ones
// value-initialised; growing keeps the old ones, as resize does) and returns its data.
template <class T>
class ScratchVec : public ThreadScratch {
 public:
  ~ScratchVec() override { release(); }
  T *get(size_t n) {
    if (v_.size() < n) {
      const size_t before = v_.capacity();
      v_.resize(n);
      held((int64_t)((v_.capacity() - before) * sizeof(T)));
    }
    return v_.data();
  }
  size_t bytes() const { return v_.capacity() * sizeof(T); }
  void release() override {
    held(-(int64_t)bytes());
    std::vector<T>().swap(v_);
  }

 private:
  std::vector<T> v_;
};

// The threads an op's parallel_for can use.
inline int threads_of(kiln_context *ctx) { return ctx->pool ? ctx->pool->size() : 1; }

}  // namespace kiln::cpu
