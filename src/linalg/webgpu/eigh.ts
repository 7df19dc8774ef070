/**
 * Symmetric eigendecomposition on the GPU in float32: parallel two-sided Jacobi with round-robin ordering
 * (shaders/jacobi.wgsl), setup, statistics and output in shaders/jacobi-reduce.wgsl.
 *
 * Per sweep: n − 1 rounds of two dispatches (the n/2 rotation parameters, then all rotations of A and V), then a
 * two-stage reduction of off(A)² and ‖A‖_F², read back once; a sweep is one runtime step, so its ~2n dispatches go to
 * the GPU in one submit. The input is symmetrised, padded to even n and divided by max|a_ij| first; eigenvalues are
 * scaled back at the end. Non-convergence throws; nothing is returned silently.
 * For float64-grade results, pass the vectors to refineEigenCpu (src/linalg/cpu/refine.ts).
 */
import type { Eigen, EighOptions } from '../backend';
import { KernelError, type ShapeReport } from './errors';
import { kernelProgram, type BindingValues, type KernelProgram, type StorageBinding } from './program';
import type { GpuRuntime, StorageOperand } from './runtime';
import { GpuTensor } from './tensor';

const ROUND_UNIFORMS = [
  { name: 'n', type: 'u32' },
  { name: 'round', type: 'u32' },
] as const;

const ROTATION_PARAMETERS = kernelProgram({
  shader: 'jacobi',
  entryPoint: 'rotation_parameters',
  uniforms: ROUND_UNIFORMS,
  bindings: [
    { name: 'a', binding: 1, access: 'read_write' },
    { name: 'rotations', binding: 2, access: 'read_write' },
  ],
});

const APPLY_ROTATIONS = kernelProgram({
  shader: 'jacobi',
  entryPoint: 'apply_rotations',
  uniforms: ROUND_UNIFORMS,
  bindings: [
    { name: 'a', binding: 1, access: 'read_write' },
    { name: 'rotations', binding: 2, access: 'read_write' },
    { name: 'v', binding: 3, access: 'read_write' },
  ],
});

/** A jacobi-reduce.wgsl entry point: every one reads (n, d, offset) and names its own bindings. */
const REDUCE_UNIFORMS = [
  { name: 'n', type: 'u32' },
  { name: 'd', type: 'u32' },
  { name: 'offset', type: 'u32' },
] as const;

function reduceProgram<const B extends readonly StorageBinding[]>(entryPoint: string, bindings: B) {
  return kernelProgram({ shader: 'jacobi-reduce', entryPoint, uniforms: REDUCE_UNIFORMS, bindings });
}

const read = <const N extends string>(name: N, binding: number) => ({ name, binding, access: 'read' }) as const;
const write = <const N extends string>(name: N, binding: number) => ({ name, binding, access: 'read_write' }) as const;

const SYMMETRIZE_PAD = reduceProgram('symmetrize_pad', [read('source_matrix', 1), write('padded', 2)]);
const ROW_STATISTICS = reduceProgram('row_statistics', [read('stats_matrix', 1), write('row_stats', 2)]);
const TOTAL_STATISTICS = reduceProgram('total_statistics', [read('rows_in', 1), write('stats', 2)]);
const SCALE = reduceProgram('scale', [write('scaled', 1), read('scale_stats', 2)]);
const NORMALIZED_VECTORS = reduceProgram('normalized_vectors', [read('rotated_basis', 1), write('unit_columns', 2)]);
const RAYLEIGH_QUOTIENTS = reduceProgram('rayleigh_quotients', [
  read('original', 1),
  read('eigenvectors', 2),
  read('quotient_stats', 3),
  write('quotients', 4),
]);
const SORTED_OUTPUT = reduceProgram('sorted_output', [
  read('unsorted_values', 1),
  read('unsorted_vectors', 2),
  write('values_out', 3),
  write('vectors_out', 4),
]);

