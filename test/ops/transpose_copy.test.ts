// contiguous() of transposed and permuted views (elementwise.cpp transpose_copy; the ISA's
// transpose32 for 4-byte dtypes): every element against its index, across tile and vector edges,
// for 1-, 2-, 4- and 8-byte dtypes and with outer dims.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

function check(shape: number[], perm: number[], dtype: kiln.DType) {
  const n = shape.reduce((a, b) => a * b, 1);
  const base = kiln
    .arange(0, n)
    .remainder(dtype === 'uint8' ? 251 : 1 << 20)
    .to(dtype)
    .reshape(shape);
  const v = base.permute(perm);
  const got = v.contiguous();
  assert.equal(
    got.shape,
    perm.map((d) => shape[d]),
  );
  const src = Array.from(base.to('float64').data() as Float64Array),
    out = Array.from(got.to('float64').data() as Float64Array);
  const st = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const oshape = got.shape;
  const idx = new Array(oshape.length).fill(0);
  for (let k = 0; k < out.length; k++) {
    let off = 0;
    for (let d = 0; d < oshape.length; d++) off += idx[d] * st[perm[d]];
    if (out[k] !== src[off])
      assert.unreachable(`${dtype} ${shape} perm ${perm}: element ${k} is ${out[k]}, want ${src[off]}`);
    for (let d = oshape.length - 1; d >= 0 && ++idx[d] === oshape[d]; d--) idx[d] = 0;
  }
  for (const t of [base, v, got]) t.dispose();
}

test('2-D transposes across tile and vector edges, every dtype width', () => {
  for (const dtype of ['float32', 'int32', 'float64', 'float16', 'uint8', 'bfloat16'] as kiln.DType[])
    for (const [r, c] of [
      [16, 16],
      [17, 33],
      [33, 47],
      [100, 515],
      [515, 40],
      [64, 1030],
      [20, 3],
    ])
      check([r, c], [1, 0], dtype);
});

test('permutes with outer dims', () => {
  check([3, 40, 70], [0, 2, 1], 'float32');
  check([5, 18, 33], [2, 1, 0], 'float32');
  check([2, 3, 50, 20], [0, 3, 1, 2], 'float32');
  check([4, 31, 45], [0, 2, 1], 'int64');
});

test('the transpose of a 4-byte NaN keeps its bits', () => {
  const bits = kiln.tensor([0x7fc00001, 0x7f800001, -1, 0], { dtype: 'int32' }).reshape([2, 2]);
  const big = kiln.zeros([32, 32], { dtype: 'int32' });
  big.narrow(0, 0, 2).narrow(1, 0, 2).copy_(bits);
  const t = big.t().contiguous();
  assert.equal(t.narrow(0, 0, 2).narrow(1, 0, 2).toArray(), [
    [0x7fc00001, -1],
    [0x7f800001, 0],
  ]);
  for (const x of [bits, big, t]) x.dispose();
});

test.run();
