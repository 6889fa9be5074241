// Tensor.unfold, nn.functional.unfold / fold (ts/ops/windows.ts), multinomial and gumbelSoftmax
// (ts/ops/sampling.ts): windows and blocks against plain-loop references, finite-difference
// gradients in float64, fold as unfold's adjoint, draws against exact probabilities (4 standard
// deviations), seeded replay, and the argument errors with their codes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';
import { settledMemory } from '../helpers/settled';

const F = kiln.nn.functional;
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const flat = (t: kiln.Tensor) => t.to('float64').flatten().toArray() as number[];
const close = (got: number[], want: number[], label: string, tol = 1e-12) => {
  assert.is(got.length, want.length, `${label}: length`);
  got.forEach((v, i) =>
    assert.ok(Math.abs(v - want[i]) <= tol * (1 + Math.abs(want[i])), `${label} [${i}]: ${v} vs ${want[i]}`),
  );
};
const f64 = (shape: number[]) => kiln.randn(shape, { dtype: 'float64' }).requiresGrad_();

/** x.unfold(dim, size, step) by loops over a flat copy of x. */
function refWindows(x: number[], shape: number[], dim: number, size: number, step: number) {
  const n = Math.floor((shape[dim] - size) / step) + 1;
  const outer = numel(shape.slice(0, dim)),
    inner = numel(shape.slice(dim + 1));
  const out: number[] = [];
  for (let o = 0; o < outer; o++)
    for (let w = 0; w < n; w++)
      for (let i = 0; i < inner; i++)
        for (let k = 0; k < size; k++) out.push(x[(o * shape[dim] + w * step + k) * inner + i]);
  const outShape = shape.slice();
  outShape[dim] = n;
  return { shape: [...outShape, size], data: out };
}

test('Tensor.unfold matches loops over windows (dims, overlaps, gaps, strided input, integers)', () => {
  kiln.manualSeed(1);
  const cases: [number[], number, number, number][] = [
    [[7], 0, 3, 2],
    [[7], 0, 7, 1],
    [[7], 0, 1, 3],
    [[7], 0, 0, 2],
    [[3, 8, 2], 1, 4, 1],
    [[3, 8, 2], -2, 2, 3],
    [[5, 4], 0, 2, 2],
    [[2, 3, 9], 2, 5, 4],
    [[4, 6], 1, 6, 6],
  ];
  for (const [shape, dim, size, step] of cases) {
    const x = kiln.randn(shape);
    const d = dim < 0 ? dim + shape.length : dim;
    const want = refWindows(flat(x), shape, d, size, step);
    const u = x.unfold(dim, size, step);
    assert.equal(u.shape, want.shape, `${shape} ${dim} ${size} ${step}`);
    close(flat(u), want.data, `${shape} dim ${dim} size ${size} step ${step}`, 0);
  }
  // a transposed (non-contiguous) input, and integers
  const t = kiln.randn([6, 3]).transpose(0, 1);
  close(flat(t.unfold(1, 3, 2)), refWindows(flat(t), [3, 6], 1, 3, 2).data, 'transposed', 0);
  const i = kiln.arange(0, 10, 1, { dtype: 'int32' });
  assert.equal(i.unfold(0, 4, 3).toArray(), [
    [0, 1, 2, 3],
    [3, 4, 5, 6],
    [6, 7, 8, 9],
  ]);
  assert.is(i.unfold(0, 4, 3).dtype, 'int32');
  // 0-d: torch gives [size]
  assert.equal(kiln.tensor(5).unfold(0, 1, 1).toArray(), [5]);
});

test('Tensor.unfold is a view: same storage, writes to the input show through', () => {
  const x = kiln.arange(0, 6, 1, { dtype: 'float32' });
  const u = x.unfold(0, 3, 1);
  assert.is(u._storage, x._storage);
  assert.equal(u.stride(), [1, 1]);
  x.mul_(10);
  assert.equal(u.toArray(), [
    [0, 10, 20],
    [10, 20, 30],
    [20, 30, 40],
    [30, 40, 50],
  ]);
});

