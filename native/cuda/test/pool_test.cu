// Launcher tests for the pooling family (native/cuda/kernels/pool.cu): max pooling (values and
// indices, ties, NaNs, padding, dilation, ceil-mode overhang, windows with no tap inside), average
// pooling (countIncludePad, fixed divisor, ceil mode) and adaptive average pooling, forward and
// backward, and the deterministic max-pooling backward, against float64 host references on random
// shapes in float32 and float64, with the CPU's bits expected (the launchers sum in the CPU's
// order); every error status; then the bench (2x2/2 and 3x3/2 max pooling, 2x2/2 average pooling
// and the max-pooling backward over a 1 GiB float32 NCHW tensor, against the device copy).
// Build: scripts/build_cuda_tests.sh pool_test; run: build-cuda-tests/pool_test [--no-bench].
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "harness.cuh"
#include "pool.h"
#include "status_checks.cuh"

using namespace kiln::cuda;
using namespace kiln::cuda::test;

namespace {

void sync_ok(const std::string &what) {
  cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess)
    std::printf("{\"kind\":\"note\",\"what\":\"%s\",\"cuda\":\"%s\"}\n", what.c_str(), cudaGetErrorString(e));
  expect(what + " runs", e == cudaSuccess ? 0 : 1, 0);
}

// Elements whose bits differ (NaN equals NaN), as a check that must be 0.
template <class T>
double bit_mismatches(const std::vector<T> &got, const std::vector<T> &want) {
  double n = 0;
  for (size_t i = 0; i < want.size(); i++)
    if (!(got[i] == want[i] || (std::isnan((double)got[i]) && std::isnan((double)want[i])))) n++;
  return n;
}

