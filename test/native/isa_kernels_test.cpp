// Conformance test for the per-ISA float32 fast paths (native/cpu/arch): every table this CPU can run
// is checked entry by entry against the scalar functors of scalar_math.h, a float64 std::
// reference and the generic twin, over many lengths, both stride cases, special values, unaligned
// pointers and arrays that end at a PROT_NONE page (so any read or write past n faults).
// One line per check; exit status 1 on any failure. Build and run: scripts/test_isa_native.sh.
// `isa_kernels_test --bench` then times add_f32 / sum_f32 / exp on 16M floats per ISA.
// `--sweep-step N` samples every Nth float bit pattern for the accuracy sweep (default 1021).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../../native/cpu/arch/isa.h"
#include "../../native/cpu/scalar_math.h"
#include "dtype.h"
#include "philox.h"

using namespace kiln::cpu;
namespace km = kiln::math;

static int g_failed_checks = 0;
static char g_running[96] = "startup";  // the check in progress, for the guard-page fault report
static std::mt19937_64 g_rng;
static const int64_t kLengths[] = {0, 1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 100, 1000, 4097, 100003};

static uint32_t bits(float f) { return kiln::float_to_bits(f); }
static float from_bits(uint32_t u) { return kiln::bits_to_float(u); }
static int64_t ord(float f) {  // monotone in f: ulp distance is a difference of ords
  int32_t i = (int32_t)bits(f);
  return i < 0 ? -(int64_t)(i & 0x7fffffff) : i;
}
static bool same(float a, float b) { return std::isnan(a) ? std::isnan(b) : bits(a) == bits(b); }
static double ulp_of(double r) {
  double a = std::fabs(r);
  return a < FLT_MIN ? 0x1p-149 : std::ldexp(1.0, std::ilogb(a) - 23);
}
// Error in ulps of the exact result (0.5 = correctly rounded). NaN and inf must match; an infinity
// next to FLT_MAX counts as 1 ulp.
static double ulp_err(float got, double ref) {
  float rf = (float)ref;
  if (std::isnan(ref) || std::isnan(got)) return std::isnan(ref) && std::isnan(got) ? 0 : 1e9;
  if (std::isinf(rf) || std::isinf(got)) return (double)std::llabs(ord(got) - ord(rf));
  return std::fabs((double)got - ref) / ulp_of(ref);
}

// One check: counts cases, prints the first few failures and a summary line when it goes away.
struct Check {
  std::string name;
  long cases = 0, fails = 0;
  double max_ulp = -1, max_rel = 0;
  float worst_x = 0;
  std::string note;
  explicit Check(std::string n) : name(std::move(n)) { snprintf(g_running, sizeof g_running, "%s", name.c_str()); }
  bool expect(bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4))) {
    cases++;
    if (!ok && fails++ < 5) {
      va_list ap;
      va_start(ap, fmt);
      printf("  FAIL %s: ", name.c_str());
      vprintf(fmt, ap);
      printf("\n");
      va_end(ap);
    }
    return ok;
  }
  void error(float x, float got, double ref) {
    double u = ulp_err(got, ref);
    if (u > max_ulp) max_ulp = u, worst_x = x;
    if (std::fabs(ref) >= FLT_MIN && std::isfinite((float)ref) && std::isfinite(got))
      max_rel = std::max(max_rel, std::fabs(got - ref) / std::fabs(ref));
  }
  ~Check() {
    printf("%-4s %-34s %8ld cases", fails ? "FAIL" : "ok", name.c_str(), cases);
    if (max_ulp >= 0) printf("  max %.2f ulp (x=%.9g)  max rel %.3g", max_ulp, worst_x, max_rel);
    printf("%s\n", note.c_str());
    if (fails) g_failed_checks++;
  }
};

// Floats in their own mapping, either ending exactly at a PROT_NONE page or starting one float past
// a page boundary (unaligned) with poisoned sentinels around them.
static const uint32_t kPoison = 0x7fbadbad;
struct Buf {
  void *map;
  size_t len;
  float *p;
  int64_t n;
  bool at_end;
  Buf(int64_t count, bool end) : n(count), at_end(end) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), data = ((size_t)(n + 32) * 4 + page - 1) / page * page;
    len = data + page;
    map = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED || mprotect((char *)map + data, page, PROT_NONE)) perror("mmap"), exit(2);
    for (size_t i = 0; i < data / 4; i++) ((uint32_t *)map)[i] = kPoison;
    p = end ? (float *)((char *)map + data) - n : (float *)map + 1;
  }
  ~Buf() { munmap(map, len); }
  Buf(const Buf &) = delete;
  bool sentinels_ok() const {
    if (at_end) return true;  // past the end is the guard page
    for (int i = -1; i < 8; i++)
      if (bits(p[i < 0 ? -1 : n + i]) != kPoison) return false;
    return true;
  }
  bool written() const {
    for (int64_t i = 0; i < n; i++)
      if (bits(p[i]) == kPoison) return false;
    return sentinels_ok();
  }
};

static const float kSpecials[] = {NAN,        -NAN,      from_bits(0x7fc01234),
                                  INFINITY,   -INFINITY, 0.0f,
                                  -0.0f,      FLT_MIN,   -FLT_MIN,
                                  1e-40f,     -1e-45f,   FLT_MAX,
                                  -FLT_MAX,   1e30f,     -1e30f,
                                  1e-30f,     88.72f,    88.7228394f,
                                  88.73f,     89.0f,     -87.4f,
                                  -103.9f,    -104.5f,   1.0f,
                                  -1.0f,      0.5f,      -0.5f,
                                  1.5f,       2.5f,      -2.5f,
                                  8388609.0f, 1e-5f,     -1e-5f,
                                  1e-8f,      -0.9999f,  9.5f,
                                  -9.5f};
static double unit() { return (double)(g_rng() >> 11) * 0x1p-53; }
// Mostly uniform in [lo, hi]; 1/16 special values, 1/8 any magnitude 2^-149..2^127, 1/16 ties (k + .5).
static float gen(float lo, float hi) {
  uint64_t u = g_rng();
  switch (u % 16) {
    case 0: return kSpecials[(u >> 8) % (sizeof kSpecials / sizeof *kSpecials)];
    case 1:
    case 2: {
      float v = std::ldexp(1.0f + (float)((u >> 20) & 0xffff) / 65536.0f, (int)((u >> 8) % 277) - 149);
      return (u >> 40) & 1 ? -v : v;
    }
    case 3: return std::floor(lo + (float)((hi - lo) * unit())) + 0.5f;
    default: return lo + (float)((hi - lo) * unit());
  }
}
static void fill(Buf &b, float lo, float hi) {
  for (int64_t i = 0; i < b.n; i++) b.p[i] = gen(lo, hi);
}

