/** Linear, Identity, Flatten. */
import { KilnError } from '../../errors';
import { empty } from '../../creation';
import type { Tensor } from '../../tensor';
import { linear, LinearActivation } from '../../ops/linear';
import { kaimingUniform_, uniform_ } from '../init';
import { Module, Parameter } from '../module';

export interface LinearOptions {
  bias?: boolean;
  dtype?: 'float32' | 'float64' | 'float16' | 'bfloat16';
  /** Fused on the GEMM's store (a kiln extension; PyTorch users add a separate activation). */
  activation?: LinearActivation | null;
}

/**
 * y = x Wᵀ + b, one GEMM with the bias (and an optional activation) fused. Initialised as PyTorch
 * does: W and b uniform in ±1/√inFeatures.
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly activation: LinearActivation | null;
  weight: Tensor;
  bias: Tensor | null;
  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    for (const [n, v] of [
      ['inFeatures', inFeatures],
      ['outFeatures', outFeatures],
    ] as const)
      if (!Number.isInteger(v) || v < 0)
        throw new KilnError('ERR_ARG', `Linear: ${n} must be a non-negative integer, got ${v}`);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.activation = opts.activation ?? null;
    const dtype = opts.dtype ?? 'float32';
    this.weight = new Parameter(kaimingUniform_(empty([outFeatures, inFeatures], { dtype }), { a: Math.sqrt(5) }));
    const bound = inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0;
    this.bias = opts.bias === false ? null : new Parameter(uniform_(empty([outFeatures], { dtype }), -bound, bound));
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias, { activation: this.activation });
  }
  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}${this.activation ? `, activation=${this.activation}` : ''}`;
  }
}

/** Returns its input. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Flattens dims startDim..endDim into one (a view when possible). */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}
