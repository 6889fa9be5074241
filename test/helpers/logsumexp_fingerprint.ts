// Prints a hash of logsumexp's and cross-entropy's forward on shapes whose rows span several tasks,
// with row counts that are not multiples of the rows the kernel runs together, for comparing runs
// under different KILN_NUM_THREADS (test/nn/logsumexp.test.ts).
import { createHash } from 'crypto';
import * as kiln from '../../ts/index';

const h = createHash('sha256');
const parts: Record<string, string> = {};
const add = (name: string, t: kiln.Tensor) => {
  const c = t.contiguous();
  const bytes = Buffer.from(c.data().buffer, c.data().byteOffset, c.data().byteLength);
  h.update(name);
  h.update(bytes);
  parts[name] = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
};
kiln.manualSeed(7);
for (const [rows, n] of [
  [4099, 37],
  [1031, 256],
  [333, 1000],
  [61, 3000],
]) {
  const x = kiln.randn([rows, n]).mul(5);
  add(`logsumexp [${rows},${n}]`, x.logsumexp(1));
  add(`logsumexp [${rows},${n}] dim 0`, x.logsumexp(0));
  add(
    `crossEntropy [${rows},${n}]`,
    kiln.nn.functional.crossEntropy(x, kiln.randint(0, n, [rows]), { reduction: 'none' }),
  );
}
add('logsumexp inner', kiln.randn([3, 500, 70]).logsumexp(1));
add('logsumexp float64', kiln.randn([999, 45], { dtype: 'float64' }).logsumexp(1));
console.log(JSON.stringify({ threads: kiln.info().numThreads, hash: h.digest('hex'), parts }));
