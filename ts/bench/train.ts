/**
 * `train` bench: one training step (forward with the cross-entropy loss, backward, AdamW step,
 * zeroGrad) of two models, each step inside kiln.scope(), timed per phase:
 * - transformer: Embedding(8000, 128) + learned positions + TransformerEncoder (2 post-norm layers,
 *   4 heads, ff 512, ReLU, dropout 0, batch first) + mean over the sequence + Linear(128, 4);
 *   token batch [32, 128];
 * - cnn: conv 3->32 3x3 pad 1, ReLU, conv 32->64 3x3 pad 1, ReLU, max-pool 2, flatten,
 *   Linear(64*16*16, 10); image batch [64, 3, 32, 32].
 * Inputs and labels are random from a fixed seed. PyTorch CPU (Debian's python3-torch, when present)
 * runs the same model on the same thread count in a child process, with kiln's initial weights and
 * inputs handed over in a safetensors file: before timing, its first loss and gradient norm must
 * match kiln's. It is timed twice: glibc's malloc told to keep freed memory (its best here), and
 * with the default malloc. Both sides: warm-up steps, then the median of `reps` steps (kiln's in two
 * halves, before and after PyTorch's runs); kiln.memory() is printed before and after kiln's timed
 * steps, and the bench fails if it grew. `--quick`: tiny shapes, 2 steps, PyTorch still compared
 * when present.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as kiln from '../index';
import { BenchOptions, Measurement, Stats, addRatios, summarize } from './harness';
import { runTorch } from './torch_ref';

const { nn } = kiln;

/** The shapes of both models. */
export interface TrainShapes {
  transformer: {
    vocab: number;
    dModel: number;
    layers: number;
    heads: number;
    ff: number;
    seq: number;
    batch: number;
    classes: number;
  };
  cnn: { side: number; c1: number; c2: number; batch: number; classes: number };
}

/** The shapes. */
export const FULL: TrainShapes = {
  transformer: { vocab: 8000, dModel: 128, layers: 2, heads: 4, ff: 512, seq: 128, batch: 32, classes: 4 },
  cnn: { side: 32, c1: 32, c2: 64, batch: 64, classes: 10 },
};

/** Tiny shapes for a smoke test (seconds). */
export const TINY: TrainShapes = {
  transformer: { vocab: 50, dModel: 16, layers: 1, heads: 2, ff: 32, seq: 8, batch: 4, classes: 4 },
  cnn: { side: 8, c1: 4, c2: 8, batch: 4, classes: 10 },
};

const PHASES = ['step', 'forward', 'backward', 'optimizer'] as const;
type Phase = (typeof PHASES)[number];

/** Embedding + learned positions + TransformerEncoder + mean pooling + Linear (keys as the PyTorch twin's). */
class TransformerClassifier extends nn.Module {
  embed: kiln.nn.Embedding;
  pos: kiln.nn.LearnedPositionalEmbedding;
  encoder: kiln.nn.TransformerEncoder;
  head: kiln.nn.Linear;
  constructor(s: TrainShapes['transformer']) {
    super();
    this.embed = new nn.Embedding(s.vocab, s.dModel);
    this.pos = new nn.LearnedPositionalEmbedding(s.seq, s.dModel);
    const layer = new nn.TransformerEncoderLayer(s.dModel, s.heads, {
      dimFeedforward: s.ff,
      dropout: 0,
      batchFirst: true,
    });
    this.encoder = new nn.TransformerEncoder(layer, s.layers);
    // The encoder holds copies of its template layer; the template's own weights can go now.
    for (const t of layer.stateDict().values()) t.dispose();
    this.head = new nn.Linear(s.dModel, s.classes);
  }
  forward(ids: kiln.Tensor): kiln.Tensor {
    return this.head.forward(this.encoder.forward(this.pos.forward(this.embed.forward(ids))).mean(1));
  }
}

