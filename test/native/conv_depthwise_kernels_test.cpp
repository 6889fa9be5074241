// The stride-1 depthwise plane kernels (ConvKernels::depthwise_s1_f32 and
// depthwise_s1_bwd_weight_f32) of every ISA table this build has against float64 sums: 3x3 and
// 5x5, every padding inside the window, heights 1..9, widths 1..70 (a sample), two planes per
// call, and nothing written past them. Built and run by scripts/test_isa_native.sh.
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
            // Two planes per call (weights, bias and lanes of their own), then nothing past them.
            const int P = OH * OW, X = H * Wd, T = R * R;
            std::vector<float> x(2 * X + 64), w(2 * T), y(2 * P + 64, 1e30f), dy(2 * P + 64), lanes(2 * T * 16, 0.f);
            for (auto &v : x) v = u(g);
            for (auto &v : w) v = u(g);
            for (auto &v : dy) v = u(g);
            const float bias[2] = {0.25f, -0.5f};
            if (!K.conv.depthwise_s1_f32(y.data(), x.data(), X, w.data(), bias, 2, R, H, Wd, ph, pw, OH, OW))
              return printf("%s: no kernel R=%d\n", name, R), 1;
            for (int i = 2 * P; i < 2 * P + 64; i++)
              if (y[i] != 1e30f) return printf("%s: wrote past the planes\n", name), 1;
            for (int p = 0; p < 2; p++)
              for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                  double s = bias[p];
                  for (int r = 0; r < R; r++)
                    for (int c = 0; c < R; c++) {
                      const int i = oh + r - ph, j = ow + c - pw;
                      if (i >= 0 && i < H && j >= 0 && j < Wd)
                        s += (double)w[p * T + r * R + c] * x[p * X + i * Wd + j];
                    }
                  worst = std::max(worst, std::fabs(s - y[p * P + oh * OW + ow]));
                }
            {
              K.conv.depthwise_s1_bwd_weight_f32(lanes.data(), T * 16, dy.data(), x.data(), X, 2, R, H, Wd, ph, pw, OH,
                                                 OW);
              for (int p = 0; p < 2; p++)
                for (int t = 0; t < T; t++) {
                  double s = 0, got = 0;
                  for (int q = 0; q < 16; q++) got += lanes[(p * T + t) * 16 + q];
                  for (int oh = 0; oh < OH; oh++)
                    for (int ow = 0; ow < OW; ow++) {
                      const int i = oh + t / R - ph, j = ow + t % R - pw;
                      if (i >= 0 && i < H && j >= 0 && j < Wd)
                        s += (double)dy[p * P + oh * OW + ow] * x[p * X + i * Wd + j];
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