// ---- binary_f32 ----
// ref: float64 result, which rounds to the correctly rounded float for + - * / (53 >= 2 * 24 + 2).
struct BinCase {
  Binary op;
  const char *name;
  float (*f)(float, float);
  double (*ref)(double, double);
};
static const BinCase kBin[] = {
    {Binary::Add, "add", [](float a, float b) { return km::Add{}(a, b); }, [](double a, double b) { return a + b; }},
    {Binary::Sub, "sub", [](float a, float b) { return km::Sub{}(a, b); }, [](double a, double b) { return a - b; }},
    {Binary::Mul, "mul", [](float a, float b) { return km::Mul{}(a, b); }, [](double a, double b) { return a * b; }},
    {Binary::Div, "div", [](float a, float b) { return km::Div{}(a, b); }, [](double a, double b) { return a / b; }},
    {Binary::Maximum, "maximum", [](float a, float b) { return km::Maximum{}(a, b); }, nullptr},
    {Binary::Minimum, "minimum", [](float a, float b) { return km::Minimum{}(a, b); }, nullptr},
};

static void test_binary(const IsaKernels *t, const IsaKernels *gen_t) {
  for (const BinCase &c : kBin) {
    Check ck(std::string(t->name) + " binary_f32 " + c.name);
    bool exact_nan = c.op == Binary::Maximum || c.op == Binary::Minimum;  // blends keep the payload
    for (int64_t n : kLengths)
      for (int s = 0; s < 4; s++)
        for (bool end : {true, false}) {
          int64_t sa = s & 1, sb = s >> 1;
          Buf a(sa ? n : (n ? 1 : 0), end), b(sb ? n : (n ? 1 : 0), end), o(n, end), g(n, end);
          fill(a, -100, 100), fill(b, -100, 100);
          ck.expect(t->binary_f32(c.op, o.p, a.p, sa, b.p, sb, n), "returned false");
          gen_t->binary_f32(c.op, g.p, a.p, sa, b.p, sb, n);
          ck.expect(o.written(), "n=%" PRId64 " sa=%" PRId64 " sb=%" PRId64 ": unwritten or out-of-range write", n, sa,
                    sb);
          for (int64_t i = 0; i < n; i++) {
            float x = a.p[i * sa], y = b.p[i * sb], want = c.f(x, y);
            bool ok = exact_nan ? bits(o.p[i]) == bits(want) : same(o.p[i], want) && same(o.p[i], (float)c.ref(x, y));
            if (!ck.expect(ok && same(o.p[i], g.p[i]),
                           "n=%" PRId64 " sa=%" PRId64 " sb=%" PRId64 " i=%" PRId64
                           " op(%a, %a) = %a, scalar %a, generic %a",
                           n, sa, sb, i, x, y, o.p[i], want, g.p[i]))
              break;
          }
        }
    // In place (o == a), as the autograd accumulators use it.
    Buf a(1000, false), b(1000, false);
    fill(a, -10, 10), fill(b, -10, 10);
    std::vector<float> want(1000);
    for (int i = 0; i < 1000; i++) want[i] = c.f(a.p[i], b.p[i]);
    t->binary_f32(c.op, a.p, a.p, 1, b.p, 1, 1000);
    for (int i = 0; i < 1000; i++) ck.expect(same(a.p[i], want[i]), "in place i=%d", i);
  }
  Check ck(std::string(t->name) + " binary_f32 unsupported ops");
  float a[4] = {1, 2, 3, 4}, o[4] = {9, 9, 9, 9};
  for (Binary op : {Binary::Pow, Binary::Remainder, Binary::Atan2, Binary::Eq, Binary::Lt, Binary::LogicalAnd})
    ck.expect(!t->binary_f32(op, o, a, 1, a, 1, 4) && o[0] == 9, "op %d claimed", (int)op);
}

// ---- dropout_f32 (nn table) ----
// Every ISA's mask against core/philox.h's scalar definition: element e keeps when word e % 4 of
// Philox4x32-10(counter + e / 4, seed), shifted right by 8, is >= threshold; kept elements are
// x * scale, dropped ones x * 0 (NaN stays NaN, -x gives -0). Lengths cross the AVX-512 kernel's
// 192-element blocks and their tails; counters cross 2^32 (a carry into the counter's high word),
// inside a block too; thresholds 1 and 2^24 - 1 sit at the ends of the shifted compare.
static void test_dropout(const IsaKernels *t) {
  Check ck(std::string(t->name) + " dropout_f32");
  for (int64_t n : {int64_t(1), int64_t(4), int64_t(191), int64_t(192), int64_t(255), int64_t(256), int64_t(257),
                    int64_t(1000), int64_t(1536), int64_t(4099)})
    for (uint64_t counter : {uint64_t(0), uint64_t(7), uint64_t(0xFFFFFFF0u), uint64_t(0xFFFFFFF9u),
                             uint64_t(0xFFFFFFD3u), uint64_t(0x1FFFFFFFAull)})
      for (uint32_t threshold : {0u, 1u, 1u << 22, 3u << 22, (1u << 24) - 1, 1u << 24}) {
        const uint64_t seed = g_rng();
        const float scale = 1.25f;
        Buf x(n, false), o(n, true);
        fill(x, -10, 10);
        if (n > 4) x.p[0] = NAN, x.p[1] = -3.0f, x.p[2] = -INFINITY, x.p[3] = -0.0f;
        t->nn.dropout_f32(o.p, x.p, n, seed, counter, threshold, scale);
        ck.expect(o.written(), "n=%" PRId64 ": unwritten or out-of-range write", n);
        for (int64_t e = 0; e < n; e++) {
          const kiln::Philox4 r = kiln::philox4x32_10(counter + (uint64_t)e / 4, seed);
          const float want = x.p[e] * ((r.v[e & 3] >> 8) >= threshold ? scale : 0.0f);
          if (!ck.expect(same(o.p[e], want),
                         "n=%" PRId64 " counter=%" PRIu64 " threshold=%u e=%" PRId64 ": %a, want %a", n, counter,
                         threshold, e, o.p[e], want))
            break;
        }
      }
}

