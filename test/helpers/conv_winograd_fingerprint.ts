// Shapes that take the Winograd path (3x3, stride 1, at least 16 channels in and out per group and
// 1024 as their product, and at least 256 output pixels in all: conv.h), F(4x4) where the
// output is at least 12 wide and high (conv.h: kWino4MinSize), F(2x2) below, their forward and
// gradients in float32 or float64, and, run as a script, a hash of the float32 results for
// comparing KILN_NUM_THREADS runs.
import * as kiln from '../../ts/index';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dCore } from '../../ts/ops/conv';
import { ResultHash } from './result_hash';

/** Input [N, C, H, W], weight [K, C / groups, 3, 3], padding, groups, bias, output size. */
export interface WinogradCase {
  name: string;
  x: number[];
  w: number[];
  pad: [number, number];
  groups?: number;
  bias?: boolean;
  out?: [number, number];
}

export const WINOGRAD_CASES: WinogradCase[] = [
  // outputs at least 12 wide and high: F(4x4, 3x3) (forward and grad input) and F(3x3, 4x4)
  { name: 'F4 odd N1', x: [1, 16, 23, 21], w: [64, 16, 3, 3], pad: [1, 1] },
  { name: 'F4 pad 2 no bias', x: [2, 17, 21, 25], w: [61, 17, 3, 3], pad: [2, 2], bias: false },
  { name: 'F4 pad 0', x: [3, 20, 24, 23], w: [52, 20, 3, 3], pad: [0, 0] },
  { name: 'F4 pad 2 0', x: [2, 18, 22, 27], w: [58, 18, 3, 3], pad: [2, 0] },
  { name: 'F4 groups 2', x: [2, 64, 22, 21], w: [96, 32, 3, 3], pad: [1, 1], groups: 2 },
  { name: 'F4 cropped output', x: [2, 16, 24, 25], w: [66, 16, 3, 3], pad: [1, 1], out: [21, 22] },
  { name: 'F4 extended output', x: [1, 16, 21, 22], w: [65, 16, 3, 3], pad: [1, 1], out: [23, 25] },
  { name: 'many tiles', x: [2, 40, 30, 31], w: [70, 40, 3, 3], pad: [1, 1] },
  { name: 'F4 300 channels', x: [1, 300, 20, 21], w: [24, 300, 3, 3], pad: [1, 1] },
  // 35 tiles a row: runs of 32 and 3 (kWinoRun), the transform reading past a row's end
  { name: 'F4 wide', x: [1, 16, 21, 139], w: [64, 16, 3, 3], pad: [1, 1] },
  // one side under 12: F(2x2, 3x3) and F(3x3, 2x2)
  { name: 'odd N1', x: [1, 16, 25, 11], w: [64, 16, 3, 3], pad: [1, 1] },
  { name: 'pad 2 no bias', x: [2, 17, 9, 15], w: [61, 17, 3, 3], pad: [2, 2], bias: false },
  { name: 'pad 0', x: [3, 20, 17, 11], w: [52, 20, 3, 3], pad: [0, 0] },
  { name: 'groups 2', x: [2, 64, 15, 9], w: [96, 32, 3, 3], pad: [1, 1], groups: 2 },
  // 7x7 images, 294 outputs in all (at least kWinoMinOutputs)
  { name: 'batch 6 7x7', x: [6, 24, 7, 7], w: [44, 24, 3, 3], pad: [1, 1] },
  { name: 'cropped output', x: [2, 16, 14, 15], w: [66, 16, 3, 3], pad: [1, 1], out: [11, 14] },
  { name: '300 channels', x: [2, 300, 12, 11], w: [24, 300, 3, 3], pad: [1, 1] },
  { name: 'wide', x: [1, 16, 10, 40], w: [64, 16, 3, 3], pad: [1, 1] },
  // 12 and 13 wide: F(4x4), a third of the last tile's columns cropped
  { name: 'F4 small', x: [2, 32, 12, 13], w: [40, 32, 3, 3], pad: [1, 1] },
];

/** y, dx, dw of one case in `dtype` (float32 draws for both dtypes). */
export function winogradResults(
  c: WinogradCase,
  seed: number,
  dtype: 'float32' | 'float64',
): Record<string, kiln.Tensor> {
  kiln.manualSeed(seed);
  const geo = { stride: [1, 1], padding: c.pad, dilation: [1, 1], groups: c.groups ?? 1 } as Parameters<
    typeof conv2dCore
  >[3];
  const x = kiln.randn(c.x).to(dtype),
    w = kiln.randn(c.w).to(dtype),
    b = kiln.randn([c.w[0]]).to(dtype);
  const y = conv2dCore(x, w, c.bias === false ? null : b, geo, c.out);
  const gy = kiln.randn([...y.shape]).to(dtype);
  const dx = conv2dBackwardInput(gy, w, geo, [c.x[2], c.x[3]]);
  const dw = conv2dBackwardWeight(x, gy, geo, [3, 3]);
  return { y, dx, dw };
}

if (require.main === module) {
  const hash = new ResultHash();
  WINOGRAD_CASES.forEach((c, i) => hash.addAll(c.name, winogradResults(c, 300 + i, 'float32')));
  hash.print();
}
