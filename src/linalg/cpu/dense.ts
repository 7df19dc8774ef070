/** Float64 dense kernels on row-major arrays, shared by the CPU backend's methods; products go through gemm.ts. */
import { gemm } from './gemm';

/**
 * out[m, n] = a[m, k] · b[k, n], with optional transposes of the stored operands (aT: a is stored [k, m]; bT: b is
 * stored [n, k]).
 */
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
  gemm(
    m,
    n,
    k,
    { data: a, offset: aOffset, ld: aT ? m : k, transposed: aT },
    { data: b, offset: bOffset, ld: bT ? k : n, transposed: bT },
    {
      data: out,
      ld: n,
    },
  );
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
  return changeBasisBatch(matrices, offset, 1, qS, qA, dOut, dIn, direction);
}

/**
 * changeBasis for `count` consecutive [dOut, dIn] matrices: the left products one by one, then the right product of
 * all of them stacked as one [count·dOut, dIn] GEMM (a taller operand keeps the micro-kernel busy when dOut is small).
 */
export function changeBasisBatch(
  matrices: Float64Array,
  offset: number,
  count: number,
  qS: Float64Array,
  qA: Float64Array,
  dOut: number,
  dIn: number,
  direction: 'into' | 'back',
): Float64Array {
  const into = direction === 'into';
  const left = new Float64Array(count * dOut * dIn);
  for (let n = 0; n < count; n++) {
    gemm(
      dOut,
      dIn,
      dOut,
      { data: qS, ld: dOut, transposed: into },
      { data: matrices, offset: offset + n * dOut * dIn, ld: dIn },
      {
        data: left,
        offset: n * dOut * dIn,
        ld: dIn,
      },
    );
  }
  const out = new Float64Array(count * dOut * dIn);
  gemm(
    count * dOut,
    dIn,
    dIn,
    { data: left, ld: dIn },
    { data: qA, ld: dIn, transposed: !into },
    { data: out, ld: dIn },
  );
  return out;
}
export interface OrthonormalOptions {
  /** Named in errors. */
  readonly caller?: string;
  /**
   * Fail when a column keeps less than this fraction of its norm after the earlier columns are projected out
   * (near dependence). 0 accepts any column with a non-zero remainder (random matrices lose most of their norm).
   */
  readonly minimumKept?: number;
}

/** Modified Gram–Schmidt, twice ("twice is enough"), on the columns of a row-major [d, d] matrix. */
export function orthonormalColumns(
  vectors: ArrayLike<number>,
  d: number,
  options: OrthonormalOptions = {},
): Float64Array {
  const caller = options.caller ?? 'orthonormalColumns';
  const minimumKept = options.minimumKept ?? 0;
  // Work on rows of the transpose so each column is contiguous.
  const columns = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) columns[j * d + i] = vectors[i * d + j]!;
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < d; j++) {
      const cj = j * d;
      let original = 0;
      for (let i = 0; i < d; i++) original += columns[cj + i]! ** 2;
      for (let k = 0; k < j; k++) {
        const ck = k * d;
        let projection = 0;
        for (let i = 0; i < d; i++) projection += columns[ck + i]! * columns[cj + i]!;
        for (let i = 0; i < d; i++) columns[cj + i]! -= projection * columns[ck + i]!;
      }
      let norm = 0;
      for (let i = 0; i < d; i++) norm += columns[cj + i]! ** 2;
      norm = Math.sqrt(norm);
      if (!(norm > minimumKept * Math.sqrt(original)) || norm === 0) {
        throw new Error(
          `${caller}: column ${j} of vectors is (nearly) dependent on the previous ones (norm ${Math.sqrt(original)} → ${norm})`,
        );
      }
      for (let i = 0; i < d; i++) columns[cj + i]! /= norm;
    }
  }
  const q = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) q[i * d + j] = columns[j * d + i]!;
  return q;
}
