// Elementwise CPU drivers: unary, binary, where, copy-with-cast and fill over strided operands.
// Contiguous float32 runs go to the ISA table (arch/isa.h); everything else runs the scalar
// functors of scalar_math.h in the operand's compute type (half types widen to float).
#include <type_traits>

#include "cpu_ops.h"
#include "scalar_math.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

// The element loops of one run: unit strides (and, with three operands, a broadcast one) get loops
// of their own, which the compiler vectorises; the strided form multiplies every index ([65536]
// int64 ne -100: 50 us, bool to float32 50 us).
template <class Fn>
inline void each2(const int64_t *st, int64_t n, Fn fn) {
  if (st[0] == 1 && st[1] == 1)
    for (int64_t i = 0; i < n; i++) fn(i, i);
  else
    for (int64_t i = 0; i < n; i++) fn(i * st[0], i * st[1]);
}
template <class Fn>
inline void each3(const int64_t *st, int64_t n, Fn fn) {
  if (st[0] == 1 && st[1] == 1 && st[2] == 1)
    for (int64_t i = 0; i < n; i++) fn(i, i, i);
  else if (st[0] == 1 && st[1] == 1 && st[2] == 0)
    for (int64_t i = 0; i < n; i++) fn(i, i, 0);
  else if (st[0] == 1 && st[1] == 0 && st[2] == 1)
    for (int64_t i = 0; i < n; i++) fn(i, 0, i);
  else
    for (int64_t i = 0; i < n; i++) fn(i * st[0], i * st[1], i * st[2]);
}

template <class T, class F>
void unary_loop(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, F f) {
  const kiln_tensor *ops[2] = {&out, &a};
  auto p = make_plan<2>(ops);
  parallel_walk(ctx->pool.get(), p, ew_grain(ctx, p.numel), [&](char *const *ptr, const int64_t *st, int64_t n) {
    T *o = (T *)ptr[0];
    const T *x = (const T *)ptr[1];
    each2(st, n, [&](int64_t io, int64_t ix) { o[io] = store<T>(f(load(x[ix]))); });
  });
}

template <class T, class F>
void unary_bool_loop(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, F f) {
  const kiln_tensor *ops[2] = {&out, &a};
  auto p = make_plan<2>(ops);
  parallel_walk(ctx->pool.get(), p, ew_grain(ctx, p.numel), [&](char *const *ptr, const int64_t *st, int64_t n) {
    bool *o = (bool *)ptr[0];
    const T *x = (const T *)ptr[1];
    each2(st, n, [&](int64_t io, int64_t ix) { o[io] = f(load(x[ix])); });
  });
}

template <class F>
bool unary_float_op(Unary op, F &&call) {
  using namespace math;
  switch (op) {
    case Unary::Exp: call(Exp{}); return true;
    case Unary::Log: call(Log{}); return true;
    case Unary::Sqrt: call(Sqrt{}); return true;
    case Unary::Rsqrt: call(Rsqrt{}); return true;
    case Unary::Sin: call(Sin{}); return true;
    case Unary::Cos: call(Cos{}); return true;
    case Unary::Tanh: call(Tanh{}); return true;
    case Unary::Sigmoid: call(Sigmoid{}); return true;
    case Unary::Erf: call(Erf{}); return true;
    case Unary::Floor: call(Floor{}); return true;
    case Unary::Ceil: call(Ceil{}); return true;
    case Unary::Round: call(Round{}); return true;
    case Unary::Trunc: call(Trunc{}); return true;
    case Unary::Reciprocal: call(Reciprocal{}); return true;
    case Unary::Log1p: call(Log1p{}); return true;
    case Unary::Expm1: call(Expm1{}); return true;
    case Unary::Erfc: call(Erfc{}); return true;
    case Unary::Lgamma: call(Lgamma{}); return true;
    case Unary::Digamma: call(Digamma{}); return true;
    case Unary::Trigamma: call(Trigamma{}); return true;
    default: return false;
  }
}

