/**
 * Gamma(concentration, rate) and Beta(concentration1, concentration0) (torch.distributions).
 * Sampling is Marsaglia and Tsang's squeeze-rejection method run on whole tensors: each round
 * draws a candidate for every element and keeps the first accepted one (over 95% accept per
 * round), so a seed gives the same draws. Neither family has rsample here.
 */
import { noGrad } from '../autograd/grad_mode';
import { zeros } from '../creation';
import { where } from '../ops/indexing';
import { type Generator, rand, randn } from '../ops/random';
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
import { EPS_OF, TINY_OF } from '../finfo';
import { digamma, lgamma } from '../ops/gamma';

const MAX_ROUNDS = 200;

/** Standard Gamma(alpha) draws of alpha's shape (alpha > 0, detached), in alpha's dtype. */
export function standardGamma(alpha: Tensor, generator?: Generator): Tensor {
  return noGrad(() =>
    scope(() => {
      const shape = alpha.shape.slice();
      const opts = { dtype: alpha.dtype, device: alpha.device, generator };
      // alpha < 1: draw Gamma(alpha + 1) and scale by U^(1/alpha) (Marsaglia and Tsang's boost).
      const small = alpha.lt(1);
      const a = where(small, alpha.add(1), alpha);
      const d = a.sub(1 / 3);
      const c = d.mul(9).sqrt().reciprocal();
      let out = zeros(shape, { dtype: alpha.dtype, device: alpha.device });
      let done = zeros(shape, { dtype: 'bool', device: alpha.device });
      for (let round = 0; round < MAX_ROUNDS && !(done.all().item() as boolean); round++) {
        const step = scope(() => {
          const x = randn(shape, opts);
          const u = rand(shape, opts);
          const v = x.mul(c).add(1).pow(3);
          const positive = v.gt(0);
          const vSafe = where(positive, v, 1);
          const bound = x.square().mul(0.5).add(d).sub(d.mul(vSafe)).add(d.mul(vSafe.log()));
          const accept = positive.logicalAnd(u.log().lt(bound)).logicalAnd(done.logicalNot());
          return { out: where(accept, d.mul(vSafe), out), done: done.logicalOr(accept) };
        });
        out = step.out;
        done = step.done;
      }
      const boost = rand(shape, opts).clampMin(EPS_OF[alpha.dtype]).pow(alpha.reciprocal());
      // Lifted off 0 like torch: a tiny concentration can underflow the boosted draw.
      return where(small, out.mul(boost), out).clampMin(TINY_OF[alpha.dtype]);
    }),
  );
}

/**
 * The gamma distribution with shape concentration (> 0) and rate (> 0): density
 * rate^a x^(a-1) e^(-rate x) / Γ(a) on x >= 0.
 * @example
 * new kiln.distributions.Gamma(2, 4).mean; // 0.5
 */
export class Gamma extends Distribution {
  readonly concentration: Tensor;
  readonly rate: Tensor;
  constructor(concentration: Param, rate: Param, opts: DistributionOptions = {}) {
    const [a, r] = broadcastAll('Gamma', [concentration, rate]);
    super(a.shape, [], opts);
    this.concentration = a;
    this.rate = r;
    checkParam(this, 'concentration', a, constraints.positive);
    checkParam(this, 'rate', r, constraints.positive);
  }
  get support(): Constraint {
    return constraints.nonnegative;
  }
  protected get like(): Tensor {
    return this.concentration;
  }
  get mean(): Tensor {
    return this.concentration.div(this.rate);
  }
  get variance(): Tensor {
    return scope(() => this.concentration.div(this.rate.square()));
  }
  override sample(sampleShape: readonly number[] = [], opts: SampleOptions = {}): Tensor {
    const shape = this.extendedShape(sampleShape);
    return scope(() => {
      const a = this.concentration.detach().expand(shape).contiguous();
      return standardGamma(a, opts.generator).div(this.rate.detach());
    });
  }
  logProb(value: Tensor | number): Tensor {
    const v = this.value(value);
    return scope(() => {
      const a = this.concentration;
      return a.xlogy(this.rate).add(a.sub(1).xlogy(v)).sub(this.rate.mul(v)).sub(lgamma(a));
    });
  }
  entropy(): Tensor {
    return scope(() => {
      const a = this.concentration;
      return a
        .sub(this.rate.log())
        .add(lgamma(a))
        .add(a.neg().add(1).mul(digamma(a)));
    });
  }
}

/** log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b). */
export const logBeta = (a: Tensor, b: Tensor): Tensor =>
  scope(() =>
    lgamma(a)
      .add(lgamma(b))
      .sub(lgamma(a.add(b))),
  );

/**
 * The beta distribution on [0, 1] with concentration1 = α (> 0) and concentration0 = β (> 0):
 * density x^(α-1) (1-x)^(β-1) / B(α, β).
 * @example
 * new kiln.distributions.Beta(2, 6).mean; // 0.25
 */
export class Beta extends Distribution {
  readonly concentration1: Tensor;
  readonly concentration0: Tensor;
  constructor(concentration1: Param, concentration0: Param, opts: DistributionOptions = {}) {
    const [a, b] = broadcastAll('Beta', [concentration1, concentration0]);
    super(a.shape, [], opts);
    this.concentration1 = a;
    this.concentration0 = b;
    checkParam(this, 'concentration1', a, constraints.positive);
    checkParam(this, 'concentration0', b, constraints.positive);
  }
  get support(): Constraint {
    return constraints.unitInterval;
  }
  protected get like(): Tensor {
    return this.concentration1;
  }
  get mean(): Tensor {
    return scope(() => this.concentration1.div(this.concentration1.add(this.concentration0)));
  }
  get variance(): Tensor {
    return scope(() => {
      const a = this.concentration1,
        b = this.concentration0;
      const t = a.add(b);
      return a.mul(b).div(t.square().mul(t.add(1)));
    });
  }
  override sample(sampleShape: readonly number[] = [], opts: SampleOptions = {}): Tensor {
    const shape = this.extendedShape(sampleShape);
    return scope(() => {
      const x = standardGamma(this.concentration1.detach().expand(shape).contiguous(), opts.generator);
      const y = standardGamma(this.concentration0.detach().expand(shape).contiguous(), opts.generator);
      return x.div(x.add(y)).clamp(TINY_OF[x.dtype], 1 - EPS_OF[x.dtype]);
    });
  }
  logProb(value: Tensor | number): Tensor {
    const v = this.value(value);
    return scope(() => {
      const a = this.concentration1,
        b = this.concentration0;
      return a
        .sub(1)
        .xlogy(v)
        .add(b.sub(1).xlogy(v.neg().add(1)))
        .sub(logBeta(a, b));
    });
  }
  entropy(): Tensor {
    return scope(() => {
      const a = this.concentration1,
        b = this.concentration0;
      const t = a.add(b);
      return logBeta(a, b)
        .sub(a.sub(1).mul(digamma(a)))
        .sub(b.sub(1).mul(digamma(b)))
        .add(t.sub(2).mul(digamma(t)));
    });
  }
}
