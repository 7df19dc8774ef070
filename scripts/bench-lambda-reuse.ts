/**
 * `npm run bench:lambda-reuse [-- --demo micro|demo] [--out FILE]`: what keeping the Λ pass's training batches for the
 * first score pass (influence/lambda-batches.ts) saves. The demo (micro or default sample) on the CPU float64
 * backend with the empirical Fisher (the only Fisher where the Λ pass's gradients are the score pass's), EK-FAC, run
 * as planned (the batches kept) and with config.scorePath.lambdaBatchBytes = 0 (computed again), alternately, best of
 * --rounds; wall and process CPU seconds and the scores stage's own seconds; τ compared bit for bit.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chooseBackend } from '../src/app/backend-choice';
import { runConfig } from '../src/app/config-check';
import { DEMO_DEFAULT_LIMITS, DEMO_MODEL_PATH, loadDemoInputs } from '../src/app/inputs';
import { gradientGraphFor, runJob } from '../src/app/job';
import { planJob } from '../src/app/run-plan';
import { defaultPublicDir, nodeSource } from '../src/data/node-source';

const { values: args } = parseArgs({
  options: {
    demo: { type: 'string', default: 'micro' },
    rounds: { type: 'string', default: '2' },
    out: { type: 'string' },
  },
});
const variant = args.demo === 'micro' ? 'micro' : 'demo';
const limits = { ...DEMO_DEFAULT_LIMITS[variant], sample: false };
const trainedModel = variant === 'demo' ? readFileSync(resolve(defaultPublicDir(), DEMO_MODEL_PATH)) : null;
const inputs = await loadDemoInputs({ data: nodeSource(), trainedModel }, variant, limits);
const config = runConfig({ limits, fisher: 'empirical', backend: 'cpu', groupTokens: true });
const graph = await gradientGraphFor(inputs, config);
const loadBefore = loadavg()[0]!;

async function run(keep: boolean) {
  const chosen = await chooseBackend('cpu', undefined);
  try {
    const planned = planJob(inputs, graph, config, chosen);
    const scorePath = planned.config.scorePath!;
    const used = keep ? planned.config : { ...planned.config, scorePath: { ...scorePath, lambdaBatchBytes: 0 } };
    const wall = performance.now();
    const cpu = process.cpuUsage();
    const outcome = await runJob(inputs, graph, used, chosen, { ortOnGpu: false });
    const spent = process.cpuUsage(cpu);
    return {
      keptBytes: used.scorePath?.lambdaBatchBytes ?? 0,
      wallSeconds: (performance.now() - wall) / 1000,
      cpuSeconds: (spent.user + spent.system) / 1e6,
      stages: Object.fromEntries(outcome.result.timings.map((t) => [t.stage, t.seconds])),
      tau: outcome.result.tauPerLayer,
    };
  } finally {
    chosen.dispose();
  }
}

const rounds: { kept: Awaited<ReturnType<typeof run>>; recomputed: Awaited<ReturnType<typeof run>> }[] = [];
for (let r = 0; r < Number(args.rounds); r++) rounds.push({ kept: await run(true), recomputed: await run(false) });
const same = rounds.every(
  ({ kept, recomputed }) =>
    kept.tau.length === recomputed.tau.length && kept.tau.every((v, i) => Object.is(v, recomputed.tau[i])),
);
const best = (pick: (r: (typeof rounds)[number]) => Awaited<ReturnType<typeof run>>) =>
  rounds.map(pick).reduce((a, b) => (b.wallSeconds < a.wallSeconds ? b : a));
const summary = (r: Awaited<ReturnType<typeof run>>) => ({
  keptBytes: r.keptBytes,
  wallSeconds: r.wallSeconds,
  cpuSeconds: r.cpuSeconds,
  stages: r.stages,
});
const record = {
  command: `npm run bench:lambda-reuse -- --demo ${variant} --rounds ${args.rounds}`,
  machine: `${cpus().length}-core ${cpus()[0]?.model ?? 'CPU'}, CPU float64 backend, onnxruntime wasm`,
  loadAverageBefore: loadBefore,
  loadAverageAfter: loadavg()[0]!,
  demo: variant,
  train: inputs.train.length,
  queries: inputs.queries.length,
  config: { strategy: config.strategy, fisher: config.fisher, batchSizes: config.batchSizes },
  bitIdenticalTau: same,
  kept: summary(best((r) => r.kept)),
  recomputed: summary(best((r) => r.recomputed)),
  rounds: rounds.map((r) => ({ kept: summary(r.kept), recomputed: summary(r.recomputed) })),
};
const out = args.out ?? `docs/benchmarks/lambda-reuse-${variant}-cpu.json`;
writeFileSync(out, JSON.stringify(record, null, 2) + '\n');
console.log(JSON.stringify({ ...record, rounds: undefined }, null, 2));
