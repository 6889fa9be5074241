/**
 * Storage: one native allocation, shared by every view of it. Tensor handles count references;
 * the block goes back to the native caching allocator when the last handle is disposed (or
 * garbage-collected: a FinalizationRegistry is the backstop, not the plan). kiln.memory() reads
 * the counters kept here.
 */
import { AsyncLocalStorage } from 'async_hooks';
import { Device, deviceIndex, deviceName } from './device';
import { KilnError } from './errors';
import { native } from './native';

export const liveStats = { tensors: 0, storages: 0, bytes: 0, peakBytes: 0 };

/** What the finalizer needs once a Storage is collected (it must not reference the Storage). */
interface Cell {
  /** Tensor handles on this storage not yet disposed. */
  refs: number;
  /** 0 while the storage is pending (see Storage.pending). */
  addr: number;
  nbytes: number;
  /** Native device index: -1 the CPU, N cuda:N. */
  dev: number;
}

/** The message of a failed CUDA allocation (ERR_OOM with sizes, ERR_DEVICE, ...) as a KilnError. */
function cudaAllocError(op: string, nbytes: number, dev: number): KilnError {
  const msg = native().lastError();
  const code = /does not exist/.test(msg) ? 'ERR_DEVICE' : /out of memory/.test(msg) ? 'ERR_OOM' : 'ERR_CUDA';
  return new KilnError(code, `${op}: could not allocate ${nbytes} bytes on cuda:${dev}: ${msg}`);
}

export class Storage {
  /** @internal */ readonly cell: Cell;
  /** @internal A read-only 0-d scalar (creation.ts's cache): ops on another device use a copy there. */
  scalar = false;
  /** Bumped by every in-place write, so autograd can tell when a saved tensor changed. */
  version = 0;
  private ab: ArrayBuffer | null = null;
  /** @internal Registered with the finalizer (see flushYoung). */
  registered = false;
  /**
   * addr 0 makes a pending storage: its device is not known yet. Op outputs are made pending and
   * placed by runKernel on the device of the op's inputs, so an op written once runs on any
   * device; anything else that reads `addr` first places it on the CPU.
   */
  constructor(addr: number, nbytes: number, device: Device) {
    this.cell = { refs: 0, addr, nbytes, dev: deviceIndex(device) };
    this.nbytes = nbytes;
    liveStats.storages++;
    liveStats.bytes += nbytes;
    if (liveStats.bytes > liveStats.peakBytes) liveStats.peakBytes = liveStats.bytes;
    young.push(this);
    if (young.length === 1) queueMicrotask(flushYoung);
    else if (young.length >= YOUNG_LIMIT) flushYoung();
  }

  readonly nbytes: number;

  static allocate(nbytes: number, device: Device, op: string): Storage {
    return new Storage(allocOn(deviceIndex(device), nbytes, op), nbytes, device);
  }

  /** A storage whose device is decided by the first kernel that writes it (see the constructor). */
  static pending(nbytes: number): Storage {
    return new Storage(0, nbytes, 'cpu');
  }

  /** True until the storage has memory on a device. */
  get isPending(): boolean {
    return this.cell.addr === 0;
  }

  /** Gives a pending storage its memory on native device `dev`. */
  place(dev: number, op: string): void {
    this.cell.addr = allocOn(dev, this.nbytes, op);
    this.cell.dev = dev;
  }

  /** The block's address (a pending storage is placed on the CPU first). */
  get addr(): number {
    if (this.cell.addr === 0) this.place(-1, 'tensor');
    return this.cell.addr;
  }

  /** Native device index: -1 the CPU, N cuda:N. */
  get dev(): number {
    return this.cell.dev;
  }

  get device(): Device {
    return deviceName(this.cell.dev);
  }

  get refs(): number {
    return this.cell.refs;
  }

  /** Drops one handle's reference; the block returns to the native pool at zero. */
  release(): void {
    if (--this.cell.refs === 0) {
      this.ab = null;
      if (this.registered) finalizer.unregister(this);
      freeCell(this.cell);
    }
  }

  /** A zero-copy ArrayBuffer over the whole block; it keeps the block alive while it lives. */
  arrayBuffer(): ArrayBuffer {
    if (this.cell.dev >= 0)
      throw new KilnError('ERR_DEVICE', `data(): the memory is on ${this.device}; read it with data() or read()`);
    if (!this.ab) {
      const ab = native().view(this.addr, this.nbytes);
      if (!ab) throw new KilnError('ERR_NATIVE', 'data(): the native block is gone');
      this.ab = ab;
    }
    return this.ab;
  }
}

function allocOn(dev: number, nbytes: number, op: string): number {
  const nb = native();
  if (dev < 0) {
    const addr = nb.alloc(nbytes);
    if (!addr) throw new KilnError('ERR_OOM', `${op}: could not allocate ${nbytes} bytes on cpu`);
    return addr;
  }
  const addr = nb.cudaAlloc ? nb.cudaAlloc(dev, nbytes) : 0;
  if (!addr) throw cudaAllocError(op, nbytes, dev);
  return addr;
}

function freeCell(c: Cell): void {
  liveStats.storages--;
  liveStats.bytes -= c.nbytes;
  if (c.addr === 0) return;
  if (c.dev < 0) native().free(c.addr, c.nbytes);
  else native().cudaFree!(c.dev, c.addr);
}

/**
 * Registering with a FinalizationRegistry costs ~0.7 us, more than a small op. Most storages are
 * temporaries disposed within the same synchronous stretch of code, so registration is deferred:
 * new storages wait in `young` and are registered at the next microtask (or when 4096 are
 * waiting) only if they are still alive then.
 */
const YOUNG_LIMIT = 4096;
let young: Storage[] = [];
function flushYoung(): void {
  const list = young;
  young = [];
  for (const s of list)
    if (s.cell.refs > 0 && !s.registered) {
      s.registered = true;
      finalizer.register(s, s.cell, s);
    }
}

/**
 * The backstop: one registration per Storage (not per handle, which would double the cost of a
 * small op). When a Storage is collected every handle on it is gone; those never disposed are
 * counted off and the block is freed.
 */
export const finalizer = new FinalizationRegistry<Cell>((c) => {
  liveStats.tensors -= c.refs;
  if (c.refs > 0) {
    c.refs = 0;
    freeCell(c);
  }
});

/** The scope stack: tensors created inside kiln.scope() are recorded so the scope can free them. */
export const scopeStore = new AsyncLocalStorage<Set<{ dispose(): void }>>();
