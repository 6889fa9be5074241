// conv2d_backward on 1x1 stride-1 unpadded shapes: grad input and grad weight bit for bit those of
// the separate ops on every ISA this CPU runs, grad bias (summed by the weight gradient's kernel as
// it packs grad_out: per plane in float32, pairwise, then in float64) within a few float32 roundings
// of a float64 sum, the same bits
// for 1, 2 and 3 threads (cases: test/helpers/conv_pointwise_fused_cases.ts); conv2d's backward
// takes it only when no graph is recorded, and then gives the separate ops' dx and dw bits.
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withEnv } from '../helpers/env';
import { assertSameBitsAcrossThreads } from '../helpers/threads';
import * as kiln from '../../ts/index';
import { runChecksOn } from '../helpers/isa_run';

const script = path.join(__dirname, '../helpers/conv_pointwise_fused_cases.ts');
const F = kiln.nn.functional;

for (const isa of ['avx512', 'avx2', 'neon', 'generic'])
  test(`1x1 fused backward: dx, dw bit for bit the separate ops, db within a rounding of float64 (${isa})`, () => {
    const out = runChecksOn(script, isa);
    if (!out) return;
    assert.ok(out.cases >= 40, `only ${out.cases} cases`);
    assert.equal(out.bad, []);
    // One float32 rounding of the largest value is up to 6e-8 of it: allow about three.
    assert.ok(out.worstDb < 2e-7, `${isa}: grad bias of ${out.at} differs from float64 by ${out.worstDb}`);
  });

test('1x1 fused backward: 1, 2 and 3 threads give identical bits', () =>
  assertSameBitsAcrossThreads('conv_pointwise_fused_cases.ts'));

test('1x1 fused backward with every image batch taken (KILN_CONV_IMAGE_BATCH=1): the separate ops bits, 1-3 threads', () =>
  withEnv('KILN_CONV_IMAGE_BATCH', '1', () => {
    const out = runChecksOn(script, kiln.info().isa)!;
    assert.equal(out.bad, []);
    assert.ok(out.worstDb < 2e-7, `grad bias of ${out.at} differs from float64 by ${out.worstDb}`);
    assertSameBitsAcrossThreads('conv_pointwise_fused_cases.ts');
  }));

const bits = (t: kiln.Tensor) => Buffer.from((t.contiguous().data() as Float32Array).buffer);

test('1x1 autograd: the fused backward gives the separate ops bits (createGraph takes those)', () =>
  kiln.scope(() => {
    kiln.manualSeed(11);
    const x = kiln.randn([3, 40, 6, 7]).requiresGrad_(),
      w = kiln.randn([24, 20, 1, 1]).requiresGrad_(),
      b = kiln.randn([24]).requiresGrad_(),
      gy = kiln.randn([3, 24, 6, 7]);
    const loss = () => F.conv2d(x, w, b, { groups: 2 }).mul(gy).sum();
    const fused = kiln.autograd.grad(loss(), [x, w, b]);
    const graph = kiln.autograd.grad(loss(), [x, w, b], { createGraph: true });
    assert.ok(bits(fused[0]!).equals(bits(graph[0]!)), 'dx');
    assert.ok(bits(fused[1]!).equals(bits(graph[1]!)), 'dw');
    const ref = gy.to('float64').sum([0, 2, 3]);
    const err = fused[2]!.to('float64').sub(ref).abs().amax().item() as number;
    assert.ok(err <= 2e-7 * (ref.abs().amax().item() as number), `db differs from float64 by ${err}`);
    assert.ok(graph[1]!.requiresGrad, 'the createGraph gradient is differentiable');
  }));

test.run();
