/**
 * The evaluation tensors of an `.iwb` bundle (docs/bundle-format.md, "Evaluation"): the LDS protocol's subsets,
 * the retrained measurements, each strategy's per-query LDS and subset predictions, and leave-one-out. The manifest's
 * `evaluation` section says what they are; this module writes them and checks them on read against that section, the
 * scores and each other, so an evaluation whose numbers contradict each other is refused with the field named.
 */
import { BundleError, type BundleEvaluationInfo, type BundleManifest } from './bundle-manifest';
import type { Strategy } from '../core/strategy';
import { pearson, spearman } from '../core/stats';
import type { SafetensorsTensor } from './safetensors';
import { floatTensor, tensorFromArray, tensorToArray, tensorToFloat64 } from './tensor-values';
import type { HostMatrix } from '../core/schema';

export interface BundleEvaluationStrategyTensors {
  readonly strategy: Strategy;
  /** Spearman LDS per query [Q]; 0 where `ranked` is 0 (a query whose measurement or prediction never varied). */
  readonly perQuery: Float64Array;
  /** [Q] 1 where the query's LDS is defined. */
  readonly ranked: Uint8Array;
  /** Σ_{n ∈ S_m} I(q, n): [M × Q]. */
  readonly predictions: Float64Array;
  /** −I(q, n)/N for the examples left out: [K × Q] (empty without LOO). */
  readonly looPredicted: Float64Array;
}

/** A whole evaluation: the manifest section and its tensors (row-major, shapes in docs/bundle-format.md). */
export interface BundleEvaluation {
  readonly info: BundleEvaluationInfo;
  /** [M × N], 1 = training example n is in subset m. */
  readonly subsetMask: Uint8Array;
  /** [M × R × Q] */
  readonly subsetMeasurements: Float64Array;
  /** [R × Q], the full training set retrained (empty without LOO). */
  readonly fullMeasurements: Float64Array;
  /** Per strategy, in the order of `info.strategies`. */
  readonly strategies: readonly BundleEvaluationStrategyTensors[];
  readonly loo: {
    /** [K] training indices, ascending. */
    readonly examples: Int32Array;
    /** [Q × 2k] indices into `examples`: each query's top k, then bottom k. */
    readonly chosen: Int32Array;
    /** [K × Q] actual change of the measurement when the example is left out. */
    readonly actual: Float64Array;
  } | null;
}

export const EVAL_TENSORS = {
  subsetMask: 'eval.subset_mask',
  subsetMeasurements: 'eval.subset_measurements',
  fullMeasurements: 'eval.full_measurements',
  looExamples: 'eval.loo.examples',
  looChosen: 'eval.loo.chosen',
  looActual: 'eval.loo.actual',
  perQuery: (s: string) => `eval.lds.${s}.per_query`,
  ranked: (s: string) => `eval.lds.${s}.ranked`,
  predictions: (s: string) => `eval.lds.${s}.predictions`,
  looPredicted: (s: string) => `eval.loo.${s}.predicted`,
} as const;

/** At most 6 shared tensors and 4 per strategy (for the bundle's tensor-count limit). */
export const MAX_EVAL_TENSORS = 6 + 4 * 4;

/** Relative tolerance of the predictions against F32-stored scores (the scores' own identities use the same). */
const PREDICTION_RTOL = 1e-4;

/** The names of every tensor the manifest's evaluation section allows. */
export function evaluationTensorNames(info: BundleEvaluationInfo): string[] {
  const names: string[] = [EVAL_TENSORS.subsetMask, EVAL_TENSORS.subsetMeasurements];
  if (info.config.looPerQuery > 0)
    names.push(EVAL_TENSORS.fullMeasurements, EVAL_TENSORS.looExamples, EVAL_TENSORS.looChosen, EVAL_TENSORS.looActual);
  for (const { strategy } of info.strategies) {
    names.push(EVAL_TENSORS.perQuery(strategy), EVAL_TENSORS.ranked(strategy), EVAL_TENSORS.predictions(strategy));
    if (info.config.looPerQuery > 0) names.push(EVAL_TENSORS.looPredicted(strategy));
  }
  return names;
}

