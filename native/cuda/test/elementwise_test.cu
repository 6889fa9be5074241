// Tests of the elementwise family (native/cuda/kernels/elementwise.h): unary, binary, where, copy,
// fill, reduce, gather/scatter and the Philox fills, against host references that follow
// native/cpu's semantics (float64 for floating math; integer, bool, conversion and random results
// exactly). Every launcher runs on contiguous, transposed, strided (step 2), broadcast (stride 0),
// scalar-expanded and misaligned (offset by one element) views with odd sizes, and every error
// path returns its status. Then the bench: add, copy f32->bf16 and sum over 1 GiB float32 operands
// against the device's copy bandwidth (target: add >= 85% of copy). Build:
// scripts/build_cuda_tests.sh elementwise_test; run: build-cuda-tests/elementwise_test [--no-bench].
#include <cinttypes>
#include <memory>

#include "../../core/philox.h"
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

// ---------------------------------------------------------------- unary

template <class T, class F>
double ref1(F f, T x) {
  if constexpr (std::is_floating_point_v<compute_t<T>>) {
    auto r = f((double)load(x));
    return (double)r;
  } else {
    auto r = f(load(x));
    if constexpr (std::is_same_v<decltype(r), bool>)
      return (double)r;
    else
      return (double)store<T>(r);
  }
}

template <class T>
double ref_unary(Unary op, T x) {
  using namespace math;
  switch (op) {
    case Unary::Neg: return ref1(Neg{}, x);
    case Unary::Abs: return ref1(Abs{}, x);
    case Unary::Sign: return ref1(Sign{}, x);
    case Unary::LogicalNot: return ref1(LogicalNot{}, x);
    default: break;
  }
  if constexpr (std::is_floating_point_v<compute_t<T>>) {
    switch (op) {
      case Unary::Exp: return ref1(Exp{}, x);
      case Unary::Log: return ref1(Log{}, x);
      case Unary::Sqrt: return ref1(Sqrt{}, x);
      case Unary::Rsqrt: return ref1(Rsqrt{}, x);
      case Unary::Sin: return ref1(Sin{}, x);
      case Unary::Cos: return ref1(Cos{}, x);
      case Unary::Tanh: return ref1(Tanh{}, x);
      case Unary::Sigmoid: return ref1(Sigmoid{}, x);
      case Unary::Erf: return ref1(Erf{}, x);
      case Unary::Floor: return ref1(Floor{}, x);
      case Unary::Ceil: return ref1(Ceil{}, x);
      case Unary::Round: return ref1(Round{}, x);
      case Unary::Trunc: return ref1(Trunc{}, x);
      case Unary::Reciprocal: return ref1(Reciprocal{}, x);
      case Unary::Log1p: return ref1(Log1p{}, x);
      case Unary::Expm1: return ref1(Expm1{}, x);
      default: break;
    }
  }
  return NAN;
}

bool unary_defined(int dt, Unary op) {
  return op == Unary::Neg || op == Unary::Abs || op == Unary::Sign || op == Unary::LogicalNot || is_float(dt);
}

void test_unary() {
  const Layout layouts[] = {Contig, Transposed, Strided, Broadcast, Misaligned};
  for (kiln_dtype dt : kAll) {
    for (int o = 0; o < (int)Unary::Count; o++) {
      const Unary op = (Unary)o;
      const kiln_dtype odt = op == Unary::LogicalNot ? KILN_BOOL : dt;
      if (!unary_defined(dt, op)) {
        View a = make_view(dt, {5}, Contig), out = make_view(odt, {5}, Contig);
        expect_status(std::string("unary op ") + std::to_string(o) + " " + dt_name(dt),
                      unary_cuda(launch(), out.desc(), a.desc(), op), KILN_ERR_DTYPE);
        continue;
      }
      for (Layout l : layouts) {
        auto shape = random_shape();
        View a = make_view(dt, shape, l), out = make_view(odt, shape, out_layout_for(l), poisoned());
        kiln_status st = unary_cuda(launch(), out.desc(), a.desc(), op);
        std::string name = std::string("unary ") + std::to_string(o) + " " + dt_name(dt) + " " + layout_name(l) + " " +
                           shape_str(shape);
        if (st != KILN_OK) {
          expect(name + ": " + launch().message, 1, 0);
          continue;
        }
        check_out(
            name, out,
            [&](int64_t i) {
              double r = 0;
              KILN_DISPATCH_ALL(dt, , r = ref_unary<scalar_t>(op, a.at<scalar_t>(i)));
              return r;
            },
            tol_of(odt));
      }
    }
  }
  // Sizes around the pack width and the tail: 1, 15, 16, 17, 4099 (float32 and float16).
  for (kiln_dtype dt : {KILN_FLOAT32, KILN_FLOAT16, KILN_UINT8})
    for (int64_t n : {1, 15, 16, 17, 4099}) {
      View a = make_view(dt, {n}, Contig), out = make_view(dt, {n}, Contig, poisoned());
      KT_CHECK(cudaGetLastError());
      if (unary_cuda(launch(), out.desc(), a.desc(), Unary::Neg) != KILN_OK) expect("neg status", 1, 0);
      check_out(
          std::string("neg ") + dt_name(dt) + " n=" + std::to_string(n), out,
          [&](int64_t i) {
            double r = 0;
            KILN_DISPATCH_ALL(dt, , r = ref_unary<scalar_t>(Unary::Neg, a.at<scalar_t>(i)));
            return r;
          },
          tol_of(dt));
    }
}

// ---------------------------------------------------------------- binary

