/**
 * kiln.nn: Module and Parameter, containers, layers, init and the functional forms
 * (torch.nn). Layers that need the nn kernels (convolution, normalisation, attention) arrive with
 * those kernels.
 */
import * as C from '../ops/composite';
import { KilnError } from '../errors';
import { pad } from '../ops/indexing';
import { padWith, type PadMode } from '../ops/rearrange';
import type { Tensor } from '../tensor';
import { gelu, linear } from '../ops/linear';
import * as init from './init';
import { leakyRelu, silu } from './layers/activation';
import * as A from './layers/activation_composite';
import * as L from './losses';
import { clipGradNorm_, clipGradValue_ } from './clip';
import { PackedSequence, packPaddedSequence, packSequence, padPackedSequence, padSequence } from './rnn_utils';
import { scaledDotProductAttention } from './layers/attention';
import {
  adaptiveAvgPool2d,
  avgPool2d,
  conv1d,
  conv2d,
  convTranspose1d,
  convTranspose2d,
  maxPool2d,
  maxPool2dWithIndices,
} from './layers/conv';
import {
  adaptiveMaxPool1d,
  adaptiveMaxPool1dWithIndices,
  adaptiveMaxPool2d,
  adaptiveMaxPool2dWithIndices,
} from './layers/pool_adaptive_max';
import { lpPool1d, lpPool2d } from './layers/pool_lp';
import { embeddingBag } from './layers/embedding_bag';
import { channelShuffle } from './layers/shuffle';
import { dropout, embedding } from './layers/embedding';
import { interpolate } from '../ops/interpolate';
import { batchNorm, groupNorm, instanceNorm, layerNorm, rmsNorm } from './layers/norm';
import { adaptiveAvgPool1d, avgPool1d, maxPool1d } from './layers/pool1d';
import { pixelShuffle, pixelUnshuffle } from './layers/upsample';
import * as ML from './metric_losses';
import { fold, unfold2d } from '../ops/windows';
import { gumbelSoftmax } from '../ops/sampling';

/** Options of functional.pad: torch's mode and the fill value of 'constant'. */
export interface PadOptions {
  mode?: 'constant' | PadMode;
  value?: number;
}

/**
 * torch.nn.functional.pad: `pads` in PyTorch's order ([left, right] of the last dim, then the
 * dim before, ...); 'constant' fills with `value`, 'reflect', 'replicate' and 'circular' read x's
 * own values (ops/rearrange.ts padWith).
 */
function fpad(x: Tensor, pads: readonly number[], opts: PadOptions = {}): Tensor {
  const mode = opts.mode ?? 'constant';
  if (mode === 'constant') return pad(x, pads, opts.value ?? 0);
  if (mode !== 'reflect' && mode !== 'replicate' && mode !== 'circular')
    throw new KilnError('ERR_ARG', `pad: mode must be constant, reflect, replicate or circular; got '${String(mode)}'`);
  if (opts.value !== undefined && opts.value !== 0)
    throw new KilnError('ERR_ARG', `pad: a fill value only goes with mode 'constant' (got ${mode})`);
  return padWith(x, pads, mode);
}

/** Functional forms (torch.nn.functional). */
export const functional = {
  pad: fpad,
  relu: C.relu,
  leakyRelu,
  elu: A.elu,
  selu: A.selu,
  celu: A.celu,
  softplus: A.softplus,
  softsign: A.softsign,
  hardtanh: A.hardtanh,
  relu6: A.relu6,
  hardsigmoid: A.hardsigmoid,
  hardswish: A.hardswish,
  threshold: A.threshold,
  prelu: A.prelu,
  mish: A.mish,
  logsigmoid: A.logsigmoid,
  normalize: A.normalize,
  cosineSimilarity: A.cosineSimilarity,
  gelu,
  silu,
  linear,
  softmax: C.softmax,
  logSoftmax: C.logSoftmax,
  oneHot: C.oneHot,
  crossEntropy: L.crossEntropy,
  nllLoss: L.nllLoss,
  mseLoss: L.mseLoss,
  l1Loss: L.l1Loss,
  smoothL1Loss: L.smoothL1Loss,
  huberLoss: L.huberLoss,
  binaryCrossEntropy: L.binaryCrossEntropy,
  binaryCrossEntropyWithLogits: L.binaryCrossEntropyWithLogits,
  klDiv: L.klDiv,
  embedding,
  dropout,
  layerNorm,
  rmsNorm,
  groupNorm,
  batchNorm,
  scaledDotProductAttention,
  conv1d,
  conv2d,
  convTranspose2d,
  maxPool2d,
  maxPool2dWithIndices,
  avgPool2d,
  adaptiveAvgPool2d,
  interpolate,
  glu: A.glu,
  softmin: A.softmin,
  softshrink: A.softshrink,
  hardshrink: A.hardshrink,
  tanhshrink: A.tanhshrink,
  instanceNorm,
  maxPool1d,
  avgPool1d,
  adaptiveAvgPool1d,
  pixelShuffle,
  pixelUnshuffle,
  pairwiseDistance: ML.pairwiseDistance,
  marginRankingLoss: ML.marginRankingLoss,
  cosineEmbeddingLoss: ML.cosineEmbeddingLoss,
  tripletMarginLoss: ML.tripletMarginLoss,
  hingeEmbeddingLoss: ML.hingeEmbeddingLoss,
  softMarginLoss: ML.softMarginLoss,
  unfold: unfold2d,
  fold,
  gumbelSoftmax,
  convTranspose1d,
  adaptiveMaxPool1d,
  adaptiveMaxPool1dWithIndices,
  adaptiveMaxPool2d,
  adaptiveMaxPool2dWithIndices,
  lpPool1d,
  lpPool2d,
  embeddingBag,
  channelShuffle,
};

