/**
 * The float64 CPU backend: the fallback when there is no WebGPU, and the oracle every GPU kernel and every EK-FAC
 * stage is tested against. Each method is the formula of ../backend.ts written out directly, without tricks that could
 * hide a bug; shapes are checked first and a mismatch names the method, the argument and the shapes.
 */
import type { Backend, Damping, Eigen, EighOptions, Tensor, TokenBatch } from '../backend';
import { changeBasisBatch, matmul } from './dense';
import { JACOBI_MAX_DIMENSION, symmetricEigen } from './eigh';
import { gemm } from './gemm';
import { rotatedSequenceGradients } from './rotated-gradients';
import { CpuTensor, ShapeCheck, asCpu, formatShape, shapeSize } from './tensor';
import { sequenceGradientsOf, tokenScores, unpackBatch } from './token-rows';

export interface CpuBackendOptions {
  /** eigh uses Jacobi up to this d and Householder tridiagonalisation + implicit QL above (src/linalg/cpu/eigh.ts). */
  readonly jacobiMaxDimension?: number;
}

export class CpuBackend implements Backend {
  readonly kind = 'cpu' as const;
  readonly precision = 'float64' as const;
  readonly description = 'CPU float64';
  private readonly jacobiMaxDimension: number;

  constructor(options: CpuBackendOptions = {}) {
    this.jacobiMaxDimension = options.jacobiMaxDimension ?? JACOBI_MAX_DIMENSION;
  }

  upload(data: ArrayLike<number>, shape: readonly number[]): CpuTensor {
    const size = shapeSize(shape);
    if (data.length !== size) {
      throw new Error(
        `CpuBackend.upload: ${data.length} values do not fill shape ${formatShape(shape)} (${size} elements)`,
      );
    }
    return new CpuTensor(Float64Array.from(data), shape);
  }

  zeros(shape: readonly number[]): CpuTensor {
    return new CpuTensor(new Float64Array(shapeSize(shape)), shape);
  }

  async read(tensor: Tensor): Promise<Float64Array> {
    return new ShapeCheck('read')
      .expect(
        tensor,
        'tensor',
        tensor.shape.map((_, i) => `d${i}`),
      )
      .data.slice();
  }

  release(...tensors: Tensor[]): void {
    for (const tensor of tensors) asCpu(tensor, 'release', 'tensor').release();
  }

  accumulateCovariance(acc: Tensor, x: Tensor, mask: Tensor | null, appendOnes: boolean): void {
    const check = new ShapeCheck('accumulateCovariance');
    if (x.shape.length !== 2 && x.shape.length !== 3) {
      check.fail(`x has shape ${formatShape(x.shape)}, expected [B, T, d] or [rows, d]`);
    }
    const rowDims = x.shape.slice(0, -1).map((_, i) => `rows${i}`);
    const xs = check.expect(x, 'x', [...rowDims, 'd']).data;
    const d = check.dim('d');
    const dPrime = d + (appendOnes ? 1 : 0);
    const accData = check.expect(acc, 'acc', [dPrime, dPrime]).data;
    const maskData = mask === null ? null : check.expect(mask, 'mask', rowDims).data;
    const rows = shapeSize(x.shape.slice(0, -1));
    // Σ_r w_r ã_r ã_rᵀ = X̃ᵀ (w ∘ X̃) over the rows with w ≠ 0, upper triangle only, in row blocks.
    for (let first = 0; first < rows; first += COVARIANCE_ROW_BLOCK) {
      const end = Math.min(rows, first + COVARIANCE_ROW_BLOCK);
      const block = gatherCovarianceRows(xs, maskData, d, appendOnes, first, end);
      if (block.count === 0) continue;
      gemm(
        dPrime,
        dPrime,
        block.count,
        { data: block.weighted, ld: dPrime, transposed: true },
        { data: block.rows, ld: dPrime },
        { data: accData, ld: dPrime },
        { accumulate: true, upperOnly: true },
      );
    }
  }

