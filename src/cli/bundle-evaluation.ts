/**
 * A bundle's evaluation (its `eval.*` tensors) for `iwb inspect` (a few lines) and `iwb export --csv` (long-format
 * CSV files at full precision). Measurements are averaged over the R seeds, as the LDS uses them.
 */
import type { Bundle } from '../store/bundle';

const fixed = (value: number | null): string => (value === null ? 'n/a' : value.toFixed(3));

export function evaluationLines(bundle: Bundle): string[] {
  const evaluation = bundle.evaluation;
  if (!evaluation) return ['evaluation: none'];
  const { config, measurement, strategies, looExamples } = evaluation.info;
  const queries = bundle.manifest.scores!.queries;
  const lines = [
    `evaluation: LDS over M = ${config.subsets} subsets of α = ${config.fraction} (R = ${config.seedsPerSubset} ` +
      `seed${config.seedsPerSubset === 1 ? '' : 's'} each, seed ${config.seed}); measurement: ${measurement}`,
    ...strategies.map(
      (s) =>
        `  ${s.strategy.padEnd(9)} LDS ${fixed(s.mean)} [${fixed(s.low)}, ${fixed(s.high)}] over ${s.queries} of ` +
        `${queries} queries` +
        (config.looPerQuery > 0 ? `; LOO Pearson ${fixed(s.looPearson)}, Spearman ${fixed(s.looSpearman)}` : ''),
    ),
  ];
  if (config.looPerQuery > 0)
    lines.push(
      `  leave-one-out: ${looExamples} examples, top and bottom ${config.looPerQuery} of each query by ` +
        `${config.looStrategy ?? strategies[0]!.strategy}`,
    );
  return lines;
}

/** File name → CSV lines; empty without an evaluation. `queryIds`/`trainIds` are already CSV fields. */
export function evaluationCsv(
  bundle: Bundle,
  queryIds: readonly string[],
  trainIds: readonly string[],
): Record<string, string[]> {
  const evaluation = bundle.evaluation;
  if (!evaluation) return {};
  const { config } = evaluation.info;
  const q = queryIds.length;
  const m = config.subsets;
  const r = config.seedsPerSubset;
  const summary = ['strategy,lds,low,high,queries_ranked,subsets,fraction,seeds,loo_pearson,loo_spearman'];
  for (const s of evaluation.info.strategies) {
    const cells = [s.mean, s.low, s.high].map((v) => (v === null ? '' : String(v)));
    const loo = [s.looPearson, s.looSpearman].map((v) => (v === null ? '' : String(v)));
    summary.push([s.strategy, ...cells, s.queries, m, config.fraction, r, ...loo].join(','));
  }
  const perQuery = ['strategy,query_id,lds,ranked'];
  const subsets = ['strategy,subset,query_id,predicted,measured'];
  for (const s of evaluation.strategies) {
    for (let i = 0; i < q; i++)
      perQuery.push(`${s.strategy},${queryIds[i]},${s.ranked[i] ? s.perQuery[i] : ''},${s.ranked[i]}`);
    for (let subset = 0; subset < m; subset++) {
      for (let i = 0; i < q; i++) {
        let measured = 0;
        for (let seed = 0; seed < r; seed++)
          measured += evaluation.subsetMeasurements[(subset * r + seed) * q + i]! / r;
        subsets.push(`${s.strategy},${subset},${queryIds[i]},${s.predictions[subset * q + i]},${measured}`);
      }
    }
  }
  const files: Record<string, string[]> = {
    'lds_summary.csv': summary,
    'lds.csv': perQuery,
    'lds_subsets.csv': subsets,
  };
  const loo = evaluation.loo;
  if (loo) {
    const k = config.looPerQuery;
    const rows = ['strategy,query_id,train_id,side,actual,predicted'];
    for (const s of evaluation.strategies) {
      for (let i = 0; i < q; i++) {
        for (let c = 0; c < 2 * k; c++) {
          const e = loo.chosen[i * 2 * k + c]!;
          const side = c < k ? 'top' : 'bottom';
          const train = trainIds[loo.examples[e]!];
          rows.push(
            `${s.strategy},${queryIds[i]},${train},${side},${loo.actual[e * q + i]},${s.looPredicted[e * q + i]}`,
          );
        }
      }
    }
    files['loo.csv'] = rows;
  }
  return files;
}
