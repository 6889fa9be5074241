// Shared by test/unit/linalg.test.ts and linalg_derived.test.ts: float64 tensor makers, the
// closeness check and the gradient comparison against torch, and the input matrices torch saw.
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

export type Nested = number | Nested[];

export const f64 = (d: Nested) => kiln.tensor(d as kiln.TensorData, { dtype: 'float64' });

export const f32 = (d: Nested) => kiln.tensor(d as kiln.TensorData, { dtype: 'float32' });

export const leaf = (d: Nested) => kiln.tensor(d as kiln.TensorData, { dtype: 'float64', requiresGrad: true });

export const shapeOf = (x: Nested): number[] =>
  Array.isArray(x) ? [x.length, ...(x.length ? shapeOf(x[0]) : [])] : [];

export const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);

/** got has want's shape and values within tol (relative above 1, absolute below); NaN and infinities exactly. */
export function close(got: kiln.Tensor, want: Nested, label: string, tol = 1e-10): void {
  assert.equal(got.shape, shapeOf(want), `${label}: shape`);
  const g = flat(got.to('float64').toArray());
  const w = flat(want);
  g.forEach((x, i) => {
    if (Number.isNaN(w[i])) return assert.ok(Number.isNaN(x), `${label}[${i}]: got ${x}, want NaN`);
    if (!Number.isFinite(w[i])) return assert.is(x, w[i], `${label}[${i}]`);
    assert.ok(Math.abs(x - w[i]) <= tol * Math.max(1, Math.abs(w[i])), `${label}[${i}]: got ${x}, want ${w[i]}`);
  });
}

/** Compares the gradient of each input of loss(...inputs) (float64 leaves) with torch's. */
export function gradsMatch(
  label: string,
  loss: (...xs: kiln.Tensor[]) => kiln.Tensor,
  inputs: Nested[],
  want: Nested[],
): void {
  const xs = inputs.map(leaf);
  loss(...xs).backward();
  xs.forEach((x, i) => close(x.grad!, want[i], `${label}: gradient of input ${i}`, 1e-9));
}

export const mT = (m: number[][]) => m[0].map((_, j) => m.map((r) => r[j]));

// Inputs (torch saw the same float64 values).
export const SPD3 = [
  [4, 1, 2],
  [1, 5, 3],
  [2, 3, 6],
];

export const SPD3B = [
  SPD3,
  [
    [2, -1, 0],
    [-1, 2, -1],
    [0, -1, 2],
  ],
];

export const G3 = [
  [2, -1, 0.5],
  [1, 3, -2],
  [0.5, 1, 4],
];

export const G3B = [
  G3,
  [
    [1, 2, 0],
    [0, 1, 3],
    [4, 0, 1],
  ],
];

export const G4 = [
  [3, 1, -1, 2],
  [1, -4, 2, 0.5],
  [2, 0, 5, -1],
  [-1, 2, 1, 6],
];

export const B32 = [
  [1, 2],
  [0, -1],
  [3, 0.5],
];

export const B23 = [
  [1, 0, -1],
  [2, 0.5, 3],
];

export const b3 = [1, -2, 0.5];

export const b23 = [
  [1, -2, 0.5],
  [0, 1, 2],
];

export const T43 = [
  [1, 2, 3],
  [4, 5, 6.5],
  [7, 8.5, 9],
  [-1, 0, 2],
];

export const W34 = [
  [1, -2, 3, 0.5],
  [2, 0, 1, -1],
  [0, 1, -1, 2],
];

export const RD3 = [
  [1, 2, 3],
  [2, 4, 6],
  [1, 0, 1],
];

export const X3 = [
  [1, 0.2, 0],
  [0.3, 1.1, 0.1],
  [-0.2, 0.4, 0.9],
];

export const W3 = [
  [0.5, -1, 0.3],
  [0.2, 0.7, -0.4],
  [1.1, 0.1, -0.6],
];

export const W32 = [
  [0.5, -1],
  [0.2, 0.7],
  [1.1, 0.1],
];
