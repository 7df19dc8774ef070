/**
 * Dense float64 linear algebra for exactness tests: the EK-FAC matrix materialised, dense solves, Kronecker
 * products and rank correlations. Written plainly (no tricks), independent of src/linalg.
 */
import { cholesky, choleskySolveFactor } from '../../src/teach/dense';
import type { HostMatrix } from '../../src/core/schema';

/** Row-major [rows × cols] product. */
export function matmul(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  rows: number,
  inner: number,
  cols: number,
): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < inner; k++) {
      const aik = a[i * inner + k];
      for (let j = 0; j < cols; j++) out[i * cols + j] += aik * b[k * cols + j];
    }
  }
  return out;
}

export function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j];
  return out;
}

/** a ⊗ b for square a [p × p], b [q × q]. */
export function kron(a: ArrayLike<number>, p: number, b: ArrayLike<number>, q: number): Float64Array {
  const n = p * q;
  const out = new Float64Array(n * n);
  for (let i = 0; i < p; i++)
    for (let j = 0; j < p; j++)
      for (let k = 0; k < q; k++)
        for (let l = 0; l < q; l++) out[(i * q + k) * n + (j * q + l)] = a[i * p + j] * b[k * q + l];
  return out;
}

/** Λ[i, j] = a[i] · b[j] as a [len a, len b] host matrix (K-FAC's λ_S ⊗ λ_A). */
export function outer(a: ArrayLike<number>, b: ArrayLike<number>): HostMatrix {
  const data = new Float64Array(a.length * b.length);
  for (let i = 0; i < a.length; i++) for (let j = 0; j < b.length; j++) data[i * b.length + j] = a[i] * b[j];
  return { shape: [a.length, b.length], data };
}

/**
 * The EK-FAC matrix of one layer in the row-major vec of [dOut, dIn'] (index i·dIn' + j):
 * (Q_S ⊗ Q_A) diag(vec Λ + δ) (Q_S ⊗ Q_A)ᵀ, since vec_r(Q_Sᵀ G Q_A) = (Q_S ⊗ Q_A)ᵀ vec_r(G).
 */
export function ekfacMatrix(qS: HostMatrix, qA: HostMatrix, lambda: HostMatrix, damping: number): Float64Array {
  const dOut = qS.shape[0];
  const dIn = qA.shape[0];
  const basis = kron(qS.data, dOut, qA.data, dIn);
  const n = dOut * dIn;
  const scaled = new Float64Array(n * n);
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) scaled[r * n + c] = basis[r * n + c] * (lambda.data[c] + damping);
  return matmul(scaled, transpose(basis, n, n), n, n, n);
}

/** Solves M x = b for a symmetric positive definite M by Cholesky (the teaching lab's factorisation). */
export function choleskySolve(m: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  return choleskySolveFactor(cholesky(m, n), b, n);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** ‖a − b‖_F / ‖b‖_F. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relativeError: lengths ${a.length} and ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** max_i |a_i − b_i| / max_i |b_i|. */
export function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxRelativeError: lengths ${a.length} and ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

// Correlations come from the product's one implementation (src/core/stats.ts, tested there).
export { pearson, ranks, spearman } from '../../src/core/stats';

/** Rows [r] of a row-major [rows × cols] matrix. */
export function row(data: ArrayLike<number>, r: number, cols: number): Float64Array {
  return Float64Array.from({ length: cols }, (_, c) => data[r * cols + c]);
}
