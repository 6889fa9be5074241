// The fingerprint scripts' hash: named results into one sha256 (and a short one per result, so a
// mismatch names its result), printed as the JSON line test/helpers/threads.ts reads.
import { createHash } from 'crypto';
import * as kiln from '../../ts/index';

export class ResultHash {
  private readonly h = createHash('sha256');
  private readonly parts: Record<string, string> = {};

  add(name: string, t: kiln.Tensor): void {
    const d = t.contiguous().data();
    const bytes = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    this.h.update(name);
    this.h.update(bytes);
    this.parts[name] = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
  }

  /** Every result of `results` as `${prefix} ${key}`. */
  addAll(prefix: string, results: Record<string, kiln.Tensor>): void {
    for (const [k, t] of Object.entries(results)) this.add(`${prefix} ${k}`, t);
  }

  print(extra: Record<string, unknown> = {}): void {
    console.log(
      JSON.stringify({ threads: kiln.info().numThreads, ...extra, hash: this.h.digest('hex'), parts: this.parts }),
    );
  }
}
