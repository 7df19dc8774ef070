/**
 * Dense float64 Cholesky factorisation and solve for small symmetric positive definite matrices (≤ a few hundred
 * rows): the teaching lab's exact influence and the Newton step rule of the training loop (src/train/newton.ts).
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
