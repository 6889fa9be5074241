/**
 * Dropout as one native pass (native/cpu/dropout.cpp): y = x * mask / (1 - p) with the mask drawn
 * from Philox(seed, offset, element index). The mask is never stored: the backward pass runs the
 * same kernel on the gradient with the (seed, offset) saved in the autograd closure.
 */
import { record } from '../autograd/node';
import { fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { DType, FLOAT_DTYPES, isFloating, roundTo } from '../dtype';
import { KilnError } from '../errors';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { checkTensor } from './kinds';
import { OP } from './op_ids.gen';
import { Generator, defaultGenerator } from './random';
import type { Case, OpRow } from './row';
import { LAYOUTS, makeInput, randShape } from './samples';

/** Where a mask comes from: the generator's [seedHi, seedLo, offsetHi, offsetLo] at the call. */
export type DropoutKey = readonly number[];

const TWO24 = 16777216;

/** The kernel's attributes: keep an element when (word >> 8) >= threshold; scale the kept ones. */
const maskAttrs = (p: number): [number, number] => [Math.ceil(p * TWO24), 1 / (1 - p)];

/** x * mask(key) / (1 - p) for 0 < p < 1; its gradient is the same mask applied to g. */
export function dropoutWithKey(x: Tensor, key: DropoutKey, p: number): Tensor {
  const out = Tensor._empty(x._shape.slice(), x.dtype, 'dropout');
  runKernel(OP.DROPOUT, [out], [x], [...key, ...maskAttrs(p)]);
  return record('dropout', out, [x], (g) => [dropoutWithKey(g, key, p)]);
}

/**
 * Zeroes elements with probability p and scales the rest by 1 / (1 - p) when training (torch
 * dropout); the identity (the input itself) otherwise or when p = 0.
 */
export function dropout(x: Tensor, p = 0.5, training = true, generator: Generator = defaultGenerator): Tensor {
  checkTensor(x, 'dropout', 'input');
  if (!(p >= 0 && p <= 1)) throw new KilnError('ERR_ARG', `dropout: p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x;
  if (!isFloating(x.dtype)) throw new KilnError('ERR_DTYPE', `dropout: needs a floating dtype, got ${x.dtype}`);
  if (p === 1) return x.mul(0);
  return dropoutWithKey(x, generator.take(x.numel()), p);
}

// ---- Reference: Philox 4x32-10 in plain JS (32x32 -> 64 multiplies in 16-bit halves) ----

function mulHiLo(a: number, b: number): [number, number] {
  const aH = a >>> 16,
    aL = a & 0xffff,
    bH = b >>> 16,
    bL = b & 0xffff;
  const ll = aL * bL,
    hl = aH * bL,
    lh = aL * bH;
  const carry = Math.floor(((ll >>> 16) + (hl & 0xffff) + (lh & 0xffff)) / 65536);
  const hi = (aH * bH + Math.floor(hl / 65536) + Math.floor(lh / 65536) + carry) >>> 0;
  return [hi, Math.imul(a, b) >>> 0];
}

/** The four words of Philox4x32-10 at a 64-bit counter (hi, lo) and key (hi, lo). */
export function philoxRef(ctrHi: number, ctrLo: number, keyHi: number, keyLo: number): number[] {
  let c0 = ctrLo >>> 0,
    c1 = ctrHi >>> 0,
    c2 = 0,
    c3 = 0,
    k0 = keyLo >>> 0,
    k1 = keyHi >>> 0;
  for (let r = 0; r < 10; r++) {
    const [hi0, lo0] = mulHiLo(0xd2511f53, c0);
    const [hi1, lo1] = mulHiLo(0xcd9e8d57, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** Whether element e is kept under key and p (the kernel's rule, in float64). */
export function dropoutKeepRef(key: DropoutKey, p: number, e: number): boolean {
  const offset = key[2] * 4294967296 + key[3] + Math.floor(e / 4);
  const w = philoxRef(Math.floor(offset / 4294967296), offset % 4294967296, key[0], key[1])[e % 4];
  return w >>> 8 >= maskAttrs(p)[0];
}

const refDropout = (vals: number[], key: DropoutKey, p: number, dtype: DType): number[] => {
  const scale = dtype === 'float64' ? 1 / (1 - p) : Math.fround(1 / (1 - p));
  return vals.map((v, e) => roundTo(dtype, v * (dropoutKeepRef(key, p, e) ? scale : 0)));
};

export const dropoutRow: OpRow<typeof dropout> = {
  name: 'dropout',
  kind: 'random',
  native: { nin: 1, nout: 1, nattr: 6 },
  dtypes: FLOAT_DTYPES,
  fn: dropout,
  grad: (g) => [g],
  cases: (rng, dtype) => {
    const out: Case[] = [];
    const shapes = [[0], [1], [7], [3, 5], [2, 3, 4, 5], [70000], randShape(rng), randShape(rng)];
    for (const shape of shapes)
      for (const layout of LAYOUTS)
        for (const p of [0.1, 0.5, 0.9]) {
          const x = makeInput(rng, shape, dtype, layout);
          // offsets past 2^32 exercise the counter's high word
          const key = [
            Math.floor(rng() * 2 ** 32),
            Math.floor(rng() * 2 ** 32),
            Math.floor(rng() * 3),
            4 * Math.floor(rng() * 2 ** 28),
          ];
          out.push({
            label: `${shapeStr(shape)} ${layout} p ${p}`,
            got: dropoutWithKey(x.t, key, p),
            want: { shape, data: refDropout(x.ref.data, key, p, dtype) },
          });
          x.t.dispose();
        }
    return out;
  },
  gradSamples: (rng) =>
    [[5], [3, 4]].map((s) => {
      const key = [1, 2, 0, 8];
      return {
        label: shapeStr(s),
        fn: (x: Tensor) => dropoutWithKey(x, key, 0.3),
        inputs: [makeInput(rng, s, 'float64').t.requiresGrad_()],
      };
    }),
  errors: () => [
    { label: 'p above 1', run: () => dropout(fromNumbers([1], [1], 'float32'), 1.5), code: 'ERR_ARG' },
    { label: 'p NaN', run: () => dropout(fromNumbers([1], [1], 'float32'), NaN), code: 'ERR_ARG' },
    { label: 'integer input', run: () => dropout(fromNumbers([1], [1], 'int64'), 0.5), code: 'ERR_DTYPE' },
  ],
};
