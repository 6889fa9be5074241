/**
 * Padding modules (torch.nn.ZeroPad1d/2d/3d, ConstantPad*, ReflectionPad*, ReplicationPad*,
 * CircularPad*) over F.pad's ops: constant fill (ops/indexing.ts pad) and the modes that read the
 * input's own values (ops/rearrange.ts padWith). The reading modes take [C, ...] or [N, C, ...]
 * inputs of d spatial dims; the constant ones any input with at least d dims, and, as torch,
 * negative padding crops.
 */
import { KilnError } from '../../errors';
import { pad } from '../../ops/indexing';
import { padWith, type PadMode } from '../../ops/rearrange';
import { scope } from '../../memory';
import { shapeStr } from '../../shape';
import type { Tensor } from '../../tensor';
import { Module } from '../module';

/** One padding for every side, or [left, right] per padded dim, last dim first (torch's order). */
export type PadArg = number | readonly number[];

/** The 2 d sides of `padding` in F.pad's order, checked. */
function sides(name: string, padding: PadArg, d: number, allowNegative: boolean): number[] {
  const p = typeof padding === 'number' ? new Array<number>(2 * d).fill(padding) : [...padding];
  if (p.length !== 2 * d || !p.every((v) => Number.isInteger(v) && (allowNegative || v >= 0)))
    throw new KilnError(
      'ERR_ARG',
      `${name}: padding must be one ${allowNegative ? '' : 'non-negative '}integer or ${2 * d} of them, got ${JSON.stringify(padding)}`,
    );
  return p;
}

/** x padded with `value` by pads (F.pad's order); negative pads cut elements off instead. */
function constantPad(x: Tensor, pads: readonly number[], value: number): Tensor {
  if (pads.every((p) => p >= 0)) return pad(x, pads, value);
  return scope(() => {
    let v = x;
    pads.forEach((p, i) => {
      if (p >= 0) return;
      const d = x.ndim - 1 - Math.floor(i / 2),
        n = v.shape[d];
      if (-p > n) throw new KilnError('ERR_SHAPE', `pad: cropping ${-p} from a dim of size ${n}`);
      v = i % 2 === 0 ? v.narrow(d, -p, n + p) : v.narrow(d, 0, n + p);
    });
    return pad(
      v,
      pads.map((p) => Math.max(p, 0)),
      value,
    );
  });
}

/** The shared body: d padded dims, a mode and, for 'constant', the fill value. */
abstract class PadNd extends Module {
  readonly padding: number[];
  constructor(
    private readonly _name: string,
    private readonly _dims: number,
    padding: PadArg,
    readonly mode: 'constant' | PadMode,
    readonly value = 0,
  ) {
    super();
    this.padding = sides(_name, padding, _dims, mode === 'constant');
  }
  forward(x: Tensor): Tensor {
    const d = this._dims;
    if (this.mode === 'constant') {
      if (x.ndim < d)
        throw new KilnError('ERR_SHAPE', `${this._name}: input needs at least ${d} dims, got ${shapeStr(x.shape)}`);
      return constantPad(x, this.padding, this.value);
    }
    if (x.ndim !== d + 1 && x.ndim !== d + 2)
      throw new KilnError(
        'ERR_SHAPE',
        `${this._name}: input must have ${d + 1} or ${d + 2} dims ([C, ...] or [N, C, ...]), got ${shapeStr(x.shape)}`,
      );
    return padWith(x, this.padding, this.mode);
  }
  override extraRepr(): string {
    return `[${this.padding.join(', ')}]${this.mode === 'constant' ? `, value=${this.value}` : ''}`;
  }
}

