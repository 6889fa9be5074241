/**
 * klDivergence(p, q) (torch.distributions.kl_divergence) for same-family pairs, looked up by the
 * exact classes of p and q in a table that registerKl extends.
 */
import { KilnError } from '../errors';
import { where } from '../ops/indexing';
import { scope } from '../memory';
import type { Tensor } from '../tensor';
import { Bernoulli } from './bernoulli';
import { Categorical, OneHotCategorical } from './categorical';
import { diagonal } from '../ops/diagonal';
import { solveTriangular } from '../linalg/factor';
import type { Distribution } from './distribution';
import { Exponential } from './exponential';
import { Beta, Gamma, logBeta } from './gamma';
import { Independent } from './independent';
import { Laplace } from './laplace';
import { softplus } from './logits';
import { MultivariateNormal } from './multivariate_normal';
import { Normal } from './normal';
import { Uniform } from './uniform';
import { digamma, lgamma } from '../ops/gamma';

// The table is keyed by constructors of any signature.
type Ctor = abstract new (...args: never[]) => Distribution;
type KlFn = (p: Distribution, q: Distribution) => Tensor;

const table = new Map<Ctor, Map<Ctor, KlFn>>();

/**
 * Registers the KL divergence of a pair of families (torch.distributions.register_kl); the exact
 * classes are matched, so a subclass needs its own entry.
 */
export function registerKl<P extends Distribution, Q extends Distribution>(
  typeP: abstract new (...args: never[]) => P,
  typeQ: abstract new (...args: never[]) => Q,
  fn: (p: P, q: Q) => Tensor,
): void {
  const row = table.get(typeP as unknown as Ctor) ?? new Map<Ctor, KlFn>();
  row.set(typeQ as unknown as Ctor, fn as unknown as KlFn);
  table.set(typeP as unknown as Ctor, row);
}

/**
 * KL(p || q) = E_p[log p(x) - log q(x)], of the broadcast batch shape. Throws ERR_ARG for a pair
 * with no registered formula (torch raises NotImplementedError).
 * @example
 * const { Normal, klDivergence } = kiln.distributions;
 * klDivergence(new Normal(0, 1), new Normal(1, 1)); // 0.5
 */
export function klDivergence(p: Distribution, q: Distribution): Tensor {
  const fn = table.get(p?.constructor as Ctor)?.get(q?.constructor as Ctor);
  if (!fn)
    throw new KilnError(
      'ERR_ARG',
      `klDivergence: no formula for the pair (${p?.constructor?.name}, ${q?.constructor?.name}); registerKl adds one`,
    );
  return scope(() => fn(p, q));
}

const inf = (cond: Tensor, t: Tensor): Tensor => where(cond, Infinity, t);

registerKl(Normal, Normal, (p, q) => {
  const varRatio = p.scale.div(q.scale).square();
  const t1 = p.loc.sub(q.loc).div(q.scale).square();
  return varRatio.add(t1).sub(1).sub(varRatio.log()).mul(0.5);
});

registerKl(Bernoulli, Bernoulli, (p, q) => {
  const pp = p.probs,
    qp = q.probs;
  let t1 = pp.mul(softplus(q.logits.neg()).sub(softplus(p.logits.neg())));
  t1 = where(pp.eq(0), 0, inf(qp.eq(0), t1));
  let t2 = pp
    .neg()
    .add(1)
    .mul(softplus(q.logits).sub(softplus(p.logits)));
  t2 = where(pp.eq(1), 0, inf(qp.eq(1), t2));
  return t1.add(t2);
});

const klCategorical = (p: Categorical, q: Categorical): Tensor => {
  let t = p.probs.mul(p.logits.sub(q.logits));
  t = where(p.probs.eq(0), 0, inf(q.probs.eq(0), t));
  return t.sum(-1);
};
registerKl(Categorical, Categorical, klCategorical);
registerKl(OneHotCategorical, OneHotCategorical, (p, q) => klCategorical(p.base, q.base));

registerKl(Uniform, Uniform, (p, q) => {
  const r = q.high.sub(q.low).div(p.high.sub(p.low)).log();
  return inf(q.low.gt(p.low).logicalOr(q.high.lt(p.high)), r);
});

registerKl(Exponential, Exponential, (p, q) => {
  const ratio = q.rate.div(p.rate);
  return ratio.sub(1).sub(ratio.log());
});

registerKl(Laplace, Laplace, (p, q) => {
  const scaleRatio = p.scale.div(q.scale);
  const d = p.loc.sub(q.loc).abs();
  return scaleRatio
    .log()
    .neg()
    .add(d.div(q.scale))
    .add(scaleRatio.mul(d.div(p.scale).neg().exp()))
    .sub(1);
});

registerKl(Gamma, Gamma, (p, q) => {
  const t1 = q.concentration.mul(p.rate.div(q.rate).log());
  const t2 = lgamma(q.concentration).sub(lgamma(p.concentration));
  const t3 = p.concentration.sub(q.concentration).mul(digamma(p.concentration));
  const t4 = q.rate.sub(p.rate).mul(p.concentration.div(p.rate));
  return t1.add(t2).add(t3).add(t4);
});

registerKl(Beta, Beta, (p, q) => {
  const [a1, b1, a2, b2] = [p.concentration1, p.concentration0, q.concentration1, q.concentration0];
  const t = a1.add(b1);
  return logBeta(a2, b2)
    .sub(logBeta(a1, b1))
    .add(a1.sub(a2).mul(digamma(a1)))
    .add(b1.sub(b2).mul(digamma(b1)))
    .add(a2.sub(a1).add(b2).sub(b1).mul(digamma(t)));
});

registerKl(MultivariateNormal, MultivariateNormal, (p, q) => {
  const k = p.eventShape[0];
  if (q.eventShape[0] !== k)
    throw new KilnError(
      'ERR_SHAPE',
      `klDivergence: MultivariateNormal event sizes differ (${k} and ${q.eventShape[0]})`,
    );
  // tr(Σq⁻¹ Σp) = |Lq⁻¹ Lp|²_F and the Mahalanobis term |Lq⁻¹ (μq - μp)|².
  const tr = solveTriangular(q.scaleTril, p.scaleTril, { upper: false }).square().sum([-2, -1]);
  const maha = solveTriangular(q.scaleTril, q.loc.sub(p.loc).unsqueeze(-1), { upper: false })
    .squeeze(-1)
    .square()
    .sum(-1);
  const logDet = diagonal(q.scaleTril, 0, -2, -1)
    .log()
    .sum(-1)
    .sub(diagonal(p.scaleTril, 0, -2, -1).log().sum(-1));
  return tr.add(maha).sub(k).mul(0.5).add(logDet);
});

registerKl(Independent, Independent, (p, q) => {
  const n = p.reinterpretedBatchNdims;
  if (q.reinterpretedBatchNdims !== n)
    throw new KilnError(
      'ERR_ARG',
      `klDivergence: Independent pairs need the same reinterpretedBatchNdims (${n} and ${q.reinterpretedBatchNdims})`,
    );
  const kl = klDivergence(p.baseDist, q.baseDist);
  return n === 0 ? kl : kl.flatten(-n).sum(-1);
});
