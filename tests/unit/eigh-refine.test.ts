import { expect, test } from 'vitest';
import { refineEigenCpu } from '../../src/linalg/cpu/refine';
import {
  covarianceLike,
  eigenResiduals,
  maxAbsDifference,
  mulberry32,
  normal,
  type SpectrumKind,
} from '../helpers/matrices';

for (const kind of ['spread', 'clustered', 'rank-deficient'] as SpectrumKind[]) {
  test(`refinement turns a float32-grade eigenbasis (${kind}, d = 130) into a float64 one`, () => {
    const d = 130;
    const rng = mulberry32(kind.length * 17);
    const { matrix, eigenvalues, vectors } = covarianceLike(rng, d, kind);
    // A basis as float32 Jacobi leaves it: perturbed by ~1e-6, rounded to float32, columns shuffled.
    const order = Array.from({ length: d }, (_, i) => i).sort(() => rng() - 0.5);
    const rough = new Float32Array(d * d);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) rough[i * d + j] = vectors[i * d + order[j]!]! + 1e-6 * normal(rng);
    const before = eigenResiduals(matrix, eigenvalues, Float64Array.from(rough));
    expect(before.orthogonality).toBeGreaterThan(1e-7);

    const refined = refineEigenCpu(matrix, d, rough);
    const after = eigenResiduals(matrix, refined.values, refined.vectors);
    expect(after.orthogonality).toBeLessThanOrEqual(1e-12);
    expect(after.relativeReconstruction).toBeLessThanOrEqual(1e-12);
    expect(maxAbsDifference(refined.values, eigenvalues)).toBeLessThanOrEqual(1e-12);
    // Nearly diagonal already: a few sweeps, more for the clusters (their 1e-9-wide blocks are mixed at the 1e-6
    // level).
    expect(refined.sweeps).toBeLessThanOrEqual(kind === 'clustered' ? 10 : 4);
  });
}

test('refinement refuses dependent or mis-sized vectors', () => {
  const { matrix } = covarianceLike(mulberry32(2), 3, 'spread');
  expect(() => refineEigenCpu(matrix, 3, [1, 1, 0, 0, 0, 0, 0, 0, 1])).toThrow(
    /column 1 of vectors is \(nearly\) dependent/,
  );
  expect(() => refineEigenCpu(matrix, 3, [1, 0, 0, 1])).toThrow(
    /refineEigenCpu: vectors has 4 values, expected \[3, 3\]/,
  );
});
