/**
 * Loss functions (torch.nn.functional) and their modules (torch.nn), with PyTorch's reductions,
 * class weights, ignoreIndex and labelSmoothing. Written with differentiable ops, so each has a
 * gradient, except crossEntropy and binaryCrossEntropyWithLogits, which run on fused kernels.
 */
import { noGrad } from '../autograd/grad_mode';
import { record } from '../autograd/node';
import { KilnError } from '../errors';
import { bceWithLogits } from '../ops/bce';
import { crossEntropy as fusedCrossEntropy } from '../ops/cross_entropy';
import { isFloating } from '../dtype';
import { scope } from '../memory';
import { shapeStr } from '../shape';
import type { Tensor } from '../tensor';
import { softplus } from './layers/activation_composite';
import { Module } from './module';

export type Reduction = 'mean' | 'sum' | 'none';

const checkReduction = (op: string, r: string, extra: string[] = []): void => {
  if (!['mean', 'sum', 'none', ...extra].includes(r))
    throw new KilnError(
      'ERR_ARG',
      `${op}: reduction must be ${['mean', 'sum', 'none', ...extra].join(', ')}; got '${r}'`,
    );
};
const reduce = (x: Tensor, r: Reduction): Tensor => (r === 'none' ? x : r === 'sum' ? x.sum() : x.mean());
const sameShape = (op: string, a: Tensor, b: Tensor): void => {
  if (a.shape.join() !== b.shape.join())
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: input ${shapeStr(a.shape)} and target ${shapeStr(b.shape)} must have the same shape`,
    );
};

export interface NllOptions {
  weight?: Tensor | null;
  ignoreIndex?: number;
  reduction?: Reduction;
}

/** Class dim 1 (or 0 for an unbatched [C] input) moved last and flattened: [rows, C]. */
function classesLast(op: string, input: Tensor, target: Tensor): { x: Tensor; t: Tensor; C: number } {
  if (input.ndim < 1) throw new KilnError('ERR_SHAPE', `${op}: input needs a class dim, got a 0-d tensor`);
  const cdim = input.ndim === 1 ? 0 : 1;
  const C = input.shape[cdim];
  const want = input.shape.filter((_, d) => d !== cdim);
  if (target.shape.join() !== want.join())
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: target ${shapeStr(target.shape)} must be ${shapeStr(want)} for input ${shapeStr(input.shape)} (class dim ${cdim})`,
    );
  const last = [0, ...input.shape.slice(2).map((_, i) => i + 2), 1];
  const x = cdim === 0 ? input.unsqueeze(0) : input.ndim === 2 ? input : input.permute(last).reshape([-1, C]);
  return { x, t: target.reshape([-1]), C };
}

function checkIndices(op: string, t: Tensor, C: number, ignoreIndex: number): void {
  if (t.dtype !== 'int64' && t.dtype !== 'int32' && t.dtype !== 'uint8')
    throw new KilnError('ERR_DTYPE', `${op}: class-index targets must be integers, got ${t.dtype}`);
  if (t.numel() === 0) return;
  const bad = t.lt(0).logicalOr(t.ge(C)).logicalAnd(t.ne(ignoreIndex));
  if ((bad.sum().item() as number) > 0)
    throw new KilnError('ERR_INDEX', `${op}: a target is outside [0, ${C}) and is not ignoreIndex ${ignoreIndex}`);
}

/** -weight[y] * logp[y] per row, 0 where y == ignoreIndex; and the weights that count. */
function pickNll(logp: Tensor, t: Tensor, weight: Tensor | null, ignoreIndex: number) {
  const keep = t.ne(ignoreIndex);
  const safe = t.where(keep, 0).to('int64');
  const picked = logp.gather(1, safe.unsqueeze(1)).squeeze(1);
  const w = weight ? weight.gather(0, safe).mul(keep) : keep.to(logp.dtype);
  return { loss: picked.mul(w).neg(), w, keep };
}

/**
 * Negative log likelihood of class indices (torch.nn.functional.nll_loss): input holds
 * log-probabilities [N, C] (or [N, C, d...], or [C]).
 */
export function nllLoss(input: Tensor, target: Tensor, opts: NllOptions = {}): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    const reduction = opts.reduction ?? 'mean',
      ignoreIndex = opts.ignoreIndex ?? -100;
    checkReduction('nllLoss', reduction);
    const { x, t, C } = classesLast('nllLoss', input, target);
    checkIndices('nllLoss', t, C, ignoreIndex);
    const weight = opts.weight ?? null;
    if (weight && (weight.ndim !== 1 || weight.shape[0] !== C))
      throw new KilnError('ERR_SHAPE', `nllLoss: weight must have shape [${C}], got ${shapeStr(weight.shape)}`);
    const { loss, w } = pickNll(x, t, weight, ignoreIndex);
    if (reduction === 'none') return loss.reshape([...target.shape]);
    if (reduction === 'sum') return loss.sum();
    return loss.sum().div(w.sum());
  });
}

