/**
 * The evaluation result as plain JSON (what `iwb evaluate --out` writes, and the page will show), and as a text
 * table. Typed arrays become lists; NaN (a query whose measurement never changed) becomes null.
 */
import type { EvaluationResult } from './types';

const list = (values: ArrayLike<number>): (number | null)[] =>
  Array.from(values, (v) => (Number.isFinite(v) ? v : null));

export function evaluationJson(result: EvaluationResult): Record<string, unknown> {
  const { config, trainSize, querySize, loo } = result;
  return {
    config,
    trainSize,
    querySize,
    measurement: result.measurement,
    lds: result.strategies.map((s) => ({
      strategy: s.strategy,
      mean: s.lds.mean,
      low: s.lds.low,
      high: s.lds.high,
      queries: s.lds.count,
      perQuery: list(s.perQuery),
      predictions: list(s.predictions),
    })),
    subsetMask: Array.from(result.subsetMask),
    subsetMeasurements: list(result.subsetMeasurements),
    fullMeasurements: list(result.fullMeasurements),
    loo: loo && {
      examples: Array.from(loo.examples),
      chosen: Array.from(loo.chosen),
      actual: list(loo.actual),
      byStrategy: loo.byStrategy.map((s) => ({
        strategy: s.strategy,
        pearson: s.pearson,
        spearman: s.spearman,
        predicted: list(s.predicted),
      })),
    },
    retrains: result.retrains,
    ...(result.partialOf === undefined ? {} : { partialOf: result.partialOf }),
  };
}

export function formatEvaluation(result: EvaluationResult): string {
  const { config } = result;
  const lines = [
    (result.partialOf === undefined ? '' : `PARTIAL (the saved retrains of ${result.partialOf} subsets): `) +
      `LDS over ${config.subsets} subsets of ${Math.round(config.fraction * 100)} % of ${result.trainSize} training ` +
      `examples (${config.seedsPerSubset} seed${config.seedsPerSubset === 1 ? '' : 's'} each), ` +
      `${result.querySize} queries; measurement: ${result.measurement}`,
    'strategy   LDS     95 % interval (bootstrap over queries)',
    ...result.strategies.map(
      (s) =>
        `${s.strategy.padEnd(10)} ${fixed(s.lds.mean)}  [${fixed(s.lds.low)}, ${fixed(s.lds.high)}]` +
        (s.lds.count < result.querySize ? `  (${s.lds.count} of ${result.querySize} queries ranked)` : ''),
    ),
  ];
  if (result.loo) {
    lines.push(
      `leave-one-out: ${result.loo.examples.length} examples (top and bottom ${config.looPerQuery} of each query by ` +
        `${config.looStrategy}); predicted −I/N vs actual change`,
      ...result.loo.byStrategy.map(
        (s) => `${s.strategy.padEnd(10)} Pearson ${fixed(s.pearson)}  Spearman ${fixed(s.spearman)}`,
      ),
    );
  }
  lines.push(`retrains: ${result.retrains.done} run, ${result.retrains.resumed} from the checkpoint`);
  return lines.join('\n');
}

function fixed(value: number): string {
  return Number.isFinite(value) ? value.toFixed(3).padStart(6) : '   n/a';
}
