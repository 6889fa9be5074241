// Native thread pool. Workers spin briefly for the next job before sleeping: waking a sleeping
// thread costs ~150 us on these VMs (futex round trip), a spinning handoff ~1.5 us.
// Work is split into tasks whose boundaries do not depend on the thread count, so results are
// bit-identical for any KILN_NUM_THREADS.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define KILN_POSIX_THREADS 1
#endif

namespace kiln {

class ThreadPool {
 public:
  explicit ThreadPool(int nthreads);  // total threads, the caller included
  ~ThreadPool();
  int size() const { return (int)workers_.size() + 1; }
  // Each worker's stack: asked for explicitly, as the platforms' defaults for a new thread differ
  // (8 MiB with glibc, 128 KiB with musl, as on Alpine, 512 KiB on macOS) and kernels keep tens of
  // KiB of vectors on theirs. Reserved address space: only the pages a worker touches are used.
  static constexpr size_t kWorkerStack = size_t(8) << 20;
  // The smallest stack a worker found it has (bytes; 0 where the platform does not say, or none
  // has started yet).
  size_t worker_stack() const { return stack_seen_.load(); }
  // Runs fn(ctx, task) for every task in [0, ntasks); returns when all are done. If a task throws,
  // the others still run and run() throws std::bad_alloc after the job is over.
  void run(int64_t ntasks, void (*fn)(void *, int64_t), void *ctx);
  // Runs fn() once on each thread of the pool, the caller included, as one job (so on no thread
  // while it runs another job's task): each thread's task waits until every thread has taken one.
  // From inside a pool task, or without workers, on the calling thread only. fn must not throw.
  void run_on_each(void (*fn)());

 private:
  // One run() call; lives on the caller's stack. Workers reach it through job_ and are counted
  // in active_, and run() returns only once no worker can still touch it.
  struct Job {
    void (*fn)(void *, int64_t);
    void *ctx;
    int64_t ntasks;
    std::atomic<int64_t> next{0}, done{0};
    std::atomic<bool> threw{false};  // a task threw (bad_alloc): rethrown by run() once all is done
  };
  static void drain(Job *job);
  void worker_loop();
  bool start_worker();
  void join_workers();
#if defined(KILN_POSIX_THREADS)
  std::vector<pthread_t> workers_;
#else
  std::vector<std::thread> workers_;
#endif
  std::atomic<size_t> stack_seen_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<Job *> job_{nullptr};
  std::atomic<int> active_{0};
  std::atomic<bool> stop_{false};
  std::mutex run_mu_;  // one job at a time
};

// Splits [0, n) into chunks of `grain` elements and runs body(begin, end) on the pool; runs inline
// when there is one chunk, one thread, or when called from inside a pool task.
template <class F>
void parallel_for(ThreadPool *pool, int64_t n, int64_t grain, const F &body) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int64_t chunks = (n + grain - 1) / grain;
  if (!pool || chunks == 1 || pool->size() == 1) {
    body((int64_t)0, n);
    return;
  }
  struct Ctx {
    const F *body;
    int64_t n, grain;
  } c{&body, n, grain};
  pool->run(
      chunks,
      [](void *p, int64_t t) {
        auto *c = (Ctx *)p;
        int64_t b = t * c->grain, e = b + c->grain < c->n ? b + c->grain : c->n;
        (*c->body)(b, e);
      },
      &c);
}

}  // namespace kiln