template <class T, class F>
double ref2(F f, T x, T y) {
  if constexpr (std::is_floating_point_v<compute_t<T>>) {
    return (double)f((double)load(x), (double)load(y));
  } else {
    auto r = f(load(x), load(y));
    if constexpr (std::is_same_v<decltype(r), bool>)
      return (double)r;
    else
      return (double)store<T>(r);
  }
}

template <class T>
double ref_binary(Binary op, T x, T y) {
  using namespace math;
  if constexpr (std::is_same_v<T, bool>) {
    switch (op) {
      case Binary::Mul:
      case Binary::LogicalAnd:
      case Binary::Minimum: return ref2(LogicalAnd{}, x, y);
      case Binary::Add:
      case Binary::Maximum:
      case Binary::LogicalOr: return ref2(LogicalOr{}, x, y);
      case Binary::Eq: return ref2(Eq{}, x, y);
      case Binary::Ne:
      case Binary::LogicalXor: return ref2(Ne{}, x, y);
      case Binary::Lt: return ref2(Lt{}, x, y);
      case Binary::Le: return ref2(Le{}, x, y);
      case Binary::Gt: return ref2(Gt{}, x, y);
      case Binary::Ge: return ref2(Ge{}, x, y);
      default: return NAN;
    }
  } else {
    switch (op) {
      case Binary::Add: return ref2(Add{}, x, y);
      case Binary::Sub: return ref2(Sub{}, x, y);
      case Binary::Mul: return ref2(Mul{}, x, y);
      case Binary::Div: return ref2(Div{}, x, y);
      case Binary::Pow: return ref2(Pow{}, x, y);
      case Binary::Maximum: return ref2(Maximum{}, x, y);
      case Binary::Minimum: return ref2(Minimum{}, x, y);
      case Binary::Remainder: return ref2(Remainder{}, x, y);
      case Binary::Atan2:
        if constexpr (std::is_floating_point_v<compute_t<T>>) return ref2(Atan2{}, x, y);
        return NAN;
      case Binary::Eq: return ref2(Eq{}, x, y);
      case Binary::Ne: return ref2(Ne{}, x, y);
      case Binary::Lt: return ref2(Lt{}, x, y);
      case Binary::Le: return ref2(Le{}, x, y);
      case Binary::Gt: return ref2(Gt{}, x, y);
      case Binary::Ge: return ref2(Ge{}, x, y);
      case Binary::LogicalAnd: return ref2(LogicalAnd{}, x, y);
      case Binary::LogicalOr: return ref2(LogicalOr{}, x, y);
      case Binary::LogicalXor: return ref2(LogicalXor{}, x, y);
      default: return NAN;
    }
  }
}

bool binary_defined(int dt, Binary op) {
  if (dt == KILN_BOOL)
    return !(op == Binary::Sub || op == Binary::Div || op == Binary::Pow || op == Binary::Remainder ||
             op == Binary::Atan2);
  return op != Binary::Atan2 || is_float(dt);
}

void test_binary() {
  const std::pair<Layout, Layout> combos[] = {{Contig, Contig},       {Contig, Scalar},     {Scalar, Contig},
                                              {Transposed, Contig},   {Strided, Broadcast}, {Misaligned, Contig},
                                              {Broadcast, Transposed}};
  for (kiln_dtype dt : kAll) {
    for (int o = 0; o < (int)Binary::Count; o++) {
      const Binary op = (Binary)o;
      const bool cmp = op >= Binary::Eq;
      const kiln_dtype odt = cmp ? KILN_BOOL : dt;
      if (!binary_defined(dt, op)) {
        View a = make_view(dt, {5}, Contig), b = make_view(dt, {5}, Contig), out = make_view(odt, {5}, Contig);
        expect_status(std::string("binary op ") + std::to_string(o) + " " + dt_name(dt),
                      binary_cuda(launch(), out.desc(), a.desc(), b.desc(), op), KILN_ERR_DTYPE);
        continue;
      }
      Fill f;
      f.small_ints_for_floats = cmp;
      if (op == Binary::Pow) f.ilo = -3, f.ihi = 6;
      for (auto [la, lb] : combos) {
        auto shape = random_shape();
        Layout lo = la == Scalar ? out_layout_for(lb) : out_layout_for(la);
        View a = make_view(dt, shape, la, f), b = make_view(dt, shape, lb, f);
        View out = make_view(odt, shape, lo, poisoned());
        kiln_status st = binary_cuda(launch(), out.desc(), a.desc(), b.desc(), op);
        std::string name = std::string("binary ") + std::to_string(o) + " " + dt_name(dt) + " " + layout_name(la) +
                           "/" + layout_name(lb) + " " + shape_str(shape);
        if (st != KILN_OK) {
          expect(name + ": " + launch().message, 1, 0);
          continue;
        }
        check_out(
            name, out,
            [&](int64_t i) {
              double r = 0;
              KILN_DISPATCH_ALL(dt, , r = ref_binary<scalar_t>(op, a.at<scalar_t>(i), b.at<scalar_t>(i)));
              return r;
            },
            tol_of(odt));
      }
    }
  }
  // In place: out aliases a (a += b), contiguous and transposed.
  for (Layout l : {Contig, Transposed}) {
    auto shape = random_shape();
    View a = make_view(KILN_FLOAT32, shape, l), b = make_view(KILN_FLOAT32, shape, l);
    View a0 = a;  // host copy of the inputs (shares the device buffer)
    kiln_status st = binary_cuda(launch(), a.desc(), a.desc(), b.desc(), Binary::Add);
    if (st != KILN_OK) expect("add in place status", 1, 0);
    KT_CHECK(cudaDeviceSynchronize());
    a.download();
    std::vector<double> got(a.numel()), want(a.numel());
    for (int64_t i = 0; i < a.numel(); i++) got[i] = a.get(i), want[i] = (double)(a0.at<float>(i) + b.at<float>(i));
    expect(std::string("add in place ") + layout_name(l), err_of(got, want), 0);
  }
}

