// kiln.distributions against torch.distributions 1.13 (reference numbers computed in float64 and
// embedded below) and against closed forms: densities, entropies, moments, KL divergences,
// seeded sampling, reparameterised gradients, lgamma/digamma/cholesky, and the error codes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';

const D = kiln.distributions;
const f64 = (data: number | number[] | number[][]) => kiln.tensor(data, { dtype: 'float64' });
const leaf = (data: number | number[] | number[][]) => kiln.tensor(data, { dtype: 'float64', requiresGrad: true });

function close(got: kiln.Tensor, want: number | number[] | number[][], label: string, tol = 1e-10): void {
  const w = f64(want);
  assert.equal(got.shape, w.shape, `${label}: shape`);
  const g = got.to('float64').toArray() as number[] | number;
  const ws = w.toArray() as number[] | number;
  const gs = ([] as number[]).concat(g as number[]).flat(4) as number[];
  const wf = ([] as number[]).concat(ws as number[]).flat(4) as number[];
  gs.forEach((x, i) => {
    if (!Number.isFinite(wf[i])) return assert.is(x, wf[i], `${label}[${i}]`);
    assert.ok(Math.abs(x - wf[i]) <= tol * Math.max(1, Math.abs(wf[i])), `${label}[${i}]: got ${x}, want ${wf[i]}`);
  });
}

/** Asserts the sample mean of xs is within 4 standard errors of want (sd: the true sd). */
function momentOk(xs: kiln.Tensor, want: number, sd: number, label: string): void {
  const n = xs.numel();
  const m = xs.to('float64').mean().item() as number;
  const se = sd / Math.sqrt(n);
  assert.ok(Math.abs(m - want) < 4 * se, `${label}: sample mean ${m}, want ${want} +- ${4 * se} (n=${n})`);
}

const gen = (seed: number) => new kiln.Generator(seed);

// --------------------------------------------------------------------------------------------
// special functions and linear algebra the families are built from

test('lgamma and digamma match torch on (0, 1e5], and lgamma differentiates to digamma', () => {
  const x = f64([1e-3, 0.1, 0.5, 1, 1.5, 2, 3.7, 10, 123.4, 1e5]);
  close(
    D.lgamma(x),
    [
      6.907178885383853, 2.252712651734206, 0.5723649429247001, 0.0, -0.12078223763524522, 0.0, 1.428072326665388,
      12.801827480081469, 469.3360974421906, 1051287.7089736569,
    ],
    'lgamma',
    1e-13,
  );
  close(
    D.digamma(x),
    [
      -1000.5755719318104, -10.423754940411076, -1.9635100260214229, -0.5772156649015328, 0.036489973978576194,
      0.422784335098467, 1.1671535393615111, 2.251752589066721, 4.8113737751162775, 11.512920464961896,
    ],
    'digamma',
    1e-13,
  );
  const a = leaf([0.3, 1.7, 6.2]);
  D.lgamma(a).sum().backward();
  close(a.grad!, D.digamma(f64([0.3, 1.7, 6.2])).toArray() as number[], 'd lgamma = digamma', 1e-12);
  assert.ok(kiln.gradcheck((t) => D.digamma(t), [leaf([0.4, 2.5, 9])]));
  // float32 stays finite and close for large arguments (no x^8 overflow).
  close(D.lgamma(kiln.tensor([1e5])), [1051287.7089736569], 'float32 lgamma', 1e-6);
});

test('kiln.linalg cholesky and solveTriangular as the distributions use them: L Lᵀ = A, L X = B, gradients, a non-PD matrix', () => {
  const A = f64([
    [4, 2, 0.4],
    [2, 5, 1],
    [0.4, 1, 3],
  ]);
  const L = kiln.linalg.cholesky(A);
  close(
    L,
    [
      [2, 0, 0],
      [1, 2, 0],
      [0.2, 0.4, 1.673320053068151],
    ],
    'L',
  );
  kiln.manualSeed(3);
  const B = kiln.randn([2, 3, 4], { dtype: 'float64' });
  const X = kiln.linalg.solveTriangular(L, B, { upper: false });
  assert.equal(X.shape, [2, 3, 4]);
  assert.ok((L.matmul(X).sub(B).abs().max().item() as number) < 1e-12, 'L X = B');
  const M = leaf([
    [1.0, 0.2, 0.0],
    [0.3, 1.1, 0.1],
    [-0.2, 0.4, 0.9],
  ]);
  assert.ok(
    kiln.gradcheck(
      (m) => kiln.linalg.cholesky(m.matmul(m.transpose(0, 1)).add(kiln.eye(3, 3, { dtype: 'float64' }))),
      [M],
    ),
  );
  throwsCode(
    () =>
      kiln.linalg.cholesky(
        f64([
          [1, 2],
          [2, 1],
        ]),
      ),
    'ERR_LINALG',
    'indefinite',
  );
  throwsCode(() => kiln.linalg.cholesky(f64([1, 2])), 'ERR_SHAPE', 'not a matrix');
});

