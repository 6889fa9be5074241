/**
 * Truth tests as torch.any / all / isclose / allclose / equal, written with the table's
 * comparisons and reductions: over a bool tensor amax is "or" and amin is "and". None of them is
 * differentiable (their results are bool).
 */
import { full } from '../creation';
import { isFloating, promoteTypes } from '../dtype';
import { KilnError } from '../errors';
import { normDims } from '../shape';
import type { Tensor } from '../tensor';
import { checkTensor } from './kinds';

/** `x` as bool (non-zero is true), the dims it reduces, and whether they hold no element. */
function truth(x: Tensor, dim: number | number[] | null | undefined, name: string) {
  checkTensor(x, name, 'input');
  const dims = normDims(dim, x.ndim, name);
  const empty = dims.some((d) => x._shape[d] === 0);
  return { b: x.dtype === 'bool' ? x : x.ne(0), dims, empty };
}

/** The shape a reduction over `dims` leaves. */
const reducedShape = (x: Tensor, dims: number[], keepdim: boolean): number[] =>
  x._shape.flatMap((s, d) => (dims.includes(d) ? (keepdim ? [1] : []) : [s]));

function reduceTruth(
  x: Tensor,
  dim: number | number[] | null | undefined,
  keepdim: boolean,
  name: string,
  isAny: boolean,
) {
  const { b, dims, empty } = truth(x, dim, name);
  // Over no element: any is false and all is true (the identities), as in PyTorch.
  if (empty) return full(reducedShape(x, dims, keepdim), !isAny, { dtype: 'bool', device: x.device });
  const r = isAny ? b.amax(dims, keepdim) : b.amin(dims, keepdim);
  if (b !== x) b.dispose();
  return r;
}

/** True where any element over `dim` (all dims by default) is non-zero; bool. */
export const any = (x: Tensor, dim?: number | number[] | null, keepdim = false): Tensor =>
  reduceTruth(x, dim, keepdim, 'any', true);

/** True where every element over `dim` (all dims by default) is non-zero; bool. */
export const all = (x: Tensor, dim?: number | number[] | null, keepdim = false): Tensor =>
  reduceTruth(x, dim, keepdim, 'all', false);

export interface CloseOptions {
  /** relative tolerance (default 1e-5) */
  rtol?: number;
  /** absolute tolerance (default 1e-8) */
  atol?: number;
  /** NaN is close to NaN (default false) */
  equalNan?: boolean;
}

/**
 * |a - b| <= atol + rtol |b| elementwise (broadcast), as torch.isclose: equal infinities are
 * close, NaN is close to nothing unless equalNan; integer and bool inputs compare exactly when
 * both tolerances are 0, else through float64.
 */
export function isclose(a: Tensor, b: Tensor, opts: CloseOptions = {}): Tensor {
  checkTensor(a, 'isclose', 'input');
  checkTensor(b, 'isclose', 'other');
  const rtol = opts.rtol ?? 1e-5,
    atol = opts.atol ?? 1e-8;
  for (const [k, v] of [
    ['rtol', rtol],
    ['atol', atol],
  ] as const)
    if (!(v >= 0)) throw new KilnError('ERR_ARG', `isclose: ${k} must be a non-negative number, got ${v}`);
  const dt = promoteTypes(a.dtype, b.dtype);
  if (!isFloating(dt) && rtol === 0 && atol === 0) return a.eq(b);
  const fd = isFloating(dt) ? dt : 'float64';
  const x = a.to(fd),
    y = b.to(fd);
  // A finite difference within the tolerance (|b| = inf would make any finite a "close"), or equal.
  const diff = x.sub(y).abs();
  const within = diff.le(y.abs().mul(rtol).add(atol)).logicalAnd(diff.lt(Infinity));
  let close = within.logicalOr(x.eq(y));
  if (opts.equalNan) close = close.logicalOr(x.ne(x).logicalAnd(y.ne(y)));
  for (const t of [diff, within, x !== a ? x : null, y !== b ? y : null]) t?.dispose();
  return close;
}

/** Whether every element of bool t is true (a JS boolean); disposes t. */
function allTrue(t: Tensor): boolean {
  const r = all(t);
  const v = r.item() as boolean;
  t.dispose();
  r.dispose();
  return v;
}

/** Whether every element of isclose(a, b, opts) is true (a JS boolean), as torch.allclose. */
export const allclose = (a: Tensor, b: Tensor, opts: CloseOptions = {}): boolean => allTrue(isclose(a, b, opts));

/** Same shape and the same values (a JS boolean), as torch.equal. NaN equals nothing. */
export function equal(a: Tensor, b: Tensor): boolean {
  checkTensor(a, 'equal', 'input');
  checkTensor(b, 'equal', 'other');
  if (a.ndim !== b.ndim || a._shape.some((s, d) => s !== b._shape[d])) return false;
  return allTrue(a.eq(b));
}
