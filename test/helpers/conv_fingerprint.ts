// Prints a hash of the convolution and pooling kernels' results (forward and both gradients on
// shapes that take every path: image-parallel and GEMM-threaded, 1x1, depthwise, strided col2im,
// weight-gradient image blocks), for comparing runs under different KILN_NUM_THREADS.
import * as kiln from '../../ts/index';
import { ResultHash } from './result_hash';

const F = kiln.nn.functional;
const hash = new ResultHash();
const add = (name: string, t: kiln.Tensor | null) => hash.add(name, t!);
kiln.manualSeed(99);
const cases: [string, number[], number[], Parameters<typeof F.conv2d>[3]][] = [
  ['3x3 N8', [8, 16, 15, 14], [24, 16, 3, 3], { padding: 1 }],
  ['3x3 N1', [1, 32, 20, 21], [40, 32, 3, 3], { padding: 1 }],
  ['3x3 N3 stride 2', [3, 8, 13, 12], [12, 4, 3, 3], { stride: 2, padding: 1, groups: 2 }],
  ['1x1 N9', [9, 24, 7, 9], [16, 24, 1, 1], {}],
  ['depthwise N5', [5, 12, 11, 10], [12, 1, 3, 3], { padding: 1, groups: 12 }],
];
for (const [name, xs, ws, o] of cases) {
  const x = kiln.randn(xs).requiresGrad_(),
    w = kiln.randn(ws).requiresGrad_(),
    b = kiln.randn([ws[0]]).requiresGrad_();
  const y = F.conv2d(x, w, b, o);
  add(`${name} y`, y);
  y.mul(kiln.randn([...y.shape]))
    .sum()
    .backward();
  add(`${name} dx`, x.grad);
  add(`${name} dw`, w.grad);
  add(`${name} db`, b.grad);
}
const p = kiln.randn([4, 6, 17, 15]);
add('maxPool2d', F.maxPool2d(p, 3, { stride: 2, padding: 1 }));
add('avgPool2d', F.avgPool2d(p, 3, { stride: 2, padding: 1, ceilMode: true }));
add('adaptiveAvgPool2d', F.adaptiveAvgPool2d(p, [4, 5]));
hash.print();
