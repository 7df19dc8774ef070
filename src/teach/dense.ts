/**
 * Dense float64 pieces the lab needs next to the engine: a Cholesky solver for the exact damped Gauss–Newton
 * influence and Newton steps, and the two correlations the lab reports (Pearson, Spearman with tied ranks averaged).
 */

/** Lower-triangular L with M = L Lᵀ for a symmetric positive definite [n × n] M; names the failing pivot. */
export function cholesky(m: ArrayLike<number>, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = m[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (!(s > 0)) throw new Error(`cholesky: [${n} × ${n}] matrix is not positive definite at pivot ${i} (${s})`);
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j];
      }
    }
  }
  return l;
}

/** Solves L Lᵀ x = b for a factor from cholesky(). */
export function choleskySolveFactor(l: Float64Array, b: ArrayLike<number>, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * y[k];
    y[i] = s / l[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * x[k];
    x[i] = s / l[i * n + i];
  }
  return x;
}

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

// Correlations: one implementation, the evaluation's (ties share their average rank; NaN for a constant side).
export { pearson, ranks, spearman } from '../eval/stats';
