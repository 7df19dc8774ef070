/**
 * Float64 refinement of an approximate eigenbasis (e.g. the float32 one from the GPU's Jacobi): re-orthonormalise Q,
 * form B = QᵀAQ (nearly diagonal), diagonalise B = WΛWᵀ with float64 Jacobi, and return Q·W. Because B is already
 * nearly diagonal, Jacobi converges quadratically in a few sweeps, and the result has float64 residuals
 * (kronfluence computes its eigendecompositions in float64). Cost: O(d³) per sweep in JavaScript, so it is meant for
 * d up to about a thousand.
 */
import { matmul, orthonormalColumns } from './dense';
import { jacobiEigh, type JacobiOptions, type JacobiResult } from './jacobi';

/**
 * matrix: row-major [d, d] symmetric (its symmetric part is used); vectors: row-major [d, d] approximate eigenvectors
 * as
 * columns (any order, any float precision). Returns ascending eigenvalues and their refined eigenvector columns.
 */
export function refineEigenCpu(
  matrix: ArrayLike<number>,
  d: number,
  vectors: ArrayLike<number>,
  options: JacobiOptions = {},
): JacobiResult {
  const caller = options.caller ?? 'refineEigenCpu';
  if (matrix.length !== d * d) throw new Error(`${caller}: matrix has ${matrix.length} values, expected [${d}, ${d}]`);
  if (vectors.length !== d * d)
    throw new Error(`${caller}: vectors has ${vectors.length} values, expected [${d}, ${d}]`);
  // An approximate eigenbasis keeps nearly all of each column's norm; losing half of it means dependent input.
  const q = orthonormalColumns(vectors, d, { caller, minimumKept: 0.5 });
  const a = Float64Array.from(matrix);
  const b = matmul(matmul(q, a, d, d, d, true), q, d, d, d);
  const rotation = jacobiEigh(b, d, { ...options, caller });
  return { ...rotation, vectors: matmul(q, rotation.vectors, d, d, d) };
}
