/**
 * Per-stage times of 1x1 convolutions (the `conv` bench's 1x1 case and a few neighbours): forward,
 * grad input, grad weight, grad bias and the whole autograd step, median and minimum of [reps] runs at this
 * process's thread count, in milliseconds; then conv2d's backward as the separate ops against
 * conv2d_backward (fused), interleaved in this process:
 * KILN_NUM_THREADS=2 npx tsx ts/bench/conv_pointwise.ts [reps] [all] [cpu]
 * (arguments in any order). Before/after a change: run it alternately against two builds
 * (KILN_ADDON=<path to kiln.node>); KILN_CONV_IMAGE_BATCH=0 times small images one GEMM each
 * (conv.h conv_image_batch), =1 batched whenever possible.
 */
import * as kiln from '../index';
import { conv2dBackward, conv2dBackwardInput, conv2dBackwardWeight, conv2dCore } from '../ops/conv';

const reps = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 21);
// cpu: the process's CPU time per call instead of wall time; with KILN_NUM_THREADS=1 it is the
// steadier measure while other processes share the cores.
const cpu = process.argv.includes('cpu');
/** name, N, C, H (= W), K, and the stride (default 1). */
const cases: [string, number, number, number, number, number?][] = [['1x1 C256→64 28² (bench)', 8, 256, 28, 64]];
if (process.argv.includes('all'))
  cases.push(
    ['1x1 C64→256 28²', 8, 64, 28, 256],
    ['1x1 C128→128 28²', 8, 128, 28, 128],
    ['1x1 C512→128 14²', 8, 512, 14, 128],
    ['1x1 C64→64 56²', 8, 64, 56, 64],
    ['1x1 C512→2048 7²', 8, 512, 7, 2048],
    ['1x1 C2048→512 7²', 8, 2048, 7, 512],
    ['1x1 stride 2 C1024→2048 14²→7²', 8, 1024, 14, 2048, 2],
    ['1x1 stride 2 C256→128 56²→28²', 8, 256, 56, 128, 2],
  );
/** Median and minimum of reps calls (after 3 warm-up calls): the minimum is the steadier on a busy machine. */
const time = (f: () => void): [number, number] => {
  for (let i = 0; i < 3; i++) f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now(),
      c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    t.push(cpu ? (c.user + c.system) / 1000 : performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return [t[t.length >> 1], t[0]];
};
/**
 * Interleaved (A B A B ...) median and minimum of reps calls of each of fs, after 3 warm-up rounds:
 * side by side in one process, so drift hits all of them.
 */
const timeAB = (fs: (() => void)[]): [number, number][] => {
  for (let i = 0; i < 3; i++) for (const f of fs) f();
  const t: number[][] = fs.map(() => []);
  for (let i = 0; i < reps; i++)
    fs.forEach((f, j) => {
      const t0 = performance.now(),
        c0 = process.cpuUsage();
      f();
      const c = process.cpuUsage(c0);
      t[j].push(cpu ? (c.user + c.system) / 1000 : performance.now() - t0);
    });
  return t.map((v) => {
    v.sort((a, b) => a - b);
    return [v[v.length >> 1], v[0]];
  });
};
const F = kiln.nn.functional;
const bwd = ['| case | separate dx, dw, db | conv2d_backward | min ratio |', '|---|---|---|---|'];
const rows = ['| case | fwd | dx | dw | db | sum | autograd step |', '|---|---|---|---|---|---|---|'];
for (const [name, N, C, H, K, s = 1] of cases)
  kiln.scope(() => {
    const geo = { stride: [s, s], padding: [0, 0], dilation: [1, 1], groups: 1 } as Parameters<typeof conv2dCore>[3];
    const OH = Math.floor((H - 1) / s) + 1;
    const x = kiln.randn([N, C, H, H]),
      w = kiln.randn([K, C, 1, 1]).mul(0.1),
      b = kiln.randn([K]),
      gy = kiln.randn([N, K, OH, OH]);
    const fwd = time(() => conv2dCore(x, w, b, geo).dispose());
    const dx = time(() => conv2dBackwardInput(gy, w, geo, [H, H]).dispose());
    const dw = time(() => conv2dBackwardWeight(x, gy, geo, [1, 1]).dispose());
    const db = time(() => gy.sum([0, 2, 3]).dispose());
    const xg = x.detach().requiresGrad_(),
      wg = w.detach().requiresGrad_(),
      bg = b.detach().requiresGrad_();
    const step = time(() => {
      const y = F.conv2d(xg, wg, bg, { stride: s });
      y.backward(gy);
      y.dispose();
      for (const t of [xg, wg, bg]) {
        t.grad?.dispose();
        t.grad = null;
      }
    });
    const f = ([m, lo]: [number, number]) => `${m.toFixed(3)} (${lo.toFixed(3)})`;
    const sum = [fwd, dx, dw, db].reduce((a, v) => [a[0] + v[0], a[1] + v[1]], [0, 0]) as [number, number];
    rows.push(`| ${name} | ${f(fwd)} | ${f(dx)} | ${f(dw)} | ${f(db)} | ${f(sum)} | ${f(step)} |`);
    // conv2d's backward as the separate ops (dx, dw, gy.sum) and as conv2d_backward (one op:
    // grad bias from grad weight's kernel), interleaved.
    const [sep, fused] = timeAB([
      () => {
        conv2dBackwardInput(gy, w, geo, [H, H]).dispose();
        conv2dBackwardWeight(x, gy, geo, [1, 1]).dispose();
        gy.sum([0, 2, 3]).dispose();
      },
      () => conv2dBackward(gy, x, w, geo).forEach((t) => t?.dispose()),
    ]);
    bwd.push(`| ${name} | ${f(sep)} | ${f(fused)} | ${(sep[1] / fused[1]).toFixed(3)} |`);
  });
console.log(
  `threads ${kiln.info().numThreads}, isa ${kiln.info().isa}, median (min) of ${reps}, ${cpu ? 'CPU' : 'wall'} ms`,
);
console.log(rows.join('\n'));
console.log(bwd.join('\n'));
