/** KilnError: every bad input kiln sees is thrown as one, with a stable `code`. */

/** The documented error codes. */
export type KilnErrorCode =
  | 'ERR_SHAPE'
  | 'ERR_DTYPE'
  | 'ERR_DEVICE'
  | 'ERR_DISPOSED'
  | 'ERR_OOM'
  | 'ERR_CUDA'
  | 'ERR_NOT_COMPILED'
  | 'ERR_ARG'
  | 'ERR_INDEX'
  | 'ERR_AUTOGRAD'
  /** loadStateDict: missing, unexpected or mis-shaped keys (the message names them). */
  | 'ERR_STATE_DICT'
  /** kiln.linalg: a matrix the op cannot use (singular, not positive definite), or an iteration that did not converge (torch.linalg.LinAlgError). */
  | 'ERR_LINALG'
  | 'ERR_NATIVE';

/**
 * The error kiln throws. `code` is stable; the message names the op, the argument and the
 * shapes/dtypes/devices involved.
 * @example
 * try { kiln.zeros([2, 3]).matmul(kiln.zeros([2, 3])); } catch (e) { if (e instanceof kiln.KilnError) e.code; }
 */
export class KilnError extends Error {
  readonly code: KilnErrorCode;
  constructor(code: KilnErrorCode, message: string) {
    super(message);
    this.name = 'KilnError';
    this.code = code;
  }
}

/** Native status codes (native/include/kiln.h) to error codes. */
export const STATUS_CODES: readonly KilnErrorCode[] = [
  'ERR_NATIVE', // 0 is OK and never thrown
  'ERR_ARG',
  'ERR_SHAPE',
  'ERR_DTYPE',
  'ERR_DEVICE',
  'ERR_OOM',
  'ERR_NOT_COMPILED',
  'ERR_CUDA',
  'ERR_NATIVE',
  'ERR_INDEX',
];

/** Throws a KilnError unless `cond` holds. */
export function check(cond: unknown, code: KilnErrorCode, message: () => string): asserts cond {
  if (!cond) throw new KilnError(code, message());
}