// ---- sq_dev_sum_f32 / grad_sums_f32 (nn table: batch norm's statistics and gradient sums) ----
// Against double sums on inputs ending at the guard page (lengths cut the 4-vector body, the
// vectors and the tail). The squares' `ahead` lines (half-way in the buffer, running on into the
// guard page: a prefetch does not fault) change no bit; grad_sums' first sum does not depend on x
// (x equal to the mean gives the same bits, and a second sum of exactly 0).
static void test_bn_sums(const IsaKernels *t) {
  Check ck(std::string(t->name) + " sq_dev_sum_f32 / grad_sums_f32");
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(16), int64_t(33), int64_t(64), int64_t(65), int64_t(1000),
                    int64_t(4096), int64_t(4099)}) {
    Buf x(n, true), gy(n, true);
    for (int64_t i = 0; i < n; i++) x.p[i] = (float)(8 * unit() - 3), gy.p[i] = (float)(4 * unit() - 2);
    const float mean = (float)(4 * unit() - 1);
    double sq = 0, sg = 0, sgx = 0;
    for (int64_t i = 0; i < n; i++) {
      const double d = (double)x.p[i] - mean;
      sq += d * d;
      sg += gy.p[i];
      sgx += gy.p[i] * d;
    }
    const float a = t->nn.sq_dev_sum_f32(x.p, n, mean, nullptr), b = t->nn.sq_dev_sum_f32(x.p, n, mean, x.p + n / 2);
    ck.expect(bits(a) == bits(b), "n=%" PRId64 ": ahead changed the squares' bits", n);
    ck.expect(std::fabs(a - sq) <= 1e-5 * sq + 1e-6, "n=%" PRId64 ": squares %g, want %g", n, a, sq);
    float g1 = 0, gx1 = 0, g2 = 0, gx2 = 0;
    t->nn.grad_sums_f32(gy.p, x.p, n, mean, &g1, &gx1);
    double abs_g = 0, abs_gx = 0;
    for (int64_t i = 0; i < n; i++) abs_g += std::fabs(gy.p[i]), abs_gx += std::fabs(gy.p[i] * ((double)x.p[i] - mean));
    ck.expect(std::fabs(g1 - sg) <= 1e-5 * abs_g + 1e-6, "n=%" PRId64 ": sum gy %g, want %g", n, g1, sg);
    ck.expect(std::fabs(gx1 - sgx) <= 1e-5 * abs_gx + 1e-6, "n=%" PRId64 ": sum gy (x - m) %g, want %g", n, gx1, sgx);
    // x all equal to the mean: the second sum is exactly 0, the first the same bits as before
    Buf xm(n, true);
    for (int64_t i = 0; i < n; i++) xm.p[i] = mean;
    t->nn.grad_sums_f32(gy.p, xm.p, n, mean, &g2, &gx2);
    ck.expect(bits(g2) == bits(g1) && gx2 == 0.0f, "n=%" PRId64 ": sum gy depends on x (%a, %a), or %g", n, g1, g2,
              gx2);
  }
}

// ---- sum_rows_f32 ----
// Each row's sum has sum_f32's bits: the short rows' own path (below a vector) and the long ones;
// -0 rows included (sum_f32 gives +0 for them).
static void test_sum_rows(const IsaKernels *t) {
  Check ck(std::string(t->name) + " sum_rows_f32");
  for (int64_t n = 1; n <= 70; n++) {
    const int64_t rows = 5;
    Buf a(n * rows, true);
    for (int64_t i = 0; i < n * rows; i++)
      a.p[i] = (float)(8 * unit() - 4) * (float)std::ldexp(1.0, (int)(g_rng() % 40) - 20);
    for (int64_t i = 0; i < n; i++) a.p[2 * n + i] = -0.0f;
    float o[5];
    t->sum_rows_f32(o, a.p, n, rows);
    for (int64_t r = 0; r < rows; r++) {
      const float want = t->sum_f32(a.p + r * n, n);
      if (!ck.expect(bits(o[r]) == bits(want), "n=%" PRId64 " row %" PRId64 ": %a, sum_f32 %a", n, r, o[r], want))
        break;
    }
  }
}

// ---- binary cross-entropy with logits ----
// Each loss and gradient against the float64 formula (within a few ulp of the larger terms: the
// loss is a difference of terms, so its error is relative to them), x over [-20, 20] plus the
// specials (those whose terms pass float's range left out); the returned sum against the written
// losses' double sum; nothing written past n (the output ends at a guard page); a null output gives
// the same sum.
static void test_bce(const IsaKernels *t) {
  Check ck(std::string(t->name) + " bce_logits_f32 / _grad_f32");
  for (int64_t n : kLengths) {
    if (n > 5000) continue;
    for (int mode = 0; mode < 4; mode++) {
      const bool has_pw = mode & 1, has_w = mode & 2;
      Buf x(n, true), tg(n, true), pw(n, true), w(n, true), o(n, true), g(n, true), gx(n, true);
      for (int64_t i = 0; i < n; i++) {
        x.p[i] = g_rng() % 8 ? gen(-20, 20) : kSpecials[g_rng() % (sizeof kSpecials / sizeof *kSpecials)];
        tg.p[i] = (float)unit(), pw.p[i] = (float)(0.2 + 3 * unit()), w.p[i] = (float)(0.2 + 3 * unit());
        g.p[i] = (float)(4 * unit() - 2);
      }
      const float *P = has_pw ? pw.p : nullptr, *Wt = has_w ? w.p : nullptr;
      const float sum = t->nn.bce_logits_f32(o.p, x.p, tg.p, P, Wt, n);
      const float sum2 = t->nn.bce_logits_f32(nullptr, x.p, tg.p, P, Wt, n);
      ck.expect(same(sum, sum2), "n=%" PRId64 " mode %d: the sum depends on the output (%a, %a)", n, mode, sum, sum2);
      t->nn.bce_logits_grad_f32(gx.p, mode == 3 ? nullptr : g.p, 0.75f, x.p, tg.p, P, Wt, n);
      double total = 0, mag = 0;
      bool nan = false;
      for (int64_t i = 0; i < n; i++) {
        const double xv = x.p[i], tv = tg.p[i], c = 1 + ((has_pw ? pw.p[i] : 1.0) - 1) * tv, wv = has_w ? w.p[i] : 1.0;
        const double sp = std::max(-xv, 0.0) + std::log1p(std::exp(-std::fabs(xv)));
        const double l = wv * ((1 - tv) * xv + c * sp), scale = wv * (std::fabs((1 - tv) * xv) + c * sp);
        const double s = xv >= 0 ? std::exp(-xv) / (1 + std::exp(-xv)) : 1 / (1 + std::exp(xv));  // sigmoid(-x)
        const double gr = (mode == 3 ? 0.75 : (double)g.p[i]) * wv * ((1 - tv) - c * s);
        const double gscale = std::fabs(mode == 3 ? 0.75 : (double)g.p[i]) * wv * (std::fabs(1 - tv) + c * s);
        if (std::isnan(xv)) {
          nan = true;
          ck.expect(std::isnan(o.p[i]) && std::isnan(gx.p[i]), "n=%" PRId64 " x NaN at %" PRId64, n, i);
          continue;
        }
        if (!std::isfinite(xv) || std::fabs(scale) > FLT_MAX / 8) {  // inf - inf, or past float's range
          nan = true;
          continue;
        }
        ck.error(x.p[i], o.p[i], l);
        ck.expect(std::fabs(o.p[i] - l) <= 4e-7 * scale + 1e-30, "n=%" PRId64 " loss x=%a t=%a: %a, want %a", n, x.p[i],
                  tg.p[i], o.p[i], l);
        ck.expect(std::fabs(gx.p[i] - gr) <= 4e-7 * gscale + 1e-30, "n=%" PRId64 " grad x=%a t=%a: %a, want %a", n,
                  x.p[i], tg.p[i], gx.p[i], gr);
        total += o.p[i];
        mag += std::fabs(o.p[i]);
      }
      if (!nan && std::isfinite(total))
        ck.expect(std::fabs(sum - total) <= 1e-6 * mag + 1e-30, "n=%" PRId64 " mode %d: sum %g, want %g", n, mode, sum,
                  total);
    }
  }
}

