/**
 * The difficulty-flip experiment on the synthetic reasoning task (issue 24 §4, docs/experiments/reweighting.md),
 * shared by `npm run experiment:flip`:
 * 1. the attribution model: the experiment's GPT trained with the experiment's recipe on an original-mix pool of its
 *    own seed; EK-FAC influence (the engine, CPU float64) of its training examples on table queries of both domains;
 *    the influence-chosen cells (src/eval/reweight.ts);
 * 2. per seed s: a new pool drawn from seed s (original mix), every arm (src/eval/flip.ts) trained from scratch with
 *    initialisation and batch seed s, measured on a fixed held-out set: greedy-decoded accuracy of the final answer
 *    and mean log-likelihood of the reference trace, per domain, per cell and overall.
 * Every finished (arm, seed) is saved at once; an interrupted experiment resumes with identical numbers.
 */
import {
  REASONING_DIFFICULTIES,
  REASONING_DOMAINS,
  REASONING_VOCAB_SIZE,
  reasoningExample,
  reasoningProblems,
  type ReasoningDifficulty,
  type ReasoningDomain,
} from '../data/reasoning-task';
import type { Example } from '../data/dataset';
import { flipArmWeights, FLIP_ARMS, influenceChoice, type FlipArm, type FlipRun } from '../eval/flip';
import { reasoningScores, type ReasoningQuery } from '../eval/reasoning-accuracy';
import { reweightPlan, type CellInfluence } from '../eval/reweight';
import { buildGptForward, initGptWeights, type GptConfig } from '../models/gpt';
import type { Model } from '../onnx/ir';
import { sha256Hex } from '../core/hash';
import { trainCausalLm, type TrainingConfig } from '../train/loop';
import type { ChosenBackend } from './backend-choice';
import { DEFAULT_RUN_CONFIG, type RunConfig } from './config';
import type { RunInputs } from './inputs';
import { gradientGraphFor, runJob } from './job';

type PerCell = Readonly<Record<ReasoningDomain, Readonly<Record<ReasoningDifficulty, number>>>>;

export interface FlipSettings {
  /** Operands of every step are 1…operandMax (values stay digits). */
  readonly operandMax: number;
  /** Training examples per (domain, difficulty) cell of every pool: the original mixture. */
  readonly poolPerCell: PerCell;
  readonly heldOutPerCell: number;
  /** Queries per cell for the influence table (drawn apart from the held-out set). */
  readonly tablePerCell: number;
  readonly model: Pick<GptConfig, 'dModel' | 'nLayer' | 'nHead' | 'dMlp' | 'maxPositions'>;
  readonly training: TrainingConfig;
  /** Per-example weight of a boosted cell relative to its domain's other cells. */
  readonly boost: number;
  readonly seeds: readonly number[];
  readonly arms: readonly FlipArm[];
  /** Pool of seed s: problems from poolSeedBase + s; the attribution model: attributionSeed */
  readonly poolSeedBase: number;
  readonly attributionSeed: number;
  readonly heldOutSeed: number;
  readonly tableSeed: number;
  /** Greedy decoding stops after this many tokens without eos (the longest trace is 5 characters). */
  readonly maxNewTokens: number;
}

const cells = (n: number): PerCell => ({
  math: { easy: n, medium: n, hard: n },
  code: { easy: n, medium: n, hard: n },
});

// Sized by measurement (docs/experiments/reweighting.md): 150 steps left 69 of 80 runs on the loss plateau (record
// flip.json, made at 150); 500 steps was calibrated on seeds 50…53 (scripts/calibrate-flip.ts; 300 left 2 of 4 there).
export const DEFAULT_FLIP: FlipSettings = {
  operandMax: 3,
  poolPerCell: cells(100),
  heldOutPerCell: 50,
  tablePerCell: 8,
  model: { dModel: 32, nLayer: 2, nHead: 4, dMlp: 128, maxPositions: 32 },
  training: {
    steps: 500,
    batchSize: 32,
    peakLearningRate: 0.02,
    warmupSteps: 50,
    minLearningRateRatio: 0.1,
    weightDecay: 0.01,
    clipNorm: 1,
    seed: 0,
  },
  boost: 3,
  seeds: Array.from({ length: 20 }, (_, s) => s),
  arms: FLIP_ARMS,
  poolSeedBase: 100,
  attributionSeed: 1000,
  heldOutSeed: 7000,
  tableSeed: 7001,
  maxNewTokens: 7,
};

export function flipModel(settings: FlipSettings, seed: number): Model {
  const config: GptConfig = {
    ...settings.model,
    vocabSize: REASONING_VOCAB_SIZE,
    layerNormEpsilon: 1e-5,
    gelu: 'tanh',
  };
  return buildGptForward(config, initGptWeights(config, seed, 'float32'));
}

export function flipPool(settings: FlipSettings, problemSeed: number, prefix: string): Example[] {
  return reasoningProblems(problemSeed, settings.poolPerCell, settings.operandMax).map((p, i) =>
    reasoningExample(p, `${prefix}${i}`),
  );
}

export function flipHeldOut(settings: FlipSettings): Example[] {
  const problems = reasoningProblems(settings.heldOutSeed, cells(settings.heldOutPerCell), settings.operandMax);
  return problems.map((p, i) => reasoningExample(p, `test${i}`));
}

const meta = (e: Example) => ({ id: e.id, domain: e.domain!, difficulty: e.difficulty! });

