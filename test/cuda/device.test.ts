// CUDA device API. Without a GPU: the suite says why it skips the GPU tests, and checks that CUDA
// requests fail cleanly (ERR_NOT_COMPILED with the fixing command in a CPU-only build, ERR_DEVICE
// with the device count in a CUDA build on a machine without a GPU). With a GPU: device moves,
// ERR_DEVICE on mixing, the OOM path, allocator statistics, the async read, KILN_CUDA_SYNC, a small
// model trained on CUDA against the CPU, and the per-op dispatch time of tiny ops.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const gpu = kiln.cuda.isAvailable();
const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return `${(e as kiln.KilnError).code}: ${(e as Error).message}`;
  }
  return 'no error';
};

if (!gpu)
  console.log(
    `cuda tests: GPU tests skipped (${
      kiln.cuda.isCompiled()
        ? 'the CUDA build is loaded, but no CUDA device is visible (no NVIDIA driver or GPU)'
        : 'this build has no CUDA backend; kiln.info().cuda is false'
    })`,
  );

test('without a usable GPU, CUDA requests fail cleanly and say why', () => {
  if (gpu) return;
  assert.is(kiln.cuda.deviceCount(), 0);
  assert.is(kiln.cuda.isAvailable(), false);
  const msg = code(() => kiln.ones([2], { device: 'cuda' }));
  if (kiln.info().cuda) assert.match(msg, /^ERR_DEVICE: .*not available: 0 CUDA devices/);
  else assert.match(msg, /^ERR_NOT_COMPILED: .*KILN_CUDA=1 npm install kiln/);
  assert.match(
    code(() => kiln.ones([2]).to('cuda:1')),
    /^ERR_(DEVICE|NOT_COMPILED)/,
  );
  assert.match(
    code(() => kiln.ones([2], { device: 'tpu' })),
    /^ERR_DEVICE/,
  );
  kiln.cuda.synchronize(); // nothing to wait for: no error
  kiln.emptyCache();
  assert.equal(kiln.memory().cuda, []);
});

