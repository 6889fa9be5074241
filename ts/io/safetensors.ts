/**
 * safetensors files (https://huggingface.co/docs/safetensors), written to the format's
 * specification: an 8-byte little-endian header length N, N bytes of JSON
 * ({ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": { string: string } }),
 * padded with spaces to a multiple of 8, then the tensors' raw little-endian bytes with no gaps.
 * Saving streams each tensor's own memory to the file; loading reads each tensor's bytes straight
 * into a new tensor's memory, so neither keeps a second copy of the whole file.
 */
import * as fs from 'fs';
import * as os from 'os';
import { empty } from '../creation';
import { DType, ITEMSIZE } from '../dtype';
import { KilnError } from '../errors';
import { noGrad } from '../autograd/grad_mode';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';

/** kiln dtype <-> safetensors dtype tag. */
const TAG: Readonly<Record<DType, string>> = {
  float64: 'F64',
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_TAG: Readonly<Record<string, DType>> = Object.fromEntries(
  Object.entries(TAG).map(([d, t]) => [t, d as DType]),
);

/** What a file declares for one tensor. */
export interface TensorInfo {
  dtype: DType;
  shape: number[];
  /** Byte range within the data section. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Where the data section starts in the file (8 + header length). */
  dataStart: number;
}

export type TensorMap = Map<string, Tensor> | Record<string, Tensor>;

const entriesOf = (m: TensorMap): [string, Tensor][] => (m instanceof Map ? [...m] : Object.entries(m));
const CHUNK = 1 << 30; // fs calls move at most 2 GiB at a time

function bytesOf(t: Tensor): Uint8Array {
  const d = t.data();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function checkLittleEndian(op: string): void {
  if (os.endianness() !== 'LE')
    throw new KilnError('ERR_ARG', `${op}: safetensors are little-endian; this machine is not`);
}

/** The header JSON for these tensors (in the given order), padded with spaces to 8 bytes. */
function headerFor(list: [string, Tensor][], metadata: Record<string, string> | undefined): Buffer {
  const h: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string')
        throw new KilnError('ERR_ARG', `save: metadata values must be strings ('${k}' is ${typeof v})`);
    h.__metadata__ = metadata;
  }
  let off = 0;
  for (const [name, t] of list) {
    const n = t.numel() * ITEMSIZE[t.dtype];
    h[name] = { dtype: TAG[t.dtype], shape: t.shape.slice(), data_offsets: [off, off + n] };
    off += n;
  }
  const json = Buffer.from(JSON.stringify(h), 'utf8');
  const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, 0x20);
  json.copy(padded);
  const out = Buffer.alloc(8 + padded.length);
  out.writeBigUInt64LE(BigInt(padded.length), 0);
  padded.copy(out, 8);
  return out;
}

function checkTensors(list: [string, Tensor][]): void {
  const seen = new Set<string>();
  for (const [name, t] of list) {
    if (!(t instanceof Tensor)) throw new KilnError('ERR_ARG', `save: '${name}' is not a Tensor`);
    if (name === '__metadata__') throw new KilnError('ERR_ARG', "save: '__metadata__' is reserved for the metadata");
    if (seen.has(name)) throw new KilnError('ERR_ARG', `save: duplicate tensor name '${name}'`);
    seen.add(name);
    if (t.device !== 'cpu')
      throw new KilnError('ERR_DEVICE', `save: '${name}' is on ${t.device}; move it to the CPU first`);
  }
}

/** The bytes of a file in order: the header, then each tensor (made contiguous one at a time). */
function* fileBytes(tensors: TensorMap, metadata: Record<string, string> | undefined): Generator<Uint8Array> {
  checkLittleEndian('save');
  const list = entriesOf(tensors);
  checkTensors(list);
  yield headerFor(list, metadata);
  for (const [, t] of list) {
    if (t.numel() === 0) continue;
    const c = noGrad(() => (t.isContiguous() ? t : t.contiguous()));
    yield bytesOf(c);
    if (c !== t) c.dispose();
  }
}

/**
 * Writes tensors (a Map, a plain object or a stateDict()) to a safetensors file, synchronously.
 * Non-contiguous tensors are made contiguous one at a time.
 */
export function saveSync(tensors: TensorMap, path: string, opts: { metadata?: Record<string, string> } = {}): void {
  const parts = fileBytes(tensors, opts.metadata);
  const first = parts.next(); // validates before the file is created
  const fd = fs.openSync(path, 'w');
  try {
    let pos = 0;
    for (let r = first; !r.done; r = parts.next())
      for (let o = 0; o < r.value.length;) {
        const n = fs.writeSync(fd, r.value, o, Math.min(CHUNK, r.value.length - o), pos);
        o += n;
        pos += n;
      }
  } finally {
    fs.closeSync(fd);
  }
}

