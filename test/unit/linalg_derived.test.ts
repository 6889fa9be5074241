// kiln.linalg's decompositions and the functions built on them against PyTorch 1.13 (torch.linalg,
// float64; numbers embedded): qr, eigh, eigvalsh, svd, svdvals, lstsq, pinv, matrixRank, matrixNorm,
// norm, vectorNorm, cond, matrixPower, multiDot, vecdot, diagonal, diagEmbed, and float32. Their
// gradients, refusals, edge cases and large matrices are in linalg_derived_grad.test.ts.
// Eigenvectors and singular vectors are compared up to the sign of each vector (LAPACK leaves it
// free); QR's signs are LAPACK's Householder ones, as torch's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import {
  f64,
  f32,
  leaf,
  close,
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
  closeColumns,
  closeSvd,
  T43B,
  B42,
  RD43,
  HS3,
  PINV_W34,
  EIGH_SPD3,
  QR_W34,
  QR_T43B,
  QR_T43,
  MP_G3_M2,
  MP_G3_3,
  LSTSQ_T43,
  SVDVALS_T43B,
  SVDR_W34,
  SVDR_T43,
  MN_T43_NUC,
  MN_T43_FRO,
  MN_T43B_NUC,
  EIGVALSH_SPD3B,
  COND_G3,
  LA,
} from '../helpers/linalg_fixtures';
import type { Nested } from '../helpers/linalg_fixtures';

test("qr: reduced, complete and 'r' modes of tall, wide and square matrices and a batch, with torch's signs", () => {
  const cases: [string, number[][], Nested[], Nested[], Nested][] = [
    [
      '4x3',
      T43,
      QR_T43,
      [
        [
          [-0.12216944435630528, 0.5391923006803994, -0.4101942627961928, -0.7253185207353646],
          [-0.48867777742522095, 0.09243296583092556, 0.8111499160699458, -0.3077108875847023],
          [-0.8551861104941366, -0.010270329536769651, -0.3806307123243933, 0.3516695858110871],
          [0.12216944435630524, 0.8370318572467136, 0.16999041521283753, 0.505525029603437],
        ],
        [
          [-8.18535277187245, -9.956809715038878, -10.995249992067471],
          [0, 1.4532516294528848, 3.800021928604715],
          [0, 0, 0.9561960855722041],
          [0, 0, 0],
        ],
      ],
      [
        [-8.18535277187245, -9.956809715038878, -10.995249992067471],
        [0, 1.4532516294528848, 3.800021928604715],
        [0, 0, 0.9561960855722041],
      ],
    ],
    [
      '3x4',
      W34,
      QR_W34,
      [
        [
          [-0.44721359549995787, 0.7807200583588261, 0.43643578047198467],
          [-0.8944271909999157, -0.3903600291794133, -0.21821789023599242],
          [-0, -0.48795003647426655, 0.8728715609439696],
        ],
        [
          [-2.23606797749979, 0.8944271909999157, -2.23606797749979, 0.6708203932499368],
          [0, -2.04939015319192, 2.439750182371332, -0.19518001458970669],
          [0, 0, 0.21821789023599214, 2.1821789023599236],
        ],
      ],
      [
        [-2.23606797749979, 0.8944271909999157, -2.23606797749979, 0.6708203932499368],
        [0, -2.04939015319192, 2.439750182371332, -0.19518001458970669],
        [0, 0, 0.21821789023599214, 2.1821789023599236],
      ],
    ],
    [
      '3x3',
      G3,
      [
        [
          [-0.8728715609439694, 0.48331225268012173, -0.06711560552140239],
          [-0.4364357804719848, -0.8348120728111191, -0.3355780276070122],
          [-0.2182178902359924, -0.2636248650982481, 0.939618477299634],
        ],
        [
          [-2.29128784747792, -0.6546536707079773, -0.4364357804719847],
          [0, -3.251373336211726, 0.856780811569307],
          [0, 0, 4.396072161651859],
        ],
      ],
      [
        [
          [-0.8728715609439694, 0.48331225268012173, -0.06711560552140239],
          [-0.4364357804719848, -0.8348120728111191, -0.3355780276070122],
          [-0.2182178902359924, -0.2636248650982481, 0.939618477299634],
        ],
        [
          [-2.29128784747792, -0.6546536707079773, -0.4364357804719847],
          [0, -3.251373336211726, 0.856780811569307],
          [0, 0, 4.396072161651859],
        ],
      ],
      [
        [-2.29128784747792, -0.6546536707079773, -0.4364357804719847],
        [0, -3.251373336211726, 0.856780811569307],
        [0, 0, 4.396072161651859],
      ],
    ],
  ];
  for (const [name, a, [Q, R], [Qc, Rc], Rr] of cases) {
    const r = LA.qr(f64(a));
    close(r.Q, Q, `${name} Q`);
    close(r.R, R, `${name} R`);
    close(r.Q.matmul(r.R), a, `${name} Q R = A`, 1e-12);
    const c = LA.qr(f64(a), 'complete');
    close(c.Q, Qc, `${name} complete Q`);
    close(c.R, Rc, `${name} complete R`);
    close(c.Q.transpose(0, 1).matmul(c.Q), kiln.eye(a.length, a.length).toArray() as Nested, `${name} QᵀQ = I`, 1e-12);
    const o = LA.qr(f64(a), 'r');
    close(o.R, Rr, `${name} mode r R`);
    assert.equal(o.Q.shape, [0], `${name} mode r: Q is empty, as torch's`);
  }
  const b = LA.qr(f64(T43B));
  close(b.Q, QR_T43B[0], 'batched Q');
  close(b.R, QR_T43B[1], 'batched R');
  const one = LA.qr(f64([[-3]]));
  close(one.Q, [[1]], '1x1 Q (no reflection)');
  close(one.R, [[-3]], '1x1 R');
});

