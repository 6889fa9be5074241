// Sort and top-k along one dim (op table row `sort`, ts/ops/sort.ts): the input is viewed as
// [outer, n, inner]; each of the outer * inner rows is sorted on its own, rows in parallel.
// Outputs: the first k of the sorted row (k = n for a full sort) and their int64 indices.
//
// Every dtype maps to an unsigned key whose integer order is PyTorch's order: floats flip their
// sign-magnitude bits, -0 becomes +0, every NaN becomes the largest key (NaN sorts last ascending,
// first descending); descending order complements the key. Ties break on the index, so the order
// is always the stable one (stable=true and stable=false agree).
// Keys of up to 32 bits pack with the index into one uint64 (key << 32 | index) and rows sort by
// an LSD radix sort on the key bytes (kRadixMin elements and up) or std::sort below it; 64-bit
// keys sort (key, index) pairs the same ways. Top-k with k small against n (k <= kStreamMaxK)
// streams through the row keeping the best k so far (one compare per element on most data);
// larger k select with std::nth_element, then sort the k. Scratch is per thread and kept between
// calls: fresh pages cost ~11 us each on these VMs (DESIGN.md).
// Bench: `npx tsx ts/bench/sort.ts` (kiln beside torch.sort / topk / kthvalue in one run).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../core/thread_pool.h"
#include "cpu_ops.h"
#include "scratch.h"

