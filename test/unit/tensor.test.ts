// Creation, conversion, printing, composites and in-place forms, each against values worked
// out by hand (or by the PyTorch behaviour they copy).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';

const close = (a: number[], b: number[], tol = 1e-5) =>
  a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) <= tol * Math.max(1, Math.abs(b[i])));
const flat = (t: kiln.Tensor) => t._numbers();

test('tensor() infers dtypes like PyTorch and keeps typed arrays', () => {
  assert.is(kiln.tensor([1, 2]).dtype, 'int64');
  assert.is(kiln.tensor([1.5, 2]).dtype, 'float32');
  assert.is(kiln.tensor([true, false]).dtype, 'bool');
  assert.is(kiln.tensor(new Float64Array([1, 2])).dtype, 'float64');
  assert.is(kiln.tensor(new Int32Array([1, 2])).dtype, 'int32');
  assert.is(kiln.tensor([1, 2], { requiresGrad: true }).dtype, 'float32');
  assert.is(kiln.tensor(3.5).ndim, 0);
  assert.equal(
    kiln.tensor([
      [1, 2],
      [3, 4],
    ]).shape,
    [2, 2],
  );
  assert.equal(kiln.tensor([]).shape, [0]);
  assert.equal(kiln.tensor([[], []]).shape, [2, 0]);
  assert.equal(kiln.tensor([[1n, 2n]]).toArray(), [[1, 2]]);
});

test('float16 and bfloat16 store rounded values and convert back', () => {
  const h = kiln.tensor([1, 0.1, 65504, 1e-7, -2.5], { dtype: 'float16' });
  assert.ok(close(flat(h), [1, 0.0999755859375, 65504, 1.1920928955078125e-7, -2.5], 1e-9));
  assert.is(kiln.tensor([70000], { dtype: 'float16' }).item(), Infinity);
  const b = kiln.tensor([1, 0.1, 3e38], { dtype: 'bfloat16' });
  assert.ok(close(flat(b), [1, 0.10009765625, 3.00405527047391e38], 1e-9));
  assert.ok(close(flat(h.to('float32').mul(2)), [2, 0.199951171875, 131008, 2.384185791015625e-7, -5], 1e-9));
  assert.ok(h.data() instanceof Uint16Array);
});

test('float32 to bfloat16 rounds the bits to nearest even, keeps subnormals and NaN, contiguous or strided', () => {
  // each float32 by its bits, and the bfloat16 bits dtype.h's float_to_bf16 gives it
  const cases: [number, number][] = [
    [0x3f808000, 0x3f80], // a tie, even below: down
    [0x3f818000, 0x3f82], // a tie, odd below: up
    [0x3f808001, 0x3f81], // past the tie: up
    [0x3f807fff, 0x3f80],
    [0x00000001, 0x0000], // the smallest subnormal rounds to zero
    [0x00018000, 0x0002], // a subnormal tie, odd below: up (no flush to zero)
    [0x807fffff, 0x8080], // the largest negative subnormal rounds up to the smallest normal
    [0x7f7fffff, 0x7f80], // the largest float rounds to infinity
    [0xff800000, 0xff80],
    [0x7f800001, 0x7fc0], // a signalling NaN stays a NaN (quiet bit set)
    [0xffc00000, 0xffc0],
  ];
  const n = 67; // past two vectors, with a tail
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i++) bits[i] = cases[i % cases.length][0];
  const x = kiln.tensor(new Float32Array(bits.buffer));
  const back = x.data() as Float32Array;
  assert.equal(Array.from(new Uint32Array(back.buffer, back.byteOffset, n)), Array.from(bits), 'input bits kept');
  const want = Array.from({ length: n }, (_, i) => cases[i % cases.length][1]);
  assert.equal(Array.from(x.to('bfloat16').data() as Uint16Array), want, 'contiguous');
  const two = kiln.stack([x, x], 1); // [n, 2]: its columns are strided
  assert.equal(Array.from(two.select(1, 1).to('bfloat16').data() as Uint16Array), want, 'strided');
});

