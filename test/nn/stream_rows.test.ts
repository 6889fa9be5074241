// Outputs of 16 MB and more (native/cpu/strided_loop.h kStreamBytes) are written with
// non-temporal stores, softmax through a per-thread row of exps. Each row's result does not depend
// on how it is written, so a large tensor's rows must equal, bit for bit, the same rows computed
// as a small tensor (the cached path) and as a row alone. Rows of 1025 floats start at every
// alignment.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const F = kiln.nn.functional;
const R = 4099,
  C = 1025; // 16.8 MB of float32
const bits = (t: kiln.Tensor) => {
  const d = t.contiguous().data() as Float32Array;
  return new Uint32Array(d.buffer, d.byteOffset, d.length);
};
/** Asserts equal bits, naming the first difference (a diff of 65,600 elements would take minutes). */
function sameBits(got: kiln.Tensor, want: kiln.Tensor, label: string) {
  const a = bits(got),
    b = bits(want);
  const i = a.length === b.length ? a.findIndex((v, k) => v !== b[k]) : 0;
  assert.ok(i < 0, `${label}: first difference at flat index ${i}`);
}

/** Rows [r0, r0 + n) of f(big) against f(those rows alone). */
function sameRows(label: string, f: (x: kiln.Tensor) => kiln.Tensor, x: kiln.Tensor) {
  const big = f(x);
  for (const r0 of [0, 1, 777, R - 64]) {
    const want = f(x.narrow(0, r0, 64).contiguous());
    const got = big.narrow(0, r0, 64);
    sameBits(got, want, `${label}: rows ${r0}..${r0 + 63}`);
  }
  for (const r of [0, 778, R - 1])
    sameBits(big.narrow(0, r, 1), f(x.narrow(0, r, 1).contiguous()), `${label}: row ${r} alone`);
}

test('streamed row outputs equal the cached path, bit for bit', () => {
  kiln.manualSeed(5);
  const x = kiln.randn([R, C]).mul(3);
  const w = kiln.randn([C]),
    b = kiln.randn([C]);
  const gy = kiln.randn([R, C]);
  const t = kiln.randint(0, C, [R]);
  sameRows('softmax', (v) => v.softmax(-1), x);
  sameRows('logSoftmax', (v) => v.logSoftmax(-1), x);
  sameRows('layerNorm', (v) => F.layerNorm(v, [C], w, b), x);
  sameRows('rmsNorm', (v) => F.rmsNorm(v, [C], w), x);
  // Backward rows: gradients of each row depend on that row only (reduction 'sum' for the loss).
  const rowsOf = (v: kiln.Tensor) => {
    const n = v.shape[0];
    return { gy: gy.narrow(0, 0, n).contiguous(), t: t.narrow(0, 0, n).contiguous() };
  };
  const grad = (op: (v: kiln.Tensor, g: kiln.Tensor, tt: kiln.Tensor) => kiln.Tensor) => (v: kiln.Tensor) => {
    const xg = v.detach().requiresGrad_();
    const { gy: g, t: tt } = rowsOf(v);
    const y = op(xg, g, tt);
    if (y.numel() === 1) y.backward();
    else y.backward(g);
    return xg.grad!;
  };
  // The small tensors reuse the first rows of gy and t, so compare rows 0..63 only for gradients.
  for (const [label, op] of [
    ['softmax backward', (v: kiln.Tensor) => v.softmax(-1)],
    ['logSoftmax backward', (v: kiln.Tensor) => v.logSoftmax(-1)],
    ['layerNorm backward', (v: kiln.Tensor) => F.layerNorm(v, [C], w, b)],
  ] as const) {
    const big = grad((v) => op(v))(x);
    const want = grad((v) => op(v))(x.narrow(0, 0, 64).contiguous());
    sameBits(big.narrow(0, 0, 64), want, label);
  }
  const big = grad((v, _g, tt) => F.crossEntropy(v, tt, { reduction: 'sum' }))(x);
  const want = grad((v, _g, tt) => F.crossEntropy(v, tt, { reduction: 'sum' }))(x.narrow(0, 0, 64).contiguous());
  sameBits(big.narrow(0, 0, 64), want, 'crossEntropy backward');
});

test('streamed activations (GELU both forms, SiLU) and their gradients equal the cached path, bit for bit', () => {
  kiln.manualSeed(6);
  // Elementwise: a slice of the big result equals the op on that slice alone (the input starts 3
  // floats into its storage: unaligned loads beside the aligned streamed stores).
  const x = kiln
      .randn([R * C + 3])
      .mul(3)
      .narrow(0, 3, R * C),
    gy = kiln.randn([R * C]);
  const acts: [string, (v: kiln.Tensor) => kiln.Tensor][] = [
    ['gelu', (v) => F.gelu(v)],
    ['gelu tanh', (v) => F.gelu(v, { approximate: 'tanh' })],
    ['silu', (v) => F.silu(v)],
  ];
  for (const [label, f] of acts) {
    const big = f(x);
    const xg = x.detach().requiresGrad_();
    f(xg).backward(gy);
    for (const s0 of [0, 5, 1 << 20, R * C - 4099]) {
      const xs = x.narrow(0, s0, 4099).contiguous();
      sameBits(big.narrow(0, s0, 4099), f(xs), `${label} at ${s0}`);
      const xsg = xs.requiresGrad_();
      f(xsg).backward(gy.narrow(0, s0, 4099).contiguous());
      sameBits(xg.grad!.narrow(0, s0, 4099), xsg.grad!, `${label} backward at ${s0}`);
    }
  }
});

test.run();
