/**
 * A GradientSource backed by a gradient graph (src/onnx/gradient-graph.ts) run by onnxruntime-web: the path our own
 * models and a user's exported model take. Sequence models (input_ids + attention_mask, token cross-entropy over the
 * response) and feature models (features, classifier cross-entropy) are both served.
 *
 * Sampled labels (the true Fisher): a first run with the data's labels gives the logits, labels are drawn from them
 * by `sampleLabels` keyed by (seed, example index, position) — so batching never changes a sample — and a second run
 * gives the gradients for those labels. Labels for the seeds a request announces in `sampleAlso` (the Λ pass's, when
 * the covariance pass runs) are drawn from the same logits and kept, so the later pass skips its first run: with
 * GPT-2's 50,257-way head that run costs as much as the gradient run itself.
 *
 * Outputs reach the backend through `toTensor`: by default the host values are uploaded (ORT wasm); the worker passes
 * a function that wraps a WebGPU EP output's GPUBuffer as a backend Tensor, so a and g never leave the GPU.
 */
import type * as Ort from 'onnxruntime-web';
import type { Backend, Tensor, TokenBatch } from '../linalg/backend';
import { nextTokenTargets, sampleLabels, type GradientGraph } from '../onnx/gradient-graph';
import { sequenceFeeds, sequenceInputRoles } from '../onnx/feeds';
import { DataType, type ValueInfo } from '../onnx/ir';
import { padBatch, type Feed, type ModelSession } from '../onnx/runtime';
import type { GradientBatch, GradientRequest, GradientSource, LayerInfo } from './types';

/**
 * A token sequence: positions [0, promptLen) are the prompt, [promptLen, length) the response (src/data Example fits).
 */
export interface SequenceRow {
  readonly inputIds: ArrayLike<number>;
  readonly promptLen: number;
  /**
   * The token positions [start, end) whose prediction the loss counts (a span measurement: kronfluence's custom
   * measurement, the loss masked to these tokens); absent: every response token. Inside [promptLen, length).
   */
  readonly measured?: readonly { readonly start: number; readonly end: number }[];
}

/** One feature vector with its class. */
export interface FeatureRow {
  readonly features: ArrayLike<number>;
  readonly label: number;
}

export type OnnxRows =
  | {
      readonly kind: 'sequences';
      readonly train: readonly SequenceRow[];
      readonly query: readonly SequenceRow[];
      readonly padId?: number;
    }
  | { readonly kind: 'features'; readonly train: readonly FeatureRow[]; readonly query: readonly FeatureRow[] };

/** Turns one graph output into a backend tensor of the given shape (default: upload its host values). */
export type OutputToTensor = (output: Ort.Tensor, shape: readonly number[], backend: Backend) => Tensor;

const uploadOutput: OutputToTensor = (output, shape, backend) =>
  backend.upload(output.data as ArrayLike<number>, shape);

export class OnnxGradientSource implements GradientSource {
  readonly layers: readonly LayerInfo[];
  private readonly floatArray: Float32ArrayConstructor | Float64ArrayConstructor;
  private readonly forwardInputs: readonly ValueInfo[];

  constructor(
    private readonly graph: GradientGraph,
    private readonly session: ModelSession,
    private readonly rows: OnnxRows,
    private readonly toTensor: OutputToTensor = uploadOutput,
  ) {
    this.layers = graph.layers.map((l) => ({
      name: l.nodeName,
      weightName: l.weightName,
      dIn: l.dIn,
      dOut: l.dOut,
      hasBias: l.hasBias,
    }));
    this.floatArray = graph.floatType === DataType.DOUBLE ? Float64Array : Float32Array;
    const forward = graph.model.graph.inputs.filter((i) => graph.inputs.forward.includes(i.name));
    if (rows.kind === 'sequences') {
      // Refused here, before any run, when the graph asks for an input we cannot fill.
      sequenceInputRoles(forward);
    } else if (!graph.inputs.forward.includes('features')) {
      throw new Error(
        `gradient graph: features rows need a forward input 'features'; the model has ${graph.inputs.forward.join(', ')}`,
      );
    }
    this.forwardInputs = forward;
  }

  sequenceLength(role: 'train' | 'query', index: number): number {
    return this.rows.kind === 'sequences' ? this.row(role, index).length : 1;
  }