test('eigh: eigenvalues ascending, eigenvectors up to sign, UPLO reads one triangle; eigvalsh on a batch', () => {
  const cases: [string, Nested, Nested[]][] = [
    ['SPD 3x3', SPD3, EIGH_SPD3],
    [
      'symmetric 4x4 with negative eigenvalues',
      f64(G4).add(f64(G4).transpose(0, 1)).toArray() as Nested,
      [
        [-8.729862591822794, 5.692457415299443, 10.39522382361081, 12.642181352912546],
        [
          [-0.11894408621950449, 0.948626503755695, -0.195425129700194, -0.21856138590180094],
          [0.9815651619437845, 0.06923003427439751, -0.08836726079117396, -0.15468762857094465],
          [-0.09846234742123577, -0.25236815444740646, -0.9416427579755932, -0.19981090338925078],
          [-0.11263793034310915, -0.17783496098186719, 0.2594400937674163, -0.9425382013725246],
        ],
      ],
    ],
    [
      'singular indefinite 3x3',
      HS3,
      [
        [-1.3722813232690139, -9.42005262270824e-18, 4.372281323269014],
        [
          [-0.2821840510886782, 0.8164965809277261, -0.5036918647789693],
          [0.33470997706103034, -0.4082482904638631, -0.84929533413833],
          [-0.8990780792383868, -0.40824829046386296, -0.15808839541960854],
        ],
      ],
    ],
  ];
  for (const [name, a, [w, V]] of cases) {
    const r = LA.eigh(f64(a));
    close(r.eigenvalues, w, `${name} eigenvalues`);
    closeColumns(r.eigenvectors, V, `${name} eigenvectors`);
    close(LA.eigvalsh(f64(a)), w, `${name} eigvalsh`);
  }
  // A non-symmetric G3: 'L' reads the lower triangle, 'U' the upper one.
  const lo = LA.eigh(f64(G3));
  const [wL, VL] = [
    [1.3770948783558647, 2.682455561443448, 4.940449560200685],
    [
      [0.8367502117727033, 0.44421520285042987, 0.32019046933799805],
      [-0.5454377265056805, 0.6244025091962295, 0.5591235936836919],
      [0.04844346811129832, -0.6424907470664492, 0.7647606621233505],
    ],
  ];
  close(lo.eigenvalues, wL, "UPLO 'L' eigenvalues");
  closeColumns(lo.eigenvectors, VL, "UPLO 'L' eigenvectors");
  const up = LA.eigh(f64(G3), 'U');
  const [wU, VU] = [
    [1.0965216172967198, 2.072223952005076, 5.831254430698206],
    [
      [0.5748726248246245, -0.7765018813719534, 0.25800444463819516],
      [0.7167430662893418, 0.3257672733027812, -0.6165671582001618],
      [0.39471615390480114, 0.5393704773814453, 0.7438270269195069],
    ],
  ];
  close(up.eigenvalues, wU, "UPLO 'U' eigenvalues");
  closeColumns(up.eigenvectors, VU, "UPLO 'U' eigenvectors");
  close(LA.eigvalsh(f64(G3), 'U'), wU, "eigvalsh UPLO 'U'");
  close(LA.eigvalsh(f64(SPD3B)), EIGVALSH_SPD3B, 'batched eigvalsh');
  const one = LA.eigh(f64([[2]]));
  close(one.eigenvalues, [2], '1x1 eigenvalue');
  closeColumns(one.eigenvectors, [[1]], '1x1 eigenvector');
});

