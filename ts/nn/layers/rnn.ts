/**
 * RNN, LSTM and GRU (multi-layer, bidirectional, LSTM's projections) and their one-step cells
 * (torch.nn), on linear and the elementwise ops, so autograd and every device come with them.
 * The input projection of a whole sequence is one GEMM per layer and direction; each step then
 * runs the hidden projection and the gate arithmetic, its temporaries freed as it goes.
 * Parameter names, shapes, gate order and initialisation are PyTorch's, so state dicts load both
 * ways. A PackedSequence (nn.utils.rnn) runs padded, each sequence's state held once it has
 * ended (backwards: until it begins), and comes back packed.
 */
import { empty, zeros } from '../../creation';
import { KilnError } from '../../errors';
import { scope } from '../../memory';
import { stack } from '../../ops/composite';
import { cat, where } from '../../ops/indexing';
import { dropout } from '../../ops/dropout';
import { linear } from '../../ops/linear';
import { shapeStr } from '../../shape';
import type { Tensor } from '../../tensor';
import { uniform_ } from '../init';
import { activeSteps, PackedSequence, packLike, padPackedSequence } from '../rnn_utils';
import { Module, Parameter } from '../module';

type Mode = 'RNN_TANH' | 'RNN_RELU' | 'LSTM' | 'GRU';
type FloatDType = 'float32' | 'float64' | 'float16' | 'bfloat16';

/** Gates per hidden unit: a plain RNN has one, an LSTM four (i, f, g, o), a GRU three (r, z, n). */
const GATES: Record<Mode, number> = { RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3 };

export interface RnnOptions {
  /** Stacked layers (1); each layer's output is the next one's input. */
  numLayers?: number;
  /** nn.RNN only: 'tanh' (the default) or 'relu'. */
  nonlinearity?: 'tanh' | 'relu';
  /** Input and hidden biases (true). */
  bias?: boolean;
  /** Input and output as [batch, seq, feature] (false: [seq, batch, feature]). */
  batchFirst?: boolean;
  /** Dropout on each layer's output but the last, in training mode (0). */
  dropout?: number;
  /** A second pass over the sequence backwards, its features concatenated (false). */
  bidirectional?: boolean;
  dtype?: FloatDType;
}
export interface LstmOptions extends Omit<RnnOptions, 'nonlinearity'> {
  /** nn.LSTM only: project h to this many features (0: none); must be below hiddenSize. */
  projSize?: number;
}
export type GruOptions = Omit<RnnOptions, 'nonlinearity'>;

/** One step's weights: [G H, in], [G H, out], the biases (or null), and LSTM's [out, H] projection. */
interface StepWeights {
  wIh: Tensor;
  wHh: Tensor;
  bIh: Tensor | null;
  bHh: Tensor | null;
  wHr: Tensor | null;
}

function checkSize(who: string, name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min)
    throw new KilnError('ERR_ARG', `${who}: ${name} must be an integer >= ${min}, got ${String(v)}`);
}

/** PyTorch's initialisation of every recurrent weight and bias: uniform in ±1/√hiddenSize. */
function param(shape: number[], hidden: number, dtype: FloatDType): Parameter {
  const k = 1 / Math.sqrt(hidden);
  return new Parameter(uniform_(empty(shape, { dtype }), -k, k));
}

/**
 * The gate pre-activations from the input's projection xw ([N, G H]: x W_ihᵀ + b_ih) and the
 * hidden state, then the new state. One step of each mode, shared by the layers and the cells.
 */
