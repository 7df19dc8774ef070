/**
 * The training loop on gradient graphs: any causal LM built as a forward ONNX graph, any weighted mixture of
 * examples, AdamW with warm-up + cosine decay and global-norm clipping — the model-agnostic loop (./core.ts) with an
 * onnxruntime gradient source. Seeded and reproducible: the batches are a function of the seed, the optimiser is
 * plain float64 TypeScript, and onnxruntime's wasm kernels are deterministic.
 * The same code serves the demo model (scripts/train-demo.ts) and, later, the reweighting experiments.
 */
import { buildGradientGraph, nextTokenTargets } from '../onnx/gradient-graph';
import type { Model } from '../onnx/ir';
import { ModelSession, padBatch, type SessionOptions } from '../onnx/runtime';
import { seededUniform } from '../core/random';
import { adamWRule, runLoopAsync, TrainingLoop, type Evaluation } from './core';
import { warmupCosine } from './optimizer';
import { parametersAsInputs } from './parameters';

/** One training sequence: [bos] prompt response [eos]; loss on the response tokens only. */
export interface TrainingSequence {
  readonly inputIds: ArrayLike<number>;
  readonly promptLen: number;
  /** Mixture weight (sampling probability ∝ weight); default 1. */
  readonly weight?: number;
  /**
   * Per token position of inputIds (≥ 0): the weight of the loss term that predicts token t (t ≥ promptLen); default
   * 1 everywhere. The batch loss stays a mean over the weighted tokens (Σ w·ℓ / Σ w): a weight of 0 drops a token
   * from the objective while it stays in the context (the group-level evidence's segment arms).
   */
  readonly tokenWeights?: ArrayLike<number>;
}

export interface TrainingConfig {
  readonly steps: number;
  readonly batchSize: number;
  readonly peakLearningRate: number;
  readonly warmupSteps: number;
  readonly minLearningRateRatio?: number;
  readonly weightDecay: number;
  readonly clipNorm: number;
  readonly seed: number;
}

export interface TrainingStep {
  readonly step: number;
  readonly steps: number;
  /** Mean loss per response token of this step's batch (nats). */
  readonly loss: number;
  readonly learningRate: number;
  /** Global gradient norm of the per-token-mean loss, before clipping. */
  readonly gradientNorm: number;
  readonly tokens: number;
  readonly elapsedMs: number;
}

export interface TrainOptions {
  /**
   * Called after every step. When it returns a promise the loop waits for it before the next step: a worker uses
   * this to give its event loop a turn, so that a cancel message can abort the signal between steps.
   */
  readonly onStep?: (step: TrainingStep) => void | Promise<void>;
  readonly signal?: AbortSignal;
  readonly session?: SessionOptions;
}

/** Parameters that AdamW does not decay: biases, LayerNorm gains, embeddings (GPT-2 practice). */
export const NO_DECAY = /(\.bias$|ln_\w*\.weight$|ln_f\.weight$|wte\.weight$|wpe\.weight$)/;

export interface TrainingResult {
  /** The forward model with its trained parameters (initializers). */
  readonly model: Model;
  readonly history: TrainingStep[];
}

/**
 * Trains the parameters of a forward causal LM (input_ids, attention_mask → logits): every floating-point
 * initializer of rank ≥ 1, i.e. the graph's parameters as the exporter stored them (a transposed lm_head included).
 * Returns the trained model and the per-step history; the input model is not changed.
 */
/**
 * The gradient graph of a forward causal LM and its onnxruntime session, with the parameters as graph inputs: one
 * session serves any number of trainings from any initial parameters (each feeds its own every step), so the retrains
 * of an evaluation create it, and on the WebGPU EP compile its shaders, once. Release it when done.
 */
export class TrainingSession {
  private constructor(
    readonly forward: Model,
    readonly graph: ReturnType<typeof buildGradientGraph>,
    readonly names: readonly string[],
    readonly session: ModelSession,
    readonly ep: string,
  ) {}

