// x ** 2 runs as x * x (elementwise.cpp, scalar_math.h Pow): the correctly rounded square, on
// contiguous and strided inputs, special values included, and its gradient 2x.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const specials = [3, -1.5, 0, -0, Infinity, -Infinity, NaN, 1e20, -1e-30, 0.1, 1.7e19, 1.9e19, 65537];

test('pow(2) is the rounded square, contiguous or strided', () => {
  kiln.manualSeed(3);
  const r = kiln.randn([37, 41]).mul(100);
  const vals = [...specials, ...Array.from(r.data() as Float32Array)];
  const x = kiln.tensor(vals);
  const want = vals.map((v) => Math.fround(Math.fround(v) * Math.fround(v)));
  const got = Array.from(x.pow(2).data() as Float32Array);
  got.forEach((g, i) => assert.ok(Object.is(g, want[i]) || (isNaN(g) && isNaN(want[i])), `${vals[i]}: ${g}`));
  const t = r.t(); // strided: the general loop
  const gs = t.pow(2).contiguous().data() as Float32Array,
    ws = t.mul(t).contiguous().data() as Float32Array;
  assert.equal(Array.from(gs), Array.from(ws));
  for (const z of [r, x, t]) z.dispose();
});

test('the gradient of pow(2) is 2x', () => {
  const x = kiln.tensor([3, -1.5, 0.25, 1e10]).requiresGrad_();
  x.pow(2).sum().backward();
  assert.equal(Array.from(x.grad!.data() as Float32Array), [6, -3, 0.5, 2e10]);
  x.dispose();
});

test.run();
