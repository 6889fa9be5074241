// Bench references for `kiln bench gemm` (ts/bench/gemm.ts), exported as `refBlas` and `fmaPeak`.
//
// refBlas: OpenBLAS's cblas_sgemm and cblas_dgemm, dlopen()ed at call time and never linked, so kiln has no BLAS
// dependency and loads the same on a machine without OpenBLAS (load() then returns null and
// loadError() says why). OpenBLAS reads OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS when it is first
// loaded, so the bench sets them before calling load(). sgemm works on kiln blocks by address and
// checks each operand against its block's size, so a bad call from JS cannot write past one.
//
// fmaPeak: the measured fp32 FMA peak that gemm rows are reported against. Each thread runs
// independent FMA chains on as many vector registers as hide the FMA latency on both FMA pipes
// (4-5 cycles x 2 pipes: 8-10 chains in flight at least); AVX-512 where the CPU has it, AVX2+FMA
// otherwise, plain std::fma elsewhere.
#include "bench_ref.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#if !defined(_WIN32)
#include <dlfcn.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define KILN_BENCH_X86 1
#endif

namespace kiln::napi {

namespace {

// ---- OpenBLAS -------------------------------------------------------------------------------

// cblas.h's enums and signature (32-bit blasint: Debian's libopenblas0, not libopenblas64).
constexpr int kCblasRowMajor = 101, kCblasNoTrans = 111;
using sgemm_fn = void (*)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *,
                          int);
using dgemm_fn = void (*)(int, int, int, int, int, int, double, const double *, int, const double *, int, double,
                          double *, int);

struct Blas {
  void *lib = nullptr;
  sgemm_fn sgemm = nullptr;
  dgemm_fn dgemm = nullptr;
  char *(*corename)() = nullptr;
  char *(*config)() = nullptr;  // optional
  void (*set_threads)(int) = nullptr;
  int (*get_threads)() = nullptr;
  std::string path, error;
};

Blas &blas() {
  static Blas b;
  return b;
}

// The names tried, in order: the soname any distribution's OpenBLAS runtime package provides, the
// development symlink, then Debian's pthread variant by full path (when the alternatives link is off).
const char *const kBlasNames[] = {"libopenblas.so.0", "libopenblas.so",
                                  "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"};

bool blas_load() {
  Blas &b = blas();
  if (b.lib) return true;
#if defined(_WIN32)
  b.error = "dlopen is not available on Windows";
  return false;
#else
  b.error.clear();
  for (const char *name : kBlasNames) {
    void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char *e = dlerror();
      b.error += std::string(b.error.empty() ? "" : "; ") + (e ? e : name);
      continue;
    }
    Blas got;
    got.sgemm = (sgemm_fn)dlsym(lib, "cblas_sgemm");
    got.dgemm = (dgemm_fn)dlsym(lib, "cblas_dgemm");
    got.corename = (char *(*)())dlsym(lib, "openblas_get_corename");
    got.config = (char *(*)())dlsym(lib, "openblas_get_config");
    got.set_threads = (void (*)(int))dlsym(lib, "openblas_set_num_threads");
    got.get_threads = (int (*)())dlsym(lib, "openblas_get_num_threads");
    if (!got.sgemm || !got.dgemm || !got.corename || !got.set_threads || !got.get_threads) {
      b.error += std::string(b.error.empty() ? "" : "; ") + name +
                 ": not OpenBLAS (cblas_sgemm, cblas_dgemm or openblas_* missing)";
      dlclose(lib);
      continue;
    }
    Dl_info where;
    got.path = dladdr((void *)got.sgemm, &where) && where.dli_fname ? where.dli_fname : name;
    got.lib = lib;  // never closed: OpenBLAS keeps worker threads for the life of the process
    b = got;
    return true;
  }
  return false;
#endif
}

Napi::Value BlasInfo(Napi::Env env) {
  Blas &b = blas();
  auto o = Napi::Object::New(env);
  const char *core = b.corename();
  o["core"] = core ? core : "unknown";
  o["threads"] = b.get_threads();
  o["library"] = b.path;
  const char *config = b.config ? b.config() : nullptr;
  o["config"] = config ? config : "";
  return o;
}

// load() -> {core, threads, library, config} | null
Napi::Value BlasLoad(const Napi::CallbackInfo &info) { return blas_load() ? BlasInfo(info.Env()) : info.Env().Null(); }

