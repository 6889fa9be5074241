/**
 * Inclusive scans along one dim, as torch's cumsum, cumprod, cummax, cummin and logcumsumexp.
 *
 * cumsum on the CPU is one native kernel (native/cpu/scan.cpp): one read and one write per
 * element, float32 and float64 summed left to right in double as PyTorch's CPU cumsum is (so
 * float32 results are the exact running sums rounded once), int32 / int64 in their own type;
 * its gradient is the same kernel run from the end. The 16-bit floats sum in float32 and round
 * back; the small integer types and bool in int64.
 *
 * cumprod, and cumsum on devices without the kernel, are written with the table's primitives
 * (narrow, add or mul, cat): ceil(log2 n) rounds, round k combining every element with the one
 * 2^k before it (a Hillis-Steele scan), so each is differentiable through its ops, on every
 * device; a cumprod's gradient is exact where the input has zeros (no division). Those results
 * come in a tree order (each output a sum or product of ceil(log2 n) partials): within float
 * rounding of PyTorch's, not bit-equal to it.
 */
import { record } from '../autograd/node';
import { hasKernel } from '../cuda';
import { arange, fromNumbers } from '../creation';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { logaddexp } from './arith';
import type { ValuesIndices } from './sort';
import { runKernel } from '../dispatch';
import type { DType } from '../dtype';
import { isFloating, roundTo } from '../dtype';
import { normDim, numelOf, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { dense, disposeTemps } from './dense';
import { cat, where } from './indexing';
import { checkTensor } from './kinds';
import { OP } from './op_ids.gen';
import type { Case, OpRow, Rng } from './row';
import { LAYOUTS, errorCases, gradInput, makeInput, randInt, randShape } from './samples';

/** Options of cumsum / cumprod: the dtype the scan runs and returns in (torch's `dtype=`). */
export interface ScanOptions {
  dtype?: DType;
}

function scan(
  op: string,
  x: Tensor,
  dim: number,
  opts: ScanOptions,
  combine: (a: Tensor, b: Tensor) => Tensor,
): Tensor {
  checkTensor(x, op, 'input');
  // Integers and bools scan in int64, as PyTorch's do, unless a dtype says otherwise.
  const dt: DType = opts.dtype ?? (isFloating(x.dtype) ? x.dtype : 'int64');
  const x0 = x.ndim === 0 ? x.reshape([1]) : x;
  const d = normDim(dim, x0.ndim, op);
  const n = x0._shape[d];
  let y = x0.dtype === dt ? x0 : x0.to(dt);
  for (let k = 1; k < n; k *= 2) {
    const head = y.narrow(d, 0, k),
      rest = y.narrow(d, k, n - k),
      before = y.narrow(d, 0, n - k);
    const tail = combine(rest, before);
    const next = cat([head, tail], d);
    for (const t of [head, rest, before, tail, y !== x0 ? y : null]) t?.dispose();
    y = next;
  }
  if (y === x0) y = x0.clone();
  if (x0 !== x) {
    const out = y.reshape([]);
    y.dispose();
    x0.dispose();
    return out;
  }
  return y;
}

/**
 * Running sums along dim (torch.cumsum): out[i] = x[0] + ... + x[i]. Integers and bools give
 * int64 unless `dtype` is given.
 * @example
 * kiln.tensor([1, 2, 3, 4]).cumsum(0); // [1, 3, 6, 10]
 */
export function cumsum(x: Tensor, dim: number, opts: ScanOptions = {}): Tensor {
  checkTensor(x, 'cumsum', 'input');
  if (x.device !== 'cpu' && !hasKernel(OP.CUMSUM)) return scan('cumsum', x, dim, opts, (a, b) => a.add(b));
  const d = normDim(dim, Math.max(1, x.ndim), 'cumsum');
  const dt: DType = opts.dtype ?? (isFloating(x.dtype) ? x.dtype : 'int64');
  // the kernel's dtypes: the 16-bit floats sum in float32, the small integers and bool in int64
  const kd: DType = KERNEL_DTYPES.includes(dt) ? dt : isFloating(dt) ? 'float32' : 'int64';
  const xk = x.dtype === kd ? x : x.to(kd);
  const yk = scanNative(xk, d, false);
  const y = kd === dt ? yk : yk.to(dt);
  disposeTemps([
    [xk, x],
    [yk, y],
  ]);
  return y;
}

const KERNEL_DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'int64'];

