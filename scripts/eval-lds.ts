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
 *
 * Every retrain is checkpointed in bench/eval-lds[-short].checkpoint.json and each strategy's influence in
 * bench/eval-lds[-short].checkpoint.json.influence.json: an interrupted run continues when started again. The
 * result JSON is written next to it; the table goes to stdout.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import { runCli } from '../src/cli/main';

const short = process.argv.includes('--short');
const savedOnly = process.argv.includes('--saved-only');
const seedsAt = process.argv.indexOf('--seeds');
const seeds = seedsAt >= 0 ? Number(process.argv[seedsAt + 1]) : 1;
if (!(Number.isInteger(seeds) && seeds >= 1)) throw new Error(`eval:lds: --seeds takes a positive integer`);
const stepsAt = process.argv.indexOf('--steps');
const steps = stepsAt >= 0 ? Number(process.argv[stepsAt + 1]) : null;
if (steps !== null && !(Number.isInteger(steps) && steps >= 1))
  throw new Error(`eval:lds: --steps takes a positive integer`);
const name = `${short ? 'eval-lds-short' : 'eval-lds'}${steps === null ? '' : `-s${steps}`}`;
const resultName = seeds === 1 ? name : `${name}-r${seeds}`;
const outName = savedOnly ? `${resultName}.partial` : resultName;
const PRESETS = {
  // 128 training examples and 64 queries of the demo data, 50 subsets of 50 %, one seed, all four strategies, 64 steps
  // of 8 (8 passes over a subset). Sized by measured probes (≈ 0.5 CPU s per step of 8, ≈ 1 CPU min per attribution)
  // to finish within ~60 min wall on the shared 2-core machine, inside the 90-minute rule; see lds.md.
  full: ['--demo', 'demo', '--limit-train', '128', '--limit-queries', '64', '--subsets', '50', '--steps', '64'],
  short: ['--demo', 'demo', '--limit-train', '32', '--limit-queries', '8', '--subsets', '8', '--steps', '40'],
};
const preset = short ? PRESETS.short : PRESETS.full;
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
  `bench/${outName}.json`,
];
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB`;
const loadBefore = loadavg().map((v) => v.toFixed(2));
const started = Date.now();
const code = await runCli(argv);
const seconds = (Date.now() - started) / 1000;
const record = {
  command:
    `npm run eval:lds${short || savedOnly || seeds > 1 || steps !== null ? ' --' : ''}${short ? ' --short' : ''}` +
    `${seeds > 1 ? ` --seeds ${seeds}` : ''}${steps !== null ? ` --steps ${steps}` : ''}` +
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
