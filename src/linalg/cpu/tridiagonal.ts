/**
 * Symmetric eigendecomposition in float64 for large d: Householder tridiagonalisation, then the implicit QL algorithm
 * with Wilkinson shifts on the tridiagonal matrix, accumulating the rotations; then the Householder reflectors are
 * applied to the tridiagonal eigenvectors. O(d³) with a small constant (about 9 d³ flops with vectors, against roughly
 * 4 d³ per Jacobi sweep and 6–10 sweeps), so it replaces Jacobi in the CPU backend above a size threshold (eigh.ts).
 *
 * Layout: the work matrix is row-major and symmetric, so every update below reads and writes rows at unit stride;
 * eigenvectors are kept as ROWS of Zᵀ for the same reason and transposed once at the end.
 * Absolute accuracy is backward-stable (‖A − QΛQᵀ‖ ≈ eps·‖A‖); Jacobi's higher relative accuracy for tiny eigenvalues
 * is not preserved, which is why small matrices keep Jacobi.
 */
import { applyReflectorsToRows } from './reflectors';

export interface TridiagonalOptions {
  /** Names the caller in error messages. */
  readonly caller?: string;
  /** QL iterations allowed per eigenvalue before giving up (each normally needs 1–3). */
  readonly maxIterationsPerValue?: number;
}

export interface TridiagonalResult {
  /** Ascending. */
  readonly values: Float64Array;
  /** Row-major [d, d]; column i is the eigenvector of values[i]. */
  readonly vectors: Float64Array;
  /** Implicit QL iterations over all eigenvalues. */
  readonly iterations: number;
  /** √(Σ deflated off-diagonals²) / ‖A‖_F: what deflation dropped, the analogue of Jacobi's off(A)/‖A‖_F. */
  readonly relativeOffDiagonal: number;
}

/** Eigendecomposition of the symmetric part (A + Aᵀ)/2 of a row-major [d, d] matrix. The input is not modified. */
export function tridiagonalEigh(
  matrix: ArrayLike<number>,
  d: number,
  options: TridiagonalOptions = {},
): TridiagonalResult {
  const caller = options.caller ?? 'tridiagonalEigh';
  const maxIterations = options.maxIterationsPerValue ?? 60;
  if (matrix.length !== d * d) throw new Error(`${caller}: ${matrix.length} values do not form a [${d}, ${d}] matrix`);
  const a = new Float64Array(d * d);
  let scale = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const value = matrix[i * d + j]!;
      if (!Number.isFinite(value)) throw new Error(`${caller}: matrix entry (${i}, ${j}) of [${d}, ${d}] is ${value}`);
      const symmetric = i === j ? value : 0.5 * (value + matrix[j * d + i]!);
      a[i * d + j] = symmetric;
      scale = Math.max(scale, Math.abs(symmetric));
    }
  }
  const zt = new Float64Array(d * d);
  for (let i = 0; i < d; i++) zt[i * d + i] = 1;
  if (scale === 0) return sorted(new Float64Array(d), zt, d, 0, 0);
  // Scaling by max|a_ij| keeps sums of squares clear of overflow and underflow; undone on the eigenvalues.
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    a[i]! /= scale;
    norm += a[i]! ** 2;
  }
  norm = Math.sqrt(norm);
  const diagonal = new Float64Array(d);
  const offDiagonal = new Float64Array(d);
  const betas = new Float64Array(d);
  tridiagonalise(a, d, diagonal, offDiagonal, betas);
  const { iterations, dropped } = implicitQl(diagonal, offDiagonal, zt, d, maxIterations, caller);
  // Eigenvectors of A are Q z with Q = H_0 H_1 ⋯ H_{d−3}; the reflectors' vectors sit in the rows of a.
  applyReflectorsToRows(zt, d, a, betas);
  for (let i = 0; i < d; i++) diagonal[i]! *= scale;
  return sorted(diagonal, zt, d, iterations, Math.sqrt(dropped) / norm);
}

/**
 * Householder reduction Qᵀ A Q = T, in place. Step k annihilates row k beyond the superdiagonal with
 * H_k = I − β_k v vᵀ (v supported on k+1 … d−1, stored as computed, not normalised), and applies it to the trailing
 * block as the symmetric rank-2 update A ← A − v wᵀ − w vᵀ with p = β A v, w = p − (β vᵀp / 2) v. v is left in row k
 * (columns k+1 …), β_k in betas[k].
 *
 * One pass over the trailing block per step instead of two: the update of step k is fused with the matrix-vector
 * product of step k+1. Row k+1 is updated first, its reflector v' formed, and then each later row, just updated and
 * still in cache, is dotted with v' (p'_i = β' A'_i· v'). The trailing block no longer fits in cache above d ≈ 500, so
 * the memory traffic, not the flops, set the time; the arithmetic and its order are those of the two-pass form.
 */