/** The kernel's running sums of x (a kernel dtype) along d, from the end with reverse. */
function scanNative(x: Tensor, d: number, reverse: boolean): Tensor {
  const xc = dense(x);
  const out = Tensor._empty(x._shape.slice(), x.dtype, 'cumsum');
  runKernel(OP.CUMSUM, [out], [xc], [d, reverse ? 1 : 0]);
  disposeTemps([[xc, x]]);
  // d out[j] / d x[i] = 1 for i <= j: the gradient is g summed from the other end
  return record('cumsum', out, [x], (g, c) => [scanNative(g, d, !reverse)], { dim: d, reverse });
}

/**
 * Running products along dim (torch.cumprod): out[i] = x[0] * ... * x[i]. Integers and bools
 * give int64 unless `dtype` is given.
 * @example
 * kiln.tensor([1, 2, 3, 4]).cumprod(0); // [1, 2, 6, 24]
 */
export function cumprod(x: Tensor, dim: number, opts: ScanOptions = {}): Tensor {
  return scan('cumprod', x, dim, opts, (a, b) => a.mul(b));
}

/**
 * log(e^x[0] + ... + e^x[i]) along dim without overflow (torch.logcumsumexp): the Hillis-Steele
 * scan with logaddexp, which is associative.
 */
export function logcumsumexp(x: Tensor, dim: number): Tensor {
  checkTensor(x, 'logcumsumexp', 'input');
  if (!isFloating(x.dtype)) throw new KilnError('ERR_DTYPE', `logcumsumexp: input must be floating, got ${x.dtype}`);
  return scan('logcumsumexp', x, dim, {}, (a, b) => logaddexp(a, b));
}

/**
 * Running max (min) along dim and where it was (torch.cummax / cummin): a Hillis-Steele scan of
 * (value, index) pairs, a later element taking over from an equal one and a NaN from anything,
 * as PyTorch's loop does (so the pair order is total and the scan associative). Differentiable
 * in the values.
 */
function cumExtreme(op: string, x: Tensor, dim: number, max: boolean): ValuesIndices {
  checkTensor(x, op, 'input');
  const x0 = x.ndim === 0 ? x.reshape([1]) : x;
  const d = normDim(dim, x0.ndim, op);
  const n = x0._shape[d];
  const r = scope(() => {
    let v = x0;
    let i = arange(0, n, 1, { dtype: 'int64', device: x.device })
      .reshape(x0._shape.map((s, k) => (k === d ? n : 1)))
      .expand(x0._shape.slice());
    const float = isFloating(x.dtype);
    for (let k = 1; k < n; k *= 2) {
      const late = v.narrow(d, k, n - k),
        early = v.narrow(d, 0, n - k);
      let take = max ? late.ge(early) : late.le(early);
      if (float) take = take.logicalOr(late.isnan());
      v = cat([v.narrow(d, 0, k), where(take, late, early)], d);
      i = cat([i.narrow(d, 0, k), where(take, i.narrow(d, k, n - k), i.narrow(d, 0, n - k))], d);
    }
    const out = x.ndim === 0 ? { values: v.reshape([]), indices: i.reshape([]) } : { values: v, indices: i };
    return { values: out.values === x ? x.clone() : out.values, indices: out.indices.contiguous() };
  });
  return r;
}
export const cummax = (x: Tensor, dim: number): ValuesIndices => cumExtreme('cummax', x, dim, true);
export const cummin = (x: Tensor, dim: number): ValuesIndices => cumExtreme('cummin', x, dim, false);

// ---- Op-table row (cumsum's kernel) ----

