/**
 * One evaluation from loaded inputs (issue 14 §1), shared by the CLI and the page's worker: train the
 * initial model on all training examples, attribute it with each strategy, then score the influences against
 * retrains on random subsets and leave-one-out (src/eval), every retrain by the project's training loop.
 */
import { causalLmRetrainer } from '../eval/causal-lm';
import { evaluateInfluence } from '../eval/evaluate';
import type { EvaluationConfig, EvaluationProgress, EvaluationResult, EvaluationStore, Retrainer } from '../eval/types';
import type { Damping, FisherMode } from '../influence/types';
import type { Strategy } from '../core/strategy';
import { trainCausalLm, type TrainingConfig } from '../train/loop';
import type { ChosenBackend } from './backend-choice';
import { DEFAULT_RUN_CONFIG, type RunConfig } from './config';
import type { RunInputs } from './inputs';
import { gradientGraphFor, runJob, type JobOutcome } from './job';
import { serializeModel } from '../onnx/protobuf';
import type { SessionOptions } from '../onnx/runtime';
import type { BundleContent } from '../store/bundle';
import { bundleContent } from './bundle-content';

export interface EvaluationSettings {
  readonly evaluation: EvaluationConfig;
  readonly strategies: readonly Strategy[];
  readonly damping: Damping;
  /** The Fisher the factors are fitted with (RunConfig.fisher); the default config's when absent. */
  readonly fisher?: FisherMode;
  /** How the model is trained: on all examples (the model attributed) and on every subset, from `inputs.model`. */
  readonly training: TrainingConfig;
  /**
   * Where onnxruntime runs the training steps and measurements: its wasm EP (default; deterministic, the CLI's) or
   * its WebGPU EP on `EvaluationJobOptions.gpuDevice` (the page, when it has WebGPU). Attribution is CPU float64 either
   * way. Part of every retrain's fingerprint: retrains of one EP never resume another's.
   */
  readonly executionProvider?: RetrainEp;
  /**
   * The layers attributed (RunConfig.trackedLayers: a preset mlp/attention/all or a regular expression); absent or
   * null: the default, the MLP projections. Not part of the retrains' fingerprint: one set of retrains scores several.
   */
  readonly trackedLayers?: string | null;
}

export type RetrainEp = 'wasm' | 'webgpu';

/** The training every evaluation uses unless told otherwise (CLI flags and the page's fields change these four). */
export const EVALUATION_TRAINING_DEFAULTS = { steps: 200, batchSize: 8, peakLearningRate: 1e-2, seed: 0 } as const;

/** The training configuration from its four settings: warm-up a tenth of the steps, decay, clipping as the demo's. */
export function evaluationTraining(
  settings: Partial<Pick<TrainingConfig, 'steps' | 'batchSize' | 'peakLearningRate' | 'seed'>> = {},
): TrainingConfig {
  const { steps, batchSize, peakLearningRate, seed } = { ...EVALUATION_TRAINING_DEFAULTS, ...settings };
  return {
    steps,
    batchSize,
    peakLearningRate,
    warmupSteps: Math.max(1, Math.round(steps / 10)),
    minLearningRateRatio: 0.1,
    weightDecay: 0.01,
    clipNorm: 1,
    seed,
  };
}

/** What a stored evaluation records of how its models were trained (the bundle's evaluation.training). */
export function trainingRecord(settings: EvaluationSettings): Readonly<Record<string, unknown>> {
  return { ...settings.training, damping: settings.damping, executionProvider: settings.executionProvider ?? 'wasm' };
}

export interface EvaluationJobOptions {
  readonly store?: EvaluationStore;
  /**
   * Saved influence per strategy (and the bundled strategy's bundle content), so that a resumed or partial
   * evaluation does not train and attribute again.
   */
  readonly influenceCache?: InfluenceCache;
  /** A bundle's scores: one strategy's whole attribution, as bundle content (fresh or from the cache). */
  readonly bundled?: BundledScores;
  /** Score against the retrains in the store only (EvaluationOptions.savedOnly). */
  readonly savedOnly?: boolean;
  readonly signal?: AbortSignal;
  /** The device onnxruntime's WebGPU EP runs on (settings.executionProvider 'webgpu'): the page's own. */
  readonly gpuDevice?: GPUDevice;
  /** One line per step: base training, each strategy's attribution (with its seconds). */
  readonly onStep?: (line: string) => void;
  readonly onRetrain?: (event: EvaluationProgress) => void;
  /** Each strategy's influence [Q × N] as evaluated (fresh or from the cache): what records keep. */
  readonly onInfluence?: (influence: ReadonlyMap<Strategy, Float64Array>) => void;
}

export interface BundledScores {
  readonly strategy: Strategy;
  /** The name of the trained model in the bundle (its fingerprint is of the model trained on all examples). */
  readonly modelName: string;
  /**
   * The strategy's attribution of the model trained on all examples, as bundle content without an evaluation, and
   * its stage timings (none when it came from the cache).
   */
  readonly onContent: (content: BundleContent, timings: JobOutcome['result']['timings']) => void;
}

export async function runEvaluationJob(
  inputs: RunInputs,
  settings: EvaluationSettings,
  chosen: ChosenBackend,
  options: EvaluationJobOptions = {},
): Promise<EvaluationResult> {
  const { training } = settings;
  const train = inputs.train.map((e) => ({ inputIds: e.inputIds, promptLen: e.promptLen }));
  const queries = inputs.queries.map((e) => ({ inputIds: e.inputIds, promptLen: e.promptLen }));

  const ep = settings.executionProvider ?? 'wasm';
  if (ep === 'webgpu' && !options.gpuDevice)
    throw new Error("retraining on onnxruntime's WebGPU EP needs a WebGPU device, and none was given");
  const session: SessionOptions = ep === 'webgpu' ? { backend: 'webgpu', device: options.gpuDevice! } : {};
  const retrainer = await causalLmRetrainer({ initial: inputs.model, train, queries, training, session });
  try {
    return await evaluateWith(retrainer, session, inputs, settings, chosen, options);
  } finally {
    await retrainer.release?.();
  }
}

