/**
 * The retraining half of the group-level evidence (issue 24 §3): for every seed, the unchanged pool (the baseline)
 * and every arm (a group removed, a group up-weighted: per-example mixture weights from ./group-arms.ts), each
 * trained from scratch by the project's training loop from the seed's initialisation with the seed's batch seed, and
 * measured on the benchmark queries (mean log-likelihood per reference token, averaged per benchmark). Seed-major: a
 * partial run holds whole seeds. Every finished (arm, seed) is saved at once under a fingerprint of everything it
 * depends on; a resumed run trains only what is missing and gives identical numbers (the loop is deterministic).
 */
import type { Model } from '../onnx/ir';
import { trainCausalLm, TrainingSession, type TrainingConfig } from '../train/loop';
import { heldOutScores, type HeldOutQuery } from './reweight-run';

export interface GroupTrainingRow {
  readonly inputIds: ArrayLike<number>;
  readonly promptLen: number;
}

export interface GroupArmSpec {
  /** "baseline" or "<group> <arm>". */
  readonly key: string;
  readonly weights: Float64Array | null;
  /** Per pool example, per token position: loss weights (segment arms); null or absent: 1. */
  readonly tokenWeights?: readonly Float64Array[] | null;
}

export interface GroupRun {
  readonly key: string;
  readonly seed: number;
  readonly finalLoss: number;
  /** Mean log-likelihood per reference token, averaged over each benchmark's queries. */
  readonly byBenchmark: Readonly<Record<string, number>>;
}

export interface GroupCheckpoint {
  readonly fingerprint: string;
  readonly runs: readonly GroupRun[];
}

export interface GroupStore {
  load(): Promise<GroupCheckpoint | null>;
  save(checkpoint: GroupCheckpoint): Promise<void>;
}

export interface GroupRetrainTask {
  readonly pool: readonly GroupTrainingRow[];
  readonly queries: readonly HeldOutQuery[];
  readonly arms: readonly GroupArmSpec[];
  readonly initial: (seed: number) => Model;
  readonly training: TrainingConfig;
  readonly seeds: readonly number[];
}

export interface GroupRetrainOptions {
  readonly fingerprint: string;
  readonly store?: GroupStore;
  readonly signal?: AbortSignal;
  readonly savedOnly?: boolean;
  readonly onRun?: (run: GroupRun, resumed: boolean, done: number, total: number) => void;
}

/** One training of the task's pool under mixture weights (null: the original mixture) from seed `seed`. */
export async function trainGroupArm(
  task: Pick<GroupRetrainTask, 'pool' | 'initial' | 'training'>,
  weights: Float64Array | null,
  seed: number,
  trainer?: TrainingSession,
  tokenWeights?: readonly Float64Array[] | null,
): Promise<{ model: Model; finalLoss: number }> {
  const data = task.pool.map((e, n) => ({
    inputIds: e.inputIds,
    promptLen: e.promptLen,
    weight: weights?.[n] ?? 1,
    ...(tokenWeights ? { tokenWeights: tokenWeights[n]! } : {}),
  }));
  const trained = await trainCausalLm(
    task.initial(seed),
    data,
    { ...task.training, seed: task.training.seed + seed },
    trainer ? { trainer } : {},
  );
  return { model: trained.model, finalLoss: trained.history[trained.history.length - 1]!.loss };
}

export async function runGroupRetrains(task: GroupRetrainTask, options: GroupRetrainOptions): Promise<GroupRun[]> {
  const loaded = (await options.store?.load()) ?? null;
  if (loaded !== null && loaded.fingerprint !== options.fingerprint)
    throw new Error(
      'group evidence checkpoint: made with another pool, queries, groups or training configuration; use a new file',
    );
  const runs = [...(loaded?.runs ?? [])];
  const total = task.arms.length * task.seeds.length;
  let done = 0;
  let trainer: TrainingSession | undefined;
  try {
    for (const seed of task.seeds) {
      const initial = task.initial(seed);
      for (const arm of task.arms) {
        done++;
        const saved = runs.find((r) => r.key === arm.key && r.seed === seed);
        if (saved) {
          options.onRun?.(saved, true, done, total);
          continue;
        }
        if (options.savedOnly) continue;
        if (options.signal?.aborted) throw options.signal.reason ?? new Error('group evidence cancelled');
        // One gradient session per seed's initial model (a session belongs to its forward model).
        if (trainer?.forward !== initial) {
          await trainer?.release();
          trainer = await TrainingSession.create(initial);
        }
        const trained = await trainGroupArm(
          { ...task, initial: () => initial },
          arm.weights,
          seed,
          trainer,
          arm.tokenWeights,
        );
        const scores = await heldOutScores(trained.model, task.queries);
        const run: GroupRun = {
          key: arm.key,
          seed,
          finalLoss: trained.finalLoss,
          byBenchmark: Object.fromEntries(Object.entries(scores).map(([b, s]) => [b, s.logLikelihood])),
        };
        runs.push(run);
        await options.store?.save({ fingerprint: options.fingerprint, runs });
        options.onRun?.(run, false, done, total);
      }
    }
  } finally {
    await trainer?.release();
  }
  return runs;
}
