// Prints a hash of fused-attention results (forward, backward, GQA, masks, causal, dropout), for
// comparing runs under different KILN_NUM_THREADS / KILN_ISA settings (test/nn/attention.test.ts).
import { createHash } from 'crypto';
import * as kiln from '../../ts/index';
import type { SdpaOptions } from '../../ts/nn';

const F = kiln.nn.functional;
const h = createHash('sha256');
const add = (t: kiln.Tensor) => {
  const c = t.contiguous();
  h.update(Buffer.from(c.data().buffer, c.data().byteOffset, c.data().byteLength));
};
kiln.manualSeed(99);
const cases: [number[], number[], SdpaOptions][] = [
  [[2, 4, 130, 64], [2, 2, 150, 64], {}],
  [[1, 3, 97, 33], [1, 3, 97, 33], { isCausal: true }],
  [[2, 2, 61, 16], [2, 1, 77, 16], { attnMask: kiln.rand([61, 77]).gt(0.2) }],
  [[1, 2, 45, 8], [1, 2, 50, 8], { attnMask: kiln.randn([2, 1, 50]), dropoutP: 0.2 }],
];
for (const [qs, ks, opts] of cases)
  for (const dtype of ['float32', 'float64'] as const) {
    const q = kiln.randn(qs, { dtype }).requiresGrad_(),
      k = kiln.randn(ks, { dtype }).requiresGrad_(),
      v = kiln.randn(ks, { dtype }).requiresGrad_();
    const o = { ...opts, attnMask: opts.attnMask?.dtype === 'bool' ? opts.attnMask : opts.attnMask?.to(dtype) };
    const out = F.scaledDotProductAttention(q, k, v, o);
    out.mul(kiln.randn(out.shape.slice(), { dtype })).sum().backward();
    for (const t of [out, q.grad!, k.grad!, v.grad!]) add(t);
  }
console.log(JSON.stringify({ threads: kiln.info().numThreads, isa: kiln.info().isa, hash: h.digest('hex') }));
