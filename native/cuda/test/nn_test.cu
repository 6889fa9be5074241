// Launcher tests for the nn family, part 1 (native/cuda/kernels/{activation,dropout,embedding}.cu):
// GELU (erf, tanh) and SiLU forward and backward, Philox dropout (the CPU's mask bit for bit),
// embedding forward and backward (with the first out-of-range index recorded in a bad-index slot,
// bad_index.h), against float64 host references on random shapes, contiguous,
// transposed and misaligned views, every floating dtype, and every error status; then the bench
// (GELU and dropout over 1 GiB float32 against the device copy). The optimizer steps and matmul
// are in optim_test.cu and matmul_test.cu.
// Build: scripts/build_cuda_tests.sh nn_test; run: build-cuda-tests/nn_test (one JSON record a line).
#include <cmath>
#include <string>
#include <vector>

#include "../../core/philox.h"
#include "bad_words.cuh"
#include "harness.cuh"
#include "nn.h"
#include "status_checks.cuh"

using namespace kiln::cuda;
using namespace kiln::cuda::test;
using kiln::bfloat16_t;
using kiln::half_t;

namespace {

kiln_tensor view(void *data, kiln_dtype dt, std::vector<int64_t> shape, std::vector<int64_t> strides) {
  kiln_tensor t = desc(data, dt, shape);
  for (size_t d = 0; d < strides.size(); d++) t.strides[d] = strides[d];
  return t;
}

// ---- GELU / SiLU ----

double act_ref(NnAct act, double x) {
  switch (act) {
    case NnAct::Gelu: return x * 0.5 * (1 + std::erf(x * 0.70710678118654752440));
    case NnAct::GeluTanh: return 0.5 * x * (1 + std::tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x)));
    case NnAct::Silu: return x / (1 + std::exp(-x));
  }
  return x;
}
double act_grad_ref(NnAct act, double gy, double x) {
  switch (act) {
    case NnAct::Gelu:
      return gy * (0.5 * (1 + std::erf(x * 0.70710678118654752440)) + x * std::exp(-0.5 * x * x) * 0.3989422804014327);
    case NnAct::GeluTanh: {
      double u = 0.79788456080286535588 * (x + 0.044715 * x * x * x), t = std::tanh(u);
      return gy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * 0.79788456080286535588 * (1 + 3 * 0.044715 * x * x));
    }
    case NnAct::Silu: {
      double s = 1 / (1 + std::exp(-x));
      return gy * s * (1 + x * (1 - s));
    }
  }
  return gy;
}
const char *act_str(NnAct a) { return a == NnAct::Gelu ? "gelu" : a == NnAct::GeluTanh ? "gelu_tanh" : "silu"; }

// x viewed as `shape`/`xst` inside a buffer of xn elements (offset `xoff`), out and gradients
// contiguous (offset `ooff`, which makes them misaligned when odd).
template <class T>
void check_act(const std::string &tag, NnAct act, std::vector<int64_t> shape, std::vector<int64_t> xst, int64_t xn,
               int64_t xoff, int64_t ooff, double tol) {
  const kiln_dtype dt = dtype_of<T>();
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  auto xh = to_t<T>(randn<double>((size_t)(xn + xoff), 2.5));
  auto gyh = to_t<T>(randn<double>((size_t)(n + ooff)));
  DevBuf<T> x(xn + xoff), y(n + ooff), gy(n + ooff), gx(n + ooff);
  x.upload(xh), gy.upload(gyh), y.poison(), gx.poison();
  kiln_tensor xv = view(x.p + xoff, dt, shape, xst);
  kiln_tensor yv = desc(y.p + ooff, dt, shape), gyv = desc(gy.p + ooff, dt, shape), gxv = desc(gx.p + ooff, dt, shape);
  std::string name = std::string(act_str(act)) + " " + tag;
  expect_ok(name + " fwd", act_cuda(launch(), yv, xv, act));
  expect_ok(name + " bwd", act_backward_cuda(launch(), gxv, gyv, xv, act));
  KT_CHECK(cudaDeviceSynchronize());
  // Reference over the row-major index of the shape.
  std::vector<double> want_y((size_t)n), want_g((size_t)n);
  std::vector<int64_t> idx(shape.size(), 0);
  auto xd = to_d(xh), gd = to_d(gyh);
  for (int64_t i = 0; i < n; i++) {
    int64_t off = xoff;
    for (size_t d = 0; d < shape.size(); d++) off += idx[d] * xst[d];
    want_y[(size_t)i] = act_ref(act, xd[(size_t)off]);
    want_g[(size_t)i] = act_grad_ref(act, gd[(size_t)(ooff + i)], xd[(size_t)off]);
    for (int d = (int)shape.size() - 1; d >= 0; d--)
      if (++idx[(size_t)d] < shape[(size_t)d])
        break;
      else
        idx[(size_t)d] = 0;
  }
  auto yd = to_d(y.download()), gxd = to_d(gx.download());
  yd.erase(yd.begin(), yd.begin() + ooff);
  gxd.erase(gxd.begin(), gxd.begin() + ooff);
  expect(name + " fwd", rel_err(yd, want_y), tol);
  expect(name + " bwd", rel_err(gxd, want_g), tol);
}

