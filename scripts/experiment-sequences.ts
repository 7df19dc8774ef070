/**
 * The after-answer experiment (issue 14 §4, docs/experiments/sequences.md): do after-answer segments carry positive
 * influence on held-out queries? EK-FAC with per-token scores, the after-answer demo model
 * (public/models/demo-after) on a seeded sample of its training data (public/data/after) and of the held-out queries.
 *
 *   npm run experiment:sequences [-- --per-group 24 --queries 12 --backend cpu --strategy ekfac --out bench/sequences]
 *
 * --per-group N: training examples per domain with the segment and as many without (4N in all);
 * --queries Q: held-out queries per benchmark (GSM8K test, MBPP test). Writes to --out: the sample (train.jsonl,
 * queries.jsonl), run.iwb (the bundle, for the page), sums.json (each training example's segment sums per
 * benchmark), result.json (the comparisons with bootstrap 95 % intervals, machine, load, wall and CPU time).
 * `--analyse` recomputes result.json from sums.json without attributing again. The e2e fixture of the page's "After the
 * answer" view (tests/fixtures/sequences) is this script's output at `--per-group 3 --queries 2 --strategy identity`.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chooseBackend } from '../src/app/backend-choice';
import { bundleContent, encodeRunBundle } from '../src/app/bundle-content';
import { runConfig } from '../src/app/config-check';
import { loadUserInputs } from '../src/app/inputs';
import { gradientGraphFor, runJob } from '../src/app/job';
import type { VariantRow } from '../src/data/after-answer';
import { subsample } from '../src/data/demo-build';
import { toJsonl } from '../src/data/jsonl';
import type { Strategy } from '../src/core/strategy';
import { SEGMENT_SEED, segmentEffects, segmentSums, type ExampleSegments } from '../src/eval/segment-effects';

const { values } = parseArgs({
  options: {
    'per-group': { type: 'string', default: '24' },
    queries: { type: 'string', default: '12' },
    backend: { type: 'string', default: 'cpu' },
    strategy: { type: 'string', default: 'ekfac' },
    seed: { type: 'string', default: String(SEGMENT_SEED) },
    out: { type: 'string', default: 'bench/sequences' },
    model: { type: 'string', default: 'public/models/demo-after/model.onnx' },
    analyse: { type: 'boolean', default: false },
  },
});
const out = path.resolve(values.out!);
const seed = Number(values.seed);
mkdirSync(out, { recursive: true });
const file = (name: string) => path.join(out, name);
const readRows = (p: string): VariantRow[] =>
  readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as VariantRow);

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB`;
const loadBefore = loadavg().map((v) => v.toFixed(2));
const started = Date.now();
let run: Record<string, unknown> = {};
let command = process.argv.slice(2);

if (!values.analyse) {
  const perGroup = Number(values['per-group']);
  const perBenchmark = Number(values.queries);
  const train = readRows('public/data/after/train.jsonl');
  const sample = (['math', 'code'] as const).flatMap((domain) =>
    [true, false].flatMap((carries) =>
      subsample(
        train.filter((r) => r.domain === domain && !!r.after_answer === carries),
        perGroup,
        seed,
      ),
    ),
  );
  const queries = readRows('public/data/queries.jsonl');
  const querySample = (['math', 'code'] as const).flatMap((d) =>
    subsample(
      queries.filter((r) => r.domain === d),
      perBenchmark,
      seed,
    ),
  );
  writeFileSync(file('train.jsonl'), toJsonl(sample));
  writeFileSync(file('queries.jsonl'), toJsonl(querySample));

  const modelPath = values.model!;
  const modelBytes = new Uint8Array(readFileSync(modelPath));
  const inputs = await loadUserInputs(
    {
      model: { name: modelPath, bytes: modelBytes },
      tokenizer: { name: 'tokenizer.json', text: readFileSync('public/tokenizer/tokenizer.json', 'utf8') },
      train: { name: 'train.jsonl', text: readFileSync(file('train.jsonl'), 'utf8') },
      queries: { name: 'queries.jsonl', text: readFileSync(file('queries.jsonl'), 'utf8') },
    },
    { train: null, queries: null },
  );
  const config = runConfig({ strategy: values.strategy as Strategy, perToken: true, backend: values.backend as 'cpu' });
  const chosen = await chooseBackend(config.backend, undefined);
  let stage = '';
  const outcome = await runJob(inputs, await gradientGraphFor(inputs, config), config, chosen, {
    ortOnGpu: false,
    onProgress: (e) => {
      if (e.stage !== stage) console.log(`${new Date().toISOString().slice(11, 19)} ${(stage = e.stage)}`);
    },
  });
  chosen.dispose();
  const carries = new Set(sample.filter((r) => r.after_answer).map((r) => r.id));
  const sums = segmentSums(outcome.result, (id) => carries.has(id));
  writeFileSync(file('sums.json'), JSON.stringify(Object.fromEntries(sums)) + '\n');
  const content = await bundleContent(outcome, {
    model: { name: inputs.modelName, bytes: modelBytes },
    train: { name: 'train.jsonl', bytes: readFileSync(file('train.jsonl')) },
    queries: { name: 'queries.jsonl', bytes: readFileSync(file('queries.jsonl')) },
  });
  writeFileSync(file('run.iwb'), await encodeRunBundle(content, 'scripts/experiment-sequences.ts'));
  run = {
    sample: { train: sample.length, perGroup, queries: querySample.length, perBenchmark },
    tokens: { train: inputs.train.reduce((n, e) => n + e.inputIds.length, 0) },
    timings: outcome.timings,
    backend: outcome.backend,
    wallSeconds: (Date.now() - started) / 1000,
    // CPU time of this process (onnxruntime wasm and the CPU backend run on this thread): the idle-machine cost.
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    loadBefore,
    loadAfter: loadavg().map((v) => v.toFixed(2)),
  };
} else if (existsSync(file('result.json'))) {
  // The attribution's record is kept: --analyse recomputes only the statistics.
  ({ run, command } = JSON.parse(readFileSync(file('result.json'), 'utf8')) as {
    run: Record<string, unknown>;
    command: string[];
  });
}

const sums = new Map(
  Object.entries(JSON.parse(readFileSync(file('sums.json'), 'utf8')) as Record<string, ExampleSegments[]>),
);
const effects = segmentEffects(sums, seed);
const benchmarkName: Record<string, string> = { math: 'GSM8K', code: 'MBPP' };
const lines: string[] = [];
for (const e of effects) {
  lines.push(`\n${benchmarkName[e.benchmark] ?? e.benchmark} queries <- ${e.domain} training examples`);
  const f = (v: number) => (v >= 0 ? '+' : '') + v.toExponential(2);
  for (const g of e.groups) {
    lines.push(
      `  ${g.group.padEnd(58)} mean ${f(g.mean)} [${f(g.low)}, ${f(g.high)}] n=${g.count}  per token ${f(g.perToken)}`,
    );
  }
  for (const d of e.differences) {
    lines.push(
      `  ${`difference ${d.comparison}`.padEnd(58)} mean ${f(d.mean)} [${f(d.low)}, ${f(d.high)}] n=${d.count}`,
    );
  }
}
console.log(lines.join('\n'));
writeFileSync(file('result.json'), JSON.stringify({ command, seed, machine, run, effects }, null, 1) + '\n');
