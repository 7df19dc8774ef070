/**
 * Cyclic two-sided Jacobi eigendecomposition in float64: the CPU backend's eigh and the refinement pass of the GPU one.
 *
 * Why Jacobi rather than tridiagonalisation + QR: it is the same algorithm the GPU runs (so the oracle fails the same
 * way on the same inputs), it is simple to make exact, and it has high relative accuracy for the small eigenvalues of
 * covariance matrices whose spectrum spans many orders of magnitude.
 */

export interface JacobiOptions {
  /** Stop when off(A) ≤ tolerance · ‖A‖_F (off = Frobenius norm of the off-diagonal part). */
  readonly tolerance?: number;
  readonly maxSweeps?: number;
  /** Names the caller in error messages. */
  readonly caller?: string;
}

export interface JacobiResult {
  /** Ascending. */
  readonly values: Float64Array;
  /** Row-major [d, d]; column i is the eigenvector of values[i]. */
  readonly vectors: Float64Array;
  readonly sweeps: number;
  readonly relativeOffDiagonal: number;
}

export const CPU_EIGH_DEFAULT_TOLERANCE = 1e-14;
export const CPU_EIGH_DEFAULT_MAX_SWEEPS = 60;

/** Eigendecomposition of the symmetric part (A + Aᵀ)/2 of a row-major [d, d] matrix. The input is not modified. */
export function jacobiEigh(matrix: ArrayLike<number>, d: number, options: JacobiOptions = {}): JacobiResult {
  const caller = options.caller ?? 'jacobiEigh';
  const tolerance = options.tolerance ?? CPU_EIGH_DEFAULT_TOLERANCE;
  const maxSweeps = options.maxSweeps ?? CPU_EIGH_DEFAULT_MAX_SWEEPS;
  if (!(tolerance > 0)) throw new Error(`${caller}: tolerance must be > 0, got ${tolerance}`);
  if (!Number.isInteger(maxSweeps) || maxSweeps < 0)
    throw new Error(`${caller}: maxSweeps must be a non-negative integer, got ${maxSweeps}`);
  if (matrix.length !== d * d) throw new Error(`${caller}: ${matrix.length} values do not form a [${d}, ${d}] matrix`);

  const a = symmetricPart(matrix, d, caller);
  // Scaling by max|a_ij| keeps the sums of squares below overflow; it is undone on the eigenvalues at the end.
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]!));
  const vt = identity(d); // rows of vt are the eigenvectors; rows are contiguous, columns of V would not be.
  if (scale === 0) return sortedResult(new Float64Array(d), vt, d, 0, 0);
  for (let i = 0; i < a.length; i++) a[i]! /= scale;

  const norm = Math.sqrt(sumOfSquares(a, d, true));
  let sweeps = 0;
  let relativeOff = Math.sqrt(sumOfSquares(a, d, false)) / norm;
  while (relativeOff > tolerance) {
    if (sweeps === maxSweeps) {
      throw new Error(
        `${caller}: Jacobi did not converge for d = ${d} after ${sweeps} sweeps: ` +
          `off(A)/‖A‖_F = ${relativeOff.toExponential(3)} > tolerance ${tolerance}`,
      );
    }
    for (let p = 0; p < d - 1; p++) for (let q = p + 1; q < d; q++) rotate(a, vt, d, p, q);
    sweeps++;
    relativeOff = Math.sqrt(sumOfSquares(a, d, false)) / norm;
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = a[i * d + i]! * scale;
  return sortedResult(values, vt, d, sweeps, relativeOff);
}

function symmetricPart(matrix: ArrayLike<number>, d: number, caller: string): Float64Array {
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const value = matrix[i * d + j]!;
      if (!Number.isFinite(value)) throw new Error(`${caller}: matrix entry (${i}, ${j}) of [${d}, ${d}] is ${value}`);
      a[i * d + j] = i === j ? value : 0.5 * (value + matrix[j * d + i]!);
    }
  }
  return a;
}

function identity(d: number): Float64Array {
  const m = new Float64Array(d * d);
  for (let i = 0; i < d; i++) m[i * d + i] = 1;
  return m;
}

function sumOfSquares(a: Float64Array, d: number, withDiagonal: boolean): number {
  let sum = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) if (withDiagonal || i !== j) sum += a[i * d + j]! ** 2;
  }
  return sum;
}

/**
 * A ← JᵀAJ with the rotation in the (p, q) plane that zeroes a_pq (Golub & Van Loan's symmetric Schur step); Vᵀ ← JᵀVᵀ.
 */
function rotate(a: Float64Array, vt: Float64Array, d: number, p: number, q: number): void {
  const apq = a[p * d + q]!;
  if (apq === 0) return;
  const app = a[p * d + p]!;
  const aqq = a[q * d + q]!;
  const tau = (aqq - app) / (2 * apq);
  // The smaller root of t² + 2τt − 1 = 0, so that |θ| ≤ π/4; hypot avoids overflow for huge τ.
  const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.hypot(1, tau));
  const c = 1 / Math.hypot(1, t);
  const s = t * c;
  for (let k = 0; k < d; k++) {
    if (k === p || k === q) continue;
    const akp = a[k * d + p]!;
    const akq = a[k * d + q]!;
    const newKp = c * akp - s * akq;
    const newKq = s * akp + c * akq;
    a[k * d + p] = newKp;
    a[p * d + k] = newKp;
    a[k * d + q] = newKq;
    a[q * d + k] = newKq;
  }
  a[p * d + p] = app - t * apq;
  a[q * d + q] = aqq + t * apq;
  a[p * d + q] = 0;
  a[q * d + p] = 0;
  const rowP = p * d;
  const rowQ = q * d;
  for (let k = 0; k < d; k++) {
    const vp = vt[rowP + k]!;
    const vq = vt[rowQ + k]!;
    vt[rowP + k] = c * vp - s * vq;
    vt[rowQ + k] = s * vp + c * vq;
  }
}

function sortedResult(
  values: Float64Array,
  vt: Float64Array,
  d: number,
  sweeps: number,
  relativeOff: number,
): JacobiResult {
  const order = Array.from({ length: d }, (_, i) => i).sort((i, j) => values[i]! - values[j]!);
  const sortedValues = new Float64Array(d);
  const vectors = new Float64Array(d * d);
  order.forEach((source, column) => {
    sortedValues[column] = values[source]!;
    for (let k = 0; k < d; k++) vectors[k * d + column] = vt[source * d + k]!;
  });
  return { values: sortedValues, vectors, sweeps, relativeOffDiagonal: relativeOff };
}
