/**
 * Dense float64 pieces the lab needs next to the engine: a Cholesky solver for the exact damped Gauss–Newton
 * influence and Newton steps.
 * The correlations the lab reports are src/core/stats.ts's.
 */

export { cholesky, choleskySolveFactor } from '../linalg/cpu/cholesky';

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** M += w · v vᵀ for a symmetric [n × n] M. */
export function addOuter(m: Float64Array, v: ArrayLike<number>, w: number): void {
  const n = v.length;
  for (let i = 0; i < n; i++) {
    const vi = w * v[i];
    if (vi === 0) continue;
    for (let j = 0; j < n; j++) m[i * n + j] += vi * v[j];
  }
}