template <class T>
kiln_status unary_typed(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, Unary op) {
  using C = compute_t<T>;
  if (op == Unary::LogicalNot) {
    if (out.dtype != KILN_BOOL) return fail(ctx, KILN_ERR_DTYPE, "logical_not: output must be bool");
    unary_bool_loop<T>(ctx, out, a, math::LogicalNot{});
    return KILN_OK;
  }
  if (out.dtype != a.dtype) return fail(ctx, KILN_ERR_DTYPE, "unary op: output dtype differs from input");
  if constexpr (std::is_same_v<T, float>) {
    const kiln_tensor *ops[2] = {&out, &a};
    auto p = make_plan<2>(ops);
    const IsaKernels *isa = isa_kernels(ctx->isa);
    const int last = p.ndim - 1;
    if (p.st[0][last] == 1 && p.st[1][last] == 1 &&
        isa->unary_f32(op, (float *)p.base[0], (const float *)p.base[1], 0)) {
      if (p.ndim == 1) {
        parallel_for(ctx->pool.get(), p.numel, ew_grain(ctx, p.numel), [&](int64_t b, int64_t e) {
          isa->unary_f32(op, (float *)p.base[0] + b, (const float *)p.base[1] + b, e - b);
        });
      } else {
        // unit-stride rows at a stride (a narrow of the last dim, a transposed block's rows): the
        // ISA's loop per row, the same function of each element as the contiguous path (an LSTM's
        // gate slices: tanh of [32, 256] in rows of 1024, 167 -> 10 us)
        parallel_walk(ctx->pool.get(), p, ew_grain(ctx, p.numel), [&](char *const *ptr, const int64_t *, int64_t n) {
          isa->unary_f32(op, (float *)ptr[0], (const float *)ptr[1], n);
        });
      }
      return KILN_OK;
    }
  }
  if constexpr (std::is_same_v<T, double>) {
    if (op == Unary::Exp) {  // the ISA's double lanes (arch/math_f64.inc), per unit-stride run
      const kiln_tensor *ops[2] = {&out, &a};
      auto p = make_plan<2>(ops);
      const int last = p.ndim - 1;
      if (p.st[0][last] == 1 && p.st[1][last] == 1) {
        const IsaKernels *isa = isa_kernels(ctx->isa);
        parallel_walk(ctx->pool.get(), p, ew_grain(ctx, p.numel), [&](char *const *ptr, const int64_t *, int64_t n) {
          isa->exp_f64((double *)ptr[0], (const double *)ptr[1], n);
        });
        return KILN_OK;
      }
    }
  }
  switch (op) {
    case Unary::Neg: unary_loop<T>(ctx, out, a, math::Neg{}); return KILN_OK;
    case Unary::Abs: unary_loop<T>(ctx, out, a, math::Abs{}); return KILN_OK;
    case Unary::Sign: unary_loop<T>(ctx, out, a, math::Sign{}); return KILN_OK;
    default: break;
  }
  if constexpr (std::is_floating_point_v<C>) {
    if (unary_float_op(op, [&](auto f) { unary_loop<T>(ctx, out, a, f); })) return KILN_OK;
  }
  return fail(ctx, KILN_ERR_DTYPE, "unary op %d is not defined for this dtype", (int)op);
}

template <class T, class F>
void binary_loop(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b, F f) {
  const kiln_tensor *ops[3] = {&out, &a, &b};
  auto p = make_plan<3>(ops);
  using R = decltype(f(load(T{}), load(T{})));
  parallel_walk(ctx->pool.get(), p, ew_grain(ctx, p.numel), [&](char *const *ptr, const int64_t *st, int64_t n) {
    const T *x = (const T *)ptr[1], *y = (const T *)ptr[2];
    if constexpr (std::is_same_v<R, bool>) {
      bool *o = (bool *)ptr[0];
      each3(st, n, [&](int64_t io, int64_t ix, int64_t iy) { o[io] = f(load(x[ix]), load(y[iy])); });
    } else {
      T *o = (T *)ptr[0];
      each3(st, n, [&](int64_t io, int64_t ix, int64_t iy) { o[io] = store<T>(f(load(x[ix]), load(y[iy]))); });
    }
  });
}

