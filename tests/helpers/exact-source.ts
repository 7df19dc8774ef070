/**
 * A plain-TypeScript float64 GradientSource for tests: a model supplies each example's per-layer activations a [T, dIn]
 * and pseudo-gradients g [T, dOut] (computed by its own forward/backward), and this class batches them the way the
 * ONNX path does — right-padded to the batch's longest sequence, mask 0 on padding — onto any backend.
 * Padding positions get junk activations (not zeros), so a stage that forgot the mask would show it.
 */
import type { Backend, Tensor, TokenBatch } from '../../src/linalg/backend';
import type { GradientBatch, GradientRequest, GradientSource, LabelMode, LayerInfo } from '../../src/influence/types';

/** One example's quantities for one label mode. */
export interface ExampleGradients {
  /** Per layer: a [T × dIn] and g [T × dOut], row-major. */
  readonly layers: readonly { readonly a: Float64Array; readonly g: Float64Array }[];
  readonly length: number;
  readonly loss: number;
  /** [T] log-likelihood of each position's label (0 where not measured). */
  readonly tokenLogLikelihoods: Float64Array;
  readonly targetCount: number;
}

export interface ExactModel {
  readonly layers: readonly LayerInfo[];
  /** Whether batches carry a mask even when every example has the same length (sequence models). */
  readonly sequenceModel: boolean;
  length(role: 'train' | 'query', index: number): number;
  example(role: 'train' | 'query', index: number, labels: LabelMode, seed: number): ExampleGradients;
}

export class ExactGradientSource implements GradientSource {
  readonly layers: readonly LayerInfo[];
  /** Number of gradient requests served, by role (tests use it to check chunking). */
  readonly requests = { train: 0, query: 0 };
  private readonly cache = new Map<string, ExampleGradients>();

  constructor(private readonly model: ExactModel) {
    this.layers = model.layers;
  }

  sequenceLength(role: 'train' | 'query', index: number): number {
    return this.model.length(role, index);
  }

  private example(role: 'train' | 'query', index: number, labels: LabelMode, seed: number): ExampleGradients {
    const key = `${role}:${index}:${labels}:${labels === 'sampled' ? seed : ''}`;
    let value = this.cache.get(key);
    if (!value) {
      value = this.model.example(role, index, labels, seed);
      this.cache.set(key, value);
    }
    return value;
  }

  async gradients(request: GradientRequest, backend: Backend): Promise<GradientBatch> {
    this.requests[request.role]++;
    const examples = request.indices.map((i) => this.example(request.role, i, request.labels, request.seed));
    const b = examples.length;
    const t = Math.max(...examples.map((e) => e.length));
    const needsMask = this.model.sequenceModel || examples.some((e) => e.length !== t);
    const maskData = new Float64Array(b * t);
    examples.forEach((e, i) => maskData.fill(1, i * t, i * t + e.length));
    const mask = needsMask ? backend.upload(maskData, [b, t]) : null;
    const tensors: Tensor[] = mask ? [mask] : [];
    const layers: TokenBatch[] = this.layers.map((layer, l) => {
      const activations = new Float64Array(b * t * layer.dIn);
      const gradients = new Float64Array(b * t * layer.dOut);
      examples.forEach((e, i) => {
        activations.set(e.layers[l].a, i * t * layer.dIn);
        gradients.set(e.layers[l].g, i * t * layer.dOut);
        // Junk on padding: a masked stage must ignore it.
        for (let k = e.length * layer.dIn; k < t * layer.dIn; k++) activations[i * t * layer.dIn + k] = 7 + (k % 5);
        for (let k = e.length * layer.dOut; k < t * layer.dOut; k++) gradients[i * t * layer.dOut + k] = -3 + (k % 3);
      });
      const batch: TokenBatch = {
        activations: backend.upload(activations, [b, t, layer.dIn]),
        gradients: backend.upload(gradients, [b, t, layer.dOut]),
        mask,
        appendOnes: layer.hasBias,
      };
      tensors.push(batch.activations, batch.gradients);
      return batch;
    });
    const tokenLogLikelihoods = new Float64Array(b * t);
    examples.forEach((e, i) => tokenLogLikelihoods.set(e.tokenLogLikelihoods, i * t));
    return {
      layers,
      sequenceLength: t,
      tokenCounts: examples.map((e) => e.length),
      targetCounts: examples.map((e) => e.targetCount),
      loss: Float64Array.from(examples, (e) => e.loss),
      tokenLogLikelihoods,
      release: () => backend.release(...tensors),
    };
  }
}
