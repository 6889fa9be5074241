// Elementwise, broadcast (stride-0) and strided ops, casts (copy converts dtypes, bf16/fp16 included),
// fill, reductions, gather/scatter and the Philox random fills (the same numbers as on CPU).
// Each launcher takes the operands of native/cpu's X_cpu (see cpu_ops.h) and follows launch.h.
#pragma once
#include "../../cpu/cpu_ops.h"
#include "launch.h"

namespace kiln::cuda {
using kiln::cpu::Binary;
using kiln::cpu::GemmAct;
using kiln::cpu::MatmulOpts;
using kiln::cpu::NnAct;
using kiln::cpu::Reduce;
using kiln::cpu::Unary;

kiln_status unary_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &a, Unary op);
kiln_status binary_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b, Binary op);
kiln_status where_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &cond, const kiln_tensor &a,
                       const kiln_tensor &b);
kiln_status copy_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in);
kiln_status fill_cuda(const Launch &L, const kiln_tensor &out, double value);
kiln_status reduce_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in, int nred, Reduce op);
kiln_status gather_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in, const kiln_tensor &index,
                        int dim);
kiln_status scatter_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &index, const kiln_tensor &src,
                         int dim, bool accumulate);
// The same, and an out-of-range index is also recorded in *bad_index (device memory: an int64 the
// caller set to INT64_MIN; a bad index value replaces it), so the runtime can raise KILN_ERR_INDEX
// when it next synchronises. Elements with a bad index are never read or written out of bounds;
// scatter writes nothing at all when any index is bad (index.cu says more).
kiln_status gather_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in, const kiln_tensor &index,
                        int dim, int64_t *bad_index);
kiln_status scatter_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &index, const kiln_tensor &src,
                         int dim, bool accumulate, int64_t *bad_index);
kiln_status uniform_cuda(const Launch &L, const kiln_tensor &out, uint64_t seed, uint64_t offset, double lo, double hi);
kiln_status normal_cuda(const Launch &L, const kiln_tensor &out, uint64_t seed, uint64_t offset, double mean,
                        double std);

}  // namespace kiln::cuda
