/**
 * How the block Jacobi eigensolver (eigh-blocks.ts) holds a d×d matrix on the GPU: k blocks of b rows/columns (the
 * last one d − (k−1)·b), and one tensor per block column C, [k·b, b_C]: block row K's tile at rows K·b … K·b + b_K,
 * zero rows below it when b_K < b. Every tile of a block column has the same stride b·b_C, so a product over all the
 * block rows of a column is one batched GEMM, and no tensor is larger than k·b·b rows (one binding is enough for a
 * tile, not for the column: the GEMM splits its batch into windows). Host-side setup and output live here too.
 */
import type { GpuRuntime } from './runtime';
import type { GpuTensor } from './tensor';

/** One tensor per block column, replaced as the sweeps rotate them. */
export type BlockColumns = GpuTensor[];

export interface ScaledInput {
  /** (a_ij + a_ji) / 2 / scale. */
  readonly at: (row: number, col: number) => number;
  readonly diagonal: Float64Array;
  /** max |(a_ij + a_ji) / 2|, or 1 for the zero matrix: the sweeps run on A / scale (float32 neither over- nor
   * underflows), the eigenvalues are scaled back. */
  readonly scale: number;
  readonly offSquares: number;
  readonly totalSquares: number;
  readonly nonFinite: number;
}

/**
 * The largest block size b (with the fewest blocks, at least 2) whose pair block — 2b×2b, padded to 2b + 1 when odd
 * by the inner solver — fits one binding window of `maxWindowElements` floats.
 */
export function defaultBlockSize(d: number, maxWindowElements: number): number {
  for (let blocks = 2; blocks <= d; blocks++) {
    const b = Math.ceil(d / blocks);
    if ((2 * b + 1) ** 2 <= maxWindowElements) return b;
  }
  return 1;
}

/**
 * Float32 bytes block Jacobi holds on the GPU at once: the block columns of A and V (k·b·d floats each, with the
 * last block row's padding), the two new block columns of a rotation and the pair block with the inner solver's
 * matrices (about five of (2b + 1)²).
 */
export function blockEighBytes(d: number, b: number): number {
  const k = Math.ceil(d / b);
  return 4 * (2 * k * b * d + 2 * k * b * b + 5 * (2 * b + 1) ** 2);
}

export class BlockLayout {
  readonly count: number;

  constructor(
    readonly d: number,
    readonly blockSize: number,
  ) {
    this.count = Math.ceil(d / blockSize);
  }

  size(block: number): number {
    return Math.min(this.blockSize, this.d - block * this.blockSize);
  }

  start(block: number): number {
    return block * this.blockSize;
  }

  /** Element where tile (row, col) starts in block column col's tensor. */
  tileStart(row: number, col: number): number {
    return row * this.blockSize * this.size(col);
  }

  /**
   * One sweep's block pairs (first < second) in round-robin (circle-method) order, as jacobi.wgsl pairs indices:
   * within a round the pairs are disjoint; over the rounds every pair meets once. An odd count adds an idle block.
   */
  roundRobin(): [number, number][] {
    const n = this.count + (this.count % 2);
    const last = n - 1;
    const pairs: [number, number][] = [];
    for (let round = 0; round < n - 1; round++) {
      for (let k = 0; k < n / 2; k++) {
        const p = k === 0 ? last : (round + k) % last;
        const q = k === 0 ? round : (round + last - k) % last;
        if (p < this.count && q < this.count) pairs.push([Math.min(p, q), Math.max(p, q)]);
      }
    }
    return pairs;
  }

  /** The symmetrised, scaled input and its off-diagonal and total sums of squares, in float64. */
  scaledSymmetric(matrix: ArrayLike<number>): ScaledInput {
    const d = this.d;
    const symmetric = (i: number, j: number) => 0.5 * (matrix[i * d + j]! + matrix[j * d + i]!);
    let nonFinite = 0;
    for (let i = 0; i < d * d; i++) if (!Number.isFinite(matrix[i]!)) nonFinite++;
    let scale = 0;
    for (let i = 0; i < d && nonFinite === 0; i++)
      for (let j = i; j < d; j++) scale = Math.max(scale, Math.abs(symmetric(i, j)));
    scale = scale > 0 ? scale : 1;
    const at = (row: number, col: number) => symmetric(row, col) / scale;
    let offSquares = 0;
    let totalSquares = 0;
    const diagonal = new Float64Array(d);
    for (let i = 0; i < d && nonFinite === 0; i++) {
      diagonal[i] = at(i, i);
      totalSquares += diagonal[i]! ** 2;
      for (let j = i + 1; j < d; j++) offSquares += 2 * at(i, j) ** 2;
    }
    totalSquares += offSquares;
    return { at, diagonal, scale, offSquares, totalSquares, nonFinite };
  }

  /** Block columns holding value(row, col) of the d×d matrix, in float32. */
  uploadColumns(runtime: GpuRuntime, value: (row: number, col: number) => number, label: string): BlockColumns {
    const b = this.blockSize;
    const columns: BlockColumns = [];
    for (let col = 0; col < this.count; col++) {
      const width = this.size(col);
      const data = new Float32Array(this.count * b * width);
      for (let row = 0; row < this.count; row++) {
        const base = this.tileStart(row, col);
        for (let r = 0; r < this.size(row); r++)
          for (let c = 0; c < width; c++) data[base + r * width + c] = value(this.start(row) + r, this.start(col) + c);
      }
      columns.push(runtime.upload(data, [this.count * b, width], `${label}[${col}]`));
    }
    return columns;
  }

  /** The b×b identity (the mirror GEMMs' right operand). */
  identity(runtime: GpuRuntime): GpuTensor {
    const b = this.blockSize;
    const data = new Float32Array(b * b);
    for (let i = 0; i < b; i++) data[i * b + i] = 1;
    return runtime.upload(data, [b, b], 'eigh.blocks.identity');
  }

  async readColumns(runtime: GpuRuntime, columns: BlockColumns): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const column of columns) out.push(await runtime.read(column));
    return out;
  }

  /**
   * Eigenvalues (times the input's scale) ascending, ties by index, and the matching columns of V, each normalised
   * in float64 (rounding drifts a column's norm over its many rotations; the direction is what they carry).
   */
  sortedOutput(
    values: ArrayLike<number>,
    columns: readonly Float32Array[],
    scale: number,
  ): { values: Float64Array; vectors: Float64Array } {
    const d = this.d;
    const order = Array.from({ length: d }, (_, i) => i).sort((i, j) => values[i]! - values[j]! || i - j);
    const sortedValues = new Float64Array(d);
    const vectors = new Float64Array(d * d);
    const column = new Float64Array(d);
    order.forEach((source, rank) => {
      sortedValues[rank] = values[source]! * scale;
      const block = Math.floor(source / this.blockSize);
      const width = this.size(block);
      const c = source - this.start(block);
      let norm = 0;
      for (let row = 0; row < this.count; row++) {
        const base = this.tileStart(row, block);
        for (let r = 0; r < this.size(row); r++) {
          const value = columns[block]![base + r * width + c]!;
          column[this.start(row) + r] = value;
          norm += value * value;
        }
      }
      const inverse = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let i = 0; i < d; i++) vectors[i * d + rank] = column[i]! * inverse;
    });
    return { values: sortedValues, vectors };
  }
}
