/**
 * How reduction rows of the op table run (sum, prod, amax, amin, argmax, argmin): dims are
 * normalised, moved last by a view, reduced by the native kernel, and keepdim is a reshape;
 * plus the generic conformance cases and gradient samples of reduction rows.
 */
import { record } from '../autograd/node';
import { fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { DType, isFloating, roundTo } from '../dtype';
import { KilnError } from '../errors';
import { normDims, numelOf, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import type { GradFn } from '../autograd/node';
import { checkTensor, opId } from './kinds';
import { permuteRaw } from './movement';
import type { Case, ErrorCase, OpRow } from './row';
import { LAYOUTS, makeInput, randShape, unravel } from './samples';

export interface ReduceSpec {
  dtypes: readonly DType[];
  /** Reference: reduce a list of numbers (non-empty unless `identity` is given). */
  ref: (xs: number[]) => number;
  identity?: number;
  outDtype: (d: DType) => DType;
  grad: GradFn | { nondiff: string };
  saveOutput?: boolean;
  tol?: number;
  /** Results can cancel (sums): the tolerance scales with sum |x| / |result|. */
  cancels?: boolean;
  /**
   * Associative (sum): when the reduced dims end with contiguous trailing dims and include others,
   * reduce that contiguous block first, then the rest (e.g. a bias gradient, sum over [0, 2, 3] of
   * NCHW: 8x faster than one strided pass). Only for dtypes whose intermediate loses nothing.
   */
  split?: readonly DType[];
  /** Rounding grows with the terms combined, in an order devices choose (products): the tolerance scales with sqrt(terms). */
  growsWithTerms?: boolean;
}

export type ReduceFn = (x: Tensor, dim?: number | number[] | null, keepdim?: boolean) => Tensor;

/** The trailing dims of x that are all in `dims` and contiguous in memory, when they hold more
 * than one element and `dims` has others too; else null. */
function contiguousTail(x: Tensor, dims: number[]): number[] | null {
  const tail: number[] = [];
  let stride = 1;
  for (let d = x.ndim - 1; d >= 0 && dims.includes(d); d--) {
    if (x._shape[d] !== 1 && x._strides[d] !== stride) break;
    stride *= x._shape[d];
    tail.push(d);
  }
  return tail.length && tail.length < dims.length && stride > 1 ? tail : null;
}

/** Moves `dims` last (a view) so the kernel reduces the trailing dims. */
function reduceView(x: Tensor, dims: number[]): Tensor {
  const keep = [];
  for (let d = 0; d < x.ndim; d++) if (!dims.includes(d)) keep.push(d);
  return permuteRaw(x, [...keep, ...dims]);
}

export function reduceKind(name: string, spec: ReduceSpec): OpRow<ReduceFn> {
  const id = opId(name);
  const fn: ReduceFn = (x, dim, keepdim = false) => {
    checkTensor(x, name, 'input');
    if (!spec.dtypes.includes(x.dtype)) throw new KilnError('ERR_DTYPE', `${name}: not defined for dtype ${x.dtype}`);
    const dims = normDims(dim, x.ndim, name);
    if (spec.identity === undefined)
      for (const d of dims)
        if (x._shape[d] === 0)
          throw new KilnError(
            'ERR_SHAPE',
            `${name}: cannot reduce over dim ${d} of size 0 in shape ${shapeStr(x._shape)} (no identity)`,
          );
    const tail = spec.split?.includes(x.dtype) ? contiguousTail(x, dims) : null;
    if (tail) {
      const inner = fn(x, tail, true);
      const res = fn(inner, dims, keepdim);
      inner.dispose(); // the second reduce's node keeps its own handle
      return res;
    }
    const v = reduceView(x, dims);
    const outShape = x._shape.filter((_, d) => !dims.includes(d));
    const out = Tensor._empty(outShape, spec.outDtype(x.dtype), name);
    runKernel(id(), [out], [v], [dims.length]);
    v.dispose();
    let res = out;
    if (keepdim) {
      res = out.reshape(x._shape.map((s, d) => (dims.includes(d) ? 1 : s)));
      out.dispose();
    }
    if ('nondiff' in spec.grad || !isFloating(res.dtype)) return res;
    return record(name, res, [x], spec.grad, { dims, keepdim }, spec.saveOutput);
  };
  return {
    name,
    kind: 'reduce',
    native: { nin: 1, nout: 1, nattr: 1 },
    dtypes: spec.dtypes,
    fn,
    grad: spec.grad,
    cases: (rng, dtype) => {
      const cases: Case[] = [];
      const shapes = [
        [],
        [7],
        [3, 4],
        [2, 3, 4],
        [1, 5, 1],
        [0, 3],
        [4, 0],
        [1000],
        [40000],
        [2, 3, 4, 5],
        [33, 40],
        [600, 20],
        [5, 7, 20],
        randShape(rng),
        randShape(rng),
      ];
      for (const shape of shapes) {
        const choices: (number[] | null)[] = [null];
        if (shape.length) choices.push([shape.length - 1], [0], [-1]);
        if (shape.length >= 2) choices.push([0, shape.length - 1], [shape.length - 2]);
        for (const dims of choices)
          for (const keepdim of [false, true])
            for (const layout of LAYOUTS.slice(0, shape.length >= 2 ? 4 : 1)) {
              const nd = normDims(dims, shape.length, name);
              if (spec.identity === undefined && nd.some((d) => shape[d] === 0)) continue;
              const A = makeInput(rng, shape, dtype, layout, [-3, 3]);
              const outShape = shape
                .map((s, d) => (nd.includes(d) ? 1 : s))
                .filter((_, d) => keepdim || !nd.includes(d));
              const keptShape = shape.filter((_, d) => !nd.includes(d));
              const nOut = numelOf(keptShape);
              const data = new Array<number>(nOut);
              const groups: number[][] = Array.from({ length: nOut }, () => []);
              for (let k = 0; k < A.ref.data.length; k++) {
                const idx = unravel(k, shape);
                let o = 0;
                for (let d = 0; d < shape.length; d++) if (!nd.includes(d)) o = o * shape[d] + idx[d];
                groups[o].push(A.ref.data[k]);
              }
              const od = spec.outDtype(dtype);
              // Rounding error of a sum scales with sum |x|, not with the result (cancellation).
              let scale = 1;
              for (let o = 0; o < nOut; o++) {
                data[o] = roundTo(od, groups[o].length ? spec.ref(groups[o]) : spec.identity!);
                if (spec.cancels)
                  scale = Math.max(
                    scale,
                    groups[o].reduce((a, x) => a + Math.abs(x), 0) / Math.max(1, Math.abs(data[o])),
                  );
              }
              cases.push({
                label: `${shapeStr(shape)} dims=${dims ? `[${dims}]` : 'all'} keepdim=${keepdim} ${layout}`,
                got: fn(A.t, dims, keepdim),
                want: { shape: outShape, data },
                tol:
                  (spec.tol ?? 4) *
                  scale *
                  (spec.growsWithTerms ? Math.sqrt(Math.max(1, ...groups.map((g) => g.length))) : 1),
              });
              A.t.dispose();
            }
      }
      return cases;
    },
    gradSamples: (rng) =>
      'nondiff' in spec.grad
        ? []
        : (
            [
              [[3, 4], null, false],
              [[3, 4], [1], true],
              [[2, 3, 4], [0, 2], false],
              [[5], [0], false],
            ] as const
          ).map(([shape, dims, keepdim]) => ({
            label: `${shapeStr(shape as unknown as number[])} ${dims}`,
            fn: (x: Tensor) => fn(x, dims as number[] | null, keepdim),
            inputs: [makeInput(rng, shape as unknown as number[], 'float64', 'contiguous', [-2, 2]).t.requiresGrad_()],
          })),
    errors: (): ErrorCase[] => [
      { label: 'dim out of range', run: () => fn(fromNumbers([1, 2], [2], spec.dtypes[0]), 1), code: 'ERR_ARG' },
      { label: 'repeated dim', run: () => fn(fromNumbers([1, 2], [1, 2], spec.dtypes[0]), [1, -1]), code: 'ERR_ARG' },
      ...(spec.identity === undefined
        ? [{ label: 'empty dim', run: () => fn(fromNumbers([], [0], spec.dtypes[0])), code: 'ERR_SHAPE' as const }]
        : []),
    ],
  };
}
