/**
 * Operand preparation shared by the fused row kernels (softmax, layer_norm, cross_entropy):
 * contiguous copies made outside autograd, and the dtype a kernel computes in.
 */
import { noGrad } from '../autograd/grad_mode';
import { isFloating, type DType } from '../dtype';
import type { Tensor } from '../tensor';

/** `t` itself when contiguous, else a contiguous copy made without recording a graph node. */
export const dense = (t: Tensor): Tensor => (t.isContiguous() ? t : noGrad(() => t.contiguous()));

/** Disposes each of `temps` that is not the tensor it was made from. */
export function disposeTemps(pairs: [Tensor | null, Tensor | null][]): void {
  for (const [temp, orig] of pairs) if (temp && temp !== orig) temp.dispose();
}

/** The dtype the kernels compute in: float64 stays, the 16-bit floats widen to float32. */
export const computeDtype = (d: DType): DType => (d === 'float64' ? 'float64' : 'float32');

/**
 * f(x) run in x's compute dtype: a 16-bit float input is widened first and the result narrowed back
 * (an integer input keeps the float32 result).
 */
export function inComputeDtype(x: Tensor, f: (x: Tensor) => Tensor): Tensor {
  const wide = computeDtype(x.dtype);
  if (wide === x.dtype) return f(x);
  const xf = x.to(wide);
  const yf = f(xf);
  const y = isFloating(x.dtype) ? yf.to(x.dtype) : yf;
  disposeTemps([
    [xf, x],
    [yf, y],
  ]);
  return y;
}
