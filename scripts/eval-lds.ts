/**
 * The documented demo-scale LDS experiment (issue 14 §2, docs/experiments/lds.md): `iwb evaluate` on the demo data
 * with the demo model family's seeded initialisation, a fixed configuration, its wall time and the machine it ran on.
 *
 *   npm run eval:lds                 the documented configuration
 *   npm run eval:lds -- --short      a short version (fewer subsets, examples and steps) to check the tooling
 *   npm run eval:lds -- --saved-only the LDS of the retrains saved so far (trains nothing; bench/eval-lds.partial.json)
 *   npm run eval:lds -- --seeds R    R retrains per subset (seeds 0 … R − 1), averaged; results in eval-lds-rR.*.
 *                                    The checkpoint is shared: seed r's retrains do not depend on R, so R = 2 reuses
 *                                    R = 1's
 *   npm run eval:lds -- --steps S    S training steps instead of 64 (longer training); its own files, eval-lds-sS.*
 *   npm run eval:lds -- --micro      the recorded micro run (docs/experiments/lds.md): the micro demo, 40 subsets,
 *                                    2 seeds, dampings × Fishers chosen on a tuning split and reported held out;
 *                                    its record is docs/experiments/records/lds-micro.json (committed)
 *
 * Every retrain is checkpointed in bench/eval-lds[-short].checkpoint.json and each strategy's influence in
 * bench/eval-lds[-short].checkpoint.json.influence.json: an interrupted run continues when started again. The
 * result JSON — the evaluation record of docs/experiments/records.md — is written next to it; the table goes to stdout.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import { runCli } from '../src/cli/main';

const micro = process.argv.includes('--micro');
const short = process.argv.includes('--short');
const savedOnly = process.argv.includes('--saved-only');
const seedsAt = process.argv.indexOf('--seeds');
const seeds = seedsAt >= 0 ? Number(process.argv[seedsAt + 1]) : micro ? 2 : 1;
if (!(Number.isInteger(seeds) && seeds >= 1)) throw new Error(`eval:lds: --seeds takes a positive integer`);
const stepsAt = process.argv.indexOf('--steps');
const steps = stepsAt >= 0 ? Number(process.argv[stepsAt + 1]) : null;
if (steps !== null && !(Number.isInteger(steps) && steps >= 1))
  throw new Error(`eval:lds: --steps takes a positive integer`);
const name = `${micro ? 'lds-micro' : short ? 'eval-lds-short' : 'eval-lds'}${steps === null ? '' : `-s${steps}`}`;
const resultName = seeds === (micro ? 2 : 1) ? name : `${name}-r${seeds}`;
const outName = savedOnly ? `${resultName}.partial` : resultName;
const PRESETS = {
  // 128 training examples and 64 queries of the demo data, 50 subsets of 50 %, one seed, all four strategies, 64 steps
  // of 8 (8 passes over a subset). Sized by measured probes (≈ 0.5 CPU s per step of 8, ≈ 1 CPU min per attribution)
  // to finish within ~60 min wall on the shared 2-core machine, inside the 90-minute rule; see lds.md.
  full: ['--demo', 'demo', '--limit-train', '128', '--limit-queries', '64', '--subsets', '50', '--steps', '64'],
  short: ['--demo', 'demo', '--limit-train', '32', '--limit-queries', '8', '--subsets', '8', '--steps', '40'],
  // The page's micro demo (16 examples, 4 queries), sized to run in minutes on the shared 2-core machine: 40 subsets
  // of 50 %, 2 seeds, 30 steps; three dampings × two Fishers chosen on half the queries and subsets, reported on the
  // other half (issue 24 §2, §4).
  micro: [
    '--demo',
    'micro',
    '--subsets',
    '40',
    '--steps',
    '30',
    '--holdout',
    '0.5',
    '--damping',
    'heuristic:0.001,heuristic:0.01,heuristic:0.1',
    '--fisher',
    'sampled,empirical',
  ],
};
const preset = micro ? PRESETS.micro : short ? PRESETS.short : PRESETS.full;
const seedsDefault = micro ? 2 : 1;
const argv = [
  'evaluate',
  ...(steps === null ? preset : preset.map((v, i) => (preset[i - 1] === '--steps' ? String(steps) : v))),
  '--batch-size',
  '8',
  '--lr',
  '0.01',
  '--seed',
  '0',
  '--seeds',
  String(seeds),
  '--checkpoint',
  `bench/${name}.checkpoint.json`,
  ...(savedOnly ? ['--saved-only'] : []),
  '--out',
  micro && !savedOnly ? `docs/experiments/records/${outName}.json` : `bench/${outName}.json`,
];
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB`;
const loadBefore = loadavg().map((v) => v.toFixed(2));
const started = Date.now();
const code = await runCli(argv);
const seconds = (Date.now() - started) / 1000;
const record = {
  command:
    `npm run eval:lds${micro || short || savedOnly || seeds > 1 || steps !== null ? ' --' : ''}` +
    `${micro ? ' --micro' : ''}${short ? ' --short' : ''}${seeds !== seedsDefault ? ` --seeds ${seeds}` : ''}${steps !== null ? ` --steps ${steps}` : ''}` +
    `${savedOnly ? ' --saved-only' : ''}`,
  argv,
  machine,
  loadBefore,
  loadAfter: loadavg().map((v) => v.toFixed(2)),
  wallSeconds: seconds,
  // CPU time of this process: what the run costs on an idle machine (onnxruntime wasm runs on one thread here).
  cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
  exitCode: code,
  finishedAt: new Date().toISOString(),
};
writeFileSync(`bench/${outName}.run.json`, JSON.stringify(record, null, 2) + '\n');
console.log(
  `\n${record.command}: ${seconds.toFixed(0)} s wall on ${machine}; ` +
    `load ${loadBefore.join(' ')} → ${record.loadAfter.join(' ')}`,
);
process.exitCode = code;
