/** Exponential(rate) (torch.distributions.Exponential). */
import { rand } from '../ops/random';
import { scope } from '../memory';
import type { Tensor } from '../tensor';
import {
  broadcastAll,
  checkParam,
  constraints,
  type Constraint,
  Distribution,
  type DistributionOptions,
  type Param,
  type SampleOptions,
} from './distribution';

/**
 * The exponential distribution with rate (> 0): density rate e^(-rate x) on x >= 0.
 * @example
 * new kiln.distributions.Exponential(2).mean; // 0.5
 */
export class Exponential extends Distribution {
  readonly rate: Tensor;
  constructor(rate: Param, opts: DistributionOptions = {}) {
    const [r] = broadcastAll('Exponential', [rate]);
    super(r.shape, [], opts);
    this.rate = r;
    checkParam(this, 'rate', r, constraints.positive);
  }
  override get hasRsample(): boolean {
    return true;
  }
  get support(): Constraint {
    return constraints.nonnegative;
  }
  protected get like(): Tensor {
    return this.rate;
  }
  get mean(): Tensor {
    return this.rate.reciprocal();
  }
  get variance(): Tensor {
    return scope(() => this.rate.square().reciprocal());
  }
  override get stddev(): Tensor {
    return this.rate.reciprocal();
  }
  override rsample(sampleShape: readonly number[] = [], opts: SampleOptions = {}): Tensor {
    const shape = this.extendedShape(sampleShape);
    return scope(() => {
      // u in [0, 1), so 1 - u > 0 and the draw is finite.
      const u = rand(shape, { dtype: this.rate.dtype, device: this.rate.device, generator: opts.generator });
      return u.neg().log1p().neg().div(this.rate);
    });
  }
  logProb(value: Tensor | number): Tensor {
    const v = this.value(value);
    return scope(() => this.rate.log().sub(this.rate.mul(v)));
  }
  entropy(): Tensor {
    return scope(() => this.rate.log().neg().add(1));
  }
  /** P(X <= value). */
  cdf(value: Tensor | number): Tensor {
    const v = this.value(value);
    return scope(() => this.rate.mul(v).neg().expm1().neg());
  }
}
