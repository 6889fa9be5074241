// Random convolution geometries: the float32 paths (depthwise planes, 1x1, Winograd, implicit
// GEMM, and the backward passes that reuse them with flipped or transposed weights) against the
// float64 path, which conv.test.ts checks against a direct loop. Widths run past the kernels'
// vector blocks (16, 32, 64 lanes and their remainders): a depthwise row of 49..63 columns past a
// block of 64 was once left unwritten, which no fixed-shape test caught.
import { test } from 'uvu';
import { withEnv } from '../helpers/env';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const F = kiln.nn.functional;

/** A small deterministic generator for the geometries (the tensors use kiln.manualSeed). */
function lcg(seed: number) {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s / 4294967296);
  const int = (a: number, b: number) => a + Math.floor(next() * (b - a + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)];
  return { next, int, pick };
}

type Geometry = {
  N: number;
  C: number;
  K: number;
  H: number;
  W: number;
  k: number;
  s: number;
  p: number;
  d: number;
  g: number;
  bias: boolean;
};
const str = (c: Geometry) =>
  `N${c.N} C${c.C} K${c.K} ${c.H}x${c.W} k${c.k} s${c.s} p${c.p} d${c.d} g${c.g}${c.bias ? ' bias' : ''}`;

/** A geometry of one of the paths' kinds, with a non-empty output. */
function geometry(r: ReturnType<typeof lcg>): Geometry {
  const kind = r.pick(['depthwise', 'depthwise', 'pointwise', 'winograd', 'general', 'groups'] as const);
  const c: Geometry = {
    N: r.int(1, 3),
    C: r.int(1, 8),
    K: r.int(1, 8),
    H: 1,
    W: 1,
    k: r.pick([1, 2, 3, 5]),
    s: r.pick([1, 1, 1, 2, 3]),
    d: r.pick([1, 1, 1, 2]),
    p: r.int(0, 2),
    g: 1,
    bias: false,
  };
  if (kind === 'depthwise') {
    c.C = c.g = r.int(1, 20);
    c.K = c.C * r.pick([1, 1, 1, 2]);
    c.k = r.pick([1, 3, 3, 5, 7]);
    c.p = r.int(0, (c.k >> 1) + 1);
  } else if (kind === 'pointwise') {
    c.g = r.pick([1, 1, 2]);
    c.C = c.g * r.int(1, 20);
    c.K = c.g * r.int(1, 20);
    Object.assign(c, { k: 1, s: 1, d: 1, p: 0 });
  } else if (kind === 'winograd') {
    Object.assign(c, { C: r.int(16, 40), K: r.int(16, 40), k: 3, s: 1, d: 1, p: r.int(0, 2) });
  } else if (kind === 'groups') {
    c.g = r.int(2, 4);
    c.C = c.g * r.int(1, 4);
    c.K = c.g * r.int(1, 4);
  }
  const span = (c.k - 1) * c.d + 1 - 2 * c.p;
  c.H = Math.max(span, r.int(1, 40));
  c.W = Math.max(span, r.pick([r.int(1, 20), r.int(20, 70), r.int(40, 140)]));
  c.bias = r.next() < 0.7;
  return c;
}

/** The largest difference of float32 from float64 over the result, relative to its largest magnitude. */
function relErr(a: kiln.Tensor, b: kiln.Tensor): number {
  const err = a.to('float64').sub(b).abs().amax().item() as number;
  return err / ((b.abs().amax().item() as number) + 1e-6);
}

/** y, dx, dw, db of conv2d in `dtype` from float64 inputs and grad_out. */
function conv2dStep(
  c: Geometry,
  dtype: kiln.DType,
  x: kiln.Tensor,
  w: kiln.Tensor,
  b: kiln.Tensor | null,
  gy: kiln.Tensor,
) {
  const xs = x.to(dtype).requiresGrad_(),
    ws = w.to(dtype).requiresGrad_(),
    bs = b ? b.to(dtype).requiresGrad_() : null;
  const y = F.conv2d(xs, ws, bs, { stride: c.s, padding: c.p, dilation: c.d, groups: c.g });
  y.backward(gy.to(dtype));
  return { y, dx: xs.grad!, dw: ws.grad!, db: bs ? bs.grad! : null };
}

