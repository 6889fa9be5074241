/**
 * Storage: one native allocation, shared by every view of it. Tensor handles count references;
 * the block goes back to the native caching allocator when the last handle is disposed (or
 * garbage-collected: a FinalizationRegistry is the backstop, not the plan). kiln.memory() reads
 * the counters kept here.
 */
import { AsyncLocalStorage } from 'async_hooks';
import type { Device } from './device';
import { KilnError } from './errors';
import { native } from './native';

export const liveStats = { tensors: 0, storages: 0, bytes: 0, peakBytes: 0 };

/** What the finalizer needs once a Storage is collected (it must not reference the Storage). */
interface Cell {
  /** Tensor handles on this storage not yet disposed. */
  refs: number;
  addr: number;
  nbytes: number;
}

export class Storage {
  /** @internal */ readonly cell: Cell;
  /** Bumped by every in-place write, so autograd can tell when a saved tensor changed. */
  version = 0;
  private ab: ArrayBuffer | null = null;
  /** @internal Registered with the finalizer (see flushYoung). */
  registered = false;
  constructor(
    readonly addr: number,
    readonly nbytes: number,
    readonly device: Device,
  ) {
    this.cell = { refs: 0, addr, nbytes };
    liveStats.storages++;
    liveStats.bytes += nbytes;
    if (liveStats.bytes > liveStats.peakBytes) liveStats.peakBytes = liveStats.bytes;
    young.push(this);
    if (young.length === 1) queueMicrotask(flushYoung);
    else if (young.length >= YOUNG_LIMIT) flushYoung();
  }

  static allocate(nbytes: number, device: Device, op: string): Storage {
    const addr = native().alloc(nbytes);
    if (!addr) throw new KilnError('ERR_OOM', `${op}: could not allocate ${nbytes} bytes on ${device}`);
    return new Storage(addr, nbytes, device);
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
    if (!this.ab) {
      const ab = native().view(this.addr, this.nbytes);
      if (!ab) throw new KilnError('ERR_NATIVE', 'data(): the native block is gone');
      this.ab = ab;
    }
    return this.ab;
  }
}

function freeCell(c: Cell): void {
  liveStats.storages--;
  liveStats.bytes -= c.nbytes;
  native().free(c.addr, c.nbytes);
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
