/**
 * What every kiln.linalg function shares: argument checks, the contiguous [batch, rows, cols] stacks
 * the native kernels take (native/cpu/linalg.cpp), the info check that turns a failed
 * factorisation into ERR_LINALG, and packing, which lets one autograd node give several
 * differentiable outputs (QR's Q and R, eigh's values and vectors, SVD's U, S and Vh).
 */
import { needsGrad, record } from '../autograd/node';
import type { NodeFn } from '../autograd/node';
import { KilnError } from '../errors';
import { cat } from '../ops/indexing';
import { checkTensor } from '../ops/kinds';
import { numelOf, shapeStr } from '../shape';
import { Tensor } from '../tensor';

/** Checks x is a float32/float64 tensor of matrices ([..., m, n]); square when asked. */
export function checkMatrices(x: unknown, op: string, arg = 'A', square = false): Tensor {
  const t = checkTensor(x, op, arg);
  if (t.dtype !== 'float32' && t.dtype !== 'float64')
    throw new KilnError('ERR_DTYPE', `${op}: ${arg} must be float32 or float64, got ${t.dtype}`);
  if (t.ndim < 2)
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: ${arg} must be a matrix or a batch of them ([..., m, n]), got ${shapeStr(t._shape)}`,
    );
  if (square && t._shape[t.ndim - 1] !== t._shape[t.ndim - 2])
    throw new KilnError('ERR_SHAPE', `${op}: ${arg} must be square matrices ([..., n, n]), got ${shapeStr(t._shape)}`);
  return t;
}

/** The batch dims of [..., r, c]. */
export const batchOf = (x: Tensor): number[] => x._shape.slice(0, -2);

/** x [..., r, c] as a contiguous [B, r, c] tensor (x itself when it already is one; no autograd). */
export function toStack(x: Tensor): Tensor {
  const [r, c] = x._shape.slice(-2);
  const b = numelOf(batchOf(x));
  if (x.ndim === 3 && x.isContiguous()) return x;
  const d = x.detach();
  const v = d.reshape([b, r, c]);
  const s = v.contiguous();
  for (const t of [d, v]) if (t !== s) t.dispose();
  return s;
}

/**
 * Throws ERR_LINALG when a factorisation reported failure: info (int32, one per matrix) is 0 where
 * it worked; `what(k)` describes a failure at LAPACK's step k.
 */
export function checkInfo(op: string, info: Tensor, batch: number[], what: (k: number) => string): void {
  const v = info.data();
  for (let i = 0; i < v.length; i++) {
    const k = Number(v[i]);
    if (k !== 0) {
      const where = batch.length ? ` (batch element ${i})` : '';
      throw new KilnError('ERR_LINALG', `${op}${where}: ${what(k)}`);
    }
  }
}

/**
 * Several outputs of one op, differentiable together: when an input needs a gradient, the parts
 * (each [B, ...]) are concatenated into one tensor that a single node records, and views of it
 * are returned, so `grad` sees every part's gradient at once (zeros for parts nobody used). The
 * parts are returned as they are otherwise. Each part is finally reshaped to `shapes[i]`.
 */
export function packOutputs(
  name: string,
  parts: Tensor[],
  shapes: number[][],
  inputs: Tensor[],
  grad: (gs: Tensor[], parts: Tensor[], inputs: Tensor[]) => (Tensor | null)[],
): Tensor[] {
  if (!needsGrad(inputs)) {
    return parts.map((p, i) => {
      const out = p.reshape(shapes[i]);
      if (out !== p) p.dispose();
      return out;
    });
  }
  const b = parts[0]._shape[0];
  const sizes = parts.map((p) => numelOf(p._shape.slice(1)));
  const flat = parts.map((p, i) => p.reshape([b, sizes[i]]));
  const pack = cat(flat, 1);
  for (const t of [...flat, ...parts]) if (t !== pack && !t.isDisposed) t.dispose();
  const split = (t: Tensor): Tensor[] => {
    let off = 0;
    return sizes.map((n, i) => {
      const v = t.narrow(1, off, n);
      const r = v.reshape(shapes[i]);
      if (r !== v) v.dispose();
      off += n;
      return r;
    });
  };
  const fn: NodeFn = (g, c) => {
    const gs = split(g),
      ps = split(c.output as Tensor);
    const out = grad(gs, ps, c.inputs);
    for (const t of [...gs, ...ps]) if (!out.includes(t)) t.dispose();
    return out;
  };
  const packed = record(name, pack, inputs, fn, {}, true);
  const views = split(packed);
  packed.dispose();
  return views;
}

/** Throws ERR_AUTOGRAD when an input needs a gradient that `op` cannot give. */
export function refuseGrad(op: string, inputs: Tensor[], why: string): void {
  if (needsGrad(inputs)) throw new KilnError('ERR_AUTOGRAD', `${op}: ${why}`);
}