/** The tensors to write (measurements and LDS in F64: a bundle opens to exactly the numbers the run reported). */
export function evaluationTensors(
  evaluation: BundleEvaluation,
  queries: number,
  train: number,
): Map<string, SafetensorsTensor> {
  const { info } = evaluation;
  const { subsets: m, seedsPerSubset: r } = info.config;
  const out = new Map<string, SafetensorsTensor>();
  out.set(EVAL_TENSORS.subsetMask, tensorFromArray('U8', [m, train], evaluation.subsetMask));
  out.set(EVAL_TENSORS.subsetMeasurements, floatTensor([m, r, queries], evaluation.subsetMeasurements, 'F64'));
  const loo = evaluation.loo;
  if (loo) {
    const k = loo.examples.length;
    out.set(EVAL_TENSORS.fullMeasurements, floatTensor([r, queries], evaluation.fullMeasurements, 'F64'));
    out.set(EVAL_TENSORS.looExamples, tensorFromArray('I32', [k], loo.examples));
    out.set(EVAL_TENSORS.looChosen, tensorFromArray('I32', [queries, loo.chosen.length / queries], loo.chosen));
    out.set(EVAL_TENSORS.looActual, floatTensor([k, queries], loo.actual, 'F64'));
  }
  for (const s of evaluation.strategies) {
    out.set(EVAL_TENSORS.perQuery(s.strategy), floatTensor([queries], s.perQuery, 'F64'));
    out.set(EVAL_TENSORS.ranked(s.strategy), tensorFromArray('U8', [queries], s.ranked));
    out.set(EVAL_TENSORS.predictions(s.strategy), floatTensor([m, queries], s.predictions, 'F64'));
    if (loo)
      out.set(
        EVAL_TENSORS.looPredicted(s.strategy),
        floatTensor([loo.examples.length, queries], s.looPredicted, 'F64'),
      );
  }
  return out;
}

function fail(message: string): never {
  throw new BundleError(message);
}

function shaped(name: string, tensor: SafetensorsTensor | undefined, dtype: string, shape: readonly number[]) {
  if (!tensor) fail(`tensor '${name}' is missing though the manifest's evaluation needs it`);
  if (tensor.dtype !== dtype) fail(`tensor '${name}' has dtype ${tensor.dtype}, expected ${dtype}`);
  if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i]))
    fail(`tensor '${name}' has shape [${tensor.shape.join(', ')}], expected [${shape.join(', ')}]`);
  return tensor;
}

function floats(name: string, tensor: SafetensorsTensor | undefined, shape: readonly number[]): Float64Array {
  const data = tensorToFloat64(shaped(name, tensor, 'F64', shape), name);
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) fail(`tensor '${name}' element ${bad} is ${data[bad]}: NaN/Inf is not allowed`);
  return data;
}

function flags(name: string, tensor: SafetensorsTensor | undefined, shape: readonly number[]): Uint8Array {
  const data = tensorToArray(shaped(name, tensor, 'U8', shape)) as Uint8Array;
  const bad = data.findIndex((v) => v > 1);
  if (bad >= 0) fail(`tensor '${name}' element ${bad} is ${data[bad]}, expected 0 or 1`);
  return data;
}

function indices(name: string, tensor: SafetensorsTensor | undefined, shape: readonly number[], below: number) {
  const data = tensorToArray(shaped(name, tensor, 'I32', shape)) as Int32Array;
  const bad = data.findIndex((v) => v < 0 || v >= below);
  if (bad >= 0) fail(`tensor '${name}' element ${bad} is ${data[bad]}, not an index below ${below}`);
  return data;
}

/**
 * Read and check the evaluation of a bundle whose manifest has one. `influence` (the bundle's scores, of the
 * manifest's strategy) is checked against that strategy's predictions: Σ over each subset of the scores.
 */