template <class T>
kiln_status binary_typed(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b,
                         Binary op) {
  using namespace math;
  bool cmp = op >= Binary::Eq;
  if (a.dtype != b.dtype || (cmp ? out.dtype != KILN_BOOL : out.dtype != a.dtype))
    return fail(ctx, KILN_ERR_DTYPE, "binary op %d: operand dtypes disagree", (int)op);
  if constexpr (std::is_same_v<T, float>) {
    // x ** 2 as x * x: the same correctly rounded square, on the vector multiply rather than a
    // pow call per element ([2^24]: 86 ms).
    if (op == Binary::Pow) {
      const kiln_tensor *ops[3] = {&out, &a, &b};
      auto p = make_plan<3>(ops);
      const IsaKernels *isa = isa_kernels(ctx->isa);
      if (p.ndim == 1 && p.st[0][0] == 1 && p.st[1][0] == 1 && p.st[2][0] == 0 && p.numel > 0 &&
          *(const float *)p.base[2] == 2.0f) {
        parallel_for(ctx->pool.get(), p.numel, ew_grain(ctx, p.numel), [&](int64_t s, int64_t e) {
          const float *x = (const float *)p.base[1] + s;
          isa->binary_f32(Binary::Mul, (float *)p.base[0] + s, x, 1, x, 1, e - s);
        });
        return KILN_OK;
      }
    }
    if (op <= Binary::Minimum) {
      const kiln_tensor *ops[3] = {&out, &a, &b};
      auto p = make_plan<3>(ops);
      const IsaKernels *isa = isa_kernels(ctx->isa);
      const int last = p.ndim - 1;
      const int64_t sa = p.st[1][last], sb = p.st[2][last];
      if (p.st[0][last] == 1 && (sa == 0 || sa == 1) && (sb == 0 || sb == 1) &&
          isa->binary_f32(op, (float *)p.base[0], (const float *)p.base[1], sa, (const float *)p.base[2], sb, 0)) {
        if (p.ndim == 1) {
          parallel_for(ctx->pool.get(), p.numel, ew_grain(ctx, p.numel), [&](int64_t s, int64_t e) {
            isa->binary_f32(op, (float *)p.base[0] + s, (const float *)p.base[1] + s * sa, sa,
                            (const float *)p.base[2] + s * sb, sb, e - s);
          });
        } else {
          // rows at a stride (slices of the last dim, broadcasts of rows): the ISA's loop per row,
          // the same function of each element pair as the contiguous path
          parallel_walk(ctx->pool.get(), p, ew_grain(ctx, p.numel), [&](char *const *ptr, const int64_t *, int64_t n) {
            isa->binary_f32(op, (float *)ptr[0], (const float *)ptr[1], sa, (const float *)ptr[2], sb, n);
          });
        }
        return KILN_OK;
      }
    }
  }
  if constexpr (std::is_same_v<T, bool>) {  // bool arithmetic: add is or, mul is and (PyTorch)
    switch (op) {
      case Binary::Mul:
      case Binary::LogicalAnd: binary_loop<T>(ctx, out, a, b, LogicalAnd{}); return KILN_OK;
      case Binary::Add:
      case Binary::Maximum:
      case Binary::LogicalOr: binary_loop<T>(ctx, out, a, b, LogicalOr{}); return KILN_OK;
      case Binary::Minimum: binary_loop<T>(ctx, out, a, b, LogicalAnd{}); return KILN_OK;
      case Binary::Eq: binary_loop<T>(ctx, out, a, b, Eq{}); return KILN_OK;
      case Binary::Ne:
      case Binary::LogicalXor: binary_loop<T>(ctx, out, a, b, Ne{}); return KILN_OK;
      case Binary::Lt: binary_loop<T>(ctx, out, a, b, Lt{}); return KILN_OK;
      case Binary::Le: binary_loop<T>(ctx, out, a, b, Le{}); return KILN_OK;
      case Binary::Gt: binary_loop<T>(ctx, out, a, b, Gt{}); return KILN_OK;
      case Binary::Ge: binary_loop<T>(ctx, out, a, b, Ge{}); return KILN_OK;
      default: return fail(ctx, KILN_ERR_DTYPE, "binary op %d is not defined for bool", (int)op);
    }
  } else {
    switch (op) {
      case Binary::Add: binary_loop<T>(ctx, out, a, b, Add{}); return KILN_OK;
      case Binary::Sub: binary_loop<T>(ctx, out, a, b, Sub{}); return KILN_OK;
      case Binary::Mul: binary_loop<T>(ctx, out, a, b, Mul{}); return KILN_OK;
      case Binary::Div: binary_loop<T>(ctx, out, a, b, Div{}); return KILN_OK;
      case Binary::Pow: binary_loop<T>(ctx, out, a, b, Pow{}); return KILN_OK;
      case Binary::Maximum: binary_loop<T>(ctx, out, a, b, Maximum{}); return KILN_OK;
      case Binary::Minimum: binary_loop<T>(ctx, out, a, b, Minimum{}); return KILN_OK;
      case Binary::Remainder: binary_loop<T>(ctx, out, a, b, Remainder{}); return KILN_OK;
      case Binary::Eq: binary_loop<T>(ctx, out, a, b, Eq{}); return KILN_OK;
      case Binary::Ne: binary_loop<T>(ctx, out, a, b, Ne{}); return KILN_OK;
      case Binary::Lt: binary_loop<T>(ctx, out, a, b, Lt{}); return KILN_OK;
      case Binary::Le: binary_loop<T>(ctx, out, a, b, Le{}); return KILN_OK;
      case Binary::Gt: binary_loop<T>(ctx, out, a, b, Gt{}); return KILN_OK;
      case Binary::Ge: binary_loop<T>(ctx, out, a, b, Ge{}); return KILN_OK;
      case Binary::LogicalAnd: binary_loop<T>(ctx, out, a, b, LogicalAnd{}); return KILN_OK;
      case Binary::LogicalOr: binary_loop<T>(ctx, out, a, b, LogicalOr{}); return KILN_OK;
      case Binary::LogicalXor: binary_loop<T>(ctx, out, a, b, LogicalXor{}); return KILN_OK;
      case Binary::Atan2:
        if constexpr (std::is_floating_point_v<compute_t<T>>) {
          binary_loop<T>(ctx, out, a, b, Atan2{});
          return KILN_OK;
        }
        break;
      default: break;
    }
  }
  return fail(ctx, KILN_ERR_DTYPE, "binary op %d is not defined for this dtype", (int)op);
}