function step(mode: Mode, w: StepWeights, xw: Tensor, h: Tensor, c: Tensor | null): [Tensor, Tensor | null] {
  if (mode === 'GRU') {
    // r and z take both projections with their biases; n = tanh(x W_inᵀ + b_in + r (h W_hnᵀ + b_hn)).
    const H = h.shape[h.ndim - 1];
    const hw = linear(h, w.wHh, w.bHh);
    const rz = xw
      .narrow(-1, 0, 2 * H)
      .add(hw.narrow(-1, 0, 2 * H))
      .sigmoid();
    const r = rz.narrow(-1, 0, H),
      z = rz.narrow(-1, H, H);
    const n = xw
      .narrow(-1, 2 * H, H)
      .add(r.mul(hw.narrow(-1, 2 * H, H)))
      .tanh();
    return [n.add(z.mul(h.sub(n))), null]; // (1 - z) n + z h
  }
  const gates = xw.add(linear(h, w.wHh, w.bHh));
  if (mode === 'RNN_TANH') return [gates.tanh(), null];
  if (mode === 'RNN_RELU') return [gates.relu(), null];
  const H = c!.shape[c!.ndim - 1];
  const s = gates.sigmoid(); // i, f and o (g's sigmoid unused)
  const i = s.narrow(-1, 0, H),
    f = s.narrow(-1, H, H),
    o = s.narrow(-1, 3 * H, H);
  const g = gates.narrow(-1, 2 * H, H).tanh();
  const c2 = f.mul(c!).add(i.mul(g));
  let h2 = o.mul(c2.tanh());
  if (w.wHr) h2 = linear(h2, w.wHr, null);
  return [h2, c2];
}

/** The state's shape problem, if any: [layers D, N, size] (or without N, unbatched). */
function stateShapeError(t: Tensor, want: number[]): string | null {
  return t.shape.length === want.length && t.shape.every((s, k) => s === want[k])
    ? null
    : `expected ${shapeStr(want)}, got ${shapeStr(t.shape)}`;
}

/** Shared by RNN, LSTM and GRU: the parameters of every layer and direction, and forward. */
abstract class RnnBase extends Module {
  readonly mode: Mode;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly projSize: number;
  /** Property names of each layer's and direction's weights, in [layer D + direction] order. */
  private readonly _names: { wIh: string; wHh: string; bIh: string; bHh: string; wHr: string }[] = [];

  protected constructor(who: string, mode: Mode, inputSize: number, hiddenSize: number, o: LstmOptions) {
    super();
    checkSize(who, 'inputSize', inputSize, 0);
    checkSize(who, 'hiddenSize', hiddenSize, 1);
    const numLayers = o.numLayers ?? 1;
    checkSize(who, 'numLayers', numLayers, 1);
    const p = o.dropout ?? 0;
    if (!(typeof p === 'number' && p >= 0 && p <= 1))
      throw new KilnError('ERR_ARG', `${who}: dropout must be in [0, 1], got ${String(p)}`);
    const projSize = o.projSize ?? 0;
    checkSize(who, 'projSize', projSize, 0);
    if (projSize >= hiddenSize)
      throw new KilnError('ERR_ARG', `${who}: projSize (${projSize}) must be smaller than hiddenSize (${hiddenSize})`);
    this.mode = mode;
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.numLayers = numLayers;
    this.bias = o.bias ?? true;
    this.batchFirst = o.batchFirst ?? false;
    this.dropout = p;
    this.bidirectional = o.bidirectional ?? false;
    this.projSize = projSize;
    const dtype = o.dtype ?? 'float32';
    const G = GATES[mode] * hiddenSize,
      out = projSize || hiddenSize,
      D = this.bidirectional ? 2 : 1;
    for (let l = 0; l < numLayers; l++)
      for (let d = 0; d < D; d++) {
        // weightIhL0Reverse is PyTorch's weight_ih_l0_reverse in a state dict
        const sfx = `L${l}${d ? 'Reverse' : ''}`;
        const names = {
          wIh: `weightIh${sfx}`,
          wHh: `weightHh${sfx}`,
          bIh: `biasIh${sfx}`,
          bHh: `biasHh${sfx}`,
          wHr: `weightHr${sfx}`,
        };
        this.registerParameter(names.wIh, param([G, l === 0 ? inputSize : out * D], hiddenSize, dtype));
        this.registerParameter(names.wHh, param([G, out], hiddenSize, dtype));
        if (this.bias) {
          this.registerParameter(names.bIh, param([G], hiddenSize, dtype));
          this.registerParameter(names.bHh, param([G], hiddenSize, dtype));
        }
        if (projSize) this.registerParameter(names.wHr, param([projSize, hiddenSize], hiddenSize, dtype));
        this._names.push(names);
      }
  }

