// kiln.linalg's factorisations and solves against PyTorch 1.13 (torch.linalg, float64; the numbers
// are embedded in test/helpers/linalg_fixtures.ts and below): cholesky, solve, solveTriangular, inv,
// det, slogdet, logdet, lu, luFactor, luSolve and the Ex variants, float32, and their gradients
// (x.grad of a weighted sum, not only gradcheck). Edge cases, errors, large matrices and leaks are in
// linalg_edges.test.ts; the decompositions in linalg_derived*.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';
import {
  f64,
  f32,
  close,
  gradsMatch,
  mT,
  SPD3,
  SPD3B,
  G3,
  G3B,
  G4,
  B32,
  B23,
  b3,
  b23,
  T43,
  W34,
  RD3,
  X3,
  W3,
  W32,
  NEG2,
  BAD_SPD,
  CHOL_SPD3,
  CHOL_SPD3B,
  CHOLU_SPD3,
  SOLVE_G3_B32,
  SOLVE_G3B_B32,
  INV_G3,
  INV_G3B,
  INV_G4,
  DET_G3B,
  DET_G4,
  ST_UP,
  LUS_G3B,
  LU_G4,
  SLOGDET_NEG2,
  I3,
  LA,
} from '../helpers/linalg_fixtures';
import type { Nested } from '../helpers/linalg_fixtures';

test('cholesky: lower and upper factors of a matrix and a batch of two, reading one triangle', () => {
  close(LA.cholesky(f64(SPD3)), CHOL_SPD3, 'L');
  close(LA.cholesky(f64(SPD3), { upper: true }), CHOLU_SPD3, 'U');
  close(LA.cholesky(f64(SPD3B)), CHOL_SPD3B, 'batched L');
  close(f64(SPD3).cholesky(), CHOL_SPD3, 'Tensor.cholesky');
  close(f64(SPD3B).cholesky({ upper: true }), (CHOL_SPD3B as number[][][]).map(mT), 'Tensor.cholesky upper');
  // The other triangle is not read (torch gives the same factors for these).
  close(
    LA.cholesky(
      f64([
        [4, 9, -9],
        [1, 5, 9],
        [2, 3, 6],
      ]),
    ),
    CHOL_SPD3,
    'junk above the diagonal',
  );
  close(
    LA.cholesky(
      f64([
        [4, 1, 2],
        [-7, 5, 3],
        [9, 9, 6],
      ]),
      { upper: true },
    ),
    CHOLU_SPD3,
    'junk below the diagonal, upper',
  );
  close(LA.cholesky(f64([[4]])), [[2]], '1x1');
});

test('solve: a matrix B, a vector B, a batch of A with B broadcast, A broadcast over B, left: false', () => {
  close(LA.solve(f64(G3), f64(B32)), SOLVE_G3_B32, 'A X = B');
  close(LA.solve(f64(G3), f64(b3)), [0.16030534351145037, -0.5572519083969466, 0.2442748091603053], 'vector b');
  close(
    LA.solve(f64(G3B), f64(b23)),
    [
      [0.16030534351145037, -0.5572519083969466, 0.2442748091603053],
      [0.39999999999999997, -0.19999999999999998, 0.39999999999999997],
    ],
    'batched vectors [2, 3]',
  );
  close(LA.solve(f64(G3B), f64(B32)), SOLVE_G3B_B32, 'B [3, 2] broadcast over A [2, 3, 3]');
  close(
    LA.solve(f64(G3), f64([B32, B32.map((r) => r.map((v) => 2 * v - 1))])),
    [
      [
        [0.4732824427480916, 0.7251908396946565],
        [0.25954198473282436, -0.4732824427480916],
        [0.6259541984732824, 0.15267175572519082],
      ],
      [
        [0.36641221374045796, 0.8702290076335878],
        [0.297709923664122, -1.1679389312977098],
        [1.129770992366412, 0.18320610687022898],
      ],
    ],
    'A [3, 3] broadcast over B [2, 3, 2]',
  );
  close(
    LA.solve(f64(G3), f64(B23), { left: false }),
    [
      [0.44274809160305345, 0.21374045801526717, -0.1984732824427481],
      [0.7328244274809161, 0.16412213740458015, 0.7404580152671756],
    ],
    'X A = B',
  );
});