test('data() gives the right typed array for each dtype', () => {
  const cases: [kiln.DType, unknown][] = [
    ['float32', Float32Array],
    ['float64', Float64Array],
    ['int32', Int32Array],
    ['int64', BigInt64Array],
    ['uint8', Uint8Array],
    ['bool', Uint8Array],
    ['float16', Uint16Array],
    ['bfloat16', Uint16Array],
  ];
  for (const [d, C] of cases) assert.instance(kiln.zeros([3], { dtype: d }).data(), C as never, d);
});

test('arange, linspace, eye, full and the *Like forms', () => {
  assert.equal(kiln.arange(5).toArray(), [0, 1, 2, 3, 4]);
  assert.equal(kiln.arange(1, 2, 0.25).toArray(), [1, 1.25, 1.5, 1.75]);
  assert.is(kiln.arange(1, 2, 0.25).dtype, 'float32');
  assert.equal(kiln.arange(10, 0, -3).toArray(), [10, 7, 4, 1]);
  assert.ok(close(flat(kiln.linspace(0, 1, 5)), [0, 0.25, 0.5, 0.75, 1]));
  assert.equal(kiln.eye(2, 3).toArray(), [
    [1, 0, 0],
    [0, 1, 0],
  ]);
  assert.equal(kiln.full([2], 7).toArray(), [7, 7]);
  assert.is(kiln.full([2], 7).dtype, 'int64');
  const x = kiln.ones([2, 3], { dtype: 'float64' });
  assert.is(kiln.zerosLike(x).dtype, 'float64');
  assert.equal(x.fullLike(2).toArray(), [
    [2, 2, 2],
    [2, 2, 2],
  ]);
});

test('printing follows PyTorch', () => {
  assert.is(
    kiln
      .tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { dtype: 'float32' },
      )
      .toString(),
    'tensor([[1., 2.],\n        [3., 4.]])',
  );
  assert.is(kiln.tensor([1.5, -2.25]).toString(), 'tensor([ 1.5000, -2.2500])');
  assert.is(kiln.tensor([1, 2, 3]).toString(), 'tensor([1, 2, 3])');
  assert.is(kiln.tensor([true, false]).toString(), 'tensor([ True, False])');
  assert.is(kiln.tensor(3.5).toString(), 'tensor(3.5000)');
  assert.is(kiln.tensor([1e-5, 1]).toString(), 'tensor([1.0000e-05, 1.0000e+00])');
  assert.is(kiln.tensor([1, 2], { dtype: 'float64' }).toString(), 'tensor([1., 2.], dtype=torch.float64)');
  assert.is(kiln.zeros([0, 3]).toString(), 'tensor([], size=(0, 3))');
  assert.match(kiln.arange(2000).toString(), /tensor\(\[   0,    1,    2,  \.\.\., 1997, 1998, 1999\]\)/);
  assert.is(kiln.tensor([NaN, Infinity, 1.5]).toString(), 'tensor([   nan,    inf, 1.5000])');
});

test('views: squeeze, unsqueeze, flatten, narrow, select, t, split, chunk, stack', () => {
  const x = kiln.arange(0, 6).reshape([1, 2, 3]);
  assert.equal(x.squeeze().shape, [2, 3]);
  assert.equal(x.squeeze(0).unsqueeze(-1).shape, [2, 3, 1]);
  assert.equal(x.flatten().toArray(), [0, 1, 2, 3, 4, 5]);
  assert.equal(x.flatten(1).shape, [1, 6]);
  assert.equal(x.narrow(2, 1, 2).toArray(), [
    [
      [1, 2],
      [4, 5],
    ],
  ]);
  assert.equal(x.select(1, -1).toArray(), [[3, 4, 5]]);
  assert.equal(x.squeeze(0).t().toArray(), [
    [0, 3],
    [1, 4],
    [2, 5],
  ]);
  assert.equal(
    kiln
      .arange(7)
      .split(3)
      .map((t) => t.toArray()),
    [[0, 1, 2], [3, 4, 5], [6]],
  );
  assert.equal(
    kiln
      .arange(7)
      .split([2, 5])
      .map((t) => t.shape[0]),
    [2, 5],
  );
  assert.equal(
    kiln
      .arange(6)
      .chunk(4)
      .map((t) => t.toArray()),
    [
      [0, 1],
      [2, 3],
      [4, 5],
    ],
  );
  assert.equal(kiln.stack([kiln.tensor([1, 2]), kiln.tensor([3, 4])], 1).toArray(), [
    [1, 3],
    [2, 4],
  ]);
  const v = x.transpose(1, 2);
  assert.not.ok(v.isContiguous());
  assert.ok(v.contiguous().isContiguous());
  assert.equal(v.reshape([6]).toArray(), [0, 3, 1, 4, 2, 5]);
});

