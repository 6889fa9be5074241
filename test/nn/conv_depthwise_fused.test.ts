// conv2d_backward, the fused stride-1 depthwise backward: grad input and grad weight bit for bit
// those of the separate ops on every ISA this CPU runs, grad bias against float64, the same bits
// for 1, 2 and 3 threads (cases: test/helpers/conv_depthwise_fused_cases.ts); conv2d's backward
// takes it only when no graph is recorded, so createGraph (double backward) still differentiates
// the gradient, whose first-order bits are the fused ones.
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertSameBitsAcrossThreads } from '../helpers/threads';
import * as kiln from '../../ts/index';
import { runChecksOn } from '../helpers/isa_run';

const script = path.join(__dirname, '../helpers/conv_depthwise_fused_cases.ts');
const F = kiln.nn.functional;

for (const isa of ['avx512', 'avx2', 'neon', 'generic'])
  test(`fused backward: dx, dw bit for bit the separate ops, db near float64 (${isa})`, () => {
    const out = runChecksOn(script, isa);
    if (!out) return;
    assert.ok(out.cases > 30, `only ${out.cases} cases`);
    assert.equal(out.bad, []);
    assert.ok(out.worstDb < 1e-5, `${isa}: grad bias of ${out.at} differs from float64 by ${out.worstDb}`);
  });

test('fused backward: 1, 2 and 3 threads give identical bits', () =>
  assertSameBitsAcrossThreads('conv_depthwise_fused_cases.ts'));

const bits = (t: kiln.Tensor) => Buffer.from((t.contiguous().data() as Float32Array).buffer);

test('createGraph takes the separate ops: same first-order bits, and the gradient differentiates', () =>
  kiln.scope(() => {
    kiln.manualSeed(7);
    const x = kiln.randn([2, 6, 9, 13]).requiresGrad_(),
      w = kiln.randn([6, 1, 3, 3]).requiresGrad_(),
      b = kiln.randn([6]).requiresGrad_(),
      gy = kiln.randn([2, 6, 9, 13]);
    const loss = () => F.conv2d(x, w, b, { padding: 1, groups: 6 }).mul(gy).sum();
    const fused = kiln.autograd.grad(loss(), [x, w, b]);
    const graph = kiln.autograd.grad(loss(), [x, w, b], { createGraph: true });
    assert.ok(bits(fused[0]!).equals(bits(graph[0]!)), 'dx');
    assert.ok(bits(fused[1]!).equals(bits(graph[1]!)), 'dw');
    assert.ok(graph[0]!.requiresGrad && graph[1]!.requiresGrad, 'the createGraph gradients are differentiable');
    // d/dw of sum(dx^2), dx = conv2d_backward_input(gy, w): against the same in float64.
    const [ddw] = kiln.autograd.grad(graph[0]!.square().sum(), [w]);
    const x64 = x.detach().to('float64').requiresGrad_(),
      w64 = w.detach().to('float64').requiresGrad_();
    const y64 = F.conv2d(x64, w64, null, { padding: 1, groups: 6 }).mul(gy.to('float64')).sum();
    const [dx64] = kiln.autograd.grad(y64, [x64], { createGraph: true });
    const [ddw64] = kiln.autograd.grad(dx64!.square().sum(), [w64]);
    const err = ddw!.to('float64').sub(ddw64!).abs().amax().item() as number;
    const scale = ddw64!.abs().amax().item() as number;
    assert.ok(err <= 1e-5 * scale, `double backward differs by ${err} of ${scale}`);
  }));

test('gradcheck and gradgradcheck through conv2d with groups = C (3x3 and 5x5, bias)', () =>
  kiln.scope(() => {
    kiln.manualSeed(11);
    for (const [R, pad] of [
      [3, 1],
      [5, 2],
    ]) {
      const x = kiln.randn([2, 3, 5, 6], { dtype: 'float64', requiresGrad: true }),
        w = kiln.randn([3, 1, R, R], { dtype: 'float64', requiresGrad: true }),
        b = kiln.randn([3], { dtype: 'float64', requiresGrad: true });
      const f = (xi: kiln.Tensor, wi: kiln.Tensor, bi: kiln.Tensor) =>
        F.conv2d(xi, wi, bi, { padding: pad, groups: 3 });
      assert.ok(kiln.gradcheck(f, [x, w, b]));
      assert.ok(kiln.gradgradcheck(f, [x, w, b]));
    }
  }));

test.run();