function tridiagonalise(
  a: Float64Array,
  d: number,
  diagonal: Float64Array,
  offDiagonal: Float64Array,
  betas: Float64Array,
): void {
  let p = new Float64Array(d);
  let pNext = new Float64Array(d);
  if (d > 2) {
    householderVector(a, d, 0, diagonal, offDiagonal, betas);
    for (let i = 1; i < d; i++) p[i] = betas[0]! * dotFrom(a, i * d, 0, 1, d);
  }
  for (let k = 0; k < d - 2; k++) {
    const row = k * d;
    const beta = betas[k]!;
    // p ← w = p − (β vᵀp / 2) v.
    let vp = 0;
    for (let i = k + 1; i < d; i++) vp += a[row + i]! * p[i]!;
    const half = 0.5 * beta * vp;
    for (let i = k + 1; i < d; i++) p[i]! -= half * a[row + i]!;
    updateRow(a, d, k, k + 1, p);
    const next = k + 1 < d - 2;
    if (next) householderVector(a, d, k + 1, diagonal, offDiagonal, betas);
    const nextRow = (k + 1) * d;
    const nextBeta = next ? betas[k + 1]! : 0;
    for (let i = k + 2; i < d; i++) {
      const ri = i * d;
      const vi = a[row + i]!;
      const wi = p[i]!;
      a[ri + k + 1]! -= vi * p[k + 1]! + wi * a[row + k + 1]!;
      let sum = 0;
      for (let j = k + 2; j < d; j++) {
        const updated = a[ri + j]! - (vi * p[j]! + wi * a[row + j]!);
        a[ri + j] = updated;
        sum += updated * a[nextRow + j]!;
      }
      pNext[i] = nextBeta * sum;
    }
    [p, pNext] = [pNext, p];
  }
  if (d >= 2) {
    diagonal[d - 2] = a[(d - 2) * d + d - 2]!;
    offDiagonal[d - 2] = a[(d - 2) * d + d - 1]!;
  }
  if (d >= 1) diagonal[d - 1] = a[d * d - 1]!;
  offDiagonal[d - 1] = 0;
  // Row d−2 and d−1 carry no reflector.
  if (d >= 2) betas[d - 2] = 0;
  if (d >= 1) betas[d - 1] = 0;
}

/** Σ_{j ≥ from} a[rowStart + j] · a[vectorRow·d + j]. */
function dotFrom(a: Float64Array, rowStart: number, vectorRow: number, from: number, d: number): number {
  const v = vectorRow * d;
  let sum = 0;
  for (let j = from; j < d; j++) sum += a[rowStart + j]! * a[v + j]!;
  return sum;
}

/** Row i, columns k+1 …, of the trailing block ← itself − v_i wᵀ − w_i vᵀ (v in row k, w in `w`). */
function updateRow(a: Float64Array, d: number, k: number, i: number, w: Float64Array): void {
  const row = k * d;
  const ri = i * d;
  const vi = a[row + i]!;
  const wi = w[i]!;
  for (let j = k + 1; j < d; j++) a[ri + j]! -= vi * w[j]! + wi * a[row + j]!;
}

/**
 * The reflector of step k from row k (already updated by every earlier step): d_k, e_k, β_k, and v in row k. A row
 * that is already tridiagonal gets H_k = I (β_k = 0, v = 0).
 */
function householderVector(
  a: Float64Array,
  d: number,
  k: number,
  diagonal: Float64Array,
  offDiagonal: Float64Array,
  betas: Float64Array,
): void {
  const row = k * d;
  diagonal[k] = a[row + k]!;
  let sigma = 0;
  for (let j = k + 1; j < d; j++) sigma += a[row + j]! ** 2;
  const x0 = a[row + k + 1]!;
  const length = Math.sqrt(sigma);
  if (sigma === 0 || sigma === x0 * x0) {
    offDiagonal[k] = x0;
    betas[k] = 0;
    for (let j = k + 1; j < d; j++) a[row + j] = 0;
    return;
  }
  // alpha takes the sign opposite to x0 so v_0 = x0 − alpha does not cancel.
  const alpha = x0 >= 0 ? -length : length;
  a[row + k + 1] = x0 - alpha;
  const vv = sigma - x0 * x0 + (x0 - alpha) ** 2;
  betas[k] = 2 / vv;
  offDiagonal[k] = alpha;
}

