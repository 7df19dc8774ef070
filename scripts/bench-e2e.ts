/**
 * `npm run bench:e2e [-- --out FILE] [--limit-train N] [--limit-queries N] [--backends cpu,webgpu] [--demo
 * demo|micro] [--model gpt2-small --strategy S --track REGEX]`:
 * one attribution of the demo model (the same subsample `iwb attribute` uses by default) on each backend, in Node:
 * the CPU float64 backend, and the WebGPU backend on Dawn's adapter (SwiftShader on a machine without a GPU).
 * onnxruntime-web runs the gradient graph on wasm in both (its WebGPU EP does not run on Dawn), so on WebGPU the
 * a/g batches are uploaded; in the browser worker they stay on the GPU. Writes JSON and prints a table.
 * A benchmark, not a test: the figures depend on the machine and its load, which are recorded with them.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultPublicDir, nodeSource } from '../src/data/node-source';
import { chooseBackend } from '../src/app/backend-choice';
import { runConfig } from '../src/app/config-check';
import { DEMO_DEFAULT_LIMITS, DEMO_MODEL_PATH, loadDemoInputs } from '../src/app/inputs';
import { gradientGraphFor, runJob, type JobOutcome } from '../src/app/job';
import { nodeGpu } from '../src/linalg/webgpu/node-gpu';
import type { RunConfig } from '../src/app/config';
import { formatPlan, planJob } from '../src/app/run-plan';
import { gpt2SmallInputs } from './gpt2-small-inputs';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'bench/e2e.json' },
    'limit-train': { type: 'string' },
    'limit-queries': { type: 'string' },
    backends: { type: 'string', default: 'cpu,webgpu' },
    demo: { type: 'string', default: 'demo' },
    // The GPT-2-small-sized case (scripts/gpt2-small-inputs.ts), generated here; by default one tracked MLP layer.
    model: { type: 'string' },
    strategy: { type: 'string', default: 'ekfac' },
    track: { type: 'string' },
  },
});
if (args.model !== undefined && args.model !== 'gpt2-small')
  throw new Error(`--model: "${args.model}" is not gpt2-small`);
const gpt2 = args.model === 'gpt2-small';
const variant = args.demo === 'micro' ? 'micro' : 'demo';
const defaults = gpt2 ? { train: 8, queries: 2 } : DEMO_DEFAULT_LIMITS[variant];
const limits = {
  train: args['limit-train'] ? Number(args['limit-train']) : defaults.train,
  queries: args['limit-queries'] ? Number(args['limit-queries']) : defaults.queries,
  sample: false,
};
const backends = args.backends.split(',').map((b) => b.trim());
for (const b of backends) if (b !== 'cpu' && b !== 'webgpu') throw new Error(`--backends: "${b}" is not cpu or webgpu`);

const loadBefore = loadavg()[0]!;
const trainedModel = variant === 'demo' ? readFileSync(resolve(defaultPublicDir(), DEMO_MODEL_PATH)) : null;
const inputs = gpt2
  ? gpt2SmallInputs(limits.train, limits.queries)
  : await loadDemoInputs({ data: nodeSource(), trainedModel }, variant, limits);
const config = runConfig({
  limits,
  strategy: args.strategy as RunConfig['strategy'],
  trackedLayers: args.track ?? (gpt2 ? String.raw`^/h\.0/mlp/c_fc/` : null),
});
const graph = await gradientGraphFor(inputs, config);
const trainTokens = inputs.train.reduce((sum, e) => sum + e.inputIds.length, 0);
console.log(
  `${inputs.modelName}\n${inputs.subsample}\n${inputs.train.length} training examples (${trainTokens} tokens) x ${inputs.queries.length} queries`,
);

const runs: Record<string, unknown>[] = [];
const outcomes = new Map<string, JobOutcome>();
for (const choice of backends as ('cpu' | 'webgpu')[]) {
  const chosen = await chooseBackend(choice, choice === 'webgpu' ? nodeGpu() : undefined);
  const adapter = chosen.webgpu?.runtime.acquired.report ?? null;
  console.log(`\n${chosen.report.description} …`);
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  try {
    const planned = planJob(inputs, graph, { ...config, backend: choice }, chosen);
    console.log(formatPlan(planned).join('\n'));
    const outcome = await runJob(inputs, graph, planned.config, chosen, {
      ortOnGpu: false,
      onProgress: (e) => e.done === e.total && console.log(`  ${e.stage} ${e.done}/${e.total} ${e.unit}`),
    });
    outcomes.set(choice, outcome);
    const stage = (name: string) => outcome.timings.find((t) => t.stage === name);
    const rate = (name: string) => {
      const t = stage(name);
      return t && t.items !== undefined && t.seconds > 0 ? t.items / t.seconds : null;
    };
    runs.push({
      backend: choice,
      description: chosen.report.description,
      adapter: adapter ? { name: adapter.name, software: adapter.software } : null,
      wallSeconds: (performance.now() - started) / 1000,
      processCpuSeconds: cpuSeconds(process.cpuUsage(cpuStarted)),
      estimatedSeconds: planned.plan.seconds,
      estimatedStages: planned.plan.stages,
      peakResidentBytes: process.resourceUsage().maxRSS * 1024,
      covarianceTokensPerSecond: rate('covariance'),
      lambdaTokensPerSecond: rate('lambda'),
      eigendecompositionSeconds: stage('eigen')?.seconds ?? null,
      pairsScoredPerSecond: rate('scores'),
      peakGpuBytes: outcome.peakGpuBytes,
      gradientBatchBytes: outcome.batchBytes,
      stages: outcome.timings,
    });
  } finally {
    chosen.dispose();
  }
}

const report = {
  date: new Date().toISOString(),
  machine: {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    loadAverageAtStart: loadBefore,
    loadAverageAtEnd: loadavg()[0],
  },
  model: inputs.modelName,
  subsample: inputs.subsample,
  trainExamples: inputs.train.length,
  trainTokens,
  queries: inputs.queries.length,
  strategy: config.strategy,
  trackedLayers: graph.layers.map((l) => `${l.nodeName} [${l.dIn} → ${l.dOut}]`),
  onnxruntime: 'wasm (Node)',
  runs,
  agreement: agreement(outcomes.get('cpu'), outcomes.get('webgpu')),
};
const out = resolve(args.out);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(
  `\nmachine: ${report.machine.cpu}, ${report.machine.cores} cores, load average ${loadBefore.toFixed(1)} at start`,
);
for (const r of runs) console.log(`${r.backend}: ${r.description}`);
console.table(
  runs.map((r) => ({
    backend: r.backend,
    'factor pass tok/s': fixed(r.covarianceTokensPerSecond),
    'Λ pass tok/s': fixed(r.lambdaTokensPerSecond),
    'eigh s': fixed(r.eigendecompositionSeconds),
    'pairs/s': fixed(r.pairsScoredPerSecond),
    'peak GPU MiB': r.peakGpuBytes === null ? '' : ((r.peakGpuBytes as number) / 2 ** 20).toFixed(1),
    'wall s': fixed(r.wallSeconds),
    'CPU s': fixed(r.processCpuSeconds),
    'estimate s': fixed(r.estimatedSeconds),
  })),
);
if (report.agreement) console.log(`WebGPU float32 vs CPU float64: ${JSON.stringify(report.agreement)}`);
console.log(`wrote ${out}`);

function cpuSeconds(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
}

function fixed(value: unknown): string {
  return typeof value === 'number' ? (value >= 100 ? value.toFixed(0) : value.toPrecision(3)) : '';
}

/** Per query: Spearman correlation of the influence rows, and how many of the top 10 (by |influence|) agree. */
function agreement(cpu: JobOutcome | undefined, gpu: JobOutcome | undefined) {
  if (!cpu || !gpu) return null;
  const n = cpu.result.train.length;
  const perQuery = cpu.result.queries.map((q, i) => {
    const a = cpu.result.influence.subarray(i * n, (i + 1) * n);
    const b = gpu.result.influence.subarray(i * n, (i + 1) * n);
    const top = (x: Float64Array) =>
      new Set([...x.keys()].sort((s, t) => Math.abs(x[t]!) - Math.abs(x[s]!)).slice(0, 10));
    const topA = top(a);
    return {
      query: q.id,
      spearman: pearson(ranks(a), ranks(b)),
      top10InCommon: [...top(b)].filter((k) => topA.has(k)).length,
    };
  });
  return { minSpearman: Math.min(...perQuery.map((p) => p.spearman)), perQuery };
}

function ranks(values: Float64Array): Float64Array {
  const order = [...values.keys()].sort((a, b) => values[a]! - values[b]!);
  const out = new Float64Array(values.length);
  order.forEach((index, rank) => (out[index] = rank));
  return out;
}

function pearson(a: Float64Array, b: Float64Array): number {
  const mean = (x: Float64Array) => x.reduce((s, v) => s + v, 0) / x.length;
  const ma = mean(a);
  const mb = mean(b);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - ma) * (b[i]! - mb);
    da += (a[i]! - ma) ** 2;
    db += (b[i]! - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}
