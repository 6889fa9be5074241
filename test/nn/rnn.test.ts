// RNN, LSTM, GRU and their cells: each step against float64 formulas written here, the layers'
// composition (directions, stacking, batchFirst, unbatched, states), gradients by finite
// differences, PyTorch's state-dict names, errors, inter-layer dropout and, when Debian's torch is
// installed, outputs, final states and every gradient against PyTorch's modules with the same weights.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';
import * as kiln from '../../ts/index';
import { settledMemory } from '../helpers/settled';

const { nn } = kiln;
const f64 = { dtype: 'float64' } as const;
const maxDiff = (a: kiln.Tensor, b: kiln.Tensor) => a.sub(b).abs().amax().item() as number;
const rows = (t: kiln.Tensor) => t.toArray() as number[][];
const vec = (t: kiln.Tensor | null) => (t ? (t.toArray() as number[]) : null);
const sig = (v: number) => 1 / (1 + Math.exp(-v));
const code = (fn: () => unknown, c: string) =>
  assert.throws(fn, (e: unknown) => e instanceof kiln.KilnError && e.code === c);

/** W v + b for a row-major [out, in] weight. */
const affine = (w: number[][], v: number[], b: number[] | null) =>
  w.map((r, i) => r.reduce((s, x, j) => s + x * v[j], b ? b[i] : 0));

type Cell = { weightIh: kiln.Tensor; weightHh: kiln.Tensor; biasIh: kiln.Tensor | null; biasHh: kiln.Tensor | null };

/** One step of each cell in float64 JS, from PyTorch's documented formulas. */
function refStep(mode: string, c: Cell, x: number[], h: number[], cs: number[] | null): [number[], number[] | null] {
  const gi = affine(rows(c.weightIh), x, vec(c.biasIh)),
    gh = affine(rows(c.weightHh), h, vec(c.biasHh));
  const H = h.length;
  if (mode === 'tanh' || mode === 'relu') {
    const s = gi.map((v, i) => v + gh[i]);
    return [s.map((v) => (mode === 'tanh' ? Math.tanh(v) : Math.max(v, 0))), null];
  }
  if (mode === 'gru') {
    const r = [...Array(H).keys()].map((k) => sig(gi[k] + gh[k]));
    const z = [...Array(H).keys()].map((k) => sig(gi[H + k] + gh[H + k]));
    const n = [...Array(H).keys()].map((k) => Math.tanh(gi[2 * H + k] + r[k] * gh[2 * H + k]));
    return [n.map((v, k) => (1 - z[k]) * v + z[k] * h[k]), null];
  }
  const g = gi.map((v, i) => v + gh[i]);
  const c2 = [...Array(H).keys()].map((k) => sig(g[H + k]) * cs![k] + sig(g[k]) * Math.tanh(g[2 * H + k]));
  return [c2.map((v, k) => sig(g[3 * H + k]) * Math.tanh(v)), c2];
}

test('cells: one step of RNNCell (tanh, relu), LSTMCell and GRUCell against the formulas, with and without bias', () => {
  kiln.manualSeed(1);
  for (const bias of [true, false])
    for (const mode of ['tanh', 'relu', 'lstm', 'gru']) {
      const cell =
        mode === 'lstm'
          ? new nn.LSTMCell(3, 4, { bias, ...f64 })
          : mode === 'gru'
            ? new nn.GRUCell(3, 4, { bias, ...f64 })
            : new nn.RNNCell(3, 4, { bias, nonlinearity: mode as 'tanh' | 'relu', ...f64 });
      const x = kiln.randn([2, 3], f64),
        h = kiln.randn([2, 4], f64),
        c = kiln.randn([2, 4], f64);
      const got =
        mode === 'lstm' ? (cell as kiln.nn.LSTMCell).forward(x, [h, c]) : [(cell as kiln.nn.GRUCell).forward(x, h)];
      for (let n = 0; n < 2; n++) {
        const [wh, wc] = refStep(mode, cell, rows(x)[n], rows(h)[n], rows(c)[n]);
        rows(got[0])[n].forEach((v, k) => assert.ok(Math.abs(v - wh[k]) < 1e-12, `${mode} h[${n}][${k}]`));
        if (wc) rows(got[1])[n].forEach((v, k) => assert.ok(Math.abs(v - wc[k]) < 1e-12, `${mode} c[${n}][${k}]`));
      }
      // no state: zeros; 1-d input: a batch of one without the batch dim
      const z = mode === 'lstm' ? (cell as kiln.nn.LSTMCell).forward(x)[0] : (cell as kiln.nn.GRUCell).forward(x);
      const z0 = kiln.zeros([2, 4], f64);
      const want0 =
        mode === 'lstm' ? (cell as kiln.nn.LSTMCell).forward(x, [z0, z0])[0] : (cell as kiln.nn.GRUCell).forward(x, z0);
      assert.is(maxDiff(z, want0), 0);
      const one =
        mode === 'lstm'
          ? (cell as kiln.nn.LSTMCell).forward(x.select(0, 1))[0]
          : (cell as kiln.nn.GRUCell).forward(x.select(0, 1));
      assert.equal(one.shape, [4]);
      assert.ok(maxDiff(one, want0.select(0, 1)) < 1e-15);
    }
});

