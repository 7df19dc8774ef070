/**
 * The difficulty flip on the synthetic reasoning task (issue 24 §4, docs/experiments/reweighting.md):
 *
 *   npm run experiment:flip                        attribution (once), then the arms until done or 13 minutes
 *   npm run experiment:flip -- --shard 1/2         only the seeds s with s mod 2 = 1 (two processes share the work)
 *   npm run experiment:flip -- --saved-only        the record from the runs saved so far, training nothing
 *   npm run experiment:flip -- --short             tooling check: 2 seeds, 20 steps → bench/flip-short.json
 *
 * Checkpoints: bench/flip[-short].attribution.json and bench/flip[-short].runs.<shard>.json; run the same command
 * again and it continues. Each invocation writes the record (docs/experiments/records/flip.json) from every shard's
 * saved runs, with the machine, load, wall and CPU time of every invocation.
 */
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { chooseBackend } from '../src/app/backend-choice';
import {
  DEFAULT_FLIP,
  FLIP_CELLS,
  flipAttribution,
  flipFingerprint,
  runFlipArms,
  type FlipAttribution,
  type FlipCheckpoint,
  type FlipSettings,
} from '../src/app/flip-job';
import { armSummary, pairedComparison, PAPER_FLIP, type FlipRun } from '../src/eval/flip';

const argv = process.argv.slice(2);
const short = argv.includes('--short');
const savedOnly = argv.includes('--saved-only');
const shardArg = argv[argv.indexOf('--shard') + 1];
const [shard, shards] = argv.includes('--shard') ? shardArg!.split('/').map(Number) : [0, 1];
if (!(Number.isInteger(shard) && Number.isInteger(shards) && shards! >= 1 && shard! >= 0 && shard! < shards!))
  throw new Error(`--shard: expected k/n with 0 ≤ k < n, got ${shardArg}`);
// --reverse: the shard's seeds from the last one down, checkpointed apart (…runs.<k>-of-<n>r.json): a second process
// on the same shard meets the first in the middle; a run saved by both counts once (runs are deterministic).
const reverse = argv.includes('--reverse');
const maxMinutes = argv.includes('--max-minutes') ? Number(argv[argv.indexOf('--max-minutes') + 1]) : 13;

const settings: FlipSettings = short
  ? { ...DEFAULT_FLIP, seeds: [0, 1], training: { ...DEFAULT_FLIP.training, steps: 20, warmupSteps: 2 } }
  : DEFAULT_FLIP;
const name = short ? 'flip-short' : 'flip';
const out = short ? `bench/${name}.json` : `docs/experiments/records/${name}.json`;
const attributionFile = `bench/${name}.attribution.json`;
const runsFile = (k: number, n: number) => `bench/${name}.runs.${k}-of-${n}${reverse ? 'r' : ''}.json`;
const segmentsFile = `bench/${name}.segments.${shard}-of-${shards}${reverse ? 'r' : ''}.json`;

// Written into the record and into docs/experiments/reweighting.md before any arm was trained (commit of the doc).
const PREREGISTERED = {
  primary:
    'flip − random on accuracy (exact match of the greedy-decoded final answer) over the whole held-out set (both ' +
    'domains, every difficulty), paired by seed over the 20 seeds: mean difference with a Student-t 95 % interval ' +
    'and a two-sided sign-flip permutation p-value. The flip is supported if the interval lies above 0.',
  secondary: [
    'influence − random and flip − original, influence − original on the same metric',
    'the same comparisons per domain (math, code) and on mean log-likelihood per token of the reference trace',
  ],
};

