// Conformance test for the per-ISA GEMM building blocks (isa.h: GemmKernels, written once in gemm.inc):
// for every table this CPU can run, tile_f32, pack_kmajor_f32, pack_rows_f32, dot_f32 and epilogue_f32
// are checked against float64 references. Sums are judged against error bounds scaled by the summed
// magnitudes of their terms; packing must copy bit for bit. Every input ends exactly at a PROT_NONE
// page, so a read past its declared extent faults (that case fails, the run goes on), and every output
// sits in poison that must survive, so a stray or missing write shows. Prints the first failures, then
// one line per ISA with the measured errors; exit status 1 on any failure. Build and run:
// scripts/test_isa_native.sh (natively, then AArch64 under qemu). KILN_SEED reproduces a run.
#include <setjmp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
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
#include "dtype.h"

using namespace kiln::cpu;

static int g_failed_checks = 0;
static char g_running[96] = "startup";  // the check in progress, for a fault outside kernel_call
static sigjmp_buf g_fault_jump;
static volatile sig_atomic_t g_in_kernel = 0;
static std::mt19937_64 g_rng;

static uint32_t bits(float f) { return kiln::float_to_bits(f); }
static float uni(double lo, double hi) { return (float)(lo + (hi - lo) * (double)(g_rng() >> 11) * 0x1p-53); }
static std::string strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static std::string strf(const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

// One check of one table: counts cases, prints the first few failures, keeps the largest error.
struct Check {
  std::string what, name;
  long cases = 0, fails = 0;
  double worst = 0;  // largest error seen, in the unit the check reports
  Check(const IsaKernels *t, std::string w) : what(std::move(w)), name(std::string(t->name) + " " + what) {
    snprintf(g_running, sizeof g_running, "%s", name.c_str());
  }
  bool expect(bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4))) {
    cases++;
    if (ok) return true;
    if (fails++ == 0) g_failed_checks++;
    if (fails <= 5) {
      va_list ap;
      va_start(ap, fmt);
      printf("  FAIL %s: ", name.c_str());
      vprintf(fmt, ap);
      printf("\n");
      va_end(ap);
    }
    return false;
  }
  void error(double e) { worst = std::max(worst, e); }
  // "what detail" for the ISA's summary line, or the failure count.
  std::string summary(const std::string &detail) const {
    return fails ? strf("%s FAILED (%ld of %ld checks)", what.c_str(), fails, cases)
                 : strf("%s %s", what.c_str(), detail.c_str());
  }
};

// `count` floats ending exactly where a PROT_NONE page begins, after `slack` more floats. Both start
// as poison (a NaN no kernel produces), so a read past the end faults and an unwritten output, or a
// write into the slack or into the gaps of a strided layout, shows. The mappings are kept, one per
// nesting level of live Guarded objects (they are scoped, so they die in reverse order): an mmap and
// fresh pages per case would dominate the run time, under qemu most of all.
static const uint32_t kPoison = 0x7fbadbad;
struct Guarded {
  struct Mapping {
    char *base = nullptr;
    size_t data = 0;  // bytes before the PROT_NONE page
  };
  static Mapping maps[8];
  static int live;
  float *p;
  int64_t slack;
  explicit Guarded(int64_t count, int64_t slack_floats = 16) : slack(slack_floats) {
    if (live == 8) fprintf(stderr, "Guarded: more than 8 live buffers\n"), exit(2);
    Mapping &m = maps[live++];
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), need = (size_t)(count + slack) * 4;
    if (need > m.data) {
      if (m.base) munmap(m.base, m.data + page);
      m.data = (need * 2 + page - 1) / page * page;
      m.base = (char *)mmap(nullptr, m.data + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m.base == MAP_FAILED || mprotect(m.base + m.data, page, PROT_NONE)) perror("mmap"), exit(2);
    }
    p = (float *)(m.base + m.data) - count;
    std::fill_n((uint32_t *)(p - slack), count + slack, kPoison);
  }
  ~Guarded() { live--; }
  Guarded(const Guarded &) = delete;
  Guarded &operator=(const Guarded &) = delete;
  bool poisoned(int64_t from, int64_t to) const {
    for (int64_t i = from; i < to; i++)
      if (bits(p[i]) != kPoison) return false;
    return true;
  }
  bool slack_ok() const { return poisoned(-slack, 0); }
};
Guarded::Mapping Guarded::maps[8];
int Guarded::live = 0;

