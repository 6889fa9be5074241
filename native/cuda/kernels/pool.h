// 2-d pooling over NCHW planes on CUDA, mirroring native/cpu/pool.cpp: max pooling with int64
// indices (flat h * W + w within the plane), average pooling (PyTorch's divisor rules) and adaptive
// average pooling with their backward, plus a deterministic max-pooling backward (no op id yet: the
// TS layer takes max pooling's gradient as a scatter-add by the indices).
// Each launcher takes the operands of native/cpu's X_cpu (see cpu_ops.h) and follows launch.h.
#pragma once
#include "../../cpu/cpu_ops.h"
#include "launch.h"

namespace kiln::cuda {

// y, idx [N, C, OH, OW], x [N, C, H, W], contiguous planes; float32/float64 values, int64 indices.
// attr: kernel (h, w), stride, padding, dilation. The same values, indices and NaN rule as the CPU.
kiln_status max_pool2d_cuda(const Launch &L, const kiln_tensor &y, const kiln_tensor &idx, const kiln_tensor &x,
                            const double *attr);
// The same with the 2x2 / 2 float32 kernel variant chosen, for the benchmarks: 1 one output per
// thread (8-byte row loads), 2 two outputs per thread (16-byte loads, needs W % 4 == 0); other
// windows and dtypes ignore it. max_pool2d_cuda uses kMaxPoolVariant.
constexpr int kMaxPoolVariant = 1;  // not yet measured on the H200 (pool_test's bench compares both)
kiln_status max_pool2d_variant_cuda(const Launch &L, int variant, const kiln_tensor &y, const kiln_tensor &idx,
                                    const kiln_tensor &x, const double *attr);
// Average (attr: kernel, stride, padding, countIncludePad, divisor) or adaptive (attr unused)
// pooling, forward (out pooled, in image) or backward (out the image's gradient, in the pooled
// one). Sums in double in the CPU's order, so the results are the CPU's bits.
kiln_status avg_pool2d_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in, const double *attr,
                            bool adaptive, bool backward);
// gx [N, C, H, W] = the scatter-add of gy [N, C, OH, OW] by idx (max_pool2d's indices for the same
// attr): each gx element gathers, in increasing flat output order, the gy of the windows that
// cover it and picked it, so the sums are deterministic and equal the CPU's serial scatter-add.
kiln_status max_pool2d_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gy,
                                     const kiln_tensor &idx, const double *attr);

}  // namespace kiln::cuda