  private _weights(k: number): StepWeights {
    const self = this as unknown as Record<string, Tensor>,
      n = this._names[k];
    return {
      wIh: self[n.wIh],
      wHh: self[n.wHh],
      bIh: this.bias ? self[n.bIh] : null,
      bHh: this.bias ? self[n.bHh] : null,
      wHr: this.projSize ? self[n.wHr] : null,
    };
  }

  /** One layer in one direction over x [L, N, in]: the outputs [L, N, out] and the last state. */
  private _direction(
    x: Tensor,
    k: number,
    reverse: boolean,
    h: Tensor,
    c: Tensor | null,
    active: Tensor[] | null,
  ): [Tensor, Tensor, Tensor | null] {
    const w = this._weights(k);
    // a plain RNN's and an LSTM's hidden bias adds to every step alike: folded into the input's GEMM
    const fold = this.mode !== 'GRU' && w.bIh && w.bHh;
    const xw = fold ? linear(x, w.wIh, w.bIh!.add(w.bHh!)) : linear(x, w.wIh, w.bIh);
    const sw = fold ? { ...w, bHh: null } : w;
    const L = x.shape[0],
      hs: Tensor[] = new Array<Tensor>(L);
    for (let s = 0; s < L; s++) {
      const t = reverse ? L - s - 1 : s;
      [h, c] = scope(() => {
        const [h2, c2] = step(this.mode, sw, xw.select(0, t), h, c);
        if (!active) return [h2, c2];
        // packed: a sequence that has ended (or, backwards, not yet begun) keeps its state
        return [where(active[t], h2, h), c && c2 ? where(active[t], c2, c) : c2];
      });
      hs[t] = h;
    }
    return [stack(hs, 0), h, c];
  }

  /**
   * Runs the sequence. input: [L, N, inputSize] ([N, L, inputSize] with batchFirst) or unbatched
   * [L, inputSize]; h0 (and c0): [numLayers D, N, out] ([numLayers D, out] unbatched), zeros
   * when not given. Returns the last layer's output at every step, [L, N, D out], and each
   * layer's and direction's last state.
   */
  protected _run(input: Tensor, h0: Tensor | null, c0: Tensor | null): [Tensor, Tensor, Tensor | null];
  protected _run(input: PackedSequence, h0: Tensor | null, c0: Tensor | null): [PackedSequence, Tensor, Tensor | null];
  protected _run(
    input: Tensor | PackedSequence,
    h0: Tensor | null,
    c0: Tensor | null,
  ): [Tensor | PackedSequence, Tensor, Tensor | null] {
    if (!(input instanceof PackedSequence)) return scope(() => this._layers(input, h0, c0, null));
    // a packed batch: run it padded (time-major) with each sequence's steps masked, pack the output alike
    const [y, h, c] = scope(() => this._layers(padPackedSequence(input)[0], h0, c0, input.lengths()));
    const out = packLike(y, input); // outside the scope: it would dispose a PackedSequence's data
    y.dispose();
    return [out, h, c];
  }