test('solveTriangular: upper and lower (the other triangle unread), left: false, unitriangular, trans, a batch', () => {
  const A = f64(G3),
    B = f64(B32),
    Bt = f64(B23);
  close(LA.solveTriangular(A, B, { upper: true }), ST_UP, 'upper');
  close(
    LA.solveTriangular(A, B, { upper: false }),
    [
      [0.5, 1],
      [-0.16666666666666666, -0.6666666666666666],
      [0.7291666666666666, 0.16666666666666666],
    ],
    'lower',
  );
  close(
    LA.solveTriangular(A, Bt, { upper: true, left: false }),
    [
      [0.5, 0.16666666666666666, -0.22916666666666669],
      [1, 0.5, 0.875],
    ],
    'upper, X A = B',
  );
  close(
    LA.solveTriangular(A, B, { upper: false, unitriangular: true }),
    [
      [1, 2],
      [-1, -3],
      [3.5, 2.5],
    ],
    'lower, unit diagonal',
  );
  close(
    LA.solveTriangular(A, Bt, { upper: true, left: false, unitriangular: true }),
    [
      [1, 1, 0.5],
      [2, 2.5, 7],
    ],
    'upper, unit, X A = B',
  );
  // trans (kiln's addition) is torch's solve_triangular(triu(A)ᵀ, B, upper=False).
  close(
    LA.solveTriangular(A, B, { upper: true, trans: true }),
    [
      [0.5, 1],
      [0.16666666666666666, 0],
      [0.7708333333333334, 0],
    ],
    'upper, trans',
  );
  close(
    LA.solveTriangular(f64(G3B), B, { upper: false }),
    [
      [
        [0.5, 1],
        [-0.16666666666666666, -0.6666666666666666],
        [0.7291666666666666, 0.16666666666666666],
      ],
      [
        [1, 2],
        [0, -1],
        [-1, -7.5],
      ],
    ],
    'a batch of A, B broadcast',
  );
});

test('inv, det, slogdet and logdet match torch, with negative and zero determinants', () => {
  close(LA.inv(f64(G3)), INV_G3, 'inv');
  close(LA.inv(f64(G3B)), INV_G3B, 'batched inv');
  close(LA.inv(f64(G4)), INV_G4, 'inv 4x4');
  close(f64(G4).inverse(), INV_G4, 'Tensor.inverse');
  close(kiln.inverse(f64(G3)), INV_G3, 'kiln.inverse');
  close(LA.det(f64(G3B)), DET_G3B, 'batched det');
  close(LA.det(f64(G4)), DET_G4, 'det 4x4');
  close(f64(NEG2).det(), -2, 'Tensor.det, negative');
  close(kiln.det(f64(G4)), DET_G4, 'kiln.det');
  const s = LA.slogdet(f64(NEG2));
  close(s.sign, SLOGDET_NEG2[0], 'slogdet sign');
  close(s.logabsdet, SLOGDET_NEG2[1], 'slogdet logabsdet');
  const sb = f64([NEG2, G3.slice(0, 2).map((r) => r.slice(0, 2))]).slogdet();
  close(sb.sign, [-1, 1], 'batched slogdet sign');
  close(sb.logabsdet, [0.6931471805599453, 1.9459101490553135], 'batched slogdet logabsdet');
  close(kiln.slogdet(f64(NEG2)).logabsdet, SLOGDET_NEG2[1], 'kiln.slogdet');
  close(LA.logdet(f64(NEG2)), NaN, 'logdet of a negative det is NaN');
  close(f64(G3).logdet(), 3.4889029620812613, 'Tensor.logdet');
  close(kiln.logdet(f64(RD3)), -Infinity, 'logdet of a singular matrix is -Infinity');
  assert.is(LA.det(f64(RD3)).item(), 0, 'det of a singular matrix (an exact zero pivot)');
});

