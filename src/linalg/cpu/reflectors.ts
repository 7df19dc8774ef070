/**
 * Applying the Householder reflectors H_k = I − β_k v_k v_kᵀ left by tridiagonalise (tridiagonal.ts) to the rows of a
 * matrix: v_k in row k of `vectors`, supported on columns k+1 … d−1 (entries left of k+1 are not part of it).
 *
 * One reflector at a time would be a matrix-vector product and a rank-1 update per reflector (2 d² flops each, at
 * memory speed). Instead BLOCK consecutive reflectors are merged into the compact WY form
 * H(u_1) H(u_2) ⋯ H(u_b) = I − U T Uᵀ (Schreiber & Van Loan; T upper triangular, b × b), so each block is two GEMMs.
 */
import { gemm } from './gemm';

const BLOCK = 32;

/** rows ← rows · H_{d−3} ⋯ H_1 H_0, i.e. each row z becomes (H_0 H_1 ⋯ H_{d−3} zᵀ)ᵀ = (Q z)ᵀ. */
export function applyReflectorsToRows(rows: Float64Array, d: number, vectors: Float64Array, betas: Float64Array): void {
  const last = d - 3;
  for (let k1 = last; k1 >= 0; k1 -= BLOCK) {
    const k0 = Math.max(0, k1 - BLOCK + 1);
    const count = k1 - k0 + 1;
    const first = k0 + 1; // the widest support in the block, v_{k0}'s
    const length = d - first;
    // u_r = v_{k1 − r} (r = 0 …): P = H_{k1} ⋯ H_{k0} = H(u_0) ⋯ H(u_{count−1}); stored as rows over columns first …
    const u = new Float64Array(count * length);
    const beta = new Float64Array(count);
    for (let r = 0; r < count; r++) {
      const k = k1 - r;
      beta[r] = betas[k]!;
      u.set(vectors.subarray(k * d + k + 1, (k + 1) * d), r * length + (k + 1 - first));
    }
    const t = compactWyFactor(u, beta, count, length);
    // rows[:, first:] ← rows[:, first:] − (rows[:, first:] U) T Uᵀ.
    const w = new Float64Array(d * count);
    gemm(
      d,
      count,
      length,
      { data: rows, offset: first, ld: d },
      { data: u, ld: length, transposed: true },
      { data: w, ld: count },
    );
    const wt = new Float64Array(d * count);
    gemm(d, count, count, { data: w, ld: count }, { data: t, ld: count }, { data: wt, ld: count });
    for (let i = 0; i < wt.length; i++) wt[i] = -wt[i]!;
    gemm(
      d,
      length,
      count,
      { data: wt, ld: count },
      { data: u, ld: length },
      { data: rows, offset: first, ld: d },
      { accumulate: true },
    );
  }
}

/**
 * T with H(u_0) ⋯ H(u_{b−1}) = I − U T Uᵀ (U's columns are the u_r, here the rows of u): T_rr = β_r and
 * T[0:r, r] = −β_r T[0:r, 0:r] (U[:, 0:r]ᵀ u_r), built column by column.
 */
function compactWyFactor(u: Float64Array, beta: Float64Array, count: number, length: number): Float64Array {
  const gram = new Float64Array(count * count);
  gemm(
    count,
    count,
    length,
    { data: u, ld: length },
    { data: u, ld: length, transposed: true },
    { data: gram, ld: count },
    { upperOnly: true },
  );
  const t = new Float64Array(count * count);
  for (let r = 0; r < count; r++) {
    t[r * count + r] = beta[r]!;
    for (let i = 0; i < r; i++) {
      let sum = 0;
      for (let j = i; j < r; j++) sum += t[i * count + j]! * gram[j * count + r]!;
      t[i * count + r] = -beta[r]! * sum;
    }
  }
  return t;
}