// out[.., a, b] = in[.., a, b] where the output runs along b and the input along a (a transposed
// view made contiguous): tiles of kTileA x kTileB, 4-byte words transposed in registers by the
// ISA, so that neither side reads or writes a line per element ([4096, 4096].t().contiguous():
// 50 -> 5.3-6.9 ms, copy_ 1.8; 64 x 64, 128 x 128 and 256 x 32 tiles within that noise).
constexpr int64_t kTileA = 32, kTileB = 512;  // along the input's run, along the output's
template <class O, class I, class Plan>
bool transpose_copy(kiln_context *ctx, const Plan &p) {
  const int L = p.ndim - 1;
  if (L < 1 || p.st[0][L] != 1 || p.st[1][L] == 1 || p.st[1][L - 1] != 1) return false;
  const int64_t A = p.shape[L - 1], B = p.shape[L], sao = p.st[0][L - 1], sbi = p.st[1][L];
  if (A < 16 || B < 16) return false;
  const int64_t ta = (A + kTileA - 1) / kTileA, outer = p.numel / (A * B);
  const IsaKernels *isa = isa_kernels(ctx->isa);
  parallel_for(ctx->pool.get(), outer * ta, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
      int64_t k = t / ta, oo = 0, io = 0;
      for (int d = L - 2; d >= 0; d--) {  // the outer dims' offsets
        const int64_t i = k % p.shape[d];
        k /= p.shape[d];
        oo += i * p.st[0][d];
        io += i * p.st[1][d];
      }
      const int64_t a0 = t % ta * kTileA, a1 = std::min(A, a0 + kTileA);
      O *o = (O *)p.base[0] + oo;
      const I *x = (const I *)p.base[1] + io;
      for (int64_t b0 = 0; b0 < B; b0 += kTileB) {
        const int64_t b1 = std::min(B, b0 + kTileB);
        if constexpr (std::is_same_v<O, I> && sizeof(O) == 4)
          isa->transpose32(o + a0 * sao + b0, sao, x + b0 * sbi + a0, sbi, b1 - b0, a1 - a0);
        else
          for (int64_t a = a0; a < a1; a++)
            for (int64_t b = b0; b < b1; b++) o[a * sao + b] = store<O>(load(x[a + b * sbi]));
      }
    }
  });
  return true;
}

// Innermost runs this short or shorter go through copy_loop's blocks of rows.
constexpr int64_t kShortRun = 8;

