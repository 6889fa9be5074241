/**
 * Normalisation layers and their functional forms: layerNorm, rmsNorm, groupNorm, batchNorm
 * (training statistics with the running-stat update, or eval with the running stats). layerNorm
 * and rmsNorm run on the fused layer_norm kernels (ops/layer_norm.ts), batchNorm and groupNorm on
 * those of ops/batch_norm.ts.
 */
import { gradMode, noGrad } from '../../autograd/grad_mode';
import { record } from '../../autograd/node';
import { ones, zeros } from '../../creation';
import { KilnError } from '../../errors';
import { batchNormApply, batchNormStats, batchNormTrain } from '../../ops/batch_norm';
import { groupNormBackward } from '../../ops/group_norm';
import { computeDtype } from '../../ops/dense';
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

/**
 * Normalises groups of channels of an [N, C, ...] input (torch group_norm), on batch norm's
 * kernels: x viewed as [1, N G, C / G S] has one channel per (sample, group), so batch norm's
 * statistics pass gives each group's mean and variance in one read, and its per-channel apply
 * (over [1, N C, S], each channel with its group's statistics and its own weight and bias) writes y
 * in one more pass. Against layer norm's kernel then a mul and an add (three passes that each read
 * and write), 2 threads, forward: [16, 256, 28, 28] with 32 groups 1.70 -> 1.02 ms, [8, 128, 64,
 * 64] 1.94 -> 0.97, [32, 64, 16, 16] with 8 groups 0.33 -> 0.16. The backward is the fused
 * group_norm_backward (ops/group_norm.ts: one read of gy and x for sums, one pass for gx, gw and gb
 * from the same sums); against batch norm's gradient over the group view plus x-hat and two sums,
 * forward + backward 5.5-6.4 -> 2.05-2.4 ms, 7.3-8.2 -> 2.5-3.2, 0.48-0.61 -> 0.25-0.34.
 */
