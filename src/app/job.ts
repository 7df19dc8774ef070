/**
 * One attribution run from loaded inputs to results, shared by the worker and the CLI: onnxruntime sessions (WebGPU
 * EP on the backend's own device when the backend is WebGPU in a browser, wasm otherwise) over the run's gradient
 * graph (built once per run: gradientGraphFor), the ONNX gradient source, and the engine's runAttribution with
 * progress, cancellation and checkpoints passed through.
 */
import { topPairTokenScores } from '../influence/pair-tokens';
import type { Example } from '../data/dataset';
import { runAttribution } from '../influence/pipeline';
import type {
  AttributionResult,
  CheckpointStore,
  ExampleMeta,
  GradientSource,
  ModelFileIdentity,
  ProgressEvent as EngineProgress,
} from '../influence/types';
import { OnnxGradientSource, type OutputToTensor } from '../influence/onnx-source';
import type { WebGpuBackend } from '../linalg/webgpu/backend';
import { buildGradientGraph, UnknownShapeError, type GradientGraph, type GradientSpec } from '../onnx/gradient-graph';
import { sequenceFeeds } from '../onnx/feeds';
import { observeShapes } from '../onnx/observe-shapes';
import { DataType } from '../onnx/ir';
import { ModelSession } from '../onnx/runtime';
import { findEmbeddings } from '../onnx/structure';
import type { ModelFactors } from '../core/schema';
import { fingerprintOf } from '../store/bundle';
import type { BackendReport, ChosenBackend } from './backend-choice';
import { engineConfig, type RunConfig } from './config';
import { InputError, type InputSample, type RunInputs } from './inputs';
import type { ExampleText } from './results';
import { measuredQueries, trainingRows } from './measure';
import { trackedChoice } from './model-layers';
import { withQueryLoss, withTokenDetail } from './token-rows';

/** Progress of a run as the page and the CLI show it (structured-clone safe). */
export interface ProgressEvent {
  /**
   * The engine stage reporting progress (covariance, eigen, lambda, query, scores, self; query chunks alternate with
   * scoring), or one of the app's steps before it ('loading data', 'preparing the model').
   */
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  /** What `done` counts ('sequences', 'pairs', 'layers', 'queries'; 'steps' for the app's own steps). */
  readonly unit: string;
  readonly itemsPerSecond: number;
  /** Seconds left in this stage at the current rate; null until a rate is known. */
  readonly etaSeconds: number | null;
}

export interface StageTiming {
  readonly stage: string;
  readonly seconds: number;
  /** Items processed and what they are (tokens for factor passes, pairs for scores); absent for untimed counts. */
  readonly items?: number;
  readonly unit?: string;
}

export interface JobOptions {
  readonly onProgress?: (event: ProgressEvent) => void;
  readonly signal?: AbortSignal;
  /** Run the gradient graph on onnxruntime-web's WebGPU EP, sharing the backend's device (browser only). */
  readonly ortOnGpu: boolean;
  /**
   * Give the event loop a turn before every batch. In a worker, a run whose awaits all settle as microtasks (CPU
   * backend, single-threaded wasm) would otherwise never let the page's cancel message in.
   */
  readonly yieldBetweenBatches?: boolean;
  /** Where the engine checkpoints after every chunk and resumes from (a stored run's, app/checkpoints.ts). */
  readonly checkpoint?: CheckpointStore;
  /** Factors fitted elsewhere (kronfluence, an earlier run), given the tracked layers' names: fitting is skipped. */
  readonly factors?: (layerNames: readonly string[]) => ModelFactors;
  /**
   * After the run, per-token scores of each query's k training examples of largest |influence| (result.pairTokens;
   * influence/pair-tokens.ts), for a bundle opened without the model; 0 or absent: none. Costs Q·k gradients.
   */
  readonly pairTokensTopK?: number;
}

/** The k of JobOptions.pairTokensTopK that `iwb attribute --out` asks for. */
export const PAIR_TOKENS_TOP_K = 20;

export interface JobOutcome {
  readonly result: AttributionResult;
  /** The configuration the run used (its engine part is result.config). */
  readonly config: RunConfig;
  readonly backend: BackendReport;
  readonly trainTexts: readonly ExampleText[];
  readonly queryTexts: readonly ExampleText[];
  /** Per stage: seconds, and items with their unit (tokens for the factor passes, pairs for scores). */
  readonly timings: readonly StageTiming[];
  /** Peak bytes the WebGPU backend's buffer pool held; null on the CPU backend. */
  readonly peakGpuBytes: number | null;
  /**
   * Bytes of a and g of the largest batch the gradient graph hands over at once. Uploaded from wasm they are pool
   * buffers (inside peakGpuBytes); from onnxruntime's WebGPU EP they are its own buffers (not inside it).
   */
  readonly batchBytes: number;
  readonly ortBackend: 'wasm' | 'webgpu';
  /** The stratified samples the inputs were drawn with (seed, sizes, strata); null for first rows or the demo's. */
  readonly sample: InputSample | null;
}

