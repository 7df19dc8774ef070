/**
 * The lab's GradientSource: the engine's stages (covariance, eigen, Λ, scores, self-influence) read the layer inputs
 * ã and pre-activation gradients g of the float64 chain (./network.ts) exactly as they read them from an ONNX
 * gradient graph. One token per example, so no mask; ã's ones column is appended by the engine (hasBias).
 * The engine's 'sampled' label mode gets the Fisher pseudo-gradient (network.ts, SeedKind 'fisher'): the expected
 * true Fisher in closed form, so the lab's pictures carry no sampling noise.
 */
import type { Backend, Tensor, TokenBatch } from '../linalg/backend';
import type { GradientBatch, GradientRequest, GradientSource, LayerInfo } from '../influence/types';
import { exampleTerms, layerShapes, type Example, type ExampleTerms, type NetworkSpec } from './network';

export class ChainSource implements GradientSource {
  readonly layers: readonly LayerInfo[];
  private readonly cache = new Map<string, ExampleTerms>();

  constructor(
    private readonly spec: NetworkSpec,
    private readonly theta: Float64Array,
    private readonly sets: Readonly<Record<'train' | 'query', readonly Example[]>>,
  ) {
    this.layers = layerShapes(spec).map(({ name, dIn, dOut }) => ({ name, dIn, dOut, hasBias: true }));
  }

  sequenceLength(): number {
    return 1;
  }

  terms(role: 'train' | 'query', index: number, labels: GradientRequest['labels']): ExampleTerms {
    const key = `${role}:${index}:${labels}`;
    let value = this.cache.get(key);
    if (!value) {
      const example = this.sets[role][index];
      if (!example) throw new Error(`ChainSource: no ${role} example ${index} (have ${this.sets[role].length})`);
      value = exampleTerms(this.spec, this.theta, example, labels === 'given' ? 'given' : 'fisher');
      this.cache.set(key, value);
    }
    return value;
  }

  async gradients(request: GradientRequest, backend: Backend): Promise<GradientBatch> {
    const terms = request.indices.map((i) => this.terms(request.role, i, request.labels));
    const b = terms.length;
    const tensors: Tensor[] = [];
    const layers: TokenBatch[] = this.layers.map((layer, l) => {
      const activations = new Float64Array(b * layer.dIn);
      const gradients = new Float64Array(b * layer.dOut);
      terms.forEach((t, i) => {
        activations.set(t.pass.inputs[l].subarray(0, layer.dIn), i * layer.dIn);
        gradients.set(t.g[l], i * layer.dOut);
      });
      const batch: TokenBatch = {
        activations: backend.upload(activations, [b, 1, layer.dIn]),
        gradients: backend.upload(gradients, [b, 1, layer.dOut]),
        mask: null,
        appendOnes: true,
      };
      tensors.push(batch.activations, batch.gradients);
      return batch;
    });
    return {
      layers,
      sequenceLength: 1,
      tokenCounts: terms.map(() => 1),
      targetCounts: terms.map(() => 1),
      loss: Float64Array.from(terms, (t) => t.loss),
      tokenLogLikelihoods: Float64Array.from(terms, (t) => t.logLikelihood),
      release: () => backend.release(...tensors),
    };
  }
}
