/** Forward model + gradient spec → gradient model (reverse-mode autodiff over a topological order). */
import type { Model } from '../ir';
import type { GradientGraph, GradientSpec } from '../gradient-graph';

export function buildGradientModel(model: Model, spec: GradientSpec): GradientGraph {
  throw new Error(`buildGradientGraph: the transform is being written (model "${model.graph.name}", loss ${spec.loss.kind})`);
}
