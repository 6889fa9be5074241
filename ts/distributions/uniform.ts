/** Uniform(low, high) (torch.distributions.Uniform). */
import { rand } from '../ops/random';
import { scope } from '../memory';
import type { Tensor } from '../tensor';
import {
  allTrue,
  argError,
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
 * The uniform distribution on the half-open interval [low, high).
 * @example
 * const d = new kiln.distributions.Uniform(0, 4);
 * d.logProb(kiln.tensor(1)); // -1.3863 = -log 4
 */
export class Uniform extends Distribution {
  readonly low: Tensor;
  readonly high: Tensor;
  constructor(low: Param, high: Param, opts: DistributionOptions = {}) {
    const [lo, hi] = broadcastAll('Uniform', [low, high]);
    super(lo.shape, [], opts);
    this.low = lo;
    this.high = hi;
    checkParam(this, 'low', lo, constraints.real);
    checkParam(this, 'high', hi, constraints.real);
    if (this.validateArgs && !allTrue(() => lo.lt(hi))) argError('Uniform', 'low must be less than high everywhere');
  }
  override get hasRsample(): boolean {
    return true;
  }
  get support(): Constraint {
    return { name: 'interval [low, high)', check: (v) => v.ge(this.low).logicalAnd(v.lt(this.high)) };
  }
  protected get like(): Tensor {
    return this.low;
  }
  get mean(): Tensor {
    return scope(() => this.low.add(this.high).mul(0.5));
  }
  get variance(): Tensor {
    return scope(() => this.high.sub(this.low).square().div(12));
  }
  override rsample(sampleShape: readonly number[] = [], opts: SampleOptions = {}): Tensor {
    const shape = this.extendedShape(sampleShape);
    return scope(() => {
      const u = rand(shape, { dtype: this.low.dtype, device: this.low.device, generator: opts.generator });
      return this.low.add(u.mul(this.high.sub(this.low)));
    });
  }
  logProb(value: Tensor | number): Tensor {
    const v = this.value(value);
    return scope(() => {
      const inside = v.ge(this.low).logicalAnd(v.lt(this.high)).to(this.low.dtype);
      return inside.log().sub(this.high.sub(this.low).log());
    });
  }
  entropy(): Tensor {
    return scope(() => this.high.sub(this.low).log());
  }
  /** P(X <= value), clamped to [0, 1]. */
  cdf(value: Tensor | number): Tensor {
    const v = this.value(value);
    return scope(() => v.sub(this.low).div(this.high.sub(this.low)).clamp(0, 1));
  }
}
