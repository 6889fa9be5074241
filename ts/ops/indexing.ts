/**
 * Index and assembly ops: gather, scatter, scatter_add and where (native kernels), cat and pad
 * (fill and copy kernels into views of a new tensor).
 */
import { record } from '../autograd/node';
import { full, isCachedScalar, scalarTensor, zeros } from '../creation';
import { runKernel } from '../dispatch';
import { DType, isFloating, promoteTypes, promoteWithScalar } from '../dtype';
import { KilnError } from '../errors';
import { broadcastShapes, normDim, numelOf, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { castTo, checkTensor, sumTo, TensorLike, withDetached } from './kinds';
import { expandRaw } from './movement';
import { OP } from './op_ids.gen';

function checkIndex(op: string, x: Tensor, index: Tensor, dim: number, src?: Tensor): number {
  checkTensor(index, op, 'index');
  if (index.dtype !== 'int64' && index.dtype !== 'int32')
    throw new KilnError('ERR_DTYPE', `${op}: index must be int64 or int32, got ${index.dtype}`);
  const d = normDim(dim, x.ndim, op);
  if (index.ndim !== x.ndim && !(x.ndim === 0 && index.ndim <= 1))
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: index of shape ${shapeStr(index._shape)} must have as many dims as input ${shapeStr(x._shape)}`,
    );
  for (let k = 0; k < index.ndim; k++) {
    if (k !== d && index._shape[k] > x._shape[k])
      throw new KilnError(
        'ERR_SHAPE',
        `${op}: index of shape ${shapeStr(index._shape)} is larger than input ${shapeStr(x._shape)} at dim ${k}`,
      );
    if (src && index._shape[k] > src._shape[k])
      throw new KilnError(
        'ERR_SHAPE',
        `${op}: index of shape ${shapeStr(index._shape)} is larger than src ${shapeStr(src._shape)} at dim ${k}`,
      );
  }
  return d;
}

/** out[i][j] = x[index[i][j]][j] (dim 0), and so on for other dims. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  checkTensor(x, 'gather', 'input');
  const d = checkIndex('gather', x, index, dim);
  const out = Tensor._empty(index._shape.slice(), x.dtype, 'gather');
  runKernel(OP.GATHER, [out], [x, index], [d]);
  if (!isFloating(x.dtype)) return out;
  return record('gather', out, [x, index], (g, c) => [
    zeros(c.inputs[0]._shape.slice(), { dtype: g.dtype, device: g.device }).scatterAdd(d, c.inputs[1], g),
    null,
  ]);
}

function scatterImpl(name: 'scatter' | 'scatter_add', x: Tensor, dim: number, index: Tensor, src: TensorLike): Tensor {
  checkTensor(x, name, 'input');
  const s = src instanceof Tensor ? checkTensor(src, name, 'src') : null;
  if (!s && typeof src !== 'number' && typeof src !== 'boolean')
    throw new KilnError('ERR_ARG', `${name}: src must be a Tensor or a number`);
  if (s && s.dtype !== x.dtype)
    throw new KilnError('ERR_DTYPE', `${name}: src dtype ${s.dtype} differs from input dtype ${x.dtype}`);
  if (s && s.ndim !== x.ndim)
    throw new KilnError(
      'ERR_SHAPE',
      `${name}: src of shape ${shapeStr(s._shape)} must have as many dims as input ${shapeStr(x._shape)}`,
    );
  const d = checkIndex(name, x, index, dim, s ?? undefined);
  const srcT = s ?? full(index._shape.slice(), src as number, { dtype: x.dtype, device: x.device });
  const out = withDetached(x, (xd) => xd.clone());
  runKernel(name === 'scatter' ? OP.SCATTER : OP.SCATTER_ADD, [out], [index, srcT], [d]);
  if (!s) srcT.dispose();
  if (!isFloating(x.dtype)) return out;
  const inputs = s ? [x, index, s] : [x, index];
  return record(name, out, inputs, (g, c) => {
    const idx = c.inputs[1];
    const gx = name === 'scatter' ? g.scatter(d, idx, 0) : g;
    return s ? [gx, null, g.gather(d, idx)] : [gx, null];
  });
}

/** A copy of x with src written at index along dim (src may be a number). */
export const scatter = (x: Tensor, dim: number, index: Tensor, src: TensorLike): Tensor =>
  scatterImpl('scatter', x, dim, index, src);
/** A copy of x with src added at index along dim; duplicates accumulate. */
export const scatterAdd = (x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor =>
  scatterImpl('scatter_add', x, dim, index, src);

/** Elementwise choice: a where cond is true, else b (broadcasting; numbers allowed). */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  checkTensor(cond, 'where', 'condition');
  if (cond.dtype !== 'bool') throw new KilnError('ERR_DTYPE', `where: condition must be bool, got ${cond.dtype}`);
  for (const [v, n] of [
    [a, 'input'],
    [b, 'other'],
  ] as const)
    if (!(v instanceof Tensor) && typeof v !== 'number' && typeof v !== 'boolean')
      throw new KilnError('ERR_ARG', `where: ${n} must be a Tensor or a number`);
  const ta = a instanceof Tensor ? checkTensor(a, 'where', 'input') : null;
  const tb = b instanceof Tensor ? checkTensor(b, 'where', 'other') : null;
  const dtype: DType =
    ta && tb
      ? promoteTypes(ta.dtype, tb.dtype)
      : ta
        ? promoteWithScalar(ta.dtype, b as number)
        : tb
          ? promoteWithScalar(tb.dtype, a as number)
          : Number.isInteger(a) && Number.isInteger(b)
            ? 'int64'
            : 'float32';
  const A = ta ?? scalarTensor(a as number, dtype),
    B = tb ?? scalarTensor(b as number, dtype);
  const shape = broadcastShapes('where', cond._shape, A._shape, B._shape);
  const ca = castTo(A, dtype),
    cb = castTo(B, dtype);
  const ec = expandRaw(cond, shape),
    ea = expandRaw(ca, shape),
    eb = expandRaw(cb, shape);
  const out = Tensor._empty(shape, dtype, 'where');
  runKernel(OP.WHERE, [out], [ec, ea, eb]);
  for (const t of [ec, ea, eb, ca !== A ? ca : null, cb !== B ? cb : null, ta ? null : A, tb ? null : B])
    if (t && !isCachedScalar(t)) t.dispose();
  if (!isFloating(dtype)) return out;
  const ins = [cond, ...(ta ? [ta] : []), ...(tb ? [tb] : [])];
  return record('where', out, ins, (g, c) => {
    const cnd = c.inputs[0];
    const grads: (Tensor | null)[] = [null];
    if (ta) grads.push(castTo(sumTo(where(cnd, g, 0), c.inputs[1]._shape), c.inputs[1].dtype));
    if (tb) grads.push(castTo(sumTo(where(cnd, 0, g), c.inputs[ta ? 2 : 1]._shape), c.inputs[ta ? 2 : 1].dtype));
    return grads;
  });
}

/** Concatenates along dim; all tensors share the other sizes (dtypes promote). */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors as unknown) || tensors.length === 0)
    throw new KilnError('ERR_ARG', 'cat: expected a non-empty array of tensors');
  tensors.forEach((t, i) => checkTensor(t, 'cat', `tensors[${i}]`));
  const first = tensors[0];
  const d = normDim(dim, first.ndim, 'cat');
  if (first.ndim === 0)
    throw new KilnError('ERR_SHAPE', 'cat: zero-dimensional tensors cannot be concatenated; use stack()');
  let dtype = first.dtype;
  let total = 0;
  tensors.forEach((t, i) => {
    if (t.ndim !== first.ndim || t._shape.some((s, k) => k !== d && s !== first._shape[k]))
      throw new KilnError(
        'ERR_SHAPE',
        `cat: tensors[${i}] has shape ${shapeStr(t._shape)}, which does not match ${shapeStr(first._shape)} outside dim ${d}`,
      );
    if (t.device !== first.device)
      throw new KilnError('ERR_DEVICE', `cat: tensors[${i}] is on ${t.device}, tensors[0] on ${first.device}`);
    dtype = promoteTypes(dtype, t.dtype);
    total += t._shape[d];
  });
  const shape = first._shape.slice();
  shape[d] = total;
  // On the inputs' device now: the slices below would otherwise place a pending output on the CPU.
  const out = Tensor._empty(shape, dtype, 'cat', first.device);
  let off = 0;
  const sizes: number[] = [];
  for (const t of tensors) {
    const n = t._shape[d];
    sizes.push(n);
    if (n > 0 && numelOf(t._shape) > 0) {
      const v = out.slice(d, off, off + n);
      withDetached(t, (td) => v.copy_(td));
      v.dispose();
    }
    off += n;
  }
  if (!isFloating(dtype)) return out;
  return record('cat', out, tensors.slice(), (g, c) => {
    let o = 0;
    return c.inputs.map((t, i) => {
      const gi = g.slice(d, o, o + sizes[i]);
      o += sizes[i];
      return castTo(gi, t.dtype);
    });
  });
}

/**
 * Constant padding, PyTorch's order: [left, right] for the last dim, then [top, bottom] for
 * the one before, and so on.
 */
/** pad's and padWith's arguments: x a tensor, pads pairs of non-negative integers for its last dims. */
export function checkPads(x: Tensor, pads: readonly number[]): void {
  checkTensor(x, 'pad', 'input');
  if (
    !Array.isArray(pads) ||
    pads.length % 2 !== 0 ||
    pads.length / 2 > x.ndim ||
    pads.some((p) => !Number.isInteger(p) || p < 0)
  )
    throw new KilnError(
      'ERR_ARG',
      `pad: pads [${pads}] must be pairs of non-negative integers for at most ${x.ndim} dims`,
    );
}

export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  checkPads(x, pads);
  const shape = x._shape.slice();
  const starts = new Array<number>(x.ndim).fill(0);
  for (let i = 0; i < pads.length / 2; i++) {
    const d = x.ndim - 1 - i;
    starts[d] = pads[2 * i];
    shape[d] += pads[2 * i] + pads[2 * i + 1];
  }
  const out = full(shape, value, { dtype: x.dtype, device: x.device });
  let v = out.detach();
  for (let d = 0; d < x.ndim; d++) {
    const nv = v.slice(d, starts[d], starts[d] + x._shape[d]);
    v.dispose();
    v = nv;
  }
  withDetached(x, (xd) => v.copy_(xd));
  v.dispose();
  if (!isFloating(x.dtype)) return out;
  return record('pad', out, [x], (g, c) => {
    let gv = g;
    for (let d = 0; d < c.inputs[0].ndim; d++) gv = gv.slice(d, starts[d], starts[d] + c.inputs[0]._shape[d]);
    return [gv];
  });
}