// ---- max pooling rows ----
// Against the scalar rule (native/cpu/pool.cpp): the rows' windows inside the plane, forward values
// and indices bit for bit; the backward's index check and adds on integer gradients (exact sums),
// with indices beside the picks (off the window or the dilation grid), -1 and past the plane. The
// plane ends at a guard page, so a tap read past the row's last window faults.
static void test_max_pool(const IsaKernels *t) {
  Check ck(std::string(t->name) + " max_pool_row_f32 / max_pool_grad_row_f32");
  for (int c = 0; c < 300 && ck.fails == 0; c++) {
    const int64_t kh = 1 + g_rng() % 4, kw = 1 + g_rng() % 4, sh = 1 + g_rng() % 3, sw = 1 + g_rng() % 2;
    const int64_t dh = 1 + g_rng() % 2, dw = 1 + g_rng() % 2, ph = g_rng() % (kh / 2 + 1), pw = g_rng() % (kw / 2 + 1);
    const int64_t H = (kh - 1) * dh + 1 + g_rng() % 6, W = (kw - 1) * dw + 1 + g_rng() % 70;
    const int64_t OH = (H + 2 * ph - (kh - 1) * dh - 1) / sh + 1, OW = (W + 2 * pw - (kw - 1) * dw - 1) / sw + 1;
    Buf x(H * W, true);
    const int distinct = c % 2 ? 1000 : 3;
    for (int64_t i = 0; i < H * W; i++) x.p[i] = (float)((int)(g_rng() % distinct) - distinct / 2);
    for (int i = 0; i < 3; i++) x.p[g_rng() % (H * W)] = i == 1 ? -INFINITY : NAN;
    const int64_t ow_lo = std::min<int64_t>(OW, (pw + sw - 1) / sw), last = W - 1 + pw - (kw - 1) * dw;
    const int64_t ow_hi = std::max(ow_lo, last < 0 ? 0 : std::min(OW, last / sw + 1));
    std::vector<float> y(OW);
    std::vector<int64_t> idx(OW), want_i(OW);
    std::vector<float> g(H * W, 0.0f), want_g(H * W, 0.0f), gy(OW);
    for (int64_t oh = 0; oh < OH; oh++) {
      const int64_t top = oh * sh - ph;
      int64_t r0 = 0;
      while (r0 < kh && top + r0 * dh < 0) r0++;
      int64_t r1 = r0;
      while (r1 < kh && top + r1 * dh < H) r1++;  // rows [r0, r1) inside
      for (int64_t ow = 0; ow < OW; ow++) {       // the scalar rule
        float best = -INFINITY;
        int64_t at = -1;
        for (int64_t r = r0; r < r1; r++)
          for (int64_t s = 0; s < kw; s++) {
            const int64_t iw = ow * sw - pw + s * dw, v = (top + r * dh) * W + iw;
            if (iw < 0 || iw >= W) continue;
            if (at < 0 || x.p[v] > best || std::isnan(x.p[v])) best = x.p[v], at = v;
          }
        y[ow] = best, want_i[ow] = idx[ow] = at;
      }
      if (r1 > r0 && ow_hi > ow_lo) {
        std::vector<float> yv(y);
        std::vector<int64_t> iv(idx);
        const MaxPoolRow row{x.p, W, top + r0 * dh, r1 - r0, dh, kw, sw, pw, dw};
        t->nn.max_pool_row_f32(yv.data(), iv.data(), row, ow_lo, ow_hi);
        for (int64_t ow = ow_lo; ow < ow_hi; ow++)
          if (!ck.expect(same(yv[ow], y[ow]) && iv[ow] == idx[ow],
                         "case %d k %" PRId64 "x%" PRId64 " s %" PRId64 " W %" PRId64 " ow %" PRId64
                         ": got %g at %" PRId64 ", want %g at %" PRId64,
                         c, kh, kw, sw, W, ow, yv[ow], iv[ow], y[ow], idx[ow]))
            break;
      }
      // the backward on this row: picks and indices beside them
      for (int64_t ow = 0; ow < OW; ow++) {
        gy[ow] = (float)((int)(g_rng() % 17) - 8);
        const int64_t near[] = {1, -1, W, -W, dw, -1 - idx[ow], H * W - idx[ow], (int64_t)1 << 40};
        if (g_rng() % 3 == 0) want_i[ow] = idx[ow] + near[g_rng() % 8];
        const int64_t v = want_i[ow];
        if (v < 0 || v >= H * W) continue;
        const int64_t rh = v / W - top, rw = v % W - (ow * sw - pw);
        if (rh >= 0 && rh % dh == 0 && rh / dh < kh && rw >= 0 && rw % dw == 0 && rw / dw < kw) want_g[v] += gy[ow];
      }
      const MaxPoolGradRow grow{H, W, top, kh, dh, kw, sw, pw, dw};
      t->nn.max_pool_grad_row_f32(g.data(), gy.data(), want_i.data(), grow, OW);
    }
    for (int64_t i = 0; i < H * W; i++)
      if (!ck.expect(g[i] == want_g[i], "case %d backward: g[%" PRId64 "] %g, want %g", c, i, g[i], want_g[i])) break;
  }
}

// ---- unary_f32 ----
static double sigmoid_ref(double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }
struct UnCase {
  Unary op;
  const char *name;
  float lo, hi;                                // main input range for gen()
  float (*exact)(float);                       // ops that are one IEEE operation: bits must match this
  double (*ref)(double);                       // approximations: float64 reference
  double max_ulp;                              // tolerance vs ref
  std::vector<std::pair<float, float>> focus;  // extra dense ranges for the accuracy statistics
};
static const UnCase kUn[] = {
    {Unary::Neg, "neg", -10, 10, [](float x) { return km::Neg{}(x); }, nullptr, 0, {}},
    // fabs, not km::Abs: that one returns -0 for -0 (a < 0 is false); PyTorch and IEEE give +0.
    {Unary::Abs, "abs", -10, 10, [](float x) { return std::fabs(x); }, nullptr, 0, {}},
    {Unary::Sign, "sign", -10, 10, [](float x) { return km::Sign{}(x); }, nullptr, 0, {}},
    {Unary::Sqrt, "sqrt", 0, 1e6f, [](float x) { return km::Sqrt{}(x); }, nullptr, 0, {}},
    {Unary::Rsqrt, "rsqrt", 0, 1e6f, [](float x) { return km::Rsqrt{}(x); }, nullptr, 0, {}},
    {Unary::Floor, "floor", -20, 20, [](float x) { return km::Floor{}(x); }, nullptr, 0, {}},
    {Unary::Ceil, "ceil", -20, 20, [](float x) { return km::Ceil{}(x); }, nullptr, 0, {}},
    {Unary::Round, "round", -20, 20, [](float x) { return km::Round{}(x); }, nullptr, 0, {}},
    {Unary::Trunc, "trunc", -20, 20, [](float x) { return km::Trunc{}(x); }, nullptr, 0, {}},
    {Unary::Reciprocal, "reciprocal", -10, 10, [](float x) { return km::Reciprocal{}(x); }, nullptr, 0, {}},
    {Unary::Exp, "exp", -110, 95, nullptr, [](double x) { return std::exp(x); }, 1.5, {{-104, 89}, {-1e-3f, 1e-3f}}},
    {Unary::Log, "log", 0, 1000, nullptr, [](double x) { return std::log(x); }, 1.5, {{0.5f, 2}, {0, 1e-36f}}},
    {Unary::Tanh, "tanh", -12, 12, nullptr, [](double x) { return std::tanh(x); }, 2, {{-10, 10}, {-1e-3f, 1e-3f}}},
    {Unary::Sigmoid, "sigmoid", -110, 110, nullptr, sigmoid_ref, 2, {{-105, 105}, {-2, 2}}},
    {Unary::Log1p, "log1p", -1, 10, nullptr, [](double x) { return std::log1p(x); }, 2, {{-1, 1}, {-1e-4f, 1e-4f}}},
    {Unary::Expm1, "expm1", -20, 90, nullptr, [](double x) { return std::expm1(x); }, 2, {{-20, 89}, {-1e-3f, 1e-3f}}},
};

