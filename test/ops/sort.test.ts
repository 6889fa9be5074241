// sort, argsort, msort, topk and kthvalue (ts/ops/sort.ts, native/cpu/sort.cpp): every kernel path
// (std::sort rows, radix rows, streaming top-k and its fallback, nth_element selection; packed
// and (key, index) keys) against a plain stable JS sort with PyTorch's NaN and +-0 rules, on tie-heavy
// data in every dtype; hand-worked values; 0-d, empty, k = 0 and k = n; gradients; no tensor
// left behind; every error code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { settledMemory } from '../helpers/settled';
import { roundTo } from '../../ts/dtype';
import { refSort } from '../../ts/ops/sort';
import { rngFrom, randInt } from '../../ts/ops/samples';
import { throwsCode } from '../helpers/compare';

const DTYPES: kiln.DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64', 'uint8', 'bool'];

/** Tie-heavy values for a dtype: small integers, and for floats NaN, +-0, +-inf and fractions. */
function values(rng: () => number, n: number, dtype: kiln.DType, spread: number): number[] {
  const special = [NaN, -0, 0, Infinity, -Infinity];
  const float = dtype.startsWith('float') || dtype === 'bfloat16';
  return Array.from({ length: n }, () => {
    if (dtype === 'bool') return rng() < 0.5 ? 1 : 0;
    if (float && rng() < 0.1) return special[randInt(rng, 0, 4)];
    const v = randInt(rng, dtype === 'uint8' ? 0 : -spread, spread);
    return roundTo(dtype, float && rng() < 0.5 ? v + rng() : v);
  });
}

const flat = (t: kiln.Tensor): number[] => (t.numel() ? (t.flatten().toArray() as number[]).map(Number) : []);

function same(got: number[], want: number[], label: string): void {
  assert.is(got.length, want.length, `${label}: length`);
  for (let i = 0; i < got.length; i++)
    if (!(Object.is(got[i], want[i]) || got[i] === want[i] || (Number.isNaN(got[i]) && Number.isNaN(want[i]))))
      assert.unreachable(`${label}: element ${i}: got ${got[i]}, want ${want[i]}`);
}

function check(r: kiln.ValuesIndices, want: { values: number[]; indices: number[] }, label: string): void {
  same(flat(r.values), want.values, `${label} values`);
  same(flat(r.indices), want.indices, `${label} indices`);
  assert.is(r.indices.dtype, 'int64');
  r.values.dispose();
  r.indices.dispose();
}

test('every kernel path and dtype matches a stable JS sort (ties, NaN, +-0, rows and columns)', () => {
  const rng = rngFrom(11);
  // [n, k, spread, label]: std::sort (n < 64), radix, streaming top-k, nth_element selection
  const paths: [number, number | null, number, string][] = [
    [5, null, 2, 'short row'],
    [50, null, 3, 'std::sort row'],
    [64, null, 3, 'radix from 64'],
    [1000, null, 40, 'radix row'],
    [3000, null, 100000, 'radix row, wide spread'],
    [2000, 5, 50, 'streaming top-k'],
    [2048, 256, 50, 'streaming top-k, k = 256'],
    [3000, 300, 50, 'nth_element selection'],
    [700, 700, 5, 'k = n'],
    [700, 0, 5, 'k = 0'],
  ];
  for (const dtype of DTYPES)
    for (const [n, k, spread, label] of paths)
      for (const inner of [1, 3]) {
        const shape = inner === 1 ? [2, n] : [2, n, inner];
        const vals = values(rng, 2 * n * inner, dtype, spread);
        const x = kiln.tensor(vals, { dtype }).reshape(shape);
        for (const desc of [false, true]) {
          const tag = `${dtype} ${label} ${inner === 1 ? 'rows' : 'columns'}${desc ? ' desc' : ''}`;
          if (k === null) check(x.sort(1, { descending: desc }), refSort(vals, shape, 1, n, desc), `sort ${tag}`);
          else check(x.topk(k, 1, { largest: desc }), refSort(vals, shape, 1, k, desc), `topk ${tag}`);
        }
        x.dispose();
      }
});

