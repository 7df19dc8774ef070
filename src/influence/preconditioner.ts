/**
 * Stage 4 (damping) and the per-strategy preconditioner: what P_q = (H + δI)⁻¹ G_q needs for each layer.
 *   identity: P = G_q (no Λ, δ = 0);  diagonal: bases = I, Λ = mean_n G(n)∘²;
 *   kfac: eigenbases of A and S, Λ = λ_S ⊗ λ_A;  ekfac: eigenbases, Λ = mean_n (Q_Sᵀ G(n) Q_A)∘².
 */
import type { Damping } from '../linalg/backend';
import { assertFinite } from './errors';
import { hostMatrix, mean } from './host';
import type { EigenFactors, HostMatrix, LayerInfo, Preconditioner, Strategy } from './types';

/** δ for an averaged Λ: absolute, or factor · mean(Λ) (kronfluence's heuristic with factor 0.1). */
export function dampingValue(lambda: HostMatrix, damping: Damping): number {
  return damping.kind === 'absolute' ? damping.value : damping.factor * mean(lambda.data);
}

/** Λ[i, j] = λ_S[i] · λ_A[j]: the K-FAC eigenvalues in the Kronecker eigenbasis. */
export function kroneckerEigenvalues(gradientValues: HostMatrix, activationValues: HostMatrix): HostMatrix {
  const dOut = gradientValues.data.length;
  const dIn = activationValues.data.length;
  const out = new Float64Array(dOut * dIn);
  for (let i = 0; i < dOut; i++) for (let j = 0; j < dIn; j++) out[i * dIn + j] = gradientValues.data[i] * activationValues.data[j];
  return hostMatrix([dOut, dIn], out);
}

export interface PreconditionerInputs {
  readonly strategy: Strategy;
  readonly damping: Damping;
  readonly layers: readonly LayerInfo[];
  /** kfac, ekfac. */
  readonly eigen?: EigenFactors;
  /** ekfac (in the eigenbasis), diagonal (in the parameter basis): averaged over sequences. */
  readonly lambda?: readonly HostMatrix[];
  /** diagonal: identity bases per layer. */
  readonly identityBases?: readonly { readonly qS: HostMatrix; readonly qA: HostMatrix }[];
}

export function buildPreconditioner(inputs: PreconditionerInputs): Preconditioner {
  const { strategy, layers } = inputs;
  if (strategy === 'identity') return { strategy, layers: layers.map(() => null), damping: layers.map(() => 0) };
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`preconditioner: strategy ${strategy} needs ${what}`);
    return value;
  };
  const perLayer = layers.map((layer, l) => {
    let qS: HostMatrix;
    let qA: HostMatrix;
    let lambda: HostMatrix;
    if (strategy === 'diagonal') {
      ({ qS, qA } = need(inputs.identityBases, 'identity bases')[l]);
      lambda = need(inputs.lambda, 'Λ')[l];
    } else {
      const eigen = need(inputs.eigen, 'eigendecompositions');
      qS = eigen.gradientVectors[l];
      qA = eigen.activationVectors[l];
      lambda = strategy === 'kfac' ? kroneckerEigenvalues(eigen.gradientValues[l], eigen.activationValues[l]) : need(inputs.lambda, 'Λ')[l];
    }
    assertFinite(lambda.data, 'lambda', layer.name, 'Λ', strategy);
    const damping = dampingValue(lambda, inputs.damping);
    if (!Number.isFinite(damping) || damping < 0) throw new Error(`damping: layer "${layer.name}" got δ = ${damping} (${JSON.stringify(inputs.damping)})`);
    return { qS, qA, lambda, damping };
  });
  return {
    strategy,
    layers: perLayer.map(({ qS, qA, lambda }) => ({ qS, qA, lambda })),
    damping: perLayer.map((p) => p.damping),
  };
}