// --------------------------------------------------------------------------------------------
// densities, entropies and moments against torch

test('Normal: logProb, entropy, cdf, moments and shapes', () => {
  const d = new D.Normal(f64([0.5, -1.0, 2.0]), f64([1.5, 0.3, 2.0]));
  const v = f64([0.1, -1.2, 5.0]);
  close(d.logProb(v), [-1.3599591968683926, 0.06281204889904135, -2.737085713764618], 'logProb');
  close(d.entropy(), [1.824403641312837, 0.21496572887873655, 2.112085713764618], 'entropy');
  close(d.cdf(v), [0.39486291046402516, 0.25249253754692297, 0.9331927987311419], 'cdf', 1e-7);
  close(d.mean, [0.5, -1, 2], 'mean');
  close(d.variance, [2.25, 0.09, 4], 'variance');
  close(d.stddev, [1.5, 0.3, 2], 'stddev');
  close(d.prob(v), d.logProb(v).exp().toArray() as number[], 'prob');
  assert.equal(d.batchShape, [3]);
  assert.equal(d.eventShape, []);
  // Broadcasting parameters and values: batch [2, 3], value [4, 1, 3].
  const b = new D.Normal(f64([[0], [1]]), f64([1, 2, 3]));
  assert.equal(b.batchShape, [2, 3]);
  assert.equal(b.logProb(kiln.zeros([4, 1, 3], { dtype: 'float64' })).shape, [4, 2, 3]);
  assert.equal(new D.Normal(0, 1).sample([5, 2]).shape, [5, 2]);
  assert.is(new D.Normal(0, 1).sample().dtype, 'float32');
  assert.equal(b.sample([7]).shape, [7, 2, 3]);
});

test('Bernoulli with probs and with logits', () => {
  const p = new D.Bernoulli({ probs: f64([0.2, 0.9, 0.5]) });
  close(p.logProb(f64([1, 0, 1])), [-1.6094379124341003, -2.302585092994046, -0.6931471805599453], 'logProb', 1e-9);
  close(p.entropy(), [0.5004024235381879, 0.32508297339144826, 0.6931471805599453], 'entropy', 1e-9);
  close(p.mean, [0.2, 0.9, 0.5], 'mean');
  close(p.variance, [0.16, 0.09, 0.25], 'variance');
  const l = new D.Bernoulli({ logits: f64([-3.0, 0.4, 7.0]) });
  close(l.logProb(f64([1, 0, 0])), [-3.048587351573742, -0.9130152523999525, -7.000911466453775], 'logits logProb');
  close(l.entropy(), [0.1908649711064422, 0.6735401883549716, 0.007288824814578421], 'logits entropy');
  close(l.probs, [1 / (1 + Math.exp(3)), 1 / (1 + Math.exp(-0.4)), 1 / (1 + Math.exp(-7))], 'probs from logits');
  close(p.logits, [Math.log(0.25), Math.log(9), 0], 'logits from probs', 1e-9);
});

test('Categorical and OneHotCategorical: logProb, entropy, normalisation, shapes', () => {
  const c = new D.Categorical({
    probs: f64([
      [0.1, 0.2, 0.7],
      [0.5, 0.5, 0.0],
    ]),
  });
  assert.equal(c.batchShape, [2]);
  close(c.logProb(kiln.tensor([2, 0])), [-0.35667494393873245, -0.6931471805599453], 'logProb');
  close(c.entropy(), [0.8018185525433373, 0.6931471805599453], 'entropy (a zero probability)');
  const w = new D.Categorical({ probs: f64([2, 6, 2]) });
  close(w.probs, [0.2, 0.6, 0.2], 'unnormalised probs are normalised');
  const l = new D.Categorical({ logits: f64([[1.0, -2.0, 0.5, 3.0]]) });
  close(l.logProb(kiln.tensor([3])), [-0.2022534476793516], 'logits logProb');
  close(l.entropy(), [0.6185172818922771], 'logits entropy');
  close(l.probs, [[0.11055375036173921, 0.005504147127583673, 0.06705423914061147, 0.8168878633700657]], 'softmax');
  close(l.logits.logsumexp(-1), [0], 'normalised logits');
  assert.ok((c.mean.isnan().all().item() as boolean) && c.mean.shape[0] === 2, 'mean is NaN of batchShape');
  // logProb broadcasts the value over the batch: value [5, 1] with batch [2].
  assert.equal(c.logProb(kiln.zeros([5, 1], { dtype: 'int64' })).shape, [5, 2]);
  const s = c.sample([4]);
  assert.equal(s.shape, [4, 2]);
  assert.is(s.dtype, 'int64');
  const oh = new D.OneHotCategorical({
    probs: f64([
      [0.1, 0.2, 0.7],
      [0.5, 0.5, 0.0],
    ]),
  });
  assert.equal(oh.batchShape, [2]);
  assert.equal(oh.eventShape, [3]);
  const ohs = oh.sample([6]);
  assert.equal(ohs.shape, [6, 2, 3]);
  close(ohs.sum(-1), new Array(6).fill([1, 1]), 'one-hot rows');
  close(
    oh.logProb(
      f64([
        [0, 0, 1],
        [1, 0, 0],
      ]),
    ),
    [-0.35667494393873245, -0.6931471805599453],
    'one-hot logProb',
  );
  close(oh.entropy(), [0.8018185525433373, 0.6931471805599453], 'one-hot entropy');
  close(
    oh.mean,
    [
      [0.1, 0.2, 0.7],
      [0.5, 0.5, 0],
    ],
    'one-hot mean',
  );
  close(oh.variance.select(0, 0), [0.09, 0.16, 0.21], 'one-hot variance');
});

