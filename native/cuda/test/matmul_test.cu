// Launcher tests for native/cuda/kernels/matmul.cu (the simple tiled GEMM until the GEMM issue):
// odd, transposed and batched shapes (broadcast batch strides, padded output rows), alpha/beta,
// bias broadcast along rows or columns or full, every GemmAct, float32/float64/float16/bfloat16
// and the integers, against a float64 host reference; every error status; then the bench (4096^3
// float32, plain and with a transposed a, and 2048^3 float64, in GFLOP/s).
// Build: scripts/build_cuda_tests.sh matmul_test; run: build-cuda-tests/matmul_test.
#include <cmath>
#include <string>
#include <vector>

#include "../../core/dtype.h"
#include "harness.cuh"
#include "nn.h"

using namespace kiln::cuda;
using namespace kiln::cuda::test;
using kiln::bfloat16_t;
using kiln::half_t;

namespace {

kiln_tensor view(void *data, kiln_dtype dt, const std::vector<int64_t> &shape, const std::vector<int64_t> &strides) {
  kiln_tensor t = desc(data, dt, shape);
  for (size_t d = 0; d < strides.size(); d++) t.strides[d] = strides[d];
  return t;
}

void expect_status(const std::string &what, kiln_status got, kiln_status want) {
  if (got != want && got != KILN_OK)
    std::printf("{\"kind\":\"note\",\"what\":\"%s\",\"message\":\"%s\"}\n", what.c_str(), launch().message);
  expect(what + " status " + std::to_string((int)got) + " want " + std::to_string((int)want), got == want ? 0 : 1, 0);
}

double act_ref(GemmAct act, double x) {
  switch (act) {
    case GemmAct::Relu: return x < 0 ? 0 : x;
    case GemmAct::Gelu: return 0.5 * x * std::erfc(-x * 0.70710678118654752);
    case GemmAct::GeluTanh: return 0.5 * x * (1 + std::tanh(0.79788456080286536 * (x + 0.044715 * x * x * x)));
    default: return x;
  }
}

struct Case {
  int64_t B0 = 0, B1 = 0;  // batch dims (B0 == 0: none)
  int64_t M, N, K;
  bool ta = false, tb = false;  // a stored [K, M] / b stored [N, K] and viewed transposed
  int bias = 0;                 // 0 none, 1 [N] along rows, 2 [M] along columns, 3 full
  double alpha = 1, beta = 0;
  GemmAct act = GemmAct::None;
  bool bcast_b = false;  // b's batch strides 0
  int64_t opad = 0;      // out's row stride is N + opad
};

std::string describe(const Case &c) {
  char s[200];
  std::snprintf(s, sizeof s, "B%lldx%lld M%lld N%lld K%lld ta%d tb%d bias%d a%.2g b%.2g act%d bb%d pad%lld",
                (long long)c.B0, (long long)c.B1, (long long)c.M, (long long)c.N, (long long)c.K, c.ta, c.tb, c.bias,
                c.alpha, c.beta, (int)c.act, c.bcast_b, (long long)c.opad);
  return s;
}

template <class T>
std::vector<double> values(size_t n) {
  std::vector<double> v = randn<double>(n);
  if constexpr (std::is_integral_v<T>)
    for (auto &x : v) x = std::is_signed_v<T> ? (double)randint(-4, 4) : (double)randint(0, 3);
  return to_d(to_t<T>(v));
}

template <class T>
void check_mm(const char *dname, const Case &c, double tol) {
  const kiln_dtype dt = dtype_of<T>();
  const bool batched = c.B0 > 0;
  const int64_t nb = batched ? c.B0 * c.B1 : 1, M = c.M, N = c.N, K = c.K, ors = N + c.opad;
  const int64_t nbb = c.bcast_b ? 1 : nb;
  auto ah = values<T>((size_t)(nb * M * K)), bh = values<T>((size_t)(nbb * K * N));
  auto oh = values<T>((size_t)(nb * M * ors));
  const int64_t zn = c.bias == 1 ? N : c.bias == 2 ? M : c.bias == 3 ? nb * M * N : 1;
  auto zh = values<T>((size_t)zn);
  DevBuf<T> a(nb * M * K), b(nbb * K * N), o(nb * M * ors), z(zn);
  a.upload(to_t<T>(ah)), b.upload(to_t<T>(bh)), o.upload(to_t<T>(oh)), z.upload(to_t<T>(zh));
  std::vector<int64_t> bshape, as_, bs_, os_, zs_;
  if (batched) {
    bshape = {c.B0, c.B1};
    as_ = {c.B1 * M * K, M * K};
    bs_ = c.bcast_b ? std::vector<int64_t>{0, 0} : std::vector<int64_t>{c.B1 * K * N, K * N};
    os_ = {c.B1 * M * ors, M * ors};
    zs_ = c.bias == 3 ? std::vector<int64_t>{c.B1 * M * N, M * N} : std::vector<int64_t>{0, 0};
  }
  auto mk = [&](void *p, std::vector<int64_t> batch_st, int64_t r, int64_t cc, int64_t rs, int64_t cs) {
    std::vector<int64_t> shape = bshape, st = batch_st;
    shape.push_back(r), shape.push_back(cc), st.push_back(rs), st.push_back(cs);
    return view(p, dt, shape, st);
  };
  kiln_tensor av = c.ta ? mk(a.p, as_, M, K, 1, M) : mk(a.p, as_, M, K, K, 1);
  kiln_tensor bv = c.tb ? mk(b.p, bs_, K, N, 1, K) : mk(b.p, bs_, K, N, N, 1);
  kiln_tensor ov = mk(o.p, os_, M, N, ors, 1);
  int64_t zr = 0, zc = 0;
  if (c.bias == 1) zr = 0, zc = 1;
  if (c.bias == 2) zr = 1, zc = 0;
  if (c.bias == 3) zr = N, zc = 1;
  kiln_tensor zv = mk(z.p, zs_, M, N, zr, zc);
  MatmulOpts opts;
  opts.alpha = c.alpha, opts.beta = c.beta, opts.act = c.act;
  const std::string name = std::string("matmul ") + dname + " " + describe(c);
  expect_status(name, matmul_cuda(launch(), ov, av, bv, c.bias ? &zv : nullptr, opts), KILN_OK);
  std::vector<double> want, got;
  auto od = to_d(o.download());
  for (int64_t q = 0; q < nb; q++) {
    const double *A = ah.data() + q * M * K, *B = bh.data() + (c.bcast_b ? 0 : q * K * N);
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double acc = 0;
        for (int64_t k = 0; k < K; k++) acc += A[c.ta ? k * M + i : i * K + k] * B[c.tb ? j * K + k : k * N + j];
        double v = c.alpha * acc;
        const size_t oi = (size_t)(q * M * ors + i * ors + j);
        if (c.beta != 0) v += c.beta * oh[oi];
        if (c.bias == 1) v += zh[(size_t)j];
        if (c.bias == 2) v += zh[(size_t)i];
        if (c.bias == 3) v += zh[(size_t)(q * M * N + i * N + j)];
        want.push_back(act_ref(c.act, v));
        got.push_back(od[oi]);
      }
    // Padding columns of out are never written.
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = N; j < ors; j++) {
        const size_t oi = (size_t)(q * M * ors + i * ors + j);
        want.push_back(oh[oi]);
        got.push_back(od[oi]);
      }
  }
  expect(name, rel_err(got, want), tol);
}

