/**
 * How each kind of op-table row runs: argument checks, dtype promotion, broadcasting, output
 * allocation, the native call and the autograd record, plus the generic conformance cases and
 * gradient samples of elementwise and reduction rows. A row in table.ts only says what differs.
 */
import type { GradFn } from '../autograd/node';
import { inplaceNeedsGrad, rebase, writeInPlace } from '../autograd/inplace';
import { record, recordUnread } from '../autograd/node';
import { fromNumbers, isCachedScalar, scalarTensor } from '../creation';
import { runKernel } from '../dispatch';
import { DType, isFloating, promoteTypes, promoteWithScalar, roundTo } from '../dtype';
import { KilnError } from '../errors';
import { broadcastShapes, numelOf, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { expandRaw } from './movement';
import { OP } from './op_ids.gen';
import type { Case, ErrorCase, GradSample, OpRow } from './row';
import { EDGE_SHAPES, LAYOUTS, broadcastAt, makeInput, randInt, randShape, unravel } from './samples';

export type TensorLike = Tensor | number | boolean;

/** The native id of a row's kernel, looked up once (a getter, so rows can be declared first). */
export const opId = (name: string): (() => number) => {
  let id = -1;
  return () => {
    if (id >= 0) return id;
    const v = (OP as Record<string, number>)[name.toUpperCase()];
    if (v === undefined) throw new KilnError('ERR_NATIVE', `op ${name} has no native id; run \`npm run gen\``);
    return (id = v);
  };
};

export function checkTensor(x: unknown, op: string, arg: string): Tensor {
  if (!(x instanceof Tensor))
    throw new KilnError('ERR_ARG', `${op}: ${arg} must be a Tensor, got ${x === null ? 'null' : typeof x}`);
  x._check(op);
  return x;
}

/** Sums a broadcast gradient back to `shape` (the inverse of expand). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g._shape.length === shape.length && g._shape.every((s, i) => s === shape[i])) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let d = 0; d < g.ndim; d++) if (d < lead || (shape[d - lead] === 1 && g._shape[d] !== 1)) dims.push(d);
  const s = dims.length ? g.sum(dims, true) : g;
  return lead > 0 || dims.length ? s.reshape(shape.slice()) : s;
}

export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((s, i) => s === b[i]);

/** Casts when needed (records the cast for autograd). */
export const castTo = (t: Tensor, dtype: DType): Tensor => (t.dtype === dtype ? t : t.to(dtype));

/** Marks an in-place write, so autograd can detect stale saved tensors. */
export const bumpVersion = (t: Tensor): void => {
  t._storage.version++;
};

// ---------------------------------------------------------------------------------------------
// Elementwise unary

export interface UnarySpec {
  dtypes: readonly DType[];
  ref: (x: number) => number;
  grad: GradFn | { nondiff: string };
  /** Integer inputs compute in float32 (exp, sqrt, ...). */
  floatOnly?: boolean;
  boolOut?: boolean;
  saveOutput?: boolean;
  /** Input range for samples (e.g. positives for log). */
  range?: [number, number];
  /** Wider tolerance (in units of the dtype's epsilon) for ops that amplify rounding. */
  tol?: number;
}

export function unaryKind(name: string, spec: UnarySpec) {
  const id = opId(name);
  const outDtype = (d: DType): DType => (spec.boolOut ? 'bool' : spec.floatOnly && !isFloating(d) ? 'float32' : d);
  const fn = (x: Tensor): Tensor => {
    checkTensor(x, name, 'input');
    const computeDtype = spec.floatOnly && !isFloating(x.dtype) ? 'float32' : x.dtype;
    if (!spec.dtypes.includes(computeDtype))
      throw new KilnError('ERR_DTYPE', `${name}: not defined for dtype ${x.dtype}`);
    const inp = castTo(x, computeDtype);
    const out = Tensor._empty(x._shape.slice(), outDtype(x.dtype), name);
    runKernel(id(), [out], [inp]);
    if (inp !== x) inp.dispose();
    if ('nondiff' in spec.grad || !isFloating(out.dtype)) return out;
    // formulas of ops that save their output read only it
    return (spec.saveOutput ? recordUnread : record)(name, out, [x], spec.grad, {}, spec.saveOutput);
  };
  /** x = op(x) in place (same dtype only: exp_ of an int tensor has nowhere to put floats). */
  const inplace = (x: Tensor): Tensor => {
    checkTensor(x, `${name}_`, 'self');
    if (outDtype(x.dtype) !== x.dtype || !spec.dtypes.includes(x.dtype))
      throw new KilnError(
        'ERR_DTYPE',
        `${name}_: result dtype ${outDtype(x.dtype)} cannot be written into a ${x.dtype} tensor`,
      );
    if (inplaceNeedsGrad(`${name}_`, x)) {
      if (!spec.saveOutput) return rebase(`${name}_`, x, fn);
      // the formula reads only the output: write in place, then save x as it
      return writeInPlace(
        x,
        () => runKernel(id(), [x], [x]),
        () => record(name, x, [x], spec.grad as GradFn, {}, true),
      );
    }
    runKernel(id(), [x], [x]);
    bumpVersion(x);
    return x;
  };
  const row: OpRow<(x: Tensor) => Tensor> = {
    name,
    kind: 'unary',
    native: { nin: 1, nout: 1, nattr: 0 },
    dtypes: spec.dtypes,
    fn,
    grad: spec.grad,
    cases: (rng, dtype) => {
      const shapes = [...EDGE_SHAPES, randShape(rng), randShape(rng)];
      const cases: Case[] = [];
      for (const shape of shapes)
        for (const layout of LAYOUTS) {
          const { t, ref } = makeInput(rng, shape, dtype, layout, spec.range);
          const od = outDtype(dtype);
          cases.push({
            label: `${shapeStr(shape)} ${layout}`,
            got: fn(t),
            want: { shape, data: ref.data.map((v) => roundTo(od, spec.ref(v))) },
            tol: spec.tol,
          });
          t.dispose();
        }
      return cases;
    },
    gradSamples: (rng) =>
      'nondiff' in spec.grad
        ? []
        : [[], [5], [3, 4], [2, 3, 2]].map((shape) => ({
            label: shapeStr(shape),
            fn: (x: Tensor) => fn(x),
            inputs: [makeInput(rng, shape, 'float64', 'contiguous', spec.range ?? [-2, 2]).t.requiresGrad_()],
          })),
    errors: () => [
      { label: 'not a tensor', run: () => fn(3 as unknown as Tensor), code: 'ERR_ARG' },
      ...(spec.dtypes.includes('bool') || spec.floatOnly
        ? []
        : [{ label: 'bool input', run: () => fn(fromNumbers([1], [1], 'bool')), code: 'ERR_DTYPE' as const }]),
    ],
  };
  return Object.assign(row, { inplace });
}

// ---------------------------------------------------------------------------------------------
// Elementwise binary (broadcasting, type promotion, JS scalars)

export interface BinarySpec {
  dtypes: readonly DType[];
  ref: (a: number, b: number) => number;
  /** Gradients for (a, b) at the broadcast shape; the kind sums them back to each input. */
  grad: GradFn | { nondiff: string };
  floatOnly?: boolean;
  /** Comparison or logical op: bool output. */
  boolOut?: boolean;
  /** Inputs are read as booleans (logical ops). */
  logical?: boolean;
  saveOutput?: boolean;
  /** The gradient reads no input values (add, sub): the in-place form under autograd copies nothing. */
  selfFree?: boolean;
  range?: [number, number];
  rangeB?: [number, number];
  tol?: number;
}

function resultType(name: string, a: TensorLike, b: TensorLike): DType {
  if (a instanceof Tensor && b instanceof Tensor) return promoteTypes(a.dtype, b.dtype);
  if (a instanceof Tensor) return promoteWithScalar(a.dtype, b as number);
  if (b instanceof Tensor) return promoteWithScalar(b.dtype, a as number);
  throw new KilnError('ERR_ARG', `${name}: at least one argument must be a Tensor`);
}

function operand(x: TensorLike, name: string, arg: string, dtype: DType): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x !== 'number' && typeof x !== 'boolean')
    throw new KilnError(
      'ERR_ARG',
      `${name}: ${arg} must be a Tensor, number or boolean, got ${x === null ? 'null' : typeof x}`,
    );
  return scalarTensor(x, dtype);
}

