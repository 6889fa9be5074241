// Spin-then-sleep thread pool (see thread_pool.h).
#include "thread_pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define KILN_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define KILN_PAUSE() __asm__ __volatile__("yield")
#else
#define KILN_PAUSE() ((void)0)
#endif

namespace kiln {

namespace {
thread_local bool t_in_pool = false;
constexpr auto kSpin = std::chrono::microseconds(200);
}  // namespace

ThreadPool::ThreadPool(int nthreads) {
  for (int i = 1; i < nthreads; i++) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto &t : workers_) t.join();
}

void ThreadPool::drain() {
  for (;;) {
    int64_t t = next_.fetch_add(1, std::memory_order_acq_rel);
    if (t >= ntasks_) return;
    fn_(ctx_, t);
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::worker_loop() {
  t_in_pool = true;
  uint64_t seen = generation_.load();
  for (;;) {
    auto start = std::chrono::steady_clock::now();
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen) {
      KILN_PAUSE();
      if (++spins % 256 == 0 && std::chrono::steady_clock::now() - start > kSpin) {
        std::unique_lock<std::mutex> lk(mu_);
        sleepers_.fetch_add(1);
        cv_.wait(lk, [&] { return generation_.load() != seen; });
        sleepers_.fetch_sub(1);
        break;
      }
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    drain();
  }
}

void ThreadPool::run(int64_t ntasks, void (*fn)(void *, int64_t), void *ctx) {
  if (t_in_pool || workers_.empty() || ntasks <= 1) {  // nested or trivial: run inline
    for (int64_t t = 0; t < ntasks; t++) fn(ctx, t);
    return;
  }
  std::lock_guard<std::mutex> run_guard(run_mu_);
  ntasks_ = ntasks;
  fn_ = fn;
  ctx_ = ctx;
  done_.store(0);
  next_.store(0, std::memory_order_release);
  {
    // Bumping under the mutex pairs with the sleeper's predicate check, so no wake-up is lost.
    std::lock_guard<std::mutex> g(mu_);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  if (sleepers_.load() > 0) cv_.notify_all();
  t_in_pool = true;
  drain();
  t_in_pool = false;
  while (done_.load(std::memory_order_acquire) < ntasks) KILN_PAUSE();
}

}  // namespace kiln
