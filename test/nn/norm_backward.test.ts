// The layerNorm / rmsNorm backward in float32 against the same op in float64, on shapes that cross
// its internal boundaries: rows of up to 512 floats get grad weight / grad bias from column sums
// over pieces of 65536 floats per operand (arch/rows.inc kNormShortRow, kNormPieceFloats), longer
// rows from 4 rows in lockstep; column-sum blocks of 2^18 elements (norm.cpp kBlockElems); a
// last piece, block or group that is short.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const F = kiln.nn.functional;

/** gx, gw, gb of the norm at x (float32 or float64 copies of one float64 draw). */
function grads(x: kiln.Tensor, w: kiln.Tensor, b: kiln.Tensor, gy: kiln.Tensor, rms: boolean) {
  const [xg, wg, bg] = [x, w, b].map((t) => t.detach().requiresGrad_());
  const n = x.shape[1];
  const y = rms ? F.rmsNorm(xg, [n], wg, 1e-6) : F.layerNorm(xg, [n], wg, bg, 1e-5);
  y.backward(gy);
  return [xg.grad!, wg.grad!, rms ? null : bg.grad!].map((g) =>
    g ? Array.from(g.to('float64').data() as Float64Array) : null,
  );
}

const SHAPES: [number, number][] = [
  [1500, 7], // one piece
  [2000, 300], // pieces of 218 rows and a short last one; blocks of 873 rows
  [1100, 512], // the longest short row: pieces of 128 rows
  [700, 513], // the shortest lockstep row: groups of 4 and a last group of 3
  [130, 4096], // blocks of 64 rows, groups of 4
  [3, 1000], // fewer rows than a group
];

for (const rms of [false, true])
  for (const [R, n] of SHAPES)
    test(`${rms ? 'rmsNorm' : 'layerNorm'} backward [${R}, ${n}]: float32 within float32 rounding of float64`, () => {
      kiln.manualSeed(R * 7 + n);
      const x64 = kiln.randn([R, n], { dtype: 'float64' }).mul(2).add(0.5),
        w64 = kiln.randn([n], { dtype: 'float64' }),
        b64 = kiln.randn([n], { dtype: 'float64' }),
        g64 = kiln.randn([R, n], { dtype: 'float64' });
      const want = grads(x64, w64, b64, g64, rms);
      const got = grads(
        ...([x64, w64, b64, g64].map((t) => t.to('float32')) as [kiln.Tensor, kiln.Tensor, kiln.Tensor, kiln.Tensor]),
        rms,
      );
      // gx: a few roundings per element of terms of order |w g|; gw, gb: sums over R rows, whose
      // rounding grows with the partial sums (R terms of order 1).
      const tol = [4e-6, 1e-6 + 3e-7 * R, 1e-6 + 3e-7 * R];
      ['gx', 'gw', 'gb'].forEach((name, k) => {
        const a = got[k],
          e = want[k];
        if (!e) return assert.is(a, null);
        let worst = 0,
          at = -1;
        for (let i = 0; i < e.length; i++) {
          const d = Math.abs(a![i] - e[i]);
          if (d > worst) [worst, at] = [d, i];
        }
        assert.ok(worst <= tol[k], `${name}: |error| ${worst.toExponential(2)} at ${at} (tolerance ${tol[k]})`);
      });
    });

test.run();