// loadError() -> why the last load() failed ("" after a successful one)
Napi::Value BlasLoadError(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), blas().error); }

// setThreads(n) -> the count OpenBLAS reports afterwards (0 when not loaded)
Napi::Value BlasSetThreads(const Napi::CallbackInfo &info) {
  Blas &b = blas();
  if (!b.lib || info.Length() < 1 || !info[0].IsNumber()) return Napi::Number::New(info.Env(), 0);
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n >= 1) b.set_threads(n);
  return Napi::Number::New(info.Env(), b.get_threads());
}

// A dimension as a positive int (OpenBLAS's blasint), or 0.
int dim(const Napi::Value &v) {
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
  return d >= 1 && d <= INT_MAX && d == std::floor(d) ? (int)d : 0;
}

// A kiln block by address, or null when `v` is not the start of a live block of at least `bytes`.
void *block(kiln_context *ctx, const Napi::Value &v, double bytes) {
  double a = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
  if (!(a > 0 && a < 9.0e15)) return nullptr;
  void *p = (void *)(uintptr_t)a;
  return (double)kiln_buffer_size(ctx, p) >= bytes ? p : nullptr;
}

// sgemm(M, N, K, a, b, c) / dgemm(...) -> boolean: C[M,N] = A[M,K] @ B[K,N], float32 / float64, row-major,
// dense; a, b and c are the addresses of kiln blocks (tensor storage at offset 0). false: not loaded or a
// bad argument (nothing was written).
template <class T>
Napi::Value BlasGemm(const Napi::CallbackInfo &info) {
  auto *ctx = (kiln_context *)info.Data();
  Blas &b = blas();
  if (!b.lib || info.Length() < 6) return Napi::Boolean::New(info.Env(), false);
  int m = dim(info[0]), n = dim(info[1]), k = dim(info[2]);
  if (!m || !n || !k) return Napi::Boolean::New(info.Env(), false);
  const double e = (double)sizeof(T);
  auto *a = (const T *)block(ctx, info[3], e * m * k);
  auto *bm = (const T *)block(ctx, info[4], e * k * n);
  auto *c = (T *)block(ctx, info[5], e * m * n);
  if (!a || !bm || !c) return Napi::Boolean::New(info.Env(), false);
  if constexpr (sizeof(T) == 4)
    b.sgemm(kCblasRowMajor, kCblasNoTrans, kCblasNoTrans, m, n, k, 1.0f, a, k, bm, n, 0.0f, c, n);
  else
    b.dgemm(kCblasRowMajor, kCblasNoTrans, kCblasNoTrans, m, n, k, 1.0, a, k, bm, n, 0.0, c, n);
  return Napi::Boolean::New(info.Env(), true);
}

// ---- FMA peak -------------------------------------------------------------------------------

// Each chain is acc = acc * kDecay + seed: it settles near seed / (1 - kDecay), so no overflow and
// no denormals however long it runs, and the compiler cannot fold it.
constexpr float kDecay = 1.0f - 1.0f / (1 << 20);

struct FmaLoop {
  const char *isa;
  double flops_per_iter;
  float (*run)(int64_t iters, float seed);
};

#if defined(KILN_BENCH_X86)
constexpr int kChains512 = 16;  // of 32 zmm registers
__attribute__((target("avx512f"))) float fma_chains_avx512(int64_t iters, float seed) {
  const __m512 x = _mm512_set1_ps(kDecay), y = _mm512_set1_ps(seed);
  __m512 acc[kChains512];
  for (int j = 0; j < kChains512; j++) acc[j] = _mm512_set1_ps(seed * (float)(j + 1));
  for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 16
    for (int j = 0; j < kChains512; j++) acc[j] = _mm512_fmadd_ps(acc[j], x, y);
  }
  for (int j = 1; j < kChains512; j++) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  alignas(64) float out[16];
  _mm512_store_ps(out, acc[0]);
  float s = 0;
  for (float v : out) s += v;
  return s;
}

