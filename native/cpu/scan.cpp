// Inclusive running sums along one dim (torch.cumsum), forward or from the end (reverse: the
// gradient of cumsum), on contiguous operands of one dtype viewed as [outer, n, inner]. float32
// and float64 accumulate in double, as PyTorch's CPU cumsum does, so each output is the exact
// running sum rounded once (float32) and no rounding error grows along the dim; int32 / int64
// accumulate in their own type, wrapping. One read and one write per element:
//   inner > 1: column strips, a running sum per column, rows read whole (the ISA's scan_f32);
//   inner == 1: rows in groups of up to kGroup at one stride. float32 moves each group through
//   tiles of kTile columns transposed in registers (transpose32), so the rows' running sums are
//   vector lanes (scan_f32), and back; other dtypes run kGroup scalar chains in lockstep. A row past
//   kPiece elements is cut into pieces of kPiece (grouped the same way), each starting from the sum
//   of the pieces before it (a first pass of piece totals): pieces are fixed by the shape, so any
//   thread count gives the same bits.
// Bench: `kiln bench ops` (cumsum rows).
#include <algorithm>
#include <type_traits>
#include <vector>

#include "cpu_ops.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kTaskElems = 1 << 15;  // elements per task, at least
// A row longer than kPiece is scanned in pieces of it; a line past 2^14 so that a group's pieces
// (kPiece apart) fall in different L1 sets: 2^14 itself ran the 1-D [2^24] at 0.17 of copy_.
constexpr int64_t kPiece = (1 << 14) + 16;
constexpr int kGroup = 16;      // pieces per group
constexpr int64_t kTile = 256;  // columns per transposed tile (float32 groups: 16 KB)

template <class T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;

// Wrapping add for the integer types (signed overflow is undefined in C++).
template <class A>
inline A add(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;
    return (A)((U)a + (U)b);
  } else {
    return a + b;
  }
}

// g pieces of len elements, piece q at x + q stride (o likewise), scanned from its start (or its
// end) starting from carry[q].
template <class T>
struct Group {
  const T *x;
  T *o;
  int64_t stride, len;
  int g;
  Acc<T> carry[kGroup];
};

template <class T>
void scan_group(const IsaKernels *isa, const Group<T> &gr, bool reverse) {
  Acc<T> acc[kGroup];
  std::copy(gr.carry, gr.carry + gr.g, acc);
  if constexpr (std::is_same_v<T, float>) {
    alignas(64) float tile[kTile * kGroup], sums[kTile * kGroup];
    const int64_t chunks = (gr.len + kTile - 1) / kTile;
    for (int64_t k = 0; k < chunks; k++) {
      const int64_t c0 = (reverse ? chunks - 1 - k : k) * kTile, cw = std::min(kTile, gr.len - c0);
      isa->transpose32(tile, kGroup, gr.x + c0, gr.stride, gr.g, cw);  // tile[j][q] = piece q's column c0 + j
      if (reverse)
        isa->scan_f32(sums + (cw - 1) * kGroup, acc, tile + (cw - 1) * kGroup, gr.g, cw, -kGroup);
      else
        isa->scan_f32(sums, acc, tile, gr.g, cw, kGroup);
      isa->transpose32(gr.o + c0, gr.stride, sums, kGroup, cw, gr.g);
    }
  } else {
    const int64_t step = reverse ? -1 : 1;
    for (int64_t t = 0, i = reverse ? gr.len - 1 : 0; t < gr.len; t++, i += step)
      for (int q = 0; q < gr.g; q++) {
        acc[q] = add(acc[q], (Acc<T>)gr.x[q * gr.stride + i]);
        gr.o[q * gr.stride + i] = (T)acc[q];
      }
  }
}

// The groups of rows of n (inner == 1), built on demand (a list of them, allocated per call,
// cost fresh pages each time): kGroup rows at a time when n <= kPiece; past it each row's whole
// pieces kGroup at a time, then the rows' short last pieces kGroup rows at a time, with carries
// from the piece totals (the sum of the pieces before each, in scan order).
template <class T>
struct RowGroups {
  const T *x;
  T *o;
  int64_t rows, n, per, whole, wg;  // pieces per row, whole ones, groups of whole ones per row
  std::vector<Acc<T>> carry;        // per piece, row-major (long rows only)

