/**
 * Per-stage times of one conv2d fwd+bwd on the `conv` bench's shapes (forward, grad input, grad
 * weight, grad bias, and the autograd step), medians of --reps runs, at this process's thread count:
 * npx tsx ts/bench/conv_stages.ts [reps] [wino]
 * Shapes that take the Winograd path are also run with KILN_CONV_WINOGRAD=0 (the implicit GEMM)
 * and =2 (Winograd F(2x2, 3x3) only), in the same process, one right after the other; with `wino`
 * only the Winograd shapes, with the default setting (quicker before/after runs).
 */
import * as kiln from '../index';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dCore } from '../ops/conv';
import { CONV_CASES } from './conv';
import { loopMedianMs } from './harness';

const reps = Number(process.argv[2] ?? 11);
const winoOnly = process.argv[3] === 'wino';
const median = (f: () => void): number => loopMedianMs(f, reps);
const F = kiln.nn.functional;
const rows: string[] = [
  '| case | fwd ms | dx ms | dw ms | db ms | sum | autograd step ms |',
  '|---|---|---|---|---|---|---|',
];
const variants = (c: (typeof CONV_CASES)[number]): [string, string][] =>
  c.R === 3 && c.C / c.groups >= 16 && c.K / c.groups >= 16 && (c.C / c.groups) * (c.K / c.groups) >= 1024
    ? winoOnly
      ? [[' (Winograd)', '1']]
      : [
          [' (implicit GEMM)', '0'],
          [' (Winograd F2)', '2'],
          [' (Winograd)', '1'],
        ]
    : winoOnly
      ? []
      : [['', '1']];
for (const c of CONV_CASES)
  for (const [label, wino] of variants(c)) {
    process.env.KILN_CONV_WINOGRAD = wino;
    kiln.scope(() => {
      const O = c.H + 2 * c.pad - c.R + 1;
      const x = kiln.randn([c.N, c.C, c.H, c.H]),
        w = kiln.randn([c.K, c.C / c.groups, c.R, c.R]).mul(0.1),
        b = kiln.randn([c.K]),
        gy = kiln.randn([c.N, c.K, O, O]);
      const geo = { stride: [1, 1], padding: [c.pad, c.pad], dilation: [1, 1], groups: c.groups } as Parameters<
        typeof conv2dCore
      >[3];
      const fwd = median(() => conv2dCore(x, w, b, geo).dispose());
      const dx = median(() => conv2dBackwardInput(gy, w, geo, [c.H, c.H]).dispose());
      const dw = median(() => conv2dBackwardWeight(x, gy, geo, [c.R, c.R]).dispose());
      const db = median(() => gy.sum([0, 2, 3]).dispose());
      const xg = x.detach().requiresGrad_(),
        wg = w.detach().requiresGrad_(),
        bg = b.detach().requiresGrad_();
      const step = median(() => {
        const y = F.conv2d(xg, wg, bg, { padding: c.pad, groups: c.groups });
        y.backward(gy);
        y.dispose();
        for (const t of [xg, wg, bg]) {
          t.grad?.dispose();
          t.grad = null;
        }
      });
      const f = (v: number) => v.toFixed(2);
      rows.push(
        `| ${c.name}${label} | ${f(fwd)} | ${f(dx)} | ${f(dw)} | ${f(db)} | ${f(fwd + dx + dw + db)} | ${f(step)} |`,
      );
    });
  }
console.log(`threads ${kiln.info().numThreads}, medians of ${reps}`);
console.log(rows.join('\n'));