if (gpu) {
  const close = (a: number[], b: number[], tol: number) => {
    assert.is(a.length, b.length);
    for (let i = 0; i < a.length; i++)
      if (!(Math.abs(a[i] - b[i]) <= tol * Math.max(1, Math.abs(b[i]))))
        assert.unreachable(`element ${i}: ${a[i]} vs ${b[i]}`);
  };

  test('device properties', () => {
    const p = kiln.cuda.getDeviceProperties(0);
    console.log(
      `cuda:0: ${p.name}, ${(p.totalMemory / 2 ** 30).toFixed(1)} GiB, ${p.multiProcessorCount} SMs, sm_${p.major}${p.minor}`,
    );
    assert.ok(p.totalMemory > 2 ** 30 && p.multiProcessorCount > 0 && p.major >= 7);
    assert.is(kiln.cuda.getDeviceName(), p.name);
    assert.match(
      code(() => kiln.cuda.getDeviceProperties(kiln.cuda.deviceCount())),
      /^ERR_DEVICE/,
    );
  });

  test('moves round trip every dtype, views included', () => {
    for (const dtype of kiln.DTYPES) {
      const x = kiln.arange(0, 24, 1, { dtype }).reshape([2, 3, 4]);
      const g = x.cuda();
      assert.is(g.device, 'cuda:0');
      assert.equal(g.cpu().toArray(), x.toArray(), dtype);
      assert.equal(g.toArray(), x.toArray(), `${dtype}: read from the device`);
      const v = x.transpose(0, 2).to('cuda'); // non-contiguous source
      assert.equal(v.cpu().toArray(), x.transpose(0, 2).toArray(), `${dtype} transposed`);
      assert.is(g.to('cuda:0').device, 'cuda:0');
    }
    const big = kiln.rand([3, 1 << 20]); // bigger than a staging buffer (8 MiB), odd chunking
    assert.equal(Array.from(big.cuda().cpu().data() as Float32Array), Array.from(big.data() as Float32Array));
    const t = kiln.tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { device: 'cuda' },
    );
    assert.is(t.device, 'cuda:0');
    assert.equal(t.toArray(), [
      [1, 2],
      [3, 4],
    ]);
    assert.is(kiln.zeros([3], { device: 'cuda' }).add(2).sum().item(), 6);
    assert.is(kiln.full([2, 2], 7, { device: 'cuda:0', dtype: 'int32' }).sum().item(), 28);
  });

  test('an op on two devices throws ERR_DEVICE naming both', () => {
    const a = kiln.ones([3]),
      b = kiln.ones([3], { device: 'cuda' });
    const msg = code(() => a.add(b));
    assert.match(msg, /^ERR_DEVICE/);
    assert.match(msg, /cpu/);
    assert.match(msg, /cuda:0/);
    assert.is(b.add(1).sum().item(), 6, 'JS scalars work on the device');
  });

  test('ops without a CUDA kernel throw ERR_NOT_COMPILED naming the op and the device', () => {
    const x = kiln.randn([1, 2, 8, 8], { device: 'cuda' }),
      w = kiln.randn([3, 2, 3, 3], { device: 'cuda' });
    const msg = code(() => kiln.nn.functional.conv2d(x, w));
    assert.match(msg, /^ERR_NOT_COMPILED: .*conv2d.*cuda:0/);
    assert.is(x.sum().cpu().numel(), 1, 'the device still works');
  });

  test('asking for 1 PB gives ERR_OOM with the requested and free bytes, and the process survives', () => {
    const msg = code(() => kiln.empty([2 ** 48], { device: 'cuda', dtype: 'float32' }));
    console.log(`  ${msg}`);
    assert.match(msg, /^ERR_OOM/);
    assert.match(msg, /requested/);
    assert.match(msg, /free/);
    assert.is(kiln.ones([2], { device: 'cuda' }).sum().item(), 2, 'the device still works');
  });

  test('caching allocator: reuse, statistics, emptyCache', () => {
    kiln.cuda.synchronize();
    const stat = () => kiln.memory().cuda.find((d) => d.device === 'cuda:0')!;
    const s0 = stat();
    const a = kiln.empty([1 << 20], { device: 'cuda' });
    const s1 = stat();
    assert.ok(s1.allocatedBytes >= s0.allocatedBytes + 4 * (1 << 20));
    a.dispose();
    const s2 = stat();
    assert.ok(s2.cachedBytes >= 4 * (1 << 20), 'the block is cached');
    const b = kiln.empty([1 << 20], { device: 'cuda' });
    const s3 = stat();
    assert.ok(s3.cacheHits > s2.cacheHits, 'the second allocation is served from the cache');
    b.dispose();
    kiln.emptyCache();
    const s4 = stat();
    assert.ok(s4.cachedBytes < s2.cachedBytes, `emptyCache returned memory (${s2.cachedBytes} -> ${s4.cachedBytes})`);
    // a flat line over many steps
    const x = kiln.randn([64, 64], { device: 'cuda' });
    // (a block body: a scope's returned tensor escapes it)
    kiln.scope(() => {
      x.mul(2).add(1).exp().sum(); // first use copies the scalars 2 and 1 to the device
    });
    const before = stat().allocatedBytes;
    for (let i = 0; i < 50; i++)
      kiln.scope(() => {
        x.mul(2).add(1).exp().sum();
      });
    assert.is(stat().allocatedBytes, before);
  });

  test('await t.read() does not block the event loop', async () => {
    const x = kiln.randn([4096, 4096], { device: 'cuda' });
    let y = x;
    for (let i = 0; i < 20; i++) y = y.mul(1.0001).add(0.0001); // queue some work first
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const t0 = performance.now();
    const vals = await y.read();
    const ms = performance.now() - t0;
    clearInterval(timer);
    console.log(`  read of 64 MiB: ${ms.toFixed(1)} ms, ${ticks} timer ticks meanwhile`);
    assert.is(vals.length, 4096 * 4096);
    assert.ok(ticks > 0, 'a timer fired during the read');
    close(
      Array.from((vals as Float32Array).subarray(0, 100)),
      Array.from((y.data() as Float32Array).subarray(0, 100)),
      0,
    );
  });

  test('KILN_CUDA_SYNC=1 runs ops synchronously and still works', () => {
    const entry = JSON.stringify(path.resolve(__dirname, '../../ts/index'));
    const script = `const k=require(${entry});const x=k.ones([1000],{device:'cuda'}).mul(3);console.log(String(x.sum().item()))`; // String: a number would be coloured under FORCE_COLOR
    const compiled = __filename.endsWith('.js'); // scripts/gpu_check.sh runs the suite as compiled JS
    const r = spawnSync(process.execPath, compiled ? ['-e', script] : ['-r', 'tsx/cjs', '-e', script], {
      cwd: path.resolve(__dirname, '../..'),
      env: { ...process.env, KILN_CUDA_SYNC: '1' },
      encoding: 'utf8',
    });
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim().split('\n').pop(), '3000', r.stdout);
  });

  test('a small model trains on CUDA and matches the CPU', () => {
    const run = (device: 'cpu' | 'cuda') =>
      kiln.scope(() => {
        kiln.manualSeed(7);
        const model = new kiln.nn.Sequential(new kiln.nn.Linear(8, 16), new kiln.nn.ReLU(), new kiln.nn.Linear(16, 3));
        model.to(device);
        const opt = new kiln.optim.AdamW(model.parameters(), { lr: 1e-2 });
        kiln.manualSeed(11);
        const x = kiln.randn([32, 8]).to(device);
        const y = kiln.randint(0, 3, [32]).to(device);
        const losses: number[] = [];
        for (let i = 0; i < 20; i++) {
          opt.zeroGrad();
          const loss = kiln.nn.functional.crossEntropy(model.forward(x) as kiln.Tensor, y);
          loss.backward();
          opt.step();
          losses.push(loss.item() as number);
        }
        return losses;
      });
    const cpu = run('cpu'),
      gpuLosses = run('cuda');
    console.log(
      `  loss cpu ${cpu[0].toFixed(4)} -> ${cpu[19].toFixed(4)}, cuda ${gpuLosses[0].toFixed(4)} -> ${gpuLosses[19].toFixed(4)}`,
    );
    assert.ok(gpuLosses[19] < gpuLosses[0], 'the loss goes down');
    close(gpuLosses, cpu, 1e-3);
  });

  test('per-op dispatch time of tiny ops (target <= 4 us; PyTorch eager 10.7 us)', () => {
    const x = kiln.ones([16], { device: 'cuda' });
    const n = 2000;
    for (let i = 0; i < 200; i++) x.add_(1);
    kiln.cuda.synchronize();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) x.add_(1);
    const t1 = process.hrtime.bigint();
    kiln.cuda.synchronize();
    const t2 = process.hrtime.bigint();
    const us = Number(t1 - t0) / 1e3 / n,
      usSync = Number(t2 - t0) / 1e3 / n;
    console.log(
      `  ${JSON.stringify({ kind: 'dispatch', op: 'add_', us_per_op: +us.toFixed(2), us_per_op_incl_sync: +usSync.toFixed(2), target_us: 4 })}`,
    );
    assert.is(x.sum().item(), 16 * (1 + 200 + n));
  });
}

test.run();
