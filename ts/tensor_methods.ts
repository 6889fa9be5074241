/**
 * The method surface of Tensor, declared explicitly (like PyTorch's .pyi stubs) so the types
 * of ops and methods do not depend on each other; ts/methods.ts attaches the implementations
 * and the compiler checks each one against its line here.
 */
import type { BackwardOptions } from './autograd/engine';
import type { GradHook, RemovableHandle } from './autograd/hooks';
import type { TensorOptions } from './creation';
import type { Device } from './device';
import type { DType } from './dtype';
import type { VarOptions } from './ops/composite';
import type { AddmmOptions } from './ops/linear';
import type { RoundingMode, ValueOption } from './ops/arith';
import type { CloseOptions } from './ops/logical';
import type { NormOrder } from './ops/vector_norm';
import type { RankOptions } from './linalg/derived';
import type { CholeskyOptions } from './linalg/factor';
import type { ScanOptions } from './ops/scan';
import type { KthvalueOptions, SortOptions, TopkOptions, ValuesIndices } from './ops/sort';
import type { Generator } from './ops/random';
import type { MultinomialOptions } from './ops/sampling';
import type { UniqueOptions, UniqueResult } from './ops/selection';
import type { CovOptions, QuantileOptions } from './ops/statistics';
import type { Tensor } from './tensor';

type TensorLike = Tensor | number | boolean;
type Dims = number | number[] | null;

export interface TensorMethods {
  /** -x */ neg(): Tensor;
  /** |x| */ abs(): Tensor;
  /** -1, 0 or 1 */ sign(): Tensor;
  /** e^x */ exp(): Tensor;
  /** natural log */ log(): Tensor;
  sqrt(): Tensor;
  /** 1/sqrt(x) */ rsqrt(): Tensor;
  sin(): Tensor;
  cos(): Tensor;
  tanh(): Tensor;
  sigmoid(): Tensor;
  erf(): Tensor;
  /** 1 - erf(x), accurate where erf is near 1 */ erfc(): Tensor;
  /** log |Γ(x)| */ lgamma(): Tensor;
  /** ψ(x) = d/dx log Γ(x) */ digamma(): Tensor;
  /** polygamma(n, x) for n = 0 or 1 */ polygamma(n: number): Tensor;
  floor(): Tensor;
  ceil(): Tensor;
  /** round half to even */ round(): Tensor;
  trunc(): Tensor;
  /** 1/x */ reciprocal(): Tensor;
  /** log(1 + x) */ log1p(): Tensor;
  /** e^x - 1 */ expm1(): Tensor;
  logicalNot(): Tensor;
  /** in place: x = -x (and likewise for each unary op) */
  neg_(): Tensor;
  abs_(): Tensor;
  sign_(): Tensor;
  exp_(): Tensor;
  log_(): Tensor;
  sqrt_(): Tensor;
  rsqrt_(): Tensor;
  sin_(): Tensor;
  cos_(): Tensor;
  tanh_(): Tensor;
  sigmoid_(): Tensor;
  erf_(): Tensor;
  erfc_(): Tensor;
  lgamma_(): Tensor;
  digamma_(): Tensor;
  floor_(): Tensor;
  ceil_(): Tensor;
  round_(): Tensor;
  trunc_(): Tensor;
  reciprocal_(): Tensor;
  log1p_(): Tensor;
  expm1_(): Tensor;

  /** x + other (broadcasting, type promotion) */ add(other: TensorLike): Tensor;
  sub(other: TensorLike): Tensor;
  mul(other: TensorLike): Tensor;
  /** true division (integers give float32); roundingMode 'trunc' or 'floor' rounds (integers stay integers) */
  div(other: TensorLike, opts?: { roundingMode?: RoundingMode | null }): Tensor;
  pow(exponent: TensorLike): Tensor;
  /** elementwise max (NaN propagates) */ maximum(other: TensorLike): Tensor;
  minimum(other: TensorLike): Tensor;
  /** Python-style modulo (sign of the divisor) */ remainder(other: TensorLike): Tensor;
  atan2(other: TensorLike): Tensor;
  eq(other: TensorLike): Tensor;
  ne(other: TensorLike): Tensor;
  lt(other: TensorLike): Tensor;
  le(other: TensorLike): Tensor;
  gt(other: TensorLike): Tensor;
  ge(other: TensorLike): Tensor;
  logicalAnd(other: TensorLike): Tensor;
  logicalOr(other: TensorLike): Tensor;
  logicalXor(other: TensorLike): Tensor;
  /** in place: x += other */ add_(other: TensorLike): Tensor;
  sub_(other: TensorLike): Tensor;
  mul_(other: TensorLike): Tensor;
  div_(other: TensorLike): Tensor;
  pow_(exponent: TensorLike): Tensor;
  maximum_(other: TensorLike): Tensor;
  minimum_(other: TensorLike): Tensor;
  remainder_(other: TensorLike): Tensor;

