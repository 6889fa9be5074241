/**
 * toString in PyTorch's style: `tensor([[1., 2.],\n        [3., 4.]])`, integer mode for
 * whole floats, 4 decimals, scientific notation for wide ranges, `...` past 1000 elements,
 * and dtype / requires_grad / grad_fn suffixes where PyTorch prints them.
 */
import { isFloating } from './dtype';
import type { Tensor } from './tensor';

const THRESHOLD = 1000,
  EDGE = 3,
  LINE = 80;

function floatFormatter(vals: number[]): (v: number) => string {
  const finite = vals.filter((v) => Number.isFinite(v));
  const fmtSpecial = (v: number) => (Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf');
  if (finite.length === 0) return (v) => fmtSpecial(v);
  const abs = finite.map(Math.abs);
  const nz = abs.filter((v) => v > 0);
  const maxA = Math.max(...abs),
    minA = nz.length ? Math.min(...nz) : 0;
  if (finite.every((v) => Number.isInteger(v)) && maxA < 1e8)
    return (v) => (Number.isFinite(v) ? `${v.toFixed(0)}.` : fmtSpecial(v));
  const sci = maxA >= 1e8 || (minA > 0 && (minA < 1e-4 || maxA / minA > 1000));
  if (sci)
    return (v) => {
      if (!Number.isFinite(v)) return fmtSpecial(v);
      const [m, e] = v.toExponential(4).split('e');
      const n = Number(e);
      return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
    };
  return (v) => (Number.isFinite(v) ? v.toFixed(4) : fmtSpecial(v));
}

/** Formats a tensor's values (shape, flat numbers) as PyTorch would, without the prefix. */
export function formatValues(shape: readonly number[], flat: number[], dtype: string, indent: number): string {
  const summarize = flat.length > THRESHOLD;
  const fmt =
    dtype === 'bool'
      ? (v: number) => (v ? 'True' : 'False')
      : isFloating(dtype as never)
        ? floatFormatter(flat)
        : (v: number) => String(v);
  const strs = flat.map(fmt);
  const width = Math.max(1, ...strs.map((s) => s.length));
  const pad = (s: string) => s.padStart(width);
  const strides: number[] = [];
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = acc;
    acc *= shape[d];
  }
  const rec = (d: number, off: number, ind: number): string => {
    const n = shape[d];
    const idx: (number | null)[] = [];
    if (summarize && n > 2 * EDGE) {
      for (let i = 0; i < EDGE; i++) idx.push(i);
      idx.push(null);
      for (let i = n - EDGE; i < n; i++) idx.push(i);
    } else for (let i = 0; i < n; i++) idx.push(i);
    if (d === shape.length - 1) {
      const items = idx.map((i) => (i === null ? ' ...' : pad(strs[off + i])));
      const perLine = Math.max(1, Math.floor((LINE - ind) / (width + 2)));
      const lines: string[] = [];
      for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(', '));
      return `[${lines.join(`,\n${' '.repeat(ind + 1)}`)}]`;
    }
    const sep = `,${'\n'.repeat(shape.length - 1 - d)}${' '.repeat(ind + 1)}`;
    return `[${idx.map((i) => (i === null ? '...' : rec(d + 1, off + i * strides[d], ind + 1))).join(sep)}]`;
  };
  if (shape.length === 0) return strs[0];
  if (flat.length === 0) return '[]';
  return rec(0, 0, indent);
}

export function formatTensor(t: Tensor): string {
  if (t._disposed) return `tensor(<disposed>, size=(${t._shape.join(', ')}), dtype=${t.dtype})`;
  const flat = t.numel() > THRESHOLD ? summaryValues(t) : t._numbers();
  const suffix: string[] = [];
  if (t.numel() === 0 && t.ndim > 1) suffix.push(`size=(${t._shape.join(', ')})`);
  const defaultDtype = t.dtype === 'float32' || t.dtype === 'int64' || t.dtype === 'bool';
  if (!defaultDtype) suffix.push(`dtype=torch.${t.dtype}`);
  if (t._gradFn) suffix.push(`grad_fn=<${pascal(t._gradFn.name)}Backward>`);
  else if (t._requiresGrad) suffix.push('requires_grad=True');
  const body = formatValues(t._shape, flat, t.dtype, 'tensor('.length);
  return `tensor(${body}${suffix.length ? `, ${suffix.join(', ')}` : ''})`;
}

/** For large tensors, the full value list is still needed for the edge rows; reading it is a copy. */
function summaryValues(t: Tensor): number[] {
  return t._numbers();
}

const pascal = (s: string) => s.replace(/(^|_)(\w)/g, (_, __, c: string) => c.toUpperCase());