test('composites: mean, var, std, logsumexp, softmax, clamp, maskedFill, oneHot, indexSelect, max(dim)', () => {
  const x = kiln.tensor(
    [
      [1, 2, 3],
      [4, 5, 9],
    ],
    { dtype: 'float64' },
  );
  assert.equal(x.mean(1).toArray(), [2, 6]);
  assert.ok(close(flat(x.var(1)), [1, 7]));
  assert.ok(close(flat(x.var(1, { correction: 0 })), [2 / 3, 14 / 3]));
  assert.ok(close(flat(x.std()), [Math.sqrt(((1 - 4) ** 2 + 4 + 1 + 0 + 1 + 25) / 5)]));
  assert.ok(
    close(flat(x.logsumexp(1)), [
      Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)),
      Math.log(Math.exp(4) + Math.exp(5) + Math.exp(9)),
    ]),
  );
  const big = kiln.tensor([1e4, 1e4 + 1], { dtype: 'float32' });
  assert.ok(close(flat(big.softmax(0)), [1 / (1 + Math.E), Math.E / (1 + Math.E)]));
  assert.ok(close(flat(big.logSoftmax(0)), [-Math.log(1 + Math.E), 1 - Math.log(1 + Math.E)], 1e-3));
  assert.equal(x.clamp(2, 5).toArray(), [
    [2, 2, 3],
    [4, 5, 5],
  ]);
  assert.equal(x.maskedFill(x.gt(4), -1).toArray(), [
    [1, 2, 3],
    [4, -1, -1],
  ]);
  assert.equal(kiln.oneHot(kiln.tensor([0, 2])).toArray(), [
    [1, 0, 0],
    [0, 0, 1],
  ]);
  assert.equal(x.indexSelect(1, kiln.tensor([2, 0])).toArray(), [
    [3, 1],
    [9, 4],
  ]);
  const m = x.max(1);
  assert.equal(m.values.toArray(), [3, 9]);
  assert.equal(m.indices.toArray(), [2, 2]);
  assert.is(x.max().item(), 9);
  assert.is(kiln.tensor([1, 7, 7, 2]).argmax().item(), 1);
});

test('in-place forms write into the tensor and return it', () => {
  const x = kiln.tensor([1, 4, 9], { dtype: 'float32' });
  assert.is(x.sqrt_(), x);
  assert.equal(x.toArray(), [1, 2, 3]);
  x.mul_(2).add_(kiln.tensor([1, 1, 1], { dtype: 'float32' }));
  assert.equal(x.toArray(), [3, 5, 7]);
  x.clamp_(4, 6);
  assert.equal(x.toArray(), [4, 5, 6]);
  x.neg_().relu_();
  assert.equal(x.toArray(), [0, 0, 0]);
  const v = kiln.zeros([2, 3]);
  v.select(0, 1).fill_(5);
  assert.equal(v.toArray(), [
    [0, 0, 0],
    [5, 5, 5],
  ]);
  assert.throws(
    () => kiln.tensor([1, 2]).exp_(),
    (e: kiln.KilnError) => e.code === 'ERR_DTYPE',
  );
});