/** Disposes the operand made for a JS scalar (cached scalars stay). */
const dropOperand = (t: Tensor, x: TensorLike): void => {
  if (t !== x && !isCachedScalar(t)) t.dispose();
};

export function binaryKind(name: string, spec: BinarySpec) {
  const id = opId(name);
  const computeOf = (d: DType): DType => (spec.logical ? 'bool' : spec.floatOnly && !isFloating(d) ? 'float32' : d);
  const gradFn: GradFn | null =
    'nondiff' in spec.grad
      ? null
      : (g, ctx) => {
          const gs = (spec.grad as GradFn)(g, ctx);
          return gs.map((gi, i) => (gi ? castTo(sumTo(gi, ctx.inputs[i]._shape), ctx.inputs[i].dtype) : null));
        };
  /** out = a op b; `out` given: write into it (in-place forms). */
  const run = (a: TensorLike, b: TensorLike, into: Tensor | null): Tensor => {
    if (a instanceof Tensor) a._check(name);
    if (b instanceof Tensor) b._check(name);
    const rt = resultType(name, a, b);
    const cd = computeOf(rt);
    if (!spec.dtypes.includes(cd))
      throw new KilnError(
        'ERR_DTYPE',
        `${name}: not defined for dtype ${rt} (inputs ${a instanceof Tensor ? a.dtype : typeof a} and ${b instanceof Tensor ? b.dtype : typeof b})`,
      );
    const ta = operand(a, name, 'input', cd),
      tb = operand(b, name, 'other', cd);
    const shape = broadcastShapes(name, ta._shape, tb._shape);
    const od: DType = spec.boolOut ? 'bool' : cd;
    if (into) {
      if (shape.length !== into.ndim || shape.some((s, i) => s !== into._shape[i]))
        throw new KilnError(
          'ERR_SHAPE',
          `${name}_: result of shape ${shapeStr(shape)} cannot be written into a tensor of shape ${shapeStr(into._shape)}`,
        );
      if (!isFloating(into.dtype) && isFloating(od))
        throw new KilnError('ERR_DTYPE', `${name}_: result dtype ${od} cannot be written into a ${into.dtype} tensor`);
    }
    const ca = castTo(ta, cd),
      cb = castTo(tb, cd);
    const ea = sameShape(ca._shape, shape) ? ca : expandRaw(ca, shape);
    const eb = sameShape(cb._shape, shape) ? cb : expandRaw(cb, shape);
    const direct = into && into.dtype === od;
    const out = direct ? into : Tensor._empty(shape, od, name);
    runKernel(id(), [out], [ea, eb]);
    for (const t of [ea !== ca ? ea : null, eb !== cb ? eb : null, ca !== ta ? ca : null, cb !== tb ? cb : null])
      t?.dispose();
    if (into && !direct) {
      into.copy_(out);
      out.dispose();
    }
    dropOperand(ta, a);
    dropOperand(tb, b);
    if (into) {
      bumpVersion(into);
      return into;
    }
    return attach(out, a, b);
  };
  /** Records out = a op b for autograd (for a scalar operand the formula gets a constant). */
  const attach = (out: Tensor, a: TensorLike, b: TensorLike): Tensor => {
    if (!gradFn || !isFloating(out.dtype)) return out;
    const ins = [a instanceof Tensor ? a : null, b instanceof Tensor ? b : null].filter((t): t is Tensor => t !== null);
    if (ins.length === 2) return record(name, out, ins, gradFn, {}, spec.saveOutput);
    // One scalar: give the formula a constant in its place and return the tensor's gradient only.
    const scalarFirst = !(a instanceof Tensor);
    const k = (scalarFirst ? a : b) as number;
    const f: GradFn = (g, ctx) => {
      const c = scalarTensor(k, ctx.inputs[0].dtype);
      const inputs = scalarFirst ? [c, ctx.inputs[0]] : [ctx.inputs[0], c];
      const gs = (spec.grad as GradFn)(g, { ...ctx, inputs });
      const gi = gs[scalarFirst ? 1 : 0];
      return [gi ? castTo(sumTo(gi, ctx.inputs[0]._shape), ctx.inputs[0].dtype) : null];
    };
    return record(name, out, ins, f, {}, spec.saveOutput);
  };
  const fn = (a: TensorLike, b: TensorLike): Tensor => run(a, b, null);
  const inplace = (self: Tensor, other: TensorLike): Tensor => {
    checkTensor(self, `${name}_`, 'self');
    if (inplaceNeedsGrad(`${name}_`, self, other instanceof Tensor ? [other] : [])) {
      if (!spec.selfFree) return rebase(`${name}_`, self, (s) => run(s, other, null));
      return writeInPlace(
        self,
        () => run(self, other, self),
        () => attach(self, self, other),
      );
    }
    return run(self, other, self);
  };
  const row: OpRow<(a: TensorLike, b: TensorLike) => Tensor> = {
    name,
    kind: 'binary',
    native: { nin: 2, nout: 1, nattr: 0 },
    dtypes: spec.dtypes,
    fn,
    grad: spec.grad,
    cases: (rng, dtype) => {
      const cases: Case[] = [];
      const pairs: [number[], number[]][] = [
        [[], []],
        [[5], [5]],
        [[3, 4], [4]],
        [
          [3, 1],
          [1, 4],
        ],
        [
          [2, 1, 3],
          [4, 1],
        ],
        [
          [0, 3],
          [1, 3],
        ],
        [
          [17, 33],
          [17, 33],
        ],
        [[1000], []],
        [
          [2, 3, 4, 5],
          [3, 1, 5],
        ],
      ];
      for (let i = 0; i < 3; i++) {
        const s = randShape(rng, 3);
        pairs.push([s, s.map((v) => (rng() < 0.3 ? 1 : v)).slice(randInt(rng, 0, s.length))]);
      }
      const od = spec.boolOut ? 'bool' : dtype;
      for (const [sa, sb] of pairs)
        for (const layout of LAYOUTS) {
          const A = makeInput(rng, sa, dtype, layout, spec.range);
          const B = makeInput(
            rng,
            sb,
            dtype,
            layout === 'transposed' ? 'strided' : 'contiguous',
            spec.rangeB ?? spec.range,
          );
          const shape = broadcastShapes(name, sa, sb);
          const n = numelOf(shape);
          const data = new Array<number>(n);
          for (let k = 0; k < n; k++) {
            const idx = unravel(k, shape);
            data[k] = roundTo(od, spec.ref(broadcastAt(A.ref, idx), broadcastAt(B.ref, idx)));
          }
          cases.push({
            label: `${shapeStr(sa)} ${shapeStr(sb)} ${layout}`,
            got: fn(A.t, B.t),
            want: { shape, data },
            tol: spec.tol,
          });
          A.t.dispose();
          B.t.dispose();
        }
      // with a JS scalar on either side
      const A = makeInput(rng, [4, 3], dtype, 'contiguous', spec.range);
      const s = dtype === 'bool' ? 1 : isFloating(dtype) ? 1.5 : 2;
      const sd = spec.boolOut ? 'bool' : computeOf(promoteWithScalar(dtype, s));
      if (spec.dtypes.includes(computeOf(promoteWithScalar(dtype, s)))) {
        cases.push({
          label: 'tensor, scalar',
          got: fn(A.t, s),
          want: { shape: [4, 3], data: A.ref.data.map((v) => roundTo(sd, spec.ref(v, s))) },
          tol: spec.tol,
        });
        cases.push({
          label: 'scalar, tensor',
          got: fn(s, A.t),
          want: { shape: [4, 3], data: A.ref.data.map((v) => roundTo(sd, spec.ref(s, v))) },
          tol: spec.tol,
        });
      }
      A.t.dispose();
      return cases;
    },
    gradSamples: (rng) => {
      if ('nondiff' in spec.grad || spec.boolOut) return [];
      const mk = (s: number[], r?: [number, number]) =>
        makeInput(rng, s, 'float64', 'contiguous', r ?? [-2, 2]).t.requiresGrad_();
      const pairs: [number[], number[]][] = [
        [[], []],
        [[4], [4]],
        [[3, 4], [4]],
        [
          [3, 1],
          [1, 2],
        ],
      ];
      const out: GradSample[] = pairs.map(([sa, sb]) => ({
        label: `${shapeStr(sa)} ${shapeStr(sb)}`,
        fn: (a: Tensor, b: Tensor) => fn(a, b),
        inputs: [mk(sa, spec.range), mk(sb, spec.rangeB ?? spec.range)],
      }));
      out.push({ label: 'tensor, scalar', fn: (a: Tensor) => fn(a, 1.5), inputs: [mk([3], spec.range)] });
      return out;
    },
    errors: (): ErrorCase[] => [
      {
        label: 'shapes do not broadcast',
        run: () => fn(fromNumbers([1, 2, 3], [3], spec.dtypes[0]), fromNumbers([1, 2], [2], spec.dtypes[0])),
        code: 'ERR_SHAPE',
      },
      { label: 'two scalars', run: () => fn(1, 2), code: 'ERR_ARG' },
      {
        label: 'a string operand',
        run: () => fn(fromNumbers([1], [1], spec.dtypes[0]), 'x' as unknown as number),
        code: 'ERR_ARG',
      },
    ],
  };
  return Object.assign(row, { inplace });
}

/**
 * f of a detached handle on x, the handle disposed afterwards: for ops that read x's data into a
 * tensor of their own and record their own gradient. A handle left undisposed would keep x's
 * memory alive until the garbage collector ran (f must not return the handle itself).
 */
export function withDetached<R>(x: Tensor, f: (d: Tensor) => R): R {
  const d = x.detach();
  try {
    return f(d);
  } finally {
    d.dispose();
  }
}
