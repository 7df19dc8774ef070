/**
 * Symmetric eigendecomposition of matrices too large for one storage binding: block Jacobi over the single-binding
 * solver (eigh.ts) and the GEMM kernel (kernels/gemm.ts); nothing on the GPU is ever bound larger than a pair block.
 *
 * The d×d matrix A and the eigenvectors V are cut into k blocks of ≤ b rows/columns and held as k block columns
 * each (block-layout.ts). A sweep visits every block pair (I, J) once, in round-robin order: the pair block
 * P = [[A_II, A_IJ], [A_JI, A_JJ]] is decomposed on the GPU (P = Q Λ Qᵀ, eighGpu), then
 *   block columns I, J of A and of V   ← [X_I, X_J] · Q                      (four batched GEMMs each),
 *   block rows I, J of A (off the pair) ← the transposes of the new columns  (A stays exactly symmetric),
 *   the pair block of A                 ← diag(Λ), its off-diagonal tiles exactly 0.
 * Writing diag(Λ) instead of Qᵀ P Q drops what the inner solve left off its diagonal (≤ its tolerance · ‖P‖_F), as
 * the scalar Jacobi kernel drops a_pq. After a sweep every diagonal tile is diagonal, so off(A) is the norm of the
 * off-diagonal tiles; the sweeps stop when off(A) ≤ tolerance · ‖A‖_F, the single-binding path's criterion.
 * Input is symmetrised and scaled by max |a_ij| on the host (float64) as the single-binding path does on the GPU;
 * eigenvalues are the converged diagonal, scaled back; vectors are normalised and sorted on the host.
 */
import type { HostEigen } from '../backend';
import {
  EIGH_PROGRAMS,
  eighGpu,
  GPU_EIGH_DEFAULT_MAX_SWEEPS,
  GPU_EIGH_DEFAULT_TOLERANCE,
  jacobiWorkingBytes,
  type GpuEigen,
  type GpuEighOptions,
} from './eigh';
import { BlockLayout, defaultBlockSize, type BlockColumns } from './block-layout';
import { KernelError } from './errors';
import { GEMM, gemm } from './kernels/gemm';
import { OperandCheck } from './kernels/operands';
import type { GpuRuntime } from './runtime';
import type { GpuTensor } from './tensor';

/**
 * `tolerance` bounds the outer sweeps and every pair solve alike (a pair solve's residual is what writing diag(Λ)
 * drops); `maxSweeps` caps the outer sweeps, `onSweep` reports them; pair solves keep the single-binding default cap.
 */
export interface BlockEighOptions extends GpuEighOptions {
  /** Rows and columns per block (the last block may be smaller); default: the largest that fits one binding. */
  readonly blockSize?: number;
}

/** A block decomposition, returned on the host, with the blocks it used. */
export interface BlockEigen extends HostEigen {
  readonly blocks: number;
  readonly blockSize: number;
}

const KERNEL = 'eigh.blocks';

/** The programs blockEighGpu dispatches: the single-binding solver's and the GEMM. */
export const BLOCK_EIGH_PROGRAMS = [...EIGH_PROGRAMS, GEMM] as const;

