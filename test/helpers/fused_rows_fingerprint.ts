// Prints a hash of the fused row kernels' results (softmax, layerNorm, rmsNorm, crossEntropy,
// forward and backward) on shapes that span several tasks and several column-sum blocks, for
// comparing runs under different KILN_NUM_THREADS.
import { createHash } from 'crypto';
import * as kiln from '../../ts/index';

const F = kiln.nn.functional;
const h = createHash('sha256');
const add = (name: string, t: kiln.Tensor | null) => {
  const c = t!.contiguous();
  h.update(name);
  h.update(Buffer.from(c.data().buffer, c.data().byteOffset, c.data().byteLength));
};
kiln.manualSeed(99);
const x = kiln.randn([700, 1000]).mul(4);
add('softmax rows', x.softmax(-1));
add('logSoftmax rows', x.logSoftmax(-1));
add('softmax dim 0', x.softmax(0));
add('softmax inner', kiln.randn([3, 50, 300]).softmax(1));
for (const rms of [false, true]) {
  const xg = kiln.randn([2000, 300]).requiresGrad_();
  const w = kiln.randn([300]).requiresGrad_(),
    b = kiln.randn([300]).requiresGrad_();
  const y = rms ? F.rmsNorm(xg, [300], w) : F.layerNorm(xg, [300], w, b);
  y.backward(kiln.randn([2000, 300]));
  add(`${rms ? 'rms' : 'layer'}Norm`, y);
  add(`${rms ? 'rms' : 'layer'}Norm gx`, xg.grad);
  add(`${rms ? 'rms' : 'layer'}Norm gw`, w.grad);
  if (!rms) add('layerNorm gb', b.grad);
}
const logits = kiln.randn([3000, 100]).mul(3).requiresGrad_();
const target = kiln.randint(0, 100, [3000]);
const loss = F.crossEntropy(logits, target, { weight: kiln.rand([100]), labelSmoothing: 0.1 });
loss.backward();
add('crossEntropy', loss);
add('crossEntropy grad', logits.grad);
console.log(JSON.stringify({ threads: kiln.info().numThreads, hash: h.digest('hex') }));