// ---------------------------------------------------------------- where, copy, fill

void test_where() {
  const Layout layouts[] = {Contig, Transposed, Strided, Broadcast, Misaligned};
  for (kiln_dtype dt : kAll)
    for (Layout l : layouts) {
      auto shape = random_shape();
      View c = make_view(KILN_BOOL, shape, l == Broadcast ? Contig : l), a = make_view(dt, shape, l);
      View b = make_view(dt, shape, l == Broadcast ? Scalar : Contig);
      View out = make_view(dt, shape, out_layout_for(l), poisoned());
      kiln_status st = where_cuda(launch(), out.desc(), c.desc(), a.desc(), b.desc());
      std::string name = std::string("where ") + dt_name(dt) + " " + layout_name(l) + " " + shape_str(shape);
      if (st != KILN_OK) {
        expect(name + ": " + launch().message, 1, 0);
        continue;
      }
      check_out(
          name, out, [&](int64_t i) { return load(c.at<bool>(i)) ? a.get(i) : b.get(i); }, 0);
    }
}

// Special float values for casts: NaN, infinities, out-of-range and negative fractions.
void add_specials(View &v) {
  if (!is_float(v.dt)) return;
  const double sp[] = {NAN, INFINITY, -INFINITY, 1e10, -1e10, 300.7, -2.5, 65519.0, 65520.0, -0.0, 3e-8, 2.5};
  const size_t n = v.host.size() / v.es();
  for (size_t i = 0; i < n && i < 4 * sizeof sp / sizeof *sp; i += 4) {
    double x = sp[i / 4];
    KILN_DISPATCH_FLOAT(v.dt, , {
      scalar_t s = store<scalar_t>(x);
      memcpy(v.host.data() + i * v.es(), &s, v.es());
    });
  }
  v.upload();
}

void test_copy() {
  const std::pair<Layout, Layout> combos[] = {{Contig, Contig},    {Transposed, Contig}, {Contig, Transposed},
                                              {Strided, Strided},  {Broadcast, Contig},  {Misaligned, Contig},
                                              {Contig, Misaligned}};
  Fill wide;
  wide.ilo = -300, wide.ihi = 300;
  for (kiln_dtype odt : kAll)
    for (kiln_dtype idt : kAll)
      for (auto [li, lo] : combos) {
        auto shape = random_shape();
        View in = make_view(idt, shape, li, wide);
        add_specials(in);
        View out = make_view(odt, shape, lo, poisoned());
        kiln_status st = copy_cuda(launch(), out.desc(), in.desc());
        std::string name = std::string("copy ") + dt_name(idt) + "->" + dt_name(odt) + " " + layout_name(li) + "->" +
                           layout_name(lo) + " " + shape_str(shape);
        if (st != KILN_OK) {
          expect(name + ": " + launch().message, 1, 0);
          continue;
        }
        check_out(
            name, out,
            [&](int64_t i) {
              double r = 0;
              KILN_DISPATCH_ALL(odt, , {
                using O = scalar_t;
                KILN_DISPATCH_ALL(idt, , {
                  scalar_t x = in.at<scalar_t>(i);
                  if constexpr (std::is_same_v<O, scalar_t> && !std::is_same_v<O, bool>)
                    r = (double)load(x);  // same dtype: bits move
                  else
                    r = (double)load(store<O>(load(x)));
                });
              });
              return r;
            },
            0);
      }
  // Large odd size through the packed path with a tail: f32 -> bf16 and bf16 -> f32.
  for (auto pair : {std::pair{KILN_FLOAT32, KILN_BFLOAT16}, std::pair{KILN_BFLOAT16, KILN_FLOAT32},
                    std::pair{KILN_FLOAT32, KILN_FLOAT16}, std::pair{KILN_INT64, KILN_FLOAT32}}) {
    const kiln_dtype idt = pair.first, odt = pair.second;  // named: lambdas capture them
    View in = make_view(idt, {(1 << 20) + 5}, Contig), out = make_view(odt, {(1 << 20) + 5}, Contig, poisoned());
    if (copy_cuda(launch(), out.desc(), in.desc()) != KILN_OK) expect("copy status", 1, 0);
    check_out(
        std::string("copy ") + dt_name(idt) + "->" + dt_name(odt) + " n=2^20+5", out,
        [&](int64_t i) {
          double r = 0;
          KILN_DISPATCH_ALL(odt, , {
            using O = scalar_t;
            KILN_DISPATCH_ALL(idt, , r = (double)load(store<O>(load(in.at<scalar_t>(i)))));
          });
          return r;
        },
        0);
  }
}

void test_fill() {
  for (kiln_dtype dt : kAll)
    for (Layout l : {Contig, Strided, Misaligned, Transposed})
      for (double value : {3.7, -1.5, 0.0, 1e10}) {
        auto shape = random_shape();
        View out = make_view(dt, shape, l, poisoned());
        kiln_status st = fill_cuda(launch(), out.desc(), value);
        std::string name = std::string("fill ") + dt_name(dt) + " " + layout_name(l) + " " + std::to_string(value);
        if (st != KILN_OK) {
          expect(name + ": " + launch().message, 1, 0);
          continue;
        }
        double want = 0;
        KILN_DISPATCH_ALL(dt, , want = (double)load(store<scalar_t>(value)));
        check_out(
            name, out, [&](int64_t) { return want; }, 0);
      }
}

