/**
 * Group-level evidence on the demo (issue 24 §3 and the group half of §5), shared by `iwb evaluate --groups` and the
 * page: (1) a pool of the demo's training examples, the same number from every domain × difficulty cell, and a
 * seeded sample of each benchmark's held-out queries; (2) a model of the retrained family trained on the pool at
 * seed 0 with the retrains' recipe, and the EK-FAC influence of the queries on the pool computed on it (tracking
 * `track`); (3) per group and arm (removed; up-weighted by `factor`, the domain's mass held fixed) the predicted
 * change per benchmark, and the actual one from retraining every arm and the unchanged baseline with each seed;
 * (4) the statistics of src/eval/group-evidence.ts per benchmark. The retrains do not depend on `track`, so a second
 * track with the same checkpoint retrains nothing.
 */
import { loadDemoDataset, type DataSource, type Example } from '../data/dataset';
import { subsample } from '../data/demo-build';
import {
  GROUP_ARMS,
  groupArmWeights,
  predictedChange,
  predictedTokenChange,
  segmentArmWeights,
  type GroupMember,
  type TokenGroupExample,
} from '../eval/group-arms';
import { creditedTokenInfluence } from '../influence/aggregate';
import type { TokenScoredResult } from '../influence/normalize';
import { groupEvidence, type GroupEvidence, type GroupPoint } from '../eval/group-evidence';
import { runGroupRetrains, trainGroupArm, type GroupRun, type GroupStore } from '../eval/group-run';
import { sha256Hex } from '../core/hash';
import type { TrainingConfig } from '../train/loop';
import type { ChosenBackend } from './backend-choice';
import { DEFAULT_RUN_CONFIG, type RunConfig } from './config';
import { seededDemoModel } from './demo-model';
import { gradientGraphFor, runJob } from './job';
import { DEMO_BENCHMARKS } from './reweighting-job';

/**
 * domain-difficulty: each domain × difficulty cell of the demo, a group of whole examples (mixture weights);
 * segments: each (domain, segment label) of the after-answer variant (src/data/segments.ts: reasoning, final_answer,
 * after_answer; preamble, signature, body, after_code), a group of response tokens (per-token loss weights).
 */
export type GroupKind = 'domain-difficulty' | 'segments';
export const GROUP_KINDS: readonly GroupKind[] = ['domain-difficulty', 'segments'];

export interface GroupEvidenceSettings {
  readonly groups: GroupKind;
  /** Pool examples per domain × difficulty cell. */
  readonly perCell: number;
  readonly queriesPerBenchmark: number;
  /** The up-weighting factor k of a group's examples against the rest of its domain. */
  readonly factor: number;
  readonly training: TrainingConfig;
  readonly seeds: readonly number[];
  readonly sampleSeed: number;
  /** --track: mlp | attention | all | a regular expression. */
  readonly track: string;
}

// Sized so that 6 cells × 2 arms + a baseline, × 10 seeds (130 trainings) cost about 20 CPU-minutes on this 2-core
// machine (docs/experiments/groups.md): the demo family's smallest shape (d_model 16, one layer; demo-model.ts
// 'micro') with the demo's tokenizer, 80 steps of 8 on a 48-example pool (≈ 13 passes: the model learns the pool).
export const DEFAULT_GROUP_EVIDENCE: GroupEvidenceSettings = {
  groups: 'domain-difficulty',
  perCell: 8,
  queriesPerBenchmark: 24,
  factor: 3,
  training: {
    steps: 80,
    batchSize: 8,
    peakLearningRate: 0.01,
    warmupSteps: 8,
    minLearningRateRatio: 0.1,
    weightDecay: 0.01,
    clipNorm: 1,
    seed: 0,
  },
  seeds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  sampleSeed: 20261208,
  track: 'mlp',
};

/** One (group, arm) with its prediction per benchmark and its actual change per benchmark and seed. */
export interface GroupArmResult {
  readonly group: string;
  readonly arm: string;
  /** Examples in the group. */
  readonly size: number;
  /** Σₙ (wₙ − 1)·I(n)/N per benchmark: the first-order prediction, the domain's compensation included. */
  readonly predicted: Readonly<Record<string, number>>;
  /** The group's own term: −Σ_G I/N (remove) or (k − 1)·Σ_G I/N (upweight), per benchmark. */
  readonly groupTerm: Readonly<Record<string, number>>;
  /** Per benchmark, per seed (the record's seed order): arm − the seed's baseline. */
  readonly actual: Readonly<Record<string, readonly number[]>>;
}