test('Uniform, Exponential and Laplace against torch', () => {
  const u = new D.Uniform(f64([-1.0, 0.0]), f64([3.0, 0.5]));
  close(u.logProb(f64([0.0, 0.25])), [-1.3862943611198906, 0.6931471805599453], 'uniform logProb');
  close(u.entropy(), [1.3862943611198906, -0.6931471805599453], 'uniform entropy');
  close(u.mean, [1, 0.25], 'uniform mean');
  close(u.variance, [16 / 12, 0.25 / 12], 'uniform variance');
  close(u.cdf(f64([0, 0.25])), [0.25, 0.5], 'uniform cdf');
  const off = new D.Uniform(0, 1, { validateArgs: false });
  close(off.logProb(f64([-0.5, 0.5, 1.0])), [-Infinity, 0, -Infinity], 'uniform logProb outside');
  const e = new D.Exponential(f64([0.5, 3.0]));
  close(e.logProb(f64([1.0, 0.2])), [-1.1931471805599454, 0.4986122886681097], 'exp logProb');
  close(e.entropy(), [1.6931471805599454, -0.09861228866810978], 'exp entropy');
  close(e.cdf(f64([1.0, 0.2])), [0.3934693402873666, 0.4511883639059736], 'exp cdf');
  close(e.mean, [2, 1 / 3], 'exp mean');
  close(e.variance, [4, 1 / 9], 'exp variance');
  const la = new D.Laplace(f64([0.0, 1.0]), f64([2.0, 0.5]));
  close(la.logProb(f64([1.0, -0.5])), [-1.8862943611198906, -3.0], 'laplace logProb');
  close(la.entropy(), [2.386294361119891, 1.0], 'laplace entropy');
  close(la.cdf(f64([1.0, -0.5])), [0.6967346701436833, 0.024893534183931976], 'laplace cdf');
  close(la.variance, [8, 0.5], 'laplace variance');
  close(la.stddev, [Math.sqrt(8), Math.sqrt(0.5)], 'laplace stddev');
});

test('Gamma and Beta against torch (lgamma/digamma composed from kiln ops)', () => {
  const g = new D.Gamma(f64([0.5, 2.0, 7.5]), f64([1.0, 3.0, 0.2]));
  close(
    g.logProb(f64([0.3, 1.1, 40.0])),
    [-0.270378540761732, -1.007465242859456, -3.627432128273898],
    'gamma logProb',
    1e-12,
  );
  close(g.entropy(), [0.09060992991398853, 0.4786033762334232, 3.989878501593269], 'gamma entropy', 1e-12);
  close(g.mean, [0.5, 2 / 3, 37.5], 'gamma mean');
  close(g.variance, [0.5, 2 / 9, 187.5], 'gamma variance');
  const b = new D.Beta(f64([0.5, 2.0, 7.5]), f64([1.5, 3.0, 0.8]));
  close(
    b.logProb(f64([0.3, 0.6, 0.95])),
    [-0.027933775095853042, 0.14149956227369975, 1.7150829972097457],
    'beta logProb',
    1e-12,
  );
  close(b.entropy(), [-0.5484172947105447, -0.23490664978800035, -1.3509865038093682], 'beta entropy', 1e-12);
  close(b.mean, [0.25, 0.4, 7.5 / 8.3], 'beta mean');
  close(b.variance.select(0, 1), 6 / (25 * 6), 'beta variance');
});

