/**
 * Runs a native kernel: writes operand descriptors and attributes into the addon's argument
 * block, calls run() once, and turns a non-zero status into a KilnError. Op ids come from
 * native/include/kiln_ops.gen.h's TS twin, ts/ops/op_ids.gen.ts.
 */
import { DTYPE_IDS, ITEMSIZE } from './dtype';
import { KilnError, STATUS_CODES } from './errors';
import { native } from './native';
import type { Tensor } from './tensor';

function writeDesc(blk: Float64Array, at: number, t: Tensor): void {
  blk[at] = t._storage.addr + t._offset * ITEMSIZE[t.dtype];
  blk[at + 1] = DTYPE_IDS[t.dtype];
  const nd = t._shape.length;
  blk[at + 2] = nd;
  for (let d = 0; d < nd; d++) {
    blk[at + 3 + d] = t._shape[d];
    blk[at + 11 + d] = t._strides[d];
  }
}

export function runKernel(
  op: number,
  outs: readonly Tensor[],
  ins: readonly Tensor[],
  attrs: readonly number[] = [],
): void {
  const nb = native();
  const blk = nb.argBlock,
    dd = nb.descDoubles;
  let at = 0;
  for (const t of outs) {
    writeDesc(blk, at, t);
    at += dd;
  }
  for (const t of ins) {
    writeDesc(blk, at, t);
    at += dd;
  }
  for (let i = 0; i < attrs.length; i++) blk[nb.attrBase + i] = attrs[i];
  const st = nb.run(op, outs.length, ins.length, attrs.length);
  if (st !== 0) throw new KilnError(STATUS_CODES[st] ?? 'ERR_NATIVE', nb.lastError());
}