  finalizeCovariance(acc: Tensor, count: number): CpuTensor {
    const check = new ShapeCheck('finalizeCovariance');
    const accData = check.expect(acc, 'acc', ['d', 'd']).data;
    if (!(count > 0)) check.fail(`count must be > 0, got ${count} (no unmasked tokens were accumulated?)`);
    const d = check.dim('d');
    const out = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        const value = accData[i * d + j]! / count;
        out[i * d + j] = value;
        out[j * d + i] = value;
      }
    }
    return new CpuTensor(out, [d, d]);
  }

  async eigh(matrix: Tensor, options: EighOptions = {}): Promise<Eigen> {
    const check = new ShapeCheck('eigh');
    const a = check.expect(matrix, 'matrix', ['d', 'd']).data;
    const d = check.dim('d');
    const { jacobiMaxDimension } = this;
    const result = symmetricEigen(a, d, { ...options, caller: 'CpuBackend.eigh', jacobiMaxDimension });
    return {
      values: new CpuTensor(result.values, [d]),
      vectors: new CpuTensor(result.vectors, [d, d]),
      sweeps: result.sweeps,
      relativeOffDiagonal: result.relativeOffDiagonal,
    };
  }

  sequenceGradients(batch: TokenBatch): CpuTensor {
    const b = unpackBatch(new ShapeCheck('sequenceGradients'), batch);
    return new CpuTensor(sequenceGradientsOf(b), [b.sequences, b.dOut, b.dInPrime]);
  }

  rotate(matrices: Tensor, qS: Tensor, qA: Tensor, direction: 'into' | 'back'): CpuTensor {
    const check = new ShapeCheck('rotate');
    if (direction !== 'into' && direction !== 'back')
      check.fail(`direction must be 'into' or 'back', got ${String(direction)}`);
    const g = check.expect(matrices, 'matrices', ['N', 'dOut', 'dIn']).data;
    const s = check.expect(qS, 'qS', ['dOut', 'dOut']).data;
    const a = check.expect(qA, 'qA', ['dIn', 'dIn']).data;
    const [count, dOut, dIn] = [check.dim('N'), check.dim('dOut'), check.dim('dIn')];
    return new CpuTensor(changeBasisBatch(g, 0, count, s, a, dOut, dIn, direction), matrices.shape);
  }

  rotatedGradients(batch: TokenBatch, qS: Tensor, qA: Tensor): CpuTensor {
    const check = new ShapeCheck('rotatedGradients');
    const b = unpackBatch(check, batch);
    const s = check.expect(qS, 'qS', [b.dOut, b.dOut]).data;
    const a = check.expect(qA, 'qA', [b.dInPrime, b.dInPrime]).data;
    return new CpuTensor(rotatedSequenceGradients(b, s, a), [b.sequences, b.dOut, b.dInPrime]);
  }

  accumulateLambda(lambda: Tensor, batch: TokenBatch, qS: Tensor | null, qA: Tensor | null): void {
    const check = new ShapeCheck('accumulateLambda');
    const b = unpackBatch(check, batch);
    const lambdaData = check.expect(lambda, 'lambda', [b.dOut, b.dInPrime]).data;
    if ((qS === null) !== (qA === null))
      check.fail('qS and qA must both be given (eigenbasis) or both be null (parameter basis)');
    const s = qS && check.expect(qS, 'qS', [b.dOut, b.dOut]).data;
    const a = qA && check.expect(qA, 'qA', [b.dInPrime, b.dInPrime]).data;
    const rotated = s && a ? rotatedSequenceGradients(b, s, a) : sequenceGradientsOf(b);
    const size = b.dOut * b.dInPrime;
    for (let n = 0; n < b.sequences; n++) {
      for (let i = 0; i < size; i++) lambdaData[i]! += rotated[n * size + i]! ** 2;
    }
  }

  async dampingValue(lambda: Tensor, damping: Damping): Promise<number> {
    const check = new ShapeCheck('dampingValue');
    const data = check.expect(lambda, 'lambda', ['dOut', 'dIn']).data;
    return dampingOf(data, damping, check);
  }

  precondition(queryGradients: Tensor, qS: Tensor, qA: Tensor, lambda: Tensor, damping: Damping): CpuTensor {
    const check = new ShapeCheck('precondition');
    const g = check.expect(queryGradients, 'queryGradients', ['Q', 'dOut', 'dIn']).data;
    const s = check.expect(qS, 'qS', ['dOut', 'dOut']).data;
    const a = check.expect(qA, 'qA', ['dIn', 'dIn']).data;
    const lambdaData = check.expect(lambda, 'lambda', ['dOut', 'dIn']).data;
    const [count, dOut, dIn] = [check.dim('Q'), check.dim('dOut'), check.dim('dIn')];
    const delta = dampingOf(lambdaData, damping, check);
    const size = dOut * dIn;
    const rotated = changeBasisBatch(g, 0, count, s, a, dOut, dIn, 'into');
    for (let i = 0; i < size; i++) {
      const denominator = lambdaData[i]! + delta;
      if (!(denominator > 0))
        check.fail(`Λ + δ = ${denominator} at (${Math.floor(i / dIn)}, ${i % dIn}) is not positive; raise the damping`);
      for (let q = 0; q < count; q++) rotated[q * size + i]! /= denominator;
    }
    return new CpuTensor(changeBasisBatch(rotated, 0, count, s, a, dOut, dIn, 'back'), queryGradients.shape);
  }

  divideDamped(gradients: Tensor, lambda: Tensor, damping: Damping): CpuTensor {
    const check = new ShapeCheck('divideDamped');
    const g = check.expect(gradients, 'gradients', ['N', 'dOut', 'dIn']).data;
    const lambdaData = check.expect(lambda, 'lambda', ['dOut', 'dIn']).data;
    const delta = dampingOf(lambdaData, damping, check);
    const size = lambdaData.length;
    for (let i = 0; i < size; i++) {
      const denominator = lambdaData[i]! + delta;
      if (!(denominator > 0))
        check.fail(
          `Λ + δ = ${denominator} at (${Math.floor(i / check.dim('dIn'))}, ${i % check.dim('dIn')}) is not positive; raise the damping`,
        );
    }
    const out = new Float64Array(g.length);
    for (let i = 0; i < g.length; i++) out[i] = g[i]! / (lambdaData[i % size]! + delta);
    return new CpuTensor(out, gradients.shape);
  }

  scores(preconditioned: Tensor, batch: TokenBatch, perToken: boolean): CpuTensor {
    const check = new ShapeCheck('scores');
    const b = unpackBatch(check, batch);
    const p = check.expect(preconditioned, 'preconditioned', ['Q', b.dOut, b.dInPrime]).data;
    const queries = check.dim('Q');
    const out = tokenScores(b, queries, perToken, { kind: 'full', p });
    return new CpuTensor(out, perToken ? [queries, b.sequences, b.tokens] : [queries, b.sequences]);
  }

  pairedInner(a: Tensor, c: Tensor): CpuTensor {
    const first = asCpu(a, 'pairedInner', 'a');
    const second = asCpu(c, 'pairedInner', 'c');
    if (first.shape.length < 1 || formatShape(first.shape) !== formatShape(second.shape)) {
      throw new Error(
        `pairedInner: a is ${formatShape(first.shape)} and c is ${formatShape(second.shape)}; they must have one equal shape [B, …]`,
      );
    }
    const rows = first.shape[0]!;
    const width = rows === 0 ? 0 : first.size / rows;
    const x = first.data;
    const y = second.data;
    const out = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let i = r * width; i < (r + 1) * width; i++) sum += x[i]! * y[i]!;
      out[r] = sum;
    }
    return new CpuTensor(out, [rows]);
  }

  pairwiseInner(a: Tensor, c: Tensor): CpuTensor {
    const first = asCpu(a, 'pairwiseInner', 'a');
    const second = asCpu(c, 'pairwiseInner', 'c');
    const trailing = (t: CpuTensor) => formatShape(t.shape.slice(1));
    if (first.shape.length < 1 || second.shape.length < 1 || trailing(first) !== trailing(second)) {
      throw new Error(
        `CpuBackend.pairwiseInner: a is ${formatShape(first.shape)} and c is ${formatShape(second.shape)}; ` +
          'they must be [Q, …] and [B, …] with equal trailing shapes',
      );
    }
    const [queries, rows] = [first.shape[0]!, second.shape[0]!];
    const width = shapeSize(first.shape.slice(1));
    const out = new Float64Array(queries * rows);
    const transposed = { data: second.data, ld: width, transposed: true };
    gemm(queries, rows, width, { data: first.data, ld: width }, transposed, { data: out, ld: rows });
    return new CpuTensor(out, [queries, rows]);
  }

  /**
   * Truncated SVD through the symmetric eigenproblem of the smaller Gram matrix (PᵀP when dIn' ≤ dOut, else PPᵀ),
   * solved by the float64 eigensolver above. The singular values are folded into the projected side: with W the top-k
   * eigenvectors of PᵀP, v = W and u = P W (so u vᵀ = P W Wᵀ, the best rank-k approximation, exactly P at full rank);
   * with PPᵀ, u = W and v = Pᵀ W. Squaring the condition number costs accuracy only in directions whose singular
   * values are below √eps·σ_max, which a rank-k truncation discards anyway.
   */
  async lowRank(preconditioned: Tensor, rank: number): Promise<{ u: CpuTensor; v: CpuTensor }> {
    const check = new ShapeCheck('lowRank');
    const p = check.expect(preconditioned, 'preconditioned', ['Q', 'dOut', 'dIn']).data;
    const [queries, dOut, dIn] = [check.dim('Q'), check.dim('dOut'), check.dim('dIn')];
    const maxRank = Math.min(dOut, dIn);
    if (!Number.isInteger(rank) || rank < 1 || rank > maxRank) {
      check.fail(
        `rank must be an integer in [1, ${maxRank}] for preconditioned ${formatShape(preconditioned.shape)}, got ${rank}`,
      );
    }
    const gramOfColumns = dIn <= dOut;
    const small = gramOfColumns ? dIn : dOut;
    const u = new Float64Array(queries * dOut * rank);
    const v = new Float64Array(queries * dIn * rank);
    for (let q = 0; q < queries; q++) {
      const offset = q * dOut * dIn;
      const gram = gramOfColumns
        ? matmul(p, p, dIn, dOut, dIn, true, false, offset, offset)
        : matmul(p, p, dOut, dIn, dOut, false, true, offset, offset);
      const { jacobiMaxDimension } = this;
      const { vectors } = symmetricEigen(gram, small, { caller: 'CpuBackend.lowRank', jacobiMaxDimension });
      // The top-k eigenvectors are the last k columns (ascending order); keep them largest first.
      const top = new Float64Array(small * rank);
      for (let r = 0; r < small; r++) {
        for (let c = 0; c < rank; c++) top[r * rank + c] = vectors[r * small + (small - 1 - c)]!;
      }
      const projected = gramOfColumns
        ? matmul(p, top, dOut, dIn, rank, false, false, offset, 0)
        : matmul(p, top, dIn, dOut, rank, true, false, offset, 0);
      u.set(gramOfColumns ? projected : top, q * dOut * rank);
      v.set(gramOfColumns ? top : projected, q * dIn * rank);
    }
    return { u: new CpuTensor(u, [queries, dOut, rank]), v: new CpuTensor(v, [queries, dIn, rank]) };
  }

  lowRankScores(u: Tensor, v: Tensor, batch: TokenBatch, perToken: boolean): CpuTensor {
    const check = new ShapeCheck('lowRankScores');
    const b = unpackBatch(check, batch);
    const uData = check.expect(u, 'u', ['Q', b.dOut, 'k']).data;
    const vData = check.expect(v, 'v', ['Q', b.dInPrime, 'k']).data;
    const [queries, rank] = [check.dim('Q'), check.dim('k')];
    const out = tokenScores(b, queries, perToken, { kind: 'low-rank', u: uData, v: vData, rank });
    return new CpuTensor(out, perToken ? [queries, b.sequences, b.tokens] : [queries, b.sequences]);
  }
}

