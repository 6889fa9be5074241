/**
 * GELU (erf and tanh forms) and SiLU as fused kernels (native/cpu/activation.cpp), with their
 * backward rows gx = gy * f'(x) in one pass. The backward rows are differentiable too (their
 * gradients use f'' written with ops), so double backward works.
 */
import { record } from '../autograd/node';
import { fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { DType, FLOAT_DTYPES, isFloating, roundTo } from '../dtype';
import { KilnError } from '../errors';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { checkTensor, sameShape } from './kinds';
import { OP } from './op_ids.gen';
import type { Case, OpRow, Rng } from './row';
import { EDGE_SHAPES, LAYOUTS, erfRef, makeInput, randShape } from './samples';

export type GeluApproximate = 'none' | 'tanh';

const BETA = Math.sqrt(2 / Math.PI);
const KAPPA = 0.044715;

function floatInput(op: string, x: Tensor): void {
  checkTensor(x, op, 'input');
  if (!isFloating(x.dtype)) throw new KilnError('ERR_DTYPE', `${op}: needs a floating dtype, got ${x.dtype}`);
}

function modeOf(op: string, approximate: unknown): number {
  if (approximate === undefined || approximate === 'none') return 0;
  if (approximate === 'tanh') return 1;
  throw new KilnError('ERR_ARG', `${op}: approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
}

function backwardOperands(op: string, gy: Tensor, x: Tensor): void {
  checkTensor(gy, op, 'gradOutput');
  floatInput(op, x);
  if (!sameShape(gy._shape, x._shape) || gy.dtype !== x.dtype)
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: gradOutput ${shapeStr(gy._shape)} ${gy.dtype} must match input ${shapeStr(x._shape)} ${x.dtype}`,
    );
}

/** f''(x) of GELU written with ops (for the gradient of gelu_backward). */
function geluSecond(x: Tensor, mode: number): Tensor {
  if (mode === 0) {
    const pdf = x
      .mul(x)
      .mul(-0.5)
      .exp()
      .mul(1 / Math.sqrt(2 * Math.PI));
    return pdf.mul(x.mul(x).neg().add(2));
  }
  const x2 = x.mul(x);
  const t = x.add(x2.mul(x).mul(KAPPA)).mul(BETA).tanh();
  const s = t.mul(t).neg().add(1);
  const du = x2.mul(3 * KAPPA * BETA).add(BETA);
  const ddu = x.mul(6 * BETA * KAPPA);
  return s.mul(du).add(
    x
      .mul(0.5)
      .mul(s)
      .mul(ddu.sub(t.mul(du).mul(du).mul(2))),
  );
}

/** gy * GELU'(x), one pass (the backward of gelu). */
export function geluBackward(gy: Tensor, x: Tensor, approximate: GeluApproximate = 'none'): Tensor {
  const mode = modeOf('gelu_backward', approximate);
  backwardOperands('gelu_backward', gy, x);
  const out = Tensor._empty(x._shape.slice(), x.dtype, 'gelu_backward');
  runKernel(OP.GELU_BACKWARD, [out], [gy, x], [mode]);
  return record('gelu_backward', out, [gy, x], (gg, c) => {
    const [g, xi] = c.inputs;
    return [geluBackward(gg, xi, approximate), gg.mul(g).mul(geluSecond(xi, mode))];
  });
}

/**
 * GELU, x * Phi(x) (torch.nn.functional.gelu); `approximate: 'tanh'` uses the tanh form.
 * @example
 * kiln.nn.functional.gelu(kiln.tensor([-1, 0, 1], { dtype: 'float32' }));
 */
export function gelu(x: Tensor, opts: { approximate?: GeluApproximate } = {}): Tensor {
  const mode = modeOf('gelu', opts.approximate);
  floatInput('gelu', x);
  const out = Tensor._empty(x._shape.slice(), x.dtype, 'gelu');
  runKernel(OP.GELU, [out], [x], [mode]);
  const approximate = mode ? 'tanh' : 'none';
  return record('gelu', out, [x], (g, c) => [geluBackward(g, c.inputs[0], approximate)]);
}

/** gy * SiLU'(x), one pass (the backward of silu). */
export function siluBackward(gy: Tensor, x: Tensor): Tensor {
  backwardOperands('silu_backward', gy, x);
  const out = Tensor._empty(x._shape.slice(), x.dtype, 'silu_backward');
  runKernel(OP.SILU_BACKWARD, [out], [gy, x]);
  return record('silu_backward', out, [gy, x], (gg, c) => {
    const [g, xi] = c.inputs;
    const s = xi.sigmoid();
    const second = s.mul(s.neg().add(1)).mul(xi.mul(s.mul(-2).add(1)).add(2));
    return [siluBackward(gg, xi), gg.mul(g).mul(second)];
  });
}

/** x * sigmoid(x) (torch.nn.functional.silu). */
export function silu(x: Tensor): Tensor {
  floatInput('silu', x);
  const out = Tensor._empty(x._shape.slice(), x.dtype, 'silu');
  runKernel(OP.SILU, [out], [x]);
  return record('silu', out, [x], (g, c) => [siluBackward(g, c.inputs[0])]);
}

// ---- References (float64) and rows ----

const sig = (x: number) => 1 / (1 + Math.exp(-x));
export const REF = {
  gelu: (x: number) => 0.5 * x * (1 + erfRef(x / Math.SQRT2)),
  geluTanh: (x: number) => 0.5 * x * (1 + Math.tanh(BETA * (x + KAPPA * x ** 3))),
  silu: (x: number) => x * sig(x),
  geluGrad: (x: number) => 0.5 * (1 + erfRef(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI),
  geluTanhGrad: (x: number) => {
    const u = BETA * (x + KAPPA * x ** 3);
    const e = Math.exp(-2 * Math.abs(u)); // 1 - tanh^2 without cancellation
    return 0.5 * (1 + Math.tanh(u)) + 0.5 * x * ((4 * e) / (1 + e) ** 2) * BETA * (1 + 3 * KAPPA * x * x);
  },
  siluGrad: (x: number) => sig(x) * (1 + x * (1 - sig(x))),
};

// Case shapes: the elementwise edge shapes, random ones and a wide range for the erf/exp tails.
function actCases(
  rng: Rng,
  dtype: DType,
  unary: boolean,
  run: (t: Tensor[]) => Tensor,
  ref: (v: number[]) => number,
): Case[] {
  const out: Case[] = [];
  const shapes = [...EDGE_SHAPES, randShape(rng), randShape(rng)];
  for (const shape of shapes)
    for (const layout of LAYOUTS)
      for (const range of [
        [-3, 3],
        [-12, 12],
      ] as [number, number][]) {
        const ins = [makeInput(rng, shape, dtype, layout, range)];
        if (!unary) ins.unshift(makeInput(rng, shape, dtype, 'contiguous', [-2, 2]));
        out.push({
          label: `${shapeStr(shape)} ${layout} in [${range}]`,
          got: run(ins.map((i) => i.t)),
          want: { shape, data: ins[0].ref.data.map((_, k) => roundTo(dtype, ref(ins.map((i) => i.ref.data[k])))) },
          tol: 8,
        });
        ins.forEach((i) => i.t.dispose());
      }
  return out;
}

const actErrors = (run: (x: Tensor) => Tensor, name: string) => [
  { label: 'integer input', run: () => run(fromNumbers([1], [1], 'int32')), code: 'ERR_DTYPE' as const },
  { label: 'not a tensor', run: () => run(1 as unknown as Tensor), code: 'ERR_ARG' as const },
  {
    label: `${name} gradOutput shape`,
    run: () =>
      (name === 'gelu' ? geluBackward : siluBackward)(
        fromNumbers([1, 2], [2], 'float32'),
        fromNumbers([1, 2, 3], [3], 'float32'),
      ),
    code: 'ERR_SHAPE' as const,
  },
];

const f64 = (rng: Rng, shape: number[]) => makeInput(rng, shape, 'float64', 'contiguous', [-3, 3]).t.requiresGrad_();
const gradShapes = [[], [5], [3, 4]];

export const geluRow: OpRow<typeof gelu> = {
  name: 'gelu',
  kind: 'custom',
  native: { nin: 1, nout: 1, nattr: 1 },
  dtypes: FLOAT_DTYPES,
  fn: gelu,
  grad: (g) => [g],
  cases: (rng, dtype) => [
    ...actCases(
      rng,
      dtype,
      true,
      ([x]) => gelu(x),
      ([x]) => REF.gelu(x),
    ),
    ...actCases(
      rng,
      dtype,
      true,
      ([x]) => gelu(x, { approximate: 'tanh' }),
      ([x]) => REF.geluTanh(x),
    ),
  ],
  gradSamples: (rng) =>
    gradShapes.flatMap((s) => [
      { label: `${shapeStr(s)} erf`, fn: (x: Tensor) => gelu(x), inputs: [f64(rng, s)] },
      { label: `${shapeStr(s)} tanh`, fn: (x: Tensor) => gelu(x, { approximate: 'tanh' }), inputs: [f64(rng, s)] },
    ]),
  errors: () => [
    ...actErrors(gelu, 'gelu'),
    {
      label: 'unknown approximate',
      run: () => gelu(fromNumbers([1], [1], 'float32'), { approximate: 'sigmoid' as never }),
      code: 'ERR_ARG',
    },
  ],
};

export const geluBackwardRow: OpRow<typeof geluBackward> = {
  name: 'gelu_backward',
  kind: 'custom',
  native: { nin: 2, nout: 1, nattr: 1 },
  dtypes: FLOAT_DTYPES,
  fn: geluBackward,
  grad: (g) => [g, g],
  cases: (rng, dtype) => [
    ...actCases(
      rng,
      dtype,
      false,
      ([g, x]) => geluBackward(g, x),
      ([g, x]) => g * REF.geluGrad(x),
    ),
    ...actCases(
      rng,
      dtype,
      false,
      ([g, x]) => geluBackward(g, x, 'tanh'),
      ([g, x]) => g * REF.geluTanhGrad(x),
    ),
  ],
  gradSamples: (rng) =>
    gradShapes.flatMap((s) => [
      {
        label: `${shapeStr(s)} erf`,
        fn: (g: Tensor, x: Tensor) => geluBackward(g, x),
        inputs: [f64(rng, s), f64(rng, s)],
      },
      {
        label: `${shapeStr(s)} tanh`,
        fn: (g: Tensor, x: Tensor) => geluBackward(g, x, 'tanh'),
        inputs: [f64(rng, s), f64(rng, s)],
      },
    ]),
  errors: () => actErrors((x) => geluBackward(x, x), 'gelu'),
};

export const siluRow: OpRow<typeof silu> = {
  name: 'silu',
  kind: 'custom',
  native: { nin: 1, nout: 1, nattr: 0 },
  dtypes: FLOAT_DTYPES,
  fn: silu,
  grad: (g) => [g],
  cases: (rng, dtype) =>
    actCases(
      rng,
      dtype,
      true,
      ([x]) => silu(x),
      ([x]) => REF.silu(x),
    ),
  gradSamples: (rng) =>
    gradShapes.map((s) => ({ label: shapeStr(s), fn: (x: Tensor) => silu(x), inputs: [f64(rng, s)] })),
  errors: () => actErrors(silu, 'silu'),
};

export const siluBackwardRow: OpRow<typeof siluBackward> = {
  name: 'silu_backward',
  kind: 'custom',
  native: { nin: 2, nout: 1, nattr: 0 },
  dtypes: FLOAT_DTYPES,
  fn: siluBackward,
  grad: (g) => [g, g],
  cases: (rng, dtype) =>
    actCases(
      rng,
      dtype,
      false,
      ([g, x]) => siluBackward(g, x),
      ([g, x]) => g * REF.siluGrad(x),
    ),
  gradSamples: (rng) =>
    gradShapes.map((s) => ({
      label: shapeStr(s),
      fn: (g: Tensor, x: Tensor) => siluBackward(g, x),
      inputs: [f64(rng, s), f64(rng, s)],
    })),
  errors: () => actErrors((x) => siluBackward(x, x), 'silu'),
};