  private row(role: 'train' | 'query', index: number): { length: number } {
    const rows = this.rows[role];
    if (!(index >= 0 && index < rows.length))
      throw new Error(`${role} example ${index} does not exist (${rows.length} rows)`);
    const row = rows[index];
    if ('inputIds' in row && !(row.promptLen >= 1 && row.promptLen < row.inputIds.length)) {
      throw new Error(
        `${role} example ${index}: promptLen ${row.promptLen} with ${row.inputIds.length} tokens; a sequence needs at least one prompt token (bos) and one response token`,
      );
    }
    return { length: 'inputIds' in row ? row.inputIds.length : 1 };
  }

  async gradients(request: GradientRequest, backend: Backend): Promise<GradientBatch> {
    request.indices.forEach((i) => this.row(request.role, i));
    const { feeds, tokens, lossMask, mask, tokenCounts, targetCounts } =
      this.rows.kind === 'sequences' ? this.sequenceFeeds(request) : this.featureFeeds(request);
    if (request.labels !== 'sampled') {
      const outputs = await this.session.run(feeds);
      return this.batchFrom(outputs, request.indices.length, tokens, mask, tokenCounts, targetCounts, backend);
    }
    let labels = this.keptLabels(request, tokens);
    if (labels === null) {
      // A first run for the logits; labels for this seed and for the seeds a later pass announced.
      const first = await this.session.run(feeds);
      const logits = first[this.graph.outputs.forward[0]];
      const sample = (seed: number) =>
        sampleLabels({
          logits: logits.data as Float32Array | Float64Array,
          dims: [request.indices.length, tokens, logits.dims[logits.dims.length - 1]],
          mask: lossMask ?? undefined,
          seed,
          rowKeys: request.indices,
        });
      labels = sample(request.seed);
      for (const seed of request.sampleAlso ?? [])
        if (seed !== request.seed) this.keepLabels(request, seed, sample(seed));
      for (const output of Object.values(first)) output.dispose();
    }
    const outputs = await this.session.run({
      ...feeds,
      [this.graph.inputs.labels]: { data: labels, dims: feeds[this.graph.inputs.labels].dims },
    });
    return this.batchFrom(outputs, request.indices.length, tokens, mask, tokenCounts, targetCounts, backend);
  }

  /** Sampled labels drawn ahead for (role, seed, example): each example's row, unpadded; taken once. */
  private readonly labelsAhead = new Map<string, BigInt64Array>();

  private keepLabels(request: GradientRequest, seed: number, labels: BigInt64Array): void {
    const tokens = labels.length / request.indices.length;
    request.indices.forEach((index, b) => {
      const length = this.sequenceLength(request.role, index);
      this.labelsAhead.set(`${request.role}:${seed}:${index}`, labels.slice(b * tokens, b * tokens + length));
    });
  }

  /** The batch's labels [B × tokens] when every example's were drawn ahead for this seed (consumed), else null. */
  private keptLabels(request: GradientRequest, tokens: number): BigInt64Array | null {
    const keys = request.indices.map((index) => `${request.role}:${request.seed}:${index}`);
    if (!keys.every((key) => this.labelsAhead.has(key))) return null;
    const labels = new BigInt64Array(request.indices.length * tokens);
    keys.forEach((key, b) => {
      labels.set(this.labelsAhead.get(key)!, b * tokens);
      this.labelsAhead.delete(key);
    });
    return labels;
  }

  private sequenceFeeds(request: GradientRequest) {
    const rows = (this.rows as Extract<OnnxRows, { kind: 'sequences' }>)[request.role];
    const selected = request.indices.map((i) => rows[i]);
    const padded = padBatch(
      selected.map((r) => Array.from(r.inputIds)),
      (this.rows as { padId?: number }).padId ?? 0,
    );
    const tokens = padded.inputIds.dims[1];
    const dims = [selected.length, tokens];
    const targets = nextTokenTargets(
      padded.inputIds.data as BigInt64Array,
      [selected.length, tokens],
      selected.map((r) => r.promptLen),
      padded.lengths,
      this.floatArray === Float64Array ? 'float64' : 'float32',
    );
    const feeds: Record<string, Feed> = {
      ...sequenceFeeds(
        this.forwardInputs,
        padded.inputIds.data as BigInt64Array,
        padded.attentionMask.data as BigInt64Array,
        [selected.length, tokens],
      ),
      [this.graph.inputs.labels]: { data: targets.labels, dims },
    };
    const targetCounts = selected.map((r, b) =>
      r.measured
        ? maskToMeasured(targets.lossMask, b * tokens, r, `${request.role} example ${request.indices[b]}`)
        : r.inputIds.length - r.promptLen,
    );
    if (this.graph.inputs.lossMask) feeds[this.graph.inputs.lossMask] = { data: targets.lossMask, dims };
    const mask = Float64Array.from(padded.attentionMask.data as BigInt64Array, Number);
    return {
      feeds,
      tokens,
      lossMask: targets.lossMask,
      mask,
      tokenCounts: padded.lengths,
      targetCounts,
    };
  }

