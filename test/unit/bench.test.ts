// Smoke test of the bench harness (ts/bench/): argument forms, every bench at tiny sizes with
// well-formed records and flat memory, the --threads path through a child process, and the gemm
// bench: its shapes, its ONNX model encoder, its records and SVG chart. Nothing here needs OpenBLAS
// or onnxruntime-node (their rows are checked when present), and nothing sets OPENBLAS_*.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as kiln from '../../ts/index';
import { BENCHES, main, parseArgs, runBenches } from '../../ts/bench/cli';
import type { BenchRecord } from '../../ts/bench/harness';
import { copyVariants, cycler, llcBytes, rotation } from '../../ts/bench/copy';
import { gemmCases } from '../../ts/bench/gemm';
import { IR_VERSION, OPSET, matMulModel, onnxGraphModel, varint } from '../../ts/bench/onnx_model';
import { loadOnnxRuntime, ortSession } from '../../ts/bench/onnxruntime';
import { runTorch } from '../../ts/bench/torch_ref';
import { torchSuffix } from '../helpers/torch';

test('the bin form (`bench <name>`) and the npm form (`<name>`) parse alike', () => {
  const a = parseArgs(['bench', 'sum', '--max', '1e5', '--threads', '1,2']);
  const b = parseArgs(['sum', '--max', '1e5', '--threads', '1,2']);
  assert.equal(a, b);
  assert.is(a.opts.max, 1e5);
  assert.equal(a.threads, [1, 2]);
  assert.is(parseArgs(['all']).opts.max, 1e7);
  assert.is(parseArgs(['dispatch', '--quick', '--reps', '5']).opts.reps, 5, 'explicit options win over --quick');
  assert.throws(() => parseArgs(['nope']), /unknown bench/);
  assert.throws(() => parseArgs(['sum', '--max', '0']), /positive/);
  assert.throws(() => parseArgs(['sum', '--fast']), /unknown option/);
  assert.is(parseArgs(['gemm']).opts.maxSize, 4096);
  assert.is(parseArgs(['all']).opts.maxSize, 1024);
  assert.is(parseArgs(['gemm', '--quick']).opts.maxSize, 64);
  assert.is(parseArgs(['gemm', '--max-size', '512']).opts.maxSize, 512);
  assert.is(parseArgs(['gemm', '--no-chart']).chart, false);
  assert.is(parseArgs(['gemm']).opts.ownProcess, false, 'only the bin itself may set a reference library environment');
});

test('copy references cycle through operand sets that take twice the last-level cache', () => {
  const llc = llcBytes();
  assert.ok(llc >= 0, 'a size or 0');
  assert.is(rotation(Math.max(1, 2 * llc)), 1, 'one set that takes twice the LLC');
  assert.is(rotation(64 << 20), llc ? Math.min(16, Math.ceil((2 * llc) / (64 << 20))) : 1);
  assert.ok(rotation(1) <= 16, 'a bounded number of sets');
  const next = cycler(['a', 'b', 'c']);
  assert.equal(
    Array.from({ length: 7 }, () => next()),
    ['a', 'b', 'c', 'a', 'b', 'c', 'a'],
  );
  // every variant copies every pair, each once per turn
  const src = [kiln.tensor([1, 2, 3], { dtype: 'float32' }), kiln.tensor([4, 5, 6], { dtype: 'float32' })],
    dst = [kiln.zeros([3]), kiln.zeros([3])];
  for (const v of copyVariants(src, dst)) {
    for (const d of dst) d.fill_(0);
    v.run();
    assert.equal(
      [dst[0].toArray(), dst[1].toArray()],
      [
        [1, 2, 3],
        [0, 0, 0],
      ],
      `${v.impl}: the first pair`,
    );
    v.run();
    assert.equal(dst[1].toArray(), [4, 5, 6], `${v.impl}: then the second`);
  }
  for (const t of [...src, ...dst]) t.dispose();
});

