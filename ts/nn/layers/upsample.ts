/** Upsample, UpsamplingNearest2d, UpsamplingBilinear2d: modules around F.interpolate. */
import { KilnError } from '../../errors';
import { checkMode, interpolate, type InterpolateOptions } from '../../ops/interpolate';
import type { Tensor } from '../../tensor';
import { Module } from '../module';

/** Options of nn.Upsample: F.interpolate's (exactly one of size and scaleFactor). */
export type UpsampleOptions = InterpolateOptions;

/**
 * Resizes [N, C, ...] inputs with F.interpolate's rules (torch.nn.Upsample); no parameters.
 * @example
 * const up = new kiln.nn.Upsample({ scaleFactor: 2, mode: 'bilinear' });
 */
export class Upsample extends Module {
  readonly opts: InterpolateOptions;
  constructor(opts: UpsampleOptions) {
    super();
    if ((opts.size === undefined) === (opts.scaleFactor === undefined))
      throw new KilnError('ERR_ARG', `${this.constructor.name}: give exactly one of size and scaleFactor`);
    const mode = checkMode(opts.mode ?? 'nearest', this.constructor.name);
    this.opts = { ...opts, mode };
  }
  forward(x: Tensor): Tensor {
    return interpolate(x, this.opts);
  }
  override extraRepr(): string {
    const o = this.opts;
    const size = o.size !== undefined ? `size=${String(o.size)}` : `scaleFactor=${String(o.scaleFactor)}`;
    return `${size}, mode='${o.mode}'${o.alignCorners !== undefined ? `, alignCorners=${o.alignCorners}` : ''}`;
  }
}

/** Nearest upsampling of [N, C, H, W] (torch.nn.UpsamplingNearest2d). */
export class UpsamplingNearest2d extends Upsample {
  constructor(opts: Pick<UpsampleOptions, 'size' | 'scaleFactor'>) {
    super({ size: opts.size, scaleFactor: opts.scaleFactor, mode: 'nearest' });
  }
}

/** Bilinear upsampling of [N, C, H, W] with alignCorners (torch.nn.UpsamplingBilinear2d). */
export class UpsamplingBilinear2d extends Upsample {
  constructor(opts: Pick<UpsampleOptions, 'size' | 'scaleFactor'>) {
    super({ size: opts.size, scaleFactor: opts.scaleFactor, mode: 'bilinear', alignCorners: true });
  }
}