test('svd and svdvals: full (the default) and reduced, tall, wide and square; vectors up to a sign per pair', () => {
  const cases: [string, number[][], Nested[], Nested[]][] = [
    [
      '4x3',
      T43,
      [
        [
          [-0.210152999188976, -0.36998426144353913, 0.5411657848517589, -0.725318520735364],
          [-0.5269808272907571, -0.2133677662714243, -0.7629412910874115, -0.3077108875847028],
          [-0.8219338068825087, 0.28415385656622655, 0.3464244583132454, 0.35166958581108754],
          [-0.05051476718202891, -0.8583952634998413, 0.0710652822553142, 0.505525029603437],
        ],
        [17.28218196631979, 2.3980960765834087, 0.2744479740978243],
        [
          [-0.4641253173343143, -0.5810404908883974, -0.668565357880209],
          [0.677210954470158, 0.2537431391971847, -0.690651679543296],
          [-0.5709404635817465, 0.7733087140712487, -0.2757183704190425],
        ],
      ],
      SVDR_T43,
    ],
    [
      '3x4',
      W34,
      [
        [
          [0.8367291630225399, 0.5435388918017013, -0.06670667767605924],
          [0.40075028098306775, -0.524748220132847, 0.7510249781195036],
          [-0.3732070739409844, 0.6551372211730815, 0.6568955026440821],
        ],
        [4.264902398080941, 2.254838646920116, 1.7251986005092],
        [
          [0.3841189251425361, -0.47988563604808265, 0.7700398596388571, -0.1708831244723681],
          [-0.22438747409047702, -0.19156162815477287, 0.19989511653742065, 0.9343427350145549],
          [0.8319872727344557, 0.4580973215274682, -0.06143672822449131, 0.3068705760452002],
          [-0.3315118260734018, 0.7232985296146945, 0.6027487746789123, -0.06027487746789133],
        ],
      ],
      SVDR_W34,
    ],
    [
      '4x4',
      G4,
      [
        [
          [0.2841560990391714, -0.1287954339436842, 0.26744398516413126, -0.9116692176297421],
          [-0.2960234836415018, -0.4751663082211328, -0.7879721301068174, -0.25629474992510703],
          [-0.3455894743285402, -0.7552996688009826, 0.5346123225797655, 0.1558203776414288],
          [0.8439154719193818, -0.4326096693740017, -0.1475239015221615, 0.28087764008351185],
        ],
        [6.9281117710706335, 5.945245313838271, 3.6575371125528187, 3.3952537042370534],
        [
          [-0.14125776826911907, 0.45554706415428114, -0.25407138686699915, 0.8414100341804364],
          [-0.3262341881445382, 0.15250009248272878, -0.8461627620592999, -0.39284037010293454],
          [0.3365949091376419, 0.8542045115070482, 0.18650513856926676, -0.3496488995419357],
          [-0.87196408442775, 0.19888500862101194, 0.4297349692158128, -0.12430303715911373],
        ],
      ],
      [
        [
          [0.2841560990391714, -0.1287954339436842, 0.26744398516413126, -0.9116692176297421],
          [-0.2960234836415018, -0.4751663082211328, -0.7879721301068174, -0.25629474992510703],
          [-0.3455894743285402, -0.7552996688009826, 0.5346123225797655, 0.1558203776414288],
          [0.8439154719193818, -0.4326096693740017, -0.1475239015221615, 0.28087764008351185],
        ],
        [6.9281117710706335, 5.945245313838271, 3.6575371125528187, 3.3952537042370534],
        [
          [-0.14125776826911907, 0.45554706415428114, -0.25407138686699915, 0.8414100341804364],
          [-0.3262341881445382, 0.15250009248272878, -0.8461627620592999, -0.39284037010293454],
          [0.3365949091376419, 0.8542045115070482, 0.18650513856926676, -0.3496488995419357],
          [-0.87196408442775, 0.19888500862101194, 0.4297349692158128, -0.12430303715911373],
        ],
      ],
    ],
  ];
  for (const [name, a, full, reduced] of cases) {
    const f = LA.svd(f64(a));
    closeSvd(f, full, `${name} full`);
    closeSvd(LA.svd(f64(a), { fullMatrices: false }), reduced, `${name} reduced`);
    const [m, n] = [a.length, a[0].length];
    const k = Math.min(m, n);
    const usv = f.U.narrow(1, 0, k)
      .mul(f.S.unsqueeze(0))
      .matmul(f.Vh.narrow(0, 0, k));
    close(usv, a, `${name} U diag(S) Vh = A`, 1e-12);
    close(LA.svdvals(f64(a)), full[1], `${name} svdvals`);
  }
  close(LA.svdvals(f64(T43B)), SVDVALS_T43B, 'batched svdvals');
  close(
    LA.svdvals(f64(RD3)),
    [8.435448515787048, 0.9182637624920782, 5.299674564334575e-16],
    'svdvals of a rank-2 matrix',
  );
  const one = LA.svd(f64([[-3]]));
  close(one.S, [3], '1x1 S');
  close(one.U.mul(one.Vh), [[-1]], '1x1 U Vh');
});