template <class T>
void test_act(const char *dname, double tol) {
  for (NnAct act : {NnAct::Gelu, NnAct::GeluTanh, NnAct::Silu}) {
    for (int64_t n : {1, 5, 8, 4099, (1 << 20) + 3}) {
      std::string tag = std::string(dname) + " n=" + std::to_string(n);
      check_act<T>(tag, act, {n}, {1}, n, 0, 0, tol);
    }
    check_act<T>(std::string(dname) + " misaligned n=1001", act, {1001}, {1}, 1001, 1, 1, tol);
    // x a transposed [37, 53] view of a [53, 37] buffer.
    check_act<T>(std::string(dname) + " transposed 37x53", act, {37, 53}, {1, 37}, 37 * 53, 0, 0, tol);
    // x broadcast along dim 0 (stride 0) and sliced with step 3 along dim 1.
    check_act<T>(std::string(dname) + " bcast 4x(33 step 3)", act, {4, 33}, {0, 3}, 100, 2, 0, tol);
  }
}

void test_act_errors() {
  DevBuf<float> a(16), b(16);
  DevBuf<double> c(16);
  DevBuf<int32_t> i(16);
  auto &L = launch();
  expect_status("gelu dtype mismatch",
                act_cuda(L, desc(a.p, KILN_FLOAT32, {16}), desc(c.p, KILN_FLOAT64, {16}), NnAct::Gelu), KILN_ERR_DTYPE);
  expect_status("gelu int32", act_cuda(L, desc(i.p, KILN_INT32, {16}), desc(i.p, KILN_INT32, {16}), NnAct::Gelu),
                KILN_ERR_DTYPE);
  expect_status("silu shape mismatch",
                act_cuda(L, desc(a.p, KILN_FLOAT32, {16}), desc(b.p, KILN_FLOAT32, {4, 4}), NnAct::Silu),
                KILN_ERR_SHAPE);
  expect_status("gelu_backward dtypes",
                act_backward_cuda(L, desc(a.p, KILN_FLOAT32, {16}), desc(c.p, KILN_FLOAT64, {16}),
                                  desc(b.p, KILN_FLOAT32, {16}), NnAct::Gelu),
                KILN_ERR_DTYPE);
  expect_status("gelu bad act", act_cuda(L, desc(a.p, KILN_FLOAT32, {16}), desc(b.p, KILN_FLOAT32, {16}), (NnAct)7),
                KILN_ERR_ARG);
  expect_ok("gelu empty", act_cuda(L, desc(a.p, KILN_FLOAT32, {0, 3}), desc(b.p, KILN_FLOAT32, {0, 3}), NnAct::Gelu));
}

// ---- Dropout ----

