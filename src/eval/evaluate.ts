/**
 * evaluateInfluence: the linear datamodeling score and leave-one-out retraining for influence estimates, every
 * strategy from ONE set of retrains (docs/method.md §7, issue 14 §1).
 *
 * LDS (the protocol of kronfluence's examples): M random subsets S_m of round(α·N) training examples, each retrained
 * from the same initialisation with R seeds; f_q(S_m) is query q's measurement, averaged over the seeds. The
 * prediction for a subset is the sum of its members' influences, g_q(S_m) = Σ_{n ∈ S_m} I(q, n); the LDS of q is the
 * Spearman correlation of g_q and f_q across the M subsets, and the reported LDS is the mean over queries with a
 * seeded bootstrap 95 % interval.
 *
 * LOO: for each query the top k and bottom k training examples by influence; each is left out of the full set and the
 * model retrained (R seeds). Actual change: f_q(all \ n) − f_q(all), mean over seeds. Predicted: −I(q, n)/N, since the
 * engine's Hessian is a per-example mean (EK-FAC's Λ is), so the full objective's is N times it.
 */
import { throwIfAborted } from '../influence/errors';
import type { Strategy } from '../core/strategy';
import { bootstrapMean, pearson, spearman } from '../core/stats';
import { drawSubsets } from './subsets';
import type {
  EvaluationCheckpoint,
  EvaluationConfig,
  EvaluationOptions,
  EvaluationResult,
  InfluenceByStrategy,
  LooResult,
  Retrainer,
  StrategyLds,
} from './types';

export function validateEvaluation(
  config: EvaluationConfig,
  retrainer: Retrainer,
  influence: InfluenceByStrategy,
): void {
  const { seedsPerSubset, looPerQuery, bootstrapSamples } = config;
  if (!(Number.isInteger(seedsPerSubset) && seedsPerSubset >= 1))
    throw new Error(`evaluation: seeds per subset R must be a positive integer, got ${seedsPerSubset}`);
  if (!(Number.isInteger(looPerQuery) && looPerQuery >= 0))
    throw new Error(`evaluation: LOO k must be a non-negative integer, got ${looPerQuery}`);
  if (2 * looPerQuery > retrainer.trainSize)
    throw new Error(
      `evaluation: LOO k = ${looPerQuery} asks for more than the ${retrainer.trainSize} training examples`,
    );
  if (!(Number.isInteger(bootstrapSamples) && bootstrapSamples >= 1))
    throw new Error(`evaluation: bootstrap samples must be a positive integer, got ${bootstrapSamples}`);
  if (influence.size === 0) throw new Error('evaluation: no influence results to evaluate');
  const expected = retrainer.querySize * retrainer.trainSize;
  for (const [strategy, values] of influence) {
    if (values.length !== expected) {
      throw new Error(
        `evaluation: ${strategy} influence has ${values.length} values, not queries × training examples = ` +
          `${retrainer.querySize} × ${retrainer.trainSize}`,
      );
    }
  }
  if (looPerQuery > 0 && config.looStrategy !== null && !influence.has(config.looStrategy)) {
    throw new Error(
      `evaluation: LOO examples are chosen by ${config.looStrategy}, which is not among the strategies given ` +
        `(${[...influence.keys()].join(', ')})`,
    );
  }
}

/** What saved retrains must agree with to be reused: everything that decides which retrains run and how. */
export function evaluationFingerprint(config: EvaluationConfig, retrainer: Retrainer): string {
  return JSON.stringify({
    subsets: config.subsets,
    fraction: config.fraction,
    seed: config.seed,
    retrainer: retrainer.fingerprint,
    trainSize: retrainer.trainSize,
    querySize: retrainer.querySize,
  });
}