test('MultivariateNormal: covarianceMatrix and scaleTril agree with torch', () => {
  const loc = f64([1.0, -0.5, 2.0]);
  const cov = f64([
    [2.0, 0.3, 0.1],
    [0.3, 1.0, -0.2],
    [0.1, -0.2, 0.5],
  ]);
  const tril = [
    [1.4142135623730951, 0.0, 0.0],
    [0.21213203435596423, 0.9772410142846032, 0.0],
    [0.07071067811865475, -0.22000713934155988, 0.6682790275317215],
  ];
  const m = new D.MultivariateNormal(loc, { covarianceMatrix: cov });
  assert.equal(m.batchShape, []);
  assert.equal(m.eventShape, [3]);
  close(m.scaleTril, tril, 'scaleTril');
  const v = f64([
    [0.5, 0.0, 1.0],
    [1.0, -0.5, 2.0],
  ]);
  close(m.logProb(v), [-3.7133669718523765, -2.6773177338687892], 'logProb');
  close(m.entropy(), 4.177317733868789, 'entropy');
  close(m.variance, [2, 1, 0.5], 'variance');
  close(m.covarianceMatrix, cov.toArray() as number[][], 'covariance round trip');
  const t = new D.MultivariateNormal(loc, { scaleTril: f64(tril) });
  close(t.logProb(v), [-3.7133669718523765, -2.6773177338687892], 'scaleTril logProb');
  // Batch: loc [2, 3] against one covariance.
  const bm = new D.MultivariateNormal(kiln.zeros([2, 3], { dtype: 'float64' }), { covarianceMatrix: cov });
  assert.equal(bm.batchShape, [2]);
  assert.equal(bm.sample([5]).shape, [5, 2, 3]);
  assert.equal(bm.logProb(kiln.zeros([4, 1, 3], { dtype: 'float64' })).shape, [4, 2]);
});

test('Independent reinterprets batch dims as event dims', () => {
  const base = new D.Normal(
    f64([
      [0, 1],
      [2, 3],
      [4, 5],
    ]),
    f64([
      [1, 2],
      [1, 2],
      [1, 2],
    ]),
  );
  const d = new D.Independent(base, 1);
  assert.equal(d.batchShape, [3]);
  assert.equal(d.eventShape, [2]);
  const v = f64([
    [0.5, 0.5],
    [1, 1],
    [2, 2],
  ]);
  close(d.logProb(v), base.logProb(v).sum(-1).toArray() as number[], 'logProb sums the event dim');
  close(d.entropy(), base.entropy().sum(-1).toArray() as number[], 'entropy sums the event dim');
  assert.equal(d.sample([4]).shape, [4, 3, 2]);
  assert.ok(d.hasRsample);
  const all = new D.Independent(base, 2);
  assert.equal(all.batchShape, []);
  close(all.logProb(v), base.logProb(v).sum().item() as number, 'two dims');
  throwsCode(() => new D.Independent(base, 3), 'ERR_ARG', 'too many dims');
  throwsCode(() => d.logProb(f64([1, 2, 3])), 'ERR_SHAPE', 'value without the event shape');
});

// --------------------------------------------------------------------------------------------
// KL divergences against torch

test('klDivergence for every same-family pair matches torch', () => {
  const kl = D.klDivergence;
  close(
    kl(new D.Normal(f64([0, 1]), f64([1, 2])), new D.Normal(f64([1, -1]), f64([0.5, 3]))),
    [2.8068528194400546, 0.3499095525526088],
    'normal',
  );
  close(
    kl(new D.Bernoulli({ probs: f64([0.3, 0.0, 1.0, 0.5]) }), new D.Bernoulli({ probs: f64([0.6, 0.4, 0.5, 0.0]) })),
    [0.1837868973868122, 0.5108256237659905, 0.6931471805599451, Infinity],
    'bernoulli',
    1e-9,
  );
  close(
    kl(
      new D.Categorical({
        probs: f64([
          [0.2, 0.3, 0.5],
          [0.0, 0.5, 0.5],
          [0.5, 0.5, 0.0],
        ]),
      }),
      new D.Categorical({
        probs: f64([
          [0.1, 0.1, 0.8],
          [0.3, 0.3, 0.4],
          [0.2, 0.0, 0.8],
        ]),
      }),
    ),
    [0.2332113080895541, 0.36698458754010027, Infinity],
    'categorical',
  );
  close(
    kl(
      new D.OneHotCategorical({ probs: f64([0.2, 0.3, 0.5]) }),
      new D.OneHotCategorical({ probs: f64([0.1, 0.1, 0.8]) }),
    ),
    0.2332113080895541,
    'one-hot',
  );
  close(
    kl(new D.Uniform(f64([0, 0]), f64([1, 2])), new D.Uniform(f64([-1, 0.5]), f64([2, 3]))),
    [1.0986122886681098, Infinity],
    'uniform',
  );
  close(
    kl(new D.Exponential(f64([0.5, 2])), new D.Exponential(f64([1.5, 0.3]))),
    [0.9013877113318902, 1.0471199848858812],
    'exponential',
  );
  close(
    kl(new D.Laplace(f64([0, 1]), f64([1, 2])), new D.Laplace(f64([0.5, -1]), f64([0.7, 3]))),
    [0.22408314136502971, 0.3173847355557926],
    'laplace',
  );
  close(
    kl(new D.Gamma(f64([0.5, 3]), f64([1, 2])), new D.Gamma(f64([2, 1.5]), f64([0.5, 4]))),
    [3.509194457227325, 2.530526313612592],
    'gamma',
    1e-12,
  );
  close(
    kl(new D.Beta(f64([0.5, 3]), f64([1, 2])), new D.Beta(f64([2, 1.5]), f64([0.5, 4]))),
    [2.28768207245178, 1.4897365804287603],
    'beta',
    1e-12,
  );
  const p = new D.MultivariateNormal(f64([1.0, -0.5, 2.0]), {
    covarianceMatrix: f64([
      [2.0, 0.3, 0.1],
      [0.3, 1.0, -0.2],
      [0.1, -0.2, 0.5],
    ]),
  });
  const q = new D.MultivariateNormal(f64([0.0, 0.5, 1.5]), {
    covarianceMatrix: f64([
      [1.0, 0.2, 0.0],
      [0.2, 2.0, 0.4],
      [0.0, 0.4, 1.5],
    ]),
  });
  close(kl(p, q), 1.6205794447044157, 'multivariate normal');
  close(kl(p, p), 0, 'KL(p, p) = 0', 1e-12);
  const ip = new D.Independent(new D.Normal(f64([[0, 1]]), f64([[1, 2]])), 1);
  const iq = new D.Independent(new D.Normal(f64([[1, -1]]), f64([[0.5, 3]])), 1);
  close(kl(ip, iq), [2.8068528194400546 + 0.3499095525526088], 'independent sums');
  // Gradients of KL reach both distributions' parameters.
  const four = () => [leaf([0.3, -1]), leaf([1.2, 0.7]), leaf([0.1, 0.5]), leaf([0.9, 2.0])];
  assert.ok(
    kiln.gradcheck((a, s, b, r) => kl(new D.Normal(a, s), new D.Normal(b, r)), four()),
    'normal KL',
  );
  assert.ok(
    kiln.gradcheck((a, s, b, r) => kl(new D.Laplace(a, s), new D.Laplace(b, r)), four()),
    'laplace KL',
  );
  assert.ok(
    kiln.gradcheck((a, s, b, r) => kl(new D.Gamma(a.abs(), s), new D.Gamma(b.abs(), r)), four()),
    'gamma KL',
  );
});

