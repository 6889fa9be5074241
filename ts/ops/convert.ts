/**
 * The copy kernel's row (dtype conversion and layout change: to, clone, contiguous, copy_) and
 * the fill kernel's row (full, fill_, zero_).
 */
import { inplaceNeedsGrad, overwrite, writeInPlace } from '../autograd/inplace';
import { record, recordUnread } from '../autograd/node';
import { full, fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { ALL_DTYPES, DType, checkDType, isFloating, roundTo } from '../dtype';
import { Device, checkDevice, cudaCompiled } from '../device';
import { ITEMSIZE } from '../dtype';
import { KilnError, STATUS_CODES } from '../errors';
import { native } from '../native';
import { broadcastShapes, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { bumpVersion, castTo, checkTensor, sumTo } from './kinds';
import { expandRaw } from './movement';
import { OP } from './op_ids.gen';
import type { Case, OpRow } from './row';
import { EDGE_SHAPES, LAYOUTS, makeInput } from './samples';

/** A new contiguous tensor with x's values converted to `dtype` (the copy kernel). */
function copyTo(x: Tensor, dtype: DType): Tensor {
  checkTensor(x, 'copy', 'input');
  const out = Tensor._empty(x._shape.slice(), dtype, 'copy');
  runKernel(OP.COPY, [out], [x]);
  if (!isFloating(dtype) || !isFloating(x.dtype)) return out;
  return recordUnread('copy', out, [x], (g, c) => [g.to(c.inputs[0].dtype)]);
}

/** Another handle on the same memory that autograd sees as an identity op. */
export function alias(x: Tensor, name: string): Tensor {
  const v = x._view(x._shape.slice(), x._strides.slice(), x._offset);
  return recordUnread(name, v, [x], (g) => [g]);
}

/**
 * x's values on another device (a contiguous copy: host<->device through pinned staging, device to
 * device on the stream); differentiable, the gradient moves back.
 */
function moveTo(x: Tensor, device: Device): Tensor {
  const src = x.isContiguous() ? x : copyTo(x, x.dtype);
  const out = Tensor._empty(x._shape.slice(), x.dtype, 'to', device);
  const nb = native(),
    n = x.numel() * ITEMSIZE[x.dtype];
  const from = src._storage,
    into = out._storage;
  const at = from.addr + src._offset * ITEMSIZE[x.dtype];
  let st = 0;
  if (n > 0) {
    if (from.dev < 0)
      st = nb.cudaCopyIn!(into.dev, into.addr, new Uint8Array(from.arrayBuffer(), src._offset * ITEMSIZE[x.dtype], n));
    else if (into.dev < 0) st = nb.cudaCopyOut!(from.dev, at, new Uint8Array(into.arrayBuffer(), 0, n));
    else {
      // between two GPUs: through the host (peer copies are not set up)
      const host = new Uint8Array(n);
      st = nb.cudaCopyOut!(from.dev, at, host);
      if (st === 0) st = nb.cudaCopyIn!(into.dev, into.addr, host);
    }
  }
  if (src !== x) src.dispose();
  if (st !== 0) {
    out.dispose();
    throw new KilnError(STATUS_CODES[st] ?? 'ERR_CUDA', `to('${device}'): ${nb.lastError()}`);
  }
  if (!isFloating(x.dtype)) return out;
  const back = x.device;
  return record('to', out, [x], (g) => [g.to(back)]);
}

/** x converted to a dtype (or moved to a device): a new handle on the same memory when nothing changes. */
export function to(x: Tensor, target: DType | string): Tensor {
  checkTensor(x, 'to', 'input');
  if (typeof target === 'string' && (target === 'cpu' || target.startsWith('cuda'))) {
    const device = checkDevice(target, 'to');
    return device === x.device ? alias(x, 'to') : moveTo(x, device);
  }
  const dtype = checkDType(target, 'to');
  return dtype === x.dtype ? alias(x, 'to') : copyTo(x, dtype);
}

/** A copy with its own memory. */
export const clone = (x: Tensor): Tensor => copyTo(x, x.dtype);

/** x on cuda:N (cuda:0 by default); x itself (a new handle) when already there. */
export const cuda = (x: Tensor, device: number | string = 0): Tensor =>
  to(x, typeof device === 'number' ? `cuda:${device}` : device);

/** x on the CPU; x itself (a new handle) when already there. */
export const cpu = (x: Tensor): Tensor => to(x, 'cpu');

/** x if already contiguous (as a new handle), else a contiguous copy. */
export const contiguous = (x: Tensor): Tensor =>
  checkTensor(x, 'contiguous', 'input').isContiguous() ? alias(x, 'contiguous') : copyTo(x, x.dtype);

/** A handle on the same memory that is cut off from autograd. */
export function detach(x: Tensor): Tensor {
  checkTensor(x, 'detach', 'input');
  const d = x._view(x._shape.slice(), x._strides.slice(), x._offset);
  d._base = null; // cut off: a write through it with grad rebases it alone
  return d;
}

/** Copies src (broadcast and converted) into dst in place; returns dst. */
export function copy_(dst: Tensor, src: Tensor): Tensor {
  checkTensor(dst, 'copy_', 'self');
  checkTensor(src, 'copy_', 'src');
  const shape = broadcastShapes('copy_', dst._shape, src._shape);
  if (shape.length !== dst.ndim || shape.some((s, i) => s !== dst._shape[i]))
    throw new KilnError(
      'ERR_SHAPE',
      `copy_: source of shape ${shapeStr(src._shape)} cannot be broadcast to ${shapeStr(dst._shape)}`,
    );
  if (inplaceNeedsGrad('copy_', dst, [src]))
    return writeInPlace(
      dst,
      () => copy_(dst, src),
      // dst's old values get no gradient; src gets dst's, summed over the broadcast, moved and cast
      () =>
        recordUnread('copy_', dst, [dst, src], (g, c) => [
          null,
          castTo(sumTo(to(g, c.inputs[1].device), c.inputs[1]._shape), c.inputs[1].dtype),
        ]),
    );
  // Across devices (as PyTorch's copy_): move the source first.
  const moved = src.device === dst.device ? src : moveTo(src, dst.device);
  const e = expandRaw(moved, dst._shape.slice());
  runKernel(OP.COPY, [dst], [e]);
  e.dispose();
  if (moved !== src) moved.dispose();
  bumpVersion(dst);
  return dst;
}

/** Fills x with a value in place. */
export function fill_(x: Tensor, value: number | boolean): Tensor {
  checkTensor(x, 'fill_', 'self');
  if (typeof value !== 'number' && typeof value !== 'boolean')
    throw new KilnError('ERR_ARG', `fill_: value must be a number or boolean`);
  if (inplaceNeedsGrad('fill_', x)) return overwrite('fill_', x, () => fill_(x, value));
  runKernel(OP.FILL, [x], [], [Number(value)]);
  bumpVersion(x);
  return x;
}
export const zero_ = (x: Tensor): Tensor => fill_(x, 0);

export const copyRow: OpRow<(x: Tensor, dtype: DType) => Tensor> = {
  name: 'copy',
  kind: 'copy',
  native: { nin: 1, nout: 1, nattr: 0 },
  dtypes: ALL_DTYPES,
  fn: copyTo,
  grad: (g, c) => [g.to(c.inputs[0].dtype)],
  cases: (rng, dtype) => {
    const cases: Case[] = [];
    for (const shape of EDGE_SHAPES)
      for (const layout of LAYOUTS)
        for (const od of ALL_DTYPES) {
          const { t, ref } = makeInput(rng, shape, dtype, layout, [-3, 3]);
          cases.push({
            label: `${shapeStr(shape)} ${layout} -> ${od}`,
            got: copyTo(t, od),
            want: { shape, data: ref.data.map((v) => roundTo(od, v)) },
          });
          t.dispose();
        }
    return cases;
  },
  gradSamples: (rng) => [
    {
      label: 'strided',
      fn: (x) => copyTo(x.slice(1, 0, 4, 2), 'float64'),
      inputs: [makeInput(rng, [3, 4], 'float64').t.requiresGrad_()],
    },
    {
      label: 'transposed',
      fn: (x) => copyTo(x.transpose(0, 1), 'float64'),
      inputs: [makeInput(rng, [3, 4], 'float64').t.requiresGrad_()],
    },
  ],
  errors: () => [
    { label: 'unknown dtype', run: () => fromNumbers([1], [1], 'float32').to('float8' as DType), code: 'ERR_DTYPE' },
    {
      label: 'a CUDA device this binary or machine lacks',
      run: () => fromNumbers([1], [1], 'float32').to('cuda:99'),
      code: cudaCompiled() ? 'ERR_DEVICE' : 'ERR_NOT_COMPILED',
    },
    {
      label: 'copy_ shape mismatch',
      run: () => fromNumbers([1, 2], [2], 'float32').copy_(fromNumbers([1, 2, 3], [3], 'float32')),
      code: 'ERR_SHAPE',
    },
  ],
};

export const fillRow: OpRow<(shape: number[], value: number | boolean, opts?: { dtype?: DType }) => Tensor> = {
  name: 'fill',
  kind: 'creation',
  native: { nin: 0, nout: 1, nattr: 1 },
  dtypes: ALL_DTYPES,
  fn: full,
  grad: { nondiff: 'creation op: no tensor inputs' },
  cases: (rng, dtype) =>
    EDGE_SHAPES.map((shape) => {
      const v = dtype === 'bool' ? 1 : isFloating(dtype) ? roundTo(dtype, rng() * 10 - 5) : 3;
      return {
        label: shapeStr(shape),
        got: full(shape, v, { dtype }),
        want: { shape, data: new Array(shape.reduce((a, b) => a * b, 1)).fill(roundTo(dtype, v)) },
      };
    }),
  gradSamples: () => [],
  errors: () => [
    { label: 'negative size', run: () => full([-1], 0), code: 'ERR_SHAPE' },
    { label: 'unknown dtype', run: () => full([1], 0, { dtype: 'complex64' as DType }), code: 'ERR_DTYPE' },
    { label: 'unknown device', run: () => full([1], 0, { device: 'tpu' }), code: 'ERR_DEVICE' },
    { label: 'string value', run: () => full([1], '1' as unknown as number), code: 'ERR_ARG' },
  ],
};
