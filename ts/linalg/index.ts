/**
 * kiln.linalg: torch.linalg's functions in camelCase. Factorisations and solves run native
 * kernels (native/cpu/linalg*.cpp) on float32 and float64 matrices, batched over leading dims;
 * the rest are composites. Everything is differentiable except where a function says otherwise.
 * CUDA tensors are refused with ERR_NOT_COMPILED for now (move them with .cpu()).
 */
export { matmul } from '../ops/linalg';
export { cross } from '../ops/products';
export { diagonal } from '../ops/diagonal';
export { cholesky, choleskyEx, solveTriangular } from './factor';
export type { CholeskyEx, CholeskyOptions, SolveTriangularOptions } from './factor';
export { det, inv, invEx, logdet, lu, luFactor, luFactorEx, luSolve, slogdet, solve, solveEx } from './lu';
export type { LuFactor, LuSolveOptions, SolveOptions } from './lu';
export { matrixExp } from './matrix_exp';
export { eigh, eigvalsh, qr, svd, svdvals } from './spectral';
export type { Eigh, QR, SVD, SvdOptions } from './spectral';
export { cond, lstsq, matrixNorm, matrixPower, matrixRank, multiDot, norm, pinv, vecdot, vectorNorm } from './derived';
export type { Lstsq, MatrixOrder, RankOptions } from './derived';
