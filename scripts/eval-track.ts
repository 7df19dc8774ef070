/**
 * MLP-only vs MLP + attention (issue 24 §5), paired on one set of retrains: two `iwb evaluate` records of the same
 * command and checkpoint that differ only in --track (the retrains come from the checkpoint, so their measurements
 * are identical, which this checks). Per strategy it takes each record's held-out predictions at the setting the
 * protocol chose on the tuning split, and reports the held-out LDS of each tracking and their paired difference per
 * query (second − first) with the two-way (queries × subsets) bootstrap interval and the sign-flip p-value — the
 * protocol of `iwb evaluate`, with the tracking in place of the strategy.
 *
 *   npx tsx scripts/eval-track.ts docs/experiments/records/lds-micro-mlp.json \
 *     docs/experiments/records/lds-micro-all.json docs/experiments/track-micro.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { blockSpearman, differences, finiteMean, signFlipPValue, twoWayBootstrap } from '../src/eval/two-way';

interface RecordStrategy {
  strategy: string;
  predictions: number[];
}
interface EvalRecord {
  command: string;
  tracked: string | null;
  subsetMeasurements: number[];
  config: { subsets: number; seedsPerSubset: number };
  sizes: { querySize: number };
  candidates: { label: string; strategies: RecordStrategy[] }[];
  protocol: {
    queries: number[];
    subsets: number[];
    bootstrapSamples: number;
    seed: number;
    strategies: { strategy: string; chosen: string }[];
  };
}

const [firstPath, secondPath, outPath] = process.argv.slice(2);
if (!firstPath || !secondPath || !outPath) throw new Error('usage: eval-track.ts FIRST.json SECOND.json OUT.json');
const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as EvalRecord;
const [first, second] = [read(firstPath), read(secondPath)];
const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
if (!same(first.subsetMeasurements, second.subsetMeasurements))
  throw new Error('the two records were not scored on the same retrains (subsetMeasurements differ)');
if (!same(first.protocol.queries, second.protocol.queries) || !same(first.protocol.subsets, second.protocol.subsets))
  throw new Error('the two records report different held-out blocks');

// Seed means [M × Q] of the [M × R × Q] retrained measurements (as measuredMeans in src/eval/protocol.ts).
const { subsets: m, seedsPerSubset: r } = first.config;
const q = first.sizes.querySize;
const measured = new Float64Array(m * q);
for (let i = 0; i < m; i++)
  for (let s = 0; s < r; s++)
    for (let j = 0; j < q; j++) measured[i * q + j]! += first.subsetMeasurements[(i * r + s) * q + j]! / r;

const { queries, subsets, bootstrapSamples, seed } = first.protocol;
const chosenPredictions = (record: EvalRecord, strategy: string) => {
  const chosen = record.protocol.strategies.find((s) => s.strategy === strategy)!.chosen;
  const run = record.candidates.find((c) => c.label === chosen)!;
  return { chosen, predictions: Float64Array.from(run.strategies.find((s) => s.strategy === strategy)!.predictions) };
};
const round = (x: number) => Math.round(x * 1e4) / 1e4;
const strategies = first.protocol.strategies.map((s, k) => {
  const a = chosenPredictions(first, s.strategy);
  const b = chosenPredictions(second, s.strategy);
  const boot = twoWayBootstrap(
    [a.predictions, b.predictions],
    measured,
    q,
    queries,
    subsets,
    [[1, 0]],
    bootstrapSamples,
    seed,
  );
  const perQuery = [a, b].map((x) => blockSpearman(x.predictions, measured, q, queries, subsets));
  const d = differences(perQuery[1]!, perQuery[0]!);
  const flip = signFlipPValue(d, 10000, seed + 104729 * (k + 1));
  const diff = boot.differences[0]!;
  return {
    strategy: s.strategy,
    first: { chosen: a.chosen, lds: boot.lds[0], perQuery: Array.from(perQuery[0]!) },
    second: { chosen: b.chosen, lds: boot.lds[1], perQuery: Array.from(perQuery[1]!) },
    difference: { ...diff, perQuery: Array.from(d), meanCheck: finiteMean(d) },
    signFlip: flip,
    resolved: diff.low > 0 || diff.high < 0,
  };
});
const out = {
  schema: 'iwb-tracking-comparison/1',
  command: `npx tsx scripts/eval-track.ts ${firstPath} ${secondPath} ${outPath}`,
  first: { record: firstPath, tracked: first.tracked },
  second: { record: secondPath, tracked: second.tracked },
  heldOut: { queries, subsets: subsets.length },
  bootstrapSamples,
  seed,
  strategies,
};
writeFileSync(outPath, JSON.stringify(out, null, 2) + '\n');
for (const s of strategies)
  console.log(
    `${s.strategy.padEnd(9)} ${first.tracked}: ${round(s.first.lds!.mean)}  ${second.tracked}: ${round(s.second.lds!.mean)}  ` +
      `difference ${round(s.difference.mean)} [${round(s.difference.low)}, ${round(s.difference.high)}] ` +
      `p = ${round(s.signFlip.p)}${s.resolved ? '' : ' (not resolved)'}`,
  );