test('lstsq: tall full rank (solution, residuals, rank, singular values), a vector b, rank-deficient and wide as gelsd, a batch', () => {
  const [sol, res, rank, sv] = LSTSQ_T43;
  const r = LA.lstsq(f64(T43), f64(B42));
  close(r.solution, sol, 'solution');
  close(r.residuals, res, 'residuals', 1e-9);
  close(r.rank, rank, 'rank', 0);
  close(r.singularValues, sv, 'singular values');
  const v = LA.lstsq(f64(T43), f64(B42.map((row) => row[0])));
  close(v.solution, [1.468599033816421, -2.705314009661829, 1.4454106280193215], 'vector b: solution');
  const d = LA.lstsq(f64(RD43), f64(B42));
  const [dSol, dRes, dRank, dSv] = [
    [
      [-0.1666666666666668, 1.0151515151515158],
      [0.3333333333333335, -0.666666666666667],
      [0.16666666666666677, 0.34848484848484873],
    ],
    [],
    2,
    [8.849547339911574, 1.2982726518971144, 4.62222704437328e-16],
  ];
  close(d.solution, dSol, 'rank-deficient: the minimum-norm solution, as gelsd', 1e-9);
  close(d.residuals, dRes, 'rank-deficient: no residuals');
  close(d.rank, dRank, 'rank-deficient: rank', 0);
  close(d.singularValues, dSv, 'rank-deficient: singular values');
  const w = LA.lstsq(f64(W34), f64(B32));
  const [wSol, wRes, wRank] = [
    [
      [0.6430517711171668, -0.3633060853769299],
      [0.3242506811989102, -0.4346049046321524],
      [0.10354223433242504, 0.3878292461398725],
      [1.389645776566758, 0.6612170753860117],
    ],
    [],
    3,
  ];
  close(w.solution, wSol, 'wide: the minimum-norm solution');
  close(w.residuals, wRes, 'wide: no residuals');
  close(w.rank, wRank, 'wide: rank', 0);
  const b = LA.lstsq(f64(T43B), f64([B42, B42.map((row) => row.map((x) => -x))]));
  const [bSol, bRes, bRank] = [
    [
      [
        [1.468599033816421, -0.7028985507246316],
        [-2.705314009661829, 1.0579710144927452],
        [1.4454106280193215, -0.1681159420289826],
      ],
      [
        [5.700483091787437, -5.560386473429949],
        [-7.342995169082117, 7.874396135265691],
        [2.09468599033816, -3.435748792270525],
      ],
    ],
    [
      [0.697584541062805, 1.5695652173913075],
      [0.23381642512077355, 1.681642512077296],
    ],
    [3, 3],
  ];
  close(b.solution, bSol, 'batched solution');
  close(b.residuals, bRes, 'batched residuals', 1e-9);
  close(b.rank, bRank, 'batched rank', 0);
});

