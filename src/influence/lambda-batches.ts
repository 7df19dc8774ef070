/**
 * The Λ pass's training batches kept for the first score pass. With the empirical Fisher the Λ pass (lambda.ts) asks
 * the gradient source for the training examples with their given labels — the very request the score pass makes — so
 * its batches hold the same a(n,t) and g(n,t), hence the same per-sequence gradients G(n) = Σ_t g ãᵀ, as the score
 * pass would get from running the gradient graph again. Keeping the batches (their token rows, from which G(n), the
 * rotated R(n), the per-token and group per-token scores are all formed, and which are smaller than G(n) whenever
 * T·(dIn + dOut) < dOut·dIn') lets the first score pass skip the gradient graph for them: the same tensors, so the
 * same scores bit for bit. Bounded by a byte budget (config.scorePath.lambdaBatchBytes, set by the memory planner,
 * which also decides when the reuse is exact: empirical Fisher, equal fit and score batch sizes); batches beyond it,
 * and every batch of a run resumed after its Λ pass, are computed again as before.
 */
import type { Tensor } from '../linalg/backend';
import type { AttributionConfig, GradientBatch } from './types';

export class KeptLambdaBatches {
  private readonly entries = new Map<string, GradientBatch>();
  private held = 0;

  constructor(
    readonly budgetBytes: number,
    private readonly bytesPerElement: number,
  ) {}

  /** Bytes held now. */
  get bytes(): number {
    return this.held;
  }

  /** Keeps the batch if it fits the budget (the store owns it from then on); false: the caller releases it. */
  offer(indices: readonly number[], batch: GradientBatch): boolean {
    const bytes = gradientBatchBytes(batch, this.bytesPerElement);
    if (this.held + bytes > this.budgetBytes) return false;
    this.entries.set(key(indices), batch);
    this.held += bytes;
    return true;
  }

  /** The kept batch of exactly these examples, handed over to the caller (who releases it), or undefined. */
  take(indices: readonly number[]): GradientBatch | undefined {
    const batch = this.entries.get(key(indices));
    if (batch === undefined) return undefined;
    this.entries.delete(key(indices));
    this.held -= gradientBatchBytes(batch, this.bytesPerElement);
    return batch;
  }

  release(): void {
    for (const batch of this.entries.values()) batch.release();
    this.entries.clear();
    this.held = 0;
  }
}

/** The store a run keeps its Λ batches in, or null when the reuse would not be exact or has no budget. */
export function keptLambdaBatches(config: AttributionConfig, bytesPerElement: number): KeptLambdaBatches | null {
  const budget = config.scorePath?.lambdaBatchBytes ?? 0;
  // Sampled labels (the true Fisher) give the Λ pass other gradients than the score pass's given labels.
  if (budget <= 0 || config.fisher !== 'empirical') return null;
  return new KeptLambdaBatches(budget, bytesPerElement);
}

function key(indices: readonly number[]): string {
  return indices.join(',');
}

/** Bytes of a batch's tensors on the backend (a, g and mask of every layer; a tensor shared by layers once). */
export function gradientBatchBytes(batch: GradientBatch, bytesPerElement: number): number {
  const tensors = new Set<Tensor>();
  for (const layer of batch.layers) {
    tensors.add(layer.activations);
    tensors.add(layer.gradients);
    if (layer.mask) tensors.add(layer.mask);
  }
  let elements = 0;
  for (const tensor of tensors) elements += tensor.size;
  return elements * bytesPerElement;
}
