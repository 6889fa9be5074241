/**
 * Tensor: a strided view (shape, strides, offset, dtype) of a Storage, plus autograd state.
 * Ops are attached as methods by ts/methods.ts from the op functions, so each op is written once.
 */
import type { Device } from './device';
import { DType, ITEMSIZE, TypedArray, bf16ToNumber, halfToNumber, isFloating, typedArrayFor } from './dtype';
import { KilnError, STATUS_CODES } from './errors';
import { native } from './native';
import type { TensorMethods } from './tensor_methods';
import { contiguousStrides, numelOf, shapeStr } from './shape';
import { Storage, liveStats, scopeStore } from './storage';
import type { Node } from './autograd/node';

export type NestedArray = number | boolean | bigint | NestedArray[];

export interface Tensor extends TensorMethods {}

/**
 * An n-dimensional array on a device. Create with kiln.tensor(), kiln.zeros() and friends.
 * @example
 * const t = kiln.tensor([[1, 2], [3, 4]]);
 * t.add(1).sum().item(); // 14
 */
export class Tensor {
  /** @internal */ _storage: Storage;
  /** @internal */ readonly _shape: number[];
  /** @internal */ readonly _strides: number[];
  /** @internal */ readonly _offset: number;
  readonly dtype: DType;
  /** @internal */ _requiresGrad = false;
  /** The accumulated gradient, once backward() has reached this leaf. */
  grad: Tensor | null = null;
  /** @internal The autograd node that produced this tensor (null for leaves). */
  _gradFn: Node | null = null;
  /** @internal This handle holds _gradFn (Node's count): dispose() lets go of it. */
  _holdsGradFn = false;
  /** @internal */ _disposed = false;
  /** @internal The kiln.scope() set that recorded this handle (dispose() takes it out). */
  _scope: Set<{ dispose(): void }> | null = null;
  /** @internal For autograd's saved handles: the tensor they stand for. */
  _origin: Tensor | null = null;
  /** @internal The storage's rebases when this handle was made or last rebased (autograd/inplace.ts). */
  _rebases: number;
  /** @internal A leaf's gradient hooks (autograd/hooks.ts). */
  _hooks: ((g: Tensor) => Tensor | void | null | undefined)[] | null = null;
  /** @internal For a view: the handle it was taken from (autograd/inplace.ts walks up to the top live one). */
  _base: Tensor | null = null;
  /** @internal Regenerates a stale handle's history (set by autograd/inplace.ts). */
  static _refresh: (t: Tensor) => void = () => {};

  /** @internal Use the creation functions. */
  constructor(storage: Storage, shape: number[], strides: number[], offset: number, dtype: DType, scoped = true) {
    this._storage = storage;
    this._shape = shape;
    this._strides = strides;
    this._offset = offset;
    this.dtype = dtype;
    this._rebases = storage.rebases;
    storage.cell.refs++;
    liveStats.tensors++;
    if (scoped) {
      const scope = scopeStore.getStore();
      if (scope) {
        scope.add(this);
        this._scope = scope;
      }
    }
  }

  /**
   * @internal A fresh contiguous tensor. Without a device its storage is pending: the kernel that
   * writes it first (runKernel) places it on its inputs' device, so ops need not pass devices.
   */
  static _empty(shape: number[], dtype: DType, op: string, device?: Device, scoped = true): Tensor {
    const nbytes = numelOf(shape) * ITEMSIZE[dtype];
    const storage = device === undefined ? Storage.pending(nbytes) : Storage.allocate(nbytes, device, op);
    return new Tensor(storage, shape, contiguousStrides(shape), 0, dtype, scoped);
  }

  /** @internal Makes `node` this handle's gradFn, held until dispose() (or the next call). */
  _setGradFn(node: Node | null): void {
    if (node) node._hold();
    if (this._holdsGradFn) this._gradFn?._drop();
    this._gradFn = node;
    this._holdsGradFn = node !== null;
  }

  /** @internal Another handle on the same view, outside any scope (autograd keeps these). */
  /** @internal An unscoped handle (Tensor._empty(..., false)) joins the current scope, if any. */
  _adopt(): this {
    const scope = scopeStore.getStore();
    if (scope && !this._scope) {
      scope.add(this);
      this._scope = scope;
    }
    return this;
  }

  _retain(): Tensor {
    this._check('autograd');
    const h = new Tensor(this._storage, this._shape, this._strides, this._offset, this.dtype, false);
    // Keep autograd identity, so gradients of gradients (createGraph) reach the real tensors.
    h._requiresGrad = this._requiresGrad;
    h._setGradFn(this._gradFn);
    h._origin = this._origin ?? this;
    return h;
  }