/**
 * The run's gradient graph, tracking config.trackedLayers (null: the MLP projections, the autodiff's default; a
 * preset of track-presets.ts: the layers of its role). Where
 * a VJP needs a rank that static inference cannot decide, the forward runs once on the first training row with the
 * undecided values exposed (onnx/observe-shapes.ts) and the graph is built again with what that run recorded.
 */
export async function gradientGraphFor(inputs: RunInputs, config: RunConfig): Promise<GradientGraph> {
  try {
    // A preset (mlp, attention, all) names the layers of its role; any other value is a regular expression.
    const tracked = trackedChoice(inputs.model, config.trackedLayers);
    const spec: GradientSpec = { loss: { kind: 'token-cross-entropy' }, ...(tracked ? { tracked } : {}) };
    try {
      return buildGradientGraph(inputs.model, spec);
    } catch (error) {
      const first = inputs.train[0] ?? inputs.queries[0];
      if (!(error instanceof UnknownShapeError) || !first) throw error;
      const ids = BigInt64Array.from(first.inputIds, BigInt);
      const feeds = sequenceFeeds(
        inputs.model.graph.inputs,
        ids,
        ids.map(() => 1n),
        [1, ids.length],
      );
      const observed = await observeShapes(inputs.model, feeds);
      return buildGradientGraph(inputs.model, { ...spec, observed });
    }
  } catch (error) {
    throw new InputError(`${inputs.modelName}: ${(error as Error).message}`);
  }
}

/**
 * The model's files by content (the graph, then its external data files): a checkpoint keeps them, so a resume from
 * another `model.onnx.data` (or graph) is refused naming the file.
 */
export async function modelFileIdentities(inputs: RunInputs): Promise<ModelFileIdentity[]> {
  const files = [{ name: inputs.modelName, bytes: inputs.modelBytes! }, ...(inputs.modelData ?? [])];
  return Promise.all(files.map((f) => fingerprintOf(f.name, f.bytes)));
}

/** Runs the engine over `inputs` with the graph from gradientGraphFor(inputs, config). */
export async function runJob(
  inputs: RunInputs,
  graph: GradientGraph,
  config: RunConfig,
  chosen: ChosenBackend,
  options: JobOptions,
): Promise<JobOutcome> {
  checkVocabulary(inputs);
  // Refused before onnxruntime starts: a query whose measured span is missing or outside its response.
  const queryRows = measuredQueries(inputs.queries, config.measure);
  const ortBackend = options.ortOnGpu && chosen.webgpu ? 'webgpu' : 'wasm';
  const device = chosen.webgpu?.runtime.device;
  const gpuOutputs = graph.layers.flatMap((l) => [l.activationOutput, l.gradientOutput]);
  const session = await ModelSession.create(
    graph.model,
    ortBackend === 'webgpu' ? { backend: 'webgpu', device, gpuOutputs } : {},
  );
  try {
    const rows = {
      kind: 'sequences',
      // A templated chat's loss on its assistant turns only (app/measure.ts).
      train: trainingRows(inputs.train),
      // Each query with the tokens its measurement counts (config.measure, the row's own spans).
      query: queryRows,
      padId: inputs.tokenizer?.padId ?? 0,
    } as const;
    const onnxSource = new OnnxGradientSource(
      graph,
      session,
      rows,
      ortBackend === 'webgpu' ? wrapGpuOutputs(chosen.webgpu!) : undefined,
    );
    const source = options.yieldBetweenBatches ? yieldingSource(onnxSource, options.signal) : onnxSource;
    // onnxruntime compiles and allocates on its first run: do that outside the timed stages.
    (await source.gradients({ role: 'train', indices: [0], labels: 'given', seed: 0 }, chosen.backend)).release();
    const pool = chosen.webgpu?.runtime.pool;
    let peakGpuBytes = pool?.bytesAllocated ?? 0;
    const onProgress = (event: EngineProgress): void => {
      if (pool) peakGpuBytes = Math.max(peakGpuBytes, pool.bytesAllocated);
      options.onProgress?.(toProtocolProgress(event));
    };
    const result = await runAttribution(
      engineConfig(config),
      {
        backend: chosen.backend,
        source,
        ...(inputs.modelBytes ? { modelFiles: await modelFileIdentities(inputs) } : {}),
        trainSet: { role: 'train', examples: inputs.train.map((e) => exampleMeta(e, 'train')) },
        querySet: { role: 'query', examples: inputs.queries.map((e) => exampleMeta(e, 'query')) },
        ...(options.factors ? { factors: options.factors(graph.layers.map((l) => l.nodeName)) } : {}),
      },
      {
        onProgress,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
      },
    );
    const k = options.pairTokensTopK ?? 0;
    const withPairs =
      k > 0
        ? {
            ...result,
            pairTokens: await topPairTokenScores(
              engineConfig(config),
              { backend: chosen.backend, source, factors: result.factors },
              result.influence,
              result.queries.length,
              k,
              options.signal ? { signal: options.signal } : {},
            ),
          }
        : result;
    if (pool) peakGpuBytes = Math.max(peakGpuBytes, pool.bytesAllocated);
    return {
      result: withPairs,
      config,
      backend: chosen.report,
      // Training rows keep their tokens, categories and segments: the workspace's heatmaps and token analyses.
      trainTexts: withTokenDetail(
        inputs.train.map((e) => exampleText(e, inputs)),
        inputs.train,
        inputs.tokenizer,
      ),
      // Queries keep theirs too, with their loss per token (the query view's shading).
      queryTexts: withQueryLoss(
        inputs.queries.map((e) => exampleText(e, inputs)),
        inputs.queries,
        inputs.tokenizer,
        result.queryTokenLoss,
        queryRows.map((row) => row.measured),
      ),
      timings: describeTimings(result, inputs),
      peakGpuBytes: pool ? peakGpuBytes : null,
      batchBytes: batchBytes(graph, inputs, config.batchSizes.fit),
      ortBackend,
      sample: inputs.sample,
    };
  } finally {
    await session.release();
  }
}

