// Shared pieces of the elementwise family's launcher tests (elementwise_test.cu, reduce_index_test.cu):
// dtype and layout tables, strided views of device buffers with host copies, fills, the check of an
// output against a host reference, and status expectations.
#pragma once
#include <cinttypes>
#include <memory>

#include "../../core/philox_sample.h"
// scalar_math.h compares unsigned values with zero in its generic functors: intended.
#pragma nv_diag_suppress 186
#include "../../cpu/scalar_math.h"
#include "elementwise.h"
#include "harness.cuh"

using namespace kiln;
using namespace kiln::cuda;
using namespace kiln::cuda::test;

namespace {

const kiln_dtype kAll[] = {KILN_FLOAT32, KILN_FLOAT64, KILN_FLOAT16, KILN_BFLOAT16,
                           KILN_INT32,   KILN_INT64,   KILN_UINT8,   KILN_BOOL};
const char *dt_name(int dt) {
  static const char *n[] = {"f32", "f64", "f16", "bf16", "i32", "i64", "u8", "bool"};
  return dt >= 0 && dt < 8 ? n[dt] : "bad";
}
bool is_float(int dt) { return dt <= KILN_BFLOAT16; }

// Tolerance of a floating result stored in dt (relative-norm error against float64).
double tol_of(int dt) {
  switch (dt) {
    case KILN_FLOAT32: return 1e-5;
    case KILN_FLOAT64: return 1e-12;
    case KILN_FLOAT16: return 2e-3;
    case KILN_BFLOAT16: return 1e-2;
    default: return 0;
  }
}

enum Layout { Contig, Transposed, Strided, Broadcast, Scalar, Misaligned };
const char *layout_name(Layout l) {
  static const char *n[] = {"contig", "transposed", "strided", "broadcast", "scalar", "misaligned"};
  return n[l];
}

std::string shape_str(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); i++) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

// A view of a device buffer and the buffer's host copy.
struct View {
  kiln_dtype dt = KILN_FLOAT32;
  std::vector<int64_t> shape, strides;
  int64_t off = 0;
  std::vector<uint8_t> host;  // the whole buffer
  std::shared_ptr<DevBuf<uint8_t>> dev;
  size_t es() const { return dtype_size(dt); }
  int64_t numel() const {
    int64_t n = 1;
    for (auto s : shape) n *= s;
    return n;
  }
  kiln_tensor desc() const {
    kiln_tensor t{};
    t.data = dev->p + off * (int64_t)es();
    t.dtype = dt;
    t.ndim = (int32_t)shape.size();
    for (size_t d = 0; d < shape.size(); d++) t.shape[d] = shape[d], t.strides[d] = strides[d];
    return t;
  }
  int64_t pos(int64_t flat) const {  // element position in the buffer of row-major index flat
    int64_t p = off;
    for (int d = (int)shape.size() - 1; d >= 0; d--) {
      p += (flat % shape[d]) * strides[d];
      flat /= shape[d];
    }
    return p;
  }
  template <class T>
  T at(int64_t flat) const {
    T v;
    memcpy(&v, host.data() + pos(flat) * es(), sizeof(T));
    return v;
  }
  double get(int64_t flat) const {
    double r = 0;
    KILN_DISPATCH_ALL(dt, , r = (double)load(at<scalar_t>(flat)));
    return r;
  }
  void upload() { dev->upload(host); }
  void download() { host = dev->download(); }
};

// Random contents: floats s * (0.25 + |N(0,1)|) with 10% zeros (no tiny divisors), or small
// integers in [ilo, ihi]; bool 0/1.
struct Fill {
  bool small_ints_for_floats = false;  // floats drawn from {-3..3} (ties and equal pairs)
  int64_t ilo = -20, ihi = 20;
  bool near_one = false;  // floats 1 + 0.01 N(0,1) (products)
  bool poison = false;    // every byte 0xff
};

void fill_host(View &v, const Fill &f) {
  const size_t es = v.es(), n = v.host.size() / es;
  if (f.poison) {
    std::fill(v.host.begin(), v.host.end(), 0xff);
    return;
  }
  std::normal_distribution<double> nd(0.0, 1.0);
  for (size_t i = 0; i < n; i++) {
    double x;
    if (is_float(v.dt)) {
      if (f.small_ints_for_floats)
        x = (double)randint(-3, 3);
      else if (f.near_one)
        x = 1.0 + 0.01 * nd(rng());
      else {
        double g = nd(rng());
        x = randint(0, 9) == 0 ? 0.0 : (g < 0 ? -1 : 1) * (0.25 + std::fabs(g));
      }
    } else if (v.dt == KILN_BOOL) {
      x = (double)randint(0, 1);
    } else if (v.dt == KILN_UINT8) {
      x = (double)randint(std::max<int64_t>(0, f.ilo), std::min<int64_t>(255, f.ihi < 0 ? 255 : f.ihi + 235));
    } else {
      x = (double)randint(f.ilo, f.ihi);
    }
    KILN_DISPATCH_ALL(v.dt, , {
      scalar_t s = store<scalar_t>(x);
      memcpy(v.host.data() + i * es, &s, es);
    });
  }
}