template <class O, class I>
void copy_loop(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in) {
  const kiln_tensor *ops[2] = {&out, &in};
  auto p = make_plan<2>(ops);
  if (transpose_copy<O, I>(ctx, p)) return;
  if (p.numel > 0 && p.ndim >= 2 && p.shape[p.ndim - 1] <= kShortRun) {
    // Short innermost runs (an expand or a permute of small trailing dims: repeats, nearest
    // upsampling by views, pixel shuffle, narrow columns): the walk goes over the runs of the dim
    // before, each of its runs a block of short rows copied in one double loop (lengths 2 to 4
    // unrolled), instead of a walk step and a call per short row. 2 threads, float32, alternating
    // builds: expand [16, 64, 56, 56] -> [.., 56, 2, 56, 2] 10.4 -> 1.9 ms; [.., 56, 56, 2] 4.6 ->
    // 1.2; the pixel-shuffle permute of [8, 64, 2, 2, 56, 56] 5.9 -> 1.2; [4M, 8] narrowed to 4
    // columns 7.3 -> 3.2.
    const int last = p.ndim - 1;
    const int64_t L = p.shape[last], so = p.st[0][last], si = p.st[1][last];
    Plan<2> q = p;
    q.ndim = last;
    q.numel = p.numel / L;
    auto rows = [&](auto len) {  // len: L as a compile-time constant (unrolled) or an int64_t
      parallel_walk(ctx->pool.get(), q, std::max<int64_t>(1, ew_grain(ctx, p.numel) / L),
                    [&](char *const *ptr, const int64_t *st, int64_t n) {
                      O *o = (O *)ptr[0];
                      const I *x = (const I *)ptr[1];
                      for (int64_t r = 0; r < n; r++, o += st[0], x += st[1])
                        for (int64_t j = 0; j < (int64_t)len; j++) o[j * so] = store<O>(load(x[j * si]));
                    });
    };
    if (L == 2)
      rows(std::integral_constant<int64_t, 2>{});
    else if (L == 3)
      rows(std::integral_constant<int64_t, 3>{});
    else if (L == 4)
      rows(std::integral_constant<int64_t, 4>{});
    else
      rows(L);
    return;
  }
  parallel_walk(ctx->pool.get(), p, ew_grain(ctx, p.numel), [&](char *const *ptr, const int64_t *st, int64_t n) {
    O *o = (O *)ptr[0];
    const I *x = (const I *)ptr[1];
    if constexpr (std::is_same_v<O, I>) {
      if (st[0] == 1 && st[1] == 1) {
        memcpy(o, x, (size_t)n * sizeof(O));
        return;
      }
    }
    // Contiguous float32 <-> float16 and float32 -> bfloat16 run on the ISA's conversions ([2^24]
    // to float16: 54 ms element by element through dtype.h's scalar conversion).
    constexpr bool kToF16 = std::is_same_v<O, half_t> && std::is_same_v<I, float>;
    constexpr bool kFromF16 = std::is_same_v<O, float> && std::is_same_v<I, half_t>;
    constexpr bool kToBf16 = std::is_same_v<O, bfloat16_t> && std::is_same_v<I, float>;
    if constexpr (kToF16 || kFromF16 || kToBf16) {
      if (st[0] == 1 && st[1] == 1) {
        const IsaKernels *isa = isa_kernels(ctx->isa);
        if constexpr (kToF16)
          isa->f32_to_f16((uint16_t *)o, x, n);
        else if constexpr (kFromF16)
          isa->f16_to_f32(o, (const uint16_t *)x, n);
        else
          isa->f32_to_bf16((uint16_t *)o, x, n);
        return;
      }
    }
    each2(st, n, [&](int64_t io, int64_t ix) { o[io] = store<O>(load(x[ix])); });
  });
}

}  // namespace

kiln_status unary_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, Unary op) {
  kiln_status st = KILN_OK;
  KILN_DISPATCH_ALL(a.dtype, return fail(ctx, KILN_ERR_DTYPE, "unary: bad dtype"),
                    st = unary_typed<scalar_t>(ctx, out, a, op));
  return st;
}

kiln_status binary_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b,
                       Binary op) {
  kiln_status st = KILN_OK;
  KILN_DISPATCH_ALL(a.dtype, return fail(ctx, KILN_ERR_DTYPE, "binary: bad dtype"),
                    st = binary_typed<scalar_t>(ctx, out, a, b, op));
  return st;
}