// Compares o (from t) with the reference and with g (from the generic table) for inputs x.
static void judge(Check &ck, const UnCase &c, const float *x, const float *o, const float *g, int64_t n, int64_t len) {
  for (int64_t i = 0; i < n; i++) {
    bool ok;
    if (c.exact) {
      ok = same(o[i], c.exact(x[i])) && same(o[i], g[i]);
    } else {
      double ref = c.ref((double)x[i]);
      ck.error(x[i], o[i], ref);
      double rel = std::fabs(o[i] - ref) / std::fabs(ref);
      bool rel_ok = !(std::fabs(ref) >= FLT_MIN && std::isfinite((float)ref)) || rel <= 3e-7;
      ok = ulp_err(o[i], ref) <= c.max_ulp && rel_ok && std::isnan(o[i]) == std::isnan(g[i]) &&
           (std::isnan(o[i]) || std::llabs(ord(o[i]) - ord(g[i])) <= 3);
    }
    if (!ck.expect(ok, "n=%" PRId64 " x=%a (%.9g): got %a (%.9g), generic %a, ref %.12g", len, x[i], x[i], o[i], o[i],
                   g[i], c.exact ? (double)c.exact(x[i]) : c.ref(x[i])))
      return;
  }
}

static void test_unary(const IsaKernels *t, const IsaKernels *gt, int64_t sweep_step) {
  for (const UnCase &c : kUn) {
    Check ck(std::string(t->name) + " unary_f32 " + c.name);
    for (int64_t n : kLengths)
      for (bool end : {true, false}) {
        Buf a(n, end), o(n, end), g(n, end);
        fill(a, c.lo, c.hi);
        ck.expect(t->unary_f32(c.op, o.p, a.p, n), "returned false");
        ck.expect(gt->unary_f32(c.op, g.p, a.p, n), "generic returned false");
        ck.expect(o.written() && a.sentinels_ok(), "n=%" PRId64 ": unwritten or out-of-range write", n);
        judge(ck, c, a.p, o.p, g.p, n, n);
      }
    // Every sweep_step-th float bit pattern, then dense uniform samples in the focus ranges.
    std::vector<float> x;
    for (uint64_t u = g_rng() % sweep_step; u < (1ull << 32); u += sweep_step) x.push_back(from_bits((uint32_t)u));
    for (auto [lo, hi] : c.focus)
      for (int i = 0; i < 200000; i++) x.push_back(lo + (float)((hi - lo) * unit()));
    for (float s : kSpecials) x.push_back(s);
    std::vector<float> o(x.size()), g(x.size());
    t->unary_f32(c.op, o.data(), x.data(), (int64_t)x.size());
    gt->unary_f32(c.op, g.data(), x.data(), (int64_t)x.size());
    judge(ck, c, x.data(), o.data(), g.data(), (int64_t)x.size(), (int64_t)x.size());
    std::vector<float> y = x;  // in place
    t->unary_f32(c.op, y.data(), y.data(), (int64_t)y.size());
    for (size_t i = 0; i < y.size(); i++)
      if (!ck.expect(same(y[i], o[i]), "in place differs at x=%a", x[i])) break;
  }
  Check ck(std::string(t->name) + " unary_f32 specials and unsupported");
  struct Sp {
    Unary op;
    float x, want;
  };
  const float inf = INFINITY, nan = NAN;
  const Sp sp[] = {
      {Unary::Exp, -inf, 0},
      {Unary::Exp, inf, inf},
      {Unary::Exp, nan, nan},
      {Unary::Exp, 88.73f, inf},
      {Unary::Exp, 89.5f, inf},
      {Unary::Exp, -104, 0},
      {Unary::Exp, -1e10f, 0},
      {Unary::Exp, -0.0f, 1},
      {Unary::Log, 0, -inf},
      {Unary::Log, -0.0f, -inf},
      {Unary::Log, -1, nan},
      {Unary::Log, -inf, nan},
      {Unary::Log, inf, inf},
      {Unary::Log, 1, 0},
      {Unary::Log, nan, nan},
      {Unary::Tanh, inf, 1},
      {Unary::Tanh, -inf, -1},
      {Unary::Tanh, 20, 1},
      {Unary::Tanh, -9.5f, -1},
      {Unary::Tanh, nan, nan},
      {Unary::Tanh, -0.0f, -0.0f},
      {Unary::Tanh, 1e-40f, 1e-40f},
      {Unary::Sigmoid, -inf, 0},
      {Unary::Sigmoid, inf, 1},
      {Unary::Sigmoid, nan, nan},
      {Unary::Sigmoid, 0, 0.5f},
      {Unary::Sigmoid, 100, 1},
      {Unary::Sigmoid, -200, 0},
      {Unary::Expm1, -inf, -1},
      {Unary::Expm1, inf, inf},
      {Unary::Expm1, -0.0f, -0.0f},
      {Unary::Expm1, nan, nan},
      {Unary::Expm1, 1e-40f, 1e-40f},
      {Unary::Expm1, -40, -1},
      {Unary::Expm1, 88.8f, inf},
      {Unary::Log1p, -1, -inf},
      {Unary::Log1p, -2, nan},
      {Unary::Log1p, inf, inf},
      {Unary::Log1p, -0.0f, -0.0f},
      {Unary::Log1p, nan, nan},
      {Unary::Log1p, -1e-40f, -1e-40f},
  };
  for (const Sp &s : sp) {
    float o[3], in[3] = {s.x, s.x, s.x};
    t->unary_f32(s.op, o, in, 3);
    ck.expect(same(o[0], s.want) && same(o[2], s.want), "op %d (%g) = %g, want %g", (int)s.op, s.x, o[0], s.want);
  }
  float sig = 0, x = -100;
  t->unary_f32(Unary::Sigmoid, &sig, &x, 1);
  ck.expect(sig > 0 && sig < 1e-43f, "sigmoid(-100) = %g", sig);
  for (Unary op : {Unary::Sin, Unary::Cos, Unary::Erf, Unary::LogicalNot})
    ck.expect(!t->unary_f32(op, &sig, &x, 1), "op %d claimed", (int)op);
}

