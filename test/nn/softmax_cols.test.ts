// Softmax and log-softmax over a dim that is not the last (arch/rows.inc softmax_cols and
// softmax_backward_cols: strips of columns, blocks of 8 rows with a running max, a second pass
// that writes; the backward's walk, which sums a strip while the one before writes): forward and
// backward against float64 on shapes that cut strips, blocks and vectors short; logits of 1e4;
// columns of -inf, +inf and NaN as the float64 path answers them; a column's bits whatever
// columns run beside it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { softmaxBackward } from '../../ts/ops/softmax';

const F = kiln.nn.functional;
const num = (t: kiln.Tensor): number[] => Array.from(t.contiguous().data() as ArrayLike<number>);

/** max |a - b| / (|b| + floor) over the elements. */
function worst(a: number[], b: number[], floor: number): number {
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + floor));
  return w;
}

// [outer, n, inner] with the softmax over n: n across the 8-row blocks, inner across the vectors
// (16 floats) and the 256-column groups.
const shapes: [number, number, number][] = [
  [1, 1, 2],
  [2, 3, 17],
  [1, 8, 16],
  [3, 9, 40],
  [2, 33, 256],
  [1, 70, 300],
  [2, 5, 531],
  [1, 300, 33],
  [1, 1100, 20],
];

test('forward within a few ulps of float64, both forms', () => {
  kiln.manualSeed(5);
  for (const [o, n, i] of shapes)
    for (const scale of [1, 30]) {
      const x = kiln.randn([o, n, i]).mul(scale);
      const x64 = x.to('float64');
      const p = num(F.softmax(x, 1)),
        p64 = num(F.softmax(x64, 1));
      // relative to each probability above 1e-3; below, float32's x - max (rounded as PyTorch's is,
      // by up to 2^-18 at 120) moves e^(x - max) by up to 4e-6 of itself
      assert.ok(worst(p, p64, 1e-3) < 2e-6, `softmax [${o}, ${n}, ${i}] x${scale}: ${worst(p, p64, 1e-3)}`);
      assert.ok(worst(p, p64, 1e-30) < 2e-5, `softmax [${o}, ${n}, ${i}] x${scale}: ${worst(p, p64, 1e-30)}`);
      const l = num(F.logSoftmax(x, 1)),
        l64 = num(F.logSoftmax(x64, 1));
      assert.ok(worst(l, l64, 1) < 1e-6, `logSoftmax [${o}, ${n}, ${i}] x${scale}: ${worst(l, l64, 1)}`);
    }
});

test('logits of 1e4 keep their differences', () => {
  kiln.manualSeed(6);
  const x = kiln.randn([40, 300]).add(1e4);
  const l = num(F.logSoftmax(x, 0)),
    l64 = num(F.logSoftmax(x.to('float64'), 0));
  assert.ok(worst(l, l64, 1) < 4e-6, `${worst(l, l64, 1)}`);
  const p = num(F.softmax(x, 0)),
    p64 = num(F.softmax(x.to('float64'), 0));
  assert.ok(worst(p, p64, 1e-3) < 2e-6, `${worst(p, p64, 1e-3)}`);
});

test('backward within a few ulps of float64, both forms', () => {
  kiln.manualSeed(7);
  // [3, 64, 5000]: tasks of several strips, walked (softmax.cpp walk_strips), the last one narrower
  for (const [o, n, i] of [...shapes, [3, 64, 5000] as const])
    for (const log of [false, true]) {
      const x = kiln.randn([o, n, i]).mul(3),
        gy = kiln.randn([o, n, i]);
      const y = log ? F.logSoftmax(x, 1) : F.softmax(x, 1);
      const gx = num(softmaxBackward(gy, y, 1, log)),
        gx64 = num(softmaxBackward(gy.to('float64'), y.to('float64'), 1, log));
      // against the largest gradient of the tensor: the terms cancel
      const big = gx64.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-12);
      assert.ok(worst(gx, gx64, big) < 2e-6, `[${o}, ${n}, ${i}] log ${log}: ${worst(gx, gx64, big)}`);
    }
});

test('columns of -inf, +inf and NaN answer as float64 does', () => {
  const n = 20,
    inner = 40;
  const v = Array.from({ length: n * inner }, (_, k) => Math.sin(k) * 3);
  for (let i = 0; i < n; i++) {
    v[i * inner + 3] = -Infinity; // column 3 all -inf
    v[i * inner + 20] = i === 7 ? Infinity : v[i * inner + 20]; // column 20 holds one +inf
  }
  v[11 * inner + 33] = NaN; // column 33 holds a NaN
  v[2 * inner + 35] = -Infinity; // column 35 holds one -inf: probability 0
  const x = kiln.tensor(v).reshape([n, inner]);
  for (const log of [false, true]) {
    const f = (t: kiln.Tensor) => num(log ? F.logSoftmax(t, 0) : F.softmax(t, 0));
    const a = f(x),
      b = f(x.to('float64'));
    for (let k = 0; k < a.length; k++) {
      if (Number.isNaN(b[k])) assert.ok(Number.isNaN(a[k]), `log ${log} element ${k}: ${a[k]}, want NaN`);
      else
        assert.ok(
          a[k] === b[k] || Math.abs(a[k] - b[k]) <= 1e-6 * Math.max(1, Math.abs(b[k])),
          `log ${log} element ${k}`,
        );
    }
    assert.ok(Number.isNaN(a[3]) && Number.isNaN(a[33]), `log ${log}: the -inf and NaN columns are NaN`);
    assert.is(a[2 * inner + 35], log ? -Infinity : 0);
  }
});

test("a column's bits do not depend on the columns beside it", () => {
  kiln.manualSeed(8);
  const x = kiln.randn([37, 300]).mul(4);
  const all = new Float32Array(num(F.softmax(x, 0)));
  // two columns: one would be a row (the row path)
  for (const j of [0, 15, 16, 254, 256, 298]) {
    const two = new Float32Array(num(F.softmax(x.narrow(1, j, 2).contiguous(), 0)));
    for (let i = 0; i < 37; i++)
      for (const c of [0, 1]) assert.is(two[i * 2 + c], all[i * 300 + j + c], `column ${j + c} row ${i}`);
  }
});

test.run();
