// kiln.data and kiln.metrics: seeded shuffles and splits, batching, collation, the getBatch fast
// path, async iteration; metrics against hand-computed values.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const { data, metrics } = kiln;

const ds = () => new data.TensorDataset(kiln.arange(0, 10, 1).reshape([10, 1]).mul(1), kiln.arange(100, 110, 1));

test('DataLoader: order, batching, dropLast, seeded shuffles that change per epoch', () => {
  const plain = new data.DataLoader(ds(), { batchSize: 4 });
  assert.is(plain.length, 3);
  const firsts = [...plain].map((b) => (b as kiln.Tensor[])[1].toArray() as number[]);
  assert.equal(firsts, [
    [100, 101, 102, 103],
    [104, 105, 106, 107],
    [108, 109],
  ]);
  const dl = new data.DataLoader(ds(), { batchSize: 3, shuffle: true, dropLast: true, seed: 7 });
  assert.is(dl.length, 3);
  const epoch = () => [...dl].map((b) => (b as kiln.Tensor[])[1].toArray() as number[]);
  const e1 = epoch(),
    e2 = epoch();
  assert.ok(e1.every((b) => b.length === 3));
  assert.not.equal(e1, e2, 'a new permutation each epoch');
  const again = new data.DataLoader(ds(), { batchSize: 3, shuffle: true, dropLast: true, seed: 7 });
  assert.equal(
    [...again].map((b) => (b as kiln.Tensor[])[1].toArray()),
    e1,
    'same seed, same order',
  );
  const seen = new Set(e1.flat());
  assert.is(seen.size, 9);
  // Items and labels stay paired.
  for (const b of new data.DataLoader(ds(), { batchSize: 4, shuffle: true, seed: 1 })) {
    const [x, y] = b as kiln.Tensor[];
    assert.equal(
      (x.reshape([-1]).toArray() as number[]).map((v) => v + 100),
      y.toArray(),
    );
  }
});

test('collation: the getBatch fast path equals stacking items; custom collate; objects', () => {
  const d = ds();
  const viaBatch = d.getBatch([3, 1, 4]);
  const viaItems = data.defaultCollate([d.getItem(3), d.getItem(1), d.getItem(4)]) as kiln.Tensor[];
  assert.equal(
    viaBatch.map((t) => t.toArray()),
    viaItems.map((t) => t.toArray()),
  );
  class Words extends data.Dataset<{ id: number; text: string }> {
    get length() {
      return 5;
    }
    getItem(i: number) {
      return { id: i, text: `w${i}` };
    }
  }
  const dl = new data.DataLoader(new Words(), {
    batchSize: 2,
    collate: (items) => ({ ids: kiln.tensor(items.map((x) => x.id)), texts: items.map((x) => x.text) }),
  });
  const b = [...dl][2] as { ids: kiln.Tensor; texts: string[] };
  assert.equal(b.texts, ['w4']);
  const objs = data.defaultCollate([
    { a: 1, b: [0.5, true] },
    { a: 2, b: [1.5, false] },
  ]) as { a: kiln.Tensor; b: kiln.Tensor[] };
  assert.is(objs.a.dtype, 'int64');
  assert.equal(objs.b[0].toArray(), [0.5, 1.5]);
  assert.equal(objs.b[1].toArray(), [true, false]);
});

test('async iteration yields the same batches', async () => {
  const sync = [...new data.DataLoader(ds(), { batchSize: 3, shuffle: true, seed: 3 })].map((b) =>
    (b as kiln.Tensor[])[1].toArray(),
  );
  const got: unknown[] = [];
  for await (const b of new data.DataLoader(ds(), { batchSize: 3, shuffle: true, seed: 3 }))
    got.push((b as kiln.Tensor[])[1].toArray());
  assert.equal(got, sync);
});

