/**
 * torch.einsum: Einstein summation over labelled dims, written with differentiable ops. Each
 * operand first takes its diagonals (a label repeated in one term) and sums the labels nobody
 * else needs; then the operands are contracted left to right, each pair as one (batched) matmul
 * on the GEMM kernels (permute, reshape to [batch.., rows, k] @ [batch.., k, cols]), or a
 * broadcast multiply when the pair shares no summed label (outer and elementwise products).
 */
import { arange } from '../creation';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { shapeStr } from '../shape';
import type { Tensor } from '../tensor';
import { checkTensor } from './kinds';

/** A labelled operand: labels[i] names dim i (a letter, or '.k' for ellipsis dim k). */
interface Labelled {
  t: Tensor;
  labels: string[];
}

const isLetter = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

/** One term's letters, with the ellipsis as '...' (at most one), checking every character. */
function parseTerm(term: string, where: string, at: number): string[] {
  const out: string[] = [];
  let ellipsis = false;
  for (let i = 0; i < term.length; i++) {
    const c = term[i];
    if (c === '.') {
      if (term.slice(i, i + 3) !== '...')
        throw new KilnError('ERR_ARG', `einsum: a '.' in ${where} at index ${at + i} is not part of an ellipsis '...'`);
      if (ellipsis) throw new KilnError('ERR_ARG', `einsum: ${where} has more than one ellipsis '...'`);
      ellipsis = true;
      out.push('...');
      i += 2;
    } else if (isLetter(c)) out.push(c);
    else
      throw new KilnError(
        'ERR_ARG',
        `einsum: invalid subscript '${c}' at index ${at + i} of the equation; subscripts must be in [a-zA-Z]`,
      );
  }
  return out;
}

/** Moves x's dims to `order` (labels), permuting only when the order changes. */
function arrange(x: Labelled, order: string[]): Tensor {
  const p = order.map((l) => x.labels.indexOf(l));
  return p.every((d, i) => d === i) ? x.t : x.t.permute(p);
}

/** x with its labels not in `keep` summed away. */
function sumExcept(x: Labelled, keep: Set<string>): Labelled {
  const dims = x.labels.flatMap((l, i) => (keep.has(l) ? [] : [i]));
  if (dims.length === 0) return x;
  return { t: x.t.sum(dims), labels: x.labels.filter((l) => keep.has(l)) };
}

/** x with each repeated label reduced to its diagonal (one dim per label). */
function diagonals(x: Labelled): Labelled {
  for (;;) {
    const q = x.labels.findIndex((l, i) => x.labels.indexOf(l) !== i);
    if (q < 0) return x;
    const l = x.labels[q],
      p = x.labels.indexOf(l),
      n = x.t._shape[p];
    if (x.t._shape[q] !== n)
      throw new KilnError(
        'ERR_SHAPE',
        `einsum: subscript ${l} is repeated in one operand with sizes ${n} and ${x.t._shape[q]} (${shapeStr(x.t._shape)})`,
      );
    const rest = x.labels.filter((_, i) => i !== p && i !== q);
    // Both copies of l to the end, merged, and every (n + 1)-th element of the merged dim read.
    const perm = [...x.labels.keys()].filter((i) => i !== p && i !== q).concat([p, q]);
    const pt = x.t.permute(perm);
    const flat = pt.reshape([...pt._shape.slice(0, -2), n * n]);
    const idx = arange(0, n * n, n + 1, { dtype: 'int64', device: x.t.device });
    x = { t: flat.indexSelect(-1, idx), labels: [...rest, l] };
  }
}

/**
 * a and b contracted over the labels they share that `later` does not need; the result carries
 * the shared kept labels (batch), then a's own, then b's own.
 */
function contract(a: Labelled, b: Labelled, later: Set<string>): Labelled {
  const inB = new Set(b.labels),
    inA = new Set(a.labels);
  a = sumExcept(a, new Set([...a.labels].filter((l) => inB.has(l) || later.has(l))));
  b = sumExcept(b, new Set([...b.labels].filter((l) => inA.has(l) || later.has(l))));
  const batch = a.labels.filter((l) => inB.has(l) && later.has(l));
  const summed = a.labels.filter((l) => inB.has(l) && !later.has(l));
  const left = a.labels.filter((l) => !inB.has(l)),
    right = b.labels.filter((l) => !inA.has(l));
  const dimOf = (x: Labelled, l: string): number => x.t._shape[x.labels.indexOf(l)];
  // A summed label of size 1 on one side broadcasts: sum the other side first (keeping the dim).
  for (const l of summed) {
    const [na, nb] = [dimOf(a, l), dimOf(b, l)];
    if (na !== nb) {
      const x = na === 1 ? b : a;
      const s = x.t.sum(x.labels.indexOf(l), true);
      if (x === a) a = { t: s, labels: a.labels };
      else b = { t: s, labels: b.labels };
    }
  }
  const ones = (ls: string[]): number[] => ls.map(() => 1);
  const sizes = (x: Labelled, ls: string[]): number[] => ls.map((l) => dimOf(x, l));
  const prod = (s: number[]): number => s.reduce((u, v) => u * v, 1);
  const labels = [...batch, ...left, ...right];
  if (summed.length === 0) {
    const ta = arrange(a, [...batch, ...left]).reshape([...sizes(a, batch), ...sizes(a, left), ...ones(right)]);
    const tb = arrange(b, [...batch, ...right]).reshape([...sizes(b, batch), ...ones(left), ...sizes(b, right)]);
    return { t: ta.mul(tb), labels };
  }
  const k = prod(sizes(a, summed));
  const ta = arrange(a, [...batch, ...left, ...summed]).reshape([...sizes(a, batch), prod(sizes(a, left)), k]);
  const tb = arrange(b, [...batch, ...summed, ...right]).reshape([...sizes(b, batch), k, prod(sizes(b, right))]);
  const out = ta.matmul(tb);
  const bs = batch.map((l) => Math.max(dimOf(a, l), dimOf(b, l)));
  return { t: out.reshape([...bs, ...sizes(a, left), ...sizes(b, right)]), labels };
}