const cnn = (s: TrainShapes['cnn']): kiln.nn.Module =>
  new nn.Sequential(
    new nn.Conv2d(3, s.c1, 3, { padding: 1 }),
    new nn.ReLU(),
    new nn.Conv2d(s.c1, s.c2, 3, { padding: 1 }),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(s.c2 * (s.side / 2) ** 2, s.classes),
  );

// The same models in PyTorch, the weights and inputs read from kiln's safetensors file, then the
// same loop with each phase timed. argv: file, model, warm-up, reps, then the shapes.
const PY_TRAIN = `
import torch.nn as nn
file, which, warm, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
dims = [int(a) for a in sys.argv[5:]]
def load_safetensors(path):
    b = open(path, 'rb').read()
    n = int.from_bytes(b[:8], 'little')
    base, out = 8 + n, {}
    types = {'F32': torch.float32, 'I64': torch.int64}
    for k, v in json.loads(b[8:base]).items():
        if k == '__metadata__': continue
        s, e = v['data_offsets']
        out[k] = torch.frombuffer(bytearray(b[base + s:base + e]), dtype=types[v['dtype']]).reshape(v['shape'])
    return out
class Pos(nn.Module):
    def __init__(self, seq, d):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(seq, d))
class Transformer(nn.Module):
    def __init__(self, vocab, d, layers, heads, ff, seq, batch, classes):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = Pos(seq, d)
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, classes)
    def forward(self, ids):
        return self.head(self.encoder(self.embed(ids) + self.pos.weight[:ids.shape[1]]).mean(1))
def cnn(side, c1, c2, batch, classes):
    return nn.Sequential(nn.Conv2d(3, c1, 3, padding=1), nn.ReLU(), nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(c2 * (side // 2) ** 2, classes))
t = load_safetensors(file)
x, y = t.pop('input'), t.pop('target')
model = Transformer(*dims) if which == 'transformer' else cnn(*dims)
model.load_state_dict(t, strict=True)
model.train()
loss_fn = nn.CrossEntropyLoss()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
loss = loss_fn(model(x), y)
loss.backward()
check = dict(loss=loss.item(), grad_norm=torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters())).item())
opt.zero_grad(set_to_none=True)
ts = {k: [] for k in ('step', 'forward', 'backward', 'optimizer')}
for i in range(warm + reps):
    t0 = time.perf_counter()
    loss = loss_fn(model(x), y)
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    opt.step()
    opt.zero_grad(set_to_none=True)
    t3 = time.perf_counter()
    if i >= warm:
        for k, v in (('step', t3 - t0), ('forward', t1 - t0), ('backward', t2 - t1), ('optimizer', t3 - t2)):
            ts[k].append(v * 1e3)
for k, v in ts.items(): report(k, v, **check)
`;

interface Case {
  name: 'transformer' | 'cnn';
  model: kiln.nn.Module;
  input: kiln.Tensor;
  target: kiln.Tensor;
  /** Shape of the record (the batch). */
  shape: number[];
  /** The shapes handed to the PyTorch script. */
  dims: number[];
  what: string;
}

function makeCase(name: Case['name'], s: TrainShapes): Case {
  kiln.manualSeed(0);
  if (name === 'transformer') {
    const t = s.transformer;
    return {
      name,
      model: new TransformerClassifier(t),
      input: kiln.randint(0, t.vocab, [t.batch, t.seq]),
      target: kiln.randint(0, t.classes, [t.batch]),
      shape: [t.batch, t.seq],
      dims: [t.vocab, t.dModel, t.layers, t.heads, t.ff, t.seq, t.batch, t.classes],
      what: `vocab ${t.vocab}, d ${t.dModel}, ${t.layers} layers, ${t.heads} heads, ff ${t.ff}, ReLU, dropout 0, post-norm`,
    };
  }
  const c = s.cnn;
  return {
    name,
    model: cnn(c),
    input: kiln.randn([c.batch, 3, c.side, c.side]),
    target: kiln.randint(0, c.classes, [c.batch]),
    shape: [c.batch, 3, c.side, c.side],
    dims: [c.side, c.c1, c.c2, c.batch, c.classes],
    what: `conv 3->${c.c1}->${c.c2} 3x3, ReLU, max-pool 2, linear ${c.c2 * (c.side / 2) ** 2}->${c.classes}`,
  };
}