export { init };
export { Module, Parameter } from './module';
export type { LoadResult } from './module';
export { ModuleDict, ModuleList, Sequential } from './containers';
export { Flatten, Identity, Linear } from './layers/linear';
export type { LinearOptions } from './layers/linear';
export { GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Tanh } from './layers/activation';
export {
  CELU,
  ELU,
  Hardsigmoid,
  Hardswish,
  Hardtanh,
  LogSigmoid,
  Mish,
  PReLU,
  ReLU6,
  SELU,
  Softplus,
  Softsign,
  Threshold,
  GLU,
  Softmin,
  Softshrink,
  Hardshrink,
  Tanhshrink,
} from './layers/activation_composite';
export {
  BCELoss,
  BCEWithLogitsLoss,
  CrossEntropyLoss,
  KLDivLoss,
  L1Loss,
  HuberLoss,
  MSELoss,
  NLLLoss,
  SmoothL1Loss,
} from './losses';
export type { BceOptions, BceWithLogitsOptions, CrossEntropyOptions, NllOptions, Reduction } from './losses';

/** torch.nn.utils: gradient clipping, and utils.rnn's padding and packing of sequences. */
export const utils = {
  clipGradNorm_,
  clipGradValue_,
  rnn: { padSequence, packPaddedSequence, padPackedSequence, packSequence, PackedSequence },
};
export { PackedSequence };
export { BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm, RMSNorm } from './layers/norm';
export { InstanceNorm1d, InstanceNorm2d, InstanceNorm3d } from './layers/norm';
export { AdaptiveAvgPool1d, AvgPool1d, MaxPool1d } from './layers/pool1d';
export type { Pool1dOptions } from './layers/pool1d';
export { PixelShuffle, PixelUnshuffle } from './layers/upsample';
export {
  CosineEmbeddingLoss,
  HingeEmbeddingLoss,
  MarginRankingLoss,
  PairwiseDistance,
  SoftMarginLoss,
  TripletMarginLoss,
} from './metric_losses';
export type { TripletOptions } from './metric_losses';
export { Dropout, Embedding, LearnedPositionalEmbedding, SinusoidalPositionalEmbedding } from './layers/embedding';
export { MultiheadAttention, TransformerEncoder, TransformerEncoderLayer } from './layers/attention';
export type { EncoderLayerOptions, MhaForwardOptions, SdpaOptions } from './layers/attention';
export { Transformer, TransformerDecoder, TransformerDecoderLayer } from './layers/transformer_decoder';
export type {
  DecoderForwardOptions,
  DecoderLayerOptions,
  TransformerForwardOptions,
  TransformerOptions,
} from './layers/transformer_decoder';
export {
  AdaptiveAvgPool2d,
  AvgPool2d,
  Conv1d,
  Conv2d,
  ConvTranspose1d,
  ConvTranspose2d,
  MaxPool2d,
} from './layers/conv';
export type { ConvTranspose1dOptions } from './layers/conv';
export {
  CircularPad1d,
  CircularPad2d,
  CircularPad3d,
  ConstantPad1d,
  ConstantPad2d,
  ConstantPad3d,
  ReflectionPad1d,
  ReflectionPad2d,
  ReflectionPad3d,
  ReplicationPad1d,
  ReplicationPad2d,
  ReplicationPad3d,
  ZeroPad1d,
  ZeroPad2d,
  ZeroPad3d,
} from './layers/padding';
export type { PadArg } from './layers/padding';
export { AdaptiveMaxPool1d, AdaptiveMaxPool2d } from './layers/pool_adaptive_max';
export type { AdaptiveMaxPoolOptions, AdaptiveSize, AdaptiveSize2 } from './layers/pool_adaptive_max';
export { LPPool1d, LPPool2d } from './layers/pool_lp';
export type { LPPoolOptions } from './layers/pool_lp';
export { EmbeddingBag } from './layers/embedding_bag';
export type { EmbeddingBagMode, EmbeddingBagModuleOptions, EmbeddingBagOptions } from './layers/embedding_bag';
export { ChannelShuffle } from './layers/shuffle';
export { Unflatten } from './layers/unflatten';
export { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell } from './layers/rnn';
export type { GruOptions, LstmOptions, RnnOptions } from './layers/rnn';
export { Upsample, UpsamplingBilinear2d, UpsamplingNearest2d } from './layers/upsample';
export type { UpsampleOptions } from './layers/upsample';
export type { InterpolateMode, InterpolateOptions } from '../ops/interpolate';
export { Fold, Unfold } from './layers/fold';
export type { FoldOptions } from '../ops/windows';
export type { GumbelSoftmaxOptions } from '../ops/sampling';