test('broadcasting and type promotion follow PyTorch', () => {
  assert.is(kiln.tensor([1, 2]).add(1.5).dtype, 'float32');
  assert.is(kiln.tensor([1, 2], { dtype: 'int32' }).add(kiln.tensor([1], { dtype: 'int64' })).dtype, 'int64');
  assert.is(kiln.tensor([1], { dtype: 'float16' }).add(kiln.tensor([1], { dtype: 'bfloat16' })).dtype, 'float32');
  assert.is(kiln.tensor([1, 2]).div(2).dtype, 'float32');
  assert.equal(kiln.tensor([1, 2]).div(2).toArray(), [0.5, 1]);
  assert.is(kiln.tensor([true]).add(true).dtype, 'bool');
  assert.equal(kiln.tensor([-7, 7]).remainder(3).toArray(), [2, 1]);
  assert.equal(kiln.ones([2, 1]).add(kiln.ones([3])).shape, [2, 3]);
  assert.is(kiln.tensor([1, 2]).sum().dtype, 'int64');
  assert.is(kiln.tensor([true, true]).sum().item(), 2);
});

test('empty views read as empty arrays, whatever their offset and strides', () => {
  for (const dtype of ['float32', 'int64', 'bool'] as const) {
    const v = kiln.tensor([], { dtype }).reshape([0, 5]).narrow(1, 4, 1).squeeze(1);
    assert.is(v.data().length, 0);
    assert.equal(v.toArray(), []);
    assert.equal(v.contiguous().shape, [0]);
  }
  const t = kiln.zeros([3, 0, 4]).permute([2, 0, 1]);
  assert.is(t.data().length, 0);
});

test("finfo and iinfo give torch's limits", () => {
  assert.equal(kiln.finfo('float16'), {
    bits: 16,
    eps: 2 ** -10,
    max: 65504,
    min: -65504,
    tiny: 2 ** -14,
    dtype: 'float16',
  });
  assert.is(kiln.finfo().eps, 1.1920928955078125e-7, 'float32 by default');
  assert.is(kiln.finfo('bfloat16').eps, 0.0078125);
  assert.is(kiln.finfo('float64').tiny, 2.2250738585072014e-308);
  assert.equal(kiln.iinfo('int32'), { bits: 32, min: -2147483648, max: 2147483647, dtype: 'int32' });
  assert.equal(kiln.iinfo('uint8'), { bits: 8, min: 0, max: 255, dtype: 'uint8' });
  throwsCode(() => kiln.finfo('int32'), 'ERR_DTYPE', 'finfo of an integer dtype');
  throwsCode(() => kiln.iinfo('float32'), 'ERR_DTYPE', 'iinfo of a float dtype');
  throwsCode(() => kiln.finfo('float8' as never), 'ERR_DTYPE', 'unknown dtype');
});

test('mT, mH and T: views with the last two dims swapped, and all dims reversed', () => {
  const x = kiln.arange(0, 24).reshape([2, 3, 4]);
  const m = x.mT;
  assert.equal(m.shape, [2, 4, 3]);
  assert.equal(m.toArray(), x.transpose(1, 2).toArray());
  assert.equal(x.mH.toArray(), m.toArray());
  assert.equal(x.T.shape, [4, 3, 2]);
  assert.equal(x.T.toArray(), x.permute([2, 1, 0]).toArray());
  assert.equal(
    kiln
      .tensor([
        [1, 2],
        [3, 4],
      ])
      .T.toArray(),
    [
      [1, 3],
      [2, 4],
    ],
  );
  m.fill_(0); // a view: writes reach x
  assert.is(x.sum().item(), 0);
  throwsCode(() => kiln.tensor([1, 2]).mT, 'ERR_SHAPE', 'mT of a vector');
  const g = kiln.randn([3, 2], { requiresGrad: true });
  g.mT
    .mul(
      kiln.tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]),
    )
    .sum()
    .backward();
  assert.equal(g.grad!.toArray(), [
    [1, 4],
    [2, 5],
    [3, 6],
  ]);
});

test.run();
