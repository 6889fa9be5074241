// Gradients of kiln.linalg's decompositions and derived functions against PyTorch 1.13's (x.grad of a
// weighted sum, numbers embedded), ERR_AUTOGRAD where torch has no gradient, empty and view inputs,
// argument errors, and residuals of matrices of 130-260 rows (blocked paths) in float32 and float64.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';
import {
  f64,
  leaf,
  close,
  gradsMatch,
  mT,
  SPD3,
  SPD3B,
  G3,
  G3B,
  B32,
  b3,
  T43,
  W34,
  X3,
  W3,
  W32,
  closeColumns,
  closeSvd,
  T43B,
  B42,
  W43,
  W34b,
  c3,
  PINV_W34,
  EIGH_SPD3,
  QR_W34,
  QR_T43B,
  QR_T43,
  LSTSQ_T43,
  SVDVALS_T43B,
  SVDR_W34,
  SVDR_T43,
  MN_T43B_NUC,
  EIGVALSH_SPD3B,
  G_PINV,
  LA,
} from '../helpers/linalg_fixtures';
import type { Nested } from '../helpers/linalg_fixtures';

test('gradients match torch: qr (Q and R; tall, wide, square, complete of a wide matrix), eigh (eigenvalues and V∘V), eigvalsh', () => {
  const qrLoss =
    (W1: Nested, W2: Nested, mode: 'reduced' | 'complete' = 'reduced') =>
    (a: kiln.Tensor) => {
      const { Q, R } = LA.qr(a, mode);
      return Q.mul(f64(W1))
        .sum()
        .add(R.mul(f64(W2)).sum());
    };
  gradsMatch(
    'qr 4x3',
    qrLoss(W43, W3),
    [T43],
    [
      [
        [0.9614407584450861, -0.8870182352005904, 0.07214881556748941],
        [-0.9290084388044697, 1.6651106940673517, -0.6370228279727052],
        [-0.31748742794385093, 0.5203022183200371, -0.06206200677226685],
        [-0.8843286064435244, 1.230187297436628, -0.45477071216746523],
      ],
    ],
  );
  gradsMatch(
    'qr 3x4',
    qrLoss(W3, W34b),
    [W34],
    [
      [
        [-0.8903317942108457, 1.0334025235320428, -0.7083135702767086, -0.42770551348013186],
        [-0.11385109726952436, 0.6013327269838732, 0.018746588513386064, -0.7923778331348392],
        [-0.2577183296055756, -0.26219525117017345, -0.32854292197667506, 0.35945147557804413],
      ],
    ],
  );
  gradsMatch(
    'qr 3x3',
    qrLoss(W3, mT(W3)),
    [G3],
    [
      [
        [-0.28485777348854235, 0.16875527225877723, -0.8715581284575129],
        [0.5868501691094697, -0.6466005692047495, -0.36221374923608773],
        [-2.3255570917426898, -0.29833508961677757, -0.8301732521491969],
      ],
    ],
  );
  gradsMatch(
    'qr complete 3x4',
    qrLoss(W3, W34b, 'complete'),
    [W34],
    [
      [
        [-0.8903317942108454, 1.0334025235320428, -0.7083135702767086, -0.42770551348013186],
        [-0.11385109726952454, 0.6013327269838733, 0.018746588513386064, -0.7923778331348392],
        [-0.2577183296055755, -0.2621952511701734, -0.32854292197667506, 0.35945147557804413],
      ],
    ],
  );
  // Symmetric inputs built inside, as torch's: A = X + Xᵀ (distinct eigenvalues).
  const sym = (x: kiln.Tensor) => x.add(x.transpose(0, 1));
  const eighLoss = (x: kiln.Tensor) => {
    const { eigenvalues: w, eigenvectors: V } = LA.eigh(sym(x));
    return w
      .mul(f64(c3))
      .sum()
      .add(V.mul(V).mul(f64(W3)).sum());
  };
  gradsMatch(
    'eigh',
    eighLoss,
    [X3],
    [
      [
        [2.6129573347630797, 2.040871110783846, 1.818970313046393],
        [2.040871110783846, 3.2355810042423894, -1.6318416216409046],
        [1.818970313046393, -1.6318416216409046, 0.15146166099452613],
      ],
    ],
  );
  gradsMatch(
    'eigvalsh',
    (x) => LA.eigvalsh(sym(x)).mul(f64(c3)).sum(),
    [X3],
    [
      [
        [1.18972458132607, 0.7572245630116583, 2.1279364308171402],
        [0.7572245630116583, 3.5881542824115855, -0.08099138734069267],
        [2.1279364308171402, -0.08099138734069267, 1.2221211362623383],
      ],
    ],
  );
});