/** The programs eighGpu dispatches; a runtime that runs it must have been created with them. */
export const EIGH_PROGRAMS = [
  ROTATION_PARAMETERS,
  APPLY_ROTATIONS,
  SYMMETRIZE_PAD,
  ROW_STATISTICS,
  TOTAL_STATISTICS,
  SCALE,
  NORMALIZED_VECTORS,
  RAYLEIGH_QUOTIENTS,
  SORTED_OUTPUT,
] as const;

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
  const matrixBytes = jacobiWorkingBytes(d);
  if (matrixBytes > runtime.maxBindingBytes) {
    fail(
      `the ${n}×${n} working matrix (${matrixBytes} bytes) exceeds the storage binding limit ` +
        `${runtime.maxBindingBytes}; the Jacobi kernels bind it whole (eighGpuAnySize splits it into blocks)`,
    );
  }

  const half = n / 2;
  const working = runtime.allocate([n, n], 'eigh.working');
  const vectors = runtime.upload(identity(n), [n, n], 'eigh.vectors');
  const rotations = runtime.allocate([half, 4], 'eigh.rotations');
  const rowStats = runtime.allocate([n, 4], 'eigh.rowStats');
  const stats = runtime.zeros([8], 'eigh.stats');
  const reduce = <B extends readonly StorageBinding[]>(
    program: KernelProgram<typeof REDUCE_UNIFORMS, B>,
    bindings: BindingValues<KernelProgram<typeof REDUCE_UNIFORMS, B>, StorageOperand>,
    workgroups: [number, number?],
    offset = 0,
  ) =>
    runtime.run(program, {
      kernel: `${KERNEL}.${program.entryPoint}`,
      shapes,
      uniforms: { n, d, offset },
      bindings,
      workgroups,
    });
  const statistics = (offset: number) => {
    reduce(ROW_STATISTICS, { stats_matrix: working, row_stats: rowStats }, [n]);
    reduce(TOTAL_STATISTICS, { rows_in: rowStats, stats }, [1], offset);
  };
  // Errors of a sweep's dispatches also say which sweep it was.
  const sweep = (sweepShapes: ShapeReport) => {
    for (let round = 0; round < n - 1; round++) {
      const call = { shapes: sweepShapes, uniforms: { n, round } };
      runtime.run(ROTATION_PARAMETERS, {
        ...call,
        kernel: `${KERNEL}.rotation_parameters`,
        bindings: { a: working, rotations },
        workgroups: [Math.ceil(half / 64)],
      });
      runtime.run(APPLY_ROTATIONS, {
        ...call,
        kernel: `${KERNEL}.apply_rotations`,
        bindings: { a: working, rotations, v: vectors },
        workgroups: [Math.ceil(half / 16), Math.ceil(half / 16)],
      });
    }
    statistics(STATS_CURRENT);
  };
  const tiles = Math.ceil(n / 16);
  try {
    runtime.step(`${KERNEL}.setup`, shapes, () => {
      reduce(SYMMETRIZE_PAD, { source_matrix: matrix, padded: working }, [tiles, tiles]);
      statistics(STATS_INPUT);
      reduce(SCALE, { scaled: working, scale_stats: stats }, [tiles, tiles]);
      statistics(STATS_CURRENT);
    });

    let sweeps = 0;
    let relativeOff: number;
    for (;;) {
      const current = await runtime.read(stats);
      if (current[STATS_INPUT + 3]! > 0)
        fail(`matrix has ${current[STATS_INPUT + 3]} non-finite entries (NaN or ±Inf)`);
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
      const sweepShapes = { ...shapes, sweep: sweeps };
      runtime.step(`${KERNEL}.sweep`, sweepShapes, () => sweep(sweepShapes));
      sweeps++;
    }

    // The rotated matrix is no longer needed: its buffer holds the unsorted unit eigenvectors, rowStats the quotients.
    const unsortedVectors = working;
    const unsortedValues = rowStats;
    const perColumn: [number] = [Math.ceil(d / 64)];
    const values = runtime.allocate([d], 'eigh.values');
    const sortedVectors = runtime.allocate([d, d], 'eigh.vectors');
    runtime.step(`${KERNEL}.output`, shapes, () => {
      reduce(NORMALIZED_VECTORS, { rotated_basis: vectors, unit_columns: unsortedVectors }, perColumn);
      reduce(
        RAYLEIGH_QUOTIENTS,
        { original: matrix, eigenvectors: unsortedVectors, quotient_stats: stats, quotients: unsortedValues },
        perColumn,
      );
      reduce(
        SORTED_OUTPUT,
        {
          unsorted_values: unsortedValues,
          unsorted_vectors: unsortedVectors,
          values_out: values,
          vectors_out: sortedVectors,
        },
        perColumn,
      );
    });
    return { values, vectors: sortedVectors, sweeps, relativeOffDiagonal: relativeOff };
  } finally {
    for (const temporary of [working, vectors, rotations, rowStats, stats]) runtime.release(temporary);
  }
}

/** Bytes of the working matrix eighGpu binds whole: d × d, padded to even d. */
export function jacobiWorkingBytes(d: number): number {
  const n = d + (d % 2);
  return n * n * 4;
}

function identity(n: number): Float32Array {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}
