/**
 * `npm run fuzz [-- --seed N] [-- --out FILE]`: the full seeded fuzz plan (tests/fuzz/run.ts, ≥ 10,000 cases over
 * JSONL, ONNX, bundles, flags, outputs and whole CLI runs). Writes the counts, the machine and any bad case (with
 * its seed) to docs/fuzz-latest.json; exits 1 when there is a bad outcome.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { HANG_MS } from '../tests/fuzz/classify';
import { FULL_PLAN, runFuzz } from '../tests/fuzz/run';

const { values } = parseArgs({ options: { seed: { type: 'string' }, out: { type: 'string' } } });
const seed = values.seed === undefined ? 20261130 : Number(values.seed);
if (!Number.isSafeInteger(seed)) throw new Error(`--seed ${values.seed} is not an integer`);
const out = values.out ?? 'docs/fuzz-latest.json';

const report = await runFuzz(FULL_PLAN, seed, {
  hangMs: HANG_MS,
  onProgress: (kind, done) => process.stderr.write(`${kind}: ${done}\n`),
});
const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  logicalCores: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  platform: `${os.type()} ${os.release()} ${os.arch()}`,
  node: process.version,
};
const result = { date: new Date().toISOString(), command: 'npm run fuzz', machine, hangBoundMs: HANG_MS, ...report };
mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
const { refused, accepted, bad } = report.totals;
console.log(
  `${report.cases} cases in ${report.seconds.toFixed(1)} s: ` +
    `${refused} refused cleanly, ${accepted} accepted valid, ${bad} bad`,
);
for (const [kind, c] of Object.entries(report.counts))
  console.log(`  ${kind}: ${c.refused} refused, ${c.accepted} accepted, ${c.bad} bad`);
for (const b of report.bad) console.log(`  BAD ${b.kind} seed ${b.seed}: ${b.detail}`);
console.log(`written to ${out}`);
process.exitCode = bad > 0 ? 1 : 0;