test('gradients match torch: svd (S and U diag(c) Vh; tall, wide, square), svdvals, pinv, lstsq, matrixNorm, cond, matrixPower', () => {
  const svdLoss = (W: Nested) => (a: kiln.Tensor) => {
    const { U, S, Vh } = LA.svd(a, { fullMatrices: false });
    const c = f64(c3);
    return S.mul(c)
      .sum()
      .add(U.mul(c).matmul(Vh).mul(f64(W)).sum());
  };
  gradsMatch(
    'svd 4x3',
    svdLoss(W43),
    [T43],
    [
      [
        [2.489113406911281, -2.505824462112079, 0.8900270716808437],
        [2.292020209579967, -2.311815370103505, 1.5655166032119985],
        [-1.0881853001572779, 3.050936323091704, -0.022571311590673826],
        [-1.4624025343260865, 2.6010233389584685, -1.1171045611074644],
      ],
    ],
  );
  gradsMatch(
    'svd 3x4',
    svdLoss(W34b),
    [W34],
    [
      [
        [0.5205378132230847, -0.8007245426231603, 1.3219848156241003, -0.002664560516159046],
        [1.5234465114022022, 0.3629902021100607, -0.1277530379647362, 0.6245398547027914],
        [1.0988206109014262, 0.8103816862161877, -0.40675638993547386, -0.4390078983462084],
      ],
    ],
  );
  gradsMatch(
    'svd 3x3',
    svdLoss(W3),
    [G3],
    [
      [
        [1.7870044507427012, -0.7841271369198635, -0.2039296096478001],
        [0.420666621055685, 0.2833572289336736, -1.6063311321822786],
        [-0.3463154813000697, -1.0035627108230147, 0.4975176984452469],
      ],
    ],
  );
  gradsMatch(
    'svdvals',
    (a) => LA.svdvals(a).mul(f64(c3)).sum(),
    [T43],
    [
      [
        [-0.346362199584116, 1.0670780210579087, -0.21543229976845588],
        [1.3103133187062574, -0.6936121961700347, 0.8755141440306431],
        [0.08042889955908317, 1.216100292915212, 0.7313691995326],
        [0.2446770209855039, 0.26284344616899563, -0.284955437758764],
      ],
    ],
  );
  gradsMatch('pinv', (a) => LA.pinv(a).mul(f64(W43)).sum(), [W34], [G_PINV]);
  gradsMatch(
    'lstsq',
    (a, b) => LA.lstsq(a, b).solution.mul(f64(W32)).sum(),
    [T43, B42],
    [
      [
        [12.218968704053697, -17.28633060281439, 6.046909472799801],
        [0.07745151578805931, 1.1470083315828385, -0.4132420359868334],
        [-2.897280683329833, 3.3691885458237323, -1.1998834978645778],
        [-6.314991948470198, 8.475394524959732, -3.114421900161023],
      ],
      [
        [-0.7856521739130451, 2.226666666666671],
        [1.2727536231884022, -2.9644444444444358],
        [-0.540289855072461, 1.3022222222222153],
        [0.02333333333333587, 0.4844444444444378],
      ],
    ],
  );
  const norms = (a: kiln.Tensor) => LA.matrixNorm(a, 'nuc').add(LA.matrixNorm(a, 2)).add(LA.matrixNorm(a, 'fro'));
  gradsMatch(
    'matrixNorm nuc + 2 + fro',
    norms,
    [T43],
    [
      [
        [-0.3071493585281505, 0.6834357038639499, 0.559243409987827],
        [1.0094966551846114, 0.2547987691463502, 1.4348563522169036],
        [1.1587527200333385, 1.7822568060207746, 1.3230274436540246],
        [-0.632305181712076, -0.10415425655535857, 0.7554166244421987],
      ],
    ],
  );
  gradsMatch(
    'cond',
    (a) => LA.cond(a),
    [G3],
    [
      [
        [-0.9075232403407562, 0.2378903911086736, 0.17840568157551634],
        [-0.16255430323875533, 0.1060021387876094, -0.23910536980129676],
        [0.10506633088050786, -0.113712518999917, 0.3478126329588561],
      ],
    ],
  );
  const powers = (a: kiln.Tensor) =>
    LA.matrixPower(a, -2)
      .mul(f64(W3))
      .sum()
      .add(LA.matrixPower(a, 3).mul(f64(W3)).sum());
  gradsMatch(
    'matrixPower -2 and 3',
    powers,
    [G3],
    [
      [
        [19.16992001213474, -9.828837133372271, -4.087661698303139],
        [-0.2510933721099357, 34.767512369383624, -12.613092886364477],
        [24.797879634320854, 2.7720390211072456, -10.305541712946672],
      ],
    ],
  );
});