// ---- reductions and accumulators ----
static void test_reduce(const IsaKernels *t, const IsaKernels *gt) {
  Check cs(std::string(t->name) + " sum_f32");
  for (int64_t n : kLengths)
    for (bool end : {true, false}) {
      Buf a(n, end), b(n, !end);
      // Small integers: every partial sum is exact, so any dropped or repeated element shows.
      int64_t isum = 0;
      for (int64_t i = 0; i < n; i++) {
        int v = (int)(g_rng() % 17) - 8;
        a.p[i] = (float)v, isum += v;
      }
      cs.expect(t->sum_f32(a.p, n) == (float)isum, "n=%" PRId64 ": integers sum to %g, want %" PRId64, n,
                t->sum_f32(a.p, n), isum);
      double ref = 0, mag = 0;
      for (int64_t i = 0; i < n; i++)
        a.p[i] = b.p[i] = (float)(2 * unit() - 1), ref += a.p[i], mag += std::fabs(a.p[i]);
      float s = t->sum_f32(a.p, n), sg = gt->sum_f32(a.p, n);
      double tol = 64 * 0x1p-24 * mag;  // block lanes add <= 16 terms, then pairwise
      cs.expect(std::fabs(s - ref) <= tol && std::fabs(sg - ref) <= tol, "n=%" PRId64 ": %.9g generic %.9g ref %.9g", n,
                s, sg, ref);
      cs.expect(bits(s) == bits(t->sum_f32(b.p, n)), "n=%" PRId64 ": result depends on the address", n);
      if (n > 0) {
        a.p[g_rng() % n] = NAN;
        cs.expect(std::isnan(t->sum_f32(a.p, n)), "n=%" PRId64 ": NaN lost", n);
      }
    }
  {
    const int64_t n = 1000000;
    std::vector<float> a(n);
    double ref = 0;
    for (float &v : a) v = (float)unit(), ref += v;
    double rel = std::fabs(t->sum_f32(a.data(), n) - ref) / ref;
    cs.expect(rel <= 1e-6, "1e6 uniform(0,1): relative error %.3g", rel);
    char buf[64];
    snprintf(buf, sizeof buf, "  1e6 uniform(0,1): rel err %.2g", rel);
    cs.note = buf;
    float inf_mix[5] = {1, INFINITY, 2, 3, 4};
    cs.expect(t->sum_f32(inf_mix, 5) == INFINITY, "inf lost");
    inf_mix[3] = -INFINITY;
    cs.expect(std::isnan(t->sum_f32(inf_mix, 5)), "inf - inf is not NaN");
    cs.expect(t->sum_f32(nullptr, 0) == 0, "empty sum");
  }
  for (bool is_max : {true, false}) {
    Check ck(std::string(t->name) + (is_max ? " max_f32" : " min_f32"));
    auto f = is_max ? t->max_f32 : t->min_f32;
    for (int64_t n : kLengths) {
      if (n == 0) continue;
      for (bool end : {true, false}) {
        Buf a(n, end);
        fill(a, -1e3f, 1e3f);
        for (int64_t i = 0; i < n; i++)
          if (std::isnan(a.p[i])) a.p[i] = 0;
        float want = a.p[0];
        for (int64_t i = 1; i < n; i++) want = is_max ? km::Maximum{}(want, a.p[i]) : km::Minimum{}(want, a.p[i]);
        float got = f(a.p, n), g = (is_max ? gt->max_f32 : gt->min_f32)(a.p, n);
        ck.expect(got == want && g == want, "n=%" PRId64 ": %g generic %g want %g", n, got, g, want);
        for (int64_t at : {(int64_t)0, n - 1, (int64_t)(g_rng() % n)}) {
          float keep = a.p[at];
          a.p[at] = NAN;
          ck.expect(std::isnan(f(a.p, n)), "n=%" PRId64 ": NaN at %" PRId64 " lost", n, at);
          a.p[at] = keep;
        }
      }
    }
  }
  Check ca(std::string(t->name) + " add_f32");
  for (int64_t n : kLengths)
    for (bool end : {true, false}) {
      Buf acc(n, end), x(n, end), g(n, end);
      fill(acc, -100, 100), fill(x, -100, 100);
      std::vector<float> acc0(acc.p, acc.p + n);
      memcpy(g.p, acc.p, n * 4);
      t->add_f32(acc.p, x.p, n);
      gt->add_f32(g.p, x.p, n);
      ca.expect(acc.sentinels_ok(), "n=%" PRId64 ": out-of-range write", n);
      for (int64_t i = 0; i < n; i++)
        if (!ca.expect(same(acc.p[i], acc0[i] + x.p[i]) && same(acc.p[i], g.p[i]), "n=%" PRId64 " i=%" PRId64, n, i))
          break;
    }
  // transpose32: every word to its place, block and edge sizes around W, strided both sides.
  {
    Check ct(std::string(t->name) + " transpose32");
    for (int64_t rows : {1, 7, 16, 17, 33, 64})
      for (int64_t cols : {1, 8, 16, 31, 48, 65}) {
        const int64_t ldx = cols + 3, ldo = rows + 5;
        std::vector<uint32_t> x((size_t)(rows * ldx)), o((size_t)(cols * ldo), 0xdeadbeefu);
        for (size_t i = 0; i < x.size(); i++) x[i] = (uint32_t)g_rng();
        t->transpose32(o.data(), ldo, x.data(), ldx, rows, cols);
        bool ok = true;
        for (int64_t j = 0; j < cols && ok; j++)
          for (int64_t i = 0; i < ldo && ok; i++)
            ok = o[(size_t)(j * ldo + i)] == (i < rows ? x[(size_t)(i * ldx + j)] : 0xdeadbeefu);
        ct.expect(ok, "rows %" PRId64 " cols %" PRId64, rows, cols);
      }
  }
  // f32_to_bf16: bit for bit dtype.h's float_to_bf16, at and around every rounding boundary of
  // every bfloat16 (ties both ways), subnormals, infinities and NaNs of every payload class.
  {
    Check cb(std::string(t->name) + " bf16 cast");
    std::vector<float> xs;
    for (uint32_t b = 0; b < 65536; b += 5) {
      const uint32_t u = b << 16;
      for (uint32_t d : {0u, 1u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu}) xs.push_back(kiln::bits_to_float(u + d));
    }
    for (uint32_t u : {0x7f800001u, 0xffc00000u, 0x7fffffffu, 0x00000001u, 0x807fffffu, 0x7f7fffffu})
      xs.push_back(kiln::bits_to_float(u));
    for (size_t start : {(size_t)0, (size_t)3}) {
      std::vector<uint16_t> got(xs.size() - start);
      t->f32_to_bf16(got.data(), xs.data() + start, (int64_t)got.size());
      for (size_t i = 0; i < got.size(); i++)
        if (!cb.expect(got[i] == kiln::float_to_bf16(xs[start + i]), "float %08x: %04x want %04x", bits(xs[start + i]),
                       got[i], kiln::float_to_bf16(xs[start + i])))
          break;
    }
  }
  // f32_to_f16 / f16_to_f32: bit for bit dtype.h's scalar casts: every half, and floats at and
  // around each rounding boundary, subnormals, infinities and NaNs, at every block offset.
  {
    Check ch(std::string(t->name) + " f16 casts");
    std::vector<uint16_t> h(65536 + 37);
    for (size_t i = 0; i < h.size(); i++) h[i] = (uint16_t)(i * 40503u);
    std::vector<float> f(h.size());
    t->f16_to_f32(f.data(), h.data(), (int64_t)h.size());
    bool ok = true;
    for (size_t i = 0; i < h.size() && ok; i++)
      ok = ch.expect(bits(f[i]) == bits(kiln::half_to_float(h[i])), "half %04x", h[i]);
    std::vector<float> xs;
    for (uint32_t b = 0; b < 65536; b += 3) {  // each half's value, the midpoints above it, +-1 ulp
      const uint32_t u = bits(kiln::half_to_float((uint16_t)b));
      for (int d : {-1, 0, 1, 4095, 4096, 4097}) xs.push_back(kiln::bits_to_float(u + (uint32_t)d));
      if (b % 3000 == 0) xs.push_back(NAN);  // a NaN in some blocks
    }
    for (float v : {1e-30f, -3e-8f, 65519.f, 65520.f, 7e4f, INFINITY, -INFINITY, NAN}) xs.push_back(v);
    std::vector<uint16_t> got(xs.size());
    t->f32_to_f16(got.data(), xs.data(), (int64_t)xs.size());
    ok = true;
    for (size_t i = 0; i < xs.size() && ok; i++)
      ok = ch.expect(got[i] == kiln::float_to_half(xs[i]), "float %08x: %04x want %04x", bits(xs[i]), got[i],
                     kiln::float_to_half(xs[i]));
  }
  // accumulate_f32: reduce.cpp's column accumulators over 1 to 9 rows (the four-row groups and the
  // rest), against its scalar step a row at a time (first NaN kept; max / min take x only when it
  // beats acc, so of two zeros acc's sign stays).
  for (Accumulate op : {Accumulate::Sum, Accumulate::Max, Accumulate::Min}) {
    const char *name = op == Accumulate::Sum ? "sum" : op == Accumulate::Max ? "max" : "min";
    Check cc(std::string(t->name) + " accumulate_f32 " + name);
    for (int64_t n : kLengths)
      for (int64_t rows : {1, 4, 5, 9})
        for (bool end : {true, false}) {
          const int64_t stride = n + (rows % 2 ? 3 : 16), total = (rows - 1) * stride + n;
          Buf x(total, end);
          fill(x, -100, 100);
          std::vector<double> acc((size_t)n), want((size_t)n);
          for (int64_t i = 0; i < n; i++) {
            acc[i] = want[i] = (double)(g_rng() % 2001) / 10 - 100;
            if (i % 7 == 3) acc[i] = want[i] = NAN;
            if (i % 13 == 6) acc[i] = want[i] = -0.0;
            for (int64_t r = 0; r < rows; r++) {
              float &xv = x.p[r * stride + i];
              if ((i + r) % 11 == 5) xv = NAN;
              if (i % 13 == 6) xv = r % 2 ? -0.0f : 0.0f;
              const double a = want[i], v = xv;
              const bool nan = a != a || v != v;
              want[i] = op == Accumulate::Sum   ? a + v
                        : nan                   ? (a != a ? a : v)
                        : op == Accumulate::Max ? (v > a ? v : a)
                                                : (v < a ? v : a);
            }
          }
          t->accumulate_f32(op, acc.data(), x.p, n, rows, stride);
          for (int64_t i = 0; i < n; i++) {
            const bool ok = (acc[i] != acc[i] && want[i] != want[i]) ||
                            (acc[i] == want[i] && std::signbit(acc[i]) == std::signbit(want[i]));
            if (!cc.expect(ok, "n=%" PRId64 " rows=%" PRId64 " i=%" PRId64 ": %g want %g", n, rows, i, acc[i], want[i]))
              break;
          }
        }
  }
  // moment_f32 / moments2_f32: var's passes, against double loops (the lanes' order changes the
  // last bits only: relative 1e-12).
  Check cm(std::string(t->name) + " moment_f32 / moments2_f32");
  for (int64_t n : kLengths)
    for (bool end : {true, false}) {
      Buf x(n, end);
      fill(x, -100, 100);
      bool nan = false;
      for (int64_t i = 0; i < n; i++) nan |= !std::isfinite(x.p[i]);  // fill() plants NaN and inf
      if (nan) continue;
      double s1 = 0, s2 = 0;
      for (int64_t i = 0; i < n; i++) s1 += (double)x.p[i] - 0.5, s2 += ((double)x.p[i] - 0.5) * ((double)x.p[i] - 0.5);
      const double g1 = t->moment_f32(x.p, n, 0.5, 1), g2 = t->moment_f32(x.p, n, 0.5, 2);
      std::vector<double> a1((size_t)n, 1.0), a2((size_t)n, 2.0), sh((size_t)n, 0.25);
      t->moments2_f32(a1.data(), a2.data(), sh.data(), x.p, n);
      bool ok = std::fabs(g1 - s1) <= 1e-12 * (1 + std::fabs(s2)) && std::fabs(g2 - s2) <= 1e-12 * (1 + s2);
      for (int64_t i = 0; i < n && ok; i++) {
        const double d = (double)x.p[i] - 0.25;
        ok = a1[i] == 1.0 + d && a2[i] == 2.0 + d * d;
      }
      if (!cm.expect(ok, "n=%" PRId64 ": %.17g %.17g want %.17g %.17g", n, g1, g2, s1, s2)) break;
    }
  // scan_f32: a row of cumsum's column scans (scan.cpp): acc += x in double, o = acc rounded.
  Check sc(std::string(t->name) + " scan_f32");
  for (int64_t n : kLengths)
    for (bool end : {true, false}) {
      Buf x(n, end), o(n, end);
      fill(x, -100, 100);
      std::vector<double> acc((size_t)n), want((size_t)n);
      for (int64_t i = 0; i < n; i++) {
        acc[i] = (double)(g_rng() % 2001) / 7 - 100;
        want[i] = acc[i] + (double)x.p[i];
      }
      t->scan_f32(o.p, acc.data(), x.p, n, 1, 0);
      for (int64_t i = 0; i < n; i++)
        if (!sc.expect(want[i] != want[i] ? acc[i] != acc[i] && o.p[i] != o.p[i]
                                          : acc[i] == want[i] && o.p[i] == (float)want[i],
                       "n=%" PRId64 " i=%" PRId64 ": %g (%g) want %g", n, i, acc[i], (double)o.p[i], want[i]))
          break;
    }
}

