/** Machine limits per floating dtype (torch.finfo's eps and max), for the distributions' clamps. */
import type { DType } from '../dtype';

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