test('lu: P, L, U and luFactor LU and pivots (int32, 1-based) for square, tall and wide matrices', () => {
  const cases: [string, Nested, Nested[], Nested[]][] = [
    [
      '4x4',
      G4,
      LU_G4,
      [
        [
          [3, 1, -1, 2],
          [0.3333333333333333, -4.333333333333333, 2.3333333333333335, -0.16666666666666663],
          [0.6666666666666666, 0.15384615384615385, 5.3076923076923075, -2.3076923076923075],
          [-0.3333333333333333, -0.5384615384615385, 0.3623188405797102, 7.413043478260869],
        ],
        [1, 2, 3, 4],
      ],
    ],
    [
      '4x3',
      T43,
      [
        [
          [0, 0, 0, 1],
          [0, 0, 1, 0],
          [1, 0, 0, 0],
          [0, 1, 0, 0],
        ],
        [
          [1, 0, 0],
          [-0.14285714285714285, 1, 0],
          [0.5714285714285714, 0.11764705882352973, 1],
          [0.14285714285714285, 0.6470588235294119, -0.4242424242424249],
        ],
        [
          [7, 8.5, 9],
          [0, 1.2142857142857142, 3.2857142857142856],
          [0, 0, 0.9705882352941169],
        ],
      ],
      [
        [
          [7, 8.5, 9],
          [-0.14285714285714285, 1.2142857142857142, 3.2857142857142856],
          [0.5714285714285714, 0.11764705882352973, 0.9705882352941169],
          [0.14285714285714285, 0.6470588235294119, -0.4242424242424249],
        ],
        [3, 4, 4],
      ],
    ],
    [
      '3x4',
      W34,
      [
        [
          [0, 1, 0],
          [1, 0, 0],
          [0, 0, 1],
        ],
        [
          [1, 0, 0],
          [0.5, 1, 0],
          [0, -0.5, 1],
        ],
        [
          [2, 0, 1, -1],
          [0, -2, 2.5, 1],
          [0, 0, 0.25, 2.5],
        ],
      ],
      [
        [
          [2, 0, 1, -1],
          [0.5, -2, 2.5, 1],
          [0, -0.5, 0.25, 2.5],
        ],
        [2, 2, 3],
      ],
    ],
    [
      '2x2 with a swap',
      NEG2,
      [
        [
          [0, 1],
          [1, 0],
        ],
        [
          [1, 0],
          [0.3333333333333333, 1],
        ],
        [
          [3, 4],
          [0, 0.6666666666666667],
        ],
      ],
      [
        [
          [3, 4],
          [0.3333333333333333, 0.6666666666666667],
        ],
        [2, 2],
      ],
    ],
  ];
  for (const [name, a, [P, L, U], [LU, piv]] of cases) {
    const r = LA.lu(f64(a));
    close(r.P, P, `${name} P`);
    close(r.L, L, `${name} L`);
    close(r.U, U, `${name} U`);
    close(r.P.matmul(r.L).matmul(r.U), a, `${name} P L U = A`, 1e-12);
    const f = LA.luFactor(f64(a));
    close(f.LU, LU, `${name} LU`);
    assert.is(f.pivots.dtype, 'int32');
    close(f.pivots, piv, `${name} pivots`, 0);
  }
});

