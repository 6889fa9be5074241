/**
 * Rearrangements written with the table's primitives, as torch's: flip, roll, repeat, tile,
 * tril, triu, unbind, outer, diag, trace, diff, movedim, rot90, and F.pad's reflect/replicate/circular modes. Each is
 * differentiable through the ops it is made of (indexSelect, cat, expand, where, ...), so none
 * needs a gradient of its own.
 */
import { arange, fromNumbers, zeros } from '../creation';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { normDim, normDims, shapeStr } from '../shape';
import type { Tensor } from '../tensor';
import { cat, checkPads, where } from './indexing';
import { checkTensor } from './kinds';

const ints = (v: number | readonly number[]): number[] => (Array.isArray(v) ? [...v] : [v as number]);

/** x reversed along dims (a copy, as torch.flip). */
export function flip(x: Tensor, dims: number | number[]): Tensor {
  checkTensor(x, 'flip', 'input');
  const ds = normDims(ints(dims), x.ndim, 'flip');
  let out = x;
  for (const d of ds) {
    const n = x._shape[d];
    const idx = arange(n - 1, -1, -1, { dtype: 'int64', device: x.device });
    const next = out.indexSelect(d, idx);
    idx.dispose();
    if (out !== x) out.dispose();
    out = next;
  }
  return out === x ? x.clone() : out;
}

/**
 * x shifted by `shifts` along `dims`, elements past the end coming back at the start (torch.roll);
 * without dims, over the flattened tensor, then back to x's shape.
 */
export function roll(x: Tensor, shifts: number | number[], dims?: number | number[]): Tensor {
  checkTensor(x, 'roll', 'input');
  const sh = ints(shifts);
  if (sh.some((s) => !Number.isInteger(s)))
    throw new KilnError('ERR_ARG', `roll: shifts must be integers, got [${sh}]`);
  if (dims === undefined) {
    if (sh.length !== 1) throw new KilnError('ERR_ARG', `roll: without dims, shifts must be one number, got [${sh}]`);
    const f = x.flatten();
    const r = roll(f, sh[0], 0);
    const out = r.reshape([...x._shape]);
    f.dispose();
    if (out !== r) r.dispose();
    return out;
  }
  const ds = ints(dims).map((d) => normDim(d, x.ndim, 'roll'));
  if (ds.length !== sh.length)
    throw new KilnError('ERR_ARG', `roll: shifts [${sh}] and dims [${ints(dims)}] must have the same length`);
  let out = x;
  ds.forEach((d, i) => {
    const n = x._shape[d];
    const s = n ? ((sh[i] % n) + n) % n : 0;
    if (s === 0) return;
    const tail = out.narrow(d, n - s, s),
      head = out.narrow(d, 0, n - s);
    const next = cat([tail, head], d);
    for (const t of [tail, head, out !== x ? out : null]) t?.dispose();
    out = next;
  });
  return out === x ? x.clone() : out;
}

/**
 * x repeated `sizes[i]` times along dim i (torch.Tensor.repeat): sizes may be longer than x's
 * dims, which then gains leading dims of size 1 first. A copy.
 */
export function repeat(x: Tensor, sizes: number | number[]): Tensor {
  checkTensor(x, 'repeat', 'input');
  const rs = ints(sizes);
  if (rs.length < x.ndim)
    throw new KilnError(
      'ERR_ARG',
      `repeat: needs at least one size per dim of ${shapeStr(x._shape)}, got [${rs}] (tile pads with 1s)`,
    );
  if (rs.some((r) => !Number.isInteger(r) || r < 0))
    throw new KilnError('ERR_ARG', `repeat: sizes must be non-negative integers, got [${rs}]`);
  const shape = [...Array(rs.length - x.ndim).fill(1), ...x._shape];
  // [1, s0, 1, s1, ...] expanded to [r0, s0, r1, s1, ...], then merged pairwise.
  const pairs = shape.flatMap((s) => [1, s]);
  const v = x.reshape(pairs);
  const e = v.expand(shape.flatMap((s, i) => [rs[i], s]));
  const out = e.reshape(shape.map((s, i) => s * rs[i]));
  const c = out.contiguous();
  for (const t of [v !== x ? v : null, e, out !== c ? out : null]) t?.dispose();
  return c;
}

/** As repeat, with fewer sizes than dims allowed (torch.tile): missing leading sizes are 1. */
export function tile(x: Tensor, reps: number | number[]): Tensor {
  checkTensor(x, 'tile', 'input');
  const rs = ints(reps);
  return repeat(x, [...Array(Math.max(0, x.ndim - rs.length)).fill(1), ...rs]);
}

