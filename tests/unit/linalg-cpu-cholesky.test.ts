/**
 * The dense float64 Cholesky (src/linalg/cpu/cholesky.ts) used by the lab's exact influence and the Newton step rule:
 * L Lᵀ reproduces M, the solve's residual is at rounding level, and a matrix that is not positive definite is refused
 * with its pivot named.
 */
import { describe, expect, it } from 'vitest';
import { cholesky, choleskySolveFactor } from '../../src/linalg/cpu/cholesky';
import { seededNormal, seededUniform } from '../../src/core/random';

/** M = B Bᵀ + n·I for a seeded Gaussian B: symmetric positive definite, condition number ~ a few. */
function spd(n: number, seed: number): Float64Array {
  const normal = seededNormal(seededUniform(seed));
  const b = Float64Array.from({ length: n * n }, () => normal());
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? n : 0;
      for (let k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
      m[i * n + j] = s;
    }
  return m;
}

describe('cholesky', () => {
  it('L Lᵀ = M and M x = b to 1e-12 relative (n = 1, 7, 40)', () => {
    for (const n of [1, 7, 40]) {
      const m = spd(n, n);
      const l = cholesky(m, n);
      let scale = 0;
      for (const v of m) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += l[i * n + k] * l[j * n + k];
          expect(Math.abs(s - m[i * n + j])).toBeLessThan(1e-12 * scale);
          if (j > i) expect(l[i * n + j]).toBe(0);
        }
      const b = Float64Array.from({ length: n }, (_, i) => Math.sin(i + 1));
      const x = choleskySolveFactor(l, b, n);
      for (let i = 0; i < n; i++) {
        let r = -b[i];
        for (let k = 0; k < n; k++) r += m[i * n + k] * x[k];
        expect(Math.abs(r)).toBeLessThan(1e-12 * scale);
      }
    }
  });

  it('refuses a matrix that is not positive definite, naming the pivot', () => {
    expect(() => cholesky([1, 2, 2, 1], 2)).toThrow('cholesky: [2 × 2] matrix is not positive definite at pivot 1');
  });
});
