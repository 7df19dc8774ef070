/**
 * The four preconditioning strategies as objects, in the manner of kronfluence's factor/config.py: each says which
 * factors it needs (covariances and their eigenbases, the Λ pass) and builds its own per-layer preconditioner from
 * them. The pipeline and the factor import ask the strategy; nothing else compares strategy names.
 *
 *   identity: P = G_q (plain gradient dot product); no factors, δ = 0.
 *   diagonal: P = G_q ⊘ (Λ + δ), Λ = mean_n G(n)∘² in the parameter basis (an elementwise divide, no rotation).
 *   kfac:     P = Q_S [(Q_Sᵀ G_q Q_A) ⊘ (λ_S ⊗ λ_A + δ)] Q_Aᵀ with the eigenbases of A and S.
 *   ekfac:    as kfac with Λ = mean_n (Q_Sᵀ G(n) Q_A)∘² from a pass over the training set (the default).
 */
import { assertFinite } from './errors';
import { hostMatrix } from './host';
import type { EigenFactors, LayerInfo, LayerPreconditioner } from './types';
import type { HostMatrix } from '../core/schema';
import type { Strategy } from '../core/strategy';

/** The fitted factors a strategy builds its preconditioner from (those it does not need are absent). */
export interface FittedFactors {
  readonly eigen?: EigenFactors;
  /** Λ averaged over sequences, per layer. */
  readonly lambda?: readonly HostMatrix[];
}

export interface StrategyDefinition {
  readonly name: Strategy;
  /** Fits the covariances A and S (a pass over the training set) and their eigendecompositions. */
  readonly needsEigenbasis: boolean;
  /** Fits Λ by a pass over the training set: in the eigenbasis when needsEigenbasis, else in the parameter basis. */
  readonly needsLambda: boolean;
  /** Layer l's preconditioner from the fitted factors; null: P = G (no preconditioning, δ = 0). */
  layer(factors: FittedFactors, l: number, layer: LayerInfo): LayerPreconditioner | null;
}

function need<T>(value: T | undefined, strategy: Strategy, what: string): T {
  if (value === undefined) throw new Error(`preconditioner: strategy ${strategy} needs ${what}`);
  return value;
}

/** Λ[i, j] = λ_S[i] · λ_A[j]: the K-FAC eigenvalues in the Kronecker eigenbasis. */
export function kroneckerEigenvalues(gradientValues: HostMatrix, activationValues: HostMatrix): HostMatrix {
  const dOut = gradientValues.data.length;
  const dIn = activationValues.data.length;
  const out = new Float64Array(dOut * dIn);
  for (let i = 0; i < dOut; i++)
    for (let j = 0; j < dIn; j++) out[i * dIn + j] = gradientValues.data[i] * activationValues.data[j];
  return hostMatrix([dOut, dIn], out);
}

function eigenbases(eigen: EigenFactors, l: number): LayerPreconditioner['bases'] {
  return { qS: eigen.gradientVectors[l], qA: eigen.activationVectors[l] };
}

function checked(preconditioner: LayerPreconditioner, layer: LayerInfo, strategy: Strategy): LayerPreconditioner {
  assertFinite(preconditioner.lambda.data, 'lambda', layer.name, 'Λ', strategy);
  return preconditioner;
}

export const STRATEGIES: Readonly<Record<Strategy, StrategyDefinition>> = {
  identity: { name: 'identity', needsEigenbasis: false, needsLambda: false, layer: () => null },
  diagonal: {
    name: 'diagonal',
    needsEigenbasis: false,
    needsLambda: true,
    layer: (factors, l, layer) =>
      checked({ lambda: need(factors.lambda, 'diagonal', 'Λ')[l], bases: null }, layer, 'diagonal'),
  },
  kfac: {
    name: 'kfac',
    needsEigenbasis: true,
    needsLambda: false,
    layer(factors, l, layer) {
      const eigen = need(factors.eigen, 'kfac', 'eigendecompositions');
      const lambda = kroneckerEigenvalues(eigen.gradientValues[l], eigen.activationValues[l]);
      return checked({ lambda, bases: eigenbases(eigen, l) }, layer, 'kfac');
    },
  },
  ekfac: {
    name: 'ekfac',
    needsEigenbasis: true,
    needsLambda: true,
    layer(factors, l, layer) {
      const eigen = need(factors.eigen, 'ekfac', 'eigendecompositions');
      return checked({ lambda: need(factors.lambda, 'ekfac', 'Λ')[l], bases: eigenbases(eigen, l) }, layer, 'ekfac');
    },
  },
};

export function strategyOf(name: string): StrategyDefinition {
  const strategy = Object.hasOwn(STRATEGIES, name) ? STRATEGIES[name as Strategy] : undefined;
  if (!strategy)
    throw new Error(`config.strategy: unknown strategy "${name}" (one of ${Object.keys(STRATEGIES).join(', ')})`);
  return strategy;
}