test('ERR_AUTOGRAD where torch has no gradient: svd fullMatrices of a non-square matrix, qr mode r, qr complete with m > n', () => {
  const tall = leaf(T43),
    wide = leaf(W34);
  throwsCode(() => LA.svd(tall), 'ERR_AUTOGRAD', 'svd fullMatrices (the default) of a 4x3 under autograd');
  throwsCode(() => LA.svd(wide, { fullMatrices: true }), 'ERR_AUTOGRAD', 'svd fullMatrices of a 3x4 under autograd');
  throwsCode(() => LA.qr(tall, 'r'), 'ERR_AUTOGRAD', "qr mode 'r' under autograd");
  throwsCode(() => LA.qr(tall, 'complete'), 'ERR_AUTOGRAD', "qr mode 'complete' of a 4x3 under autograd");
  // Without a gradient to compute, and where torch differentiates, they work.
  assert.equal(LA.svd(tall.detach()).U.shape, [4, 4]);
  assert.equal(LA.svd(tall, { fullMatrices: false }).U.shape, [4, 3]);
  assert.equal(LA.svd(leaf(G3)).U.shape, [3, 3], 'fullMatrices of a square matrix is differentiable');
  assert.equal(kiln.noGrad(() => LA.qr(tall, 'r')).R.shape, [3, 3]);
  assert.equal(LA.qr(wide, 'complete').Q.shape, [3, 3], 'complete with m <= n is differentiable');
  assert.ok(LA.svdvals(tall).requiresGrad, 'svdvals of a non-square matrix is differentiable');
});

// --------------------------------------------------------------------------------------------
// edge cases