test("lstsq with a vector b: residuals keep torch's trailing dim of 1 ([1], and [2, 1] for a batch)", () => {
  const v = LA.lstsq(f64(T43), f64(B42.map((row) => row[0])));
  close(v.residuals, [0.697584541062805], 'vector b: residuals', 1e-9);
  const b = LA.lstsq(f64(T43B), f64([B42.map((row) => row[0]), B42.map((row) => -row[1])]));
  const [bSol, bRes] = [
    [
      [1.468599033816421, -2.705314009661829, 1.4454106280193215],
      [-5.560386473429949, 7.874396135265691, -3.435748792270525],
    ],
    [[0.697584541062805], [1.681642512077296]],
  ];
  close(b.solution, bSol, 'batched vectors: solution');
  close(b.residuals, bRes, 'batched vectors: residuals', 1e-9);
});

test('pinv and matrixRank: wide, rank-deficient, hermitian, atol and rtol, a batch', () => {
  close(LA.pinv(f64(W34)), PINV_W34, 'pinv 3x4');
  close(
    LA.pinv(f64(RD43)),
    [
      [0.045454545454545366, 0.0909090909090909, 0.4393939393939398, -0.3939393939393943],
      [8.326672684688674e-17, 3.469446951953614e-17, -0.3333333333333336, 0.3333333333333336],
      [0.04545454545454543, 0.0909090909090909, 0.10606060606060609, -0.060606060606060635],
    ],
    'pinv of a rank-2 4x3',
    1e-9,
  );
  close(
    LA.pinv(f64(HS3), { hermitian: true }),
    [
      [-4.163336342344337e-17, 0.16666666666666666, -0.16666666666666674],
      [0.16666666666666666, 0.08333333333333326, 0.25000000000000006],
      [-0.16666666666666677, 0.25000000000000006, -0.5833333333333336],
    ],
    'pinv hermitian, rank 2 and indefinite',
    1e-9,
  );
  const sym = f64(RD3).add(f64(RD3).transpose(0, 1));
  close(
    LA.pinv(sym, { hermitian: true }),
    [
      [2.4999999999999893, -1.9999999999999918, 0.9999999999999964],
      [-1.9999999999999918, 1.4999999999999942, -0.4999999999999974],
      [0.9999999999999963, -0.4999999999999973, -1.3322676295501878e-15],
    ],
    'pinv hermitian',
    1e-9,
  );
  close(f64(W34).pinverse(), PINV_W34, 'Tensor.pinverse');
  close(kiln.pinverse(f64(W34)), PINV_W34, 'kiln.pinverse');
  const rank = (t: kiln.Tensor, want: Nested, label: string) => {
    assert.is(t.dtype, 'int64', `${label}: dtype`);
    close(t, want, label, 0);
  };
  rank(LA.matrixRank(f64(RD43)), 2, 'rank of a rank-2 4x3');
  rank(LA.matrixRank(f64(RD3)), 2, 'rank of a rank-2 3x3');
  rank(LA.matrixRank(f64(HS3), { hermitian: true }), 2, 'hermitian rank of an indefinite matrix');
  rank(
    LA.matrixRank(
      f64([
        [1, 2, 0],
        [2, 5, -1],
        [0, -1, 1],
      ]),
      { hermitian: true },
    ),
    2,
    'hermitian rank of a PSD matrix',
  );
  rank(LA.matrixRank(f64(G3), { atol: 2 }), 3, 'atol 2');
  rank(LA.matrixRank(f64(G3), { rtol: 0.5 }), 2, 'rtol 0.5');
  rank(LA.matrixRank(f64([RD3, G3])), [2, 3], 'batched ranks');
});

