/** Test matrices and accuracy figures for the eigendecomposition cases of the kernel benchmark (float64 on the CPU). */
import { orthonormalColumns } from '../src/linalg/cpu/dense';

/**
 * A symmetric d×d matrix like a real covariance: random orthonormal basis, eigenvalues spread over `decades` orders of
 * magnitude.
 */
export function covarianceLikeMatrix(d: number, decades: number): Float64Array {
  const basis = randomOrthonormal(d);
  const values = Float64Array.from({ length: d }, (_, i) => 10 ** (-decades * (i / Math.max(1, d - 1))));
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      let sum = 0;
      for (let k = 0; k < d; k++) sum += basis[i * d + k]! * values[k]! * basis[j * d + k]!;
      out[i * d + j] = sum;
      out[j * d + i] = sum;
    }
  }
  return out;
}

/** ‖QᵀQ − I‖_max and ‖A − QΛQᵀ‖_F / ‖A‖_F for eigenvectors as the columns of q [d, d]. */
export function eighAccuracy(
  a: Float64Array,
  values: Float64Array,
  q: Float64Array,
  d: number,
): Record<string, number> {
  let orthogonality = 0;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += q[k * d + i]! * q[k * d + j]!;
      orthogonality = Math.max(orthogonality, Math.abs(dot - (i === j ? 1 : 0)));
    }
  }
  let residual = 0;
  let norm = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let sum = 0;
      for (let k = 0; k < d; k++) sum += q[i * d + k]! * values[k]! * q[j * d + k]!;
      residual += (a[i * d + j]! - sum) ** 2;
      norm += a[i * d + j]! ** 2;
    }
  }
  return { orthogonalityMax: orthogonality, relativeResidual: Math.sqrt(residual / norm) };
}

function randomOrthonormal(d: number): Float64Array {
  let state = 12345;
  const m = Float64Array.from({ length: d * d }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
  return orthonormalColumns(m, d, { caller: 'covarianceLikeMatrix' });
}
