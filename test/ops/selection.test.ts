// The data-dependent ops (nonzero, maskedSelect, unique, bincount, histc, searchsorted,
// repeatInterleave, take, index ops), the statistics (median, quantile, nan-reductions, cov) and
// the products (cross, cdist, kron, tensordot, blockDiag, meshgrid) against answers worked out
// by hand (PyTorch 1.13 gives the same), gradients by finite differences, errors, and, when
// Debian's torch is installed, against PyTorch on random inputs.
import { spawnSync } from 'child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';
import * as kiln from '../../ts/index';

const f32 = { dtype: 'float32' } as const,
  f64 = { dtype: 'float64' } as const;
const arr = (t: kiln.Tensor) => t.toArray();
const code = (fn: () => unknown, c: string) =>
  assert.throws(fn, (e: unknown) => e instanceof kiln.KilnError && e.code === c);

test('nonzero, argwhere, countNonzero, maskedSelect', () => {
  const x = kiln.tensor([
    [0, 1, 0],
    [2, 0, 3],
  ]);
  assert.equal(arr(x.nonzero()), [
    [0, 1],
    [1, 0],
    [1, 2],
  ]);
  assert.equal(x.nonzero({ asTuple: true }).map(arr), [
    [0, 1, 1],
    [1, 0, 2],
  ]);
  assert.equal(x.argwhere().dtype, 'int64');
  assert.equal(kiln.tensor(5).nonzero().shape, [1, 0]);
  assert.equal(kiln.tensor(0).nonzero().shape, [0, 0]);
  assert.equal(kiln.zeros([3, 4]).nonzero().shape, [0, 2]);
  assert.equal(kiln.tensor([true, false, false, true]).nonzero().shape, [2, 1]);
  assert.equal(arr(x.countNonzero(1)), [1, 2]);
  assert.is(x.countNonzero().item(), 3);
  // a mask broadcast against x
  assert.equal(arr(x.maskedSelect(kiln.tensor([true, false, true]))), [0, 0, 2, 3]);
  assert.equal(arr(kiln.tensor([1, 2]).maskedSelect(kiln.tensor([[true], [false], [true]]))), [1, 2, 1, 2]);
  code(() => x.maskedSelect(kiln.tensor([1, 0, 1])), 'ERR_DTYPE');
  code(() => x.maskedSelect(kiln.tensor([true, false])), 'ERR_SHAPE');
  // every position of a large random mask, in order
  kiln.manualSeed(1);
  const big = kiln.rand([300, 70]).lt(0.3);
  const flat = Array.from(big.data() as Uint8Array);
  const want = flat.flatMap((v, i) => (v ? [[Math.floor(i / 70), i % 70]] : []));
  assert.equal(arr(big.nonzero()), want);
});

test('maskedSelect, take, takeAlongDim, repeatInterleave, indexAdd, indexCopy, indexFill: gradients', () => {
  kiln.manualSeed(2);
  const x = kiln.randn([3, 4], { ...f64, requiresGrad: true });
  const mask = kiln.tensor([true, false, true, true]);
  assert.ok(kiln.gradcheck((a) => a.maskedSelect(mask).square().sum(), [x]));
  assert.ok(
    kiln.gradcheck(
      (a) =>
        a
          .take(kiln.tensor([0, -1, 5, 5]))
          .mul(kiln.tensor([1, 2, 3, 4], f64))
          .sum(),
      [x],
    ),
  );
  assert.ok(
    kiln.gradcheck(
      (a) =>
        a
          .takeAlongDim(kiln.tensor([[0], [3], [1]]), 1)
          .square()
          .sum(),
      [x],
    ),
  );
  assert.ok(
    kiln.gradcheck(
      (a) =>
        a
          .repeatInterleave(kiln.tensor([2, 0, 1]), 0)
          .square()
          .sum(),
      [x],
    ),
  );
  const src = kiln.randn([2, 4], { ...f64, requiresGrad: true });
  const idx = kiln.tensor([2, 2]);
  assert.ok(kiln.gradcheck((a, s) => a.indexAdd(0, idx, s, { alpha: 3 }).square().sum(), [x, src]));
  assert.ok(
    kiln.gradcheck(
      (a, s) =>
        a
          .indexCopy(0, kiln.tensor([2, 0]), s)
          .square()
          .sum(),
      [x, src],
    ),
  );
  assert.ok(
    kiln.gradcheck(
      (a) =>
        a
          .indexFill(1, kiln.tensor([1, 3]), 2)
          .square()
          .sum(),
      [x],
    ),
  );
});