test('Tensor.unfold: gradients add up over overlapping windows; gradcheck and gradgradcheck', () => {
  const x = kiln.zeros([6], { requiresGrad: true });
  x.unfold(0, 3, 1).sum().backward();
  assert.equal(x.grad!.toArray(), [1, 2, 3, 3, 2, 1], 'windows covering each element');
  const y = kiln.zeros([7], { requiresGrad: true });
  y.unfold(0, 2, 3)
    .mul(kiln.tensor([1, 10]))
    .sum()
    .backward();
  assert.equal(y.grad!.toArray(), [1, 10, 0, 1, 10, 0, 0], 'gaps get no gradient');
  kiln.manualSeed(2);
  // both loops of the backward: fewer windows than window positions, and more
  const samples: [string, (a: kiln.Tensor) => kiln.Tensor, number[]][] = [
    ['[2,5,3] dim 1 size 4 step 1', (a) => a.unfold(1, 4, 1), [2, 5, 3]],
    ['[2,9,3] dim 1 size 2 step 1', (a) => a.unfold(1, 2, 1), [2, 9, 3]],
    ['[4,7] dim 1 size 3 step 2', (a) => a.unfold(1, 3, 2), [4, 7]],
    ['[8,3] dim 0 size 2 step 3 (gaps)', (a) => a.unfold(0, 2, 3), [8, 3]],
    ['unfold of unfold', (a) => a.unfold(0, 3, 2).unfold(1, 2, 1), [7, 4]],
    ['transposed', (a) => a.transpose(0, 1).unfold(0, 2, 1), [3, 4]],
  ];
  for (const [label, fn, shape] of samples) {
    assert.ok(kiln.gradcheck(fn, [f64(shape)]), label);
    assert.ok(
      kiln.gradgradcheck((a) => fn(a).square(), [f64(shape)]),
      `${label} (second order)`,
    );
  }
});

/** im2col by loops: [N, C, H, W] to [N, C*kh*kw, oh*ow]. */
function refIm2col(x: number[], [n, c, h, w]: number[], k: number[], d: number[], p: number[], s: number[]) {
  const oh = Math.floor((h + 2 * p[0] - d[0] * (k[0] - 1) - 1) / s[0]) + 1;
  const ow = Math.floor((w + 2 * p[1] - d[1] * (k[1] - 1) - 1) / s[1]) + 1;
  const out: number[] = [];
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < k[0]; i++)
        for (let j = 0; j < k[1]; j++)
          for (let oy = 0; oy < oh; oy++)
            for (let ox = 0; ox < ow; ox++) {
              const y = oy * s[0] - p[0] + i * d[0],
                xx = ox * s[1] - p[1] + j * d[1];
              out.push(y >= 0 && y < h && xx >= 0 && xx < w ? x[((b * c + ch) * h + y) * w + xx] : 0);
            }
  return { shape: [n, c * k[0] * k[1], oh * ow], data: out };
}

/** col2im by loops: [N, C*kh*kw, L] to [N, C, H, W], overlaps summed. */
function refCol2im(
  cols: number[],
  n: number,
  c: number,
  [h, w]: number[],
  k: number[],
  d: number[],
  p: number[],
  s: number[],
) {
  const oh = Math.floor((h + 2 * p[0] - d[0] * (k[0] - 1) - 1) / s[0]) + 1;
  const ow = Math.floor((w + 2 * p[1] - d[1] * (k[1] - 1) - 1) / s[1]) + 1;
  const out = new Array<number>(n * c * h * w).fill(0);
  let q = 0;
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < k[0]; i++)
        for (let j = 0; j < k[1]; j++)
          for (let oy = 0; oy < oh; oy++)
            for (let ox = 0; ox < ow; ox++, q++) {
              const y = oy * s[0] - p[0] + i * d[0],
                xx = ox * s[1] - p[1] + j * d[1];
              if (y >= 0 && y < h && xx >= 0 && xx < w) out[((b * c + ch) * h + y) * w + xx] += cols[q];
            }
  return out;
}

type Geo = { shape: number[]; k: [number, number]; d: [number, number]; p: [number, number]; s: [number, number] };
const GEOS: Geo[] = [
  { shape: [2, 3, 5, 6], k: [3, 3], d: [1, 1], p: [0, 0], s: [1, 1] },
  { shape: [1, 2, 6, 5], k: [2, 3], d: [2, 1], p: [1, 0], s: [1, 2] },
  { shape: [2, 1, 7, 7], k: [3, 2], d: [2, 3], p: [2, 1], s: [2, 1] },
  { shape: [1, 4, 4, 4], k: [2, 2], d: [1, 1], p: [0, 0], s: [2, 2] },
  { shape: [3, 2, 3, 8], k: [1, 4], d: [1, 1], p: [1, 2], s: [3, 3] },
];
const opts = (g: Geo) => ({ dilation: g.d, padding: g.p, stride: g.s });

