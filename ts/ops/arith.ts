/**
 * Pointwise combinations written with the table's arithmetic, as torch's: lerp, addcmul,
 * addcdiv (the optimizers' and EMAs' building blocks). Differentiable through those ops.
 */
import type { Tensor } from '../tensor';
import { checkTensor, TensorLike } from './kinds';

/** x + p * factor, disposing p (the shared last step of lerp, addcmul and addcdiv). */
function addTimes(x: Tensor, p: Tensor, factor: TensorLike): Tensor {
  const s = factor === 1 ? p : p.mul(factor);
  const out = x.add(s);
  if (s !== p) s.dispose();
  p.dispose();
  return out;
}

/** start + weight (end - start), broadcast (torch.lerp). */
export function lerp(start: Tensor, end: Tensor, weight: TensorLike): Tensor {
  checkTensor(start, 'lerp', 'input');
  checkTensor(end, 'lerp', 'end');
  return addTimes(start, end.sub(start), weight);
}

export interface ValueOption {
  /** the product's or quotient's factor (default 1) */
  value?: number;
}

/** x + value t1 t2, broadcast (torch.addcmul). */
export function addcmul(x: Tensor, t1: Tensor, t2: Tensor, opts: ValueOption = {}): Tensor {
  checkTensor(x, 'addcmul', 'input');
  return addTimes(x, t1.mul(t2), opts.value ?? 1);
}

/** x + value t1 / t2, broadcast (torch.addcdiv). */
export function addcdiv(x: Tensor, t1: Tensor, t2: Tensor, opts: ValueOption = {}): Tensor {
  checkTensor(x, 'addcdiv', 'input');
  return addTimes(x, t1.div(t2), opts.value ?? 1);
}
