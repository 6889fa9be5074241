// Per-op host cost on a GPU machine: tiny kiln ops in a loop (us/op, median of 5 x 20,000).
// Run there from .gpu/ after scripts/pack_node.sh: KILN_ADDON=... NODE_PATH=node_modules node ../bench/gpu/dispatch.js
const k = require(require('path').resolve('js/ts/index'));
function per(label, fn, n = 20000) {
  for (let i = 0; i < 2000; i++) fn();
  if (k.cuda.isAvailable()) k.cuda.synchronize();
  const best = [];
  for (let r = 0; r < 5; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    if (label.includes('cuda')) k.cuda.synchronize();
    best.push(Number(process.hrtime.bigint() - t) / n / 1000);
  }
  best.sort((a, b) => a - b);
  console.log(label.padEnd(40), best[2].toFixed(2), 'us/op (median of 5), min', best[0].toFixed(2));
}
const c = k.zeros([1]);
per('cpu add_(1)', () => c.add_(1));
const g = k.zeros([1], { device: 'cuda' });
per('cuda add_(1)', () => g.add_(1));
const g2 = k.zeros([1], { device: 'cuda' });
per('cuda add_(tensor)', () => g.add_(g2));
per('cuda neg() + dispose', () => g.neg().dispose());
