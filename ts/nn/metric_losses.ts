/**
 * Losses on distances and similarities, for ranking and metric learning (torch.nn.functional
 * pairwise_distance, margin_ranking_loss, cosine_embedding_loss, triplet_margin_loss,
 * hinge_embedding_loss, soft_margin_loss, and their modules), with PyTorch's formulas and
 * reductions; composites of differentiable ops.
 */
import { KilnError } from '../errors';
import { scope } from '../memory';
import type { Tensor } from '../tensor';
import { where } from '../ops/indexing';
import { cosineSimilarity, softplus } from './layers/activation_composite';
import { Module } from './module';
import type { Reduction } from './losses';

function reduced(op: string, x: Tensor, r: Reduction | undefined): Tensor {
  const red = r ?? 'mean';
  if (red !== 'mean' && red !== 'sum' && red !== 'none')
    throw new KilnError('ERR_ARG', `${op}: reduction must be mean, sum or none; got '${String(red)}'`);
  return red === 'none' ? x : red === 'sum' ? x.sum() : x.mean();
}

/** ||x1 - x2 + eps||_p over the last dim (torch pairwise_distance). */
export function pairwiseDistance(
  x1: Tensor,
  x2: Tensor,
  opts: { p?: number; eps?: number; keepdim?: boolean } = {},
): Tensor {
  return scope(() =>
    x1
      .sub(x2)
      .add(opts.eps ?? 1e-6)
      .norm(opts.p ?? 2, -1, opts.keepdim ?? false),
  );
}

/** max(0, -y (x1 - x2) + margin), y = 1 or -1 (torch margin_ranking_loss). */
export function marginRankingLoss(
  x1: Tensor,
  x2: Tensor,
  y: Tensor,
  opts: { margin?: number; reduction?: Reduction } = {},
): Tensor {
  return scope(() =>
    reduced(
      'marginRankingLoss',
      y
        .neg()
        .mul(x1.sub(x2))
        .add(opts.margin ?? 0)
        .clampMin(0),
      opts.reduction,
    ),
  );
}

/** 1 - cos(x1, x2) where y = 1, max(0, cos - margin) where y = -1 (torch cosine_embedding_loss). */
export function cosineEmbeddingLoss(
  x1: Tensor,
  x2: Tensor,
  y: Tensor,
  opts: { margin?: number; reduction?: Reduction } = {},
): Tensor {
  return scope(() => {
    const cos = cosineSimilarity(x1, x2, { dim: -1 });
    const l = where(y.eq(1), cos.neg().add(1), cos.sub(opts.margin ?? 0).clampMin(0));
    return reduced('cosineEmbeddingLoss', l, opts.reduction);
  });
}

export interface TripletOptions {
  margin?: number;
  p?: number;
  eps?: number;
  /** Use the closer of d(anchor, negative) and d(positive, negative). */
  swap?: boolean;
  reduction?: Reduction;
}

/** max(d(a, p) - d(a, n) + margin, 0) with pairwiseDistance (torch triplet_margin_loss). */
export function tripletMarginLoss(
  anchor: Tensor,
  positive: Tensor,
  negative: Tensor,
  opts: TripletOptions = {},
): Tensor {
  return scope(() => {
    const d = (a: Tensor, b: Tensor) => pairwiseDistance(a, b, { p: opts.p ?? 2, eps: opts.eps ?? 1e-6 });
    let dn = d(anchor, negative);
    if (opts.swap) dn = dn.minimum(d(positive, negative));
    return reduced(
      'tripletMarginLoss',
      d(anchor, positive)
        .sub(dn)
        .add(opts.margin ?? 1)
        .clampMin(0),
      opts.reduction,
    );
  });
}

/** x where y = 1, max(0, margin - x) where y = -1 (torch hinge_embedding_loss). */
export function hingeEmbeddingLoss(
  x: Tensor,
  y: Tensor,
  opts: { margin?: number; reduction?: Reduction } = {},
): Tensor {
  return scope(() => {
    const neg = x
      .neg()
      .add(opts.margin ?? 1)
      .clampMin(0);
    const l = where(y.eq(1), x, 0).add(where(y.eq(-1), neg, 0));
    return reduced('hingeEmbeddingLoss', l, opts.reduction);
  });
}

/** log(1 + e^(-y x)) (torch soft_margin_loss), through softplus. */
export function softMarginLoss(x: Tensor, y: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  return scope(() => reduced('softMarginLoss', softplus(y.neg().mul(x)), opts.reduction));
}

export class PairwiseDistance extends Module {
  constructor(readonly opts: { p?: number; eps?: number; keepdim?: boolean } = {}) {
    super();
  }
  forward(x1: Tensor, x2: Tensor): Tensor {
    return pairwiseDistance(x1, x2, this.opts);
  }
}
export class MarginRankingLoss extends Module {
  constructor(readonly opts: { margin?: number; reduction?: Reduction } = {}) {
    super();
  }
  forward(x1: Tensor, x2: Tensor, y: Tensor): Tensor {
    return marginRankingLoss(x1, x2, y, this.opts);
  }
}
export class CosineEmbeddingLoss extends Module {
  constructor(readonly opts: { margin?: number; reduction?: Reduction } = {}) {
    super();
  }
  forward(x1: Tensor, x2: Tensor, y: Tensor): Tensor {
    return cosineEmbeddingLoss(x1, x2, y, this.opts);
  }
}
export class TripletMarginLoss extends Module {
  constructor(readonly opts: TripletOptions = {}) {
    super();
  }
  forward(anchor: Tensor, positive: Tensor, negative: Tensor): Tensor {
    return tripletMarginLoss(anchor, positive, negative, this.opts);
  }
}
export class HingeEmbeddingLoss extends Module {
  constructor(readonly opts: { margin?: number; reduction?: Reduction } = {}) {
    super();
  }
  forward(x: Tensor, y: Tensor): Tensor {
    return hingeEmbeddingLoss(x, y, this.opts);
  }
}
export class SoftMarginLoss extends Module {
  constructor(readonly opts: { reduction?: Reduction } = {}) {
    super();
  }
  forward(x: Tensor, y: Tensor): Tensor {
    return softMarginLoss(x, y, this.opts);
  }
}
