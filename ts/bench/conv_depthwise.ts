/**
 * Per-stage times of depthwise 3x3 (pad 1, stride 1) conv2d on MobileNet-like shapes: forward,
 * grad input, grad weight and the autograd step (fwd + dx + dw + db), min and median of --reps
 * runs at this process's thread count: npx tsx ts/bench/conv_depthwise.ts [reps] [R]
 * Noisy machines: compare min-of-N from alternating processes, never one run against a memory.
 */
import * as kiln from '../index';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dCore } from '../ops/conv';

const reps = Number(process.argv[2] ?? 21);
const R = Number(process.argv[3] ?? 3);
const SHAPES: [number, number, number][] = [
  [8, 256, 28],
  [8, 512, 14],
  [8, 128, 56],
  [8, 1024, 7],
];
const F = kiln.nn.functional;
const stats = (f: () => void): [number, number] => {
  f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    f();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  return [t[0], t[t.length >> 1]];
};
const rows = ['| shape | fwd ms | dx ms | dw ms | step ms |', '|---|---|---|---|---|'];
for (const [N, C, H] of SHAPES)
  kiln.scope(() => {
    const pad = (R - 1) / 2;
    const x = kiln.randn([N, C, H, H]),
      w = kiln.randn([C, 1, R, R]).mul(0.1),
      b = kiln.randn([C]),
      gy = kiln.randn([N, C, H, H]);
    const geo = { stride: [1, 1], padding: [pad, pad], dilation: [1, 1], groups: C } as Parameters<
      typeof conv2dCore
    >[3];
    const fwd = stats(() => conv2dCore(x, w, b, geo).dispose());
    const dx = stats(() => conv2dBackwardInput(gy, w, geo, [H, H]).dispose());
    const dw = stats(() => conv2dBackwardWeight(x, gy, geo, [R, R]).dispose());
    const xg = x.detach().requiresGrad_(),
      wg = w.detach().requiresGrad_(),
      bg = b.detach().requiresGrad_();
    const step = stats(() => {
      const y = F.conv2d(xg, wg, bg, { padding: pad, groups: C });
      y.backward(gy);
      y.dispose();
      for (const t of [xg, wg, bg]) {
        t.grad?.dispose();
        t.grad = null;
      }
    });
    const f = ([mn, md]: [number, number]) => `${mn.toFixed(3)} (${md.toFixed(3)})`;
    rows.push(`| N${N} C${C} ${H}² ${R}x${R} | ${f(fwd)} | ${f(dx)} | ${f(dw)} | ${f(step)} |`);
  });
console.log(`threads ${kiln.info().numThreads}, min (median) of ${reps}`);
console.log(rows.join('\n'));
