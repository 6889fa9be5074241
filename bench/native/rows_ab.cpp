// A/B of two versions of native/cpu/arch/rows.inc in one process, on the AVX-512 vocabulary: each
// kernel over 64 MB of float32 on two threads, interleaved with the other version and with a
// two-thread memcpy, min of --reps rounds, as a fraction of the memcpy (bytes each op must move /
// time, against the copy's 8 per element). On this shared VM separate processes move by 20-40%
// between runs; interleaving in one process is what makes a 5% difference visible. Build and run:
//   git show main:native/cpu/arch/rows.inc > /tmp/rows_a.inc
//   g++ -std=c++17 -O3 -ffp-contract=off -fno-math-errno -pthread $(node scripts/manifest.js arch-cflags x64 avx512) \
//     -I native/cpu/arch -I native/include -I native -DROWS_A='"/tmp/rows_a.inc"' \
//     -DROWS_B='"rows.inc"' bench/native/rows_ab.cpp -o /tmp/rows_ab && /tmp/rows_ab 12
// Arguments: rounds, then a name filter (`/tmp/rows_ab 8 bwd`: the ops whose name holds "bwd").
// Environment: WIDTHS=256,768 (row lengths; default 256,1024,4096), NO_STREAM=1 (the norm
// backwards write with cached stores), DW_OFF=k (grad weight / bias k floats past a page).
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "isa.h"
#include "vec_avx512.h"

namespace kiln::cpu::avx512 {
namespace A {
namespace {
using V = Vec;
#include "kernels.inc"
#include ROWS_A
}  // namespace
}  // namespace A
namespace B {
namespace {
using V = Vec;
#include "kernels.inc"
#include ROWS_B
}  // namespace
}  // namespace B
}  // namespace kiln::cpu::avx512

namespace ab = kiln::cpu::avx512;
using Range = std::function<void(int64_t, int64_t)>;  // rows [r0, r1)

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Rows split between two threads; ms.
static double two_threads(const Range &f, int64_t rows) {
  const double t0 = now();
  std::thread th([&] {
    f(rows / 2, rows);
    _mm_sfence();
  });
  f(0, rows / 2);
  _mm_sfence();
  th.join();
  return (now() - t0) * 1e3;
}