export async function evaluateInfluence(
  config: EvaluationConfig,
  retrainer: Retrainer,
  influence: InfluenceByStrategy,
  options: EvaluationOptions = {},
): Promise<EvaluationResult> {
  validateEvaluation(config, retrainer, influence);
  const { trainSize, querySize } = retrainer;
  const subsets = drawSubsets(trainSize, config.fraction, config.subsets, config.seed);
  const seeds = config.seedsPerSubset;
  const looStrategy = config.looStrategy ?? (influence.has('ekfac') ? 'ekfac' : [...influence.keys()][0]!);
  const chosen =
    config.looPerQuery > 0
      ? chooseLooExamples(influence.get(looStrategy)!, querySize, trainSize, config.looPerQuery)
      : null;
  const all = Int32Array.from({ length: trainSize }, (_, i) => i);

  const jobs: { key: string; members: Int32Array; seed: number }[] = [];
  for (let m = 0; m < subsets.length; m++)
    for (let r = 0; r < seeds; r++) jobs.push({ key: `subset/${m}/seed/${r}`, members: subsets[m]!, seed: r });
  if (chosen) {
    for (let r = 0; r < seeds; r++) jobs.push({ key: `full/seed/${r}`, members: all, seed: r });
    for (const n of chosen.examples)
      for (let r = 0; r < seeds; r++)
        jobs.push({ key: `loo/${n}/seed/${r}`, members: all.filter((i) => i !== n), seed: r });
  }

  const fingerprint = evaluationFingerprint(config, retrainer);
  const loaded = (await options.store?.load()) ?? null;
  if (loaded !== null && loaded.fingerprint !== fingerprint) {
    throw new Error(
      'evaluation checkpoint: its retrains were made with another model, data, training configuration, ' +
        'subset count, fraction or seed; use a new checkpoint',
    );
  }
  const retrains: Record<string, Float64Array> = { ...(loaded?.retrains ?? {}) };
  if (options.savedOnly) return scoreSaved(config, retrainer, influence, subsets, chosen, looStrategy, retrains);
  let done = 0;
  let resumed = 0;
  for (const [index, job] of jobs.entries()) {
    const saved = retrains[job.key];
    if (saved) {
      if (saved.length !== querySize)
        throw new Error(`evaluation checkpoint: retrain ${job.key} has ${saved.length} measurements, not ${querySize}`);
      resumed++;
    } else {
      throwIfAborted(options.signal);
      const values = await retrainer.measure(job.members, job.seed, options.signal);
      if (values.length !== querySize)
        throw new Error(`evaluation: retrain ${job.key} measured ${values.length} queries, not ${querySize}`);
      const bad = values.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new Error(`evaluation: retrain ${job.key} measured ${values[bad]} on query ${bad}`);
      retrains[job.key] = values;
      done++;
      const checkpoint: EvaluationCheckpoint = { version: 1, fingerprint, retrains };
      await options.store?.save(checkpoint);
    }
    options.onProgress?.({ done: index + 1, total: jobs.length, key: job.key, resumed: saved !== undefined });
  }

  return scoreRetrains(config, retrainer, influence, subsets, chosen, looStrategy, retrains, { done, resumed });
}

/** savedOnly: the subsets (and LOO) whose every retrain is saved, scored as a complete evaluation of that size. */
function scoreSaved(
  config: EvaluationConfig,
  retrainer: Retrainer,
  influence: InfluenceByStrategy,
  subsets: readonly Int32Array[],
  chosen: { examples: Int32Array; perQuery: number[][] } | null,
  looStrategy: Strategy,
  retrains: Record<string, Float64Array>,
): EvaluationResult {
  const seeds = Array.from({ length: config.seedsPerSubset }, (_, r) => r);
  const kept = subsets.flatMap((members, m) =>
    seeds.every((r) => retrains[`subset/${m}/seed/${r}`]) ? [{ members, m }] : [],
  );
  if (kept.length < 2)
    throw new Error(`evaluation: only ${kept.length} subset(s) have all their retrains saved; LDS needs at least 2`);
  // Renumber the saved subsets 0 … K−1 so the complete-evaluation code reads them in order.
  const renamed: Record<string, Float64Array> = { ...retrains };
  kept.forEach(({ m }, k) =>
    seeds.forEach((r) => (renamed[`subset/${k}/seed/${r}`] = retrains[`subset/${m}/seed/${r}`]!)),
  );
  const looKeys = chosen
    ? seeds.flatMap((r) => [`full/seed/${r}`, ...Array.from(chosen.examples, (n) => `loo/${n}/seed/${r}`)])
    : [];
  const looSaved = chosen !== null && looKeys.every((key) => retrains[key]);
  const result = scoreRetrains(
    { ...config, subsets: kept.length, looPerQuery: looSaved ? config.looPerQuery : 0 },
    retrainer,
    influence,
    kept.map((k) => k.members),
    looSaved ? chosen : null,
    looStrategy,
    renamed,
    { done: 0, resumed: kept.length * seeds.length + (looSaved ? looKeys.length : 0) },
  );
  return kept.length < subsets.length ? { ...result, partialOf: subsets.length } : result;
}