const ms = (t0: bigint, t1: bigint): number => Number(t1 - t0) / 1e6;
const memLine = (m: kiln.MemoryInfo): string =>
  `${m.numTensors} tensors, ${(m.numBytes / 2 ** 20).toFixed(2)} MiB live, ${(m.cpu.allocatedBytes / 2 ** 20).toFixed(2)} MiB allocated`;

/** The first loss and gradient norm of a case (no optimizer step: the weights stay as PyTorch gets them). */
function firstLoss(c: Case): { loss: number; gradNorm: number } {
  return kiln.scope(() => {
    const loss = nn.functional.crossEntropy(c.model.forward(c.input) as kiln.Tensor, c.target);
    loss.backward();
    let sq = 0;
    for (const p of c.model.parameters()) sq += p.grad!.to('float64').square().sum().item() as number;
    for (const p of c.model.parameters()) {
      p.grad!.dispose();
      p.grad = null;
    }
    return { loss: loss.item() as number, gradNorm: Math.sqrt(sq) };
  });
}

/** kiln's side of a case: its AdamW optimizer and the per-phase times of the timed steps so far. */
class KilnSteps {
  private readonly opt: kiln.optim.AdamW;
  private readonly times: Record<Phase, number[]> = { step: [], forward: [], backward: [], optimizer: [] };
  private before: kiln.MemoryInfo | null = null;
  constructor(private readonly c: Case) {
    this.opt = new kiln.optim.AdamW(c.model.parameters(), { lr: 1e-3, weightDecay: 0.01 });
  }
  /** `n` training steps, each inside its own kiln.scope(); `timed: false` for warm-up steps. */
  run(n: number, timed: boolean): void {
    if (timed && !this.before) this.before = kiln.memory();
    for (let i = 0; i < n; i++)
      kiln.scope(() => {
        const t0 = process.hrtime.bigint();
        const loss = nn.functional.crossEntropy(this.c.model.forward(this.c.input) as kiln.Tensor, this.c.target);
        const t1 = process.hrtime.bigint();
        loss.backward();
        const t2 = process.hrtime.bigint();
        this.opt.step();
        this.opt.zeroGrad();
        const t3 = process.hrtime.bigint();
        if (!timed) return;
        this.times.step.push(ms(t0, t3));
        this.times.forward.push(ms(t0, t1));
        this.times.backward.push(ms(t1, t2));
        this.times.optimizer.push(ms(t2, t3));
      });
  }
  /** The per-phase stats and the memory line; throws when memory grew over the timed steps. */
  finish(): Record<Phase, Stats> & { memory: string } {
    const after = kiln.memory(),
      before = this.before!;
    const memory = `kiln.memory() ${memLine(before)} before the timed steps, ${memLine(after)} after`;
    if (after.numTensors > before.numTensors || after.numBytes > before.numBytes)
      throw new Error(`train ${this.c.name}: memory grew over the timed steps (${memory})`);
    this.opt.dispose();
    const stats = Object.fromEntries(PHASES.map((p) => [p, summarize(this.times[p], 1)])) as Record<Phase, Stats>;
    return { ...stats, memory };
  }
}

/** PyTorch's run of a case (the loss check and per-phase times), or why there is none. */
function timeTorch(
  c: Case,
  file: string,
  warm: number,
  reps: number,
  keepMemory: boolean,
): { version: string; phases: Record<Phase, Stats>; loss: number; gradNorm: number } | string {
  const r = runTorch(PY_TRAIN, [file, c.name, warm, reps, ...c.dims], { threads: kiln.info().numThreads, keepMemory });
  if (typeof r === 'string') return r;
  if (!r.results.step) return 'PyTorch skipped: its script reported nothing';
  const phases = Object.fromEntries(PHASES.map((p) => [p, r.results[p].stats])) as Record<Phase, Stats>;
  const { loss, grad_norm } = r.results.step.extra as { loss: number; grad_norm: number };
  return { version: r.version, phases, loss, gradNorm: grad_norm };
}

