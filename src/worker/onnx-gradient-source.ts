/**
 * The GradientSource of a causal language model given as ONNX: each request is a right-padded batch run through the
 * gradient graph (src/onnx/gradient-graph.ts) by onnxruntime-web. With the WebGPU EP on the backend's own device,
 * the a/g outputs stay GPUBuffers and are wrapped as backend tensors (no CPU round trip); with the wasm EP they are
 * uploaded to whichever backend the engine runs on.
 *
 * Sampled labels (the true Fisher) come from a first pass of the forward model: its logits are sampled per
 * (seed, example index, position), so batching and padding never change a sample.
 */
import type * as Ort from 'onnxruntime-web';
import type { Example } from '../data/dataset';
import type { Backend, GradientBatch, GradientRequest, GradientSource, LayerInfo, TokenBatch } from '../influence/types';
import type { WebGpuBackend } from '../linalg/webgpu/backend';
import { DataType } from '../onnx/ir';
import { nextTokenTargets, sampleLabels, type GradientGraph } from '../onnx/gradient-graph';
import { padBatch, type HostTensor, type ModelSession } from '../onnx/runtime';

export interface OnnxSourceInputs {
  readonly graph: GradientGraph;
  /** Session of graph.model. When it runs on the WebGPU EP, its a/g outputs must be GPU outputs on `gpuBackend`'s device. */
  readonly gradientSession: ModelSession;
  /** Session of the forward model, for sampling labels from the model's own predictions. */
  readonly forwardSession: ModelSession;
  readonly train: readonly Example[];
  readonly queries: readonly Example[];
  readonly padId: number;
  /** Set when gradientSession keeps a/g on the GPU: they are wrapped, not copied. */
  readonly gpuBackend?: WebGpuBackend;
}

/** The token inputs the source knows how to feed; a model asking for anything else is refused by name. */
const TOKEN_INPUTS = new Set(['input_ids', 'attention_mask', 'position_ids']);

export class OnnxGradientSource implements GradientSource {
  readonly layers: readonly LayerInfo[];
  /** Largest bytes of a/g one batch produced (what the gradient graph hands the engine at once). */
  peakBatchBytes = 0;
  /** Tokens (non-padding) that went through the gradient graph, by request role. */
  readonly tokensProcessed = { train: 0, query: 0 };

  constructor(private readonly inputs: OnnxSourceInputs) {
    const { graph } = inputs;
    const unknown = graph.inputs.forward.filter((name) => !TOKEN_INPUTS.has(name));
    if (!graph.inputs.forward.includes('input_ids') || unknown.length > 0) {
      throw new Error(
        `the model's inputs are ${graph.inputs.forward.join(', ')}; a causal LM needs input_ids and may take attention_mask and position_ids only`,
      );
    }
    if (graph.inputs.lossMask === null || graph.outputs.tokenLogLikelihoods === null) {
      throw new Error('the gradient graph has no token loss: attribution of JSONL data needs a causal LM with token cross-entropy');
    }
    this.layers = graph.layers.map((layer) => ({
      name: layer.nodeName,
      ...(layer.weightName !== layer.nodeName ? { weightName: layer.weightName } : {}),
      dIn: layer.dIn,
      dOut: layer.dOut,
      hasBias: layer.hasBias,
    }));
  }

  sequenceLength(role: 'train' | 'query', index: number): number {
    return this.examples(role)[index]!.inputIds.length;
  }

