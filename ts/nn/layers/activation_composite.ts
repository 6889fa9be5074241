/**
 * The rest of torch.nn.functional's activations, written with the table's elementwise ops (each
 * a few passes: no fused kernel yet) and differentiable through them: elu, selu, celu, softplus,
 * softsign, hardtanh, relu6, hardsigmoid, hardswish, mish, logsigmoid; and normalize and
 * cosineSimilarity. Piecewise ones pick their pieces with `where`, so the gradient at a breakpoint
 * is the piece's there, as in PyTorch's kernels (hardtanh's is 0 at min and max). Each runs in a
 * scope: its intermediates go at once.
 */
import { full } from '../../creation';
import { KilnError } from '../../errors';
import { scope } from '../../memory';
import { where } from '../../ops/indexing';
import { shapeStr } from '../../shape';
import type { Tensor } from '../../tensor';
import { Module, Parameter } from '../module';

const finite = (op: string, name: string, v: number): void => {
  if (!Number.isFinite(v)) throw new KilnError('ERR_ARG', `${op}: ${name} must be finite, got ${v}`);
};

/** x for x > 0, alpha (e^x - 1) below (torch elu). */
export function elu(x: Tensor, alpha = 1): Tensor {
  finite('elu', 'alpha', alpha);
  return scope(() => where(x.gt(0), x, x.expm1().mul(alpha)));
}

const SELU_ALPHA = 1.6732632423543772,
  SELU_SCALE = 1.0507009873554805;
/** scale * elu(x, alpha) with the self-normalising constants (torch selu). */
export function selu(x: Tensor): Tensor {
  return scope(() => elu(x, SELU_ALPHA).mul(SELU_SCALE));
}

/** max(0, x) + min(0, alpha (e^(x / alpha) - 1)) (torch celu). */
export function celu(x: Tensor, alpha = 1): Tensor {
  finite('celu', 'alpha', alpha);
  if (alpha === 0) throw new KilnError('ERR_ARG', 'celu: alpha must not be 0');
  return scope(() => where(x.gt(0), x, x.div(alpha).expm1().mul(alpha)));
}

/**
 * log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (torch softplus): e^(beta x)
 * is only taken where it cannot overflow.
 */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  finite('softplus', 'beta', beta);
  if (beta === 0) throw new KilnError('ERR_ARG', 'softplus: beta must not be 0');
  return scope(() => {
    const bx = x.mul(beta);
    const over = bx.gt(threshold);
    const soft = where(over, 0, bx).exp().log1p().div(beta);
    return where(over, x, soft);
  });
}

/** x / (1 + |x|) (torch softsign). */
export function softsign(x: Tensor): Tensor {
  return scope(() => x.div(x.abs().add(1)));
}

/** x clamped to [minVal, maxVal], gradient 1 strictly inside and 0 elsewhere (torch hardtanh). */
export function hardtanh(x: Tensor, minVal = -1, maxVal = 1): Tensor {
  if (!(minVal <= maxVal)) throw new KilnError('ERR_ARG', `hardtanh: minVal ${minVal} must be <= maxVal ${maxVal}`);
  return scope(() => where(x.le(minVal), minVal, where(x.ge(maxVal), maxVal, x)));
}

/** min(max(x, 0), 6) (torch relu6). */
export const relu6 = (x: Tensor): Tensor => hardtanh(x, 0, 6);

/** 0 for x <= -3, 1 for x >= 3, x / 6 + 1/2 between (torch hardsigmoid). */
export function hardsigmoid(x: Tensor): Tensor {
  return scope(() => where(x.le(-3), 0, where(x.ge(3), 1, x.div(6).add(0.5))));
}

/** x * hardsigmoid(x): 0 for x <= -3, x for x >= 3, x (x + 3) / 6 between (torch hardswish). */
export function hardswish(x: Tensor): Tensor {
  // x = +-3 in the middle piece: PyTorch's gradient there is x / 3 + 1/2 (-1/2 and 3/2).
  return scope(() => where(x.lt(-3), 0, where(x.gt(3), x, x.mul(x.add(3)).div(6))));
}

/** x where x > threshold, else value (torch threshold); the gradient flows where x > threshold. */
export function threshold(x: Tensor, threshold: number, value: number): Tensor {
  finite('threshold', 'threshold', threshold);
  return scope(() => where(x.gt(threshold), x, value));
}

/**
 * x where x > 0, else weight x, weight along dim 1 (one value, or one per channel; torch prelu).
 * At 0 the gradient is the weight's side, as PyTorch's.
 */
export function prelu(x: Tensor, weight: Tensor): Tensor {
  const n = weight.numel();
  if (weight.ndim > 1 || (n !== 1 && (x.ndim < 2 || x.shape[1] !== n)))
    throw new KilnError(
      'ERR_SHAPE',
      `prelu: weight of shape ${shapeStr(weight.shape)} must have 1 element or one per channel (dim 1) of input ${shapeStr(x.shape)}`,
    );
  return scope(() => {
    const w = n === 1 || x.ndim < 2 ? weight.reshape([]) : weight.reshape([n, ...x.shape.slice(2).map(() => 1)]);
    return where(x.gt(0), x, x.mul(w));
  });
}

/** x tanh(softplus(x)) (torch mish). */
export function mish(x: Tensor): Tensor {
  return scope(() => x.mul(softplus(x).tanh()));
}

/** log(sigmoid(x)) = -softplus(-x), finite for large |x| (torch logsigmoid). */
export function logsigmoid(x: Tensor): Tensor {
  return scope(() => softplus(x.neg()).neg());
}

