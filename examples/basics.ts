// A first look at kiln: tensors, broadcasting, autograd, and memory that is freed on purpose.
// Run: npx tsx examples/basics.ts
import * as kiln from '../ts/index';

kiln.manualSeed(0);
const x = kiln.randn([64, 784]);
const w = kiln.randn([784, 10]).mul(0.01).requiresGrad_();
const y = kiln.randint(0, 10, [64]);

// A softmax classifier's loss, written with primitives; backward() fills w.grad.
const logits = x.matmul(w);
const loss = logits.logSoftmax(1).gather(1, y.unsqueeze(1)).mean().neg();
loss.backward();
console.log('loss', (loss.item() as number).toFixed(4), 'grad shape', w.grad!.shape.join('x'));

// One step of gradient descent, in place, outside the graph.
kiln.noGrad(() => w.sub_(w.grad!.mul(0.1)));

// Everything made inside a scope is freed at its end, except what it returns.
const z = kiln.scope(() => x.relu().sum(1).slice(0, 0, 4));
console.log(z.toString());
console.log('live tensors', kiln.memory().numTensors, 'on', kiln.info().isa, 'with', kiln.info().numThreads, 'threads');
