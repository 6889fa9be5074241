// The checks of conv2d_backward's fused paths (conv_depthwise_fused_cases.ts,
// conv_pointwise_fused_cases.ts): each wanted gradient returned and no other, dx and dw bit for bit
// the separate ops', db's worst error against float64 over its largest value, all into one hash.
import * as kiln from '../../ts/index';
import { conv2dBackward, conv2dBackwardInput, conv2dBackwardWeight, ConvGeometry } from '../../ts/ops/conv';
import { ResultHash } from './result_hash';

export interface FusedResults {
  dx: kiln.Tensor | null;
  dw: kiln.Tensor | null;
  db: kiln.Tensor | null;
  dxSep: kiln.Tensor;
  dwSep: kiln.Tensor;
  dbRef: kiln.Tensor;
}

/** conv2d_backward's gradients beside the separate ops' and a float64 grad bias. */
export function fusedAndSeparate(
  gy: kiln.Tensor,
  x: kiln.Tensor,
  w: kiln.Tensor,
  geo: ConvGeometry,
  want: boolean[],
): FusedResults {
  const [dx, dw, db] = conv2dBackward(gy, x, w, geo, want);
  return {
    dx,
    dw,
    db,
    dxSep: conv2dBackwardInput(gy, w, geo, [x.shape[2], x.shape[3]]),
    dwSep: conv2dBackwardWeight(x, gy, geo, [w.shape[2], w.shape[3]]),
    dbRef: gy.to('float64').sum([0, 2, 3]),
  };
}

const sameBits = (a: kiln.Tensor, b: kiln.Tensor): boolean =>
  Buffer.from((a.data() as Float32Array).buffer).equals(Buffer.from((b.data() as Float32Array).buffer));

export class FusedCheck {
  readonly bad: string[] = [];
  readonly hash = new ResultHash();
  worstDb = 0;
  at = '';
  cases = 0;

  /** One case's results (`dbKey`: db's name in the hash). */
  add(name: string, want: boolean[], r: FusedResults, dbKey = `${name} db`): void {
    this.cases++;
    for (const [k, t] of [
      ['dx', r.dx],
      ['dw', r.dw],
      ['db', r.db],
    ] as const)
      if ((t !== null) !== want[['dx', 'dw', 'db'].indexOf(k)]) this.bad.push(`${name} ${k}: returned ${t !== null}`);
    if (r.dx) {
      if (!sameBits(r.dx, r.dxSep)) this.bad.push(`${name} dx`);
      this.hash.add(`${name} dx`, r.dx);
    }
    if (r.dw) {
      if (!sameBits(r.dw, r.dwSep)) this.bad.push(`${name} dw`);
      this.hash.add(`${name} dw`, r.dw);
    }
    if (r.db) {
      const scale = Math.max(1, r.dbRef.abs().amax().item() as number);
      let err = (r.db.to('float64').sub(r.dbRef).abs().amax().item() as number) / scale;
      if (!(err <= 1e3)) err = 1e3;
      if (err > this.worstDb) ((this.worstDb = err), (this.at = name));
      this.hash.add(dbKey, r.db);
    }
  }

  /** `check`: the JSON line the tests read; else the hash (threads.ts). */
  print(): void {
    if (process.argv[2] === 'check')
      console.log(
        JSON.stringify({ isa: kiln.info().isa, cases: this.cases, bad: this.bad, worstDb: this.worstDb, at: this.at }),
      );
    else this.hash.print();
  }
}