test('F.unfold and F.fold match im2col and col2im loops (dilation, padding, stride, unbatched)', () => {
  kiln.manualSeed(3);
  for (const g of GEOS) {
    const label = JSON.stringify(g);
    const x = kiln.randn(g.shape, { dtype: 'float64' });
    const want = refIm2col(flat(x), g.shape, g.k, g.d, g.p, g.s);
    const u = F.unfold(x, g.k, opts(g));
    assert.equal(u.shape, want.shape, label);
    close(flat(u), want.data, `unfold ${label}`, 0);
    // unbatched [C, H, W]
    const u3 = F.unfold(x.select(0, 0), g.k, opts(g));
    assert.equal(u3.shape, want.shape.slice(1), `unbatched ${label}`);
    close(flat(u3), want.data.slice(0, numel(want.shape.slice(1))), `unbatched unfold ${label}`, 0);

    const cols = kiln.randn(want.shape, { dtype: 'float64' });
    const [n, c] = g.shape;
    const hw = g.shape.slice(2) as [number, number];
    const y = F.fold(cols, hw, g.k, opts(g));
    assert.equal(y.shape, g.shape, label);
    assert.ok(y.isContiguous(), `fold's result is contiguous, as torch's: ${label}`);
    close(flat(y), refCol2im(flat(cols), n, c, hw, g.k, g.d, g.p, g.s), `fold ${label}`);
    const y2 = F.fold(cols.select(0, 0), hw, g.k, opts(g));
    assert.equal(y2.shape, g.shape.slice(1));
    close(flat(y2), flat(y.select(0, 0)), `unbatched fold ${label}`);
    // adjoints: <unfold(x), cols> = <x, fold(cols)>
    const lhs = u.mul(cols).sum().item() as number,
      rhs = x.mul(y).sum().item() as number;
    assert.ok(Math.abs(lhs - rhs) <= 1e-10 * (1 + Math.abs(lhs)), `adjoint ${label}: ${lhs} vs ${rhs}`);
  }
  // integer arguments and the modules give the same blocks
  const x = kiln.randn([2, 3, 6, 6]);
  close(
    flat(F.unfold(x, 3, { padding: 1, stride: 2 })),
    flat(F.unfold(x, [3, 3], { padding: [1, 1], stride: [2, 2] })),
    'scalar args',
    0,
  );
  close(flat(new kiln.nn.Unfold(3, { padding: 1 }).forward(x)), flat(F.unfold(x, 3, { padding: 1 })), 'nn.Unfold', 0);
  const cols = F.unfold(x, 2, { stride: 2 });
  close(
    flat(new kiln.nn.Fold([6, 6], 2, { stride: 2 }).forward(cols)),
    flat(x),
    'nn.Fold undoes a non-overlapping Unfold',
    0,
  );
});

test('F.unfold and F.fold: gradcheck (first and second order)', () => {
  kiln.manualSeed(4);
  for (const g of GEOS.slice(0, 3)) {
    const small = [1, g.shape[1], ...g.shape.slice(2)];
    const L = refIm2col(new Array(numel(small)).fill(0), small, g.k, g.d, g.p, g.s).shape;
    const un = (a: kiln.Tensor) => F.unfold(a, g.k, opts(g));
    const fo = (a: kiln.Tensor) => F.fold(a, small.slice(2) as [number, number], g.k, opts(g));
    assert.ok(kiln.gradcheck(un, [f64(small)]), `unfold ${JSON.stringify(g)}`);
    assert.ok(kiln.gradcheck(fo, [f64(L)]), `fold ${JSON.stringify(g)}`);
    assert.ok(
      kiln.gradgradcheck((a) => un(a).square(), [f64(small)]),
      `unfold second order ${JSON.stringify(g)}`,
    );
    assert.ok(
      kiln.gradgradcheck((a) => fo(a).square(), [f64(L)]),
      `fold second order ${JSON.stringify(g)}`,
    );
  }
});

test('unfold and fold leave no tensor behind (forward and backward)', () => {
  const x = kiln.randn([2, 3, 6, 6], { requiresGrad: true });
  settledMemory(); // what earlier tests left to the garbage collector
  const before = settledMemory().numTensors;
  const y = F.fold(F.unfold(x, 3, { padding: 1, dilation: 2 }), [6, 6], 3, { padding: 1, dilation: 2 });
  const loss = y.sum();
  loss.backward();
  for (const t of [loss, y]) t.dispose();
  x.grad!.dispose();
  x.grad = null;
  // no more than before: a collection may still take garbage that earlier tests left
  const after = settledMemory().numTensors;
  assert.ok(after <= before, `${after - before} tensors left behind`);
});

