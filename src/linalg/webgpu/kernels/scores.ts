/**
 * Influence scores without per-example gradients (shaders/gemm.wgsl + shaders/scores.wgsl).
 *   full rank: Z_q = g P_q for the tokens of a chunk of sequences, then τ(q,n,t) = m · ⟨Z_q[t], ã[t]⟩;
 *   low rank:  (g U_q)[t] · (ã V_q)[t], with P_q ≈ U_q V_qᵀ.
 * Queries and sequences are chunked so every binding fits; the scores land in the output by queue copies.
 */
import { kernelProgram } from '../program';
import type { GpuRuntime } from '../runtime';
import type { GpuTensor } from '../tensor';
import { gemm, type GemmTuning } from './gemm';
import { unitsPerWindow, type OperandCheck } from './operands';

export interface ScoreBatch {
  readonly activations: GpuTensor; // [B, T, dIn]
  readonly gradients: GpuTensor; // [B, T, dOut]
  readonly mask: GpuTensor | null; // [B, T]
  readonly sequences: number;
  readonly tokens: number;
  readonly dIn: number;
  readonly dInPrime: number;
  readonly dOut: number;
}

/** The rank-k factors, or null for the full-rank P. */
export interface Factors {
  readonly u: GpuTensor; // [Q, dOut, k]
  readonly v: GpuTensor; // [Q, dIn', k]
  readonly rank: number;
}

const WORKGROUP = 64;

export const TOKEN_SCORES = kernelProgram({
  shader: 'scores',
  entryPoint: 'token_scores',
  uniforms: [
    { name: 'rows', type: 'u32' },
    { name: 'width', type: 'u32' },
    { name: 'x_base', type: 'u32' },
    { name: 'x_query_stride', type: 'u32' },
    { name: 'y_base', type: 'u32' },
    { name: 'y_query_stride', type: 'u32' },
    { name: 'y_row_stride', type: 'u32' },
    { name: 'y_ones', type: 'u32' },
    { name: 'mask_base', type: 'u32' },
    { name: 'has_mask', type: 'u32' },
  ],
  bindings: [
    { name: 'x', binding: 1, access: 'read' },
    { name: 'y', binding: 2, access: 'read' },
    { name: 'mask', binding: 3, access: 'read' },
    { name: 'out', binding: 4, access: 'read_write' },
  ],
  constants: ['WORKGROUP'],
});

export const SEQUENCE_SUMS = kernelProgram({
  shader: 'scores',
  entryPoint: 'sequence_sums',
  uniforms: [
    { name: 'sequences', type: 'u32' },
    { name: 'tokens', type: 'u32' },
  ],
  bindings: [
    { name: 'x', binding: 1, access: 'read' },
    { name: 'out', binding: 4, access: 'read_write' },
  ],
  constants: ['WORKGROUP'],
});