/** saveSync without blocking the event loop on the writes. */
export async function save(
  tensors: TensorMap,
  path: string,
  opts: { metadata?: Record<string, string> } = {},
): Promise<void> {
  const parts = fileBytes(tensors, opts.metadata);
  const first = parts.next();
  const fh = await fs.promises.open(path, 'w');
  try {
    let pos = 0;
    for (let r = first; !r.done; r = parts.next())
      for (let o = 0; o < r.value.length;) {
        const { bytesWritten } = await fh.write(r.value, o, Math.min(CHUNK, r.value.length - o), pos);
        o += bytesWritten;
        pos += bytesWritten;
      }
  } finally {
    await fh.close();
  }
}

/** Parses and validates a header (shared by the sync and async readers). */
function parseHeader(
  path: string,
  lenBytes: Buffer,
  readJson: (n: number) => Buffer,
  fileSize: number,
): SafetensorsHeader {
  const bad = (why: string): never => {
    throw new KilnError('ERR_ARG', `load: ${path} is not a valid safetensors file: ${why}`);
  };
  if (fileSize < 8) bad(`only ${fileSize} bytes`);
  const n = Number(lenBytes.readBigUInt64LE(0));
  if (n > fileSize - 8 || n > 100 * 1024 * 1024) bad(`header length ${n} does not fit the file (${fileSize} bytes)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readJson(n).toString('utf8'));
  } catch (e) {
    bad(`header is not JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('header is not a JSON object');
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = FROM_TAG[String(e.dtype)];
    if (!dtype) bad(`tensor '${name}' has dtype ${JSON.stringify(e.dtype)}, which kiln does not have`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((s) => Number.isInteger(s) && s >= 0))
      bad(`tensor '${name}' has a bad shape`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[1] < off[0])
      bad(`tensor '${name}' has bad data_offsets`);
    const [b, end] = off as [number, number];
    const need = (shape as number[]).reduce((p, s) => p * s, 1) * ITEMSIZE[dtype];
    if (end - b !== need)
      bad(`tensor '${name}' ${shapeStr(shape as number[])} ${dtype} needs ${need} bytes, its offsets span ${end - b}`);
    tensors.set(name, { dtype, shape: shape as number[], dataOffsets: [b, end] });
    ranges.push([b, end, name]);
  }
  // The data section must be covered exactly, without overlaps or holes.
  ranges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let at = 0;
  for (const [b, end, name] of ranges) {
    if (b !== at) bad(`tensor '${name}' starts at byte ${b} of the data, expected ${at} (a hole or an overlap)`);
    at = end;
  }
  if (8 + n + at !== fileSize) bad(`the data section holds ${fileSize - 8 - n} bytes, the tensors ${at}`);
  return { tensors, metadata, dataStart: 8 + n };
}

/** The header of a safetensors file: names, dtypes, shapes, offsets and metadata. */
export function inspect(path: string): SafetensorsHeader {
  const fd = fs.openSync(path, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const len = Buffer.alloc(8);
    fs.readSync(fd, len, 0, Math.min(8, size), 0);
    return parseHeader(
      path,
      len,
      (n) => {
        const b = Buffer.alloc(n);
        fs.readSync(fd, b, 0, n, 8);
        return b;
      },
      size,
    );
  } finally {
    fs.closeSync(fd);
  }
}

/** New tensors for every entry of a file, added to `out` in file order, with where their bytes start. */
function* tensorReads(
  path: string,
  out: Map<string, Tensor>,
): Generator<{ dst: Uint8Array; at: number; name: string }> {
  checkLittleEndian('load');
  const header = inspect(path);
  for (const [name, info] of header.tensors) {
    const t = empty(info.shape, { dtype: info.dtype });
    out.set(name, t);
    if (t.numel() > 0) yield { dst: bytesOf(t), at: header.dataStart + info.dataOffsets[0], name };
  }
}

const truncated = (path: string, name: string) =>
  new KilnError('ERR_ARG', `load: ${path} ended inside tensor '${name}'`);

/** Reads every tensor of a safetensors file into kiln tensors (a Map in file order). */
export function loadSync(path: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const reads = tensorReads(path, out);
  const first = reads.next(); // validates the header before anything else
  const fd = fs.openSync(path, 'r');
  try {
    for (let r = first; !r.done; r = reads.next())
      for (let o = 0; o < r.value.dst.length;) {
        const got = fs.readSync(fd, r.value.dst, o, Math.min(CHUNK, r.value.dst.length - o), r.value.at + o);
        if (got <= 0) throw truncated(path, r.value.name);
        o += got;
      }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** loadSync without blocking the event loop on the reads. */
export async function load(path: string): Promise<Map<string, Tensor>> {
  const out = new Map<string, Tensor>();
  const reads = tensorReads(path, out);
  const first = reads.next();
  const fh = await fs.promises.open(path, 'r');
  try {
    for (let r = first; !r.done; r = reads.next())
      for (let o = 0; o < r.value.dst.length;) {
        const { bytesRead } = await fh.read(r.value.dst, o, Math.min(CHUNK, r.value.dst.length - o), r.value.at + o);
        if (bytesRead <= 0) throw truncated(path, r.value.name);
        o += bytesRead;
      }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  } finally {
    await fh.close();
  }
  return out;
}
