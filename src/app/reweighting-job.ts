/**
 * The reweighting experiment on the demo (issue 14 §3), shared by `npm run experiment:reweight` and any later page
 * runner: (1) EK-FAC influence of a stratified, seeded sample of the demo's training set (the pool) on a few
 * queries per benchmark, computed on the shipped trained demo model; (2) the cross-domain × difficulty table and the
 * mixture rule of src/eval/reweight.ts; (3) every arm retrained from scratch on the pool, seed by seed, at the demo
 * family's small size (src/eval/reweight-run.ts), measured on the held-out queries the table did not use.
 */
import { subsample } from '../data/demo-build';
import { loadDemoDataset, type DataSource, type Example } from '../data/dataset';
import {
  ARM_NAMES,
  DEFAULT_FLIP_RULE,
  reweightPlan,
  type ArmName,
  type FlipRule,
  type ReweightPlan,
} from '../eval/reweight';
import { runReweighting, type ArmRun, type ReweightStore } from '../eval/reweight-run';
import { sha256Hex } from '../core/hash';
import type { TrainingConfig } from '../train/loop';
import type { ChosenBackend } from './backend-choice';
import { DEFAULT_RUN_CONFIG, type RunConfig } from './config';
import { seededDemoModel } from './demo-model';
import { DEMO_MODEL_PATH, readModel, type RunInputs } from './inputs';
import { gradientGraphFor, runJob } from './job';

/** The demo's query domains as the benchmarks they come from (public/data/manifest.json). */
export const DEMO_BENCHMARKS: Readonly<Record<string, string>> = { math: 'GSM8K', code: 'MBPP' };

export interface ReweightingSettings {
  /** Training examples in the pool, drawn per (domain, difficulty) cell in proportion to the full training set. */
  readonly poolSize: number;
  /** Queries per benchmark for the influence table; the other queries are the held-out evaluation. */
  readonly tableQueriesPerBenchmark: number;
  /** Held-out queries per benchmark (null: all that the table did not use). */
  readonly heldOutPerBenchmark: number | null;
  readonly rule: FlipRule;
  readonly training: TrainingConfig;
  readonly seeds: readonly number[];
  readonly arms: readonly ArmName[];
  /** Seeds the pool and query samples. */
  readonly sampleSeed: number;
}

// Sized to finish within the 90-minute rule on the shared 2-core machine while another experiment runs (see
// docs/experiments/reweighting.md): the attribution is on the 1M-parameter demo model, the retrains at d_model 64.
export const DEFAULT_REWEIGHTING: ReweightingSettings = {
  poolSize: 160,
  tableQueriesPerBenchmark: 8,
  heldOutPerBenchmark: 100,
  rule: DEFAULT_FLIP_RULE,
  training: {
    steps: 120,
    batchSize: 8,
    peakLearningRate: 0.01,
    warmupSteps: 12,
    minLearningRateRatio: 0.1,
    weightDecay: 0.01,
    clipNorm: 1,
    seed: 0,
  },
  seeds: [0, 1, 2],
  arms: ARM_NAMES,
  sampleSeed: 20250525,
};

/** Saved influence of the table queries on the pool, so a resumed experiment does not attribute again. */
export interface InfluenceCache {
  load(fingerprint: string): Promise<Float64Array | null>;
  save(fingerprint: string, influence: Float64Array): Promise<void>;
}

export interface ReweightingOutcome {
  readonly plan: ReweightPlan;
  readonly runs: readonly ArmRun[];
  readonly pool: { readonly size: number; readonly cells: Readonly<Record<string, number>> };
  readonly tableQueries: Readonly<Record<string, number>>;
  readonly heldOutQueries: Readonly<Record<string, number>>;
  readonly attributionSeconds: number | null;
  readonly retrainModel: string;
  readonly attributedModel: string;
}

export interface ReweightingFiles {
  readonly data: DataSource;
  /** public/models/demo/model.onnx: the model whose influence table drives the rule. */
  readonly trainedModel: Uint8Array;
}

