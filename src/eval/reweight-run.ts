/**
 * The retraining half of the reweighting experiment (issue 14 §3): every arm (original mixture, flipped, random
 * control, top-influence subset) trained from scratch with each seed by the project's training loop, then measured
 * on held-out queries per benchmark (mean log-likelihood of the reference answer, greedy exact match). Seed s uses
 * the same initialisation and batch seed in every arm, so arms can be compared seed by seed. Each finished
 * (arm, seed) is saved at once; an interrupted experiment resumes with identical numbers.
 */
import type { Model } from '../onnx/ir';
import { responseScores } from '../train/evaluate';
import { trainCausalLm, type TrainingConfig } from '../train/loop';
import { armWeights, type ArmName, type PoolExample, type ReweightPlan } from './reweight';
import { meanInterval, type SeedInterval } from './seed-stats';

export interface HeldOutQuery {
  readonly inputIds: ArrayLike<number>;
  readonly promptLen: number;
  readonly benchmark: string;
}

export interface ReweightTask {
  readonly pool: readonly (PoolExample & { readonly inputIds: ArrayLike<number>; readonly promptLen: number })[];
  readonly plan: ReweightPlan;
  readonly heldOut: readonly HeldOutQuery[];
  /** The initialisation of seed s (the same in every arm). */
  readonly initial: (seed: number) => Model;
  readonly training: TrainingConfig;
  readonly seeds: readonly number[];
  readonly arms: readonly ArmName[];
}

export interface BenchmarkScore {
  readonly logLikelihood: number;
  readonly exactMatch: number;
  readonly queries: number;
}

export interface ArmRun {
  readonly arm: ArmName;
  readonly seed: number;
  readonly finalLoss: number;
  readonly byBenchmark: Readonly<Record<string, BenchmarkScore>>;
}

export interface ReweightCheckpoint {
  readonly fingerprint: string;
  readonly runs: readonly ArmRun[];
}

export interface ReweightStore {
  load(): Promise<ReweightCheckpoint | null>;
  save(checkpoint: ReweightCheckpoint): Promise<void>;
}

export interface ReweightOptions {
  readonly store?: ReweightStore;
  /** What the runs depend on besides (arm, seed); saved runs are reused only under the same fingerprint. */
  readonly fingerprint: string;
  readonly signal?: AbortSignal;
  /** Train nothing: return the runs saved so far (a partial result while the experiment is still running). */
  readonly savedOnly?: boolean;
  readonly onRun?: (run: ArmRun, resumed: boolean, done: number, total: number) => void;
}

export async function runReweighting(task: ReweightTask, options: ReweightOptions): Promise<ArmRun[]> {
  const loaded = (await options.store?.load()) ?? null;
  if (loaded !== null && loaded.fingerprint !== options.fingerprint)
    throw new Error('reweighting checkpoint: made with another plan, data or training configuration; use a new one');
  const runs = [...(loaded?.runs ?? [])];
  const total = task.arms.length * task.seeds.length;
  let done = 0;
  // Seed-major order: a partial run holds every arm for the first seeds, so it can already be compared.
  for (const seed of task.seeds) {
    for (const arm of task.arms) {
      done++;
      const saved = runs.find((r) => r.arm === arm && r.seed === seed);
      if (saved) {
        options.onRun?.(saved, true, done, total);
        continue;
      }
      if (options.savedOnly) continue;
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('reweighting cancelled');
      const weights = armWeights(arm, task.plan, task.pool, seed);
      const data = task.pool.map((e, n) => ({ inputIds: e.inputIds, promptLen: e.promptLen, weight: weights[n]! }));
      const trained = await trainCausalLm(
        task.initial(seed),
        data,
        { ...task.training, seed: task.training.seed + seed },
        options.signal ? { signal: options.signal } : {},
      );
      const run: ArmRun = {
        arm,
        seed,
        finalLoss: trained.history[trained.history.length - 1]!.loss,
        byBenchmark: await heldOutScores(trained.model, task.heldOut),
      };
      runs.push(run);
      await options.store?.save({ fingerprint: options.fingerprint, runs });
      options.onRun?.(run, false, done, total);
    }
  }
  return runs;
}

/** Mean log-likelihood and exact-match rate of the reference responses, per benchmark. */
export async function heldOutScores(
  model: Model,
  queries: readonly HeldOutQuery[],
): Promise<Record<string, BenchmarkScore>> {
  const scores = await responseScores(model, queries);
  const out: Record<string, BenchmarkScore> = {};
  for (const name of [...new Set(queries.map((q) => q.benchmark))].sort()) {
    const rows = queries.flatMap((q, i) => (q.benchmark === name ? [i] : []));
    out[name] = {
      logLikelihood: rows.reduce((s, i) => s + scores.logLikelihood[i]!, 0) / rows.length,
      exactMatch: rows.reduce((s, i) => s + scores.exactMatch[i]!, 0) / rows.length,
      queries: rows.length,
    };
  }
  return out;
}

export interface ArmSummary {
  readonly arm: ArmName;
  readonly benchmark: string;
  readonly seeds: number;
  /** Over seeds: mean with a t 95 % interval. */
  readonly logLikelihood: SeedInterval;
  readonly exactMatch: SeedInterval;
  /** Seed by seed against the original mixture (same initialisation and batch seed): arm − original. */
  readonly vsOriginal: SeedInterval | null;
}

/** One row per (arm, benchmark) from the runs of every seed that has them. */
export function summariseArms(runs: readonly ArmRun[], arms: readonly ArmName[]): ArmSummary[] {
  const benchmarks = [...new Set(runs.flatMap((r) => Object.keys(r.byBenchmark)))].sort();
  const out: ArmSummary[] = [];
  for (const arm of arms) {
    const mine = runs.filter((r) => r.arm === arm).sort((a, b) => a.seed - b.seed);
    if (mine.length === 0) continue;
    for (const benchmark of benchmarks) {
      const paired = mine.flatMap((r) => {
        const base = runs.find((o) => o.arm === 'original' && o.seed === r.seed);
        return base ? [r.byBenchmark[benchmark]!.logLikelihood - base.byBenchmark[benchmark]!.logLikelihood] : [];
      });
      out.push({
        arm,
        benchmark,
        seeds: mine.length,
        logLikelihood: meanInterval(mine.map((r) => r.byBenchmark[benchmark]!.logLikelihood)),
        exactMatch: meanInterval(mine.map((r) => r.byBenchmark[benchmark]!.exactMatch)),
        vsOriginal: arm === 'original' || paired.length === 0 ? null : meanInterval(paired),
      });
    }
  }
  return out;
}