// Runs one kernel call; false if it touched a guard page. The fault handler jumps back here, so a
// kernel that reads past its extent fails its case and the run goes on to the others.
template <class Fn>
static bool kernel_call(Fn fn) {
  if (sigsetjmp(g_fault_jump, 1)) return g_in_kernel = 0, false;
  g_in_kernel = 1;
  fn();
  g_in_kernel = 0;
  return true;
}

// ---- tile_f32 ----

// Operands of the full mr_full x nr_full tile: A as a packed sliver a[k * mr_full + i], B and C
// row-major with nr_full columns, and per element the float64 sums of a_ik b_kj and of |a_ik b_kj|.
struct TileOperands {
  int64_t kc;
  int mr, nr;
  std::vector<float> a, b, c;
  std::vector<double> sum, mag;
  TileOperands(int64_t k, int mr_full, int nr_full)
      : kc(k), mr(mr_full), nr(nr_full), a(k * mr), b(k * nr), c(mr * nr), sum(mr * nr), mag(mr * nr) {
    for (float &v : a) v = uni(-1, 1);
    for (float &v : b) v = uni(-1, 1);
    for (float &v : c) v = uni(-1, 1);
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++)
        for (int64_t p = 0; p < kc; p++) {
          double t = (double)a[p * mr + i] * b[p * nr + j];
          sum[i * nr + j] += t, mag[i * nr + j] += std::fabs(t);
        }
  }
};

struct AlphaBeta {
  float alpha, beta;
};
static const AlphaBeta kAlphaBeta[] = {{1, 0}, {-0.7f, 0}, {1, 1}, {0.3f, -1.25f}};

// One tile_f32 call on a layout a driver could hand it. A: a sliver whose rows >= mr hold NaN, which
// must not leak into the result. B: a packed panel zero-padded to nr_full columns (padded), or bare
// rows of stride ldb >= nr whose last one ends at the guard page, so no load may pass column nr. C:
// rows of stride ldc > nr with poison between them and the last one ending at the guard page; NaN
// inside the tile when beta == 0, since C must then not be read. Copies the mr x nr result to out
// (row stride nr); "" or what went wrong outside the tile.
static const char *run_tile(const GemmKernels &g, const TileOperands &o, int mr, int nr, bool padded, int64_t ldb,
                            int64_t ldc, AlphaBeta ab, float *out) {
  const int64_t kc = o.kc, width = padded ? g.nr : nr;
  if (padded) ldb = g.nr;
  Guarded a(kc * g.mr), b(kc ? (kc - 1) * ldb + width : 0), c((mr - 1) * ldc + nr, ldc);
  for (int64_t k = 0; k < kc; k++) {
    for (int i = 0; i < g.mr; i++) a.p[k * g.mr + i] = i < mr ? o.a[k * g.mr + i] : NAN;
    for (int j = 0; j < width; j++) b.p[k * ldb + j] = j < nr ? o.b[k * g.nr + j] : 0.0f;
  }
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) c.p[i * ldc + j] = ab.beta == 0 ? NAN : o.c[i * g.nr + j];
  if (!kernel_call([&] { g.tile_f32(kc, a.p, b.p, ldb, padded, c.p, ldc, mr, nr, ab.alpha, ab.beta); }))
    return "touched a guard page (A, B or C past its extent)";
  bool untouched = c.slack_ok();
  for (int i = 0; i < mr; i++) {
    std::copy_n(c.p + i * ldc, nr, out + i * nr);
    if (i + 1 < mr) untouched = untouched && c.poisoned(i * ldc + nr, (i + 1) * ldc);
  }
  return untouched ? "" : "wrote outside the tile";
}