test('matrixNorm for every ord on a matrix and a batch, over chosen dims with keepdim; norm and vectorNorm', () => {
  const want: [kiln.linalg.MatrixOrder, Nested, Nested][] = [
    ['fro', MN_T43_FRO, [17.449928366615147, 8.724964183307574]],
    ['nuc', MN_T43_NUC, MN_T43B_NUC],
    [2, 17.28218196631979, [17.28218196631979, 8.641090983159893]],
    [-2, 0.2744479740978243, [0.2744479740978243, 0.13722398704891198]],
    [1, 20.5, [20.5, 10.25]],
    [-1, 13, [13, 6.5]],
    [Infinity, 24.5, [24.5, 12.25]],
    [-Infinity, 3, [3, 1.5]],
  ];
  for (const [ord, one, batch] of want) {
    close(LA.matrixNorm(f64(T43), ord), one, `matrixNorm ${ord}`);
    close(LA.matrixNorm(f64(T43B), ord), batch, `batched matrixNorm ${ord}`);
  }
  close(LA.matrixNorm(f64(T43)), MN_T43_FRO, "matrixNorm's default is 'fro'");
  close(
    LA.matrixNorm(f64(T43B), 1, [0, 2], true),
    [[[4], [11], [12.25], [3.5]]],
    'matrixNorm 1 over dims 0, 2, keepdim',
  );
  close(
    LA.matrixNorm(f64(T43B), 'nuc', [2, 1]),
    [19.95472601700102, 9.97736300850051],
    'matrixNorm nuc over dims 2, 1',
  );
  close(LA.norm(f64(T43)), 17.449928366615147, 'norm: the 2-norm of the flattened tensor');
  close(LA.norm(f64(T43), 2), 17.28218196631979, 'norm 2 of a 2-d tensor is the matrix 2-norm');
  close(
    LA.norm(f64(T43), null, 1),
    [3.7416573867739413, 9.12414379544733, 14.221462653327892, 2.23606797749979],
    'norm over dim 1',
  );
  close(LA.norm(f64(T43), Infinity, 0), [7, 8.5, 9], 'norm inf over dim 0');
  close(LA.norm(f64(T43B), 'nuc', [1, 2]), [19.954726017001022, 9.97736300850051], 'norm nuc over two dims');
  close(LA.norm(f64(b3), 1), 3.5, 'norm 1 of a vector');
  close(LA.vectorNorm(f64(T43B)), 19.50961301512667, 'vectorNorm of everything');
  close(
    LA.vectorNorm(f64(T43B), 3, [0, 2]),
    [3.335970135853973, 8.76941268163839, 12.03710304405326, 2.381101577952299],
    'vectorNorm 3 over dims 0, 2',
  );
  close(LA.vectorNorm(f64(T43), 0, -1), [3, 3, 3, 2], 'vectorNorm 0 counts non-zeros');
  close(LA.vectorNorm(f64(T43), -Infinity, 0, true), [[1, 0, 2]], 'vectorNorm -inf, keepdim');
});

test('cond for every p, of a tall matrix and of a batch', () => {
  const want: [kiln.linalg.MatrixOrder | null, Nested][] = [
    [null, COND_G3],
    [2, 2.1053455219897326],
    [-2, 0.4749814173280755],
    ['fro', 3.583321080453121],
    ['nuc', 9.865111850462569],
    [1, 3.8702290076335877],
    [-1, 1.282442748091603],
    [Infinity, 3.4809160305343507],
    [-Infinity, 1.0687022900763357],
  ];
  for (const [p, w] of want) close(LA.cond(f64(G3), p), w, `cond ${p}`);
  close(LA.cond(f64(T43)), 62.97070336602203, 'cond of a tall matrix');
  close(LA.cond(f64(G3B)), [2.1053455219897326, 2.3280467557247526], 'batched cond');
});

test('cond of a singular matrix is Infinity (not an error) for the orders computed through the inverse, as torch', () => {
  const sing = f64([
    [1, 2],
    [2, 4],
  ]);
  close(LA.cond(sing, 1), Infinity, 'cond 1');
  close(LA.cond(sing, -1), Infinity, 'cond -1');
  close(LA.cond(sing, 'fro'), Infinity, 'cond fro');
  close(
    LA.cond(
      f64([
        [
          [1, 2],
          [2, 4],
        ],
        [
          [2, 1],
          [1, 3],
        ],
      ]),
      Infinity,
    ),
    [Infinity, 3.2],
    'cond inf of a batch with one singular matrix',
  );
});

