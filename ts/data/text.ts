/**
 * Text: normalisation, a vocabulary with special tokens and a frequency cut-off, and a tokenizer
 * in word, character or byte-pair-encoding mode (BPE merges learned from a corpus, SentencePiece
 * style: "▁" marks a word start, so decoding restores the spaces). encodeBatch pads or truncates to
 * int64 id tensors with attention masks. dedupe removes exact duplicates.
 */
import { KilnError } from '../errors';
import { tensor } from '../creation';
import type { Tensor } from '../tensor';

export const SPECIALS = { pad: '<pad>', unk: '<unk>', cls: '<cls>' } as const;
const WORD_START = '\u2581';

export interface NormalizeOptions {
  lowercase?: boolean;
  /** Drop combining accents after NFKD (café -> cafe). */
  stripAccents?: boolean;
}

/** Unicode NFKC (or NFKD without accents), lowercase, whitespace runs collapsed to one space, trimmed. */
export function normalize(text: string, o: NormalizeOptions = {}): string {
  let s = o.stripAccents ? text.normalize('NFKD').replace(/\p{M}+/gu, '') : text.normalize('NFKC');
  if (o.lowercase ?? true) s = s.toLowerCase();
  return s.replace(/\s+/gu, ' ').trim();
}

/** Words and single punctuation marks. */
export const splitWords = (s: string): string[] => s.match(/[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu) ?? [];

/** BPE units: words and marks, "▁"-prefixed where a space preceded them, so decoding is lossless. */
function units(s: string): string[] {
  const out: string[] = [];
  for (const chunk of s.split(' ')) splitWords(chunk).forEach((w, i) => out.push(i === 0 ? WORD_START + w : w));
  return out;
}

/** A unit's starting symbols: characters, with the "▁" glued to the first. */
function chars(unit: string): string[] {
  const c = [...unit];
  if (c[0] === WORD_START && c.length > 1) c.splice(0, 2, WORD_START + c[1]);
  return c;
}

/** Texts with exact duplicates removed (the first of each kept, order preserved). */
export function dedupe(texts: readonly string[]): string[] {
  const seen = new Set<string>();
  return texts.filter((t) => (seen.has(t) ? false : (seen.add(t), true)));
}

/** Tokens and their ids; ids 0, 1, 2 are <pad>, <unk>, <cls>. */
export class Vocab {
  readonly itos: string[];
  private readonly stoi: Map<string, number>;
  constructor(tokens: Iterable<string>) {
    this.itos = [SPECIALS.pad, SPECIALS.unk, SPECIALS.cls];
    for (const t of tokens) if (!this.itos.includes(t)) this.itos.push(t);
    this.stoi = new Map(this.itos.map((t, i) => [t, i]));
  }
  /** Tokens seen at least minFreq times, most frequent first (ties by first appearance), at most maxSize in all. */
  static fromCounts(counts: Map<string, number>, o: { minFreq?: number; maxSize?: number } = {}): Vocab {
    const min = o.minFreq ?? 1;
    const kept = [...counts].filter(([, c]) => c >= min).sort((a, b) => b[1] - a[1]);
    const room = o.maxSize !== undefined ? Math.max(0, o.maxSize - 3) : kept.length;
    return new Vocab(kept.slice(0, room).map(([t]) => t));
  }
  get size(): number {
    return this.itos.length;
  }
  get padId(): number {
    return 0;
  }
  get unkId(): number {
    return 1;
  }
  get clsId(): number {
    return 2;
  }
  id(token: string): number {
    return this.stoi.get(token) ?? 1;
  }
  has(token: string): boolean {
    return this.stoi.has(token);
  }
  token(id: number): string {
    return this.itos[id] ?? SPECIALS.unk;
  }
}

export type TokenizerMode = 'word' | 'char' | 'bpe';

export interface TrainOptions extends NormalizeOptions {
  mode?: TokenizerMode;
  /** Target vocabulary size including specials (bpe: merges stop there; word/char: the cut). */
  vocabSize?: number;
  minFreq?: number;
}

export interface EncodeOptions {
  maxLength?: number;
  /** 'longest' pads a batch to its longest row, 'max_length' to maxLength, false not at all. */
  padding?: 'longest' | 'max_length' | false;
  truncation?: boolean;
  /** Prepend <cls> (for pooling on the first position). */
  addCls?: boolean;
}

/** A tokenizer trained on a corpus: normalise, split, map to ids; and back. */
export class Tokenizer {
  private cache = new Map<string, string[]>();
  private constructor(
    readonly mode: TokenizerMode,
    readonly vocab: Vocab,
    readonly norm: NormalizeOptions,
    /** BPE merges in learned order ("a b" means a + b). */
    readonly merges: string[] = [],
  ) {}
  private get ranks(): Map<string, number> {
    const r = new Map(this.merges.map((m, i) => [m, i]));
    Object.defineProperty(this, 'ranks', { value: r });
    return r;
  }

  static train(texts: Iterable<string>, o: TrainOptions = {}): Tokenizer {
    const mode = o.mode ?? 'word';
    const norm = { lowercase: o.lowercase ?? true, stripAccents: o.stripAccents ?? false };
    const counts = new Map<string, number>();
    const bump = (k: string, n = 1) => counts.set(k, (counts.get(k) ?? 0) + n);
    for (const t of texts) {
      const s = normalize(t, norm);
      if (mode === 'char') for (const ch of s) bump(ch);
      else for (const w of mode === 'bpe' ? units(s) : splitWords(s)) bump(w);
    }
    if (mode !== 'bpe')
      return new Tokenizer(mode, Vocab.fromCounts(counts, { minFreq: o.minFreq, maxSize: o.vocabSize }), norm);
    return Tokenizer.trainBpe(counts, o.vocabSize ?? 8000, o.minFreq ?? 2, norm);
  }

  /** Sennrich's byte-pair encoding with incremental pair counts. */
  private static trainBpe(
    wordCounts: Map<string, number>,
    vocabSize: number,
    minFreq: number,
    norm: NormalizeOptions,
  ): Tokenizer {
    const words: string[][] = [],
      freq: number[] = [];
    const symbols = new Map<string, number>();
    for (const [w, c] of wordCounts) {
      const cs = chars(w);
      words.push(cs);
      freq.push(c);
      for (const ch of cs) symbols.set(ch, (symbols.get(ch) ?? 0) + c);
    }
    const alphabet = [...symbols]
      .filter(([, c]) => c >= minFreq)
      .sort((a, b) => b[1] - a[1])
      .map(([s]) => s);
    const pairCount = new Map<string, number>(),
      where = new Map<string, Set<number>>();
    const addPairs = (wi: number, sign: number) => {
      const w = words[wi];
      for (let i = 0; i + 1 < w.length; i++) {
        const key = `${w[i]} ${w[i + 1]}`;
        const c = (pairCount.get(key) ?? 0) + sign * freq[wi];
        if (c > 0) pairCount.set(key, c);
        else pairCount.delete(key);
        if (sign > 0) (where.get(key) ?? where.set(key, new Set()).get(key)!).add(wi);
      }
    };
    words.forEach((_, wi) => addPairs(wi, 1));
    const merges: string[] = [];
    const target = vocabSize - 3 - alphabet.length;
    while (merges.length < target) {
      let best = '',
        bestCount = minFreq - 1;
      for (const [k, c] of pairCount)
        if (c > bestCount || (c === bestCount && c >= minFreq && k < best)) ((best = k), (bestCount = c));
      if (!best || bestCount < minFreq) break;
      merges.push(best);
      const [a, b] = best.split(' ');
      for (const wi of where.get(best) ?? []) {
        const w = words[wi];
        addPairs(wi, -1);
        const merged: string[] = [];
        for (let i = 0; i < w.length; i++)
          if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
            merged.push(a + b);
            i++;
          } else merged.push(w[i]);
        words[wi] = merged;
        addPairs(wi, 1);
      }
      where.delete(best);
      pairCount.delete(best);
    }
    const vocab = new Vocab([...alphabet, ...merges.map((m) => m.replace(' ', ''))]);
    return new Tokenizer('bpe', vocab, norm, merges);
  }

  /** A unit's BPE pieces: merge the lowest-ranked adjacent pair until none applies. */
  private bpe(word: string): string[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    const s = chars(word);
    const ranks = this.ranks;
    for (;;) {
      let best = -1,
        rank = Infinity;
      for (let i = 0; i + 1 < s.length; i++) {
        const r = ranks.get(`${s[i]} ${s[i + 1]}`);
        if (r !== undefined && r < rank) ((rank = r), (best = i));
      }
      if (best < 0) break;
      s.splice(best, 2, s[best] + s[best + 1]);
    }
    if (this.cache.size < 100000) this.cache.set(word, s);
    return s;
  }

  /** Tokens of a text (after normalisation). */
  tokenize(text: string): string[] {
    const s = normalize(text, this.norm);
    if (this.mode === 'char') return [...s];
    return this.mode === 'word' ? splitWords(s) : units(s).flatMap((w) => this.bpe(w));
  }

  /** Ids of a text, truncated to maxLength when truncation is on. */
  encode(text: string, o: EncodeOptions = {}): number[] {
    const ids = this.tokenize(text).map((t) => this.vocab.id(t));
    if (o.addCls) ids.unshift(this.vocab.clsId);
    if (o.truncation && o.maxLength !== undefined && ids.length > o.maxLength) ids.length = o.maxLength;
    return ids;
  }

  /** [B, L] int64 ids and a [B, L] bool attention mask (true on real tokens). */
  encodeBatch(texts: readonly string[], o: EncodeOptions = {}): { inputIds: Tensor; attentionMask: Tensor } {
    const rows = texts.map((t) => this.encode(t, { truncation: true, ...o }));
    const padding = o.padding ?? 'longest';
    if (padding === false && rows.some((r) => r.length !== rows[0].length))
      throw new KilnError('ERR_SHAPE', 'encodeBatch: rows differ in length; use padding');
    const L = padding === 'max_length' ? (o.maxLength ?? 0) : Math.max(0, ...rows.map((r) => r.length));
    if (padding === 'max_length' && o.maxLength === undefined)
      throw new KilnError('ERR_ARG', "encodeBatch: padding 'max_length' needs maxLength");
    const ids = rows.map((r) => [...r.slice(0, L), ...new Array<number>(Math.max(0, L - r.length)).fill(0)]);
    const mask = rows.map((r) => Array.from({ length: L }, (_, i) => i < r.length));
    return {
      inputIds: tensor(ids.length ? ids : [[]], { dtype: 'int64' }).reshape([rows.length, L]),
      attentionMask: tensor(mask.length ? mask : [[]]).reshape([rows.length, L]),
    };
  }

  /** Text from ids: specials dropped; BPE pieces joined with spaces at word starts. */
  decode(ids: readonly number[] | Tensor): string {
    const list = Array.isArray(ids) ? ids : ((ids as Tensor).reshape([-1]).toArray() as number[]);
    const toks = list.filter((i) => i > 2).map((i) => this.vocab.token(i));
    if (this.mode === 'char') return toks.join('');
    if (this.mode === 'word') return toks.join(' ');
    return toks.join('').replaceAll(WORD_START, ' ').trim();
  }

  toJSON(): { mode: TokenizerMode; vocab: string[]; merges: string[]; norm: NormalizeOptions } {
    return { mode: this.mode, vocab: this.vocab.itos.slice(3), merges: this.merges, norm: this.norm };
  }
  static fromJSON(j: { mode: TokenizerMode; vocab: string[]; merges?: string[]; norm?: NormalizeOptions }): Tokenizer {
    return new Tokenizer(j.mode, new Vocab(j.vocab), j.norm ?? {}, j.merges ?? []);
  }
}