template <class T>
void check_dropout(const std::string &tag, std::vector<int64_t> shape, std::vector<int64_t> xst, int64_t xn,
                   int64_t xoff, uint32_t threshold, double tol) {
  const kiln_dtype dt = dtype_of<T>();
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  const uint64_t seed = (uint64_t)randint(0, INT64_MAX), offset = (uint64_t)randint(0, 1 << 30);
  const double scale = 1.0 / (1.0 - threshold / 16777216.0 + 1e-30);
  auto xh = to_t<T>(randn<double>((size_t)(xn + xoff)));
  DevBuf<T> x(xn + xoff), y(n);
  x.upload(xh), y.poison();
  expect_ok("dropout " + tag, dropout_cuda(launch(), desc(y.p, dt, shape), view(x.p + xoff, dt, shape, xst), seed,
                                           offset, threshold, scale));
  KT_CHECK(cudaDeviceSynchronize());
  auto xd = to_d(xh);
  const double s = (double)(kiln::compute_t<T>)scale;
  std::vector<double> want((size_t)n);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t e = 0; e < n; e++) {
    int64_t off = xoff;
    for (size_t d = 0; d < shape.size(); d++) off += idx[d] * xst[d];
    kiln::Philox4 r = kiln::philox4x32_10(offset + (uint64_t)e / 4, seed);
    bool keep = (r.v[e & 3] >> 8) >= threshold;
    want[(size_t)e] = xd[(size_t)off] * (keep ? s : 0.0);
    for (int d = (int)shape.size() - 1; d >= 0; d--)
      if (++idx[(size_t)d] < shape[(size_t)d])
        break;
      else
        idx[(size_t)d] = 0;
  }
  auto got = to_d(y.download());
  int64_t mask_diff = 0;
  for (int64_t e = 0; e < n; e++) mask_diff += (got[(size_t)e] == 0) != (want[(size_t)e] == 0);
  expect("dropout " + tag + " mask mismatches", (double)mask_diff, 0);
  expect("dropout " + tag, rel_err(got, want), tol);
}

void test_dropout() {
  const uint32_t p30 = (uint32_t)(0.3 * 16777216);
  for (int64_t n : {1, 3, 4, 5, 1001, (1 << 20) + 1}) {
    check_dropout<float>("f32 n=" + std::to_string(n), {n}, {1}, n, 0, p30, 1e-7);
    check_dropout<double>("f64 n=" + std::to_string(n), {n}, {1}, n, 0, p30, 1e-15);
  }
  check_dropout<half_t>("f16 n=4099", {4099}, {1}, 4099, 0, p30, 1e-3);
  check_dropout<bfloat16_t>("bf16 n=4099", {4099}, {1}, 4099, 0, p30, 8e-3);
  check_dropout<float>("f32 misaligned n=4099", {4099}, {1}, 4099, 1, p30, 1e-7);
  check_dropout<float>("f32 transposed 37x53", {37, 53}, {1, 37}, 37 * 53, 0, p30, 1e-7);
  check_dropout<double>("f64 3-d strided", {5, 6, 7}, {100, 14, 2}, 500, 3, p30, 1e-15);
  check_dropout<float>("f32 keep all", {1000}, {1}, 1000, 0, 0, 1e-7);
  check_dropout<float>("f32 p=0.9", {1000}, {1}, 1000, 0, (uint32_t)(0.9 * 16777216), 1e-7);
  auto &L = launch();
  DevBuf<float> a(16), b(16);
  DevBuf<int32_t> i(16);
  DevBuf<double> c(16);
  expect_status("dropout threshold > 2^24",
                dropout_cuda(L, desc(a.p, KILN_FLOAT32, {16}), desc(b.p, KILN_FLOAT32, {16}), 1, 0, (1u << 24) + 1, 1),
                KILN_ERR_ARG);
  expect_status("dropout int32", dropout_cuda(L, desc(i.p, KILN_INT32, {16}), desc(i.p, KILN_INT32, {16}), 1, 0, 5, 1),
                KILN_ERR_DTYPE);
  expect_status("dropout dtypes",
                dropout_cuda(L, desc(a.p, KILN_FLOAT32, {16}), desc(c.p, KILN_FLOAT64, {16}), 1, 0, 5, 1),
                KILN_ERR_DTYPE);
  // Drop everything: threshold 2^24 is above every 24-bit word.
  DevBuf<float> z(1000);
  z.upload(randn<float>(1000));
  expect_ok("dropout drop all",
            dropout_cuda(L, desc(z.p, KILN_FLOAT32, {1000}), desc(z.p, KILN_FLOAT32, {1000}), 9, 0, 1u << 24, 1));
  auto zh = z.download();
  double nz = 0;
  for (float v : zh) nz += v != 0;
  expect("dropout drop all nonzeros", nz, 0);
}

