/**
 * The memory-bound kernels of `kiln bench norm|softmax|xent|gelu|dropout` (and logsumexp) in a plain loop on one
 * [16384, 1024] float32 tensor (64 MB), each against `copy_` of the same size in the same process,
 * for before/after comparisons between builds (KILN_ADDON=<build> npx tsx ts/bench/rows_loop.ts),
 * run in alternating processes: this VM's copy bandwidth moves between processes, the milliseconds
 * of compute-bound kernels much less. Medians of 15 calls; each call gets its output from the
 * caching allocator, like a model's step does.
 *
 * Beside each: its floor, the same op on 1/16 of the rows (4 MB, which stays in the last-level
 * cache) times 16, and what that floor alone is of the copy: where it is under 0.7, no overlap of
 * memory traffic and arithmetic can reach issue 4's 70% of copy with this arithmetic. The first two
 * rows are plain streams (a sum, an add): what this machine gives an op that reads one stream, or
 * reads two and writes one, against the copy's one read and one write.
 * ROWS_ONLY=<regex> runs only the ops whose names match (e.g. ROWS_ONLY='softmax|Norm bwd'), for
 * quicker alternating runs.
 */
import * as kiln from '../index';
import { layerNormBackward } from '../ops/layer_norm';
import { loopMedianMs } from './harness';

const R = 16384,
  N = 1024,
  small = 16, // the in-cache runs use R / small rows
  reps = 15;
const median = (f: () => void): number => loopMedianMs(f, reps, 2);
const F = kiln.nn.functional;

/** [name, bytes each element moves, run] on `rows` rows. */
function ops(rows: number): [string, number, () => void][] {
  const x = kiln.randn([rows, N]),
    gy = kiln.randn([rows, N]),
    w = kiln.randn([N]);
  const t = kiln.randint(0, N, [rows]);
  const mean = x.mean([1]),
    rstd = kiln.ones([rows]);
  const run = (f: () => unknown) => () => kiln.scope(() => void f());
  return [
    // Plain streams, the ceilings of ops that move the same: x.sum reads one (like the read-mostly
    // cross-entropy forward and logsumexp), x + gy reads two and writes one (like the norms' backward).
    ['sum (1 read)', 4, run(() => x.sum())],
    ['add (2 reads, 1 write)', 12, run(() => x.add(gy))],
    ['softmax fwd', 8, run(() => F.softmax(x, -1))],
    ['logSoftmax fwd', 8, run(() => F.logSoftmax(x, -1))],
    ['layerNorm fwd', 8, run(() => F.layerNorm(x, [N], w, w))],
    ['layerNorm bwd w+b', 12, run(() => layerNormBackward(gy, x, w, mean, rstd, 1, false, true))],
    ['rmsNorm bwd w', 12, run(() => layerNormBackward(gy, x, w, mean, rstd, 1, true, false))],
    ['crossEntropy fwd', 4, run(() => F.crossEntropy(x, t))],
    ['logsumexp dim 1', 4, run(() => x.logsumexp(1))],
    ['logsumexp dim 0', 4, run(() => x.logsumexp(0))],
    ['gelu fwd', 8, run(() => F.gelu(x))],
    ['dropout fwd', 8, run(() => F.dropout(x, 0.1, true))],
  ];
}

kiln.noGrad(() => {
  const x = kiln.randn([R, N]),
    y = kiln.empty([R, N]);
  const copy = median(() => y.copy_(x));
  const big = ops(R),
    cached = ops(R / small);
  const lines = [
    `copy_ ${copy.toFixed(2)} ms (${((8 * R * N) / copy / 1e6).toFixed(1)} GB/s); floor: the op on 1/${small} of the rows (in cache), x${small}`,
  ];
  const only = process.env.ROWS_ONLY ? new RegExp(process.env.ROWS_ONLY) : null;
  big.forEach(([name, bytes, run], i) => {
    if (only && !only.test(name)) return;
    const ms = median(run),
      floor = median(cached[i][2]) * small;
    const ofCopy = (t: number) => ((bytes / 8) * (copy / t)).toFixed(2);
    lines.push(
      `${name.padEnd(22)} ${ms.toFixed(2)} ms  of copy ${ofCopy(ms)}   floor ${floor.toFixed(2)} ms  of copy ${ofCopy(floor)}`,
    );
  });
  console.log(lines.join('\n'));
});
