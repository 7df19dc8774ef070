/**
 * The float32 WebGPU backend: every Backend method as WGSL kernels on one GPUDevice, with tensors in GPUBuffers.
 * Nothing is read back between stages unless a method returns a number (dampingValue) or the caller reads.
 */
import {
  checkTokenBatch,
  type Backend,
  type Damping,
  type EighOptions,
  type HostEigen,
  type Tensor,
  type TokenBatch,
} from '../backend';
import { CpuBackend } from '../cpu/backend';
import type { AcquiredGpu } from './adapter';
import { EIGH_PROGRAMS, type GpuEigen } from './eigh';
import { eighGpuAnySize, eighGpuHost } from './eigh-blocks';
import {
  accumulateCovariance,
  COVARIANCE_ACCUMULATE,
  COVARIANCE_FINALIZE,
  DEFAULT_COVARIANCE_TUNING,
  finalizeCovariance,
  type CovarianceTuning,
} from './kernels/covariance';
import {
  dampingTensor,
  DIVIDE_DAMPED,
  divideDamped,
  REDUCE_FINISH,
  REDUCE_PARTIAL_SUMS,
  SQUARE_ACCUMULATE,
  squareAccumulate,
} from './kernels/ekfac';
import { DEFAULT_GEMM_TUNING, GEMM, gemm, type GemmTuning } from './kernels/gemm';
import { OperandCheck } from './kernels/operands';
import { batchScores, SEQUENCE_SUMS, TOKEN_SCORES, type ScoreBatch } from './kernels/scores';
import type { KernelProgram } from './program';
import { GpuRuntime, type RuntimeOptions } from './runtime';
import type { GpuTensor } from './tensor';

/** Every kernel the backend dispatches, described for the runtime (and checked against its WGSL by a unit test). */
export const PROGRAMS: readonly KernelProgram[] = [
  COVARIANCE_ACCUMULATE,
  COVARIANCE_FINALIZE,
  SQUARE_ACCUMULATE,
  DIVIDE_DAMPED,
  REDUCE_PARTIAL_SUMS,
  REDUCE_FINISH,
  GEMM,
  TOKEN_SCORES,
  SEQUENCE_SUMS,
  ...EIGH_PROGRAMS,
];

export interface WebGpuBackendOptions extends RuntimeOptions {
  readonly covariance?: CovarianceTuning;
  readonly gemm?: GemmTuning;
}

export class WebGpuBackend implements Backend {
  readonly kind = 'webgpu' as const;
  readonly precision = 'float32' as const;
  readonly description: string;
  private readonly covarianceTuning: CovarianceTuning;
  private readonly gemmTuning: GemmTuning;

  constructor(
    readonly runtime: GpuRuntime,
    options: WebGpuBackendOptions = {},
  ) {
    const report = runtime.acquired.report;
    this.description = `WebGPU float32 on ${report.name}${report.software ? ' (software/fallback adapter)' : ''}`;
    this.covarianceTuning = options.covariance ?? DEFAULT_COVARIANCE_TUNING;
    this.gemmTuning = options.gemm ?? DEFAULT_GEMM_TUNING;
  }

  upload(data: ArrayLike<number>, shape: readonly number[]): GpuTensor {
    return this.runtime.upload(data, shape);
  }

  zeros(shape: readonly number[]): GpuTensor {
    return this.runtime.zeros(shape);
  }

  /**
   * A Tensor over a GPUBuffer owned elsewhere (e.g. onnxruntime-web's tensor.gpuBuffer), without copying; release()
   * leaves the buffer alone.
   */
  wrapBuffer(buffer: GPUBuffer, shape: readonly number[]): GpuTensor {
    return this.runtime.wrap(buffer, shape);
  }

