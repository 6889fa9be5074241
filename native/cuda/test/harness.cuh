// A small harness for the standalone launcher tests in native/cuda/test (built by
// scripts/build_cuda_tests.sh, run on a GPU machine by scripts/gpu_check.sh): random inputs,
// relative-norm error against a float64 host reference, poisoned outputs, CUDA-event timing and
// the device's copy bandwidth measured in the same process. Every line it prints is one JSON
// record, so gpu_check.sh can collect them.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "dtype.h"
#include "launch.h"

namespace kiln::cuda::test {

inline int &failures() {
  static int n = 0;
  return n;
}

#define KT_CHECK(call)                                                                               \
  do {                                                                                               \
    cudaError_t e_ = (call);                                                                         \
    if (e_ != cudaSuccess) {                                                                         \
      std::printf("{\"kind\":\"fatal\",\"where\":\"%s:%d\",\"error\":\"%s\"}\n", __FILE__, __LINE__, \
                  cudaGetErrorString(e_));                                                           \
      std::exit(2);                                                                                  \
    }                                                                                                \
  } while (0)

// A device buffer of n T's, freed on scope exit.
template <typename T>
struct DevBuf {
  T *p = nullptr;
  size_t n = 0;
  explicit DevBuf(size_t n_) : n(n_) { KT_CHECK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T))); }
  ~DevBuf() { cudaFree(p); }
  DevBuf(const DevBuf &) = delete;
  DevBuf &operator=(const DevBuf &) = delete;
  void upload(const std::vector<T> &h) { KT_CHECK(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice)); }
  std::vector<T> download() const {
    std::vector<T> h(n);
    KT_CHECK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
  void poison() { KT_CHECK(cudaMemset(p, 0xff, n * sizeof(T))); }  // NaN for floats
};

inline std::mt19937_64 &rng() {
  static std::mt19937_64 g(0x6b696c6eULL);
  return g;
}
template <typename T>
std::vector<T> randn(size_t n, double scale = 1.0) {
  std::normal_distribution<double> d(0.0, scale);
  std::vector<T> v(n);
  for (auto &x : v) x = (T)d(rng());
  return v;
}
inline int64_t randint(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng()); }