export interface CrossEntropyOptions extends NllOptions {
  /** Mixes the target with the uniform distribution: (1 - e) * target + e / C. */
  labelSmoothing?: number;
}

/**
 * Cross entropy of logits against class indices or class probabilities
 * (torch.nn.functional.cross_entropy), fused with log-softmax in one kernel each way
 * (ops/cross_entropy.ts).
 * @example
 * F.crossEntropy(logits, labels, { labelSmoothing: 0.1, ignoreIndex: 0 });
 */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  return fusedCrossEntropy(input, target, opts);
}

/** Mean squared error (torch.nn.functional.mse_loss). */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    const r = opts.reduction ?? 'mean';
    checkReduction('mseLoss', r);
    sameShape('mseLoss', input, target);
    const d = input.sub(target);
    return reduce(d.mul(d), r);
  });
}

/** Mean absolute error (torch.nn.functional.l1_loss). */
export function l1Loss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    const r = opts.reduction ?? 'mean';
    checkReduction('l1Loss', r);
    sameShape('l1Loss', input, target);
    return reduce(input.sub(target).abs(), r);
  });
}

/** Huber-like loss: 0.5 d^2 / beta below beta, |d| - beta / 2 above (smooth_l1_loss). */
export function smoothL1Loss(
  input: Tensor,
  target: Tensor,
  opts: { reduction?: Reduction; beta?: number } = {},
): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    const r = opts.reduction ?? 'mean',
      beta = opts.beta ?? 1;
    checkReduction('smoothL1Loss', r);
    sameShape('smoothL1Loss', input, target);
    if (!(beta >= 0)) throw new KilnError('ERR_ARG', `smoothL1Loss: beta must be >= 0, got ${beta}`);
    const a = input.sub(target).abs();
    if (beta === 0) return reduce(a, r);
    return reduce(
      a
        .mul(a)
        .mul(0.5 / beta)
        .where(a.lt(beta), a.sub(beta / 2)),
      r,
    );
  });
}

/**
 * Huber loss (huber_loss): 0.5 d^2 where |d| < delta, else delta (|d| - delta / 2), d = input - target
 * (smoothL1Loss times delta when beta = delta).
 */
export function huberLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction; delta?: number } = {}): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    const r = opts.reduction ?? 'mean',
      delta = opts.delta ?? 1;
    checkReduction('huberLoss', r);
    sameShape('huberLoss', input, target);
    if (!(delta > 0)) throw new KilnError('ERR_ARG', `huberLoss: delta must be > 0, got ${delta}`);
    // smoothL1Loss with beta = delta, times delta.
    return smoothL1Loss(input, target, { reduction: r, beta: delta }).mul(delta);
  });
}

export interface BceOptions {
  weight?: Tensor | null;
  reduction?: Reduction;
}

/** Binary cross entropy of probabilities (binary_cross_entropy); each log is clamped at -100. */
export function binaryCrossEntropy(input: Tensor, target: Tensor, opts: BceOptions = {}): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    const r = opts.reduction ?? 'mean';
    checkReduction('binaryCrossEntropy', r);
    sameShape('binaryCrossEntropy', input, target);
    const elem = noGrad(() => {
      const logp = input.log().clampMin(-100),
        log1mp = input.neg().log1p().clampMin(-100);
      return target.mul(logp).add(target.neg().add(1).mul(log1mp)).neg();
    });
    // PyTorch's gradient: (x - t) / max(x (1 - x), 1e-12) for the input, which is 0, not NaN,
    // where a probability is exactly 0 or 1 and the target agrees (a saturated sigmoid);
    // log(1 - x) - log(x), unclamped as PyTorch's, for the target.
    let loss = record('binaryCrossEntropy', elem, [input, target], (g, c) => {
      const [x, t] = c.inputs;
      const gx = g.mul(x.sub(t)).div(x.neg().add(1).mul(x).clampMin(1e-12));
      if (!t._requiresGrad) return [gx, null];
      return [gx, g.mul(x.neg().log1p().sub(x.log()))];
    });
    if (opts.weight) loss = loss.mul(opts.weight);
    return reduce(loss, r);
  });
}

