// The stride-1 depthwise plane kernels (ConvKernels::depthwise_s1_f32 and
// depthwise_s1_bwd_weight_f32) of every ISA table this build has against float64 sums: 3x3 and
// 5x5, every padding inside the window, heights 1..9, widths 1..70 (a sample), and nothing written
// past the plane. scripts/test_isa_native.sh does not build it yet; by hand, with the objects that
// script builds (generic.o, cpu_features.o, and avx2.o avx512.o avx512_bf16.o or neon.o):
//   g++ -std=c++17 -O2 -ffp-contract=off -Inative/include -Inative/core -Inative/cpu/arch
//     test/native/conv_depthwise_kernels_test.cpp <objects> -o t && ./t   (one line)
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "isa.h"
using namespace kiln::cpu;
static int check(const char *name, const IsaKernels &K) {
  std::mt19937 g(7);
  std::uniform_real_distribution<float> u(-1, 1);
  double worst = 0, worstdw = 0;
  int n = 0;
  for (int R : {3, 5})
    for (int H = 1; H <= 9; H++)
      for (int Wd = 1; Wd <= 70; Wd++)
        for (int ph = 0; ph < R; ph++)
          for (int pw = 0; pw < R; pw++) {
            if ((H + Wd + ph * 3 + pw) % 3) continue;  // a sample
            const int OH = H + 2 * ph - R + 1, OW = Wd + 2 * pw - R + 1;
            if (OH < 1 || OW < 1) continue;
            std::vector<float> x(H * Wd + 64), w(R * R), y(OH * OW + 64, 1e30f), dy(OH * OW + 64),
                lanes(R * R * 16, 0.f);
            for (auto &v : x) v = u(g);
            for (auto &v : w) v = u(g);
            for (auto &v : dy) v = u(g);
            // guard values beyond: must not be written
            if (!K.conv.depthwise_s1_f32(y.data(), x.data(), w.data(), R, H, Wd, ph, pw, OH, OW, 0.25f))
              return printf("%s: no kernel R=%d\n", name, R), 1;
            for (int i = OH * OW; i < OH * OW + 64; i++)
              if (y[i] != 1e30f) return printf("%s: wrote past the plane\n", name), 1;
            for (int oh = 0; oh < OH; oh++)
              for (int ow = 0; ow < OW; ow++) {
                double s = 0.25;
                for (int r = 0; r < R; r++)
                  for (int c = 0; c < R; c++) {
                    int i = oh + r - ph, j = ow + c - pw;
                    if (i >= 0 && i < H && j >= 0 && j < Wd) s += (double)w[r * R + c] * x[i * Wd + j];
                  }
                worst = std::max(worst, std::fabs(s - y[oh * OW + ow]));
              }
            if (R == 3) {
              K.conv.depthwise_s1_bwd_weight_f32(lanes.data(), dy.data(), x.data(), R, H, Wd, ph, pw, OH, OW);
              for (int t = 0; t < 9; t++) {
                double s = 0, got = 0;
                for (int q = 0; q < 16; q++) got += lanes[t * 16 + q];
                for (int oh = 0; oh < OH; oh++)
                  for (int ow = 0; ow < OW; ow++) {
                    int i = oh + t / 3 - ph, j = ow + t % 3 - pw;
                    if (i >= 0 && i < H && j >= 0 && j < Wd) s += (double)dy[oh * OW + ow] * x[i * Wd + j];
                  }
                worstdw = std::max(worstdw, std::fabs(s - got));
              }
            }
            n++;
          }
  printf("%s: %d planes, fwd max err %.3g, dw max err %.3g\n", name, n, worst, worstdw);
  return worst > 1e-4 || worstdw > 1e-4;
}
int main() {
  int bad = check("generic", kGenericKernels);
#if defined(__aarch64__)
  bad |= check("neon", kNeonKernels);
#else
  bad |= check("avx2", kAvx2Kernels);
  bad |= check("avx512", kAvx512Kernels);
#endif
  return bad;
}
