/**
 * The CPU backend's choice of symmetric eigensolver. Jacobi (jacobi.ts) for small d: it is what the GPU runs, and it
 * keeps high relative accuracy on tiny eigenvalues; but each sweep costs about 4 d³ flops of scattered rotations and it
 * needs 6–10 sweeps, so above JACOBI_MAX_DIMENSION the Householder + implicit QL solver (tridiagonal.ts) takes over
 * (measured on this machine: d = 256 in 0.13 s against Jacobi's 1 s; see `npm run bench:cpu`).
 */
import { jacobiEigh, type JacobiOptions, type JacobiResult } from './jacobi';
import { tridiagonalEigh } from './tridiagonal';

export const JACOBI_MAX_DIMENSION = 64;

export interface SymmetricEigenOptions extends JacobiOptions {
  /** Jacobi up to this d (inclusive), tridiagonal QL above. */
  readonly jacobiMaxDimension?: number;
}

/**
 * Ascending eigenvalues and eigenvector columns of the symmetric part of a row-major [d, d] matrix. `sweeps` counts
 * Jacobi sweeps, or implicit QL iterations for the tridiagonal solver; tolerance and maxSweeps apply to Jacobi only
 * (QL deflates at eps relative to its neighbours and throws after 60 iterations on one eigenvalue).
 */
export function symmetricEigen(
  matrix: ArrayLike<number>,
  d: number,
  options: SymmetricEigenOptions = {},
): JacobiResult {
  if (d <= (options.jacobiMaxDimension ?? JACOBI_MAX_DIMENSION)) return jacobiEigh(matrix, d, options);
  const result = tridiagonalEigh(matrix, d, { caller: options.caller });
  return {
    values: result.values,
    vectors: result.vectors,
    sweeps: result.iterations,
    relativeOffDiagonal: result.relativeOffDiagonal,
  };
}
