/** Shape arithmetic: strides, broadcasting, dim normalisation. Pure functions, no tensors. */
import { KilnError } from './errors';

export const MAX_DIMS = 8;

export type Shape = readonly number[];

export const numelOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);

export function contiguousStrides(shape: Shape): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function checkShape(shape: unknown, op: string, arg = 'shape'): number[] {
  if (!Array.isArray(shape))
    throw new KilnError('ERR_SHAPE', `${op}: ${arg} must be an array of sizes, got ${String(shape)}`);
  if (shape.length > MAX_DIMS)
    throw new KilnError('ERR_SHAPE', `${op}: ${arg} ${shapeStr(shape)} has more than ${MAX_DIMS} dims`);
  for (const s of shape)
    if (!Number.isInteger(s) || s < 0)
      throw new KilnError('ERR_SHAPE', `${op}: ${arg} ${shapeStr(shape)} has an invalid size ${s}`);
  return shape.slice();
}

/** Normalises a possibly negative dim; `ndim` of 0 accepts -1 and 0 (PyTorch's scalar rule). */
export function normDim(dim: number, ndim: number, op: string, arg = 'dim'): number {
  const n = Math.max(ndim, 1);
  if (!Number.isInteger(dim) || dim < -n || dim >= n)
    throw new KilnError(
      'ERR_ARG',
      `${op}: ${arg} ${dim} is out of range for a tensor of ${ndim} dims (expected [${-n}, ${n - 1}])`,
    );
  return dim < 0 ? dim + n : dim;
}

export function normDims(dims: number | readonly number[] | undefined | null, ndim: number, op: string): number[] {
  if (dims === undefined || dims === null) return Array.from({ length: ndim }, (_, i) => i);
  if (typeof dims !== 'number' && !Array.isArray(dims))
    throw new KilnError('ERR_ARG', `${op}: dims must be a number or an array of numbers, got ${JSON.stringify(dims)}`);
  const list: readonly number[] = typeof dims === 'number' ? [dims] : dims;
  const out = list.map((d) => normDim(d, ndim, op));
  if (new Set(out).size !== out.length) throw new KilnError('ERR_ARG', `${op}: dims [${list.join(', ')}] repeat a dim`);
  return out.sort((a, b) => a - b);
}

/** NumPy broadcasting of several shapes. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  let nd = 0;
  for (const s of shapes) if (s.length > nd) nd = s.length;
  const out = new Array<number>(nd).fill(1);
  for (const s of shapes) {
    const lead = nd - s.length;
    for (let i = 0; i < s.length; i++) {
      const o = lead + i,
        v = s[i];
      if (v === out[o] || v === 1) continue;
      if (out[o] === 1) out[o] = v;
      else
        throw new KilnError(
          'ERR_SHAPE',
          `${op}: shapes ${shapes.map(shapeStr).join(' and ')} cannot be broadcast together (dim ${o}: ${out[o]} vs ${v})`,
        );
    }
  }
  return out;
}

/** Resolves one -1 in a reshape target. */
export function inferShape(shape: readonly number[], numel: number, op: string, from: Shape): number[] {
  const out = shape.slice();
  let neg = -1,
    known = 1;
  for (let i = 0; i < out.length; i++) {
    if (out[i] === -1) {
      if (neg >= 0) throw new KilnError('ERR_SHAPE', `${op}: only one dimension can be -1, got ${shapeStr(shape)}`);
      neg = i;
    } else if (!Number.isInteger(out[i]) || out[i] < 0) {
      throw new KilnError('ERR_SHAPE', `${op}: invalid size ${out[i]} in ${shapeStr(shape)}`);
    } else known *= out[i];
  }
  if (neg >= 0) {
    if (known === 0 || numel % known !== 0)
      throw new KilnError(
        'ERR_SHAPE',
        `${op}: shape ${shapeStr(shape)} is invalid for input of shape ${shapeStr(from)} (${numel} elements)`,
      );
    out[neg] = numel / known;
  }
  if (numelOf(out) !== numel)
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: shape ${shapeStr(shape)} is invalid for input of shape ${shapeStr(from)} (${numel} elements)`,
    );
  if (out.length > MAX_DIMS) throw new KilnError('ERR_SHAPE', `${op}: more than ${MAX_DIMS} dims`);
  return out;
}

/**
 * Strides for viewing (shape, strides) as `target` without a copy, or null when impossible
 * (PyTorch's computeStride).
 */
export function viewStrides(shape: Shape, strides: readonly number[], target: Shape): number[] | null {
  const numel = numelOf(shape);
  if (numel === 0 || shape.length === 0) return contiguousStrides(target);
  const out = new Array<number>(target.length);
  let viewD = target.length - 1;
  let chunkBase = strides[strides.length - 1] ?? 1;
  let tensorNumel = 1,
    viewNumel = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    tensorNumel *= shape[d];
    if (d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || target[viewD] === 1)) {
        out[viewD] = viewNumel * chunkBase;
        viewNumel *= target[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBase = strides[d - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  if (viewD !== -1) return null;
  return out;
}
