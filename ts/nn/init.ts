/** In-place parameter initialisers with PyTorch's formulas (torch.nn.init), on the seeded generator. */
import { noGrad } from '../autograd/grad_mode';
import { KilnError } from '../errors';
import { Generator, normal_ as normalFill, uniform_ as uniformFill } from '../ops/random';
import { eye, fromNumbers } from '../creation';
import { erfinv } from '../ops/arith';
import { randn } from '../ops/random';
import type { Tensor } from '../tensor';

export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** torch.nn.init.calculate_gain */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu':
      return Math.sqrt(2 / (1 + (param ?? 0.01) ** 2));
    case 'selu':
      return 3 / 4;
    default:
      throw new KilnError('ERR_ARG', `calculateGain: unknown nonlinearity ${String(nonlinearity)}`);
  }
}

/** Fan in and fan out of a weight (dim 1 and dim 0 times the receptive field). */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2)
    throw new KilnError('ERR_SHAPE', `init: fan in and fan out need at least 2 dims, got [${t.shape.join(', ')}]`);
  const rf = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1] * rf, fanOut: t.shape[0] * rf };
}

type Opts = { generator?: Generator };
const inPlace = <T>(fn: () => T) => noGrad(fn);

export const uniform_ = (t: Tensor, a = 0, b = 1, o?: Opts): Tensor => inPlace(() => uniformFill(t, a, b, o));
export const normal_ = (t: Tensor, mean = 0, std = 1, o?: Opts): Tensor => inPlace(() => normalFill(t, mean, std, o));
export const constant_ = (t: Tensor, v: number): Tensor => inPlace(() => t.fill_(v));
export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

export function xavierUniform_(t: Tensor, gain = 1, o?: Opts): Tensor {
  const { fanIn, fanOut } = fans(t);
  const a = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -a, a, o);
}
export function xavierNormal_(t: Tensor, gain = 1, o?: Opts): Tensor {
  const { fanIn, fanOut } = fans(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), o);
}

export interface KaimingOptions extends Opts {
  a?: number;
  mode?: 'fanIn' | 'fanOut';
  nonlinearity?: Nonlinearity;
}
function kaimingStd(t: Tensor, o: KaimingOptions): number {
  const { fanIn, fanOut } = fans(t);
  const fan = o.mode === 'fanOut' ? fanOut : fanIn;
  return calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(fan);
}
/** PyTorch's default for Linear/Conv weights is kaimingUniform_(w, { a: Math.sqrt(5) }). */
export function kaimingUniform_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, o);
  return uniform_(t, -bound, bound, o);
}
export function kaimingNormal_(t: Tensor, o: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, o), o);
}

/**
 * A normal(mean, std) truncated to [a, b] (torch.nn.init.trunc_normal_): uniform in
 * [Φ(a), Φ(b)] through the normal's inverse CDF (erfinv), then clamped against rounding.
 */
export function truncNormal_(t: Tensor, mean = 0, std = 1, a = -2, b = 2, o?: Opts): Tensor {
  if (!(a < b)) throw new KilnError('ERR_ARG', `truncNormal_: a (${a}) must be below b (${b})`);
  const cdf = (v: number) => (1 + erfScalar((v - mean) / std / Math.SQRT2)) / 2;
  const lo = 2 * cdf(a) - 1,
    hi = 2 * cdf(b) - 1;
  return inPlace(() => {
    uniformFill(t, lo, hi, o);
    const v = erfinv(t)
      .mul(std * Math.SQRT2)
      .add(mean)
      .clamp(a, b);
    t.copy_(v);
    v.dispose();
    return t;
  });
}

/** erf of a number (Abramowitz-Stegun 7.1.26 is too rough here: a series and a continued fraction). */
function erfScalar(z: number): number {
  const az = Math.abs(z);
  if (az < 2.5) {
    // Maclaurin series: erf z = 2/√π Σ (-1)^n z^(2n+1) / (n! (2n+1))
    let term = az,
      sum = az;
    for (let n = 1; n < 60; n++) {
      term *= (-az * az) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(z) * ((2 / Math.sqrt(Math.PI)) * sum);
  }
  // erfc z = e^(-z²)/√π · 1/(z + 1/2/(z + 1/(z + 3/2/(z + ...)))), evaluated from the tail
  let f = az;
  for (let n = 60; n >= 1; n--) f = az + n / 2 / f;
  return Math.sign(z) * (1 - Math.exp(-az * az) / Math.sqrt(Math.PI) / f);
}

/**
 * A (semi-)orthogonal matrix of t's first dim by the rest, times gain (torch.nn.init.orthogonal_):
 * the Q of a normal matrix's QR (Gram-Schmidt in float64, R's diagonal positive, so Q is Haar
 * distributed as PyTorch's sign-corrected QR makes it).
 */
export function orthogonal_(t: Tensor, gain = 1, o?: Opts): Tensor {
  if (t.ndim < 2) throw new KilnError('ERR_SHAPE', `orthogonal_: needs at least 2 dims, got [${t.shape.join(', ')}]`);
  const rows = t.shape[0],
    cols = t.numel() / rows;
  const tall = rows >= cols;
  const [m, n] = tall ? [rows, cols] : [cols, rows]; // orthonormalise the n columns of an m x n matrix
  return inPlace(() => {
    const g = randn([m, n], { dtype: 'float64', generator: o?.generator });
    const a = g.toArray() as number[][];
    g.dispose();
    const q = a.map((r) => r.slice());
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < j; k++) {
        let d = 0;
        for (let i = 0; i < m; i++) d += q[i][k] * q[i][j];
        for (let i = 0; i < m; i++) q[i][j] -= d * q[i][k];
      }
      let norm = 0;
      for (let i = 0; i < m; i++) norm += q[i][j] * q[i][j];
      norm = Math.sqrt(norm);
      for (let i = 0; i < m; i++) q[i][j] /= norm;
    }
    const flat: number[] = [];
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) flat.push(gain * (tall ? q[i][j] : q[j][i]));
    const v = fromNumbers(flat, t.shape.slice(), 'float64');
    t.copy_(v);
    v.dispose();
    return t;
  });
}

/** The identity in a 2-d tensor (torch.nn.init.eye_); ones on the diagonal of a non-square one. */
export function eye_(t: Tensor): Tensor {
  if (t.ndim !== 2) throw new KilnError('ERR_SHAPE', `eye_: needs a 2-d tensor, got [${t.shape.join(', ')}]`);
  return inPlace(() => {
    const e = eye(t.shape[0], t.shape[1], { dtype: t.dtype, device: t.device });
    t.copy_(e);
    e.dispose();
    return t;
  });
}
