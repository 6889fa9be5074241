// kiln.linalg's decompositions and the functions built on them against PyTorch 1.13 (torch.linalg,
// float64; the numbers are embedded below): qr, eigh, eigvalsh, svd, svdvals, lstsq, pinv,
// matrixRank, matrixNorm, norm, vectorNorm, cond, matrixPower, multiDot, vecdot, diagonal and
// diagEmbed; their gradients against torch's; empty, 1x1 and view inputs; the blocked paths of
// large matrices; and the error codes. Eigenvectors and singular vectors are compared up to the
// sign of each vector (LAPACK leaves it free); QR's signs are LAPACK's Householder ones, as torch's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';

const LA = kiln.linalg;
type Nested = number | Nested[];
const f64 = (d: Nested) => kiln.tensor(d as kiln.TensorData, { dtype: 'float64' });
const f32 = (d: Nested) => kiln.tensor(d as kiln.TensorData, { dtype: 'float32' });
const leaf = (d: Nested) => kiln.tensor(d as kiln.TensorData, { dtype: 'float64', requiresGrad: true });
const shapeOf = (x: Nested): number[] => (Array.isArray(x) ? [x.length, ...(x.length ? shapeOf(x[0]) : [])] : []);
const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);

/** got has want's shape and values within tol (relative above 1, absolute below); NaN and infinities exactly. */
function close(got: kiln.Tensor, want: Nested, label: string, tol = 1e-10): void {
  assert.equal(got.shape, shapeOf(want), `${label}: shape`);
  const g = flat(got.to('float64').toArray());
  const w = flat(want);
  g.forEach((x, i) => {
    if (Number.isNaN(w[i])) return assert.ok(Number.isNaN(x), `${label}[${i}]: got ${x}, want NaN`);
    if (!Number.isFinite(w[i])) return assert.is(x, w[i], `${label}[${i}]`);
    assert.ok(Math.abs(x - w[i]) <= tol * Math.max(1, Math.abs(w[i])), `${label}[${i}]: got ${x}, want ${w[i]}`);
  });
}

/** Compares the gradient of each input of loss(...inputs) (float64 leaves) with torch's. */
function gradsMatch(
  label: string,
  loss: (...xs: kiln.Tensor[]) => kiln.Tensor,
  inputs: Nested[],
  want: Nested[],
): void {
  const xs = inputs.map(leaf);
  loss(...xs).backward();
  xs.forEach((x, i) => close(x.grad!, want[i], `${label}: gradient of input ${i}`, 1e-9));
}

/** The sign of each column of got against want's, [..., 1, k]. */
const colSigns = (got: kiln.Tensor, want: Nested) => got.mul(f64(want).to(got.dtype)).sum(-2, true).sign();
/** The sign of each row of got against want's, [..., k, 1]. */
const rowSigns = (got: kiln.Tensor, want: Nested) => got.mul(f64(want).to(got.dtype)).sum(-1, true).sign();

/** Eigenvectors (columns) equal to want's up to each column's sign. */
function closeColumns(got: kiln.Tensor, want: Nested, label: string, tol = 1e-10): void {
  close(got.mul(colSigns(got, want)), want, label, tol);
}

/** U and Vh equal to want's up to a sign per singular pair (U's column j and Vh's row j flip together). */
function closeSvd(r: kiln.linalg.SVD, [U, S, Vh]: Nested[], label: string, tol = 1e-10): void {
  close(r.S, S, `${label} S`, tol);
  const su = colSigns(r.U, U),
    sv = rowSigns(r.Vh, Vh);
  close(r.U.mul(su), U, `${label} U`, tol);
  close(r.Vh.mul(sv), Vh, `${label} Vh`, tol);
  const k = r.S.shape[r.S.ndim - 1];
  close(
    su.narrow(-1, 0, k),
    sv.narrow(-2, 0, k).transpose(-1, -2).toArray() as Nested,
    `${label}: pairs flip together`,
    0,
  );
}