test('randomSplit: sizes, fractions, disjoint, seeded', () => {
  const [a, b] = data.randomSplit(ds(), [7, 3], 5);
  assert.is(a.length, 7);
  assert.is(b.length, 3);
  const all = [...a.indices, ...b.indices].sort((x, y) => x - y);
  assert.equal(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(data.randomSplit(ds(), [7, 3], 5)[1].indices, b.indices);
  assert.not.equal(data.randomSplit(ds(), [7, 3], 6)[1].indices, b.indices);
  const parts = data.randomSplit(ds(), [0.8, 0.1, 0.1], 1);
  assert.equal(
    parts.map((p) => p.length),
    [8, 1, 1],
  );
  assert.equal((parts[0].getBatch([0, 1]) as kiln.Tensor[])[1].toArray(), [
    100 + parts[0].indices[0],
    100 + parts[0].indices[1],
  ]);
  assert.throws(
    () => data.randomSplit(ds(), [5, 4]),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
  assert.throws(
    () => new data.DataLoader(ds(), { batchSize: 0 }),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
  assert.throws(
    () => new data.TensorDataset(kiln.zeros([3]), kiln.zeros([4])),
    (e: kiln.KilnError) => e.code === 'ERR_SHAPE',
  );
});

test('image transforms: normalize, seeded random crop with padding, horizontal flip', () => {
  const img = kiln.arange(0, 2 * 3 * 4, 1, { dtype: 'float32' }).reshape([2, 3, 4]);
  const n = data.normalizeImage(img, [1, 13], [2, 4]).toArray() as number[][][];
  assert.is(n[0][0][3], (3 - 1) / 2);
  assert.is(n[1][2][3], (23 - 13) / 4);
  const crop = data.randomCrop(img, [3, 4], new data.Rng(1), 1);
  assert.equal(crop.shape, [2, 3, 4]);
  assert.equal(crop.toArray(), data.randomCrop(img, [3, 4], new data.Rng(1), 1).toArray(), 'seeded');
  const vals = new Set<string>();
  const rng = new data.Rng(2);
  for (let i = 0; i < 30; i++) vals.add(JSON.stringify(data.randomCrop(img, [3, 4], rng, 1).toArray()));
  assert.ok(vals.size > 3, 'crops move');
  const flipped = data.randomHorizontalFlip(img, new data.Rng(0), 1).toArray() as number[][][];
  assert.equal(flipped[0][0], [3, 2, 1, 0]);
  assert.equal(data.randomHorizontalFlip(img, new data.Rng(0), 0).toArray(), img.toArray());
  const batch = data.randomHorizontalFlip(kiln.stack([img, img, img, img]), new data.Rng(3), 0.5);
  assert.equal(batch.shape, [4, 2, 3, 4]);
  assert.throws(
    () => data.randomCrop(img, 9, new data.Rng(0)),
    (e: kiln.KilnError) => e.code === 'ERR_SHAPE',
  );
});

test('metrics against hand-computed values', () => {
  const pred = [0, 1, 1, 2, 2, 2, 0, 1];
  const target = [0, 1, 2, 2, 2, 1, 1, 1];
  // true\\pred:  0  1  2
  //   0        1  0  0
  //   1        1  2  1
  //   2        0  1  2
  const r = metrics.classificationReport(kiln.tensor(pred), target);
  assert.equal(r.confusion, [
    [1, 0, 0],
    [1, 2, 1],
    [0, 1, 2],
  ]);
  assert.is(metrics.accuracy(pred, target), 5 / 8);
  assert.equal(r.support, [1, 4, 3]);
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  close(r.precision[0], 1 / 2);
  close(r.precision[1], 2 / 3);
  close(r.precision[2], 2 / 3);
  close(r.recall[1], 2 / 4);
  close(r.f1[1], (2 * (2 / 3) * 0.5) / (2 / 3 + 0.5));
  close(r.macro.precision, (1 / 2 + 2 / 3 + 2 / 3) / 3);
  close(r.macro.recall, (1 + 1 / 2 + 2 / 3) / 3);
  close(r.micro.f1, 5 / 8);
  close(metrics.precision(pred, target), 2 / 3);
  close(metrics.f1Score(pred, target, { average: 'macro' }), r.macro.f1);
  close(metrics.recall(pred, target, { positive: 2 }), 2 / 3);
  // A class never predicted has precision 0 (not NaN).
  close(metrics.precision([0, 0], [0, 1], { positive: 1 }), 0);
  assert.equal(metrics.confusionMatrix([1], [0], 3), [
    [0, 1, 0],
    [0, 0, 0],
    [0, 0, 0],
  ]);
  assert.throws(
    () => metrics.accuracy([0, 1], [0]),
    (e: kiln.KilnError) => e.code === 'ERR_SHAPE',
  );
  assert.throws(
    () => metrics.accuracy([0.5], [0]),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
});

test.run();
