/** Embedding, Dropout, and learned and sinusoidal positional embeddings. */
import { arange, zeros } from '../../creation';
import { KilnError } from '../../errors';
import { normal_ } from '../init';
import { rand } from '../../ops/random';
import { shapeStr } from '../../shape';
import type { Tensor } from '../../tensor';
import { Module, Parameter } from '../module';

/**
 * Rows of `weight` picked by integer `input` (torch embedding); the paddingIdx row gets no
 * gradient.
 */
export function embedding(input: Tensor, weight: Tensor, paddingIdx: number | null = null): Tensor {
  if (!['int64', 'int32', 'uint8'].includes(input.dtype))
    throw new KilnError('ERR_DTYPE', `embedding: indices must be integers, got ${input.dtype}`);
  if (weight.ndim !== 2)
    throw new KilnError('ERR_SHAPE', `embedding: weight must be 2-d, got ${shapeStr(weight.shape)}`);
  const flat = input.reshape([-1]);
  if (flat.numel() > 0) {
    const lo = flat.amin().item() as number,
      hi = flat.amax().item() as number;
    if (lo < 0 || hi >= weight.shape[0])
      throw new KilnError(
        'ERR_INDEX',
        `embedding: index ${lo < 0 ? lo : hi} is out of range for ${weight.shape[0]} rows`,
      );
  }
  let rows = weight.indexSelect(0, flat);
  if (paddingIdx !== null) rows = rows.mul(flat.ne(paddingIdx).unsqueeze(1));
  return rows.reshape([...input.shape, weight.shape[1]]);
}

/**
 * Zeroes elements with probability p and scales the rest by 1 / (1 - p) when training (torch
 * dropout); the identity otherwise.
 */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new KilnError('ERR_ARG', `dropout: p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  const keep = rand(x.shape.slice(), { dtype: x.dtype }).ge(p);
  return x.mul(keep).mul(1 / (1 - p));
}

export class Embedding extends Module {
  weight: Tensor;
  readonly paddingIdx: number | null;
  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    opts: { paddingIdx?: number | null } = {},
  ) {
    super();
    let pad = opts.paddingIdx ?? null;
    if (pad !== null) {
      if (pad < -numEmbeddings || pad >= numEmbeddings)
        throw new KilnError('ERR_ARG', `Embedding: paddingIdx ${pad} out of range`);
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    const w = normal_(zeros([numEmbeddings, embeddingDim]));
    if (pad !== null) w.narrow(0, pad, 1).zero_();
    this.weight = new Parameter(w);
  }
  forward(input: Tensor): Tensor {
    return embedding(input, this.weight, this.paddingIdx);
  }
  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ''}`;
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new KilnError('ERR_ARG', `Dropout: p must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/** Adds a learned position vector to [B, S, D] (batch first) inputs, positions 0..S-1. */
export class LearnedPositionalEmbedding extends Module {
  weight: Tensor;
  constructor(
    readonly maxLen: number,
    readonly dim: number,
  ) {
    super();
    this.weight = new Parameter(normal_(zeros([maxLen, dim]), 0, 0.02));
  }
  forward(x: Tensor): Tensor {
    const S = x.shape[x.ndim - 2];
    if (S > this.maxLen)
      throw new KilnError(
        'ERR_SHAPE',
        `LearnedPositionalEmbedding: sequence ${S} is longer than maxLen ${this.maxLen}`,
      );
    return x.add(this.weight.narrow(0, 0, S));
  }
}

/** Adds the fixed sine/cosine encoding of "Attention Is All You Need" to [B, S, D] inputs. */
export class SinusoidalPositionalEmbedding extends Module {
  declare pe: Tensor;
  constructor(
    readonly maxLen: number,
    readonly dim: number,
  ) {
    super();
    const pos = arange(0, maxLen, 1, { dtype: 'float32' }).unsqueeze(1);
    const freq = arange(0, dim, 2, { dtype: 'float32' })
      .mul(-Math.log(10000) / dim)
      .exp();
    const angles = pos.mul(freq); // [maxLen, ceil(dim / 2)]
    const pe = zeros([maxLen, dim]);
    const even = pe.slice(1, 0, dim, 2),
      odd = pe.slice(1, 1, dim, 2);
    even.copy_(angles.sin());
    odd.copy_(angles.narrow(1, 0, odd.shape[1]).cos());
    this.registerBuffer('pe', pe, false);
  }
  forward(x: Tensor): Tensor {
    const S = x.shape[x.ndim - 2];
    if (S > this.maxLen)
      throw new KilnError(
        'ERR_SHAPE',
        `SinusoidalPositionalEmbedding: sequence ${S} is longer than maxLen ${this.maxLen}`,
      );
    return x.add(this.pe.narrow(0, 0, S));
  }
}
