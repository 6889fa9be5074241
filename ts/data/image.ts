/**
 * Image transforms on [C, H, W] or [N, C, H, W] float tensors (torchvision.transforms): normalize,
 * random crop with zero padding, random horizontal flip. The random ones take a seeded Rng, so a
 * run is reproducible; in a batch each image draws its own crop and flip.
 */
import { arange } from '../creation';
import { KilnError } from '../errors';
import { pad } from '../ops/indexing';
import { stack } from '../ops/composite';
import { shapeStr } from '../shape';
import { tensor } from '../creation';
import type { Tensor } from '../tensor';
import { Rng } from './index';

const images = (op: string, x: Tensor): Tensor[] => {
  if (x.ndim === 3) return [x];
  if (x.ndim === 4) return Array.from({ length: x.shape[0] }, (_, i) => x.select(0, i));
  throw new KilnError('ERR_SHAPE', `${op}: expected [C, H, W] or [N, C, H, W], got ${shapeStr(x.shape)}`);
};
const back = (x: Tensor, out: Tensor[]): Tensor => (x.ndim === 3 ? out[0] : stack(out));

/** (x - mean[c]) / std[c] per channel. */
export function normalizeImage(x: Tensor, mean: number[], std: number[]): Tensor {
  const C = x.shape[x.ndim - 3];
  if (mean.length !== C || std.length !== C)
    throw new KilnError('ERR_SHAPE', `normalizeImage: ${C} channels but ${mean.length} means and ${std.length} stds`);
  if (std.some((s) => !(s > 0))) throw new KilnError('ERR_ARG', 'normalizeImage: std must be positive');
  const view = [C, 1, 1];
  return x.sub(tensor(mean, { dtype: x.dtype }).reshape(view)).div(tensor(std, { dtype: x.dtype }).reshape(view));
}

/** A random size x size crop after `padding` zeros on each side (RandomCrop). */
export function randomCrop(x: Tensor, size: number | [number, number], rng: Rng, padding = 0): Tensor {
  const [h, w] = Array.isArray(size) ? size : [size, size];
  return back(
    x,
    images('randomCrop', x).map((img) => {
      const p = padding > 0 ? pad(img, [padding, padding, padding, padding]) : img;
      const [, H, W] = p.shape;
      if (h > H || w > W) throw new KilnError('ERR_SHAPE', `randomCrop: ${h}x${w} does not fit ${H}x${W}`);
      const top = Math.floor(rng.next() * (H - h + 1)),
        left = Math.floor(rng.next() * (W - w + 1));
      return p.narrow(1, top, h).narrow(2, left, w);
    }),
  );
}

/** Mirrors each image left-right with probability p (RandomHorizontalFlip). */
export function randomHorizontalFlip(x: Tensor, rng: Rng, p = 0.5): Tensor {
  return back(
    x,
    images('randomHorizontalFlip', x).map((img) => {
      if (rng.next() >= p) return img;
      const W = img.shape[2];
      return img.indexSelect(2, arange(W - 1, -1, -1));
    }),
  );
}