// where's select on raw bits of the element's width; a branch-free contiguous loop when it can.
template <class U, class Plan>
void where_loop(kiln_context *ctx, const Plan &p) {
  parallel_walk(ctx->pool.get(), p, ew_grain(ctx, p.numel), [&](char *const *ptr, const int64_t *st, int64_t n) {
    U *o = (U *)ptr[0];
    const uint8_t *c = (const uint8_t *)ptr[1];
    const U *a = (const U *)ptr[2], *b = (const U *)ptr[3];
    if (st[0] == 1 && st[1] == 1 && st[2] <= 1 && st[3] <= 1) {
      const int64_t sa = st[2], sb = st[3];
      for (int64_t i = 0; i < n; i++) {  // masks, not a branch: random conditions mispredict
        const U m = (U)0 - (U)(c[i] != 0);
        o[i] = (a[i * sa] & m) | (b[i * sb] & (U)~m);
      }
      return;
    }
    for (int64_t i = 0; i < n; i++) o[i * st[0]] = c[i * st[1]] ? a[i * st[2]] : b[i * st[3]];
  });
}

kiln_status where_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &cond, const kiln_tensor &a,
                      const kiln_tensor &b) {
  if (cond.dtype != KILN_BOOL || a.dtype != b.dtype || out.dtype != a.dtype)
    return fail(ctx, KILN_ERR_DTYPE, "where: condition must be bool and both values of the output dtype");
  const kiln_tensor *ops[4] = {&out, &cond, &a, &b};
  auto p = make_plan<4>(ops);
  switch (dtype_size(out.dtype)) {
    case 1: where_loop<uint8_t>(ctx, p); break;
    case 2: where_loop<uint16_t>(ctx, p); break;
    case 4: where_loop<uint32_t>(ctx, p); break;
    default: where_loop<uint64_t>(ctx, p); break;
  }
  return KILN_OK;
}

kiln_status copy_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in) {
  KILN_DISPATCH_ALL(out.dtype, return fail(ctx, KILN_ERR_DTYPE, "copy: bad output dtype"), {
    using O = scalar_t;
    KILN_DISPATCH_ALL(in.dtype, return fail(ctx, KILN_ERR_DTYPE, "copy: bad input dtype"),
                      copy_loop<O, scalar_t>(ctx, out, in));
  });
  return KILN_OK;
}

// out = min(max(a, lo), hi), elementwise in one pass, with maximum's and minimum's rules (a NaN of
// a passes; bounds are not NaN: ops/clamp.ts sends those to the composite). The composite took two
// passes and a temporary: [4096, 4096] float32 0.46-0.49 of copy_. float32 runs on the ISA's
// clamp_f32 where both sides are contiguous; other float dtypes compute in their compute type.
kiln_status clamp_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, double lo, double hi) {
  if (a.dtype != out.dtype || !dtype_is_float(a.dtype)) return fail(ctx, KILN_ERR_DTYPE, "clamp: float operands only");
  if (lo != lo || hi != hi) return fail(ctx, KILN_ERR_ARG, "clamp: bounds must not be NaN");
  const kiln_tensor *ops[2] = {&out, &a};
  auto p = make_plan<2>(ops);
  const IsaKernels *isa = isa_kernels(ctx->isa);
  KILN_DISPATCH_FLOAT(a.dtype, return fail(ctx, KILN_ERR_DTYPE, "clamp: bad dtype"), {
    using C = compute_t<scalar_t>;
    const C l = (C)lo, h = (C)hi;
    parallel_walk(ctx->pool.get(), p, ew_grain(ctx, p.numel), [&](char *const *ptr, const int64_t *st, int64_t n) {
      scalar_t *o = (scalar_t *)ptr[0];
      const scalar_t *x = (const scalar_t *)ptr[1];
      if (std::is_same_v<scalar_t, float> && st[0] == 1 && st[1] == 1)
        return isa->clamp_f32((float *)o, (const float *)x, n, (float)l, (float)h);
      each2(st, n, [&](int64_t io, int64_t ix) {
        o[io] = store<scalar_t>(math::Minimum{}(math::Maximum{}(load(x[ix]), l), h));
      });
    });
  });
  return KILN_OK;
}

kiln_status fill_cpu(kiln_context *ctx, const kiln_tensor &out, double value) {
  const kiln_tensor *ops[1] = {&out};
  auto p = make_plan<1>(ops);
  KILN_DISPATCH_ALL(out.dtype, return fail(ctx, KILN_ERR_DTYPE, "fill: bad dtype"), {
    scalar_t v = store<scalar_t>(value);
    parallel_walk(ctx->pool.get(), p, ew_grain(ctx, p.numel), [&](char *const *ptr, const int64_t *st, int64_t n) {
      scalar_t *o = (scalar_t *)ptr[0];
      for (int64_t i = 0; i < n; i++) o[i * st[0]] = v;
    });
  });
  return KILN_OK;
}

}  // namespace kiln::cpu