/**
 * torch.einsum: sums of products of the operands' elements over the labelled dims. `'ij,jk->ik'`
 * is a matmul; without '->' the output is the labels used once, in alphabetical order (after
 * the ellipsis dims). A label repeated in one operand takes its diagonal ('ii->i', 'ii->' is the
 * trace); '...' stands for broadcast leading dims; a size-1 dim broadcasts against its label's size.
 * @example
 * const c = kiln.einsum('bij,bjk->bik', a, b); // batched matmul
 */
export function einsum(equation: string, ...operands: (Tensor | Tensor[])[]): Tensor {
  const ops = (operands.length === 1 && Array.isArray(operands[0]) ? operands[0] : operands) as Tensor[];
  if (typeof equation !== 'string')
    throw new KilnError('ERR_ARG', `einsum: the equation must be a string, got ${typeof equation}`);
  ops.forEach((t, i) => checkTensor(t, 'einsum', `operands[${i}]`));
  const eq = equation.replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  const lhs = arrow < 0 ? eq : eq.slice(0, arrow);
  const terms = lhs.split(',');
  let at = 0;
  const parsed = terms.map((t, i) => {
    const p = parseTerm(t, `operand ${i}'s subscripts`, at);
    at += t.length + 1;
    return p;
  });
  if (parsed.length !== ops.length)
    throw new KilnError(
      'ERR_ARG',
      `einsum: the equation '${equation}' names ${parsed.length} operand(s), ${ops.length} given`,
    );
  const outTerm = arrow < 0 ? null : parseTerm(eq.slice(arrow + 2), 'the output', arrow + 2);
  // The ellipsis dims, right-aligned across operands as in broadcasting.
  const nEll = Math.max(
    0,
    ...parsed.map((p, i) => {
      const letters = p.filter((l) => l !== '...').length;
      const nd = ops[i].ndim;
      if (p.includes('...') ? letters > nd : letters !== nd)
        throw new KilnError(
          'ERR_SHAPE',
          `einsum: operand ${i}'s subscripts '${terms[i]}' name ${letters} dims but it has ${nd} (${shapeStr(ops[i]._shape)})${p.includes('...') ? '' : ' and no ellipsis'}`,
        );
      return p.includes('...') ? nd - letters : 0;
    }),
  );
  const ell = (n: number): string[] => Array.from({ length: n }, (_, j) => `.${nEll - n + j}`);
  const labelled: Labelled[] = parsed.map((p, i) => ({
    t: ops[i],
    labels: p.flatMap((l) => (l === '...' ? ell(ops[i].ndim - (p.length - 1)) : [l])),
  }));
  // Each label's size: equal everywhere, or 1 (broadcast).
  const size = new Map<string, number>();
  labelled.forEach((x, i) =>
    x.labels.forEach((l, d) => {
      const n = x.t._shape[d],
        seen = size.get(l);
      if (seen === undefined || seen === 1) size.set(l, n);
      else if (n !== seen && n !== 1)
        throw new KilnError(
          'ERR_SHAPE',
          `einsum: subscript ${l.startsWith('.') ? '...' : l} has size ${n} in operand ${i} ${shapeStr(x.t._shape)}, which does not broadcast with size ${seen}`,
        );
    }),
  );
  let out: string[];
  if (outTerm) {
    outTerm.forEach((l, i) => {
      if (l !== '...' && !size.has(l))
        throw new KilnError('ERR_ARG', `einsum: output subscript ${l} does not appear in any operand`);
      if (outTerm.indexOf(l) !== i)
        throw new KilnError('ERR_ARG', `einsum: output subscript ${l} appears more than once`);
    });
    out = outTerm.flatMap((l) => (l === '...' ? ell(nEll) : [l]));
  } else {
    const count = new Map<string, number>();
    for (const p of parsed) for (const l of p) if (l !== '...') count.set(l, (count.get(l) ?? 0) + 1);
    const once = [...count].filter(([, c]) => c === 1).map(([l]) => l);
    out = [...ell(nEll), ...once.sort()];
  }
  return scope(() => {
    const outSet = new Set(out);
    let cur = diagonals(labelled[0]);
    for (let i = 1; i < labelled.length; i++) {
      const later = new Set(out);
      for (const x of labelled.slice(i + 1)) for (const l of x.labels) later.add(l);
      // Each step in its own scope, and the previous result freed: a chain keeps one pair's
      // intermediates alive at a time.
      const prev = cur;
      cur = scope(() => contract(prev, diagonals(labelled[i]), later));
      if (!ops.includes(prev.t)) prev.t.dispose();
    }
    cur = sumExcept(cur, outSet);
    const t = arrange(cur, out);
    // Never hand back an operand's own handle: disposing the result must not free the input.
    return ops.includes(t) ? t.reshape(t._shape.slice()) : t;
  });
}
