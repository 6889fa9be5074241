// Launcher tests for the row kernels (native/cuda/kernels/rows.h): softmax / log-softmax, layer /
// RMS norm, cross-entropy and batch norm, forward and backward, each against a float64 host
// reference written here from native/cpu's formulas, on random shapes (1 row to many, rows of 1 to
// 70000, odd sizes, dims other than the last), 1e4 logits, -inf and NaN rows, ignore_index, label
// smoothing, class weights, probability targets, out-of-range targets (the first recorded in a
// bad-index slot, bad_index.h), every dtype each launcher takes, and the error statuses; then the bench section at the
// issue's sizes (GB/s against device copy). Build: scripts/build_cuda_tests.sh rows_test; run:
// build-cuda-tests/rows_test [--no-bench].
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "bad_words.cuh"
#include "dtype.h"
#include "harness.cuh"
#include "rows.h"

using namespace kiln::cuda;
using namespace kiln::cuda::test;
using kiln::bfloat16_t;
using kiln::half_t;

namespace {

using Vd = std::vector<double>;

template <class T>
const char *dname() {
  return std::is_same_v<T, float>    ? "f32"
         : std::is_same_v<T, double> ? "f64"
         : std::is_same_v<T, half_t> ? "f16"
                                     : "bf16";
}
template <class T>
double tol() {
  return std::is_same_v<T, double>   ? 1e-11
         : std::is_same_v<T, float>  ? 2e-5
         : std::is_same_v<T, half_t> ? 2e-3
                                     : 1.5e-2;
}

template <class T>
double to_d(T v) {
  return (double)kiln::load(v);
}
template <class T>
T from_d(double v) {
  return kiln::store<T>(v);
}
template <class T>
Vd widen(const std::vector<T> &v) {
  Vd o(v.size());
  for (size_t i = 0; i < v.size(); i++) o[i] = to_d(v[i]);
  return o;
}
template <class T>
std::vector<T> rand_vec(size_t n, double scale = 1.0) {
  std::normal_distribution<double> d(0.0, scale);
  std::vector<T> v(n);
  for (auto &x : v) x = from_d<T>(d(rng()));
  return v;
}

// Relative-norm error where equal infinities and NaN positions match exactly.
template <class T>
double err(const std::vector<T> &got, const Vd &want) {
  if (got.size() != want.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); i++) {
    const double g = to_d(got[i]), w = want[i];
    if (std::isnan(g) || std::isnan(w)) {
      if (std::isnan(g) != std::isnan(w)) return INFINITY;
      continue;
    }
    if (std::isinf(g) || std::isinf(w)) {
      if (g != w) return INFINITY;
      continue;
    }
    num += (g - w) * (g - w);
    den += w * w;
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

template <class T>
DevBuf<T> *upload(const std::vector<T> &h) {
  auto *b = new DevBuf<T>(h.size());
  b->upload(h);
  return b;
}

bool run_ok(kiln_status st, const std::string &what) {
  if (st != KILN_OK) {
    std::printf("{\"kind\":\"check\",\"name\":\"%s launch\",\"status\":%d,\"message\":\"%s\",\"ok\":false}\n",
                what.c_str(), (int)st, launch().message);
    failures()++;
    return false;
  }
  KT_CHECK(cudaDeviceSynchronize());
  return true;
}

std::string shape_str(const std::vector<int64_t> &s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); i++) o += (i ? "," : "") + std::to_string(s[i]);
  return o + "]";
}

// ---------------------------------------------------------------- softmax

void softmax_ref(Vd &o, const Vd &x, int64_t outer, int64_t n, int64_t inner, bool log) {
  o.assign(x.size(), 0);
  for (int64_t q = 0; q < outer; q++)
    for (int64_t j = 0; j < inner; j++) {
      const int64_t b = q * n * inner + j;
      double m = x[b];
      for (int64_t i = 1; i < n; i++)
        if (x[b + i * inner] > m || x[b + i * inner] != x[b + i * inner]) m = x[b + i * inner];
      double s = 0;
      for (int64_t i = 0; i < n; i++) s += std::exp(x[b + i * inner] - m);
      for (int64_t i = 0; i < n; i++)
        o[b + i * inner] = log ? x[b + i * inner] - m - std::log(s) : std::exp(x[b + i * inner] - m) / s;
    }
}

void softmax_backward_ref(Vd &gx, const Vd &gy, const Vd &y, int64_t outer, int64_t n, int64_t inner, bool log) {
  gx.assign(y.size(), 0);
  for (int64_t q = 0; q < outer; q++)
    for (int64_t j = 0; j < inner; j++) {
      const int64_t b = q * n * inner + j;
      double s = 0;
      for (int64_t i = 0; i < n; i++) s += log ? gy[b + i * inner] : gy[b + i * inner] * y[b + i * inner];
      for (int64_t i = 0; i < n; i++) {
        const double g = gy[b + i * inner], v = y[b + i * inner];
        gx[b + i * inner] = log ? g - std::exp(v) * s : v * (g - s);
      }
    }
}

// special: 0 plain, 1 logits of 1e4, 2 some -inf per row, 3 a whole row -inf, 4 a NaN
template <class T>
void test_softmax(const std::vector<int64_t> &shape, int dim, bool log, int special = 0) {
  int64_t outer = 1, n = 1, inner = 1, total = 1;
  for (int d = 0; d < (int)shape.size(); d++) {
    (d < dim ? outer : d == dim ? n : inner) *= shape[d];
    total *= shape[d];
  }
  std::vector<T> hx = rand_vec<T>((size_t)total, special == 1 ? 1e4 : 3.0);
  const T ninf = -std::numeric_limits<T>::infinity();
  if (special == 2)
    for (int64_t k = 0; k < total; k += 3) hx[(size_t)k] = ninf;  // rows keep finite entries
  if (special == 3)
    for (int64_t i = 0; i < n; i++) hx[(size_t)(i * inner)] = ninf;  // column 0 of block 0: all -inf
  if (special == 4 && total > 1) hx[1] = std::numeric_limits<T>::quiet_NaN();
  const Vd x = widen(hx);
  Vd want;
  softmax_ref(want, x, outer, n, inner, log);
  DevBuf<T> dx(hx.size()), dy(hx.size());
  dx.upload(hx);
  dy.poison();
  const std::string what = std::string(log ? "log_softmax " : "softmax ") + dname<T>() + " " + shape_str(shape) +
                           " dim " + std::to_string(dim) + (special ? " special " + std::to_string(special) : "");
  if (!run_ok(softmax_cuda(launch(), desc(dy.p, dtype_of<T>(), shape), desc(dx.p, dtype_of<T>(), shape), dim, log),
              what))
    return;
  const std::vector<T> got = dy.download();
  expect(what, err(got, want), tol<T>());
  if (special) return;
  // backward from the exact forward output (cast to T) and a random gy
  std::vector<T> hy(hx.size()), hg = rand_vec<T>(hx.size());
  for (size_t i = 0; i < hy.size(); i++) hy[i] = from_d<T>(want[i]);
  Vd gwant;
  softmax_backward_ref(gwant, widen(hg), widen(hy), outer, n, inner, log);
  DevBuf<T> dyy(hy.size()), dg(hg.size()), dgx(hg.size());
  dyy.upload(hy);
  dg.upload(hg);
  dgx.poison();
  if (!run_ok(softmax_backward_cuda(launch(), desc(dgx.p, dtype_of<T>(), shape), desc(dg.p, dtype_of<T>(), shape),
                                    desc(dyy.p, dtype_of<T>(), shape), dim, log),
              what + " backward"))
    return;
  expect(what + " backward", err(dgx.download(), gwant), tol<T>() * 10);
}

