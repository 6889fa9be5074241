// Tests of the elementwise family (native/cuda/kernels/elementwise.h), part one: unary, binary,
// where, copy and fill against host references that follow native/cpu's semantics (float64 for
// floating math; integer, bool and conversion results exactly), every error path of the family, and
// the bench: add, copy f32->bf16, exp and sum over 1 GiB float32 operands against the device's copy
// bandwidth (target: add >= 85% of copy). Every launcher runs on contiguous, transposed, strided
// (step 2), broadcast (stride 0), scalar-expanded and misaligned views with odd sizes.
// reduce_index_test.cu has reduce, gather/scatter and the Philox fills. Build:
// scripts/build_cuda_tests.sh elementwise_test; run: build-cuda-tests/elementwise_test [--no-bench].
#include "elementwise_common.cuh"

namespace {

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
      case Unary::Erfc: return ref1(Erfc{}, x);
      case Unary::Lgamma: return ref1(Lgamma{}, x);
      case Unary::Digamma: return ref1(Digamma{}, x);
      case Unary::Trigamma: return ref1(Trigamma{}, x);
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
  test_errors();
  if (!no_bench) bench();
  return finish("elementwise");
}