  private _layers(
    input: Tensor,
    h0: Tensor | null,
    c0: Tensor | null,
    lengths: number[] | null,
  ): [Tensor, Tensor, Tensor | null] {
    const who = this.constructor.name;
    if (input.ndim !== 2 && input.ndim !== 3)
      throw new KilnError(
        'ERR_SHAPE',
        `${who}: input must be 3-d (batched) or 2-d (unbatched), got ${shapeStr(input.shape)}`,
      );
    const unbatched = input.ndim === 2;
    const x0 = unbatched ? input.unsqueeze(1) : this.batchFirst && !lengths ? input.transpose(0, 1) : input;
    if (x0.shape[2] !== this.inputSize)
      throw new KilnError(
        'ERR_SHAPE',
        `${who}: expected ${this.inputSize} input features, got ${shapeStr(input.shape)}`,
      );
    const w0 = this._weights(0).wIh;
    if (input.dtype !== w0.dtype)
      throw new KilnError('ERR_DTYPE', `${who}: input is ${input.dtype} but the weights are ${w0.dtype}`);
    const D = this.bidirectional ? 2 : 1,
      N = x0.shape[1],
      out = this.projSize || this.hiddenSize;
    const lead = unbatched ? [this.numLayers * D] : [this.numLayers * D, N];
    const state = (t: Tensor | null, size: number, name: string): Tensor => {
      if (!t) return zeros([this.numLayers * D, N, size], { dtype: input.dtype, device: input.device });
      const bad = stateShapeError(t, [...lead, size]);
      if (bad) throw new KilnError('ERR_SHAPE', `${who}: ${name} ${bad}`);
      if (t.dtype !== input.dtype)
        throw new KilnError('ERR_DTYPE', `${who}: ${name} is ${t.dtype}, input ${input.dtype}`);
      return unbatched ? t.unsqueeze(1) : t;
    };
    const h = state(h0, out, 'h0'),
      c = this.mode === 'LSTM' ? state(c0, this.hiddenSize, 'c0') : null;
    const active = lengths ? activeSteps(lengths, x0.shape[0], input.device) : null;
    let x = x0;
    const hn: Tensor[] = [],
      cn: Tensor[] = [];
    for (let l = 0; l < this.numLayers; l++) {
      const outs: Tensor[] = [];
      for (let d = 0; d < D; d++) {
        const k = l * D + d;
        const [y, hk, ck] = this._direction(x, k, d === 1, h.select(0, k), c ? c.select(0, k) : null, active);
        outs.push(y);
        hn.push(hk);
        if (ck) cn.push(ck);
      }
      x = D === 1 ? outs[0] : cat(outs, 2);
      if (this.training && this.dropout > 0 && l < this.numLayers - 1) x = dropout(x, this.dropout, true);
    }
    const fix = (t: Tensor) => (unbatched ? t.squeeze(1) : t);
    const y = unbatched ? x.squeeze(1) : this.batchFirst && !lengths ? x.transpose(0, 1) : x;
    return [y, fix(stack(hn, 0)), c ? fix(stack(cn, 0)) : null];
  }

  /** PyTorch's cuDNN weight packing: nothing to do here (kiln reads the weights where they are). */
  flattenParameters(): void {}

  override extraRepr(): string {
    const parts = [`${this.inputSize}, ${this.hiddenSize}`];
    if (this.numLayers !== 1) parts.push(`numLayers=${this.numLayers}`);
    if (this.mode === 'RNN_RELU') parts.push(`nonlinearity=relu`);
    if (!this.bias) parts.push('bias=false');
    if (this.batchFirst) parts.push('batchFirst=true');
    if (this.dropout) parts.push(`dropout=${this.dropout}`);
    if (this.bidirectional) parts.push('bidirectional=true');
    if (this.projSize) parts.push(`projSize=${this.projSize}`);
    return parts.join(', ');
  }
}

/** RNN and GRU: one state, h. */
abstract class HiddenStateRnn extends RnnBase {
  /** Returns [output, hN]; a PackedSequence input gives a PackedSequence output. */
  forward(input: Tensor, h0?: Tensor | null): [Tensor, Tensor];
  forward(input: PackedSequence, h0?: Tensor | null): [PackedSequence, Tensor];
  forward(input: Tensor | PackedSequence, h0: Tensor | null = null): [Tensor | PackedSequence, Tensor] {
    const [y, h] = this._run(input as Tensor, h0, null);
    return [y, h];
  }
}