  RowGroups(kiln_context *ctx, const T *x_, T *o_, int64_t rows_, int64_t n_, bool reverse)
      : x(x_), o(o_), rows(rows_), n(n_) {
    per = n > kPiece ? (n + kPiece - 1) / kPiece : 1;
    whole = n > kPiece ? n / kPiece : 0;
    wg = (whole + kGroup - 1) / kGroup;
    if (n <= kPiece) return;
    carry.resize((size_t)(rows * per));
    parallel_for(ctx->pool.get(), rows * per, std::max<int64_t>(1, kTaskElems / kPiece), [&](int64_t a, int64_t b) {
      for (int64_t k = a; k < b; k++) {
        const T *xp = x + (k / per) * n + (k % per) * kPiece;
        const int64_t len = std::min(kPiece, n - (k % per) * kPiece);
        Acc<T> p[8] = {};  // eight chains: the adds' latency overlaps (the order is double's, fixed by the shape)
        int64_t i = 0;
        for (; i + 8 <= len; i += 8)
          for (int j = 0; j < 8; j++) p[j] = add(p[j], (Acc<T>)xp[i + j]);
        for (; i < len; i++) p[0] = add(p[0], (Acc<T>)xp[i]);
        const Acc<T> s = add(add(add(p[0], p[1]), add(p[2], p[3])), add(add(p[4], p[5]), add(p[6], p[7])));
        carry[(size_t)k] = s;
      }
    });
    for (int64_t r = 0; r < rows; r++) {  // piece totals -> the sums before each piece, in scan order
      Acc<T> run = 0;
      for (int64_t t = 0; t < per; t++) {
        Acc<T> &c = carry[(size_t)(r * per + (reverse ? per - 1 - t : t))];
        const Acc<T> v = c;
        c = run;
        run = add(run, v);
      }
    }
  }
  int64_t count() const {
    const int64_t by_rows = (rows + kGroup - 1) / kGroup;
    return n <= kPiece ? by_rows : rows * wg + (whole < per ? by_rows : 0);
  }
  int64_t elems_per_group() const { return n <= kPiece ? kGroup * n : kGroup * kPiece; }
  Group<T> operator[](int64_t k) const {
    Group<T> gr{};
    auto at = [&](int64_t off, int64_t stride, int64_t len, int64_t g) {
      gr.x = x + off, gr.o = o + off, gr.stride = stride, gr.len = len, gr.g = (int)g;
    };
    if (n <= kPiece) {
      at(k * kGroup * n, n, n, std::min<int64_t>(kGroup, rows - k * kGroup));
    } else if (k < rows * wg) {  // whole pieces of row r from piece b
      const int64_t r = k / wg, b = (k % wg) * kGroup;
      at(r * n + b * kPiece, kPiece, kPiece, std::min<int64_t>(kGroup, whole - b));
      for (int q = 0; q < gr.g; q++) gr.carry[q] = carry[(size_t)(r * per + b + q)];
    } else {  // the last, short pieces of rows r ...
      const int64_t r = (k - rows * wg) * kGroup;
      at(r * n + whole * kPiece, n, n - whole * kPiece, std::min<int64_t>(kGroup, rows - r));
      for (int q = 0; q < gr.g; q++) gr.carry[q] = carry[(size_t)((r + q) * per + whole)];
    }
    return gr;
  }
};

template <class T>
kiln_status run(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, int dim, bool reverse) {
  int64_t outer = 1, n = 1, inner = 1;
  for (int d = 0; d < in.ndim; d++) (d < dim ? outer : d == dim ? n : inner) *= in.shape[d];
  const T *x = (const T *)in.data;
  T *o = (T *)out.data;
  if (outer * n * inner == 0) return KILN_OK;
  const IsaKernels *isa = isa_kernels(ctx->isa);
  if (inner > 1) {  // strips of whole rows' worth of columns where the blocks are few
    const int64_t sw = column_strip(ctx->pool.get(), outer, inner);
    const int64_t strips = (inner + sw - 1) / sw;
    parallel_for(
        ctx->pool.get(), outer * strips, std::max<int64_t>(1, kTaskElems / (n * sw)), [&](int64_t a, int64_t b) {
          std::vector<Acc<T>> acc((size_t)sw);
          for (int64_t p = a; p < b; p++) {
            const int64_t q = p / strips, j0 = (p % strips) * sw, cw = std::min(sw, inner - j0);
            const int64_t first = q * n * inner + (reverse ? (n - 1) * inner : 0) + j0, ld = reverse ? -inner : inner;
            std::fill(acc.begin(), acc.begin() + cw, Acc<T>(0));
            if constexpr (std::is_same_v<T, float>) {
              isa->scan_f32(o + first, acc.data(), x + first, cw, n, ld);
            } else {
              for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < cw; j++) {
                  acc[j] = add(acc[j], (Acc<T>)x[first + i * ld + j]);
                  o[first + i * ld + j] = (T)acc[j];
                }
            }
          }
        });
    return KILN_OK;
  }
  const RowGroups<T> gs(ctx, x, o, outer, n, reverse);
  parallel_for(ctx->pool.get(), gs.count(), std::max<int64_t>(1, kTaskElems / gs.elems_per_group()),
               [&](int64_t a, int64_t b) {
                 for (int64_t k = a; k < b; k++) scan_group(isa, gs[k], reverse);
               });
  return KILN_OK;
}

}  // namespace

kiln_status cumsum_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, int dim, bool reverse) {
  if (!contiguous(in) || !contiguous(out)) return fail(ctx, KILN_ERR_ARG, "cumsum: operands must be contiguous");
  if (in.dtype != out.dtype) return fail(ctx, KILN_ERR_DTYPE, "cumsum: operands must share one dtype");
  switch (in.dtype) {
    case KILN_FLOAT32: return run<float>(ctx, out, in, dim, reverse);
    case KILN_FLOAT64: return run<double>(ctx, out, in, dim, reverse);
    case KILN_INT32: return run<int32_t>(ctx, out, in, dim, reverse);
    case KILN_INT64: return run<int64_t>(ctx, out, in, dim, reverse);
    default:
      return fail(ctx, KILN_ERR_DTYPE, "cumsum: float32, float64, int32 or int64 only (the caller widens others)");
  }
}

}  // namespace kiln::cpu