// ---------------------------------------------------------------- reduce

template <class T>
using racc_t = std::conditional_t<std::is_floating_point_v<compute_t<T>>, double, int64_t>;

// Output o of reduce(in, nred) by the CPU's sequential semantics, stored in odt (as double).
template <class T>
double ref_reduce(const View &in, int64_t o, int64_t rn, Reduce R, int odt) {
  using A = racc_t<T>;
  const bool arg = R == Reduce::ArgMax || R == Reduce::ArgMin;
  A acc = R == Reduce::Prod ? A(1) : A(0);
  if (R == Reduce::Max)
    acc = std::is_floating_point_v<A> ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::lowest();
  if (R == Reduce::Min)
    acc = std::is_floating_point_v<A> ? std::numeric_limits<A>::infinity() : std::numeric_limits<A>::max();
  int64_t best = -1;
  for (int64_t j = 0; j < rn; j++) {
    A v = (A)load(in.at<T>(o * rn + j));
    switch (R) {
      case Reduce::Sum: acc = math::wrap_add(acc, v); break;
      case Reduce::Prod: acc = math::wrap_mul(acc, v); break;
      case Reduce::Max: acc = (acc != acc || v != v) ? (acc != acc ? acc : v) : (v > acc ? v : acc); break;
      case Reduce::Min: acc = (acc != acc || v != v) ? (acc != acc ? acc : v) : (v < acc ? v : acc); break;
      default:
        if (best >= 0 && acc != acc) break;
        if (best < 0 || v != v || (R == Reduce::ArgMax ? v > acc : v < acc)) acc = v, best = j;
    }
  }
  if (arg) return (double)best;
  double r = 0;
  KILN_DISPATCH_ALL(odt, , r = (double)load(store<scalar_t>(acc)));
  return r;
}

struct RedCase {
  std::vector<int64_t> shape;
  int nred;
  Layout layout;
  const char *why;
};

void run_reduce(kiln_dtype dt, Reduce R, const RedCase &c, bool nans, bool ties) {
  const bool arg = R == Reduce::ArgMax || R == Reduce::ArgMin;
  kiln_dtype odt = arg ? KILN_INT64 : dt;
  if (!arg && !is_float(dt) && (R == Reduce::Sum || R == Reduce::Prod))
    odt = dt == KILN_INT32 ? KILN_INT32 : KILN_INT64;
  Fill f;
  f.near_one = R == Reduce::Prod;
  f.small_ints_for_floats = ties;
  if (R == Reduce::Prod) f.ilo = -2, f.ihi = 2;
  View in = make_view(dt, c.shape, c.layout, f);
  if (nans && is_float(dt)) {  // a few NaNs (every 97th buffer element)
    for (size_t i = 0; i < in.host.size() / in.es(); i += 97) {
      KILN_DISPATCH_FLOAT(dt, , {
        scalar_t s = store<scalar_t>(NAN);
        memcpy(in.host.data() + i * in.es(), &s, in.es());
      });
    }
    in.upload();
  }
  std::vector<int64_t> oshape(c.shape.begin(), c.shape.end() - c.nred);
  int64_t rn = 1;
  for (size_t d = oshape.size(); d < c.shape.size(); d++) rn *= c.shape[d];
  View out = make_view(odt, oshape, Contig, poisoned());
  kiln_status st = reduce_cuda(launch(), out.desc(), in.desc(), c.nred, R);
  static const char *names[] = {"sum", "prod", "amax", "amin", "argmax", "argmin"};
  std::string name = std::string("reduce ") + names[(int)R] + " " + dt_name(dt) + "->" + dt_name(odt) + " " +
                     layout_name(c.layout) + " " + shape_str(c.shape) + " nred=" + std::to_string(c.nred) + " " +
                     c.why + (nans ? " nan" : "") + (ties ? " ties" : "");
  if (st != KILN_OK) {
    expect(name + ": " + launch().message, 1, 0);
    return;
  }
  double tol = arg || !is_float(dt) ? 0 : tol_of(odt);
  if (is_float(dt) && !arg && odt == KILN_FLOAT64) tol = 1e-12;
  check_out(
      name, out,
      [&](int64_t o) {
        double r = 0;
        KILN_DISPATCH_ALL(dt, , r = ref_reduce<scalar_t>(in, o, rn, R, odt));
        return r;
      },
      tol);
}

