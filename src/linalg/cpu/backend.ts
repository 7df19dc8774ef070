/**
 * The float64 CPU backend: the fallback when there is no WebGPU, and the oracle every GPU kernel and every EK-FAC
 * stage is tested against. Each method is the formula of ../backend.ts written out directly, without tricks that could
 * hide a bug; shapes are checked first and a mismatch names the method, the argument and the shapes.
 */
import type { Backend, Damping, Eigen, EighOptions, Tensor, TokenBatch } from '../backend';
import { changeBasis, matmul } from './dense';
import { jacobiEigh } from './jacobi';
import { CpuTensor, ShapeCheck, asCpu, formatShape, shapeSize } from './tensor';

/** The token batch of a method call, as plain arrays with its dimensions. */
interface CpuBatch {
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

export class CpuBackend implements Backend {
  readonly kind = 'cpu' as const;
  readonly precision = 'float64' as const;
  readonly description = 'CPU float64';

  upload(data: ArrayLike<number>, shape: readonly number[]): CpuTensor {
    const size = shapeSize(shape);
    if (data.length !== size) {
      throw new Error(`CpuBackend.upload: ${data.length} values do not fill shape ${formatShape(shape)} (${size} elements)`);
    }
    return new CpuTensor(Float64Array.from(data), shape);
  }

  zeros(shape: readonly number[]): CpuTensor {
    return new CpuTensor(new Float64Array(shapeSize(shape)), shape);
  }