test('klDivergence of an unregistered pair throws ERR_ARG (torch: NotImplementedError)', () => {
  throwsCode(() => D.klDivergence(new D.Normal(0, 1), new D.Laplace(0, 1)), 'ERR_ARG', 'normal/laplace');
  throwsCode(() => D.klDivergence(new D.Exponential(1), new D.Gamma(1, 1)), 'ERR_ARG', 'exponential/gamma');
});

// --------------------------------------------------------------------------------------------
// sampling: seeds, shapes, moments

test('sampling is seeded: manualSeed and a generator replay the same draws', () => {
  const fams: [string, () => kiln.distributions.Distribution][] = [
    ['Normal', () => new D.Normal(f64([0, 1]), f64([1, 2]))],
    ['Bernoulli', () => new D.Bernoulli({ probs: f64([0.3, 0.6]) })],
    ['Categorical', () => new D.Categorical({ probs: f64([0.3, 0.6, 0.1]) })],
    ['OneHotCategorical', () => new D.OneHotCategorical({ probs: f64([0.3, 0.6, 0.1]) })],
    ['Uniform', () => new D.Uniform(-1, 2)],
    ['Exponential', () => new D.Exponential(f64([0.5, 2]))],
    ['Laplace', () => new D.Laplace(0, 2)],
    ['Gamma', () => new D.Gamma(f64([0.4, 3]), 2)],
    ['Beta', () => new D.Beta(f64([0.4, 3]), 2)],
    [
      'MultivariateNormal',
      () =>
        new D.MultivariateNormal(f64([0, 1]), {
          covarianceMatrix: f64([
            [2, 0.5],
            [0.5, 1],
          ]),
        }),
    ],
  ];
  for (const [name, make] of fams) {
    const d = make();
    kiln.manualSeed(11);
    const a = d.sample([50]).toArray();
    kiln.manualSeed(11);
    const b = d.sample([50]).toArray();
    assert.equal(a, b, `${name}: manualSeed replays`);
    const c = d.sample([50], { generator: gen(11) }).toArray();
    const e = d.sample([50], { generator: gen(11) }).toArray();
    assert.equal(c, e, `${name}: generator replays`);
    const f = d.sample([50], { generator: gen(12) }).toArray();
    assert.not.equal(c, f, `${name}: another seed draws differently`);
    assert.equal(d.sample([5, 2]).shape, [5, 2, ...d.batchShape, ...d.eventShape], `${name}: sample shape`);
  }
});

