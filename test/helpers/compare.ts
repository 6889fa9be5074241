// Shared assertions: compare a kiln tensor with a reference (shape, then values within a
// tolerance scaled to the dtype's epsilon and the value's magnitude).
import * as assert from 'uvu/assert';
import type { DType } from '../../ts/dtype';
import { KilnError, type Tensor } from '../../ts/index';
import type { RefValue } from '../../ts/ops/row';

export const EPS: Record<DType, number> = {
  float32: 2 ** -23,
  float64: 2 ** -52,
  float16: 2 ** -10,
  bfloat16: 2 ** -7,
  int32: 0,
  int64: 0,
  uint8: 0,
  bool: 0,
};

/** Returns null when equal, else a message naming the first mismatch. */
export function mismatch(got: Tensor, want: RefValue, tolUlps = 4): string | null {
  const gs = got.shape;
  if (gs.length !== want.shape.length || gs.some((s, i) => s !== want.shape[i]))
    return `shape [${gs}] != [${want.shape}]`;
  const g = got._numbers();
  const eps = EPS[got.dtype];
  for (let i = 0; i < g.length; i++) {
    const a = g[i],
      b = want.data[i];
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    if (a === b) continue;
    const tol = tolUlps * eps * Math.max(1, Math.abs(b));
    if (!(Math.abs(a - b) <= tol)) return `element ${i}: got ${a}, want ${b} (tolerance ${tol})`;
  }
  return null;
}

/** Asserts that fn throws a KilnError with `code` and a message worth reading. */
export function throwsCode(fn: () => unknown, code: string, label: string): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, KilnError, `${label}: threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    assert.is((e as KilnError).code, code, `${label}: ${(e as Error).message}`);
    assert.ok((e as Error).message.length > 10, `${label}: message too short`);
    return;
  }
  assert.unreachable(`${label}: did not throw ${code}`);
}
