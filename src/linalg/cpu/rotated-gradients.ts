/**
 * Per-sequence gradients in the eigenbasis, R(n) = Q_Sᵀ G(n) Q_A, for the CPU backend: what Λ, self-influence and
 * the query preconditioning need. Two exact forms, chosen per sequence by their multiply-add counts:
 *   - sequence form: build G(n) = g_nᵀ (m ã_n) [dOut, dIn'], then rotate it: T·dOut·dIn' + dOut·dIn'·(dOut + dIn');
 *   - token form: rotate the T token rows first, R(n) = (g_n Q_S)ᵀ (m ã_n Q_A): T·(dOut² + dIn'² + dOut·dIn').
 * With fewer tokens than dimensions (an 80-token sequence at a 3,072 × 769 GPT-2 MLP layer) the token form does about a
 * tenth of the work, as it never forms the dOut × dIn' matrix before rotating it. Both are GEMMs on gemm.ts; they agree
 * to rounding (tested in float64 against the dense formula).
 */
import { changeBasisBatch } from './dense';
import { gemm } from './gemm';
import { gatherTokenRows, sequenceGradientsOf, type CpuBatch, type TokenRows } from './token-rows';

/** Which form costs fewer multiply-adds for a sequence of `tokens` unmasked tokens. */
export function rotationForm(tokens: number, dOut: number, dInPrime: number): 'token' | 'sequence' {
  const tokenCost = tokens * (dOut * dOut + dInPrime * dInPrime + dOut * dInPrime);
  const sequenceCost = tokens * dOut * dInPrime + dOut * dInPrime * (dOut + dInPrime);
  return tokenCost < sequenceCost ? 'token' : 'sequence';
}

/** R(n) = Q_Sᵀ G(n) Q_A for every sequence of the batch: [B, dOut, dIn'] (qS [dOut, dOut], qA [dIn', dIn']). */
export function rotatedSequenceGradients(
  b: CpuBatch,
  qS: Float64Array,
  qA: Float64Array,
  rows: TokenRows = gatherTokenRows(b),
): Float64Array {
  const { dOut, dInPrime } = b;
  const size = dOut * dInPrime;
  const out = new Float64Array(b.sequences * size);
  let gRotated = new Float64Array(0);
  let aRotated = new Float64Array(0);
  for (let n = 0; n < b.sequences; n++) {
    const first = rows.starts[n]!;
    const tokens = rows.starts[n + 1]! - first;
    if (rotationForm(tokens, dOut, dInPrime) === 'sequence') {
      const single: CpuBatch = { ...b, sequences: 1 };
      const sequenceRows: TokenRows = { ...rows, starts: Int32Array.of(first, first + tokens) };
      const gradient = sequenceGradientsOf(single, sequenceRows);
      out.set(changeBasisBatch(gradient, 0, 1, qS, qA, dOut, dInPrime, 'into'), n * size);
      continue;
    }
    if (gRotated.length < tokens * dOut) gRotated = new Float64Array(tokens * dOut);
    if (aRotated.length < tokens * dInPrime) aRotated = new Float64Array(tokens * dInPrime);
    // Row t of g_n Q_S is (Q_Sᵀ g_t)ᵀ; row t of (m ã_n) Q_A is (Q_Aᵀ m ã_t)ᵀ.
    gemm(
      tokens,
      dOut,
      dOut,
      { data: rows.gradients, offset: first * dOut, ld: dOut },
      { data: qS, ld: dOut },
      { data: gRotated, ld: dOut },
    );
    gemm(
      tokens,
      dInPrime,
      dInPrime,
      { data: rows.activations, offset: first * dInPrime, ld: dInPrime },
      { data: qA, ld: dInPrime },
      { data: aRotated, ld: dInPrime },
    );
    gemm(
      dOut,
      dInPrime,
      tokens,
      { data: gRotated, ld: dOut, transposed: true },
      { data: aRotated, ld: dInPrime },
      { data: out, offset: n * size, ld: dInPrime },
    );
  }
  return out;
}