#include "rows_checks.inc"

// ---- clamp_f32 ----
// Bit for bit the scalar maximum-then-minimum (scalar_math.h) on values with NaN, infinities and
// signed zeros, for bounds in order, crossed (lo > hi), infinite and equal; lengths with and
// without a tail, the last element against the guard page; in place too.
static void test_clamp(const IsaKernels *t) {
  Check ck(std::string(t->name) + " clamp_f32");
  const float special[] = {NAN, INFINITY, -INFINITY, -0.0f, 0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 3e38f, -1e-40f};
  const float bounds[][2] = {{-0.5f, 0.5f}, {0.0f, INFINITY}, {-INFINITY, -0.0f}, {1.0f, -1.0f}, {0.5f, 0.5f}};
  for (int64_t n : {1, 7, 16, 33, 100})
    for (const auto &b : bounds)
      for (bool in_place : {false, true}) {
        Buf x(n, true), o(n, false);
        for (int64_t i = 0; i < n; i++)
          x.p[i] = g_rng() % 3 ? (float)(4 * unit() - 2) : special[g_rng() % (sizeof special / sizeof *special)];
        std::vector<float> want((size_t)n);
        for (int64_t i = 0; i < n; i++) want[(size_t)i] = km::Minimum{}(km::Maximum{}(x.p[i], b[0]), b[1]);
        float *dst = in_place ? x.p : o.p;
        t->clamp_f32(dst, x.p, n, b[0], b[1]);
        for (int64_t i = 0; i < n; i++)
          if (!ck.expect(bits(dst[i]) == bits(want[(size_t)i]), "n=%" PRId64 " [%g, %g] at %" PRId64 ": %g want %g", n,
                         b[0], b[1], i, dst[i], want[(size_t)i]))
            return;
        if (!in_place) ck.expect(o.written(), "n=%" PRId64 ": a write outside [0, n)", n);
      }
}

