/**
 * Pointwise combinations written with the table's arithmetic, as torch's: lerp, addcmul,
 * addcdiv (the optimizers' and EMAs' building blocks). Differentiable through those ops.
 */
import type { Tensor } from '../tensor';
import { checkTensor, TensorLike } from './kinds';

/** start + weight (end - start), broadcast (torch.lerp). */
export function lerp(start: Tensor, end: Tensor, weight: TensorLike): Tensor {
  checkTensor(start, 'lerp', 'input');
  checkTensor(end, 'lerp', 'end');
  const d = end.sub(start);
  const s = d.mul(weight);
  const out = start.add(s);
  d.dispose();
  s.dispose();
  return out;
}

export interface ValueOption {
  /** the product's or quotient's factor (default 1) */
  value?: number;
}

/** x + value t1 t2, broadcast (torch.addcmul). */
export function addcmul(x: Tensor, t1: Tensor, t2: Tensor, opts: ValueOption = {}): Tensor {
  checkTensor(x, 'addcmul', 'input');
  const p = t1.mul(t2);
  const s = p.mul(opts.value ?? 1);
  const out = x.add(s);
  p.dispose();
  s.dispose();
  return out;
}

/** x + value t1 / t2, broadcast (torch.addcdiv). */
export function addcdiv(x: Tensor, t1: Tensor, t2: Tensor, opts: ValueOption = {}): Tensor {
  checkTensor(x, 'addcdiv', 'input');
  const q = t1.div(t2);
  const s = q.mul(opts.value ?? 1);
  const out = x.add(s);
  q.dispose();
  s.dispose();
  return out;
}