// ---- Embedding ----

// bad: 0 every index in range; 1 a few out of range from T_/3 on; 2 every index from T_/3 on (the
// slot's words under contention). The first bad one is num + 5 at T_/3 either way.
template <class T, class I>
void check_embedding(const std::string &tag, int64_t num, int64_t D, int64_t T_, bool wtrans, int64_t istride,
                     int bad = 0) {
  const kiln_dtype dt = dtype_of<T>(), it = dtype_of<I>();
  std::vector<double> wd0 = randn<double>((size_t)(num * D), 3.0);
  if constexpr (std::is_integral_v<T>)
    for (auto &v : wd0) v = std::round(v * 1000);
  auto wh = to_t<T>(wd0);
  auto wd = to_d(wh);
  std::vector<I> ih((size_t)(T_ * istride));
  for (auto &v : ih) v = (I)randint(0, num - 1);
  const int64_t first_bad = T_ / 3;
  if (bad)
    for (int64_t t = first_bad; t < T_; t++) {
      int64_t v = t == first_bad ? num + 5 : t == T_ - 1 ? -1 : bad == 2 || t % 7 == 0 ? num + (t % 3) : -1;
      if (bad == 1 && t != first_bad && t != T_ - 1 && t % 7 != 0 && t % 11 != 0) continue;
      ih[(size_t)(t * istride)] = (I)v;
    }
  DevBuf<T> w(num * D), out(T_ * D);
  DevBuf<I> idx(T_ * istride);
  // wtrans: the table is stored [D, num] and viewed as [num, D] with strides [1, num].
  std::vector<T> store_w(wh.size());
  for (int64_t r = 0; r < num; r++)
    for (int64_t d = 0; d < D; d++) store_w[(size_t)(wtrans ? d * num + r : r * D + d)] = wh[(size_t)(r * D + d)];
  w.upload(store_w), idx.upload(ih), out.poison();
  kiln_tensor wv = wtrans ? view(w.p, dt, {num, D}, {1, num}) : desc(w.p, dt, {num, D});
  BadWords words;
  expect_ok("embedding " + tag,
            embedding_cuda(launch(), desc(out.p, dt, {T_, D}), wv, view(idx.p, it, {T_}, {istride}), words.p()));
  KT_CHECK(cudaDeviceSynchronize());
  if (bad)
    words.expect_first("embedding " + tag, first_bad, num + 5);
  else
    words.expect_none("embedding " + tag);
  std::vector<double> want((size_t)(T_ * D));
  for (int64_t t = 0; t < T_; t++) {
    int64_t v = (int64_t)ih[(size_t)(t * istride)];
    for (int64_t d = 0; d < D; d++) want[(size_t)(t * D + d)] = v >= 0 && v < num ? wd[(size_t)(v * D + d)] : 0.0;
  }
  expect("embedding " + tag, rel_err(to_d(out.download()), want), 0);
}

