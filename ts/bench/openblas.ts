/**
 * OpenBLAS as a gemm reference: cblas_sgemm and cblas_dgemm through the addon's `refBlas` (native/napi/bench_ref.cpp),
 * which dlopen()s the library on first use. OpenBLAS picks its kernels from OPENBLAS_CORETYPE when it
 * loads; machines of this type preset it to Haswell (AVX2 kernels, about half speed: BENCH.md), so
 * the `kiln bench` process sets SKYLAKEX first when the CPU has AVX-512. Tests and programs that
 * call runBenches keep their environment (BenchOptions.ownProcess).
 */
import { info } from '../index';
import type { Tensor } from '../index';
import { native } from '../native';

/** A loaded OpenBLAS, on `threads` threads. */
export interface OpenBlas {
  /** openblas_get_corename(). */
  core: string;
  threads: number;
  /** Library, version and configuration, for the records. */
  detail: string;
  /**
   * c = a @ b with cblas_sgemm, bound once (shapes and addresses checked here, not per call):
   * contiguous float32 [M,K] and [K,N] tensors into an [M,N] one, each at storage offset 0.
   */
  bindSgemm(a: Tensor, b: Tensor, c: Tensor): () => void;
  /** The same for float64 tensors with cblas_dgemm. */
  bindDgemm(a: Tensor, b: Tensor, c: Tensor): () => void;
}

/** OpenBLAS, or why not; `note` is the one line the bench prints either way. */
export type BlasLoad = { blas: OpenBlas; note: string } | { blas: null; note: string };

const CORE_FOR_AVX512 = 'SKYLAKEX';

/** The storage address of a tensor the native side can check against its block. */
function address(t: Tensor, what: string, dtype: 'float32' | 'float64'): number {
  if (t.dtype !== dtype || !t.isContiguous() || t._offset !== 0)
    throw new Error(`OpenBLAS gemm: ${what} must be a contiguous ${dtype} tensor at storage offset 0`);
  return t._storage.addr;
}

type GemmFn = (m: number, n: number, k: number, a: number, b: number, c: number) => boolean;

/** c = a @ b through `fn`, bound once: shapes and addresses checked here, not per call. */
function bindGemm(fn: GemmFn, dtype: 'float32' | 'float64', a: Tensor, b: Tensor, c: Tensor): () => void {
  const [m, k] = a.shape,
    n = b.shape[1];
  const name = dtype === 'float32' ? 'sgemm' : 'dgemm';
  if (a.ndim !== 2 || b.ndim !== 2 || b.shape[0] !== k || c.shape.join() !== `${m},${n}`)
    throw new Error(`OpenBLAS ${name}: shapes [${a.shape}] @ [${b.shape}] -> [${c.shape}] do not fit`);
  const pa = address(a, 'A', dtype),
    pb = address(b, 'B', dtype),
    pc = address(c, 'C', dtype);
  return () => {
    if (!fn(m, n, k, pa, pb, pc)) throw new Error(`OpenBLAS ${name} [${m}, ${k}] @ [${k}, ${n}]: rejected`);
  };
}

/**
 * Loads OpenBLAS and sets it to `threads` threads. With `ownProcess` and an AVX-512 CPU,
 * OPENBLAS_CORETYPE is set to SKYLAKEX first (it only counts before the first load in a process).
 */
export function loadOpenBlas(threads: number, ownProcess: boolean): BlasLoad {
  const ref = native().refBlas;
  if (!ref) return { blas: null, note: 'OpenBLAS skipped: this kiln binary has no refBlas (rebuild the addon)' };
  const preset = process.env.OPENBLAS_CORETYPE;
  let env = preset === undefined ? 'OPENBLAS_CORETYPE unset' : `OPENBLAS_CORETYPE=${preset}`;
  if (ownProcess && info().supportedIsas.includes('avx512') && preset !== CORE_FOR_AVX512) {
    process.env.OPENBLAS_CORETYPE = CORE_FOR_AVX512;
    env = `OPENBLAS_CORETYPE=${CORE_FOR_AVX512} set by the bench (was ${preset ?? 'unset'})`;
  } else if (!ownProcess) env += ', left as the caller set it';
  // OpenBLAS's idle threads spin for 2^28 cycles (~80 ms) by default, which would steal the CPUs
  // from the next sample (kiln's pool spins 0.2 ms): 2^19 cycles is about the same as kiln's.
  if (ownProcess && process.env.OPENBLAS_THREAD_TIMEOUT === undefined) {
    process.env.OPENBLAS_THREAD_TIMEOUT = '19';
    env += ", OPENBLAS_THREAD_TIMEOUT=19 (idle threads sleep after ~0.15 ms, as kiln's do)";
  }
  const lib = ref.load();
  if (!lib) return { blas: null, note: `OpenBLAS skipped: ${ref.loadError()}` };
  const got = ref.setThreads(threads);
  const mismatch = got === threads ? '' : ` (asked for ${threads}: the OpenBLAS rows are not at kiln's thread count)`;
  const detail = `${lib.config || 'OpenBLAS'}; core ${lib.core}; ${got} threads; ${env}; ${lib.library}`;
  return {
    blas: {
      core: lib.core,
      threads: got,
      detail,
      bindSgemm: (a, b, c) => bindGemm(ref.sgemm, 'float32', a, b, c),
      bindDgemm: (a, b, c) => bindGemm(ref.dgemm, 'float64', a, b, c),
    },
    note: `OpenBLAS: core ${lib.core}, ${got} thread${got === 1 ? '' : 's'}${mismatch}; ${env}; ${lib.config}; ${lib.library}`,
  };
}