test('gemm shapes: squares up to --max-size, model shapes shrunk with it, one GEMV', () => {
  const full = gemmCases(4096);
  assert.equal(
    full.filter((c) => c.shape[0] === c.shape[2] && c.shape[0] === c.shape[1]).map((c) => c.shape[0]),
    [64, 128, 256, 512, 1024, 2048, 4096],
  );
  assert.equal(
    full.slice(-3).map((c) => c.shape),
    [
      [4096, 1024, 1024],
      [32, 512, 2048],
      [1, 4096, 4096],
    ],
  );
  assert.equal(
    full.filter((c) => c.gemv).map((c) => c.shape),
    [[1, 4096, 4096]],
  );
  const quick = gemmCases(64);
  assert.equal(
    quick.slice(0, 3).map((c) => c.shape[0]),
    [16, 32, 64],
  );
  assert.equal(
    quick.slice(-3).map((c) => c.shape),
    [
      [64, 16, 16],
      [1, 8, 32],
      [1, 64, 64],
    ],
  );
  assert.equal(
    quick.filter((c) => c.gemv).map((c) => c.shape),
    [[1, 64, 64]],
    'GEMV is the model shape, not any M = 1',
  );
});

/** A protobuf message as { field: values[] } (varints as numbers, length-delimited as bytes). */
function decode(b: Uint8Array): Record<number, (number | Uint8Array)[]> {
  const out: Record<number, (number | Uint8Array)[]> = {};
  let i = 0;
  const readVarint = (): number => {
    let v = 0;
    for (let mul = 1; ; mul *= 128) {
      const byte = b[i++];
      v += (byte & 0x7f) * mul;
      if (!(byte & 0x80)) return v;
    }
  };
  while (i < b.length) {
    const key = readVarint(),
      field = key >>> 3,
      wire = key & 7;
    let v: number | Uint8Array;
    if (wire === 0) v = readVarint();
    else if (wire === 5) {
      v = new DataView(b.buffer, b.byteOffset + i, 4).getFloat32(0, true);
      i += 4;
    } else if (wire === 2) {
      const len = readVarint();
      v = b.subarray(i, i + len);
      i += len;
    } else throw new Error(`unexpected wire type ${wire}`);
    (out[field] ??= []).push(v);
  }
  assert.is(i, b.length, 'message ends on a field boundary');
  return out;
}
const text = (v: number | Uint8Array): string => Buffer.from(v as Uint8Array).toString('utf8');
const msg = (v: number | Uint8Array) => decode(v as Uint8Array);

