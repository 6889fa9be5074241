/** Machine limits per dtype (torch.finfo and torch.iinfo): eps, max, tiny. */
import { checkDType, isFloating, type DType } from './dtype';
import { KilnError } from './errors';

/** The gap between 1 and the next representable number. */
export const EPS_OF: Readonly<Record<DType, number>> = {
  float32: 2 ** -23,
  float64: 2 ** -52,
  float16: 2 ** -10,
  bfloat16: 2 ** -7,
  int32: 1,
  int64: 1,
  uint8: 1,
  bool: 1,
};

/** The largest finite number. */
export const MAX_OF: Readonly<Record<DType, number>> = {
  float32: 3.4028234663852886e38,
  float64: Number.MAX_VALUE,
  float16: 65504,
  bfloat16: 3.3895313892515355e38,
  int32: 2147483647,
  int64: Number.MAX_SAFE_INTEGER,
  uint8: 255,
  bool: 1,
};

/** The smallest positive normal number. */
export const TINY_OF: Readonly<Record<DType, number>> = {
  float32: 2 ** -126,
  float64: 2 ** -1022,
  float16: 2 ** -14,
  bfloat16: 2 ** -126,
  int32: 1,
  int64: 1,
  uint8: 1,
  bool: 1,
};

const BITS: Readonly<Record<DType, number>> = {
  float32: 32,
  float64: 64,
  float16: 16,
  bfloat16: 16,
  int32: 32,
  int64: 64,
  uint8: 8,
  bool: 8,
};

/**
 * The limits of a floating dtype (torch.finfo): bits, eps (1 to the next number), max, min (-max),
 * tiny (the smallest positive normal number).
 * @example
 * kiln.finfo('float16').eps; // 0.0009765625
 */
export function finfo(dtype: DType = 'float32') {
  const d = checkDType(dtype, 'finfo');
  if (!isFloating(d)) throw new KilnError('ERR_DTYPE', `finfo: ${d} is not a floating dtype (iinfo is for integers)`);
  return { bits: BITS[d], eps: EPS_OF[d], max: MAX_OF[d], min: -MAX_OF[d], tiny: TINY_OF[d], dtype: d };
}

/** The limits of an integer dtype (torch.iinfo): bits, min and max (int64's as far as a JS number is exact). */
export function iinfo(dtype: DType) {
  const d = checkDType(dtype, 'iinfo');
  if (isFloating(d) || d === 'bool') throw new KilnError('ERR_DTYPE', `iinfo: ${d} is not an integer dtype`);
  const min = d === 'uint8' ? 0 : d === 'int32' ? -2147483648 : Number.MIN_SAFE_INTEGER;
  return { bits: BITS[d], min, max: MAX_OF[d], dtype: d };
}