// ||got - want|| / max(||want||, tiny), over doubles.
template <typename T>
double rel_err(const std::vector<T> &got, const std::vector<double> &want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); i++) {
    double g = (double)got[i], d = g - want[i];
    if (std::isnan(g) != std::isnan(want[i])) return INFINITY;
    if (!std::isnan(g)) num += d * d, den += want[i] * want[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

// Prints a check record; counts failures. `what` names the launcher and the shape.
inline bool expect(const std::string &what, double err, double tol) {
  bool ok = err <= tol;
  if (!ok) failures()++;
  std::printf("{\"kind\":\"check\",\"name\":\"%s\",\"rel_err\":%.3e,\"tol\":%.1e,\"ok\":%s}\n", what.c_str(), err, tol,
              ok ? "true" : "false");
  return ok;
}

// Median milliseconds of `fn` (which enqueues work on the default stream) over `reps` timed runs
// after `warm` warm-ups, timed with CUDA events.
inline double time_ms(const std::function<void()> &fn, int reps = 20, int warm = 3) {
  for (int i = 0; i < warm; i++) fn();
  KT_CHECK(cudaDeviceSynchronize());
  cudaEvent_t a, b;
  KT_CHECK(cudaEventCreate(&a));
  KT_CHECK(cudaEventCreate(&b));
  std::vector<double> ts;
  for (int i = 0; i < reps; i++) {
    KT_CHECK(cudaEventRecord(a));
    fn();
    KT_CHECK(cudaEventRecord(b));
    KT_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    KT_CHECK(cudaEventElapsedTime(&ms, a, b));
    ts.push_back(ms);
  }
  KT_CHECK(cudaGetLastError());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

// Device-to-device copy bandwidth (read + write bytes per second) on `bytes`-sized buffers.
inline double copy_gbs(size_t bytes) {
  static double cached = 0;
  if (cached > 0) return cached;
  DevBuf<char> a(bytes), b(bytes);
  KT_CHECK(cudaMemset(a.p, 1, bytes));
  double ms = time_ms([&] { cudaMemcpyAsync(b.p, a.p, bytes, cudaMemcpyDeviceToDevice); });
  cached = 2.0 * bytes / (ms * 1e-3) / 1e9;
  std::printf("{\"kind\":\"bench\",\"name\":\"copy\",\"bytes\":%zu,\"ms\":%.4f,\"gbs\":%.1f}\n", bytes, ms, cached);
  return cached;
}

// Prints a bench record: effective GB/s from the minimum bytes moved, and its fraction of copy.
inline void report_gbs(const std::string &name, double bytes, double ms) {
  double gbs = bytes / (ms * 1e-3) / 1e9, copy = copy_gbs((size_t)1 << 31);
  std::printf("{\"kind\":\"bench\",\"name\":\"%s\",\"bytes\":%.0f,\"ms\":%.4f,\"gbs\":%.1f,\"of_copy\":%.3f}\n",
              name.c_str(), bytes, ms, gbs, gbs / copy);
}

// Ends main: prints the summary record and returns the exit code.
inline int finish(const char *suite) {
  std::printf("{\"kind\":\"summary\",\"suite\":\"%s\",\"failures\":%d}\n", suite, failures());
  return failures() ? 1 : 0;
}

}  // namespace kiln::cuda::test

namespace kiln::cuda::test {
// A Launch for the tests: the default stream, scratch from cudaMallocAsync, messages to a buffer.
inline Launch &launch() {
  static char msg[512];
  static Launch L = [] {
    Launch l;
    l.alloc = [](void *, size_t n) -> void * {
      void *p = nullptr;
      return cudaMallocAsync(&p, n, 0) == cudaSuccess ? p : nullptr;
    };
    l.release = [](void *, void *p) { cudaFreeAsync(p, 0); };
    int dev = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&l.sm_count, cudaDevAttrMultiProcessorCount, dev);
    l.message = msg;
    l.message_len = sizeof msg;
    return l;
  }();
  return L;
}
// A kiln_tensor descriptor over device memory: contiguous strides for `shape`.
inline kiln_tensor desc(void *data, kiln_dtype dtype, std::vector<int64_t> shape) {
  kiln_tensor t{};
  t.data = data;
  t.dtype = dtype;
  t.ndim = (int32_t)shape.size();
  int64_t s = 1;
  for (int d = t.ndim - 1; d >= 0; d--) t.shape[d] = shape[d], t.strides[d] = s, s *= shape[d];
  return t;
}
}  // namespace kiln::cuda::test

namespace kiln::cuda::test {
// The kiln dtype of a host element type.
template <class T>
constexpr kiln_dtype dtype_of() {
  if constexpr (std::is_same_v<T, float>) return KILN_FLOAT32;
  if constexpr (std::is_same_v<T, double>) return KILN_FLOAT64;
  if constexpr (std::is_same_v<T, kiln::half_t>) return KILN_FLOAT16;
  if constexpr (std::is_same_v<T, kiln::bfloat16_t>) return KILN_BFLOAT16;
  if constexpr (std::is_same_v<T, int32_t>) return KILN_INT32;
  if constexpr (std::is_same_v<T, int64_t>) return KILN_INT64;
  if constexpr (std::is_same_v<T, uint8_t>) return KILN_UINT8;
  return KILN_BOOL;
}
// Doubles rounded to T as kiln stores them, and T widened back.
template <class T>
std::vector<T> to_t(const std::vector<double> &v) {
  std::vector<T> o(v.size());
  for (size_t i = 0; i < v.size(); i++) o[i] = kiln::store<T>(v[i]);
  return o;
}
template <class T>
std::vector<double> to_d(const std::vector<T> &v) {
  std::vector<double> o(v.size());
  for (size_t i = 0; i < v.size(); i++) o[i] = (double)kiln::load(v[i]);
  return o;
}
}  // namespace kiln::cuda::test
