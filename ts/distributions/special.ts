/**
 * lgamma and digamma for positive arguments, composed from kiln's elementwise ops so autograd
 * differentiates them (digamma is lgamma's derivative, trigamma digamma's). Both shift the
 * argument up by SHIFT with the recurrences Γ(x+1) = xΓ(x) and ψ(x+1) = ψ(x) + 1/x, then use the
 * Stirling series, whose truncation error at x >= 8 is below 1e-14: float64-accurate without a
 * data-dependent branch. Only x > 0 is meaningful (the distributions' parameters and values).
 */
import { scope } from '../memory';
import type { Tensor } from '../tensor';

const SHIFT = 8;
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);
// B_2k / (2k (2k - 1)), the coefficients of 1/x^(2k-1) in lgamma's Stirling series.
const LGAMMA_SERIES = [1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156];
// B_2k / (2k), the coefficients of 1/x^(2k) in digamma's asymptotic series.
const DIGAMMA_SERIES = [1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12];

/** Horner's rule in z: c[0] + c[1] z + c[2] z^2 + ... */
function horner(z: Tensor, c: readonly number[]): Tensor {
  let acc = z.mul(c[c.length - 1]);
  for (let i = c.length - 2; i > 0; i--) acc = acc.add(c[i]).mul(z);
  return acc.add(c[0]);
}

/**
 * log|Γ(x)| for x > 0 (torch.lgamma on the positive axis).
 * @example
 * lgamma(kiln.tensor([0.5, 1, 10], { dtype: 'float64' })); // [0.5724, 0, 12.8018]
 */
export function lgamma(x: Tensor): Tensor {
  return scope(() => {
    // A sum of logs, not the log of a product: x^8 overflows float32 from x ~ 1e5.
    let logs = x.log();
    for (let j = 1; j < SHIFT; j++) logs = logs.add(x.add(j).log());
    const y = x.add(SHIFT);
    const inv = y.reciprocal();
    const series = horner(inv.mul(inv), LGAMMA_SERIES).mul(inv);
    return y.sub(0.5).mul(y.log()).sub(y).add(HALF_LOG_2PI).add(series).sub(logs);
  });
}

/**
 * ψ(x) = d/dx log Γ(x) for x > 0 (torch.digamma on the positive axis).
 * @example
 * digamma(kiln.tensor([1], { dtype: 'float64' })); // [-0.5772] (minus the Euler-Mascheroni constant)
 */
export function digamma(x: Tensor): Tensor {
  return scope(() => {
    let recip = x.reciprocal();
    for (let j = 1; j < SHIFT; j++) recip = recip.add(x.add(j).reciprocal());
    const y = x.add(SHIFT);
    const inv = y.reciprocal();
    const inv2 = inv.mul(inv);
    const series = horner(inv2, DIGAMMA_SERIES).mul(inv2);
    return y.log().sub(inv.mul(0.5)).sub(series).sub(recip);
  });
}
