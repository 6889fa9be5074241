// Errors on CUDA tensors. ERR_INDEX: gather, scatter, embedding (both ways) and crossEntropy with
// class-index targets record an out-of-range index in device words and the next synchronisation (a
// read, await t.read(), kiln.cuda.synchronize(), or every op under KILN_CUDA_SYNC=1) throws it with
// the CPU's message, once (embedding and crossEntropy: the first bad index or row, as on CPU), after
// the reading call's own prefix ("data: ", "synchronize: "). ERR_DEVICE, ERR_DTYPE and ERR_SHAPE on
// cuda tensors; and every op-table row's error cases run with cuda:0 as the default
// device. Without a GPU the suite says why it skips.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { embeddingBackward } from '../../ts/ops/embedding';
import { ROWS } from '../../ts/ops/table';
import { rowOp } from '../helpers/conformance';

const gpu = kiln.cuda.isAvailable();

function caught(f: () => unknown): kiln.KilnError | null {
  try {
    f();
  } catch (e) {
    return e as kiln.KilnError;
  }
  return null;
}
const codeOf = (f: () => unknown): string => {
  const e = caught(f);
  return e ? `${e.code}: ${e.message}` : 'no error';
};
const i64 = (v: number[] | number[][], dtype: kiln.DType = 'int64') => kiln.tensor(v, { dtype, device: 'cuda' });

const F = kiln.nn.functional;
// The CPU's message for the same call on CPU tensors.
const cpuMessage = (f: () => unknown): string => {
  const e = caught(f);
  assert.ok(e, 'the CPU throws');
  assert.is(e!.code, 'ERR_INDEX', e!.message);
  return e!.message;
};
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

