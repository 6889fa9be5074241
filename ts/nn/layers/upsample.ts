/** Upsample, UpsamplingNearest2d, UpsamplingBilinear2d (modules around F.interpolate), and pixel (un)shuffle. */
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

/**
 * [N, C r², H, W] to [N, C, H r, W r], each group of r² channels spread over an r x r block
 * (torch pixel_shuffle); pixelUnshuffle is its inverse.
 */
export function pixelShuffle(x: Tensor, r: number): Tensor {
  if (!Number.isInteger(r) || r < 1)
    throw new KilnError('ERR_ARG', `pixelShuffle: upscaleFactor must be a positive integer, got ${r}`);
  if (x.ndim < 3 || x.shape[x.ndim - 3] % (r * r) !== 0)
    throw new KilnError(
      'ERR_SHAPE',
      `pixelShuffle: [..., C r², H, W] with r = ${r} expected, got [${x.shape.join(', ')}]`,
    );
  const lead = x.shape.slice(0, -3),
    [C, H, W] = x.shape.slice(-3);
  const c = C / (r * r),
    n = lead.length;
  return x
    .reshape([...lead, c, r, r, H, W])
    .permute([...lead.keys(), n, n + 3, n + 1, n + 4, n + 2])
    .reshape([...lead, c, H * r, W * r]);
}

/** [N, C, H r, W r] to [N, C r², H, W] (torch pixel_unshuffle). */
export function pixelUnshuffle(x: Tensor, r: number): Tensor {
  if (!Number.isInteger(r) || r < 1)
    throw new KilnError('ERR_ARG', `pixelUnshuffle: downscaleFactor must be a positive integer, got ${r}`);
  if (x.ndim < 3 || x.shape[x.ndim - 1] % r !== 0 || x.shape[x.ndim - 2] % r !== 0)
    throw new KilnError(
      'ERR_SHAPE',
      `pixelUnshuffle: [..., C, H r, W r] with r = ${r} expected, got [${x.shape.join(', ')}]`,
    );
  const lead = x.shape.slice(0, -3),
    [C, H, W] = x.shape.slice(-3);
  const n = lead.length;
  return x
    .reshape([...lead, C, H / r, r, W / r, r])
    .permute([...lead.keys(), n, n + 2, n + 4, n + 1, n + 3])
    .reshape([...lead, C * r * r, H / r, W / r]);
}

export class PixelShuffle extends Module {
  constructor(readonly upscaleFactor: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return pixelShuffle(x, this.upscaleFactor);
  }
}

export class PixelUnshuffle extends Module {
  constructor(readonly downscaleFactor: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return pixelUnshuffle(x, this.downscaleFactor);
  }
}