function rnnMode(who: string, nl: string | undefined): Mode {
  if (nl === undefined || nl === 'tanh') return 'RNN_TANH';
  if (nl === 'relu') return 'RNN_RELU';
  throw new KilnError('ERR_ARG', `${who}: nonlinearity must be 'tanh' or 'relu', got '${String(nl)}'`);
}

/**
 * Elman RNN: h_t = tanh(x_t W_ihᵀ + b_ih + h_(t-1) W_hhᵀ + b_hh) (or relu).
 * @example
 * const rnn = new nn.RNN(10, 20, { numLayers: 2 });
 * const [output, hn] = rnn.forward(kiln.randn([5, 3, 10]));  // [5, 3, 20], [2, 3, 20]
 */
export class RNN extends HiddenStateRnn {
  constructor(inputSize: number, hiddenSize: number, opts: RnnOptions = {}) {
    super('RNN', rnnMode('RNN', opts.nonlinearity), inputSize, hiddenSize, opts);
  }
}

/**
 * Long short-term memory: gates i, f, g, o from x_t W_ihᵀ + b_ih + h_(t-1) W_hhᵀ + b_hh, then
 * c_t = f c_(t-1) + i g and h_t = o tanh(c_t) (times W_hrᵀ with projSize).
 * @example
 * const lstm = new nn.LSTM(10, 20, { batchFirst: true });
 * const [output, [hn, cn]] = lstm.forward(kiln.randn([3, 5, 10]));
 */
export class LSTM extends RnnBase {
  constructor(inputSize: number, hiddenSize: number, opts: LstmOptions = {}) {
    super('LSTM', 'LSTM', inputSize, hiddenSize, opts);
  }
  /** Returns [output, [hN, cN]]; state is [h0, c0] (both or neither); packed in, packed out. */
  forward(input: Tensor, state?: [Tensor, Tensor] | null): [Tensor, [Tensor, Tensor]];
  forward(input: PackedSequence, state?: [Tensor, Tensor] | null): [PackedSequence, [Tensor, Tensor]];
  forward(
    input: Tensor | PackedSequence,
    state: [Tensor, Tensor] | null = null,
  ): [Tensor | PackedSequence, [Tensor, Tensor]] {
    if (state !== null && !(Array.isArray(state) && state.length === 2))
      throw new KilnError('ERR_ARG', 'LSTM: the state must be [h0, c0]');
    const [y, h, c] = this._run(input as Tensor, state ? state[0] : null, state ? state[1] : null);
    return [y, [h, c!]];
  }
}

/**
 * Gated recurrent unit: r, z = σ(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (their rows),
 * n = tanh(x W_inᵀ + b_in + r (h W_hnᵀ + b_hn)), h_t = (1 - z) n + z h_(t-1).
 */
export class GRU extends HiddenStateRnn {
  constructor(inputSize: number, hiddenSize: number, opts: GruOptions = {}) {
    super('GRU', 'GRU', inputSize, hiddenSize, opts);
  }
}

/** The cells: one step of each, parameters weight_ih, weight_hh, bias_ih, bias_hh. */
abstract class CellBase extends Module {
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh: Tensor | null;
  biasHh: Tensor | null;
  protected constructor(
    who: string,
    readonly mode: Mode,
    readonly inputSize: number,
    readonly hiddenSize: number,
    o: { bias?: boolean; dtype?: FloatDType },
  ) {
    super();
    checkSize(who, 'inputSize', inputSize, 0);
    checkSize(who, 'hiddenSize', hiddenSize, 1);
    const dtype = o.dtype ?? 'float32',
      G = GATES[mode] * hiddenSize;
    this.weightIh = param([G, inputSize], hiddenSize, dtype);
    this.weightHh = param([G, hiddenSize], hiddenSize, dtype);
    this.biasIh = o.bias === false ? null : param([G], hiddenSize, dtype);
    this.biasHh = o.bias === false ? null : param([G], hiddenSize, dtype);
  }

