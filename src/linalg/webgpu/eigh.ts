/**
 * Symmetric eigendecomposition on the GPU in float32: parallel two-sided Jacobi with round-robin ordering
 * (shaders/jacobi.wgsl), setup, statistics and output in shaders/jacobi-reduce.wgsl.
 *
 * Per sweep: n − 1 rounds of two dispatches (the n/2 rotation parameters, then all rotations of A and V; encoded
 * together by eigh-sweep.ts), then a two-stage reduction of off(A)² and ‖A‖_F², read back once. The input is symmetrised, padded to even n and divided
 * by max|a_ij| first; eigenvalues are scaled back at the end. Non-convergence throws; nothing is returned silently.
 * For float64-grade results, pass the vectors to refineEigenCpu (src/linalg/cpu/refine.ts).
 */
import type { Eigen, EighOptions } from '../backend';
import { JacobiSweeper } from './eigh-sweep';
import { KernelError } from './errors';
import type { GpuRuntime } from './runtime';
import { GpuTensor } from './tensor';

/** The shader files eighGpu dispatches; a runtime that runs it must have loaded them (GpuRuntime.create). */
export const EIGH_SHADERS = ['jacobi', 'jacobi-reduce'] as const;

/** off(A) ≤ tolerance · ‖A‖_F. Float32 Jacobi drives off(A) far below this; the bound mainly limits ‖A − QΛQᵀ‖. */
export const GPU_EIGH_DEFAULT_TOLERANCE = 1e-6;
export const GPU_EIGH_DEFAULT_MAX_SWEEPS = 30;

export interface GpuEighOptions extends EighOptions {
  /** Checked between sweeps; an aborted signal rejects with its reason. */
  readonly signal?: AbortSignal;
  /** Called after each sweep's convergence check. */
  readonly onSweep?: (sweep: number, relativeOffDiagonal: number) => void;
}

export interface GpuEigen extends Eigen {
  readonly values: GpuTensor;
  readonly vectors: GpuTensor;
}

const KERNEL = 'eigh';
const STATS_INPUT = 0; // statistics of the unscaled, symmetrised input: its max |a| is the scale
const STATS_CURRENT = 4; // statistics of the scaled working matrix, refreshed after every sweep

export async function eighGpu(runtime: GpuRuntime, matrix: GpuTensor, options: GpuEighOptions = {}): Promise<GpuEigen> {
  const shapes = { matrix: [...matrix.shape] };
  const fail = (problem: string): never => {
    throw new KernelError(KERNEL, shapes, problem);
  };
  if (!(matrix instanceof GpuTensor)) fail('matrix is not a GPU tensor of this backend');
  if (matrix.released) fail('matrix was released');
  if (matrix.shape.length !== 2 || matrix.shape[0] !== matrix.shape[1]) fail('matrix must be square, [d, d]');
  const d = matrix.shape[0]!;
  if (d < 1) fail('d must be at least 1');
  const tolerance = options.tolerance ?? GPU_EIGH_DEFAULT_TOLERANCE;
  const maxSweeps = options.maxSweeps ?? GPU_EIGH_DEFAULT_MAX_SWEEPS;
  if (!(tolerance > 0)) fail(`tolerance must be > 0, got ${tolerance}`);
  if (!Number.isInteger(maxSweeps) || maxSweeps < 0) fail(`maxSweeps must be a non-negative integer, got ${maxSweeps}`);
  const n = d + (d % 2);
  const matrixBytes = n * n * 4;
  if (matrixBytes > runtime.maxBindingBytes) {
    fail(`the ${n}×${n} working matrix (${matrixBytes} bytes) exceeds the storage binding limit ${runtime.maxBindingBytes}; the Jacobi kernels bind it whole`);
  }

  const half = n / 2;
  const working = runtime.allocate([n, n], 'eigh.working');
  const vectors = runtime.upload(identity(n), [n, n], 'eigh.vectors');
  const rotations = runtime.allocate([half, 4], 'eigh.rotations');
  const rowStats = runtime.allocate([n, 4], 'eigh.rowStats');
  const stats = runtime.zeros([8], 'eigh.stats');
  const reduce = (entryPoint: string, storage: GpuTensor[], workgroups: [number, number?], offset = 0) =>
    runtime.run({ kernel: `${KERNEL}.${entryPoint}`, spec: { shader: 'jacobi-reduce', entryPoint }, shapes, uniforms: [n, d, offset], storage, workgroups });
  const statistics = (offset: number) => {
    reduce('row_statistics', [working, rowStats], [n]);
    reduce('total_statistics', [rowStats, stats], [1], offset);
  };
  const tiles = Math.ceil(n / 16);
  let sweeper: JacobiSweeper | undefined;
  try {
    sweeper = await JacobiSweeper.create(runtime, working, rotations, vectors, shapes);
    reduce('symmetrize_pad', [matrix, working], [tiles, tiles]);
    statistics(STATS_INPUT);
    reduce('scale', [working, stats], [tiles, tiles]);
    statistics(STATS_CURRENT);

    let sweeps = 0;
    let relativeOff: number;
    for (;;) {
      const current = await runtime.read(stats);
      await sweeper.checkErrors(sweeps);
      if (current[STATS_INPUT + 3]! > 0) fail(`matrix has ${current[STATS_INPUT + 3]} non-finite entries (NaN or ±Inf)`);
      const [offSquares, totalSquares] = [current[STATS_CURRENT]!, current[STATS_CURRENT + 1]!];
      relativeOff = totalSquares > 0 ? Math.sqrt(offSquares / totalSquares) : 0;
      if (!Number.isFinite(relativeOff)) fail(`the working matrix became non-finite after ${sweeps} sweeps`);
      options.onSweep?.(sweeps, relativeOff);
      if (relativeOff <= tolerance) break;
      if (sweeps === maxSweeps) {
        fail(
          `Jacobi did not converge for d = ${d} after ${sweeps} sweeps: ` +
            `off(A)/‖A‖_F = ${relativeOff.toExponential(3)} > tolerance ${tolerance}`,
        );
      }
      options.signal?.throwIfAborted();
      sweeper.submitSweep();
      statistics(STATS_CURRENT);
      sweeps++;
    }

    // The rotated matrix is no longer needed: its buffer holds the unsorted unit eigenvectors, rowStats the quotients.
    const unsortedVectors = working;
    const unsortedValues = rowStats;
    const perColumn: [number] = [Math.ceil(d / 64)];
    reduce('normalized_vectors', [vectors, unsortedVectors], perColumn);
    reduce('rayleigh_quotients', [matrix, unsortedVectors, stats, unsortedValues], perColumn);
    const values = runtime.allocate([d], 'eigh.values');
    const sortedVectors = runtime.allocate([d, d], 'eigh.vectors');
    reduce('sorted_output', [unsortedValues, unsortedVectors, values, sortedVectors], perColumn);
    return { values, vectors: sortedVectors, sweeps, relativeOffDiagonal: relativeOff };
  } finally {
    sweeper?.dispose(runtime);
    for (const temporary of [working, vectors, rotations, rowStats, stats]) runtime.release(temporary);
  }
}

function identity(n: number): Float32Array {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}