// Inputs (torch saw the same float64 values).
const SPD3 = [
  [4, 1, 2],
  [1, 5, 3],
  [2, 3, 6],
];
const SPD3B = [
  SPD3,
  [
    [2, -1, 0],
    [-1, 2, -1],
    [0, -1, 2],
  ],
];
const G3 = [
  [2, -1, 0.5],
  [1, 3, -2],
  [0.5, 1, 4],
];
const G3B = [
  G3,
  [
    [1, 2, 0],
    [0, 1, 3],
    [4, 0, 1],
  ],
];
const G4 = [
  [3, 1, -1, 2],
  [1, -4, 2, 0.5],
  [2, 0, 5, -1],
  [-1, 2, 1, 6],
];
const B32 = [
  [1, 2],
  [0, -1],
  [3, 0.5],
];
const B23 = [
  [1, 0, -1],
  [2, 0.5, 3],
];
const b3 = [1, -2, 0.5];
const b23 = [
  [1, -2, 0.5],
  [0, 1, 2],
];
const T43 = [
  [1, 2, 3],
  [4, 5, 6.5],
  [7, 8.5, 9],
  [-1, 0, 2],
];
const T43B = [
  T43,
  [
    [-0.5, 0, 1],
    [3.5, 4.25, 4.5],
    [2, 2.5, 3.25],
    [0.5, 1, 1.5],
  ],
];
const W34 = [
  [1, -2, 3, 0.5],
  [2, 0, 1, -1],
  [0, 1, -1, 2],
];
const B42 = [
  [1, 0],
  [2, 1],
  [0, 3],
  [1, 1],
];
const RD43 = [
  [1, 2, 3],
  [2, 4, 6],
  [1, 0, 1],
  [0, 2, 2],
];
const RD3 = [
  [1, 2, 3],
  [2, 4, 6],
  [1, 0, 1],
];
const HS3 = [
  [1, 2, 0],
  [2, 3, 1],
  [0, 1, -1],
];
const X3 = [
  [1, 0.2, 0],
  [0.3, 1.1, 0.1],
  [-0.2, 0.4, 0.9],
];
const W3 = [
  [0.5, -1, 0.3],
  [0.2, 0.7, -0.4],
  [1.1, 0.1, -0.6],
];
const W43 = [
  [0.5, -1, 0.3],
  [0.2, 0.7, -0.4],
  [1.1, 0.1, -0.6],
  [-0.3, 0.8, 0.4],
];
const W32 = [
  [0.5, -1],
  [0.2, 0.7],
  [1.1, 0.1],
];
const W34b = [
  [0.5, -1, 0.3, 0.9],
  [0.2, 0.7, -0.4, -0.2],
  [1.1, 0.1, -0.6, 0.3],
];
const c3 = [1.5, -0.5, 2];
// torch's results that several tests compare with.
const PINV_W34 = [
  [-0.010899182561307903, 0.45049954586739327, 0.21798365122615815],
  [-0.15803814713896447, 0.19891008174386918, 0.16076294277929154],
  [0.20163487738419605, -0.0009082652134423455, -0.0326975476839236],
  [0.17983651226158026, -0.09990917347865533, 0.4032697547683928],
];
const EIGH_SPD3 = [
  [2.1943971674224096, 3.3867701566075494, 9.418832675970037],
  [
    [-0.4412246968734643, -0.8155834192895002, -0.3743587224160361],
    [-0.5773502691896256, 0.577350269189626, -0.5773502691896255],
    [0.6870134158337712, -0.038605088352622774, -0.7256185041863938],
  ],
];
const QR_W34 = [
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
];
const QR_T43B = [
  [
    [
      [-0.12216944435630528, 0.5391923006803994, -0.4101942627961928],
      [-0.48867777742522095, 0.09243296583092556, 0.8111499160699458],
      [-0.8551861104941366, -0.010270329536769651, -0.3806307123243933],
      [0.12216944435630524, 0.8370318572467136, 0.16999041521283753],
    ],
    [
      [-0.12216944435630528, -0.8370318572467137, -0.16999041521283673],
      [0.8551861104941366, 0.01027032953676954, 0.3806307123243938],
      [0.48867777742522095, -0.0924329658309253, -0.8111499160699462],
      [0.12216944435630524, -0.539192300680399, 0.41019426279619164],
    ],
  ],
  [
    [
      [-8.18535277187245, -9.956809715038878, -10.995249992067471],
      [0, 1.4532516294528848, 3.800021928604715],
      [0, 0, 0.9561960855722041],
    ],
    [
      [4.092676385936225, 4.978404857519439, 5.497624996033736],
      [0, -0.7266258147264414, -1.9000109643023562],
      [0, 0, -0.47809804278610224],
    ],
  ],
];
const QR_T43 = [
  [
    [-0.12216944435630528, 0.5391923006803994, -0.4101942627961928],
    [-0.48867777742522095, 0.09243296583092556, 0.8111499160699458],
    [-0.8551861104941366, -0.010270329536769651, -0.3806307123243933],
    [0.12216944435630524, 0.8370318572467136, 0.16999041521283753],
  ],
  [
    [-8.18535277187245, -9.956809715038878, -10.995249992067471],
    [0, 1.4532516294528848, 3.800021928604715],
    [0, 0, 0.9561960855722041],
  ],
];
const MP_G3_M2 = [
  [0.16152904842375146, 0.09008799021036071, 0.02866965794534117],
  [-0.10349047258318278, 0.024532369908513495, 0.059553639065322524],
  [0.001864693199696983, -0.03647806071907231, 0.03496299749431851],
];
const MP_G3_3 = [
  [4.5, -11.75, 30.625],
  [7.25, 0.5, -64],
  [21.625, 29.75, 46],
];
const LSTSQ_T43 = [
  [
    [1.468599033816421, -0.7028985507246316],
    [-2.705314009661829, 1.0579710144927452],
    [1.4454106280193215, -0.1681159420289826],
  ],
  [0.697584541062805, 1.5695652173913075],
  3,
  [17.282181966319786, 2.398096076583408, 0.27444797409782395],
];
const SVDVALS_T43B = [
  [17.28218196631979, 2.3980960765834087, 0.2744479740978243],
  [8.641090983159893, 1.1990480382917037, 0.13722398704891198],
];
const SVDR_W34 = [
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
  ],
];
const SVDR_T43 = [
  [
    [-0.210152999188976, -0.36998426144353913, 0.5411657848517589],
    [-0.5269808272907571, -0.2133677662714243, -0.7629412910874115],
    [-0.8219338068825087, 0.28415385656622655, 0.3464244583132454],
    [-0.05051476718202891, -0.8583952634998413, 0.0710652822553142],
  ],
  [17.28218196631979, 2.3980960765834087, 0.2744479740978243],
  [
    [-0.4641253173343143, -0.5810404908883974, -0.668565357880209],
    [0.677210954470158, 0.2537431391971847, -0.690651679543296],
    [-0.5709404635817465, 0.7733087140712487, -0.2757183704190425],
  ],
];
const MN_T43_NUC = 19.954726017001022;
const MN_T43_FRO = 17.449928366615147;
const MN_T43B_NUC = [19.954726017001022, 9.97736300850051];
const EIGVALSH_SPD3B = [
  [2.194397167422409, 3.3867701566075485, 9.418832675970037],
  [0.585786437626905, 1.9999999999999998, 3.414213562373095],
];
const COND_G3 = 2.1053455219897326;
const G_PINV = [
  [-0.026233768162210562, -0.0019155239106386258, -0.032658940225259586, -0.020821299437964604],
  [0.13982408857936884, 0.20051922082228898, 0.006578611962867464, -0.10505386482934738],
  [-0.10902127617449597, -0.13362412669186066, -0.0401000329153334, -0.0442461274986578],
];
const mT = (m: number[][]) => m[0].map((_, j) => m.map((r) => r[j]));

// --------------------------------------------------------------------------------------------
// values against torch

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