// The generic table's tile as a plain loop: products added in k order, never fused. The volatile
// products are what keeps them apart: GCC contracts a * b + c into an fma in C++ even under -std=c++17
// (only C's ISO modes turn that off), and does so on AArch64, where fma is in the base ISA.
static float tile_plain(const TileOperands &o, int i, int j, AlphaBeta ab) {
  float acc = 0;
  for (int64_t k = 0; k < o.kc; k++) {
    volatile float t = o.a[k * o.mr + i] * o.b[k * o.nr + j];
    acc = acc + t;
  }
  volatile float r = ab.alpha * acc;
  if (ab.beta == 0) return r;
  volatile float t = ab.beta * o.c[i * o.nr + j];
  return t + r;
}

static void test_tile(const IsaKernels *t, std::vector<std::string> &parts) {
  const GemmKernels &g = t->gemm;
  const bool generic = t == &kGenericKernels;
  Check ck(t, "tile_f32"), cv(t, "tile_f32 variants"), cp(t, "tile_f32 generic vs plain loop");
  double worst_of_bound = 0;
  long tiles = 0, plain_same = 0, plain_all = 0;
  std::vector<float> full(g.mr * g.nr), out(g.mr * g.nr);
  for (int64_t kc : {0, 1, 2, 7, 64, 300}) {
    const TileOperands o(kc, g.mr, g.nr);
    const double bound = (double)(kc + 2) * 0x1p-23;  // times the summed magnitudes of the terms
    for (AlphaBeta ab : kAlphaBeta) {
      // Every element is one fma chain over k whichever variant computes it (gemm.inc), so each
      // smaller or unpadded tile must give the full padded tile's bits.
      std::fill(full.begin(), full.end(), NAN);
      run_tile(g, o, g.mr, g.nr, true, g.nr, g.nr + 1, ab, full.data());
      for (int mr = 1; mr <= g.mr; mr++)
        for (int nr = 1; nr <= g.nr; nr++)
          for (bool padded : {true, false}) {
            const int64_t ldb = nr + (mr % 2 ? 0 : 5), ldc = nr + 1 + (mr + nr) % 4;
            const char *fmt = "kc=%" PRId64 " mr=%d nr=%d padded=%d alpha=%g beta=%g";
            std::string where = strf(fmt, kc, mr, nr, padded, ab.alpha, ab.beta);
            tiles++;
            const char *outside = run_tile(g, o, mr, nr, padded, ldb, ldc, ab, out.data());
            if (!ck.expect(!*outside, "%s: %s", where.c_str(), outside)) continue;
            int bad = -1, differs = -1, plain_bad = -1;
            for (int i = 0; i < mr; i++)
              for (int j = 0; j < nr; j++) {
                const int e = i * g.nr + j;
                const float got = out[i * nr + j];
                const double cij = ab.beta != 0 ? o.c[e] : 0.0, ref = ab.alpha * o.sum[e] + ab.beta * cij,
                             mag = std::fabs(ab.alpha) * o.mag[e] + std::fabs(ab.beta * cij),
                             err = std::fabs(got - ref);
                if (mag > 0) ck.error(err / mag), worst_of_bound = std::max(worst_of_bound, err / (bound * mag));
                if (!(err <= bound * mag) && bad < 0) bad = e;
                if (bits(got) != bits(full[e]) && differs < 0) differs = e;
                if (generic) {
                  float plain = tile_plain(o, i, j, ab);
                  plain_all++, plain_same += bits(plain) == bits(got);
                  if (!(std::fabs(got - plain) <= bound * mag) && plain_bad < 0) plain_bad = e;
                }
              }
            const int b = std::max(bad, 0), d = std::max(differs, 0), q = std::max(plain_bad, 0);
            if (!ck.expect(bad < 0, "%s: C[%d,%d] = %.9g, ref %.9g", where.c_str(), b / g.nr, b % g.nr,
                           out[b / g.nr * nr + b % g.nr], ab.alpha * o.sum[b] + (ab.beta != 0 ? ab.beta * o.c[b] : 0)))
              continue;
            cv.expect(differs < 0, "%s: C[%d,%d] = %a, the full tile gives %a", where.c_str(), d / g.nr, d % g.nr,
                      out[d / g.nr * nr + d % g.nr], full[d]);
            if (generic)
              cp.expect(plain_bad < 0, "%s: C[%d,%d] = %a, plain loop %a", where.c_str(), q / g.nr, q % g.nr,
                        out[q / g.nr * nr + q % g.nr], tile_plain(o, q / g.nr, q % g.nr, ab));
          }
    }
  }
  parts.push_back(
      ck.summary(strf("%ld tiles, max err %.2g x sum|terms| (%.2f of bound)", tiles, ck.worst, worst_of_bound)));
  parts.push_back(cv.summary("bitwise equal to the full tile"));
  if (generic)
    parts.push_back(
        cp.summary(strf("within bound, %.0f%% bitwise equal", plain_all ? 100.0 * plain_same / plain_all : 0.0)));
}

