// kiln.linalg's factorisations and solves against PyTorch 1.13 (torch.linalg, float64; the numbers
// are embedded below): cholesky, solve, solveTriangular, inv, det, slogdet, logdet, lu, luFactor,
// luSolve and the Ex variants, their gradients (x.grad of a weighted sum, not only gradcheck),
// float32, empty batches, 0x0 and 1x1 matrices, views, the blocked paths of large matrices, the
// error codes, and the live tensor count over repeated calls. The decompositions and the
// functions built from them are in linalg_derived.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';
import {
  f64,
  f32,
  leaf,
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
} from '../helpers/linalg_fixtures';
import type { Nested } from '../helpers/linalg_fixtures';
import { settledMemory } from '../helpers/settled';

const LA = kiln.linalg;

/** The message of the KilnError fn throws with `code`. */
function errorOf(fn: () => unknown, code: string, label: string): string {
  throwsCode(fn, code, label);
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

const NEG2 = [
  [1, 2],
  [3, 4],
];
/** Positive definite, indefinite, negative definite. */
const BAD_SPD = [
  [
    [4, 2],
    [2, 3],
  ],
  [
    [1, 2],
    [2, 1],
  ],
  [
    [-1, 0],
    [0, 1],
  ],
];
// torch's results that several tests compare with.
const CHOL_SPD3 = [
  [2, 0, 0],
  [0.5, 2.179449471770337, 0],
  [1, 1.1470786693528088, 1.9194297398747862],
];
const CHOL_SPD3B = [
  CHOL_SPD3,
  [
    [1.4142135623730951, 0, 0],
    [-0.7071067811865475, 1.224744871391589, 0],
    [0, -0.8164965809277261, 1.1547005383792515],
  ],
];
const CHOLU_SPD3 = [
  [2, 0.5, 1],
  [0, 2.179449471770337, 1.1470786693528088],
  [0, 0, 1.9194297398747862],
];
const SOLVE_G3_B32 = [
  [0.4732824427480916, 0.7251908396946565],
  [0.25954198473282436, -0.4732824427480916],
  [0.6259541984732824, 0.15267175572519082],
];
const SOLVE_G3B_B32 = [
  SOLVE_G3_B32,
  [
    [0.7599999999999999, 0.27999999999999997],
    [0.12000000000000005, 0.86],
    [-0.04000000000000001, -0.62],
  ],
];
const INV_G3 = [
  [0.4274809160305343, 0.13740458015267176, 0.015267175572519075],
  [-0.15267175572519084, 0.2366412213740458, 0.13740458015267173],
  [-0.015267175572519089, -0.07633587786259541, 0.21374045801526717],
];
const INV_G3B = [
  INV_G3,
  [
    [0.039999999999999994, -0.07999999999999999, 0.24],
    [0.48, 0.039999999999999994, -0.12],
    [-0.16, 0.32, 0.039999999999999994],
  ],
];
const INV_G4 = [
  [0.260019550342131, 0.025415444770283464, 0.0576735092864125, -0.07917888563049855],
  [0.02443792766373412, -0.23069403714565004, 0.09188660801564029, 0.02639296187683285],
  [-0.09384164222873899, 0.005865102639296196, 0.16715542521994134, 0.05865102639296188],
  [0.05083088954056696, 0.08015640273704792, -0.04887585532746824, 0.13489736070381234],
];
const DET_G3B = [32.75, 25];
const DET_G4 = -511.5;
const ST_UP = [
  [0.5625, 0.84375],
  [0.5, -0.25],
  [0.75, 0.125],
];
const LUS_G3B = [
  [
    [0.4732824427480916, 0.7251908396946566],
    [0.25954198473282436, -0.47328244274809156],
    [0.6259541984732824, 0.15267175572519082],
  ],
  [
    [0.76, 0.28],
    [0.12, 0.86],
    [-0.04, -0.62],
  ],
];
const LU_G4 = [
  [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ],
  [
    [1, 0, 0, 0],
    [0.3333333333333333, 1, 0, 0],
    [0.6666666666666666, 0.15384615384615385, 1, 0],
    [-0.3333333333333333, -0.5384615384615385, 0.3623188405797102, 1],
  ],
  [
    [3, 1, -1, 2],
    [0, -4.333333333333333, 2.3333333333333335, -0.16666666666666663],
    [0, 0, 5.3076923076923075, -2.3076923076923075],
    [0, 0, 0, 7.413043478260869],
  ],
];
const SLOGDET_NEG2 = [-1, 0.6931471805599453];
const I3 = () => kiln.eye(3, 3, { dtype: 'float64' });

// --------------------------------------------------------------------------------------------
// values against torch

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

test('empty batches and 0x0 matrices: shapes as torch gives them, det of 0x0 is 1', () => {
  const e = kiln.zeros([0, 3, 3], { dtype: 'float64' });
  assert.equal(LA.cholesky(e).shape, [0, 3, 3]);
  assert.equal(LA.solve(e, f64(B32)).shape, [0, 3, 2]);
  assert.equal(LA.solve(e, kiln.zeros([0, 3], { dtype: 'float64' })).shape, [0, 3]);
  assert.equal(LA.inv(e).shape, [0, 3, 3]);
  assert.equal(LA.det(e).shape, [0]);
  assert.equal(LA.slogdet(e).logabsdet.shape, [0]);
  const r = LA.lu(e);
  for (const t of [r.P, r.L, r.U]) assert.equal(t.shape, [0, 3, 3]);
  const f = LA.luFactor(e);
  assert.equal(f.LU.shape, [0, 3, 3]);
  assert.equal(f.pivots.shape, [0, 3]);
  assert.equal(LA.luSolve(f.LU, f.pivots, f64(B32)).shape, [0, 3, 2]);
  assert.equal(LA.solveTriangular(e, f64(B32), { upper: true }).shape, [0, 3, 2]);
  assert.equal(LA.choleskyEx(e).info.shape, [0]);
  const z = kiln.zeros([0, 0], { dtype: 'float64' });
  close(LA.det(z), 1, 'det of 0x0');
  close(LA.det(kiln.zeros([2, 0, 0], { dtype: 'float64' })), [1, 1], 'det of two 0x0');
  close(LA.slogdet(z).sign, 1, 'slogdet sign of 0x0');
  close(LA.slogdet(z).logabsdet, 0, 'slogdet logabsdet of 0x0');
  assert.equal(LA.inv(z).shape, [0, 0]);
  assert.equal(LA.cholesky(z).shape, [0, 0]);
  assert.equal(LA.solve(z, kiln.zeros([0, 2], { dtype: 'float64' })).shape, [0, 2]);
  for (const t of Object.values(LA.lu(z))) assert.equal(t.shape, [0, 0]);
});

test('1x1 matrices and a [2, 1, 3, 3] batch', () => {
  close(LA.inv(f64([[4]])), [[0.25]], 'inv 1x1');
  close(LA.det(f64([[-3]])), -3, 'det 1x1');
  close(LA.solve(f64([[2]]), f64([3])), [1.5], 'solve 1x1');
  const lu1 = LA.lu(f64([[-3]]));
  close(lu1.P, [[1]], 'lu P 1x1');
  close(lu1.U, [[-3]], 'lu U 1x1');
  const A = f64(G3B).reshape([2, 1, 3, 3]);
  close(
    LA.solve(A, f64(B32)),
    (SOLVE_G3B_B32 as Nested[]).map((m) => [m]),
    'solve [2, 1, 3, 3]',
  );
  close(
    LA.inv(A),
    (INV_G3B as Nested[]).map((m) => [m]),
    'inv [2, 1, 3, 3]',
  );
  close(
    LA.det(A),
    (DET_G3B as Nested[]).map((d) => [d]),
    'det [2, 1, 3, 3]',
  );
  // B [1, 2, 3, 2] broadcasts with A [2, 1, 3, 3] to [2, 2, 3, 2].
  const X = LA.solve(A, f64([[B32, B32]]));
  assert.equal(X.shape, [2, 2, 3, 2]);
  close(X.select(1, 1), SOLVE_G3B_B32, 'solve broadcast [2, 1] with [1, 2]');
  const Ls = f64(SPD3B).reshape([2, 1, 3, 3]).cholesky();
  close(
    Ls,
    (CHOL_SPD3B as Nested[]).map((m) => [m]),
    'cholesky [2, 1, 3, 3]',
  );
});

test('non-contiguous inputs and views at an offset give torch values', () => {
  // G3 inside a bigger tensor: [2, 4, 5] with G3 at [1, 1:4, 0:3], so its view has an offset and row stride 5.
  const pad = (m: number[][]) => [[9, 9, 9, 9, 9], ...m.map((r) => [...r, 7, 7])];
  const big = f64([pad(SPD3), pad(G3)]);
  const view = big.select(0, 1).narrow(0, 1, 3).narrow(1, 0, 3);
  assert.ok(!view.isContiguous(), 'the view is not contiguous');
  close(LA.solve(view, f64(B32)), SOLVE_G3_B32, 'solve, offset view');
  close(LA.inv(view), INV_G3, 'inv, offset view');
  close(LA.det(view), DET_G3B[0], 'det, offset view');
  const vt = view.transpose(0, 1);
  close(
    LA.solve(vt, f64(B32)),
    [
      [0.38167938931297707, 1],
      [-0.09160305343511449, 0],
      [0.6564885496183206, 0],
    ],
    'solve, transposed offset view',
  );
  close(
    LA.inv(f64(G3).transpose(0, 1)),
    [
      [0.42748091603053434, -0.15267175572519082, -0.015267175572519082],
      [0.13740458015267176, 0.23664122137404578, -0.07633587786259542],
      [0.015267175572519076, 0.13740458015267173, 0.21374045801526717],
    ],
    'inv, transposed',
  );
  close(LA.det(vt), 32.75, 'det, transposed');
  close(LA.cholesky(big.select(0, 0).narrow(0, 1, 3).narrow(1, 0, 3)), CHOL_SPD3, 'cholesky, offset view');
  close(LA.lu(vt).U, LA.lu(vt.contiguous()).U.toArray() as Nested, 'lu, transposed view');
  // A batch view: every other matrix of a [4, 3, 3].
  const four = f64([G3B[0], SPD3, G3B[1], SPD3]).reshape([2, 2, 3, 3]).select(1, 0);
  close(LA.inv(four), INV_G3B, 'inv of a strided batch');
  close(LA.det(four), DET_G3B, 'det of a strided batch');
  const strided = kiln.stack([f64(G3B[0]), f64(G3B[1])], 2).select(2, 0);
  close(LA.solve(strided, f64(B32)), SOLVE_G3_B32, 'solve, a select() view');
  // Gradients reach a transposed leaf.
  const a = leaf(G3);
  LA.inv(a.transpose(0, 1)).mul(f64(W3).transpose(0, 1)).sum().backward();
  close(
    a.grad!,
    [
      [-0.0005360992949128614, 0.12494609871219627, -0.08078783287687195],
      [-0.016420954489831587, 0.0010663714235767258, 0.003694423401899665],
      [-0.12684575490938754, 0.04159431268574093, 0.05011362974185653],
    ],
    'inv gradient through a transposed view',
    1e-9,
  );
});

test('ERR_LINALG for singular and non-positive-definite matrices, naming the batch element', () => {
  const sing = [
    [1, 2],
    [2, 4],
  ];
  let m = errorOf(() => LA.solve(f64(sing), f64([1, 2])), 'ERR_LINALG', 'singular solve');
  assert.ok(/singular/.test(m) && !/batch element/.test(m), m);
  m = errorOf(() => LA.inv(f64([NEG2, sing, NEG2])), 'ERR_LINALG', 'singular inv in a batch');
  assert.ok(m.includes('batch element 1'), m);
  m = errorOf(() => f64([[NEG2], [sing]]).inverse(), 'ERR_LINALG', 'Tensor.inverse, [2, 1] batch');
  assert.ok(m.includes('batch element 1'), m);
  m = errorOf(() => LA.solve(f64([NEG2, NEG2, sing]), f64([1, 2])), 'ERR_LINALG', 'singular solve in a batch');
  assert.ok(m.includes('batch element 2'), m);
  m = errorOf(() => LA.cholesky(f64(BAD_SPD)), 'ERR_LINALG', 'cholesky of a non-PD batch');
  assert.ok(m.includes('batch element 1') && /positive/.test(m), m);
  m = errorOf(
    () =>
      LA.cholesky(
        f64([
          [1, 2],
          [2, 1],
        ]),
        { upper: true },
      ),
    'ERR_LINALG',
    'cholesky upper, indefinite',
  );
  throwsCode(() => LA.cholesky(f64([[0]])), 'ERR_LINALG', 'cholesky of [[0]]');
  throwsCode(() => LA.matrixPower(f64(sing), -1), 'ERR_LINALG', 'a negative power of a singular matrix');
  // luFactor and det do not throw for singular matrices.
  close(LA.det(f64(sing)), 0, 'det of a singular matrix');
  const t = LA.solveTriangular(
    f64([
      [0, 0],
      [1, 1],
    ]),
    f64([[1], [1]]),
    { upper: false },
  );
  assert.ok(
    !Number.isFinite((t.toArray() as number[][])[0][0]),
    'a zero on the diagonal of a triangle: no throw, as torch',
  );
});

test('argument errors: ERR_SHAPE, ERR_DTYPE and ERR_ARG', () => {
  throwsCode(() => LA.cholesky(f64(T43)), 'ERR_SHAPE', 'cholesky of a non-square matrix');
  throwsCode(() => LA.inv(f64(b3)), 'ERR_SHAPE', 'inv of a vector');
  throwsCode(() => LA.det(f64(W34)), 'ERR_SHAPE', 'det of a non-square matrix');
  throwsCode(() => LA.solve(f64(G3), f64(G4)), 'ERR_SHAPE', 'solve with mismatched B');
  throwsCode(() => LA.solve(f64(G3), f64(b3), { left: false }), 'ERR_SHAPE', 'solve left: false with a vector');
  throwsCode(
    () => LA.solve(f64(G3B), kiln.zeros([3, 3, 2], { dtype: 'float64' })),
    'ERR_SHAPE',
    'solve: batches that do not broadcast',
  );
  throwsCode(
    () => LA.solveTriangular(f64(G3), f64(B23), { upper: true }),
    'ERR_SHAPE',
    'solveTriangular with mismatched B',
  );
  throwsCode(
    () =>
      LA.inv(
        kiln.tensor(
          [
            [1, 2],
            [3, 4],
          ],
          { dtype: 'int32' },
        ),
      ),
    'ERR_DTYPE',
    'inv of int32',
  );
  throwsCode(() => LA.cholesky(kiln.tensor([[true]])), 'ERR_DTYPE', 'cholesky of bool');
  throwsCode(() => LA.solve(f64(G3), f32(B32)), 'ERR_DTYPE', 'solve with mixed dtypes');
  throwsCode(
    () => LA.solveTriangular(f64(G3), f32(B32), { upper: true }),
    'ERR_DTYPE',
    'solveTriangular with mixed dtypes',
  );
  const f = LA.luFactor(f64(G3));
  throwsCode(() => LA.luSolve(f.LU, f.pivots.to('int64'), f64(B32)), 'ERR_DTYPE', 'luSolve with int64 pivots');
  throwsCode(() => LA.luSolve(f.LU, f.pivots, f64(B23)), 'ERR_SHAPE', 'luSolve with mismatched B');
  throwsCode(
    () => LA.solveTriangular(f64(G3), f64(B32), {} as kiln.linalg.SolveTriangularOptions),
    'ERR_ARG',
    'solveTriangular without upper',
  );
  throwsCode(() => LA.matrixPower(f64(G3), 1.5), 'ERR_ARG', 'matrixPower with a fractional n');
});

// --------------------------------------------------------------------------------------------
// large matrices: the blocked paths, checked by residuals

test('matrices of 150 and 200 rows (blocked paths): cholesky, solve, inv, lu, solveTriangular residuals in float32 and float64', () => {
  kiln.manualSeed(7);
  for (const dtype of ['float64', 'float32'] as const) {
    const tol = dtype === 'float64' ? 1e-13 : 2e-5;
    /** max |x - y| relative to max |y|, with y's scale given. */
    const rel = (x: kiln.Tensor, y: kiln.Tensor, scale: number) => (x.sub(y).abs().max().item() as number) / scale;
    for (const n of [150, 200]) {
      const X = kiln.randn([n, n], { dtype });
      const A = X.add(kiln.eye(n, n, { dtype }).mul(Math.sqrt(n))); // general, well conditioned
      const S = X.matmul(X.transpose(0, 1)).add(kiln.eye(n, n, { dtype }).mul(n)); // SPD
      const B = kiln.randn([2, n, 5], { dtype });
      const what = `${dtype} n=${n}`;
      const norm = (t: kiln.Tensor) => t.abs().max().item() as number;
      const L = LA.cholesky(S);
      assert.is(L.dtype, dtype);
      assert.ok(rel(L.matmul(L.transpose(0, 1)), S, norm(S)) < tol, `${what}: L Lᵀ = S`);
      assert.ok(norm(L.triu(1)) === 0, `${what}: L is lower triangular`);
      const U = LA.cholesky(S, { upper: true });
      assert.ok(rel(U.transpose(0, 1).matmul(U), S, norm(S)) < tol, `${what}: Uᵀ U = S`);
      const Xs = LA.solve(A, B);
      assert.ok(
        rel(A.matmul(Xs), B, norm(A) * norm(Xs) * 10) < tol,
        `${what}: A X = B (${rel(A.matmul(Xs), B, norm(A) * norm(Xs) * 10)})`,
      );
      const Xr = LA.solve(A, B.transpose(1, 2), { left: false });
      assert.ok(rel(Xr.matmul(A), B.transpose(1, 2), norm(A) * norm(Xr) * 10) < tol, `${what}: X A = B`);
      const Ai = LA.inv(A);
      assert.ok(rel(A.matmul(Ai), kiln.eye(n, n, { dtype }), norm(A) * norm(Ai) * 10) < tol, `${what}: A A⁻¹ = I`);
      const { P, L: Ll, U: Uu } = LA.lu(A);
      assert.ok(rel(P.matmul(Ll).matmul(Uu), A, norm(A)) < tol, `${what}: P L U = A`);
      const f = LA.luFactor(A);
      const Xl = LA.luSolve(f.LU, f.pivots, B, { adjoint: true });
      assert.ok(rel(A.transpose(0, 1).matmul(Xl), B, norm(A) * norm(Xl) * 10) < tol, `${what}: Aᵀ X = B by luSolve`);
      const Xt = LA.solveTriangular(L, B, { upper: false });
      assert.ok(rel(L.matmul(Xt), B, norm(L) * norm(Xt) * 10) < tol, `${what}: L X = B`);
      const Xu = LA.solveTriangular(U, B.transpose(1, 2), { upper: true, left: false });
      assert.ok(rel(Xu.matmul(U), B.transpose(1, 2), norm(U) * norm(Xu) * 10) < tol, `${what}: X U = B`);
      // slogdet agrees with the log of the Cholesky diagonal: log det S = 2 Σ log L_ii.
      const lad = LA.slogdet(S).logabsdet.item() as number;
      const want = 2 * (kiln.diagonal(L.to('float64')).log().sum().item() as number);
      assert.ok(
        Math.abs(lad - want) < (dtype === 'float64' ? 1e-9 : 1e-2) * Math.abs(want),
        `${what}: slogdet ${lad} vs ${want}`,
      );
    }
  }
});

// --------------------------------------------------------------------------------------------
// memory

/** Disposes every tensor in x (a tensor, or an object or array of them). */
function disposeAll(x: unknown): void {
  if (x instanceof kiln.Tensor) return void (x.isDisposed || x.dispose());
  if (x && typeof x === 'object') for (const v of Object.values(x)) disposeAll(v);
}

/** The sum of every output that needs a gradient (null when none does), its intermediates disposed. */
function lossOf(out: unknown): kiln.Tensor | null {
  let total: kiln.Tensor | null = null;
  const add = (x: unknown): void => {
    if (x instanceof kiln.Tensor) {
      if (!x.requiresGrad) return;
      const s = x.sum();
      if (!total) return void (total = s);
      const next = total.add(s);
      total.dispose();
      s.dispose();
      total = next;
    } else if (x && typeof x === 'object') for (const v of Object.values(x)) add(v);
  };
  add(out);
  return total;
}

// [name, input, f]: f(input) with every result disposed by hand (no scope, which would hide a handle
// an op forgot); with backward, input is a fresh leaf each time.
const G = f64(G3),
  S = f64(SPD3),
  Bm = f64(B32),
  T = f64(T43);
const B4 = f64([...B32, [1, 1]]),
  v3 = f64(b3),
  v4 = f64([1, 0, 2, 1]);
const CALLS: [string, kiln.Tensor, (x: kiln.Tensor) => unknown][] = [
  ['cholesky', S, (x) => LA.cholesky(x)],
  ['cholesky upper', S, (x) => LA.cholesky(x, { upper: true })],
  ['cholesky of a batch', f64(SPD3B), (x) => LA.cholesky(x)],
  ['choleskyEx of a batch', f64(SPD3B), (x) => LA.choleskyEx(x)],
  ['choleskyEx upper of a batch', f64(SPD3B), (x) => LA.choleskyEx(x, { upper: true })],
  ['solve', G, (x) => LA.solve(x, Bm)],
  ['solve, vector b', G, (x) => LA.solve(x, v3)],
  ['solve of a batch', f64(G3B), (x) => LA.solve(x, Bm)],
  ['solveTriangular', G, (x) => LA.solveTriangular(x, Bm, { upper: true, left: true })],
  ['inv', G, (x) => LA.inv(x)],
  [
    'inv of a transposed view',
    G,
    (x) => {
      const v = x.transpose(0, 1);
      return [v, LA.inv(v)];
    },
  ],
  ['det', G, (x) => LA.det(x)],
  ['det of a batch', f64(G3B), (x) => LA.det(x)],
  ['slogdet', G, (x) => LA.slogdet(x)],
  ['logdet', S, (x) => LA.logdet(x)],
  ['luFactor', G, (x) => LA.luFactor(x)],
  ['luFactor of a batch', f64(G3B), (x) => LA.luFactor(x)],
  ['luFactorEx', G, (x) => LA.luFactorEx(x)],
  [
    'luFactor then luSolve',
    f64(G3B),
    (x) => {
      const f = LA.luFactor(x);
      return [f, LA.luSolve(f.LU, f.pivots, Bm)];
    },
  ],
  ['lu', G, (x) => LA.lu(x)],
  ['qr', T, (x) => LA.qr(x)],
  ['qr of a batch', f64([T43, T43]), (x) => LA.qr(x)],
  ['eigh', S, (x) => LA.eigh(x)],
  ['eigh of a batch', f64(SPD3B), (x) => LA.eigh(x)],
  ['eigvalsh of a batch', f64(SPD3B), (x) => LA.eigvalsh(x)],
  ['svd', T, (x) => LA.svd(x, { fullMatrices: false })],
  ['svd of a batch', f64([T43, T43]), (x) => LA.svd(x, { fullMatrices: false })],
  ['svdvals of a batch', f64([T43, T43]), (x) => LA.svdvals(x)],
  ['lstsq', T, (x) => LA.lstsq(x, B4)],
  ['lstsq, vector b', T, (x) => LA.lstsq(x, v4)],
  ['pinv', T, (x) => LA.pinv(x)],
  ['matrixRank', T, (x) => LA.matrixRank(x)],
  ['matrixNorm nuc', T, (x) => LA.matrixNorm(x, 'nuc')],
  ['norm', T, (x) => LA.norm(x, 2)],
  ['cond', G, (x) => LA.cond(x)],
  ['matrixPower -2', G, (x) => LA.matrixPower(x, -2)],
  ['multiDot', G, (x) => LA.multiDot([v3, x, x, v3])],
  [
    'diagonal and diagEmbed',
    G,
    (x) => {
      const d = kiln.diagonal(x, 1);
      return [d, kiln.diagEmbed(d, -1)];
    },
  ],
];

test('no tensor left behind: each function 20 times, results disposed by hand, with and without backward', () => {
  const leaks: string[] = [];
  for (const [name, input, f] of CALLS)
    for (const backward of [false, true]) {
      const once = () => {
        const x = backward ? input.clone().requiresGrad_() : input;
        const out = f(x);
        if (backward) {
          const l = lossOf(out);
          l?.backward();
          l?.dispose();
          disposeAll([x.grad, x]);
        }
        disposeAll(out);
      };
      once(); // anything made once (caches) comes into being
      const before = settledMemory().numTensors;
      for (let i = 0; i < 20; i++) once();
      // No growth (a collection mid-loop may free older garbage, so not equality).
      const grown = kiln.memory().numTensors - before;
      if (grown > 0) leaks.push(`${name}${backward ? ', with backward' : ''}: +${grown / 20} tensors per call`);
    }
  assert.equal(leaks, []);
});

test('no tensor left behind: twenty rounds of all of them inside kiln.scope, with backward', () => {
  const round = () =>
    kiln.scope(() => {
      const xs = CALLS.map(([, input]) => input.clone().requiresGrad_());
      const outs = CALLS.map(([, , f], i) => f(xs[i]));
      lossOf(outs)!.backward();
    });
  round();
  const before = settledMemory();
  for (let i = 0; i < 20; i++) round();
  const after = kiln.memory();
  assert.ok(
    after.numTensors <= before.numTensors,
    `live tensors grew from ${before.numTensors} to ${after.numTensors}`,
  );
  assert.ok(after.numBytes <= before.numBytes, `live bytes grew from ${before.numBytes} to ${after.numBytes}`);
});

test.run();
