/**
 * The GEMM's fused forms: linear (x @ W^T + b, with an optional fused activation), addmm
 * (beta * input + alpha * m1 @ m2, and its in-place form that accumulates into an existing
 * buffer), bmm, and gelu. Each runs as one native GEMM call with the bias, scaling and
 * activation applied as C is stored; transposed operands are read in place, never copied.
 */
import { inplaceNeedsGrad, rebase } from '../autograd/inplace';
import { needsGrad, record } from '../autograd/node';
import { gradMode, noGrad } from '../autograd/grad_mode';
import { fromNumbers } from '../creation';
import { DType, FLOAT_DTYPES, NUMERIC_DTYPES, isFloating, promoteTypes } from '../dtype';
import { KilnError } from '../errors';
import { broadcastShapes, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { bumpVersion, castTo, checkTensor, sumTo } from './kinds';
import { GEMM_ACT, gemmInto, matmul, refMatmul } from './linalg';
import { expandRaw, permuteRaw } from './movement';
import type { Case, OpRow, Rng } from './row';
import { LAYOUTS, erfRef, makeInput, randInt } from './samples';
import { gelu } from './activation';

export { gelu };

/** Activations the GEMM can apply as it stores (a kiln extension of F.linear). */
export type LinearActivation = 'relu' | 'gelu' | 'geluTanh';

export interface LinearOptions {
  /** Fused activation: 'relu', 'gelu' (erf form) or 'geluTanh' (tanh approximation). */
  activation?: LinearActivation | null;
}

const need2d = (op: string, name: string, t: Tensor): void => {
  if (t.ndim !== 2) throw new KilnError('ERR_SHAPE', `${op}: ${name} must be 2-d, got ${shapeStr(t._shape)}`);
};

const checkInner = (op: string, a: Tensor, b: Tensor): void => {
  if (a._shape[a.ndim - 1] !== b._shape[b.ndim - 2])
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: shapes ${shapeStr(a._shape)} and ${shapeStr(b._shape)} cannot be multiplied (${a._shape[a.ndim - 1]} != ${b._shape[b.ndim - 2]})`,
    );
};

const checkScalars = (op: string, dtype: DType, alpha: number, beta: number): void => {
  for (const [n, v] of [
    ['alpha', alpha],
    ['beta', beta],
  ] as const) {
    if (!Number.isFinite(v)) throw new KilnError('ERR_ARG', `${op}: ${n} must be a finite number, got ${v}`);
    if (!isFloating(dtype) && !Number.isInteger(v))
      throw new KilnError('ERR_ARG', `${op}: ${n} must be an integer for ${dtype} operands, got ${v}`);
  }
};

/** A bias operand the kernel can read: expanded to [M, N] with a last stride of 0 or 1. */
function biasView(bias: Tensor, shape: number[]): Tensor {
  const e = expandRaw(bias, shape);
  const last = e._strides[e.ndim - 1];
  if (last === 0 || last === 1 || shape[shape.length - 1] <= 1) return e;
  const c = e.contiguous();
  e.dispose();
  return c;
}

/**
 * y = input @ weight^T + bias (torch.nn.functional.linear), as one GEMM with the bias added as
 * it stores; `activation` fuses relu or gelu as well (a kiln extension).
 * @example
 * const y = kiln.nn.functional.linear(x, w, b, { activation: 'relu' }); // relu(x @ w.T + b)
 */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null, opts: LinearOptions = {}): Tensor {
  checkTensor(input, 'linear', 'input');
  checkTensor(weight, 'linear', 'weight');
  if (bias) checkTensor(bias, 'linear', 'bias');
  need2d('linear', 'weight', weight);
  if (input.ndim < 1) throw new KilnError('ERR_SHAPE', 'linear: input needs at least 1 dim');
  const [N, K] = weight._shape;
  if (input._shape[input.ndim - 1] !== K)
    throw new KilnError(
      'ERR_SHAPE',
      `linear: input ${shapeStr(input._shape)} has ${input._shape[input.ndim - 1]} features, weight ${shapeStr(weight._shape)} expects ${K}`,
    );
  if (bias && !(bias.ndim === 1 && bias._shape[0] === N) && !(bias.ndim === 0))
    throw new KilnError('ERR_SHAPE', `linear: bias must have shape [${N}], got ${shapeStr(bias._shape)}`);
  const act = opts.activation ?? null;
  if (act !== null && !(act in GEMM_ACT) && act !== undefined)
    throw new KilnError('ERR_ARG', `linear: unknown activation '${act as string}' (relu, gelu, geluTanh)`);
  let dtype = promoteTypes(input.dtype, weight.dtype);
  if (bias) dtype = promoteTypes(dtype, bias.dtype);
  if (!isFloating(dtype)) throw new KilnError('ERR_DTYPE', `linear: needs floating operands, got ${dtype}`);
  const x = castTo(input, dtype),
    w = castTo(weight, dtype),
    b = bias ? castTo(bias, dtype) : null;
  const lead = x._shape.slice(0, -1);
  const M = lead.reduce((p, s) => p * s, 1);
  // Views for the kernel only: made without autograd, so no graph nodes hold them.
  const x2 = noGrad(() => x.reshape([M, K]));
  const wt = permuteRaw(w, [1, 0]);
  const inputs = b ? [x, w, b] : [x, w];
  // GELU's backward needs the pre-activation: with a graph to record it is applied after the GEMM.
  const split = (act === 'gelu' || act === 'geluTanh') && gradMode.enabled && needsGrad(inputs);
  const fused = act && !split ? GEMM_ACT[act] : 0;
  const out = Tensor._empty([M, N], dtype, 'linear');
  const bv = b ? biasView(b, [M, N]) : null;
  gemmInto(out, x2, wt, { bias: bv, act: fused });
  bv?.dispose();
  wt.dispose();
  if (x2 !== x) x2.dispose();
  const z = record(
    'linear',
    out,
    inputs,
    (g, c) => {
      const [xi, wi] = c.inputs;
      const gz = fused === GEMM_ACT.relu ? g.mul(c.output!.gt(0)) : g;
      const g2 = gz.reshape([M, N]);
      const xr = xi.reshape([M, K]);
      return [
        g2.matmul(wi).reshape(xi._shape),
        g2.transpose(0, 1).matmul(xr),
        c.inputs[2] ? sumTo(g2, c.inputs[2]._shape) : null,
      ];
    },
    {},
    fused === GEMM_ACT.relu,
  );
  const shaped = z.reshape([...lead, N]);
  if (shaped !== z) z.dispose();
  for (const t of [x !== input ? x : null, w !== weight ? w : null, b && b !== bias ? b : null]) t?.dispose();
  if (!split) return shaped;
  const y = gelu(shaped, { approximate: act === 'geluTanh' ? 'tanh' : 'none' });
  shaped.dispose();
  return y;
}

export interface AddmmOptions {
  beta?: number;
  alpha?: number;
}

/**
 * beta * input + alpha * (mat1 @ mat2) (torch.addmm); input broadcasts to the product's shape.
 * @example
 * kiln.addmm(bias, x, w, { beta: 1, alpha: 0.5 });
 */
export function addmm(input: Tensor, mat1: Tensor, mat2: Tensor, opts: AddmmOptions = {}): Tensor {
  for (const [t, n] of [
    [input, 'input'],
    [mat1, 'mat1'],
    [mat2, 'mat2'],
  ] as const)
    checkTensor(t, 'addmm', n);
  need2d('addmm', 'mat1', mat1);
  need2d('addmm', 'mat2', mat2);
  checkInner('addmm', mat1, mat2);
  const shape = [mat1._shape[0], mat2._shape[1]];
  if (input.ndim > 2 || broadcastShapes('addmm', input._shape, shape).some((s, i) => s !== shape[i]))
    throw new KilnError('ERR_SHAPE', `addmm: input ${shapeStr(input._shape)} does not broadcast to ${shapeStr(shape)}`);
  const dtype = promoteTypes(promoteTypes(input.dtype, mat1.dtype), mat2.dtype);
  if (dtype === 'bool') throw new KilnError('ERR_DTYPE', 'addmm: not defined for bool');
  const beta = opts.beta ?? 1,
    alpha = opts.alpha ?? 1;
  checkScalars('addmm', dtype, alpha, beta);
  const ci = castTo(input, dtype),
    a = castTo(mat1, dtype),
    b = castTo(mat2, dtype);
  let out: Tensor;
  if (beta === 0 || beta === 1) {
    out = Tensor._empty(shape, dtype, 'addmm');
    const bv = beta === 1 ? biasView(ci, shape) : null;
    gemmInto(out, a, b, { alpha, bias: bv });
    bv?.dispose();
  } else {
    const e = expandRaw(ci, shape);
    out = e.clone();
    e.dispose();
    gemmInto(out, a, b, { alpha, beta });
  }
  for (const t of [ci !== input ? ci : null, a !== mat1 ? a : null, b !== mat2 ? b : null]) t?.dispose();
  if (!isFloating(dtype)) return out;
  return record('addmm', out, [input, mat1, mat2], (g, c) => {
    const [x, m1, m2] = c.inputs;
    const gi = beta === 0 ? null : sumTo(beta === 1 ? g : g.mul(beta), x._shape);
    const ga = g.matmul(m2.transpose(0, 1)),
      gb = m1.transpose(0, 1).matmul(g);
    return alpha === 1 ? [gi, ga, gb] : [gi, ga.mul(alpha), gb.mul(alpha)];
  });
}

/**
 * In place: self = beta * self + alpha * (mat1 @ mat2) (Tensor.addmm_). With beta = 1 this
 * accumulates a product into an existing buffer in one pass, as gradient accumulation does.
 */
export function addmm_(self: Tensor, mat1: Tensor, mat2: Tensor, opts: AddmmOptions = {}): Tensor {
  checkTensor(self, 'addmm_', 'self');
  need2d('addmm_', 'self', self);
  need2d('addmm_', 'mat1', mat1);
  need2d('addmm_', 'mat2', mat2);
  checkInner('addmm_', mat1, mat2);
  if (self._shape[0] !== mat1._shape[0] || self._shape[1] !== mat2._shape[1])
    throw new KilnError(
      'ERR_SHAPE',
      `addmm_: self ${shapeStr(self._shape)} is not the product's shape [${mat1._shape[0]}, ${mat2._shape[1]}]`,
    );
  const beta = opts.beta ?? 1,
    alpha = opts.alpha ?? 1;
  checkScalars('addmm_', self.dtype, alpha, beta);
  if (promoteTypes(mat1.dtype, mat2.dtype) !== self.dtype && !isFloating(self.dtype))
    throw new KilnError('ERR_DTYPE', `addmm_: cannot write ${promoteTypes(mat1.dtype, mat2.dtype)} into ${self.dtype}`);
  if (inplaceNeedsGrad('addmm_', self, [mat1, mat2]))
    return rebase('addmm_', self, (s) => addmm(s, mat1, mat2, { alpha, beta }));
  const a = castTo(mat1, self.dtype),
    b = castTo(mat2, self.dtype);
  const rowsOk = (self._strides[1] === 1 || self._shape[1] <= 1) && self._strides[0] !== 0;
  if (rowsOk) gemmInto(self, a, b, { alpha, beta });
  else {
    const tmp = addmm(self, a, b, { alpha, beta });
    self.copy_(tmp);
    tmp.dispose();
  }
  for (const t of [a !== mat1 ? a : null, b !== mat2 ? b : null]) t?.dispose();
  bumpVersion(self);
  return self;
}

