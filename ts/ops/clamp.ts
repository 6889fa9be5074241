/**
 * clamp with number bounds on a float tensor as one native pass (native/cpu/elementwise.cpp
 * clamp_cpu): min(max(x, lo), hi) with maximum's and minimum's rules, so the bits are the
 * composite's (a NaN of x passes; lo > hi gives hi). The composite (maximum, then minimum) took
 * two passes and a temporary: [4096, 4096] float32 at 0.46-0.49 of copy_. Tensor bounds, NaN
 * bounds, integer inputs and devices without the kernel run the composite (maximum, minimum).
 */
import { noGrad } from '../autograd/grad_mode';
import { needsGrad, record } from '../autograd/node';
import { hasKernel } from '../cuda';
import { fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { FLOAT_DTYPES, isFloating } from '../dtype';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { Tensor } from '../tensor';
import { where } from './indexing';
import { checkTensor, TensorLike } from './kinds';
import { OP } from './op_ids.gen';
import type { Case, OpRow, Rng } from './row';
import { LAYOUTS, errorCases, gradInput, makeInput, randInt, randShape } from './samples';

/** Whether clamp(x, lo, hi) runs the kernel: a float x on a device that has it, number (or no) bounds, no NaN. */
function fusedOn(x: Tensor, lo: unknown, hi: unknown): boolean {
  const num = (b: unknown) => b === null || (typeof b === 'number' && !Number.isNaN(b));
  return isFloating(x.dtype) && num(lo) && num(hi) && (x.device === 'cpu' || hasKernel(OP.CLAMP));
}

/**
 * Elementwise clamp to [min, max] (either bound may be omitted), as torch.clamp: a NaN passes, and
 * min > max gives max. Number bounds take PyTorch's gradient, g where min <= x <= max (maximum /
 * minimum would give g / 2 at x == min or max, their tie rule); tensor bounds the composite's.
 * @example
 * kiln.tensor([-2, 0.5, 3]).clamp(-1, 1); // [-1, 0.5, 1]
 */
export function clamp(x: Tensor, min?: TensorLike | null, max?: TensorLike | null): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    checkTensor(x, 'clamp', 'input');
    if ((min === undefined || min === null) && (max === undefined || max === null))
      throw new KilnError('ERR_ARG', 'clamp: at least one of min and max must be given');
    const lo = min ?? null,
      hi = max ?? null;
    const bounded = (t: Tensor) => {
      if (fusedOn(t, lo, hi)) {
        const out = Tensor._empty(t._shape.slice(), t.dtype, 'clamp');
        runKernel(OP.CLAMP, [out], [t], [(lo as number | null) ?? -Infinity, (hi as number | null) ?? Infinity]);
        return out;
      }
      let y = t;
      if (lo !== null) y = y.maximum(lo);
      if (hi !== null) y = y.minimum(hi);
      return y;
    };
    if (!(typeof (lo ?? 0) === 'number' && typeof (hi ?? 0) === 'number') || !needsGrad([x])) return bounded(x);
    const y = noGrad(() => bounded(x));
    return record(
      'clamp',
      y,
      [x],
      (g, c) => [where(inBounds(c.inputs[0], lo as number | null, hi as number | null), g, 0)],
      {
        lo,
        hi,
      },
    );
  });
}

/** Where lo <= x <= hi (a null bound: no test). */
function inBounds(x: Tensor, lo: number | null, hi: number | null): Tensor {
  const ge = lo !== null ? x.ge(lo) : null,
    le = hi !== null ? x.le(hi) : null;
  return ge && le ? ge.logicalAnd(le) : (ge ?? le)!;
}

// ---- Op-table row ----

/** maximum then minimum, as the kernel: a NaN x passes, -0 against +0 gives the bound. */
function refClamp(v: number, lo: number | null, hi: number | null): number {
  let r = v;
  if (lo !== null && !Number.isNaN(r)) r = r > lo ? r : lo;
  if (hi !== null && !Number.isNaN(r)) r = r < hi ? r : hi;
  return r;
}

const BOUNDS: [number | null, number | null][] = [
  [-0.5, 0.5],
  [null, 1],
  [-1, null],
  [2, 1], // lo > hi: hi everywhere
  [-Infinity, Infinity],
  [0, 0],
];

export const clampRow: OpRow<typeof clamp> = {
  name: 'clamp',
  kind: 'custom',
  native: { nin: 1, nout: 1, nattr: 2 },
  dtypes: FLOAT_DTYPES,
  fn: clamp,
  grad: (g, c) => [where(inBounds(c.inputs[0], c.attrs.lo as number | null, c.attrs.hi as number | null), g, 0)],
  cases: (rng: Rng, dtype) => {
    const out: Case[] = [];
    const shapes: number[][] = [[], [0, 3], [7], [5, 37], [3, 4, 70], [1000]];
    for (let k = 0; k < 3; k++) shapes.push(randShape(rng, 4));
    for (const shape of shapes) {
      const [lo, hi] = BOUNDS[randInt(rng, 0, BOUNDS.length - 1)];
      const layout = LAYOUTS[randInt(rng, 0, 3)];
      const A = makeInput(rng, shape, dtype, layout, [-3, 3]);
      out.push({
        label: `clamp ${JSON.stringify(shape)} [${lo}, ${hi}] ${layout}`,
        got: clamp(A.t, lo, hi),
        want: { shape, data: A.ref.data.map((v) => refClamp(v, lo, hi)) },
        tol: 1,
      });
      A.t.dispose();
    }
    // NaN, infinities and signed zeros, past a vector's worth of lanes, against every bound pair
    const special = [NaN, Infinity, -Infinity, -0, 0, 0.25, -0.75, 3, -3, 1, -1, 0.5];
    const vals = Array.from({ length: 40 }, (_, i) => special[i % special.length]);
    for (const [lo, hi] of BOUNDS) {
      const t = fromNumbers(vals, [vals.length], dtype);
      out.push({
        label: `clamp specials [${lo}, ${hi}]`,
        got: clamp(t, lo, hi),
        want: { shape: [vals.length], data: vals.map((v) => refClamp(v, lo, hi)) },
        tol: 1,
      });
      t.dispose();
    }
    return out;
  },
  gradSamples: (rng) => [
    { label: 'both bounds', fn: (x) => clamp(x, -0.3, 0.4), inputs: [gradInput(rng, [3, 5])] },
    { label: 'min only', fn: (x) => clamp(x, 0.1), inputs: [gradInput(rng, [7])] },
    { label: 'max only', fn: (x) => clamp(x, null, -0.2), inputs: [gradInput(rng, [2, 3, 2])] },
  ],
  errors: () =>
    errorCases([
      ['no bounds', () => clamp(fromNumbers([1, 2], [2], 'float32')), 'ERR_ARG'],
      ['not a tensor', () => clamp([1, 2] as never, 0, 1), 'ERR_ARG'],
    ]),
};
