/**
 * The memory-bound kernels of `kiln bench norm|softmax|xent|gelu|dropout` in a plain loop on one
 * [16384, 1024] float32 tensor (64 MB), each against `copy_` of the same size in the same process,
 * for before/after comparisons between builds (KILN_ADDON=<build> npx tsx ts/bench/rows_loop.ts),
 * run in alternating processes: this VM's copy bandwidth moves between processes, the milliseconds
 * of compute-bound kernels much less. Medians of 15 calls; each call gets its output from the
 * caching allocator, like a model's step does.
 */
import * as kiln from '../index';
import { layerNormBackward } from '../ops/layer_norm';
import { loopMedianMs } from './harness';

const R = 16384,
  N = 1024,
  reps = 15;
const median = (f: () => void): number => loopMedianMs(f, reps, 2);
const F = kiln.nn.functional;
kiln.noGrad(() => {
  const x = kiln.randn([R, N]),
    gy = kiln.randn([R, N]),
    w = kiln.randn([N]),
    y = kiln.empty([R, N]);
  const t = kiln.randint(0, N, [R]);
  const mean = x.mean([1]),
    rstd = kiln.ones([R]);
  const copy = median(() => y.copy_(x));
  // [name, bytes each element moves, run]
  const ops: [string, number, () => void][] = [
    ['softmax fwd', 8, () => kiln.scope(() => void F.softmax(x, -1))],
    ['layerNorm fwd', 8, () => kiln.scope(() => void F.layerNorm(x, [N], w, w))],
    ['layerNorm bwd w+b', 12, () => kiln.scope(() => void layerNormBackward(gy, x, w, mean, rstd, 1, false, true))],
    ['rmsNorm bwd w', 12, () => kiln.scope(() => void layerNormBackward(gy, x, w, mean, rstd, 1, true, false))],
    ['crossEntropy fwd', 4, () => kiln.scope(() => void F.crossEntropy(x, t))],
    ['gelu fwd', 8, () => kiln.scope(() => void F.gelu(x))],
    ['dropout fwd', 8, () => kiln.scope(() => void F.dropout(x, 0.1, true))],
  ];
  const lines = [`copy_ ${copy.toFixed(2)} ms (${((8 * R * N) / copy / 1e6).toFixed(1)} GB/s)`];
  for (const [name, bytes, run] of ops) {
    const ms = median(run);
    lines.push(`${name.padEnd(18)} ${ms.toFixed(2)} ms  of copy ${((bytes / 8) * (copy / ms)).toFixed(2)}`);
  }
  console.log(lines.join('\n'));
});
