/** Laplace(loc, scale) (torch.distributions.Laplace). */
import { EPS_OF } from '../finfo';
import { rand } from '../ops/random';
import { scope } from '../memory';
import type { Tensor } from '../tensor';
import type { DistributionOptions, Param, SampleOptions } from './distribution';
import { LocScale } from './loc_scale';

/**
 * The Laplace (double exponential) distribution: density e^(-|x - loc| / scale) / (2 scale).
 * @example
 * new kiln.distributions.Laplace(0, 1).variance; // 2
 */
export class Laplace extends LocScale {
  constructor(loc: Param, scale: Param, opts: DistributionOptions = {}) {
    super('Laplace', loc, scale, opts);
  }
  get variance(): Tensor {
    return scope(() => this.scale.square().mul(2));
  }
  override get stddev(): Tensor {
    return this.scale.mul(Math.SQRT2);
  }
  override rsample(sampleShape: readonly number[] = [], opts: SampleOptions = {}): Tensor {
    const shape = this.extendedShape(sampleShape);
    return scope(() => {
      // u uniform in (-1, 1): the lower end is lifted off -1 so log1p(-|u|) stays finite.
      const u = rand(shape, { dtype: this.loc.dtype, device: this.loc.device, generator: opts.generator })
        .mul(2)
        .sub(1)
        .clampMin(EPS_OF[this.loc.dtype] - 1);
      return this.loc.sub(this.scale.mul(u.sign()).mul(u.abs().neg().log1p()));
    });
  }
  logProb(value: Tensor | number): Tensor {
    const v = this.value(value);
    return scope(() => v.sub(this.loc).abs().div(this.scale).neg().sub(this.scale.mul(2).log()));
  }
  entropy(): Tensor {
    return scope(() => this.scale.mul(2).log().add(1));
  }
  /** P(X <= value). */
  cdf(value: Tensor | number): Tensor {
    const v = this.value(value);
    return scope(() => {
      const z = v.sub(this.loc);
      return z.sign().mul(z.abs().div(this.scale).neg().expm1()).mul(-0.5).add(0.5);
    });
  }
}