test('luFactor and luSolve on a batch: A X = B, Aᵀ X = B, X A = B and X Aᵀ = B', () => {
  const { LU, pivots } = LA.luFactor(f64(G3B));
  const [wantLU, wantPivots] = [
    [
      [
        [2, -1, 0.5],
        [0.5, 3.5, -2.25],
        [0.25, 0.3571428571428571, 4.678571428571429],
      ],
      [
        [4, 0, 1],
        [0.25, 2, -0.25],
        [0, 0.5, 3.125],
      ],
    ],
    [
      [1, 2, 3],
      [3, 3, 3],
    ],
  ];
  close(LU, wantLU, 'LU');
  close(pivots, wantPivots, 'pivots', 0);
  close(LA.luSolve(LU, pivots, f64(B32)), LUS_G3B, 'A X = B');
  close(
    LA.luSolve(LU, pivots, f64(B32), { adjoint: true }),
    [
      [
        [0.38167938931297707, 1],
        [-0.09160305343511446, 0],
        [0.6564885496183206, 0],
      ],
      [
        [-0.44, -0.48],
        [0.88, -0.04],
        [0.36, 0.62],
      ],
    ],
    'Aᵀ X = B',
  );
  close(
    LA.luSolve(LU, pivots, f64(B23), { left: false }),
    [
      [
        [0.4427480916030535, 0.21374045801526714, -0.1984732824427481],
        [0.7328244274809161, 0.16412213740458015, 0.7404580152671756],
      ],
      [
        [0.2, -0.4, 0.2],
        [-0.16000000000000003, 0.8200000000000001, 0.54],
      ],
    ],
    'X A = B',
  );
  close(
    LA.luSolve(LU, pivots, f64(B23), { left: false, adjoint: true }),
    [
      [
        [0.4122137404580153, -0.2900763358778626, -0.22900763358778625],
        [0.9694656488549618, 0.22519083969465647, 0.5725190839694656],
      ],
      [
        [-0.2, 0.6, -0.2],
        [0.76, 0.62, -0.04],
      ],
    ],
    'X Aᵀ = B',
  );
});

test('choleskyEx and luFactorEx report failures per matrix in info instead of throwing', () => {
  const c = LA.choleskyEx(f64(BAD_SPD));
  assert.is(c.info.dtype, 'int32');
  close(c.info, [0, 2, 1], 'cholesky info: the order of the first non-positive minor', 0);
  close(
    c.L.narrow(0, 0, 1),
    [
      [
        [2, 0],
        [1, Math.SQRT2],
      ],
    ],
    'the positive-definite matrix still factors',
  );
  const ok = LA.choleskyEx(f64(SPD3), { upper: true });
  close(ok.info, 0, 'info 0');
  close(ok.L, CHOLU_SPD3, 'upper L');
  throwsCode(() => LA.choleskyEx(f64(BAD_SPD), {}, true), 'ERR_LINALG', 'choleskyEx with checkErrors');
  const l = LA.luFactorEx(
    f64([
      [
        [1, 2],
        [2, 4],
      ],
      [
        [2, 1],
        [1, 3],
      ],
      [
        [0, 0],
        [0, 0],
      ],
    ]),
  );
  close(l.info, [2, 0, 1], 'lu info: the first zero pivot, 1-based', 0);
  close(
    l.LU,
    [
      [
        [2, 4],
        [0.5, 0],
      ],
      [
        [2, 1],
        [0.5, 2.5],
      ],
      [
        [0, 0],
        [0, 0],
      ],
    ],
    'singular matrices still factor',
  );
  close(
    l.pivots,
    [
      [2, 2],
      [1, 2],
      [1, 2],
    ],
    'pivots',
    0,
  );
});