test('streaming top-k falls back on rows in the opposite order (and stays right)', () => {
  for (const dtype of ['float32', 'float64', 'int32'] as kiln.DType[]) {
    const n = 4000;
    const vals = Array.from({ length: n }, (_, i) => i - 2000);
    const x = kiln.tensor(vals, { dtype });
    check(x.topk(10), refSort(vals, [n], 0, 10, true), `${dtype} ascending row, largest`);
    const y = x.neg();
    const neg = vals.map((v) => -v);
    check(y.topk(10, 0, { largest: false }), refSort(neg, [n], 0, 10, false), `${dtype} descending row, smallest`);
    x.dispose();
    y.dispose();
  }
});

test('hand-worked values: NaN largest, -0 == +0, stable ties, argsort, msort, topk, kthvalue', () => {
  const x = kiln.tensor([3, 1, NaN, 2, -0, 0, 1]);
  const a = x.sort();
  same(flat(a.values), [-0, 0, 1, 1, 2, 3, NaN], 'ascending');
  same(flat(a.indices), [4, 5, 1, 6, 3, 0, 2], 'ascending indices');
  const d = kiln.sort(x, { descending: true });
  same(flat(d.values), [NaN, 3, 2, 1, 1, -0, 0], 'descending');
  same(flat(d.indices), [2, 0, 3, 1, 6, 4, 5], 'descending indices (ties in input order)');
  same(flat(kiln.sort(x, { stable: true }).indices), [4, 5, 1, 6, 3, 0, 2], 'stable: the same order');
  same(flat(x.argsort(0, { descending: true })), [2, 0, 3, 1, 6, 4, 5], 'argsort');
  const m = kiln.tensor([
    [2, 1],
    [0, 3],
  ]);
  assert.equal(m.msort().toArray(), [
    [0, 1],
    [2, 3],
  ]);
  assert.equal(m.sort(0).indices.toArray(), [
    [1, 0],
    [0, 1],
  ]);
  const t = kiln.tensor([1, 5, 3, 4]).topk(2);
  assert.equal(
    [t.values.toArray(), t.indices.toArray()],
    [
      [5, 4],
      [1, 3],
    ],
  );
  const s = kiln.topk(kiln.tensor([1, 5, 3, 4]), 3, { largest: false, sorted: true });
  assert.equal(
    [s.values.toArray(), s.indices.toArray()],
    [
      [1, 3, 4],
      [0, 2, 3],
    ],
  );
  const kv = kiln
    .tensor([
      [3, 1, 2],
      [9, 7, 8],
    ])
    .kthvalue(2);
  assert.equal(
    [kv.values.toArray(), kv.indices.toArray()],
    [
      [2, 8],
      [2, 2],
    ],
  );
  const kd = kiln.kthvalue(kiln.tensor([[3, 1, 2]]), 3, { dim: 1, keepdim: true });
  assert.equal([kd.values.shape, kd.values.toArray(), kd.indices.toArray()], [[1, 1], [[3]], [[0]]]);
  assert.equal(
    kiln
      .tensor([[3, 1, 2]])
      .kthvalue(1, 0, true)
      .values.toArray(),
    [[3, 1, 2]],
  );
  const b = kiln.tensor([true, false, true, false]).sort();
  assert.equal(
    [b.values.toArray(), b.indices.toArray()],
    [
      [false, false, true, true],
      [1, 3, 0, 2],
    ],
  );
  const h = kiln.tensor([1.5, -2, 65504, -Infinity], { dtype: 'float16' }).sort({ descending: true });
  assert.equal(
    [h.values.dtype, h.values.toArray(), h.indices.toArray()],
    ['float16', [65504, 1.5, -2, -Infinity], [2, 0, 1, 3]],
  );
  const i64 = kiln.tensor([2 ** 40, -(2 ** 40), 0], { dtype: 'int64' }).sort();
  assert.equal(i64.indices.toArray(), [1, 2, 0]);
});