/** Whether column j - row i of the last two dims passes `keep` (a [rows, cols] bool mask). */
function band(x: Tensor, name: string, keep: (d: Tensor) => Tensor): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    checkTensor(x, name, 'input');
    if (x.ndim < 2) throw new KilnError('ERR_SHAPE', `${name}: needs at least 2 dims, got ${shapeStr(x._shape)}`);
    const [r, c] = x._shape.slice(-2);
    const i = arange(0, r, 1, { dtype: 'int64', device: x.device }).unsqueeze(1),
      j = arange(0, c, 1, { dtype: 'int64', device: x.device });
    const d = j.sub(i);
    const mask = keep(d);
    const out = where(mask, x, 0).to(x.dtype);
    for (const t of [i, j, d, mask]) t.dispose();
    return out;
  });
}

/** The lower triangle of the last two dims (j - i <= diagonal), zeros above (torch.tril). */
export const tril = (x: Tensor, diagonal = 0): Tensor => band(x, 'tril', (d) => d.le(diagonal));

/** The upper triangle of the last two dims (j - i >= diagonal), zeros below (torch.triu). */
export const triu = (x: Tensor, diagonal = 0): Tensor => band(x, 'triu', (d) => d.ge(diagonal));

/** The slices of x along dim, each without that dim (torch.unbind). */
export function unbind(x: Tensor, dim = 0): Tensor[] {
  checkTensor(x, 'unbind', 'input');
  const d = normDim(dim, x.ndim, 'unbind');
  return Array.from({ length: x._shape[d] }, (_, i) => x.select(d, i));
}

/** a[i] * b[j] for 1-d a and b (torch.outer). */
export function outer(a: Tensor, b: Tensor): Tensor {
  checkTensor(a, 'outer', 'input');
  checkTensor(b, 'outer', 'vec2');
  if (a.ndim !== 1 || b.ndim !== 1)
    throw new KilnError(
      'ERR_SHAPE',
      `outer: needs two 1-d tensors, got ${shapeStr(a._shape)} and ${shapeStr(b._shape)}`,
    );
  const col = a.unsqueeze(1);
  const out = col.mul(b);
  col.dispose();
  return out;
}

/**
 * torch.diag: a 1-d x becomes the `diagonal`-th diagonal of a square matrix (zeros elsewhere); a
 * 2-d x gives its `diagonal`-th diagonal as a 1-d tensor (above the main one when positive).
 */
export function diag(x: Tensor, diagonal = 0): Tensor {
  checkTensor(x, 'diag', 'input');
  if (!Number.isInteger(diagonal)) throw new KilnError('ERR_ARG', `diag: diagonal must be an integer, got ${diagonal}`);
  const k = diagonal;
  if (x.ndim === 1) {
    const n = x._shape[0],
      m = n + Math.abs(k);
    // Row i holds x[i] at column i + k (k >= 0); column j holds x[j] at row j - k (k < 0).
    const padded = x.pad([0, Math.abs(k)]);
    const v = k >= 0 ? padded.unsqueeze(1) : padded.unsqueeze(0);
    const e = v.expand([m, m]);
    const out = tril(triu(e, k), k);
    for (const t of [padded, v, e]) t.dispose();
    return out;
  }
  if (x.ndim !== 2) throw new KilnError('ERR_SHAPE', `diag: needs a 1-d or 2-d tensor, got ${shapeStr(x._shape)}`);
  const [r, c] = x._shape;
  const len = Math.max(0, k >= 0 ? Math.min(r, c - k) : Math.min(r + k, c));
  if (len === 0) return zeros([0], { dtype: x.dtype, device: x.device });
  const start = k >= 0 ? k : -k * c;
  const idx = arange(start, start + len * (c + 1), c + 1, { dtype: 'int64', device: x.device });
  const flat = x.reshape([r * c]);
  const out = flat.indexSelect(0, idx);
  for (const t of [idx, flat !== x ? flat : null]) t?.dispose();
  return out;
}

/** The sum of a 2-d x's main diagonal (torch.trace). */
export function trace(x: Tensor): Tensor {
  checkTensor(x, 'trace', 'input');
  if (x.ndim !== 2) throw new KilnError('ERR_SHAPE', `trace: needs a 2-d tensor, got ${shapeStr(x._shape)}`);
  const d = diag(x);
  const s = d.sum();
  d.dispose();
  return s;
}

/** The padding modes of torch.nn.functional.pad that read x's own values. */
export type PadMode = 'reflect' | 'replicate' | 'circular';

/**
 * x padded with its own values along its last pads.length / 2 dims, pads in PyTorch's order
 * ([left, right] of the last dim, then the dim before): 'reflect' mirrors without repeating the
 * edge (each pad < the dim's size), 'replicate' repeats the edge, 'circular' wraps around (each
 * pad <= the dim's size). One index gather per padded dim, so the gradient sums into the sources.
 */
