/**
 * 1-d pooling (torch max_pool1d, avg_pool1d, adaptive_avg_pool1d and their modules) on the 2-d
 * kernels: [N, C, L] runs as [N, C, 1, L] with a 1 x k window.
 */
import { KilnError } from '../../errors';
import { shapeStr } from '../../shape';
import type { Tensor } from '../../tensor';
import { Module } from '../module';
import { adaptiveAvgPool2d, avgPool2d, maxPool2d, type PoolOptions } from './conv';

export interface Pool1dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  ceilMode?: boolean;
}

/** [N, C, L] or [C, L] as [N, C, 1, L], f on it, and back. */
function as2d(op: string, x: Tensor, f: (x4: Tensor) => Tensor): Tensor {
  if (x.ndim !== 2 && x.ndim !== 3)
    throw new KilnError('ERR_SHAPE', `${op}: input must be [N, C, L] or [C, L], got ${shapeStr(x.shape)}`);
  const x3 = x.ndim === 2 ? x.unsqueeze(0) : x;
  const y = f(x3.unsqueeze(2)).squeeze(2);
  return x.ndim === 2 ? y.squeeze(0) : y;
}

const opts2d = (o: Pool1dOptions): PoolOptions => ({
  stride: o.stride === undefined ? undefined : [1, o.stride],
  padding: [0, o.padding ?? 0],
  dilation: [1, o.dilation ?? 1],
  ceilMode: o.ceilMode,
});

/** Max over each window of the last dim (torch max_pool1d). */
export const maxPool1d = (x: Tensor, kernel: number, o: Pool1dOptions = {}): Tensor =>
  as2d('maxPool1d', x, (x4) => maxPool2d(x4, [1, kernel], opts2d(o)));

/** Mean over each window of the last dim (torch avg_pool1d). */
export const avgPool1d = (
  x: Tensor,
  kernel: number,
  o: Omit<Pool1dOptions, 'dilation'> & { countIncludePad?: boolean } = {},
): Tensor =>
  as2d('avgPool1d', x, (x4) =>
    avgPool2d(x4, [1, kernel], { ...opts2d(o), dilation: 1, countIncludePad: o.countIncludePad }),
  );

/** Mean over adaptive regions of the last dim (torch adaptive_avg_pool1d). */
export const adaptiveAvgPool1d = (x: Tensor, outputSize: number): Tensor =>
  as2d('adaptiveAvgPool1d', x, (x4) => adaptiveAvgPool2d(x4, [1, outputSize]));

export class MaxPool1d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly opts: Pool1dOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool1d(x, this.kernelSize, this.opts);
  }
}

export class AvgPool1d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly opts: Omit<Pool1dOptions, 'dilation'> & { countIncludePad?: boolean } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool1d(x, this.kernelSize, this.opts);
  }
}

export class AdaptiveAvgPool1d extends Module {
  constructor(readonly outputSize: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool1d(x, this.outputSize);
  }
}