/** Pads the last dim with zeros (torch.nn.ZeroPad1d). */
export class ZeroPad1d extends PadNd {
  constructor(padding: PadArg) {
    super('ZeroPad1d', 1, padding, 'constant');
  }
}
/** Pads the last 2 dims with zeros, padding [left, right, top, bottom] (torch.nn.ZeroPad2d). */
export class ZeroPad2d extends PadNd {
  constructor(padding: PadArg) {
    super('ZeroPad2d', 2, padding, 'constant');
  }
}
/** Pads the last 3 dims with zeros (torch.nn.ZeroPad3d). */
export class ZeroPad3d extends PadNd {
  constructor(padding: PadArg) {
    super('ZeroPad3d', 3, padding, 'constant');
  }
}

/**
 * Pads the last dim with `value` (torch.nn.ConstantPad1d).
 * @example
 * new kiln.nn.ConstantPad1d([1, 2], 3.5).forward(kiln.ones([1, 2, 4])); // [1, 2, 7]
 */
export class ConstantPad1d extends PadNd {
  constructor(padding: PadArg, value: number) {
    super('ConstantPad1d', 1, padding, 'constant', value);
  }
}
/** Pads the last 2 dims with `value` (torch.nn.ConstantPad2d). */
export class ConstantPad2d extends PadNd {
  constructor(padding: PadArg, value: number) {
    super('ConstantPad2d', 2, padding, 'constant', value);
  }
}
/** Pads the last 3 dims with `value` (torch.nn.ConstantPad3d). */
export class ConstantPad3d extends PadNd {
  constructor(padding: PadArg, value: number) {
    super('ConstantPad3d', 3, padding, 'constant', value);
  }
}

/** Mirrors [C, W] or [N, C, W] at its ends, the edge not repeated (torch.nn.ReflectionPad1d). */
export class ReflectionPad1d extends PadNd {
  constructor(padding: PadArg) {
    super('ReflectionPad1d', 1, padding, 'reflect');
  }
}
/** Mirrors [C, H, W] or [N, C, H, W] at its edges (torch.nn.ReflectionPad2d). */
export class ReflectionPad2d extends PadNd {
  constructor(padding: PadArg) {
    super('ReflectionPad2d', 2, padding, 'reflect');
  }
}
/** Mirrors [C, D, H, W] or [N, C, D, H, W] at its faces (torch.nn.ReflectionPad3d). */
export class ReflectionPad3d extends PadNd {
  constructor(padding: PadArg) {
    super('ReflectionPad3d', 3, padding, 'reflect');
  }
}

/** Repeats the edge values of [C, W] or [N, C, W] (torch.nn.ReplicationPad1d). */
export class ReplicationPad1d extends PadNd {
  constructor(padding: PadArg) {
    super('ReplicationPad1d', 1, padding, 'replicate');
  }
}
/** Repeats the edge values of [C, H, W] or [N, C, H, W] (torch.nn.ReplicationPad2d). */
export class ReplicationPad2d extends PadNd {
  constructor(padding: PadArg) {
    super('ReplicationPad2d', 2, padding, 'replicate');
  }
}
/** Repeats the face values of [C, D, H, W] or [N, C, D, H, W] (torch.nn.ReplicationPad3d). */
export class ReplicationPad3d extends PadNd {
  constructor(padding: PadArg) {
    super('ReplicationPad3d', 3, padding, 'replicate');
  }
}

/** Wraps [C, W] or [N, C, W] around, each pad at most the size (torch.nn.CircularPad1d). */
export class CircularPad1d extends PadNd {
  constructor(padding: PadArg) {
    super('CircularPad1d', 1, padding, 'circular');
  }
}
/** Wraps [C, H, W] or [N, C, H, W] around (torch.nn.CircularPad2d). */
export class CircularPad2d extends PadNd {
  constructor(padding: PadArg) {
    super('CircularPad2d', 2, padding, 'circular');
  }
}
/** Wraps [C, D, H, W] or [N, C, D, H, W] around (torch.nn.CircularPad3d). */
export class CircularPad3d extends PadNd {
  constructor(padding: PadArg) {
    super('CircularPad3d', 3, padding, 'circular');
  }
}
