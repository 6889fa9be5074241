// kiln.einsum (ts/ops/einsum.ts): every case against a plain loop over all label values in float64
// (written here), and, where Debian's python3-torch is installed, against torch.einsum on the same
// inputs in the same run; finite-difference gradients; each equation and shape error's code.
import { spawnSync } from 'child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';

const flat = (t: kiln.Tensor) => [...t.contiguous().data()].map(Number);

/**
 * The sum over every assignment of the labels of the products of the operands' elements
 * (size-1 dims broadcast), for letter-only equations with an explicit output.
 */
function loopEinsum(eq: string, ops: kiln.Tensor[]): { shape: number[]; data: number[] } {
  const [lhs, rhs] = eq.split('->');
  const terms = lhs.split(',');
  const size = new Map<string, number>();
  terms.forEach((t, i) => [...t].forEach((l, d) => size.set(l, Math.max(size.get(l) ?? 1, ops[i].shape[d]))));
  const labels = [...size.keys()];
  const outShape = [...rhs].map((l) => size.get(l)!);
  const data = new Array<number>(outShape.reduce((a, b) => a * b, 1)).fill(0);
  const vals = ops.map((o) => flat(o));
  const strides = ops.map((o) => o.shape.map((_, d) => o.shape.slice(d + 1).reduce((a, b) => a * b, 1)));
  const v = new Map<string, number>();
  const walk = (k: number): void => {
    if (k === labels.length) {
      let p = 1;
      terms.forEach((t, i) => {
        let off = 0;
        [...t].forEach((l, d) => (off += (ops[i].shape[d] === 1 ? 0 : v.get(l)!) * strides[i][d]));
        p *= vals[i][off];
      });
      let o = 0;
      [...rhs].forEach((l) => (o = o * size.get(l)! + v.get(l)!));
      data[o] += p;
      return;
    }
    for (let i = 0; i < size.get(labels[k])!; i++) {
      v.set(labels[k], i);
      walk(k + 1);
    }
  };
  walk(0);
  return { shape: outShape, data };
}

const r = (s: number[]) => kiln.randn(s, { dtype: 'float64' });
// [equation, operand shapes ('2x3 3x4'; '' for a 0-d operand), and the explicit letters-only
// equation the loop reference runs when it differs (implicit outputs, ellipses spelled out)].
const CASES: [string, string, string?][] = [
  ['ij,jk->ik', '2x3 3x4'],
  ['ij,jk', '2x3 3x4', 'ij,jk->ik'],
  ['bij,bjk->bik', '3x2x4 3x4x5'],
  ['ii->', '4x4'],
  ['ii', '4x4', 'ii->'],
  ['ii->i', '3x3'],
  ['iij->ji', '3x3x2'],
  ['ij->', '3x4'],
  ['ij->j', '3x4'],
  ['ij->ji', '3x4'],
  ['ba', '3x4', 'ba->ab'],
  ['i,j->ij', '3 4'],
  ['i,i->i', '5 5'],
  ['i,i', '5 5', 'i,i->'],
  ['ij,ij->ij', '2x3 1x3'],
  ['ij,jk', '2x1 3x4', 'ij,jk->ik'],
  ['ij,jk,kl->il', '2x3 3x4 4x2'],
  ['ab,bc,ca->', '2x3 3x4 4x2'],
  ['bhqd,bhkd->bhqk', '2x2x3x4 2x2x5x4'],
  ['ji,jk->ik', '3x2 3x4'],
  ['bji,bkj->bik', '2x3x2 2x4x3'],
  ['ijk,ikl->jl', '2x3x4 2x4x3'],
  ['abc,cd->dba', '2x3x4 4x2'],
  ['Ab,bA', '2x3 3x2', 'Ab,bA->'],
  ['ij,k->ikj', '2x3 4'],
  ['ij,jk->ijk', '2x3 3x4'],
  [',i->i', ' 3'],
  ['i,i,i->', '4 4 4'],
  ['ij,ji->', '3x3 3x3'],
  ['bi,bj->bij', '2x3 1x4'],
  ['...ij,...jk->...ik', '2x3x4 2x4x5', 'xij,xjk->xik'],
  ['...ij,...jk', '2x2x3x4 2x4x5', 'yxij,xjk->yxik'],
  ['...ij,jk->...ik', '5x2x3 3x2', 'xij,jk->xik'],
  ['...ij->...', '2x3x4', 'xij->x'],
  ['...ij->ij', '2x3x4', 'xij->ij'],
  ['i...->...', '3x2x2', 'ixy->xy'],
  ['...ii->...i', '2x3x3', 'xii->xi'],
  ['b...,b...->...', '2x3 2x1', 'bx,bx->x'],
];
const shapesOf = (s: string): number[][] => s.split(' ').map((d) => (d ? d.split('x').map(Number) : []));

test('values: every case against a plain loop over the labels (float64)', () => {
  kiln.manualSeed(2);
  for (const [eq, shapes, ref] of CASES) {
    const ops = shapesOf(shapes).map(r);
    const got = kiln.einsum(eq, ...ops);
    const want = loopEinsum(ref ?? eq, ops);
    assert.equal(got.shape, want.shape, eq);
    const g = flat(got);
    g.forEach((x, i) =>
      assert.ok(
        Math.abs(x - want.data[i]) <= 1e-12 * (1 + Math.abs(want.data[i])),
        `${eq}[${i}]: ${x} vs ${want.data[i]}`,
      ),
    );
  }
});