test('empty batches, 0x0, 3x0 and 0x3 matrices: shapes (and values) as torch gives them', () => {
  const z = (...s: number[]) => kiln.zeros(s, { dtype: 'float64' });
  const shapes = (o: object) => Object.values(o).map((t: kiln.Tensor) => t.shape);
  assert.equal(
    shapes(LA.qr(z(0, 3, 2))),
    [
      [0, 3, 2],
      [0, 2, 2],
    ],
    'qr of [0, 3, 2]',
  );
  assert.equal(
    shapes(LA.qr(z(3, 0))),
    [
      [3, 0],
      [0, 0],
    ],
    'qr of 3x0',
  );
  const c = LA.qr(z(3, 0), 'complete');
  close(c.Q, kiln.eye(3, 3).toArray() as Nested, 'qr complete of 3x0: Q = I');
  assert.equal(c.R.shape, [3, 0]);
  assert.equal(shapes(LA.eigh(z(0, 0))), [[0], [0, 0]], 'eigh of 0x0');
  assert.equal(
    shapes(LA.eigh(z(0, 3, 3))),
    [
      [0, 3],
      [0, 3, 3],
    ],
    'eigh of [0, 3, 3]',
  );
  assert.equal(LA.eigvalsh(z(0, 3, 3)).shape, [0, 3]);
  assert.equal(
    shapes(LA.svd(z(0, 3, 2))),
    [
      [0, 3, 3],
      [0, 2],
      [0, 2, 2],
    ],
    'svd of [0, 3, 2]',
  );
  assert.equal(shapes(LA.svd(z(0, 0))), [[0, 0], [0], [0, 0]], 'svd of 0x0');
  const s30 = LA.svd(z(3, 0));
  assert.equal(shapes(s30), [[3, 3], [0], [0, 0]], 'svd of 3x0');
  close(s30.U, kiln.eye(3, 3).toArray() as Nested, 'svd of 3x0: U = I');
  assert.equal(shapes(LA.svd(z(3, 0), { fullMatrices: false })), [[3, 0], [0], [0, 0]], 'reduced svd of 3x0');
  assert.equal(LA.svdvals(z(3, 0)).shape, [0]);
  assert.equal(LA.svdvals(z(0, 3, 2)).shape, [0, 2]);
  assert.equal(LA.pinv(z(3, 0)).shape, [0, 3]);
  assert.equal(LA.pinv(z(0, 3, 2)).shape, [0, 2, 3]);
  close(LA.matrixRank(z(0, 0)), 0, 'rank of 0x0', 0);
  close(LA.matrixRank(z(3, 0)), 0, 'rank of 3x0', 0);
  assert.equal(LA.matrixRank(z(0, 3, 3)).shape, [0]);
  close(LA.matrixNorm(z(0, 0)), 0, 'fro norm of 0x0');
  close(LA.matrixNorm(z(3, 0), 'nuc'), 0, 'nuc norm of 3x0');
  assert.equal(LA.matrixNorm(z(0, 3, 3)).shape, [0]);
  assert.equal(LA.matrixPower(z(0, 3, 3), -2).shape, [0, 3, 3]);
  assert.equal(LA.matrixPower(z(0, 0), 3).shape, [0, 0]);
  assert.equal(LA.lstsq(z(0, 4, 3), z(0, 4, 2)).solution.shape, [0, 3, 2]);
});

test('a [2, 1, 4, 3] batch, non-contiguous inputs and views at an offset give torch values', () => {
  const b = f64(T43B).reshape([2, 1, 4, 3]);
  const q = LA.qr(b);
  close(
    q.R,
    (QR_T43B[1] as Nested[]).map((m) => [m]),
    'qr R of [2, 1, 4, 3]',
  );
  close(
    LA.svdvals(b),
    (SVDVALS_T43B as Nested[]).map((m) => [m]),
    'svdvals of [2, 1, 4, 3]',
  );
  close(
    LA.matrixNorm(b, 'nuc'),
    (MN_T43B_NUC as Nested[]).map((m) => [m]),
    'matrixNorm of [2, 1, 4, 3]',
  );
  const e = LA.eigvalsh(f64(SPD3B).reshape([2, 1, 3, 3]));
  close(
    e,
    (EIGVALSH_SPD3B as Nested[]).map((m) => [m]),
    'eigvalsh of [2, 1, 3, 3]',
  );
  // W34 stored transposed: a non-contiguous view with W34's values.
  const wt = f64(mT(W34)).transpose(0, 1);
  assert.ok(!wt.isContiguous());
  const r = LA.qr(wt);
  close(r.Q, QR_W34[0], 'qr Q of a transposed view');
  close(r.R, QR_W34[1], 'qr R of a transposed view');
  closeSvd(LA.svd(wt, { fullMatrices: false }), SVDR_W34, 'svd of a transposed view');
  close(LA.pinv(wt), PINV_W34, 'pinv of a transposed view');
  // T43 inside a bigger tensor: rows 1..4 and columns 2..4 of a [6, 6], so an offset and row stride 6.
  const big = f64(
    [0, 1, 2, 3, 4, 5].map((i) =>
      [0, 1, 2, 3, 4, 5].map((j) => (i >= 1 && i <= 4 && j >= 2 && j <= 4 ? T43[i - 1][j - 2] : 99)),
    ),
  );
  const view = big.narrow(0, 1, 4).narrow(1, 2, 3);
  close(LA.qr(view).R, QR_T43[1], 'qr R of an offset view');
  closeSvd(LA.svd(view, { fullMatrices: false }), SVDR_T43, 'svd of an offset view');
  close(LA.lstsq(view, f64(B42)).solution, LSTSQ_T43[0], 'lstsq of an offset view');
  const s = f64([[0, 0, 0, 0], ...SPD3.map((row) => [7, ...row])])
    .narrow(0, 1, 3)
    .narrow(1, 1, 3);
  const eh = LA.eigh(s);
  close(eh.eigenvalues, EIGH_SPD3[0], 'eigh of an offset view');
  closeColumns(eh.eigenvectors, EIGH_SPD3[1], 'eigh vectors of an offset view');
  // Gradients reach a transposed leaf.
  const a = leaf(mT(W34));
  LA.pinv(a.transpose(0, 1)).mul(f64(W43)).sum().backward();
  close(a.grad!, mT(G_PINV), 'pinv gradient through a transposed view', 1e-9);
});

