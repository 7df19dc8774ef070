import { describe, expect, test } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { JACOBI_MAX_DIMENSION, symmetricEigen } from '../../src/linalg/cpu/eigh';
import { tridiagonalEigh } from '../../src/linalg/cpu/tridiagonal';
import { covarianceLike, maxAbsDifference, mulberry32, randomMatrix, type SpectrumKind } from '../helpers/matrices';
import { expectFloat64Eigh } from '../helpers/eigh-checks';

/** A CPU backend that never uses Jacobi, so every size exercises Householder + implicit QL. */
const backend = new CpuBackend({ jacobiMaxDimension: 0 });

describe('CPU float64 Householder tridiagonalisation + implicit QL (Wilkinson shifts)', () => {
  const kinds: SpectrumKind[] = ['spread', 'clustered', 'rank-deficient'];
  for (const kind of kinds) {
    for (const d of [1, 2, 7, 33, 130, 257, 512]) {
      test(`${kind} spectrum, d = ${d}: float64 residuals, ascending order and the known eigenvalues`, async () => {
        await expectFloat64Eigh(backend, d * 17 + kind.length, d, kind);
      });
    }
  }

  test('an indefinite random symmetric matrix (non-symmetric input: its symmetric part): A q = λ q', () => {
    const d = 130;
    const raw = randomMatrix(mulberry32(7), d, d);
    const { values, vectors, iterations } = tridiagonalEigh(raw, d);
    expect(iterations).toBeGreaterThan(0);
    expect(values[0]).toBeLessThan(0);
    const symmetric = raw.map((_, k) => 0.5 * (raw[k]! + raw[(k % d) * d + Math.floor(k / d)]!));
    for (let j = 0; j < d; j++) {
      for (let i = 0; i < d; i++) {
        let aq = 0;
        for (let k = 0; k < d; k++) aq += symmetric[i * d + k]! * vectors[k * d + j]!;
        expect(Math.abs(aq - values[j]! * vectors[i * d + j]!)).toBeLessThanOrEqual(1e-12);
      }
    }
  });

  test('already tridiagonal and diagonal inputs, the zero matrix', () => {
    const d = 33;
    const diagonal = new Float64Array(d * d);
    for (let i = 0; i < d; i++) diagonal[i * d + i] = d - i;
    const fromDiagonal = tridiagonalEigh(diagonal, d);
    expect([...fromDiagonal.values]).toEqual(Array.from({ length: d }, (_, i) => i + 1));
    const tridiagonal = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      tridiagonal[i * d + i] = 2;
      if (i + 1 < d) tridiagonal[i * d + i + 1] = tridiagonal[(i + 1) * d + i] = -1;
    }
    // The second-difference matrix: λ_k = 2 − 2 cos(kπ/(d+1)), k = 1 … d.
    const expected = Array.from({ length: d }, (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (d + 1)));
    expect(maxAbsDifference(tridiagonalEigh(tridiagonal, d).values, expected)).toBeLessThanOrEqual(1e-14);
    const zero = tridiagonalEigh(new Float64Array(9), 3);
    expect([...zero.values]).toEqual([0, 0, 0]);
    expect([...zero.vectors]).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });

  test('huge and tiny scales do not overflow or underflow (the input is scaled first)', () => {
    for (const scale of [1e200, 1e-200]) {
      const { matrix, eigenvalues } = covarianceLike(mulberry32(3), 33, 'spread', scale);
      const { values } = tridiagonalEigh(matrix, 33);
      for (let i = 0; i < 33; i++) expect(Math.abs(values[i]! - eigenvalues[i]!)).toBeLessThanOrEqual(1e-12 * scale);
    }
  });

  test('bad input names the caller: NaN entry, wrong length, non-convergence', async () => {
    const withNaN = new Float64Array(4);
    withNaN[3] = NaN;
    await expect(backend.eigh(backend.upload(withNaN, [2, 2]))).rejects.toThrow(
      /CpuBackend\.eigh: matrix entry \(1, 1\) of \[2, 2\] is NaN/,
    );
    expect(() => tridiagonalEigh(new Float64Array(5), 2)).toThrow(
      /tridiagonalEigh: 5 values do not form a \[2, 2\] matrix/,
    );
    const { matrix } = covarianceLike(mulberry32(9), 33, 'spread');
    expect(() => tridiagonalEigh(matrix, 33, { maxIterationsPerValue: 0 })).toThrow(
      /implicit QL did not converge for eigenvalue 0 of d = 33 after 0 iterations/,
    );
  });

  test('the CPU backend picks Jacobi up to JACOBI_MAX_DIMENSION and QL above', () => {
    const d = JACOBI_MAX_DIMENSION + 1;
    const { matrix } = covarianceLike(mulberry32(1), d, 'spread');
    const small = covarianceLike(mulberry32(1), JACOBI_MAX_DIMENSION, 'spread').matrix;
    // A Jacobi sweep limit of 1 cannot diagonalise either matrix: only the Jacobi path can fail with it.
    expect(() => symmetricEigen(small, JACOBI_MAX_DIMENSION, { maxSweeps: 1 })).toThrow(/Jacobi did not converge/);
    const large = symmetricEigen(matrix, d, { maxSweeps: 1 });
    expect(large.sweeps).toBeGreaterThanOrEqual(d - 1);
  });
});