  async read(tensor: Tensor): Promise<Float64Array> {
    return new ShapeCheck('read').expect(tensor, 'tensor', tensor.shape.map((_, i) => `d${i}`)).data.slice();
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
    const row = new Float64Array(dPrime);
    for (let r = 0; r < rows; r++) {
      const weight = maskData === null ? 1 : maskData[r]!;
      if (weight === 0) continue;
      for (let i = 0; i < d; i++) row[i] = xs[r * d + i]!;
      if (appendOnes) row[d] = 1;
      for (let i = 0; i < dPrime; i++) {
        const wi = weight * row[i]!;
        for (let j = i; j < dPrime; j++) accData[i * dPrime + j]! += wi * row[j]!;
      }
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
    const result = jacobiEigh(a, d, { ...options, caller: 'CpuBackend.eigh' });
    return {
      values: new CpuTensor(result.values, [d]),
      vectors: new CpuTensor(result.vectors, [d, d]),
      sweeps: result.sweeps,
      relativeOffDiagonal: result.relativeOffDiagonal,
    };
  }

  sequenceGradients(batch: TokenBatch): CpuTensor {
    const b = unpackBatch(new ShapeCheck('sequenceGradients'), batch);
    const out = new Float64Array(b.sequences * b.dOut * b.dInPrime);
    for (let n = 0; n < b.sequences; n++) addSequenceGradient(out, n * b.dOut * b.dInPrime, b, n);
    return new CpuTensor(out, [b.sequences, b.dOut, b.dInPrime]);
  }

  rotate(matrices: Tensor, qS: Tensor, qA: Tensor, direction: 'into' | 'back'): CpuTensor {
    const check = new ShapeCheck('rotate');
    if (direction !== 'into' && direction !== 'back') check.fail(`direction must be 'into' or 'back', got ${String(direction)}`);
    const g = check.expect(matrices, 'matrices', ['N', 'dOut', 'dIn']).data;
    const s = check.expect(qS, 'qS', ['dOut', 'dOut']).data;
    const a = check.expect(qA, 'qA', ['dIn', 'dIn']).data;
    const [count, dOut, dIn] = [check.dim('N'), check.dim('dOut'), check.dim('dIn')];
    const out = new Float64Array(g.length);
    for (let n = 0; n < count; n++) out.set(changeBasis(g, n * dOut * dIn, s, a, dOut, dIn, direction), n * dOut * dIn);
    return new CpuTensor(out, matrices.shape);
  }

  accumulateLambda(lambda: Tensor, batch: TokenBatch, qS: Tensor | null, qA: Tensor | null): void {
    const check = new ShapeCheck('accumulateLambda');
    const b = unpackBatch(check, batch);
    const lambdaData = check.expect(lambda, 'lambda', [b.dOut, b.dInPrime]).data;
    if ((qS === null) !== (qA === null)) check.fail('qS and qA must both be given (eigenbasis) or both be null (parameter basis)');
    const s = qS && check.expect(qS, 'qS', [b.dOut, b.dOut]).data;
    const a = qA && check.expect(qA, 'qA', [b.dInPrime, b.dInPrime]).data;
    const gradient = new Float64Array(b.dOut * b.dInPrime);
    for (let n = 0; n < b.sequences; n++) {
      gradient.fill(0);
      addSequenceGradient(gradient, 0, b, n);
      const rotated = s && a ? changeBasis(gradient, 0, s, a, b.dOut, b.dInPrime, 'into') : gradient;
      for (let i = 0; i < rotated.length; i++) lambdaData[i]! += rotated[i]! ** 2;
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
    const out = new Float64Array(g.length);
    for (let q = 0; q < count; q++) {
      const rotated = changeBasis(g, q * dOut * dIn, s, a, dOut, dIn, 'into');
      for (let i = 0; i < rotated.length; i++) {
        const denominator = lambdaData[i]! + delta;
        if (!(denominator > 0)) check.fail(`Λ + δ = ${denominator} at (${Math.floor(i / dIn)}, ${i % dIn}) is not positive; raise the damping`);
        rotated[i]! /= denominator;
      }
      out.set(changeBasis(rotated, 0, s, a, dOut, dIn, 'back'), q * dOut * dIn);
    }
    return new CpuTensor(out, queryGradients.shape);
  }

  divideDamped(gradients: Tensor, lambda: Tensor, damping: Damping): CpuTensor {
    const check = new ShapeCheck('divideDamped');
    const g = check.expect(gradients, 'gradients', ['N', 'dOut', 'dIn']).data;
    const lambdaData = check.expect(lambda, 'lambda', ['dOut', 'dIn']).data;
    const delta = dampingOf(lambdaData, damping, check);
    const size = lambdaData.length;
    for (let i = 0; i < size; i++) {
      const denominator = lambdaData[i]! + delta;
      if (!(denominator > 0)) check.fail(`Λ + δ = ${denominator} at (${Math.floor(i / check.dim('dIn'))}, ${i % check.dim('dIn')}) is not positive; raise the damping`);
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
    const out = new Float64Array(queries * b.sequences * (perToken ? b.tokens : 1));
    const projected = new Float64Array(b.dOut);
    for (let q = 0; q < queries; q++) {
      const offset = q * b.dOut * b.dInPrime;
      forEachToken(b, (n, t, weight, activation, gradient) => {
        // P_q ã, then gᵀ(P_q ã).
        projected.fill(0);
        for (let i = 0; i < b.dOut; i++) {
          let sum = 0;
          for (let j = 0; j < b.dInPrime; j++) sum += p[offset + i * b.dInPrime + j]! * activation(j);
          projected[i] = sum;
        }
        let score = 0;
        for (let i = 0; i < b.dOut; i++) score += gradient(i) * projected[i]!;
        out[perToken ? (q * b.sequences + n) * b.tokens + t : q * b.sequences + n]! += weight * score;
      });
    }
    return new CpuTensor(out, perToken ? [queries, b.sequences, b.tokens] : [queries, b.sequences]);
  }

  pairedInner(a: Tensor, c: Tensor): CpuTensor {
    const first = asCpu(a, 'pairedInner', 'a');
    const second = asCpu(c, 'pairedInner', 'c');
    if (first.shape.length < 1 || formatShape(first.shape) !== formatShape(second.shape)) {
      throw new Error(`pairedInner: a is ${formatShape(first.shape)} and c is ${formatShape(second.shape)}; they must have one equal shape [B, …]`);
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

  /**
   * Truncated SVD through the symmetric eigenproblem of the smaller Gram matrix (PᵀP when dIn' ≤ dOut, else PPᵀ),
   * solved by the float64 Jacobi above. The singular values are folded into the projected side: with W the top-k
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
      check.fail(`rank must be an integer in [1, ${maxRank}] for preconditioned ${formatShape(preconditioned.shape)}, got ${rank}`);
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
      const { vectors } = jacobiEigh(gram, small, { caller: 'CpuBackend.lowRank' });
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
    const out = new Float64Array(queries * b.sequences * (perToken ? b.tokens : 1));
    for (let q = 0; q < queries; q++) {
      forEachToken(b, (n, t, weight, activation, gradient) => {
        let score = 0;
        for (let r = 0; r < rank; r++) {
          let gu = 0;
          for (let i = 0; i < b.dOut; i++) gu += gradient(i) * uData[(q * b.dOut + i) * rank + r]!;
          let va = 0;
          for (let j = 0; j < b.dInPrime; j++) va += vData[(q * b.dInPrime + j) * rank + r]! * activation(j);
          score += gu * va;
        }
        out[perToken ? (q * b.sequences + n) * b.tokens + t : q * b.sequences + n]! += weight * score;
      });
    }
    return new CpuTensor(out, perToken ? [queries, b.sequences, b.tokens] : [queries, b.sequences]);
  }
}

export function cpuBackend(): CpuBackend {
  return new CpuBackend();
}

function unpackBatch(check: ShapeCheck, batch: TokenBatch): CpuBatch {
  const activations = check.expect(batch.activations, 'batch.activations', ['B', 'T', 'dIn']).data;
  const gradients = check.expect(batch.gradients, 'batch.gradients', ['B', 'T', 'dOut']).data;
  const mask = batch.mask === null ? null : check.expect(batch.mask, 'batch.mask', ['B', 'T']).data;
  const dIn = check.dim('dIn');
  return {
    activations,
    gradients,
    mask,
    sequences: check.dim('B'),
    tokens: check.dim('T'),
    dIn,
    dInPrime: dIn + (batch.appendOnes ? 1 : 0),
    dOut: check.dim('dOut'),
  };
}

/** Calls visit for every token with a nonzero mask weight, with accessors for ã (ones column included) and g. */
function forEachToken(
  b: CpuBatch,
  visit: (n: number, t: number, weight: number, activation: (j: number) => number, gradient: (i: number) => number) => void,
): void {
  for (let n = 0; n < b.sequences; n++) {
    for (let t = 0; t < b.tokens; t++) {
      const token = n * b.tokens + t;
      const weight = b.mask === null ? 1 : b.mask[token]!;
      if (weight === 0) continue;
      const aBase = token * b.dIn;
      const gBase = token * b.dOut;
      visit(
        n,
        t,
        weight,
        (j) => (j < b.dIn ? b.activations[aBase + j]! : 1),
        (i) => b.gradients[gBase + i]!,
      );
    }
  }
}

/** out[offset + i·dIn' + j] += Σ_t m g_i ã_j for sequence n. */
function addSequenceGradient(out: Float64Array, offset: number, b: CpuBatch, n: number): void {
  for (let t = 0; t < b.tokens; t++) {
    const token = n * b.tokens + t;
    const weight = b.mask === null ? 1 : b.mask[token]!;
    if (weight === 0) continue;
    for (let i = 0; i < b.dOut; i++) {
      const gi = weight * b.gradients[token * b.dOut + i]!;
      const row = offset + i * b.dInPrime;
      for (let j = 0; j < b.dIn; j++) out[row + j]! += gi * b.activations[token * b.dIn + j]!;
      if (b.dInPrime > b.dIn) out[row + b.dIn]! += gi;
    }
  }
}

function dampingOf(lambda: Float64Array, damping: Damping, check: ShapeCheck): number {
  if (damping.kind === 'absolute') {
    if (!(damping.value >= 0) || !Number.isFinite(damping.value)) check.fail(`absolute damping must be finite and ≥ 0, got ${damping.value}`);
    return damping.value;
  }
  if (damping.kind === 'heuristic') {
    if (!(damping.factor >= 0) || !Number.isFinite(damping.factor)) check.fail(`heuristic damping factor must be finite and ≥ 0, got ${damping.factor}`);
    if (lambda.length === 0) check.fail('heuristic damping needs a non-empty Λ');
    let sum = 0;
    for (let i = 0; i < lambda.length; i++) sum += lambda[i]!;
    // factor · mean(Λ), the mean taken first: the engine's δ has always been rounded this way.
    return damping.factor * (sum / lambda.length);
  }
  return check.fail(`unknown damping kind ${(damping as { kind: unknown }).kind}`);
}
