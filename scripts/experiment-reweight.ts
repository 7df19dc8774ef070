/**
 * The reweighting experiment on the demo (issue 14 §3, docs/experiments/reweighting.md):
 *
 *   npm run experiment:reweight               the documented configuration → public/experiments/reweighting.json
 *   npm run experiment:reweight -- --short    a few steps, one seed: checks the tooling → bench/reweight-short.json
 *   npm run experiment:reweight -- --saved-only   the result of the runs saved so far, training nothing
 *
 * The influence and every finished (arm, seed) are checkpointed in bench/reweight[-short].*.json: run the same
 * command again after an interruption and it continues. Each invocation's machine, load, wall and CPU time are kept
 * in bench/reweight[-short].segments.json and copied into the result.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { chooseBackend } from '../src/app/backend-choice';
import { DEFAULT_REWEIGHTING, runReweightingJob, type ReweightingSettings } from '../src/app/reweighting-job';
import { nodeSource } from '../src/data/node-source';
import { FLIP_RULE_TEXT } from '../src/eval/reweight';
import type { ReweightCheckpoint } from '../src/eval/reweight-run';
import { summariseArms } from '../src/eval/reweight-run';

const short = process.argv.includes('--short');
const savedOnly = process.argv.includes('--saved-only');
const name = short ? 'reweight-short' : 'reweight';
const settings: ReweightingSettings = short
  ? {
      ...DEFAULT_REWEIGHTING,
      poolSize: 48,
      tableQueriesPerBenchmark: 4,
      heldOutPerBenchmark: 16,
      training: { ...DEFAULT_REWEIGHTING.training, steps: 8, warmupSteps: 2 },
      seeds: [0],
    }
  : DEFAULT_REWEIGHTING;
const out = short ? `bench/${name}.json` : 'public/experiments/reweighting.json';
const files = {
  influence: `bench/${name}.influence.json`,
  runs: `bench/${name}.checkpoint.json`,
  segments: `bench/${name}.segments.json`,
};

const ARM_TEXT = {
  original: 'the pool as sampled (every example weight 1): the original mixture',
  flipped: 'the rule’s weights: each domain’s top-influence difficulty cell boosted',
  random: 'the flipped weights shuffled among each domain’s examples (seeded per seed): same magnitude, random cells',
  'top-subset': 'the pool examples with the largest influence, as many as the flip’s effective sample size, weight 1',
};

async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(`${file}.partial`, text);
  await rename(`${file}.partial`, file);
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB`;
const loadBefore = loadavg().map((v) => Number(v.toFixed(2)));
const startedAt = new Date().toISOString();
const started = Date.now();
const chosen = await chooseBackend('cpu', undefined);
let outcome;
try {
  outcome = await runReweightingJob(
    { data: nodeSource(), trainedModel: new Uint8Array(readFileSync('public/models/demo/model.onnx')) },
    settings,
    chosen,
    {
      savedOnly,
      onStep: (line) => console.log(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${line}`),
      cache: {
        async load(key) {
          if (!existsSync(files.influence)) return null;
          const saved = JSON.parse(await readFile(files.influence, 'utf8')) as { key: string; values: number[] };
          return saved.key === key ? Float64Array.from(saved.values) : null;
        },
        save: (key, values) => writeAtomically(files.influence, JSON.stringify({ key, values: Array.from(values) })),
      },
      store: {
        async load() {
          return existsSync(files.runs) ? (JSON.parse(await readFile(files.runs, 'utf8')) as ReweightCheckpoint) : null;
        },
        save: (checkpoint) => writeAtomically(files.runs, JSON.stringify(checkpoint)),
      },
    },
  );
} finally {
  chosen.dispose();
}

const usage = process.cpuUsage();
const segment = {
  startedAt,
  finishedAt: new Date().toISOString(),
  machine,
  loadBefore,
  loadAfter: loadavg().map((v) => Number(v.toFixed(2))),
  wallSeconds: (Date.now() - started) / 1000,
  // This process's CPU time: what the run costs on an idle machine (onnxruntime wasm runs one thread here).
  cpuSeconds: (usage.user + usage.system) / 1e6,
  attributionSeconds: outcome.attributionSeconds,
};
const saved = existsSync(files.segments) ? JSON.parse(readFileSync(files.segments, 'utf8')) : [];
// A report of the saved runs costs nothing worth counting: it is not a segment of the experiment.
const segments = savedOnly ? saved : [...saved, segment];
if (!savedOnly) await writeAtomically(files.segments, JSON.stringify(segments, null, 2) + '\n');
const total = settings.arms.length * settings.seeds.length;

const { plan } = outcome;
const round = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(6)) : null);
const result = {
  experiment: 'reweighting (issue 14 §3)',
  command: `npm run experiment:reweight${short ? ' -- --short' : ''}`,
  ...(outcome.runs.length < total ? { partial: { runs: outcome.runs.length, of: total } } : {}),
  machine,
  segments,
  // Sums over the finished invocations; null while the only invocation is still running (a --saved-only report).
  wallSeconds: segments.length
    ? segments.reduce((s: number, g: { wallSeconds: number }) => s + g.wallSeconds, 0)
    : null,
  cpuSeconds: segments.length ? segments.reduce((s: number, g: { cpuSeconds: number }) => s + g.cpuSeconds, 0) : null,
  models: { attributed: outcome.attributedModel, retrained: outcome.retrainModel },
  settings: { ...settings, rule: { ...settings.rule, text: FLIP_RULE_TEXT } },
  pool: outcome.pool,
  tableQueries: outcome.tableQueries,
  heldOutQueries: outcome.heldOutQueries,
  table: plan.table.map((c) => ({ ...c, mean: round(c.mean) })),
  cells: plan.cells.map((c) => {
    const weight = plan.cellWeights.find((w) => w.domain === c.domain && w.difficulty === c.difficulty)!;
    return { ...weight, score: round(c.score), weight: round(weight.weight), share: round(weight.share) };
  }),
  topSubset: { size: plan.subsetSize, cells: plan.subsetCells },
  arms: settings.arms.map((arm) => ({ arm, description: ARM_TEXT[arm] })),
  summary: summariseArms(outcome.runs, settings.arms),
  runs: outcome.runs,
};
await writeAtomically(out, JSON.stringify(result, null, 1) + '\n');

for (const row of result.summary) {
  const ll = row.logLikelihood;
  const diff = row.vsOriginal;
  console.log(
    `${row.arm.padEnd(10)} ${row.benchmark.padEnd(6)} log-lik ${ll.mean.toFixed(4)} [${ll.low.toFixed(4)}, ` +
      `${ll.high.toFixed(4)}] EM ${row.exactMatch.mean.toFixed(3)}` +
      (diff ? `  vs original ${diff.mean.toFixed(4)} [${diff.low.toFixed(4)}, ${diff.high.toFixed(4)}]` : ''),
  );
}
console.log(
  `\nwrote ${out}: ${segment.wallSeconds.toFixed(0)} s wall, ${segment.cpuSeconds.toFixed(0)} CPU s on ${machine}; ` +
    `load ${loadBefore.join(' ')} → ${segment.loadAfter.join(' ')}`,
);
