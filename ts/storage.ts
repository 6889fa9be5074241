/**
 * Storage: one native allocation, shared by every view of it. Tensor handles count references;
 * the block goes back to the native caching allocator when the last handle is disposed (or
 * garbage-collected: the sweep below is the backstop, not the plan). kiln.memory() reads the
 * counters kept here.
 */
import { AsyncLocalStorage } from 'async_hooks';
import { Device, deviceIndex, deviceName } from './device';
import { KilnError } from './errors';
import { native } from './native';

export const liveStats = { tensors: 0, storages: 0, bytes: 0, peakBytes: 0 };

/** What the sweep needs once a Storage is collected (it must not reference the Storage). */
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
  /** Writes by in-place ops that autograd recorded (autograd/inplace.ts's rebase). */
  rebases = 0;
  /** A handle on this memory is a leaf that requires grad: in-place ops with grad refuse it. */
  gradLeaf = false;
  private ab: ArrayBuffer | null = null;
  /** @internal Tracked by the native sweep (see flushYoung). */
  tracked = false;
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
    // flushed before this one joins: its handle has not counted itself yet (refs is 0 until then)
    if (young.length >= YOUNG_LIMIT || youngBytes >= YOUNG_BYTES) flushYoung();
    young.push(this);
    youngBytes += nbytes;
    if (young.length === 1) queueMicrotask(flushYoung);
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
      if (this.tracked) {
        trackedBytes -= this.nbytes;
        // V8 keeps believing in what was disposed only within a band (see report)
        if (reportedBytes - trackedBytes > Math.max(YOUNG_BYTES, trackedBytes)) report(native());
      }
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
  allocsSinceSweep++;
  bytesSinceSweep += nbytes;
  // after a collection, once enough was allocated to pay for the walk (a check per tracked storage)
  if (nb.argBlock[nb.gcSlot] !== 0 && (allocsSinceSweep * 8 >= trackedCount || bytesSinceSweep >= YOUNG_BYTES)) sweep();
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
 * The backstop for storages whose handles were never disposed. A FinalizationRegistry cannot be
 * it: its callbacks wait for the event loop, so a synchronous loop that never disposes grew
 * without bound (4 MB a step: 21 GB after 2500 steps). Instead the addon holds each storage that
 * outlives its first microtask by a weak reference, which V8 clears during the collection itself,
 * and sweep() frees the blocks of those gone: at an allocation after a collection (once enough
 * has been allocated since the last sweep to pay for the walk), in kiln.memory() and in
 * kiln.emptyCache().
 *
 * V8 is told about the bytes of tracked storages not yet disposed, the only memory a collection
 * can free, so that it collects when they grow. Only growth past the amount last reported counts,
 * until a sweep that frees something lowers it, or disposals bring it below half of what was
 * reported (and by 64 MB or more): tensors tracked and then disposed every step (a batch held
 * across an await) would otherwise look like fresh growth each step and start a collection each,
 * and a large model disposed whole would stay in V8's figures.
 *
 * Most storages are temporaries disposed within the same synchronous stretch of code, so
 * tracking (a native call) is deferred: new storages wait in `young` and are tracked at the next
 * microtask, or when 4096 wait or they hold 64 MB, only if they are still alive then.
 */
const YOUNG_LIMIT = 4096;
const YOUNG_BYTES = 64 << 20;
let young: Storage[] = [];
let youngBytes = 0;
let trackedCount = 0;
/** Bytes of tracked storages not disposed, and what V8 was last told of them. */
let trackedBytes = 0;
let reportedBytes = 0;
let allocsSinceSweep = 0;
let bytesSinceSweep = 0;

export function flushYoung(): void {
  const list = young;
  young = [];
  youngBytes = 0;
  const nb = native();
  for (const s of list)
    if (s.cell.refs > 0 && !s.tracked && nb.track(s, s.cell)) {
      s.tracked = true;
      trackedCount++;
      trackedBytes += s.nbytes;
    }
  if (trackedBytes > reportedBytes) report(nb);
}

function report(nb: ReturnType<typeof native>): void {
  nb.adjustExternal(trackedBytes - reportedBytes);
  reportedBytes = trackedBytes;
}

/** Frees the blocks of tracked storages the garbage collector has taken, and counts them off. */
export function sweep(): void {
  allocsSinceSweep = 0;
  bytesSinceSweep = 0;
  const nb = native();
  const dead = nb.sweep() as Cell[];
  trackedCount -= dead.length;
  let freed = false;
  for (const c of dead) {
    liveStats.tensors -= c.refs;
    if (c.refs > 0) {
      c.refs = 0;
      trackedBytes -= c.nbytes;
      freeCell(c);
      freed = true;
    }
  }
  if (freed) report(nb);
}

/** The scope stack: tensors created inside kiln.scope() are recorded so the scope can free them. */
export const scopeStore = new AsyncLocalStorage<Set<{ dispose(): void }>>();