template <class T, class I>
void check_embedding_backward(const std::string &tag, int64_t num, int64_t D, int64_t T_, int64_t gstride,
                              int64_t padding_idx, double tol) {
  const kiln_dtype dt = dtype_of<T>(), it = dtype_of<I>();
  auto gh = to_t<T>(randn<double>((size_t)(T_ * gstride)));
  auto gd = to_d(gh);
  std::vector<I> ih((size_t)T_);
  for (auto &v : ih) v = (I)randint(0, num - 1);
  if (T_ >= 3) ih[1] = (I)num, ih[2] = (I)-5;  // dropped (and the first, at 1, recorded)
  DevBuf<T> gy(T_ * gstride), gw(num * D);
  DevBuf<I> idx(T_);
  gy.upload(gh), idx.upload(ih), gw.poison();
  kiln_tensor gwv = desc(gw.p, dt, {num, D}), gyv = view(gy.p, dt, {T_, D}, {gstride, 1}), iv = desc(idx.p, it, {T_});
  BadWords words;
  expect_ok("embedding_backward " + tag, embedding_backward_cuda(launch(), gwv, gyv, iv, padding_idx, words.p()));
  auto first = gw.download();
  if (T_ >= 3)
    words.expect_first("embedding_backward " + tag, 1, num);
  else
    words.expect_none("embedding_backward " + tag);
  std::vector<double> want((size_t)(num * D), 0.0);
  for (int64_t t = 0; t < T_; t++) {
    int64_t r = (int64_t)ih[(size_t)t];
    if (r < 0 || r >= num || r == padding_idx) continue;
    for (int64_t d = 0; d < D; d++) want[(size_t)(r * D + d)] += gd[(size_t)(t * gstride + d)];
  }
  expect("embedding_backward " + tag, rel_err(to_d(first), want), tol);
  gw.poison();
  expect_ok("embedding_backward again " + tag, embedding_backward_cuda(launch(), gwv, gyv, iv, padding_idx));
  auto second = gw.download();
  expect("embedding_backward deterministic " + tag,
         std::memcmp(first.data(), second.data(), first.size() * sizeof(T)) == 0 ? 0 : 1, 0);
}

// The bad-index encoding (bad_index.h) on the host: over random bad (position, value) sets, the
// minimum of each word's keys decodes to the lowest position and its value, int64 extremes included.
void test_bad_index_keys() {
  int wrong = 0;
  for (int trial = 0; trial < 2000; trial++) {
    const int n = (int)randint(1, 20);
    uint64_t w0 = (uint64_t)bad_index::kNone, w1 = w0;
    int64_t best = INT64_MAX, best_v = 0;
    for (int i = 0; i < n; i++) {
      const int64_t pos = randint(0, trial % 2 ? 50 : bad_index::kMaxPos - 1);
      const int64_t v =
          i % 5 == 0 ? (i % 2 ? INT64_MIN + 1 : INT64_MAX) : randint(-((int64_t)1 << 40), (int64_t)1 << 40);
      int64_t val = v;
      if (pos == best) val = best_v;  // one position has one value
      if (pos < best) best = pos, best_v = val;
      w0 = std::min<uint64_t>(w0, bad_index::key(pos, val, 0));
      w1 = std::min<uint64_t>(w1, bad_index::key(pos, val, 1));
    }
    const int64_t words[2] = {(int64_t)w0, (int64_t)w1};
    const bad_index::First f = bad_index::decode(words);
    wrong += !(f.any && f.exact && f.pos == best && f.value == best_v);
  }
  const int64_t none[2] = {bad_index::kNone, bad_index::kNone};
  wrong += bad_index::decode(none).any;
  const int64_t capped[2] = {(int64_t)bad_index::key((int64_t)1 << 40, 3, 0),
                             (int64_t)bad_index::key((int64_t)1 << 40, 3, 1)};
  const bad_index::First c = bad_index::decode(capped);
  wrong += !(c.any && !c.exact && c.pos == bad_index::kMaxPos);
  expect("bad_index keys decode to the first position and its value", wrong, 0);
}

