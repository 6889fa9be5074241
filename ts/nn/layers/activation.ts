/** Activation modules, each a thin wrapper over the functional form. */
import { KilnError } from '../../errors';
import { scope } from '../../memory';
import * as C from '../../ops/composite';
import { gelu, silu } from '../../ops/activation';
import type { Tensor } from '../../tensor';
import { Module } from '../module';

/** max(x, slope * x) for slope < 1 (torch.nn.functional.leaky_relu). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    if (!Number.isFinite(negativeSlope))
      throw new KilnError('ERR_ARG', `leakyRelu: negativeSlope must be finite, got ${negativeSlope}`);
    return x.where(x.gt(0), x.mul(negativeSlope));
  });
}

export { silu };

export class ReLU extends Module {
  /** inplace: overwrite the input (torch.nn.ReLU(inplace=True)); autograd still works through it. */
  constructor(readonly inplace = false) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.inplace ? C.relu_(x) : C.relu(x);
  }
  override extraRepr(): string {
    return this.inplace ? 'inplace=true' : '';
  }
}
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }
  forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }
  override extraRepr(): string {
    return `approximate=${this.approximate}`;
  }
}
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return silu(x);
  }
}
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}
export class Softmax extends Module {
  constructor(readonly dim: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return C.softmax(x, this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
export class LogSoftmax extends Module {
  constructor(readonly dim: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return C.logSoftmax(x, this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
