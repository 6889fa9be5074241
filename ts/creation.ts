/** Creation: tensor() from JS data, empty/zeros/ones/full/arange/linspace/eye and the *Like forms. */
import { checkDevice, Device, getDefaultDevice } from './device';
import { DType, checkDType, numberToBf16, numberToHalf } from './dtype';
import { KilnError, STATUS_CODES } from './errors';
import { native } from './native';
import { checkShape, MAX_DIMS, shapeStr } from './shape';
import { liveStats } from './storage';
import { Tensor, NestedArray } from './tensor';
import { runKernel } from './dispatch';
import { OP } from './ops/op_ids.gen';

/** Options of every creation function. */
export interface TensorOptions {
  dtype?: DType;
  device?: Device | 'cuda' | string;
  requiresGrad?: boolean;
}

export type TensorData =
  | NestedArray
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Int16Array
  | Int8Array
  | Uint16Array;

function finish(t: Tensor, opts: TensorOptions | undefined): Tensor {
  if (opts?.requiresGrad) t.requiresGrad_(true);
  return t;
}

function resolve(op: string, opts: TensorOptions | undefined, fallback: DType): { dtype: DType; device: Device } {
  // JS has no float literal (1.0 === 1): asking for gradients without a dtype means float32.
  if (opts?.requiresGrad && (fallback === 'int64' || fallback === 'bool')) fallback = 'float32';
  const dtype = opts?.dtype === undefined ? fallback : checkDType(opts.dtype, op);
  return { dtype, device: checkDevice(opts?.device, op) };
}

/** Writes JS numbers into a fresh contiguous tensor of `dtype`. */
const numericView = (v: unknown): v is ArrayLike<number> =>
  ArrayBuffer.isView(v) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array) && !(v instanceof DataView);

export function fromNumbers(
  values: ArrayLike<number | boolean | bigint>,
  shape: number[],
  dtype: DType,
  op = 'tensor',
  device: Device = getDefaultDevice(),
): Tensor {
  const t = Tensor._empty(shape, dtype, op, device);
  const n = values.length;
  if (n === 0) return t;
  let buf: ArrayBufferView;
  switch (dtype) {
    // A typed array of numbers converts natively (Array.from's mapping call per element is slow).
    case 'float32':
      buf = numericView(values) ? new Float32Array(values) : Float32Array.from(values as ArrayLike<number>, Number);
      break;
    case 'float64':
      buf = numericView(values) ? new Float64Array(values) : Float64Array.from(values as ArrayLike<number>, Number);
      break;
    case 'float16':
      buf = Uint16Array.from(values as ArrayLike<number>, (v) => numberToHalf(Number(v)));
      break;
    case 'bfloat16':
      buf = Uint16Array.from(values as ArrayLike<number>, (v) => numberToBf16(Number(v)));
      break;
    case 'int32':
      buf = Int32Array.from(values as ArrayLike<number>, (v) => Number(v));
      break;
    case 'int64': {
      const a = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        a[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)) || 0);
      }
      buf = a;
      break;
    }
    case 'uint8':
      buf = Uint8Array.from(values as ArrayLike<number>, (v) => Number(v));
      break;
    case 'bool':
      buf = Uint8Array.from(values as ArrayLike<number>, (v) => (v ? 1 : 0));
      break;
  }
  copyInto(t, buf, op);
  return t;
}

/** Copies host bytes into the start of t's block (a pinned-staged upload for a CUDA tensor). */
function copyInto(t: Tensor, buf: ArrayBufferView, op: string): void {
  const nb = native(),
    s = t._storage;
  if (s.dev < 0) {
    if (!nb.copyIn(s.addr, buf)) throw new KilnError('ERR_NATIVE', `${op}: copy larger than its block`);
    return;
  }
  const st = nb.cudaCopyIn!(s.dev, s.addr, buf);
  if (st !== 0) throw new KilnError(STATUS_CODES[st] ?? 'ERR_CUDA', `${op}: ${nb.lastError()}`);
}

function typedDType(d: ArrayBufferView): DType | null {
  if (d instanceof Float32Array) return 'float32';
  if (d instanceof Float64Array) return 'float64';
  if (d instanceof Int32Array || d instanceof Int16Array || d instanceof Int8Array || d instanceof Uint16Array)
    return 'int32';
  if (d instanceof BigInt64Array) return 'int64';
  if (d instanceof Uint8Array) return 'uint8';
  return null;
}

/**
 * A tensor from nested arrays, a typed array (1-d) or a scalar. Default dtype, as in PyTorch:
 * bool for booleans, int64 when every number is an integer, float32 otherwise; a typed array
 * keeps its own type. JS has no float literal, so with `requiresGrad` the default is float32.
 * @example
 * kiln.tensor([[1, 2], [3, 4]], { dtype: 'float32', requiresGrad: true });
 */