test('one layer, one direction: the cell repeated over the sequence; hN is the last output', () => {
  kiln.manualSeed(2);
  for (const [Mod, Cell, mode] of [
    [nn.RNN, nn.RNNCell, 'tanh'],
    [nn.GRU, nn.GRUCell, 'gru'],
    [nn.LSTM, nn.LSTMCell, 'lstm'],
  ] as const) {
    const m = new Mod(3, 5, f64);
    const cell = new Cell(3, 5, f64);
    kiln.noGrad(() => {
      const p = m as unknown as Record<string, kiln.Tensor>;
      cell.weightIh.copy_(p.weightIhL0);
      cell.weightHh.copy_(p.weightHhL0);
      cell.biasIh!.copy_(p.biasIhL0);
      cell.biasHh!.copy_(p.biasHhL0);
    });
    const x = kiln.randn([6, 2, 3], f64),
      h0 = kiln.randn([1, 2, 5], f64),
      c0 = kiln.randn([1, 2, 5], f64);
    const [y, st] = mode === 'lstm' ? (m as kiln.nn.LSTM).forward(x, [h0, c0]) : (m as kiln.nn.GRU).forward(x, h0);
    let h = h0.select(0, 0),
      c = c0.select(0, 0);
    for (let t = 0; t < 6; t++) {
      if (mode === 'lstm') [h, c] = (cell as kiln.nn.LSTMCell).forward(x.select(0, t), [h, c]);
      else h = (cell as kiln.nn.GRUCell).forward(x.select(0, t), h);
      assert.ok(maxDiff(y.select(0, t), h) < 1e-14, `${mode} step ${t}`);
    }
    const hn = Array.isArray(st) ? st[0] : st;
    assert.equal(hn.shape, [1, 2, 5]);
    assert.is(maxDiff(hn.select(0, 0), y.select(0, 5)), 0);
    if (Array.isArray(st)) assert.ok(maxDiff(st[1].select(0, 0), c) < 1e-14);
  }
});

/** A one-layer, one-direction module holding the weights of layer l, direction d of m. */
function part<T extends kiln.nn.Module>(m: T, make: () => T, l: number, d: number): T {
  const one = make();
  const src = m as unknown as Record<string, kiln.Tensor | null>,
    dst = one as unknown as Record<string, kiln.Tensor | null>;
  const sfx = `L${l}${d ? 'Reverse' : ''}`;
  kiln.noGrad(() => {
    for (const n of ['weightIh', 'weightHh', 'biasIh', 'biasHh', 'weightHr'])
      if (src[n + sfx]) dst[`${n}L0`]!.copy_(src[n + sfx]!);
  });
  return one;
}

