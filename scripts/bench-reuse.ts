/**
 * `npm run bench:reuse`: what asking one more question costs once the factors are fitted. For the demo model (the
 * trained demo GPT when public/ has it, else its seeded twin) on the float64 CPU backend, one new query is attributed
 * (a) by a full run — covariance, eigendecomposition, Λ, then the query and a pass over the training set for its scores
 * and self-influence — and (b) against the factors a first run fitted (what `iwb attribute --factors DIR` does after
 * `--save-factors DIR`): only the query and the scoring pass. Both are timed in wall and process CPU seconds (the
 * machine's cores are shared), best of --rounds; the scores of (a) and (b) are compared (they must agree to 1e-10).
 * The record is rewritten after every round, so a run cut short still leaves what it measured.
 * Options: --train N (default 32, the demo's default), --rounds R (default 2), --out FILE
 * (default docs/benchmarks/reuse-cpu.json).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path, { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { chooseBackend } from '../src/app/backend-choice';
import { runConfig } from '../src/app/config-check';
import { DEMO_MODEL_PATHS, loadDemoInputs, type RunInputs } from '../src/app/inputs';
import { gradientGraphFor, runJob, type JobOutcome } from '../src/app/job';
import { defaultPublicDir, nodeSource } from '../src/data/node-source';
import type { ModelFactors } from '../src/core/schema';

const { values: args } = parseArgs({
  options: {
    train: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '2' },
    out: { type: 'string', default: 'docs/benchmarks/reuse-cpu.json' },
  },
});
const trainCount = Number(args.train);
const rounds = Number(args.rounds);

async function main(): Promise<void> {
  const trainedPath = path.join(defaultPublicDir(), DEMO_MODEL_PATHS.demo!);
  const trained = existsSync(trainedPath) ? readFileSync(trainedPath) : null;
  // Queries: the first 4 of the demo's sample (seed 0); query 0 fits, queries 1–3 are the "new" questions asked alone.
  const all = await loadDemoInputs({ data: nodeSource(), trainedModel: trained }, 'demo', {
    train: trainCount,
    queries: 4,
    seed: 0,
  });
  const config = runConfig({ backend: 'cpu' });
  const withQueries = (queries: RunInputs['queries']): RunInputs => ({ ...all, queries });
  const run = async (inputs: RunInputs, factors?: ModelFactors) => {
    const chosen = await chooseBackend('cpu', undefined);
    try {
      const graph = await gradientGraphFor(inputs, config);
      const wall = performance.now();
      const cpu = process.cpuUsage();
      const outcome: JobOutcome = await runJob(inputs, graph, config, chosen, {
        ortOnGpu: false,
        ...(factors ? { factors: () => factors } : {}),
      });
      const used = process.cpuUsage(cpu);
      return {
        outcome,
        wallSeconds: (performance.now() - wall) / 1000,
        cpuSeconds: (used.user + used.system) / 1e6,
      };
    } finally {
      chosen.dispose();
    }
  };
  const loadBefore = loadavg();
  const fit = await run(withQueries(all.queries.slice(0, 1)));
  const factors = fit.outcome.result.factors;
  const samples: {
    query: string;
    full: { wallSeconds: number; cpuSeconds: number; stages: string[] };
    reuse: { wallSeconds: number; cpuSeconds: number; stages: string[] };
    maxRelativeDifference: number;
  }[] = [];
  for (let r = 0; r < rounds; r++) {
    const query = all.queries[1 + (r % 3)]!;
    const inputs = withQueries([query]);
    const full = await run(inputs);
    const reuse = await run(inputs, factors);
    const a = full.outcome.result.influence;
    const b = reuse.outcome.result.influence;
    const scale = Math.max(...a.map(Math.abs));
    const maxRelativeDifference = Math.max(...a.map((v, i) => Math.abs(v - b[i]!))) / scale;
    const stages = (o: JobOutcome) => o.timings.map((t) => t.stage);
    samples.push({
      query: query.id,
      full: { wallSeconds: full.wallSeconds, cpuSeconds: full.cpuSeconds, stages: stages(full.outcome) },
      reuse: { wallSeconds: reuse.wallSeconds, cpuSeconds: reuse.cpuSeconds, stages: stages(reuse.outcome) },
      maxRelativeDifference,
    });
    console.log(
      `round ${r + 1}: ${query.id}: full ${full.wallSeconds.toFixed(2)} s wall (${full.cpuSeconds.toFixed(2)} s CPU), ` +
        `against saved factors ${reuse.wallSeconds.toFixed(2)} s wall (${reuse.cpuSeconds.toFixed(2)} s CPU); ` +
        `max |Δ|/max|I| = ${maxRelativeDifference.toExponential(2)}`,
    );
    writeRecord();
  }

  function writeRecord(): void {
    const best = (key: 'full' | 'reuse') => Math.min(...samples.map((s) => s[key].cpuSeconds));
    const bestWall = (key: 'full' | 'reuse') => Math.min(...samples.map((s) => s[key].wallSeconds));
    const record = {
      benchmark: 'bench:reuse',
      command: `npm run bench:reuse -- --train ${trainCount} --rounds ${rounds}`,
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
      loadAverage: { before: loadBefore, after: loadavg() },
      backend: 'cpu (float64)',
      model: trained ? 'demo GPT (trained, public/)' : 'demo GPT (seeded; public/ has no trained model)',
      layers: fit.outcome.result.layers.map((l) => `${l.name} [${l.dIn} → ${l.dOut}]`),
      trainExamples: all.train.length,
      trainTokens: all.train.reduce((sum, e) => sum + e.inputIds.length, 0),
      fitRun: { wallSeconds: fit.wallSeconds, cpuSeconds: fit.cpuSeconds, timings: fit.outcome.timings },
      completedRounds: samples.length,
      samples,
      best: {
        fullCpuSeconds: best('full'),
        reuseCpuSeconds: best('reuse'),
        fullWallSeconds: bestWall('full'),
        reuseWallSeconds: bestWall('reuse'),
        speedupCpu: best('full') / best('reuse'),
      },
    };
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileSync(args.out, JSON.stringify(record, null, 2) + '\n');
    console.log(
      `best of ${samples.length}: full ${record.best.fullCpuSeconds.toFixed(2)} s CPU, reuse ${record.best.reuseCpuSeconds.toFixed(2)} s CPU ` +
        `(× ${record.best.speedupCpu.toFixed(2)}); wrote ${args.out}`,
    );
  }
}

await main();
