// Per-thread scratch that kernels keep between calls (packed GEMM panels, convolution workspaces,
// sort buffers): fresh pages cost more here than the kernels that fill them (DESIGN.md, Memory),
// so a buffer stays with its thread once grown. Each one registers with its thread's list, so that
// kiln.emptyCache() can give them all back: release_thread_scratch() frees the calling thread's,
// and ThreadPool::run_on_each runs it on every thread of a pool, between jobs.
#pragma once
#include <cstdint>

namespace kiln {

class ThreadScratch {
 public:
  ThreadScratch();  // registers with this thread's list
  virtual ~ThreadScratch();
  ThreadScratch(const ThreadScratch &) = delete;
  ThreadScratch &operator=(const ThreadScratch &) = delete;
  // Frees the buffer; the next use grows it again.
  virtual void release() = 0;

 protected:
  // The bytes a derived buffer holds changed by delta (summed for thread_scratch_bytes()).
  static void held(int64_t delta);
};

// Frees every ThreadScratch buffer of the calling thread.
void release_thread_scratch();
// Bytes held by the ThreadScratch buffers of every thread of the process.
uint64_t thread_scratch_bytes();

}  // namespace kiln