test('two layers, both directions, projections: the reverse direction runs the flipped sequence, layer 2 reads layer 1', () => {
  kiln.manualSeed(3);
  const m = new nn.LSTM(3, 5, { numLayers: 2, bidirectional: true, projSize: 2, ...f64 });
  const x = kiln.randn([4, 2, 3], f64);
  const [y, [hn, cn]] = m.forward(x);
  assert.equal(y.shape, [4, 2, 4]);
  assert.equal(hn.shape, [4, 2, 2]);
  assert.equal(cn.shape, [4, 2, 5]);
  let input = x;
  for (let l = 0; l < 2; l++) {
    const outs: kiln.Tensor[] = [];
    for (let d = 0; d < 2; d++) {
      const one = part(m, () => new nn.LSTM(l === 0 ? 3 : 4, 5, { projSize: 2, ...f64 }), l, d);
      const [o, [h, c]] = one.forward(d ? input.flip(0) : input);
      outs.push(d ? o.flip(0) : o);
      assert.ok(maxDiff(h.select(0, 0), hn.select(0, 2 * l + d)) < 1e-14, `hN of layer ${l} direction ${d}`);
      assert.ok(maxDiff(c.select(0, 0), cn.select(0, 2 * l + d)) < 1e-14, `cN of layer ${l} direction ${d}`);
    }
    input = kiln.cat(outs, 2);
  }
  assert.ok(maxDiff(y, input) < 1e-14);
});

test('batchFirst is the transposed layout; an unbatched input is a batch of one', () => {
  kiln.manualSeed(4);
  const a = new nn.GRU(3, 4, { numLayers: 2, bidirectional: true, ...f64 });
  const b = new nn.GRU(3, 4, { numLayers: 2, bidirectional: true, batchFirst: true, ...f64 });
  b.loadStateDict(a.stateDict());
  const x = kiln.randn([5, 2, 3], f64),
    h0 = kiln.randn([4, 2, 4], f64);
  const [ya, ha] = a.forward(x, h0);
  const [yb, hb] = b.forward(x.transpose(0, 1), h0);
  assert.equal(yb.shape, [2, 5, 8]);
  assert.is(maxDiff(ya.transpose(0, 1), yb), 0);
  assert.is(maxDiff(ha, hb), 0); // hN is [layers D, N, H] with or without batchFirst
  const [yu, hu] = a.forward(x.select(1, 1), h0.select(1, 1));
  assert.equal(yu.shape, [5, 8]);
  assert.equal(hu.shape, [4, 4]);
  assert.ok(maxDiff(yu, ya.select(1, 1)) < 1e-15);
  assert.ok(maxDiff(hu, ha.select(1, 1)) < 1e-15);
});

test('gradients of every input, state and parameter by finite differences', () => {
  kiln.manualSeed(5);
  const cases: [string, () => kiln.nn.Module][] = [
    ['RNN relu', () => new nn.RNN(2, 3, { numLayers: 2, nonlinearity: 'relu', bidirectional: true, ...f64 })],
    ['GRU', () => new nn.GRU(2, 3, { numLayers: 2, bidirectional: true, ...f64 })],
    ['LSTM proj', () => new nn.LSTM(2, 3, { numLayers: 2, bidirectional: true, projSize: 2, ...f64 })],
    ['LSTM no bias', () => new nn.LSTM(2, 3, { bias: false, ...f64 })],
  ];
  for (const [name, make] of cases) {
    const m = make();
    const params = [...m.parameters()];
    const lstm = m instanceof nn.LSTM;
    const D = name.startsWith('LSTM no') ? 1 : 4,
      out = name === 'LSTM proj' ? 2 : 3;
    const x = kiln.randn([3, 2, 2], { ...f64, requiresGrad: true });
    const h0 = kiln.randn([D, 2, out], { ...f64, requiresGrad: true });
    const c0 = kiln.randn([D, 2, 3], { ...f64, requiresGrad: true });
    const fn = (xi: kiln.Tensor, hi: kiln.Tensor, ci: kiln.Tensor) => {
      const [y, st] = lstm ? (m as kiln.nn.LSTM).forward(xi, [hi, ci]) : (m as kiln.nn.GRU).forward(xi, hi);
      const hn = Array.isArray(st) ? st[0] : st;
      return y
        .square()
        .sum()
        .add(hn.sum().mul(0.5))
        .add(Array.isArray(st) ? st[1].sum().mul(0.25) : 0);
    };
    assert.ok(
      kiln.gradcheck((xi, hi, ci) => fn(xi, hi, ci), [x, h0, c0]),
      `${name}: input and states`,
    );
    // the parameters: a few entries of each, nudged in place
    const loss = fn(x.detach(), h0.detach(), c0.detach());
    const grads = kiln.autograd.grad([loss], params);
    const eps = 1e-6;
    params.forEach((p, i) => {
      const flat = p.data() as Float64Array;
      const g = grads[i]!.contiguous().data() as Float64Array;
      for (const k of [0, Math.floor(flat.length / 2), flat.length - 1]) {
        const v = flat[k];
        flat[k] = v + eps;
        const up = kiln.noGrad(() => fn(x, h0, c0).item() as number);
        flat[k] = v - eps;
        const down = kiln.noGrad(() => fn(x, h0, c0).item() as number);
        flat[k] = v;
        const num = (up - down) / (2 * eps);
        assert.ok(Math.abs(num - g[k]) < 1e-6 * (1 + Math.abs(num)), `${name} parameter ${i}[${k}]: ${g[k]} vs ${num}`);
      }
    });
  }
});

