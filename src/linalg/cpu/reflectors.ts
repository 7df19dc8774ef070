/**
 * Applying a sequence of Householder reflectors H_k = I − β_k v_k v_kᵀ from the right to the rows of a matrix,
 * as left by tridiagonalise (tridiagonal.ts): v_k in row k of `vectors`, supported on columns k+1 … d−1.
 */

/** rows ← rows · H_{d−3} ⋯ H_1 H_0, i.e. each row z becomes (H_0 H_1 ⋯ H_{d−3} zᵀ)ᵀ = (Q z)ᵀ. */
export function applyReflectorsToRows(rows: Float64Array, d: number, vectors: Float64Array, betas: Float64Array): void {
  for (let k = d - 3; k >= 0; k--) {
    const beta = betas[k]!;
    if (beta === 0) continue;
    const v = k * d;
    for (let r = 0; r < d; r++) {
      const row = r * d;
      let dot = 0;
      for (let j = k + 1; j < d; j++) dot += rows[row + j]! * vectors[v + j]!;
      const factor = beta * dot;
      if (factor === 0) continue;
      for (let j = k + 1; j < d; j++) rows[row + j]! -= factor * vectors[v + j]!;
    }
  }
}
