/** Small float64 dense kernels on row-major arrays, shared by the CPU backend's methods. */

/** out[m, n] = a[m, k] · b[k, n], with optional transposes of the stored operands (aT: a is stored [k, m]; bT: b is stored [n, k]). */
export function matmul(
  a: Float64Array,
  b: Float64Array,
  m: number,
  k: number,
  n: number,
  aT = false,
  bT = false,
  aOffset = 0,
  bOffset = 0,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < k; l++) {
      const ail = aT ? a[aOffset + l * m + i]! : a[aOffset + i * k + l]!;
      if (ail === 0) continue;
      const row = i * n;
      if (bT) for (let j = 0; j < n; j++) out[row + j]! += ail * b[bOffset + j * k + l]!;
      else {
        const bRow = bOffset + l * n;
        for (let j = 0; j < n; j++) out[row + j]! += ail * b[bRow + j]!;
      }
    }
  }
  return out;
}

/** Q_Sᵀ G Q_A ('into') or Q_S R Q_Aᵀ ('back') for one [dOut, dIn] matrix stored at offset in matrices. */
export function changeBasis(
  matrices: Float64Array,
  offset: number,
  qS: Float64Array,
  qA: Float64Array,
  dOut: number,
  dIn: number,
  direction: 'into' | 'back',
): Float64Array {
  const into = direction === 'into';
  const left = matmul(qS, matrices, dOut, dOut, dIn, into, false, 0, offset);
  return matmul(left, qA, dOut, dIn, dIn, false, !into);
}