test("parameter names and shapes are PyTorch's (weight_ih_l0_reverse, weight_hr_l1, ...)", () => {
  const m = new nn.LSTM(3, 5, { numLayers: 2, bidirectional: true, projSize: 2 });
  const got = [...m.stateDict()].map(([k, t]) => `${k}:${t.shape.join('x')}`);
  const want: string[] = [];
  for (let l = 0; l < 2; l++)
    for (const s of ['', '_reverse'])
      want.push(
        `weight_ih_l${l}${s}:20x${l ? 4 : 3}`,
        `weight_hh_l${l}${s}:20x2`,
        `bias_ih_l${l}${s}:20`,
        `bias_hh_l${l}${s}:20`,
        `weight_hr_l${l}${s}:2x5`,
      );
  assert.equal(got, want);
  assert.equal(
    [...new nn.GRUCell(3, 4, { bias: false }).stateDict()].map(([k]) => k),
    ['weight_ih', 'weight_hh'],
  );
  // uniform in ±1/√hiddenSize, as PyTorch initialises them
  const big = new nn.GRU(64, 100);
  for (const p of big.parameters()) {
    const a = p.abs().amax().item() as number;
    assert.ok(a <= 0.1 && a > 0.09, `bound ${a}`);
  }
});

test('errors: options, input and state shapes, dtypes', () => {
  code(() => new nn.LSTM(3, 0), 'ERR_ARG');
  code(() => new nn.LSTM(3, 4, { numLayers: 0 }), 'ERR_ARG');
  code(() => new nn.LSTM(3, 4, { projSize: 4 }), 'ERR_ARG');
  code(() => new nn.GRU(3, 4, { dropout: 1.5 }), 'ERR_ARG');
  code(() => new nn.RNN(3, 4, { nonlinearity: 'gelu' as 'relu' }), 'ERR_ARG');
  code(() => new nn.RNNCell(3, 4, { nonlinearity: 'sigmoid' as 'relu' }), 'ERR_ARG');
  const m = new nn.LSTM(3, 4, { numLayers: 2 });
  code(() => m.forward(kiln.randn([5, 2, 4])), 'ERR_SHAPE');
  code(() => m.forward(kiln.randn([5, 2, 3, 1])), 'ERR_SHAPE');
  code(() => m.forward(kiln.randn([5, 2, 3]), [kiln.zeros([1, 2, 4]), kiln.zeros([2, 2, 4])]), 'ERR_SHAPE');
  code(() => m.forward(kiln.randn([5, 2, 3]), [kiln.zeros([2, 2, 4]), kiln.zeros([2, 3, 4])]), 'ERR_SHAPE');
  code(() => m.forward(kiln.randn([5, 2, 3], f64)), 'ERR_DTYPE');
  code(() => m.forward(kiln.randn([5, 2, 3]), [kiln.zeros([2, 2, 4], f64), kiln.zeros([2, 2, 4])]), 'ERR_DTYPE');
  code(
    () => m.forward(kiln.randn([5, 2, 3]), [kiln.zeros([2, 2, 4])] as unknown as [kiln.Tensor, kiln.Tensor]),
    'ERR_ARG',
  );
  const cell = new nn.GRUCell(3, 4);
  code(() => cell.forward(kiln.randn([2, 5])), 'ERR_SHAPE');
  code(() => cell.forward(kiln.randn([2, 3]), kiln.zeros([3, 4])), 'ERR_SHAPE');
  code(() => cell.forward(kiln.randn([1, 2, 3])), 'ERR_SHAPE');
});