/** Runs the bench; `torch: false` leaves PyTorch out (the test). */
export function benchTrain(opts: BenchOptions, o: { shapes?: TrainShapes; torch?: boolean } = {}): Measurement[] {
  const quick = opts.quick ?? false;
  const shapes = o.shapes ?? (quick ? TINY : FULL);
  const warm = quick ? 1 : 3,
    reps = quick ? 2 : Math.max(5, opts.reps);
  const threads = kiln.info().numThreads;
  const log = (s: string): void => console.log(s);
  const out: Measurement[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-train-'));
  try {
    for (const name of ['transformer', 'cnn'] as const) {
      const c = makeCase(name, shapes);
      const rec = (phase: Phase, impl: string, stats: Stats, detail: string): Measurement => ({
        bench: 'train',
        name: `${name} ${phase}`,
        shape: c.shape,
        dtype: 'float32',
        impl,
        stats,
        unit: 'steps/s',
        value: 1000 / stats.medianMs,
        ratios: {},
        detail,
      });
      // Correctness first: PyTorch on the same weights and inputs must see the same loss and gradients.
      const first = firstLoss(c);
      const file = path.join(dir, `${name}.safetensors`);
      const torchRuns: { label: string; run: Exclude<ReturnType<typeof timeTorch>, string> }[] = [];
      if (o.torch !== false)
        kiln.saveSync(new Map([...c.model.stateDict(), ['input', c.input], ['target', c.target]]), file);
      // kiln's timed steps come in two halves, before and after PyTorch's, so drift hits both alike.
      const k = new KilnSteps(c);
      k.run(warm, false);
      k.run(Math.ceil(reps / 2), true);
      if (o.torch !== false)
        for (const keep of [true, false]) {
          const r = timeTorch(c, file, warm, reps, keep);
          if (typeof r === 'string') {
            console.error(`train ${name}: ${r}`);
            break;
          }
          const tol = (v: number): number => 2e-4 * (1 + Math.abs(v));
          if (Math.abs(r.loss - first.loss) > tol(r.loss) || Math.abs(r.gradNorm - first.gradNorm) > 1e-3 * r.gradNorm)
            throw new Error(
              `train ${name}: kiln and PyTorch disagree on the same weights: loss ${first.loss} vs ${r.loss}, gradient norm ${first.gradNorm} vs ${r.gradNorm}`,
            );
          torchRuns.push({ label: keep ? `PyTorch ${r.version} (malloc kept)` : `PyTorch ${r.version}`, run: r });
        }
      k.run(1, false);
      k.run(reps - Math.ceil(reps / 2), true);
      const kilnStats = k.finish();
      log(`train ${name}: ${kilnStats.memory}`);
      // Each phase's rows together: kiln, then the references.
      for (const p of PHASES) {
        const mine = rec(p, 'kiln', kilnStats[p], `${c.what}; ${threads} threads; ${kilnStats.memory}`);
        const refs: Record<string, Measurement> = {};
        for (const t of torchRuns)
          refs[t.label] = rec(
            p,
            t.label,
            t.run.phases[p],
            `${c.what}; torch.optim.AdamW; ${threads} threads; ${t.label.includes('kept') ? 'GLIBC_TUNABLES keeps freed memory' : "glibc's default malloc"}`,
          );
        addRatios([mine], refs);
        out.push(mine, ...Object.values(refs));
      }
      log(
        `train ${name}: first loss ${first.loss.toFixed(6)}, gradient norm ${first.gradNorm.toFixed(6)}${torchRuns.length ? ' (PyTorch agrees)' : ''}`,
      );
      for (const t of c.model.stateDict().values()) t.dispose();
      c.input.dispose();
      c.target.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