test('the ONNX MatMul model decodes to the ModelProto the spec describes', () => {
  assert.equal(varint(1), [1]);
  assert.equal(varint(300), [0xac, 0x02], "protobuf's own example");
  assert.equal(varint(2 ** 35), [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
  const model = decode(matMulModel(32, 512, 2048));
  assert.equal(model[1], [IR_VERSION], 'ir_version');
  const opset = msg(model[8][0]);
  assert.equal(opset[2], [OPSET], 'opset_import.version (default domain)');
  const graph = msg(model[7][0]);
  const node = msg(graph[1][0]);
  assert.equal(node[1].map(text), ['A', 'B'], 'node inputs');
  assert.equal(node[2].map(text), ['C'], 'node output');
  assert.is(text(node[4][0]), 'MatMul');
  const io = [...graph[11], ...graph[12]].map((v) => {
    const vi = msg(v);
    const tensor = msg(msg(vi[2][0])[1][0]);
    assert.equal(tensor[1], [1], 'elem_type FLOAT');
    const dims = msg(tensor[2][0])[1].map((d) => msg(d)[1][0]);
    return [text(vi[1][0]), dims];
  });
  assert.equal(io, [
    ['A', [32, 512]],
    ['B', [512, 2048]],
    ['C', [32, 2048]],
  ]);
});

test('onnxGraphModel: attributes (INT, negative INTS, FLOAT, STRING) and initializers encode as the spec says', () => {
  const model = onnxGraphModel({
    name: 'g',
    nodes: [
      { op: 'Mul', inputs: ['X', 'S'], outputs: ['Y'] },
      { op: 'Softmax', inputs: ['Y'], outputs: ['Z'], attrs: { axis: -1 } },
      { op: 'Pad', inputs: ['Z'], outputs: ['W'], attrs: { pads: [0, -1], value: { f: 0.5 }, mode: 'constant' } },
    ],
    inputs: [{ name: 'X', dims: [2, 3] }],
    outputs: [{ name: 'Z', dims: [2, 3] }],
    initializers: [{ name: 'S', dims: [1], values: [0.25] }],
  });
  const graph = msg(decode(model)[7][0]);
  const attrs = (n: number) => msg(graph[1][n])[5].map(msg);
  const [axis] = attrs(1);
  assert.is(text(axis[1][0]), 'axis');
  assert.is(axis[20][0], 2, 'type INT');
  assert.is(axis[3][0], 2 ** 64 - 1, 'int64 -1 as a ten-byte varint (read back as a double)');
  const [pads, value, mode] = attrs(2);
  assert.equal([pads[8][0], pads[20][0]], [0, 7], 'INTS');
  assert.equal([value[2][0], value[20][0]], [0.5, 1], 'FLOAT as fixed32');
  assert.equal([text(mode[4][0]), mode[20][0]], ['constant', 3], 'STRING');
  const init = msg(graph[5][0]);
  assert.equal([init[1][0], init[2][0], text(init[8][0])], [1, 1, 'S'], 'dims, FLOAT, name');
  assert.is(new Float32Array(Uint8Array.from(init[9][0] as Uint8Array).buffer)[0], 0.25, 'raw_data');
});

test('ortSession runs a graph built by onnxGraphModel (when onnxruntime-node is installed)', async () => {
  const got = loadOnnxRuntime();
  if (!got.ort) return console.log(`  (skipped: ${got.reason})`);
  const model = onnxGraphModel({
    name: 'scaled_softmax',
    nodes: [
      { op: 'Mul', inputs: ['X', 'S'], outputs: ['Y'] },
      { op: 'Softmax', inputs: ['Y'], outputs: ['Z'], attrs: { axis: -1 } },
    ],
    inputs: [{ name: 'X', dims: [2, 3] }],
    outputs: [{ name: 'Z', dims: [2, 3] }],
    initializers: [{ name: 'S', dims: [1], values: [2] }],
  });
  const x = Float32Array.from([0, 1, 2, 3, 3, 3]);
  const s = await ortSession(got.ort, model, { X: { type: 'float32', data: x, dims: [2, 3] } }, 1);
  const z = (await s.run()).Z.data as Float32Array;
  await s.release();
  const e = [1, Math.exp(2), Math.exp(4)],
    sum = e[0] + e[1] + e[2];
  const want = [...e.map((v) => v / sum), 1 / 3, 1 / 3, 1 / 3];
  want.forEach((w, i) => assert.ok(Math.abs(z[i] - w) < 1e-6, `softmax(2x)[${i}]`));
});

test(`runTorch reports named timings, or why it could not${torchSuffix}`, () => {
  const r = runTorch(
    `x = torch.ones(int(sys.argv[1]))\nreport('sum', timed(lambda: x.sum(), 3), value=float(x.sum()))`,
    [5],
    {
      threads: 1,
    },
  );
  if (typeof r === 'string') return assert.match(r, /PyTorch skipped/);
  const s = r.results.sum;
  assert.ok(s.stats.samples === 3 && s.stats.minMs <= s.stats.medianMs && s.stats.medianMs <= s.stats.maxMs);
  assert.is(s.extra.value, 5);
  assert.match(r.version, /^\d+\./);
  const bad = runTorch('raise ValueError("no")', [], { threads: 1 });
  assert.match(bad as string, /PyTorch skipped: ValueError: no/);
});

/** Throws unless every tag of the SVG is closed in order (a well-formedness check, no parser). */
function checkTags(svg: string): void {
  const open: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    if (m[3]) continue;
    if (!m[1]) open.push(m[2]);
    else assert.is(open.pop(), m[2], `</${m[2]}> closes another element`);
  }
  assert.equal(open, [], 'unclosed elements');
  assert.not.match(svg.replace(/&(amp|lt|gt|quot);/g, ''), /&/, 'unescaped &');
}

test('gemm --quick: checked records, ratios to the references present, an SVG chart per impl', async () => {
  const file = path.join(os.tmpdir(), `kiln-bench-gemm-${process.pid}.json`),
    svgFile = file.replace(/\.json$/, '.svg');
  const env = { coretype: process.env.OPENBLAS_CORETYPE, threads: process.env.OPENBLAS_NUM_THREADS };
  const before = kiln.memory();
  const code = await main(['bench', 'gemm', '--quick', '--quiet', '--json', file]);
  assert.is(code, 0);
  assert.equal(
    { coretype: process.env.OPENBLAS_CORETYPE, threads: process.env.OPENBLAS_NUM_THREADS },
    env,
    'the environment is left alone',
  );
  const after = kiln.memory();
  // At most: the garbage collector may meanwhile take tensors that earlier suites left undisposed,
  // and kiln.memory() counts them off.
  assert.ok(after.numTensors <= before.numTensors, 'the gemm bench left tensors alive');
  const records = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchRecord[];
  const svg = fs.readFileSync(svgFile, 'utf8');
  fs.unlinkSync(file);
  fs.unlinkSync(svgFile);

  const peak = records.find((r) => r.name === 'fma peak');
  assert.ok(peak && peak.unit === 'GFLOP/s' && peak.value > 0, 'the FMA peak is measured');
  const rows = records.filter((r) => r.name === 'matmul');
  const impls = [...new Set(rows.map((r) => r.impl))];
  assert.is(impls[0], 'kiln');
  for (const impl of impls) assert.ok(['kiln', 'OpenBLAS', 'onnxruntime'].includes(impl), impl);
  for (const c of gemmCases(64)) {
    const at = rows.filter((r) => r.shape.join() === c.shape.join());
    assert.equal(
      at.map((r) => r.impl),
      impls,
      `every impl ran [${c.shape}]`,
    );
    for (const r of at) {
      assert.ok(r.minMs > 0 && r.minMs <= r.medianMs && r.medianMs <= r.maxMs, `${r.impl} [${r.shape}] times`);
      const [m, k, n] = c.shape;
      assert.ok(Math.abs(r.value - (2 * m * n * k) / (r.medianMs * 1e6)) < 1e-9 * r.value, 'GFLOP/s = 2MNK / time');
      assert.ok(Math.abs(r.ratios['fma peak'] - r.value / peak!.value) < 1e-12, 'fraction of the peak');
      for (const ref of impls.filter((i) => i !== r.impl)) {
        if (ref === 'kiln') continue;
        const want = r.value / at.find((x) => x.impl === ref)!.value;
        assert.ok(Math.abs(r.ratios[ref] - want) < 1e-9 * want, `${r.impl} vs ${ref}`);
      }
    }
    const bw = records.filter((r) => r.name === 'matmul bandwidth' && r.shape.join() === c.shape.join());
    assert.is(bw.length, c.gemv ? impls.length : 0, `GB/s rows only for the GEMV [${c.shape}]`);
    for (const r of bw) assert.ok(r.unit === 'GB/s' && r.ratios.copy > 0, 'GEMV GB/s against the copy bandwidth');
  }
  assert.ok(
    records.some((r) => r.name === 'copy' && r.impl === 'kiln copy_'),
    'the copy bandwidth is measured',
  );

  assert.ok(svg.startsWith('<svg'), 'an SVG document');
  assert.match(svg, /xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  checkTags(svg);
  const lines = [...svg.matchAll(/<polyline data-impl="([^"]+)" data-threads="(\d+)"[^>]*points="([^"]+)"/g)];
  assert.equal(
    lines.map((l) => l[1]),
    impls,
    'one polyline per impl (one thread count here)',
  );
  for (const l of lines) assert.is(l[3].split(' ').length, 3, 'a point per square size');
  // the CPU's name escaped: 'Intel(R) Xeon(R) Processor' as a pattern does not match itself
  const cpu = peak!.machine.cpu.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(svg, new RegExp(`${cpu}.*${peak!.date.slice(0, 10)}`), 'title with CPU and date');
});

test('every bench runs at tiny sizes, checks itself and leaves memory flat', async () => {
  const before = kiln.memory();
  const records = await runBenches(parseArgs(['all', '--quick']));
  const after = kiln.memory();
  // At most, as in the gemm test: tensors earlier suites left to the garbage collector may go meanwhile.
  assert.ok(after.numTensors <= before.numTensors, 'a bench left tensors alive');
  assert.ok(after.numBytes <= before.numBytes);
  const benches = new Set(records.map((r) => r.bench));
  // The cuda bench records nothing without a GPU (it says so on stderr).
  const expected = Object.keys(BENCHES).filter((b) => b !== 'cuda' || kiln.cuda.isAvailable());
  assert.equal([...benches], expected, 'all runs every bench, in order');
  for (const r of records) {
    const at = `${r.bench} ${r.name} ${r.impl} [${r.shape}]`;
    assert.ok(r.minMs > 0 && r.minMs <= r.medianMs && r.medianMs <= r.maxMs, `${at}: min/median/max out of order`);
    assert.ok(Number.isFinite(r.value) && r.value > 0, `${at}: rate ${r.value}`);
    for (const v of Object.values(r.ratios)) assert.ok(Number.isFinite(v) && v > 0, `${at}: ratio ${v}`);
    assert.is(r.threads, kiln.info().numThreads);
    assert.is(r.machine.isa, kiln.info().isa);
    assert.ok(r.date && r.machine.cpu);
  }
  const add = records.find((r) => r.bench === 'elementwise' && r.name === 'add' && r.impl === 'kiln');
  assert.ok(add && 'copy' in add.ratios, 'add is compared with the copy bandwidth');
  const copies = records.filter((r) => r.bench === 'elementwise' && r.name === 'copy' && r.shape[0] === 1000);
  assert.equal(
    copies.map((r) => r.impl),
    ['kiln copy_', 'TypedArray.set', 'Buffer.copy'],
  );
  const best = Math.max(...copies.map((r) => r.value));
  assert.ok(Math.abs(add!.ratios.copy - add!.value / best) < 1e-9, 'the copy ratio is against the fastest copy');
  assert.equal(add?.shape, [1000]);
  const disp = records.find((r) => r.bench === 'dispatch' && r.impl === 'kiln' && r.name === 'add');
  assert.ok(disp && disp.unit === 'ns/op' && '1 µs target' in disp.ratios);
});

test('--threads runs each count in a child process and merges the JSON', async () => {
  const file = path.join(os.tmpdir(), `kiln-bench-test-${process.pid}.json`);
  const log = console.log;
  console.log = () => {};
  let code: number;
  try {
    code = await main(['bench', 'dispatch', '--quick', '--threads', '1', '--json', file]);
  } finally {
    console.log = log;
  }
  assert.is(code, 0);
  const records = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchRecord[];
  fs.unlinkSync(file);
  assert.ok(records.length > 0);
  for (const r of records) assert.is(r.threads, 1, 'the child ran with KILN_NUM_THREADS=1');
});

test.run();