test('sample moments of 40000 draws lie within 4 standard errors', () => {
  const n = 40000;
  const g = gen(2024);
  const one = (d: kiln.distributions.Distribution) => d.sample([n], { generator: g });
  momentOk(one(new D.Normal(1.5, 2)), 1.5, 2, 'normal mean');
  momentOk(one(new D.Normal(1.5, 2)).sub(1.5).square(), 4, 4 * Math.SQRT2, 'normal variance');
  momentOk(one(new D.Bernoulli({ probs: 0.3 })), 0.3, Math.sqrt(0.21), 'bernoulli');
  const cs = one(new D.Categorical({ probs: f64([0.2, 0.5, 0.3]) }));
  for (const [k, p] of [0.2, 0.5, 0.3].entries()) momentOk(cs.eq(k), p, Math.sqrt(p * (1 - p)), `categorical ${k}`);
  const oh = one(new D.OneHotCategorical({ logits: f64([0, Math.log(3)]) }));
  momentOk(oh.select(-1, 1), 0.75, Math.sqrt(0.75 * 0.25), 'one-hot');
  const us = one(new D.Uniform(-1, 3));
  momentOk(us, 1, Math.sqrt(16 / 12), 'uniform');
  assert.ok((us.min().item() as number) >= -1 && (us.max().item() as number) < 3, 'uniform in [low, high)');
  momentOk(one(new D.Exponential(4)), 0.25, 0.25, 'exponential');
  momentOk(one(new D.Laplace(-1, 0.5)), -1, Math.sqrt(0.5), 'laplace');
  momentOk(one(new D.Laplace(-1, 0.5)).add(1).abs(), 0.5, 0.5, 'laplace |x - loc| ~ Exp(1/scale)');
  for (const [a, r] of [
    [0.3, 1],
    [2.5, 2],
    [9, 0.5],
  ]) {
    const gs = one(new D.Gamma(a, r));
    momentOk(gs, a / r, Math.sqrt(a) / r, `gamma(${a}, ${r}) mean`);
    // E[log X] = digamma(a) - log r and Var[log X] = trigamma(a), digamma's gradient.
    const at = leaf(a);
    const psi = D.digamma(at);
    psi.backward();
    const trigamma = at.grad!.item() as number;
    momentOk(gs.log(), (psi.item() as number) - Math.log(r), Math.sqrt(trigamma), `gamma(${a}) log-mean`);
    assert.ok((gs.min().item() as number) > 0, 'gamma draws are positive');
  }
  for (const [a, b] of [
    [0.5, 0.5],
    [2, 5],
  ]) {
    const bs = one(new D.Beta(a, b));
    const v = (a * b) / ((a + b) ** 2 * (a + b + 1));
    momentOk(bs, a / (a + b), Math.sqrt(v), `beta(${a}, ${b})`);
  }
  const m = new D.MultivariateNormal(f64([1, -2]), {
    covarianceMatrix: f64([
      [2, 0.8],
      [0.8, 1],
    ]),
  });
  const ms = m.sample([n], { generator: g });
  momentOk(ms.select(-1, 0), 1, Math.SQRT2, 'mvn mean 0');
  momentOk(ms.select(-1, 1), -2, 1, 'mvn mean 1');
  // Cov(x0, x1) = 0.8; Var((x0-1)(x1+2)) = s00 s11 + s01^2 = 2.64.
  momentOk(ms.select(-1, 0).sub(1).mul(ms.select(-1, 1).add(2)), 0.8, Math.sqrt(2.64), 'mvn covariance');
});

// --------------------------------------------------------------------------------------------
// rsample: gradients reach the parameters

test('rsample is differentiable: d mean(rsample)/d loc = 1, and gradcheck in float64', () => {
  const loc = leaf([0.5, -1]);
  const scale = leaf([2, 0.5]);
  const x = new D.Normal(loc, scale).rsample([1000], { generator: gen(5) });
  x.mean().backward();
  close(loc.grad!, [0.5, 0.5], 'd mean / d loc (two locs share the mean)');
  // d x / d scale = eps = (x - loc) / scale.
  const eps = new D.Normal(f64(0), f64(1)).sample([1000, 2], { generator: gen(5) });
  close(scale.grad!, eps.mean(0).mul(0.5).toArray() as number[], 'd mean / d scale', 1e-9);
  assert.is(new D.Normal(loc, scale).sample().requiresGrad, false, 'sample is detached');
  const fixed =
    <T extends kiln.distributions.Distribution>(mk: (...p: kiln.Tensor[]) => T) =>
    (...p: kiln.Tensor[]) =>
      mk(...p).rsample([3], { generator: gen(9) });
  assert.ok(
    kiln.gradcheck(
      fixed((a, b) => new D.Normal(a, b)),
      [leaf([0.5, -1]), leaf([2, 0.5])],
    ),
    'normal',
  );
  assert.ok(
    kiln.gradcheck(
      fixed((a, b) => new D.Uniform(a, b)),
      [leaf([0.5, -1]), leaf([2, 0.5])],
    ),
    'uniform',
  );
  assert.ok(
    kiln.gradcheck(
      fixed((r) => new D.Exponential(r)),
      [leaf([0.5, 3])],
    ),
    'exponential',
  );
  assert.ok(
    kiln.gradcheck(
      fixed((a, b) => new D.Laplace(a, b)),
      [leaf([0.5, -1]), leaf([2, 0.5])],
    ),
    'laplace',
  );
  const eye = kiln.eye(2, 2, { dtype: 'float64' });
  assert.ok(
    kiln.gradcheck(
      fixed((l, a) => new D.MultivariateNormal(l, { covarianceMatrix: a.matmul(a.transpose(0, 1)).add(eye) })),
      [
        leaf([0.5, -1]),
        leaf([
          [1, 0.3],
          [-0.2, 0.8],
        ]),
      ],
    ),
    'multivariate normal (through the Cholesky)',
  );
  const el = leaf([1, 2]);
  new D.Exponential(el)
    .rsample([5000], { generator: gen(1) })
    .mean()
    .backward();
  // mean(x) = mean(E)/rate with E ~ Exp(1): d/d rate = -mean(x)/rate, near -1/rate^2.
  assert.ok(Math.abs((el.grad!.toArray() as number[])[0] + 0.5) < 0.05, 'exponential rate gradient ~ -1/(2 rate^2)');
  throwsCode(() => new D.Bernoulli({ probs: 0.5 }).rsample(), 'ERR_ARG', 'bernoulli has no rsample');
  throwsCode(() => new D.Gamma(1, 1).rsample(), 'ERR_ARG', 'gamma has no rsample here');
});

