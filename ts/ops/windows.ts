/**
 * Sliding windows: Tensor.unfold (torch's view of every window along one dim), its gradient
 * unfold_backward (windows summed back where they overlap), and nn.functional's unfold (im2col)
 * and fold (col2im). F.unfold is a chain of views (pad, two unfolds, dilation slices, permute) and
 * one copy (reshape); F.fold runs the adjoint of each link in reverse order, so the two are each
 * other's gradients and every order of derivative is written with the same few ops.
 */
import { gradMode } from '../autograd/grad_mode';
import { PartialGrad, record, recordUnread } from '../autograd/node';
import { zeros } from '../creation';
import { isFloating } from '../dtype';
import { KilnError } from '../errors';
import { normDim, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { pad } from './indexing';
import { checkTensor, withDetached } from './kinds';
import { sliceBackward } from './movement';

/** Windows along a dim of length `n`: how many fit. */
const windowCount = (n: number, size: number, step: number): number => Math.floor((n - size) / step) + 1;

function checkWindow(op: string, x: Tensor, dimension: number, size: number, step: number): number {
  if (!Number.isInteger(size) || size < 0)
    throw new KilnError('ERR_ARG', `${op}: size must be an integer >= 0, got ${size}`);
  if (!Number.isInteger(step) || step < 1)
    throw new KilnError('ERR_ARG', `${op}: step must be an integer >= 1, got ${step}`);
  const d = normDim(dimension, Math.max(x.ndim, 1), op, 'dimension');
  const n = x.ndim === 0 ? 1 : x._shape[d];
  if (size > n)
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: size ${size} is larger than dim ${d} of shape ${shapeStr(x._shape)} (length ${n})`,
    );
  return d;
}

/**
 * Every window of `size` elements, `step` apart, along `dimension` (torch's Tensor.unfold): a
 * view with that dim cut to the number of windows and a new last dim of length `size`. No copy:
 * windows that overlap share memory, so write to the result only through ops that make copies.
 * @example
 * kiln.arange(0, 7).unfold(0, 3, 2); // [[0, 1, 2], [2, 3, 4], [4, 5, 6]]
 */
export function unfold(x: Tensor, dimension: number, size: number, step: number): Tensor {
  checkTensor(x, 'unfold', 'input');
  const d = checkWindow('unfold', x, dimension, size, step);
  let out: Tensor;
  if (x.ndim === 0) out = x._view([size], [0], x._offset);
  else {
    const shape = x._shape.slice(),
      st = x._strides.slice();
    shape[d] = windowCount(x._shape[d], size, step);
    st[d] = x._strides[d] * step;
    shape.push(size);
    st.push(x._strides[d]);
    out = x._view(shape, st, x._offset);
  }
  if (!isFloating(x.dtype)) return out;
  return recordUnread('unfold', out, [x], (g, c) => [unfoldGrad(g, c.inputs[0]._shape.slice(), d, size, step)], {
    d,
    size,
    step,
  });
}

/** unfold's gradient: like slice's, a partial gradient added in place when no graph is recorded. */
function unfoldGrad(g: Tensor, shape: number[], dim: number, size: number, step: number) {
  if (gradMode.enabled) return unfoldBackward(g, shape, dim, size, step);
  return new PartialGrad(
    () => unfoldBackward(g, shape, dim, size, step),
    (acc) => withDetached(g, (gd) => addWindows(acc, gd, dim, size, step)),
  );
}

/**
 * Adds the windows in g (shape of acc.unfold(dim, size, step)) into acc, in place: one add per
 * window or one per position in the window, whichever loop is shorter.
 */
function addWindows(acc: Tensor, g: Tensor, dim: number, size: number, step: number): void {
  if (acc.ndim === 0) {
    if (size === 1) {
      const g0 = g.reshape([]);
      acc.add_(g0);
      g0.dispose();
    }
    return;
  }
  const n = g._shape[dim];
  if (n === 0 || size === 0) return;
  if (n <= size)
    for (let i = 0; i < n; i++) {
      const dst = acc.narrow(dim, i * step, size);
      const w = g.select(dim, i);
      const src = w.movedim(-1, dim);
      dst.add_(src);
      for (const t of [dst, w, src]) t.dispose();
    }
  else
    for (let j = 0; j < size; j++) {
      const dst = acc.slice(dim, j, j + (n - 1) * step + 1, step);
      const src = g.select(-1, j);
      dst.add_(src);
      dst.dispose();
      src.dispose();
    }
}

/**
 * The gradient of unfold (torch's unfold_backward): the windows in g summed into zeros of the
 * input's `shape` (overlaps add up). Its own gradient is unfold, so it differentiates to any order.
 */
export function unfoldBackward(g: Tensor, shape: number[], dim: number, size: number, step: number): Tensor {
  checkTensor(g, 'unfold_backward', 'grad');
  const out = zeros(shape, { dtype: g.dtype, device: g.device });
  withDetached(g, (gd) => addWindows(out, gd, dim, size, step));
  return isFloating(g.dtype)
    ? record('unfold_backward', out, [g], (gg) => [unfold(gg, dim, size, step)], { dim, size, step })
    : out;
}

// ---------------------------------------------------------------------------------------------
// nn.functional.unfold / fold

type Pair = number | [number, number];

/** Options of F.unfold and F.fold, torch's names and defaults. */
export interface FoldOptions {
  dilation?: Pair;
  padding?: Pair;
  stride?: Pair;
}

const pair = (op: string, name: string, v: Pair | undefined, dflt: number, min: number): [number, number] => {
  const raw = v ?? dflt;
  const p: [number, number] = Array.isArray(raw) ? [raw[0], raw[1]] : [raw, raw];
  if ((Array.isArray(raw) && raw.length !== 2) || !p.every((x) => Number.isInteger(x) && x >= min))
    throw new KilnError(
      'ERR_ARG',
      `${op}: ${name} must be an integer or two integers >= ${min}, got ${JSON.stringify(v)}`,
    );
  return p;
};

interface Geometry {
  k: [number, number];
  d: [number, number];
  p: [number, number];
  s: [number, number];
  /** Kernel extent with dilation: d * (k - 1) + 1. */
  e: [number, number];
}

function geometry(op: string, kernelSize: Pair, o: FoldOptions): Geometry {
  const k = pair(op, 'kernelSize', kernelSize, 1, 1);
  const d = pair(op, 'dilation', o.dilation, 1, 1);
  const p = pair(op, 'padding', o.padding, 0, 0);
  const s = pair(op, 'stride', o.stride, 1, 1);
  return { k, d, p, s, e: [d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1] };
}

/** Blocks along each spatial dim of an input of spatial size [h, w] (may be <= 0: none fit). */
const blocks = (g: Geometry, h: number, w: number): [number, number] => [
  Math.floor((h + 2 * g.p[0] - g.e[0]) / g.s[0]) + 1,
  Math.floor((w + 2 * g.p[1] - g.e[1]) / g.s[1]) + 1,
];

/** Runs f on a 4-d view of a 3-d (unbatched) or 4-d input and gives back the same rank. */
function batched(x: Tensor, unbatchedNdim: number, f: (x4: Tensor) => Tensor): Tensor {
  if (x.ndim !== unbatchedNdim) return f(x);
  const xb = x.unsqueeze(0);
  const y = f(xb);
  const out = y.squeeze(0);
  xb.dispose();
  y.dispose();
  return out;
}

/**
 * Extracts sliding blocks (torch.nn.functional.unfold, im2col): [N, C, H, W] to
 * [N, C * kh * kw, L] with L = oh * ow blocks; row c * kh * kw + i * kw + j holds input channel c at
 * kernel position (i, j). A 3-d [C, H, W] input gives [C * kh * kw, L].
 * @example
 * F.unfold(kiln.randn([1, 3, 5, 5]), 3, { padding: 1 }).shape; // [1, 27, 25]
 */
export function unfold2d(input: Tensor, kernelSize: Pair, opts: FoldOptions = {}): Tensor {
  checkTensor(input, 'unfold', 'input');
  const g = geometry('unfold', kernelSize, opts);
  if (input.ndim !== 3 && input.ndim !== 4)
    throw new KilnError(
      'ERR_SHAPE',
      `unfold: input must be 3-d (C, H, W) or 4-d (N, C, H, W), got ${shapeStr(input._shape)}`,
    );
  const [h, w] = input._shape.slice(-2);
  const [oh, ow] = blocks(g, h, w);
  if (oh < 1 || ow < 1)
    throw new KilnError(
      'ERR_SHAPE',
      `unfold: input of spatial size [${h}, ${w}] with kernelSize [${g.k}], dilation [${g.d}], padding [${g.p}], stride [${g.s}] gives [${oh}, ${ow}] blocks; each must be at least 1`,
    );
  return batched(input, 3, (x) => {
    const [n, c] = x._shape;
    const tmp: Tensor[] = [];
    const keep = (t: Tensor): Tensor => (tmp.push(t), t);
    const xp = g.p[0] || g.p[1] ? keep(pad(x, [g.p[1], g.p[1], g.p[0], g.p[0]])) : x;
    let t = keep(unfold(xp, 2, g.e[0], g.s[0])); // [N, C, oh, Wp, eh]
    if (g.d[0] > 1) t = keep(t.slice(4, 0, g.e[0], g.d[0])); // [N, C, oh, Wp, kh]
    t = keep(unfold(t, 3, g.e[1], g.s[1])); // [N, C, oh, ow, kh, ew]
    if (g.d[1] > 1) t = keep(t.slice(5, 0, g.e[1], g.d[1])); // [N, C, oh, ow, kh, kw]
    t = keep(t.permute([0, 1, 4, 5, 2, 3]));
    const out = t.reshape([n, c * g.k[0] * g.k[1], oh * ow]);
    for (const u of tmp) u.dispose();
    return out;
  });
}

/**
 * Sums sliding blocks into a tensor (torch.nn.functional.fold, col2im), the adjoint of unfold:
 * [N, C * kh * kw, L] to [N, C, H, W] with [H, W] = outputSize; where blocks overlap, their values
 * add up. A 2-d [C * kh * kw, L] input gives [C, H, W].
 * @example
 * const x = kiln.randn([1, 2, 4, 4]);
 * F.fold(F.unfold(x, 2, { stride: 2 }), [4, 4], 2, { stride: 2 }); // x again (no overlap)
 */
export function fold(input: Tensor, outputSize: Pair, kernelSize: Pair, opts: FoldOptions = {}): Tensor {
  checkTensor(input, 'fold', 'input');
  const g = geometry('fold', kernelSize, opts);
  const [h, w] = pair('fold', 'outputSize', outputSize, 1, 1);
  if (input.ndim !== 2 && input.ndim !== 3)
    throw new KilnError(
      'ERR_SHAPE',
      `fold: input must be 2-d (C * kh * kw, L) or 3-d (N, C * kh * kw, L), got ${shapeStr(input._shape)}`,
    );
  const [ck, l] = input._shape.slice(-2);
  const kk = g.k[0] * g.k[1];
  if (ck % kk !== 0)
    throw new KilnError(
      'ERR_SHAPE',
      `fold: size ${ck} of input ${shapeStr(input._shape)} at dim ${input.ndim - 2} must be divisible by the product of kernelSize [${g.k}] (${kk})`,
    );
  const [oh, ow] = blocks(g, h, w);
  if (oh < 1 || ow < 1 || oh * ow !== l)
    throw new KilnError(
      'ERR_SHAPE',
      `fold: outputSize [${h}, ${w}] with kernelSize [${g.k}], dilation [${g.d}], padding [${g.p}], stride [${g.s}] gives [${oh}, ${ow}] blocks, but input ${shapeStr(input._shape)} has ${l}`,
    );
  return batched(input, 2, (cols) => {
    const n = cols._shape[0],
      c = ck / kk;
    const [hp, wp] = [h + 2 * g.p[0], w + 2 * g.p[1]];
    const [kh, kw] = g.k,
      [eh, ew] = g.e;
    const tmp: Tensor[] = [];
    const keep = (t: Tensor): Tensor => (tmp.push(t), t);
    let t = keep(cols.reshape([n, c, kh, kw, oh, ow]));
    t = keep(t.permute([0, 1, 4, 5, 2, 3])); // [N, C, oh, ow, kh, kw]
    if (g.d[1] > 1) t = keep(sliceBackward(t, [n, c, oh, ow, kh, ew], 5, 0, ew, g.d[1]));
    t = keep(unfoldBackward(t, [n, c, oh, wp, kh], 3, ew, g.s[1]));
    if (g.d[0] > 1) t = keep(sliceBackward(t, [n, c, oh, wp, eh], 4, 0, eh, g.d[0]));
    t = keep(unfoldBackward(t, [n, c, hp, wp], 2, eh, g.s[0]));
    let out: Tensor;
    if (g.p[0] || g.p[1]) {
      // a copy, as torch's: the crop of the padded sums is not contiguous
      const a = keep(t.slice(2, g.p[0], g.p[0] + h));
      out = keep(a.slice(3, g.p[1], g.p[1] + w)).contiguous();
    } else {
      out = t;
      tmp.pop();
    }
    for (const u of tmp) u.dispose();
    return out;
  });
}
