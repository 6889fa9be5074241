// Tests of the elementwise family (native/cuda/kernels/elementwise.h), part two: reduce (every
// path, NaN and tie rules, repeatable bits), gather/scatter (bad indices included) and the Philox
// fills (exactly the CPU's numbers), against host references that follow native/cpu's semantics.
// Build: scripts/build_cuda_tests.sh reduce_index_test; run: build-cuda-tests/reduce_index_test.
#include "elementwise_common.cuh"

namespace {

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

// The expected value of element e: core/philox_sample.h compiled for the host, as random.cpp runs it
// (the CPU stream itself is pinned by test/unit/determinism.test.ts).
template <class T, bool Normal>
T cpu_random(uint64_t seed, uint64_t offset, int64_t e, double p0, double p1) {
  constexpr bool wide = std::is_same_v<T, double>;
  const Philox4 r = philox4x32_10(philox_block<wide>(offset, e), seed);
  T v = store<T>(philox_sample<Normal, wide>(r, e, p0, p1, p1 - p0));
  if (!Normal && (double)load(v) >= p1) v = philox_uniform_top<T>(p0, p1);
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

}  // namespace

int main() {
  test_reduce();
  test_gather();
  test_scatter();
  test_random();
  return finish("reduce_index");
}
