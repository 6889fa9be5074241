// Launcher tests for native/cuda/kernels/optim.cu: the fused multi-tensor SGD, Adam/AdamW,
// Adagrad and RMSprop steps against a float64 host reference of native/cpu/optim.cpp's rules over
// several steps, with many items of odd sizes (empty, misaligned, more items than one launch
// holds, per-item step counts), float32 and float64; every error status; then the bench (AdamW
// over 100M float32 parameters, 28 bytes per parameter, one tensor and 100 tensors).
// Build: scripts/build_cuda_tests.sh optim_test; run: build-cuda-tests/optim_test.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "harness.cuh"
#include "nn.h"

using namespace kiln::cuda;
using namespace kiln::cuda::test;

namespace {

void expect_status(const std::string &what, kiln_status got, kiln_status want) {
  if (got != want && got != KILN_OK)
    std::printf("{\"kind\":\"note\",\"what\":\"%s\",\"message\":\"%s\"}\n", what.c_str(), launch().message);
  expect(what + " status " + std::to_string((int)got) + " want " + std::to_string((int)want), got == want ? 0 : 1, 0);
}

// One parameter tensor: host copies in double of param and state; device buffers in T.
struct HostItem {
  std::vector<double> p, s[3];
  int64_t numel, step, shift;  // shift: elements the device pointers are offset by (misalignment)
};

// optim.cpp's rules in double.
void ref_step(kiln_optim kind, const double *h, HostItem &it, const std::vector<double> &g) {
  const bool first = it.step == 1;
  for (int64_t i = 0; i < it.numel; i++) {
    double &p = it.p[(size_t)i], &s0 = it.s[0][(size_t)i], &s1 = it.s[1][(size_t)i], &s2 = it.s[2][(size_t)i];
    double d = g[(size_t)i];
    switch (kind) {
      case KILN_OPTIM_SGD: {
        const double lr = h[0], mom = h[1], damp = h[2], wd = h[3];
        if (h[5] != 0) d = -d;
        if (wd != 0) d += wd * p;
        if (mom != 0) {
          double m = first ? d : mom * s0 + (1 - damp) * d;
          s0 = m;
          d = h[4] != 0 ? d + mom * m : m;
        }
        p -= lr * d;
        break;
      }
      case KILN_OPTIM_ADAM: {
        const double lr = h[0], b1 = h[1], b2 = h[2], eps = h[3], wd = h[4];
        const double t = (double)it.step;
        if (h[6] != 0) d = -d;
        double w = p;
        if (wd != 0) {
          if (h[7] != 0)
            w *= 1 - lr * wd;
          else
            d += wd * w;
        }
        s0 = b1 * s0 + (1 - b1) * d;
        s1 = b2 * s1 + (1 - b2) * d * d;
        double v = s1;
        if (h[5] != 0) {
          v = std::max(v, s2);
          s2 = v;
        }
        double denom = std::sqrt(v) / std::sqrt(1 - std::pow(b2, t)) + eps;
        p = w - lr / (1 - std::pow(b1, t)) * s0 / denom;
        break;
      }
      case KILN_OPTIM_ADAGRAD: {
        const double lr = h[0], lr_decay = h[1], wd = h[2], eps = h[3];
        if (h[4] != 0) d = -d;
        if (wd != 0) d += wd * p;
        const double clr = lr / (1 + (double)(it.step - 1) * lr_decay);
        s0 += d * d;
        p -= clr * d / (std::sqrt(s0) + eps);
        break;
      }
      case KILN_OPTIM_RMSPROP: {
        const double lr = h[0], alpha = h[1], eps = h[2], wd = h[3], mom = h[4];
        if (h[6] != 0) d = -d;
        if (wd != 0) d += wd * p;
        s0 = alpha * s0 + (1 - alpha) * d * d;
        double avg;
        if (h[5] != 0) {
          s2 = alpha * s2 + (1 - alpha) * d;
          avg = std::sqrt(s0 - s2 * s2) + eps;
        } else {
          avg = std::sqrt(s0) + eps;
        }
        if (mom > 0) {
          s1 = mom * s1 + d / avg;
          p -= lr * s1;
        } else {
          p -= lr * d / avg;
        }
        break;
      }
    }
  }
}

template <class To, class From>
std::vector<To> cast(const std::vector<From> &v) {
  return std::vector<To>(v.begin(), v.end());
}

// Steps `nsteps` times over items of the given sizes and compares parameters and states.
template <class T>
void check_optim(const std::string &tag, kiln_optim kind, std::vector<double> h, const std::vector<int64_t> &sizes,
                 int nsteps, double tol, int variant = kOptimVariant) {
  const int n = (int)sizes.size();
  std::vector<HostItem> hi((size_t)n);
  std::vector<std::unique_ptr<DevBuf<T>>> bufs;  // per item: p, g, s0, s1, s2
  std::vector<kiln_optim_item> items((size_t)n);
  for (int i = 0; i < n; i++) {
    HostItem &it = hi[(size_t)i];
    it.numel = sizes[(size_t)i];
    it.step = i % 3 == 2 ? 5 : 1;  // some items are further along
    it.shift = i % 4 == 3 ? 1 : 0;
    const size_t m = (size_t)it.numel;
    it.p = cast<double>(cast<T>(randn<double>(m)));
    // States: momentum-like any sign; second moments positive; grad_avg with grad_avg^2 < square_avg.
    it.s[0] = randn<double>(m, 0.1);
    it.s[1] = randn<double>(m, 0.1);
    it.s[2] = randn<double>(m, 0.1);
    if (kind == KILN_OPTIM_ADAM)
      for (size_t j = 0; j < m; j++) it.s[1][j] = std::fabs(it.s[1][j]), it.s[2][j] = std::fabs(it.s[2][j]) * 1.5;
    if (kind == KILN_OPTIM_ADAGRAD)
      for (size_t j = 0; j < m; j++) it.s[0][j] = std::fabs(it.s[0][j]);
    if (kind == KILN_OPTIM_RMSPROP)
      for (size_t j = 0; j < m; j++) it.s[0][j] = it.s[2][j] * it.s[2][j] + std::fabs(it.s[0][j]);
    for (int k = 0; k < 3; k++) it.s[k] = cast<double>(cast<T>(it.s[k]));
    auto up = [&](const std::vector<double> &v) {
      bufs.emplace_back(new DevBuf<T>(m + 1));
      std::vector<T> hv(m + 1, (T)7);
      for (size_t j = 0; j < m; j++) hv[j + (size_t)it.shift] = (T)v[j];
      bufs.back()->upload(hv);
      return bufs.back()->p + it.shift;
    };
    kiln_optim_item &o = items[(size_t)i];
    o.param = up(it.p);
    o.grad = up(std::vector<double>(m, 0.0));
    for (int k = 0; k < 3; k++) o.state[k] = up(it.s[k]);
    o.numel = it.numel;
  }
  // The reference takes the hyperparameters rounded to T, as the launcher (and the CPU) use them.
  std::vector<double> hr(h.size());
  for (size_t k = 0; k < h.size(); k++) hr[k] = (double)(T)h[k];
  for (int s = 0; s < nsteps; s++) {
    for (int i = 0; i < n; i++) {
      HostItem &it = hi[(size_t)i];
      auto g = cast<double>(cast<T>(randn<double>((size_t)it.numel)));
      KT_CHECK(cudaMemcpy((void *)items[(size_t)i].grad, cast<T>(g).data(), (size_t)it.numel * sizeof(T),
                          cudaMemcpyHostToDevice));
      items[(size_t)i].step = it.step;
      ref_step(kind, hr.data(), it, g);
    }
    kiln_status st =
        optim_step_variant_cuda(launch(), variant, kind, dtype_of<T>(), items.data(), n, h.data(), (int)h.size());
    expect_status("optim " + tag + " step " + std::to_string(s), st, KILN_OK);
    for (auto &it : hi) it.step++;
  }
  KT_CHECK(cudaDeviceSynchronize());
  std::vector<double> want_p, got_p, want_s, got_s;
  const bool used[4][3] = {{h[1] != 0, false, false},
                           {true, true, kind == KILN_OPTIM_ADAM && h[5] != 0},
                           {true, false, false},
                           {true, kind == KILN_OPTIM_RMSPROP && h[4] > 0, kind == KILN_OPTIM_RMSPROP && h[5] != 0}};
  for (int i = 0; i < n; i++) {
    const HostItem &it = hi[(size_t)i];
    const size_t m = (size_t)it.numel;
    auto dl = [&](const void *p) {
      std::vector<T> v(m);
      if (m) KT_CHECK(cudaMemcpy(v.data(), p, m * sizeof(T), cudaMemcpyDeviceToHost));
      return std::vector<double>(v.begin(), v.end());
    };
    auto gp = dl(items[(size_t)i].param);
    want_p.insert(want_p.end(), it.p.begin(), it.p.end());
    got_p.insert(got_p.end(), gp.begin(), gp.end());
    for (int k = 0; k < 3; k++) {
      if (!used[(int)kind][k]) continue;
      auto gs = dl(items[(size_t)i].state[k]);
      want_s.insert(want_s.end(), it.s[k].begin(), it.s[k].end());
      got_s.insert(got_s.end(), gs.begin(), gs.end());
    }
  }
  expect("optim " + tag + " params", rel_err(got_p, want_p), tol);
  expect("optim " + tag + " state", rel_err(got_s, want_s), tol);
}

template <class T>
void test_optim(const char *dname, double tol) {
  const std::vector<int64_t> odd = {1, 3, 17, 0, 1000, 4099, 65537, 5, 2, 123457};
  std::vector<int64_t> many(130);
  for (size_t i = 0; i < many.size(); i++) many[i] = 1 + (int64_t)(i * 37 % 301);
  struct Case {
    const char *name;
    kiln_optim kind;
    std::vector<double> h;
  } cases[] = {
      {"sgd plain", KILN_OPTIM_SGD, {0.1, 0, 0, 0, 0, 0}},
      {"sgd momentum nesterov wd", KILN_OPTIM_SGD, {0.05, 0.9, 0.1, 0.01, 1, 0}},
      {"sgd momentum maximize", KILN_OPTIM_SGD, {0.05, 0.9, 0, 0, 0, 1}},
      {"adam", KILN_OPTIM_ADAM, {1e-3, 0.9, 0.999, 1e-8, 0, 0, 0, 0}},
      {"adamw", KILN_OPTIM_ADAM, {1e-3, 0.9, 0.999, 1e-8, 0.01, 0, 0, 1}},
      {"adam amsgrad maximize l2", KILN_OPTIM_ADAM, {1e-3, 0.9, 0.99, 1e-6, 0.1, 1, 1, 0}},
      {"adamw amsgrad", KILN_OPTIM_ADAM, {2e-3, 0.8, 0.99, 1e-8, 0.1, 1, 0, 1}},
      {"adagrad", KILN_OPTIM_ADAGRAD, {0.01, 0, 0, 1e-10, 0}},
      {"adagrad decay wd maximize", KILN_OPTIM_ADAGRAD, {0.01, 0.01, 0.1, 1e-10, 1}},
      {"rmsprop", KILN_OPTIM_RMSPROP, {0.01, 0.99, 1e-8, 0, 0, 0, 0}},
      {"rmsprop centered momentum wd", KILN_OPTIM_RMSPROP, {0.01, 0.9, 1e-8, 0.01, 0.9, 1, 0}},
      {"rmsprop momentum maximize", KILN_OPTIM_RMSPROP, {0.01, 0.99, 1e-8, 0, 0.5, 0, 1}},
  };
  for (const Case &c : cases) {
    check_optim<T>(std::string(c.name) + " " + dname + " odd sizes", c.kind, c.h, odd, 3, tol);
    check_optim<T>(std::string(c.name) + " " + dname + " 130 items", c.kind, c.h, many, 2, tol);
  }
  for (int variant : {1, 2, 4})
    for (int c : {1, 4, 6, 10}) {
      std::string tag = std::string(cases[c].name) + " " + dname + " variant " + std::to_string(variant);
      check_optim<T>(tag, cases[c].kind, cases[c].h, odd, 2, tol, variant);
    }
}

void test_errors() {
  auto &L = launch();
  DevBuf<float> a(64), b(64), m(64), v(64);
  kiln_optim_item it{};
  it.param = a.p, it.grad = b.p, it.state[0] = m.p, it.state[1] = v.p, it.numel = 64, it.step = 1;
  const double adam[8] = {1e-3, 0.9, 0.999, 1e-8, 0, 0, 0, 0};
  expect_status("optim ok", optim_step_cuda(L, KILN_OPTIM_ADAM, KILN_FLOAT32, &it, 1, adam, 8), KILN_OK);
  expect_status("optim too few hyper", optim_step_cuda(L, KILN_OPTIM_ADAM, KILN_FLOAT32, &it, 1, adam, 7),
                KILN_ERR_ARG);
  expect_status("optim unknown kind", optim_step_cuda(L, (kiln_optim)9, KILN_FLOAT32, &it, 1, adam, 8), KILN_ERR_ARG);
  expect_status("optim float16", optim_step_cuda(L, KILN_OPTIM_ADAM, KILN_FLOAT16, &it, 1, adam, 8), KILN_ERR_DTYPE);
  expect_status("optim n < 0", optim_step_cuda(L, KILN_OPTIM_ADAM, KILN_FLOAT32, &it, -1, adam, 8), KILN_ERR_ARG);
  expect_status("optim null hyper", optim_step_cuda(L, KILN_OPTIM_ADAM, KILN_FLOAT32, &it, 1, nullptr, 8),
                KILN_ERR_ARG);
  kiln_optim_item bad = it;
  bad.step = 0;
  expect_status("optim step 0", optim_step_cuda(L, KILN_OPTIM_ADAM, KILN_FLOAT32, &bad, 1, adam, 8), KILN_ERR_ARG);
  bad = it, bad.grad = nullptr;
  expect_status("optim null grad", optim_step_cuda(L, KILN_OPTIM_ADAM, KILN_FLOAT32, &bad, 1, adam, 8), KILN_ERR_ARG);
  bad = it, bad.numel = -1;
  expect_status("optim negative numel", optim_step_cuda(L, KILN_OPTIM_ADAM, KILN_FLOAT32, &bad, 1, adam, 8),
                KILN_ERR_ARG);
  bad = it, bad.state[1] = nullptr;
  expect_status("optim adam without exp_avg_sq", optim_step_cuda(L, KILN_OPTIM_ADAM, KILN_FLOAT32, &bad, 1, adam, 8),
                KILN_ERR_ARG);
  const double ams[8] = {1e-3, 0.9, 0.999, 1e-8, 0, 1, 0, 0};
  expect_status("optim amsgrad without max_exp_avg_sq",
                optim_step_cuda(L, KILN_OPTIM_ADAM, KILN_FLOAT32, &it, 1, ams, 8), KILN_ERR_ARG);
  const double sgd[6] = {0.1, 0.9, 0, 0, 0, 0};
  bad = it, bad.state[0] = nullptr;
  expect_status("optim sgd momentum without buffer", optim_step_cuda(L, KILN_OPTIM_SGD, KILN_FLOAT32, &bad, 1, sgd, 6),
                KILN_ERR_ARG);
  const double sgd0[6] = {0.1, 0, 0, 0, 0, 0};
  expect_status("optim sgd plain without buffer", optim_step_cuda(L, KILN_OPTIM_SGD, KILN_FLOAT32, &bad, 1, sgd0, 6),
                KILN_OK);
  expect_status("optim no items", optim_step_cuda(L, KILN_OPTIM_SGD, KILN_FLOAT32, nullptr, 0, sgd0, 6), KILN_OK);
  KT_CHECK(cudaDeviceSynchronize());
}

void bench() {
  const int64_t n = 100000000;
  DevBuf<float> p(n), g(n), m(n), v(n);
  {
    std::vector<float> h(1 << 20);
    std::normal_distribution<float> d(0.f, 1.f);
    for (auto &x : h) x = d(rng());
    for (DevBuf<float> *b : {&p, &g, &m, &v})
      for (int64_t i = 0; i < n; i += (int64_t)h.size())
        KT_CHECK(cudaMemcpy(b->p + i, h.data(), (size_t)std::min<int64_t>((int64_t)h.size(), n - i) * sizeof(float),
                            cudaMemcpyHostToDevice));
    std::vector<float> a(h.size());
    for (size_t i = 0; i < a.size(); i++) a[i] = std::fabs(h[i]);
    for (int64_t i = 0; i < n; i += (int64_t)a.size())
      KT_CHECK(cudaMemcpy(v.p + i, a.data(), (size_t)std::min<int64_t>((int64_t)a.size(), n - i) * sizeof(float),
                          cudaMemcpyHostToDevice));
  }
  const double h[8] = {1e-3, 0.9, 0.999, 1e-8, 0.01, 0, 0, 1};
  auto &L = launch();
  kiln_optim_item one{};
  one.param = p.p, one.grad = g.p, one.state[0] = m.p, one.state[1] = v.p, one.numel = n, one.step = 10;
  for (int variant : {1, 2, 4})
    report_gbs("adamw_f32_100M_1_tensor_v" + std::to_string(variant), 28.0 * n,
               time_ms([&] { optim_step_variant_cuda(L, variant, KILN_OPTIM_ADAM, KILN_FLOAT32, &one, 1, h, 8); }));
  std::vector<kiln_optim_item> many(100);
  for (int i = 0; i < 100; i++) {
    const int64_t o = (int64_t)i * (n / 100);
    many[(size_t)i] = one;
    many[(size_t)i].param = p.p + o, many[(size_t)i].grad = g.p + o;
    many[(size_t)i].state[0] = m.p + o, many[(size_t)i].state[1] = v.p + o;
    many[(size_t)i].numel = n / 100;
  }
  report_gbs("adamw_f32_100M_100_tensors", 28.0 * n,
             time_ms([&] { optim_step_cuda(L, KILN_OPTIM_ADAM, KILN_FLOAT32, many.data(), 100, h, 8); }));
  const double sgd[6] = {0.01, 0.9, 0, 0, 0, 0};
  report_gbs("sgd_momentum_f32_100M", 20.0 * n,
             time_ms([&] { optim_step_cuda(L, KILN_OPTIM_SGD, KILN_FLOAT32, &one, 1, sgd, 6); }));
}

}  // namespace

int main(int argc, char **argv) {
  bool run_bench = !(argc > 1 && std::string(argv[1]) == "--no-bench");
  test_optim<float>("f32", 2e-6);
  test_optim<double>("f64", 1e-12);
  test_errors();
  if (run_bench) bench();
  return finish("optim");
}