export function batchScores(
  runtime: GpuRuntime,
  check: OperandCheck,
  queries: number,
  batch: ScoreBatch,
  perToken: boolean,
  operator: { readonly preconditioned: GpuTensor } | Factors,
  tuning: GemmTuning,
): GpuTensor {
  const { sequences: B, tokens: T, dIn, dInPrime, dOut } = batch;
  const out = runtime.zeros(perToken ? [queries, B, T] : [queries, B], 'scores');
  if (queries === 0 || B === 0 || T === 0) return out;
  const factors = 'u' in operator ? operator : null;
  const preconditioned = 'u' in operator ? null : operator.preconditioned;
  const width = factors ? factors.rank : dInPrime;
  const limit = runtime.maxWindowElements;
  // Per query: its operator matrices; per query per sequence: the Z (or gU and aV) rows and the token scores.
  const operatorSize = factors ? (dOut + dInPrime) * width : dOut * dInPrime;
  const queryChunk = unitsPerWindow(check, queries, limit, [
    { fixed: 0, perUnit: factors ? Math.max(dOut, dInPrime) * width : operatorSize },
    { fixed: 0, perUnit: T * width },
  ]);
  for (let q0 = 0; q0 < queries; q0 += queryChunk) {
    const qCount = Math.min(queryChunk, queries - q0);
    // Also bounded by the token_scores grid (one invocation per token row, at most maxGroups workgroups).
    const gridRows = runtime.maxWorkgroupsPerDimension * WORKGROUP;
    const sequenceChunk = Math.min(
      unitsPerWindow(check, B, limit, [
        { fixed: 0, perUnit: T * Math.max(dIn, dOut) },
        { fixed: 0, perUnit: qCount * T * width },
      ]),
      Math.max(1, Math.floor(gridRows / T)),
    );
    for (let n0 = 0; n0 < B; n0 += sequenceChunk) {
      const nCount = Math.min(sequenceChunk, B - n0);
      const rows = nCount * T;
      const row0 = n0 * T;
      const tokenScores = runtime.allocate([qCount, rows], 'token scores');
      const gRows = { tensor: batch.gradients, start: row0 * dOut, batchStride: 0, ld: dOut };
      const aRows = { tensor: batch.activations, start: row0 * dIn, batchStride: 0, ld: dIn };
      const left = runtime.allocate([qCount, rows, width], factors ? 'g U' : 'g P');
      const leftOperand = factors
        ? { tensor: factors.u, start: q0 * dOut * width, batchStride: dOut * width, ld: width }
        : { tensor: preconditioned!, start: q0 * dOut * dInPrime, batchStride: dOut * dInPrime, ld: dInPrime };
      gemm(
        runtime,
        check,
        {
          m: rows,
          n: width,
          k: dOut,
          batch: qCount,
          a: gRows,
          b: leftOperand,
          c: { tensor: left, batchStride: rows * width, ld: width },
        },
        tuning,
      );
      let right: GpuTensor | null = null;
      if (factors) {
        right = runtime.allocate([qCount, rows, width], 'ã V');
        const vOperand = { tensor: factors.v, start: q0 * dInPrime * width, batchStride: dInPrime * width, ld: width };
        gemm(
          runtime,
          check,
          {
            m: rows,
            n: width,
            k: dInPrime,
            batch: qCount,
            a: aRows,
            b: vOperand,
            c: { tensor: right, batchStride: rows * width, ld: width },
            onesAK: dInPrime > dIn,
          },
          tuning,
        );
      }
      const yWindow = right
        ? runtime.window(right, 0, right.size)
        : runtime.window(batch.activations, row0 * dIn, rows * dIn);
      const maskWindow = batch.mask ? runtime.window(batch.mask, row0, rows) : runtime.empty;
      const xWindow = runtime.window(left, 0, left.size);
      runtime.run(TOKEN_SCORES, {
        kernel: check.kernel,
        shapes: check.shapes,
        constants: { WORKGROUP },
        uniforms: {
          rows,
          width,
          x_base: xWindow.base,
          x_query_stride: rows * width,
          y_base: yWindow.base,
          y_query_stride: right ? rows * width : 0,
          y_row_stride: right ? width : dIn,
          y_ones: !right && dInPrime > dIn,
          mask_base: maskWindow.base,
          has_mask: batch.mask !== null,
        },
        bindings: { x: xWindow, y: yWindow, mask: maskWindow, out: tokenScores },
        workgroups: [Math.ceil(rows / WORKGROUP), qCount],
      });
      runtime.release(left);
      if (right) runtime.release(right);
      if (perToken) {
        runtime.copy(
          Array.from({ length: qCount }, (_, q) => ({
            from: tokenScores,
            fromStart: q * rows,
            to: out,
            toStart: (q0 + q) * B * T + row0,
            count: rows,
          })),
        );
      } else {
        const sums = runtime.allocate([qCount, nCount], 'sequence scores');
        runtime.run(SEQUENCE_SUMS, {
          kernel: `${check.kernel}.sequenceSums`,
          shapes: check.shapes,
          constants: { WORKGROUP },
          uniforms: { sequences: nCount, tokens: T },
          bindings: { x: tokenScores, out: sums },
          workgroups: [Math.ceil(nCount / WORKGROUP), qCount],
        });
        runtime.copy(
          Array.from({ length: qCount }, (_, q) => ({
            from: sums,
            fromStart: q * nCount,
            to: out,
            toStart: (q0 + q) * B + n0,
            count: nCount,
          })),
        );
        runtime.release(sums);
      }
      runtime.release(tokenScores);
    }
  }
  return out;
}