function scoreRetrains(
  config: EvaluationConfig,
  retrainer: Retrainer,
  influence: InfluenceByStrategy,
  subsets: readonly Int32Array[],
  chosen: { examples: Int32Array; perQuery: number[][] } | null,
  looStrategy: Strategy,
  retrains: Record<string, Float64Array>,
  counts: { done: number; resumed: number },
): EvaluationResult {
  const { trainSize, querySize } = retrainer;
  const seeds = config.seedsPerSubset;
  const subsetMeasurements = new Float64Array(subsets.length * seeds * querySize);
  for (let m = 0; m < subsets.length; m++)
    for (let r = 0; r < seeds; r++)
      subsetMeasurements.set(retrains[`subset/${m}/seed/${r}`]!, (m * seeds + r) * querySize);
  const measured = seedMeans(subsetMeasurements, subsets.length, seeds, querySize);
  const strategies: StrategyLds[] = [...influence].map(([strategy, values], s) => {
    const predictions = subsetPredictions(values, subsets, querySize, trainSize);
    const perQuery = Float64Array.from({ length: querySize }, (_, q) =>
      spearman(column(predictions, q, querySize), column(measured, q, querySize)),
    );
    // One bootstrap stream per strategy position, so adding a strategy does not move the others' intervals.
    return {
      strategy,
      perQuery,
      lds: bootstrapMean(perQuery, config.bootstrapSamples, config.seed + 7919 * (s + 1)),
      predictions,
    };
  });

  let fullMeasurements = new Float64Array(0);
  let loo: LooResult | null = null;
  if (chosen) {
    fullMeasurements = new Float64Array(seeds * querySize);
    for (let r = 0; r < seeds; r++) fullMeasurements.set(retrains[`full/seed/${r}`]!, r * querySize);
    loo = looResult(chosen, retrains, fullMeasurements, influence, seeds, querySize, trainSize);
  }
  const subsetMask = new Uint8Array(subsets.length * trainSize);
  subsets.forEach((members, m) => members.forEach((n) => (subsetMask[m * trainSize + n] = 1)));
  return {
    config: { ...config, looStrategy: chosen ? looStrategy : config.looStrategy },
    trainSize,
    querySize,
    measurement: retrainer.measurement,
    subsetMask,
    subsetMeasurements,
    fullMeasurements,
    strategies,
    loo,
    retrains: counts,
  };
}

/** [rows × seeds × Q] → mean over seeds [rows × Q]. */
function seedMeans(values: Float64Array, rows: number, seeds: number, querySize: number): Float64Array {
  const out = new Float64Array(rows * querySize);
  for (let m = 0; m < rows; m++)
    for (let r = 0; r < seeds; r++)
      for (let q = 0; q < querySize; q++) out[m * querySize + q]! += values[(m * seeds + r) * querySize + q]! / seeds;
  return out;
}

function column(values: Float64Array, q: number, querySize: number): Float64Array {
  return Float64Array.from({ length: values.length / querySize }, (_, m) => values[m * querySize + q]!);
}

/** Σ_{n ∈ S_m} I(q, n) for every subset and query: [M × Q]. */
export function subsetPredictions(
  influence: Float64Array,
  subsets: readonly Int32Array[],
  querySize: number,
  trainSize: number,
): Float64Array {
  const out = new Float64Array(subsets.length * querySize);
  subsets.forEach((members, m) => {
    for (let q = 0; q < querySize; q++) {
      let sum = 0;
      for (const n of members) sum += influence[q * trainSize + n]!;
      out[m * querySize + q] = sum;
    }
  });
  return out;
}

/** Each query's k most helpful and k most harmful examples (ties by index), and their union in ascending order. */
export function chooseLooExamples(
  influence: Float64Array,
  querySize: number,
  trainSize: number,
  k: number,
): { examples: Int32Array; perQuery: number[][] } {
  const perQuery: number[][] = [];
  const union = new Set<number>();
  for (let q = 0; q < querySize; q++) {
    const order = Array.from({ length: trainSize }, (_, n) => n).sort(
      (a, b) => influence[q * trainSize + b]! - influence[q * trainSize + a]! || a - b,
    );
    const picked = [...order.slice(0, k), ...order.slice(trainSize - k).reverse()];
    picked.forEach((n) => union.add(n));
    perQuery.push(picked);
  }
  return { examples: Int32Array.from([...union].sort((a, b) => a - b)), perQuery };
}

function looResult(
  chosen: { examples: Int32Array; perQuery: number[][] },
  retrains: Record<string, Float64Array>,
  full: Float64Array,
  influence: InfluenceByStrategy,
  seeds: number,
  querySize: number,
  trainSize: number,
): LooResult {
  const { examples, perQuery } = chosen;
  const actual = new Float64Array(examples.length * querySize);
  examples.forEach((n, e) => {
    for (let r = 0; r < seeds; r++) {
      const left = retrains[`loo/${n}/seed/${r}`]!;
      for (let q = 0; q < querySize; q++) actual[e * querySize + q]! += (left[q]! - full[r * querySize + q]!) / seeds;
    }
  });
  const position = new Map(Array.from(examples, (n, e) => [n, e] as const));
  const chosenIndices = Int32Array.from(perQuery.flatMap((picked) => picked.map((n) => position.get(n)!)));
  const pairs = perQuery.flatMap((picked, q) => picked.map((n) => position.get(n)! * querySize + q));
  const byStrategy = [...influence].map(([strategy, values]: [Strategy, Float64Array]) => {
    const predicted = new Float64Array(examples.length * querySize);
    examples.forEach((n, e) => {
      for (let q = 0; q < querySize; q++) predicted[e * querySize + q] = -values[q * trainSize + n]! / trainSize;
    });
    const p = pairs.map((i) => predicted[i]!);
    const a = pairs.map((i) => actual[i]!);
    return { strategy, predicted, pearson: pearson(p, a), spearman: spearman(p, a) };
  });
  return { examples, chosen: chosenIndices, actual, byStrategy };
}
