/**
 * kiln.distributions: the commonly used part of torch.distributions, composed from kiln's tensor
 * ops and seeded from kiln's Philox generators.
 * @example
 * const { Normal, klDivergence } = kiln.distributions;
 * const p = new Normal(kiln.tensor([0, 1]), 1);
 * p.logProb(p.sample([10])).shape; // [10, 2]
 * klDivergence(p, new Normal(0, 2));
 */
export { Distribution, constraints } from './distribution';
export type { Constraint, DistributionOptions, Param, SampleOptions } from './distribution';
export { Normal } from './normal';
export { Uniform } from './uniform';
export { Exponential } from './exponential';
export { Laplace } from './laplace';
export { Bernoulli } from './bernoulli';
export type { BernoulliParams } from './bernoulli';
export { Categorical, OneHotCategorical } from './categorical';
export type { CategoricalParams } from './categorical';
export { Gamma, Beta } from './gamma';
export { MultivariateNormal } from './multivariate_normal';
export type { MultivariateNormalParams } from './multivariate_normal';
export { Independent } from './independent';
export { klDivergence, registerKl } from './kl';
export { lgamma, digamma } from '../ops/gamma';