/**
 * Batched matrix product of [B, M, K] and [B, K, N] (torch.bmm): no broadcasting.
 */
export function bmm(a: Tensor, b: Tensor): Tensor {
  checkTensor(a, 'bmm', 'input');
  checkTensor(b, 'bmm', 'mat2');
  if (a.ndim !== 3 || b.ndim !== 3)
    throw new KilnError(
      'ERR_SHAPE',
      `bmm: both operands must be 3-d, got ${shapeStr(a._shape)} and ${shapeStr(b._shape)}`,
    );
  if (a._shape[0] !== b._shape[0])
    throw new KilnError('ERR_SHAPE', `bmm: batch sizes differ (${a._shape[0]} and ${b._shape[0]})`);
  checkInner('bmm', a, b);
  return matmul(a, b);
}

// ---- Op-table rows (conformance, gradient and error suites) ----

const refLinear = (x: number[], w: number[], b: number[] | null, M: number, K: number, N: number, act: string) => {
  const out = new Array<number>(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = b ? b[j] : 0;
      for (let k = 0; k < K; k++) s += x[i * K + k] * w[j * K + k];
      out[i * N + j] =
        act === 'relu'
          ? Math.max(s, 0)
          : act === 'gelu'
            ? 0.5 * s * (1 + erfRef(s / Math.SQRT2))
            : act === 'geluTanh'
              ? 0.5 * s * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (s + 0.044715 * s ** 3)))
              : s;
    }
  return out;
};