export function padWith(x: Tensor, pads: readonly number[], mode: PadMode): Tensor {
  checkPads(x, pads);
  return scope(() => {
    let out = x;
    for (let i = 0; i < pads.length / 2; i++) {
      const d = x.ndim - 1 - i,
        n = x._shape[d],
        [l, r] = [pads[2 * i], pads[2 * i + 1]];
      if (l === 0 && r === 0) continue;
      const limit = mode === 'reflect' ? n - 1 : mode === 'circular' ? n : Infinity;
      if (n === 0 || l > limit || r > limit)
        throw new KilnError(
          'ERR_ARG',
          `pad: ${mode} padding [${l}, ${r}] of dim ${d} (size ${n}) must be ${mode === 'replicate' ? 'of a non-empty dim' : `at most ${limit}`}`,
        );
      const src = (j: number): number =>
        mode === 'reflect'
          ? j < 0
            ? -j
            : j >= n
              ? 2 * (n - 1) - j
              : j
          : mode === 'replicate'
            ? Math.min(Math.max(j, 0), n - 1)
            : ((j % n) + n) % n;
      const idx = fromNumbers(
        Array.from({ length: n + l + r }, (_, k) => src(k - l)),
        [n + l + r],
        'int64',
        'pad',
        x.device,
      );
      out = out.indexSelect(d, idx);
    }
    return out === x ? x.clone() : out;
  });
}

/**
 * The n-th forward difference along dim (torch.diff; the last by default): x[i + 1] - x[i],
 * prepend and append joined on first; bool gives logical xor.
 */
export function diff(x: Tensor, n = 1, dim = -1, prepend: Tensor | null = null, append: Tensor | null = null): Tensor {
  checkTensor(x, 'diff', 'input');
  if (x.ndim === 0) throw new KilnError('ERR_SHAPE', 'diff: input must have at least 1 dim');
  if (!Number.isInteger(n) || n < 0) throw new KilnError('ERR_ARG', `diff: n must be a non-negative integer, got ${n}`);
  const d = normDim(dim, x.ndim, 'diff');
  return scope(() => {
    let y = prepend || append ? cat([...(prepend ? [prepend] : []), x, ...(append ? [append] : [])], d) : x;
    for (let k = 0; k < n && y.shape[d] > 0; k++) {
      const L = y.shape[d] - 1;
      const hi = y.narrow(d, 1, L),
        lo = y.narrow(d, 0, L);
      y = y.dtype === 'bool' ? hi.logicalXor(lo) : hi.sub(lo);
    }
    return y === x ? x.clone() : y;
  });
}

/** Dims moved to new places, the others keeping their order (torch.movedim / moveaxis). */
export function movedim(x: Tensor, source: number | number[], destination: number | number[]): Tensor {
  checkTensor(x, 'movedim', 'input');
  const src = ints(source).map((d) => normDim(d, x.ndim, 'movedim', 'source')),
    dst = ints(destination).map((d) => normDim(d, x.ndim, 'movedim', 'destination'));
  if (src.length !== dst.length || new Set(src).size !== src.length || new Set(dst).size !== dst.length)
    throw new KilnError('ERR_ARG', 'movedim: source and destination must be distinct dims, as many of each');
  const perm = new Array<number>(x.ndim).fill(-1);
  src.forEach((s, k) => (perm[dst[k]] = s));
  const rest = [...Array(x.ndim).keys()].filter((d) => !src.includes(d));
  for (let d = 0, r = 0; d < x.ndim; d++) if (perm[d] < 0) perm[d] = rest[r++];
  return x.permute(perm);
}

/** transpose under NumPy's name (torch.swapaxes / swapdims). */
export const swapaxes = (x: Tensor, a: number, b: number): Tensor => x.transpose(a, b);

/** Reversed along dim 0 (torch.flipud). */
export const flipud = (x: Tensor): Tensor => flip(x, 0);
/** Reversed along dim 1 (torch.fliplr). */
export const fliplr = (x: Tensor): Tensor => flip(x, 1);

/** Rotated by 90 degrees k times in the plane of dims (torch.rot90): from dims[0] towards dims[1]. */
export function rot90(x: Tensor, k = 1, dims: [number, number] = [0, 1]): Tensor {
  checkTensor(x, 'rot90', 'input');
  if (!Number.isInteger(k)) throw new KilnError('ERR_ARG', `rot90: k must be an integer, got ${k}`);
  const [a, b] = dims.map((d) => normDim(d, x.ndim, 'rot90'));
  if (dims.length !== 2 || a === b) throw new KilnError('ERR_ARG', 'rot90: dims must be two different dims');
  const r = ((k % 4) + 4) % 4;
  if (r === 0) return x.clone();
  if (r === 2) return flip(x, [a, b]);
  return scope(() => (r === 1 ? flip(x, b).transpose(a, b) : flip(x.transpose(a, b), b)).contiguous());
}
