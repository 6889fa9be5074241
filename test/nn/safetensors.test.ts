// safetensors: a file built byte by byte from the specification is read back; kiln's files match
// that layout; round trips of every dtype (sync, async, state dicts); malformed files are refused
// with ERR_ARG; and, when Debian's python3 has torch, a round trip through PyTorch both ways.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-st-'));
const file = (name: string) => path.join(dir, name);

/** A safetensors file assembled by hand: header length, JSON, raw little-endian data. */
function specFile(): Buffer {
  const header = JSON.stringify({
    __metadata__: { format: 'pt' },
    a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
    b: { dtype: 'I64', shape: [3], data_offsets: [16, 40] },
    c: { dtype: 'BF16', shape: [1], data_offsets: [40, 42] },
    d: { dtype: 'BOOL', shape: [2], data_offsets: [42, 44] },
    e: { dtype: 'F16', shape: [0, 3], data_offsets: [44, 44] },
  });
  const data = Buffer.alloc(44);
  [1, -2.5, 3.25, 1e-3].forEach((v, i) => data.writeFloatLE(v, 4 * i));
  [7n, -1n, 2n ** 40n].forEach((v, i) => data.writeBigInt64LE(v, 16 + 8 * i));
  data.writeUInt16LE(0x3fc0, 40); // bf16 1.5
  data[42] = 1;
  data[43] = 0;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, Buffer.from(header), data]);
}

test('reads a file written byte by byte from the specification', () => {
  fs.writeFileSync(file('spec.safetensors'), specFile());
  const info = kiln.safetensors.inspect(file('spec.safetensors'));
  assert.equal(info.metadata, { format: 'pt' });
  assert.equal([...info.tensors.keys()], ['a', 'b', 'c', 'd', 'e']);
  const m = kiln.loadSync(file('spec.safetensors'));
  assert.equal(m.get('a')!.toArray(), [
    [1, -2.5],
    [3.25, Math.fround(1e-3)],
  ]);
  assert.is(m.get('b')!.dtype, 'int64');
  assert.equal(m.get('b')!.toArray(), [7, -1, 2 ** 40]);
  assert.is(m.get('c')!.dtype, 'bfloat16');
  assert.equal(m.get('c')!.toArray(), [1.5]);
  assert.equal(m.get('d')!.toArray(), [true, false]);
  assert.equal(m.get('e')!.shape, [0, 3]);
});

test('writes the specified layout: 8-byte length, padded JSON, contiguous data', () => {
  const t = { w: kiln.tensor([[1, 2, 3]], { dtype: 'float32' }), n: kiln.tensor([5], { dtype: 'int32' }) };
  kiln.saveSync(t, file('w.safetensors'), { metadata: { step: '3' } });
  const buf = fs.readFileSync(file('w.safetensors'));
  const n = Number(buf.readBigUInt64LE(0));
  assert.is(n % 8, 0, 'header padded to 8 bytes');
  const h = JSON.parse(buf.subarray(8, 8 + n).toString());
  assert.equal(h.__metadata__, { step: '3' });
  assert.equal(h.w, { dtype: 'F32', shape: [1, 3], data_offsets: [0, 12] });
  assert.equal(h.n, { dtype: 'I32', shape: [1], data_offsets: [12, 16] });
  assert.is(buf.length, 8 + n + 16);
  assert.is(buf.readFloatLE(8 + n + 8), 3);
  assert.is(buf.readInt32LE(8 + n + 12), 5);
});

test('round trips every dtype, views and state dicts, sync and async', async () => {
  kiln.manualSeed(5);
  const src = new Map<string, kiln.Tensor>([
    ['f32', kiln.randn([3, 5])],
    ['f64', kiln.randn([4], { dtype: 'float64' })],
    ['f16', kiln.randn([2, 3]).to('float16')],
    ['bf16', kiln.randn([7]).to('bfloat16')],
    ['i64', kiln.randint(-1000, 1000, [6])],
    ['i32', kiln.randint(-5, 5, [2, 2], { dtype: 'int32' })],
    ['u8', kiln.randint(0, 255, [9], { dtype: 'uint8' })],
    ['bool', kiln.randn([5]).gt(0)],
    ['view', kiln.randn([4, 6]).t().slice(0, 1, 5, 2)],
    ['scalar', kiln.tensor(3.5, { dtype: 'float32' })],
    ['empty', kiln.empty([0, 4])],
  ]);
  kiln.saveSync(src, file('all.safetensors'));
  const a = kiln.loadSync(file('all.safetensors'));
  await kiln.save(src, file('all-async.safetensors'));
  const b = await kiln.load(file('all-async.safetensors'));
  assert.equal(fs.readFileSync(file('all.safetensors')), fs.readFileSync(file('all-async.safetensors')));
  for (const [k, t] of src) {
    for (const got of [a.get(k)!, b.get(k)!]) {
      assert.is(got.dtype, t.dtype, k);
      assert.equal(got.shape, t.shape, k);
      assert.equal(got.toArray(), t.toArray(), k);
    }
  }
  const model = new kiln.nn.Sequential(new kiln.nn.Linear(3, 4), new kiln.nn.ReLU(), new kiln.nn.Linear(4, 2));
  await kiln.save(model.stateDict(), file('model.safetensors'));
  const fresh = new kiln.nn.Sequential(new kiln.nn.Linear(3, 4), new kiln.nn.ReLU(), new kiln.nn.Linear(4, 2));
  fresh.loadStateDict(await kiln.load(file('model.safetensors')));
  const x = kiln.randn([2, 3]);
  assert.equal((fresh.forward(x) as kiln.Tensor).toArray(), (model.forward(x) as kiln.Tensor).toArray());
});