test('unfold and fold: argument and shape errors', () => {
  const x = kiln.randn([2, 5]);
  throwsCode(() => x.unfold(1, 6, 1), 'ERR_SHAPE', 'size > dim length');
  throwsCode(() => x.unfold(1, 2, 0), 'ERR_ARG', 'step 0');
  throwsCode(() => x.unfold(1, 2, 1.5), 'ERR_ARG', 'fractional step');
  throwsCode(() => x.unfold(1, -1, 1), 'ERR_ARG', 'negative size');
  throwsCode(() => x.unfold(2, 2, 1), 'ERR_ARG', 'dim out of range');
  const im = kiln.randn([1, 2, 4, 4]);
  throwsCode(() => F.unfold(kiln.randn([4, 4]), 2), 'ERR_SHAPE', 'unfold of 2-d');
  throwsCode(() => F.unfold(im, 5), 'ERR_SHAPE', 'kernel larger than the input');
  throwsCode(() => F.unfold(im, 3, { dilation: 2 }), 'ERR_SHAPE', 'dilated kernel larger than the input');
  throwsCode(() => F.unfold(im, 2, { stride: 0 }), 'ERR_ARG', 'stride 0');
  throwsCode(() => F.unfold(im, 2, { padding: -1 }), 'ERR_ARG', 'negative padding');
  throwsCode(() => F.unfold(im, 0), 'ERR_ARG', 'kernel 0');
  const cols = kiln.randn([1, 8, 9]); // C = 2, kernel 2x2, 3x3 blocks of a 4x4 image
  assert.equal(F.fold(cols, 4, 2).shape, [1, 2, 4, 4]);
  throwsCode(() => F.fold(cols, 4, 3), 'ERR_SHAPE', 'channels not divisible by the kernel');
  throwsCode(() => F.fold(cols, 5, 2), 'ERR_SHAPE', 'block count mismatch');
  throwsCode(() => F.fold(cols, 1, 2), 'ERR_SHAPE', 'no block fits');
  throwsCode(() => F.fold(kiln.randn([1, 1, 8, 9]), 4, 2), 'ERR_SHAPE', 'fold of 4-d');
  throwsCode(() => F.fold(cols, 4, 2, { dilation: 0 }), 'ERR_ARG', 'dilation 0');
});

// ---------------------------------------------------------------------------------------------
// multinomial

/** Counts of each value in a flat list of indices. */
const counts = (xs: number[], k: number) => xs.reduce((c, v) => (c[v]++, c), new Array<number>(k).fill(0));
const within4sd = (count: number, n: number, p: number, label: string) => {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(
    Math.abs(count - n * p) <= 4 * sd,
    `${label}: ${count} draws of ${n}, expected ${n * p} (sd ${sd.toFixed(1)})`,
  );
};

test('multinomial with replacement: frequencies of 20000 draws, unnormalised weights, rows', () => {
  kiln.manualSeed(5);
  const n = 20000;
  for (const [w, label] of [
    [[0.1, 0.2, 0.7], 'normalised'],
    [[1, 2, 7], 'unnormalised'],
  ] as [number[], string][]) {
    const s = kiln.multinomial(kiln.tensor(w, { dtype: 'float32' }), n, { replacement: true });
    assert.equal([s.dtype, s.shape], ['int64', [n]]);
    const c = counts(s.toArray() as number[], 3);
    [0.1, 0.2, 0.7].forEach((p, i) => within4sd(c[i], n, p, `${label} category ${i}`));
  }
  // two rows with different weights, zeros among them, float64
  const w = kiln.tensor(
    [
      [0, 3, 0, 1, 0],
      [1, 1, 1, 1, 0],
    ],
    { dtype: 'float64' },
  );
  const s = w.multinomial(n, { replacement: true });
  assert.equal(s.shape, [2, n]);
  const [r0, r1] = s.toArray() as number[][];
  const c0 = counts(r0, 5),
    c1 = counts(r1, 5);
  assert.equal([c0[0], c0[2], c0[4], c1[4]], [0, 0, 0, 0], 'zero weights are never drawn');
  within4sd(c0[1], n, 0.75, 'row 0 category 1');
  for (let i = 0; i < 4; i++) within4sd(c1[i], n, 0.25, `row 1 category ${i}`);
});