// A table read with no columns, or a backward into a table of no rows, launches only the check.
void test_embedding_no_rows() {
  DevBuf<float> w(8), o(12);
  DevBuf<int64_t> idx(6);
  idx.upload({0, 3, 9, 1, -2, 10});
  BadWords words;
  expect_ok("embedding D=0", embedding_cuda(launch(), desc(o.p, KILN_FLOAT32, {6, 0}), desc(w.p, KILN_FLOAT32, {4, 0}),
                                            desc(idx.p, KILN_INT64, {6}), words.p()));
  words.expect_first("embedding D=0", 2, 9);
  words.reset();
  expect_ok("embedding_backward num=0",
            embedding_backward_cuda(launch(), desc(w.p, KILN_FLOAT32, {0, 2}), desc(o.p, KILN_FLOAT32, {6, 2}),
                                    desc(idx.p, KILN_INT64, {6}), -1, words.p()));
  words.expect_first("embedding_backward num=0", 0, 0);
  words.reset();
  expect_ok("embedding D=0 in range",
            embedding_cuda(launch(), desc(o.p, KILN_FLOAT32, {2, 0}), desc(w.p, KILN_FLOAT32, {4, 0}),
                           desc(idx.p, KILN_INT64, {2}), words.p()));
  words.expect_none("embedding D=0 in range");
  expect_ok("embedding no indices",
            embedding_cuda(launch(), desc(o.p, KILN_FLOAT32, {0, 2}), desc(w.p, KILN_FLOAT32, {4, 2}),
                           desc(idx.p, KILN_INT64, {0}), words.p()));
  words.expect_none("embedding no indices");
}

void test_embedding() {
  check_embedding<float, int64_t>("f32 i64 D=64 (vector rows)", 1000, 64, 517, false, 1, false);
  check_embedding<float, int32_t>("f32 i32 D=3 strided idx", 1000, 3, 517, false, 3, false);
  check_embedding<float, int64_t>("f32 transposed table D=129", 300, 129, 200, true, 1, false);
  check_embedding<double, int32_t>("f64 D=1", 50, 1, 1000, false, 1, false);
  check_embedding<double, int64_t>("f64 D=37", 77, 37, 1, false, 1, false);
  check_embedding<bfloat16_t, int64_t>("bf16 D=40", 100, 40, 333, false, 2, false);
  check_embedding<half_t, int32_t>("f16 D=8 (vector rows)", 100, 8, 333, false, 1, false);
  check_embedding<int64_t, int64_t>("int64 D=5", 100, 5, 64, false, 1, false);
  check_embedding<int32_t, int32_t>("int32 D=12", 100, 12, 64, false, 1, false);
  check_embedding<float, int64_t>("f32 out-of-range rows are zero", 100, 16, 64, false, 1, 1);
  check_embedding<half_t, int32_t>("f16 i32 strided idx, out of range", 100, 5, 1000, false, 2, 1);
  check_embedding<float, int64_t>("f32 D=64 T=200000, two thirds out of range", 1000, 64, 200000, false, 1, 2);
  check_embedding<double, int32_t>("f64 i32 transposed table, out of range", 40, 9, 301, true, 1, 2);
  check_embedding_backward<float, int64_t>("f32 i64 50x64 T=3000 pad 7", 50, 64, 3000, 64, 7, 1e-6);
  check_embedding_backward<float, int32_t>("f32 i32 1000x3 T=517 strided gy", 1000, 3, 517, 5, -1, 1e-6);
  check_embedding_backward<double, int64_t>("f64 20x33 T=4000", 20, 33, 4000, 40, 0, 1e-14);
  check_embedding_backward<half_t, int64_t>("f16 30x16 T=100", 30, 16, 100, 16, -1, 2e-3);
  check_embedding_backward<bfloat16_t, int32_t>("bf16 30x16 T=100", 30, 16, 100, 16, 3, 1e-2);
  check_embedding_backward<float, int64_t>("f32 T=1", 10, 7, 1, 7, -1, 1e-6);
  check_embedding_backward<float, int64_t>("f32 big 50000x128 T=20000", 50000, 128, 20000, 128, 0, 1e-6);

  test_embedding_no_rows();

  auto &L = launch();
  DevBuf<float> w(100 * 4), o(10 * 8);
  DevBuf<float> fi(10);
  DevBuf<int64_t> ii(20);
  DevBuf<int32_t> iw(100 * 4);
  kiln_tensor wv = desc(w.p, KILN_FLOAT32, {100, 4}), ov = desc(o.p, KILN_FLOAT32, {10, 4});
  expect_status("embedding float index", embedding_cuda(L, ov, wv, desc(fi.p, KILN_FLOAT32, {10})), KILN_ERR_DTYPE);
  expect_status("embedding 2-d index", embedding_cuda(L, ov, wv, desc(ii.p, KILN_INT64, {2, 5})), KILN_ERR_SHAPE);
  expect_status("embedding strided out",
                embedding_cuda(L, view(o.p, KILN_FLOAT32, {10, 4}, {8, 1}), wv, desc(ii.p, KILN_INT64, {10})),
                KILN_ERR_SHAPE);
  expect_status("embedding D mismatch",
                embedding_cuda(L, desc(o.p, KILN_FLOAT32, {10, 5}), wv, desc(ii.p, KILN_INT64, {10})), KILN_ERR_SHAPE);
  expect_status("embedding dtype mismatch",
                embedding_cuda(L, desc(iw.p, KILN_INT32, {10, 4}), wv, desc(ii.p, KILN_INT64, {10})), KILN_ERR_DTYPE);
  expect_status("embedding_backward int32 grad",
                embedding_backward_cuda(L, desc(iw.p, KILN_INT32, {100, 4}), desc(iw.p, KILN_INT32, {10, 4}),
                                        desc(ii.p, KILN_INT64, {10}), -1),
                KILN_ERR_DTYPE);
  expect_status("embedding_backward T mismatch", embedding_backward_cuda(L, wv, ov, desc(ii.p, KILN_INT64, {9}), -1),
                KILN_ERR_SHAPE);
}

