// Prints a hash of the float32 convolution paths added for speed (depthwise plane kernels with
// strides, dilation, multipliers and 5x5 taps; 1x1 weight gradients read in place, with groups and
// uneven image blocks), forward and all three gradients, for comparing KILN_NUM_THREADS runs.
import * as kiln from '../../ts/index';
import { ResultHash } from './result_hash';

/** Shapes: input [N, C, H, W], weight [K, C / groups, R, S], and conv2d's options. */
export const CONV_PATH_CASES: [string, number[], number[], Parameters<typeof kiln.nn.functional.conv2d>[3]][] = [
  ['depthwise 3x3 odd', [3, 5, 13, 17], [5, 1, 3, 3], { padding: 1, groups: 5 }],
  ['depthwise 3x3 wide', [2, 3, 6, 71], [3, 1, 3, 3], { padding: 1, groups: 3 }],
  ['depthwise stride 2', [2, 6, 15, 14], [6, 1, 3, 3], { stride: 2, padding: [1, 2], groups: 6 }],
  ['depthwise dilated', [2, 4, 12, 19], [4, 1, 3, 2], { stride: [1, 2], padding: [2, 1], dilation: [2, 3], groups: 4 }],
  ['depthwise multiplier 3', [3, 5, 9, 10], [15, 1, 3, 3], { padding: 1, groups: 5 }],
  ['depthwise 5x5', [2, 4, 9, 40], [4, 1, 5, 5], { padding: 2, groups: 4 }],
  ['depthwise unpadded', [2, 3, 10, 11], [3, 1, 3, 3], { groups: 3 }],
  ['depthwise wide padding', [2, 3, 7, 8], [3, 1, 3, 3], { padding: 3, groups: 3 }],
  ['1x1 groups 2', [3, 8, 5, 7], [6, 4, 1, 1], { groups: 2 }],
  ['1x1 N1', [1, 24, 9, 11], [20, 24, 1, 1], {}],
  ['1x1 N11', [11, 16, 6, 7], [12, 16, 1, 1], {}],
];

/** Forward and the input, weight and bias gradients of one case in `dtype` from float32 draws. */
export function convPathResults(
  xs: number[],
  ws: number[],
  o: Parameters<typeof kiln.nn.functional.conv2d>[3],
  seed: number,
  dtype: 'float32' | 'float64',
): Record<string, kiln.Tensor> {
  kiln.manualSeed(seed);
  const x32 = kiln.randn(xs),
    w32 = kiln.randn(ws),
    b32 = kiln.randn([ws[0]]);
  const x = x32.to(dtype).requiresGrad_(),
    w = w32.to(dtype).requiresGrad_(),
    b = b32.to(dtype).requiresGrad_();
  const y = kiln.nn.functional.conv2d(x, w, b, o);
  const gy = kiln.randn([...y.shape]).to(dtype);
  y.mul(gy).sum().backward();
  return { y: y.detach(), dx: x.grad!, dw: w.grad!, db: b.grad! };
}

if (require.main === module) {
  const hash = new ResultHash();
  CONV_PATH_CASES.forEach(([name, xs, ws, o], i) => hash.addAll(name, convPathResults(xs, ws, o, 100 + i, 'float32')));
  hash.print();
}