template <class T>
void softmax_suite() {
  const std::vector<std::pair<std::vector<int64_t>, int>> cases = {
      {{1, 1}, 1},     {{3, 5}, 1},     {{7, 31}, 1},     {{5, 32}, 1},   {{9, 33}, 1},    {{17, 100}, 1},
      {{64, 1024}, 1}, {{3, 1000}, 1},  {{333, 257}, 1},  {{5, 1025}, 1}, {{2, 4099}, 1},  {{3, 70000}, 1},
      {{1, 70000}, 1}, {{4, 37, 9}, 1}, {{2, 5, 300}, 1}, {{6, 3, 1}, 1}, {{50, 7}, 0},    {{3, 4, 5, 6}, 2},
      {{17}, 0},       {{2, 1, 3}, 1},  {{1000, 64}, 1},  {{8, 2048}, 1}, {{4096, 16}, 1}, {{2, 3000, 3}, 1}};
  for (const auto &c : cases)
    for (bool log : {false, true}) test_softmax<T>(c.first, c.second, log);
  for (int special = 1; special <= 4; special++)
    for (bool log : {false, true}) {
      test_softmax<T>({4, 100}, 1, log, special);
      test_softmax<T>({3, 3000}, 1, log, special);
      test_softmax<T>({5, 40, 7}, 1, log, special);
    }
}

// ---------------------------------------------------------------- layer norm

void layer_norm_ref(Vd &y, Vd &mean, Vd &rstd, const Vd &x, const Vd *w, const Vd *b, int64_t rows, int64_t n,
                    double eps, bool rms) {
  y.assign(x.size(), 0);
  mean.assign(rows, 0);
  rstd.assign(rows, 0);
  for (int64_t r = 0; r < rows; r++) {
    const double *xr = x.data() + r * n;
    double mu = 0, var = 0;
    if (!rms && n > 0) {
      for (int64_t i = 0; i < n; i++) mu += xr[i];
      mu /= n;
    }
    for (int64_t i = 0; i < n; i++) var += (xr[i] - mu) * (xr[i] - mu);
    const double rs = 1 / std::sqrt(var / n + eps);
    for (int64_t i = 0; i < n; i++) {
      double v = (xr[i] - mu) * rs;
      if (w) v *= (*w)[i];
      if (b) v += (*b)[i];
      y[r * n + i] = v;
    }
    mean[r] = mu;
    rstd[r] = rs;
  }
}

void layer_norm_backward_ref(Vd &gx, Vd &gw, Vd &gb, const Vd &gy, const Vd &x, const Vd *w, const Vd &mean,
                             const Vd &rstd, int64_t rows, int64_t n, bool rms) {
  gx.assign(x.size(), 0);
  gw.assign(n, 0);
  gb.assign(n, 0);
  for (int64_t r = 0; r < rows; r++) {
    double sa = 0, sb = 0;
    for (int64_t i = 0; i < n; i++) {
      const double xh = (x[r * n + i] - mean[r]) * rstd[r], g = w ? gy[r * n + i] * (*w)[i] : gy[r * n + i];
      sa += g * xh;
      sb += g;
      gw[i] += gy[r * n + i] * xh;
      gb[i] += gy[r * n + i];
    }
    const double ca = sa / n, cb = rms ? 0 : sb / n;
    for (int64_t i = 0; i < n; i++) {
      const double xh = (x[r * n + i] - mean[r]) * rstd[r], g = w ? gy[r * n + i] * (*w)[i] : gy[r * n + i];
      gx[r * n + i] = rstd[r] * (g - cb - xh * ca);
    }
  }
}

template <class T>
void test_layer_norm(int64_t rows, int64_t n, bool has_w, bool has_b, bool rms) {
  const kiln_dtype dt = dtype_of<T>();
  const double eps = 1e-5;
  std::vector<T> hx = rand_vec<T>((size_t)(rows * n), 2.0), hw = rand_vec<T>((size_t)n), hb = rand_vec<T>((size_t)n);
  for (size_t i = 0; i < hx.size(); i++) hx[i] = from_d<T>(to_d(hx[i]) + 0.5);  // a non-zero mean
  const Vd x = widen(hx), w = widen(hw), b = widen(hb);
  Vd y, mean, rstd;
  layer_norm_ref(y, mean, rstd, x, has_w ? &w : nullptr, has_b ? &b : nullptr, rows, n, eps, rms);
  DevBuf<T> dx(hx.size()), dw(hw.size()), db(hb.size()), dy(hx.size()), dm(rows), dr(rows);
  dx.upload(hx);
  dw.upload(hw);
  db.upload(hb);
  dy.poison();
  dm.poison();
  dr.poison();
  const kiln_tensor tx = desc(dx.p, dt, {rows, n}), empty = desc(dw.p, dt, {0});
  const kiln_tensor tw = has_w ? desc(dw.p, dt, {n}) : empty, tb = has_b ? desc(db.p, dt, {n}) : empty;
  const std::string what = std::string(rms ? "rms_norm " : "layer_norm ") + dname<T>() + " [" + std::to_string(rows) +
                           "," + std::to_string(n) + "]" + (has_w ? " w" : "") + (has_b ? " b" : "");
  if (!run_ok(layer_norm_cuda(launch(), desc(dy.p, dt, {rows, n}), desc(dm.p, dt, {rows}), desc(dr.p, dt, {rows}), tx,
                              tw, tb, eps, rms),
              what))
    return;
  expect(what + " y", err(dy.download(), y), tol<T>());
  expect(what + " mean", err(dm.download(), mean), tol<T>());
  expect(what + " rstd", err(dr.download(), rstd), tol<T>());
  // backward with the reference's statistics (cast to T) as inputs
  std::vector<T> hg = rand_vec<T>(hx.size()), hm(rows), hr(rows);
  for (int64_t r = 0; r < rows; r++) hm[r] = from_d<T>(mean[r]), hr[r] = from_d<T>(rstd[r]);
  Vd gx, gw, gb;
  layer_norm_backward_ref(gx, gw, gb, widen(hg), x, has_w ? &w : nullptr, widen(hm), widen(hr), rows, n, rms);
  DevBuf<T> dg(hg.size()), dgx(hg.size()), dgw(n), dgb(n);
  dg.upload(hg);
  dm.upload(hm);
  dr.upload(hr);
  for (int rep = 0; rep < 2; rep++) {
    const std::vector<T> prev_w = rep ? dgw.download() : std::vector<T>(), prev_b = rep ? dgb.download() : prev_w;
    dgx.poison();
    dgw.poison();
    dgb.poison();
    if (!run_ok(layer_norm_backward_cuda(launch(), desc(dgx.p, dt, {rows, n}), desc(dgw.p, dt, {n}),
                                         desc(dgb.p, dt, {n}), desc(dg.p, dt, {rows, n}), tx, tw,
                                         desc(dm.p, dt, {rows}), desc(dr.p, dt, {rows}), rms),
                what + " backward"))
      return;
    if (rep == 0) {
      expect(what + " backward gx", err(dgx.download(), gx), tol<T>() * 10);
      expect(what + " backward gw", err(dgw.download(), gw), tol<T>() * 10);
      expect(what + " backward gb", err(dgb.download(), gb), tol<T>() * 10);
    } else {  // deterministic: the same bits twice
      const std::vector<T> w2 = dgw.download(), b2 = dgb.download();
      const bool same = std::memcmp(w2.data(), prev_w.data(), w2.size() * sizeof(T)) == 0 &&
                        std::memcmp(b2.data(), prev_b.data(), b2.size() * sizeof(T)) == 0;
      expect(what + " backward deterministic", same ? 0 : 1, 0);
    }
  }
  // backward without gw / gb (empty): gx alone
  dgx.poison();
  if (!run_ok(layer_norm_backward_cuda(launch(), desc(dgx.p, dt, {rows, n}), desc(dgw.p, dt, {0}), desc(dgb.p, dt, {0}),
                                       desc(dg.p, dt, {rows, n}), tx, tw, desc(dm.p, dt, {rows}),
                                       desc(dr.p, dt, {rows}), rms),
              what + " backward gx only"))
    return;
  expect(what + " backward gx only", err(dgx.download(), gx), tol<T>() * 10);
}