  /** Sum over dims (all by default); integers sum to int64. */ sum(dim?: Dims, keepdim?: boolean): Tensor;
  prod(dim?: Dims, keepdim?: boolean): Tensor;
  /** max over dims */ amax(dim?: Dims, keepdim?: boolean): Tensor;
  amin(dim?: Dims, keepdim?: boolean): Tensor;
  /** index of the max (over the flattened tensor by default) */ argmax(dim?: number | null, keepdim?: boolean): Tensor;
  argmin(dim?: number | null, keepdim?: boolean): Tensor;
  mean(dim?: Dims, keepdim?: boolean): Tensor;
  /** variance, correction 1 by default */ var(dim?: Dims, opts?: VarOptions): Tensor;
  std(dim?: Dims, opts?: VarOptions): Tensor;
  logsumexp(dim: number | number[], keepdim?: boolean): Tensor;
  /** max() of all elements, or max(dim) -> { values, indices } */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  /** true where any element over dims (all by default) is non-zero; bool */ any(dim?: Dims, keepdim?: boolean): Tensor;
  /** true where every element over dims (all by default) is non-zero; bool */ all(
    dim?: Dims,
    keepdim?: boolean,
  ): Tensor;
  /** |a - b| <= atol + rtol |b| elementwise; bool */ isclose(other: Tensor, opts?: CloseOptions): Tensor;
  allclose(other: Tensor, opts?: CloseOptions): boolean;
  /** same shape and values */ equal(other: Tensor): boolean;
  /** vector p-norm over dims (all by default); p = 2 ('fro'), 1, Infinity, -Infinity, 0 or any p > 0 */
  norm(p?: NormOrder, dim?: Dims | null, keepdim?: boolean): Tensor;

  /** reversed along dims (a copy) */ flip(dims: number | number[]): Tensor;
  /** running sums along dim (integers give int64) */ cumsum(dim: number, opts?: ScanOptions): Tensor;
  /** running products along dim (integers give int64) */ cumprod(dim: number, opts?: ScanOptions): Tensor;
  /** sorted along dim (last by default): { values, indices }; NaN largest, ties stable */
  sort(dim?: number | SortOptions, opts?: SortOptions): ValuesIndices;
  /** the int64 indices that sort along dim */ argsort(dim?: number | SortOptions, opts?: SortOptions): Tensor;
  /** sorted along dim 0 */ msort(): Tensor;
  /** the k largest (or smallest) along dim, in order: { values, indices } */
  topk(k: number, dim?: number | TopkOptions, opts?: TopkOptions): ValuesIndices;
  /** the k-th smallest along dim (k from 1): { values, indices } */
  kthvalue(k: number, dim?: number | KthvalueOptions, keepdim?: boolean | KthvalueOptions): ValuesIndices;
  /** shifted along dims, wrapping around (flattened without dims) */
  roll(shifts: number | number[], dims?: number | number[]): Tensor;
  /** repeated sizes[i] times along dim i (sizes may add leading dims) */ repeat(sizes: number | number[]): Tensor;
  /** as repeat, missing leading sizes taken as 1 */ tile(reps: number | number[]): Tensor;
  /** lower triangle of the last two dims (j - i <= diagonal) */ tril(diagonal?: number): Tensor;
  /** upper triangle of the last two dims (j - i >= diagonal) */ triu(diagonal?: number): Tensor;
  /** the slices along dim */ unbind(dim?: number): Tensor[];
  /** a[i] b[j] of two 1-d tensors */ outer(vec2: Tensor): Tensor;
  /** 1-d: a matrix with it on a diagonal; 2-d: a diagonal */ diag(diagonal?: number): Tensor;
  /** sum of a 2-d tensor's diagonal */ trace(): Tensor;
  /** the diagonal of dims dim1 and dim2 as a new last dim */ diagonal(
    offset?: number,
    dim1?: number,
    dim2?: number,
  ): Tensor;
  /** matrices with the last dim on their diagonal */ diagEmbed(offset?: number): Tensor;
  /** inverse of square matrices (linalg.inv) */ inverse(): Tensor;
  /** determinants (linalg.det) */ det(): Tensor;
  /** log determinants, NaN where det < 0 */ logdet(): Tensor;
  /** sign and log |det| (linalg.slogdet) */ slogdet(): { sign: Tensor; logabsdet: Tensor };
  /** Moore-Penrose pseudo-inverse (linalg.pinv) */ pinverse(opts?: RankOptions): Tensor;
  /** integer matrix power (linalg.matrixPower) */ matrixPower(n: number): Tensor;
  /** Cholesky factor of symmetric positive-definite matrices (linalg.cholesky) */ cholesky(
    opts?: CholeskyOptions,
  ): Tensor;
  /** self + weight (end - self) */ lerp(end: Tensor, weight: TensorLike): Tensor;
  /** self + value t1 t2 */ addcmul(t1: Tensor, t2: Tensor, opts?: ValueOption): Tensor;
  /** self + value t1 / t2 */ addcdiv(t1: Tensor, t2: Tensor, opts?: ValueOption): Tensor;