constexpr int kChains256 = 12;  // of 16 ymm registers (x and y take two)
__attribute__((target("avx2,fma"))) float fma_chains_avx2(int64_t iters, float seed) {
  const __m256 x = _mm256_set1_ps(kDecay), y = _mm256_set1_ps(seed);
  __m256 acc[kChains256];
  for (int j = 0; j < kChains256; j++) acc[j] = _mm256_set1_ps(seed * (float)(j + 1));
  for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int j = 0; j < kChains256; j++) acc[j] = _mm256_fmadd_ps(acc[j], x, y);
  }
  for (int j = 1; j < kChains256; j++) acc[0] = _mm256_add_ps(acc[0], acc[j]);
  alignas(32) float out[8];
  _mm256_store_ps(out, acc[0]);
  float s = 0;
  for (float v : out) s += v;
  return s;
}
#endif

constexpr int kChainsGeneric = 32;  // plain floats; the compiler vectorizes them where it can
float fma_chains_generic(int64_t iters, float seed) {
  float acc[kChainsGeneric];
  for (int j = 0; j < kChainsGeneric; j++) acc[j] = seed * (float)(j + 1);
  for (int64_t i = 0; i < iters; i++)
    for (int j = 0; j < kChainsGeneric; j++) acc[j] = std::fma(acc[j], kDecay, seed);
  float s = 0;
  for (float v : acc) s += v;
  return s;
}

FmaLoop fma_loop() {
#if defined(KILN_BENCH_X86)
  unsigned isas = kiln_isa_supported();
  if (isas & (1u << KILN_ISA_AVX512)) return {"avx512", 2.0 * 16 * kChains512, fma_chains_avx512};
  if (isas & (1u << KILN_ISA_AVX2)) return {"avx2", 2.0 * 8 * kChains256, fma_chains_avx2};
#endif
  return {"generic", 2.0 * kChainsGeneric, fma_chains_generic};
}

volatile float g_sink;  // keeps the chains' results observable

// fmaPeak(threads, iters) -> {gflops, seconds, flops, isa}: `threads` std::threads each run `iters`
// iterations; the time runs from releasing them together until the last one finishes (thread
// creation is outside it).
Napi::Value FmaPeak(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int threads = info.Length() > 0 ? dim(info[0]) : 0;
  double it = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 0;
  if (threads < 1 || threads > 1024 || !(it >= 1 && it <= 1e12)) {
    Napi::RangeError::New(env, "fmaPeak(threads, iters): threads in 1..1024, iters in 1..1e12")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int64_t iters = (int64_t)it;
  const FmaLoop loop = fma_loop();
  using Clock = std::chrono::steady_clock;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<Clock::time_point> end(threads);
  std::vector<float> sums(threads);
  std::vector<std::thread> pool;
  pool.reserve(threads);
  try {
    for (int t = 0; t < threads; t++)
      pool.emplace_back([&, t] {
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        sums[t] = loop.run(iters, 1e-3f * (float)(t + 1));
        end[t] = Clock::now();
      });
  } catch (const std::exception &e) {  // std::system_error: no more threads
    go.store(true, std::memory_order_release);
    for (auto &th : pool) th.join();
    Napi::Error::New(env, std::string("fmaPeak: could not start a thread: ") + e.what()).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  while (ready.load() < (int)pool.size()) std::this_thread::yield();
  const auto t0 = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto &th : pool) th.join();
  const double seconds = std::chrono::duration<double>(*std::max_element(end.begin(), end.end()) - t0).count();
  float s = 0;
  for (float v : sums) s += v;
  g_sink = s;
  const double flops = loop.flops_per_iter * (double)iters * threads;
  auto o = Napi::Object::New(env);
  o["gflops"] = flops / seconds / 1e9;
  o["seconds"] = seconds;
  o["flops"] = flops;
  o["isa"] = loop.isa;
  return o;
}

}  // namespace

void bench_ref_register(Napi::Env env, Napi::Object exports, kiln_context *ctx) {
  auto blas_obj = Napi::Object::New(env);
  blas_obj["load"] = Napi::Function::New(env, BlasLoad, "load");
  blas_obj["loadError"] = Napi::Function::New(env, BlasLoadError, "loadError");
  blas_obj["setThreads"] = Napi::Function::New(env, BlasSetThreads, "setThreads");
  blas_obj["sgemm"] = Napi::Function::New(env, BlasGemm<float>, "sgemm", ctx);
  blas_obj["dgemm"] = Napi::Function::New(env, BlasGemm<double>, "dgemm", ctx);
  exports["refBlas"] = blas_obj;
  exports["fmaPeak"] = Napi::Function::New(env, FmaPeak, "fmaPeak");
}

}  // namespace kiln::napi
