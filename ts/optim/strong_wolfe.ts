/**
 * The strong-Wolfe line search of LBFGS (torch.optim.lbfgs's _strong_wolfe and _cubic_interpolate).
 */
import { scope } from '../memory';
import type { Tensor } from '../tensor';

/** A one-element tensor's value, the tensor made in a scope. */
export const num = (f: () => Tensor): number => scope(() => Number(f().item()));

/** The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to bounds (torch's _cubic_interpolate). */
function cubicInterpolate(
  x1: number,
  f1: number,
  g1: number,
  x2: number,
  f2: number,
  g2: number,
  bounds?: [number, number],
): number {
  const [lo, hi] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const d2sq = d1 * d1 - g1 * g2;
  if (!(d2sq >= 0)) return (lo + hi) / 2;
  const d2 = Math.sqrt(d2sq);
  const m =
    x1 <= x2
      ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
      : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
  return Math.min(Math.max(m, lo), hi);
}

export type Eval = { f: number; g: Tensor };

/**
 * A step size along d satisfying the strong Wolfe conditions (torch's _strong_wolfe): bracketing,
 * then zoom by cubic interpolation. Runs inside the caller's scope; only the returned g survives it.
 */
export function strongWolfe(
  obj: (t: number) => Eval,
  t: number,
  d: Tensor,
  f: number,
  g0: Tensor,
  gtd: number,
  toleranceChange: number,
  c1 = 1e-4,
  c2 = 0.9,
  maxLs = 25,
): { f: number; g: Tensor; t: number; evals: number } {
  const dNorm = num(() => d.abs().max());
  const g = g0.clone();
  let { f: fNew, g: gNew } = obj(t);
  let evals = 1;
  let gtdNew = num(() => gNew.dot(d));
  let tPrev = 0,
    fPrev = f,
    gPrev = g,
    gtdPrev = gtd;
  let done = false;
  let lsIter = 0;
  let bracket: number[] = [],
    bracketF: number[] = [],
    bracketG: Tensor[] = [],
    bracketGtd: number[] = [];
  while (lsIter < maxLs) {
    if (fNew > f + c1 * t * gtd || (lsIter > 1 && fNew >= fPrev)) {
      [bracket, bracketF, bracketG, bracketGtd] = [
        [tPrev, t],
        [fPrev, fNew],
        [gPrev, gNew],
        [gtdPrev, gtdNew],
      ];
      break;
    }
    if (Math.abs(gtdNew) <= -c2 * gtd) {
      [bracket, bracketF, bracketG] = [[t], [fNew], [gNew]];
      done = true;
      break;
    }
    if (gtdNew >= 0) {
      [bracket, bracketF, bracketG, bracketGtd] = [
        [tPrev, t],
        [fPrev, fNew],
        [gPrev, gNew],
        [gtdPrev, gtdNew],
      ];
      break;
    }
    // Extrapolate.
    const tmp = t;
    t = cubicInterpolate(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, [t + 0.01 * (t - tPrev), t * 10]);
    [tPrev, fPrev, gPrev, gtdPrev] = [tmp, fNew, gNew, gtdNew];
    ({ f: fNew, g: gNew } = obj(t));
    evals += 1;
    gtdNew = num(() => gNew.dot(d));
    lsIter += 1;
  }
  if (lsIter === maxLs)
    [bracket, bracketF, bracketG] = [
      [0, t],
      [f, fNew],
      [g, gNew],
    ];

  // Zoom until the point satisfies the conditions or the bracket is too small.
  let insufProgress = false;
  let [low, high] = bracketF[0] <= bracketF[bracketF.length - 1] ? [0, 1] : [1, 0];
  while (!done && lsIter < maxLs) {
    if (Math.abs(bracket[1] - bracket[0]) * dNorm < toleranceChange) break;
    t = cubicInterpolate(bracket[0], bracketF[0], bracketGtd[0], bracket[1], bracketF[1], bracketGtd[1]);
    // Keep away from the bracket's ends unless progress stalls (torch's safeguard).
    const bMax = Math.max(...bracket),
      bMin = Math.min(...bracket);
    const eps = 0.1 * (bMax - bMin);
    if (Math.min(bMax - t, t - bMin) < eps) {
      if (insufProgress || t >= bMax || t <= bMin) {
        t = Math.abs(t - bMax) < Math.abs(t - bMin) ? bMax - eps : bMin + eps;
        insufProgress = false;
      } else insufProgress = true;
    } else insufProgress = false;
    ({ f: fNew, g: gNew } = obj(t));
    evals += 1;
    gtdNew = num(() => gNew.dot(d));
    lsIter += 1;
    if (fNew > f + c1 * t * gtd || fNew >= bracketF[low]) {
      [bracket[high], bracketF[high], bracketG[high], bracketGtd[high]] = [t, fNew, gNew, gtdNew];
      [low, high] = bracketF[0] <= bracketF[1] ? [0, 1] : [1, 0];
    } else {
      if (Math.abs(gtdNew) <= -c2 * gtd) done = true;
      else if (gtdNew * (bracket[high] - bracket[low]) >= 0) {
        [bracket[high], bracketF[high], bracketG[high], bracketGtd[high]] = [
          bracket[low],
          bracketF[low],
          bracketG[low],
          bracketGtd[low],
        ];
      }
      [bracket[low], bracketF[low], bracketG[low], bracketGtd[low]] = [t, fNew, gNew, gtdNew];
    }
  }
  return { f: bracketF[low], g: bracketG[low], t: bracket[low], evals };
}