export async function blockEighGpu(
  runtime: GpuRuntime,
  matrix: ArrayLike<number>,
  d: number,
  options: BlockEighOptions = {},
): Promise<BlockEigen> {
  const shapes: Record<string, number | number[]> = { matrix: [d, d] };
  const fail = (problem: string): never => {
    throw new KernelError(KERNEL, shapes, problem);
  };
  if (!Number.isInteger(d) || d < 2) fail(`d must be an integer ≥ 2, got ${d}`);
  if (matrix.length !== d * d) fail(`matrix has ${matrix.length} values, [d, d] needs ${d * d}`);
  const tolerance = options.tolerance ?? GPU_EIGH_DEFAULT_TOLERANCE;
  const maxSweeps = options.maxSweeps ?? GPU_EIGH_DEFAULT_MAX_SWEEPS;
  if (!(tolerance > 0)) fail(`tolerance must be > 0, got ${tolerance}`);
  if (!Number.isInteger(maxSweeps) || maxSweeps < 0) fail(`maxSweeps must be a non-negative integer, got ${maxSweeps}`);
  const b = options.blockSize ?? defaultBlockSize(d, runtime.maxWindowElements);
  shapes.blockSize = b;
  if (!Number.isInteger(b) || b < 1) fail(`blockSize must be a positive integer, got ${b}`);
  if (b >= d) fail(`blockSize ${b} ≥ d leaves one block: nothing to split (use eighGpu)`);
  if ((2 * b + 1) ** 2 > runtime.maxWindowElements) {
    fail(
      `a pair block of 2·${b} rows needs ${(2 * b + 1) ** 2 * 4} bytes, over the binding limit ${runtime.maxBindingBytes}`,
    );
  }

  const layout = new BlockLayout(d, b);
  shapes.blocks = layout.count;
  const input = layout.scaledSymmetric(matrix);
  if (input.nonFinite > 0) fail(`matrix has ${input.nonFinite} non-finite entries (NaN or ±Inf)`);
  const check = new OperandCheck(KERNEL, {});
  for (const [name, value] of Object.entries(shapes)) check.note(name, String(value));
  const a = layout.uploadColumns(runtime, (row, col) => input.at(row, col), 'eigh.blocks.A');
  const v = layout.uploadColumns(runtime, (row, col) => (row === col ? 1 : 0), 'eigh.blocks.V');
  const lambda = runtime.upload(input.diagonal, [d], 'eigh.blocks.lambda');
  const identity = layout.identity(runtime);
  const zeros = runtime.zeros([b * b], 'eigh.blocks.zeros');
  const stats = runtime.allocate([layout.count * layout.count], 'eigh.blocks.stats');
  try {
    let sweeps = 0;
    let relativeOff = input.totalSquares > 0 ? Math.sqrt(input.offSquares / input.totalSquares) : 0;
    for (;;) {
      if (!Number.isFinite(relativeOff)) fail(`the working matrix became non-finite after ${sweeps} sweeps`);
      options.onSweep?.(sweeps, relativeOff);
      if (relativeOff <= tolerance) break;
      if (sweeps === maxSweeps) {
        fail(
          `block Jacobi did not converge for d = ${d} (${layout.count} blocks of ≤ ${b}) after ${sweeps} sweeps: ` +
            `off(A)/‖A‖_F = ${relativeOff.toExponential(3)} > tolerance ${tolerance}`,
        );
      }
      for (const [first, second] of layout.roundRobin()) {
        options.signal?.throwIfAborted();
        const pairShapes = { ...shapes, sweep: sweeps, pair: `${first},${second}` };
        const eigen = await pairEigen(runtime, layout, a, first, second, tolerance, options.signal, pairShapes);
        runtime.step(`${KERNEL}.rotate`, pairShapes, () => {
          const pair = { first, second, q: eigen.vectors, m: layout.size(first) + layout.size(second) };
          rotateColumns(runtime, check, layout, a, pair);
          rotateColumns(runtime, check, layout, v, pair);
          mirrorRows(runtime, check, layout, a, pair, identity);
          diagonalPair(runtime, layout, a, pair, eigen.values, zeros, lambda);
          runtime.release(eigen.values, eigen.vectors);
        });
      }
      sweeps++;
      relativeOff = await offDiagonal(runtime, check, layout, a, stats);
    }
    const output = layout.sortedOutput(await runtime.read(lambda), await layout.readColumns(runtime, v), input.scale);
    return { ...output, sweeps, relativeOffDiagonal: relativeOff, blocks: layout.count, blockSize: b };
  } finally {
    runtime.release(...a, ...v, lambda, identity, zeros, stats);
  }
}

interface Pair {
  readonly first: number;
  readonly second: number;
  /** The pair block's eigenvectors [m, m], m = b_first + b_second, ascending. */
  readonly q: GpuTensor;
  readonly m: number;
}

