/**
 * Token batches of the CPU backend as GEMM operands: the unmasked tokens gathered into dense row blocks, with the
 * ones column appended to the activations and the mask weight folded into them, so every token product is a plain
 * blocked GEMM (gemm.ts) with no branches on padding inside it.
 */
import { checkTokenBatch, type TokenBatch } from '../backend';
import { gemm } from './gemm';
import type { ShapeCheck } from './tensor';

/** The token batch of a method call, as plain arrays with its dimensions. */
export interface CpuBatch {
  readonly activations: Float64Array;
  readonly gradients: Float64Array;
  readonly mask: Float64Array | null;
  readonly sequences: number;
  readonly tokens: number;
  readonly dIn: number;
  /** dIn + 1 when a ones column is appended. */
  readonly dInPrime: number;
  readonly dOut: number;
}

export function unpackBatch(check: ShapeCheck, batch: TokenBatch): CpuBatch {
  const checked = checkTokenBatch(check, batch);
  return {
    ...checked,
    activations: checked.activations.data,
    gradients: checked.gradients.data,
    mask: checked.mask?.data ?? null,
  };
}

export interface TokenRows {
  /** Number of gathered (unmasked) tokens. */
  readonly count: number;
  /** Row r of the gathered tokens is token (sequence[r], position[r]) of the batch. */
  readonly sequence: Int32Array;
  readonly position: Int32Array;
  /** First row of each sequence: [B + 1]. */
  readonly starts: Int32Array;
  /** [count, dIn'] m(n,t)·ã(n,t). */
  readonly activations: Float64Array;
  /** [count, dOut] g(n,t). */
  readonly gradients: Float64Array;
}

/** Gathers the tokens with a nonzero mask weight, in (sequence, position) order. */
export function gatherTokenRows(b: CpuBatch): TokenRows {
  let count = 0;
  const total = b.sequences * b.tokens;
  for (let token = 0; token < total; token++) if (b.mask === null || b.mask[token] !== 0) count++;
  const sequence = new Int32Array(count);
  const position = new Int32Array(count);
  const starts = new Int32Array(b.sequences + 1);
  const activations = new Float64Array(count * b.dInPrime);
  const gradients = new Float64Array(count * b.dOut);
  let r = 0;
  for (let n = 0; n < b.sequences; n++) {
    starts[n] = r;
    for (let t = 0; t < b.tokens; t++) {
      const token = n * b.tokens + t;
      const weight = b.mask === null ? 1 : b.mask[token]!;
      if (weight === 0) continue;
      sequence[r] = n;
      position[r] = t;
      const aRow = r * b.dInPrime;
      const aToken = token * b.dIn;
      for (let j = 0; j < b.dIn; j++) activations[aRow + j] = weight * b.activations[aToken + j]!;
      if (b.dInPrime > b.dIn) activations[aRow + b.dIn] = weight;
      gradients.set(b.gradients.subarray(token * b.dOut, (token + 1) * b.dOut), r * b.dOut);
      r++;
    }
  }
  starts[b.sequences] = r;
  return { count, sequence, position, starts, activations, gradients };
}

/** G(n) = Σ_t m g ãᵀ = g_nᵀ (m ã_n) for every sequence, one GEMM each: [B, dOut, dIn']. */
export function sequenceGradientsOf(b: CpuBatch, rows: TokenRows = gatherTokenRows(b)): Float64Array {
  const size = b.dOut * b.dInPrime;
  const out = new Float64Array(b.sequences * size);
  for (let n = 0; n < b.sequences; n++) {
    const first = rows.starts[n]!;
    const tokens = rows.starts[n + 1]! - first;
    gemm(
      b.dOut,
      b.dInPrime,
      tokens,
      { data: rows.gradients, offset: first * b.dOut, ld: b.dOut, transposed: true },
      { data: rows.activations, offset: first * b.dInPrime, ld: b.dInPrime },
      { data: out, offset: n * size, ld: b.dInPrime },
    );
  }
  return out;
}

/** Rows per block of the token-form intermediates, so their memory stays bounded (≤ ROW_BLOCK · dOut doubles). */
const ROW_BLOCK = 1024;

/**
 * Token-form scores: for each operator q, the per-token value gᵀ P_q ã computed as rows of (ã P_qᵀ) dotted with g
 * (or, for rank-k factors, (gᵀU_q)·(V_qᵀã)), added into out[q, n] or out[q, n, t]. Cost ∝ Q·(tokens)·dOut·dIn'
 * (full) or Q·(tokens)·k·(dOut + dIn') (rank k).
 */
export function tokenScores(
  b: CpuBatch,
  queries: number,
  perToken: boolean,
  operator: { kind: 'full'; p: Float64Array } | { kind: 'low-rank'; u: Float64Array; v: Float64Array; rank: number },
): Float64Array {
  const rows = gatherTokenRows(b);
  const out = new Float64Array(queries * b.sequences * (perToken ? b.tokens : 1));
  const width = operator.kind === 'full' ? b.dOut : operator.rank;
  const left = new Float64Array(Math.min(ROW_BLOCK, rows.count) * width);
  const right = operator.kind === 'full' ? null : new Float64Array(Math.min(ROW_BLOCK, rows.count) * width);
  for (let q = 0; q < queries; q++) {
    for (let first = 0; first < rows.count; first += ROW_BLOCK) {
      const count = Math.min(ROW_BLOCK, rows.count - first);
      const aRows = { data: rows.activations, offset: first * b.dInPrime, ld: b.dInPrime };
      const gRows = { data: rows.gradients, offset: first * b.dOut, ld: b.dOut };
      let other: Float64Array;
      if (operator.kind === 'full') {
        // left = ã P_qᵀ: [count, dOut]; the score is its row dotted with g.
        const pq = { data: operator.p, offset: q * b.dOut * b.dInPrime, ld: b.dInPrime, transposed: true };
        gemm(count, b.dOut, b.dInPrime, aRows, pq, { data: left, ld: width });
        other = rows.gradients.subarray(first * b.dOut, (first + count) * b.dOut);
      } else {
        const { u, v, rank } = operator;
        gemm(
          count,
          rank,
          b.dInPrime,
          aRows,
          { data: v, offset: q * b.dInPrime * rank, ld: rank },
          { data: left, ld: width },
        );
        gemm(count, rank, b.dOut, gRows, { data: u, offset: q * b.dOut * rank, ld: rank }, { data: right!, ld: width });
        other = right!;
      }
      for (let r = 0; r < count; r++) {
        let score = 0;
        for (let j = 0; j < width; j++) score += left[r * width + j]! * other[r * width + j]!;
        const n = rows.sequence[first + r]!;
        out[perToken ? (q * b.sequences + n) * b.tokens + rows.position[first + r]! : q * b.sequences + n]! += score;
      }
    }
  }
  return out;
}