// ---- packing ----

// The kc rows (stride ld) of a packed destination hold want(k, r) bit for bit for r < nfull and
// poison in the gaps between rows; "" or the first difference.
template <class Want>
static std::string packed_diff(const Guarded &d, int64_t ld, int nfull, int64_t kc, Want want) {
  if (!d.slack_ok()) return "wrote before the destination";
  for (int64_t k = 0; k < kc; k++) {
    for (int r = 0; r < nfull; r++)
      if (bits(d.p[k * ld + r]) != bits(want(k, r)))
        return strf("dst[k=%" PRId64 ", r=%d] = %a, want %a", k, r, d.p[k * ld + r], want(k, r));
    if (k + 1 < kc && !d.poisoned(k * ld + nfull, (k + 1) * ld)) return strf("wrote past nfull in row %" PRId64, k);
  }
  return "";
}

static void test_pack(const IsaKernels *t, std::vector<std::string> &parts) {
  const GemmKernels &g = t->gemm;
  Check ck(t, "pack_kmajor_f32"), cr(t, "pack_rows_f32");
  long cases = 0;
  std::vector<int> fulls = {g.mr};  // what the driver packs: A slivers and B panels
  if (g.nr != g.mr) fulls.push_back(g.nr);
  for (int nfull : fulls)
    for (int nr = 1; nr <= nfull; nr++)
      for (int64_t kc = 0; kc <= 40; kc++)
        for (int loose : {0, 1}) {  // tight strides, then gaps after each source and destination row
          const int64_t ld = nfull + 3 * loose, rs = kc + 5 * loose, ks = nr + 5 * loose;
          const int64_t dst_len = kc ? (kc - 1) * ld + nfull : 0;
          Guarded sk((nr - 1) * rs + kc), sr(kc ? (kc - 1) * ks + nr : 0), dk(dst_len, ld), dr(dst_len, ld);
          for (int r = 0; r < nr; r++)
            for (int64_t k = 0; k < kc; k++) sk.p[r * rs + k] = uni(-1, 1), sr.p[k * ks + r] = uni(-1, 1);
          const char *fault = "touched a guard page (source or destination past its extent)";
          cases++;
          std::string dkd =
              kernel_call([&] { g.pack_kmajor_f32(dk.p, ld, sk.p, rs, nr, nfull, kc); })
                  ? packed_diff(dk, ld, nfull, kc, [&](int64_t k, int r) { return r < nr ? sk.p[r * rs + k] : 0.0f; })
                  : fault;
          std::string drd =
              kernel_call([&] { g.pack_rows_f32(dr.p, ld, sr.p, ks, nr, nfull, kc); })
                  ? packed_diff(dr, ld, nfull, kc, [&](int64_t k, int r) { return r < nr ? sr.p[k * ks + r] : 0.0f; })
                  : fault;
          const char *fmt = "nfull=%d nr=%d kc=%" PRId64 " ld=%" PRId64 " stride=%" PRId64 ": %s";
          ck.expect(dkd.empty(), fmt, nfull, nr, kc, ld, rs, dkd.c_str());
          cr.expect(drd.empty(), fmt, nfull, nr, kc, ld, ks, drd.c_str());
        }
  parts.push_back(ck.summary(strf("%ld layouts exact", cases)));
  parts.push_back(cr.summary(strf("%ld layouts exact", cases)));
}