export function cpuBackend(): CpuBackend {
  return new CpuBackend();
}

function dampingOf(lambda: Float64Array, damping: Damping, check: ShapeCheck): number {
  if (damping.kind === 'absolute') {
    if (!(damping.value >= 0) || !Number.isFinite(damping.value))
      check.fail(`absolute damping must be finite and ≥ 0, got ${damping.value}`);
    return damping.value;
  }
  if (damping.kind === 'heuristic') {
    if (!(damping.factor >= 0) || !Number.isFinite(damping.factor))
      check.fail(`heuristic damping factor must be finite and ≥ 0, got ${damping.factor}`);
    if (lambda.length === 0) check.fail('heuristic damping needs a non-empty Λ');
    let sum = 0;
    for (let i = 0; i < lambda.length; i++) sum += lambda[i]!;
    // factor · mean(Λ), the mean taken first: the engine's δ has always been rounded this way.
    return damping.factor * (sum / lambda.length);
  }
  return check.fail(`unknown damping kind ${(damping as { kind: unknown }).kind}`);
}

/** Rows of x per covariance GEMM, so the gathered copies stay bounded (≤ COVARIANCE_ROW_BLOCK · d' doubles each). */
const COVARIANCE_ROW_BLOCK = 2048;

/** Rows [first, end) of x with w ≠ 0 as ã (ones column appended) and w·ã; one shared array when every w is 1. */
function gatherCovarianceRows(
  xs: Float64Array,
  mask: Float64Array | null,
  d: number,
  appendOnes: boolean,
  first: number,
  end: number,
): { count: number; rows: Float64Array; weighted: Float64Array } {
  const dPrime = d + (appendOnes ? 1 : 0);
  let count = 0;
  let unitWeights = true;
  for (let r = first; r < end; r++) {
    const w = mask === null ? 1 : mask[r]!;
    if (w !== 0) count++;
    if (w !== 0 && w !== 1) unitWeights = false;
  }
  const rows = new Float64Array(count * dPrime);
  const weighted = unitWeights ? rows : new Float64Array(count * dPrime);
  let o = 0;
  for (let r = first; r < end; r++) {
    const w = mask === null ? 1 : mask[r]!;
    if (w === 0) continue;
    rows.set(xs.subarray(r * d, (r + 1) * d), o * dPrime);
    if (appendOnes) rows[o * dPrime + d] = 1;
    if (!unitWeights) for (let j = 0; j < dPrime; j++) weighted[o * dPrime + j] = w * rows[o * dPrime + j]!;
    o++;
  }
  return { count, rows, weighted };
}
