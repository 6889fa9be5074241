/** Independent(base, reinterpretedBatchNdims) (torch.distributions.Independent). */
import type { Tensor } from '../tensor';
import { scope } from '../memory';
import { argError, type Constraint, Distribution, type DistributionOptions, type SampleOptions } from './distribution';

/**
 * Treats the last reinterpretedBatchNdims batch dims of base as event dims: logProb and entropy
 * sum over them.
 * @example
 * const d = new kiln.distributions.Independent(new kiln.distributions.Normal(kiln.zeros([3, 2]), 1), 1);
 * d.batchShape; // [3]
 * d.eventShape; // [2]
 */
export class Independent extends Distribution {
  readonly baseDist: Distribution;
  readonly reinterpretedBatchNdims: number;
  constructor(baseDistribution: Distribution, reinterpretedBatchNdims: number, opts: DistributionOptions = {}) {
    if (!(baseDistribution instanceof Distribution)) argError('Independent', 'base must be a Distribution');
    const n = reinterpretedBatchNdims;
    const bs = baseDistribution.batchShape;
    if (!Number.isInteger(n) || n < 0 || n > bs.length)
      argError('Independent', `reinterpretedBatchNdims must be an integer in [0, ${bs.length}], got ${n}`);
    const cut = bs.length - n;
    super(bs.slice(0, cut), [...bs.slice(cut), ...baseDistribution.eventShape], {
      validateArgs: opts.validateArgs ?? baseDistribution.validateArgs,
    });
    this.baseDist = baseDistribution;
    this.reinterpretedBatchNdims = n;
  }
  override get hasRsample(): boolean {
    return this.baseDist.hasRsample;
  }
  get support(): Constraint {
    const base = this.baseDist.support,
      n = this.reinterpretedBatchNdims;
    return { name: base.name, check: (v) => (n ? base.check(v).flatten(-n).all(-1) : base.check(v)) };
  }
  protected get like(): Tensor {
    return (this.baseDist as unknown as { like: Tensor }).like;
  }
  private sumRightmost(t: Tensor): Tensor {
    const n = this.reinterpretedBatchNdims;
    return n === 0 ? t : scope(() => t.flatten(-n).sum(-1));
  }
  get mean(): Tensor {
    return this.baseDist.mean;
  }
  get variance(): Tensor {
    return this.baseDist.variance;
  }
  override sample(sampleShape: readonly number[] = [], opts: SampleOptions = {}): Tensor {
    return this.baseDist.sample(sampleShape, opts);
  }
  override rsample(sampleShape: readonly number[] = [], opts: SampleOptions = {}): Tensor {
    return this.baseDist.rsample(sampleShape, opts);
  }
  logProb(value: Tensor | number): Tensor {
    return this.sumRightmost(this.baseDist.logProb(this.value(value)));
  }
  entropy(): Tensor {
    return this.sumRightmost(this.baseDist.entropy());
  }
}
