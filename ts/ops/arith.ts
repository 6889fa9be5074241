/**
 * Pointwise combinations written with the table's arithmetic, as torch's: lerp, addcmul,
 * addcdiv (the optimizers' and EMAs' building blocks), hypot, logit, xlogy. Differentiable
 * through those ops.
 */
import { isFloating, promoteTypes } from '../dtype';
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

/** log(e^a + e^b) without overflow (torch.logaddexp): max + log1p(e^-|a - b|). */
export function logaddexp(a: Tensor, b: Tensor): Tensor {
  checkTensor(a, 'logaddexp', 'input');
  checkTensor(b, 'logaddexp', 'other');
  return scope(() => {
    const m = a.maximum(b);
    const d = a.sub(b).abs().neg();
    // equal infinities: inf - inf is NaN, the answer is the infinity itself
    return where(a.eq(b).logicalAnd(a.isinf()), a, m.add(d.exp().log1p()));
  });
}

/** log2(2^a + 2^b) (torch.logaddexp2). */
export function logaddexp2(a: Tensor, b: Tensor): Tensor {
  checkTensor(a, 'logaddexp2', 'input');
  checkTensor(b, 'logaddexp2', 'other');
  return scope(() => {
    const m = a.maximum(b);
    const d = a.sub(b).abs().neg().mul(Math.LN2);
    return where(a.eq(b).logicalAnd(a.isinf()), a, m.add(d.exp().log1p().mul(Math.LOG2E)));
  });
}

export type RoundingMode = 'trunc' | 'floor';

/**
 * a / b rounded toward zero ('trunc') or down ('floor'), as torch.div's rounding_mode; integers
 * stay integers (exact below 2^53) and integer division by zero throws, as PyTorch's does.
 */
export function divRounded(a: Tensor, b: TensorLike, mode: RoundingMode): Tensor {
  checkTensor(a, 'div', 'input');
  if (mode !== 'trunc' && mode !== 'floor')
    throw new KilnError('ERR_ARG', `div: roundingMode must be 'trunc' or 'floor', got '${String(mode)}'`);
  return scope(() => {
    const bt = b instanceof Tensor ? b : null;
    const ints = !isFloating(a.dtype) && (bt ? !isFloating(bt.dtype) : Number.isInteger(b));
    if (ints && (bt ? (bt.eq(0).any().item() as boolean) : b === 0))
      throw new KilnError('ERR_ARG', 'div: integer division by zero');
    const q = ints ? a.to('float64').div(bt ? bt.to('float64') : (b as number)) : a.div(b);
    const r = mode === 'floor' ? q.floor() : q.trunc();
    return ints ? r.to(bt ? promoteTypes(a.dtype, bt.dtype) : a.dtype) : r;
  });
}

/** floor(a / b) (torch.floor_divide; Python's //). */
export const floorDivide = (a: Tensor, b: TensorLike): Tensor => divRounded(a, b, 'floor');

/** The C remainder a - trunc(a / b) b, with a's sign (torch.fmod); remainder has b's sign. */
export function fmod(a: Tensor, b: TensorLike): Tensor {
  checkTensor(a, 'fmod', 'input');
  return scope(() => {
    const r = a.remainder(b);
    // remainder takes b's sign: where it differs from a's (and is not 0), step back by b
    const bt = b instanceof Tensor ? b : null;
    const sb = bt ? bt.lt(0) : (b as number) < 0;
    const flip = r.ne(0).logicalAnd(a.lt(0).logicalXor(sb));
    return where(flip, r.sub(b), r);
  });
}

/** NaN to nan, +inf to posinf, -inf to neginf (the dtype's largest finite values by default). */
export function nanToNum(
  x: Tensor,
  opts: { nan?: number; posinf?: number | null; neginf?: number | null } = {},
): Tensor {
  checkTensor(x, 'nanToNum', 'input');
  if (!isFloating(x.dtype)) return x.clone();
  const big = {
    float64: Number.MAX_VALUE,
    float32: 3.4028234663852886e38,
    float16: 65504,
    bfloat16: 3.3895313892515355e38,
  }[x.dtype as 'float32'];
  return scope(() => {
    const a = where(x.isnan(), opts.nan ?? 0, x);
    const b = where(a.eq(Infinity), opts.posinf ?? big, a);
    return where(b.eq(-Infinity), opts.neginf ?? -big, b);
  });
}

/** True where the sign bit is set, -0 included (torch.signbit); a NaN reads as false here. */
export function signbit(x: Tensor): Tensor {
  checkTensor(x, 'signbit', 'input');
  if (!isFloating(x.dtype)) return x.lt(0);
  // 1 / -0 is -inf: the sign of zeros shows through a division
  return scope(() => where(x.eq(0), x.reciprocal().lt(0), x.lt(0)));
}

/** |a| with b's sign (torch.copysign), b's sign bit read as signbit does. */
export function copysign(a: Tensor, b: TensorLike): Tensor {
  checkTensor(a, 'copysign', 'input');
  return scope(() => {
    const neg = b instanceof Tensor ? signbit(b) : Object.is(b, -0) || (b as number) < 0;
    const m = a.abs().to(isFloating(a.dtype) ? a.dtype : 'float32');
    return typeof neg === 'boolean' ? (neg ? m.neg() : m) : where(neg, m.neg(), m);
  });
}

/** x - trunc(x), x's sign (torch.frac). */
export const frac = (x: Tensor): Tensor => scope(() => x.sub(checkTensor(x, 'frac', 'input').trunc()));

/**
 * The inverse of erf on (-1, 1) (torch.erfinv; ±inf at ±1, NaN outside), computed in float64 on
 * a = |x|: Winitzki's closed form (about 2e-3 relative) refined by four Newton steps, each
 * y -= f(y) / (2/√π e^(-y²)), which square the error. f(y) = erf(y) - a below a = 0.5, and
 * (1 - a) - erfc(y) above it (1 - a is exact there), so that near ±1, where erf(y) rounds to 1,
 * the step still sees the residual to full relative precision. Float32 results are the float64
 * ones rounded. Differentiable through those ops.
 */
export function erfinv(x: Tensor): Tensor {
  checkTensor(x, 'erfinv', 'input');
  if (!isFloating(x.dtype)) throw new KilnError('ERR_DTYPE', `erfinv: input must be floating, got ${x.dtype}`);
  if (x.dtype !== 'float64') return scope(() => erfinv(x.to('float64')).to(x.dtype));
  return scope(() => {
    const w = 0.147,
      k = 2 / (Math.PI * w);
    const a = x.abs();
    const l = a.neg().log1p().add(a.log1p()); // ln(1 - a²) = ln(1 - a) + ln(1 + a), no cancellation
    const t = l.mul(0.5).add(k);
    let y = t.square().sub(l.div(w)).sqrt().sub(t).sqrt();
    const tail = a.gt(0.5),
      c = a.neg().add(1);
    for (let i = 0; i < 4; i++) {
      const f = where(tail, c.sub(y.erfc()), y.erf().sub(a));
      y = y.sub(
        f.div(
          y
            .square()
            .neg()
            .exp()
            .mul(2 / Math.sqrt(Math.PI)),
        ),
      );
    }
    // the ends and beyond: the Newton steps divide 0 by 0 there
    const edge = a.ge(1);
    return where(edge, where(x.eq(1), Infinity, where(x.eq(-1), -Infinity, NaN)), y.mul(x.sign()));
  });
}