test('float32 in, float32 out: cholesky, solve, inv, det agree with torch to float32 precision', () => {
  const cases: [string, kiln.Tensor, Nested][] = [
    [
      'cholesky',
      LA.cholesky(f32(SPD3B)),
      [
        [
          [2, 0, 0],
          [0.5, 2.1794495582580566, 0],
          [1, 1.1470786333084106, 1.9194297790527344],
        ],
        [
          [1.4142135381698608, 0, 0],
          [-0.7071067690849304, 1.2247449159622192, 0],
          [0, -0.8164965510368347, 1.154700517654419],
        ],
      ],
    ],
    [
      'solve',
      LA.solve(f32(G3), f32(B32)),
      [
        [0.47328245639801025, 0.7251908183097839],
        [0.25954198837280273, -0.47328245639801025],
        [0.6259541511535645, 0.15267173945903778],
      ],
    ],
    [
      'inv',
      LA.inv(f32(G4)),
      [
        [0.26001954078674316, 0.025415439158678055, 0.05767350643873215, -0.07917889207601547],
        [0.024437926709651947, -0.2306940108537674, 0.09188659489154816, 0.02639295533299446],
        [-0.09384164214134216, 0.005865100771188736, 0.1671554148197174, 0.05865102261304855],
        [0.05083088576793671, 0.08015640079975128, -0.048875849694013596, 0.1348973661661148],
      ],
    ],
    ['det', LA.det(f32(G3B)), [32.75, 25]],
    ['lu U', LA.lu(f32(G4)).U, LU_G4[2]],
    ['solveTriangular', LA.solveTriangular(f32(G3), f32(B32), { upper: true }), ST_UP],
    ['luSolve', LA.luSolve(LA.luFactor(f32(G3B)).LU, LA.luFactor(f32(G3B)).pivots, f32(B32)), LUS_G3B],
    ['slogdet', LA.slogdet(f32(NEG2)).logabsdet, SLOGDET_NEG2[1]],
  ];
  for (const [name, got, want] of cases) {
    assert.is(got.dtype, 'float32', `${name} dtype`);
    close(got, want, name, 2e-6);
  }
});

// --------------------------------------------------------------------------------------------
// gradients against torch's: A.grad of (f(A) * W).sum() with fixed W

test('gradients match torch: cholesky (of X Xᵀ + I, lower and upper), solve (A and B, left and right), solveTriangular', () => {
  const spd = (x: kiln.Tensor) => x.matmul(x.transpose(0, 1)).add(I3());
  gradsMatch(
    'cholesky',
    (x) => LA.cholesky(spd(x)).mul(f64(W3)).sum(),
    [X3],
    [
      [
        [0.25277252351057256, 0.3996682104673256, 0.6353276464932388],
        [0.1359377754121951, 0.5543245511831049, 0.1949158939211175],
        [0.83938715029163, 0.15062329025037952, -0.37619899067056245],
      ],
    ],
  );
  gradsMatch(
    'cholesky upper',
    (x) => LA.cholesky(spd(x), { upper: true }).mul(f64(W3)).sum(),
    [X3],
    [
      [
        [0.27996927767899854, -0.7184929551107483, 0.12096527220866887],
        [-0.6528808531186523, 0.32848508230661977, -0.10225107359431758],
        [0.26399405703548307, -0.3168498516911882, -0.4100830794484796],
      ],
    ],
  );
  gradsMatch(
    'solve',
    (a, b) => LA.solve(a, b).mul(f64(W32)).sum(),
    [G3, B32],
    [
      [
        [0.30985373812714884, -0.296812540061768, -0.022353009731367626],
        [-0.030120622341355395, 0.0014334828972670556, -0.023215430336227496],
        [-0.20207447118466287, -0.02172367577646988, -0.18476778742497518],
      ],
      [
        [0.166412213740458, -0.5358778625954199],
        [0.032061068702290085, 0.020610687022900753],
        [0.27022900763358776, 0.10229007633587785],
      ],
    ],
  );
  gradsMatch(
    'solve left: false',
    (a, b) =>
      LA.solve(a, b, { left: false })
        .mul(f64(mT(W32)))
        .sum(),
    [G3, B23],
    [
      [
        [0.12742847153429296, -0.2974185653516695, -0.08165025348173185],
        [-0.001025581259833326, -0.0806042771400268, -0.04260241244682711],
        [0.2953907114969991, -0.22163626828273406, 0.054553930423634975],
      ],
      [
        [0.2580152671755725, 0.12213740458015267, 0.21221374045801528],
        [-0.3297709923664123, 0.33206106870229, -0.016793893129770972],
      ],
    ],
  );
  // A's gradient keeps to its upper triangle (the lower one is not read).
  gradsMatch(
    'solveTriangular upper',
    (a, b) => LA.solveTriangular(a, b, { upper: true }).mul(f64(W32)).sum(),
    [G3, B32],
    [
      [
        [0.28125, -0.25, -0.125],
        [0, -0.058333333333333334, -0.12083333333333332],
        [0, 0, -0.25416666666666665],
      ],
      [
        [0.25, -0.5],
        [0.15, 0.06666666666666665],
        [0.31875000000000003, 0.12083333333333332],
      ],
    ],
  );
  gradsMatch(
    'solveTriangular lower, unitriangular, left: false',
    (a, b) =>
      LA.solveTriangular(a, b, { upper: false, left: false, unitriangular: true })
        .mul(f64(mT(W32)))
        .sum(),
    [G3, B23],
    [
      [
        [0, 0, 0],
        [-3, 0, 0],
        [3.5, -5.3999999999999995, 0],
      ],
      [
        [0.5, -0.3, 1.1500000000000001],
        [-1, 1.7, -1.0999999999999999],
      ],
    ],
  );
});