export function decodeEvaluation(
  manifest: BundleManifest,
  take: (name: string) => SafetensorsTensor | undefined,
  influence: HostMatrix | undefined,
): BundleEvaluation | null {
  const info = manifest.evaluation;
  if (!info) return null;
  if (!manifest.scores)
    fail('manifest evaluation needs a scores section (its queries and training examples are those of the scores)');
  const { queries: q, train: n } = manifest.scores;
  const { subsets: m, seedsPerSubset: r, looPerQuery: k, fraction, looStrategy } = info.config;
  if (info.measurement.length === 0) fail('manifest evaluation.measurement is empty');
  if (2 * k > n) fail(`manifest evaluation.config.looPerQuery ${k} asks for more than the ${n} training examples`);
  if (k > 0 && looStrategy !== null && !info.strategies.some((s) => s.strategy === looStrategy))
    fail(`manifest evaluation.config.looStrategy ${looStrategy} is not among evaluation.strategies`);

  const subsetMask = flags(EVAL_TENSORS.subsetMask, take(EVAL_TENSORS.subsetMask), [m, n]);
  const size = subsetMask.subarray(0, n).reduce((a, b) => a + b, 0);
  if (size < 1 || size > n - 1 || Math.abs(size - fraction * n) > 1)
    fail(
      `tensor '${EVAL_TENSORS.subsetMask}' row 0 holds ${size} of ${n} examples, not round(α·N) for α = ${fraction}`,
    );
  for (let row = 1; row < m; row++) {
    const count = subsetMask.subarray(row * n, (row + 1) * n).reduce((a, b) => a + b, 0);
    if (count !== size) fail(`tensor '${EVAL_TENSORS.subsetMask}' row ${row} holds ${count} examples, row 0 ${size}`);
  }
  const subsetMeasurements = floats(EVAL_TENSORS.subsetMeasurements, take(EVAL_TENSORS.subsetMeasurements), [m, r, q]);

  let loo: BundleEvaluation['loo'] = null;
  let fullMeasurements: Float64Array = new Float64Array(0);
  if (k > 0) {
    const examplesTensor = take(EVAL_TENSORS.looExamples);
    const count = examplesTensor?.shape[0] ?? 0;
    if (count !== info.looExamples)
      fail(
        `tensor '${EVAL_TENSORS.looExamples}' holds ${count} examples, manifest evaluation.looExamples ${info.looExamples}`,
      );
    const examples = indices(EVAL_TENSORS.looExamples, examplesTensor, [count], n);
    for (let e = 1; e < count; e++) {
      if (examples[e]! <= examples[e - 1]!)
        fail(`tensor '${EVAL_TENSORS.looExamples}' is not strictly ascending at ${e}`);
    }
    const chosen = indices(EVAL_TENSORS.looChosen, take(EVAL_TENSORS.looChosen), [q, 2 * k], count);
    fullMeasurements = floats(EVAL_TENSORS.fullMeasurements, take(EVAL_TENSORS.fullMeasurements), [r, q]);
    loo = { examples, chosen, actual: floats(EVAL_TENSORS.looActual, take(EVAL_TENSORS.looActual), [count, q]) };
  } else if (info.looExamples !== 0) {
    fail(`manifest evaluation.looExamples is ${info.looExamples} but config.looPerQuery is 0 (no leave-one-out)`);
  }

  const strategies = info.strategies.map((summary, s): BundleEvaluationStrategyTensors => {
    const name = summary.strategy;
    const perQuery = floats(EVAL_TENSORS.perQuery(name), take(EVAL_TENSORS.perQuery(name)), [q]);
    const ranked = flags(EVAL_TENSORS.ranked(name), take(EVAL_TENSORS.ranked(name)), [q]);
    let sum = 0;
    let count = 0;
    perQuery.forEach((v, i) => {
      if (ranked[i] === 0 && v !== 0)
        fail(`tensor '${EVAL_TENSORS.perQuery(name)}' element ${i} is ${v} on an unranked query (must be 0)`);
      if (Math.abs(v) > 1) fail(`tensor '${EVAL_TENSORS.perQuery(name)}' element ${i} is ${v}, outside [−1, 1]`);
      if (ranked[i]) [sum, count] = [sum + v, count + 1];
    });
    const at = `manifest evaluation.strategies[${s}]`;
    if (count !== summary.queries)
      fail(`${at}.queries is ${summary.queries} but '${EVAL_TENSORS.ranked(name)}' marks ${count}`);
    if (count === 0 ? summary.mean !== null : summary.mean === null || Math.abs(summary.mean - sum / count) > 1e-9)
      fail(`${at}.mean is ${summary.mean} but the ranked per-query LDS average ${count ? sum / count : 'nothing'}`);
    if (
      (summary.low === null) !== (summary.mean === null) ||
      (summary.high === null) !== (summary.mean === null) ||
      (summary.low !== null && summary.high !== null && summary.low > summary.high)
    )
      fail(`${at}: the interval [${summary.low}, ${summary.high}] is not an interval of mean ${summary.mean}`);
    if (k === 0 && (summary.looPearson !== null || summary.looSpearman !== null))
      fail(`${at} has leave-one-out correlations but config.looPerQuery is 0`);
    const predictions = floats(EVAL_TENSORS.predictions(name), take(EVAL_TENSORS.predictions(name)), [m, q]);
    if (name === manifest.strategy && influence)
      checkPredictions(name, predictions, subsetMask, influence.data, m, q, n);
    checkPerQueryLds(name, perQuery, ranked, predictions, subsetMeasurements, m, r, q);
    const looPredicted = loo
      ? floats(EVAL_TENSORS.looPredicted(name), take(EVAL_TENSORS.looPredicted(name)), [loo.examples.length, q])
      : new Float64Array(0);
    if (loo) checkLooCorrelations(at, summary, loo, looPredicted, q, k);
    return { strategy: name, perQuery, ranked, predictions, looPredicted };
  });
  return { info, subsetMask, subsetMeasurements, fullMeasurements, strategies, loo };
}

