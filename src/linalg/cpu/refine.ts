/**
 * Float64 refinement of an approximate eigenbasis (e.g. the float32 one from the GPU's Jacobi): re-orthonormalise Q,
 * form B = QᵀAQ (nearly diagonal), diagonalise B = WΛWᵀ with float64 Jacobi, and return Q·W. Because B is already
 * nearly diagonal, Jacobi converges quadratically in a few sweeps, and the result has float64 residuals
 * (kronfluence computes its eigendecompositions in float64). Cost: O(d³) per sweep in JavaScript, so it is meant for
 * d up to about a thousand.
 */
import { matmul } from './dense';
import { jacobiEigh, type JacobiOptions, type JacobiResult } from './jacobi';

/**
 * matrix: row-major [d, d] symmetric (its symmetric part is used); vectors: row-major [d, d] approximate eigenvectors as
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
  if (vectors.length !== d * d) throw new Error(`${caller}: vectors has ${vectors.length} values, expected [${d}, ${d}]`);
  const q = orthonormalColumns(vectors, d, caller);
  const a = Float64Array.from(matrix);
  const b = matmul(matmul(q, a, d, d, d, true), q, d, d, d);
  const rotation = jacobiEigh(b, d, { ...options, caller });
  return { ...rotation, vectors: matmul(q, rotation.vectors, d, d, d) };
}

/** Modified Gram–Schmidt, twice ("twice is enough"), on the columns of a row-major [d, d] matrix. */
function orthonormalColumns(vectors: ArrayLike<number>, d: number, caller: string): Float64Array {
  // Work on rows of the transpose so each column is contiguous.
  const columns = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) columns[j * d + i] = vectors[i * d + j]!;
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < d; j++) {
      const cj = j * d;
      let original = 0;
      for (let i = 0; i < d; i++) original += columns[cj + i]! ** 2;
      for (let k = 0; k < j; k++) {
        const ck = k * d;
        let projection = 0;
        for (let i = 0; i < d; i++) projection += columns[ck + i]! * columns[cj + i]!;
        for (let i = 0; i < d; i++) columns[cj + i]! -= projection * columns[ck + i]!;
      }
      let norm = 0;
      for (let i = 0; i < d; i++) norm += columns[cj + i]! ** 2;
      norm = Math.sqrt(norm);
      // An approximate eigenbasis keeps nearly all of each column's norm; losing half of it means dependent input.
      if (!(norm > 0.5 * Math.sqrt(original))) {
        throw new Error(`${caller}: column ${j} of vectors is (nearly) dependent on the previous ones (norm ${Math.sqrt(original)} → ${norm})`);
      }
      for (let i = 0; i < d; i++) columns[cj + i]! /= norm;
    }
  }
  const q = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) q[i * d + j] = columns[j * d + i]!;
  return q;
}