test('gradients match torch: inv, det on a batch, slogdet, luFactor and luSolve', () => {
  gradsMatch(
    'inv',
    (a) => LA.inv(a).mul(f64(W3)).sum(),
    [G3],
    [
      [
        [-0.0005360992949128614, 0.12494609871219627, -0.08078783287687195],
        [-0.016420954489831587, 0.0010663714235767258, 0.003694423401899665],
        [-0.12684575490938754, 0.04159431268574093, 0.05011362974185653],
      ],
    ],
  );
  gradsMatch(
    'det',
    (a) =>
      LA.det(a)
        .mul(f64([1.5, -0.5]))
        .sum(),
    [G3B],
    [
      [
        [
          [21, -7.5, -0.75],
          [6.75, 11.625, -3.75],
          [0.7499999999999996, 6.749999999999999, 10.5],
        ],
        [
          [-0.5, -6, 2],
          [1, -0.5, -4],
          [-3, 1.5, -0.4999999999999999],
        ],
      ],
    ],
  );
  gradsMatch(
    'slogdet, negative det',
    (a) => LA.slogdet(a).logabsdet,
    [NEG2],
    [
      [
        [-2, 1.5],
        [1, -0.5],
      ],
    ],
  );
  gradsMatch(
    'slogdet',
    (a) => LA.slogdet(a).logabsdet.mul(2),
    [G3],
    [
      [
        [0.8549618320610687, -0.30534351145038163, -0.030534351145038163],
        [0.2748091603053435, 0.47328244274809156, -0.15267175572519084],
        [0.030534351145038153, 0.27480916030534347, 0.42748091603053434],
      ],
    ],
  );
  const luSolveLoss = (a: kiln.Tensor, b: kiln.Tensor) => {
    const f = LA.luFactor(a);
    return LA.luSolve(f.LU, f.pivots, b).mul(f64(W32)).sum();
  };
  gradsMatch(
    'luSolve through luFactor',
    luSolveLoss,
    [G3, B32],
    [
      [
        [0.3098537381271488, -0.29681254006176794, -0.02235300973136764],
        [-0.030120622341355388, 0.0014334828972670695, -0.02321543033622747],
        [-0.20207447118466287, -0.021723675776469893, -0.18476778742497524],
      ],
      [
        [0.166412213740458, -0.5358778625954199],
        [0.032061068702290085, 0.02061068702290076],
        [0.27022900763358776, 0.10229007633587785],
      ],
    ],
  );
  gradsMatch(
    'luFactor LU',
    (a) => LA.luFactor(a).LU.mul(f64(W3)).sum(),
    [G3],
    [
      [
        [0.0895408163265306, -1.3244897959183672, 0.5428571428571429],
        [0.560204081632653, 0.8275510204081631, -0.18571428571428572],
        [0.5214285714285716, -0.3571428571428571, -0.6000000000000001],
      ],
    ],
  );
});

// --------------------------------------------------------------------------------------------
// edge cases

test.run();
