/**
 * onnxruntime-node as a bench reference: found in bench/refs/node_modules (`npm --prefix bench/refs
 * install`) or by the normal resolution, never a dependency of kiln, so its types are declared
 * here (the few members used). Sessions run a model built by onnx_model.ts on the CPU provider
 * with intraOpNumThreads = kiln's thread count and its inputs bound once.
 */
import * as path from 'path';
import { PACKAGE_ROOT } from '../native';
import { matMulModel } from './onnx_model';

interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
/** The part of onnxruntime-node's API the bench uses. */
interface Ort {
  Tensor: new (
    type: 'float32' | 'int64' | 'bool',
    data: Float32Array | BigInt64Array | Uint8Array,
    dims: number[],
  ) => OrtTensor;
  InferenceSession: {
    create(
      model: Uint8Array,
      options: {
        intraOpNumThreads: number;
        interOpNumThreads: number;
        executionMode: 'sequential';
        extra?: Record<string, unknown>;
      },
    ): Promise<OrtSession>;
  };
  env: { versions?: { common?: string; node?: string } };
}

/** onnxruntime-node, or why it is not there. */
export type OrtLoad = { ort: Ort; version: string; from: string } | { ort: null; reason: string };

/** Where onnxruntime-node is looked for: bench/refs first, then from the kiln package up. */
const SEARCH = [path.join(PACKAGE_ROOT, 'bench', 'refs'), PACKAGE_ROOT];

/** Resolves and loads onnxruntime-node; never throws. */
export function loadOnnxRuntime(): OrtLoad {
  let file: string;
  try {
    file = require.resolve('onnxruntime-node', { paths: SEARCH });
  } catch {
    return { ort: null, reason: 'onnxruntime-node is not installed (npm --prefix bench/refs install)' };
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const ort = require(file) as Ort;
    return { ort, version: ort.env.versions?.node ?? ort.env.versions?.common ?? 'unknown', from: file };
  } catch (e) {
    return { ort: null, reason: `onnxruntime-node at ${file} failed to load: ${(e as Error).message.split('\n')[0]}` };
  }
}

/** A graph input's value: float32 (used in place, e.g. kiln memory through a zero-copy view), int64 or bool. */
export type OrtFeed =
  | { type: 'float32'; data: Float32Array; dims: number[] }
  | { type: 'int64'; data: BigInt64Array; dims: number[] }
  | { type: 'bool'; data: Uint8Array; dims: number[] };

/** A session with its inputs bound: run() resolves to the graph's outputs by name. */
export interface OrtBound {
  run(): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

/**
 * A session for `model` on `threads` intra-op threads (one inter-op thread, sequential execution,
 * no spinning), with `feeds` bound to the graph inputs of the same names.
 */
export async function ortSession(
  ort: Ort,
  model: Uint8Array,
  feeds: Record<string, OrtFeed>,
  threads: number,
): Promise<OrtBound> {
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // Its idle intra-op threads otherwise spin long after each run and take the CPUs from the
    // next sample (kiln's and OpenBLAS's pools are told to sleep after ~0.2 ms as well).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const bound: Record<string, OrtTensor> = {};
  for (const [name, f] of Object.entries(feeds)) bound[name] = new ort.Tensor(f.type, f.data, f.dims);
  return { run: () => session.run(bound), release: () => session.release() };
}

/** One MatMul session with its inputs bound: run() resolves to C. */
export interface OrtMatMul {
  run(): Promise<Float32Array>;
  release(): Promise<void>;
}

/** C[M,N] = A[M,K] @ B[K,N] through ortSession; `a` and `b` are used in place. */
export async function ortMatMul(
  ort: Ort,
  m: number,
  k: number,
  n: number,
  a: Float32Array,
  b: Float32Array,
  threads: number,
): Promise<OrtMatMul> {
  const s = await ortSession(
    ort,
    matMulModel(m, k, n),
    { A: { type: 'float32', data: a, dims: [m, k] }, B: { type: 'float32', data: b, dims: [k, n] } },
    threads,
  );
  return { run: async () => (await s.run()).C.data as Float32Array, release: s.release };
}