export const linearRow: OpRow<typeof linear> = {
  name: 'linear',
  kind: 'custom',
  native: null,
  dtypes: FLOAT_DTYPES,
  fn: linear,
  grad: (g) => [g, g],
  cases: (rng: Rng, dtype) => {
    const out: Case[] = [];
    const shapes: [number, number, number][] = [
      [1, 5, 3],
      [7, 1, 4],
      [33, 17, 40],
      [randInt(rng, 1, 50), randInt(rng, 1, 50), randInt(rng, 1, 50)],
    ];
    for (const [M, K, N] of shapes)
      for (const act of [null, 'relu', 'gelu', 'geluTanh'] as const)
        for (const withBias of [true, false]) {
          const x = makeInput(rng, [M, K], dtype, 'contiguous', [-2, 2]);
          const w = makeInput(rng, [N, K], dtype, LAYOUTS[randInt(rng, 0, 3)], [-2, 2]);
          const b = withBias ? makeInput(rng, [N], dtype, 'contiguous', [-2, 2]) : null;
          out.push({
            label: `[${M},${K}] x [${N},${K}]^T ${withBias ? '+ b ' : ''}${act ?? ''}`,
            got: linear(x.t, w.t, b?.t ?? null, { activation: act }),
            want: { shape: [M, N], data: refLinear(x.ref.data, w.ref.data, b?.ref.data ?? null, M, K, N, act ?? '') },
            tol: 8 * (K + 1),
          });
          for (const t of [x.t, w.t, b?.t]) t?.dispose();
        }
    const x3 = makeInput(rng, [2, 3, 4], dtype, 'contiguous', [-2, 2]),
      w3 = makeInput(rng, [5, 4], dtype, 'contiguous', [-2, 2]);
    out.push({
      label: '[2,3,4] leading dims',
      got: linear(x3.t, w3.t),
      want: { shape: [2, 3, 5], data: refLinear(x3.ref.data, w3.ref.data, null, 6, 4, 5, '') },
      tol: 40,
    });
    return out;
  },
  gradSamples: (rng) => {
    const f = (s: number[]) => makeInput(rng, s, 'float64').t.requiresGrad_();
    return [
      { label: 'bias', fn: (x, w, b) => linear(x, w, b), inputs: [f([3, 4]), f([2, 4]), f([2])] },
      { label: 'no bias, 3-d input', fn: (x, w) => linear(x, w), inputs: [f([2, 3, 4]), f([5, 4])] },
      {
        label: 'relu',
        fn: (x, w, b) => linear(x, w, b, { activation: 'relu' }),
        inputs: [f([4, 3]), f([3, 3]), f([3])],
      },
      {
        label: 'gelu',
        fn: (x, w, b) => linear(x, w, b, { activation: 'gelu' }),
        inputs: [f([4, 3]), f([3, 3]), f([3])],
      },
      {
        label: 'geluTanh',
        fn: (x, w) => linear(x, w, null, { activation: 'geluTanh' }),
        inputs: [f([2, 3]), f([2, 3])],
      },
    ];
  },
  errors: () => [
    {
      label: 'features',
      run: () => linear(fromNumbers([1, 2, 3], [1, 3], 'float32'), fromNumbers([1, 2], [1, 2], 'float32')),
      code: 'ERR_SHAPE',
    },
    {
      label: 'bias shape',
      run: () =>
        linear(
          fromNumbers([1, 2], [1, 2], 'float32'),
          fromNumbers([1, 2], [1, 2], 'float32'),
          fromNumbers([1, 2], [2], 'float32'),
        ),
      code: 'ERR_SHAPE',
    },
    {
      label: 'activation',
      run: () =>
        linear(fromNumbers([1, 2], [1, 2], 'float32'), fromNumbers([1, 2], [1, 2], 'float32'), null, {
          activation: 'tanh' as never,
        }),
      code: 'ERR_ARG',
    },
    {
      label: 'integer',
      run: () => linear(fromNumbers([1, 2], [1, 2], 'int64'), fromNumbers([1, 2], [1, 2], 'int64')),
      code: 'ERR_DTYPE',
    },
  ],
};