  /**
   * The GPUBuffer behind a tensor (float32, row-major from byte 0), e.g. for onnxruntime-web's Tensor.fromGpuBuffer.
   */
  gpuBuffer(tensor: Tensor): GPUBuffer {
    const check = new OperandCheck('gpuBuffer', { tensor });
    return check.expect(
      tensor,
      'tensor',
      tensor.shape.map((_, i) => `d${i}`),
    ).buffer;
  }

  async read(tensor: Tensor): Promise<Float64Array> {
    const check = new OperandCheck('read', { tensor });
    const values = await this.runtime.read(
      check.expect(
        tensor,
        'tensor',
        tensor.shape.map((_, i) => `d${i}`),
      ),
    );
    return Float64Array.from(values);
  }

  release(...tensors: Tensor[]): void {
    for (const tensor of tensors) {
      const check = new OperandCheck('release', { tensor });
      this.runtime.release(
        check.expect(
          tensor,
          'tensor',
          tensor.shape.map((_, i) => `d${i}`),
        ),
      );
    }
  }

  accumulateCovariance(acc: Tensor, x: Tensor, mask: Tensor | null, appendOnes: boolean): void {
    accumulateCovariance(this.runtime, acc, x, mask, appendOnes, this.covarianceTuning);
  }

  finalizeCovariance(acc: Tensor, count: number): GpuTensor {
    return finalizeCovariance(this.runtime, acc, count);
  }

  /**
   * Parallel Jacobi in float32 on the GPU (eighGpu, src/linalg/webgpu/eigh.ts); a matrix whose working copy exceeds
   * one storage binding goes to block Jacobi (eigh-blocks.ts). Throws when it does not converge.
   */
  eigh(matrix: Tensor, options?: EighOptions): Promise<GpuEigen> {
    const check = new OperandCheck('eigh', { matrix });
    return eighGpuAnySize(this.runtime, check.expect(matrix, 'matrix', ['d', 'd']), options);
  }

  /** The eigen stage's path: a factor over one binding is never held whole on the GPU (eighGpuHost). */
  eighHost(matrix: Float64Array, d: number, options?: EighOptions): Promise<HostEigen> {
    return eighGpuHost(this.runtime, matrix, d, options);
  }

  sequenceGradients(batch: TokenBatch): GpuTensor {
    const check = new OperandCheck('sequenceGradients', batchOperands(batch));
    const b = unpackBatch(check, batch);
    return this.runtime.step(check.kernel, check.shapes, () => this.buildSequenceGradients(check, b));
  }

  rotate(matrices: Tensor, qS: Tensor, qA: Tensor, direction: 'into' | 'back'): GpuTensor {
    const check = new OperandCheck(`rotate.${direction}`, { matrices, qS, qA });
    if (direction !== 'into' && direction !== 'back')
      check.fail(`direction must be 'into' or 'back', got ${String(direction)}`);
    const g = check.expect(matrices, 'matrices', ['N', 'dOut', 'dIn']);
    const s = check.expect(qS, 'qS', ['dOut', 'dOut']);
    const a = check.expect(qA, 'qA', ['dIn', 'dIn']);
    return this.runtime.step(check.kernel, check.shapes, () => this.changeBasis(check, g, s, a, direction));
  }

  rotatedGradients(batch: TokenBatch, qS: Tensor, qA: Tensor): GpuTensor {
    const check = new OperandCheck('rotatedGradients', { ...batchOperands(batch), qS, qA });
    const b = unpackBatch(check, batch);
    const s = check.expect(qS, 'qS', [b.dOut, b.dOut]);
    const a = check.expect(qA, 'qA', [b.dInPrime, b.dInPrime]);
    return this.runtime.step(check.kernel, check.shapes, () => {
      const gradients = this.buildSequenceGradients(check, b);
      const rotated = this.changeBasis(check, gradients, s, a, 'into');
      this.runtime.release(gradients);
      return rotated;
    });
  }

