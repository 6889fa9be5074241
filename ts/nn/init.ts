/** In-place parameter initialisers with PyTorch's formulas (torch.nn.init), on the seeded generator. */
import { noGrad } from '../autograd/grad_mode';
import { KilnError } from '../errors';
import { Generator, normal_ as normalFill, uniform_ as uniformFill } from '../ops/random';
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