  /** @internal A view of the same storage. */
  _view(shape: number[], strides: number[], offset: number): Tensor {
    this._check('view');
    const v = new Tensor(this._storage, shape, strides, offset, this.dtype);
    v._base = this;
    return v;
  }

  get shape(): readonly number[] {
    return this._shape.slice();
  }
  get ndim(): number {
    return this._shape.length;
  }
  get device(): Device {
    return this._storage.device;
  }
  /** The matrices transposed (the last two dims swapped), a view: torch's `x.mT`. */
  get mT(): Tensor {
    if (this.ndim < 2)
      throw new KilnError('ERR_SHAPE', `mT: needs at least 2 dims, got shape ${shapeStr(this._shape)}`);
    return this.transpose(-2, -1);
  }
  /** The conjugate transpose of the matrices: mT for kiln's real dtypes (torch's `x.mH`). */
  get mH(): Tensor {
    return this.mT;
  }
  /** All dims reversed, a view (torch's `x.T`; a matrix's transpose). */
  get T(): Tensor {
    return this.permute(this._shape.map((_, i) => this.ndim - 1 - i));
  }
  /** Element strides, as PyTorch's stride(). */
  stride(): number[];
  stride(dim: number): number;
  stride(dim?: number): number | number[] {
    return dim === undefined ? this._strides.slice() : this._strides[dim < 0 ? dim + this.ndim : dim];
  }
  numel(): number {
    return numelOf(this._shape);
  }
  /** size() is shape; size(d) one dim (negative counts from the end). */
  size(): number[];
  size(dim: number): number;
  size(dim?: number): number | number[] {
    if (dim === undefined) return this._shape.slice();
    const d = dim < 0 ? dim + this.ndim : dim;
    if (d < 0 || d >= this.ndim)
      throw new KilnError('ERR_ARG', `size: dim ${dim} is out of range for shape ${shapeStr(this._shape)}`);
    return this._shape[d];
  }
  get isLeaf(): boolean {
    if (this._rebases !== this._storage.rebases) Tensor._refresh(this);
    return this._gradFn === null;
  }
  /** The op that made this tensor, for autograd ("AddBackward" ...), or null for leaves. */
  get gradFn(): { name: string } | null {
    if (this._rebases !== this._storage.rebases) Tensor._refresh(this);
    return this._gradFn;
  }
  get requiresGrad(): boolean {
    if (this._rebases !== this._storage.rebases) Tensor._refresh(this);
    return this._requiresGrad;
  }
  set requiresGrad(v: boolean) {
    this.requiresGrad_(v);
  }
  /** Sets requiresGrad on a leaf; returns this. */
  requiresGrad_(v = true): this {
    if (!this.isLeaf && !v)
      throw new KilnError(
        'ERR_AUTOGRAD',
        'requiresGrad_: cannot turn off gradients of a non-leaf tensor; use detach()',
      );
    if (v && !isFloating(this.dtype))
      throw new KilnError('ERR_DTYPE', `requiresGrad_: only floating tensors can require gradients, got ${this.dtype}`);
    this._requiresGrad = v;
    if (v) this._storage.gradLeaf = true;
    return this;
  }
  /** Keep .grad on this non-leaf tensor during backward(). */
  retainGrad(): this {
    if (this._gradFn) this._gradFn.retainTarget = this;
    return this;
  }