export function tensor(data: TensorData | Tensor, opts?: TensorOptions): Tensor {
  if (data instanceof Tensor) {
    const { dtype, device } = resolve('tensor', opts, data.dtype);
    const d = data.detach();
    const moved = opts?.device === undefined ? d : d.to(device);
    const out = moved.to(dtype).clone();
    if (moved !== d) moved.dispose();
    d.dispose();
    return finish(out, opts);
  }
  if (ArrayBuffer.isView(data)) {
    const own = typedDType(data);
    if (!own) throw new KilnError('ERR_DTYPE', `tensor: unsupported typed array ${data.constructor.name}`);
    const { dtype, device } = resolve('tensor', opts, own);
    const arr = data as unknown as ArrayLike<number>;
    if (dtype === own && dtype !== 'int32') {
      const t = Tensor._empty([arr.length], dtype, 'tensor', device);
      if (arr.length) copyInto(t, data, 'tensor');
      return finish(t, opts);
    }
    return finish(fromNumbers(arr, [arr.length], dtype, 'tensor', device), opts);
  }
  const shape: number[] = [];
  let probe: unknown = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    if (shape.length > MAX_DIMS) throw new KilnError('ERR_SHAPE', `tensor: nesting deeper than ${MAX_DIMS} dims`);
    probe = probe[0];
  }
  const flat: (number | boolean | bigint)[] = [];
  let kind: 'bool' | 'int' | 'float' | null = null;
  const walk = (v: unknown, d: number, path: string): void => {
    if (d === shape.length) {
      if (Array.isArray(v))
        throw new KilnError('ERR_SHAPE', `tensor: ragged nested array at ${path || 'top'} (expected a number)`);
      let k: 'bool' | 'int' | 'float';
      if (typeof v === 'boolean') k = 'bool';
      else if (typeof v === 'bigint') k = 'int';
      else if (typeof v === 'number') k = Number.isInteger(v) ? 'int' : 'float';
      else
        throw new KilnError(
          'ERR_ARG',
          `tensor: element at ${path || 'top'} is ${typeof v}, expected a number, boolean or bigint`,
        );
      if (kind === null || (kind === 'bool' && k !== 'bool') || (kind === 'int' && k === 'float')) kind = k;
      flat.push(v as number);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[d])
      throw new KilnError(
        'ERR_SHAPE',
        `tensor: ragged nested array at ${path || 'top'}: expected ${shape[d]} elements per row as in ${shapeStr(shape)}`,
      );
    for (let i = 0; i < v.length; i++) walk(v[i], d + 1, `${path}[${i}]`);
  };
  walk(data, 0, '');
  const fallback: DType = kind === 'bool' ? 'bool' : kind === 'int' ? 'int64' : 'float32';
  const { dtype, device } = resolve('tensor', opts, fallback);
  return finish(fromNumbers(flat, shape, dtype, 'tensor', device), opts);
}

/** Uninitialised memory (use only when every element is written next). */
export function empty(shape: number[], opts?: TensorOptions): Tensor {
  const { dtype, device } = resolve('empty', opts, 'float32');
  return finish(Tensor._empty(checkShape(shape, 'empty'), dtype, 'empty', device), opts);
}

/** A tensor filled with `value`. */
export function full(shape: number[], value: number | boolean, opts?: TensorOptions): Tensor {
  const fallback: DType = typeof value === 'boolean' ? 'bool' : Number.isInteger(value) ? 'int64' : 'float32';
  const { dtype, device } = resolve('full', opts, fallback);
  if (typeof value !== 'number' && typeof value !== 'boolean')
    throw new KilnError('ERR_ARG', `full: value must be a number or boolean, got ${typeof value}`);
  const t = Tensor._empty(checkShape(shape, 'full'), dtype, 'full', device);
  runKernel(OP.FILL, [t], [], [Number(value)]);
  return finish(t, opts);
}

export function zeros(shape: number[], opts?: TensorOptions): Tensor {
  return full(shape, 0, { dtype: 'float32', ...opts });
}
export function ones(shape: number[], opts?: TensorOptions): Tensor {
  return full(shape, 1, { dtype: 'float32', ...opts });
}

/**
 * Values from start to end (exclusive) by step; arange(n) counts from 0. Integers give int64.
 * @example
 * kiln.arange(0, 10, 2); // [0, 2, 4, 6, 8]
 */
export function arange(start: number, end?: number, step = 1, opts?: TensorOptions): Tensor {
  if (end === undefined) [start, end] = [0, start];
  for (const [k, v] of [
    ['start', start],
    ['end', end],
    ['step', step],
  ] as const)
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new KilnError('ERR_ARG', `arange: ${k} must be a finite number, got ${v}`);
  if (step === 0) throw new KilnError('ERR_ARG', 'arange: step must be nonzero');
  if ((end - start) / step < 0)
    throw new KilnError('ERR_ARG', `arange: step ${step} does not lead from ${start} to ${end}`);
  const allInt = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  const { dtype, device } = resolve('arange', opts, allInt ? 'int64' : 'float32');
  const n = Math.ceil((end - start) / step);
  const vals = new Float64Array(n);
  for (let i = 0; i < n; i++) vals[i] = start + i * step;
  return finish(fromNumbers(vals, [n], dtype, 'arange', device), opts);
}

