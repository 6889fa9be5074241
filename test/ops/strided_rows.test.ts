// float32 elementwise ops on rows at a stride (a narrow of the last dim, broadcast rows) run the
// ISA's vector loop per row, the same function of each element as on contiguous inputs: the same
// bits as the op on a contiguous copy, special values included, for every unary op with a vector
// form and the binary arithmetic (with a broadcast row and a broadcast scalar column).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const specials = [0, -0, Infinity, -Infinity, NaN, 1e-40, -1e-40, 88.8, -104, 20, -20, 1e30, -1e30, 0.5, -0.5, 1];

function sameBits(got: kiln.Tensor, want: kiln.Tensor, what: string): void {
  const g = got.contiguous().data() as Float32Array,
    w = want.contiguous().data() as Float32Array;
  assert.is(g.length, w.length);
  for (let i = 0; i < g.length; i++)
    assert.ok(Object.is(g[i], w[i]) || (isNaN(g[i]) && isNaN(w[i])), `${what}[${i}]: ${g[i]} vs ${w[i]}`);
}

/** [rows, 3 * 37] with specials in it; the middle 37 columns are the strided operand. */
function wide(seed: number): kiln.Tensor {
  kiln.manualSeed(seed);
  const x = kiln.randn([9, 111]).mul(4);
  const d = x.data() as Float32Array;
  specials.forEach((v, i) => (d[37 + i] = v));
  return x;
}

test('unary: a narrow of the last dim gives the bits of the op on its contiguous copy', () => {
  const x = wide(1);
  const v = x.narrow(1, 37, 37),
    c = v.contiguous();
  const ops = [
    'neg',
    'abs',
    'sign',
    'exp',
    'log',
    'sqrt',
    'rsqrt',
    'tanh',
    'sigmoid',
    'floor',
    'ceil',
    'round',
    'trunc',
    'reciprocal',
    'log1p',
    'expm1',
  ] as const;
  for (const op of ops) sameBits(v[op](), c[op](), op);
});

test('binary: rows at a stride, a broadcast row and a broadcast column give the bits of contiguous operands', () => {
  const x = wide(2),
    y = wide(3);
  const a = x.narrow(1, 37, 37),
    b = y.narrow(1, 0, 37);
  const ac = a.contiguous(),
    bc = b.contiguous();
  const row = y.narrow(0, 0, 1).narrow(1, 74, 37); // [1, 37]: broadcast down the rows
  const col = y.narrow(1, 5, 1); // [9, 1]: one value per row
  for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const) {
    sameBits(a[op](b), ac[op](bc), `${op} strided`);
    sameBits(a[op](row), ac[op](row.contiguous().expand([9, 37]).contiguous()), `${op} row`);
    sameBits(col[op](a), col.contiguous().expand([9, 37]).contiguous()[op](ac), `${op} column`);
  }
});

test.run();