  isContiguous(): boolean {
    let expected = 1;
    for (let i = this._shape.length - 1; i >= 0; i--) {
      if (this._shape[i] !== 1 && this._strides[i] !== expected) return false;
      expected *= this._shape[i];
    }
    return true;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Frees this handle now; the memory returns to the pool once no view or gradient graph uses it. */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    liveStats.tensors--;
    if (this._scope) {
      this._scope.delete(this);
      this._scope = null;
    }
    this._storage.release();
    if (this._holdsGradFn) {
      this._holdsGradFn = false;
      this._gradFn?._drop();
    }
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal Throws ERR_DISPOSED when this handle was disposed. */
  _check(op: string): void {
    if (this._disposed)
      throw new KilnError(
        'ERR_DISPOSED',
        `${op}: tensor of shape ${shapeStr(this._shape)} and dtype ${this.dtype} was disposed`,
      );
  }

  /**
   * A typed array over the elements (zero-copy for contiguous CPU tensors; it keeps the memory
   * alive while referenced). float16/bfloat16 come as raw Uint16 bits, int64 as BigInt64Array.
   */
  data(): TypedArray {
    this._check('data');
    // no elements: an empty array (the view's offset may lie past an empty storage)
    if (this.numel() === 0) return typedArrayFor(this.dtype, new ArrayBuffer(0), 0, 0);
    if (!this.isContiguous())
      throw new KilnError(
        'ERR_ARG',
        `data: tensor of shape ${shapeStr(this._shape)} with strides [${this._strides.join(', ')}] is not contiguous; call contiguous() first`,
      );
    if (this._storage.dev >= 0) return readDevice(this);
    const ab = this._storage.arrayBuffer();
    return typedArrayFor(this.dtype, ab, this._offset * ITEMSIZE[this.dtype], this.numel());
  }

  /**
   * The elements as a new typed array (as data() returns them), read without blocking the event
   * loop: a CUDA tensor is copied out on a worker thread; a CPU tensor is copied at once.
   * @example
   * const values = await t.read();
   */
  async read(): Promise<TypedArray> {
    this._check('read');
    const src = this.isContiguous() ? this : (this as Tensor).contiguous();
    try {
      const n = src.numel();
      const out = typedArrayFor(src.dtype, new ArrayBuffer(n * ITEMSIZE[src.dtype]), 0, n);
      if (src._storage.dev < 0) {
        out.set(src.data() as never);
        return out;
      }
      const nb = native();
      const addr = src._storage.addr + src._offset * ITEMSIZE[src.dtype];
      const [st, msg] = await nb.cudaReadAsync!(src._storage.dev, addr, out);
      if (st !== 0) throw new KilnError(STATUS_CODES[st] ?? 'ERR_CUDA', `read: ${msg}`);
      return out;
    } finally {
      if (src !== this) src.dispose();
    }
  }

  /** @internal Elements as JS numbers, row-major (copies; works for any layout). */
  _numbers(): number[] {
    this._check('toArray');
    const src = this.isContiguous() ? this : (this as Tensor).contiguous();
    const d = src.data();
    const out = new Array<number>(d.length);
    if (this.dtype === 'float16') for (let i = 0; i < d.length; i++) out[i] = halfToNumber(d[i] as number);
    else if (this.dtype === 'bfloat16') for (let i = 0; i < d.length; i++) out[i] = bf16ToNumber(d[i] as number);
    else if (this.dtype === 'int64') for (let i = 0; i < d.length; i++) out[i] = Number(d[i] as bigint);
    else for (let i = 0; i < d.length; i++) out[i] = d[i] as number;
    if (src !== this) src.dispose();
    return out;
  }

  /** The single value of a one-element tensor (a boolean for bool tensors). */
  item(): number | boolean {
    this._check('item');
    if (this.numel() !== 1)
      throw new KilnError(
        'ERR_SHAPE',
        `item: tensor of shape ${shapeStr(this._shape)} has ${this.numel()} elements, expected 1`,
      );
    const v = this._numbers()[0];
    return this.dtype === 'bool' ? v !== 0 : v;
  }

  /** Nested JS arrays (numbers; booleans for bool tensors); a scalar for 0-d tensors. */
  toArray(): NestedArray {
    const flat: (number | boolean)[] = this._numbers();
    if (this.dtype === 'bool') for (let i = 0; i < flat.length; i++) flat[i] = flat[i] !== 0;
    if (this.ndim === 0) return flat[0];
    let pos = 0;
    const build = (d: number): NestedArray => {
      const n = this._shape[d];
      const arr: NestedArray[] = new Array(n);
      for (let i = 0; i < n; i++) arr[i] = d === this.ndim - 1 ? (flat[pos++] as number) : build(d + 1);
      return arr;
    };
    return build(0);
  }
}

/** data() of a contiguous tensor on a CUDA device: a synchronous copy into a new typed array. */
function readDevice(t: Tensor): TypedArray {
  const n = t.numel();
  const out = typedArrayFor(t.dtype, new ArrayBuffer(n * ITEMSIZE[t.dtype]), 0, n);
  if (n === 0) return out;
  const nb = native();
  const st = nb.cudaCopyOut!(t._storage.dev, t._storage.addr + t._offset * ITEMSIZE[t.dtype], out);
  if (st !== 0) throw new KilnError(STATUS_CODES[st] ?? 'ERR_CUDA', `data: ${nb.lastError()}`);
  return out;
}

export function isTensor(x: unknown): x is Tensor {
  return x instanceof Tensor;
}
