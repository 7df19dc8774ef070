import { describe, expect, test } from 'vitest';
import { cpuBackend } from '../../src/linalg/cpu/backend';
import { jacobiEigh } from '../../src/linalg/cpu/jacobi';
import { covarianceLike, eigenResiduals, mulberry32, randomMatrix, type SpectrumKind } from '../helpers/matrices';
import { expectFloat64Eigh } from '../helpers/eigh-checks';

const backend = cpuBackend();

describe('CPU float64 Jacobi eigh', () => {
  const kinds: SpectrumKind[] = ['spread', 'clustered', 'rank-deficient'];
  for (const kind of kinds) {
    for (const d of [1, 2, 7, 33, 130]) {
      test(`${kind} spectrum, d = ${d}: float64 residuals and the known eigenvalues`, async () => {
        await expectFloat64Eigh(backend, d * 31 + kind.length, d, kind);
      });
    }
  }

  test('an indefinite random symmetric matrix: eigenvectors satisfy A q = λ q', () => {
    const d = 33;
    const raw = randomMatrix(mulberry32(7), d, d);
    const { values, vectors, sweeps } = jacobiEigh(raw, d);
    expect(sweeps).toBeGreaterThan(0);
    expect(values[0]).toBeLessThan(0);
    const symmetric = raw.map((_, k) => 0.5 * (raw[k]! + raw[(k % d) * d + Math.floor(k / d)]!));
    expect(eigenResiduals(symmetric, values, vectors).relativeReconstruction).toBeLessThanOrEqual(1e-13);
    for (let j = 0; j < d; j++) {
      for (let i = 0; i < d; i++) {
        let aq = 0;
        for (let k = 0; k < d; k++) aq += symmetric[i * d + k]! * vectors[k * d + j]!;
        expect(Math.abs(aq - values[j]! * vectors[i * d + j]!)).toBeLessThanOrEqual(1e-12);
      }
    }
  });

  test('the zero matrix gives zero eigenvalues and the identity, in zero sweeps', () => {
    const { values, vectors, sweeps } = jacobiEigh(new Float64Array(9), 3);
    expect([...values]).toEqual([0, 0, 0]);
    expect([...vectors]).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(sweeps).toBe(0);
  });

  test('huge and tiny scales do not overflow or underflow (the input is scaled first)', () => {
    for (const scale of [1e200, 1e-200]) {
      const { matrix, eigenvalues } = covarianceLike(mulberry32(3), 7, 'spread', scale);
      const { values } = jacobiEigh(matrix, 7);
      for (let i = 0; i < 7; i++) expect(Math.abs(values[i]! - eigenvalues[i]!)).toBeLessThanOrEqual(1e-12 * scale);
    }
  });

  test('non-convergence throws an error naming d, the sweeps and the residual', async () => {
    const { matrix } = covarianceLike(mulberry32(5), 33, 'spread');
    await expect(backend.eigh(backend.upload(matrix, [33, 33]), { maxSweeps: 1 })).rejects.toThrow(
      /CpuBackend\.eigh: Jacobi did not converge for d = 33 after 1 sweeps: off\(A\)\/‖A‖_F = \S+ > tolerance 1e-14/,
    );
  });

  test('bad input: non-square shape, NaN entry, bad options', async () => {
    await expect(backend.eigh(backend.zeros([3, 4]))).rejects.toThrow(
      /CpuBackend\.eigh: matrix has shape \[3, 4\], expected \[d, d\]/,
    );
    const withNaN = new Float64Array(4);
    withNaN[3] = NaN;
    await expect(backend.eigh(backend.upload(withNaN, [2, 2]))).rejects.toThrow(/entry \(1, 1\) of \[2, 2\] is NaN/);
    expect(() => jacobiEigh(new Float64Array(4), 2, { tolerance: 0 })).toThrow(/tolerance must be > 0/);
  });
});
