// kiln.memory() once the garbage collector has taken what earlier code left undisposed. kiln frees
// a collected tensor at the next allocation or kiln.memory() after the collection, even in
// synchronous code, so a count taken without settling can drop mid-test as old garbage goes.
import * as v8 from 'v8';
import * as vm from 'vm';
import * as kiln from '../../ts/index';
import { flushYoung } from '../../ts/storage';

v8.setFlagsFromString('--expose-gc');
export const gc = vm.runInNewContext('gc') as () => void;

/** Tracks now what waits for its first microtask (held until then), so a collection can take it. */
export const trackYoung = flushYoung;

export function settledMemory(): kiln.MemoryInfo {
  trackYoung();
  gc();
  gc(); // a collection that finishes an incremental marking keeps what it allocated during it
  return kiln.memory();
}