test('0-d, empty tensors, k = 0 and k = n, non-contiguous inputs', () => {
  const z = kiln.tensor(5);
  const s = z.sort();
  assert.equal([s.values.shape, s.values.item(), s.indices.shape, s.indices.item()], [[], 5, [], 0]);
  const t1 = z.topk(1, 0);
  assert.equal([t1.values.shape, t1.values.item()], [[], 5]);
  assert.equal(z.topk(0).values.shape, [0]);
  const k0 = z.kthvalue(1, -1, true);
  assert.equal([k0.values.shape, k0.values.item(), k0.indices.item()], [[], 5, 0]);
  const e = kiln.zeros([3, 0]);
  assert.equal(e.sort(1).values.shape, [3, 0]);
  assert.equal(e.sort(0).indices.shape, [3, 0]);
  assert.equal(e.topk(0, 1).values.shape, [3, 0]);
  assert.equal(kiln.zeros([0, 4]).kthvalue(2, 1).values.shape, [0]);
  const x = kiln.tensor([
    [4, 1, 3],
    [2, 6, 5],
  ]);
  assert.equal(x.topk(0, 1).values.shape, [2, 0]);
  assert.equal(x.topk(3, 1).values.toArray(), [
    [4, 3, 1],
    [6, 5, 2],
  ]);
  const xt = x.transpose(0, 1); // [[4, 2], [1, 6], [3, 5]], non-contiguous
  assert.equal(xt.sort(0).values.toArray(), [
    [1, 2],
    [3, 5],
    [4, 6],
  ]);
  const ex = kiln.tensor([[7], [2]]).expand([2, 3]); // stride 0 along the sorted dim
  assert.equal(ex.sort(1).indices.toArray(), [
    [0, 1, 2],
    [0, 1, 2],
  ]);
  assert.equal(ex.sort(0, { descending: true }).values.toArray(), [
    [7, 7, 7],
    [2, 2, 2],
  ]);
  const st = x.slice(1, 0, 3, 2); // [[4, 3], [2, 5]]
  assert.equal(st.sort(-1, { descending: true }).indices.toArray(), [
    [0, 1],
    [1, 0],
  ]);
});

test('gradients: g scattered back at the indices; gradchecks of sort, topk, kthvalue, msort', () => {
  const x = kiln.tensor([3, 1, 4, 1.5, 9, 2], { requiresGrad: true });
  const t = x.topk(2);
  t.values
    .mul(kiln.tensor([10, 1]))
    .sum()
    .backward();
  assert.equal(x.grad!.toArray(), [0, 0, 1, 0, 10, 0]);
  const y = kiln.tensor([[3, 1, 2]], { requiresGrad: true });
  y.kthvalue(2, 1).values.sum().backward();
  assert.equal(y.grad!.toArray(), [[0, 0, 1]]);
  for (const dtype of ['float16', 'bfloat16'] as kiln.DType[]) {
    const h = kiln.tensor([3, 1, 2], { dtype, requiresGrad: true });
    h.topk(2).values.sum().backward();
    assert.equal([h.grad!.dtype, h.grad!.toArray()], [dtype, [1, 0, 1]]);
  }
  // Second order: the gradient is written with ops (d/dy of sum(2 v dv/dy) = 2 everywhere).
  const w = kiln.tensor([[3, 1, 2]], { dtype: 'float64', requiresGrad: true });
  const v = w.sort(1, { descending: true }).values;
  const [g1] = kiln.autograd.grad([v.mul(v).sum()], [w], { createGraph: true });
  assert.equal(g1!.toArray(), [[6, 2, 4]]);
  assert.equal(kiln.autograd.grad([g1!.sum()], [w])[0]!.toArray(), [[2, 2, 2]]);
  const rng = rngFrom(5);
  const leaf = (shape: number[]) =>
    kiln
      .tensor(
        Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng() * 4 - 2),
        { dtype: 'float64' },
      )
      .reshape(shape)
      .requiresGrad_();
  const checks: [string, (x: kiln.Tensor) => kiln.Tensor, number[]][] = [
    ['sort columns desc', (v) => v.sort(0, { descending: true }).values, [5, 3]],
    ['sort radix row', (v) => v.sort(-1).values.mul(v.sort(-1).values), [2, 70]],
    ['topk streaming', (v) => v.topk(4, 1).values, [2, 100]],
    ['topk selection', (v) => v.topk(300, 0, { largest: false }).values, [2500]],
    ['kthvalue', (v) => v.kthvalue(3, 1).values, [3, 5]],
    ['msort', (v) => v.msort(), [4, 2]],
  ];
  for (const [label, fn, shape] of checks) assert.ok(kiln.gradcheck(fn, [leaf(shape)]), label);
});