  async gradients(request: GradientRequest, backend: Backend): Promise<GradientBatch> {
    const { graph, gradientSession, padId } = this.inputs;
    const examples = request.indices.map((i) => {
      const example = this.examples(request.role)[i];
      if (!example) throw new Error(`gradient request: ${request.role} index ${i} is out of range`);
      return example;
    });
    const padded = padBatch(examples.map((e) => Array.from(e.inputIds)), padId);
    const [rows, width] = padded.inputIds.dims as [number, number];
    const float64 = graph.floatType === DataType.DOUBLE;
    const promptLengths = examples.map((e) => e.promptLen);
    const targets = nextTokenTargets(padded.inputIds.data as BigInt64Array, [rows, width], promptLengths, padded.lengths, float64 ? 'float64' : 'float32');
    const tokenFeeds = this.tokenFeeds(padded.inputIds, padded.attentionMask);
    const labels = request.labels === 'given' ? targets.labels : await this.sampledLabels(tokenFeeds, targets.lossMask, request);

    const outputs = await gradientSession.run({
      ...tokenFeeds,
      [graph.inputs.labels]: { data: labels, dims: [rows, width] },
      [graph.inputs.lossMask!]: { data: targets.lossMask, dims: [rows, width] },
    });
    const maskValues = new Float64Array(rows * width);
    padded.lengths.forEach((length, row) => maskValues.fill(1, row * width, row * width + length));

    const owned: Ort.Tensor[] = Object.values(outputs);
    const layerBatches: TokenBatch[] = [];
    const created: { release(b: Backend): void }[] = [];
    let bytes = 0;
    try {
      for (const layer of graph.layers) {
        const activations = this.toBackend(outputs[layer.activationOutput]!, [rows, width, layer.dIn], backend, layer.activationOutput);
        const gradients = this.toBackend(outputs[layer.gradientOutput]!, [rows, width, layer.dOut], backend, layer.gradientOutput);
        const mask = backend.upload(maskValues, [rows, width]);
        bytes += (activations.size + gradients.size) * (float64 ? 8 : 4);
        layerBatches.push({ activations, gradients, mask, appendOnes: layer.hasBias });
        created.push({ release: (b) => b.release(activations, gradients, mask) });
      }
    } catch (error) {
      for (const c of created) c.release(backend);
      for (const tensor of owned) tensor.dispose();
      throw error;
    }
    this.peakBatchBytes = Math.max(this.peakBatchBytes, bytes);
    this.tokensProcessed[request.role] += padded.lengths.reduce((a, b) => a + b, 0);
    const loss = Float64Array.from(outputs[graph.outputs.loss]!.data as Float32Array | Float64Array);
    const tokenLogLikelihoods = Float64Array.from(outputs[graph.outputs.tokenLogLikelihoods!]!.data as Float32Array | Float64Array);
    // Host outputs are copied above; GPU outputs are wrapped and must outlive the engine's use of the batch.
    for (const tensor of owned) if (tensor.location !== 'gpu-buffer') tensor.dispose();
    return {
      layers: layerBatches,
      sequenceLength: width,
      tokenCounts: padded.lengths,
      targetCounts: examples.map((e) => e.inputIds.length - e.promptLen),
      loss,
      tokenLogLikelihoods,
      release: () => {
        for (const c of created) c.release(backend);
        for (const tensor of owned) if (tensor.location === 'gpu-buffer') tensor.dispose();
      },
    };
  }

  private examples(role: 'train' | 'query'): readonly Example[] {
    return role === 'train' ? this.inputs.train : this.inputs.queries;
  }

  private tokenFeeds(inputIds: HostTensor, attentionMask: HostTensor): Record<string, HostTensor> {
    const wanted = new Set(this.inputs.graph.inputs.forward);
    const feeds: Record<string, HostTensor> = { input_ids: inputIds };
    if (wanted.has('attention_mask')) feeds.attention_mask = attentionMask;
    if (wanted.has('position_ids')) {
      const [rows, width] = inputIds.dims as [number, number];
      const positions = new BigInt64Array(rows * width);
      for (let i = 0; i < positions.length; i++) positions[i] = BigInt(i % width);
      feeds.position_ids = { data: positions, dims: [rows, width] };
    }
    return feeds;
  }

  private async sampledLabels(feeds: Record<string, HostTensor>, lossMask: ArrayLike<number>, request: GradientRequest): Promise<BigInt64Array> {
    const { forwardSession, graph } = this.inputs;
    const outputs = await forwardSession.run(feeds);
    try {
      const logits = outputs[graph.outputs.forward[0]!]!;
      const [rows, positions, vocab] = logits.dims as [number, number, number];
      return sampleLabels({
        logits: (await logits.getData()) as Float32Array | Float64Array,
        dims: [rows, positions, vocab],
        mask: lossMask,
        seed: request.seed,
        rowKeys: request.indices,
      });
    } finally {
      for (const tensor of Object.values(outputs)) tensor.dispose();
    }
  }

  private toBackend(tensor: Ort.Tensor, shape: number[], backend: Backend, name: string) {
    const expected = shape.reduce((a, b) => a * b, 1);
    if (tensor.size !== expected) throw new Error(`gradient graph output '${name}' has dims [${tensor.dims}], expected [${shape}]`);
    if (tensor.location === 'gpu-buffer') {
      const gpu = this.inputs.gpuBackend;
      if (!gpu || gpu !== (backend as unknown)) throw new Error(`output '${name}' is a GPU buffer but the engine's backend is ${backend.description}`);
      return gpu.wrapBuffer(tensor.gpuBuffer as GPUBuffer, shape);
    }
    return backend.upload(tensor.data as Float32Array | Float64Array, shape);
  }
}