template <class T>
void layer_norm_suite() {
  const std::vector<std::pair<int64_t, int64_t>> shapes = {
      {1, 1},    {3, 7},     {5, 32},    {8, 100},   {13, 257},   {64, 1024},  {4, 1000}, {3, 1025},
      {2, 5000}, {2, 70000}, {1000, 64}, {3000, 96}, {20000, 33}, {600, 2000}, {1, 4096}, {700, 1023}};
  int k = 0;
  for (const auto &s : shapes)
    for (bool rms : {false, true}) {
      if (rms && s.second == 1) continue;  // gx = rstd g (1 - xh^2) is a rounding residue there
      const bool w = (k % 3) != 1, b = (k % 4) < 2 && !rms;
      test_layer_norm<T>(s.first, s.second, w, b, rms);
      k++;
    }
  test_layer_norm<T>(37, 200, false, false, false);
  test_layer_norm<T>(37, 200, true, true, false);
  test_layer_norm<T>(0, 16, true, true, false);
}

// ---------------------------------------------------------------- cross-entropy

struct XentCase {
  int64_t rows, C;
  bool prob, weighted;
  double eps;
  int64_t tstride;  // index targets: stride of the target vector
  double scale;     // logits' scale (1e4: stability)
};

template <class T>
void test_xent(const XentCase &c) {
  const kiln_dtype dt = dtype_of<T>();
  const int64_t rows = c.rows, C = c.C, ignore = -100;
  std::vector<T> hx = rand_vec<T>((size_t)(rows * C), c.scale), hw(C), hp;
  for (auto &v : hw) v = from_d<T>(0.25 + std::uniform_real_distribution<double>(0, 1)(rng()));
  std::vector<int64_t> ht((size_t)(rows * c.tstride), 7);
  if (c.prob) {
    hp.resize((size_t)(rows * C));
    for (int64_t r = 0; r < rows; r++) {
      for (int64_t j = 0; j < C; j++) hp[r * C + j] = from_d<T>(std::exp(std::normal_distribution<double>()(rng())));
      double s = 0;
      for (int64_t j = 0; j < C; j++) s += to_d(hp[r * C + j]);
      for (int64_t j = 0; j < C; j++) hp[r * C + j] = from_d<T>(to_d(hp[r * C + j]) / s);
    }
  } else {
    for (int64_t r = 0; r < rows; r++) ht[r * c.tstride] = r % 5 == 3 ? ignore : randint(0, C - 1);
  }
  const Vd x = widen(hx), w = widen(hw), p = widen(hp);
  const double e = c.eps, keep = 1 - e, share = e / C;
  double sw = 0;
  for (int64_t j = 0; j < C; j++) sw += c.weighted ? w[j] : 1.0;
  Vd loss(rows), lse(rows), wrow(rows);
  for (int64_t r = 0; r < rows; r++) {
    const double *xr = x.data() + r * C;
    double m = xr[0];
    for (int64_t j = 1; j < C; j++) m = std::max(m, xr[j]);
    double s = 0;
    for (int64_t j = 0; j < C; j++) s += std::exp(xr[j] - m);
    const double l = m + std::log(s);
    lse[r] = l;
    double v = 0, wr = 1, sx = 0;
    for (int64_t j = 0; j < C; j++) sx += (c.weighted ? w[j] : 1.0) * xr[j];
    if (c.prob) {
      double st = 0, stx = 0;
      for (int64_t j = 0; j < C; j++) {
        const double wt = (c.weighted ? w[j] : 1.0) * p[r * C + j];
        st += wt;
        stx += wt * xr[j];
      }
      v = keep * (l * st - stx) + (e != 0 ? share * (l * sw - sx) : 0);
    } else {
      const int64_t t = ht[r * c.tstride];
      if (t == ignore) {
        v = 0;
        wr = 0;
      } else {
        wr = c.weighted ? w[t] : 1.0;
        v = keep * wr * (l - xr[t]) + (e != 0 ? share * (l * sw - sx) : 0);
      }
    }
    loss[r] = v;
    wrow[r] = wr;
  }
  DevBuf<T> dx(hx.size()), dw(hw.size()), dp(hp.size()), dl(rows), dlse(rows), dwr(rows);
  DevBuf<int64_t> dtg(ht.size());
  dx.upload(hx);
  dw.upload(hw);
  if (c.prob) dp.upload(hp);
  dtg.upload(ht);
  dl.poison();
  dlse.poison();
  dwr.poison();
  kiln_tensor tt;
  if (c.prob) {
    tt = desc(dp.p, dt, {rows, C});
  } else {
    tt = desc(dtg.p, KILN_INT64, {rows});
    tt.strides[0] = c.tstride;
  }
  const kiln_tensor tx = desc(dx.p, dt, {rows, C}), tw = c.weighted ? desc(dw.p, dt, {C}) : desc(dw.p, dt, {0});
  const double attr[2] = {(double)ignore, e};
  char buf[160];
  std::snprintf(buf, sizeof buf, "cross_entropy %s [%lld,%lld]%s%s eps %g stride %lld scale %g", dname<T>(),
                (long long)rows, (long long)C, c.prob ? " prob" : " index", c.weighted ? " weighted" : "", e,
                (long long)c.tstride, c.scale);
  const std::string what = buf;
  BadWords words;  // every target in range or ignore_index (or probabilities): untouched
  if (!run_ok(cross_entropy_cuda(launch(), desc(dl.p, dt, {rows}), desc(dlse.p, dt, {rows}), desc(dwr.p, dt, {rows}),
                                 tx, tt, tw, attr, words.p()),
              what))
    return;
  words.expect_none(what);
  if (C == 1) {  // log-softmax of one class is 0: the loss is a rounding residue, bounded by |lse|
    double most = 0, big = 1;
    for (T v : dl.download()) most = std::max(most, std::fabs((double)v));
    for (double v : lse) big = std::max(big, std::fabs(v));
    expect(what + " loss (one class: residue)", most / big, tol<T>() * 10);
  } else {
    expect(what + " loss", err(dl.download(), loss), tol<T>() * (c.scale > 100 ? 10 : 1));
  }
  expect(what + " lse", err(dlse.download(), lse), tol<T>());
  expect(what + " wrow", err(dwr.download(), wrow), tol<T>());
  // C == 1: the gradient is a rounding residue (softmax is 1), no meaningful relative error
  if (C == 1) return;
  // backward from the reference lse (cast to T) and a random gloss
  std::vector<T> hg = rand_vec<T>((size_t)rows), hl(rows);
  for (int64_t r = 0; r < rows; r++) hl[r] = from_d<T>(lse[r]);
  const Vd g = widen(hg), lt = widen(hl);
  Vd gx((size_t)(rows * C), 0);
  for (int64_t r = 0; r < rows; r++) {
    const double *xr = x.data() + r * C;
    if (c.prob) {
      double st = 0;
      for (int64_t j = 0; j < C; j++) st += (c.weighted ? w[j] : 1.0) * p[r * C + j];
      const double a = g[r] * (keep * st + share * sw);
      for (int64_t j = 0; j < C; j++)
        gx[r * C + j] =
            a * std::exp(xr[j] - lt[r]) - (g[r] * keep * p[r * C + j] + g[r] * share) * (c.weighted ? w[j] : 1.0);
      continue;
    }
    const int64_t t = ht[r * c.tstride];
    if (t == ignore) continue;
    const double wt = c.weighted ? w[t] : 1.0, a = g[r] * (keep * wt + share * sw);
    for (int64_t j = 0; j < C; j++)
      gx[r * C + j] = a * std::exp(xr[j] - lt[r]) - g[r] * share * (c.weighted ? w[j] : 1.0);
    gx[r * C + t] -= g[r] * keep * wt;
  }
  DevBuf<T> dg(rows), dgx(hx.size());
  dg.upload(hg);
  dlse.upload(hl);
  dgx.poison();
  if (!run_ok(cross_entropy_backward_cuda(launch(), desc(dgx.p, dt, {rows, C}), tx, tt, tw, desc(dlse.p, dt, {rows}),
                                          desc(dg.p, dt, {rows}), attr),
              what + " backward"))
    return;
  expect(what + " backward", err(dgx.download(), gx), tol<T>() * 10);
}

