/**
 * Normalisation layers and their functional forms: layerNorm, rmsNorm, groupNorm, batchNorm
 * (training statistics with the running-stat update, or eval with the running stats). layerNorm,
 * rmsNorm and groupNorm run on the fused layer_norm kernels (ops/layer_norm.ts), batchNorm on
 * those of ops/batch_norm.ts.
 */
import { noGrad } from '../../autograd/grad_mode';
import { ones, zeros } from '../../creation';
import { KilnError } from '../../errors';
import { batchNormApply, batchNormTrain } from '../../ops/batch_norm';
import { scope } from '../../memory';
import { shapeStr } from '../../shape';
import type { Tensor } from '../../tensor';
import { finfoEps, layerNormFused } from '../../ops/layer_norm';
import { Module, Parameter } from '../module';

/**
 * (x - mean) / sqrt(var + eps) over the last dims, then * weight + bias (torch layer_norm), as
 * one fused kernel each way (ops/layer_norm.ts).
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  return layerNormFused(x, normalizedShape, weight, bias, eps, false);
}

/**
 * x / sqrt(mean(x^2) + eps) over the last dims, then * weight (torch rms_norm); eps defaults to
 * the dtype's machine epsilon (torch.finfo(dtype).eps), as in PyTorch.
 */
export function rmsNorm(
  x: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null = null,
  eps: number | null = null,
): Tensor {
  return layerNormFused(x, normalizedShape, weight, null, eps ?? finfoEps(x.dtype), true);
}

/** Normalises groups of channels of an [N, C, ...] input (torch group_norm), on layer norm's kernel. */
export function groupNorm(
  x: Tensor,
  numGroups: number,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    if (x.ndim < 2) throw new KilnError('ERR_SHAPE', `groupNorm: input needs [N, C, ...], got ${shapeStr(x.shape)}`);
    const [N, C] = x.shape;
    if (C % numGroups !== 0)
      throw new KilnError('ERR_ARG', `groupNorm: ${C} channels do not split into ${numGroups} groups`);
    const g = x.reshape([N, numGroups, (C / numGroups) * x.shape.slice(2).reduce((a, b) => a * b, 1)]);
    let y = layerNormFused(g, [g.shape[2]], null, null, eps, false).reshape([...x.shape]);
    const view = [1, C, ...x.shape.slice(2).map(() => 1)];
    if (weight) y = y.mul(weight.reshape(view));
    if (bias) y = y.add(bias.reshape(view));
    return y;
  });
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training?: boolean;
  momentum?: number | null;
  eps?: number;
}