  accumulateLambda(lambda: Tensor, batch: TokenBatch, qS: Tensor | null, qA: Tensor | null): void {
    const check = new OperandCheck('accumulateLambda', {
      lambda,
      ...batchOperands(batch),
      ...(qS && { qS }),
      ...(qA && { qA }),
    });
    const b = unpackBatch(check, batch);
    const lambdaTensor = check.expect(lambda, 'lambda', [b.dOut, b.dInPrime]);
    if ((qS === null) !== (qA === null))
      check.fail('qS and qA must both be given (eigenbasis) or both be null (parameter basis)');
    const bases =
      qS && qA
        ? ([check.expect(qS, 'qS', [b.dOut, b.dOut]), check.expect(qA, 'qA', [b.dInPrime, b.dInPrime])] as const)
        : null;
    this.runtime.step(check.kernel, check.shapes, () => {
      const gradients = this.buildSequenceGradients(check, b);
      let rotated = gradients;
      if (bases) {
        rotated = this.changeBasis(check, gradients, ...bases, 'into');
        this.runtime.release(gradients);
      }
      squareAccumulate(this.runtime, check, rotated, b.sequences, lambdaTensor);
      this.runtime.release(rotated);
    });
  }

  async dampingValue(lambda: Tensor, damping: Damping): Promise<number> {
    const check = new OperandCheck('dampingValue', { lambda });
    const lambdaTensor = check.expect(lambda, 'lambda', ['dOut', 'dIn']);
    const delta = this.runtime.step(check.kernel, check.shapes, () =>
      dampingTensor(this.runtime, check, lambdaTensor, damping),
    );
    const [value] = await this.runtime.read(delta);
    this.runtime.release(delta);
    return value!;
  }

  /** Λ + δ is not checked for positivity here (that would need a readback); δ ≥ 0 and Λ ≥ 0 by construction. */
  precondition(queryGradients: Tensor, qS: Tensor, qA: Tensor, lambda: Tensor, damping: Damping): GpuTensor {
    const check = new OperandCheck('precondition', { queryGradients, qS, qA, lambda });
    const g = check.expect(queryGradients, 'queryGradients', ['Q', 'dOut', 'dIn']);
    const s = check.expect(qS, 'qS', ['dOut', 'dOut']);
    const a = check.expect(qA, 'qA', ['dIn', 'dIn']);
    const lambdaTensor = check.expect(lambda, 'lambda', ['dOut', 'dIn']);
    return this.runtime.step(check.kernel, check.shapes, () => {
      const delta = dampingTensor(this.runtime, check, lambdaTensor, damping);
      const rotated = this.changeBasis(check, g, s, a, 'into');
      divideDamped(this.runtime, check, rotated, check.dim('Q'), lambdaTensor, delta);
      const out = this.changeBasis(check, rotated, s, a, 'back');
      this.runtime.release(rotated, delta);
      return out;
    });
  }

  /** The diagonal strategy: a copy of the gradients divided in place by ekfac.wgsl's divide_damped. */
  divideDamped(gradients: Tensor, lambda: Tensor, damping: Damping): GpuTensor {
    const check = new OperandCheck('divideDamped', { gradients, lambda });
    const g = check.expect(gradients, 'gradients', ['N', 'dOut', 'dIn']);
    const lambdaTensor = check.expect(lambda, 'lambda', ['dOut', 'dIn']);
    return this.runtime.step(check.kernel, check.shapes, () => {
      const delta = dampingTensor(this.runtime, check, lambdaTensor, damping);
      const out = this.runtime.allocate(g.shape, 'divideDamped');
      this.runtime.copy([{ from: g, fromStart: 0, to: out, toStart: 0, count: g.size }]);
      divideDamped(this.runtime, check, out, check.dim('N'), lambdaTensor, delta);
      this.runtime.release(delta);
      return out;
    });
  }

