/**
 * Runs a native kernel: writes operand descriptors and attributes into the addon's argument
 * block, calls run() once, and turns a non-zero status into a KilnError. Op ids come from
 * native/include/kiln_ops.gen.h's TS twin, ts/ops/op_ids.gen.ts.
 *
 * Devices: the op runs on the device of its placed operands; pending outputs (Tensor._empty without
 * a device) are placed there. Operands on two devices throw ERR_DEVICE naming both, except the
 * cached read-only 0-d scalars of JS numbers (x.add(1)), which are copied to the op's device once.
 */
import { deviceName } from './device';
import { DTYPE_IDS, ITEMSIZE } from './dtype';
import { KilnError, STATUS_CODES } from './errors';
import { native } from './native';
import { OP } from './ops/op_ids.gen';
import { Storage } from './storage';
import type { Tensor } from './tensor';

let opNames: string[] | null = null;
/** The op table name of a native op id ("add", "layer_norm" ...). */
export function opName(op: number): string {
  if (!opNames) {
    opNames = [];
    for (const [k, v] of Object.entries(OP)) opNames[v] = k.toLowerCase();
  }
  return opNames[op] ?? `op ${op}`;
}

/** Per-device copies of cached scalars (keyed by the CPU storage; never written). */
const scalarCopies = new WeakMap<Storage, Map<number, Storage>>();

function scalarOn(s: Storage, dev: number): Storage {
  let m = scalarCopies.get(s);
  if (!m) scalarCopies.set(s, (m = new Map()));
  let c = m.get(dev);
  if (!c) {
    const nb = native();
    c = Storage.allocate(s.nbytes, deviceName(dev), 'scalar');
    c.cell.refs++; // held by the cache, never by a user
    const st = nb.cudaCopyIn!(dev, c.addr, new Uint8Array(s.arrayBuffer(), 0, s.nbytes));
    if (st !== 0) throw new KilnError(STATUS_CODES[st] ?? 'ERR_CUDA', `scalar: ${nb.lastError()}`);
    m.set(dev, c);
  }
  return c;
}

function mixed(op: number, a: Tensor, b: Tensor): KilnError {
  return new KilnError(
    'ERR_DEVICE',
    `${opName(op)}: operands are on different devices (${a.device} and ${b.device}); move them with .to('${a.device}') or .to('${b.device}')`,
  );
}

/** The native device of an op's operands (-1 the CPU); throws ERR_DEVICE when they disagree. */
function resolveDevice(op: number, outs: readonly Tensor[], ins: readonly Tensor[]): number {
  let dev = -2,
    first: Tensor | null = null,
    scalarDev = -2;
  for (let k = 0; k < ins.length + outs.length; k++) {
    const t = k < ins.length ? ins[k] : outs[k - ins.length];
    const s = t._storage;
    if (s.isPending) continue;
    if (s.scalar) {
      scalarDev = s.dev;
      continue;
    }
    if (dev === -2) {
      dev = s.dev;
      first = t;
    } else if (s.dev !== dev) throw mixed(op, first!, t);
  }
  return dev !== -2 ? dev : scalarDev !== -2 ? scalarDev : -1;
}

function writeDesc(blk: Float64Array, at: number, t: Tensor, dev: number, op: number): void {
  let s = t._storage;
  if (s.isPending) s.place(dev, opName(op));
  else if (s.dev !== dev) s = scalarOn(s, dev); // only scalars get here (resolveDevice)
  blk[at] = s.addr + t._offset * ITEMSIZE[t.dtype];
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
  const dev = resolveDevice(op, outs, ins);
  const blk = nb.argBlock,
    dd = nb.descDoubles;
  let at = 0;
  for (const t of outs) {
    writeDesc(blk, at, t, dev, op);
    at += dd;
  }
  for (const t of ins) {
    writeDesc(blk, at, t, dev, op);
    at += dd;
  }
  for (let i = 0; i < attrs.length; i++) blk[nb.attrBase + i] = attrs[i];
  const st =
    dev < 0
      ? nb.run(op, outs.length, ins.length, attrs.length)
      : nb.run(op, outs.length, ins.length, attrs.length, dev);
  if (st !== 0) throw new KilnError(STATUS_CODES[st] ?? 'ERR_NATIVE', nb.lastError());
}