function yieldingSource(source: GradientSource, signal: AbortSignal | undefined): GradientSource {
  return {
    layers: source.layers,
    sequenceLength: (role, index) => source.sequenceLength(role, index),
    async gradients(request, backend) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      signal?.throwIfAborted();
      return source.gradients(request, backend);
    },
  };
}

/** On the WebGPU EP, a and g arrive as GPUBuffers: the backend binds them in place. */
function wrapGpuOutputs(webgpu: WebGpuBackend): OutputToTensor {
  return (output, shape, backend) =>
    output.location === 'gpu-buffer'
      ? webgpu.wrapBuffer(output.gpuBuffer as GPUBuffer, shape)
      : backend.upload(output.data as ArrayLike<number>, shape);
}

function batchBytes(graph: GradientGraph, inputs: RunInputs, batchSize: number): number {
  const longest = Math.max(...[...inputs.train, ...inputs.queries].map((e) => e.inputIds.length));
  const width = graph.layers.reduce((sum, l) => sum + l.dIn + l.dOut, 0);
  return batchSize * longest * width * (graph.floatType === DataType.DOUBLE ? 8 : 4);
}

/** A token id beyond the model's embedding would fail deep inside onnxruntime; say which example and file instead. */
function checkVocabulary(inputs: RunInputs): void {
  const embedding = findEmbeddings(inputs.model.graph).token;
  const vocab = embedding?.rows;
  if (vocab === undefined) return;
  for (const [role, examples] of [
    ['training', inputs.train],
    ['query', inputs.queries],
  ] as const) {
    for (const example of examples) {
      const bad = example.inputIds.findIndex((id) => id >= vocab);
      if (bad >= 0) {
        throw new InputError(
          `${role} example "${example.id}": token id ${example.inputIds[bad]} at position ${bad} is outside ${inputs.modelName}'s vocabulary of ${vocab} (embedding "${embedding!.weight}"); does the tokenizer belong to this model?`,
        );
      }
    }
  }
}

/** src/data's Example is an ExampleMeta as it is; a query row may name its benchmark (else its domain is used). */
function exampleMeta(example: Example, role: 'train' | 'query'): ExampleMeta {
  const benchmark = example.extra.benchmark;
  return role === 'query' && typeof benchmark === 'string' ? { ...example, benchmark } : example;
}

function exampleText(example: Example, inputs: RunInputs): ExampleText {
  if (example.prompt !== undefined && example.response !== undefined)
    return { prompt: example.prompt, response: example.response };
  const ids = Array.from(example.inputIds);
  if (!inputs.tokenizer)
    return {
      prompt: `(pre-tokenized: ${example.promptLen} prompt tokens)`,
      response: `(${ids.length - example.promptLen} response tokens)`,
    };
  return {
    prompt: inputs.tokenizer.decode(ids.slice(0, example.promptLen)),
    response: inputs.tokenizer.decode(ids.slice(example.promptLen)),
  };
}

function toProtocolProgress(event: EngineProgress): ProgressEvent {
  return {
    stage: event.stage,
    done: event.done,
    total: event.total,
    unit: event.unit,
    itemsPerSecond: event.itemsPerSecond,
    etaSeconds: Number.isFinite(event.etaSeconds) ? event.etaSeconds : null,
  };
}

/**
 * The engine times stages in sequences; the factor passes are reported in tokens and scoring in pairs, as the benchmark
 * needs.
 */
function describeTimings(result: AttributionResult, inputs: RunInputs): StageTiming[] {
  const trainTokens = inputs.train.reduce((sum, e) => sum + e.inputIds.length, 0);
  const pairs = inputs.train.length * inputs.queries.length;
  return result.timings.map((t) => {
    switch (t.stage) {
      case 'covariance':
      case 'lambda':
        return { stage: t.stage, seconds: t.seconds, items: trainTokens, unit: 'tokens' };
      case 'scores':
        return { stage: t.stage, seconds: t.seconds, items: pairs, unit: 'pairs' };
      case 'eigen':
        return { stage: t.stage, seconds: t.seconds, items: t.items, unit: 'layers' };
      case 'query':
        return { stage: t.stage, seconds: t.seconds, items: t.items, unit: 'queries' };
      case 'self':
        return { stage: t.stage, seconds: t.seconds, items: t.items, unit: 'sequences' };
    }
  });
}