// ---- Bench ----

void bench() {
  const int64_t n = (int64_t)1 << 28;  // 1 GiB of float32
  DevBuf<float> x(n), y(n), gy(n), gx(n);
  {
    std::vector<float> h(1 << 20);
    std::normal_distribution<float> d(0.f, 1.f);
    for (auto &v : h) v = d(rng());
    for (int64_t i = 0; i < n; i += (int64_t)h.size())
      KT_CHECK(cudaMemcpy(x.p + i, h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice));
    KT_CHECK(cudaMemcpy(gy.p, x.p, n * sizeof(float), cudaMemcpyDeviceToDevice));
  }
  auto &L = launch();
  const double gib = (double)n * sizeof(float);
  kiln_tensor xv = desc(x.p, KILN_FLOAT32, {n}), yv = desc(y.p, KILN_FLOAT32, {n});
  kiln_tensor gyv = desc(gy.p, KILN_FLOAT32, {n}), gxv = desc(gx.p, KILN_FLOAT32, {n});
  report_gbs("gelu_f32_1GiB", 2 * gib, time_ms([&] { act_cuda(L, yv, xv, NnAct::Gelu); }));
  report_gbs("gelu_tanh_f32_1GiB", 2 * gib, time_ms([&] { act_cuda(L, yv, xv, NnAct::GeluTanh); }));
  report_gbs("silu_f32_1GiB", 2 * gib, time_ms([&] { act_cuda(L, yv, xv, NnAct::Silu); }));
  report_gbs("gelu_backward_f32_1GiB", 3 * gib, time_ms([&] { act_backward_cuda(L, gxv, gyv, xv, NnAct::Gelu); }));
  report_gbs("dropout_f32_1GiB", 2 * gib,
             time_ms([&] { dropout_cuda(L, yv, xv, 42, 0, (uint32_t)(0.1 * 16777216), 1 / 0.9); }));
}

}  // namespace

int main(int argc, char **argv) {
  bool run_bench = !(argc > 1 && std::string(argv[1]) == "--no-bench");
  test_act<float>("f32", 1e-6);
  test_act<double>("f64", 1e-13);
  test_act<half_t>("f16", 1e-3);
  test_act<bfloat16_t>("bf16", 8e-3);
  test_act_errors();
  test_dropout();
  test_bad_index_keys();
  test_embedding();
  if (run_bench) bench();
  return finish("nn");
}
