/**
 * Power-average pooling (torch lp_pool1d/2d, nn.LPPool1d/2d) as torch defines it over average
 * pooling: f = avgPool(x^p), then (sign(f) relu(|f|) * kernel area)^(1/p), so a window of n
 * elements gives (sum x^p)^(1/p) (the last window of ceil mode is averaged over the part inside).
 */
import { KilnError } from '../../errors';
import { scope } from '../../memory';
import { shapeStr } from '../../shape';
import type { Tensor } from '../../tensor';
import { Module } from '../module';
import { avgPool2d } from './conv';
import { avgPool1d } from './pool1d';

type Pair = number | [number, number];

/** Options of the power-average poolings: stride (the kernel by default) and ceil mode. */
export interface LPPoolOptions<S = Pair> {
  stride?: S | null;
  ceilMode?: boolean;
}

function checkNorm(op: string, p: number): void {
  if (typeof p !== 'number' || !Number.isFinite(p) || p <= 0)
    throw new KilnError('ERR_ARG', `${op}: normType must be a finite number > 0, got ${p}`);
}

/** Torch's finish: (sign(f) relu(|f|) * area)^(1/p). */
const finish = (f: Tensor, area: number, p: number): Tensor =>
  f
    .sign()
    .mul(f.abs().relu())
    .mul(area)
    .pow(1 / p);

/**
 * The p-norm of each window of [N, C, H, W] or [C, H, W] (torch lp_pool2d).
 * @example
 * kiln.nn.functional.lpPool2d(x, 2, 3, { stride: 2 }); // sqrt of the sum of squares per 3x3 window
 */
export function lpPool2d(x: Tensor, normType: number, kernelSize: Pair, o: LPPoolOptions = {}): Tensor {
  checkNorm('lpPool2d', normType);
  if (x.ndim !== 3 && x.ndim !== 4)
    throw new KilnError('ERR_SHAPE', `lpPool2d: input [N, C, H, W] or [C, H, W] expected, got ${shapeStr(x.shape)}`);
  const [kh, kw] = Array.isArray(kernelSize) ? kernelSize : [kernelSize, kernelSize];
  return scope(() => {
    const x4 = x.ndim === 3 ? x.unsqueeze(0) : x;
    const f = avgPool2d(x4.pow(normType), kernelSize, { stride: o.stride ?? kernelSize, ceilMode: o.ceilMode });
    const y = finish(f, kh * kw, normType);
    return x.ndim === 3 ? y.squeeze(0) : y;
  });
}

/** The p-norm of each window of the last dim of [N, C, L] or [C, L] (torch lp_pool1d). */
export function lpPool1d(x: Tensor, normType: number, kernelSize: number, o: LPPoolOptions<number> = {}): Tensor {
  checkNorm('lpPool1d', normType);
  if (x.ndim !== 2 && x.ndim !== 3)
    throw new KilnError('ERR_SHAPE', `lpPool1d: input [N, C, L] or [C, L] expected, got ${shapeStr(x.shape)}`);
  return scope(() => {
    const f = avgPool1d(x.pow(normType), kernelSize, { stride: o.stride ?? kernelSize, ceilMode: o.ceilMode });
    return finish(f, kernelSize, normType);
  });
}

/** Power-average pooling of [N, C, H, W] (torch.nn.LPPool2d). */
export class LPPool2d extends Module {
  constructor(
    readonly normType: number,
    readonly kernelSize: Pair,
    readonly opts: LPPoolOptions = {},
  ) {
    super();
    checkNorm('LPPool2d', normType);
  }
  forward(x: Tensor): Tensor {
    return lpPool2d(x, this.normType, this.kernelSize, this.opts);
  }
  override extraRepr(): string {
    return `normType=${this.normType}, kernelSize=${JSON.stringify(this.kernelSize)}`;
  }
}

/** Power-average pooling of [N, C, L] (torch.nn.LPPool1d). */
export class LPPool1d extends Module {
  constructor(
    readonly normType: number,
    readonly kernelSize: number,
    readonly opts: LPPoolOptions<number> = {},
  ) {
    super();
    checkNorm('LPPool1d', normType);
  }
  forward(x: Tensor): Tensor {
    return lpPool1d(x, this.normType, this.kernelSize, this.opts);
  }
  override extraRepr(): string {
    return `normType=${this.normType}, kernelSize=${this.kernelSize}`;
  }
}
