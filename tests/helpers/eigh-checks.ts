/** The accuracy checks every float64 CPU eigensolver must pass on a covariance-like matrix with known eigenvalues. */
import { expect } from 'vitest';
import type { Backend } from '../../src/linalg/backend';
import { covarianceLike, eigenResiduals, maxAbsDifference, mulberry32, type SpectrumKind } from './matrices';

export async function expectFloat64Eigh(backend: Backend, seed: number, d: number, kind: SpectrumKind): Promise<void> {
  const { matrix, eigenvalues } = covarianceLike(mulberry32(seed), d, kind, 3.5);
  const eigen = await backend.eigh(backend.upload(matrix, [d, d]));
  const values = await backend.read(eigen.values);
  const vectors = await backend.read(eigen.vectors);
  const { orthogonality, relativeReconstruction } = eigenResiduals(matrix, values, vectors);
  expect(orthogonality).toBeLessThanOrEqual(1e-12);
  expect(relativeReconstruction).toBeLessThanOrEqual(1e-12);
  for (let i = 1; i < d; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]!);
  // Perturbation bound for symmetric matrices (a backward-stable solver): |λ_i − λ̂_i| ≤ ‖E‖_2 ≲ eps·‖A‖.
  expect(maxAbsDifference(values, eigenvalues)).toBeLessThanOrEqual(1e-12 * 3.5);
  expect(eigen.relativeOffDiagonal).toBeLessThanOrEqual(1e-14);
}