test('dropout between layers in training mode only, never after the last layer', () => {
  kiln.manualSeed(6);
  const m = new nn.GRU(3, 4, { numLayers: 2, dropout: 1, ...f64 });
  const x = kiln.randn([5, 2, 3], f64);
  // dropout 1 zeroes layer 1's output, so layer 2 sees zeros: its output is the same for any x
  const a = m.forward(x)[0],
    b = m.forward(x.mul(3))[0];
  assert.is(maxDiff(a, b), 0);
  m.eval();
  const c = m.forward(x)[0],
    d = m.forward(x.mul(3))[0];
  assert.ok(maxDiff(c, d) > 1e-3);
  const one = new nn.GRU(3, 4, { dropout: 1, ...f64 }); // one layer: nothing to drop
  const e = one.forward(x)[0];
  one.eval();
  assert.is(maxDiff(e, one.forward(x)[0]), 0);
});

test('a forward without grad frees every step: no tensor is left behind', () => {
  const m = new nn.LSTM(8, 16, { numLayers: 2, bidirectional: true });
  const x = kiln.randn([20, 4, 8]);
  const before = settledMemory().numTensors;
  kiln.noGrad(() => {
    const [y, [h, c]] = m.forward(x);
    for (const t of [y, h, c]) t.dispose();
  });
  assert.is(kiln.memory().numTensors, before);
});

test('packed sequences: the layout, padding round trips, and errors', () => {
  const R = nn.utils.rnn;
  const seqs = [
    kiln.tensor([[1], [2], [3]], f64),
    kiln.tensor([[4], [5], [6], [7], [8]], f64),
    kiln.tensor([[9]], f64),
  ];
  const p = R.packSequence(seqs, { enforceSorted: false });
  assert.ok(p instanceof nn.PackedSequence);
  // PyTorch's layout: each step's sequences, longest first
  assert.equal(p.data.reshape([-1]).toArray(), [4, 1, 9, 5, 2, 6, 3, 7, 8]);
  assert.equal(p.batchSizes.toArray(), [3, 2, 2, 1, 1]);
  assert.equal(p.sortedIndices!.toArray(), [1, 0, 2]);
  assert.equal(p.unsortedIndices!.toArray(), [1, 0, 2]);
  assert.equal(p.lengths(), [3, 5, 1]);
  const [pad, lens] = R.padPackedSequence(p, { batchFirst: true, paddingValue: -1, totalLength: 6 });
  assert.equal(pad.shape, [3, 6, 1]);
  assert.equal(pad.reshape([3, 6]).toArray(), [
    [1, 2, 3, -1, -1, -1],
    [4, 5, 6, 7, 8, -1],
    [9, -1, -1, -1, -1, -1],
  ]);
  assert.equal(lens.toArray(), [3, 5, 1]);
  const padded = R.padSequence(seqs, { paddingSide: 'left' });
  assert.equal(padded.shape, [5, 3, 1]);
  assert.equal(padded.select(1, 0).reshape([-1]).toArray(), [0, 0, 1, 2, 3]);
  const sorted = R.packPaddedSequence(R.padSequence([seqs[1], seqs[0], seqs[2]]), [5, 3, 1]);
  assert.is(sorted.sortedIndices, null);
  assert.equal(sorted.data.reshape([-1]).toArray(), [4, 1, 9, 5, 2, 6, 3, 7, 8]);
  code(() => R.packPaddedSequence(R.padSequence(seqs), [3, 5, 1]), 'ERR_ARG'); // not sorted
  code(() => R.packPaddedSequence(R.padSequence(seqs), [3, 0, 1], { enforceSorted: false }), 'ERR_ARG');
  code(() => R.packPaddedSequence(R.padSequence(seqs), [6, 5, 1]), 'ERR_ARG');
  code(() => R.packPaddedSequence(R.padSequence(seqs), [5, 1]), 'ERR_SHAPE');
  code(() => R.padSequence([kiln.ones([2, 1]), kiln.ones([2, 2])]), 'ERR_SHAPE');
});