test('argument errors: ERR_ARG, ERR_SHAPE, ERR_DTYPE', () => {
  throwsCode(() => LA.qr(f64(T43), 'full' as 'reduced'), 'ERR_ARG', "qr mode 'full'");
  throwsCode(() => LA.eigh(f64(G3), 'X' as 'L'), 'ERR_ARG', "eigh UPLO 'X'");
  throwsCode(() => LA.matrixNorm(f64(T43), 3), 'ERR_ARG', 'matrixNorm ord 3');
  throwsCode(() => LA.matrixNorm(f64(T43), 'fro', [1, 1]), 'ERR_ARG', 'matrixNorm over the same dim twice');
  throwsCode(() => LA.norm(f64(b3), 'nuc'), 'ERR_ARG', "norm 'nuc' of a vector");
  throwsCode(() => LA.multiDot([f64(G3)]), 'ERR_ARG', 'multiDot of one tensor');
  throwsCode(() => LA.multiDot([f64(G3), f64(G3B), f64(G3)]), 'ERR_SHAPE', 'multiDot with a 3-d tensor');
  throwsCode(() => LA.eigh(f64(T43)), 'ERR_SHAPE', 'eigh of a non-square matrix');
  throwsCode(() => LA.svd(f64(b3)), 'ERR_SHAPE', 'svd of a vector');
  throwsCode(() => LA.lstsq(f64(T43), f64(B32)), 'ERR_SHAPE', 'lstsq with different row counts');
  throwsCode(() => LA.matrixPower(f64(T43), 2), 'ERR_SHAPE', 'matrixPower of a non-square matrix');
  throwsCode(
    () =>
      LA.qr(
        kiln.tensor(
          [
            [1, 2],
            [3, 4],
          ],
          { dtype: 'int32' },
        ),
      ),
    'ERR_DTYPE',
    'qr of int32',
  );
  throwsCode(
    () =>
      LA.svdvals(
        kiln.tensor(
          [
            [1, 2],
            [3, 4],
          ],
          { dtype: 'int64' },
        ),
      ),
    'ERR_DTYPE',
    'svdvals of int64',
  );
  throwsCode(
    () =>
      LA.pinv(
        kiln.tensor(
          [
            [1, 2],
            [3, 4],
          ],
          { dtype: 'float16' },
        ),
      ),
    'ERR_DTYPE',
    'pinv of float16',
  );
  throwsCode(() => LA.cond(f64(T43), 1), 'ERR_SHAPE', 'cond 1 of a non-square matrix');
});

// --------------------------------------------------------------------------------------------
// large matrices: the blocked paths, checked by residuals