export async function runReweightingJob(
  files: ReweightingFiles,
  settings: ReweightingSettings,
  chosen: ChosenBackend,
  options: {
    store?: ReweightStore;
    cache?: InfluenceCache;
    onStep?: (line: string) => void;
    signal?: AbortSignal;
    /** Report the saved runs only, training nothing (needs the saved influence too). */
    savedOnly?: boolean;
  },
): Promise<ReweightingOutcome> {
  const step = options.onStep ?? (() => {});
  const demo = await loadDemoDataset(files.data, 'demo');
  const pool = proportionalSample(demo.train, settings.poolSize, settings.sampleSeed);
  const tableQueries: Example[] = [];
  const heldOut: Example[] = [];
  for (const domain of Object.keys(DEMO_BENCHMARKS)) {
    const all = demo.queries.filter((q) => q.domain === domain);
    const table = new Set(subsample(all, settings.tableQueriesPerBenchmark, settings.sampleSeed));
    const rest = all.filter((q) => !table.has(q));
    tableQueries.push(...all.filter((q) => table.has(q)));
    const limit = settings.heldOutPerBenchmark;
    heldOut.push(...(limit === null ? rest : subsample(rest, Math.min(limit, rest.length), settings.sampleSeed + 1)));
  }
  const benchmarkOf = (e: Example) => DEMO_BENCHMARKS[e.domain ?? ''] ?? e.domain ?? 'all';
  const poolMeta = pool.map((e) => ({
    id: e.id,
    domain: e.domain ?? 'unknown',
    difficulty: e.difficulty ?? 'unknown',
  }));

  const model = readModel(DEMO_MODEL_PATH, files.trainedModel);
  const attributedModel = `trained demo model (public/${DEMO_MODEL_PATH})`;
  const influenceKey = await sha256Hex(
    JSON.stringify({
      model: await sha256Hex(files.trainedModel),
      pool: pool.map((e) => e.id),
      q: tableQueries.map((e) => e.id),
    }),
  );
  let influence = (await options.cache?.load(influenceKey)) ?? null;
  if (influence === null && options.savedOnly) throw new Error('reweighting: no saved influence to report from');
  let attributionSeconds: number | null = null;
  if (influence)
    step(`influence of ${tableQueries.length} table queries on ${pool.length} pool examples: from the checkpoint`);
  else {
    step(
      `EK-FAC influence of ${tableQueries.length} table queries on ${pool.length} pool examples (${attributedModel})`,
    );
    const inputs: RunInputs = {
      model,
      modelName: attributedModel,
      modelBytes: files.trainedModel,
      tokenizer: demo.tokenizer,
      train: pool,
      queries: tableQueries,
      subsample: null,
      sample: null,
    };
    const config: RunConfig = { ...DEFAULT_RUN_CONFIG, strategy: 'ekfac', backend: 'cpu' };
    const outcome = await runJob(inputs, await gradientGraphFor(inputs, config), config, chosen, {
      ortOnGpu: false,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    influence = outcome.result.influence;
    attributionSeconds = outcome.timings.reduce((sum, t) => sum + t.seconds, 0);
    step(`influence: ${attributionSeconds.toFixed(0)} s`);
    await options.cache?.save(influenceKey, influence);
  }
  const plan = reweightPlan(poolMeta, tableQueries.map(benchmarkOf), influence, settings.rule);

  const maxLength = Math.max(...[...pool, ...heldOut].map((e) => e.inputIds.length));
  const vocab = demo.tokenizer.vocabSize;
  const retrainModel = seededDemoModel('demo', vocab, maxLength, 0).description.replace('seed 0', 'seed s');
  const poolRows = pool.map((e, n) => ({ ...poolMeta[n]!, inputIds: e.inputIds, promptLen: e.promptLen }));
  const heldOutRows = heldOut.map((e) => ({ inputIds: e.inputIds, promptLen: e.promptLen, benchmark: benchmarkOf(e) }));
  const fingerprint = await sha256Hex(
    JSON.stringify({
      influenceKey,
      rule: settings.rule,
      // The weights themselves: a change to the rule's code must not reuse runs trained on the old weights.
      flipped: await sha256Hex(new Uint8Array(plan.flipped.buffer.slice(0))),
      topSubset: Array.from(plan.topSubset),
      training: settings.training,
      heldOut: heldOut.map((e) => e.id),
      retrainModel,
    }),
  );
  const runs = await runReweighting(
    {
      pool: poolRows,
      plan,
      heldOut: heldOutRows,
      initial: (seed) => seededDemoModel('demo', vocab, maxLength, seed).model,
      training: settings.training,
      seeds: settings.seeds,
      arms: settings.arms,
    },
    {
      fingerprint,
      ...(options.store ? { store: options.store } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.savedOnly ? { savedOnly: true } : {}),
      onRun: (run, resumed, done, total) =>
        step(
          `${done}/${total} ${run.arm} seed ${run.seed}${resumed ? ' (from the checkpoint)' : ''}: ` +
            Object.entries(run.byBenchmark)
              .map(([b, s]) => `${b} ${s.logLikelihood.toFixed(4)} (EM ${s.exactMatch.toFixed(3)})`)
              .join(', '),
        ),
    },
  );
  return {
    plan,
    runs,
    pool: { size: pool.length, cells: countBy(pool, (e) => `${e.domain}/${e.difficulty}`) },
    tableQueries: countBy(tableQueries, benchmarkOf),
    heldOutQueries: countBy(heldOut, benchmarkOf),
    attributionSeconds,
    retrainModel,
    attributedModel,
  };
}

/**
 * `size` training examples drawn per (domain, difficulty) cell in proportion to the cell's share of the full set
 * (largest remainders), each cell by the data's seeded subsampler: the pool keeps the original mixture.
 */
export function proportionalSample(examples: readonly Example[], size: number, seed: number): Example[] {
  const groups = new Map<string, Example[]>();
  for (const e of examples) {
    const key = `${e.domain}/${e.difficulty}`;
    groups.set(key, [...(groups.get(key) ?? []), e]);
  }
  const keys = [...groups.keys()].sort();
  const exact = keys.map((k) => (size * groups.get(k)!.length) / examples.length);
  const counts = exact.map(Math.floor);
  const order = keys.map((_, i) => i).sort((a, b) => exact[b]! - counts[b]! - (exact[a]! - counts[a]!) || a - b);
  for (let i = 0; counts.reduce((a, b) => a + b, 0) < Math.min(size, examples.length); i++) counts[order[i]!]! += 1;
  const chosen = new Set<Example>();
  keys.forEach((k, i) => subsample(groups.get(k)!, counts[i]!, seed).forEach((e) => chosen.add(e)));
  return examples.filter((e) => chosen.has(e));
}

function countBy<T>(rows: readonly T[], key: (row: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of rows) out[key(row)] = (out[key(row)] ?? 0) + 1;
  return out;
}
