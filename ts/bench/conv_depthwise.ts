/**
 * Per-stage times of depthwise 3x3 (pad 1) conv2d on MobileNet-like shapes: forward, grad input,
 * grad weight, the backward as three separate ops (dx, dw and db = gy.sum) against the fused
 * conv2d_backward (one pass over gy; stride 1), and the autograd step (fwd + backward), min and
 * median of --reps runs at this process's thread count, the stages taken in turn within each rep
 * so that a noisy machine slows them alike: npx tsx ts/bench/conv_depthwise.ts [reps] [R]
 * Noisy machines: compare min-of-N from alternating processes, never one run against a memory.
 */
import * as kiln from '../index';
import { conv2dBackward, conv2dBackwardInput, conv2dBackwardWeight, conv2dCore } from '../ops/conv';

const reps = Number(process.argv[2] ?? 21);
const R = Number(process.argv[3] ?? 3);
/** N, C, H, stride. */
const SHAPES: [number, number, number, number][] = [
  [8, 256, 28, 1],
  [8, 512, 14, 1],
  [8, 128, 56, 1],
  [8, 1024, 7, 1],
  [8, 256, 28, 2],
];
const F = kiln.nn.functional;
/** min and median of each stage, the stages run round-robin rep by rep. */
const stats = (fs: (() => void)[]): [number, number][] => {
  for (const f of fs) f();
  const t: number[][] = fs.map(() => []);
  for (let i = 0; i < reps; i++)
    fs.forEach((f, j) => {
      const t0 = process.hrtime.bigint();
      f();
      t[j].push(Number(process.hrtime.bigint() - t0) / 1e6);
    });
  return t.map((v) => {
    v.sort((a, b) => a - b);
    return [v[0], v[v.length >> 1]];
  });
};
const rows = [
  '| shape | fwd ms | dx ms | dw ms | bwd 3 ops ms | bwd fused ms | step ms |',
  '|---|---|---|---|---|---|---|',
];
for (const [N, C, H, st] of SHAPES)
  kiln.scope(() => {
    const pad = (R - 1) / 2,
      OH = Math.floor((H + 2 * pad - R) / st) + 1;
    const x = kiln.randn([N, C, H, H]),
      w = kiln.randn([C, 1, R, R]).mul(0.1),
      b = kiln.randn([C]),
      gy = kiln.randn([N, C, OH, OH]);
    const geo = { stride: [st, st], padding: [pad, pad], dilation: [1, 1], groups: C } as Parameters<
      typeof conv2dCore
    >[3];
    const xg = x.detach().requiresGrad_(),
      wg = w.detach().requiresGrad_(),
      bg = b.detach().requiresGrad_();
    const res = stats([
      () => conv2dCore(x, w, b, geo).dispose(),
      () => conv2dBackwardInput(gy, w, geo, [H, H]).dispose(),
      () => conv2dBackwardWeight(x, gy, geo, [R, R]).dispose(),
      () => {
        conv2dBackwardInput(gy, w, geo, [H, H]).dispose();
        conv2dBackwardWeight(x, gy, geo, [R, R]).dispose();
        gy.sum([0, 2, 3]).dispose();
      },
      () => {
        for (const t of conv2dBackward(gy, x, w, geo)) t?.dispose();
      },
      () => {
        const y = F.conv2d(xg, wg, bg, { stride: st, padding: pad, groups: C });
        y.backward(gy);
        y.dispose();
        for (const t of [xg, wg, bg]) {
          t.grad?.dispose();
          t.grad = null;
        }
      },
    ]);
    const f = ([mn, md]: [number, number]) => `${mn.toFixed(3)} (${md.toFixed(3)})`;
    rows.push(`| N${N} C${C} ${H}² ${R}x${R} s${st} | ${res.map(f).join(' | ')} |`);
  });
console.log(`threads ${kiln.info().numThreads}, isa ${kiln.info().isa}, min (median) of ${reps}`);
console.log(rows.join('\n'));
