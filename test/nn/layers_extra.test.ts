// 1-d pooling, pixel (un)shuffle, instance norm, glu/softmin/shrinks and the distance losses
// (pairwise distance, margin ranking, cosine embedding, triplet margin, hinge embedding, soft
// margin): values worked out by hand, gradients by finite differences, errors, and, when Debian's
// torch is installed, every one against PyTorch on random float64 inputs.
import { spawnSync } from 'child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';
import * as kiln from '../../ts/index';

const { nn } = kiln;
const F = nn.functional;
const f64 = { dtype: 'float64' } as const;
const arr = (t: kiln.Tensor) => t.toArray();
const near = (a: kiln.Tensor, b: kiln.Tensor, tol = 1e-12) => (a.sub(b).abs().amax().item() as number) < tol;

test('1-d pools, pixel shuffle and unshuffle', () => {
  const x = kiln.tensor([[[1, 5, 2, 8, 3]]], f64);
  assert.equal(arr(F.maxPool1d(x, 2)), [[[5, 8]]]);
  assert.equal(arr(F.maxPool1d(x, 2, { stride: 1 })), [[[5, 5, 8, 8]]]);
  assert.equal(arr(F.avgPool1d(x, 2)), [[[3, 5]]]);
  assert.equal(arr(F.adaptiveAvgPool1d(x, 1)), [[[3.8]]]);
  assert.equal(arr(new nn.MaxPool1d(3, { padding: 1, stride: 2 }).forward(x.select(0, 0))), [[5, 8, 8]]); // unbatched
  assert.equal(new nn.AdaptiveAvgPool1d(3).forward(kiln.ones([2, 4, 9])).shape, [2, 4, 3]);
  const c = kiln.arange(0, 8).reshape([1, 8, 1, 1]);
  const s = F.pixelShuffle(c, 2);
  assert.equal(s.shape, [1, 2, 2, 2]);
  assert.equal(arr(s), [
    [
      [
        [0, 1],
        [2, 3],
      ],
      [
        [4, 5],
        [6, 7],
      ],
    ],
  ]);
  assert.equal(arr(F.pixelUnshuffle(s, 2)), arr(c));
  const big = kiln.randn([2, 18, 4, 5], f64);
  assert.is(new nn.PixelUnshuffle(3).forward(new nn.PixelShuffle(3).forward(big)).sub(big).abs().amax().item(), 0);
  assert.throws(
    () => F.pixelShuffle(kiln.ones([1, 3, 2, 2]), 2),
    (e: kiln.KilnError) => e.code === 'ERR_SHAPE',
  );
  assert.throws(
    () => F.maxPool1d(kiln.ones([1, 1, 1, 4]), 2),
    (e: kiln.KilnError) => e.code === 'ERR_SHAPE',
  );
});

test('instanceNorm: each sample and channel over its own positions; the modules, affine, unbatched', () => {
  kiln.manualSeed(1);
  const x = kiln.randn([2, 3, 4, 5], f64);
  const y = F.instanceNorm(x);
  const m = x.mean([2, 3], true),
    v = x.var([2, 3], { correction: 0, keepdim: true });
  assert.ok(near(y, x.sub(m).div(v.add(1e-5).sqrt())));
  const n = new nn.InstanceNorm2d(3, 1e-5, true);
  assert.is([...n.parameters()].length, 2);
  assert.is([...new nn.InstanceNorm2d(3).parameters()].length, 0); // affine false by default, as PyTorch
  kiln.noGrad(() => n.weight!.fill_(2));
  const n64 = new nn.InstanceNorm2d(3, 1e-5, true);
  kiln.noGrad(() => {
    n64.weight = n64.weight!.to('float64');
    n64.bias = n64.bias!.to('float64');
    n64.weight.fill_(2);
  });
  assert.ok(near(n64.forward(x), y.mul(2)));
  assert.ok(near(new nn.InstanceNorm1d(3).forward(x.select(0, 0).reshape([3, 20])), y.select(0, 0).reshape([3, 20])));
  assert.throws(
    () => new nn.InstanceNorm2d(4).forward(x),
    (e: kiln.KilnError) => e.code === 'ERR_SHAPE',
  );
  assert.throws(
    () => new nn.InstanceNorm3d(3).forward(x),
    (e: kiln.KilnError) => e.code === 'ERR_SHAPE',
  );
});