export interface BceWithLogitsOptions extends BceOptions {
  /** Weight of the positive class, broadcast along the last dim. */
  posWeight?: Tensor | null;
}

/**
 * Binary cross entropy of logits, stable for any magnitude
 * (binary_cross_entropy_with_logits): (1 - y) x + (1 + (pw - 1) y) softplus(-x). On the fused
 * kernels (ops/bce.ts) when every operand has the input's dtype. 2 threads, 16M float32 elements
 * (64 MB each of logits and targets), mean, against the composite of ops, in one process: forward
 * 36-41 -> 10.0-10.8 ms, forward + backward 88-97 -> 15-17 ms (PyTorch 1.13: 735 and 888 ms).
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, opts: BceWithLogitsOptions = {}): Tensor {
  const r = opts.reduction ?? 'mean';
  checkReduction('binaryCrossEntropyWithLogits', r);
  sameShape('binaryCrossEntropyWithLogits', input, target);
  const dt = input.dtype;
  if (isFloating(dt) && [target, opts.posWeight, opts.weight].every((t) => !t || t.dtype === dt))
    return bceWithLogits(input, target, opts.posWeight ?? null, opts.weight ?? null, r);
  // Mixed dtypes: ops, with their type promotion. In a scope: the intermediates go now.
  return scope(() => {
    // softplus(-x): stable for any x, and its gradient -sigmoid(x) right at x = 0 too (log(1 +
    // e^-|x|) + max(-x, 0) put the kink of |x| and of max where the two met).
    const softplusNeg = softplus(input.neg());
    const coef = opts.posWeight ? opts.posWeight.sub(1).mul(target).add(1) : null;
    let loss = target
      .neg()
      .add(1)
      .mul(input)
      .add(coef ? coef.mul(softplusNeg) : softplusNeg);
    if (opts.weight) loss = loss.mul(opts.weight);
    return reduce(loss, r);
  });
}

/**
 * Kullback-Leibler divergence with log-probability input (torch.nn.functional.kl_div):
 * target (log target) - target input, 0 where target is 0. 'batchmean' divides the sum by the
 * batch size, which is the mathematically right mean.
 */
export function klDiv(
  input: Tensor,
  target: Tensor,
  opts: { reduction?: Reduction | 'batchmean'; logTarget?: boolean } = {},
): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    const r = opts.reduction ?? 'mean';
    checkReduction('klDiv', r, ['batchmean']);
    sameShape('klDiv', input, target);
    const loss = opts.logTarget
      ? target.exp().mul(target.sub(input))
      : target.mul(target.log().where(target.gt(0), 0)).sub(target.mul(input));
    if (r === 'batchmean') return loss.sum().div(input.ndim > 0 ? input.shape[0] : 1);
    return reduce(loss, r as Reduction);
  });
}

// ---- Modules ----

export class CrossEntropyLoss extends Module {
  constructor(readonly opts: CrossEntropyOptions = {}) {
    super();
    if (opts.weight) this.registerBuffer('weight', opts.weight);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, this.opts);
  }
}
export class NLLLoss extends Module {
  constructor(readonly opts: NllOptions = {}) {
    super();
    if (opts.weight) this.registerBuffer('weight', opts.weight);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return nllLoss(input, target, this.opts);
  }
}
export class MSELoss extends Module {
  constructor(readonly opts: { reduction?: Reduction } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, this.opts);
  }
}
export class L1Loss extends Module {
  constructor(readonly opts: { reduction?: Reduction } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return l1Loss(input, target, this.opts);
  }
}
export class SmoothL1Loss extends Module {
  constructor(readonly opts: { reduction?: Reduction; beta?: number } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return smoothL1Loss(input, target, this.opts);
  }
}
export class HuberLoss extends Module {
  constructor(readonly opts: { reduction?: Reduction; delta?: number } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return huberLoss(input, target, this.opts);
  }
}
export class BCELoss extends Module {
  constructor(readonly opts: BceOptions = {}) {
    super();
    if (opts.weight) this.registerBuffer('weight', opts.weight);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropy(input, target, this.opts);
  }
}
export class BCEWithLogitsLoss extends Module {
  constructor(readonly opts: BceWithLogitsOptions = {}) {
    super();
    if (opts.weight) this.registerBuffer('weight', opts.weight);
    if (opts.posWeight) this.registerBuffer('posWeight', opts.posWeight);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, this.opts);
  }
}
export class KLDivLoss extends Module {
  constructor(readonly opts: { reduction?: Reduction | 'batchmean'; logTarget?: boolean } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return klDiv(input, target, this.opts);
  }
}