int main(int argc, char **argv) {
  setvbuf(stdout, nullptr, _IONBF, 0);
  const int reps = argc > 1 ? atoi(argv[1]) : 12;
  const char *only = argc > 2 ? argv[2] : "";        // run the ops whose name contains this
  static const bool kStream = !getenv("NO_STREAM");  // NO_STREAM=1: the norm backwards write with cached stores
  const int64_t N = 16 << 20;
  auto buf = [&] { return (float *)aligned_alloc(64, N * sizeof(float)); };
  float *x = buf(), *g = buf(), *y = buf(), *c = buf();
  for (int64_t i = 0; i < N; i++) {
    x[i] = (float)((i * 7919) % 1000) / 100.0f - 5;
    g[i] = (float)((i * 104729) % 997) / 100.0f - 5;
    y[i] = c[i] = 0;
  }
  std::vector<int64_t> widths = {256, 1024, 4096};
  if (const char *e = getenv("WIDTHS")) {  // WIDTHS=256,768: other row lengths
    widths.clear();
    for (const char *p = e; *p; p += *p == ',') widths.push_back(strtoll(p, (char **)&p, 10));
  }
  for (int64_t n : widths) {
    const int64_t R = N / n;
    std::vector<float> w(n, 1.5f), b(n, 0.25f), m(R, 0.1f), rs(R, 0.5f), lo(R), dwb(8192 + 4 * n);
    const int64_t off = getenv("DW_OFF") ? atoll(getenv("DW_OFF")) : 0;
    float *dwp = (float *)(((uintptr_t)dwb.data() + 4095) / 4096 * 4096) + off, *dbp = dwp + 2 * n;
    struct Op {
      const char *name;
      double bytes;                     // per element
      std::function<Range(bool)> make;  // false: version A, true: B
    };
    // Rows per call of the norm backward: norm.cpp's block (2^18 elements). A rows.inc from before
    // 2026-12-05 (fourth session) handled kNormRows rows per call: build with -DLN_BWD_ROWS_A=4.
#ifndef LN_BWD_ROWS_A
#define LN_BWD_ROWS_A (int64_t)0
#endif
#ifndef LN_BWD_ROWS_B
#define LN_BWD_ROWS_B (int64_t)0
#endif
    const int64_t block = std::max<int64_t>(1, (1 << 18) / n);
    const int64_t rows_a = LN_BWD_ROWS_A ? LN_BWD_ROWS_A : block, rows_b = LN_BWD_ROWS_B ? LN_BWD_ROWS_B : block;
    const Op ops[] = {
        {"add (3 streams)", 12,  // the same in A and B: the ceiling of a two-read, one-write row op
         [&](bool) -> Range {
           return [&](int64_t r0, int64_t r1) {
             for (int64_t i = r0 * n; i < r1 * n; i += 16)
               _mm512_stream_ps(y + i, _mm512_add_ps(_mm512_load_ps(x + i), _mm512_load_ps(g + i)));
           };
         }},
        {"logsumexp", 4,
         [&](bool v) -> Range {
           return [&, v](int64_t r0, int64_t r1) {
             (v ? ab::B::logsumexp_f32 : ab::A::logsumexp_f32)(lo.data() + r0, x + r0 * n, n, 1, r1 - r0);
           };
         }},
        {"softmax", 8,
         [&](bool v) -> Range {
           return [&, v](int64_t r0, int64_t r1) {
             (v ? ab::B::softmax_f32 : ab::A::softmax_f32)(y + r0 * n, x + r0 * n, n, 1, r1 - r0, false, true);
           };
         }},
        {"logSoftmax", 8,
         [&](bool v) -> Range {
           return [&, v](int64_t r0, int64_t r1) {
             (v ? ab::B::softmax_f32 : ab::A::softmax_f32)(y + r0 * n, x + r0 * n, n, 1, r1 - r0, true, true);
           };
         }},
        {"layerNorm fwd", 8,
         [&](bool v) -> Range {
           return [&, v](int64_t r0, int64_t r1) {
             for (int64_t r = r0; r < r1; r++)
               (v ? ab::B::layer_norm_f32 : ab::A::layer_norm_f32)(y + r * n, x + r * n, w.data(), b.data(), n, 1e-5f,
                                                                   false, &m[r], &rs[r], true);
           };
         }},
        {"rmsNorm fwd", 8,
         [&](bool v) -> Range {
           return [&, v](int64_t r0, int64_t r1) {
             for (int64_t r = r0; r < r1; r++)
               (v ? ab::B::layer_norm_f32 : ab::A::layer_norm_f32)(y + r * n, x + r * n, w.data(), nullptr, n, 1e-5f,
                                                                   true, &m[r], &rs[r], true);
           };
         }},
        {"layerNorm bwd", 12,
         [&](bool v) -> Range {
           return [&, v](int64_t r0, int64_t r1) {
             float *d = dwp + (r0 ? n : 0), *e = dbp + (r0 ? n : 0);
             const int64_t per = v ? rows_b : rows_a;
             for (int64_t r = r0; r < r1; r += per)
               (v ? ab::B::layer_norm_backward_f32 : ab::A::layer_norm_backward_f32)(
                   y + r * n, d, e, g + r * n, x + r * n, w.data(), n, std::min<int64_t>(per, r1 - r), &m[r], &rs[r],
                   false, kStream);
           };
         }},
        {"layerNorm bwd, no dw/db", 12,
         [&](bool v) -> Range {
           return [&, v](int64_t r0, int64_t r1) {
             for (int64_t r = r0; r < r1; r++)
               (v ? ab::B::layer_norm_backward_f32 : ab::A::layer_norm_backward_f32)(
                   y + r * n, nullptr, nullptr, g + r * n, x + r * n, w.data(), n, 1, &m[r], &rs[r], false, kStream);
           };
         }},
    };
    for (const Op &op : ops) {
      if (!strstr(op.name, only)) continue;
      double tc = 1e9, ta = 1e9, tb = 1e9;
      const Range fa = op.make(false), fb = op.make(true);
      for (int k = 0; k < reps; k++) {
        tc = std::min(
            tc, two_threads([&](int64_t r0, int64_t r1) { memcpy(c + r0 * n, x + r0 * n, (r1 - r0) * n * 4); }, R));
        // A then B, then B then A: whichever runs second after the memcpy measured up to 10% faster
        if (k % 2 == 0) ta = std::min(ta, two_threads(fa, R));
        tb = std::min(tb, two_threads(fb, R));
        if (k % 2 == 1) ta = std::min(ta, two_threads(fa, R));
      }
      printf("[%5lld, %4lld] %-24s A %.3f ms (%.2f of memcpy)  B %.3f ms (%.2f)\n", (long long)R, (long long)n, op.name,
             ta, op.bytes / 8 * tc / ta, tb, op.bytes / 8 * tc / tb);
    }
  }
  return 0;
}
