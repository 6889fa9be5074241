// CUDA copy with dtype conversion among all 8 dtypes, strided to strided (stride 0 inputs
// broadcast), rounding like dtype.h's store (float -> half/bf16 round to nearest even, float ->
// int saturates, NaN -> 0, uint8 wraps). Same-dtype copies move bits (bool is normalised to 0/1
// like the CPU's strided loop). Paths as in elementwise.cu.
#include "elementwise.h"
#include "ew_common.cuh"
#include "ew_ops.cuh"

namespace kiln::cuda {

namespace {

template <class O>
struct Convert {
  template <class I>
  __device__ __forceinline__ O operator()(I x) const {
    return store<O>(load(x));
  }
};
struct Identity {
  template <class U>
  __device__ __forceinline__ U operator()(U x) const {
    return x;
  }
};

template <class O, class I>
kiln_status copy_typed(const Launch &L, const kiln_tensor &out, const kiln_tensor &in) {
  if constexpr (std::is_same_v<O, I> && !std::is_same_v<O, bool>) {
    using U = typename uint_of_size<sizeof(O)>::type;
    return launch_map<U, U>(L, "copy", Identity{}, out, in);
  } else {
    return launch_map<O, I>(L, "copy", Convert<O>{}, out, in);
  }
}

}  // namespace

kiln_status copy_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in) {
  if (!same_shape(out, in)) return fail(L, KILN_ERR_SHAPE, "copy: input does not have the output's shape");
  kiln_status st = KILN_OK;
  KILN_DISPATCH_ALL(out.dtype, return fail(L, KILN_ERR_DTYPE, "copy: bad output dtype"), {
    using O = scalar_t;
    KILN_DISPATCH_ALL(in.dtype, return fail(L, KILN_ERR_DTYPE, "copy: bad input dtype"),
                      st = (copy_typed<O, scalar_t>(L, out, in)));
  });
  return st;
}

}  // namespace kiln::cuda