namespace kiln::cpu {
namespace {

constexpr int64_t kTaskElems = 1 << 14;  // elements per task, at least
// Rows this long and longer sort by radix: one thread, [2^22 / n, n] float32, ns per element:
// std::sort 38 / 46 / 53 / 63 at n = 32 / 64 / 128 / 256, radix 44 / 17 / 15 / 14 (random data
// makes std::sort mispredict about every other compare).
constexpr int64_t kRadixMin = 64;
constexpr int64_t kSelectRatio = 8;        // top-k selects first when k * kSelectRatio <= n,
constexpr int64_t kStreamMaxK = 256;       // and streams through the row when k is at most this
constexpr size_t kScratchKeep = 64 << 20;  // per-thread scratch bytes (each buffer) kept after a call

// ---- keys: unsigned integers in PyTorch's order ----

template <class U>
U float_key(U b, U sign, U exp_mask) {
  const U mag = (U)(b & (U)~sign);
  if (mag > exp_mask) return (U) ~(U)0;  // NaN: the largest key
  if (mag == 0) return sign;             // -0 and +0 compare equal
  return (b & sign) ? (U)~b : (U)(b | sign);
}

// Storage type S of a dtype and its key type K.
template <int DT>
struct KeyOf;
template <>
struct KeyOf<KILN_FLOAT32> {
  using S = uint32_t;
  using K = uint32_t;
  static K key(S b) { return float_key<uint32_t>(b, 0x80000000u, 0x7f800000u); }
};
template <>
struct KeyOf<KILN_FLOAT64> {
  using S = uint64_t;
  using K = uint64_t;
  static K key(S b) { return float_key<uint64_t>(b, (uint64_t)1 << 63, 0x7ff0000000000000ull); }
};
template <>
struct KeyOf<KILN_FLOAT16> {
  using S = uint16_t;
  using K = uint16_t;
  static K key(S b) { return float_key<uint16_t>(b, 0x8000, 0x7c00); }
};
template <>
struct KeyOf<KILN_BFLOAT16> {
  using S = uint16_t;
  using K = uint16_t;
  static K key(S b) { return float_key<uint16_t>(b, 0x8000, 0x7f80); }
};
template <>
struct KeyOf<KILN_INT32> {
  using S = uint32_t;
  using K = uint32_t;
  static K key(S b) { return b ^ 0x80000000u; }
};
template <>
struct KeyOf<KILN_INT64> {
  using S = uint64_t;
  using K = uint64_t;
  static K key(S b) { return b ^ ((uint64_t)1 << 63); }
};
template <>
struct KeyOf<KILN_UINT8> {
  using S = uint8_t;
  using K = uint8_t;
  static K key(S b) { return b; }
};
template <>
struct KeyOf<KILN_BOOL> {
  using S = uint8_t;
  using K = uint8_t;
  static K key(S b) { return b != 0; }
};

// ---- elements: (key, index) in one comparable value ----

// Keys of up to 32 bits: key << 32 | index (rows shorter than 2^32).
struct Packed {
  using E = uint64_t;
  static E make(uint64_t key, int64_t i) { return key << 32 | (uint64_t)i; }
  static int64_t index(E e) { return (int64_t)(e & 0xffffffffu); }
  static unsigned digit(E e, int byte) { return (unsigned)(e >> (32 + 8 * byte)) & 0xff; }
};

struct Pair {
  uint64_t key;
  int64_t i;
  bool operator<(const Pair &o) const { return key < o.key || (key == o.key && i < o.i); }
};
struct Wide {
  using E = Pair;
  static E make(uint64_t key, int64_t i) { return Pair{key, i}; }
  static int64_t index(const E &e) { return e.i; }
  static unsigned digit(const E &e, int byte) { return (unsigned)(e.key >> (8 * byte)) & 0xff; }
};

// Stable LSD radix sort of a[0, n) on the low `bytes` key bytes; b is scratch of n. Returns the
// buffer that holds the result. Bytes where every element has the same digit are skipped.
template <class P, class E>
E *radix_sort(E *a, E *b, int64_t n, int bytes) {
  int64_t count[8][256];
  std::memset(count, 0, sizeof(count[0]) * bytes);
  for (int64_t i = 0; i < n; i++)
    for (int p = 0; p < bytes; p++) count[p][P::digit(a[i], p)]++;
  for (int p = 0; p < bytes; p++) {
    int64_t *c = count[p];
    if (c[P::digit(a[0], p)] == n) continue;
    int64_t sum = 0;
    for (int d = 0; d < 256; d++) {
      const int64_t t = c[d];
      c[d] = sum;
      sum += t;
    }
    for (int64_t i = 0; i < n; i++) b[c[P::digit(a[i], p)]++] = a[i];
    std::swap(a, b);
  }
  return a;
}

// a[i] = (key of x[i * is], i) for the row.
template <int DT, class P>
void fill_keys(typename P::E *a, const typename KeyOf<DT>::S *x, int64_t n, int64_t is, bool descending) {
  using K = typename KeyOf<DT>::K;
  for (int64_t i = 0; i < n; i++) {
    K key = KeyOf<DT>::key(x[i * is]);
    if (descending) key = (K)~key;
    a[i] = P::make((uint64_t)key, i);
  }
}

// Small k: one pass that keeps the first k seen so far sorted in a[0, k) and compares every later
// element with the k-th (on random data only about k ln(n / k) of them get in). Gives up (false)
// when too many get in (rows already in the opposite order), for the selection path.
template <int DT, class P>
bool stream_top_k(typename P::E *a, const typename KeyOf<DT>::S *x, int64_t n, int64_t k, int64_t is, bool descending) {
  using K = typename KeyOf<DT>::K;
  using E = typename P::E;
  if (k == 0) return true;
  fill_keys<DT, P>(a, x, k, is, descending);
  std::sort(a, a + k);
  E worst = a[k - 1];
  int64_t budget = n / 16 + 64;
  const K flip = descending ? (K) ~(K)0 : (K)0;
  for (int64_t i = k; i < n; i++) {
    const E e = P::make((uint64_t)(K)(KeyOf<DT>::key(x[i * is]) ^ flip), i);
    if (!(e < worst)) continue;
    if (--budget < 0) return false;
    int64_t j = k - 1;
    for (; j > 0 && e < a[j - 1]; j--) a[j] = a[j - 1];
    a[j] = e;
    worst = a[k - 1];
  }
  return true;
}

// Sorts one row of n elements at stride `is` into its first k: values at stride `vs`, indices at `xs`.
template <int DT, class P>
void sort_row(typename KeyOf<DT>::S *vals, int64_t *inds, const typename KeyOf<DT>::S *x, int64_t n, int64_t k,
              int64_t is, int64_t vs, int64_t xs, bool descending, typename P::E *a, typename P::E *b) {
  const typename P::E *s = a;
  const bool select = k < n && k * kSelectRatio <= n;
  if (!(select && k <= kStreamMaxK && stream_top_k<DT, P>(a, x, n, k, is, descending))) {
    fill_keys<DT, P>(a, x, n, is, descending);
    if (select) {
      if (k > 0) {
        std::nth_element(a, a + (k - 1), a + n);
        std::sort(a, a + k);
      }
    } else if (n >= kRadixMin) {
      s = radix_sort<P>(a, b, n, (int)sizeof(typename KeyOf<DT>::K));
    } else {
      std::sort(a, a + n);
    }
  }
  for (int64_t j = 0; j < k; j++) {
    const int64_t i = P::index(s[j]);
    vals[j * vs] = x[i * is];
    inds[j * xs] = i;
  }
}

struct Geometry {
  int64_t outer = 1, n = 1, inner = 1;
};

// Element offset of row (q, j) of t: q indexes the dims before `dim`, j the dims after it. Any
// strides (transposed, sliced, offset views), so no operand needs a contiguous copy.
int64_t row_offset(const kiln_tensor &t, int dim, int64_t q, int64_t j) {
  int64_t off = 0;
  for (int d = t.ndim - 1; d > dim; d--) {
    off += (j % t.shape[d]) * t.strides[d];
    j /= t.shape[d];
  }
  for (int d = dim - 1; d >= 0; d--) {
    off += (q % t.shape[d]) * t.strides[d];
    q /= t.shape[d];
  }
  return off;
}

template <int DT>
void sort_typed(kiln_context *ctx, const kiln_tensor &values, const kiln_tensor &indices, const kiln_tensor &in,
                int dim, const Geometry &g, int64_t k, bool descending) {
  using S = typename KeyOf<DT>::S;
  using P = std::conditional_t<sizeof(typename KeyOf<DT>::K) <= 4, Packed, Wide>;
  using E = typename P::E;
  S *v = (S *)values.data;
  int64_t *ix = (int64_t *)indices.data;
  const S *x = (const S *)in.data;
  const auto along = [dim](const kiln_tensor &t) { return t.ndim ? t.strides[dim] : (int64_t)1; };
  const int64_t is = along(in), vs = along(values), xs = along(indices);
  const int64_t rows = g.outer * g.inner;
  const int64_t grain = g.n >= kTaskElems ? 1 : kTaskElems / std::max<int64_t>(g.n, 1);
  parallel_for(ctx->pool.get(), rows, grain, [&](int64_t r0, int64_t r1) {
    thread_local ScratchVec<E> tl_a, tl_b;  // kept per thread (scratch.h)
    E *a = tl_a.get((size_t)g.n), *b = tl_b.get((size_t)g.n);
    for (int64_t r = r0; r < r1; r++) {
      const int64_t q = r / g.inner, j = r % g.inner;
      sort_row<DT, P>(v + row_offset(values, dim, q, j), ix + row_offset(indices, dim, q, j),
                      x + row_offset(in, dim, q, j), g.n, k, is, vs, xs, descending, a, b);
    }
    if (tl_a.bytes() > kScratchKeep) {  // one huge row must not pin its scratch
      tl_a.release();
      tl_b.release();
    }
  });
}

}  // namespace

kiln_status sort_cpu(kiln_context *ctx, const kiln_tensor &values, const kiln_tensor &indices, const kiln_tensor &in,
                     int dim, int64_t k, bool descending) {
  if (values.dtype != in.dtype || indices.dtype != KILN_INT64)
    return fail(ctx, KILN_ERR_DTYPE, "sort: values must have the input's dtype and indices int64");
  Geometry g;
  for (int d = 0; d < in.ndim; d++) (d < dim ? g.outer : d == dim ? g.n : g.inner) *= in.shape[d];
  if (k < 0 || k > g.n)
    return fail(ctx, KILN_ERR_ARG, "sort: k = %lld is out of range for a dim of size %lld", (long long)k,
                (long long)g.n);
  if (g.n >= ((int64_t)1 << 32)) return fail(ctx, KILN_ERR_SHAPE, "sort: rows of 2^32 elements or more");
  bool ok = values.ndim == in.ndim && indices.ndim == in.ndim;
  for (int d = 0; ok && d < in.ndim; d++) {
    const int64_t want = d == dim ? k : in.shape[d];
    ok = values.shape[d] == want && indices.shape[d] == want;
  }
  if (!ok)
    return fail(ctx, KILN_ERR_SHAPE, "sort: outputs must be the input's shape with dim %d of size %lld", dim,
                (long long)k);
  if (k == 0 || g.outer * g.inner == 0) return KILN_OK;
  switch (in.dtype) {
    case KILN_FLOAT32: sort_typed<KILN_FLOAT32>(ctx, values, indices, in, dim, g, k, descending); break;
    case KILN_FLOAT64: sort_typed<KILN_FLOAT64>(ctx, values, indices, in, dim, g, k, descending); break;
    case KILN_FLOAT16: sort_typed<KILN_FLOAT16>(ctx, values, indices, in, dim, g, k, descending); break;
    case KILN_BFLOAT16: sort_typed<KILN_BFLOAT16>(ctx, values, indices, in, dim, g, k, descending); break;
    case KILN_INT32: sort_typed<KILN_INT32>(ctx, values, indices, in, dim, g, k, descending); break;
    case KILN_INT64: sort_typed<KILN_INT64>(ctx, values, indices, in, dim, g, k, descending); break;
    case KILN_UINT8: sort_typed<KILN_UINT8>(ctx, values, indices, in, dim, g, k, descending); break;
    case KILN_BOOL: sort_typed<KILN_BOOL>(ctx, values, indices, in, dim, g, k, descending); break;
    default: return fail(ctx, KILN_ERR_DTYPE, "sort: unsupported dtype");
  }
  return KILN_OK;
}

}  // namespace kiln::cpu
