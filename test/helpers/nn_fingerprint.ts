// Prints a hash of the nn kernels' results (GELU, SiLU, dropout, batch norm forward and backward,
// embedding backward with repeated indices) on sizes that split into many tasks, for comparing
// runs under different KILN_NUM_THREADS.
import { createHash } from 'crypto';
import * as kiln from '../../ts/index';

const F = kiln.nn.functional;
const h = createHash('sha256');
const add = (name: string, t: kiln.Tensor) => {
  const c = t.contiguous();
  h.update(name);
  h.update(Buffer.from(c.data().buffer, c.data().byteOffset, c.data().byteLength));
};
kiln.manualSeed(99);
const x = kiln.randn([3, 200003]);
add('gelu', F.gelu(x));
add('gelu tanh', F.gelu(x, { approximate: 'tanh' }));
add('silu', F.silu(x));
add('dropout', F.dropout(x, 0.3));
add('dropout strided', F.dropout(x.t(), 0.3));
for (const shape of [
  [8, 5, 123, 77],
  [20000, 13],
  [2, 3, 70001],
]) {
  const xb = kiln.randn(shape).mul(3).add(2).requiresGrad_();
  const w = kiln.randn([shape[1]]).requiresGrad_(),
    b = kiln.randn([shape[1]]).requiresGrad_();
  const rm = kiln.zeros([shape[1]]),
    rv = kiln.ones([shape[1]]);
  const y = F.batchNorm(xb, rm, rv, { weight: w, bias: b, training: true });
  y.mul(kiln.randn(shape)).sum().backward();
  for (const [n, t] of [
    ['y', y],
    ['rm', rm],
    ['rv', rv],
    ['gx', xb.grad!],
    ['gw', w.grad!],
    ['gb', b.grad!],
  ] as const)
    add(`batchNorm ${shape} ${n}`, t);
}
const table = kiln.randn([500, 64]).requiresGrad_();
const idx = kiln.randint(0, 500, [40000]);
F.embedding(idx, table, 3)
  .mul(kiln.randn([40000, 64]))
  .sum()
  .backward();
add('embedding grad', table.grad!);
console.log(JSON.stringify({ threads: kiln.info().numThreads, hash: h.digest('hex') }));
