/** Normal(loc, scale) (torch.distributions.Normal). */
import { randn } from '../ops/random';
import { scope } from '../memory';
import type { Tensor } from '../tensor';
import type { DistributionOptions, Param, SampleOptions } from './distribution';
import { LocScale } from './loc_scale';

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * The normal distribution with mean loc and standard deviation scale (> 0).
 * @example
 * const d = new kiln.distributions.Normal(0, kiln.tensor([1, 2]));
 * d.rsample([5]).shape; // [5, 2]
 * d.logProb(kiln.tensor([0.5, -1])); // [-1.0439, -1.7371]
 */
export class Normal extends LocScale {
  constructor(loc: Param, scale: Param, opts: DistributionOptions = {}) {
    super('Normal', loc, scale, opts);
  }
  get variance(): Tensor {
    return this.scale.square();
  }
  override get stddev(): Tensor {
    return this.scale.clone();
  }
  override rsample(sampleShape: readonly number[] = [], opts: SampleOptions = {}): Tensor {
    const shape = this.extendedShape(sampleShape);
    return scope(() => {
      const eps = randn(shape, { dtype: this.loc.dtype, device: this.loc.device, generator: opts.generator });
      return this.loc.add(eps.mul(this.scale));
    });
  }
  logProb(value: Tensor | number): Tensor {
    const v = this.value(value);
    return scope(() => v.sub(this.loc).div(this.scale).square().mul(-0.5).sub(this.scale.log()).sub(HALF_LOG_2PI));
  }
  entropy(): Tensor {
    return scope(() => this.scale.log().add(0.5 + HALF_LOG_2PI));
  }
  /** P(X <= value). */
  cdf(value: Tensor | number): Tensor {
    const v = this.value(value);
    return scope(() => v.sub(this.loc).div(this.scale).mul(Math.SQRT1_2).erf().add(1).mul(0.5));
  }
}