std::vector<Case> float_cases() {
  std::vector<Case> v;
  auto add = [&](Case c) { v.push_back(c); };
  add({0, 0, 1, 1, 1});
  add({0, 0, 7, 5, 3, false, false, 3, 1.5, 0.5, GemmAct::Relu});
  add({0, 0, 129, 67, 33, true, false, 1, 1, 0, GemmAct::Gelu});
  add({0, 0, 130, 257, 65, false, true, 2, 0.5, 0, GemmAct::GeluTanh, false, 3});
  add({0, 0, 64, 64, 300, true, true});
  add({2, 3, 33, 45, 17, false, false, 3, 1, 1, GemmAct::None, true});
  add({3, 1, 20, 130, 9, true, true, 1, -1, 0.25, GemmAct::Relu, false, 1});
  add({0, 0, 300, 1, 70});
  add({0, 0, 1, 300, 70, false, true, 1});
  add({0, 0, 5, 6, 0, false, false, 1, 1, 0.5, GemmAct::Relu});
  add({0, 0, 256, 256, 256});
  return v;
}

void test_matmul() {
  for (const Case &c : float_cases()) {
    check_mm<float>("f32", c, 1e-5);
    check_mm<double>("f64", c, 1e-13);
  }
  auto fc = float_cases();
  for (int i : {1, 3, 5, 6}) {
    check_mm<half_t>("f16", fc[(size_t)i], 2e-3);
    check_mm<bfloat16_t>("bf16", fc[(size_t)i], 1.5e-2);
  }
  Case ic{0, 0, 37, 29, 41, false, false, 3, 2, 1, GemmAct::Relu};
  check_mm<int32_t>("int32", ic, 0);
  check_mm<int64_t>("int64", ic, 0);
  check_mm<int32_t>("int32", {2, 2, 70, 66, 65, true, true, 1, 1, 0, GemmAct::None, true, 2}, 0);
  check_mm<uint8_t>("uint8", {0, 0, 9, 10, 11}, 0);

  auto &L = launch();
  DevBuf<float> a(64), b(64), o(64);
  DevBuf<double> d(64);
  DevBuf<int32_t> i(64);
  DevBuf<uint8_t> u(64);
  MatmulOpts plain;
  auto f = [&](void *p, std::vector<int64_t> s, kiln_dtype dt = KILN_FLOAT32) { return desc(p, dt, s); };
  expect_status("matmul rank", matmul_cuda(L, f(o.p, {4, 4}), f(a.p, {1, 4, 4}), f(b.p, {4, 4}), nullptr, plain),
                KILN_ERR_SHAPE);
  expect_status("matmul rank 1", matmul_cuda(L, f(o.p, {4}), f(a.p, {4}), f(b.p, {4}), nullptr, plain), KILN_ERR_SHAPE);
  expect_status("matmul inner", matmul_cuda(L, f(o.p, {4, 4}), f(a.p, {4, 3}), f(b.p, {4, 4}), nullptr, plain),
                KILN_ERR_SHAPE);
  expect_status("matmul batch not expanded",
                matmul_cuda(L, f(o.p, {2, 2, 4}), f(a.p, {1, 2, 4}), f(b.p, {2, 4, 4}), nullptr, plain),
                KILN_ERR_SHAPE);
  expect_status("matmul dtypes",
                matmul_cuda(L, f(o.p, {4, 4}), f(a.p, {4, 4}), f(d.p, {4, 4}, KILN_FLOAT64), nullptr, plain),
                KILN_ERR_DTYPE);
  expect_status("matmul out rows strided",
                matmul_cuda(L, view(o.p, KILN_FLOAT32, {4, 4}, {1, 4}), f(a.p, {4, 4}), f(b.p, {4, 4}), nullptr, plain),
                KILN_ERR_ARG);
  kiln_tensor zb = view(b.p, KILN_FLOAT32, {4, 4}, {0, 2});
  expect_status("matmul bias last stride", matmul_cuda(L, f(o.p, {4, 4}), f(a.p, {4, 4}), f(b.p, {4, 4}), &zb, plain),
                KILN_ERR_ARG);
  expect_status(
      "matmul bool",
      matmul_cuda(L, f(u.p, {4, 4}, KILN_BOOL), f(u.p, {4, 4}, KILN_BOOL), f(u.p, {4, 4}, KILN_BOOL), nullptr, plain),
      KILN_ERR_DTYPE);
  MatmulOpts gelu;
  gelu.act = GemmAct::Gelu;
  expect_status(
      "matmul gelu int32",
      matmul_cuda(L, f(i.p, {4, 4}, KILN_INT32), f(i.p, {4, 4}, KILN_INT32), f(i.p, {4, 4}, KILN_INT32), nullptr, gelu),
      KILN_ERR_DTYPE);
  expect_status("matmul empty", matmul_cuda(L, f(o.p, {0, 4}), f(a.p, {0, 3}), f(b.p, {3, 4}), nullptr, plain),
                KILN_OK);
  KT_CHECK(cudaDeviceSynchronize());
}