// Out-of-range index targets: loss and wrow NaN (the CPU's ERR_INDEX cannot be reported by a kernel),
// the first such row and its target in the bad-index slot (first_row -1: none), a zero gradient row.
// ignore_index is never bad, in range or not.
template <class T>
void check_xent_bad(const std::string &tag, int64_t C, const std::vector<int64_t> &ht, int64_t ignore,
                    int64_t first_row, int64_t first_value) {
  const kiln_dtype dt = dtype_of<T>();
  const int64_t rows = (int64_t)ht.size();
  const std::string what = std::string("cross_entropy bad target ") + dname<T>() + " " + tag;
  std::vector<T> hx = rand_vec<T>(rows * C);
  DevBuf<T> dx(hx.size()), dl(rows), dlse(rows), dwr(rows), dw(1), dg(rows), dgx(hx.size());
  DevBuf<int64_t> dtg(rows);
  dx.upload(hx);
  dtg.upload(ht);
  dg.upload(std::vector<T>(rows, from_d<T>(1.0)));
  dl.poison();
  dgx.poison();
  const double attr[2] = {(double)ignore, 0};
  const kiln_tensor tx = desc(dx.p, dt, {rows, C}), tt = desc(dtg.p, KILN_INT64, {rows}), tw = desc(dw.p, dt, {0});
  BadWords words;
  if (!run_ok(cross_entropy_cuda(launch(), desc(dl.p, dt, {rows}), desc(dlse.p, dt, {rows}), desc(dwr.p, dt, {rows}),
                                 tx, tt, tw, attr, words.p()),
              what))
    return;
  if (first_row < 0)
    words.expect_none(what);
  else
    words.expect_first(what, first_row, first_value);
  auto is_bad = [&](int64_t r) { return ht[r] != ignore && (ht[r] < 0 || ht[r] >= C); };
  const std::vector<T> l = dl.download();
  int64_t wrong = 0;
  for (int64_t r = 0; r < rows; r++) wrong += std::isnan(to_d(l[r])) != is_bad(r);
  expect(what + " loss NaN exactly on the bad rows", (double)wrong, 0);
  words.reset();
  if (!run_ok(cross_entropy_backward_cuda(launch(), desc(dgx.p, dt, {rows, C}), tx, tt, tw, desc(dlse.p, dt, {rows}),
                                          desc(dg.p, dt, {rows}), attr),
              what + " backward"))
    return;
  const std::vector<T> gx = dgx.download();
  double zero = 0;
  for (int64_t r = 0; r < rows; r++)
    if (is_bad(r))
      for (int64_t j = 0; j < C; j++) zero += std::fabs(to_d(gx[r * C + j]));
  expect(what + " zero gradient", zero, 0);
}

template <class T>
void test_xent_bad_target() {
  check_xent_bad<T>("[4,10]", 10, {1, 10, -3, 2}, -100, 1, 10);
  check_xent_bad<T>("[4,10] ignore_index 10", 10, {1, 10, -3, 2}, 10, 2, -3);
  check_xent_bad<T>("[4,10] ignore_index -3", 10, {1, -3, -3, 9}, -3, -1, 0);
  check_xent_bad<T>("[6,9000] (a block per row)", 9000, {0, -100, 5, (int64_t)1 << 40, 8999, -1}, -100, 3,
                    (int64_t)1 << 40);
  check_xent_bad<T>("[3,5] INT64_MIN + 1", 5, {INT64_MIN + 1, INT64_MAX, 0}, -100, 0, INT64_MIN + 1);
  std::vector<int64_t> many(20000), vec(1000);
  for (int64_t r = 0; r < (int64_t)many.size(); r++) many[r] = r < 7 ? (r == 3 ? -100 : r) : 33 + r % 4;
  check_xent_bad<T>("[20000,33] all bad from row 7", 33, many, -100, 7, 36);
  for (int64_t r = 0; r < (int64_t)vec.size(); r++) vec[r] = r < 500 ? r % 64 : r % 2 ? -7 - r : 64 + r;
  check_xent_bad<T>("[1000,64] (16-byte rows) bad from row 500", 64, vec, -100, 500, 564);
}

