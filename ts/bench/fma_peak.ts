/**
 * The measured fp32 FMA peak of this machine at a thread count: the ceiling the gemm rows are
 * reported against ("fma peak" ratios). The loop is the addon's fmaPeak (native/napi/bench_ref.cpp):
 * independent FMA chains on every vector register, AVX-512 where the CPU has it.
 */
import { native } from '../native';
import { BenchOptions, Measurement, summarize } from './harness';

/** Samples of the peak on `threads` threads, each about --sample-ms long; null without the native loop. */
export function measureFmaPeak(threads: number, opts: BenchOptions): Measurement | null {
  const fma = native().fmaPeak;
  if (!fma) return null;
  // Calibrate: iterations for one sample of about minSampleMs (at least 1 ms, so timer and thread
  // start-up stay small beside it).
  fma(threads, 1e4);
  const probe = fma(threads, 1e5);
  const targetS = Math.max(opts.minSampleMs, 1) / 1e3;
  const iters = Math.max(1e4, Math.round((1e5 * targetS) / probe.seconds));
  const runs = Array.from({ length: Math.max(3, opts.reps) }, () => fma(threads, iters));
  const stats = summarize(
    runs.map((r) => r.seconds * 1e3),
    1,
  );
  return {
    bench: 'gemm',
    name: 'fma peak',
    shape: [],
    dtype: 'float32',
    impl: `${probe.isa} FMA loop`,
    stats,
    unit: 'GFLOP/s',
    value: runs[0].flops / (stats.medianMs * 1e6),
    ratios: {},
    detail: `${threads} std::threads, ${iters} iterations each per sample; the peak the gemm rows' "fma peak" ratios use`,
  };
}

/** The one line the bench prints about the peak it measured. */
export function fmaPeakNote(peak: Measurement): string {
  const gf = (ms: number): string => ((peak.value * peak.stats.medianMs) / ms).toFixed(0);
  return `FMA peak (${peak.impl}) ${peak.value.toFixed(0)} GFLOP/s, median of ${peak.stats.samples} (${gf(peak.stats.maxMs)}..${gf(peak.stats.minMs)})`;
}
