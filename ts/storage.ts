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

export class Storage {
  refs = 0;
  /** Bumped by every in-place write, so autograd can tell when a saved tensor changed. */
  version = 0;
  private ab: ArrayBuffer | null = null;
  constructor(readonly addr: number, readonly nbytes: number, readonly device: Device) {
    liveStats.storages++;
    liveStats.bytes += nbytes;
    if (liveStats.bytes > liveStats.peakBytes) liveStats.peakBytes = liveStats.bytes;
  }

  static allocate(nbytes: number, device: Device, op: string): Storage {
    const addr = native().alloc(nbytes);
    if (!addr) throw new KilnError('ERR_OOM', `${op}: could not allocate ${nbytes} bytes on ${device}`);
    return new Storage(addr, nbytes, device);
  }

  get released(): boolean {
    return this.refs <= 0;
  }

  release(): void {
    if (--this.refs === 0) {
      this.ab = null;
      liveStats.storages--;
      liveStats.bytes -= this.nbytes;
      native().free(this.addr, this.nbytes);
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

/** Holds one tensor handle's reference; runs if the handle is collected without dispose(). */
export const finalizer = new FinalizationRegistry<Storage>((s) => {
  liveStats.tensors--;
  s.release();
});

/** The scope stack: tensors created inside kiln.scope() are recorded so the scope can free them. */
export const scopeStore = new AsyncLocalStorage<Set<{ dispose(): void }>>();