template <class T>
void xent_suite() {
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 1},    {5, 3},     {7, 10},   {33, 1000}, {8, 4096},
                                                           {3, 8193}, {2, 70000}, {100, 37}, {256, 129}, {4, 8192}};
  int k = 0;
  for (const auto &s : shapes) {
    for (bool prob : {false, true}) {
      const bool weighted = (k % 2) == 1;
      const double eps = (k % 3) == 0 ? 0.0 : 0.1;
      const int64_t stride = prob ? 1 : (k % 4 == 2 ? 3 : 1);
      test_xent<T>({s.first, s.second, prob, weighted, eps, stride, 2.0});
      k++;
    }
  }
  test_xent<T>({64, 500, false, false, 0.0, 1, 1e4});
  test_xent<T>({16, 9000, false, true, 0.1, 1, 1e4});
  test_xent<T>({64, 500, true, true, 0.2, 1, 1e4});
  test_xent<T>({50, 50, false, true, 1.0, 2, 1.0});
  test_xent_bad_target<T>();
}

// ---------------------------------------------------------------- batch norm

template <class T>
void test_batch_norm(int64_t N, int64_t C, int64_t S, bool has_w, bool has_b) {
  const kiln_dtype dt = dtype_of<T>();
  const double eps = 1e-5;
  const int64_t total = N * C * S, M = N * S;
  std::vector<T> hx = rand_vec<T>((size_t)total, 1.5), hw = rand_vec<T>((size_t)C), hb = rand_vec<T>((size_t)C);
  for (int64_t i = 0; i < total; i++) hx[i] = from_d<T>(to_d(hx[i]) + 0.3 * ((i / S) % C));  // per-channel offsets
  const Vd x = widen(hx), w = widen(hw), b = widen(hb);
  Vd mean(C, 0), var(C, 0);
  for (int64_t c = 0; c < C; c++) {
    double s = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t k = 0; k < S; k++) s += x[(n * C + c) * S + k];
    const double mu = s / M;
    double q = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t k = 0; k < S; k++) q += (x[(n * C + c) * S + k] - mu) * (x[(n * C + c) * S + k] - mu);
    mean[c] = M ? mu : NAN;
    var[c] = M ? q / M : NAN;
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, "batch_norm %s [%lld,%lld,%lld]%s%s", dname<T>(), (long long)N, (long long)C,
                (long long)S, has_w ? " w" : "", has_b ? " b" : "");
  const std::string what = buf;
  DevBuf<T> dx(total), dw(C), db(C), dm(C), dv(C), dy(total);
  dx.upload(hx);
  dw.upload(hw);
  db.upload(hb);
  dm.poison();
  dv.poison();
  const kiln_tensor tx = desc(dx.p, dt, {N, C, S}), tm = desc(dm.p, dt, {C}), tv = desc(dv.p, dt, {C});
  const kiln_tensor tw = desc(dw.p, dt, {C}), tb = desc(db.p, dt, {C});
  if (!run_ok(batch_norm_stats_cuda(launch(), tm, tv, tx), what + " stats")) return;
  expect(what + " stats mean", err(dm.download(), mean), tol<T>());
  expect(what + " stats var", err(dv.download(), var), tol<T>());
  if (M == 0) return;
  // apply and backward with the reference statistics (cast to T)
  std::vector<T> hm(C), hv(C);
  for (int64_t c = 0; c < C; c++) hm[c] = from_d<T>(mean[c]), hv[c] = from_d<T>(var[c]);
  dm.upload(hm);
  dv.upload(hv);
  const Vd mt = widen(hm), vt = widen(hv);
  Vd y(total);
  for (int64_t i = 0; i < total; i++) {
    const int64_t c = (i / S) % C;
    const double inv = 1 / std::sqrt(vt[c] + eps);
    y[i] = (has_w ? w[c] : 1.0) * inv * (x[i] - mt[c]) + (has_b ? b[c] : 0.0);
  }
  dy.poison();
  if (!run_ok(batch_norm_cuda(launch(), desc(dy.p, dt, {N, C, S}), tx, has_w ? &tw : nullptr, has_b ? &tb : nullptr, tm,
                              tv, eps),
              what + " apply"))
    return;
  expect(what + " apply", err(dy.download(), y), tol<T>() * 2);
  std::vector<T> hg = rand_vec<T>((size_t)total);
  const Vd g = widen(hg);
  Vd gx(total), gw(C, 0), gb(C, 0);
  for (int64_t c = 0; c < C; c++) {
    const double inv = 1 / std::sqrt(vt[c] + eps);
    double sg = 0, sgx = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t k = 0; k < S; k++) {
        const int64_t i = (n * C + c) * S + k;
        sg += g[i];
        sgx += g[i] * (x[i] - mt[c]);
      }
    gb[c] = sg;
    gw[c] = sgx * inv;
    const double A = (has_w ? w[c] : 1.0) * inv;
    for (int64_t n = 0; n < N; n++)
      for (int64_t k = 0; k < S; k++) {
        const int64_t i = (n * C + c) * S + k;
        gx[i] = A * (g[i] - sg / M - (x[i] - mt[c]) * inv * (sgx * inv / M));
      }
  }
  DevBuf<T> dg(total), dgx(total), dgw(C), dgb(C);
  dg.upload(hg);
  dgx.poison();
  dgw.poison();
  dgb.poison();
  if (!run_ok(batch_norm_backward_cuda(launch(), desc(dgx.p, dt, {N, C, S}), desc(dgw.p, dt, {C}), desc(dgb.p, dt, {C}),
                                       desc(dg.p, dt, {N, C, S}), tx, has_w ? &tw : nullptr, tm, tv, eps),
              what + " backward"))
    return;
  expect(what + " backward gx", err(dgx.download(), gx), tol<T>() * 10);
  expect(what + " backward gw", err(dgw.download(), gw), tol<T>() * 10);
  expect(what + " backward gb", err(dgb.download(), gb), tol<T>() * 10);
}

template <class T>
void batch_norm_suite() {
  const std::vector<std::vector<int64_t>> shapes = {{2, 3, 5},    {4, 16, 1},  {1000, 7, 1}, {3, 5, 5000},
                                                    {8, 4, 100},  {64, 33, 1}, {1, 1, 3},    {5, 2, 4097},
                                                    {600, 70, 1}, {16, 8, 49}, {2, 3, 0}};
  int k = 0;
  for (const auto &s : shapes) {
    test_batch_norm<T>(s[0], s[1], s[2], k % 2 == 0, k % 3 != 1);
    k++;
  }
}

// ---------------------------------------------------------------- group norm backward