const PY_EINSUM = `
import json, sys, torch
out = []
for c in json.load(sys.stdin):
    ops = [torch.tensor(x, dtype=torch.float64).reshape(s) for x, s in zip(c['xs'], c['shapes'])]
    y = torch.einsum(c['eq'], *ops)
    out.append({'shape': list(y.shape), 'y': y.flatten().tolist()})
print(json.dumps(out))
`;

test(`the same cases match torch.einsum${torchSuffix}`, () => {
  if (skipWithoutTorch('einsum vs PyTorch')) return;
  kiln.manualSeed(4);
  const all = CASES;
  const ins = all.map(([, shapes]) => shapesOf(shapes).map(r));
  const cases = all.map(([eq, shapes], i) => ({ eq, shapes: shapesOf(shapes), xs: ins[i].map(flat) }));
  const p = spawnSync(PY, ['-c', PY_EINSUM], { input: JSON.stringify(cases), encoding: 'utf8', maxBuffer: 16 << 20 });
  assert.is(p.status, 0, `${p.error?.message ?? ''} ${p.stderr}`);
  const want = JSON.parse(p.stdout) as { shape: number[]; y: number[] }[];
  want.forEach((w, i) => {
    const got = kiln.einsum(all[i][0], ...ins[i]);
    assert.equal(got.shape, w.shape, all[i][0]);
    flat(got).forEach((x, j) =>
      assert.ok(Math.abs(x - w.y[j]) <= 1e-12 * (1 + Math.abs(w.y[j])), `${all[i][0]}[${j}]: ${x} vs ${w.y[j]}`),
    );
  });
});

test('float32 runs on the matmul kernels and agrees with matmul; a list of operands works too', () => {
  const a = kiln.randn([4, 8, 16]),
    b = kiln.randn([4, 16, 8]);
  assert.equal(flat(kiln.einsum('bij,bjk->bik', a, b)), flat(a.matmul(b)));
  assert.equal(flat(kiln.einsum('bij,bjk->bik', [a, b])), flat(a.matmul(b)));
  assert.is(
    kiln.einsum('ij,jk', kiln.ones([2, 2], { dtype: 'int64' }), kiln.ones([2, 2], { dtype: 'int64' })).dtype,
    'int64',
  );
});

test('an identity equation hands back a new handle (disposing it keeps the input)', () => {
  const x = kiln.randn([2, 3]);
  const y = kiln.einsum('ij->ij', x);
  assert.ok(y !== x);
  y.dispose();
  assert.is(x.shape.length, 2);
  assert.is(flat(x).length, 6);
});

test('gradients by finite differences (float64)', () => {
  kiln.manualSeed(6);
  const g = (s: number[]) => r(s).requiresGrad_();
  const cases: [string, kiln.Tensor[]][] = [
    ['ij,jk->ik', [g([2, 3]), g([3, 2])]],
    ['bij,bjk->bik', [g([2, 2, 3]), g([2, 3, 2])]],
    ['ii->i', [g([3, 3])]],
    ['ii', [g([3, 3])]],
    ['i,j->ij', [g([2]), g([3])]],
    ['ij,ij->ij', [g([2, 3]), g([1, 3])]],
    ['ij,jk', [g([2, 1]), g([3, 2])]],
    ['ab,bc,ca->', [g([2, 3]), g([3, 2]), g([2, 2])]],
    ['...ij,...jk->...ik', [g([2, 2, 3]), g([3, 2])]],
    ['iij->j', [g([2, 2, 3])]],
  ];
  for (const [eq, ins] of cases) {
    try {
      kiln.gradcheck((...t) => kiln.einsum(eq, ...t), ins);
    } catch (e) {
      assert.unreachable(`${eq}: ${(e as Error).message}`);
    }
  }
});

test('second-order gradients', () => {
  kiln.manualSeed(9);
  const g = (s: number[]) => r(s).requiresGrad_();
  kiln.gradgradcheck((a, b) => kiln.einsum('ij,jk', a, b).square(), [g([2, 3]), g([3, 2])]);
  kiln.gradgradcheck((a) => kiln.einsum('iij->j', a).square(), [g([2, 2, 3])]);
});

test('errors: bad equations (ERR_ARG), mismatched dims and sizes (ERR_SHAPE)', () => {
  const m = kiln.randn([2, 3]),
    s = kiln.randn([3, 3]);
  const bad: [string, kiln.Tensor[], string][] = [
    ['i$', [kiln.randn([2, 2])], 'ERR_ARG'],
    ['i.j', [m], 'ERR_ARG'],
    ['...i...', [m], 'ERR_ARG'],
    ['ij->i->j', [m], 'ERR_ARG'],
    ['ij,jk', [m], 'ERR_ARG'],
    ['ij', [m, m], 'ERR_ARG'],
    ['i->ii', [kiln.randn([2])], 'ERR_ARG'],
    ['ij->k', [m], 'ERR_ARG'],
    ['ij-', [m], 'ERR_ARG'],
    ['ij', [kiln.randn([2, 3, 4])], 'ERR_SHAPE'],
    ['ijk...', [m], 'ERR_SHAPE'],
    ['ii', [m], 'ERR_SHAPE'],
    ['ij,jk', [m, m], 'ERR_SHAPE'],
    ['...i,...i', [kiln.randn([2, 3]), kiln.randn([4, 3])], 'ERR_SHAPE'],
  ];
  for (const [eq, ops, code] of bad) throwsCode(() => kiln.einsum(eq, ...ops), code, `einsum('${eq}')`);
  throwsCode(() => kiln.einsum(3 as never, s), 'ERR_ARG', 'a number for the equation');
  throwsCode(() => kiln.einsum('ij', [1, 2] as never), 'ERR_ARG', 'a non-tensor operand');
});

test.run();