  /** input [N, in] or [in]; each state [N, H] or [H] (zeros when not given). */
  protected _cell(input: Tensor, h: Tensor | null, c: Tensor | null): [Tensor, Tensor | null] {
    const who = this.constructor.name;
    if (input.ndim !== 1 && input.ndim !== 2)
      throw new KilnError('ERR_SHAPE', `${who}: input must be 2-d (batched) or 1-d, got ${shapeStr(input.shape)}`);
    if (input.shape[input.ndim - 1] !== this.inputSize)
      throw new KilnError(
        'ERR_SHAPE',
        `${who}: expected ${this.inputSize} input features, got ${shapeStr(input.shape)}`,
      );
    if (input.dtype !== this.weightIh.dtype)
      throw new KilnError('ERR_DTYPE', `${who}: input is ${input.dtype} but the weights are ${this.weightIh.dtype}`);
    const want = [...input.shape.slice(0, -1), this.hiddenSize];
    const st = (t: Tensor | null, name: string): Tensor => {
      if (!t) return zeros(want, { dtype: input.dtype, device: input.device });
      const bad = stateShapeError(t, want);
      if (bad) throw new KilnError('ERR_SHAPE', `${who}: ${name} ${bad}`);
      if (t.dtype !== input.dtype)
        throw new KilnError('ERR_DTYPE', `${who}: ${name} is ${t.dtype}, input ${input.dtype}`);
      return t;
    };
    const w = { wIh: this.weightIh, wHh: this.weightHh, bIh: this.biasIh, bHh: this.biasHh, wHr: null };
    return scope(() =>
      step(this.mode, w, linear(input, w.wIh, w.bIh), st(h, 'hx'), this.mode === 'LSTM' ? st(c, 'cx') : null),
    );
  }

  override extraRepr(): string {
    return `${this.inputSize}, ${this.hiddenSize}${this.biasIh ? '' : ', bias=false'}${this.mode === 'RNN_RELU' ? ', nonlinearity=relu' : ''}`;
  }
}

/** One step of nn.RNN: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (or relu). */
export class RNNCell extends CellBase {
  constructor(
    inputSize: number,
    hiddenSize: number,
    opts: { bias?: boolean; nonlinearity?: 'tanh' | 'relu'; dtype?: FloatDType } = {},
  ) {
    super('RNNCell', rnnMode('RNNCell', opts.nonlinearity), inputSize, hiddenSize, opts);
  }
  forward(input: Tensor, hx: Tensor | null = null): Tensor {
    return this._cell(input, hx, null)[0];
  }
}

/** One step of nn.LSTM: returns [h', c']. */
export class LSTMCell extends CellBase {
  constructor(inputSize: number, hiddenSize: number, opts: { bias?: boolean; dtype?: FloatDType } = {}) {
    super('LSTMCell', 'LSTM', inputSize, hiddenSize, opts);
  }
  forward(input: Tensor, state: [Tensor, Tensor] | null = null): [Tensor, Tensor] {
    if (state !== null && !(Array.isArray(state) && state.length === 2))
      throw new KilnError('ERR_ARG', 'LSTMCell: the state must be [hx, cx]');
    const [h, c] = this._cell(input, state ? state[0] : null, state ? state[1] : null);
    return [h, c!];
  }
}

/** One step of nn.GRU. */
export class GRUCell extends CellBase {
  constructor(inputSize: number, hiddenSize: number, opts: { bias?: boolean; dtype?: FloatDType } = {}) {
    super('GRUCell', 'GRU', inputSize, hiddenSize, opts);
  }
  forward(input: Tensor, hx: Tensor | null = null): Tensor {
    return this._cell(input, hx, null)[0];
  }
}