test('multinomial never draws a zero weight (tiny weights beside zeros, first and last categories)', () => {
  kiln.manualSeed(6);
  const w = kiln.tensor([0, 1e-30, 0, 0, 1, 0, 1e-6, 0], { dtype: 'float32' });
  const nonzero = new Set([1, 4, 6]);
  const a = kiln.multinomial(w.reshape([1, 8]).expand([500, 8]).contiguous(), 3).toArray() as number[][];
  const b = kiln.multinomial(w, 5000, { replacement: true }).toArray() as number[];
  for (const v of [...a.flat(), ...b]) assert.ok(nonzero.has(v), `drew zero-weight category ${v}`);
  // a lone non-zero weight takes every draw
  const one = kiln.tensor([0, 0, 0.3, 0], { dtype: 'float32' });
  assert.equal(one.multinomial(4, { replacement: true }).toArray(), [2, 2, 2, 2]);
  assert.equal(one.multinomial(1).toArray(), [2]);
});

test('multinomial without replacement: distinct draws, first draws and ordered pairs match sequential sampling', () => {
  kiln.manualSeed(7);
  const w = [1, 2, 3, 4];
  const tot = 10,
    p = w.map((v) => v / tot);
  const n = 20000;
  const s = kiln.multinomial(kiln.tensor([w], { dtype: 'float32' }).expand([n, 4]), 2).toArray() as number[][];
  assert.is(s.length, n);
  const first = new Array<number>(4).fill(0);
  const pairs = new Map<string, number>();
  for (const [a, b] of s) {
    assert.ok(a !== b, 'draws in a row are distinct');
    first[a]++;
    pairs.set(`${a}${b}`, (pairs.get(`${a}${b}`) ?? 0) + 1);
  }
  p.forEach((pi, i) => within4sd(first[i], n, pi, `first draw ${i}`));
  for (let i = 0; i < 4; i++)
    for (let j = 0; j < 4; j++)
      if (i !== j) within4sd(pairs.get(`${i}${j}`) ?? 0, n, (p[i] * p[j]) / (1 - p[i]), `pair (${i}, ${j})`);
  // drawing every category gives a permutation of them
  const all = kiln.multinomial(kiln.tensor([[5, 1, 2, 0.5, 3]], { dtype: 'float32' }).expand([50, 5]), 5);
  for (const row of all.toArray() as number[][]) assert.equal(row.slice().sort(), [0, 1, 2, 3, 4]);
});

test('multinomial: the same seed gives the same draws; another seed, others', () => {
  const w = kiln.rand([3, 50]).add(0.01);
  const draw = (opts?: { generator?: kiln.Generator; replacement?: boolean }) =>
    kiln.multinomial(w, 20, opts).toArray() as number[][];
  for (const replacement of [false, true]) {
    kiln.manualSeed(42);
    const a = draw({ replacement });
    const a2 = draw({ replacement });
    kiln.manualSeed(42);
    assert.equal(draw({ replacement }), a, 'manualSeed replays');
    assert.not.equal(a2, a, 'the generator advances');
    kiln.manualSeed(43);
    assert.not.equal(draw({ replacement }), a, 'another seed');
    assert.equal(
      draw({ replacement, generator: new kiln.Generator(9) }),
      draw({ replacement, generator: new kiln.Generator(9) }),
    );
  }
});

test('multinomial: errors', () => {
  const w = kiln.tensor([0.2, 0, 0.8], { dtype: 'float32' });
  throwsCode(() => kiln.multinomial(w, 3), 'ERR_ARG', 'more samples than non-zero weights without replacement');
  throwsCode(() => kiln.multinomial(w, 4), 'ERR_ARG', 'more samples than categories without replacement');
  throwsCode(() => kiln.multinomial(w, 0), 'ERR_ARG', 'numSamples 0');
  throwsCode(() => kiln.multinomial(w, 1.5), 'ERR_ARG', 'fractional numSamples');
  throwsCode(() => kiln.multinomial(kiln.tensor([0.5, -0.1, 1]), 1), 'ERR_ARG', 'negative weight');
  throwsCode(() => kiln.multinomial(kiln.tensor([0.5, NaN, 1]), 1), 'ERR_ARG', 'NaN weight');
  throwsCode(
    () => kiln.multinomial(kiln.tensor([0.5, Infinity]), 1, { replacement: true }),
    'ERR_ARG',
    'infinite weight',
  );
  throwsCode(
    () =>
      kiln.multinomial(
        kiln.tensor(
          [
            [1, 2],
            [0, 0],
          ],
          { dtype: 'float32' },
        ),
        1,
        { replacement: true },
      ),
    'ERR_ARG',
    'all-zero row',
  );
  throwsCode(() => kiln.multinomial(kiln.tensor([1, 2, 3], { dtype: 'int64' }), 1), 'ERR_DTYPE', 'integer weights');
  throwsCode(() => kiln.multinomial(kiln.rand([2, 2, 2]), 1), 'ERR_SHAPE', '3-d weights');
  assert.equal(kiln.multinomial(kiln.rand([0, 3]), 2).shape, [0, 2], 'no rows');
});