// ---- dot_f32 ----

static void test_dot(const IsaKernels *t, std::vector<std::string> &parts) {
  Check ck(t, "dot_f32");
  std::vector<int64_t> lengths;
  for (int64_t n = 0; n <= 100; n++) lengths.push_back(n);
  lengths.push_back(4097);
  double worst_of_bound = 0;
  for (int64_t n : lengths) {
    Guarded x(n), y(n), x1(n + 1), y1(n + 1);  // x1, y1: the same data one float lower in memory
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < n; i++) {
      x.p[i] = x1.p[i] = uni(-1, 1), y.p[i] = y1.p[i] = uni(-1, 1);
      ref += (double)x.p[i] * y.p[i], mag += std::fabs((double)x.p[i] * y.p[i]);
    }
    float got = NAN, moved = NAN;
    if (!ck.expect(kernel_call([&] { got = t->gemm.dot_f32(x.p, y.p, n), moved = t->gemm.dot_f32(x1.p, y1.p, n); }),
                   "n=%" PRId64 ": touched a guard page", n))
      continue;
    const double err = std::fabs(got - ref), bound = (double)n * 0x1p-23 * mag;
    if (mag > 0) ck.error(err / mag), worst_of_bound = std::max(worst_of_bound, err / bound);
    ck.expect(err <= bound, "n=%" PRId64 ": %.9g, ref %.12g, bound %.3g", n, got, ref, bound);
    ck.expect(bits(got) == bits(moved), "n=%" PRId64 ": %a one float lower in memory, %a here", n, moved, got);
  }
  parts.push_back(ck.summary(strf("%zu lengths, max err %.2g x sum|xy| (%.2f of bound), address-independent",
                                  lengths.size(), ck.worst, worst_of_bound)));
}

// ---- gemv_rows_f32: y += x . B over rows of B, each element an fma chain in k order ----

static void test_gemv_rows(const IsaKernels *t, std::vector<std::string> &parts) {
  Check ck(t, "gemv_rows_f32");
  int cases = 0;
  for (int64_t kc : {0, 1, 3, 4, 5, 9, 64})
    for (int64_t n : {1, 2, 7, 15, 16, 17, 33, 100}) {
      const int64_t ldb = n + (kc % 3);  // rows tight or with a gap; the last row ends at the guard page
      Guarded b(kc > 0 ? (kc - 1) * ldb + n : 0), y(n), x(kc);
      std::vector<double> ref(n), mag(n);
      std::vector<float> plain(n);
      for (int64_t j = 0; j < n; j++) y.p[j] = plain[j] = uni(-1, 1), ref[j] = y.p[j], mag[j] = std::fabs(y.p[j]);
      for (int64_t k = 0; k < kc; k++) x.p[k] = uni(-1, 1);
      for (int64_t k = 0; k < kc; k++)
        for (int64_t j = 0; j < n; j++) {
          float v = uni(-1, 1);
          b.p[k * ldb + j] = v;
          ref[j] += (double)x.p[k] * v, mag[j] += std::fabs((double)x.p[k] * v);
          plain[j] = std::fma(x.p[k], v, plain[j]);  // the documented order: one fma per k
        }
      if (!ck.expect(kernel_call([&] { t->gemm.gemv_rows_f32(y.p, x.p, b.p, ldb, kc, n); }),
                     "kc=%" PRId64 " n=%" PRId64 ": touched a guard page", kc, n))
        continue;
      for (int64_t j = 0; j < n; j++) {
        const double err = std::fabs(y.p[j] - ref[j]), bound = (double)(kc + 1) * 0x1p-23 * mag[j];
        if (mag[j] > 0) ck.error(err / mag[j]);
        ck.expect(err <= bound, "kc=%" PRId64 " n=%" PRId64 " j=%" PRId64 ": %.9g, ref %.12g", kc, n, j, y.p[j],
                  ref[j]);
        if (strcmp(t->name, "generic") != 0)  // the 1-lane twin computes mul + add (no fma)
          ck.expect(bits(y.p[j]) == bits(plain[j]), "kc=%" PRId64 " n=%" PRId64 " j=%" PRId64 ": %a, fma chain %a", kc,
                    n, j, y.p[j], plain[j]);
      }
      cases++;
    }
  parts.push_back(
      ck.summary(strf("%d shapes, max err %.2g x sum|xb|, bits of a k-ordered fma chain", cases, ck.worst)));
}