Fill poisoned() {
  Fill f;
  f.poison = true;
  return f;
}

View make_view(kiln_dtype dt, const std::vector<int64_t> &shape, Layout l, const Fill &f = Fill{}) {
  View v;
  v.dt = dt;
  v.shape = shape;
  const int nd = (int)shape.size();
  v.strides.assign(nd, 0);
  int64_t buf = 1;
  switch (l) {
    case Contig:
    case Misaligned:
      for (int d = nd - 1; d >= 0; d--) v.strides[d] = buf, buf *= shape[d];
      if (l == Misaligned) v.off = 1, buf += 1;
      break;
    case Transposed:  // dim 0 fastest
      for (int d = 0; d < nd; d++) v.strides[d] = buf, buf *= shape[d];
      break;
    case Strided:  // every dim steps by 2 elements' worth
      buf = 2;
      for (int d = nd - 1; d >= 0; d--) v.strides[d] = buf, buf *= 2 * shape[d];
      buf /= 2;
      break;
    case Broadcast:  // odd dims (or dim 0 of a 1-d shape) expanded from size 1
      for (int d = nd - 1; d >= 0; d--) {
        if ((d % 2 == 1 || nd == 1) && shape[d] > 1) continue;  // stride 0
        v.strides[d] = buf, buf *= shape[d];
      }
      break;
    case Scalar: break;
  }
  v.host.assign((size_t)std::max<int64_t>(buf, 1) * v.es(), 0);
  fill_host(v, f);
  v.dev = std::make_shared<DevBuf<uint8_t>>(v.host.size());
  v.upload();
  return v;
}

std::vector<int64_t> random_shape(int max_nd = 4, int64_t max_dim = 37) {
  int nd = (int)randint(1, max_nd);
  std::vector<int64_t> s(nd);
  for (auto &x : s) x = randint(1, max_dim);
  return s;
}

// Error of got against want: equal values (infinities, NaN against NaN) count as exact; a NaN or
// infinity on one side only is an infinite error; otherwise the relative norm.
double err_of(const std::vector<double> &got, const std::vector<double> &want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); i++) {
    double g = got[i], w = want[i];
    if (g == w || (std::isnan(g) && std::isnan(w))) {
      if (std::isfinite(w)) den += w * w;
      continue;
    }
    if (!std::isfinite(g) || !std::isfinite(w)) return INFINITY;
    num += (g - w) * (g - w);
    den += w * w;
  }
  if (num == 0) return 0;
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

// Downloads out, compares every element with ref(flat), and checks that the buffer bytes outside
// the view kept their poison.
void check_out(const std::string &name, View &out, const std::function<double(int64_t)> &ref, double tol) {
  KT_CHECK(cudaDeviceSynchronize());
  out.download();
  const int64_t n = out.numel();
  std::vector<double> got(n), want(n);
  std::vector<char> covered(out.host.size() / out.es(), 0);
  for (int64_t i = 0; i < n; i++) {
    got[i] = out.get(i);
    want[i] = ref(i);
    covered[out.pos(i)] = 1;
  }
  expect(name, err_of(got, want), tol);
  bool gaps_ok = true;
  for (size_t p = 0; p < covered.size() && gaps_ok; p++)
    if (!covered[p])
      for (size_t b = 0; b < out.es(); b++) gaps_ok = gaps_ok && out.host[p * out.es() + b] == 0xff;
  if (!gaps_ok) expect(name + " (bytes outside the view)", 1, 0);
}

void expect_status(const std::string &name, kiln_status got, kiln_status want) {
  bool msg_ok = got == KILN_OK || launch().message[0] != 0;
  expect(name + " -> status " + std::to_string((int)want) + (msg_ok ? "" : " (no message)"),
         got == want && msg_ok ? 0 : 1, 0);
  launch().message[0] = 0;
}

Layout out_layout_for(Layout in) { return in == Transposed ? Transposed : (in == Strided ? Strided : Contig); }

}  // namespace