// group_norm_backward_cuda against native/cpu/group_norm.cpp's formulas in float64, with the group
// statistics (cast to T) computed here: the row-chunk path (S > 1, S > kChunk), the channels-as-rows
// path (S = 1), one group and one channel per group, and N = 0 (gw = gb = 0, no scratch).
template <class T>
void test_group_norm_backward(int64_t N, int64_t C, int64_t S, int64_t G, bool has_w) {
  const kiln_dtype dt = dtype_of<T>();
  const double eps = 1e-5;
  const int64_t total = N * C * S, per = C / G, Lg = per * S;
  std::vector<T> hx = rand_vec<T>((size_t)total, 1.5), hw = rand_vec<T>((size_t)C), hg = rand_vec<T>((size_t)total);
  for (int64_t i = 0; i < total; i++) hx[i] = from_d<T>(to_d(hx[i]) + 0.3 * ((i / S) % C));
  const Vd x = widen(hx), w = widen(hw), g = widen(hg);
  std::vector<T> hm((size_t)(N * G)), hv((size_t)(N * G));
  for (int64_t q = 0; q < N * G; q++) {
    const int64_t b = ((q / G) * C + (q % G) * per) * S;
    double s = 0, ss = 0;
    for (int64_t e = 0; e < Lg; e++) s += x[b + e];
    const double mu = Lg ? s / Lg : 0;
    for (int64_t e = 0; e < Lg; e++) ss += (x[b + e] - mu) * (x[b + e] - mu);
    hm[q] = from_d<T>(mu);
    hv[q] = from_d<T>(Lg ? ss / Lg : 0);
  }
  const Vd mt = widen(hm), vt = widen(hv);
  Vd gx((size_t)total), gw((size_t)C, 0), gb((size_t)C, 0);
  for (int64_t n = 0; n < N; n++)
    for (int64_t q = 0; q < G; q++) {
      const double m = mt[n * G + q], rstd = 1 / std::sqrt(vt[n * G + q] + eps);
      double A = 0, B = 0;
      for (int64_t c = q * per; c < (q + 1) * per; c++)
        for (int64_t k = 0; k < S; k++) {
          const int64_t i = (n * C + c) * S + k;
          const double wc = has_w ? w[c] : 1.0;
          A += wc * g[i];
          B += wc * g[i] * (x[i] - m);
          gb[c] += g[i];
          gw[c] += g[i] * (x[i] - m) * rstd;
        }
      for (int64_t c = q * per; c < (q + 1) * per; c++)
        for (int64_t k = 0; k < S; k++) {
          const int64_t i = (n * C + c) * S + k;
          gx[i] = rstd * (has_w ? w[c] : 1.0) * g[i] - rstd * rstd * rstd * B / Lg * (x[i] - m) - rstd * A / Lg;
        }
    }
  char buf[128];
  std::snprintf(buf, sizeof buf, "group_norm_backward %s [%lld,%lld,%lld] G=%lld%s", dname<T>(), (long long)N,
                (long long)C, (long long)S, (long long)G, has_w ? " w" : "");
  const std::string what = buf;
  DevBuf<T> dx(total), dw(C), dm(N * G), dv(N * G), dg(total), dgx(total), dgw(C), dgb(C);
  dx.upload(hx);
  dw.upload(hw);
  dm.upload(hm);
  dv.upload(hv);
  dg.upload(hg);
  dgx.poison();
  dgw.poison();
  dgb.poison();
  const kiln_tensor tw = desc(dw.p, dt, {C});
  if (!run_ok(group_norm_backward_cuda(launch(), desc(dgx.p, dt, {N, C, S}), desc(dgw.p, dt, {C}), desc(dgb.p, dt, {C}),
                                       desc(dg.p, dt, {N, C, S}), desc(dx.p, dt, {N, C, S}), has_w ? &tw : nullptr,
                                       desc(dm.p, dt, {N * G}), desc(dv.p, dt, {N * G}), G, eps),
              what))
    return;
  expect(what + " gx", err(dgx.download(), gx), tol<T>() * 10);
  expect(what + " gw", err(dgw.download(), gw), tol<T>() * 10);
  expect(what + " gb", err(dgb.download(), gb), tol<T>() * 10);
}

template <class T>
void group_norm_suite() {
  // {N, C, S, G}
  const std::vector<std::vector<int64_t>> shapes = {{2, 6, 5, 3}, {4, 8, 1, 2}, {3, 4, 5000, 2}, {2, 32, 49, 1},
                                                    {5, 7, 3, 7}, {1, 2, 1, 1}, {2, 4, 4097, 4}, {0, 4, 3, 2},
                                                    {0, 6, 1, 3}, {3, 6, 0, 2}, {600, 4, 1, 2}};
  int k = 0;
  for (const auto &s : shapes) test_group_norm_backward<T>(s[0], s[1], s[2], s[3], k++ % 2 == 0);
}

// ---------------------------------------------------------------- error statuses

void expect_status(const std::string &what, kiln_status got, kiln_status want) {
  expect(what + " -> status " + std::to_string((int)want), got == want ? 0 : 1, 0);
}

