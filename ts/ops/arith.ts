/**
 * Pointwise combinations written with the table's arithmetic, as torch's: lerp, addcmul,
 * addcdiv (the optimizers' and EMAs' building blocks), hypot, logit, xlogy. Differentiable
 * through those ops.
 */
import { isFloating } from '../dtype';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { Tensor } from '../tensor';
import { where } from './indexing';
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

/**
 * sqrt(a^2 + b^2) without overflow or underflow on the way (torch.hypot): the larger magnitude
 * times sqrt(1 + (smaller / larger)^2); inf where either is infinite (even with a NaN), as C's.
 */
export function hypot(a: Tensor, b: Tensor): Tensor {
  checkTensor(a, 'hypot', 'input');
  checkTensor(b, 'hypot', 'other');
  if (!isFloating(a.dtype) || !isFloating(b.dtype)) throw new KilnError('ERR_DTYPE', 'hypot: inputs must be floating');
  return scope(() => {
    const aa = a.abs(),
      ab = b.abs();
    const m = aa.maximum(ab),
      r = aa.minimum(ab);
    const safe = where(m.eq(0), 1, m); // 0 / 0 would poison the gradient through where
    const h = m.mul(r.div(safe).square().add(1).sqrt());
    return where(aa.isinf().logicalOr(ab.isinf()), Infinity, h);
  });
}

/** log(p / (1 - p)) (torch.logit), p clamped to [eps, 1 - eps] when eps is given. */
export function logit(x: Tensor, eps: number | null = null): Tensor {
  checkTensor(x, 'logit', 'input');
  return scope(() => {
    const z = eps === null ? x : x.clamp(eps, 1 - eps);
    return z.div(z.neg().add(1)).log();
  });
}

/** x log(y), 0 where x is 0 and y is not NaN (torch.xlogy); y may be a number. */
export function xlogy(x: Tensor, y: Tensor | number): Tensor {
  checkTensor(x, 'xlogy', 'input');
  return scope(() => {
    const yt = y instanceof Tensor ? checkTensor(y, 'xlogy', 'other') : null;
    const logy = yt ? yt.log() : Math.log(y as number);
    const prod = x.mul(logy);
    const zero = yt ? x.eq(0).logicalAnd(yt.isnan().logicalNot()) : Number.isNaN(y) ? null : x.eq(0);
    return zero ? where(zero, 0, prod) : prod;
  });
}