/** Plain float64 running sums along d, forward or from the end, rounded to dtype at the end. */
function refCumsum(vals: number[], shape: number[], d: number, reverse: boolean, dtype: DType): number[] {
  const s = shape.length ? shape : [1];
  const n = s[d],
    inner = numelOf(s.slice(d + 1));
  const out = vals.slice();
  for (let o = 0; o < out.length; o += n * inner)
    for (let j = 0; j < inner; j++) {
      let acc = 0;
      for (let t = 0; t < n; t++) {
        const i = o + (reverse ? n - 1 - t : t) * inner + j;
        acc += vals[i];
        if (dtype === 'int32') acc |= 0;
        if (dtype === 'int64') acc = Number(BigInt.asIntN(64, BigInt(acc)));
        out[i] = acc;
      }
    }
  return out.map((v) => roundTo(dtype, v));
}

export const cumsumRow: OpRow<typeof cumsum> = {
  name: 'cumsum',
  kind: 'custom',
  native: { nin: 1, nout: 1, nattr: 2 },
  dtypes: ['float32', 'float64', 'int32', 'int64', 'float16', 'bfloat16'],
  fn: cumsum,
  grad: (g, c) => [scanNative(g, c.attrs.dim as number, !(c.attrs.reverse as boolean))],
  cases: (rng: Rng, dtype) => {
    const out: Case[] = [];
    // long rows (pieces of 2^14 and a short last one), rows in lockstep groups of 8 and their
    // leftovers, columns past a strip of 256, 0-d and empty
    const shapes: [number[], number][] = [
      [[3, 40000], 1],
      [[17, 33], 1],
      [[5, 300, 2], 1],
      [[2, 3, 600], 0],
      [[], 0],
      [[0, 4], 1],
    ];
    for (let k = 0; k < 4; k++) {
      const sh = randShape(rng, 4);
      shapes.push([sh, sh.length ? randInt(rng, -sh.length, sh.length - 1) : 0]);
    }
    const float = isFloating(dtype);
    for (const [shape, dim] of shapes) {
      const layout = LAYOUTS[randInt(rng, 0, 3)];
      const A = makeInput(rng, shape, dtype, layout, float ? [-4, 4] : [-50, 50]);
      const d = dim < 0 ? dim + shape.length : dim;
      out.push({
        label: `cumsum ${shapeStr(shape)} dim ${dim} ${layout}`,
        got: cumsum(A.t, dim),
        want: { shape, data: refCumsum(A.ref.data, shape, d, false, dtype) },
        tol: 8,
      });
      A.t.dispose();
    }
    if (dtype === 'int64' || dtype === 'int32') {
      // wrapping past the type's range, as PyTorch's integer sums
      const v = dtype === 'int32' ? [2 ** 31 - 1, 2 ** 31 - 1, 1] : [2 ** 62, 2 ** 62, 2 ** 62];
      const t = fromNumbers(v, [3], dtype);
      out.push({
        label: `cumsum wraps (${dtype})`,
        got: cumsum(t, 0, { dtype }),
        want: { shape: [3], data: refCumsum(v, [3], 0, false, dtype) },
      });
      t.dispose();
    }
    return out;
  },
  gradSamples: (rng) => [
    { label: 'rows', fn: (x) => cumsum(x, 1), inputs: [gradInput(rng, [3, 5])] },
    { label: 'dim 0', fn: (x) => cumsum(x, 0), inputs: [gradInput(rng, [4, 3])] },
    { label: 'inner dim', fn: (x) => cumsum(x, 1), inputs: [gradInput(rng, [2, 3, 4])] },
    { label: '0-d', fn: (x) => cumsum(x, 0), inputs: [gradInput(rng, [])] },
  ],
  errors: () =>
    errorCases([
      ['dim out of range', () => cumsum(fromNumbers([1, 2], [2], 'float32'), 1), 'ERR_ARG'],
      ['dim out of range (negative)', () => cumsum(fromNumbers([1, 2], [1, 2], 'float32'), -3), 'ERR_ARG'],
      ['not a tensor', () => cumsum([1, 2] as never, 0), 'ERR_ARG'],
    ]),
};
