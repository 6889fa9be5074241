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

// Views whose innermost collapsed run is short (elementwise.cpp copy_loop's blocks of rows: lengths
// 2, 3 and 4 unrolled, 5 to 8 by the loop, 9 the general walk), against every element's index:
// expands of size-1 dims (repeats, nearest upsampling by views) and permutes of small trailing
// dims (pixel shuffle), same dtype and converting.
function checkView(shape: number[], perm: number[], expand: number[] | null, from: kiln.DType, to: kiln.DType) {
  const n = shape.reduce((a, b) => a * b, 1);
  const base = kiln.arange(0, n).remainder(251).to(from).reshape(shape);
  let st = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  let v = base.permute(perm);
  st = perm.map((d) => st[d]);
  let vshape = perm.map((d) => shape[d]);
  if (expand) {
    st = st.map((s, d) => (vshape[d] === 1 && expand[d] !== 1 ? 0 : s));
    vshape = expand.slice();
    v = v.expand(expand);
  }
  const got = from === to ? v.contiguous() : v.to(to);
  assert.equal(got.shape, vshape);
  const src = Array.from(base.to('float64').data() as Float64Array),
    out = Array.from(got.to('float64').data() as Float64Array);
  const idx = new Array(vshape.length).fill(0);
  for (let k = 0; k < out.length; k++) {
    let off = 0;
    for (let d = 0; d < vshape.length; d++) off += idx[d] * st[d];
    if (out[k] !== src[off])
      assert.unreachable(
        `${from}->${to} ${shape} perm ${perm} expand ${expand}: element ${k} is ${out[k]}, want ${src[off]}`,
      );
    for (let d = vshape.length - 1; d >= 0 && ++idx[d] === vshape[d]; d--) idx[d] = 0;
  }
  for (const t of [base, v, got]) t.dispose();
}

test('short innermost runs: expands and small permutes, every run length to 9', () => {
  for (let L = 1; L <= 9; L++) {
    // nearest upsampling by a view: [2, 3, 5, 1, 7, 1] -> [2, 3, 5, L, 7, L]
    checkView([2, 3, 5, 1, 7, 1], [0, 1, 2, 3, 4, 5], [2, 3, 5, L, 7, L], 'float32', 'float32');
    // pixel shuffle's permute: [N, C, r, r, H, W] -> [N, C, H, r, W, r] with r = L
    checkView([2, 3, L, L, 4, 5], [0, 1, 4, 2, 5, 3], null, 'float32', 'float32');
    checkView([3, 1, 6, 1], [0, 1, 2, 3], [3, L, 6, L], 'int64', 'int64');
    checkView([4, 6, L], [1, 0, 2], null, 'float32', 'float64');
    checkView([5, 1, L], [0, 1, 2], [5, 3, L], 'uint8', 'float32');
    checkView([4, 6, L], [1, 0, 2], null, 'float32', 'float16');
    checkView([4, 6, L], [1, 0, 2], null, 'float16', 'float32');
    checkView([4, 6, L], [1, 0, 2], null, 'float32', 'bfloat16');
  }
});

test.run();
