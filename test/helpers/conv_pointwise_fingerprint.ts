// Prints a hash of the float32 1x1 convolution path (native/cpu/conv_pointwise.cpp: pointwise_fwd_f32 for the
// forward and, transposed, the input gradient; the in-place weight gradient), forward and all three
// gradients, on shapes with partial register tiles, a K block split, groups and one image, for
// comparing KILN_NUM_THREADS runs.
import * as kiln from '../../ts/index';
import { convPathResults } from './conv_paths_fingerprint';
import { ResultHash } from './result_hash';

/** Shapes: input [N, C, H, W], weight [K, C / groups, R, S], and conv2d's options. */
export const CONV_POINTWISE_CASES: [string, number[], number[], Parameters<typeof kiln.nn.functional.conv2d>[3]][] = [
  ['1x1 C256 K64 (the bench shape, smaller)', [3, 256, 9, 10], [64, 256, 1, 1], {}],
  ['1x1 C300 K30: two K blocks, a partial sliver and panel', [2, 300, 9, 13], [30, 300, 1, 1], {}],
  ['1x1 C7 K9: one short sliver', [4, 7, 5, 7], [9, 7, 1, 1], {}],
  ['1x1 C64 K64 N1 28x28: panels split across threads', [1, 64, 28, 28], [64, 64, 1, 1], {}],
  ['1x1 groups 3', [2, 48, 6, 11], [33, 16, 1, 1], { groups: 3 }],
  ['1x1 groups 4, one output channel each', [2, 8, 5, 6], [4, 2, 1, 1], { groups: 4 }],
  ['1x1 C40 K520: many slivers, one output row', [2, 40, 1, 37], [520, 40, 1, 1], {}],
  ['1x1 C16 K100 28x28: weight-gradient panels in two groups, two pixel blocks', [2, 16, 28, 28], [100, 16, 1, 1], {}],
  ['1x1 C24 K40 7x7, 17 images: batches of small images side by side (16, then 1)', [17, 24, 7, 7], [40, 24, 1, 1], {}],
  [
    '1x1 C20 K36 3x5 groups 2: a batch of images, each group its own rows',
    [5, 20, 3, 5],
    [36, 10, 1, 1],
    { groups: 2 },
  ],
  ['1x1 stride 2 C40 K24 9x10: the pixels a stride apart', [3, 40, 9, 10], [24, 40, 1, 1], { stride: 2 }],
  ['1x1 stride (2, 3) groups 3 C48 K33 7x11', [2, 48, 7, 11], [33, 16, 1, 1], { stride: [2, 3], groups: 3 }],
  ['1x1 stride 2 C24 K40 13x13, 17 images: batches of the picked 7x7', [17, 24, 13, 13], [40, 24, 1, 1], { stride: 2 }],
];

if (require.main === module) {
  const hash = new ResultHash();
  CONV_POINTWISE_CASES.forEach(([name, xs, ws, o], i) =>
    hash.addAll(name, convPathResults(xs, ws, o, 300 + i, 'float32')),
  );
  hash.print();
}