void test_reduce() {
  const Reduce ops[] = {Reduce::Sum, Reduce::Prod, Reduce::Max, Reduce::Min, Reduce::ArgMax, Reduce::ArgMin};
  for (kiln_dtype dt : kAll)
    for (Reduce R : ops)
      for (Layout l : {Contig, Transposed, Strided, Misaligned}) {
        auto shape = random_shape(4, 23);
        int nred = (int)randint(0, (int64_t)shape.size());
        run_reduce(dt, R, {shape, nred, l, "random"}, false, false);
      }
  const RedCase paths[] = {
      {{3, 200000}, 1, Contig, "two-pass"},
      {{300001}, 1, Contig, "two-pass full"},
      {{300001}, 1, Misaligned, "two-pass full misaligned"},
      {{2, 3, 70001}, 2, Strided, "two-pass 2 reduced dims"},
      {{5000, 64}, 1, Contig, "warp per output"},
      {{64, 5000}, 1, Contig, "block per output"},
      {{7000, 40}, 1, Transposed, "columns"},
      {{50, 300}, 1, Transposed, "strided warp"},
      {{40, 3000}, 1, Transposed, "strided block"},
      {{3, 200000}, 1, Transposed, "two-pass strided"},
      {{9, 5, 3}, 2, Strided, "thread per output 2 dims"},
      {{4099, 7}, 1, Contig, "thread per output"},
  };
  for (kiln_dtype dt : {KILN_FLOAT32, KILN_FLOAT16, KILN_INT32, KILN_FLOAT64})
    for (Reduce R : ops)
      for (const RedCase &c : paths) run_reduce(dt, R, c, false, false);
  for (kiln_dtype dt : {KILN_FLOAT32, KILN_BFLOAT16})
    for (Reduce R : {Reduce::Max, Reduce::Min, Reduce::ArgMax, Reduce::ArgMin})
      for (const RedCase &c : paths) {
        run_reduce(dt, R, c, true, false);
        run_reduce(dt, R, c, false, true);
      }
  for (kiln_dtype dt : {KILN_INT64, KILN_UINT8, KILN_BOOL})
    for (Reduce R : {Reduce::ArgMax, Reduce::ArgMin, Reduce::Sum})
      for (const RedCase &c : paths) run_reduce(dt, R, c, false, false);
  // Empty reductions: sum 0, prod 1.
  for (Reduce R : {Reduce::Sum, Reduce::Prod}) run_reduce(KILN_FLOAT32, R, {{4, 0}, 1, Contig, "empty"}, false, false);
  // Determinism: the two-pass sum twice gives the same bits.
  {
    View in = make_view(KILN_FLOAT32, {1 << 22}, Contig);
    View o1 = make_view(KILN_FLOAT32, {}, Contig, poisoned()), o2 = make_view(KILN_FLOAT32, {}, Contig, poisoned());
    reduce_cuda(launch(), o1.desc(), in.desc(), 1, Reduce::Sum);
    reduce_cuda(launch(), o2.desc(), in.desc(), 1, Reduce::Sum);
    KT_CHECK(cudaDeviceSynchronize());
    o1.download();
    o2.download();
    expect("sum 2^22 twice: same bits", memcmp(o1.host.data(), o2.host.data(), 4) == 0 ? 0 : 1, 0);
  }
}

// ---------------------------------------------------------------- gather / scatter

std::vector<int64_t> unravel(int64_t flat, const std::vector<int64_t> &shape) {
  std::vector<int64_t> idx(shape.size());
  for (int d = (int)shape.size() - 1; d >= 0; d--) idx[d] = flat % shape[d], flat /= shape[d];
  return idx;
}
int64_t ravel(const std::vector<int64_t> &idx, const std::vector<int64_t> &shape) {
  int64_t f = 0;
  for (size_t d = 0; d < shape.size(); d++) f = f * shape[d] + idx[d];
  return f;
}
int64_t index_value(const View &ix, int64_t i) {
  return ix.dt == KILN_INT64 ? ix.at<int64_t>(i) : (int64_t)ix.at<int32_t>(i);
}
void set_index(View &ix, int64_t i, int64_t v) {
  if (ix.dt == KILN_INT64)
    memcpy(ix.host.data() + ix.pos(i) * 8, &v, 8);
  else {
    int32_t w = (int32_t)v;
    memcpy(ix.host.data() + ix.pos(i) * 4, &w, 4);
  }
}

void test_gather() {
  for (kiln_dtype dt : kAll)
    for (kiln_dtype idt : {KILN_INT64, KILN_INT32})
      for (int bad = 0; bad < 2; bad++) {
        std::vector<int64_t> ishape = random_shape(3, 20);
        const int nd = (int)ishape.size(), dim = (int)randint(0, nd - 1);
        std::vector<int64_t> xshape = ishape;
        for (int d = 0; d < nd; d++) xshape[d] = d == dim ? randint(1, 25) : randint(1, ishape[d]);
        View in = make_view(dt, ishape, bad ? Contig : Transposed);
        View ix = make_view(idt, xshape, Contig);
        const int64_t limit = ishape[dim];
        for (int64_t i = 0; i < ix.numel(); i++) set_index(ix, i, randint(-limit, limit - 1));
        int64_t bad_at = -1, bad_value = 0;
        if (bad) bad_at = randint(0, ix.numel() - 1), bad_value = limit + 3, set_index(ix, bad_at, bad_value);
        ix.upload();
        View out = make_view(dt, xshape, Contig, poisoned());
        const double poison = out.get(0);
        DevBuf<int64_t> word(1);
        word.upload({INT64_MIN});
        kiln_status st = gather_cuda(launch(), out.desc(), in.desc(), ix.desc(), dim, word.p);
        std::string name = std::string("gather ") + dt_name(dt) + " index " + dt_name(idt) + " " + shape_str(ishape) +
                           " dim " + std::to_string(dim) + (bad ? " bad index" : "");
        if (st != KILN_OK) {
          expect(name + ": " + launch().message, 1, 0);
          continue;
        }
        check_out(
            name, out,
            [&](int64_t i) {
              if (i == bad_at) return poison;
              auto idx = unravel(i, xshape);
              int64_t v = index_value(ix, i);
              idx[dim] = v < 0 ? v + limit : v;
              return in.get(ravel(idx, ishape));
            },
            0);
        int64_t w = word.download()[0];
        expect(name + " bad-index word", w == (bad ? bad_value : INT64_MIN) ? 0 : 1, 0);
      }
}