export interface GroupEvidenceOutcome {
  readonly settings: GroupEvidenceSettings;
  readonly retrainModel: string;
  readonly attributedModel: string;
  readonly pool: {
    readonly size: number;
    readonly ids: readonly string[];
    /** Each pool example's domain and group, in pool order. */
    readonly domains: readonly string[];
    readonly groups: readonly string[];
    readonly cells: Record<string, number>;
  };
  /** I_b(n) per benchmark: each pool example's influence on the benchmark's measurement (mean over its queries). */
  readonly influence: Readonly<Record<string, readonly number[]>>;
  readonly queries: Readonly<Record<string, readonly string[]>>;
  readonly benchmarks: readonly string[];
  readonly arms: readonly GroupArmResult[];
  readonly runs: readonly GroupRun[];
  /** Seeds with every arm trained (the statistics use these). */
  readonly completeSeeds: readonly number[];
  readonly evidence: Readonly<Record<string, GroupEvidence>> | null;
  readonly attributionSeconds: number | null;
}

/** Saved influence (queries × pool) under a key, so that a resumed run does not attribute again. */
export interface GroupInfluenceCache {
  load(key: string): Promise<Float64Array | null>;
  save(key: string, influence: Float64Array): Promise<void>;
}

export async function runGroupEvidenceJob(
  data: DataSource,
  settings: GroupEvidenceSettings,
  chosen: ChosenBackend,
  options: {
    store?: GroupStore;
    cache?: GroupInfluenceCache;
    onStep?: (line: string) => void;
    signal?: AbortSignal;
    savedOnly?: boolean;
  } = {},
): Promise<GroupEvidenceOutcome> {
  const step = options.onStep ?? (() => {});
  const segments = settings.groups === 'segments';
  const demo = await loadDemoDataset(data, segments ? 'after' : 'demo');
  const cellOf = (e: Example) => `${e.domain ?? 'unknown'}/${e.difficulty ?? 'unknown'}`;
  const cells = [...new Set(demo.train.map(cellOf))].sort();
  const chosenIds = new Set<Example>();
  for (const cell of cells)
    subsample(
      demo.train.filter((e) => cellOf(e) === cell),
      settings.perCell,
      settings.sampleSeed,
    ).forEach((e) => chosenIds.add(e));
  const pool = demo.train.filter((e) => chosenIds.has(e));
  const benchmarkOf = (e: Example) => DEMO_BENCHMARKS[e.domain ?? ''] ?? e.domain ?? 'all';
  const queries: Example[] = [];
  for (const domain of Object.keys(DEMO_BENCHMARKS)) {
    const all = demo.queries.filter((q) => q.domain === domain);
    queries.push(...subsample(all, Math.min(settings.queriesPerBenchmark, all.length), settings.sampleSeed + 1));
  }
  const benchmarks = [...new Set(queries.map(benchmarkOf))].sort();
  const members: GroupMember[] = pool.map((e) => ({ domain: e.domain ?? 'unknown', group: cellOf(e) }));

  const maxLength = Math.max(...[...pool, ...queries].map((e) => e.inputIds.length));
  const vocab = demo.tokenizer.vocabSize;
  const initial = (seed: number) => seededDemoModel('micro', vocab, maxLength, seed).model;
  const retrainModel = seededDemoModel('micro', vocab, maxLength, 0).description.replace('seed 0', 'seed s');
  const attributedModel = `${retrainModel.replace('untrained', 'the family')}, trained on the pool with seed 0`;
  const poolRows = pool.map((e) => ({ inputIds: e.inputIds, promptLen: e.promptLen }));
  const queryRows = queries.map((e) => ({ inputIds: e.inputIds, promptLen: e.promptLen, benchmark: benchmarkOf(e) }));

  // The influence of every query on every pool example, on the seed-0 model of the recipe.
  const retrainKey = await sha256Hex(
    JSON.stringify({
      pool: pool.map((e) => e.id),
      queries: queries.map((e) => e.id),
      training: settings.training,
      retrainModel,
      ...(segments ? { groups: 'segments' } : {}),
    }),
  );
  const influenceKey = await sha256Hex(JSON.stringify({ retrainKey, track: settings.track, strategy: 'ekfac' }));
  let influence = (await options.cache?.load(influenceKey)) ?? null;
  let attributionSeconds: number | null = null;
  if (influence) step(`influence of ${queries.length} queries on ${pool.length} pool examples: from the checkpoint`);
  else if (options.savedOnly) throw new Error('group evidence: no saved influence to report from (--saved-only)');
  else {
    step(`training the attributed model (${attributedModel})`);
    const trained = await trainGroupArm({ pool: poolRows, initial, training: settings.training }, null, 0);
    step(`EK-FAC influence (track ${settings.track}) of ${queries.length} queries on ${pool.length} pool examples`);
    const inputs = {
      model: trained.model,
      modelName: attributedModel,
      modelBytes: null,
      tokenizer: demo.tokenizer,
      train: pool,
      queries,
      subsample: null,
      sample: null,
    };
    const config: RunConfig = {
      ...DEFAULT_RUN_CONFIG,
      strategy: 'ekfac',
      backend: 'cpu',
      trackedLayers: settings.track,
      perToken: segments,
    };
    const outcome = await runJob(inputs, await gradientGraphFor(inputs, config), config, chosen, {
      ortOnGpu: false,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    // Segments: per benchmark, per pool example, per token (credited to the predicted token), concatenated.
    influence = segments
      ? Float64Array.from(
          benchmarks.flatMap((b) => {
            const rows = queries.flatMap((q, i) => (benchmarkOf(q) === b ? [i] : []));
            return pool.flatMap((_, n) =>
              Array.from(creditedTokenInfluence(outcome.result as TokenScoredResult, rows, n, 'next-token')),
            );
          }),
        )
      : outcome.result.influence;
    attributionSeconds = outcome.timings.reduce((sum, t) => sum + t.seconds, 0);
    step(`influence: ${attributionSeconds.toFixed(1)} s`);
    await options.cache?.save(influenceKey, influence);
  }
  // I_b(n): the influence of pool example n on benchmark b's measurement (the mean over b's queries); for segments
  // also I_b(n, t) per token, whose sum over t is I_b(n).
  const N = pool.length;
  const tokenCount = pool.reduce((sum, e) => sum + e.inputIds.length, 0);
  if (segments && influence.length !== benchmarks.length * tokenCount)
    throw new Error(
      `group evidence: saved token influence has ${influence.length} values, not ${benchmarks.length * tokenCount}`,
    );
  const perToken = new Map(
    benchmarks.map((b, k) => {
      let at = k * tokenCount;
      return [b, pool.map((e) => influence!.subarray(at, (at += e.inputIds.length)))] as const;
    }),
  );
  const perBenchmark = new Map(
    benchmarks.map((b) => {
      if (segments) return [b, Float64Array.from(perToken.get(b)!, (row) => row.reduce((s, v) => s + v, 0))] as const;
      const rows = queries.flatMap((q, i) => (benchmarkOf(q) === b ? [i] : []));
      const out = new Float64Array(N);
      for (const q of rows) for (let n = 0; n < N; n++) out[n]! += influence![q * N + n]! / rows.length;
      return [b, out] as const;
    }),
  );

  // Segments: a token's group is its segment's "domain/label" (prompt and unsegmented tokens: none).
  const tokenPool: TokenGroupExample[] = pool.map((e) => {
    const tokenGroups: (string | null)[] = Array.from(e.inputIds, () => null);
    for (const span of e.segments)
      for (let t = Math.max(span.start, e.promptLen); t < span.end; t++) tokenGroups[t] = `${e.domain}/${span.label}`;
    return { domain: e.domain ?? 'unknown', tokenGroups };
  });
  const groupNames = segments
    ? [...new Set(tokenPool.flatMap((e) => e.tokenGroups.filter((g): g is string => g !== null)))].sort()
    : cells;
  const armSpecs = groupNames.flatMap((group) =>
    GROUP_ARMS.map((arm) =>
      segments
        ? {
            group,
            arm,
            key: `${group} ${arm}`,
            weights: null,
            tokenWeights: segmentArmWeights(tokenPool, group, arm, settings.factor),
          }
        : { group, arm, key: `${group} ${arm}`, weights: groupArmWeights(members, group, arm, settings.factor) },
    ),
  );
  const runs = await runGroupRetrains(
    {
      pool: poolRows,
      queries: queryRows,
      arms: [{ key: 'baseline', weights: null }, ...armSpecs],
      initial,
      training: settings.training,
      seeds: settings.seeds,
    },
    {
      fingerprint: retrainKey,
      ...(options.store ? { store: options.store } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.savedOnly ? { savedOnly: true } : {}),
      onRun: (run, resumed, done, total) =>
        step(
          `${done}/${total} ${run.key} seed ${run.seed}${resumed ? ' (from the checkpoint)' : ''}: ` +
            benchmarks.map((b) => `${b} ${run.byBenchmark[b]!.toFixed(4)}`).join(', '),
        ),
    },
  );
  const runOf = (key: string, seed: number) => runs.find((r) => r.key === key && r.seed === seed);
  const completeSeeds = settings.seeds.filter((s) => runOf('baseline', s) && armSpecs.every((a) => runOf(a.key, s)));
  const arms: GroupArmResult[] = armSpecs.map((a) => {
    // The prediction, and its group-only part (every weight outside the group back at 1).
    const predict = (b: string, ownOnly: boolean): number => {
      if (a.weights === null) {
        const w = a.tokenWeights!.map((row, n) =>
          ownOnly ? row.map((v, t) => (tokenPool[n]!.tokenGroups[t] === a.group ? v : 1)) : row,
        );
        return predictedTokenChange(w, perToken.get(b)!);
      }
      const w = ownOnly ? a.weights.map((v, n) => (members[n]!.group === a.group ? v : 1)) : a.weights;
      return predictedChange(w, perBenchmark.get(b)!);
    };
    return {
      group: a.group,
      arm: a.arm,
      // Examples in the group; for a segment type, its tokens.
      size:
        a.weights === null
          ? tokenPool.reduce((s, e) => s + e.tokenGroups.filter((g) => g === a.group).length, 0)
          : members.filter((m) => m.group === a.group).length,
      predicted: Object.fromEntries(benchmarks.map((b) => [b, predict(b, false)])),
      groupTerm: Object.fromEntries(benchmarks.map((b) => [b, predict(b, true)])),
      actual: Object.fromEntries(
        benchmarks.map((b) => [
          b,
          completeSeeds.map((s) => runOf(a.key, s)!.byBenchmark[b]! - runOf('baseline', s)!.byBenchmark[b]!),
        ]),
      ),
    };
  });
  const evidence =
    completeSeeds.length >= 2 ? Object.fromEntries(benchmarks.map((b) => [b, groupEvidence(pointsOf(arms, b))])) : null;
  return {
    settings,
    retrainModel,
    attributedModel,
    pool: {
      size: N,
      ids: pool.map((e) => e.id),
      domains: members.map((m) => m.domain),
      groups: members.map((m) => m.group),
      cells: Object.fromEntries(cells.map((c) => [c, members.filter((m) => m.group === c).length])),
    },
    influence: Object.fromEntries(benchmarks.map((b) => [b, Array.from(perBenchmark.get(b)!)])),
    queries: Object.fromEntries(
      benchmarks.map((b) => [b, queries.filter((q) => benchmarkOf(q) === b).map((q) => q.id)]),
    ),
    benchmarks,
    arms,
    runs,
    completeSeeds,
    evidence,
    attributionSeconds,
  };
}

/** One benchmark's points for src/eval/group-evidence.ts. */
export function pointsOf(arms: readonly GroupArmResult[], benchmark: string): GroupPoint[] {
  return arms.map((a) => ({
    group: a.group,
    arm: a.arm,
    predicted: a.predicted[benchmark]!,
    actual: a.actual[benchmark]!,
  }));
}
