/**
 * Per-sequence gradients G(n) kept across query chunks. Without it, every chunk of queries runs the gradient graph
 * over the whole training set again (kronfluence does the same per query batch); with it, each training batch's G(n)
 * of every tracked layer, built in the first chunk's pass, scores the later chunks as one ⟨P_q, G(n)⟩ GEMM per layer,
 * and the gradient graph runs once per training sequence. Bounded by a byte budget (config.scorePath.cacheBytes, set
 * by the memory planner); batches beyond it are recomputed as before. Exact: the same G(n), the same products.
 */
import type { Backend, Tensor } from '../linalg/backend';
import type { GradientBatch } from './types';

export interface CachedBatch {
  /** G(n) per tracked layer, [B, dOut, dIn']. */
  readonly gradients: readonly Tensor[];
}

export class SequenceGradientCache {
  private readonly entries = new Map<string, CachedBatch>();
  private held = 0;

  constructor(
    private readonly backend: Backend,
    readonly budgetBytes: number,
  ) {}

  /** Bytes the cache holds now. */
  get bytes(): number {
    return this.held;
  }

  get(indices: readonly number[]): CachedBatch | undefined {
    return this.entries.get(key(indices));
  }

  /** Whether a batch of this many bytes would fit (checked before its G(n) are built, so they are built for it). */
  fits(bytes: number): boolean {
    return this.held + bytes <= this.budgetBytes;
  }

  /** Keeps the batch's G(n) (the cache owns them from now on). */
  put(indices: readonly number[], gradients: readonly Tensor[], bytes: number): void {
    this.entries.set(key(indices), { gradients });
    this.held += bytes;
  }

  release(): void {
    for (const entry of this.entries.values()) this.backend.release(...entry.gradients);
    this.entries.clear();
    this.held = 0;
  }
}

function key(indices: readonly number[]): string {
  return `${indices[0]}+${indices.length}`;
}

/** Bytes of the G(n) of a batch of b sequences over the tracked layers. */
export function batchGradientBytes(
  batch: GradientBatch,
  layerIndices: readonly number[],
  b: number,
  bytesPerElement: number,
): number {
  return layerIndices.reduce((sum, index) => {
    const layer = batch.layers[index];
    const dInPrime = layer.activations.shape[2] + (layer.appendOnes ? 1 : 0);
    return sum + b * layer.gradients.shape[2] * dInPrime * bytesPerElement;
  }, 0);
}

/** A later chunk's scores of a kept batch: one ⟨P_q, G(n)⟩ GEMM per layer into perLayer [layers, Q, N]. */
export async function scoreKeptBatch(
  backend: Backend,
  operators: readonly ({ readonly kind: 'full'; readonly p: Tensor } | { readonly kind: 'low-rank' })[],
  kept: CachedBatch,
  indices: readonly number[],
  out: {
    readonly perLayer: Float64Array;
    readonly trainSize: number;
    readonly check: (values: Float64Array, layer: number, where: string) => void;
  },
): Promise<void> {
  const where = `training examples ${indices[0]}–${indices[indices.length - 1]}`;
  const operatorsP = operators.map((operator) => {
    if (operator.kind !== 'full') throw new Error(`scores: kept G(n) of ${where} score only full query operators`);
    return operator.p;
  });
  for (let l = 0; l < operatorsP.length; l++) {
    const q = operatorsP[l]!.shape[0]!;
    const tensor = backend.pairwiseInner(operatorsP[l]!, kept.gradients[l]!);
    const values = await backend.read(tensor);
    backend.release(tensor);
    out.check(values, l, where);
    for (let qi = 0; qi < q; qi++) {
      indices.forEach((n, bi) => (out.perLayer[(l * q + qi) * out.trainSize + n] = values[qi * indices.length + bi]!));
    }
  }
}