void test_scatter() {
  for (kiln_dtype dt : kAll)
    for (kiln_dtype idt : {KILN_INT64, KILN_INT32})
      for (int mode = 0; mode < 3; mode++) {  // 0: scatter, 1: scatter-add, 2: scatter-add with a bad index
        const bool acc = mode >= 1, bad = mode == 2;
        std::vector<int64_t> oshape = random_shape(3, 20);
        const int nd = (int)oshape.size(), dim = (int)randint(0, nd - 1);
        const int64_t limit = oshape[dim];
        std::vector<int64_t> xshape = oshape, sshape = oshape;
        for (int d = 0; d < nd; d++) {
          xshape[d] = d == dim ? (acc ? randint(1, 25) : randint(1, limit)) : randint(1, oshape[d]);
          sshape[d] = xshape[d] + randint(0, 2);
        }
        View out = make_view(dt, oshape, acc ? Transposed : Contig), src = make_view(dt, sshape, Contig);
        View ix = make_view(idt, xshape, Contig);
        // Plain scatter: distinct targets along dim in every row (a row-dependent rotation), so
        // the result does not depend on the order of the writes.
        for (int64_t i = 0; i < ix.numel(); i++) {
          auto idx = unravel(i, xshape);
          int64_t v;
          if (acc) {
            v = randint(-limit, limit - 1);
          } else {
            auto row = idx;
            row[dim] = 0;
            v = (idx[dim] + ravel(row, xshape) * 7) % limit;
            if (randint(0, 1)) v -= limit;
          }
          set_index(ix, i, v);
        }
        int64_t bad_value = -limit - 1;
        if (bad) set_index(ix, randint(0, ix.numel() - 1), bad_value);
        ix.upload();
        View want = out;  // host reference, sequential like the CPU
        if (!bad)
          for (int64_t i = 0; i < ix.numel(); i++) {
            auto idx = unravel(i, xshape);
            int64_t v = index_value(ix, i);
            auto sidx = idx;
            idx[dim] = v < 0 ? v + limit : v;
            uint8_t *d = want.host.data() + want.pos(ravel(idx, oshape)) * want.es();
            const int64_t sflat = ravel(sidx, sshape);
            KILN_DISPATCH_ALL(dt, , {
              scalar_t s = src.at<scalar_t>(sflat), cur;
              memcpy(&cur, d, sizeof cur);
              scalar_t r = acc ? store<scalar_t>(math::Add{}(load(cur), load(s))) : s;
              memcpy(d, &r, sizeof r);
            });
          }
        DevBuf<int64_t> word(1);
        word.upload({INT64_MIN});
        kiln_status st = scatter_cuda(launch(), out.desc(), ix.desc(), src.desc(), dim, acc, word.p);
        std::string name = std::string(acc ? "scatter_add " : "scatter ") + dt_name(dt) + " index " + dt_name(idt) +
                           " " + shape_str(oshape) + " dim " + std::to_string(dim) + (bad ? " bad index" : "");
        if (st != KILN_OK) {
          expect(name + ": " + launch().message, 1, 0);
          continue;
        }
        check_out(
            name, out, [&](int64_t i) { return want.get(i); }, acc && is_float(dt) ? tol_of(dt) : 0);
        int64_t w = word.download()[0];
        expect(name + " bad-index word", w == (bad ? bad_value : INT64_MIN) ? 0 : 1, 0);
      }
}

// ---------------------------------------------------------------- random

constexpr double kTwoPi = 6.283185307179586;

// random.cpp's sample(), on the host.
template <bool Normal, bool Wide>
double cpu_sample(uint64_t seed, uint64_t offset, int64_t e, double p0, double p1) {
  if (Wide) {
    Philox4 r = philox4x32_10(offset + (uint64_t)e / 2, seed);
    if (!Normal) {
      int l = (int)(e & 1) * 2;
      return p0 + (p1 - p0) * u64_to_unit(r.v[l], r.v[l + 1]);
    }
    double u1 = 1.0 - u64_to_unit(r.v[0], r.v[1]), u2 = u64_to_unit(r.v[2], r.v[3]);
    double rad = std::sqrt(-2.0 * std::log(u1));
    return p0 + p1 * rad * ((e & 1) ? std::sin(kTwoPi * u2) : std::cos(kTwoPi * u2));
  }
  Philox4 r = philox4x32_10(offset + (uint64_t)e / 4, seed);
  int lane = (int)(e & 3);
  if (!Normal) return p0 + (p1 - p0) * (double)u32_to_unit(r.v[lane]);
  int pair = lane & 2;
  double u1 = u32_to_open_unit(r.v[pair]), u2 = (double)u32_to_unit(r.v[pair + 1]);
  double rad = std::sqrt(-2.0 * std::log(u1));
  return p0 + p1 * rad * ((lane & 1) ? std::sin(kTwoPi * u2) : std::cos(kTwoPi * u2));
}

template <class T>
T cpu_below(double lo, double hi) {
  T x = store<T>(hi);
  for (int guard = 0; guard < 4 && (double)load(x) >= hi; guard++) {
    if constexpr (std::is_floating_point_v<T>) {
      x = std::nextafter(x, -std::numeric_limits<T>::infinity());
    } else {
      uint16_t b = x.bits;
      if ((b & 0x7fff) == 0)
        b = 0x8001;
      else
        b = (b & 0x8000) ? (uint16_t)(b + 1) : (uint16_t)(b - 1);
      x.bits = b;
    }
  }
  return (double)load(x) < lo ? store<T>(lo) : x;
}

template <class T, bool Normal>
T cpu_random(uint64_t seed, uint64_t offset, int64_t e, double p0, double p1) {
  constexpr bool wide = std::is_same_v<T, double>;
  T v = store<T>(cpu_sample<Normal, wide>(seed, offset, e, p0, p1));
  if (!Normal && (double)load(v) >= p1) v = cpu_below<T>(p0, p1);
  return v;
}

