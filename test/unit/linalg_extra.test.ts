// kiln.linalg.matrixExp, invEx and solveEx against PyTorch 1.13 (float64 numbers embedded below).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const LA = kiln.linalg;
const A = [
  [0.1, 2, -1],
  [0.5, -0.3, 4],
  [1, 1, 1],
];
const W = [
  [1, -2, 0.5],
  [0.3, 1, 2],
  [-1, 0.7, 1],
];

function close(got: kiln.Tensor, want: number[][], label: string, tol: number): void {
  const g = (got.to('float64').toArray() as number[][]).flat();
  want
    .flat()
    .forEach((w, i) =>
      assert.ok(Math.abs(g[i] - w) <= tol * Math.max(1, Math.abs(w)), `${label}[${i}]: got ${g[i]}, want ${w}`),
    );
}

test('matrixExp: values (with and without squarings), float32, and the gradient match torch', () => {
  const a = kiln.tensor(A, { dtype: 'float64', requiresGrad: true });
  const e = LA.matrixExp(a);
  close(
    e,
    [
      [2.815021792504038, 3.523732262223561, 4.612449962204983],
      [5.25042393597464, 7.045229734885202, 12.290853568949611],
      [4.126531778632514, 5.257458827446776, 9.15059491552454],
    ],
    'exp(A)',
    1e-12,
  );
  e.mul(kiln.tensor(W, { dtype: 'float64' }))
    .sum()
    .backward();
  close(
    a.grad!,
    [
      [0.4838424542910078, 5.957109960875833, 7.362827455185586],
      [4.178427267808718, 16.530532818318783, 15.89944148787042],
      [4.652013778166228, 24.2486819997084, 22.965755346231212],
    ],
    'd exp(A)',
    1e-10,
  );
  close(
    LA.matrixExp(kiln.tensor(A, { dtype: 'float64' }).mul(10)),
    [
      [648236281330.5278, 839778350346.7274, 1409908525107.492],
      [1464241398263.0752, 1896898185672.1675, 3184712873505.129],
      [1098685096245.2949, 1423326623714.479, 2389630954357.131],
    ],
    'exp(10 A): 4 squarings',
    1e-12,
  );
  const e32 = LA.matrixExp(kiln.tensor(A, { dtype: 'float32' }));
  assert.is(e32.dtype, 'float32');
  close(e32, e.detach().toArray() as number[][], 'float32', 1e-6);
  assert.equal(LA.matrixExp(kiln.zeros([2, 0, 0])).shape, [2, 0, 0]);
  close(
    LA.matrixExp(kiln.zeros([2, 2])),
    [
      [1, 0],
      [0, 1],
    ],
    'exp(0)',
    0,
  );
});

test('invEx and solveEx report a singular matrix in info (torch: 2) and throw only with checkErrors', () => {
  const s = kiln
    .tensor([
      [
        [1, 2],
        [2, 4],
      ],
      [
        [2, 0],
        [0, 1],
      ],
    ])
    .float();
  const r = LA.invEx(s);
  assert.equal(r.info.toArray(), [2, 0]);
  close(
    r.inverse.select(0, 1),
    [
      [0.5, 0],
      [0, 1],
    ],
    'inverse of the regular one',
    0,
  );
  assert.is(LA.solveEx(s.select(0, 0), kiln.ones([2])).info.item(), 2);
  assert.is(LA.solveEx(s.select(0, 1), kiln.ones([2])).info.item(), 0);
  for (const run of [() => LA.invEx(s, true), () => LA.solveEx(s, kiln.ones([2, 2, 1]), {}, true)])
    assert.throws(
      run,
      (e: unknown) => e instanceof kiln.KilnError && e.code === 'ERR_LINALG' && /batch element 0/.test(e.message),
    );
});

test.run();