/** x / max(||x||_p along dim, eps) (torch.nn.functional.normalize). */
export function normalize(x: Tensor, opts: { p?: number; dim?: number; eps?: number } = {}): Tensor {
  const p = opts.p ?? 2,
    dim = opts.dim ?? 1,
    eps = opts.eps ?? 1e-12;
  return scope(() => x.div(x.norm(p, dim, true).clampMin(eps)));
}

/**
 * (x1 / max(|x1|, eps)) . (x2 / max(|x2|, eps)) along dim, the operands broadcast first (torch
 * cosine_similarity, as 1.13 computes it).
 */
export function cosineSimilarity(x1: Tensor, x2: Tensor, opts: { dim?: number; eps?: number } = {}): Tensor {
  const dim = opts.dim ?? 1,
    eps = opts.eps ?? 1e-8;
  // PyTorch 1.13's: each side over max(its norm, eps), then the dot product (a zero vector's
  // gradient is the other's direction over eps).
  return scope(() => {
    const unit = (x: Tensor) => x.div(x.norm(2, dim, true).clampMin(eps));
    return unit(x1).mul(unit(x2)).sum(dim);
  });
}

/** The first half of dim times the sigmoid of the second (torch glu). */
export function glu(x: Tensor, dim = -1): Tensor {
  const d = dim < 0 ? dim + x.ndim : dim;
  if (!(d >= 0 && d < x.ndim) || x.shape[d] % 2 !== 0)
    throw new KilnError('ERR_SHAPE', `glu: dim ${dim} of [${x.shape.join(', ')}] must exist and have an even size`);
  const h = x.shape[d] / 2;
  return scope(() => x.narrow(d, 0, h).mul(x.narrow(d, h, h).sigmoid()));
}

/** softmax(-x) along dim (torch softmin). */
export const softmin = (x: Tensor, dim: number): Tensor => scope(() => x.neg().softmax(dim));

/** x shrunk towards 0 by lambda, 0 inside [-lambda, lambda] (torch softshrink). */
export function softshrink(x: Tensor, lambd = 0.5): Tensor {
  return scope(() => where(x.gt(lambd), x.sub(lambd), where(x.lt(-lambd), x.add(lambd), 0)));
}

/** x outside [-lambda, lambda], 0 inside (torch hardshrink). */
export const hardshrink = (x: Tensor, lambd = 0.5): Tensor => scope(() => where(x.abs().gt(lambd), x, 0));

/** x - tanh(x) (torch tanhshrink). */
export const tanhshrink = (x: Tensor): Tensor => scope(() => x.sub(x.tanh()));

// ---- Modules (torch.nn's names) ----

export class GLU extends Module {
  constructor(readonly dim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return glu(x, this.dim);
  }
}
export class Softmin extends Module {
  constructor(readonly dim: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return softmin(x, this.dim);
  }
}
export class Softshrink extends Module {
  constructor(readonly lambd = 0.5) {
    super();
  }
  forward(x: Tensor): Tensor {
    return softshrink(x, this.lambd);
  }
}
export class Hardshrink extends Module {
  constructor(readonly lambd = 0.5) {
    super();
  }
  forward(x: Tensor): Tensor {
    return hardshrink(x, this.lambd);
  }
}
export class Tanhshrink extends Module {
  forward(x: Tensor): Tensor {
    return tanhshrink(x);
  }
}

export class ELU extends Module {
  constructor(readonly alpha = 1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return elu(x, this.alpha);
  }
  override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}
export class CELU extends Module {
  constructor(readonly alpha = 1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return celu(x, this.alpha);
  }
  override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}
export class Softplus extends Module {
  constructor(
    readonly beta = 1,
    readonly threshold = 20,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return softplus(x, this.beta, this.threshold);
  }
  override extraRepr(): string {
    return `beta=${this.beta}, threshold=${this.threshold}`;
  }
}
export class Hardtanh extends Module {
  constructor(
    readonly minVal = -1,
    readonly maxVal = 1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return hardtanh(x, this.minVal, this.maxVal);
  }
  override extraRepr(): string {
    return `minVal=${this.minVal}, maxVal=${this.maxVal}`;
  }
}
export class SELU extends Module {
  forward(x: Tensor): Tensor {
    return selu(x);
  }
}
export class Softsign extends Module {
  forward(x: Tensor): Tensor {
    return softsign(x);
  }
}
export class ReLU6 extends Module {
  forward(x: Tensor): Tensor {
    return relu6(x);
  }
}
export class Hardsigmoid extends Module {
  forward(x: Tensor): Tensor {
    return hardsigmoid(x);
  }
}
export class Hardswish extends Module {
  forward(x: Tensor): Tensor {
    return hardswish(x);
  }
}
export class Mish extends Module {
  forward(x: Tensor): Tensor {
    return mish(x);
  }
}
export class LogSigmoid extends Module {
  forward(x: Tensor): Tensor {
    return logsigmoid(x);
  }
}
export class Threshold extends Module {
  constructor(
    readonly threshold: number,
    readonly value: number,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return threshold(x, this.threshold, this.value);
  }
  override extraRepr(): string {
    return `threshold=${this.threshold}, value=${this.value}`;
  }
}
/** PReLU with numParameters learned slopes (1, or one per channel), each starting at init. */
export class PReLU extends Module {
  readonly weight: Parameter;
  constructor(numParameters = 1, init = 0.25) {
    super();
    if (!Number.isInteger(numParameters) || numParameters < 1)
      throw new KilnError('ERR_ARG', `PReLU: numParameters must be a positive integer, got ${numParameters}`);
    this.weight = new Parameter(full([numParameters], init));
  }
  forward(x: Tensor): Tensor {
    return prelu(x, this.weight);
  }
  override extraRepr(): string {
    return `numParameters=${this.weight.numel()}`;
  }
}