// ---- epilogue_f32 ----

static double gelu_ref(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
static double gelu_tanh_ref(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
}
struct ActCase {
  GemmAct act;
  const char *name;
  double (*ref)(double);  // null: exact
};
static const ActCase kActs[] = {{GemmAct::None, "none", nullptr},
                                {GemmAct::Relu, "relu", nullptr},
                                {GemmAct::Gelu, "gelu", gelu_ref},
                                {GemmAct::GeluTanh, "gelu_tanh", gelu_tanh_ref}};

static const float kEpiSpecials[] = {0.0f,    -0.0f,  NAN,     1e-3f, -1e-3f, 1e-8f, -1e-8f, 1e-30f,
                                     -1e-30f, 1e-40f, -1e-40f, 20,    -20,    100,   -100,   1e4f,
                                     -1e4f,   1e10f,  -1e10f,  1e30f, -1e30f, 3e38f, -3e38f};
static float epi_input() {
  uint64_t u = g_rng();
  return u % 8 ? uni(-12, 12) : kEpiSpecials[(u >> 8) % (sizeof kEpiSpecials / sizeof *kEpiSpecials)];
}

// act(x) as computed by the kernel for x = c + bias (a float sum). none and relu are exact; the GELUs
// must be within 1e-5 relative or 1e-6 * max(1, |x|) absolute: the tanh form loses relative accuracy
// where 1 + tanh(u) cancels (x << 0) and both underflow far left. Tracks the errors in max_rel (where
// |ref| >= 1e-3) and max_abs (|x| <= 12).
static bool act_ok(const ActCase &a, float x, float got, double &max_rel, double &max_abs) {
  if (std::isnan(x)) return std::isnan(got);
  if (!a.ref) return got == (a.act == GemmAct::Relu && x < 0 ? 0.0f : x);
  const double ref = a.ref(x), err = std::fabs(got - ref);
  if (std::fabs(ref) >= 1e-3) max_rel = std::max(max_rel, err / std::fabs(ref));
  if (std::fabs(x) <= 12) max_abs = std::max(max_abs, err);
  return err <= 1e-5 * std::fabs(ref) || err <= 1e-6 * std::max(1.0, (double)std::fabs(x));
}

static void test_epilogue(const IsaKernels *t, std::vector<std::string> &parts) {
  for (const ActCase &a : kActs) {
    Check ck(t, std::string("epilogue ") + a.name);
    double max_rel = 0, max_abs = 0;
    long calls = 0;
    for (int64_t n = 0; n <= 70; n++)
      for (int64_t stride : {-1, 0, 1}) {  // -1: no bias
        Guarded c(n), bias(stride == 1 ? n : 1);
        for (int64_t j = 0; j < n; j++) c.p[j] = epi_input();
        for (int64_t j = 0; j < (stride == 1 ? n : 1); j++) bias.p[j] = uni(-0.5, 0.5);
        const float *b = stride < 0 ? nullptr : bias.p;
        std::vector<float> x(n);
        for (int64_t j = 0; j < n; j++) x[j] = c.p[j] + (b ? b[j * stride] : 0.0f);
        calls++;
        if (!ck.expect(kernel_call([&] { t->gemm.epilogue_f32(a.act, c.p, n, b, stride < 0 ? 0 : stride); }),
                       "n=%" PRId64 " bias stride %" PRId64 ": touched a guard page", n, stride))
          continue;
        ck.expect(c.slack_ok(), "n=%" PRId64 " bias stride %" PRId64 ": wrote before c", n, stride);
        for (int64_t j = 0; j < n; j++)
          if (!ck.expect(act_ok(a, x[j], c.p[j], max_rel, max_abs),
                         "n=%" PRId64 " bias stride %" PRId64 " j=%" PRId64 ": act(%a) = %a (%.9g)", n, stride, j, x[j],
                         c.p[j], c.p[j]))
            break;
      }
    // Dense over [-12, 12], then the special values, in one long call without bias (the kernel then
    // adds +0, which turns -0 into +0: hence x + 0 below).
    std::vector<float> x;
    for (int i = 0; i <= 48000; i++) x.push_back(-12.0f + 24.0f * (float)i / 48000);
    x.insert(x.end(), std::begin(kEpiSpecials), std::end(kEpiSpecials));
    std::vector<float> c = x;
    t->gemm.epilogue_f32(a.act, c.data(), (int64_t)c.size(), nullptr, 0);
    for (size_t j = 0; j < x.size(); j++)
      if (!ck.expect(act_ok(a, x[j] + 0.0f, c[j], max_rel, max_abs), "sweep: act(%a) = %a (%.9g)", x[j], c[j], c[j]))
        break;
    std::string what = strf("%ld calls + a %zu-value sweep", calls, x.size());
    parts.push_back(
        ck.summary(a.ref ? what + strf(", max rel err %.2g, abs %.2g", max_rel, max_abs) : what + " exact"));
  }
}

// A kernel that touches memory past its extent hits a PROT_NONE page: back to kernel_call, or, outside
// one, say which check did it and stop.
static void on_fault(int) {
  if (g_in_kernel) siglongjmp(g_fault_jump, 1);
  const char *msg = "FAIL out-of-bounds access (guard page) during: ";
  if (write(2, msg, strlen(msg)) < 0 || write(2, g_running, strlen(g_running)) < 0 || write(2, "\n", 1) < 0) _exit(3);
  _exit(3);
}

int main() {
  setvbuf(stdout, nullptr, _IOLBF, 0);  // lines already printed survive a fault
  signal(SIGSEGV, on_fault);
  signal(SIGBUS, on_fault);
  uint64_t seed = getenv("KILN_SEED") ? strtoull(getenv("KILN_SEED"), nullptr, 0) : std::random_device{}();
  g_rng.seed(seed);
  const unsigned supported = kiln_isa_supported();
  printf("gemm_kernels_test: seed %" PRIu64 " (KILN_SEED reproduces), supported isa bits 0x%x\n", seed, supported);
  struct Shape {
    kiln_isa isa;
    int mr, nr;  // the register tile gemm.inc documents
  };
  static const Shape kShapes[] = {
      {KILN_ISA_GENERIC, 4, 4}, {KILN_ISA_AVX2, 6, 16}, {KILN_ISA_AVX512, 14, 32}, {KILN_ISA_NEON, 8, 12}};
  for (Shape s : kShapes) {
    if (!(supported & (1u << s.isa))) {
      printf("skip %s: not supported by this CPU\n", kiln_isa_name(s.isa));
      continue;
    }
    const IsaKernels *t = isa_kernels(s.isa);
    const int failed_before = g_failed_checks;
    {
      Check ck(t, "table");
      ck.expect(!strcmp(t->name, kiln_isa_name(s.isa)), "isa_kernels(%s) is the %s table", kiln_isa_name(s.isa),
                t->name);
      ck.expect(t->gemm.mr == s.mr && t->gemm.nr == s.nr, "tile %dx%d, want %dx%d", t->gemm.mr, t->gemm.nr, s.mr, s.nr);
    }
    std::vector<std::string> parts;
    test_tile(t, parts);
    test_pack(t, parts);
    test_dot(t, parts);
    test_gemv_rows(t, parts);
    test_epilogue(t, parts);
    printf("%-4s %s %dx%d:", g_failed_checks > failed_before ? "FAIL" : "ok", t->name, t->gemm.mr, t->gemm.nr);
    for (size_t i = 0; i < parts.size(); i++) printf("%s %s", i ? ";" : "", parts[i].c_str());
    printf("\n");
  }
  printf(g_failed_checks ? "gemm_kernels_test: %d checks FAILED\n" : "gemm_kernels_test: all checks passed\n",
         g_failed_checks);
  return g_failed_checks ? 1 : 0;
}
