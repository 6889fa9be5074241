/**
 * gradcheck: compares autograd's gradients with central finite differences in float64, for a
 * random projection of the output (so one backward pass checks the whole Jacobian's action).
 * gradgradcheck does the same for the gradient itself (second order).
 */
import { tensor } from '../creation';
import { KilnError } from '../errors';
import { cat } from '../ops/indexing';
import type { Tensor } from '../tensor';
import { grad } from './engine';
import { enableGrad, noGrad } from './grad_mode';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Seed for the output projection. */
  seed?: number;
}

function projection(n: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 4294967296) * 2 - 1;
  });
}

/**
 * Throws ERR_AUTOGRAD (with the worst element) unless fn's gradients match finite differences.
 * Inputs must be float64 leaves with requiresGrad. Returns true.
 * @example
 * kiln.gradcheck((x) => x.mul(x).sum(), [kiln.randn([3], { dtype: 'float64', requiresGrad: true })]);
 */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): true {
  const eps = opts.eps ?? 1e-6,
    atol = opts.atol ?? 1e-5,
    rtol = opts.rtol ?? 1e-3;
  inputs.forEach((x, i) => {
    if (x.dtype !== 'float64')
      throw new KilnError('ERR_DTYPE', `gradcheck: input ${i} must be float64, got ${x.dtype}`);
    if (!x.isContiguous()) throw new KilnError('ERR_ARG', `gradcheck: input ${i} must be contiguous`);
  });
  const probe = noGrad(() => fn(...inputs));
  const r = projection(probe.numel(), opts.seed ?? 42);
  const outShape = probe.shape.slice();
  probe.dispose();
  const w = tensor(r.length ? r : [], { dtype: 'float64' }).reshape(outShape);
  const scalar = (): number =>
    noGrad(() => {
      const out = fn(...inputs);
      const v = out.to('float64').mul(w).sum().item() as number;
      out.dispose();
      return v;
    });
  const wanted = inputs.filter((x) => x.requiresGrad);
  const out = fn(...inputs);
  const analytic = grad(out.to('float64').mul(w).sum(), wanted, { allowUnused: true });
  wanted.forEach((x, i) => {
    const data = x.data() as Float64Array;
    const a = analytic[i] ? (analytic[i]!.contiguous().data() as Float64Array) : new Float64Array(data.length);
    for (let k = 0; k < data.length; k++) {
      const orig = data[k];
      data[k] = orig + eps;
      const fp = scalar();
      data[k] = orig - eps;
      const fm = scalar();
      data[k] = orig;
      const numeric = (fp - fm) / (2 * eps);
      if (!(Math.abs(numeric - a[k]) <= atol + rtol * Math.abs(numeric)))
        throw new KilnError(
          'ERR_AUTOGRAD',
          `gradcheck: input ${inputs.indexOf(x)} element ${k}: analytic ${a[k]} vs numeric ${numeric} (shape [${x.shape.join(', ')}])`,
        );
    }
  });
  return true;
}

/** Second-order check: gradcheck of the gradient (with createGraph). */
export function gradgradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): true {
  const wanted = inputs.filter((x) => x.requiresGrad);
  const g = (...xs: Tensor[]): Tensor =>
    enableGrad(() => {
      const out = fn(...xs);
      const gs = grad(out.sum(), wanted, { createGraph: true, allowUnused: true });
      const parts = gs.filter((t): t is Tensor => t !== null).map((t) => t.reshape([-1]));
      return cat(parts, 0);
    });
  return gradcheck(g, inputs, opts);
}