/** The evaluation on one retrainer (whose sessions the caller releases, finished or cancelled). */
async function evaluateWith(
  retrainer: Retrainer,
  session: SessionOptions,
  inputs: RunInputs,
  settings: EvaluationSettings,
  chosen: ChosenBackend,
  options: EvaluationJobOptions,
): Promise<EvaluationResult> {
  const { training } = settings;
  const step = options.onStep ?? (() => {});
  const signal = options.signal ? { signal: options.signal } : {};
  const train = inputs.train.map((e) => ({ inputIds: e.inputIds, promptLen: e.promptLen }));
  const ep = session.backend ?? 'wasm';

  const influence = new Map<Strategy, Float64Array>();
  // The retrainer's fingerprint names the initial model, data and training configuration: the trained model too.
  // The default (sampled) Fisher is not named in the key, so influence saved before the choice existed stays valid.
  const fisher = settings.fisher ?? DEFAULT_RUN_CONFIG.fisher;
  const tracked = settings.trackedLayers ?? DEFAULT_RUN_CONFIG.trackedLayers;
  const keyOf = (strategy: Strategy) =>
    JSON.stringify({
      retrainer: retrainer.fingerprint,
      strategy,
      damping: settings.damping,
      ...(fisher === DEFAULT_RUN_CONFIG.fisher ? {} : { fisher }),
      // Likewise the default tracking: influence saved before --track existed stays valid; another tracking is its own.
      ...(tracked === DEFAULT_RUN_CONFIG.trackedLayers ? {} : { tracked }),
    });
  const cache = options.influenceCache;
  const expected = inputs.queries.length * train.length;
  for (const strategy of settings.strategies) {
    const cached = (await cache?.load(keyOf(strategy))) ?? null;
    if (cached && cached.length !== expected)
      throw new Error(
        `${cache?.name ?? 'the saved influence'}: the saved ${strategy} influence has ${cached.length} values, not ` +
          `${inputs.queries.length} queries × ${train.length} training examples; delete it to attribute again`,
      );
    if (cached) influence.set(strategy, cached);
  }
  const bundled = options.bundled;
  if (bundled) {
    const content = (await cache?.loadContent?.(keyOf(bundled.strategy))) ?? null;
    // Without its saved content the bundled strategy is attributed again: a bundle needs more than the influence.
    const saved = content?.scores?.influence?.data;
    if (content && saved) {
      influence.set(bundled.strategy, saved);
      bundled.onContent(content, []);
    } else influence.delete(bundled.strategy);
  }
  const missing = settings.strategies.filter((s) => !influence.has(s));
  if (missing.length < settings.strategies.length)
    step(`influence (${settings.strategies.filter((s) => influence.has(s)).join(', ')}): from the saved influence`);
  if (missing.length > 0) {
    step(
      `training the model on all ${train.length} examples (${training.steps} steps of ${training.batchSize}, ` +
        `onnxruntime ${ep} EP)`,
    );
    const trained = await trainCausalLm(inputs.model, train, training, { ...signal, session });
    step(`final training loss ${trained.history[trained.history.length - 1]!.loss.toFixed(4)}`);
    const attributed = { ...inputs, model: trained.model, modelBytes: null };
    for (const strategy of missing) {
      const config: RunConfig = {
        ...DEFAULT_RUN_CONFIG,
        strategy,
        damping: settings.damping,
        fisher,
        trackedLayers: tracked,
        backend: 'cpu',
      };
      const outcome = await runJob(attributed, await gradientGraphFor(attributed, config), config, chosen, {
        ortOnGpu: false,
        ...signal,
      });
      influence.set(strategy, outcome.result.influence);
      await cache?.save(keyOf(strategy), outcome.result.influence);
      if (strategy === bundled?.strategy) {
        const model = { name: bundled.modelName, bytes: serializeModel(trained.model) };
        const content = await bundleContent(outcome, { model, train: null, queries: null });
        await cache?.saveContent?.(keyOf(strategy), content);
        bundled.onContent(content, outcome.result.timings);
      }
      const seconds = outcome.timings.reduce((sum, t) => sum + t.seconds, 0);
      step(`influence (${strategy}): ${seconds.toFixed(1)} s (${outcome.timings.map((t) => t.stage).join(', ')})`);
    }
  }
  // The strategies in the order asked for, whichever came from the cache.
  const ordered = new Map(settings.strategies.map((s) => [s, influence.get(s)!] as const));
  options.onInfluence?.(ordered);
  return evaluateInfluence(settings.evaluation, retrainer, ordered, {
    ...signal,
    ...(options.store ? { store: options.store } : {}),
    ...(options.savedOnly ? { savedOnly: true } : {}),
    ...(options.onRetrain ? { onProgress: options.onRetrain } : {}),
  });
}

/** Influence [Q × N] saved under a key that names the model, data, training configuration, strategy and damping. */
export interface InfluenceCache {
  /** Where it is kept (a file name), for messages about what it holds. */
  readonly name?: string;
  load(key: string): Promise<Float64Array | null>;
  save(key: string, influence: Float64Array): Promise<void>;
  /** The bundled strategy's bundle content (scores, factors, rows; no evaluation) under the same key. */
  loadContent?(key: string): Promise<BundleContent | null>;
  saveContent?(key: string, content: BundleContent): Promise<void>;
}
