// The per-thread lists of ThreadScratch buffers (thread_scratch.h).
#include "thread_scratch.h"

#include <algorithm>
#include <atomic>
#include <vector>

namespace kiln {

namespace {

// The calling thread's buffers. Built on the first registration, inside that buffer's constructor,
// so it is destroyed after every buffer of the thread (reverse order of construction).
std::vector<ThreadScratch *> &thread_list() {
  thread_local std::vector<ThreadScratch *> list;
  return list;
}

// A statistic, not state: the sum over all threads, updated as buffers grow and shrink.
std::atomic<uint64_t> g_held{0};

}  // namespace

ThreadScratch::ThreadScratch() { thread_list().push_back(this); }

ThreadScratch::~ThreadScratch() {
  auto &l = thread_list();
  l.erase(std::remove(l.begin(), l.end(), this), l.end());
}

void ThreadScratch::held(int64_t delta) { g_held.fetch_add((uint64_t)delta); }

void release_thread_scratch() {
  for (ThreadScratch *s : thread_list()) s->release();
}

uint64_t thread_scratch_bytes() { return g_held.load(); }

}  // namespace kiln
