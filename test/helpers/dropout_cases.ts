// Float32 dropout through the op (dropout.cpp's contiguous path: the ISA's nn.dropout_f32 per
// task of 65536 elements) against ops/dropout.ts's plain-JS Philox, bit for bit:
// odd lengths that end inside a kernel block, lengths across the 65536-element tasks, offsets whose
// low word crosses 2^32 inside a block and at a task's start, thresholds at both ends of the
// kernel's shifted compare (p = 2^-24 and 1 - 2^-24), NaN, infinities and -0 in the input.
//   node -r tsx/cjs test/helpers/dropout_cases.ts check   one JSON line {isa, checked, bad, at}
import * as kiln from '../../ts/index';
import { dropoutKeepRef, dropoutWithKey } from '../../ts/ops/dropout';

const TWO32 = 4294967296;
const TASK = 65536; // strided_loop.h kElementwiseGrain

/** Elements to compare: all of a small tensor; windows around each task start and the end of a large one. */
function indices(n: number): number[] {
  if (n <= 3 * TASK + 200) return Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  for (let b = 0; b < n; b += TASK) for (let i = Math.max(0, b - 200); i < Math.min(n, b + 200); i++) out.push(i);
  for (let i = n - 500; i < n; i++) if (i >= out[out.length - 1]) out.push(i);
  return out;
}

function run(): { checked: number; bad: number; at: string } {
  let checked = 0,
    bad = 0,
    at = '';
  const lengths = [1, 3, 5, 191, 193, 1027, TASK + 7, 3 * TASK + 100, 4 * 1048576 + 4099];
  // [offset high word, offset low word]: 2^32 crossed at once, after 5 counters (inside the
  // first block), at the second task's start, and two blocks before it.
  const offsets = [
    [0, 0],
    [1, TWO32 - 5],
    [7, TWO32 - TASK / 4],
    [0x1ffffe, TWO32 - TASK / 4 + 96], // the reference adds in float64: offsets below 2^53
  ];
  const ps = [0.1, 0.5, 2 ** -24, 1 - 2 ** -24];
  lengths.forEach((n, li) => {
    const x = kiln.randn([n]);
    const xv = x.data() as Float32Array;
    const specials = [NaN, -Infinity, Infinity, -0, 0, -3];
    for (let i = 0; i < Math.min(n, 64); i += 3) xv[i] = specials[(i / 3) % specials.length];
    const want = Float32Array.from(xv);
    offsets.forEach(([hi, lo], oi) =>
      ps.forEach((p, pi) => {
        if (n > 3 * TASK + 200 && pi > 1) return; // the large tensor: p 0.1 and 0.5
        const key = [(li * 977 + oi * 31 + pi) >>> 0, (0x9e3779b9 ^ (li << 8)) >>> 0, hi, lo];
        const y = dropoutWithKey(x, key, p);
        const yv = y.data() as Float32Array;
        const scale = Math.fround(1 / (1 - p));
        for (const e of indices(n)) {
          const w = Math.fround(want[e] * (dropoutKeepRef(key, p, e) ? scale : 0));
          checked++;
          if (!Object.is(w, yv[e])) {
            if (!bad) at = `n ${n} offset ${hi}:${lo} p ${p} e ${e}: ${yv[e]}, want ${w}`;
            bad++;
          }
        }
        y.dispose();
      }),
    );
    x.dispose();
  });
  return { checked, bad, at };
}

if (require.main === module && process.argv[2] === 'check')
  console.log(JSON.stringify({ isa: kiln.info().isa, ...run() }));