// The budget's calibration (scripts/calibrate-flip.ts): the original mix, seeds 50…53 (pools 150…153; the experiment
// uses seeds 0…19, pools 100…119), warm-up a tenth of the steps; a run "left the plateau" if its final loss < 0.9.
// 300 steps: 2 of 4 left it; 500 steps: 3 of 4 → DEFAULT_FLIP.training.steps = 500. (150 steps, lr 0.05: 0 of 3.)
const CALIBRATION = {
  command: 'npx tsx scripts/calibrate-flip.ts 300:0.02 150:0.05; SEEDS=50,52 / 51,53 … 500:0.02',
  plateau: 'final training loss > 0.9',
  runs: [
    { steps: 300, peakLearningRate: 0.02, seed: 50, finalLoss: 1.0195, accuracy: 0.1367 },
    { steps: 300, peakLearningRate: 0.02, seed: 51, finalLoss: 0.429, accuracy: 0.4233 },
    { steps: 300, peakLearningRate: 0.02, seed: 52, finalLoss: 1.0203, accuracy: 0.1733 },
    { steps: 300, peakLearningRate: 0.02, seed: 53, finalLoss: 0.6107, accuracy: 0.45 },
    { steps: 150, peakLearningRate: 0.05, seed: 50, finalLoss: 1.1131, accuracy: 0.11 },
    { steps: 150, peakLearningRate: 0.05, seed: 51, finalLoss: 1.1197, accuracy: 0.09 },
    { steps: 150, peakLearningRate: 0.05, seed: 52, finalLoss: 1.1421, accuracy: 0.1033 },
    { steps: 500, peakLearningRate: 0.02, seed: 50, finalLoss: 0.4623, accuracy: 0.4633 },
    { steps: 500, peakLearningRate: 0.02, seed: 51, finalLoss: 0.6025, accuracy: 0.4267 },
    { steps: 500, peakLearningRate: 0.02, seed: 52, finalLoss: 0.4211, accuracy: 0.4133 },
    { steps: 500, peakLearningRate: 0.02, seed: 53, finalLoss: 0.9419, accuracy: 0.2 },
  ],
};

async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(`${file}.partial`, text);
  await rename(`${file}.partial`, file);
}
const readJson = <T>(file: string): T | null =>
  existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : null;

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB`;
const loadBefore = loadavg().map((v) => Number(v.toFixed(2)));
const startedAt = new Date().toISOString();
const started = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${line}`);

let attribution = readJson<FlipAttribution>(attributionFile);
if (!attribution) {
  if (savedOnly) throw new Error(`no saved attribution (${attributionFile}) to report from`);
  const chosen = await chooseBackend('cpu', undefined);
  try {
    attribution = await flipAttribution(settings, chosen, log);
  } finally {
    chosen.dispose();
  }
  await writeAtomically(attributionFile, JSON.stringify(attribution, null, 1));
}
log(`influence chose ${JSON.stringify(attribution.choice)} (paper: ${JSON.stringify(PAPER_FLIP)})`);

const mine = settings.seeds.filter((s) => s % shards! === shard);
const mySettings = { ...settings, seeds: reverse ? mine.reverse() : mine };
if (!savedOnly) {
  await runFlipArms(mySettings, attribution, {
    load: async () => readJson<FlipCheckpoint>(runsFile(shard!, shards!)),
    save: (checkpoint) => writeAtomically(runsFile(shard!, shards!), JSON.stringify(checkpoint)),
    deadline: started + maxMinutes * 60_000,
    onRun: (run, resumed) =>
      log(
        `${run.arm} seed ${run.seed}${resumed ? ' (saved)' : ''}: accuracy ${run.scores.all!.accuracy.toFixed(3)} ` +
          `(math ${run.scores.math!.accuracy.toFixed(3)}, code ${run.scores.code!.accuracy.toFixed(3)}), ` +
          `log-lik ${run.scores.all!.logLikelihood.toFixed(4)}, loss ${run.finalLoss.toFixed(3)}`,
      ),
  });
  const usage = process.cpuUsage();
  const segments = readJson<unknown[]>(segmentsFile) ?? [];
  segments.push({
    startedAt,
    finishedAt: new Date().toISOString(),
    shard: `${shard}/${shards}${reverse ? ' reverse' : ''}`,
    machine,
    loadBefore,
    loadAfter: loadavg().map((v) => Number(v.toFixed(2))),
    wallSeconds: (Date.now() - started) / 1000,
    // This process's CPU time: what the invocation costs on an idle core (onnxruntime's wasm runs one thread).
    cpuSeconds: (usage.user + usage.system) / 1e6,
  });
  await writeAtomically(segmentsFile, JSON.stringify(segments, null, 1));
}