  static async create(forward: Model, options: SessionOptions = {}): Promise<TrainingSession> {
    const graph = buildGradientGraph(forward, {
      loss: { kind: 'token-cross-entropy' },
      tracked: [],
      parameterGradients: true,
    });
    const names = [...graph.outputs.parameterGradients!.keys()];
    const ep = options.backend ?? 'wasm';
    try {
      const session = await ModelSession.create(parametersAsInputs(graph.model, names), options);
      return new TrainingSession(forward, graph, names, session, ep);
    } catch (error) {
      throw new Error(`trainCausalLm: the gradient graph's session on the ${ep} EP: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/**
 * Trains the parameters of a forward causal LM (input_ids, attention_mask → logits): every floating-point
 * initializer of rank ≥ 1, i.e. the graph's parameters as the exporter stored them (a transposed lm_head included).
 * Returns the trained model and the per-step history; the input model is not changed. With `trainer` (a
 * TrainingSession of the same forward model) the training runs on that session and leaves it open; the result is
 * bit for bit the one of a fresh session, since the parameters and AdamW's state live here, not in the session.
 */
export async function trainCausalLm(
  forward: Model,
  data: readonly TrainingSequence[],
  config: TrainingConfig,
  options: TrainOptions & { readonly trainer?: TrainingSession } = {},
): Promise<TrainingResult> {
  if (data.length === 0) throw new Error('trainCausalLm: no training sequences');
  if (options.trainer && options.trainer.forward !== forward)
    throw new Error('trainCausalLm: the TrainingSession was made for another forward model');
  const trainer = options.trainer ?? (await TrainingSession.create(forward, options.session));
  const { graph: gradientGraph, names, session, ep } = trainer;
  const gradientOutputs = gradientGraph.outputs.parameterGradients!;
  const parameters = new Map<string, Float32Array | Float64Array>();
  for (const name of names) {
    const data = forward.graph.initializers.get(name)!.data;
    if (!(data instanceof Float32Array || data instanceof Float64Array)) {
      if (!options.trainer) await trainer.release();
      throw new Error(`trainCausalLm: parameter "${name}" is not float32/float64`);
    }
    parameters.set(name, data.slice());
  }
  const dims = new Map(names.map((n) => [n, forward.graph.initializers.get(n)!.dims] as const));
  const sample = mixtureSampler(data, config.seed);
  const loop = new TrainingLoop(parameters, {
    name: 'trainCausalLm',
    rule: adamWRule({ weightDecay: config.weightDecay, noDecay: NO_DECAY, clipNorm: config.clipNorm }),
    maxSteps: config.steps,
    schedule: (step) =>
      warmupCosine(step, config.peakLearningRate, config.warmupSteps, config.steps, config.minLearningRateRatio ?? 0.1),
  });
  // One step's evaluation: a sampled batch through the gradient graph; the loss is per response token.
  const evaluate = async (step: number): Promise<Evaluation> => {
    const batch = Array.from({ length: config.batchSize }, () => data[sample()]!);
    const padded = padBatch(batch.map((s) => Array.from(s.inputIds)));
    const width = padded.inputIds.dims[1]!;
    const targets = nextTokenTargets(
      padded.inputIds.data as BigInt64Array,
      [batch.length, width],
      batch.map((s) => s.promptLen),
      padded.lengths,
    );
    batch.forEach((s, row) => {
      if (!s.tokenWeights) return;
      for (let t = s.promptLen; t < s.inputIds.length; t++)
        targets.lossMask[row * width + t - 1]! *= s.tokenWeights[t]!;
    });
    const feeds: Record<string, { data: Float32Array | Float64Array | BigInt64Array; dims: readonly number[] }> = {
      input_ids: padded.inputIds as { data: BigInt64Array; dims: number[] },
      attention_mask: padded.attentionMask as { data: BigInt64Array; dims: number[] },
      [gradientGraph.inputs.labels]: { data: targets.labels, dims: [batch.length, width] },
      [gradientGraph.inputs.lossMask!]: { data: targets.lossMask, dims: [batch.length, width] },
    };
    for (const name of names) feeds[name] = { data: parameters.get(name)!, dims: dims.get(name)! };
    let out;
    try {
      out = await session.run(feeds);
    } catch (error) {
      throw new Error(`trainCausalLm: step ${step} on the ${ep} EP: ${(error as Error).message}`, { cause: error });
    }
    let tokens = 0;
    for (const m of targets.lossMask) tokens += m;
    // A batch whose response tokens all have weight 0 moves nothing (a zero gradient, AdamW's decay only).
    const weighted = batch.some((s) => s.tokenWeights);
    if (tokens === 0 && !weighted) throw new Error(`trainCausalLm: step ${step} drew a batch with no response tokens`);
    const lossSum = (out[gradientGraph.outputs.loss]!.data as Float32Array).reduce((a, b) => a + b, 0);
    const gradients = new Map(names.map((n) => [n, out[gradientOutputs.get(n)!]!.data as Float32Array] as const));
    if (tokens === 0) return { loss: 0, gradients, gradientScale: 0, count: 0 };
    return { loss: lossSum / tokens, gradients, gradientScale: 1 / tokens, count: tokens };
  };
  const history: TrainingStep[] = [];
  const start = performance.now();
  try {
    await runLoopAsync(loop, evaluate, {
      signal: options.signal,
      onStep: (r) => {
        const record = {
          step: r.step,
          steps: config.steps,
          loss: r.loss,
          learningRate: r.learningRate,
          gradientNorm: r.gradientNorm,
          tokens: r.count,
          elapsedMs: performance.now() - start,
        };
        history.push(record);
        return options.onStep?.(record);
      },
    });
  } finally {
    if (!options.trainer) await trainer.release();
  }
  const initializers = new Map(forward.graph.initializers);
  for (const [name, data] of parameters) initializers.set(name, { ...initializers.get(name)!, data });
  return { model: { ...forward, graph: { ...forward.graph, initializers } }, history };
}

/** Indices drawn i.i.d. with probability ∝ weight, from a seeded generator. */
export function mixtureSampler(data: readonly { weight?: number }[], seed: number): () => number {
  const cumulative = new Float64Array(data.length);
  let total = 0;
  data.forEach((d, i) => {
    const w = d.weight ?? 1;
    if (!(w >= 0) || !Number.isFinite(w))
      throw new Error(`mixture weight of sequence ${i} is ${w}; weights must be finite and ≥ 0`);
    total += w;
    cumulative[i] = total;
  });
  if (total <= 0) throw new Error('mixture weights sum to 0');
  const uniform = seededUniform(seed);
  return () => {
    const u = uniform() * total;
    let lo = 0;
    let hi = data.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}
