/**
 * Plain float64 references for the kiln.linalg rows (ts/linalg/rows.ts), one row-major n x n (or
 * m x n) matrix at a time as number[]: textbook loops, written for clarity, not speed.
 */

/** L with L Lᵀ = A from A's lower triangle; null when A is not positive definite. */
export function refCholesky(a: number[], n: number): number[] | null {
  const l = new Array<number>(n * n).fill(0);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let p = 0; p < j; p++) s -= l[i * n + p] * l[j * n + p];
      if (i === j) {
        if (!(s > 0)) return null;
        l[i * n + i] = Math.sqrt(s);
      } else l[i * n + j] = s / l[j * n + j];
    }
  return l;
}

/** Packed LU and 1-based pivots of P A = L U by partial pivoting (first largest |pivot|). */
export function refLu(a: number[], m: number, n: number): { lu: number[]; piv: number[] } {
  const lu = a.slice();
  const piv: number[] = [];
  for (let j = 0; j < Math.min(m, n); j++) {
    let p = j;
    for (let i = j + 1; i < m; i++) if (Math.abs(lu[i * n + j]) > Math.abs(lu[p * n + j])) p = i;
    piv.push(p + 1);
    for (let c = 0; c < n; c++) [lu[j * n + c], lu[p * n + c]] = [lu[p * n + c], lu[j * n + c]];
    const d = lu[j * n + j];
    if (d === 0) continue;
    for (let i = j + 1; i < m; i++) {
      const f = (lu[i * n + j] /= d);
      for (let c = j + 1; c < n; c++) lu[i * n + c] -= f * lu[j * n + c];
    }
  }
  return { lu, piv };
}

/** X [n, k] with op(A) X = B for triangular A [n, n] (op(A) = Aᵀ when trans). */
export function refTrsm(
  a: number[],
  b: number[],
  n: number,
  k: number,
  upper: boolean,
  trans: boolean,
  unit: boolean,
): number[] {
  const at = (i: number, p: number) => (trans ? a[p * n + i] : a[i * n + p]);
  const x = b.slice();
  const forward = upper === trans;
  for (let s = 0; s < n; s++) {
    const i = forward ? s : n - 1 - s;
    for (let c = 0; c < k; c++) {
      let v = x[i * k + c];
      if (forward) for (let p = 0; p < i; p++) v -= at(i, p) * x[p * k + c];
      else for (let p = i + 1; p < n; p++) v -= at(i, p) * x[p * k + c];
      x[i * k + c] = unit ? v : v / at(i, i);
    }
  }
  return x;
}

/** X with A X = B (Aᵀ X = B when trans) from refLu's factors. */
export function refLuSolve(lu: number[], piv: number[], b: number[], n: number, k: number, trans: boolean): number[] {
  const swap = (x: number[], i: number) => {
    const p = piv[i] - 1;
    for (let c = 0; c < k; c++) [x[i * k + c], x[p * k + c]] = [x[p * k + c], x[i * k + c]];
  };
  if (!trans) {
    const x = b.slice();
    for (let i = 0; i < n; i++) swap(x, i);
    return refTrsm(lu, refTrsm(lu, x, n, k, false, false, true), n, k, true, false, false);
  }
  const x = refTrsm(lu, refTrsm(lu, b, n, k, true, true, false), n, k, false, true, true);
  for (let i = n - 1; i >= 0; i--) swap(x, i);
  return x;
}

/** The eigenvalues of symmetric A (lower triangle), ascending, by cyclic Jacobi rotations. */
export function refEigvalsh(a: number[], n: number): number[] {
  const s = new Array<number>(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) s[i * n + j] = s[j * n + i] = a[i * n + j];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) off += s[i * n + j] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = s[p * n + q];
        if (apq === 0) continue;
        const theta = (s[q * n + q] - s[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1),
          sn = t * c;
        for (let k = 0; k < n; k++) {
          const akp = s[k * n + p],
            akq = s[k * n + q];
          s[k * n + p] = c * akp - sn * akq;
          s[k * n + q] = sn * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = s[p * n + k],
            aqk = s[q * n + k];
          s[p * n + k] = c * apk - sn * aqk;
          s[q * n + k] = sn * apk + c * aqk;
        }
      }
  }
  return Array.from({ length: n }, (_, i) => s[i * n + i]).sort((x, y) => x - y);
}

/** The singular values of A [m, n], descending: square roots of AᵀA's (or AAᵀ's) eigenvalues. */
export function refSvdvals(a: number[], m: number, n: number): number[] {
  const k = Math.min(m, n);
  const g = new Array<number>(k * k).fill(0);
  const len = Math.max(m, n);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++)
      for (let p = 0; p < len; p++) g[i * k + j] += m >= n ? a[p * n + i] * a[p * n + j] : a[i * n + p] * a[j * n + p];
  return refEigvalsh(g, k)
    .map((v) => Math.sqrt(Math.max(v, 0)))
    .reverse();
}

/** |R| of A = Q R (unique up to the signs of R's rows), by modified Gram-Schmidt on A's columns. */
export function refAbsR(a: number[], m: number, n: number): number[] {
  const k = Math.min(m, n);
  const q = a.slice();
  const r = new Array<number>(k * n).fill(0);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < Math.min(j, k); i++) {
      let d = 0;
      for (let p = 0; p < m; p++) d += q[p * n + i] * q[p * n + j];
      r[i * n + j] = d;
      for (let p = 0; p < m; p++) q[p * n + j] -= d * q[p * n + i];
    }
    if (j < k) {
      let nrm = 0;
      for (let p = 0; p < m; p++) nrm += q[p * n + j] ** 2;
      nrm = Math.sqrt(nrm);
      r[j * n + j] = nrm;
      for (let p = 0; p < m; p++) q[p * n + j] /= nrm;
    }
  }
  return r.map(Math.abs);
}