test('matrices of 130 to 260 rows (blocked paths): qr, eigh, svd, lstsq, pinv residuals in float32 and float64', () => {
  kiln.manualSeed(11);
  for (const dtype of ['float64', 'float32'] as const) {
    const tol = dtype === 'float64' ? 1e-12 : 1e-4;
    const maxAbs = (t: kiln.Tensor) => t.abs().max().item() as number;
    const rel = (x: kiln.Tensor, y: kiln.Tensor) => maxAbs(x.sub(y)) / Math.max(1, maxAbs(y));
    const eye = (n: number) => kiln.eye(n, n, { dtype });
    for (const [m, n] of [
      [160, 130],
      [130, 160],
      [140, 140],
    ]) {
      const what = `${dtype} ${m}x${n}`;
      const A = kiln.randn([m, n], { dtype });
      const k = Math.min(m, n);
      const { Q, R } = LA.qr(A);
      assert.is(Q.dtype, dtype);
      assert.ok(rel(Q.matmul(R), A) < tol, `${what}: Q R = A (${rel(Q.matmul(R), A)})`);
      assert.ok(rel(Q.transpose(0, 1).matmul(Q), eye(k)) < tol, `${what}: QᵀQ = I`);
      assert.ok(maxAbs(R.tril(-1)) === 0, `${what}: R is upper triangular`);
      const c = LA.qr(A, 'complete');
      assert.ok(rel(c.Q.transpose(0, 1).matmul(c.Q), eye(m)) < tol, `${what}: complete QᵀQ = I`);
      assert.ok(rel(c.Q.matmul(c.R), A) < tol, `${what}: complete Q R = A`);
      const { U, S, Vh } = LA.svd(A, { fullMatrices: false });
      assert.ok(
        rel(U.mul(S.unsqueeze(0)).matmul(Vh), A) < tol,
        `${what}: U diag(S) Vh = A (${rel(U.mul(S.unsqueeze(0)).matmul(Vh), A)})`,
      );
      assert.ok(rel(U.transpose(0, 1).matmul(U), eye(k)) < tol, `${what}: UᵀU = I`);
      assert.ok(rel(Vh.matmul(Vh.transpose(0, 1)), eye(k)) < tol, `${what}: Vh Vhᵀ = I`);
      const s = S.to('float64').toArray() as number[];
      assert.ok(
        s.every((v, i) => i === 0 || v <= s[i - 1]),
        `${what}: S descending`,
      );
      close(LA.svdvals(A), s, `${what}: svdvals = svd's S`, dtype === 'float64' ? 1e-11 : 1e-4);
      const P = LA.pinv(A);
      assert.ok(rel(A.matmul(P).matmul(A), A) < tol * 10, `${what}: A A⁺ A = A`);
      if (m >= n) {
        const B = kiln.randn([m, 3], { dtype });
        const X = LA.lstsq(A, B).solution;
        // The normal equations: Aᵀ (A X - B) = 0.
        const g = A.transpose(0, 1).matmul(A.matmul(X).sub(B));
        assert.ok(maxAbs(g) / (maxAbs(A) * maxAbs(B) * m) < tol, `${what}: Aᵀ (A X - B) = 0`);
      }
      if (m === n) {
        const Sym = A.add(A.transpose(0, 1));
        const { eigenvalues: w, eigenvectors: V } = LA.eigh(Sym);
        assert.ok(rel(V.mul(w.unsqueeze(0)).matmul(V.transpose(0, 1)), Sym) < tol, `${what}: V diag(w) Vᵀ = A`);
        assert.ok(rel(V.transpose(0, 1).matmul(V), eye(n)) < tol, `${what}: VᵀV = I`);
        const ws = w.to('float64').toArray() as number[];
        assert.ok(
          ws.every((v, i) => i === 0 || v >= ws[i - 1]),
          `${what}: eigenvalues ascending`,
        );
      }
    }
    // eigh past 256 columns (its rotations are applied in blocks of 256), reading the upper triangle.
    const X = kiln.randn([260, 260], { dtype });
    const Sym = X.add(X.transpose(0, 1));
    const { eigenvalues: w, eigenvectors: V } = LA.eigh(Sym.triu(), 'U');
    assert.ok(rel(V.mul(w.unsqueeze(0)).matmul(V.transpose(0, 1)), Sym) < tol * 2, `${dtype} 260: V diag(w) Vᵀ = A`);
    assert.ok(rel(V.transpose(0, 1).matmul(V), eye(260)) < tol * 2, `${dtype} 260: VᵀV = I`);
    close(
      LA.eigvalsh(Sym),
      w.to('float64').toArray() as Nested,
      `${dtype} 260: eigvalsh = eigh's`,
      dtype === 'float64' ? 1e-11 : 1e-4,
    );
  }
});

test.run();