void test_random() {
  struct Case {
    std::vector<int64_t> shape;
    Layout l;
  };
  const Case cases[] = {
      {{1}, Contig},          {{3}, Contig},        {{5}, Contig},     {{1001}, Contig}, {{(1 << 20) + 3}, Contig},
      {{37, 29}, Transposed}, {{4099}, Misaligned}, {{13, 7}, Strided}};
  for (kiln_dtype dt : {KILN_FLOAT32, KILN_FLOAT64, KILN_FLOAT16, KILN_BFLOAT16})
    for (int normal = 0; normal < 2; normal++)
      for (const Case &c : cases) {
        const uint64_t seed = rng()(), offset = randint(0, 1) ? rng()() : ~(uint64_t)0 - 2;  // also near the wrap
        const double p0 = normal ? 0.5 : -1.5, p1 = normal ? 2.0 : 2.5;
        View out = make_view(dt, c.shape, c.l, poisoned());
        kiln_status st = normal ? normal_cuda(launch(), out.desc(), seed, offset, p0, p1)
                                : uniform_cuda(launch(), out.desc(), seed, offset, p0, p1);
        std::string name = std::string(normal ? "normal " : "uniform ") + dt_name(dt) + " " + layout_name(c.l) + " " +
                           shape_str(c.shape);
        if (st != KILN_OK) {
          expect(name + ": " + launch().message, 1, 0);
          continue;
        }
        KT_CHECK(cudaDeviceSynchronize());
        out.download();
        const int64_t n = out.numel();
        int64_t mismatches = 0;
        double worst = 0;  // largest difference, relative for |values| >= 1 (absolute below)
        for (int64_t e = 0; e < n; e++) {
          double want = 0, got = out.get(e);
          KILN_DISPATCH_FLOAT(dt, , {
            want = (double)load(normal ? cpu_random<scalar_t, true>(seed, offset, e, p0, p1)
                                       : cpu_random<scalar_t, false>(seed, offset, e, p0, p1));
          });
          if (got != want)
            mismatches++, worst = std::max(worst, std::fabs(got - want) / std::max(std::fabs(want), 1.0));
        }
        // Uniform: bit for bit. Normal: CUDA's double log/sin/cos may differ from glibc's in the
        // last bits, so float64 gets a few ulp and narrower types at most one rounding flip per Mi.
        if (!normal)
          expect(name + " exact (mismatches " + std::to_string(mismatches) + ")", (double)mismatches, 0);
        else if (dt == KILN_FLOAT64)
          expect(name + " within 1e-14 (mismatches " + std::to_string(mismatches) + ")", worst, 1e-14);
        else
          expect(name + " exact but for rare ties (mismatches " + std::to_string(mismatches) + ")",
                 mismatches <= (n >> 20) && worst <= 1e-2 ? 0 : 1, 0);
      }
}

// ---------------------------------------------------------------- errors