/**
 * Implicit QL with Wilkinson shifts on the tridiagonal (diagonal, offDiagonal), rotating the rows of zt. For each l,
 * an off-diagonal is negligible when |e_m| ≤ eps (|d_m| + |d_{m+1}|) or |e_m| ≤ eps ‖T‖; the chase from m up to l is
 * one implicit step with the shift taken as the eigenvalue of the leading 2 × 2 block nearer d_l.
 */
function implicitQl(
  diagonal: Float64Array,
  offDiagonal: Float64Array,
  zt: Float64Array,
  d: number,
  maxIterations: number,
  caller: string,
): { iterations: number; dropped: number } {
  const eps = Number.EPSILON;
  // Relative-only deflation stalls on clusters of (numerically) zero eigenvalues, where neighbours and off-diagonal are
  // all rounding-sized: an off-diagonal below eps·‖T‖ is also negligible (the backward error stays eps·‖T‖).
  let norm = 0;
  for (let i = 0; i < d; i++)
    norm = Math.max(
      norm,
      Math.abs(diagonal[i]!) + Math.abs(offDiagonal[i]!) + (i > 0 ? Math.abs(offDiagonal[i - 1]!) : 0),
    );
  const absolute = eps * norm;
  let total = 0;
  let dropped = 0;
  for (let l = 0; l < d; l++) {
    let iterations = 0;
    for (;;) {
      let m = l;
      while (m < d - 1) {
        const size = Math.abs(diagonal[m]!) + Math.abs(diagonal[m + 1]!);
        const e = Math.abs(offDiagonal[m]!);
        if (e <= eps * size || e <= absolute) break;
        m++;
      }
      if (m === l) break;
      if (iterations === maxIterations) {
        throw new Error(
          `${caller}: implicit QL did not converge for eigenvalue ${l} of d = ${d} after ${iterations} iterations`,
        );
      }
      iterations++;
      total++;
      // The negligible e_m that ended the scan is about to be overwritten: count it as dropped.
      if (m < d - 1) dropped += offDiagonal[m]! ** 2;
      let g = (diagonal[l + 1]! - diagonal[l]!) / (2 * offDiagonal[l]!);
      let r = Math.hypot(g, 1);
      g = diagonal[m]! - diagonal[l]! + offDiagonal[l]! / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      let underflow = false;
      for (; i >= l; i--) {
        const f = s * offDiagonal[i]!;
        const b = c * offDiagonal[i]!;
        r = Math.hypot(f, g);
        offDiagonal[i + 1] = r;
        if (r === 0) {
          // The rotation would be undefined: deflate here and restart the sweep.
          diagonal[i + 1]! -= p;
          offDiagonal[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = diagonal[i + 1]! - p;
        r = (diagonal[i]! - g) * s + 2 * c * b;
        p = s * r;
        diagonal[i + 1] = g + p;
        g = c * r - b;
        rotateRows(zt, d, i, s, c);
      }
      if (underflow) continue;
      diagonal[l]! -= p;
      offDiagonal[l] = g;
      offDiagonal[m] = 0;
    }
    dropped += offDiagonal[l]! ** 2;
    offDiagonal[l] = 0;
  }
  return { iterations: total, dropped };
}

/** Rows i and i+1 of zt ← the plane rotation of one QL step (zt's rows are Z's columns). */
function rotateRows(zt: Float64Array, d: number, i: number, s: number, c: number): void {
  const ri = i * d;
  const rj = ri + d;
  for (let k = 0; k < d; k++) {
    const zi = zt[ri + k]!;
    const zj = zt[rj + k]!;
    zt[rj + k] = s * zi + c * zj;
    zt[ri + k] = c * zi - s * zj;
  }
}

function sorted(
  values: Float64Array,
  zt: Float64Array,
  d: number,
  iterations: number,
  relativeOff: number,
): TridiagonalResult {
  const order = Array.from({ length: d }, (_, i) => i).sort((i, j) => values[i]! - values[j]!);
  const sortedValues = new Float64Array(d);
  const vectors = new Float64Array(d * d);
  order.forEach((source, column) => {
    sortedValues[column] = values[source]!;
    for (let k = 0; k < d; k++) vectors[k * d + column] = zt[source * d + k]!;
  });
  return { values: sortedValues, vectors, iterations, relativeOffDiagonal: relativeOff };
}