test('matrixPower (3, 0, -2, 1; -1 and 5 on a batch), multiDot with 1-d ends, vecdot', () => {
  close(LA.matrixPower(f64(G3), 3), MP_G3_3, 'A³');
  close(
    LA.matrixPower(f64(G3), 0),
    [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ],
    'A⁰ = I',
  );
  close(LA.matrixPower(f64(G3), -2), MP_G3_M2, 'A⁻²');
  close(
    LA.matrixPower(f64(G3), 1),
    [
      [2, -1, 0.5],
      [1, 3, -2],
      [0.5, 1, 4],
    ],
    'A¹',
  );
  close(
    LA.matrixPower(f64(G3B), -1),
    [
      [
        [0.4274809160305343, 0.13740458015267176, 0.015267175572519075],
        [-0.15267175572519084, 0.2366412213740458, 0.13740458015267173],
        [-0.015267175572519089, -0.07633587786259541, 0.21374045801526717],
      ],
      [
        [0.039999999999999994, -0.07999999999999999, 0.24],
        [0.48, 0.039999999999999994, -0.12],
        [-0.16, 0.32, 0.039999999999999994],
      ],
    ],
    'batched A⁻¹',
  );
  close(
    LA.matrixPower(f64(G3B), 5),
    [
      [
        [90.125, 108.3125, 617.53125],
        [-230.4375, -445.625, -882.5],
        [373.28125, 380.1875, 362],
      ],
      [
        [241, 250, 204],
        [408, 241, 375],
        [500, 272, 241],
      ],
    ],
    'batched A⁵',
  );
  close(f64(G3).matrixPower(-2), MP_G3_M2, 'Tensor.matrixPower');
  close(kiln.matrixPower(f64(G3), 3), MP_G3_3, 'kiln.matrixPower');
  const p0 = LA.matrixPower(f64(G3B), 0);
  assert.equal(p0.shape, [2, 3, 3]);
  close(
    LA.multiDot([f64(b3), f64(G3), f64(mT(T43)), f64(B42.map((r) => r[0]))]),
    41,
    'multiDot row vector ... column vector: a scalar',
  );
  close(
    LA.multiDot([f64(W34), f64(T43), f64(B32), f64(B23)]),
    [
      [104.5, 9.25, -12],
      [77, 7, -7],
      [-12, -2.875, -16.75],
    ],
    'multiDot of four matrices',
  );
  close(LA.multiDot([f64(b3), f64(B32)]), [2.5, 4.25], 'multiDot with a 1-d first');
  close(LA.multiDot([f64(T43), f64(b3)]), [-1.5, -2.75, -5.5, 0], 'multiDot with a 1-d last');
  close(LA.vecdot(f64(T43), f64(b3)), [-1.5, -2.75, -5.5, 0], 'vecdot over the last dim, broadcast');
  close(LA.vecdot(f64(T43.slice(0, 3)), f64(G3), 0), [9.5, 21.5, 24.5], 'vecdot over dim 0');
});

