/** The shape of an op-table row (ts/ops/table.ts) and of the test material each row carries. */
import type { GradFn } from '../autograd/node';
import type { DType } from '../dtype';
import type { KilnErrorCode } from '../errors';
import type { Tensor } from '../tensor';

export type Kind =
  | 'unary'
  | 'binary'
  | 'ternary'
  | 'reduce'
  | 'movement'
  | 'index'
  | 'matmul'
  | 'copy'
  | 'creation'
  | 'random'
  | 'custom';

/** A reference result: row-major values as JS numbers, with their shape. */
export interface RefValue {
  shape: number[];
  data: number[];
}

/** One conformance case: what kiln computed and what the reference says. */
export interface Case {
  label: string;
  got: Tensor;
  want: RefValue;
  /** Tolerance override (relative and absolute) when the op amplifies rounding. */
  tol?: number;
}

/** A float64 gradient check: fn of the inputs, checked against finite differences. */
export interface GradSample {
  label: string;
  fn: (...xs: Tensor[]) => Tensor;
  inputs: Tensor[];
}

export interface ErrorCase {
  label: string;
  run: () => unknown;
  code: KilnErrorCode;
}

export type Rng = () => number;

export interface OpRow<F = (...args: never[]) => Tensor> {
  name: string;
  kind: Kind;
  /** Native kernel signature; rows without one run in TS (views) or on other rows' kernels. */
  native: { nin: number; nout: number; nattr: number } | null;
  dtypes: readonly DType[];
  /** The public function. */
  fn: F;
  /** Gradient with respect to each tensor input, written with other ops, or why there is none. */
  grad: GradFn | { nondiff: string };
  /** Conformance cases for one dtype, each compared with the row's plain-TS reference. */
  cases: (rng: Rng, dtype: DType) => Case[];
  /** Float64 inputs for the finite-difference gradient check (differentiable rows). */
  gradSamples: (rng: Rng) => GradSample[];
  /** Inputs that must throw, with their code. */
  errors: () => ErrorCase[];
}