void test_errors() {
  Launch &L = launch();
  View f = make_view(KILN_FLOAT32, {4, 3}, Contig), f2 = make_view(KILN_FLOAT32, {4, 3}, Contig);
  View d = make_view(KILN_FLOAT64, {4, 3}, Contig), i32 = make_view(KILN_INT32, {4, 3}, Contig);
  View b = make_view(KILN_BOOL, {4, 3}, Contig), other = make_view(KILN_FLOAT32, {3, 4}, Contig);
  View i64 = make_view(KILN_INT64, {4, 3}, Contig), i64r = make_view(KILN_INT64, {4}, Contig);
  kiln_tensor bad = f.desc();
  bad.dtype = 42;
  expect_status("unary out dtype", unary_cuda(L, d.desc(), f.desc(), Unary::Exp), KILN_ERR_DTYPE);
  expect_status("unary exp on int32", unary_cuda(L, i32.desc(), i32.desc(), Unary::Exp), KILN_ERR_DTYPE);
  expect_status("logical_not non-bool out", unary_cuda(L, f2.desc(), f.desc(), Unary::LogicalNot), KILN_ERR_DTYPE);
  expect_status("unary shape", unary_cuda(L, other.desc(), f.desc(), Unary::Neg), KILN_ERR_SHAPE);
  expect_status("unary bad dtype", unary_cuda(L, bad, bad, Unary::Neg), KILN_ERR_DTYPE);
  expect_status("binary dtypes", binary_cuda(L, f2.desc(), f.desc(), d.desc(), Binary::Add), KILN_ERR_DTYPE);
  expect_status("binary cmp out", binary_cuda(L, f2.desc(), f.desc(), f.desc(), Binary::Lt), KILN_ERR_DTYPE);
  expect_status("binary bool sub", binary_cuda(L, b.desc(), b.desc(), b.desc(), Binary::Sub), KILN_ERR_DTYPE);
  expect_status("binary atan2 int", binary_cuda(L, i32.desc(), i32.desc(), i32.desc(), Binary::Atan2), KILN_ERR_DTYPE);
  expect_status("binary shape", binary_cuda(L, f2.desc(), f.desc(), other.desc(), Binary::Add), KILN_ERR_SHAPE);
  expect_status("where cond dtype", where_cuda(L, f2.desc(), f.desc(), f.desc(), f.desc()), KILN_ERR_DTYPE);
  expect_status("where shape", where_cuda(L, f2.desc(), b.desc(), other.desc(), f.desc()), KILN_ERR_SHAPE);
  expect_status("copy shape", copy_cuda(L, other.desc(), f.desc()), KILN_ERR_SHAPE);
  expect_status("copy bad dtype", copy_cuda(L, f.desc(), bad), KILN_ERR_DTYPE);
  expect_status("fill bad dtype", fill_cuda(L, bad, 1.0), KILN_ERR_DTYPE);
  expect_status("reduce rank", reduce_cuda(L, f2.desc(), f.desc(), 1, Reduce::Sum), KILN_ERR_SHAPE);
  expect_status("reduce nred", reduce_cuda(L, f2.desc(), f.desc(), 3, Reduce::Sum), KILN_ERR_SHAPE);
  View fo = make_view(KILN_FLOAT32, {4}, Contig), fo3 = make_view(KILN_FLOAT32, {3}, Contig);
  expect_status("argmax out dtype", reduce_cuda(L, fo.desc(), f.desc(), 1, Reduce::ArgMax), KILN_ERR_DTYPE);
  expect_status("reduce outer shape", reduce_cuda(L, fo3.desc(), f.desc(), 1, Reduce::Sum), KILN_ERR_SHAPE);
  expect_status("reduce bad dtype", reduce_cuda(L, fo.desc(), bad, 1, Reduce::Sum), KILN_ERR_DTYPE);
  {
    View e = make_view(KILN_FLOAT32, {4, 0}, Contig);
    expect_status("amax over empty", reduce_cuda(L, fo.desc(), e.desc(), 1, Reduce::Max), KILN_ERR_SHAPE);
    expect_status("argmin over empty", reduce_cuda(L, i64r.desc(), e.desc(), 1, Reduce::ArgMin), KILN_ERR_SHAPE);
  }
  expect_status("gather index dtype", gather_cuda(L, f2.desc(), f.desc(), f.desc(), 0), KILN_ERR_DTYPE);
  expect_status("gather out dtype", gather_cuda(L, d.desc(), f.desc(), i64.desc(), 0), KILN_ERR_DTYPE);
  expect_status("gather dim", gather_cuda(L, f2.desc(), f.desc(), i64.desc(), 2), KILN_ERR_SHAPE);
  expect_status("gather rank", gather_cuda(L, fo.desc(), f.desc(), i64r.desc(), 0), KILN_ERR_SHAPE);
  expect_status("scatter index dtype", scatter_cuda(L, f.desc(), f2.desc(), f.desc(), 0, false), KILN_ERR_DTYPE);
  expect_status("scatter src dtype", scatter_cuda(L, f.desc(), i64.desc(), d.desc(), 0, true), KILN_ERR_DTYPE);
  expect_status("scatter dim", scatter_cuda(L, f.desc(), i64.desc(), f2.desc(), -1, false), KILN_ERR_SHAPE);
  expect_status("uniform on int32", uniform_cuda(L, i32.desc(), 1, 0, 0, 1), KILN_ERR_DTYPE);
  expect_status("normal on bool", normal_cuda(L, b.desc(), 1, 0, 0, 1), KILN_ERR_DTYPE);
  KT_CHECK(cudaDeviceSynchronize());
}

// ---------------------------------------------------------------- bench

void bench() {
  Launch &L = launch();
  const int64_t n = (int64_t)1 << 28;  // 1 GiB of float32 per operand
  DevBuf<float> a(n), b(n), c(n);
  DevBuf<uint16_t> h(n);
  DevBuf<float> s(1);
  kiln_tensor ta = desc(a.p, KILN_FLOAT32, {n}), tb = desc(b.p, KILN_FLOAT32, {n}), tc = desc(c.p, KILN_FLOAT32, {n});
  kiln_tensor th = desc(h.p, KILN_BFLOAT16, {n}), ts = desc(s.p, KILN_FLOAT32, {});
  if (uniform_cuda(L, ta, 1, 0, -1, 1) || uniform_cuda(L, tb, 2, 0, -1, 1)) expect("bench fill", 1, 0);
  KT_CHECK(cudaDeviceSynchronize());
  double ms = time_ms([&] { binary_cuda(L, tc, ta, tb, Binary::Add); });
  report_gbs("add_f32_1GiB", 3.0 * n * 4, ms);
  ms = time_ms([&] { copy_cuda(L, tc, ta); });
  report_gbs("copy_f32_f32_1GiB", 2.0 * n * 4, ms);
  ms = time_ms([&] { copy_cuda(L, th, ta); });
  report_gbs("copy_f32_bf16_1GiB", 6.0 * n, ms);
  ms = time_ms([&] { unary_cuda(L, tc, ta, Unary::Exp); });
  report_gbs("exp_f32_1GiB", 2.0 * n * 4, ms);
  ms = time_ms([&] { reduce_cuda(L, ts, ta, 1, Reduce::Sum); });
  report_gbs("sum_f32_1GiB", 4.0 * n, ms);
  // The 1 GiB sum checked against a float64 host sum (and the add's last result).
  KT_CHECK(cudaDeviceSynchronize());
  std::vector<float> ha(n);
  KT_CHECK(cudaMemcpy(ha.data(), a.p, n * 4, cudaMemcpyDeviceToHost));
  double want = 0, mag = 0;
  for (int64_t i = 0; i < n; i++) want += ha[i], mag += std::fabs(ha[i]);
  float got = s.download()[0];
  expect("sum_f32_1GiB value (error relative to sum |x|)", std::fabs(got - want) / mag, 1e-6);
}

}  // namespace

int main(int argc, char **argv) {
  const bool no_bench = argc > 1 && std::string(argv[1]) == "--no-bench";
  test_unary();
  test_binary();
  test_where();
  test_copy();
  test_fill();
  test_reduce();
  test_gather();
  test_scatter();
  test_random();
  test_errors();
  if (!no_bench) bench();
  return finish("elementwise");
}