// ---- --bench: single-thread throughput, best of 5 ----
template <class Fn>
static double best_seconds(Fn fn) {
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}
static void bench(const IsaKernels *t) {
  const int64_t n = 16 << 20;
  std::vector<float> a(n), b(n), o(n);
  for (int64_t i = 0; i < n; i++) a[i] = (float)unit(), b[i] = (float)unit() - 0.5f;
  volatile float sink = 0;
  double add = best_seconds([&] { t->add_f32(a.data(), b.data(), n); });
  double sum = best_seconds([&] { sink = sink + t->sum_f32(a.data(), n); });
  double ex = best_seconds([&] { t->unary_f32(Unary::Exp, o.data(), b.data(), n); });
  double ta = best_seconds([&] { t->unary_f32(Unary::Tanh, o.data(), b.data(), n); });
  const int64_t small = 4096;  // L1-resident: the arithmetic, not the memory
  double ex_l1 = best_seconds([&] {
    for (int r = 0; r < 1000; r++) t->unary_f32(Unary::Exp, o.data(), b.data(), small);
  });
  printf(
      "bench %-8s add_f32 %6.1f GB/s   sum_f32 %6.1f GB/s   exp %6.1f GB/s   tanh %6.1f GB/s   exp(L1) %6.2f Gelem/s\n",
      t->name, 12.0 * n / add / 1e9, 4.0 * n / sum / 1e9, 8.0 * n / ex / 1e9, 8.0 * n / ta / 1e9,
      1000.0 * small / ex_l1 / 1e9);
}

// A kernel that touches memory past n hits the PROT_NONE page: say which check did it.
static void on_fault(int) {
  const char *msg = "FAIL out-of-bounds access (guard page) during: ";
  if (write(2, msg, strlen(msg)) < 0 || write(2, g_running, strlen(g_running)) < 0 || write(2, "\n", 1) < 0) _exit(3);
  _exit(3);
}

int main(int argc, char **argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);  // lines already printed survive a fault
  signal(SIGSEGV, on_fault);
  signal(SIGBUS, on_fault);
  bool do_bench = false;
  int64_t sweep_step = 1021;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--bench"))
      do_bench = true;
    else if (!strcmp(argv[i], "--sweep-step") && i + 1 < argc)
      sweep_step = std::max<int64_t>(1, atoll(argv[++i]));
  }
  uint64_t seed = getenv("KILN_SEED") ? strtoull(getenv("KILN_SEED"), nullptr, 0) : std::random_device{}();
  g_rng.seed(seed);
  printf("isa_kernels_test: seed %" PRIu64 " (KILN_SEED reproduces), supported isa bits 0x%x\n", seed,
         kiln_isa_supported());
  unsigned supported = kiln_isa_supported();
  const IsaKernels *gt = isa_kernels(KILN_ISA_GENERIC);
  {
    Check ck("isa_kernels table lookup");
    ck.expect(gt == &kGenericKernels && !strcmp(gt->name, "generic"), "generic table");
    ck.expect(isa_kernels((kiln_isa)99) == gt, "unknown isa must map to generic");
  }
  for (kiln_isa isa : {KILN_ISA_GENERIC, KILN_ISA_AVX2, KILN_ISA_AVX512, KILN_ISA_NEON}) {
    if (!(supported & (1u << isa))) {
      printf("skip %s: not supported by this CPU\n", kiln_isa_name(isa));
      continue;
    }
    const IsaKernels *t = isa_kernels(isa);
    {
      Check ck(std::string(kiln_isa_name(isa)) + " table");
      ck.expect(!strcmp(t->name, kiln_isa_name(isa)), "isa_kernels(%s) is the %s table", kiln_isa_name(isa), t->name);
    }
    test_binary(t, gt);
    test_unary(t, gt, sweep_step);
    test_reduce(t, gt);
    test_lse(t);
    test_layer_norm(t);
    test_softmax_cols(t);
    test_xent_cols(t);
    test_clamp(t);
    test_dropout(t);
    test_bn_sums(t);
    test_max_pool(t);
    test_sum_rows(t);
    test_bce(t);
  }
  if (do_bench)
    for (kiln_isa isa : {KILN_ISA_GENERIC, KILN_ISA_AVX2, KILN_ISA_AVX512, KILN_ISA_NEON})
      if (supported & (1u << isa)) bench(isa_kernels(isa));
  printf(g_failed_checks ? "isa_kernels_test: %d checks FAILED\n" : "isa_kernels_test: all checks passed\n",
         g_failed_checks);
  return g_failed_checks ? 1 : 0;
}
