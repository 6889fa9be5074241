// Spin-then-sleep thread pool (see thread_pool.h).
//
// Lifetime of a job: run() publishes a stack Job through job_, wakes the workers, takes tasks
// itself, waits for done == ntasks, then unpublishes the job and waits until active_ (workers
// that may hold the pointer) drops to zero. A worker raises active_ before it reads job_; both
// sides use sequentially consistent operations, so either the caller sees the worker in active_
// or the worker sees job_ cleared: no worker can touch a finished job.
#include "thread_pool.h"

#include <chrono>
#include <new>

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

// The stack of the calling thread, in bytes; 0 where the platform does not say.
size_t own_stack() {
#if defined(__APPLE__)
  return pthread_get_stacksize_np(pthread_self());
#elif defined(__linux__)
  pthread_attr_t a;
  size_t n = 0;
  if (pthread_getattr_np(pthread_self(), &a) == 0) {
    pthread_attr_getstacksize(&a, &n);
    pthread_attr_destroy(&a);
  }
  return n;
#else
  return 0;
#endif
}

}  // namespace

#if defined(KILN_POSIX_THREADS)
bool ThreadPool::start_worker() {
  pthread_attr_t a;
  if (pthread_attr_init(&a) != 0) return false;
  pthread_attr_setstacksize(&a, kWorkerStack);  // refused (a platform limit): the default stays
  pthread_t t;
  const int rc = pthread_create(
      &t, &a,
      [](void *self) -> void * {
        static_cast<ThreadPool *>(self)->worker_loop();
        return nullptr;
      },
      this);
  pthread_attr_destroy(&a);
  if (rc != 0) return false;
  workers_.push_back(t);
  return true;
}
void ThreadPool::join_workers() {
  for (pthread_t t : workers_) pthread_join(t, nullptr);
}
#else
bool ThreadPool::start_worker() {
  try {
    workers_.emplace_back([this] { worker_loop(); });
    return true;
  } catch (...) {
    return false;
  }
}
void ThreadPool::join_workers() {
  for (auto &t : workers_) t.join();
}
#endif

ThreadPool::ThreadPool(int nthreads) {
  // Thread creation can fail (pids limit, memory): keep the threads that started. Room first, so
  // that no thread is started that the list could then fail to hold.
  workers_.reserve(nthreads > 1 ? (size_t)(nthreads - 1) : 0);
  for (int i = 1; i < nthreads; i++)
    if (!start_worker()) break;
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  join_workers();
}

void ThreadPool::drain(Job *job) {
  for (;;) {
    int64_t t = job->next.fetch_add(1);
    if (t >= job->ntasks) return;
    try {
      job->fn(job->ctx, t);
    } catch (...) {
      job->threw.store(true);
    }
    job->done.fetch_add(1);
  }
}

void ThreadPool::worker_loop() {
  t_in_pool = true;
  if (size_t n = own_stack()) {  // the smallest of the workers'
    size_t seen = stack_seen_.load();
    while ((seen == 0 || n < seen) && !stack_seen_.compare_exchange_weak(seen, n)) {
    }
  }
  // Starts from generation 0, not from a fresh read: a pool destroyed before this thread first
  // runs has already bumped the generation, and the worker must see that as news.
  uint64_t seen = 0;
  for (;;) {
    auto start = std::chrono::steady_clock::now();
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && !stop_.load()) {
      KILN_PAUSE();
      if (++spins % 256 == 0 && std::chrono::steady_clock::now() - start > kSpin) {
        std::unique_lock<std::mutex> lk(mu_);
        sleepers_.fetch_add(1);
        cv_.wait(lk, [&] { return generation_.load() != seen || stop_.load(); });
        sleepers_.fetch_sub(1);
        break;
      }
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    active_.fetch_add(1);
    if (Job *job = job_.load()) drain(job);
    active_.fetch_sub(1);
  }
}

void ThreadPool::run(int64_t ntasks, void (*fn)(void *, int64_t), void *ctx) {
  if (t_in_pool || workers_.empty() || ntasks <= 1) {  // nested or trivial: run inline
    for (int64_t t = 0; t < ntasks; t++) fn(ctx, t);
    return;
  }
  struct InPool {  // restores the flag however run() exits
    InPool() { t_in_pool = true; }
    ~InPool() { t_in_pool = false; }
  };
  std::lock_guard<std::mutex> run_guard(run_mu_);
  Job job;
  job.fn = fn;
  job.ctx = ctx;
  job.ntasks = ntasks;
  job_.store(&job);
  {
    // Bumping under the mutex pairs with the sleeper's predicate check, so no wake-up is lost.
    std::lock_guard<std::mutex> g(mu_);
    generation_.fetch_add(1);
  }
  if (sleepers_.load() > 0) cv_.notify_all();
  {
    InPool guard;
    drain(&job);
  }
  while (job.done.load(std::memory_order_acquire) < ntasks) KILN_PAUSE();
  job_.store(nullptr);
  while (active_.load() != 0) KILN_PAUSE();
  if (job.threw.load()) throw std::bad_alloc();
}

void ThreadPool::run_on_each(void (*fn)()) {
  if (t_in_pool || workers_.empty()) {
    fn();
    return;
  }
  struct Each {
    void (*fn)();
    int64_t threads;
    std::atomic<int64_t> arrived{0};
  } each;
  each.fn = fn;
  each.threads = size();
  run(
      each.threads,
      [](void *p, int64_t) {
        auto *e = (Each *)p;
        e->fn();
        e->arrived.fetch_add(1);
        while (e->arrived.load() < e->threads) KILN_PAUSE();  // so that no thread takes a second task
      },
      &each);
}

}  // namespace kiln
