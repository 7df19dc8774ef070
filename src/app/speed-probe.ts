/**
 * How fast this machine runs the engine right now, relative to the throughput the planner assumes for it
 * (run-plan.ts THROUGHPUT.cpu, measured on an idle core): the CPU backend's own float64 GEMM (gemm.ts) at 192³, run
 * for about `budgetMs` of wall time, preemption included. On a machine whose cores are shared with other work the
 * factor is below 1, and every modelled second of the estimate is divided by it: the estimate is for this machine as
 * it is now, not as it was when the constants were measured.
 */
import { gemm } from '../linalg/cpu/gemm';
import { THROUGHPUT } from './run-plan';

const SIZE = 192;

/** Effective GFLOP/s of the probe over ~budgetMs of wall time, over THROUGHPUT.cpu; clamped to [0.02, 2]. */
export function measureSpeed(budgetMs = 250): number {
  const a = Float64Array.from({ length: SIZE * SIZE }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const c = new Float64Array(SIZE * SIZE);
  const view = { data: a, ld: SIZE };
  // Two products untimed first: the first calls of gemm run before the JIT has compiled it, several times slower.
  for (let i = 0; i < 2; i++) gemm(SIZE, SIZE, SIZE, view, view, { data: c, ld: SIZE });
  let products = 0;
  const started = performance.now();
  let elapsed = 0;
  // At least two products, so one lucky time slice does not decide it.
  while (products < 2 || elapsed < budgetMs) {
    gemm(SIZE, SIZE, SIZE, view, view, { data: c, ld: SIZE });
    products++;
    elapsed = performance.now() - started;
  }
  const flopsPerSecond = (2 * SIZE ** 3 * products) / (elapsed / 1000);
  return Math.min(2, Math.max(0.02, flopsPerSecond / THROUGHPUT.cpu.flops));
}
