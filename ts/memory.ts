/** Deterministic freeing: kiln.scope() and kiln.memory(). */
import { cudaDeviceCount } from './device';
import { native } from './native';
import { liveStats, scopeStore, sweep } from './storage';
import { Tensor } from './tensor';

/** Live tensors and bytes, plus the native allocator's detail. */
export interface MemoryInfo {
  /** Tensor handles alive (not disposed and not yet collected). */
  numTensors: number;
  /** Bytes held by live storages. */
  numBytes: number;
  /** Peak of numBytes since load. */
  peakBytes: number;
  cpu: {
    /** Bytes the native allocator has handed out and not got back. */
    allocatedBytes: number;
    /** Freed bytes kept for reuse (kiln.emptyCache() returns them to the system). */
    cachedBytes: number;
    allocCalls: number;
    cacheHits: number;
    /**
     * Per-thread kernel scratch (packed GEMM panels, convolution workspaces, sort buffers) that
     * kiln's threads in this process keep for the next call; kiln.emptyCache() frees it.
     */
    scratchBytes: number;
  };
  /** Per CUDA device used (the caching allocator's figures); empty without CUDA. */
  cuda: {
    device: string;
    /** Bytes handed out to tensors and scratch, not yet freed. */
    allocatedBytes: number;
    /** Bytes held from the driver but unused (kiln.emptyCache() returns them). */
    cachedBytes: number;
    peakBytes: number;
    allocCalls: number;
    cacheHits: number;
  }[];
}

/**
 * Memory statistics. A training loop that frees what it makes shows flat numbers.
 * @example
 * const before = kiln.memory().numBytes;
 */
export function memory(): MemoryInfo {
  sweep(); // what the garbage collector took is not live
  const s = native().memoryStats();
  return {
    numTensors: liveStats.tensors,
    numBytes: liveStats.bytes,
    peakBytes: liveStats.peakBytes,
    cpu: {
      allocatedBytes: s.liveBytes,
      cachedBytes: s.cachedBytes,
      allocCalls: s.allocCalls,
      cacheHits: s.cacheHits,
      scratchBytes: s.scratchBytes ?? 0,
    },
    cuda: cudaMemory(),
  };
}

function cudaMemory(): MemoryInfo['cuda'] {
  const nb = native();
  const out: MemoryInfo['cuda'] = [];
  const n = cudaDeviceCount();
  for (let i = 0; i < n; i++) {
    const c = nb.cudaMemoryStats!(i);
    if (!c || c.allocCalls === 0) continue;
    out.push({
      device: `cuda:${i}`,
      allocatedBytes: c.liveBytes,
      cachedBytes: c.cachedBytes,
      peakBytes: c.peakBytes,
      allocCalls: c.allocCalls,
      cacheHits: c.cacheHits,
    });
  }
  return out;
}

/**
 * Returns cached native blocks to the system (CPU, and every CUDA device used), and the kernels'
 * per-thread scratch on the CPU (memory().cpu.scratchBytes): the next large kernel call grows it
 * again, paying for fresh pages once.
 */
export function emptyCache(): void {
  sweep();
  native().emptyCache();
  if (cudaDeviceCount() > 0) native().cudaEmptyCache!(-1);
}

function collect(value: unknown, out: Set<Tensor>, seen: Set<unknown>): void {
  if (value instanceof Tensor) {
    out.add(value);
    if (value.grad) out.add(value.grad);
    return;
  }
  if (!value || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) for (const v of value) collect(v, out, seen);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) collect(v, out, seen);
}

function finish<T>(created: Set<{ dispose(): void }>, result: T): T {
  const keep = new Set<Tensor>();
  collect(result, keep, new Set());
  const parent = scopeStore.getStore();
  for (const t of created) {
    if (keep.has(t as Tensor)) {
      parent?.add(t);
      (t as Tensor)._scope = parent ?? null;
    } else t.dispose();
  }
  return result;
}

/**
 * Runs fn and disposes every tensor created inside it, except the tensors it returns (found in
 * arrays, Maps and plain objects) and their gradients; those move to the enclosing scope.
 * Works with async functions: tensors created across awaits are tracked per scope.
 * @example
 * const loss = kiln.scope(() => model.forward(x).sub(y).square().mean());
 */
export function scope<T>(fn: () => T): T {
  const created = new Set<{ dispose(): void }>();
  let result: T;
  try {
    result = scopeStore.run(created, fn);
  } catch (e) {
    finish(created, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => finish(created, v),
      (e) => {
        finish(created, undefined);
        throw e;
      },
    ) as unknown as T;
  }
  return finish(created, result);
}

/** Keeps a tensor created inside a scope alive past the scope's end; returns it. */
export function keep<T extends Tensor>(t: T): T {
  t._scope?.delete(t);
  t._scope = null;
  return t;
}
