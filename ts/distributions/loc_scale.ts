/** The base of the families with a real location and a positive scale (Normal, Laplace). */
import type { Tensor } from '../tensor';
import {
  broadcastAll,
  checkParam,
  constraints,
  type Constraint,
  Distribution,
  type DistributionOptions,
  type Param,
} from './distribution';

/** loc and scale broadcast together and checked; real support; reparameterised samples; mean loc. */
export abstract class LocScale extends Distribution {
  readonly loc: Tensor;
  readonly scale: Tensor;
  constructor(name: string, loc: Param, scale: Param, opts: DistributionOptions) {
    const [l, s] = broadcastAll(name, [loc, scale]);
    super(l.shape, [], opts);
    this.loc = l;
    this.scale = s;
    checkParam(this, 'loc', l, constraints.real);
    checkParam(this, 'scale', s, constraints.positive);
  }
  override get hasRsample(): boolean {
    return true;
  }
  get support(): Constraint {
    return constraints.real;
  }
  protected get like(): Tensor {
    return this.loc;
  }
  get mean(): Tensor {
    return this.loc.clone();
  }
}
