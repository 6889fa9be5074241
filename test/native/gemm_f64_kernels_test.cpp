// Conformance test for the per-ISA float64 register tile (isa.h: GemmF64Kernels, written once in
// arch/gemm_f64.inc): for every table this CPU can run, every tile size mr x nr up to the register tile,
// K from 0 to past a cache block, and alpha/beta pairs (beta = 0 over NaN must not read C), against a long
// double reference with an error bound scaled by the summed magnitudes of the terms. Each row of C sits in
// poison that must survive (a store past nr shows), and each element must equal the full tile's bits (one
// fma chain per element, whatever the tile size). Exit status 1 on any failure. Built and run by
// scripts/test_isa_native.sh (natively, then AArch64 under qemu). KILN_SEED reproduces a run.
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "../../native/cpu/arch/isa.h"

using namespace kiln::cpu;

static int g_failures = 0;

static bool same_bits(double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; }

// One mr x nr tile of C (row stride ldc, poison between rows and after the last) from packed operands.
static bool run(const GemmF64Kernels &g, int64_t kc, const std::vector<double> &a, const std::vector<double> &b, int mr,
                int nr, double alpha, double beta, const std::vector<double> &c0, std::vector<double> &out,
                double poison) {
  const int64_t ldc = nr + 3;
  std::vector<double> c((size_t)(mr * ldc + 8), poison);
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) c[i * ldc + j] = c0[i * g.nr + j];
  g.tile(kc, a.data(), b.data(), c.data(), ldc, mr, nr, alpha, beta);
  bool untouched = true;
  for (size_t p = 0; p < c.size(); p++) {
    const int64_t i = (int64_t)p / ldc, j = (int64_t)p % ldc;
    if (i < mr && j < nr)
      out[i * g.nr + j] = c[p];
    else
      untouched = untouched && same_bits(c[p], poison);
  }
  return untouched;
}

int main() {
  uint64_t seed = getenv("KILN_SEED") ? strtoull(getenv("KILN_SEED"), nullptr, 0) : std::random_device{}();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uni(-1.0, 1.0);
  const unsigned supported = kiln_isa_supported();
  printf("gemm_f64_kernels_test: seed %" PRIu64 " (KILN_SEED reproduces)\n", seed);
  const double poison = -std::nan("0x5eed");
  struct AB {
    double alpha, beta;
  } const kAB[] = {{1, 0}, {-0.75, 0}, {1, 1}, {2.5, -0.5}};
  for (kiln_isa isa : {KILN_ISA_GENERIC, KILN_ISA_AVX2, KILN_ISA_AVX512, KILN_ISA_NEON}) {
    if (!(supported & (1u << isa))) continue;
    const GemmF64Kernels &g = isa_kernels(isa)->gemm_f64;
    long tiles = 0, fails = 0;
    double worst = 0;
    for (int64_t kc : {0, 1, 2, 7, 64, 300}) {
      std::vector<double> a((size_t)(kc * g.mr + 1)), b((size_t)(kc * g.nr + 1)), c0((size_t)(g.mr * g.nr));
      for (double &x : a) x = uni(rng);
      for (double &x : b) x = uni(rng) * std::ldexp(1.0, (int)(rng() % 21) - 10);
      for (double &x : c0) x = uni(rng);
      for (AB ab : kAB) {
        // beta = 0 must not read C: give it NaN there.
        std::vector<double> cin = c0;
        if (ab.beta == 0) std::fill(cin.begin(), cin.end(), std::nan(""));
        std::vector<double> full((size_t)(g.mr * g.nr)), out((size_t)(g.mr * g.nr));
        run(g, kc, a, b, g.mr, g.nr, ab.alpha, ab.beta, cin, full, poison);
        for (int mr = 1; mr <= g.mr; mr++)
          for (int nr = 1; nr <= g.nr; nr++) {
            tiles++;
            const bool untouched = run(g, kc, a, b, mr, nr, ab.alpha, ab.beta, cin, out, poison);
            bool ok = untouched;
            for (int i = 0; i < mr && ok; i++)
              for (int j = 0; j < nr && ok; j++) {
                long double sum = 0, mag = 0;
                for (int64_t k = 0; k < kc; k++) {
                  const long double t = (long double)a[k * g.mr + i] * b[k * g.nr + j];
                  sum += t, mag += std::fabs((double)t);
                }
                const double cij = ab.beta != 0 ? c0[i * g.nr + j] : 0.0;
                const long double ref = ab.alpha * sum + ab.beta * (long double)cij;
                const double bound =
                    (double)(kc + 3) * 0x1p-52 * (std::fabs(ab.alpha) * (double)mag + std::fabs(ab.beta * cij));
                const double got = out[i * g.nr + j], err = std::fabs((double)(got - ref));
                if (bound > 0) worst = std::max(worst, err / bound);
                ok = err <= bound && same_bits(got, full[i * g.nr + j]);
                if (!ok && fails < 5)
                  printf("FAIL %s kc=%" PRId64
                         " mr=%d nr=%d alpha=%g beta=%g: C[%d,%d] = %.17g, ref %.17Lg, full tile %.17g\n",
                         kiln_isa_name(isa), kc, mr, nr, ab.alpha, ab.beta, i, j, got, ref, full[i * g.nr + j]);
              }
            if (!untouched && fails < 5)
              printf("FAIL %s kc=%" PRId64 " mr=%d nr=%d: wrote outside the tile\n", kiln_isa_name(isa), kc, mr, nr);
            fails += !ok;
          }
      }
    }
    g_failures += fails > 0;
    printf("%-4s %s float64 tile %dx%d: %ld tiles, %ld failed, max err %.2f of bound\n", fails ? "FAIL" : "ok",
           kiln_isa_name(isa), g.mr, g.nr, tiles, fails, worst);
  }
  printf(g_failures ? "gemm_f64_kernels_test: FAILED\n" : "gemm_f64_kernels_test: all checks passed\n");
  return g_failures ? 1 : 0;
}