if (!gpu) {
  console.log(
    `cuda error tests: skipped (${
      kiln.cuda.isCompiled()
        ? 'the CUDA build is loaded, but no CUDA device is visible'
        : 'this build has no CUDA backend; kiln.info().cuda is false'
    }; ERR_INDEX on the GPU and the rows' error cases on cuda tensors need a GPU)`,
  );
} else {
  test('gather: an out-of-range index throws ERR_INDEX at the next read, once, with the CPU message', () => {
    const x = kiln.arange(0, 10, 1, { device: 'cuda', dtype: 'float32' }).reshape([2, 5]);
    const y = x.gather(
      1,
      i64([
        [0, 7],
        [1, 2],
      ]),
    ); // enqueued: no synchronisation, no error yet
    const e = caught(() => y.toArray());
    assert.ok(e, 'the read throws');
    assert.is(e!.code, 'ERR_INDEX', e!.message);
    assert.match(e!.message, /index 7 is out of range for dimension 1 of size 5/);
    assert.match(e!.message, /gather on cuda:0/);
    // Reported once: the device works and the next reads are clean.
    assert.equal(y.shape, [2, 2]);
    assert.equal(x.gather(1, i64([[4], [0]])).toArray(), [[4], [5]]);
    kiln.cuda.synchronize();
  });

  test('gather with int32 and negative indices: the value as given', () => {
    const x = kiln.ones([5], { device: 'cuda' });
    const y = x.gather(0, i64([-1, -6], 'int32'));
    assert.match(
      codeOf(() => y.data()),
      /^ERR_INDEX: .*index -6 is out of range for dimension 0 of size 5/,
    );
    assert.equal(x.gather(0, i64([-1, -5], 'int32')).toArray(), [1, 1], 'in-range negatives count from the end');
  });

  test('scatter: ERR_INDEX at kiln.cuda.synchronize(), and the output is untouched (as on CPU)', () => {
    const out = kiln.zeros([3], { device: 'cuda' }).scatter(0, i64([0, 3]), kiln.ones([2], { device: 'cuda' }));
    const msg = codeOf(() => kiln.cuda.synchronize());
    assert.match(msg, /^ERR_INDEX: .*index 3 is out of range for dimension 0 of size 3/);
    assert.match(msg, /scatter on cuda:0/);
    assert.equal(out.toArray(), [0, 0, 0]);
    kiln.cuda.synchronize(); // reset: nothing left to report
  });

  test('scatterAdd: ERR_INDEX from await t.read()', async () => {
    const out = kiln
      .zeros([2, 3], { device: 'cuda' })
      .scatterAdd(1, i64([[0, -4]]), kiln.ones([1, 2], { device: 'cuda' }));
    let err: kiln.KilnError | null = null;
    try {
      await out.read();
    } catch (e) {
      err = e as kiln.KilnError;
    }
    assert.ok(err, 'the async read rejects');
    assert.is(err!.code, 'ERR_INDEX', err!.message);
    assert.match(err!.message, /index -4 is out of range for dimension 1 of size 3/);
    assert.match(err!.message, /scatter_add/);
    assert.equal(Array.from((await out.read()) as Float32Array), [0, 0, 0, 0, 0, 0], 'then clean, and untouched');
  });

  test('to("cpu") and indexSelect: the error surfaces at the move', () => {
    const x = kiln.randn([4, 3], { device: 'cuda' });
    const y = x.indexSelect(0, i64([1, 4]));
    assert.match(
      codeOf(() => y.cpu()),
      /^ERR_INDEX: to\('cpu'\): index 4 is out of range for dimension 0 of size 4/,
    );
    assert.equal(
      x
        .indexSelect(0, i64([3, 0]))
        .cpu()
        .toArray(),
      x
        .cpu()
        .indexSelect(0, kiln.tensor([3, 0]))
        .toArray(),
    );
  });

  test('two bad ops before a synchronisation: the earlier one is reported, both are reset', () => {
    const x = kiln.ones([4, 2], { device: 'cuda' });
    x.gather(0, i64([[9, 0]]));
    kiln.zeros([2], { device: 'cuda' }).scatter(0, i64([5]), kiln.ones([1], { device: 'cuda' }));
    const msg = codeOf(() => kiln.cuda.synchronize());
    assert.match(msg, /^ERR_INDEX: .*index 9 is out of range for dimension 0 of size 4 \(gather/);
    assert.is(
      codeOf(() => kiln.cuda.synchronize()),
      'no error',
    );
  });

  test('a bad index after more launches than there are words is still reported', () => {
    const x = kiln.ones([8], { device: 'cuda' });
    const good = i64([1, 2, 3]);
    kiln.scope(() => {
      for (let i = 0; i < 100; i++) x.gather(0, good);
      x.gather(0, i64([11]));
      for (let i = 0; i < 10; i++) x.gather(0, good);
    });
    const msg = codeOf(() => kiln.cuda.synchronize());
    assert.match(msg, /^ERR_INDEX: .*index 11 is out of range/);
    assert.is(
      codeOf(() => kiln.cuda.synchronize()),
      'no error',
    );
    assert.is(x.gather(0, good).sum().item(), 3);
  });

  test('KILN_CUDA_SYNC=1: the op itself throws ERR_INDEX', () => {
    const entry = JSON.stringify(path.resolve(__dirname, '../../ts/index'));
    const run = (body: string) => {
      const script = `const k=require(${entry});try{${body};console.log('no error')}catch(e){console.log(e.code+': '+e.message)}`;
      const compiled = __filename.endsWith('.js');
      const r = spawnSync(process.execPath, compiled ? ['-e', script] : ['-r', 'tsx/cjs', '-e', script], {
        cwd: path.resolve(__dirname, '../..'),
        env: { ...process.env, KILN_CUDA_SYNC: '1' },
        encoding: 'utf8',
      });
      assert.is(r.status, 0, r.stderr);
      return r.stdout.trim().split('\n').pop() ?? '';
    };
    const idx = (v: string) => `k.tensor(${v},{dtype:'int64',device:'cuda'})`;
    assert.match(
      run(`k.ones([3],{device:'cuda'}).gather(0,${idx('[5]')})`),
      /^ERR_INDEX: .*index 5 is out of range for dimension 0 of size 3/,
    );
    assert.match(
      run(`k.nn.functional.embedding(${idx('[0,6]')},k.ones([4,2],{device:'cuda'}))`),
      /^ERR_INDEX: .*embedding: index 6 is out of range for a table of 4 rows \(embedding on cuda:0/,
    );
  });

  test('embedding: the first out-of-range index throws ERR_INDEX at the next read, with the CPU message', () => {
    const w = kiln.randn([5, 3], { device: 'cuda' });
    const y = F.embedding(
      i64([
        [0, 4],
        [7, -1],
      ]),
      w,
    ); // enqueued: no error yet
    const e = caught(() => y.toArray());
    assert.ok(e, 'the read throws');
    assert.is(e!.code, 'ERR_INDEX', e!.message);
    const cpu = cpuMessage(() =>
      F.embedding(
        kiln.tensor([
          [0, 4],
          [7, -1],
        ]),
        w.cpu(),
      ),
    );
    assert.is(cpu, 'embedding: index 7 is out of range for a table of 5 rows');
    assert.match(
      e!.message,
      new RegExp(`: ${escape(cpu)} \\(embedding on cuda:0, reported at the next synchronisation\\)$`),
    );
    // Reported once: the next reads are clean and the good rows are right.
    assert.equal(
      F.embedding(i64([4, 0]), w).toArray(),
      w
        .cpu()
        .indexSelect(0, kiln.tensor([4, 0]))
        .toArray(),
    );
    kiln.cuda.synchronize();
  });

  test('embedding with int32 indices: a negative index as given; the backward reports too', () => {
    const w = kiln.randn([5, 3], { device: 'cuda' });
    const y = F.embedding(i64([1, -3, 9], 'int32'), w);
    assert.match(
      codeOf(() => kiln.cuda.synchronize()),
      /^ERR_INDEX: .*embedding: index -3 is out of range for a table of 5 rows \(embedding on cuda:0/,
    );
    assert.equal(y.shape, [3, 3]);
    const gy = kiln.ones([2, 3], { device: 'cuda' });
    embeddingBackward(gy, i64([2, 5]), 5);
    assert.match(
      codeOf(() => kiln.cuda.synchronize()),
      /^ERR_INDEX: .*embedding: index 5 is out of range for a table of 5 rows \(embedding_backward on cuda:0/,
    );
  });

  test('crossEntropy: the first bad row throws ERR_INDEX at the next read, with the CPU message', () => {
    const x = kiln.randn([4, 10], { device: 'cuda' });
    const loss = F.crossEntropy(x, i64([1, 10, -3, 2])); // the mean: more ops, still no synchronisation
    const e = caught(() => loss.item());
    assert.ok(e, 'the read throws');
    assert.is(e!.code, 'ERR_INDEX', e!.message);
    const cpu = cpuMessage(() => F.crossEntropy(x.cpu(), kiln.tensor([1, 10, -3, 2])));
    assert.is(cpu, 'cross_entropy: target 10 of row 1 is outside [0, 10) and is not ignore_index -100');
    assert.match(
      e!.message,
      new RegExp(`: ${escape(cpu)} \\(cross_entropy on cuda:0, reported at the next synchronisation\\)$`),
    );
    // ignoreIndex is never bad, in range or not; the next bad row is reported then.
    const msg = codeOf(() => F.crossEntropy(x, i64([1, 10, -3, 2]), { ignoreIndex: 10 }).item());
    const cpu10 = cpuMessage(() => F.crossEntropy(x.cpu(), kiln.tensor([1, 10, -3, 2]), { ignoreIndex: 10 }));
    assert.ok(msg.includes(`: ${cpu10} (cross_entropy on cuda:0`), msg);
    const ok = F.crossEntropy(x, i64([-100, 3, -100, 9]), { reduction: 'sum' });
    const want = F.crossEntropy(x.cpu(), kiln.tensor([-100, 3, -100, 9]), { reduction: 'sum' }).item() as number;
    assert.ok(Math.abs((ok.item() as number) - want) < 1e-4 * Math.max(1, Math.abs(want)), 'ignored rows: no error');
    // int32 targets (widened to int64 before the kernel), one row per position of [N, C, d]
    const x3 = kiln.randn([2, 3, 2], { device: 'cuda' });
    const t3 = [
      [0, 2],
      [3, 1],
    ];
    const m3 = codeOf(() => F.crossEntropy(x3, i64(t3, 'int32'), { reduction: 'none' }).toArray());
    const c3 = cpuMessage(() => F.crossEntropy(x3.cpu(), kiln.tensor(t3, { dtype: 'int32' }), { reduction: 'none' }));
    assert.ok(m3.includes(`: ${c3} (cross_entropy on cuda:0`), `${m3} vs ${c3}`);
  });

  test('probability targets record nothing; a bad crossEntropy before a bad gather is the one reported', () => {
    const x = kiln.randn([3, 4], { device: 'cuda' });
    const p = kiln.softmax(kiln.randn([3, 4], { device: 'cuda' }), -1);
    assert.ok(Number.isFinite(F.crossEntropy(x, p).item() as number));
    F.crossEntropy(x, i64([0, 4, 1]));
    x.gather(1, i64([[9], [0], [0]]));
    assert.match(
      codeOf(() => kiln.cuda.synchronize()),
      /^ERR_INDEX: .*cross_entropy: target 4 of row 1 is outside \[0, 4\)/,
    );
    assert.is(
      codeOf(() => kiln.cuda.synchronize()),
      'no error',
    );
  });

  test('an embedding bad index after more launches than there are slots: the shared slot reports it', () => {
    const w = kiln.ones([8, 2], { device: 'cuda' });
    const good = i64([1, 2, 3]);
    kiln.scope(() => {
      for (let i = 0; i < 100; i++) F.embedding(good, w);
      F.embedding(i64([11]), w);
      for (let i = 0; i < 10; i++) F.embedding(good, w);
    });
    assert.match(
      codeOf(() => kiln.cuda.synchronize()),
      /^ERR_INDEX: .*embedding: index 11 is out of range in one of \d+ embedding launches on cuda:0 \(the first: embedding, a table of 8 rows\)/,
    );
    assert.is(
      codeOf(() => kiln.cuda.synchronize()),
      'no error',
    );
  });

  test('ERR_DEVICE: mixing cpu and cuda tensors names both', () => {
    const g = kiln.randn([2, 3], { device: 'cuda' }),
      c = kiln.randn([2, 3]);
    for (const [label, f] of [
      ['add', () => g.add(c)],
      ['matmul', () => g.matmul(c.transpose(0, 1))],
      ['gather (index on the cpu)', () => g.gather(1, kiln.tensor([[0], [1]]))],
      ['where (condition on the cpu)', () => kiln.where(c.gt(0), g, 0)],
      ['scatterAdd (src on the cpu)', () => g.scatterAdd(1, i64([[0], [1]]), kiln.ones([2, 1]))],
    ] as [string, () => unknown][]) {
      const msg = codeOf(f);
      assert.match(msg, /^ERR_DEVICE/, `${label}: ${msg}`);
      assert.match(msg, /cpu/, `${label}: ${msg}`);
      assert.match(msg, /cuda:0/, `${label}: ${msg}`);
    }
    kiln.cuda.synchronize();
  });

  test('ERR_DTYPE on cuda tensors', () => {
    const g = kiln.randn([1, 2, 4, 4], { device: 'cuda' });
    for (const [label, f] of [
      ['gather with a float index', () => g.gather(3, kiln.zeros([1, 2, 4, 1], { device: 'cuda' }))],
      ['maxPool2d of int32', () => kiln.nn.functional.maxPool2d(g.to('int32'), [2, 2])],
      ['where with a float condition', () => kiln.where(g as never, g, 0)],
      ['float into int32 in place', () => kiln.ones([2], { device: 'cuda', dtype: 'int32' }).add_(1.5)],
      ['mean of int64', () => kiln.ones([2], { device: 'cuda', dtype: 'int64' }).mean()],
    ] as [string, () => unknown][])
      assert.match(codeOf(f), /^ERR_DTYPE/, label);
    kiln.cuda.synchronize();
  });

  test('ERR_SHAPE on cuda tensors', () => {
    const g = kiln.randn([2, 3], { device: 'cuda' });
    for (const [label, f] of [
      ['add [2, 3] + [4]', () => g.add(kiln.ones([4], { device: 'cuda' }))],
      ['matmul [2, 3] x [4, 5]', () => g.matmul(kiln.ones([4, 5], { device: 'cuda' }))],
      ['gather rank mismatch', () => g.gather(1, i64([0, 1]))],
      ['maxPool2d of 2-d', () => kiln.nn.functional.maxPool2d(g, [2, 2])],
      ['item() of 6 elements', () => g.item()],
    ] as [string, () => unknown][])
      assert.match(codeOf(f), /^ERR_SHAPE/, label);
    kiln.cuda.synchronize();
  });

  test("every row's error cases on cuda:0 throw their documented codes", () => {
    const wrong: string[] = [];
    let n = 0;
    for (const row of ROWS) {
      const id = rowOp(row.name);
      const missing = row.native !== null && id !== null && !kiln.cuda.hasKernel(id);
      kiln.setDefaultDevice('cuda:0');
      try {
        for (const c of row.errors()) {
          n++;
          let e = caught(c.run);
          // ERR_INDEX from a kernel surfaces at the next synchronisation on the GPU.
          if (!e && c.code === 'ERR_INDEX') e = caught(() => kiln.cuda.synchronize());
          else caught(() => kiln.cuda.synchronize()); // nothing left over for the next case
          const got = e ? e.code : 'no error';
          if (got === c.code) continue;
          if (missing && got === 'ERR_NOT_COMPILED') continue;
          wrong.push(`${row.name}: ${c.label}: want ${c.code}, got ${e ? `${e.code}: ${e.message}` : 'no error'}`);
        }
      } finally {
        kiln.setDefaultDevice('cpu');
      }
    }
    console.log(`  ${n} error cases on cuda:0 (ERR_INDEX included: every index op records it on the GPU)`);
    assert.equal(wrong, [], wrong.join('\n'));
  });
}

test.run();
