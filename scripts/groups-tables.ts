// `npx tsx scripts/groups-tables.ts mlp all`: docs/experiments/groups.md's tables from the group-evidence records.
import { readFileSync } from 'node:fs';
import { recomputeGroupRecord, type GroupRecord } from '../tests/recompute/groups';
import { seedInterval } from '../src/ui/evidence/group-evidence-data';
const read = (t: string) =>
  JSON.parse(readFileSync(`docs/experiments/records/groups/domain-difficulty-${t}.json`, 'utf8')) as GroupRecord &
    Record<string, unknown>;
const f = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(3).replace('-', '−');
const g = (v: number) => Number(v.toPrecision(3)).toExponential().replace(/-/g, '−');
const est = (e: { value: number; low: number; high: number }) => `${f(e.value)} [${f(e.low)}, ${f(e.high)}]`;
for (const t of process.argv.slice(2)) {
  const r = read(t);
  const { evidence } = recomputeGroupRecord(r);
  console.log(`<!-- record: records/groups/domain-difficulty-${t}.json -->\n`);
  console.log(
    '| benchmark | slope through 0 [95 %] | slope with intercept [95 %] | sign accuracy [95 %] | group-LDS [95 %] | reliability | normalised group-LDS |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const b of r.benchmarks) {
    const e = evidence[b]!;
    console.log(
      `| ${b} | ${est(e.slopeThroughOrigin)} | ${est(e.slope)} | ${est(e.signAccuracy)} | ${est(e.groupLds)} | ${f(e.reliability)} | ${f(e.normalisedLds)} |`,
    );
  }
  console.log(`\n(${r.seeds.length} seeds: ${r.seeds.join(', ')}; ${r.arms.length} group arms per benchmark)\n`);
}
const m = read('mlp');
const a = process.argv.includes('all') ? read('all') : null;
console.log('| benchmark | group | arm | n | predicted (mlp) | predicted (all) | actual: mean over seeds [t 95 %] |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const b of m.benchmarks)
  m.arms.forEach((arm: GroupRecord['arms'][number], i: number) => {
    const s = seedInterval(arm.actual[b]);
    console.log(
      `| ${b} | ${arm.group} | ${arm.arm} | ${arm.size} | ${g(arm.predicted[b])} | ${a ? g(a.arms[i].predicted[b]) : 'not run'} | ${s.mean.toFixed(4).replace('-', '−')} [${s.low!.toFixed(4).replace('-', '−')}, ${s.high!.toFixed(4).replace('-', '−')}] |`,
    );
  });
// mlp vs all: how the two predictions agree.
const rank = (v: number[]) => {
  const o = v.map((_, i) => i).sort((x, y) => v[x]! - v[y]!);
  const r = new Array(v.length);
  o.forEach((i, k) => (r[i] = k));
  return r;
};
const pear = (x: number[], y: number[]) => {
  const n = x.length;
  const mx = x.reduce((s, v) => s + v) / n;
  const my = y.reduce((s, v) => s + v) / n;
  let a2 = 0,
    b2 = 0,
    ab = 0;
  for (let i = 0; i < n; i++) {
    ab += (x[i]! - mx) * (y[i]! - my);
    a2 += (x[i]! - mx) ** 2;
    b2 += (y[i]! - my) ** 2;
  }
  return ab / Math.sqrt(a2 * b2);
};
if (a)
  for (const b of m.benchmarks) {
    const x = m.arms.map((r: GroupRecord['arms'][number]) => r.predicted[b]);
    const y = a.arms.map((r: GroupRecord['arms'][number]) => r.predicted[b]);
    const signs = x.filter((v: number, i: number) => Math.sign(v) === Math.sign(y[i])).length;
    console.log(
      `${b}: Spearman(mlp, all predictions) ${f(pear(rank(x), rank(y)))}; same sign ${signs}/${x.length}; ratio of Σ|pred| all/mlp ${f(y.reduce((s: number, v: number) => s + Math.abs(v), 0) / x.reduce((s: number, v: number) => s + Math.abs(v), 0))}`,
    );
  }