test('diagonal over chosen dims and offsets, diagEmbed with offsets, as torch', () => {
  const x = kiln.arange(0, 24, 1, { dtype: 'float64' }).reshape([2, 3, 4]);
  close(
    kiln.diagonal(x),
    [
      [0, 16],
      [1, 17],
      [2, 18],
      [3, 19],
    ],
    'diagonal of dims 0, 1',
  );
  close(
    kiln.diagonal(x, 1, 1, 2),
    [
      [1, 6, 11],
      [13, 18, 23],
    ],
    'offset 1, dims 1, 2',
  );
  close(
    x.diagonal(-1, 1, 2),
    [
      [4, 9],
      [16, 21],
    ],
    'Tensor.diagonal offset -1, dims 1, 2',
  );
  close(kiln.diagonal(x, 1, -1, -3), [[12], [16], [20]], 'offset 1, dims -1, -3');
  close(LA.diagonal(x, 5, 1, 2), [[], []], 'an offset past the matrix: empty');
  close(
    kiln.diagEmbed(f64(b23)),
    [
      [
        [1, 0, 0],
        [0, -2, 0],
        [0, 0, 0.5],
      ],
      [
        [0, 0, 0],
        [0, 1, 0],
        [0, 0, 2],
      ],
    ],
    'diagEmbed',
  );
  close(
    f64(b23).diagEmbed(1),
    [
      [
        [0, 1, 0, 0],
        [0, 0, -2, 0],
        [0, 0, 0, 0.5],
        [0, 0, 0, 0],
      ],
      [
        [0, 0, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 2],
        [0, 0, 0, 0],
      ],
    ],
    'Tensor.diagEmbed offset 1',
  );
  close(
    kiln.diagEmbed(f64(b3), -2),
    [
      [0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0],
      [1, 0, 0, 0, 0],
      [0, -2, 0, 0, 0],
      [0, 0, 0.5, 0, 0],
    ],
    'diagEmbed offset -2',
  );
  // The gradients are the adjoints: diagonal's scatters back, diagEmbed's gathers.
  const a = leaf(G3);
  kiln
    .diagonal(a, 1)
    .mul(f64([2, 3]))
    .sum()
    .backward();
  close(
    a.grad!,
    [
      [0, 2, 0],
      [0, 0, 3],
      [0, 0, 0],
    ],
    'diagonal gradient',
  );
  const v = leaf(b3);
  kiln
    .diagEmbed(v, -1)
    .mul(
      f64([
        [1, 2, 3, 4],
        [5, 6, 7, 8],
        [9, 10, 11, 12],
        [13, 14, 15, 16],
      ]),
    )
    .sum()
    .backward();
  close(v.grad!, [5, 10, 15], 'diagEmbed gradient');
});

test('float32 in, float32 out: qr, eigvalsh, svdvals, pinv agree with torch to float32 precision', () => {
  const cases: [string, kiln.Tensor, Nested][] = [
    [
      'qr R',
      LA.qr(f32(T43)).R,
      [
        [-8.18535327911377, -9.95681095123291, -10.99524974822998],
        [0, 1.4532520771026611, 3.800021171569824],
        [0, 0, 0.956197202205658],
      ],
    ],
    ['eigvalsh', LA.eigvalsh(f32(SPD3)), [2.19439697265625, 3.3867695331573486, 9.418830871582031]],
    ['svdvals', LA.svdvals(f32(T43)), [17.282180786132812, 2.3980963230133057, 0.2744483947753906]],
    [
      'pinv',
      LA.pinv(f32(W34)),
      [
        [-0.010899096727371216, 0.45049938559532166, 0.21798361837863922],
        [-0.15803813934326172, 0.19891004264354706, 0.16076292097568512],
        [0.20163489878177643, -0.0009083189070224762, -0.03269755095243454],
        [0.1798364669084549, -0.09990915656089783, 0.40326976776123047],
      ],
    ],
    ['svd S', LA.svd(f32(G4)).S, [6.9281117710706335, 5.945245313838271, 3.6575371125528187, 3.3952537042370534]],
    ['lstsq', LA.lstsq(f32(T43), f32(B42)).solution, LSTSQ_T43[0]],
    ['matrixNorm nuc', LA.matrixNorm(f32(T43), 'nuc'), MN_T43_NUC],
    ['cond', LA.cond(f32(G3)), COND_G3],
    ['matrixPower -2', LA.matrixPower(f32(G3), -2), MP_G3_M2],
  ];
  for (const [name, got, want] of cases) {
    assert.is(got.dtype, 'float32', `${name} dtype`);
    close(got, want, name, 2e-5);
  }
  const e = LA.eigh(f32(SPD3));
  assert.is(e.eigenvectors.dtype, 'float32');
  closeColumns(e.eigenvectors, EIGH_SPD3[1], 'float32 eigenvectors', 2e-5);
  assert.is(LA.matrixRank(f32(RD43)).dtype, 'int64');
  close(LA.matrixRank(f32(RD43)), 2, 'float32 rank', 0);
});

// --------------------------------------------------------------------------------------------
// gradients against torch's: A.grad of a weighted sum of the outputs, with fixed weights

test.run();
