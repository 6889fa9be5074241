/** dtypes: names, native ids, sizes, typed-array views and PyTorch's promotion rules. */
import { KilnError } from './errors';

/** The dtypes kiln stores. float16/bfloat16 compute in float32 on CPU. */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int32' | 'int64' | 'uint8' | 'bool';

/** Order matches kiln_dtype in native/include/kiln.h. */
export const DTYPES: readonly DType[] = [
  'float32',
  'float64',
  'float16',
  'bfloat16',
  'int32',
  'int64',
  'uint8',
  'bool',
];
export const DTYPE_IDS: Readonly<Record<DType, number>> = {
  float32: 0,
  float64: 1,
  float16: 2,
  bfloat16: 3,
  int32: 4,
  int64: 5,
  uint8: 6,
  bool: 7,
};
export const ITEMSIZE: Readonly<Record<DType, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  int64: 8,
  uint8: 1,
  bool: 1,
};

export const FLOAT_DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16'];
export const INT_DTYPES: readonly DType[] = ['int32', 'int64', 'uint8'];
export const NUMERIC_DTYPES: readonly DType[] = [...FLOAT_DTYPES, ...INT_DTYPES];
export const ALL_DTYPES = DTYPES;

export const isFloating = (d: DType): boolean =>
  d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
export const isIntegral = (d: DType): boolean => d === 'int32' || d === 'int64' || d === 'uint8';

/** The typed array `data()` returns for each dtype (half types as raw Uint16 bits, bool as Uint8). */
export type TypedArray = Float32Array | Float64Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;
export function typedArrayFor(d: DType, buf: ArrayBuffer, byteOffset: number, length: number): TypedArray {
  switch (d) {
    case 'float32':
      return new Float32Array(buf, byteOffset, length);
    case 'float64':
      return new Float64Array(buf, byteOffset, length);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buf, byteOffset, length);
    case 'int32':
      return new Int32Array(buf, byteOffset, length);
    case 'int64':
      return new BigInt64Array(buf, byteOffset, length);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf, byteOffset, length);
  }
}

export function checkDType(d: unknown, where: string): DType {
  if (typeof d === 'string' && (DTYPES as readonly string[]).includes(d)) return d as DType;
  throw new KilnError(
    'ERR_DTYPE',
    `${where}: unknown dtype ${JSON.stringify(d)} (expected one of ${DTYPES.join(', ')})`,
  );
}

// Promotion lattice (PyTorch): bool < uint8 < int32 < int64 < float16|bfloat16 < float32 < float64.
const RANK: Readonly<Record<DType, number>> = {
  bool: 0,
  uint8: 1,
  int32: 2,
  int64: 3,
  float16: 4,
  bfloat16: 4,
  float32: 5,
  float64: 6,
};

/** torch.promote_types */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if ((a === 'float16' && b === 'bfloat16') || (a === 'bfloat16' && b === 'float16')) return 'float32';
  return RANK[a] >= RANK[b] ? a : b;
}

/** Result dtype of a tensor op with a JS scalar (PyTorch's "weak" scalar rule). */
export function promoteWithScalar(t: DType, s: number | boolean): DType {
  if (typeof s === 'boolean') return t;
  if (Number.isInteger(s)) return t === 'bool' ? 'int64' : t;
  return isFloating(t) ? t : 'float32';
}

/** float16 bits <-> number, bfloat16 bits <-> number (for printing and tensor() from arrays). */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export function bf16ToNumber(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}
export function numberToBf16(x: number): number {
  f32[0] = x;
  const u = u32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
export function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
export function numberToHalf(x: number): number {
  f32[0] = x;
  const u = u32[0],
    sign = (u >>> 16) & 0x8000,
    a = u & 0x7fffffff;
  if (a >= 0x7f800000) return sign | 0x7c00 | (a > 0x7f800000 ? 0x200 : 0);
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a < 0x38800000) {
    f32[0] = Math.abs(f32[0]);
    const v = f32[0] * 16777216;
    let m = Math.floor(v);
    const r = v - m;
    if (r > 0.5 || (r === 0.5 && m & 1)) m++;
    return sign | m;
  }
  const mant = a & 0x7fffff,
    e = (a >>> 23) - 112;
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** Rounds a JS number to what a dtype stores (used by references and tests). */
export function roundTo(d: DType, x: number): number {
  switch (d) {
    case 'float32':
      return Math.fround(x);
    case 'float64':
      return x;
    case 'float16':
      return halfToNumber(numberToHalf(x));
    case 'bfloat16':
      return bf16ToNumber(numberToBf16(x));
    case 'int32':
      return Number.isFinite(x) ? Math.trunc(x) | 0 : 0;
    case 'int64':
      return Number.isFinite(x) ? Math.trunc(x) : 0;
    case 'uint8':
      return Number.isFinite(x) ? Math.trunc(x) & 0xff : 0;
    case 'bool':
      return x !== 0 ? 1 : 0;
  }
}