void error_suite() {
  DevBuf<float> a(4096), b(4096), c(4096), d(64), e(64), f(64);
  DevBuf<int64_t> it(64);
  DevBuf<int32_t> i32(4096);
  const Launch &L = launch();
  const kiln_tensor x = desc(a.p, KILN_FLOAT32, {8, 16});
  kiln_tensor nc = x;
  nc.strides[0] = 32;
  expect_status("softmax bad dim", softmax_cuda(L, desc(b.p, KILN_FLOAT32, {8, 16}), x, 2, false), KILN_ERR_ARG);
  expect_status("softmax negative dim", softmax_cuda(L, desc(b.p, KILN_FLOAT32, {8, 16}), x, -1, false), KILN_ERR_ARG);
  expect_status("softmax non-contiguous", softmax_cuda(L, desc(b.p, KILN_FLOAT32, {8, 16}), nc, 1, false),
                KILN_ERR_ARG);
  expect_status("softmax int32",
                softmax_cuda(L, desc(i32.p, KILN_INT32, {8, 16}), desc(i32.p, KILN_INT32, {8, 16}), 1, false),
                KILN_ERR_DTYPE);
  expect_status("softmax mixed dtypes", softmax_cuda(L, desc(b.p, KILN_FLOAT64, {8, 16}), x, 1, false), KILN_ERR_DTYPE);
  expect_status("softmax shape mismatch", softmax_cuda(L, desc(b.p, KILN_FLOAT32, {8, 15}), x, 1, false),
                KILN_ERR_SHAPE);
  expect_status(
      "softmax_backward non-contiguous",
      softmax_backward_cuda(L, desc(b.p, KILN_FLOAT32, {8, 16}), nc, desc(c.p, KILN_FLOAT32, {8, 16}), 1, true),
      KILN_ERR_ARG);
  const kiln_tensor empty = desc(d.p, KILN_FLOAT32, {0}), rows8 = desc(d.p, KILN_FLOAT32, {8});
  expect_status("layer_norm 3-D input",
                layer_norm_cuda(L, desc(b.p, KILN_FLOAT32, {2, 4, 16}), rows8, desc(e.p, KILN_FLOAT32, {8}),
                                desc(a.p, KILN_FLOAT32, {2, 4, 16}), empty, empty, 1e-5, false),
                KILN_ERR_SHAPE);
  expect_status("layer_norm bad weight",
                layer_norm_cuda(L, desc(b.p, KILN_FLOAT32, {8, 16}), rows8, desc(e.p, KILN_FLOAT32, {8}), x,
                                desc(f.p, KILN_FLOAT32, {15}), empty, 1e-5, false),
                KILN_ERR_SHAPE);
  expect_status("layer_norm bad stats",
                layer_norm_cuda(L, desc(b.p, KILN_FLOAT32, {8, 16}), desc(d.p, KILN_FLOAT32, {7}),
                                desc(e.p, KILN_FLOAT32, {8}), x, empty, empty, 1e-5, false),
                KILN_ERR_SHAPE);
  expect_status("layer_norm int32",
                layer_norm_cuda(L, desc(i32.p, KILN_INT32, {8, 16}), desc(i32.p, KILN_INT32, {8}),
                                desc(i32.p, KILN_INT32, {8}), desc(i32.p, KILN_INT32, {8, 16}),
                                desc(i32.p, KILN_INT32, {0}), desc(i32.p, KILN_INT32, {0}), 1e-5, false),
                KILN_ERR_DTYPE);
  expect_status(
      "layer_norm_backward bad gw",
      layer_norm_backward_cuda(L, desc(b.p, KILN_FLOAT32, {8, 16}), desc(f.p, KILN_FLOAT32, {3}), empty,
                               desc(c.p, KILN_FLOAT32, {8, 16}), x, empty, rows8, desc(e.p, KILN_FLOAT32, {8}), false),
      KILN_ERR_SHAPE);
  const kiln_tensor l8 = desc(d.p, KILN_FLOAT32, {8}), s8 = desc(e.p, KILN_FLOAT32, {8}),
                    w8 = desc(f.p, KILN_FLOAT32, {8});
  const kiln_tensor t8 = desc(it.p, KILN_INT64, {8});
  const double ok_attr[2] = {-100, 0.1}, bad_eps[2] = {-100, 1.5}, bad_ig[2] = {0.5, 0};
  expect_status("cross_entropy bad label_smoothing", cross_entropy_cuda(L, l8, s8, w8, x, t8, empty, bad_eps),
                KILN_ERR_ARG);
  expect_status("cross_entropy fractional ignore_index", cross_entropy_cuda(L, l8, s8, w8, x, t8, empty, bad_ig),
                KILN_ERR_ARG);
  expect_status("cross_entropy 3-D logits",
                cross_entropy_cuda(L, l8, s8, w8, desc(a.p, KILN_FLOAT32, {2, 4, 16}), t8, empty, ok_attr),
                KILN_ERR_SHAPE);
  expect_status("cross_entropy zero classes",
                cross_entropy_cuda(L, l8, s8, w8, desc(a.p, KILN_FLOAT32, {8, 0}), t8, empty, ok_attr), KILN_ERR_SHAPE);
  expect_status("cross_entropy target rows",
                cross_entropy_cuda(L, l8, s8, w8, x, desc(it.p, KILN_INT64, {7}), empty, ok_attr), KILN_ERR_SHAPE);
  expect_status("cross_entropy prob target shape",
                cross_entropy_cuda(L, l8, s8, w8, x, desc(c.p, KILN_FLOAT32, {8, 15}), empty, ok_attr), KILN_ERR_SHAPE);
  expect_status("cross_entropy weight shape",
                cross_entropy_cuda(L, l8, s8, w8, x, t8, desc(f.p, KILN_FLOAT32, {15}), ok_attr), KILN_ERR_SHAPE);
  expect_status("cross_entropy int32 logits",
                cross_entropy_cuda(L, l8, s8, w8, desc(i32.p, KILN_INT32, {8, 16}), t8, empty, ok_attr),
                KILN_ERR_DTYPE);
  kiln_tensor l8s = l8;
  l8s.strides[0] = 2;
  expect_status("cross_entropy strided loss", cross_entropy_cuda(L, l8s, s8, w8, x, t8, empty, ok_attr), KILN_ERR_ARG);
  expect_status("cross_entropy_backward gx shape",
                cross_entropy_backward_cuda(L, desc(b.p, KILN_FLOAT32, {8, 15}), x, t8, empty, s8, l8, ok_attr),
                KILN_ERR_SHAPE);
  const kiln_tensor bx = desc(a.p, KILN_FLOAT32, {4, 2, 8}), c2 = desc(d.p, KILN_FLOAT32, {2});
  expect_status("batch_norm_stats 2-D input", batch_norm_stats_cuda(L, c2, c2, desc(a.p, KILN_FLOAT32, {8, 2})),
                KILN_ERR_SHAPE);
  expect_status("batch_norm_stats int32",
                batch_norm_stats_cuda(L, desc(i32.p, KILN_INT32, {2}), desc(i32.p, KILN_INT32, {2}),
                                      desc(i32.p, KILN_INT32, {4, 2, 8})),
                KILN_ERR_DTYPE);
  expect_status("batch_norm_stats bad mean", batch_norm_stats_cuda(L, desc(d.p, KILN_FLOAT32, {3}), c2, bx),
                KILN_ERR_SHAPE);
  expect_status("batch_norm output shape",
                batch_norm_cuda(L, desc(b.p, KILN_FLOAT32, {4, 2, 7}), bx, nullptr, nullptr, c2, c2, 1e-5),
                KILN_ERR_SHAPE);
  expect_status("batch_norm weight shape",
                batch_norm_cuda(L, desc(b.p, KILN_FLOAT32, {4, 2, 8}), bx, &empty, nullptr, c2, c2, 1e-5),
                KILN_ERR_SHAPE);
  const kiln_tensor c2d = desc(d.p, KILN_FLOAT64, {2});
  expect_status("batch_norm mean dtype",
                batch_norm_cuda(L, desc(b.p, KILN_FLOAT32, {4, 2, 8}), bx, nullptr, nullptr, c2d, c2, 1e-5),
                KILN_ERR_DTYPE);
  expect_status("batch_norm_backward grad_output shape",
                batch_norm_backward_cuda(L, desc(b.p, KILN_FLOAT32, {4, 2, 8}), c2, c2,
                                         desc(c.p, KILN_FLOAT32, {4, 2, 9}), bx, nullptr, c2, c2, 1e-5),
                KILN_ERR_SHAPE);
  KT_CHECK(cudaDeviceSynchronize());
}

// ---------------------------------------------------------------- bench

__global__ void fill_kernel(float *p, size_t n, uint32_t seed, float scale) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint32_t h = (uint32_t)i * 0x9e3779b1u ^ seed;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    h *= 0x297a2d39u;
    h ^= h >> 15;
    p[i] = scale * ((float)(h >> 8) * (1.0f / 16777216.0f) - 0.5f);
  }
}
void fill(float *p, size_t n, uint32_t seed, float scale) {
  fill_kernel<<<4096, 256>>>(p, n, seed, scale);
  KT_CHECK(cudaGetLastError());
}
__global__ void fill_targets_kernel(int64_t *t, size_t n, int64_t C) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    t[i] = (int64_t)((i * 2654435761u) % (uint64_t)C);
}