/** conv2d float32 against float64 on `count` random geometries from `seed`: forward and the three gradients. */
function fuzzConv2d(count: number, seed: number): void {
  kiln.manualSeed(seed);
  const r = lcg(seed);
  let checked = 0;
  for (let i = 0; i < count; i++) {
    const c = geometry(r);
    kiln.scope(() => {
      const x = kiln.randn([c.N, c.C, c.H, c.W], { dtype: 'float64' }),
        w = kiln.randn([c.K, c.C / c.g, c.k, c.k], { dtype: 'float64' }).mul(0.3),
        b = c.bias ? kiln.randn([c.K], { dtype: 'float64' }) : null;
      const y0 = F.conv2d(x, w, b, { stride: c.s, padding: c.p, dilation: c.d, groups: c.g });
      const gy = kiln.randn([...y0.shape], { dtype: 'float64' });
      const got = conv2dStep(c, 'float32', x, w, b, gy),
        want = conv2dStep(c, 'float64', x, w, b, gy);
      for (const key of ['y', 'dx', 'dw', 'db'] as const) {
        const a = got[key],
          e = want[key];
        if (!a || !e) continue;
        const rel = relErr(a, e);
        assert.ok(rel < 2e-4, `${key} of ${str(c)}: relative error ${rel}`);
      }
      checked++;
    });
  }
  assert.ok(checked === count);
}

test('conv2d float32 matches float64 on 400 random geometries (forward and the three gradients)', () =>
  fuzzConv2d(400, 11));

// The shapes above are too small for conv_image_batch to batch their images on its own.
test('conv2d float32 matches float64 on 200 random geometries, images batched (KILN_CONV_IMAGE_BATCH=1)', () =>
  withEnv('KILN_CONV_IMAGE_BATCH', '1', () => fuzzConv2d(200, 12)));

test('convTranspose2d float32 matches float64 on 100 random geometries', () => {
  kiln.manualSeed(12);
  const r = lcg(12);
  for (let i = 0; i < 100; i++) {
    const g = r.pick([1, 1, 2]),
      C = g * r.int(1, 6),
      K = g * r.int(1, 6),
      k = r.pick([1, 2, 3, 4]),
      s = r.pick([1, 2, 3]),
      d = r.pick([1, 1, 2]),
      p = r.int(0, ((k - 1) * d) >> 1),
      op = r.int(0, Math.max(0, Math.min(s, d) - 1));
    const shape = [r.int(1, 2), C, r.int(1, 20), r.pick([r.int(1, 20), r.int(20, 70)])];
    kiln.scope(() => {
      const x = kiln.randn(shape, { dtype: 'float64' }),
        w = kiln.randn([C, K / g, k, k], { dtype: 'float64' }).mul(0.3);
      const opts = { stride: s, padding: p, dilation: d, groups: g, outputPadding: op };
      const step = (dtype: kiln.DType) => {
        const xs = x.to(dtype).requiresGrad_(),
          ws = w.to(dtype).requiresGrad_();
        const y = F.convTranspose2d(xs, ws, null, opts);
        y.backward(kiln.ones([...y.shape], { dtype }));
        return [y, xs.grad!, ws.grad!];
      };
      const got = step('float32'),
        want = step('float64');
      const label = `${shape} C${C} K${K} k${k} s${s} p${p} d${d} g${g} op${op}`;
      ['y', 'dx', 'dw'].forEach((key, q) => {
        const rel = relErr(got[q], want[q]);
        assert.ok(rel < 2e-4, `${key} of ${label}: relative error ${rel}`);
      });
    });
  }
});

test.run();