test('packed sequences through the layers: each sequence as it would run alone; gradients', () => {
  const R = nn.utils.rnn;
  kiln.manualSeed(8);
  const seqs = [kiln.randn([3, 2], f64), kiln.randn([5, 2], f64), kiln.randn([1, 2], f64)];
  const p = R.packSequence(seqs, { enforceSorted: false });
  for (const make of [
    () => new nn.LSTM(2, 3, { numLayers: 2, bidirectional: true, projSize: 2, ...f64 }),
    () => new nn.GRU(2, 3, { numLayers: 2, bidirectional: true, batchFirst: true, ...f64 }),
  ]) {
    const m = make();
    const lstm = m instanceof nn.LSTM;
    const [out, st] = lstm ? (m as kiln.nn.LSTM).forward(p) : (m as kiln.nn.GRU).forward(p);
    assert.ok(out instanceof nn.PackedSequence);
    assert.equal(out.batchSizes.toArray(), [3, 2, 2, 1, 1]);
    const [y] = R.padPackedSequence(out);
    seqs.forEach((s, b) => {
      const [ys, sts] = lstm ? (m as kiln.nn.LSTM).forward(s) : (m as kiln.nn.GRU).forward(s);
      assert.ok(maxDiff(ys, y.select(1, b).narrow(0, 0, s.shape[0])) < 1e-14, `sequence ${b}`);
      const [h, hs] = lstm
        ? [(st as kiln.Tensor[])[0], (sts as kiln.Tensor[])[0]]
        : [st as kiln.Tensor, sts as kiln.Tensor];
      assert.ok(maxDiff(hs, h.select(1, b)) < 1e-14, `hN of sequence ${b}`);
      if (lstm) assert.ok(maxDiff((sts as kiln.Tensor[])[1], (st as kiln.Tensor[])[1].select(1, b)) < 1e-14);
    });
  }
  const m = new nn.GRU(2, 2, { bidirectional: true, ...f64 });
  const x = kiln.randn([4, 3, 2], { ...f64, requiresGrad: true });
  assert.ok(
    kiln.gradcheck(
      (xi) => {
        const [o, h] = m.forward(R.packPaddedSequence(xi, [2, 4, 1], { enforceSorted: false }));
        return o.data.square().sum().add(h.sum());
      },
      [x],
    ),
  );
});

const PY_CHECK = `
import json, struct, sys, torch
torch.set_default_dtype(torch.float64)
b = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); t = {}
for k, v in h.items():
    if k == '__metadata__': continue
    s, e = v['data_offsets']; t[k] = torch.frombuffer(bytearray(b[8 + n + s:8 + n + e]), dtype=torch.float64).reshape(v['shape'])
cfg = json.loads(sys.argv[2]); kind = cfg.pop('kind'); state = cfg.pop('state'); lengths = cfg.pop('lengths', None)
m = {'RNN': torch.nn.RNN, 'LSTM': torch.nn.LSTM, 'GRU': torch.nn.GRU}[kind](**cfg)
m.load_state_dict({k[2:]: v for k, v in t.items() if k.startswith('m.')}, strict=True)
x = t['x'].requires_grad_()
inp = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=cfg.get('batch_first', False), enforce_sorted=False) if lengths else x
y, hn = m(inp, ((t['h0'], t['c0']) if kind == 'LSTM' else t['h0']) if state else None)
if lengths: y = y.data
cn = None
if kind == 'LSTM': hn, cn = hn
(y.pow(2).sum() + hn.sum() * 0.5 + (cn.sum() * 0.25 if cn is not None else 0)).backward()
print(json.dumps({'y': y.tolist(), 'hn': hn.tolist(), 'cn': cn.tolist() if cn is not None else None, 'gx': x.grad.tolist(),
                  'g': {k: p.grad.tolist() for k, p in m.named_parameters()}}))
`;