async function train(model: Model, pool: readonly Example[], weights: Float64Array, config: TrainingConfig) {
  const data = pool.map((e, n) => ({ inputIds: e.inputIds, promptLen: e.promptLen, weight: weights[n]! }));
  return trainCausalLm(model, data, config);
}

export interface FlipAttribution {
  readonly cells: readonly CellInfluence[];
  /** The table: mean influence per (query benchmark, training domain, difficulty). */
  readonly table: readonly { benchmark: string; domain: string; difficulty: string; mean: number }[];
  readonly choice: Record<string, string | null>;
  readonly seconds: number;
  readonly finalLoss: number;
}

/** Step 1: train the attribution model on its original-mix pool, attribute, and choose the influence cells. */
export async function flipAttribution(
  settings: FlipSettings,
  chosen: ChosenBackend,
  onStep: (line: string) => void,
): Promise<FlipAttribution> {
  const started = performance.now();
  const pool = flipPool(settings, settings.attributionSeed, 'attr');
  const tableProblems = reasoningProblems(settings.tableSeed, cells(settings.tablePerCell), settings.operandMax);
  const queries = tableProblems.map((p, i) => reasoningExample(p, `table${i}`));
  const trained = await train(
    flipModel(settings, settings.attributionSeed),
    pool,
    new Float64Array(pool.length).fill(1),
    { ...settings.training, seed: settings.training.seed + settings.attributionSeed },
  );
  onStep(`attribution model trained (final loss ${trained.history.at(-1)!.loss.toFixed(3)})`);
  const inputs: RunInputs = {
    model: trained.model,
    modelName: 'flip attribution model (same family and recipe, original mix)',
    modelBytes: null,
    tokenizer: undefined,
    train: pool,
    queries,
    subsample: null,
    sample: null,
  };
  const config: RunConfig = { ...DEFAULT_RUN_CONFIG, strategy: 'ekfac', backend: 'cpu' };
  const outcome = await runJob(inputs, await gradientGraphFor(inputs, config), config, chosen, { ortOnGpu: false });
  const benchmarks = queries.map((q) => q.domain!);
  const plan = reweightPlan(pool.map(meta), benchmarks, outcome.result.influence, { boost: settings.boost });
  return {
    cells: plan.cells,
    table: plan.table.map((c) => ({
      benchmark: c.benchmark,
      domain: c.domain,
      difficulty: c.difficulty,
      mean: c.mean,
    })),
    choice: influenceChoice(plan.cells),
    seconds: (performance.now() - started) / 1000,
    finalLoss: trained.history.at(-1)!.loss,
  };
}

export interface FlipCheckpoint {
  readonly fingerprint: string;
  readonly runs: readonly FlipRun[];
}

export interface FlipRunOptions {
  readonly load: () => Promise<FlipCheckpoint | null>;
  readonly save: (checkpoint: FlipCheckpoint) => Promise<void>;
  /** Start no new (arm, seed) after this time (ms since the epoch): keeps one invocation under its wall limit. */
  readonly deadline?: number;
  readonly onRun?: (run: FlipRun, resumed: boolean) => void;
}

export async function flipFingerprint(settings: FlipSettings, cells: readonly CellInfluence[]): Promise<string> {
  const { seeds: _seeds, ...rest } = settings;
  return sha256Hex(JSON.stringify({ rest, cells: cells.map((c) => [c.domain, c.difficulty, c.score]) }));
}

/** Step 2: every (seed, arm) not yet saved, seed-major, until done or past the deadline. */
export async function runFlipArms(
  settings: FlipSettings,
  attribution: FlipAttribution,
  options: FlipRunOptions,
): Promise<FlipRun[]> {
  const fingerprint = await flipFingerprint(settings, attribution.cells);
  const loaded = await options.load();
  if (loaded && loaded.fingerprint !== fingerprint)
    throw new Error('flip checkpoint: made with other settings or another attribution; use a new checkpoint file');
  const runs = [...(loaded?.runs ?? [])];
  const heldOut: ReasoningQuery[] = flipHeldOut(settings).map((e) => ({
    inputIds: e.inputIds,
    promptLen: e.promptLen,
    answer: e.extra.answer as number,
    groups: [e.domain!, `${e.domain}/${e.difficulty}`],
  }));
  for (const seed of settings.seeds) {
    const pool = flipPool(settings, settings.poolSeedBase + seed, `s${seed}-`);
    for (const arm of settings.arms) {
      const saved = runs.find((r) => r.arm === arm && r.seed === seed);
      if (saved) {
        options.onRun?.(saved, true);
        continue;
      }
      if (options.deadline !== undefined && Date.now() > options.deadline) return runs;
      const weights = flipArmWeights(arm, pool.map(meta), attribution.cells, settings.boost, seed);
      const trained = await train(flipModel(settings, seed), pool, weights, {
        ...settings.training,
        seed: settings.training.seed + seed,
      });
      const run: FlipRun = {
        arm,
        seed,
        finalLoss: trained.history.at(-1)!.loss,
        scores: await reasoningScores(trained.model, heldOut, settings.maxNewTokens),
      };
      runs.push(run);
      await options.save({ fingerprint, runs });
      options.onRun?.(run, false);
    }
  }
  return runs;
}

export const FLIP_CELLS = REASONING_DOMAINS.flatMap((d) => REASONING_DIFFICULTIES.map((f) => `${d}/${f}`));