// The record: every shard's saved runs under the current fingerprint.
const fingerprint = await flipFingerprint(settings, attribution.cells);
const runs: FlipRun[] = [];
const segments: { wallSeconds: number; cpuSeconds: number }[] = [];
for (const file of readdirSync('bench')) {
  if (file.startsWith(`${name}.runs.`) && file.endsWith('.json')) {
    const saved = readJson<FlipCheckpoint>(`bench/${file}`)!;
    if (saved.fingerprint === fingerprint)
      runs.push(...saved.runs.filter((r) => !runs.some((q) => q.arm === r.arm && q.seed === r.seed)));
  }
  if (file.startsWith(`${name}.segments.`)) segments.push(...readJson<typeof segments>(`bench/${file}`)!);
}
runs.sort((a, b) => a.seed - b.seed || settings.arms.indexOf(a.arm) - settings.arms.indexOf(b.arm));
const groups = ['all', 'math', 'code', ...FLIP_CELLS];
const comparisons = (
  [
    ['flip', 'random'],
    ['influence', 'random'],
    ['flip', 'original'],
    ['influence', 'original'],
    ['random', 'original'],
  ] as const
).flatMap(([a, b]) =>
  ['all', 'math', 'code'].flatMap((group) =>
    (['accuracy', 'logLikelihood'] as const).flatMap((metric) => {
      const c = pairedComparison(runs, a, b, group, metric);
      return c ? [c] : [];
    }),
  ),
);
let commit = 'unknown';
try {
  commit = execSync('git rev-parse HEAD', { encoding: 'utf8' }).trim();
} catch {
  // not a git checkout: the record says so
}
const total = settings.arms.length * settings.seeds.length;
const record = {
  experiment: 'difficulty flip on the synthetic reasoning task (issue 24 §4)',
  command: `npm run experiment:flip${short ? ' -- --short' : ''} (shards --shard 0/3, 1/3, 2/3, each also run with --reverse)`,
  commit,
  machine,
  ...(runs.length < total ? { partial: { runs: runs.length, of: total } } : {}),
  preregistered: PREREGISTERED,
  settings,
  calibration: CALIBRATION,
  paperFlip: PAPER_FLIP,
  attribution,
  wallSeconds: segments.reduce((s, g) => s + g.wallSeconds, 0),
  cpuSeconds: segments.reduce((s, g) => s + g.cpuSeconds, 0),
  segments,
  summary: settings.arms.flatMap((arm) =>
    groups.flatMap((group) => {
      const s = armSummary(runs, arm, group);
      return s ? [{ arm, group, ...s }] : [];
    }),
  ),
  comparisons,
  runs,
};
await writeAtomically(out, JSON.stringify(record, null, 1) + '\n');
// The experiments page reads a copy (tests/unit/records.test.ts checks that it is the record).
if (!short) await writeAtomically('public/experiments/flip.json', JSON.stringify(record, null, 1) + '\n');
const primary = comparisons.find(
  (c) => c.a === 'flip' && c.b === 'random' && c.group === 'all' && c.metric === 'accuracy',
);
log(`${runs.length}/${total} runs in ${out}`);
if (primary)
  log(
    `primary flip − random accuracy: ${primary.interval.mean.toFixed(4)} [${primary.interval.low.toFixed(4)}, ` +
      `${primary.interval.high.toFixed(4)}], p = ${primary.p.toFixed(4)} (${primary.seeds.length} seeds)`,
  );
