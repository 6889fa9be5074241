// Conformance test for the per-ISA float64 exp (isa.h: IsaKernels::exp_f64, arch/math_f64.inc): for every table
// this CPU can run, against the C library's exp over a random sweep of [-750, 715], dense sweeps near 0 and the
// overflow and underflow edges (subnormal results included), and the special values (NaN, +-inf, +-0, the
// clamp limits); at most 2 ulp, special values exact. Tails: every length 0..40 writes exactly n outputs (a
// poisoned guard must survive), in place too. Exit status 1 on any failure. Built and run by
// scripts/test_isa_native.sh (natively, then AArch64 under qemu). KILN_SEED reproduces a run.
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "../../native/cpu/arch/isa.h"

using namespace kiln::cpu;

static int64_t ordered(double x) {  // doubles to integers in the same order, so ulp distance is a difference
  int64_t i;
  std::memcpy(&i, &x, sizeof i);
  return i < 0 ? std::numeric_limits<int64_t>::min() - i : i;
}

static int64_t ulps(double got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : INT64_MAX;
  if (std::isinf(want) || want == 0) return got == want ? 0 : INT64_MAX;
  const int64_t d = ordered(got) - ordered(want);
  return d < 0 ? -d : d;
}

int main() {
  uint64_t seed = getenv("KILN_SEED") ? strtoull(getenv("KILN_SEED"), nullptr, 0) : std::random_device{}();
  std::mt19937_64 rng(seed);
  printf("math_f64_kernels_test: seed %" PRIu64 " (KILN_SEED reproduces)\n", seed);
  std::vector<double> xs;
  std::uniform_real_distribution<double> wide(-750.0, 715.0), small(-1e-3, 1e-3), lo(-746.0, -700.0), hi(700.0, 710.0);
  for (int i = 0; i < 200000; i++) xs.push_back(wide(rng));
  for (int i = 0; i < 20000; i++) xs.push_back(small(rng)), xs.push_back(lo(rng)), xs.push_back(hi(rng));
  for (int k = -60; k <= 60; k++) xs.push_back(k * 0.34657359027997264);  // near the reduction's interval ends
  const double inf = std::numeric_limits<double>::infinity();
  const double specials[] = {0.0,
                             -0.0,
                             inf,
                             -inf,
                             std::nan(""),
                             709.782712893384,
                             709.7827128933841,
                             -745.1332191019411,
                             -745.1332191019412,
                             -708.3964185322641,
                             710.0,
                             -746.0,
                             1e-300,
                             -1e-300,
                             1.0,
                             -1.0};
  int failures = 0;
  const unsigned supported = kiln_isa_supported();
  for (kiln_isa isa : {KILN_ISA_GENERIC, KILN_ISA_AVX2, KILN_ISA_AVX512, KILN_ISA_NEON}) {
    if (!(supported & (1u << isa))) continue;
    const IsaKernels *t = isa_kernels(isa);
    std::vector<double> out(xs.size());
    t->exp_f64(out.data(), xs.data(), (int64_t)xs.size());
    int64_t worst = 0;
    long bad = 0;
    for (size_t i = 0; i < xs.size(); i++) {
      const int64_t u = ulps(out[i], std::exp(xs[i]));
      worst = std::max(worst, u);
      if (u > 2 && bad++ < 5)
        printf("FAIL %s exp(%.17g) = %.17g, libm %.17g (%" PRId64 " ulp)\n", kiln_isa_name(isa), xs[i], out[i],
               std::exp(xs[i]), u);
    }
    for (double x : specials) {
      double o;
      t->exp_f64(&o, &x, 1);
      const double want = std::exp(x);
      const bool ok =
          std::isnan(want) ? std::isnan(o) : (std::isinf(want) || want == 0 ? o == want : ulps(o, want) <= 2);
      if (!ok && bad++ < 10) printf("FAIL %s exp(%.17g) = %.17g, libm %.17g\n", kiln_isa_name(isa), x, o, want);
    }
    for (int n = 0; n <= 40; n++) {  // tails: exactly n written, the guard kept; in place gives the same
      std::vector<double> src(n + 1, 0.5), dst(n + 1, -7.0);
      t->exp_f64(dst.data(), src.data(), n);
      bool ok = dst[n] == -7.0;
      for (int i = 0; i < n; i++) ok = ok && ulps(dst[i], std::exp(0.5)) <= 2;
      t->exp_f64(src.data(), src.data(), n);
      for (int i = 0; i < n; i++) ok = ok && src[i] == dst[i];
      if (!ok && bad++ < 10) printf("FAIL %s tail n=%d\n", kiln_isa_name(isa), n);
    }
    failures += bad > 0;
    printf("%-4s %s exp_f64: %zu values, max %" PRId64 " ulp from libm, specials and tails exact\n",
           bad ? "FAIL" : "ok", kiln_isa_name(isa), xs.size(), worst);
  }
  printf(failures ? "math_f64_kernels_test: FAILED\n" : "math_f64_kernels_test: all checks passed\n");
  return failures ? 1 : 0;
}