test('integer dtypes keep their dtype and give no gradient node; the methods exist', () => {
  const x = kiln.tensor([3, 1, 2], { dtype: 'int32' });
  const r = x.sort();
  assert.equal([r.values.dtype, r.values.requiresGrad, r.indices.dtype], ['int32', false, 'int64']);
  for (const m of ['sort', 'argsort', 'msort', 'topk', 'kthvalue']) assert.type((x as never)[m], 'function', m);
});

test('no tensor left behind: forward, backward, 0-d, errors', () => {
  const live = () => kiln.memory().numTensors;
  const x = kiln.randn([4, 70]).requiresGrad_();
  const z = kiln.tensor(2, { requiresGrad: true });
  const before = settledMemory().numTensors;
  for (let i = 0; i < 3; i++) {
    for (const r of [
      x.sort(1),
      x.sort(0, { descending: true }),
      x.topk(3),
      x.topk(3, 0, { largest: false }),
      x.kthvalue(5, 1),
      x.kthvalue(2, 0, true),
      z.sort(),
      z.topk(1),
      z.kthvalue(1),
    ]) {
      const s = r.values.sum();
      s.backward();
      s.dispose();
      r.values.dispose();
      r.indices.dispose();
    }
    x.argsort(1).dispose();
    const m = x.msort(),
      ms = m.sum();
    ms.backward();
    ms.dispose();
    m.dispose();
    for (const bad of [() => x.topk(71), () => x.kthvalue(0), () => x.sort(2)])
      try {
        bad();
      } catch {
        /* counted below */
      }
  }
  x.grad!.dispose();
  x.grad = null;
  z.grad!.dispose();
  z.grad = null;
  assert.is(live(), before);
});

test('errors: each has its code', () => {
  const x = kiln.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  throwsCode(() => x.sort(2), 'ERR_ARG', 'sort dim');
  throwsCode(() => kiln.sort(x, { dim: -3 }), 'ERR_ARG', 'sort negative dim');
  throwsCode(() => kiln.sort([1, 2] as never), 'ERR_ARG', 'sort not a tensor');
  throwsCode(() => kiln.sort(x, 'x' as never), 'ERR_ARG', 'sort bad options');
  throwsCode(() => x.argsort(1.5), 'ERR_ARG', 'argsort fractional dim');
  throwsCode(() => x.topk(4), 'ERR_ARG', 'topk k > n');
  throwsCode(() => x.topk(-1), 'ERR_ARG', 'topk k < 0');
  throwsCode(() => x.topk(NaN), 'ERR_ARG', 'topk k NaN');
  throwsCode(() => x.topk('2' as never), 'ERR_ARG', 'topk k a string');
  throwsCode(() => x.topk(1, 2), 'ERR_ARG', 'topk dim');
  throwsCode(() => kiln.tensor(1).topk(2), 'ERR_ARG', 'topk 0-d k = 2');
  throwsCode(() => x.kthvalue(0), 'ERR_ARG', 'kthvalue k = 0');
  throwsCode(() => x.kthvalue(3, 0), 'ERR_ARG', 'kthvalue k > n');
  throwsCode(() => kiln.zeros([2, 0]).kthvalue(1), 'ERR_ARG', 'kthvalue empty dim');
  const d = kiln.tensor([1, 2]);
  d.dispose();
  throwsCode(() => d.sort(), 'ERR_DISPOSED', 'sort disposed');
  throwsCode(() => kiln.topk(d, 1), 'ERR_DISPOSED', 'topk disposed');
});

test.run();
