// Tokenizers: normalisation, vocabulary cut-offs, word/char/BPE round trips, learned merges,
// padding/truncation with attention masks, duplicates, JSON round trip.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const { data } = kiln;
const corpus = [
  'The cat sat on the mat.',
  'The cat ate the rat!',
  'A rat sat on a hat; the hat sat still.',
  'Café  au   lait, s’il vous plaît.',
];

test('normalize and dedupe', () => {
  assert.is(data.normalize('  Hello\tWORLD \n '), 'hello world');
  assert.is(data.normalize('Café', { stripAccents: true }), 'cafe');
  assert.is(data.normalize('ﬁne', {}), 'fine', 'NFKC folds the ligature');
  assert.equal(data.dedupe(['a', 'b', 'a', 'c', 'b']), ['a', 'b', 'c']);
  assert.equal(data.splitWords('hi, there!'), ['hi', ',', 'there', '!']);
});

test('word and char modes: vocabulary cut-off, unknowns, round trips', () => {
  const w = data.Tokenizer.train(corpus, { mode: 'word', minFreq: 2 });
  assert.equal(w.vocab.itos.slice(0, 3), ['<pad>', '<unk>', '<cls>']);
  assert.ok(w.vocab.has('the') && w.vocab.has('sat') && !w.vocab.has('mat'));
  assert.is(w.vocab.itos[3], 'the', 'most frequent first');
  const ids = w.encode('The mat sat.');
  assert.equal(
    ids.map((i) => w.vocab.token(i)),
    ['the', '<unk>', 'sat', '.'],
  );
  assert.is(w.decode(w.encode('the cat sat on the hat .')), 'the cat sat on the hat .');
  const c = data.Tokenizer.train(corpus, { mode: 'char' });
  const s = 'the rat sat on a hat';
  assert.is(c.decode(c.encode(s)), s);
  const capped = data.Tokenizer.train(corpus, { mode: 'word', vocabSize: 6 });
  assert.is(capped.vocab.size, 6);
});

test('BPE: merges learned from the corpus, lossless round trips, unseen words split into pieces', () => {
  const big = Array.from({ length: 20 }, (_, i) => `${corpus[i % 3]} lower lowest newer newest wider widest ${i}`);
  const b = data.Tokenizer.train(big, { mode: 'bpe', vocabSize: 80, minFreq: 2 });
  assert.ok(b.merges.length > 10);
  assert.ok(b.vocab.size <= 80);
  for (const s of ['the cat sat on the mat.', 'lower newest widest', 'a rat sat on a hat; the hat sat still.'])
    assert.is(b.decode(b.encode(s)), s, s);
  const toks = b.tokenize('lowest');
  assert.ok(toks.length < 6, `lowest splits into merged pieces: ${toks}`);
  assert.ok(toks[0].startsWith('\u2581'));
  const unseen = b.tokenize('slowest');
  assert.ok(unseen.length > 1 && unseen.join('') === '\u2581slowest', unseen.join('|'));
  const again = data.Tokenizer.train(big, { mode: 'bpe', vocabSize: 80, minFreq: 2 });
  assert.equal(again.merges, b.merges, 'training is deterministic');
  const j = data.Tokenizer.fromJSON(JSON.parse(JSON.stringify(b)));
  assert.equal(j.encode('newer wider'), b.encode('newer wider'));
});

test('encodeBatch: padding, truncation, cls and attention masks', () => {
  const w = data.Tokenizer.train(corpus, { mode: 'word' });
  const { inputIds, attentionMask } = w.encodeBatch(['the cat', 'the cat sat on the mat'], {
    maxLength: 4,
    addCls: true,
  });
  assert.equal(inputIds.shape, [2, 4]);
  assert.is(inputIds.dtype, 'int64');
  const ids = inputIds.toArray() as number[][];
  assert.equal(ids[0][0], w.vocab.clsId);
  assert.equal(ids[0].slice(3), [0]);
  assert.equal(attentionMask.toArray(), [
    [true, true, true, false],
    [true, true, true, true],
  ]);
  const fixed = w.encodeBatch(['the'], { maxLength: 5, padding: 'max_length' });
  assert.equal(fixed.inputIds.shape, [1, 5]);
  assert.throws(
    () => w.encodeBatch(['the', 'the cat'], { padding: false }),
    (e: kiln.KilnError) => e.code === 'ERR_SHAPE',
  );
  assert.throws(
    () => w.encodeBatch(['the'], { padding: 'max_length' }),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
});

test.run();
