// argmax / argmin over a contiguous float32 run (reduce.cpp arg_run_f32: the ISA's max, then a
// search) against the float64 tensor's element-by-element path: ties, signed zeros, infinities,
// NaN anywhere (the first NaN wins), lengths around the vector width.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

test('argmax / argmin of float32 rows agree with the float64 path', () => {
  kiln.manualSeed(11);
  const specials = [0, -0, Infinity, -Infinity, NaN, 5, 5, -7];
  for (const n of [1, 2, 15, 16, 17, 33, 100, 1000]) {
    const rows: number[][] = [];
    for (let r = 0; r < 24; r++) {
      const row = Array.from(kiln.randint(-4, 5, [n]).data() as BigInt64Array, Number);
      if (r % 3 === 1) row[(r * 7) % n] = specials[r % specials.length];
      if (r % 5 === 2) ((row[(r * 3) % n] = NaN), (row[n - 1] = NaN));
      if (r === 5) row.fill(-Infinity);
      if (r === 6) (row.fill(0), (row[n >> 1] = -0));
      rows.push(row);
    }
    const x32 = kiln.tensor(rows),
      x64 = x32.to('float64');
    for (const f of ['argmax', 'argmin'] as const) {
      const a = Array.from(x32[f](1).data() as BigInt64Array),
        b = Array.from(x64[f](1).data() as BigInt64Array);
      assert.equal(a, b, `${f} n=${n}`);
    }
    (x32.dispose(), x64.dispose());
  }
});

test.run();
