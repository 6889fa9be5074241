// The stride-1 depthwise plane kernels (ConvKernels::depthwise_s1_f32 and
// depthwise_s1_bwd_weight_f32) of every ISA table this build has against float64 sums: 3x3 and
// 5x5, every padding inside the window, heights 1..9, widths 1..70 (a sample), two planes per
// call, and nothing written past them; the fused stride-1 backward (depthwise_s1_bwd_f32) bit for
// bit those two kernels, its bias lanes against float64; the stride-2 column phases
// (phase_planes_f32) exact, zeros kept across planes, and their merge (phase_merge_f32) exact. Built and run by
// scripts/test_isa_native.sh.
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
// The fused backward of three planes against the separate kernels (dx: the stride-1 forward of dy
// by the flipped weights; dw lanes), bit for bit, and its bias lanes against float64 sums.
static int check_fused(const char *name, const IsaKernels &K) {
  std::mt19937 g(11);
  std::uniform_real_distribution<float> u(-1, 1);
  int n = 0;
  double worst = 0;
  for (int R : {3, 5})
    for (int H = 1; H <= 8; H++)
      for (int Wd = 1; Wd <= 40; Wd += 3)
        for (int ph = 0; ph < R; ph += 2) {
          const int pw = (Wd / 3) % R, OH = H + 2 * ph - R + 1, OW = Wd + 2 * pw - R + 1;
          if (OH < 1 || OW < 1) continue;
          const int P = OH * OW, X = H * Wd, T = R * R, np = 3;
          std::vector<float> x(np * X), w(np * T), dy(np * P), dx(np * X), dx2(np * X), l(np * T * 16, 0.f),
              l2(np * T * 16, 0.f), bl(np * 16, 0.f);
          for (auto *v : {&x, &w, &dy})
            for (auto &e : *v) e = u(g);
          K.conv.depthwise_s1_bwd_f32(dx.data(), l.data(), T * 16, bl.data(), dy.data(), x.data(), w.data(), np, R, H,
                                      Wd, ph, pw, OH, OW);
          for (int p = 0; p < np; p++)
            K.conv.depthwise_s1_f32(dx2.data() + p * X, dy.data() + p * P, P, w.data() + p * T, nullptr, 1, R, OH, OW,
                                    R - 1 - ph, R - 1 - pw, H, Wd);
          K.conv.depthwise_s1_bwd_weight_f32(l2.data(), T * 16, dy.data(), x.data(), X, np, R, H, Wd, ph, pw, OH, OW);
          if (dx != dx2 || l != l2) return printf("%s: fused backward differs from the separate kernels\n", name), 1;
          for (int p = 0; p < np; p++) {
            double s = 0, got = 0;
            for (int i = 0; i < P; i++) s += dy[p * P + i];
            for (int q = 0; q < 16; q++) got += bl[p * 16 + q];
            worst = std::max(worst, std::fabs(s - got));
          }
          n++;
        }
  printf("%s: fused backward %d shapes bitwise, bias max err %.3g\n", name, n, worst);
  return worst > 1e-4;
}

// Column phases of two planes in turn into one buffer (the second keeping the first's zeros)
// against the padded plane's even and odd columns, exactly, with nothing written past the slack.
static int check_phases(const char *name, const IsaKernels &K) {
  int n = 0;
  for (int H = 1; H <= 5; H++)
    for (int Wd = 1; Wd <= 70; Wd++)
      for (int ph = 0; ph <= 2; ph++)
        for (int pw = 0; pw <= 4; pw++) {
          const int Hp = H + 2 * ph, all = (Wd + 1) / 2 + (pw + 1) / 2;
          const int ls = (all + 2 * kConvLanes - 1) / kConvLanes * kConvLanes, ps = Hp * ls + kConvLanes;
          std::vector<float> buf(2 * ps + 64, 1e30f), x(Wd * H);
          for (int plane = 0; plane < 2; plane++) {
            for (int i = 0; i < H * Wd; i++) x[i] = (float)(plane * 1000 + i + 1);
            K.conv.phase_planes_f32(buf.data(), buf.data() + ps, ls, x.data(), H, Wd, Hp, ph, pw, plane == 0);
            for (int q = 0; q < 2; q++)
              for (int i = 0; i < Hp; i++)
                for (int j = 0; j < ls; j++) {
                  const int r = i - ph, c = 2 * j + q - pw;
                  const float want = r >= 0 && r < H && c >= 0 && c < Wd ? x[r * Wd + c] : 0.f;
                  if (buf[q * ps + i * ls + j] != want)
                    return printf("%s: phase %d (%d, %d) of H%d W%d pad %d %d\n", name, q, i, j, H, Wd, ph, pw), 1;
                }
            for (int i = 2 * ps; i < 2 * ps + 64; i++)
              if (buf[i] != 1e30f) return printf("%s: phases wrote past their slack\n", name), 1;
          }
          n++;
        }
  // Their inverse: four phases merged into a cropped plane, exactly, nothing written past it.
  for (int H = 1; H <= 5; H++)
    for (int Wd = 1; Wd <= 70; Wd++)
      for (int ph = 0; ph <= 2; ph++)
        for (int pw = 0; pw <= 4; pw++) {
          const int Hm = (H + ph + 2) / 2, ls = ((Wd + pw + 2) / 2 + kConvLanes - 1) / kConvLanes * kConvLanes;
          const int ps = Hm * ls;
          std::vector<float> d(4 * ps + 64), row(2 * ls + kConvLanes), dx(H * Wd + 64, 1e30f);
          for (size_t i = 0; i < d.size(); i++) d[i] = (float)i;
          K.conv.phase_merge_f32(dx.data(), d.data(), ps, ls, row.data(), H, Wd, ph, pw);
          for (int i = 0; i < H; i++)
            for (int j = 0; j < Wd; j++) {
              const int a = (i + ph) % 2, b = (j + pw) % 2;
              if (dx[i * Wd + j] != d[(2 * a + b) * ps + (i + ph) / 2 * ls + (j + pw) / 2])
                return printf("%s: merged phases (%d, %d) of H%d W%d pad %d %d\n", name, i, j, H, Wd, ph, pw), 1;
            }
          for (int i = H * Wd; i < H * Wd + 64; i++)
            if (dx[i] != 1e30f) return printf("%s: merge wrote past the plane\n", name), 1;
          n++;
        }
  printf("%s: column phases and their merge, %d geometries, exact\n", name, n);
  return 0;
}

int main() {
  int bad = 0;
  for (auto [name, K] : {
         std::pair<const char *, const IsaKernels *>{"generic", &kGenericKernels},
#if defined(__aarch64__)
             {"neon", &kNeonKernels}
#else
                         {"avx2", &kAvx2Kernels}, {"avx512", &kAvx512Kernels}
#endif
       })
    bad |= check(name, *K) | check_fused(name, *K) | check_phases(name, *K);
  return bad;
}
