/**
 * A line chart as a standalone SVG document (hand-written, no dependency), for bench results and
 * training curves a person opens in a browser: polylines with point markers (hover shows the value), an optional
 * log2 x axis, horizontal reference lines, axes with ticks and labels, a legend and a title.
 */

/** One polyline. `dashed` draws it dashed; `data` becomes data-* attributes on the polyline. */
export interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  points: [number, number][];
  data?: Record<string, string>;
}

/** A horizontal reference line across the plot (a peak, a bound), labelled at its right end. */
export interface RefLine {
  label: string;
  y: number;
  color: string;
}

export interface LineChart {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  /** Plot x on a log2 scale with a tick at each power of two. */
  xLog2?: boolean;
  series: Series[];
  refLines?: RefLine[];
  width?: number;
  height?: number;
}

/** Colors that stay apart for the usual handful of series (Tableau 10). */
export const PALETTE = ['#4e79a7', '#e15759', '#59a14f', '#f28e2b', '#b07aa1', '#76b7b2', '#edc948', '#9c755f'];

/** Text and attribute values escaped for XML. */
export const xmlEscape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const num = (x: number): string => String(Math.round(x * 10) / 10);

/** Tick values 0 .. >= max on a 1-2-5 step, about `count` of them. */
export function niceTicks(max: number, count = 6): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count,
    mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let i = 0; i * step < max + step * 1e-9 || ticks.length < 2; i++) ticks.push(i * step);
  if (ticks[ticks.length - 1] < max) ticks.push(ticks.length * step);
  return ticks;
}

const tickLabel = (v: number): string => (Math.abs(v) >= 1e4 ? v.toExponential(0) : String(+v.toPrecision(6)));

/** The chart as an SVG document (starts with `<svg`). */
export function lineChart(c: LineChart): string {
  const W = c.width ?? 960,
    H = c.height ?? 540;
  const left = 72,
    right = 250,
    top = c.subtitle ? 64 : 48,
    bottom = 56;
  const pw = W - left - right,
    ph = H - top - bottom;
  const xs = c.series.flatMap((s) => s.points.map((p) => p[0])).filter((x) => !c.xLog2 || x > 0);
  const ys = [...c.series.flatMap((s) => s.points.map((p) => p[1])), ...(c.refLines ?? []).map((r) => r.y)];
  const fx = (x: number): number => (c.xLog2 ? Math.log2(x) : x);
  let x0 = xs.length ? Math.min(...xs.map(fx)) : 0,
    x1 = xs.length ? Math.max(...xs.map(fx)) : 1;
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  const pad = (x1 - x0) * 0.04; // end points clear of the axes
  [x0, x1] = [x0 - pad, x1 + pad];
  const yTicks = niceTicks(Math.max(0, ...ys.filter(Number.isFinite)));
  const yMax = yTicks[yTicks.length - 1];
  const px = (x: number): number => left + ((fx(x) - x0) / (x1 - x0)) * pw;
  const py = (y: number): number => top + ph - (y / yMax) * ph;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${xmlEscape(c.title)}</text>`,
  );
  if (c.subtitle)
    out.push(`<text x="${W / 2}" y="42" text-anchor="middle" fill="#555">${xmlEscape(c.subtitle)}</text>`);

  // Grid and ticks.
  out.push('<g stroke="#ddd" stroke-width="1">');
  for (const t of yTicks) out.push(`<line x1="${left}" y1="${num(py(t))}" x2="${left + pw}" y2="${num(py(t))}"/>`);
  out.push('</g>', '<g fill="#333" text-anchor="end">');
  for (const t of yTicks) out.push(`<text x="${left - 6}" y="${num(py(t) + 4)}">${tickLabel(t)}</text>`);
  out.push('</g>');
  const xTicks: number[] = [];
  if (c.xLog2) for (let e = Math.ceil(x0); e <= Math.floor(x1); e++) xTicks.push(2 ** e);
  else for (const v of niceTicks(x1)) if (v >= x0) xTicks.push(v);
  out.push('<g fill="#333" text-anchor="middle">');
  for (const t of xTicks)
    out.push(
      `<line x1="${num(px(t))}" y1="${top + ph}" x2="${num(px(t))}" y2="${top + ph + 5}" stroke="#333"/>`,
      `<text x="${num(px(t))}" y="${top + ph + 19}">${tickLabel(t)}</text>`,
    );
  out.push('</g>');

  // Axes and their labels.
  out.push(
    `<path d="M${left},${top} V${top + ph} H${left + pw}" fill="none" stroke="#333"/>`,
    `<text x="${left + pw / 2}" y="${H - 14}" text-anchor="middle">${xmlEscape(c.xLabel)}</text>`,
    `<text transform="translate(18 ${top + ph / 2}) rotate(-90)" text-anchor="middle">${xmlEscape(c.yLabel)}</text>`,
  );

  // Reference lines, then the series over them.
  for (const r of c.refLines ?? []) {
    const y = num(py(r.y));
    out.push(
      `<line x1="${left}" y1="${y}" x2="${left + pw}" y2="${y}" stroke="${r.color}" stroke-dasharray="2 4" stroke-width="1.5"/>`,
      `<text x="${left + pw - 4}" y="${num(py(r.y) - 4)}" text-anchor="end" fill="${r.color}">${xmlEscape(r.label)}</text>`,
    );
  }
  for (const s of c.series) {
    const pts = s.points.filter((p) => !c.xLog2 || p[0] > 0).sort((a, b) => a[0] - b[0]);
    const data = Object.entries(s.data ?? {})
      .map(([k, v]) => ` data-${k}="${xmlEscape(v)}"`)
      .join('');
    out.push(
      `<polyline${data} fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="7 4"' : ''} points="${pts.map((p) => `${num(px(p[0]))},${num(py(p[1]))}`).join(' ')}"/>`,
    );
    for (const p of pts)
      out.push(
        `<circle cx="${num(px(p[0]))}" cy="${num(py(p[1]))}" r="3" fill="${s.color}"><title>${xmlEscape(`${s.label}: ${tickLabel(p[0])} -> ${p[1].toPrecision(4)}`)}</title></circle>`,
      );
  }

  // Legend.
  const lx = left + pw + 16;
  out.push(`<g transform="translate(${lx} ${top})">`);
  c.series.forEach((s, i) =>
    out.push(
      `<line x1="0" y1="${i * 20}" x2="24" y2="${i * 20}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="7 4"' : ''}/>`,
      `<text x="30" y="${i * 20 + 4}">${xmlEscape(s.label)}</text>`,
    ),
  );
  out.push('</g>', '</svg>');
  return `${out.join('\n')}\n`;
}