// PyTorch's pooled size (ts/ops/pool.ts poolOutSize).
int64_t out_size(int64_t n, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil) {
  const int64_t span = n + 2 * p - d * (k - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (ceil ? (span + s - 1) / s : span / s) + 1;
  if (ceil && (out - 1) * s >= n + p) out--;
  return out;
}

template <class T>
constexpr const char *tname() {
  return sizeof(T) == 4 ? "f32" : "f64";
}

// ---- max pooling ----

// a: kernel h, w, stride h, w, padding h, w, dilation h, w.
template <class T>
void max_ref(const std::vector<T> &x, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, const int64_t *a,
             std::vector<T> &y, std::vector<int64_t> &idx) {
  y.assign(planes * OH * OW, T(0));
  idx.assign(planes * OH * OW, 0);
  for (int64_t p = 0; p < planes; p++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        T best = -std::numeric_limits<T>::infinity();
        int64_t at = -1;
        for (int64_t r = 0; r < a[0]; r++)
          for (int64_t s = 0; s < a[1]; s++) {
            const int64_t ih = oh * a[2] - a[4] + r * a[6], iw = ow * a[3] - a[5] + s * a[7];
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            const T v = x[(p * H + ih) * W + iw];
            if (at < 0 || v > best || std::isnan(v)) best = v, at = ih * W + iw;
          }
        y[(p * OH + oh) * OW + ow] = best;
        idx[(p * OH + oh) * OW + ow] = at;
      }
}

// The CPU's gradient: a serial scatter-add of gy by the indices into zeros, in T.
template <class T>
std::vector<T> max_backward_ref(const std::vector<T> &gy, const std::vector<int64_t> &idx, int64_t planes, int64_t HW,
                                int64_t P) {
  std::vector<T> gx(planes * HW, T(0));
  for (int64_t p = 0; p < planes; p++)
    for (int64_t o = 0; o < P; o++) {
      const int64_t i = idx[p * P + o];
      if (i >= 0 && i < HW) gx[p * HW + i] = gx[p * HW + i] + gy[p * P + o];
    }
  return gx;
}

// Values drawn from few levels (ties) or normal, with optional NaNs.
template <class T>
std::vector<T> pool_input(size_t n, int kind) {
  std::vector<T> v = randn<T>(n);
  if (kind == 1)
    for (auto &e : v) e = (T)randint(-2, 2);
  if (kind == 2)
    for (size_t i = 0; i < n; i++)
      if (randint(0, 6) == 0) v[i] = std::numeric_limits<T>::quiet_NaN();
  return v;
}

int g_variant = 1;  // the max_pool2d_variant_cuda variant under test

template <class T>
void max_case(int64_t N, int64_t C, int64_t H, int64_t W, const int64_t *a, int64_t OH, int64_t OW, int kind,
              int64_t offset, const std::string &label) {
  const int64_t planes = N * C;
  const std::string name = std::string("max_pool2d_") + tname<T>() + " v" + std::to_string(g_variant) + " " + label;
  std::vector<T> hx = pool_input<T>(planes * H * W, kind);
  DevBuf<T> xb(planes * H * W + offset), yb(planes * OH * OW), gyb(planes * OH * OW), gxb(planes * H * W);
  DevBuf<int64_t> ib(planes * OH * OW);
  KT_CHECK(cudaMemcpy(xb.p + offset, hx.data(), hx.size() * sizeof(T), cudaMemcpyHostToDevice));
  yb.poison(), ib.poison(), gxb.poison();
  const kiln_dtype dt = dtype_of<T>();
  kiln_tensor x = desc(xb.p + offset, dt, {N, C, H, W}), y = desc(yb.p, dt, {N, C, OH, OW}),
              idx = desc(ib.p, KILN_INT64, {N, C, OH, OW});
  double attr[8];
  for (int i = 0; i < 8; i++) attr[i] = (double)a[i];
  expect_ok(name, max_pool2d_variant_cuda(launch(), g_variant, y, idx, x, attr));
  sync_ok(name);
  std::vector<T> want;
  std::vector<int64_t> want_i;
  max_ref(hx, planes, H, W, OH, OW, a, want, want_i);
  std::vector<T> got = yb.download();
  std::vector<int64_t> got_i = ib.download();
  expect(name + " values (bits)", bit_mismatches(got, want), 0);
  double bad_i = 0;
  for (size_t i = 0; i < want_i.size(); i++) bad_i += got_i[i] != want_i[i];
  expect(name + " indices", bad_i, 0);
  // Backward by the reference's indices (so a forward failure does not hide a backward one).
  std::vector<T> hgy = randn<T>(planes * OH * OW);
  gyb.upload(hgy);
  ib.upload(want_i);
  kiln_tensor gy = desc(gyb.p, dt, {N, C, OH, OW}), gx = desc(gxb.p, dt, {N, C, H, W});
  expect_ok(name + " backward", max_pool2d_backward_cuda(launch(), gx, gy, idx, attr));
  sync_ok(name + " backward");
  std::vector<T> gwant = max_backward_ref(hgy, want_i, planes, H * W, OH * OW);
  expect(name + " backward (bits)", bit_mismatches(gxb.download(), gwant), 0);
}

template <class T>
void max_tests() {
  // Fixed cases: the op table's configs (ts/ops/pool_rows.ts), the fast 2x2/2 path with W even
  // (paired loads), W odd, a misaligned base (scalar), ceil-mode overhang, and over-sized outputs
  // (windows with no tap inside: -inf and index -1).
  struct Cfg {
    int64_t N, C, H, W, k0, k1, s0, s1, p0, p1, d0, d1;
    bool ceil;
  };
  const Cfg cfgs[] = {
      {2, 3, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1, false},   {1, 2, 9, 11, 3, 3, 2, 2, 1, 1, 1, 1, true},
      {2, 2, 7, 6, 3, 2, 1, 2, 1, 1, 1, 1, false},   {1, 3, 10, 9, 2, 3, 1, 1, 0, 1, 2, 2, false},
      {1, 1, 5, 5, 3, 3, 3, 3, 1, 1, 1, 1, true},    {3, 5, 33, 64, 2, 2, 2, 2, 0, 0, 1, 1, false},
      {2, 3, 17, 31, 2, 2, 2, 2, 0, 0, 1, 1, true},  {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, false},
      {2, 4, 65, 66, 3, 3, 2, 2, 1, 1, 1, 1, false}, {1, 2, 12, 13, 4, 3, 3, 2, 2, 1, 2, 3, true},
      {2, 2, 9, 12, 2, 2, 2, 2, 0, 0, 1, 1, true},   {1, 3, 6, 4, 2, 2, 2, 2, 0, 0, 1, 1, false},
  };
  for (const Cfg &c : cfgs)
    for (int kind = 0; kind < 3; kind++)
      for (int64_t off : {0, 1}) {
        const int64_t a[8] = {c.k0, c.k1, c.s0, c.s1, c.p0, c.p1, c.d0, c.d1};
        const int64_t OH = out_size(c.H, c.k0, c.s0, c.p0, c.d0, c.ceil),
                      OW = out_size(c.W, c.k1, c.s1, c.p1, c.d1, c.ceil);
        char label[160];
        std::snprintf(label, sizeof label, "[%lld,%lld,%lld,%lld] k%lld,%lld s%lld,%lld p%lld,%lld d%lld,%lld%s %s%s",
                      (long long)c.N, (long long)c.C, (long long)c.H, (long long)c.W, (long long)c.k0, (long long)c.k1,
                      (long long)c.s0, (long long)c.s1, (long long)c.p0, (long long)c.p1, (long long)c.d0,
                      (long long)c.d1, c.ceil ? " ceil" : "",
                      kind == 0   ? "normal"
                      : kind == 1 ? "ties"
                                  : "nans",
                      off ? " offset" : "");
        max_case<T>(c.N, c.C, c.H, c.W, a, OH, OW, kind, off, label);
      }
  {
    const int64_t a[8] = {2, 2, 2, 2, 0, 0, 1, 1};
    max_case<T>(1, 2, 4, 4, a, 4, 3, 0, 0, "[1,2,4,4] 2x2/2 into 4x3 (empty windows)");
  }
  // Random shapes.
  for (int it = 0; it < 40; it++) {
    int64_t a[8];
    a[0] = randint(1, 4), a[1] = randint(1, 4), a[2] = randint(1, 4), a[3] = randint(1, 4);
    a[4] = randint(0, a[0] / 2), a[5] = randint(0, a[1] / 2), a[6] = randint(1, 3), a[7] = randint(1, 3);
    const int64_t N = randint(1, 3), C = randint(1, 4);
    const int64_t H = randint(a[6] * (a[0] - 1) + 1, 40), W = randint(a[7] * (a[1] - 1) + 1, 40);
    const bool ceil = randint(0, 1);
    const int64_t OH = out_size(H, a[0], a[2], a[4], a[6], ceil), OW = out_size(W, a[1], a[3], a[5], a[7], ceil);
    char label[160];
    std::snprintf(label, sizeof label, "random %d [%lld,%lld,%lld,%lld] k%lld,%lld s%lld,%lld p%lld,%lld d%lld,%lld%s",
                  it, (long long)N, (long long)C, (long long)H, (long long)W, (long long)a[0], (long long)a[1],
                  (long long)a[2], (long long)a[3], (long long)a[4], (long long)a[5], (long long)a[6], (long long)a[7],
                  ceil ? " ceil" : "");
    max_case<T>(N, C, H, W, a, OH, OW, (int)randint(0, 2), randint(0, 1), label);
  }
}

// ---- average pooling ----

struct Span {
  int64_t lo, hi;
  double div;
};
// a: kernel, stride, padding along one axis; adaptive when k == 0.
std::vector<Span> spans_ref(int64_t n, int64_t on, int64_t k, int64_t s, int64_t p, bool include, bool adaptive) {
  std::vector<Span> v(on);
  for (int64_t o = 0; o < on; o++) {
    if (adaptive) {
      const int64_t lo = (int64_t)std::floor((double)(o * n) / on), hi = (int64_t)std::ceil((double)((o + 1) * n) / on);
      v[o] = {lo, hi, (double)(hi - lo)};
      continue;
    }
    const int64_t start = o * s - p, end = std::min(start + k, n + p);
    const int64_t lo = std::max<int64_t>(start, 0), hi = std::max(std::min(end, n), lo);
    v[o] = {lo, hi, (double)(include ? end - start : hi - lo)};
  }
  return v;
}

// Forward (pooled from image) or backward (image gradient from pooled), in double, rounded to T.
template <class T>
std::vector<T> avg_ref(const std::vector<T> &in, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                       const std::vector<Span> &hs, const std::vector<Span> &ws, double divisor, bool backward) {
  std::vector<double> out(planes * (backward ? H * W : OH * OW), 0.0);
  for (int64_t p = 0; p < planes; p++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        const double div = divisor > 0 ? divisor : hs[oh].div * ws[ow].div;
        const int64_t o = (p * OH + oh) * OW + ow;
        double sum = 0;
        for (int64_t i = hs[oh].lo; i < hs[oh].hi; i++)
          for (int64_t j = ws[ow].lo; j < ws[ow].hi; j++) {
            if (backward)
              out[(p * H + i) * W + j] += (double)in[o] / div;
            else
              sum += (double)in[(p * H + i) * W + j];
          }
        if (!backward) out[o] = sum / div;
      }
  std::vector<T> r(out.size());
  for (size_t i = 0; i < out.size(); i++) r[i] = (T)out[i];
  return r;
}

// k == 0: adaptive. attr as the op: kernel h, w, stride h, w, padding h, w, countIncludePad, divisor.
template <class T>
void avg_case(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW, const double *attr, bool adaptive,
              const std::string &label) {
  const int64_t planes = N * C;
  const kiln_dtype dt = dtype_of<T>();
  const std::vector<Span> hs = spans_ref(H, OH, (int64_t)attr[0], (int64_t)attr[2], (int64_t)attr[4], attr[6] != 0,
                                         adaptive),
                          ws = spans_ref(W, OW, (int64_t)attr[1], (int64_t)attr[3], (int64_t)attr[5], attr[6] != 0,
                                         adaptive);
  const double divisor = adaptive ? 0 : attr[7];
  const double tol = sizeof(T) == 4 ? 1e-6 : 1e-14;
  for (bool backward : {false, true}) {
    const std::string name = std::string(adaptive ? "adaptive_avg_pool2d" : "avg_pool2d") +
                             (backward ? "_backward_" : "_") + tname<T>() + " " + label;
    const int64_t nin = planes * (backward ? OH * OW : H * W), nout = planes * (backward ? H * W : OH * OW);
    std::vector<T> hin = randn<T>(nin);
    DevBuf<T> ib(nin), ob(nout);
    ib.upload(hin);
    ob.poison();
    kiln_tensor img = desc(backward ? ob.p : ib.p, dt, {N, C, H, W}),
                pooled = desc(backward ? ib.p : ob.p, dt, {N, C, OH, OW});
    expect_ok(name,
              avg_pool2d_cuda(launch(), backward ? img : pooled, backward ? pooled : img, attr, adaptive, backward));
    sync_ok(name);
    std::vector<T> want = avg_ref(hin, planes, H, W, OH, OW, hs, ws, divisor, backward), got = ob.download();
    expect(name, rel_err(got, to_d(want)), tol);
    expect(name + " (bits)", bit_mismatches(got, want), 0);
  }
}

template <class T>
void avg_tests() {
  // The op table's configs and a few more: padding counted or not, a fixed divisor, ceil mode.
  struct Cfg {
    int64_t N, C, H, W, k0, k1, s0, s1, p0, p1;
    bool ceil;
  };
  const Cfg cfgs[] = {
      {2, 3, 8, 8, 2, 2, 2, 2, 0, 0, false}, {1, 2, 9, 11, 3, 3, 2, 2, 1, 1, true},
      {2, 2, 7, 6, 3, 2, 1, 2, 1, 1, false}, {1, 3, 10, 9, 2, 3, 1, 1, 0, 1, false},
      {1, 1, 5, 5, 3, 3, 3, 3, 1, 1, true},  {3, 4, 33, 65, 2, 2, 2, 2, 0, 0, true},
      {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, false}, {2, 2, 20, 17, 5, 4, 3, 2, 2, 2, true},
  };
  for (const Cfg &c : cfgs)
    for (int variant = 0; variant < 3; variant++) {
      const int64_t OH = out_size(c.H, c.k0, c.s0, c.p0, 1, c.ceil), OW = out_size(c.W, c.k1, c.s1, c.p1, 1, c.ceil);
      const double attr[8] = {(double)c.k0,
                              (double)c.k1,
                              (double)c.s0,
                              (double)c.s1,
                              (double)c.p0,
                              (double)c.p1,
                              variant == 1 ? 1.0 : 0.0,
                              variant == 2 ? 3.0 : 0.0};
      char label[160];
      std::snprintf(label, sizeof label, "[%lld,%lld,%lld,%lld] k%lld,%lld s%lld,%lld p%lld,%lld%s %s", (long long)c.N,
                    (long long)c.C, (long long)c.H, (long long)c.W, (long long)c.k0, (long long)c.k1, (long long)c.s0,
                    (long long)c.s1, (long long)c.p0, (long long)c.p1, c.ceil ? " ceil" : "",
                    variant == 0   ? "exclude-pad"
                    : variant == 1 ? "include-pad"
                                   : "divisor 3");
      avg_case<T>(c.N, c.C, c.H, c.W, OH, OW, attr, false, label);
    }
  for (int it = 0; it < 30; it++) {
    const int64_t k0 = randint(1, 5), k1 = randint(1, 5), s0 = randint(1, 4), s1 = randint(1, 4);
    const int64_t p0 = randint(0, k0 / 2), p1 = randint(0, k1 / 2), N = randint(1, 3), C = randint(1, 3);
    const int64_t H = randint(k0, 37), W = randint(k1, 37);
    const bool ceil = randint(0, 1), include = randint(0, 1);
    const double divisor = randint(0, 3) == 0 ? (double)randint(1, 9) : 0.0;
    const int64_t OH = out_size(H, k0, s0, p0, 1, ceil), OW = out_size(W, k1, s1, p1, 1, ceil);
    const double attr[8] = {(double)k0, (double)k1, (double)s0,          (double)s1,
                            (double)p0, (double)p1, include ? 1.0 : 0.0, divisor};
    char label[160];
    std::snprintf(label, sizeof label, "random %d [%lld,%lld,%lld,%lld] k%lld,%lld s%lld,%lld p%lld,%lld%s%s div%g", it,
                  (long long)N, (long long)C, (long long)H, (long long)W, (long long)k0, (long long)k1, (long long)s0,
                  (long long)s1, (long long)p0, (long long)p1, ceil ? " ceil" : "", include ? " include-pad" : "",
                  divisor);
    avg_case<T>(N, C, H, W, OH, OW, attr, false, label);
  }
  // Adaptive: shrinking, growing (overlapping regions), equal, and size 1 on either side.
  const int64_t ad[][6] = {{2, 3, 10, 9, 3, 4},  {1, 2, 7, 5, 7, 5},   {2, 2, 5, 3, 8, 7},  {1, 1, 1, 1, 3, 2},
                           {1, 3, 17, 23, 1, 1}, {3, 2, 64, 48, 7, 7}, {1, 1, 13, 1, 5, 1}, {2, 1, 9, 11, 4, 6}};
  const double none[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (const auto &c : ad) {
    char label[96];
    std::snprintf(label, sizeof label, "[%lld,%lld,%lld,%lld] -> %lldx%lld", (long long)c[0], (long long)c[1],
                  (long long)c[2], (long long)c[3], (long long)c[4], (long long)c[5]);
    avg_case<T>(c[0], c[1], c[2], c[3], c[4], c[5], none, true, label);
  }
  for (int it = 0; it < 20; it++) {
    const int64_t N = randint(1, 3), C = randint(1, 3), H = randint(1, 40), W = randint(1, 40);
    const int64_t OH = randint(1, 12), OW = randint(1, 12);
    char label[96];
    std::snprintf(label, sizeof label, "random %d [%lld,%lld,%lld,%lld] -> %lldx%lld", it, (long long)N, (long long)C,
                  (long long)H, (long long)W, (long long)OH, (long long)OW);
    avg_case<T>(N, C, H, W, OH, OW, none, true, label);
  }
}

// ---- error statuses ----

void error_tests() {
  DevBuf<float> xb(2 * 3 * 8 * 8), yb(2 * 3 * 4 * 4);
  DevBuf<int64_t> ib(2 * 3 * 4 * 4);
  DevBuf<double> db(2 * 3 * 8 * 8);
  const kiln_tensor x = desc(xb.p, KILN_FLOAT32, {2, 3, 8, 8}), y = desc(yb.p, KILN_FLOAT32, {2, 3, 4, 4}),
                    idx = desc(ib.p, KILN_INT64, {2, 3, 4, 4});
  const double ok[8] = {2, 2, 2, 2, 0, 0, 1, 1};
  auto &L = launch();
  expect_ok("max_pool2d valid call", max_pool2d_cuda(L, y, idx, x, ok));
  {
    kiln_tensor x3 = desc(xb.p, KILN_FLOAT32, {6, 8, 8});
    expect_status("max_pool2d 3-d input", max_pool2d_cuda(L, y, idx, x3, ok), KILN_ERR_SHAPE);
    kiln_tensor xt = x;
    std::swap(xt.strides[2], xt.strides[3]);  // transposed plane
    expect_status("max_pool2d transposed input", max_pool2d_cuda(L, y, idx, xt, ok), KILN_ERR_SHAPE);
    kiln_tensor yc = desc(yb.p, KILN_FLOAT32, {2, 2, 4, 4});
    expect_status("max_pool2d channel mismatch", max_pool2d_cuda(L, yc, idx, x, ok), KILN_ERR_SHAPE);
    kiln_tensor i2 = desc(ib.p, KILN_INT64, {2, 3, 4, 3});
    expect_status("max_pool2d index shape", max_pool2d_cuda(L, y, i2, x, ok), KILN_ERR_SHAPE);
    kiln_tensor xi = desc(xb.p, KILN_INT32, {2, 3, 8, 8}), yi = desc(yb.p, KILN_INT32, {2, 3, 4, 4});
    expect_status("max_pool2d int32 values", max_pool2d_cuda(L, yi, idx, xi, ok), KILN_ERR_DTYPE);
    kiln_tensor i32 = desc(ib.p, KILN_INT32, {2, 3, 4, 4});
    expect_status("max_pool2d int32 indices", max_pool2d_cuda(L, y, i32, x, ok), KILN_ERR_DTYPE);
    kiln_tensor xd = desc(db.p, KILN_FLOAT64, {2, 3, 8, 8});
    expect_status("max_pool2d mixed dtypes", max_pool2d_cuda(L, y, idx, xd, ok), KILN_ERR_DTYPE);
    kiln_tensor xh = desc(xb.p, KILN_FLOAT16, {2, 3, 8, 8}), yh = desc(yb.p, KILN_FLOAT16, {2, 3, 4, 4});
    expect_status("max_pool2d float16", max_pool2d_cuda(L, yh, idx, xh, ok), KILN_ERR_DTYPE);
    const double bad[][8] = {{0, 2, 2, 2, 0, 0, 1, 1},  {2, 2, 0, 2, 0, 0, 1, 1},   {2, 2, 2, 2, -1, 0, 1, 1},
                             {2, 2, 2, 2, 0, 0, 0, 1},  {2, 2, 1.5, 2, 0, 0, 1, 1}, {2, 2, 2, 2, 0, NAN, 1, 1},
                             {2, 2, 2, 2, 0, 0, 1, 2e9}};
    for (const auto &b : bad) {
      expect_status("max_pool2d bad attr", max_pool2d_cuda(L, y, idx, x, b), KILN_ERR_ARG);
      expect_status("max_pool2d_backward bad attr", max_pool2d_backward_cuda(L, x, y, idx, b), KILN_ERR_ARG);
    }
    expect_ok("max_pool2d_backward valid call", max_pool2d_backward_cuda(L, x, y, idx, ok));
    expect_status("max_pool2d_backward transposed", max_pool2d_backward_cuda(L, xt, y, idx, ok), KILN_ERR_SHAPE);
    expect_status("max_pool2d_backward mixed dtypes", max_pool2d_backward_cuda(L, xd, y, idx, ok), KILN_ERR_DTYPE);
    expect_status("max_pool2d_backward int32 indices", max_pool2d_backward_cuda(L, x, y, i32, ok), KILN_ERR_DTYPE);
  }
  const double avg_ok[8] = {2, 2, 2, 2, 0, 0, 0, 0};
  for (bool adaptive : {false, true})
    for (bool backward : {false, true}) {
      const std::string n =
          std::string(adaptive ? "adaptive_avg_pool2d" : "avg_pool2d") + (backward ? "_backward" : "");
      const kiln_tensor &o = backward ? x : y, &i = backward ? y : x;
      expect_ok(n + " valid call", avg_pool2d_cuda(L, o, i, avg_ok, adaptive, backward));
      kiln_tensor it = i;
      std::swap(it.strides[2], it.strides[3]);
      expect_status(n + " transposed", avg_pool2d_cuda(L, o, it, avg_ok, adaptive, backward), KILN_ERR_SHAPE);
      kiln_tensor o3 = o;
      o3.ndim = 3;
      expect_status(n + " 3-d output", avg_pool2d_cuda(L, o3, i, avg_ok, adaptive, backward), KILN_ERR_SHAPE);
      kiln_tensor od = o;
      od.dtype = KILN_FLOAT64;
      od.data = db.p;
      expect_status(n + " mixed dtypes", avg_pool2d_cuda(L, od, i, avg_ok, adaptive, backward), KILN_ERR_DTYPE);
      kiln_tensor oh = o, ih = i;
      oh.dtype = ih.dtype = KILN_BFLOAT16;
      expect_status(n + " bfloat16", avg_pool2d_cuda(L, oh, ih, avg_ok, adaptive, backward), KILN_ERR_DTYPE);
      if (adaptive) continue;  // no attributes to reject
      const double bad[][8] = {{0, 2, 2, 2, 0, 0, 0, 0},   {2, 2, 2, 0, 0, 0, 0, 0},  {2, 2, 2, 2, -1, 0, 0, 0},
                               {2, 2, 2, 2, 0, 0, -1, 0},  {2, 2, 2, 2, 0, 0, 0, -1}, {2, 2, 2, 2, 0, 0, 0, INFINITY},
                               {2, 2, 2, 2, 0, 0, 0, NAN}, {2.5, 2, 2, 2, 0, 0, 0, 0}};
      for (const auto &b : bad)
        expect_status(n + " bad attr", avg_pool2d_cuda(L, o, i, b, adaptive, backward), KILN_ERR_ARG);
    }
  sync_ok("error tests' valid calls");
  // Empty tensors enqueue nothing.
  kiln_tensor x0 = desc(nullptr, KILN_FLOAT32, {0, 3, 8, 8}), y0 = desc(nullptr, KILN_FLOAT32, {0, 3, 4, 4}),
              i0 = desc(nullptr, KILN_INT64, {0, 3, 4, 4});
  expect_ok("max_pool2d empty batch", max_pool2d_cuda(L, y0, i0, x0, ok));
  expect_ok("avg_pool2d empty batch", avg_pool2d_cuda(L, y0, x0, avg_ok, false, false));
  expect_ok("adaptive_avg_pool2d_backward empty batch", avg_pool2d_cuda(L, x0, y0, avg_ok, true, true));
  sync_ok("empty batches");
}

// ---- bench ----

void bench() {
  const int64_t N = 16, C = 64, H = 512, W = 512;  // 2^28 floats: 1 GiB
  const double gib = (double)N * C * H * W * 4;
  DevBuf<float> xb(N * C * H * W), yb(N * C * 256 * 256), gxb(N * C * H * W);
  DevBuf<int64_t> ib(N * C * 256 * 256);
  KT_CHECK(cudaMemset(xb.p, 0, xb.n * sizeof(float)));
  {
    std::vector<float> h = randn<float>((size_t)1 << 24);
    for (size_t off = 0; off < xb.n; off += h.size())
      KT_CHECK(cudaMemcpy(xb.p + off, h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice));
  }
  auto &L = launch();
  const kiln_tensor x = desc(xb.p, KILN_FLOAT32, {N, C, H, W}), y = desc(yb.p, KILN_FLOAT32, {N, C, 256, 256}),
                    idx = desc(ib.p, KILN_INT64, {N, C, 256, 256}), gx = desc(gxb.p, KILN_FLOAT32, {N, C, H, W});
  const double out_bytes = gib / 4 + gib / 2;  // a quarter as many outputs, 4 + 8 bytes each
  const double k2[8] = {2, 2, 2, 2, 0, 0, 1, 1}, k3[8] = {3, 3, 2, 2, 1, 1, 1, 1};
  report_gbs("max_pool2d_2x2s2_f32_1GiB_v1", gib + out_bytes,
             time_ms([&] { max_pool2d_variant_cuda(L, 1, y, idx, x, k2); }));
  report_gbs("max_pool2d_2x2s2_f32_1GiB_v2", gib + out_bytes,
             time_ms([&] { max_pool2d_variant_cuda(L, 2, y, idx, x, k2); }));
  report_gbs("max_pool2d_3x3s2p1_f32_1GiB", gib + out_bytes, time_ms([&] { max_pool2d_cuda(L, y, idx, x, k3); }));
  const double a2[8] = {2, 2, 2, 2, 0, 0, 0, 0};
  report_gbs("avg_pool2d_2x2s2_f32_1GiB", gib + gib / 4, time_ms([&] { avg_pool2d_cuda(L, y, x, a2, false, false); }));
  report_gbs("avg_pool2d_backward_2x2s2_f32_1GiB", gib + gib / 4,
             time_ms([&] { avg_pool2d_cuda(L, gx, y, a2, false, true); }));
  max_pool2d_cuda(L, y, idx, x, k2);
  report_gbs("max_pool2d_backward_2x2s2_f32_1GiB", gib + out_bytes,
             time_ms([&] { max_pool2d_backward_cuda(L, gx, y, idx, k2); }));
  max_pool2d_cuda(L, y, idx, x, k3);
  report_gbs("max_pool2d_backward_3x3s2p1_f32_1GiB", gib + out_bytes,
             time_ms([&] { max_pool2d_backward_cuda(L, gx, y, idx, k3); }));
  sync_ok("bench");
}

}  // namespace

int main(int argc, char **argv) {
  bool run_bench = !(argc > 1 && std::string(argv[1]) == "--no-bench");
  for (int v : {1, 2}) {
    g_variant = v;
    max_tests<float>();
  }
  g_variant = 1;
  max_tests<double>();
  avg_tests<float>();
  avg_tests<double>();
  error_tests();
  if (run_bench) bench();
  return finish("pool");
}