  scores(preconditioned: Tensor, batch: TokenBatch, perToken: boolean): GpuTensor {
    const check = new OperandCheck('scores', { preconditioned, ...batchOperands(batch) });
    const b = unpackBatch(check, batch);
    const p = check.expect(preconditioned, 'preconditioned', ['Q', b.dOut, b.dInPrime]);
    const operator = { preconditioned: p };
    return this.runtime.step(check.kernel, check.shapes, () =>
      batchScores(this.runtime, check, check.dim('Q'), b, perToken, operator, this.gemmTuning),
    );
  }

  /** out[b] = ⟨a[b], c[b]⟩ as a batched [1 × X]·[X × 1] GEMM over the flattened rows. */
  pairedInner(a: Tensor, c: Tensor): GpuTensor {
    const check = new OperandCheck('pairedInner', { a, c });
    if (a.shape.length < 1) check.fail(`a has shape [${a.shape.join(', ')}]; it needs a leading batch axis`);
    const dims = a.shape.map((_, axis) => (axis === 0 ? 'B' : `d${axis}`));
    const first = check.expect(a, 'a', dims);
    const second = check.expect(c, 'c', dims);
    const rows = first.shape[0]!;
    const width = rows === 0 ? 0 : first.size / rows;
    const out = this.runtime.allocate([rows], 'paired inner products');
    if (rows === 0) return out;
    const call = {
      m: 1,
      n: 1,
      k: width,
      batch: rows,
      a: { tensor: first, batchStride: width, ld: width },
      b: { tensor: second, batchStride: width, ld: 1 },
      c: { tensor: out, batchStride: 1, ld: 1 },
    };
    this.runtime.step(check.kernel, check.shapes, () => gemm(this.runtime, check, call, this.gemmTuning));
    return out;
  }

  /** out[q, b] = ⟨a[q], c[b]⟩: one [Q × X]·[X × B] GEMM over the flattened rows (c read transposed). */
  pairwiseInner(a: Tensor, c: Tensor): GpuTensor {
    const check = new OperandCheck('pairwiseInner', { a, c });
    if (a.shape.length < 1 || c.shape.length < 1) {
      check.fail(`a and c need a leading batch axis, got [${a.shape.join(', ')}] and [${c.shape.join(', ')}]`);
    }
    const first = check.expect(
      a,
      'a',
      a.shape.map((_, axis) => (axis === 0 ? 'Q' : `d${axis}`)),
    );
    const second = check.expect(
      c,
      'c',
      c.shape.map((_, axis) => (axis === 0 ? 'B' : `d${axis}`)),
    );
    const [queries, rows] = [check.dim('Q'), check.dim('B')];
    const width = queries === 0 ? 0 : first.size / queries;
    const out = this.runtime.allocate([queries, rows], 'pairwise inner products');
    if (queries === 0 || rows === 0) return out;
    gemm(
      this.runtime,
      check,
      {
        m: queries,
        n: rows,
        k: width,
        batch: 1,
        a: { tensor: first, batchStride: 0, ld: width },
        b: { tensor: second, batchStride: 0, ld: width, transpose: true },
        c: { tensor: out, batchStride: 0, ld: rows },
      },
      this.gemmTuning,
    );
    return out;
  }

  /** The SVD runs on the CPU in float64 (CpuBackend.lowRank) from a readback of P; the factors go back to the GPU. */
  async lowRank(preconditioned: Tensor, rank: number): Promise<{ u: GpuTensor; v: GpuTensor }> {
    const check = new OperandCheck('lowRank', { preconditioned });
    const p = check.expect(preconditioned, 'preconditioned', ['Q', 'dOut', 'dIn']);
    const cpu = new CpuBackend();
    const factors = await cpu.lowRank(cpu.upload(await this.runtime.read(p), p.shape), rank);
    const [u, v] = await Promise.all([cpu.read(factors.u), cpu.read(factors.v)]);
    return { u: this.runtime.upload(u, factors.u.shape), v: this.runtime.upload(v, factors.v.shape) };
  }