/** P = [[A_II, A_IJ], [A_JI, A_JJ]] copied row by row out of the block columns, then decomposed by eighGpu. */
async function pairEigen(
  runtime: GpuRuntime,
  layout: BlockLayout,
  a: BlockColumns,
  first: number,
  second: number,
  tolerance: number,
  signal: AbortSignal | undefined,
  shapes: Record<string, number | number[] | string>,
) {
  const blocks = [first, second];
  const m = layout.size(first) + layout.size(second);
  const p = runtime.allocate([m, m], 'eigh.blocks.pair');
  const regions = [];
  for (const [rowBlock, rowOffset] of [
    [first, 0],
    [second, layout.size(first)],
  ] as const) {
    for (let r = 0; r < layout.size(rowBlock); r++) {
      let col = 0;
      for (const colBlock of blocks) {
        const width = layout.size(colBlock);
        const from = a[colBlock]!;
        regions.push({
          from,
          fromStart: layout.tileStart(rowBlock, colBlock) + r * width,
          to: p,
          toStart: (rowOffset + r) * m + col,
          count: width,
        });
        col += width;
      }
    }
  }
  runtime.copy(regions);
  try {
    return await eighGpu(runtime, p, { tolerance, signal });
  } catch (error) {
    if (error instanceof KernelError)
      throw new KernelError(KERNEL, shapes, `pair block [${m}, ${m}]: ${error.message}`);
    throw error;
  } finally {
    runtime.release(p);
  }
}

/** [X_I, X_J] ← [X_I, X_J] · Q for every block row at once (the block rows are the GEMMs' batch). */
function rotateColumns(runtime: GpuRuntime, check: OperandCheck, layout: BlockLayout, x: BlockColumns, pair: Pair) {
  const { first, second, q, m } = pair;
  const bi = layout.size(first);
  const rows = layout.blockSize;
  const updated = [first, second].map((target, t) => {
    const width = layout.size(target);
    const out = runtime.allocate([layout.count * rows, width], 'eigh.blocks.column');
    [first, second].forEach((source, s) => {
      const k = layout.size(source);
      gemm(runtime, check, {
        m: rows,
        n: width,
        k,
        batch: layout.count,
        a: { tensor: x[source]!, batchStride: rows * k, ld: k },
        // Q's sub-block rows of `source`, columns of `target`.
        b: { tensor: q, start: (s === 0 ? 0 : bi * m) + (t === 0 ? 0 : bi), batchStride: 0, ld: m },
        c: { tensor: out, batchStride: rows * width, ld: width },
        accumulate: s === 1,
      });
    });
    return out;
  });
  runtime.release(x[first]!, x[second]!);
  x[first] = updated[0]!;
  x[second] = updated[1]!;
}

/** A_XK ← (A_KX)ᵀ for X ∈ {I, J} and every other block K: a GEMM with the identity, which copies exactly. */
function mirrorRows(
  runtime: GpuRuntime,
  check: OperandCheck,
  layout: BlockLayout,
  a: BlockColumns,
  pair: Pair,
  identity: GpuTensor,
) {
  for (const x of [pair.first, pair.second]) {
    const bx = layout.size(x);
    for (let k = 0; k < layout.count; k++) {
      if (k === pair.first || k === pair.second) continue;
      const bk = layout.size(k);
      gemm(runtime, check, {
        m: bx,
        n: bk,
        k: bk,
        batch: 1,
        a: { tensor: a[x]!, start: layout.tileStart(k, x), batchStride: 0, ld: bx, transpose: true },
        b: { tensor: identity, batchStride: 0, ld: layout.blockSize },
        c: { tensor: a[k]!, start: layout.tileStart(x, k), batchStride: 0, ld: bk },
      });
    }
  }
}