// ---------------------------------------------------------------------------------------------
// gumbelSoftmax

test('gumbelSoftmax: soft samples are distributions; gradcheck with a fixed generator; tau sharpens', () => {
  kiln.manualSeed(8);
  const logits = kiln.randn([4, 5]);
  const y = F.gumbelSoftmax(logits);
  (y.sum(-1).toArray() as number[]).forEach((v) => assert.ok(Math.abs(v - 1) < 1e-5));
  assert.ok((y.min().item() as number) >= 0);
  const cold = F.gumbelSoftmax(logits, { tau: 0.01, generator: new kiln.Generator(1) });
  (cold.amax(-1).toArray() as number[]).forEach((v) =>
    assert.ok(v > 0.99, `tau 0.01 gives nearly one-hot rows (${v})`),
  );
  const y0 = F.gumbelSoftmax(logits, { dim: 0, generator: new kiln.Generator(1) });
  (y0.sum(0).toArray() as number[]).forEach((v) => assert.ok(Math.abs(v - 1) < 1e-5, 'dim 0'));
  for (const [tau, dim] of [
    [1, -1],
    [0.5, 0],
    [2.5, 1],
  ])
    assert.ok(
      kiln.gradcheck((a) => F.gumbelSoftmax(a, { tau, dim, generator: new kiln.Generator(11) }), [f64([3, 4])]),
      `tau ${tau} dim ${dim}`,
    );
});

test('gumbelSoftmax hard: one-hot at the soft argmax, straight-through gradient of the soft sample', () => {
  const logits = kiln.randn([6, 4], { dtype: 'float64', requiresGrad: true });
  const h = F.gumbelSoftmax(logits, { hard: true, tau: 0.7, generator: new kiln.Generator(3) });
  const s = F.gumbelSoftmax(logits, { tau: 0.7, generator: new kiln.Generator(3) });
  const hv = h.toArray() as number[][];
  const arg = s.argmax(-1).toArray() as number[];
  hv.forEach((row, r) =>
    row.forEach((v, c) => assert.ok(Math.abs(v - (c === arg[r] ? 1 : 0)) < 1e-12, `hard [${r}, ${c}] = ${v}`)),
  );
  const wts = kiln.randn([6, 4], { dtype: 'float64' });
  const [gh] = kiln.autograd.grad(h.mul(wts).sum(), [logits]);
  const [gs] = kiln.autograd.grad(s.mul(wts).sum(), [logits]);
  close(flat(gh!), flat(gs!), 'straight-through gradient');
  assert.ok((gh!.abs().sum().item() as number) > 1e-6, 'the gradient is not zero');
});

test('gumbelSoftmax: the argmax of a hard sample follows softmax(logits) (Gumbel-max)', () => {
  kiln.manualSeed(9);
  const n = 20000;
  const lg = [0.5, -1, 1.5];
  const p = flat(kiln.tensor(lg, { dtype: 'float64' }).softmax(0));
  const y = F.gumbelSoftmax(kiln.tensor([lg], { dtype: 'float32' }).expand([n, 3]), { hard: true, tau: 3 });
  const c = flat(y.sum(0));
  p.forEach((pi, i) => within4sd(c[i], n, pi, `category ${i}`));
});

test('gumbelSoftmax: errors', () => {
  const l = kiln.randn([2, 3]);
  throwsCode(() => F.gumbelSoftmax(l, { tau: 0 }), 'ERR_ARG', 'tau 0');
  throwsCode(() => F.gumbelSoftmax(l, { tau: -1 }), 'ERR_ARG', 'negative tau');
  throwsCode(() => F.gumbelSoftmax(l, { dim: 2 }), 'ERR_ARG', 'dim out of range');
  throwsCode(() => F.gumbelSoftmax(kiln.tensor([1, 2], { dtype: 'int64' })), 'ERR_DTYPE', 'integer logits');
  throwsCode(() => F.gumbelSoftmax(kiln.tensor(1.5)), 'ERR_SHAPE', '0-d logits');
});

test.run();