  /** matrix product with batch broadcasting */ matmul(other: Tensor): Tensor;
  /** batched matrix product of 3-d tensors, no broadcasting */ bmm(mat2: Tensor): Tensor;
  /** beta * this + alpha * (mat1 @ mat2) */ addmm(mat1: Tensor, mat2: Tensor, opts?: AddmmOptions): Tensor;
  /** in place: this = beta * this + alpha * (mat1 @ mat2) */ addmm_(
    mat1: Tensor,
    mat2: Tensor,
    opts?: AddmmOptions,
  ): Tensor;
  gather(dim: number, index: Tensor): Tensor;
  scatter(dim: number, index: Tensor, src: TensorLike): Tensor;
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor;
  /** constant padding, last dim first: [left, right, top, bottom, ...] */ pad(pads: number[], value?: number): Tensor;
  /** this where condition holds, else other */ where(condition: Tensor, other: TensorLike): Tensor;
  cat(others: Tensor[], dim?: number): Tensor;

  /** a view when possible, else a copy; one size may be -1 */ reshape(shape: number[]): Tensor;
  /** a view (never copies) */ view(shape: number[]): Tensor;
  permute(dims: number[]): Tensor;
  transpose(dim0: number, dim1: number): Tensor;
  /** broadcast size-1 dims without copying (-1 keeps a size) */ expand(shape: number[]): Tensor;
  /** x[..., start:end:step, ...] along dim, as a view */ slice(
    dim: number,
    start?: number,
    end?: number,
    step?: number,
  ): Tensor;
  narrow(dim: number, start: number, length: number): Tensor;
  select(dim: number, index: number): Tensor;
  squeeze(dim?: number | number[]): Tensor;
  unsqueeze(dim: number): Tensor;
  flatten(startDim?: number, endDim?: number): Tensor;
  broadcastTo(shape: number[]): Tensor;
  /** transpose of a matrix */ t(): Tensor;
  expandAs(other: Tensor): Tensor;
  viewAs(other: Tensor): Tensor;
  split(size: number | number[], dim?: number): Tensor[];
  chunk(chunks: number, dim?: number): Tensor[];

  /** convert dtype or move device (a new handle on the same memory when nothing changes) */ to(
    target: DType | Device | 'cuda',
  ): Tensor;
  /** the values on cuda:N (default cuda:0); this tensor (a new handle) when already there */ cuda(
    device?: number | string,
  ): Tensor;
  /** the values on the CPU; this tensor (a new handle) when already there */ cpu(): Tensor;
  clone(): Tensor;
  contiguous(): Tensor;
  /** same memory, cut off from autograd */ detach(): Tensor;
  /** copy src (broadcast, converted) into this */ copy_(src: Tensor): Tensor;
  fill_(value: number | boolean): Tensor;
  zero_(): Tensor;
  uniform_(from?: number, to?: number, opts?: { generator?: Generator }): Tensor;
  normal_(mean?: number, std?: number, opts?: { generator?: Generator }): Tensor;
  /** 1 with probability this, else 0 */ bernoulli(opts?: { generator?: Generator }): Tensor;
  float(): Tensor;
  double(): Tensor;
  int(): Tensor;
  long(): Tensor;
  bool(): Tensor;