  private featureFeeds(request: GradientRequest) {
    const rows = (this.rows as Extract<OnnxRows, { kind: 'features' }>)[request.role];
    const selected = request.indices.map((i) => rows[i]);
    const width = selected[0].features.length;
    const features = new this.floatArray(selected.length * width);
    selected.forEach((r, i) => {
      if (r.features.length !== width)
        throw new Error(
          `${request.role} example ${request.indices[i]} has ${r.features.length} features, not ${width}`,
        );
      features.set(Array.from(r.features), i * width);
    });
    const feeds: Record<string, Feed> = {
      features: { data: features, dims: [selected.length, width] },
      [this.graph.inputs.labels]: {
        data: BigInt64Array.from(selected, (r) => BigInt(r.label)),
        dims: [selected.length],
      },
    };
    return {
      feeds,
      tokens: 1,
      lossMask: null,
      mask: null,
      tokenCounts: selected.map(() => 1),
      targetCounts: selected.map(() => 1),
    };
  }

  private batchFrom(
    outputs: Record<string, Ort.Tensor>,
    b: number,
    tokens: number,
    maskValues: Float64Array | null,
    tokenCounts: readonly number[],
    targetCounts: readonly number[],
    backend: Backend,
  ): GradientBatch {
    const owned: Tensor[] = [];
    const mask = maskValues ? backend.upload(maskValues, [b, tokens]) : null;
    if (mask) owned.push(mask);
    const layers: TokenBatch[] = this.graph.layers.map((layer) => {
      const activations = this.toTensor(outputs[layer.activationOutput], [b, tokens, layer.dIn], backend);
      const gradients = this.toTensor(outputs[layer.gradientOutput], [b, tokens, layer.dOut], backend);
      owned.push(activations, gradients);
      return { activations, gradients, mask, appendOnes: layer.hasBias };
    });
    const loss = Float64Array.from(outputs[this.graph.outputs.loss].data as ArrayLike<number>);
    const logLikelihoodName = this.graph.outputs.tokenLogLikelihoods;
    const tokenLogLikelihoods = logLikelihoodName
      ? Float64Array.from(outputs[logLikelihoodName].data as ArrayLike<number>)
      : new Float64Array(b * tokens);
    return {
      layers,
      sequenceLength: tokens,
      tokenCounts,
      targetCounts,
      loss,
      tokenLogLikelihoods,
      release: () => {
        backend.release(...owned);
        // Outputs the WebGPU EP kept on the GPU are onnxruntime's buffers (wrapped, not owned): free them here, or
        // every batch would leave its a/g behind on the device.
        for (const output of Object.values(outputs)) if (output.location === 'gpu-buffer') output.dispose();
      },
    };
  }
}

/**
 * Restricts one row's loss mask (from `offset` in the batch's [B × T] mask) to the targets of its measured tokens:
 * position t predicts token t + 1, so token p is measured through target p − 1. Returns the measured token count
 * (T_q of the mean log-likelihood).
 */
function maskToMeasured(
  lossMask: Float32Array | Float64Array,
  offset: number,
  row: SequenceRow,
  where: string,
): number {
  const length = row.inputIds.length;
  const keep = new Uint8Array(length);
  for (const span of row.measured!) {
    if (!(
      Number.isInteger(span.start) &&
      Number.isInteger(span.end) &&
      span.start >= row.promptLen &&
      span.end <= length &&
      span.start < span.end
    ))
      throw new Error(
        `${where}: measured span [${span.start}, ${span.end}) lies outside its response tokens [${row.promptLen}, ${length})`,
      );
    keep.fill(1, span.start, span.end);
  }
  let count = 0;
  for (let t = 0; t < length - 1; t++) {
    if (keep[t + 1]) count++;
    else lossMask[offset + t] = 0;
  }
  return count;
}