test('glu, softmin, shrinks; distance losses by hand; gradients', () => {
  assert.equal(arr(F.glu(kiln.tensor([[1, 2, 0, 0]], f64))), [[0.5, 1]]);
  assert.ok(near(F.softmin(kiln.tensor([1, 2], f64), 0), kiln.tensor([1, 2], f64).neg().softmax(0)));
  assert.equal(arr(F.softshrink(kiln.tensor([-1, -0.2, 0.3, 2], f64))), [-0.5, 0, 0, 1.5]);
  assert.equal(arr(F.hardshrink(kiln.tensor([-1, -0.2, 0.3, 2], f64))), [-1, 0, 0, 2]);
  assert.throws(
    () => F.glu(kiln.ones([3])),
    (e: kiln.KilnError) => e.code === 'ERR_SHAPE',
  );
  const a = kiln.tensor([[0, 0]], f64),
    b = kiln.tensor([[3, 4]], f64);
  assert.ok(Math.abs((F.pairwiseDistance(a, b).item() as number) - Math.hypot(3 - 1e-6, 4 - 1e-6)) < 1e-12);
  const y = kiln.tensor([1, -1], f64);
  // max(0, -y (x1 - x2) + margin): 1: max(0, -(2 - 1) + 0.5) = 0; -1: max(0, (0 - 1) + 0.5) = 0 ... and one positive
  assert.is(
    F.marginRankingLoss(kiln.tensor([2, 0], f64), kiln.tensor([1, 1], f64), y, {
      margin: 0.5,
      reduction: 'sum',
    }).item(),
    0,
  );
  assert.is(
    F.marginRankingLoss(kiln.tensor([0, 2], f64), kiln.tensor([1, 1], f64), y, { reduction: 'none' })
      .sum()
      .item(),
    2,
  );
  assert.equal(arr(F.hingeEmbeddingLoss(kiln.tensor([0.3, 0.4], f64), y, { reduction: 'none' })), [0.3, 0.6]);
  const ce = arr(
    F.cosineEmbeddingLoss(
      kiln.tensor(
        [
          [1, 0],
          [1, 0],
        ],
        f64,
      ),
      kiln.tensor(
        [
          [0, 1],
          [1, 0],
        ],
        f64,
      ),
      y,
      { reduction: 'none' },
    ),
  ) as number[];
  assert.equal(ce, [1, 1]); // orthogonal with y = 1: 1 - 0; parallel with y = -1: cos - 0
  kiln.manualSeed(2);
  const p = kiln.randn([4, 3], { ...f64, requiresGrad: true }),
    q = kiln.randn([4, 3], { ...f64, requiresGrad: true }),
    r = kiln.randn([4, 3], { ...f64, requiresGrad: true });
  const yy = kiln.tensor([1, -1, 1, -1], f64);
  assert.ok(
    kiln.gradcheck(
      (s, t, u) => F.tripletMarginLoss(s, t, u, { swap: true }).add(F.cosineEmbeddingLoss(s, t, yy, { margin: 0.1 })),
      [p, q, r],
    ),
  );
  assert.ok(
    kiln.gradcheck(
      (s) =>
        F.glu(s.reshape([4, 3, 1]).expand([4, 3, 2]).reshape([4, 6]), 1)
          .sum()
          .add(F.softmin(s, 1).square().sum()),
      [p],
    ),
  );
  assert.ok(
    kiln.gradcheck(
      (s) =>
        F.instanceNorm(s.reshape([1, 2, 6]))
          .square()
          .mul(s.reshape([1, 2, 6]))
          .sum(),
      [p],
    ),
  );
  assert.ok(
    kiln.gradcheck(
      (s, t) => F.softMarginLoss(s, t.sign()).add(F.marginRankingLoss(s, t, t.sign(), { margin: 0.2 })),
      [p, q],
    ),
  );
});

const PY_CHECK = `
import torch, json, sys
import torch.nn.functional as F
d = json.loads(sys.argv[1]); T = lambda k: torch.tensor(d[k], dtype=torch.float64)
X3, X4, A, B, C, Y, s1, s2 = [T(k) for k in ['X3', 'X4', 'A', 'B', 'C', 'Y', 's1', 's2']]
out = dict(mp=F.max_pool1d(X3, 3, stride=2, padding=1, ceil_mode=True), ap=F.avg_pool1d(X3, 3, stride=2, padding=1, count_include_pad=False),
  aap=F.adaptive_avg_pool1d(X3, 4), ps=F.pixel_shuffle(X4, 2), inn=F.instance_norm(X4), glu=F.glu(X4, 1), tml=F.triplet_margin_loss(A, B, C, swap=True, reduction='none'),
  cel=F.cosine_embedding_loss(A, B, Y, margin=0.2, reduction='none'), mrl=F.margin_ranking_loss(s1, s2, Y, margin=0.3), sml=F.soft_margin_loss(s1, Y))
print(json.dumps({k: v.tolist() for k, v in out.items()}))
`;

test(`against PyTorch on random inputs${torchSuffix}`, () => {
  if (skipWithoutTorch('layer comparison with PyTorch')) return;
  kiln.manualSeed(3);
  const X3 = kiln.randn([2, 3, 11], f64),
    X4 = kiln.randn([2, 8, 3, 5], f64),
    A = kiln.randn([6, 5], f64),
    B = kiln.randn([6, 5], f64),
    C = kiln.randn([6, 5], f64),
    Y = kiln.tensor([1, -1, 1, -1, -1, 1], f64),
    s1 = kiln.randn([6], f64),
    s2 = kiln.randn([6], f64);
  const data = Object.fromEntries(Object.entries({ X3, X4, A, B, C, Y, s1, s2 }).map(([k, t]) => [k, t.toArray()]));
  const r = spawnSync(PY, ['-c', PY_CHECK, JSON.stringify(data)], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const w = JSON.parse(r.stdout) as Record<string, number[]>;
  const got: Record<string, kiln.Tensor> = {
    mp: F.maxPool1d(X3, 3, { stride: 2, padding: 1, ceilMode: true }),
    ap: F.avgPool1d(X3, 3, { stride: 2, padding: 1, countIncludePad: false }),
    aap: F.adaptiveAvgPool1d(X3, 4),
    ps: F.pixelShuffle(X4, 2),
    inn: F.instanceNorm(X4),
    glu: F.glu(X4, 1),
    tml: F.tripletMarginLoss(A, B, C, { swap: true, reduction: 'none' }),
    cel: F.cosineEmbeddingLoss(A, B, Y, { margin: 0.2, reduction: 'none' }),
    mrl: F.marginRankingLoss(s1, s2, Y, { margin: 0.3 }),
    sml: F.softMarginLoss(s1, Y),
  };
  for (const [k, t] of Object.entries(got)) {
    const want = kiln.tensor(w[k], f64);
    assert.equal(t.shape, want.shape, k);
    assert.ok(near(t, want, 1e-12), `${k}: ${t.sub(want).abs().amax().item()}`);
  }
});

test.run();
