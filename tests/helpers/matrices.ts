/**
 * Seeded random inputs for numerical tests, in float64: plain random matrices, random orthogonal matrices, and
 * symmetric matrices shaped like real covariance factors (spread spectra, clusters, rank deficiency) with their exact
 * eigenvalues known by construction, A = Q diag(λ) Qᵀ.
 */

import { seededUniform } from '../../src/core/random';

export type Rng = () => number;

/** mulberry32: a small, fast, seeded generator of uniform numbers in [0, 1) (the one the model initialisers use). */
export const mulberry32: (seed: number) => Rng = seededUniform;

/** Standard normal samples (Box–Muller). */
export function normal(rng: Rng): number {
  const u = 1 - rng(); // in (0, 1], so the log is finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Row-major [rows, cols] matrix of standard normal entries. */
export function randomMatrix(rng: Rng, rows: number, cols: number): Float64Array {
  const m = new Float64Array(rows * cols);
  for (let i = 0; i < m.length; i++) m[i] = normal(rng);
  return m;
}

/** Uniform 0/1 mask of the given length with roughly the given fraction of ones (at least one 1 when length > 0). */
export function randomMask(rng: Rng, length: number, keep = 0.7): Float64Array {
  const m = new Float64Array(length);
  for (let i = 0; i < length; i++) m[i] = rng() < keep ? 1 : 0;
  if (length > 0) m[Math.floor(rng() * length)] = 1;
  return m;
}

/** out[m, n] = a[m, k] · b[k, n]. */
export function matmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < k; l++) {
      const ail = a[i * k + l]!;
      for (let j = 0; j < n; j++) out[i * n + j]! += ail * b[l * n + j]!;
    }
  }
  return out;
}

export function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

export function frobenius(a: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! ** 2;
  return Math.sqrt(sum);
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDifference: lengths ${a.length} and ${b.length} differ`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

export function maxAbs(a: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]!));
  return max;
}

/**
 * Haar-distributed random orthogonal [d, d] matrix: Householder QR of a Gaussian matrix, Q = H_1 ⋯ H_{d−1}, with the
 * signs of R's diagonal folded in. Orthogonal to float64 rounding (‖QᵀQ − I‖ ~ 1e-15).
 */
export function randomOrthogonal(rng: Rng, d: number): Float64Array {
  const a = randomMatrix(rng, d, d);
  const q = new Float64Array(d * d);
  for (let i = 0; i < d; i++) q[i * d + i] = 1;
  const v = new Float64Array(d);
  for (let k = 0; k < d - 1; k++) {
    let norm = 0;
    for (let i = k; i < d; i++) norm += a[i * d + k]! ** 2;
    norm = Math.sqrt(norm);
    const alpha = a[k * d + k]! >= 0 ? -norm : norm;
    v.fill(0);
    for (let i = k; i < d; i++) v[i] = a[i * d + k]!;
    v[k]! -= alpha;
    let vv = 0;
    for (let i = k; i < d; i++) vv += v[i]! ** 2;
    if (vv === 0) continue;
    // A ← H A and Q ← Q H with H = I − 2 v vᵀ / vᵀv.
    for (let j = 0; j < d; j++) {
      let dot = 0;
      for (let i = k; i < d; i++) dot += v[i]! * a[i * d + j]!;
      const f = (2 * dot) / vv;
      for (let i = k; i < d; i++) a[i * d + j]! -= f * v[i]!;
    }
    for (let i = 0; i < d; i++) {
      let dot = 0;
      for (let j = k; j < d; j++) dot += q[i * d + j]! * v[j]!;
      const f = (2 * dot) / vv;
      for (let j = k; j < d; j++) q[i * d + j]! -= f * v[j]!;
    }
  }
  // Q R = A with R's diagonal signs made positive gives the Haar measure.
  for (let j = 0; j < d; j++) {
    if (a[j * d + j]! < 0) for (let i = 0; i < d; i++) q[i * d + j] = -q[i * d + j]!;
  }
  return q;
}

/** A = Q diag(λ) Qᵀ, symmetrised exactly (a_ij and a_ji are the same float). */
export function symmetricFromSpectrum(q: Float64Array, eigenvalues: ArrayLike<number>): Float64Array {
  const d = eigenvalues.length;
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      let sum = 0;
      for (let k = 0; k < d; k++) sum += q[i * d + k]! * eigenvalues[k]! * q[j * d + k]!;
      a[i * d + j] = sum;
      a[j * d + i] = sum;
    }
  }
  return a;
}

export type SpectrumKind = 'spread' | 'clustered' | 'rank-deficient';

export interface CovarianceLike {
  readonly matrix: Float64Array;
  /** The spectrum the matrix was built from, ascending. */
  readonly eigenvalues: Float64Array;
  readonly vectors: Float64Array;
}

/**
 * Symmetric positive semi-definite [d, d] matrices like real covariance factors:
 *  - 'spread': eigenvalues log-uniform over 8 orders of magnitude, 1e-8 · scale … scale;
 *  - 'clustered': four clusters (scale, 1e-2, 1e-4, 1e-6 · scale) whose members differ by relative 1e-9;
 *  - 'rank-deficient': rank ⌈d/3⌉ with eigenvalues in [1e-3, 1] · scale, the rest exactly zero.
 */
export function covarianceLike(rng: Rng, d: number, kind: SpectrumKind, scale = 1): CovarianceLike {
  const eigenvalues = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    const position = d === 1 ? 1 : i / (d - 1);
    if (kind === 'spread') eigenvalues[i] = scale * 10 ** (-8 * (1 - position));
    else if (kind === 'clustered') {
      const cluster = Math.min(3, Math.floor((4 * i) / d));
      eigenvalues[i] = scale * 10 ** (-2 * (3 - cluster)) * (1 + 1e-9 * rng());
    } else {
      const rank = Math.ceil(d / 3);
      eigenvalues[i] = i < d - rank ? 0 : scale * 10 ** (-3 * rng());
    }
  }
  eigenvalues.sort();
  const vectors = randomOrthogonal(rng, d);
  return { matrix: symmetricFromSpectrum(vectors, eigenvalues), eigenvalues, vectors };
}

/** Residuals of an eigendecomposition A ≈ Q diag(λ) Qᵀ: max |QᵀQ − I| and ‖A − QΛQᵀ‖_F / ‖A‖_F. */
export function eigenResiduals(
  a: ArrayLike<number>,
  values: ArrayLike<number>,
  vectors: ArrayLike<number>,
): { orthogonality: number; relativeReconstruction: number } {
  const d = values.length;
  const qtq = matmul(transpose(vectors, d, d), vectors, d, d, d);
  for (let i = 0; i < d; i++) qtq[i * d + i]! -= 1;
  const q = Float64Array.from(vectors);
  const reconstructed = symmetricFromSpectrum(q, values);
  const norm = frobenius(a);
  const difference = frobenius(reconstructed.map((value, i) => value - a[i]!));
  return { orthogonality: maxAbs(qtq), relativeReconstruction: norm === 0 ? difference : difference / norm };
}