test('logProb and entropy differentiate in float64', () => {
  const v = f64([0.3, 1.7]);
  assert.ok(
    kiln.gradcheck((a, b) => new D.Normal(a, b).logProb(v), [leaf([0.5, -1]), leaf([2, 0.5])]),
    'normal',
  );
  assert.ok(
    kiln.gradcheck(
      (a, b) => new D.Gamma(a, b).logProb(v).add(new D.Gamma(a, b).entropy()),
      [leaf([0.5, 3]), leaf([2, 0.5])],
    ),
    'gamma',
  );
  assert.ok(
    kiln.gradcheck(
      (a, b) => new D.Beta(a, b).logProb(f64([0.3, 0.7])).add(new D.Beta(a, b).entropy()),
      [leaf([0.5, 3]), leaf([2, 0.5])],
    ),
    'beta',
  );
  assert.ok(
    kiln.gradcheck(
      (l) => new D.Categorical({ logits: l }).logProb(kiln.tensor([2, 0])),
      [
        leaf([
          [0.5, -1, 2],
          [0, 1, 0.3],
        ]),
      ],
    ),
    'categorical',
  );
  assert.ok(
    kiln.gradcheck((l) => new D.Bernoulli({ logits: l }).entropy(), [leaf([0.5, -3])]),
    'bernoulli',
  );
  const x = f64([
    [0.5, 0.0],
    [1.0, -0.5],
  ]);
  assert.ok(
    kiln.gradcheck(
      (l, s) => new D.MultivariateNormal(l, { scaleTril: s.tril() }).logProb(x),
      [
        leaf([0.2, -0.3]),
        leaf([
          [1.5, 0],
          [0.4, 0.8],
        ]),
      ],
    ),
    'mvn logProb',
  );
});

// --------------------------------------------------------------------------------------------
// argument validation

test('invalid parameters throw ERR_ARG; validateArgs: false skips the checks', () => {
  throwsCode(() => new D.Normal(0, 0), 'ERR_ARG', 'zero scale');
  throwsCode(() => new D.Normal(f64([0, NaN]), 1), 'ERR_ARG', 'NaN loc');
  throwsCode(() => new D.Normal(f64([0, 1, 2]), f64([1, 2])), 'ERR_SHAPE', 'shapes that do not broadcast');
  throwsCode(() => new D.Bernoulli({ probs: 1.5 }), 'ERR_ARG', 'probs > 1');
  throwsCode(() => new D.Bernoulli({ probs: 0.5, logits: 0 }), 'ERR_ARG', 'both probs and logits');
  throwsCode(() => new D.Bernoulli({}), 'ERR_ARG', 'neither');
  throwsCode(() => new D.Categorical({ probs: f64([0.5, -0.1, 0.6]) }), 'ERR_ARG', 'negative probs');
  throwsCode(() => new D.Categorical({ probs: f64([0, 0]) }), 'ERR_ARG', 'all-zero probs');
  throwsCode(() => new D.Categorical({ probs: f64(1) }), 'ERR_ARG', '0-d probs');
  throwsCode(() => new D.Uniform(1, 1), 'ERR_ARG', 'low = high');
  throwsCode(() => new D.Exponential(f64([1, -1])), 'ERR_ARG', 'negative rate');
  throwsCode(() => new D.Laplace(0, -2), 'ERR_ARG', 'negative scale');
  throwsCode(() => new D.Gamma(0, 1), 'ERR_ARG', 'zero concentration');
  throwsCode(() => new D.Beta(1, -1), 'ERR_ARG', 'negative concentration0');
  const loc = f64([0, 0]);
  throwsCode(
    () =>
      new D.MultivariateNormal(loc, {
        covarianceMatrix: f64([
          [1, 2],
          [2, 1],
        ]),
      }),
    'ERR_ARG',
    'indefinite covariance',
  );
  throwsCode(
    () =>
      new D.MultivariateNormal(loc, {
        covarianceMatrix: f64([
          [1, 0.5],
          [0, 1],
        ]),
      }),
    'ERR_ARG',
    'asymmetric covariance',
  );
  throwsCode(
    () =>
      new D.MultivariateNormal(loc, {
        scaleTril: f64([
          [1, 0.5],
          [0, 1],
        ]),
      }),
    'ERR_ARG',
    'upper triangle in scaleTril',
  );
  throwsCode(
    () =>
      new D.MultivariateNormal(loc, {
        scaleTril: f64([
          [-1, 0],
          [0, 1],
        ]),
      }),
    'ERR_ARG',
    'negative diagonal',
  );
  throwsCode(
    () => new D.MultivariateNormal(loc, { covarianceMatrix: kiln.eye(3, 3, { dtype: 'float64' }) }),
    'ERR_SHAPE',
    'size mismatch',
  );
  throwsCode(() => new D.MultivariateNormal(loc, {}), 'ERR_ARG', 'no covariance');
  throwsCode(() => new D.Normal(0, 1).sample([-1]), 'ERR_SHAPE', 'negative sample size');
  const lax = new D.Normal(0, -1, { validateArgs: false });
  assert.ok(Number.isNaN(lax.entropy().item() as number), 'unchecked: a negative scale gives NaN entropy');
  D.Distribution.setDefaultValidateArgs(false);
  try {
    assert.is(new D.Exponential(-1).validateArgs, false, 'default switched off');
  } finally {
    D.Distribution.setDefaultValidateArgs(true);
  }
  assert.is(new D.Exponential(1).validateArgs, true, 'default on, as in torch');
});