test('malformed files and bad inputs are refused', () => {
  const refuse = (bytes: Buffer, why: RegExp) => {
    fs.writeFileSync(file('bad.safetensors'), bytes);
    assert.throws(
      () => kiln.loadSync(file('bad.safetensors')),
      (e: kiln.KilnError) => e.code === 'ERR_ARG' && why.test(e.message),
      String(why),
    );
  };
  const good = specFile();
  refuse(good.subarray(0, 5), /only 5 bytes/);
  refuse(good.subarray(0, good.length - 1), /data section/);
  const withLen = (json: string, data = Buffer.alloc(0)) => {
    const l = Buffer.alloc(8);
    l.writeBigUInt64LE(BigInt(json.length));
    return Buffer.concat([l, Buffer.from(json), data]);
  };
  refuse(withLen('{"a": '), /not JSON/);
  refuse(withLen('{"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}', Buffer.alloc(8)), /dtype "C64"/);
  refuse(withLen('{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}', Buffer.alloc(8)), /needs 12 bytes/);
  refuse(
    withLen(
      '{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}',
      Buffer.alloc(12),
    ),
    /a hole or an overlap/,
  );
  const big = Buffer.alloc(8);
  big.writeBigUInt64LE(2n ** 40n);
  refuse(Buffer.concat([big, Buffer.alloc(16)]), /header length/);
  assert.throws(
    () => kiln.saveSync({ __metadata__: kiln.zeros([1]) }, file('x.safetensors')),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
  assert.throws(
    () => kiln.saveSync({ a: 1 as never }, file('x.safetensors')),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
});

// PyTorch 1.13 has no safetensors module: this reads and writes the format by hand with
// torch.frombuffer, independently of kiln's code.
const PY_RW = `
import json, struct, sys, torch
DT = {'F32': torch.float32, 'F64': torch.float64, 'F16': torch.float16, 'BF16': torch.bfloat16,
      'I64': torch.int64, 'I32': torch.int32, 'U8': torch.uint8, 'BOOL': torch.bool}
def read(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); out = {}
    for k, v in h.items():
        if k == '__metadata__': continue
        s, e = v['data_offsets']; raw = bytearray(b[8 + n + s:8 + n + e])
        t = torch.frombuffer(raw, dtype=DT[v['dtype']]) if raw else torch.empty(0, dtype=DT[v['dtype']])
        out[k] = t.reshape(v['shape'])
    return out
def write(p, ts):
    inv = {v: k for k, v in DT.items()}; h = {}; off = 0; blobs = []
    for k, t in ts.items():
        raw = t.contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b''
        h[k] = {'dtype': inv[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(raw)]}
        off += len(raw); blobs.append(raw)
    j = json.dumps(h).encode(); j += b' ' * (-len(j) % 8)
    open(p, 'wb').write(struct.pack('<Q', len(j)) + j + b''.join(blobs))
ts = read(sys.argv[1])
ts = {k: (t * 2 if t.dtype.is_floating_point else t) for k, t in ts.items()}
ts['from_torch'] = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 7
write(sys.argv[2], ts)
print(json.dumps({k: t.float().tolist() for k, t in ts.items()}))
`;

test(`PyTorch interop${torchSuffix}`, () => {
  if (skipWithoutTorch('safetensors PyTorch round trip')) return;
  kiln.manualSeed(6);
  const src = {
    w: kiln.randn([3, 4]),
    h: kiln.randn([5]).to('float16'),
    b: kiln.randn([2, 2]).to('bfloat16'),
    d: kiln.randn([3], { dtype: 'float64' }),
    i: kiln.randint(-9, 9, [4]),
    m: kiln.randn([4]).gt(0),
  };
  kiln.saveSync(src, file('to-torch.safetensors'));
  const r = spawnSync(PY, ['-c', PY_RW, file('to-torch.safetensors'), file('from-torch.safetensors')], {
    encoding: 'utf8',
  });
  assert.is(r.status, 0, r.stderr);
  const seen = JSON.parse(r.stdout) as Record<string, unknown>;
  const back = kiln.loadSync(file('from-torch.safetensors'));
  for (const [k, t] of Object.entries(src)) {
    const doubled = t.dtype === 'bool' || t.dtype === 'int64' ? t : t.mul(2);
    assert.equal(back.get(k)!.toArray(), doubled.toArray(), `${k} after PyTorch`);
    assert.equal(
      seen[k],
      (doubled.dtype === 'bool' ? doubled.to('float32') : doubled.to('float32')).toArray(),
      `${k} as PyTorch saw it`,
    );
  }
  assert.equal(
    back.get('from_torch')!.toArray(),
    kiln.arange(0, 6, 1, { dtype: 'float32' }).reshape([2, 3]).div(7).toArray(),
  );
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test.run();