/** Recomputed statistics must match the stored ones this closely (both are float64 sums of the same terms). */
const RECOMPUTE_TOL = 1e-6;

/**
 * Each per-query LDS is the Spearman correlation, over the M subsets, of the strategy's predictions and the measured
 * values averaged over the R seeds (src/eval/evaluate.ts); a query is ranked exactly when that is defined. Reversed,
 * shuffled or negated measurements no longer give the stored numbers.
 */
function checkPerQueryLds(
  strategy: string,
  perQuery: Float64Array,
  ranked: Uint8Array,
  predictions: Float64Array,
  measurements: Float64Array,
  m: number,
  r: number,
  q: number,
): void {
  for (let query = 0; query < q; query++) {
    const predicted = Float64Array.from({ length: m }, (_, row) => predictions[row * q + query]!);
    const measured = Float64Array.from({ length: m }, (_, row) => {
      let sum = 0;
      for (let seed = 0; seed < r; seed++) sum += measurements[(row * r + seed) * q + query]! / r;
      return sum;
    });
    const lds = spearman(predicted, measured);
    const stored = ranked[query] ? perQuery[query]! : NaN;
    if (Number.isFinite(lds) !== Number.isFinite(stored) || Math.abs(lds - stored) > RECOMPUTE_TOL)
      fail(
        `tensor '${EVAL_TENSORS.perQuery(strategy)}' element ${query} is ${ranked[query] ? stored : 'unranked'}, ` +
          `but the Spearman correlation of '${EVAL_TENSORS.predictions(strategy)}' and ` +
          `'${EVAL_TENSORS.subsetMeasurements}' for that query is ${Number.isFinite(lds) ? lds : 'undefined'}`,
      );
  }
}

/** The stored leave-one-out correlations recompute from the chosen pairs' predicted and actual changes. */
function checkLooCorrelations(
  at: string,
  summary: { readonly looPearson: number | null; readonly looSpearman: number | null },
  loo: NonNullable<BundleEvaluation['loo']>,
  predicted: Float64Array,
  q: number,
  k: number,
): void {
  const pairs = Array.from(loo.chosen, (e, i) => e * q + Math.floor(i / (2 * k)));
  const p = Float64Array.from(pairs, (i) => predicted[i]!);
  const a = Float64Array.from(pairs, (i) => loo.actual[i]!);
  for (const [key, value] of [
    ['looPearson', pearson(p, a)],
    ['looSpearman', spearman(p, a)],
  ] as const) {
    const stored = summary[key];
    if ((stored === null) !== !Number.isFinite(value) || (stored !== null && Math.abs(stored - value) > RECOMPUTE_TOL))
      fail(
        `${at}.${key} is ${stored}, but '${EVAL_TENSORS.looActual}' and the strategy's predictions give ` +
          `${Number.isFinite(value) ? value : 'none'}`,
      );
  }
}

/** The bundle's own strategy: its predictions must be the subset sums of its scores. */
function checkPredictions(
  strategy: string,
  predictions: Float64Array,
  mask: Uint8Array,
  influence: Float64Array,
  m: number,
  q: number,
  n: number,
): void {
  for (let row = 0; row < m; row++) {
    for (let query = 0; query < q; query++) {
      let sum = 0;
      let magnitude = 0;
      for (let i = 0; i < n; i++) {
        if (!mask[row * n + i]) continue;
        sum += influence[query * n + i]!;
        magnitude += Math.abs(influence[query * n + i]!);
      }
      const got = predictions[row * q + query]!;
      if (Math.abs(got - sum) > PREDICTION_RTOL * magnitude + 1e-300) {
        fail(
          `tensor '${EVAL_TENSORS.predictions(strategy)}' [${row}, ${query}] is ${got}, but the subset's ` +
            `'scores.influence' sum to ${sum}`,
        );
      }
    }
  }
}