template <class T>
void bench_mm(const char *name, int64_t n, bool ta) {
  DevBuf<T> a(n * n), b(n * n), o(n * n);
  std::vector<T> h((size_t)(n * n));
  std::normal_distribution<double> d(0.0, 1.0);
  for (auto &x : h) x = (T)d(rng());
  a.upload(h), b.upload(h);
  const kiln_dtype dt = sizeof(T) == 4 ? KILN_FLOAT32 : KILN_FLOAT64;
  kiln_tensor av = ta ? view(a.p, dt, {n, n}, {1, n}) : desc(a.p, dt, {n, n});
  kiln_tensor bv = desc(b.p, dt, {n, n}), ov = desc(o.p, dt, {n, n});
  MatmulOpts opts;
  double ms = time_ms([&] { matmul_cuda(launch(), ov, av, bv, nullptr, opts); }, 10, 2);
  std::printf("{\"kind\":\"bench\",\"name\":\"%s\",\"n\":%lld,\"ms\":%.4f,\"gflops\":%.1f}\n", name, (long long)n, ms,
              2.0 * n * n * n / (ms * 1e-3) / 1e9);
}

}  // namespace

int main(int argc, char **argv) {
  bool run_bench = !(argc > 1 && std::string(argv[1]) == "--no-bench");
  test_matmul();
  if (run_bench) {
    bench_mm<float>("matmul_f32_4096", 4096, false);
    bench_mm<float>("matmul_f32_4096_a_transposed", 4096, true);
    bench_mm<double>("matmul_f64_2048", 2048, false);
  }
  return finish("matmul");
}