export const addmmRow: OpRow<typeof addmm> = {
  name: 'addmm',
  kind: 'custom',
  native: null,
  dtypes: NUMERIC_DTYPES,
  fn: addmm,
  grad: (g) => [g, g, g],
  cases: (rng: Rng, dtype) => {
    const out: Case[] = [];
    const float = isFloating(dtype);
    const scal: [number, number][] = float
      ? [
          [1, 1],
          [0, 2],
          [0.5, -1.5],
        ]
      : [
          [1, 1],
          [0, 2],
          [3, 1],
        ];
    for (const inShape of [[5], [4, 1], [4, 5], []] as number[][])
      for (const [beta, alpha] of scal) {
        const M = 4,
          K = randInt(rng, 1, 20),
          N = 5;
        const inp = makeInput(rng, inShape, dtype, 'contiguous', [-2, 2]);
        const a = makeInput(rng, [M, K], dtype, LAYOUTS[randInt(rng, 0, 3)], [-2, 2]);
        const b = makeInput(rng, [K, N], dtype, LAYOUTS[randInt(rng, 0, 3)], [-2, 2]);
        const prod = refMatmul(a.ref.data, b.ref.data, 1, M, K, N, false);
        const at = (i: number, j: number): number =>
          inShape.length === 0
            ? inp.ref.data[0]
            : inShape.length === 1
              ? inp.ref.data[j]
              : inShape[1] === 1
                ? inp.ref.data[i]
                : inp.ref.data[i * N + j];
        const data = prod.map((p, q) => (beta === 0 ? 0 : beta * at(Math.floor(q / N), q % N)) + alpha * p);
        out.push({
          label: `input ${shapeStr(inShape)} beta ${beta} alpha ${alpha}`,
          got: addmm(inp.t, a.t, b.t, { beta, alpha }),
          want: { shape: [M, N], data },
          tol: 8 * (K + 2) * Math.max(1, Math.abs(alpha)),
        });
        for (const t of [inp.t, a.t, b.t]) t.dispose();
      }
    // In place into a buffer: twice, so the second call accumulates onto the first.
    const acc = makeInput(rng, [3, 6], dtype, 'contiguous', [-2, 2]);
    const a = makeInput(rng, [3, 7], dtype, 'transposed', [-2, 2]),
      b = makeInput(rng, [7, 6], dtype, 'strided', [-2, 2]);
    const prod = refMatmul(a.ref.data, b.ref.data, 1, 3, 7, 6, false);
    const buf = acc.t.clone();
    addmm_(buf, a.t, b.t);
    addmm_(buf, a.t, b.t);
    out.push({
      label: 'addmm_ twice (accumulate)',
      got: buf,
      want: { shape: [3, 6], data: acc.ref.data.map((v, q) => v + 2 * prod[q]) },
      tol: 100,
    });
    for (const t of [acc.t, a.t, b.t]) t.dispose();
    return out;
  },
  gradSamples: (rng) => {
    const f = (s: number[]) => makeInput(rng, s, 'float64').t.requiresGrad_();
    return [
      { label: 'row bias', fn: (i, a, b) => addmm(i, a, b), inputs: [f([3]), f([2, 4]), f([4, 3])] },
      {
        label: 'beta 0.5 alpha 2',
        fn: (i, a, b) => addmm(i, a, b, { beta: 0.5, alpha: 2 }),
        inputs: [f([2, 3]), f([2, 4]), f([4, 3])],
      },
    ];
  },
  errors: () => [
    {
      label: 'inner dims',
      run: () =>
        addmm(
          fromNumbers([0], [1], 'float32'),
          fromNumbers([1, 2], [1, 2], 'float32'),
          fromNumbers([1], [1, 1], 'float32'),
        ),
      code: 'ERR_SHAPE',
    },
    {
      label: 'input does not broadcast',
      run: () =>
        addmm(
          fromNumbers([0, 0, 0], [3], 'float32'),
          fromNumbers([1, 2], [1, 2], 'float32'),
          fromNumbers([1, 2], [2, 1], 'float32'),
        ),
      code: 'ERR_SHAPE',
    },
    {
      label: 'non-integer alpha for int64',
      run: () =>
        addmm(fromNumbers([0], [1], 'int64'), fromNumbers([1], [1, 1], 'int64'), fromNumbers([1], [1, 1], 'int64'), {
          alpha: 0.5,
        }),
      code: 'ERR_ARG',
    },
    {
      label: 'addmm_ into the wrong shape',
      run: () =>
        addmm_(
          fromNumbers([0, 0], [1, 2], 'float32'),
          fromNumbers([1], [1, 1], 'float32'),
          fromNumbers([1], [1, 1], 'float32'),
        ),
      code: 'ERR_SHAPE',
    },
    {
      label: 'bmm rank',
      run: () => bmm(fromNumbers([1], [1, 1], 'float32'), fromNumbers([1], [1, 1], 'float32')),
      code: 'ERR_SHAPE',
    },
    {
      label: 'bmm batch',
      run: () => bmm(fromNumbers([1, 1], [2, 1, 1], 'float32'), fromNumbers([1], [1, 1, 1], 'float32')),
      code: 'ERR_SHAPE',
    },
  ],
};