/** `steps` evenly spaced values from start to end inclusive. */
export function linspace(start: number, end: number, steps: number, opts?: TensorOptions): Tensor {
  if (!Number.isInteger(steps) || steps < 0)
    throw new KilnError('ERR_ARG', `linspace: steps must be a non-negative integer, got ${steps}`);
  const { dtype, device } = resolve('linspace', opts, 'float32');
  const vals = new Float64Array(steps);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  // Symmetric evaluation like PyTorch: the second half counts back from end.
  for (let i = 0; i < steps; i++) vals[i] = i < steps / 2 ? start + step * i : end - step * (steps - 1 - i);
  return finish(fromNumbers(vals, [steps], dtype, 'linspace', device), opts);
}

/** Identity matrix n x m (m defaults to n). */
export function eye(n: number, m: number = n, opts?: TensorOptions): Tensor {
  checkShape([n, m], 'eye', 'size');
  const { dtype, device } = resolve('eye', opts, 'float32');
  const t = Tensor._empty([n, m], dtype, 'eye', device);
  runKernel(OP.FILL, [t], [], [0]);
  const d = t._view([Math.min(n, m)], [m + 1], 0); // the diagonal
  runKernel(OP.FILL, [d], [], [1]);
  d.dispose();
  return finish(t, opts);
}

const likeOpts = (t: Tensor, opts?: TensorOptions): TensorOptions => ({ dtype: t.dtype, device: t.device, ...opts });
export const emptyLike = (t: Tensor, opts?: TensorOptions): Tensor => empty(t._shape.slice(), likeOpts(t, opts));
export const zerosLike = (t: Tensor, opts?: TensorOptions): Tensor => zeros(t._shape.slice(), likeOpts(t, opts));
export const onesLike = (t: Tensor, opts?: TensorOptions): Tensor => ones(t._shape.slice(), likeOpts(t, opts));
export const fullLike = (t: Tensor, value: number | boolean, opts?: TensorOptions): Tensor =>
  full(t._shape.slice(), value, likeOpts(t, opts));

// Read-only 0-d tensors for JS scalars in ops (x.add(1)), kept across calls: making one costs an
// allocation and a kernel call, more than a small op itself. Never handed to users.
const scalarCache = new Map<DType, Map<number, Tensor>>();
let scalarCount = 0;
const cachedScalars = new WeakSet<Tensor>();
const SCALAR_CACHE_LIMIT = 512;

/** A 0-d tensor holding a JS scalar, for ops that mix tensors and numbers (read-only; may be shared). */
export function scalarTensor(v: number | boolean, dtype: DType): Tensor {
  const key = Number(v);
  let byValue = scalarCache.get(dtype);
  if (!byValue) scalarCache.set(dtype, (byValue = new Map()));
  const hit = byValue.get(key);
  if (hit) return hit;
  const cache = scalarCount < SCALAR_CACHE_LIMIT && !Object.is(key, -0) && !Number.isNaN(key);
  const t = Tensor._empty([], dtype, 'scalar', 'cpu', !cache);
  runKernel(OP.FILL, [t], [], [Number(v)]);
  t._storage.scalar = true; // read-only: ops on a CUDA device use a copy there (dispatch.ts)
  if (cache) {
    byValue.set(key, t);
    scalarCount++;
    cachedScalars.add(t);
    // Internal and bounded: not counted as the user's tensors in kiln.memory().
    liveStats.tensors--;
    liveStats.storages--;
    liveStats.bytes -= t._storage.nbytes;
  }
  return t;
}

export const isCachedScalar = (t: Tensor): boolean => cachedScalars.has(t);

/**
 * The [2, count] int64 row and column indices of the lower (upper) triangle of a rows x cols
 * matrix, diagonal offset as tril/triu take it, row by row (torch.tril_indices / triu_indices).
 */
function triIndices(
  op: string,
  rows: number,
  cols: number,
  offset: number,
  lower: boolean,
  opts?: TensorOptions,
): Tensor {
  for (const [n, v] of [
    ['rows', rows],
    ['cols', cols],
    ['offset', offset],
  ] as const)
    if (!Number.isInteger(v) || (n !== 'offset' && v < 0))
      throw new KilnError(
        'ERR_ARG',
        `${op}: ${n} must be ${n === 'offset' ? 'an' : 'a non-negative'} integer, got ${v}`,
      );
  const r: number[] = [],
    c: number[] = [];
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++)
      if (lower ? j - i <= offset : j - i >= offset) {
        r.push(i);
        c.push(j);
      }
  const { dtype, device } = resolve(op, opts, 'int64');
  return fromNumbers([...r, ...c], [2, r.length], dtype, op, device);
}
export const trilIndices = (rows: number, cols: number, offset = 0, opts?: TensorOptions): Tensor =>
  triIndices('trilIndices', rows, cols, offset, true, opts);
export const triuIndices = (rows: number, cols: number, offset = 0, opts?: TensorOptions): Tensor =>
  triIndices('triuIndices', rows, cols, offset, false, opts);