export function groupNorm(
  x: Tensor,
  numGroups: number,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  if (x.ndim < 2) throw new KilnError('ERR_SHAPE', `groupNorm: input needs [N, C, ...], got ${shapeStr(x.shape)}`);
  const [N, C] = x.shape;
  if (!Number.isInteger(numGroups) || numGroups < 1 || C % numGroups !== 0)
    throw new KilnError('ERR_ARG', `groupNorm: ${C} channels do not split into ${numGroups} groups`);
  for (const [name, t] of [
    ['weight', weight],
    ['bias', bias],
  ] as const)
    if (t && (t.ndim !== 1 || t.shape[0] !== C))
      throw new KilnError('ERR_SHAPE', `groupNorm: ${name} must have shape [${C}], got ${shapeStr(t.shape)}`);
  const wide = computeDtype(x.dtype);
  if (wide !== x.dtype || (weight && weight.dtype !== wide) || (bias && bias.dtype !== wide))
    return scope(() => {
      const [xf, wf, bf] = [x, weight, bias].map((t) => (t && t.dtype !== wide ? t.to(wide) : t));
      return groupNorm(xf!, numGroups, wf, bf, eps).to(x.dtype);
    });
  const G = numGroups,
    S = x.shape.slice(2).reduce((a, b) => a * b, 1),
    L = (C / G) * S;
  const perChannel = (t: Tensor, lead: number[]): Tensor =>
    t
      .reshape(lead)
      .expand([N, G, C / G])
      .reshape([N * C]);
  const { y, stats } = noGrad(() =>
    scope(() => {
      const xc = x.contiguous();
      const stats = batchNormStats(xc.reshape([1, N * G, L])); // [2, N G]: mean, biased variance
      const [m, v] = [0, 1].map((i) => perChannel(stats.select(0, i), [N, G, 1]));
      const [w, b] = [weight, bias].map((t) => (t ? perChannel(t, [1, G, C / G]) : null));
      const y = batchNormApply(xc.reshape([1, N * C, S]), w, b, m, v, eps).reshape([...x.shape]);
      return { y, stats };
    }),
  );
  const inputs = [x, stats, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  const out = record('group_norm', y, inputs, (g, c) => {
    const [xi, st] = c.inputs;
    const wi = weight ? c.inputs[2] : null;
    const need = (t: Tensor | null) => t !== null && t._requiresGrad;
    const tail = (gw: Tensor | null, gb: Tensor | null) => [...(weight ? [gw] : []), ...(bias ? [gb] : [])];
    if (gradMode.enabled) {
      const [gx, gw, gb] = groupGradOps(g, xi, wi, G, eps, bias !== null);
      return [gx, null, ...tail(gw, gb)];
    }
    return scope(() => {
      const [gx, gw, gb] = groupNormBackward(g, xi, wi, st.select(0, 0), st.select(0, 1), G, eps);
      const keep = (t: Tensor, i: number) => (need(c.inputs[i]) ? t : null); // the rest goes with the scope
      return [gx, null, ...tail(wi ? keep(gw, 2) : null, bias ? keep(gb, weight ? 3 : 2) : null)];
    });
  });
  stats.dispose(); // the node keeps its own handle when it needs one
  return out;
}

/** groupNorm's [gx, gw, gb] written with ops (differentiable again), for createGraph. */
function groupGradOps(
  g: Tensor,
  x: Tensor,
  w: Tensor | null,
  G: number,
  eps: number,
  wantB: boolean,
): [Tensor, Tensor | null, Tensor | null] {
  const [N, C] = x.shape;
  const view = [1, C, ...x.shape.slice(2).map(() => 1)],
    dims = [0, ...x.shape.slice(2).map((_, i) => i + 2)];
  const grouped = [N, G, -1];
  const xg = x.reshape(grouped);
  const xc = xg.sub(xg.mean([2], true));
  const rstd = xc.mul(xc).mean([2], true).add(eps).rsqrt();
  const xh = xc.mul(rstd);
  const gh = (w ? g.mul(w.reshape(view)) : g).reshape(grouped);
  const gx = gh
    .sub(gh.mean([2], true))
    .sub(xh.mul(gh.mul(xh).mean([2], true)))
    .mul(rstd)
    .reshape([...x.shape]);
  const gw = w ? g.mul(xh.reshape([...x.shape])).sum(dims) : null;
  return [gx, gw, wantB ? g.sum(dims) : null];
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

/**
 * Each sample's channels normalised over their own spatial positions (torch instance_norm without
 * running statistics): groupNorm with one group per channel, so on its fused kernels.
 */
export function instanceNorm(x: Tensor, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  if (x.ndim < 3)
    throw new KilnError('ERR_SHAPE', `instanceNorm: input needs [N, C, ...spatial], got ${shapeStr(x.shape)}`);
  return groupNorm(x, x.shape[1], weight, bias, eps);
}

/**
 * torch.nn.InstanceNorm1d/2d/3d without running statistics (PyTorch's default,
 * trackRunningStats false); affine adds a per-channel weight and bias (false by default, as
 * PyTorch). Unbatched inputs ([C, ...spatial]) are taken as a batch of one.
 */
abstract class InstanceNormBase extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  protected abstract readonly spatial: number;
  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    affine = false,
  ) {
    super();
    this.weight = affine ? new Parameter(ones([numFeatures])) : null;
    this.bias = affine ? new Parameter(zeros([numFeatures])) : null;
  }
  forward(x: Tensor): Tensor {
    const who = this.constructor.name;
    const unbatched = x.ndim === this.spatial + 1;
    if (x.ndim !== this.spatial + 2 && !unbatched)
      throw new KilnError(
        'ERR_SHAPE',
        `${who}: input needs ${this.spatial + 2} dims (or ${this.spatial + 1} unbatched), got ${shapeStr(x.shape)}`,
      );
    const xb = unbatched ? x.unsqueeze(0) : x;
    if (xb.shape[1] !== this.numFeatures)
      throw new KilnError('ERR_SHAPE', `${who}: expected ${this.numFeatures} channels, got ${shapeStr(x.shape)}`);
    const y = instanceNorm(xb, this.weight, this.bias, this.eps);
    return unbatched ? y.squeeze(0) : y;
  }
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, affine=${this.weight !== null}`;
  }
}
export class InstanceNorm1d extends InstanceNormBase {
  protected readonly spatial = 1;
}
export class InstanceNorm2d extends InstanceNormBase {
  protected readonly spatial = 2;
}
export class InstanceNorm3d extends InstanceNormBase {
  protected readonly spatial = 3;
}

/** The base of every BatchNorm layer (torch's _BatchNorm). */
export abstract class BatchNormBase extends Module {
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
