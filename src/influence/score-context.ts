/**
 * What the query and score passes share: the run's context and each layer's preconditioner on the backend, applied to
 * a batch's per-sequence gradients.
 *
 * Every strategy's preconditioner is diagonal in some basis: the eigenbasis Q_S ⊗ Q_A (kfac, ekfac), the parameter
 * basis (diagonal), or none (identity). preconditionBatch works in that basis: R = Q_Sᵀ G Q_A (G itself without
 * bases) and X = R ⊘ (Λ + δ). Because the rotation is orthogonal, ⟨P, G⟩ = ⟨Q_S X Q_Aᵀ, G⟩ = ⟨X, R⟩: self-influence
 * and the queries' check need no rotation back, and R comes from the backend's rotatedGradients, which on the CPU
 * rotates the token rows before forming the dOut × dIn' matrix when that is cheaper.
 */
import type { Backend, Tensor, TokenBatch } from '../linalg/backend';
import { toBackend } from './host';
import type { AttributionConfig, GradientSource, Preconditioner } from './types';
import type { SequenceGradientCache } from './gradient-cache';
import type { KeptLambdaBatches } from './lambda-batches';

export interface ScoreContext {
  readonly backend: Backend;
  readonly source: GradientSource;
  readonly layerIndices: readonly number[];
  readonly config: AttributionConfig;
  readonly preconditioner: Preconditioner;
  /** G(n) kept across query chunks; `store`: this chunk's pass adds to it (not the last chunk). */
  readonly gradientCache?: { readonly cache: SequenceGradientCache; readonly store: boolean };
  /** Per layer, the query groups' summed operators Σ_q w_q P_q [G, dOut, dIn'] (group-tokens.ts), for this pass. */
  readonly groupOperators?: readonly Tensor[];
  /** The Λ pass's training batches, taken by this pass instead of running the gradient graph (lambda-batches.ts). */
  readonly lambdaBatches?: KeptLambdaBatches;
}

export function layerName(context: ScoreContext, l: number): string {
  return context.source.layers[context.layerIndices[l]].name;
}

/** Q_S, Q_A (null: the parameter basis) and Λ of one layer on the backend; null: no preconditioning. */
export type LayerTensors = { readonly lambda: Tensor; readonly qS: Tensor | null; readonly qA: Tensor | null } | null;

/** Each layer's preconditioner uploaded once per pass. */
export function uploadPreconditioner(context: ScoreContext): LayerTensors[] {
  const { backend } = context;
  return context.preconditioner.layers.map((layer) =>
    layer === null
      ? null
      : {
          lambda: toBackend(backend, layer.lambda),
          qS: layer.bases ? toBackend(backend, layer.bases.qS) : null,
          qA: layer.bases ? toBackend(backend, layer.bases.qA) : null,
        },
  );
}

export function releasePreconditioner(backend: Backend, layers: readonly LayerTensors[]): void {
  for (const tensors of layers) {
    if (tensors) backend.release(...[tensors.lambda, tensors.qS, tensors.qA].filter((t): t is Tensor => t !== null));
  }
}

/** Whether preconditionBatch reads the batch's G(n) (it does not in an eigenbasis, where it rotates the tokens). */
export function usesSequenceGradients(tensors: LayerTensors): boolean {
  return tensors === null || tensors.qS === null;
}

/** A batch in its layer's preconditioner basis: R and X = R ⊘ (Λ + δ) (the same tensor for identity). */
export interface PreconditionedBatch {
  readonly rotated: Tensor;
  readonly divided: Tensor;
  /** Whether R is in an eigenbasis (P = rotate(X, 'back')) or the parameter basis (P = X). */
  readonly eigenbasis: boolean;
}

/**
 * R and X of layer l for one batch. `gradients` is the batch's G(n) when the caller has it (needed unless
 * usesSequenceGradients is false); it is never released here, and may be returned as R or X.
 */
export function preconditionBatch(
  context: ScoreContext,
  l: number,
  batch: TokenBatch,
  gradients: Tensor | null,
  layers: readonly LayerTensors[],
): PreconditionedBatch {
  const { backend } = context;
  const tensors = layers[l];
  const damping = { kind: 'absolute', value: context.preconditioner.damping[l] } as const;
  if (usesSequenceGradients(tensors)) {
    if (gradients === null) throw new Error(`preconditionBatch: layer ${layerName(context, l)} needs G(n)`);
    const divided = tensors === null ? gradients : backend.divideDamped(gradients, tensors.lambda, damping);
    return { rotated: gradients, divided, eigenbasis: false };
  }
  const rotated = backend.rotatedGradients(batch, tensors!.qS!, tensors!.qA!);
  return { rotated, divided: backend.divideDamped(rotated, tensors!.lambda, damping), eigenbasis: true };
}

/** Releases what preconditionBatch allocated, except `kept` (the caller's G(n), a tensor it goes on using). */
export function releasePreconditioned(
  backend: Backend,
  batch: PreconditionedBatch,
  ...kept: readonly (Tensor | null)[]
): void {
  const owned = new Set([batch.rotated, batch.divided]);
  for (const tensor of kept) if (tensor !== null) owned.delete(tensor);
  backend.release(...owned);
}

/** Self-influence τ(n, n) = ⟨P_n, G(n)⟩ = ⟨X(n), R(n)⟩ of one layer for a batch, with the full P_n: [B]. */
export async function selfInner(
  context: ScoreContext,
  l: number,
  batch: TokenBatch,
  gradients: Tensor | null,
  layers: readonly LayerTensors[],
): Promise<Float64Array> {
  const { backend } = context;
  const preconditioned = preconditionBatch(context, l, batch, gradients, layers);
  try {
    const inner = backend.pairedInner(preconditioned.divided, preconditioned.rotated);
    const values = await backend.read(inner);
    backend.release(inner);
    return values;
  } finally {
    releasePreconditioned(backend, preconditioned, gradients);
  }
}