/** The pair block of A becomes diag(Λ) (off-diagonal tiles 0); Λ also goes to the running eigenvalue vector. */
function diagonalPair(
  runtime: GpuRuntime,
  layout: BlockLayout,
  a: BlockColumns,
  pair: Pair,
  values: GpuTensor,
  zeros: GpuTensor,
  lambda: GpuTensor,
) {
  const regions = [];
  let offset = 0;
  for (const col of [pair.first, pair.second]) {
    const width = layout.size(col);
    for (const row of [pair.first, pair.second]) {
      regions.push({
        from: zeros,
        fromStart: 0,
        to: a[col]!,
        toStart: layout.tileStart(row, col),
        count: layout.size(row) * width,
      });
    }
    for (let i = 0; i < width; i++) {
      regions.push({
        from: values,
        fromStart: offset + i,
        to: a[col]!,
        toStart: layout.tileStart(col, col) + i * width + i,
        count: 1,
      });
    }
    regions.push({ from: values, fromStart: offset, to: lambda, toStart: layout.start(col), count: width });
    offset += width;
  }
  runtime.copy(regions);
}

/** off(A)/‖A‖_F from every tile's ‖·‖²_F (one batched dot-product GEMM per block column), summed in float64. */
async function offDiagonal(
  runtime: GpuRuntime,
  check: OperandCheck,
  layout: BlockLayout,
  a: BlockColumns,
  stats: GpuTensor,
): Promise<number> {
  const k = layout.count;
  runtime.step(`${KERNEL}.statistics`, check.shapes, () => {
    for (let col = 0; col < k; col++) {
      const tile = layout.blockSize * layout.size(col);
      gemm(runtime, check, {
        m: 1,
        n: 1,
        k: tile,
        batch: k,
        a: { tensor: a[col]!, batchStride: tile, ld: tile },
        b: { tensor: a[col]!, batchStride: tile, ld: 1 },
        c: { tensor: stats, start: col * k, batchStride: 1, ld: 1 },
      });
    }
  });
  const squares = await runtime.read(stats);
  let off = 0;
  let total = 0;
  for (let col = 0; col < k; col++) {
    for (let row = 0; row < k; row++) {
      const value = squares[col * k + row]!;
      total += value;
      if (row !== col) off += value;
    }
  }
  return total > 0 ? Math.sqrt(off / total) : 0;
}

/**
 * eighGpu when its working matrix fits one storage binding (and no blockSize is asked for); otherwise the matrix is
 * read back, decomposed by blockEighGpu and the result uploaded, so a [d, d] tensor of any size a buffer can hold
 * (maxBufferSize) keeps the Backend.eigh contract.
 */
export async function eighGpuAnySize(
  runtime: GpuRuntime,
  matrix: GpuTensor,
  options: BlockEighOptions = {},
): Promise<GpuEigen> {
  const d = matrix.shape[0]!;
  if (options.blockSize === undefined && jacobiWorkingBytes(d) <= runtime.maxBindingBytes) {
    return eighGpu(runtime, matrix, options);
  }
  const result = await blockEighGpu(runtime, await runtime.read(matrix), d, options);
  return {
    values: runtime.upload(result.values, [d], 'eigh.values'),
    vectors: runtime.upload(result.vectors, [d, d], 'eigh.vectors'),
    sweeps: result.sweeps,
    relativeOffDiagonal: result.relativeOffDiagonal,
  };
}

/**
 * A host matrix's eigendecomposition, returned on the host: eighGpu (one upload, two reads) when its working matrix
 * fits one storage binding, else blockEighGpu, which never holds the matrix whole on the GPU (so neither the binding
 * nor the buffer size limit d).
 */
export async function eighGpuHost(
  runtime: GpuRuntime,
  matrix: Float64Array,
  d: number,
  options: BlockEighOptions = {},
): Promise<HostEigen> {
  if (options.blockSize !== undefined || jacobiWorkingBytes(d) > runtime.maxBindingBytes) {
    return blockEighGpu(runtime, matrix, d, options);
  }
  const input = runtime.upload(matrix, [d, d], 'eigh.input');
  try {
    const eigen = await eighGpu(runtime, input, options);
    const values = Float64Array.from(await runtime.read(eigen.values));
    const vectors = Float64Array.from(await runtime.read(eigen.vectors));
    runtime.release(eigen.values, eigen.vectors);
    return { values, vectors, sweeps: eigen.sweeps, relativeOffDiagonal: eigen.relativeOffDiagonal };
  } finally {
    runtime.release(input);
  }
}
