/**
 * float64 references of the gamma-function rows (lgamma, digamma, trigamma) for the op table.
 * lgamma is Lanczos' approximation (g = 7, 9 terms, ~1e-15 relative) with the reflection formula
 * below 1/2, so it is independent of the C library's; digamma and trigamma use the recurrence and
 * asymptotic series of the kernels (scalar_math.h), with reflection below 0.
 */
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

export function lgammaRef(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x <= 0 && Number.isInteger(x)) return Infinity;
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgammaRef(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

export function digammaRef(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === 0) return -Infinity;
  let acc = 0;
  if (x < 0) {
    if (Number.isInteger(x)) return NaN;
    acc = -Math.PI / Math.tan(Math.PI * (x - Math.floor(x)));
    x = 1 - x;
  }
  for (; x < 10; x += 1) acc -= 1 / x;
  const z = 1 / (x * x);
  const series = z * (1 / 12 - z * (1 / 120 - z * (1 / 252 - z * (1 / 240 - z * (1 / 132 - z * (691 / 32760))))));
  return acc + Math.log(x) - 0.5 / x - series;
}

export function trigammaRef(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x <= 0 && Number.isInteger(x)) return Infinity;
  let acc = 0,
    sign = 1;
  if (x < 0) {
    const s = Math.sin(Math.PI * (x - Math.floor(x)));
    acc = (Math.PI * Math.PI) / (s * s);
    sign = -1;
    x = 1 - x;
  }
  let r = 0;
  for (; x < 10; x += 1) r += 1 / (x * x);
  const z = 1 / (x * x);
  const series =
    1 / x +
    z / 2 +
    (z / x) * (1 / 6 - z * (1 / 30 - z * (1 / 42 - z * (1 / 30 - z * (5 / 66 - z * (691 / 2730 - z * (7 / 6)))))));
  return acc + sign * (r + series);
}
