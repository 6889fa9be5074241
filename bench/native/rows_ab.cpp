// A/B of two versions of native/cpu/arch/rows.inc in one process, on the AVX-512 vocabulary: each
// kernel over 64 MB of float32 on two threads, interleaved with the other version and with a
// two-thread memcpy, min of --reps rounds, as a fraction of the memcpy (bytes each op must move /
// time, against the copy's 8 per element). On this shared VM separate processes move by 20-40%
// between runs; interleaving in one process is what makes a 5% difference visible, but the two
// versions' places in the binary alone moved one kernel by up to 9% (2026-12-05): a change is
// worth believing when it wins built as A and as B both. Build and run:
//   git show main:native/cpu/arch/rows.inc > /tmp/rows_a.inc
//   g++ -std=c++17 -O3 -ffp-contract=off -fno-math-errno -pthread $(node scripts/manifest.js arch-cflags x64 avx512) \
//     -I native/cpu/arch -I native/include -I native -DROWS_A='"/tmp/rows_a.inc"' \
//     -DROWS_B='"rows.inc"' bench/native/rows_ab.cpp -o /tmp/rows_ab && /tmp/rows_ab 12
// Arguments: rounds, then a name filter (`/tmp/rows_ab 8 bwd`: the ops whose name holds "bwd").
// Environment: WIDTHS=256,768 (row lengths; default 256,1024,4096), NO_STREAM=1 (the norm
// backwards write with cached stores), DW_OFF=k (grad weight / bias k floats past a page),
// CACHED_KB=k (one thread, the first rows of about k KB per operand, min 4 rows, run again and again
// from cache: the compute alone, as ns per vector of 16 floats; the kernels' prefetches of later
// rows still go to memory), X_OFF / G_OFF / Y_OFF (an operand k floats past its block).
// Besides the kernels, three reference loops with no arithmetic to speak of: add (3 streams), two
// passes (a row summed, then written from L1: the norm backward's shape), add + previous row (add
// that also reads the row before from L1). From memory the last two ran at 0.9-1.2 and 0.86-0.97 of
// memcpy where add ran at 1.1-1.5: on this VM a second pass over a row in L1 costs time even when
// memory is the bottleneck.
#include <sys/mman.h>
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
  // NOEXP=1: B's fused cross-entropy writes the logits times a scale instead of its gradient (the
  // forward with the gradient's exp taken out: the most a gradient from stored exps could gain).
  static const bool kNoExp = getenv("NOEXP");
  const int64_t N = 16 << 20;
  // X_OFF / G_OFF / Y_OFF=k: that operand k floats past its 64-byte aligned block (by default the
  // blocks share their offset within a page, as kiln's 2 MiB-aligned large blocks do).
  auto buf = [&](const char *off) {
    const int64_t k = getenv(off) ? atoll(getenv(off)) : 0;
    if (getenv("HUGE")) {  // HUGE=1: 2 MiB aligned and backed by huge pages, as kiln's allocator's large blocks
      const size_t bytes = ((N + 4096) * sizeof(float) + (2 << 20) - 1) / (2 << 20) * (2 << 20);
      void *p = aligned_alloc(2 << 20, bytes);
      madvise(p, bytes, MADV_HUGEPAGE);
      return (float *)p + k;
    }
    return (float *)aligned_alloc(64, (N + 4096) * sizeof(float)) + k;
  };
  float *x = buf("X_OFF"), *g = buf("G_OFF"), *y = buf("Y_OFF"), *c = buf("C_OFF");
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
        {"two passes (3 streams)", 12,  // a row summed, then written from L1: the norm backward's shape, no compute
         [&](bool) -> Range {
           return [&](int64_t r0, int64_t r1) {
             for (int64_t r = r0; r < r1; r++) {
               const float *xr = x + r * n, *gr = g + r * n;
               __m512 s0 = _mm512_setzero_ps(), s1 = s0;
               for (int64_t i = 0; i < n; i += 16) {
                 s0 = _mm512_add_ps(s0, _mm512_loadu_ps(xr + i));
                 s1 = _mm512_add_ps(s1, _mm512_loadu_ps(gr + i));
               }
               const __m512 a = _mm512_set1_ps(_mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) * 1e-9f);
               for (int64_t i = 0; i < n; i += 16) {
                 if (i % 16 == 0) {
                   __builtin_prefetch(xr + 4 * n + i);
                   __builtin_prefetch(gr + 4 * n + i);
                 }
                 _mm512_stream_ps(y + r * n + i, _mm512_fmadd_ps(_mm512_loadu_ps(xr + i), a, _mm512_loadu_ps(gr + i)));
               }
             }
           };
         }},
        {"add + previous row (5 reads)", 12,  // add that also reads the row before from L1: what a second pass costs
         [&](bool) -> Range {
           return [&](int64_t r0, int64_t r1) {
             const int64_t back = r0 ? n : 0;
             for (int64_t i = r0 * n; i < r1 * n; i += 16) {
               const __m512 a = _mm512_add_ps(_mm512_load_ps(x + i), _mm512_load_ps(g + i));
               const __m512 b = _mm512_add_ps(_mm512_load_ps(x + i - back), _mm512_load_ps(g + i - back));
               _mm512_stream_ps(y + i, _mm512_fmadd_ps(b, _mm512_set1_ps(1e-9f), a));
             }
           };
         }},
        {"logsumexp", 4,
         [&](bool v) -> Range {
           return [&, v](int64_t r0, int64_t r1) {
             (v ? ab::B::logsumexp_f32 : ab::A::logsumexp_f32)(lo.data() + r0, x + r0 * n, n, 1, r1 - r0, nullptr);
           };
         }},
        {"logsumexp to a sink (cross_entropy's rows)", 4,
         [&](bool v) -> Range {
           return [&, v](int64_t r0, int64_t r1) {
             struct Out {
               float *o;
               int64_t r0;
             } out{lo.data(), r0};
             const kiln::cpu::LseSink sink{
                 [](void *p, int64_t first, int64_t count, const float *m, const float *ls, const float *) {
                   Out *s = (Out *)p;
                   for (int64_t q = 0; q < count; q++) s->o[s->r0 + first + q] = m[q] + ls[q];
                 },
                 &out};
             (v ? ab::B::logsumexp_f32 : ab::A::logsumexp_f32)(nullptr, x + r0 * n, n, 1, r1 - r0, &sink);
           };
         }},
        {"xent grad", 8,  // cross_entropy's gradient rows, as its backward calls them (the target at column 3)
         [&](bool v) -> Range {
           return [&, v](int64_t r0, int64_t r1) {
             for (int64_t r = r0; r < r1; r++)
               (v ? ab::B::xent_grad_f32 : ab::A::xent_grad_f32)(y + r * n, x + r * n, n, 6.0f, 1e-5f, nullptr, 0.0f,
                                                                 nullptr, 0.0f, 3, 1e-5f, kStream, r + 1 < r1 ? n : 0);
           };
         }},
        {"xent fused (lse to a sink writing the gradient)", 8,  // cross_entropy's training forward
         [&](bool v) -> Range {
           return [&, v](int64_t r0, int64_t r1) {
             struct Out {
               float *o, *y;
               const float *x;
               int64_t r0, n;
               bool v;
             } out{lo.data(), y, x, r0, n, v};
             const kiln::cpu::LseSink sink{
                 [](void *p, int64_t first, int64_t count, const float *m, const float *ls, const float *) {
                   Out *s = (Out *)p;
                   for (int64_t q = 0; q < count; q++) {
                     const int64_t r = s->r0 + first + q;
                     s->o[r] = m[q] + ls[q];
                     if (s->v && kNoExp) {  // what the gradient's exp costs
                       for (int64_t i = 0; i < s->n; i += 16)
                         _mm512_stream_ps(s->y + r * s->n + i,
                                          _mm512_mul_ps(_mm512_set1_ps(1e-5f), _mm512_loadu_ps(s->x + r * s->n + i)));
                       continue;
                     }
                     (s->v ? ab::B::xent_grad_f32 : ab::A::xent_grad_f32)(s->y + r * s->n, s->x + r * s->n, s->n,
                                                                          m[q] + ls[q], 1e-5f, nullptr, 0.0f, nullptr,
                                                                          0.0f, 3, 1e-5f, kStream, 0);
                   }
                 },
                 &out};
             (v ? ab::B::logsumexp_f32 : ab::A::logsumexp_f32)(nullptr, x + r0 * n, n, 1, r1 - r0, &sink);
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
             (v ? ab::B::layer_norm_f32 : ab::A::layer_norm_f32)(y + r0 * n, x + r0 * n, w.data(), b.data(), n, r1 - r0,
                                                                 1e-5f, false, &m[r0], &rs[r0], true);
           };
         }},
        {"rmsNorm fwd", 8,
         [&](bool v) -> Range {
           return [&, v](int64_t r0, int64_t r1) {
             (v ? ab::B::layer_norm_f32 : ab::A::layer_norm_f32)(y + r0 * n, x + r0 * n, w.data(), nullptr, n, r1 - r0,
                                                                 1e-5f, true, &m[r0], &rs[r0], true);
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
        {"layerNorm bwd lockstep", 12,  // the kNormRows-row group whatever the row length (in cache: n 512)
         [&](bool v) -> Range {
           return [&, v](int64_t r0, int64_t r1) {
             float *d = dwp + (r0 ? n : 0), *e = dbp + (r0 ? n : 0);
             for (int64_t r = r0; r < r1; r += 4)
               (v ? ab::B::layer_norm_backward_group : ab::A::layer_norm_backward_group)(
                   y + r * n, d, e, g + r * n, x + r * n, w.data(), n, std::min<int64_t>(4, r1 - r), &m[r], &rs[r],
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
    const int64_t cached_kb = getenv("CACHED_KB") ? atoll(getenv("CACHED_KB")) : 0;
    for (const Op &op : ops) {
      if (!strstr(op.name, only)) continue;
      if (cached_kb) {
        const int64_t rc = std::max<int64_t>(4, cached_kb * 256 / n), again = std::max<int64_t>(1, N / (rc * n));
        const Range fa = op.make(false), fb = op.make(true);
        auto time = [&](const Range &f) {
          const double t0 = now();
          for (int64_t k = 0; k < again; k++) f(0, rc);
          return (now() - t0) * 1e9 / (double)(again * rc * n / 16);
        };
        double ta = 1e9, tb = 1e9;
        for (int k = 0; k < reps; k++) {
          ta = std::min(ta, time(fa));
          tb = std::min(tb, time(fb));
        }
        printf("[%5lld, %4lld] %-24s in cache: A %.3f ns/vec  B %.3f ns/vec\n", (long long)rc, (long long)n, op.name,
               ta, tb);
        continue;
      }
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
