/**
 * Stage 4 (damping) and the per-layer preconditioner the strategy asks for (src/influence/strategies.ts):
 * P_q = (H + δI)⁻¹ G_q with δ absolute, or factor · mean(Λ) per layer (kronfluence's heuristic), reduced on the
 * backend (on WebGPU, shaders/reduce.wgsl) so only the number comes back.
 */
import type { Backend, Damping } from '../linalg/backend';
import { toBackend } from './host';
import type { FittedFactors, StrategyDefinition } from './strategies';
import type { LayerInfo, Preconditioner } from './types';

export async function buildPreconditioner(
  backend: Backend,
  strategy: StrategyDefinition,
  damping: Damping,
  layers: readonly LayerInfo[],
  factors: FittedFactors,
): Promise<Preconditioner> {
  const perLayer = layers.map((layer, l) => strategy.layer(factors, l, layer));
  const deltas: number[] = [];
  for (const [l, layer] of perLayer.entries()) {
    if (layer === null) {
      deltas.push(0);
      continue;
    }
    const lambda = toBackend(backend, layer.lambda);
    let delta: number;
    try {
      delta = await backend.dampingValue(lambda, damping);
    } finally {
      backend.release(lambda);
    }
    if (!Number.isFinite(delta) || delta < 0)
      throw new Error(`damping: layer "${layers[l].name}" got δ = ${delta} (${JSON.stringify(damping)})`);
    deltas.push(delta);
  }
  return { strategy: strategy.name, layers: perLayer, damping: deltas };
}