test('values outside the support throw ERR_ARG in logProb when validateArgs is on', () => {
  throwsCode(() => new D.Exponential(1).logProb(f64([-0.5])), 'ERR_ARG', 'negative exponential value');
  throwsCode(() => new D.Bernoulli({ probs: 0.5 }).logProb(f64([0.5])), 'ERR_ARG', 'bernoulli 0.5');
  throwsCode(
    () => new D.Categorical({ probs: f64([0.5, 0.5]) }).logProb(kiln.tensor([2])),
    'ERR_ARG',
    'category 2 of 2',
  );
  throwsCode(() => new D.Categorical({ probs: f64([0.5, 0.5]) }).logProb(f64([0.5])), 'ERR_ARG', 'fractional category');
  throwsCode(() => new D.OneHotCategorical({ probs: f64([0.5, 0.5]) }).logProb(f64([1, 1])), 'ERR_ARG', 'two hot');
  throwsCode(() => new D.Uniform(0, 1).logProb(f64([1])), 'ERR_ARG', 'uniform at high');
  throwsCode(() => new D.Beta(2, 2).logProb(f64([1.5])), 'ERR_ARG', 'beta above 1');
  throwsCode(() => new D.Gamma(2, 2).logProb(f64([-1])), 'ERR_ARG', 'negative gamma value');
  throwsCode(() => new D.Normal(0, 1).logProb(f64([NaN])), 'ERR_ARG', 'NaN normal value');
  throwsCode(() => new D.Normal(f64([0, 1]), 1).logProb(f64([1, 2, 3])), 'ERR_SHAPE', 'value shape');
  const lax = new D.Exponential(1, { validateArgs: false });
  close(lax.logProb(f64([-0.5])), [0.5], 'unchecked logProb evaluates the formula');
});

test('argument checks leave no tensor behind; a covariance gets a symmetric gradient, as in torch', () => {
  const loc = kiln.zeros([4]);
  const v = kiln.zeros([4]);
  const d = new kiln.distributions.Normal(loc, 1);
  const before = kiln.memory().numTensors;
  const lp = d.logProb(v);
  assert.ok(kiln.memory().numTensors - before <= 1, 'logProb leaves its result only');
  lp.dispose();
  const p = new kiln.distributions.Bernoulli({ logits: kiln.zeros([3]) });
  const b2 = kiln.memory().numTensors;
  p.mean.dispose();
  assert.ok(kiln.memory().numTensors <= b2, 'mean from logits');
  const A = kiln.tensor(
    [
      [4, 1],
      [1, 3],
    ],
    { dtype: 'float64', requiresGrad: true },
  );
  const mvn = new kiln.distributions.MultivariateNormal(kiln.zeros([2], { dtype: 'float64' }), { covarianceMatrix: A });
  mvn.logProb(kiln.tensor([0.5, -1], { dtype: 'float64' })).backward();
  const g = A.grad!.toArray() as number[][];
  // torch 1.13: [[-0.11053719, -0.00103306], [-0.00103306, -0.09814050]]
  assert.ok(Math.abs(g[0][1] - -0.0010330578512396695) < 1e-12 && g[0][1] === g[1][0], `symmetric: ${g}`);
  assert.ok(Math.abs(g[0][0] - -0.11053719008264462) < 1e-12);
});

test.run();
