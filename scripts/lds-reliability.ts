/**
 * How much of the LDS gap is retraining noise (issue 14 §2, docs/experiments/lds.md): reads the retrains of an
 * evaluation checkpoint made with R ≥ 2 seeds per subset and measures, per query, the Spearman correlation across
 * subsets between two seeds' measurements — the test–retest reliability ρ of one retrain's measurement. Spearman–Brown
 * gives the reliability of the mean of R seeds, R·ρ / (1 + (R − 1)·ρ); since a correlation with a noisy target is
 * attenuated by the square root of the target's reliability, an LDS measured with R seeds projects to
 * LDS_R · √(rel_R' / rel_R) with R' seeds (R' → ∞: the noise-free ceiling of the same predictions). The projection
 * is the classical attenuation correction, exact for Pearson under additive independent noise and approximate for
 * Spearman; it is reported as an estimate beside measured figures, never instead of them.
 *
 *   npx tsx scripts/lds-reliability.ts bench/eval-lds.checkpoint.json [--lds STRATEGY=VALUE@R ...]
 */
import { readFileSync } from 'node:fs';
import { checkpointFromJson } from '../src/eval/store';
import { bootstrapMean, spearman } from '../src/core/stats';

const [file, ...rest] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: lds-reliability CHECKPOINT.json [--lds STRATEGY=VALUE@R ...]');
const { retrains } = checkpointFromJson(readFileSync(file, 'utf8'), file);

const subsetSeeds = new Map<number, Map<number, Float64Array>>();
for (const [key, values] of Object.entries(retrains)) {
  const match = /^subset\/(\d+)\/seed\/(\d+)$/.exec(key);
  if (!match) continue;
  const m = Number(match[1]);
  if (!subsetSeeds.has(m)) subsetSeeds.set(m, new Map());
  subsetSeeds.get(m)!.set(Number(match[2]), values);
}
// Subsets that have both seed 0 and seed 1, in subset order.
const paired = [...subsetSeeds.entries()]
  .filter(([, seeds]) => seeds.has(0) && seeds.has(1))
  .sort(([a], [b]) => a - b)
  .map(([, seeds]) => [seeds.get(0)!, seeds.get(1)!] as const);
if (paired.length < 3) throw new Error(`${file}: ${paired.length} subsets with seeds 0 and 1; need at least 3`);
const queries = paired[0]![0].length;

const perQuery = Float64Array.from({ length: queries }, (_, q) =>
  spearman(
    paired.map(([a]) => a[q]!),
    paired.map(([, b]) => b[q]!),
  ),
);
const rho = bootstrapMean(perQuery, 1000, 0);
const reliability = (r: number, p: number) => (r * p) / (1 + (r - 1) * p);
const fmt = (v: number) => v.toFixed(3);
console.log(
  `${paired.length} subsets with two seeds, ${queries} queries: seed-to-seed Spearman ρ (mean over queries) ` +
    `${fmt(rho.mean)} [${fmt(rho.low)}, ${fmt(rho.high)}]`,
);
for (const r of [1, 2, 3, 5, 10])
  console.log(`  reliability of the mean of ${r} seeds: ${fmt(reliability(r, rho.mean))}`);

for (let i = 0; i < rest.length; i++) {
  if (rest[i] !== '--lds') continue;
  const match = /^([a-z-]+)=([-\d.]+)@(\d+)$/.exec(rest[++i] ?? '');
  if (!match) throw new Error(`--lds takes STRATEGY=VALUE@R, got ${rest[i]}`);
  const [, strategy, value, seeds] = match;
  const measured = Number(value);
  const relMeasured = reliability(Number(seeds), rho.mean);
  const projections = [2, 3, 5, 10].map(
    (r) => `R=${r} ${fmt(measured * Math.sqrt(reliability(r, rho.mean) / relMeasured))}`,
  );
  console.log(
    `  ${strategy}: measured ${fmt(measured)} at R=${seeds}; projected ${projections.join(', ')}; ` +
      `noise-free ceiling ${fmt(measured / Math.sqrt(relMeasured))}`,
  );
}