  clamp(min?: TensorLike | null, max?: TensorLike | null): Tensor;
  /** clamp's other name */ clip(min?: TensorLike | null, max?: TensorLike | null): Tensor;
  clampMin(min: TensorLike): Tensor;
  clampMax(max: TensorLike): Tensor;
  relu(): Tensor;
  relu_(): Tensor;
  clamp_(min?: number | null, max?: number | null): Tensor;
  square(): Tensor;
  softmax(dim: number): Tensor;
  logSoftmax(dim: number): Tensor;
  maskedFill(mask: Tensor, value: number | boolean): Tensor;
  indexSelect(dim: number, index: Tensor): Tensor;
  isinf(): Tensor;
  isnan(): Tensor;
  /** indices of the non-zero elements: [count, ndim] int64, or one 1-d tensor per dim */
  nonzero(opts?: { asTuple?: false }): Tensor;
  nonzero(opts: { asTuple: true }): Tensor[];
  /** nonzero() as a [count, ndim] tensor */ argwhere(): Tensor;
  /** non-zero elements over dims (all by default), int64 */ countNonzero(dim?: Dims): Tensor;
  /** the elements where the (broadcast) bool mask is true, 1-d */ maskedSelect(mask: Tensor): Tensor;
  /** distinct elements (slices along dim), sorted; { values, inverse, counts } when asked for */
  unique(opts?: UniqueOptions & { returnInverse?: false; returnCounts?: false }): Tensor;
  unique(opts: UniqueOptions): UniqueResult;
  /** runs of equal consecutive elements collapsed to one */
  uniqueConsecutive(opts?: Omit<UniqueOptions, 'sorted'> & { returnInverse?: false; returnCounts?: false }): Tensor;
  uniqueConsecutive(opts: Omit<UniqueOptions, 'sorted'>): UniqueResult;
  /** occurrences of each value 0..max of non-negative integers (or sums of weights) */
  bincount(opts?: { weights?: Tensor | null; minlength?: number }): Tensor;
  /** histogram of equal-width bins over [min, max] (the data's range when both are 0) */
  histc(bins?: number, min?: number, max?: number): Tensor;
  /** elements of the flattened tensor at index (negative from the end) */ take(index: Tensor): Tensor;
  /** gather with broadcasting; flattened without dim */ takeAlongDim(indices: Tensor, dim?: number | null): Tensor;
  /** each element (slice along dim) repeated; a 1-d integer tensor alone gives its indices repeated */
  repeatInterleave(repeats?: number | Tensor, dim?: number | null): Tensor;
  /** alpha source added at index along dim (repeats sum) */
  indexAdd(dim: number, index: Tensor, source: Tensor, opts?: { alpha?: number }): Tensor;
  /** source copied to index along dim */ indexCopy(dim: number, index: Tensor, source: Tensor): Tensor;
  /** value written at index along dim */ indexFill(dim: number, index: Tensor, value: number | boolean): Tensor;
  /** lower median of all elements, or along dim: { values, indices }; NaN where a NaN is */
  median(): Tensor;
  median(dim: number, keepdim?: boolean): ValuesIndices;
  /** median of the elements that are not NaN */
  nanmedian(): Tensor;
  nanmedian(dim: number, keepdim?: boolean): ValuesIndices;
  /** sum with NaN as zero */ nansum(dim?: Dims, keepdim?: boolean): Tensor;
  /** mean of the elements that are not NaN */ nanmean(dim?: Dims, keepdim?: boolean): Tensor;
  /** q-th quantiles (q a number or 1-d tensor), of all elements or along opts.dim */
  quantile(q: number | Tensor, opts?: QuantileOptions): Tensor;
  /** quantile ignoring NaN */ nanquantile(q: number | Tensor, opts?: QuantileOptions): Tensor;
  /** { min, max } at once */ aminmax(opts?: { dim?: number | null; keepdim?: boolean }): { min: Tensor; max: Tensor };
  /** covariance of the rows (variables) over the columns (observations) */ cov(opts?: CovOptions): Tensor;
  /** correlation coefficients of the rows */ corrcoef(): Tensor;
  /** sqrt(this^2 + other^2) without overflow */ hypot(other: Tensor): Tensor;
  /** log(p / (1 - p)), p clamped to [eps, 1 - eps] when eps is given */ logit(eps?: number | null): Tensor;
  /** this log(other), 0 where this is 0 */ xlogy(other: Tensor | number): Tensor;
  /** n-th forward difference along dim (last by default) */
  diff(n?: number, dim?: number, prepend?: Tensor | null, append?: Tensor | null): Tensor;
  /** cross product of 3-vectors along dim (last by default) */ cross(other: Tensor, dim?: number): Tensor;
  /** Kronecker product */ kron(other: Tensor): Tensor;
  /** dims moved to new places, the others in order */
  movedim(source: number | number[], destination: number | number[]): Tensor;
  moveaxis(source: number | number[], destination: number | number[]): Tensor;
  /** transpose's NumPy names */ swapaxes(a: number, b: number): Tensor;
  swapdims(a: number, b: number): Tensor;
  /** reversed along dim 0 */ flipud(): Tensor;
  /** reversed along dim 1 */ fliplr(): Tensor;
  /** rotated 90 degrees k times from dims[0] towards dims[1] */ rot90(k?: number, dims?: [number, number]): Tensor;
  /** views split into n near-equal parts or at indices along dim */
  tensorSplit(sections: number | readonly number[], dim?: number): Tensor[];
  hsplit(sections: number | readonly number[]): Tensor[];
  vsplit(sections: number | readonly number[]): Tensor[];
  dsplit(sections: number | readonly number[]): Tensor[];
  /** log(e^this + e^other) */ logaddexp(other: Tensor): Tensor;
  /** log2(2^this + 2^other) */ logaddexp2(other: Tensor): Tensor;
  /** floor(this / other) */ floorDivide(other: TensorLike): Tensor;
  /** C remainder, this's sign */ fmod(other: TensorLike): Tensor;
  /** NaN and infinities to finite values */
  nanToNum(opts?: { nan?: number; posinf?: number | null; neginf?: number | null }): Tensor;
  /** sign bit set (-0 included), bool */ signbit(): Tensor;
  /** |this| with other's sign */ copysign(other: TensorLike): Tensor;
  /** this - trunc(this) */ frac(): Tensor;
  /** the inverse of erf on (-1, 1) */ erfinv(): Tensor;
  /** running max along dim and its index */ cummax(dim: number): ValuesIndices;
  /** running min along dim and its index */ cummin(dim: number): ValuesIndices;
  /** log of the running sums of exp along dim */ logcumsumexp(dim: number): Tensor;
  /** dot product of 1-d tensors */ dot(other: Tensor): Tensor;
  vdot(other: Tensor): Tensor;
  /** sum over both last dims */ inner(other: Tensor): Tensor;
  /** matrix times vector */ mv(vec: Tensor): Tensor;

  /** numSamples int64 category indices drawn from each row of non-negative weights (torch.multinomial) */
  multinomial(numSamples: number, opts?: MultinomialOptions): Tensor;
  /** view of every window of size elements, step apart, along dimension (a new last dim of length size) */
  unfold(dimension: number, size: number, step: number): Tensor;

  zerosLike(opts?: TensorOptions): Tensor;
  onesLike(opts?: TensorOptions): Tensor;
  emptyLike(opts?: TensorOptions): Tensor;
  fullLike(value: number | boolean, opts?: TensorOptions): Tensor;

  /** Accumulates gradients of this (a scalar, or with grad given) into the leaves' .grad. */
  backward(grad?: Tensor | null, opts?: BackwardOptions): void;
  backward(opts: BackwardOptions): void;
  /** Calls hook(grad) on this tensor's gradient in backward(); a tensor it returns replaces it. */
  registerHook(hook: GradHook): RemovableHandle;
  /** PyTorch-style printout */ toString(): string;
}
