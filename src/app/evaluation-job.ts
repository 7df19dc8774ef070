/**
 * One evaluation from loaded inputs (issue 14 §1), shared by the CLI and the page's worker: train the
 * initial model on all training examples, attribute it with each strategy, then score the influences against
 * retrains on random subsets and leave-one-out (src/eval), every retrain by the project's training loop.
 */
import { causalLmRetrainer } from '../eval/causal-lm';
import { evaluateInfluence } from '../eval/evaluate';
import type { EvaluationConfig, EvaluationProgress, EvaluationResult, EvaluationStore } from '../eval/types';
import type { Damping, FisherMode, Strategy } from '../influence/types';
import { trainCausalLm, type TrainingConfig } from '../train/loop';
import type { ChosenBackend } from './backend-choice';
import { DEFAULT_RUN_CONFIG, type RunConfig } from './config';
import type { RunInputs } from './inputs';
import { gradientGraphFor, runJob, type JobOutcome } from './job';
import type { Model } from '../onnx/ir';

export interface EvaluationSettings {
  readonly evaluation: EvaluationConfig;
  readonly strategies: readonly Strategy[];
  readonly damping: Damping;
  /** The Fisher the factors are fitted with (RunConfig.fisher); the default config's when absent. */
  readonly fisher?: FisherMode;
  /** How the model is trained: on all examples (the model attributed) and on every subset, from `inputs.model`. */
  readonly training: TrainingConfig;
}

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

export interface EvaluationJobOptions {
  readonly store?: EvaluationStore;
  /**
   * Saved influence per strategy, so that a resumed or partial evaluation does not attribute again. Not read when
   * onAttributed is given (a bundle needs each strategy's whole outcome), but still written.
   */
  readonly influenceCache?: InfluenceCache;
  /** Score against the retrains in the store only (EvaluationOptions.savedOnly). */
  readonly savedOnly?: boolean;
  readonly signal?: AbortSignal;
  /** One line per step: base training, each strategy's attribution (with its seconds). */
  readonly onStep?: (line: string) => void;
  readonly onRetrain?: (event: EvaluationProgress) => void;
  /** Each strategy's attribution of the model trained on all examples (`trained`), e.g. for a bundle's scores. */
  readonly onAttributed?: (strategy: Strategy, outcome: JobOutcome, trained: Model) => void;
}

export async function runEvaluationJob(
  inputs: RunInputs,
  settings: EvaluationSettings,
  chosen: ChosenBackend,
  options: EvaluationJobOptions = {},
): Promise<EvaluationResult> {
  const { training } = settings;
  const step = options.onStep ?? (() => {});
  const signal = options.signal ? { signal: options.signal } : {};
  const train = inputs.train.map((e) => ({ inputIds: e.inputIds, promptLen: e.promptLen }));
  const queries = inputs.queries.map((e) => ({ inputIds: e.inputIds, promptLen: e.promptLen }));

  const retrainer = await causalLmRetrainer({ initial: inputs.model, train, queries, training });

  const influence = new Map<Strategy, Float64Array>();
  // The retrainer's fingerprint names the initial model, data and training configuration: the trained model too.
  // The default (sampled) Fisher is not named in the key, so influence saved before the choice existed stays valid.
  const fisher = settings.fisher ?? DEFAULT_RUN_CONFIG.fisher;
  const keyOf = (strategy: Strategy) =>
    JSON.stringify({
      retrainer: retrainer.fingerprint,
      strategy,
      damping: settings.damping,
      ...(fisher === DEFAULT_RUN_CONFIG.fisher ? {} : { fisher }),
    });
  if (!options.onAttributed) {
    for (const strategy of settings.strategies) {
      const cached = (await options.influenceCache?.load(keyOf(strategy))) ?? null;
      if (cached) influence.set(strategy, cached);
    }
  }
  const missing = settings.strategies.filter((s) => !influence.has(s));
  if (missing.length < settings.strategies.length)
    step(`influence (${settings.strategies.filter((s) => influence.has(s)).join(', ')}): from the saved influence`);
  if (missing.length > 0) {
    step(`training the model on all ${train.length} examples (${training.steps} steps of ${training.batchSize})`);
    const trained = await trainCausalLm(inputs.model, train, training, signal);
    step(`final training loss ${trained.history[trained.history.length - 1]!.loss.toFixed(4)}`);
    const attributed = { ...inputs, model: trained.model, modelBytes: null };
    for (const strategy of missing) {
      const config: RunConfig = { ...DEFAULT_RUN_CONFIG, strategy, damping: settings.damping, fisher, backend: 'cpu' };
      const outcome = await runJob(attributed, gradientGraphFor(attributed, config), config, chosen, {
        ortOnGpu: false,
        ...signal,
      });
      influence.set(strategy, outcome.result.influence);
      await options.influenceCache?.save(keyOf(strategy), outcome.result.influence);
      options.onAttributed?.(strategy, outcome, trained.model);
      const seconds = outcome.timings.reduce((sum, t) => sum + t.seconds, 0);
      step(`influence (${strategy}): ${seconds.toFixed(1)} s (${outcome.timings.map((t) => t.stage).join(', ')})`);
    }
  }
  // The strategies in the order asked for, whichever came from the cache.
  const ordered = new Map(settings.strategies.map((s) => [s, influence.get(s)!] as const));
  return evaluateInfluence(settings.evaluation, retrainer, ordered, {
    ...signal,
    ...(options.store ? { store: options.store } : {}),
    ...(options.savedOnly ? { savedOnly: true } : {}),
    ...(options.onRetrain ? { onProgress: options.onRetrain } : {}),
  });
}

/** Influence [Q × N] saved under a key that names the model, data, training configuration, strategy and damping. */
export interface InfluenceCache {
  load(key: string): Promise<Float64Array | null>;
  save(key: string, influence: Float64Array): Promise<void>;
}