test('take, takeAlongDim, repeatInterleave and the index ops: values', () => {
  const x = kiln.tensor([
    [4, 3],
    [5, 7],
  ]);
  assert.equal(arr(x.take(kiln.tensor([-1, 0, 2]))), [7, 4, 5]);
  assert.equal(
    arr(
      kiln
        .tensor([
          [10, 30, 20],
          [60, 40, 50],
        ])
        .takeAlongDim(kiln.tensor([[0], [2]]), 1),
    ),
    [[10], [50]],
  );
  assert.equal(arr(kiln.tensor([[10, 30, 20]]).takeAlongDim(kiln.tensor([[2], [0]]), 1)), [[20], [10]]); // broadcast
  assert.equal(arr(kiln.tensor([2, 1, 3]).repeatInterleave()), [0, 0, 1, 2, 2, 2]);
  assert.equal(arr(x.repeatInterleave(2)), [4, 4, 3, 3, 5, 5, 7, 7]);
  assert.equal(arr(x.repeatInterleave(kiln.tensor([1, 2]), 0)), [
    [4, 3],
    [5, 7],
    [5, 7],
  ]);
  assert.equal(arr(x.repeatInterleave(kiln.tensor([0, 3]), 1)), [
    [3, 3, 3],
    [7, 7, 7],
  ]);
  assert.equal(
    arr(
      kiln.ones([5, 2]).indexAdd(
        0,
        kiln.tensor([0, 4, 0]),
        kiln.tensor(
          [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
          f32,
        ),
      ),
    ),
    [
      [7, 9],
      [1, 1],
      [1, 1],
      [1, 1],
      [4, 5],
    ],
  );
  assert.equal(
    arr(
      kiln.zeros([3, 2]).indexCopy(
        0,
        kiln.tensor([2, 0]),
        kiln.tensor(
          [
            [1, 2],
            [3, 4],
          ],
          f32,
        ),
      ),
    ),
    [
      [3, 4],
      [0, 0],
      [1, 2],
    ],
  );
  assert.equal(arr(x.indexFill(1, kiln.tensor([0]), -1)), [
    [-1, 3],
    [-1, 7],
  ]);
  code(() => x.take(kiln.tensor([0.5])), 'ERR_DTYPE');
  code(() => x.repeatInterleave(kiln.tensor([1, 2, 3]), 0), 'ERR_SHAPE');
  code(() => x.repeatInterleave(kiln.tensor([1, -2]), 0), 'ERR_ARG');
  code(() => x.indexAdd(0, kiln.tensor([0]), kiln.ones([2, 2])), 'ERR_SHAPE');
  code(() => x.indexCopy(0, kiln.tensor([[0]]), kiln.ones([1, 2])), 'ERR_SHAPE');
});

test('unique and uniqueConsecutive: values, inverse, counts, slices along a dim, NaN', () => {
  const x = kiln.tensor([2, 1, 2, 3, 1, 1]);
  assert.equal(arr(x.unique()), [1, 2, 3]);
  const r = x.unique({ returnInverse: true, returnCounts: true });
  assert.equal(arr(r.values), [1, 2, 3]);
  assert.equal(arr(r.inverse!), [1, 0, 1, 2, 0, 0]);
  assert.equal(arr(r.counts!), [3, 2, 1]);
  assert.is(x.unique({ returnCounts: true }).inverse, null);
  const m = kiln.tensor([
    [1, 2],
    [0, 5],
    [1, 2],
    [0, 4],
  ]);
  const rows = m.unique({ dim: 0, returnInverse: true, returnCounts: true });
  assert.equal(arr(rows.values), [
    [0, 4],
    [0, 5],
    [1, 2],
  ]);
  assert.equal(arr(rows.inverse!), [2, 1, 2, 0]);
  assert.equal(arr(rows.counts!), [1, 1, 2]);
  assert.equal(arr(m.unique({ dim: 1 })), [
    [1, 2],
    [0, 5],
    [1, 2],
    [0, 4],
  ]);
  // the inverse rebuilds the input
  const inv = kiln
    .tensor([
      [3, 1],
      [1, 7],
    ])
    .unique({ returnInverse: true });
  assert.equal(arr(inv.values.take(inv.inverse!)), [
    [3, 1],
    [1, 7],
  ]);
  const c = kiln.tensor([1, 1, 2, 2, 3, 1, 1, 2]).uniqueConsecutive({ returnInverse: true, returnCounts: true });
  assert.equal(arr(c.values), [1, 2, 3, 1, 2]);
  assert.equal(arr(c.inverse!), [0, 0, 1, 1, 2, 3, 3, 4]);
  assert.equal(arr(c.counts!), [2, 2, 1, 2, 1]);
  // NaNs are distinct from each other, and sort last
  const n = kiln.tensor([1, NaN, 2, NaN, 1], f32).unique({ returnCounts: true });
  assert.equal((arr(n.values) as number[]).map(String), ['1', '2', 'NaN', 'NaN']);
  assert.equal(arr(n.counts!), [2, 1, 1, 1]);
  assert.equal(kiln.zeros([0]).unique().shape, [0]);
  assert.equal(arr(kiln.zeros([0]).unique({ returnCounts: true }).counts!), []);
});

test('bincount and histc', () => {
  assert.equal(arr(kiln.tensor([0, 1, 1, 3]).bincount()), [1, 2, 0, 1]);
  const w = kiln.tensor([0, 1, 1, 3]).bincount({ weights: kiln.tensor([0.5, 1, 1, 2], f32), minlength: 6 });
  assert.is(w.dtype, 'float32');
  assert.equal(arr(w), [0.5, 2, 0, 2, 0, 0]);
  assert.equal(arr(kiln.zeros([0], { dtype: 'int64' }).bincount({ minlength: 2 })), [0, 0]);
  code(() => kiln.tensor([1, -1]).bincount(), 'ERR_ARG');
  code(() => kiln.tensor([1.5], f32).bincount(), 'ERR_DTYPE');
  code(() => kiln.tensor([[1]]).bincount(), 'ERR_SHAPE');
  assert.equal(arr(kiln.tensor([1, 2, 1, 4], f32).histc(4, 0, 3)), [0, 2, 1, 0]); // 4 is outside
  assert.equal(arr(kiln.tensor([1, 2, 3], f32).histc(2)), [1, 2]); // the data's range; max in the last bin
  assert.equal(arr(kiln.tensor([5, 5], f32).histc(2)), [0, 2]); // one value: [4, 6]
  code(() => kiln.tensor([1, 2]).histc(), 'ERR_DTYPE');
});

test('searchsorted and bucketize: left and right, rows of sequences, the ends', () => {
  const s = kiln.tensor([1, 3, 5, 7, 9]);
  const v = kiln.tensor([[3, 6, 9, 0, 10]]);
  assert.equal(arr(kiln.searchsorted(s, v)), [[1, 3, 4, 0, 5]]);
  assert.equal(arr(kiln.searchsorted(s, v, { right: true })), [[2, 3, 5, 0, 5]]);
  assert.equal(arr(kiln.searchsorted(s, v, { side: 'right', outInt32: true })), [[2, 3, 5, 0, 5]]);
  assert.is(kiln.searchsorted(s, v, { outInt32: true }).dtype, 'int32');
  assert.is(kiln.searchsorted(s, 4).item(), 2);
  // NaN sorts last, in the sequence and among the values
  const sn = kiln.tensor([1, 3, 5, NaN], f32);
  assert.equal(arr(kiln.searchsorted(sn, kiln.tensor([NaN, 6, 2], f32))), [4, 4, 1]);
  assert.equal(arr(kiln.searchsorted(sn, kiln.tensor([NaN, 6, 2], f32), { right: true })), [4, 4, 1]);
  const rows = kiln.tensor([
    [1, 3, 5, 7, 9],
    [2, 4, 6, 8, 10],
  ]);
  assert.equal(
    arr(
      kiln.searchsorted(
        rows,
        kiln.tensor([
          [3, 6, 9],
          [3, 6, 9],
        ]),
      ),
    ),
    [
      [1, 3, 4],
      [1, 2, 4],
    ],
  );
  assert.equal(arr(kiln.bucketize(kiln.tensor([0.5, 1, 2, 7]), kiln.tensor([1, 2, 4]))), [0, 0, 1, 3]);
  assert.equal(arr(kiln.bucketize(kiln.tensor([0.5, 1, 2, 7]), kiln.tensor([1, 2, 4]), { right: true })), [0, 1, 2, 3]);
  // random sequences of every length up to 40 against a linear scan
  kiln.manualSeed(3);
  for (let n = 0; n <= 40; n++) {
    const seq = kiln.randint(0, 20, [n]).sort().values;
    const q = kiln.randint(-1, 22, [30]);
    const sv = arr(seq) as number[],
      qv = arr(q) as number[];
    for (const right of [false, true]) {
      const got = arr(kiln.searchsorted(seq, q, { right })) as number[];
      qv.forEach((x, i) =>
        assert.is(got[i], sv.filter((e) => (right ? e <= x : e < x)).length, `n ${n} right ${right}`),
      );
    }
  }
  code(() => kiln.searchsorted(s, v, { side: 'middle' as 'left' }), 'ERR_ARG');
  code(() => kiln.searchsorted(rows, kiln.tensor([1, 2, 3])), 'ERR_SHAPE');
  code(() => kiln.bucketize(v, rows), 'ERR_SHAPE');
});

test('median and nanmedian: the lower median, NaN, indices', () => {
  assert.is(kiln.tensor([3, 1, 4, 2], f32).median().item(), 2);
  assert.is(kiln.tensor([3, 1, 4, 2]).median().item(), 2);
  const x = kiln.tensor(
    [
      [1, NaN, 3, NaN],
      [4, 2, 1, 3],
    ],
    f32,
  );
  const m = x.median(1);
  assert.equal((arr(m.values) as number[]).map(String), ['NaN', '2']);
  assert.equal(arr(m.indices), [1, 1]);
  const n = x.nanmedian(1);
  assert.equal(arr(n.values), [1, 2]);
  assert.equal(arr(n.indices), [0, 1]);
  assert.is(x.nanmedian().item(), 2);
  assert.ok(Number.isNaN(x.median().item() as number));
  assert.ok(Number.isNaN(kiln.tensor([NaN, NaN], f32).nanmedian().item() as number));
  assert.equal(x.median(1, true).values.shape, [2, 1]);
  kiln.manualSeed(4);
  const g = kiln.randn([3, 5], { ...f64, requiresGrad: true });
  assert.ok(kiln.gradcheck((a) => a.median(1).values.sum().add(a.nanmedian(0).values.square().sum()), [g]));
});

test('nansum, nanmean, quantile, nanquantile, aminmax', () => {
  const x = kiln.tensor(
    [
      [1, NaN, 3],
      [NaN, NaN, NaN],
    ],
    f64,
  );
  assert.equal(arr(x.nansum(1)), [4, 0]);
  const nm = arr(x.nanmean(1)) as number[];
  assert.is(nm[0], 2);
  assert.ok(Number.isNaN(nm[1]));
  const y = kiln.tensor([0, 1, 2, 3], f32);
  assert.is(y.quantile(0.5).item(), 1.5);
  const want: Record<string, number[]> = {
    linear: [0.75, 1.5],
    lower: [0, 1],
    higher: [1, 2],
    midpoint: [0.5, 1.5],
    nearest: [1, 2], // 0.75 rounds up, 1.5 to even
  };
  for (const [interpolation, w] of Object.entries(want))
    assert.equal(
      arr(y.quantile(kiln.tensor([0.25, 0.5], f64), { interpolation: interpolation as 'linear' })),
      w,
      interpolation,
    );
  const z = kiln.tensor(
    [
      [0, 1, 2, 3],
      [4, 5, 6, NaN],
    ],
    f32,
  );
  const q = arr(z.quantile(0.5, { dim: 1 })) as number[];
  assert.is(q[0], 1.5);
  assert.ok(Number.isNaN(q[1]));
  assert.equal(arr(z.nanquantile(0.5, { dim: 1, keepdim: true })), [[1.5], [5]]);
  assert.equal(z.quantile(kiln.tensor([0.1, 0.9]), { dim: 0 }).shape, [2, 4]);
  code(() => y.quantile(1.5), 'ERR_ARG');
  code(() => kiln.tensor([1, 2]).quantile(0.5), 'ERR_DTYPE');
  code(() => y.quantile(0.5, { interpolation: 'cubic' as 'linear' }), 'ERR_ARG');
  const mm = z.aminmax({ dim: 0 });
  assert.equal((arr(mm.min) as number[]).slice(0, 3), [0, 1, 2]);
  kiln.manualSeed(5);
  const g = kiln.randn([3, 6], { ...f64, requiresGrad: true });
  assert.ok(kiln.gradcheck((a) => a.quantile(kiln.tensor([0.3, 0.8], f64), { dim: 1 }).sum(), [g]));
  assert.ok(kiln.gradcheck((a) => a.nanquantile(0.4).add(a.nansum()).add(a.nanmean(0).sum()), [g]));
});

test('cov and corrcoef, with frequency and observation weights', () => {
  const x = kiln.tensor(
    [
      [0, 1, 2],
      [2, 1, 0.5],
    ],
    f64,
  );
  const c = arr(x.cov()) as number[][];
  assert.ok(
    Math.abs(c[0][0] - 1) < 1e-15 && Math.abs(c[0][1] + 0.75) < 1e-15 && Math.abs(c[1][1] - 0.5833333333333334) < 1e-15,
  );
  const cw = arr(x.cov({ fweights: kiln.tensor([1, 2, 1]), aweights: kiln.tensor([0.5, 1, 2], f64) })) as number[][];
  // numpy's weighted formula, worked out: v1 = 5.5, v2 = 9.5, fact = v1 - v2 / v1
  const w = [0.5, 2, 2];
  const v1 = 4.5,
    avg0 = (0 * 0.5 + 1 * 2 + 2 * 2) / v1,
    fact = v1 - (0.5 * 0.5 + 2 * 1 + 2 * 2) / v1;
  const c00 = w.reduce((s, wi, k) => s + wi * ([0, 1, 2][k] - avg0) ** 2, 0) / fact;
  assert.ok(Math.abs(cw[0][0] - c00) < 1e-14, `${cw[0][0]} vs ${c00}`);
  const r = arr(x.corrcoef()) as number[][];
  assert.ok(Math.abs(r[0][1] - -0.75 / Math.sqrt(0.5833333333333334)) < 1e-14);
  assert.is(r[0][0], 1);
  assert.is(kiln.tensor([1, 2, 4], f64).cov().item(), 2.333333333333333);
  kiln.manualSeed(6);
  const g = kiln.randn([3, 5], { ...f64, requiresGrad: true });
  assert.ok(kiln.gradcheck((a) => a.cov().sum().add(a.corrcoef().square().sum()), [g]));
  code(() => kiln.ones([2, 2, 2]).cov(), 'ERR_SHAPE');
  code(() => x.cov({ fweights: kiln.tensor([1, 2]) }), 'ERR_SHAPE');
});

test('cross, cdist, kron, tensordot, blockDiag, meshgrid, cartesianProd, diff, hypot, logit, xlogy', () => {
  assert.equal(arr(kiln.cross(kiln.tensor([1, 0, 0], f32), kiln.tensor([0, 1, 0], f32))), [0, 0, 1]);
  assert.equal(
    arr(
      kiln.tensor([[1, 2, 3]], f32).cross(
        kiln.tensor(
          [
            [4, 5, 6],
            [1, 0, 0],
          ],
          f32,
        ),
      ),
    ),
    [
      [-3, 6, -3],
      [0, 3, -2],
    ],
  );
  const a = kiln.tensor(
      [
        [0, 0],
        [3, 4],
      ],
      f64,
    ),
    b = kiln.tensor(
      [
        [0, 0],
        [1, 1],
        [6, 8],
      ],
      f64,
    );
  assert.equal(arr(kiln.cdist(a, b)), [
    [0, Math.SQRT2, 10],
    [5, Math.sqrt(13), 5],
  ]);
  assert.equal(arr(kiln.cdist(a, b, 1)), [
    [0, 2, 14],
    [7, 5, 7],
  ]);
  // the matrix-product form past 25 rows against the differences'
  kiln.manualSeed(7);
  const p = kiln.randn([30, 4], f64),
    r = kiln.randn([28, 4], f64);
  assert.ok(
    (kiln
      .cdist(p, r)
      .sub(kiln.cdist(p.narrow(0, 0, 20), r.narrow(0, 0, 20)).pad([0, 8, 0, 10]))
      .narrow(0, 0, 20)
      .narrow(1, 0, 20)
      .abs()
      .amax()
      .item() as number) < 1e-12,
  );
  assert.equal(arr(kiln.kron(kiln.tensor([[1, 2]]), kiln.tensor([[1], [10]]))), [
    [1, 2],
    [10, 20],
  ]);
  const t1 = kiln.randn([3, 4, 5], f64),
    t2 = kiln.randn([4, 5, 2], f64);
  assert.ok(
    (kiln
      .tensordot(t1, t2, 2)
      .sub(kiln.einsum('ijk,jkl->il', t1, t2))
      .abs()
      .amax()
      .item() as number) < 1e-12,
  );
  assert.ok(
    (kiln
      .tensordot(t1, t2, [[1], [0]])
      .sub(kiln.einsum('ijk,jlm->iklm', t1, t2))
      .abs()
      .amax()
      .item() as number) < 1e-12,
  );
  assert.equal(arr(kiln.blockDiag(kiln.tensor([[1, 2]]), kiln.tensor(3), kiln.tensor([4, 5]))), [
    [1, 2, 0, 0, 0],
    [0, 0, 3, 0, 0],
    [0, 0, 0, 4, 5],
  ]);
  const [gx, gy] = kiln.meshgrid([kiln.tensor([1, 2, 3]), kiln.tensor([4, 5])]);
  assert.equal(arr(gx), [
    [1, 1],
    [2, 2],
    [3, 3],
  ]);
  assert.equal(arr(gy), [
    [4, 5],
    [4, 5],
    [4, 5],
  ]);
  assert.equal(kiln.meshgrid([kiln.tensor([1, 2, 3]), kiln.tensor([4, 5])], { indexing: 'xy' })[0].shape, [2, 3]);
  assert.equal(arr(kiln.cartesianProd(kiln.tensor([1, 2]), kiln.tensor([3, 4]))), [
    [1, 3],
    [1, 4],
    [2, 3],
    [2, 4],
  ]);
  assert.equal(arr(kiln.tensor([1, 4, 9, 16]).diff()), [3, 5, 7]);
  assert.equal(arr(kiln.tensor([1, 4, 9, 16]).diff(2)), [2, 2]);
  assert.equal(arr(kiln.tensor([1, 4]).diff(1, -1, kiln.tensor([0]), kiln.tensor([5]))), [1, 3, 1]);
  assert.equal(arr(kiln.tensor([true, true, false]).diff()), [false, true]);
  assert.equal(kiln.tensor([1, 2]).diff(5).shape, [0]);
  assert.equal(
    arr(kiln.hypot(kiln.tensor([3, 0, 1e200, -Infinity, NaN], f64), kiln.tensor([4, 0, 1e200, 1, Infinity], f64))),
    [5, 0, 1.414213562373095e200, Infinity, Infinity],
  );
  assert.ok(Math.abs((kiln.tensor([0.25], f64).logit().item() as number) - Math.log(1 / 3)) < 1e-15);
  assert.ok(Math.abs((kiln.tensor([0.01], f64).logit(0.2).item() as number) - Math.log(0.25)) < 1e-15);
  const xl = arr(kiln.xlogy(kiln.tensor([0, 0, 2], f64), kiln.tensor([0, NaN, Math.E], f64))) as number[];
  assert.is(xl[0], 0);
  assert.ok(Number.isNaN(xl[1]));
  assert.is(xl[2], 2);
  kiln.manualSeed(8);
  const u = kiln.randn([4, 3], { ...f64, requiresGrad: true }),
    v = kiln.randn([4, 3], { ...f64, requiresGrad: true });
  assert.ok(kiln.gradcheck((s, t) => kiln.cross(s, t).square().sum().add(kiln.hypot(s, t).sum()), [u, v]));
  assert.ok(kiln.gradcheck((s, t) => kiln.cdist(s, t).sum().add(kiln.kron(s, t).square().sum()), [u, v]));
  assert.ok(
    kiln.gradcheck(
      (s, t) =>
        kiln
          .tensordot(s, t, [[0], [0]])
          .square()
          .sum()
          .add(s.diff(1, 0).square().sum()),
      [u, v],
    ),
  );
  code(() => kiln.cross(kiln.ones([2, 2]), kiln.ones([2, 2])), 'ERR_SHAPE');
  code(() => kiln.cdist(kiln.ones([2, 3]), kiln.ones([2, 4])), 'ERR_SHAPE');
  code(() => kiln.tensordot(t1, t2, [[0], [0]]), 'ERR_SHAPE');
  code(() => kiln.meshgrid([kiln.ones([2, 2])]), 'ERR_SHAPE');
  code(() => kiln.blockDiag(kiln.ones([1, 1, 1])), 'ERR_SHAPE');
});

const PY_CHECK = `
import json, sys, torch
c = json.loads(sys.argv[1]); x = torch.tensor(c['x'], dtype=torch.float64); y = torch.tensor(c['y'], dtype=torch.float64)
m = x > 0.3
r = dict(median=torch.median(x, 1).values, medi=torch.median(x, 1).indices, nanmedian=torch.nanmedian(x, 0).values,
    q=torch.quantile(x, torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64), dim=1), nz=torch.nonzero(m), ms=torch.masked_select(x, m),
    uniq=torch.unique((x * 3).round(), return_counts=True)[1], ss=torch.searchsorted(torch.sort(y.flatten()).values, x, right=True),
    cov=torch.cov(x), cd=torch.cdist(x, y.reshape(-1, x.shape[1])), hist=torch.histc(x.float(), 7))
print(json.dumps({k: v.tolist() for k, v in r.items()}))
`;

test(`random inputs against PyTorch${torchSuffix}`, () => {
  if (skipWithoutTorch('selection and statistics comparison with PyTorch')) return;
  kiln.manualSeed(9);
  const x = kiln.randn([6, 9], f64),
    y = kiln.randn([4, 9], f64);
  const r = spawnSync(PY, ['-c', PY_CHECK, JSON.stringify({ x: x.toArray(), y: y.toArray() })], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const w = JSON.parse(r.stdout) as Record<string, unknown>;
  const m = x.gt(0.3);
  const got: Record<string, kiln.Tensor> = {
    median: x.median(1).values,
    medi: x.median(1).indices,
    nanmedian: x.nanmedian(0).values,
    q: x.quantile(kiln.tensor([0.1, 0.5, 0.9], f64), { dim: 1 }),
    nz: x.gt(0.3).nonzero(),
    ms: x.maskedSelect(m),
    uniq: x.mul(3).round().unique({ returnCounts: true }).counts!,
    ss: kiln.searchsorted(y.reshape([-1]).sort().values, x, { right: true }),
    cov: x.cov(),
    cd: kiln.cdist(x, y.reshape([-1, 9])),
    hist: x.to('float32').histc(7), // float32: PyTorch 1.13's float64 histc leaves out the max
  };
  for (const [k, t] of Object.entries(got)) {
    const want = kiln.tensor(w[k] as number[], { dtype: t.dtype });
    assert.equal(t.shape, want.shape, k);
    const d = t.to('float64').sub(want.to('float64')).abs().amax().item() as number;
    assert.ok(d < 1e-12, `${k}: ${d}`);
  }
});

test.run();