  lowRankScores(u: Tensor, v: Tensor, batch: TokenBatch, perToken: boolean): GpuTensor {
    const check = new OperandCheck('lowRankScores', { u, v, ...batchOperands(batch) });
    const b = unpackBatch(check, batch);
    const uTensor = check.expect(u, 'u', ['Q', b.dOut, 'k']);
    const vTensor = check.expect(v, 'v', ['Q', b.dInPrime, 'k']);
    const factors = { u: uTensor, v: vTensor, rank: check.dim('k') };
    return this.runtime.step(check.kernel, check.shapes, () =>
      batchScores(this.runtime, check, check.dim('Q'), b, perToken, factors, this.gemmTuning),
    );
  }

  /** G(n) = Σ_t m g ãᵀ: the gradients read transposed as A, the activations (with the ones column) as B. */
  private buildSequenceGradients(check: OperandCheck, b: ScoreBatch): GpuTensor {
    const { sequences: B, tokens: T, dIn, dInPrime, dOut } = b;
    const out = this.runtime.allocate([B, dOut, dInPrime], 'sequence gradients');
    gemm(
      this.runtime,
      check,
      {
        m: dOut,
        n: dInPrime,
        k: T,
        batch: B,
        a: { tensor: b.gradients, batchStride: T * dOut, ld: dOut, transpose: true },
        b: { tensor: b.activations, batchStride: T * dIn, ld: dIn },
        c: { tensor: out, batchStride: dOut * dInPrime, ld: dInPrime },
        maskK: b.mask ? { tensor: b.mask, batchStride: T } : undefined,
        onesBN: dInPrime > dIn,
      },
      this.gemmTuning,
    );
    return out;
  }

  /** 'into': Q_Sᵀ G Q_A; 'back': Q_S R Q_Aᵀ — two batched GEMMs with the eigenbases shared across the batch. */
  private changeBasis(
    check: OperandCheck,
    g: GpuTensor,
    qS: GpuTensor,
    qA: GpuTensor,
    direction: 'into' | 'back',
  ): GpuTensor {
    const [count, dOut, dIn] = g.shape as [number, number, number];
    const matrix = dOut * dIn;
    const left = this.runtime.allocate([count, dOut, dIn], 'rotation half-step');
    const into = direction === 'into';
    gemm(
      this.runtime,
      check,
      {
        m: dOut,
        n: dIn,
        k: dOut,
        batch: count,
        a: { tensor: qS, batchStride: 0, ld: dOut, transpose: into },
        b: { tensor: g, batchStride: matrix, ld: dIn },
        c: { tensor: left, batchStride: matrix, ld: dIn },
      },
      this.gemmTuning,
    );
    const out = this.runtime.allocate([count, dOut, dIn], into ? 'rotated' : 'rotated back');
    gemm(
      this.runtime,
      check,
      {
        m: dOut,
        n: dIn,
        k: dIn,
        batch: count,
        a: { tensor: left, batchStride: matrix, ld: dIn },
        b: { tensor: qA, batchStride: 0, ld: dIn, transpose: !into },
        c: { tensor: out, batchStride: matrix, ld: dIn },
      },
      this.gemmTuning,
    );
    this.runtime.release(left);
    return out;
  }
}

/** Loads the shaders and builds the backend on an acquired device (window, worker or Node). */
export async function webGpuBackend(acquired: AcquiredGpu, options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  return new WebGpuBackend(await GpuRuntime.create(acquired, PROGRAMS, options), options);
}

function batchOperands(batch: TokenBatch): Record<string, Tensor | null> {
  return { activations: batch.activations, gradients: batch.gradients, mask: batch.mask };
}

function unpackBatch(check: OperandCheck, batch: TokenBatch): ScoreBatch {
  check.note('appendOnes', batch.appendOnes);
  return checkTokenBatch(check, batch);
}