void bench_suite() {
  const Launch &L = launch();
  copy_gbs((size_t)1 << 31);
  {
    const int64_t rows = 262144, n = 1024, total = rows * n;
    DevBuf<float> x(total), y(total), g(total), gx(total);
    fill(x.p, total, 1, 8.0f);
    fill(g.p, total, 2, 1.0f);
    const kiln_tensor tx = desc(x.p, KILN_FLOAT32, {rows, n}), ty = desc(y.p, KILN_FLOAT32, {rows, n});
    const kiln_tensor tg = desc(g.p, KILN_FLOAT32, {rows, n}), tgx = desc(gx.p, KILN_FLOAT32, {rows, n});
    double ms = time_ms([&] { softmax_cuda(L, ty, tx, 1, false); });
    report_gbs("softmax f32 [262144,1024] fwd", 8.0 * total, ms);
    ms = time_ms([&] { softmax_cuda(L, ty, tx, 1, true); });
    report_gbs("log_softmax f32 [262144,1024] fwd", 8.0 * total, ms);
    softmax_cuda(L, ty, tx, 1, false);
    ms = time_ms([&] { softmax_backward_cuda(L, tgx, tg, ty, 1, false); });
    report_gbs("softmax f32 [262144,1024] bwd", 12.0 * total, ms);
    // layer norm on the same buffers (y: output, g: gy)
    DevBuf<float> w(n), b(n), m(rows), r(rows), gw(n), gb(n);
    fill(w.p, n, 3, 2.0f);
    fill(b.p, n, 4, 2.0f);
    const kiln_tensor tw = desc(w.p, KILN_FLOAT32, {n}), tb = desc(b.p, KILN_FLOAT32, {n});
    const kiln_tensor tm = desc(m.p, KILN_FLOAT32, {rows}), tr = desc(r.p, KILN_FLOAT32, {rows});
    ms = time_ms([&] { layer_norm_cuda(L, ty, tm, tr, tx, tw, tb, 1e-5, false); });
    report_gbs("layer_norm f32 [262144,1024] fwd", 8.0 * total, ms);
    ms = time_ms([&] { layer_norm_cuda(L, ty, tm, tr, tx, tw, tb, 1e-5, true); });
    report_gbs("rms_norm f32 [262144,1024] fwd", 8.0 * total, ms);
    layer_norm_cuda(L, ty, tm, tr, tx, tw, tb, 1e-5, false);
    ms = time_ms([&] {
      layer_norm_backward_cuda(L, tgx, desc(gw.p, KILN_FLOAT32, {n}), desc(gb.p, KILN_FLOAT32, {n}), tg, tx, tw, tm, tr,
                               false);
    });
    report_gbs("layer_norm f32 [262144,1024] bwd (gx, gw, gb)", 12.0 * total, ms);
    ms = time_ms([&] {
      layer_norm_backward_cuda(L, tgx, desc(gw.p, KILN_FLOAT32, {0}), desc(gb.p, KILN_FLOAT32, {0}), tg, tx, tw, tm, tr,
                               false);
    });
    report_gbs("layer_norm f32 [262144,1024] bwd (gx only)", 12.0 * total, ms);
  }
  {
    const int64_t rows = 65536, C = 4096, total = rows * C;
    DevBuf<float> x(total), gx(total), loss(rows), lse(rows), wrow(rows), gl(rows), w(1);
    DevBuf<int64_t> t(rows);
    fill(x.p, total, 5, 8.0f);
    fill(gl.p, rows, 6, 1.0f);
    fill_targets_kernel<<<256, 256>>>(t.p, rows, C);
    KT_CHECK(cudaGetLastError());
    const kiln_tensor tx = desc(x.p, KILN_FLOAT32, {rows, C}), tt = desc(t.p, KILN_INT64, {rows});
    const kiln_tensor tl = desc(loss.p, KILN_FLOAT32, {rows}), tlse = desc(lse.p, KILN_FLOAT32, {rows});
    const kiln_tensor twr = desc(wrow.p, KILN_FLOAT32, {rows}), tw = desc(w.p, KILN_FLOAT32, {0});
    const double attr[2] = {-100, 0}, attr_s[2] = {-100, 0.1};
    double ms = time_ms([&] { cross_entropy_cuda(L, tl, tlse, twr, tx, tt, tw, attr); });
    report_gbs("cross_entropy f32 [65536,4096] fwd", 4.0 * total, ms);
    ms = time_ms([&] { cross_entropy_cuda(L, tl, tlse, twr, tx, tt, tw, attr_s); });
    report_gbs("cross_entropy f32 [65536,4096] fwd smoothing 0.1", 4.0 * total, ms);
    ms = time_ms([&] {
      cross_entropy_backward_cuda(L, desc(gx.p, KILN_FLOAT32, {rows, C}), tx, tt, tw, tlse,
                                  desc(gl.p, KILN_FLOAT32, {rows}), attr);
    });
    report_gbs("cross_entropy f32 [65536,4096] bwd", 8.0 * total, ms);
  }
  {
    // batch norm (not a target; for the record): [64, 256, 56*56] f32 = 205 MB... scaled to ~1 GB
    const int64_t N = 256, C = 256, S = 3136, total = N * C * S;
    DevBuf<float> x(total), y(total), m(C), v(C);
    fill(x.p, total, 7, 4.0f);
    const kiln_tensor tx = desc(x.p, KILN_FLOAT32, {N, C, S}), tm = desc(m.p, KILN_FLOAT32, {C});
    const kiln_tensor tv = desc(v.p, KILN_FLOAT32, {C});
    double ms = time_ms([&] { batch_norm_stats_cuda(L, tm, tv, tx); });
    report_gbs("batch_norm_stats f32 [256,256,3136]", 4.0 * total, ms);
    ms = time_ms([&] { batch_norm_cuda(L, desc(y.p, KILN_FLOAT32, {N, C, S}), tx, nullptr, nullptr, tm, tv, 1e-5); });
    report_gbs("batch_norm apply f32 [256,256,3136]", 8.0 * total, ms);
  }
}

}  // namespace

int main(int argc, char **argv) {
  bool bench = true;
  for (int i = 1; i < argc; i++)
    if (std::strcmp(argv[i], "--no-bench") == 0) bench = false;
  softmax_suite<float>();
  softmax_suite<double>();
  layer_norm_suite<float>();
  layer_norm_suite<double>();
  xent_suite<float>();
  xent_suite<double>();
  batch_norm_suite<float>();
  batch_norm_suite<double>();
  batch_norm_suite<half_t>();
  batch_norm_suite<bfloat16_t>();
  group_norm_suite<float>();
  group_norm_suite<double>();
  group_norm_suite<half_t>();
  group_norm_suite<bfloat16_t>();
  error_suite();
  if (bench) bench_suite();
  return finish("rows");
}