test(`outputs, final states and gradients match PyTorch's modules with the same weights${torchSuffix}`, () => {
  if (skipWithoutTorch('RNN comparison with PyTorch')) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-rnn-'));
  const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  try {
    const cfgs: Record<string, unknown>[] = [
      { kind: 'LSTM', input_size: 3, hidden_size: 4 },
      { kind: 'GRU', input_size: 3, hidden_size: 4, num_layers: 2, bidirectional: true, state: true },
      { kind: 'RNN', input_size: 3, hidden_size: 4, num_layers: 2, nonlinearity: 'relu', batch_first: true },
      { kind: 'RNN', input_size: 3, hidden_size: 4, bias: false, bidirectional: true, state: true },
      {
        kind: 'LSTM',
        input_size: 3,
        hidden_size: 5,
        num_layers: 2,
        bidirectional: true,
        proj_size: 2,
        batch_first: true,
        state: true,
      },
      { kind: 'LSTM', input_size: 3, hidden_size: 4, num_layers: 2, bidirectional: true, state: true, lengths: [2, 5] },
      { kind: 'GRU', input_size: 3, hidden_size: 4, bidirectional: true, batch_first: true, lengths: [5, 3] },
    ];
    for (const cfg of cfgs) {
      kiln.manualSeed(7);
      const o: Record<string, unknown> = { dtype: 'float64' };
      for (const [k, v] of Object.entries(cfg))
        if (!['kind', 'input_size', 'hidden_size', 'state', 'lengths'].includes(k)) o[camel(k)] = v;
      const Mod = { RNN: nn.RNN, LSTM: nn.LSTM, GRU: nn.GRU }[cfg.kind as 'RNN'];
      const m = new Mod(3, cfg.hidden_size as number, o);
      const D = cfg.bidirectional ? 2 : 1,
        L = ((cfg.num_layers as number) ?? 1) * D,
        H = cfg.hidden_size as number,
        out = (cfg.proj_size as number) || H;
      const x = kiln.randn(cfg.batch_first ? [2, 5, 3] : [5, 2, 3], { ...f64, requiresGrad: true });
      const h0 = kiln.randn([L, 2, out], f64),
        c0 = kiln.randn([L, 2, H], f64);
      const tensors = new Map<string, kiln.Tensor>([
        ['x', x.detach()],
        ['h0', h0],
        ['c0', c0],
      ]);
      for (const [k, t] of m.stateDict()) tensors.set(`m.${k}`, t);
      const file = path.join(dir, 'rnn.safetensors');
      kiln.saveSync(tensors, file);
      const r = spawnSync(PY, ['-c', PY_CHECK, file, JSON.stringify({ ...cfg, state: !!cfg.state })], {
        encoding: 'utf8',
      });
      assert.is(r.status, 0, r.stderr);
      const want = JSON.parse(r.stdout) as Record<string, unknown> & { g: Record<string, unknown> };
      const st = cfg.state ? (cfg.kind === 'LSTM' ? [h0, c0] : h0) : null;
      const lengths = cfg.lengths as number[] | undefined;
      const inp = lengths
        ? nn.utils.rnn.packPaddedSequence(x, lengths, { batchFirst: !!cfg.batch_first, enforceSorted: false })
        : null;
      const [yo, s] = inp
        ? (m as kiln.nn.GRU).forward(inp, st as kiln.Tensor)
        : (m as kiln.nn.GRU).forward(x, st as kiln.Tensor);
      const y = yo instanceof nn.PackedSequence ? yo.data : yo;
      const [hn, cn] = Array.isArray(s) ? (s as kiln.Tensor[]) : [s, null];
      y.square()
        .sum()
        .add(hn.sum().mul(0.5))
        .add(cn ? cn.sum().mul(0.25) : 0)
        .backward();
      const near = (got: kiln.Tensor, w: unknown, what: string) => {
        const d = maxDiff(got, kiln.tensor(w as number[], f64));
        assert.ok(d < 1e-12, `${JSON.stringify(cfg)} ${what}: ${d}`);
      };
      near(y, want.y, 'output');
      near(hn, want.hn, 'hN');
      if (cn) near(cn, want.cn, 'cN');
      near(x.grad!, want.gx, 'input gradient');
      const named = [...m.namedParameters()];
      assert.is(named.length, Object.keys(want.g).length);
      for (const [k, p] of named) near(p.grad!, want.g[k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase()], k);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
