/** Embedding, Dropout, and learned and sinusoidal positional embeddings. */
import { arange, zeros } from '../../creation';
import { KilnError } from '../../errors';
import { normal_ } from '../init';
import { dropout } from '../../ops/dropout';
import { embedding } from '../../ops/embedding';
import type { Tensor } from '../../tensor';
import { Module, Parameter } from '../module';

export { dropout, embedding };

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