/**
 * Batch normalisation over [N, C, ...] (torch batch_norm): in training, batch statistics
 * normalise and the running stats move by `momentum` (unbiased variance, as PyTorch); in eval,
 * the running stats normalise. `training` defaults to false, as torch.nn.functional.batch_norm's.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  opts: BatchNormOptions = {},
): Tensor {
  if (x.ndim < 2) throw new KilnError('ERR_SHAPE', `batchNorm: input needs [N, C, ...], got ${shapeStr(x.shape)}`);
  const C = x.shape[1];
  const eps = opts.eps ?? 1e-5,
    momentum = opts.momentum ?? 0.1;
  const weight = opts.weight ?? null,
    bias = opts.bias ?? null;
  if (!(opts.training ?? false)) {
    if (!runningMean || !runningVar) throw new KilnError('ERR_ARG', 'batchNorm: eval mode needs running statistics');
    return batchNormApply(x, weight, bias, runningMean, runningVar, eps);
  }
  const count = x.numel() / C;
  if (count <= 1)
    throw new KilnError(
      'ERR_SHAPE',
      `batchNorm: training needs more than one value per channel, got ${shapeStr(x.shape)}`,
    );
  const { y, stats } = batchNormTrain(x, weight, bias, eps);
  if (runningMean && runningVar)
    noGrad(() => {
      const [mu, v] = [stats.select(0, 0), stats.select(0, 1)];
      const dm = mu.mul(momentum),
        dv = v.mul((momentum * count) / (count - 1));
      runningMean.mul_(1 - momentum).add_(dm);
      runningVar.mul_(1 - momentum).add_(dv);
      for (const t of [mu, v, dm, dv]) t.dispose();
    });
  stats.dispose();
  return y;
}

const shapeArg = (s: number | number[]): number[] => (Array.isArray(s) ? s.slice() : [s]);

export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  weight: Tensor | null;
  bias: Tensor | null;
  constructor(
    normalizedShape: number | number[],
    readonly eps = 1e-5,
    opts: { elementwiseAffine?: boolean; bias?: boolean } = {},
  ) {
    super();
    this.normalizedShape = shapeArg(normalizedShape);
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? new Parameter(ones(this.normalizedShape)) : null;
    this.bias = affine && (opts.bias ?? true) ? new Parameter(zeros(this.normalizedShape)) : null;
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
  override extraRepr(): string {
    return `${shapeStr(this.normalizedShape)}, eps=${this.eps}`;
  }
}

export class RMSNorm extends Module {
  readonly normalizedShape: number[];
  weight: Tensor | null;
  constructor(
    normalizedShape: number | number[],
    readonly eps: number | null = null,
    opts: { elementwiseAffine?: boolean } = {},
  ) {
    super();
    this.normalizedShape = shapeArg(normalizedShape);
    this.weight = (opts.elementwiseAffine ?? true) ? new Parameter(ones(this.normalizedShape)) : null;
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.normalizedShape, this.weight, this.eps);
  }
  override extraRepr(): string {
    return `${shapeStr(this.normalizedShape)}, eps=${this.eps}`;
  }
}

export class GroupNorm extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    readonly eps = 1e-5,
    affine = true,
  ) {
    super();
    if (numChannels % numGroups !== 0)
      throw new KilnError('ERR_ARG', `GroupNorm: ${numChannels} channels do not split into ${numGroups} groups`);
    this.weight = affine ? new Parameter(ones([numChannels])) : null;
    this.bias = affine ? new Parameter(zeros([numChannels])) : null;
  }
  forward(x: Tensor): Tensor {
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}`;
  }
}

abstract class BatchNormBase extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  declare runningMean: Tensor | null;
  declare runningVar: Tensor | null;
  declare numBatchesTracked: Tensor | null;
  protected abstract readonly ranks: number[];
  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    readonly momentum: number | null = 0.1,
    opts: { affine?: boolean; trackRunningStats?: boolean } = {},
  ) {
    super();
    const affine = opts.affine ?? true;
    this.weight = affine ? new Parameter(ones([numFeatures])) : null;
    this.bias = affine ? new Parameter(zeros([numFeatures])) : null;
    const track = opts.trackRunningStats ?? true;
    this.registerBuffer('runningMean', track ? zeros([numFeatures]) : null);
    this.registerBuffer('runningVar', track ? ones([numFeatures]) : null);
    this.registerBuffer('numBatchesTracked', track ? zeros([], { dtype: 'int64' }) : null);
  }
  forward(x: Tensor): Tensor {
    if (!this.ranks.includes(x.ndim))
      throw new KilnError(
        'ERR_SHAPE',
        `${this.constructor.name}: expected a ${this.ranks.join('-d or ')}-d input, got ${shapeStr(x.shape)}`,
      );
    if (x.shape[1] !== this.numFeatures)
      throw new KilnError(
        'ERR_SHAPE',
        `${this.constructor.name}: expected ${this.numFeatures} channels, got ${x.shape[1]}`,
      );
    const useBatch = this.training || !this.runningMean;
    let momentum = this.momentum ?? 0;
    if (this.training && this.numBatchesTracked) {
      noGrad(() => this.numBatchesTracked!.add_(1));
      // momentum null: a cumulative moving average (as PyTorch).
      if (this.momentum === null) momentum = 1 / (this.numBatchesTracked.item() as number);
    }
    return batchNorm(x, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      training: useBatch,
      momentum: this.training ? momentum : 0,
      eps: this.eps,
    });
  }
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}`;
  }
}

/** BatchNorm over [N, C] or [N, C, L]. */
export class BatchNorm1d extends BatchNormBase {
  protected readonly ranks = [2, 3];
}
/** BatchNorm over [N, C, H, W]. */
export class BatchNorm2d extends BatchNormBase {
  protected readonly ranks = [4];
}
