/**
 * bench:teach — how fluid the teaching lab is: retrain + rescore of a 200-point 2-D problem on the CPU float64
 * backend (goal ≤ 300 ms), as the lab does it after every edit, plus the leave-one-out retraining that follows.
 * Medians over repeats of wall and process CPU time (the machine is shared: report both), JSON on stdout.
 * Usage: tsx scripts/bench-teach.ts [repeats]
 */
import { cpus, loadavg } from 'node:os';
import { engineScores, exactScores, leaveOneOut, objectiveOf } from '../src/teach/lab';
import type { LabInputs } from '../src/teach/results';
import { train } from '../src/teach/fit';
import { MODELS, type TeachModel } from '../src/teach/models';
import type { Example } from '../src/teach/network';

const repeats = Number(process.argv[2] ?? 5);
const loadAtStart = loadavg()[0];
const POINTS = 200;

/** 200 training points from consecutive seeds of the model's own generator. */
function points(model: TeachModel): { train: Example[]; test: Example[] } {
  const train: Example[] = [];
  for (let seed = 1; train.length < POINTS; seed++) train.push(...MODELS[model].generate(seed).train);
  return { train: train.slice(0, POINTS), test: MODELS[model].generate(3).test };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Process CPU time (user + system) in ms: under the shared machine's load, wall time is inflated, CPU time is not. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

const cpuSamples = new Map<string, number[]>();

/** Runs work; returns its value and wall ms, and records its CPU ms under `name`. */
async function timed<T>(name: string, work: () => T | Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const cpuStart = cpuMs();
  const value = await work();
  const cpu = cpuMs() - cpuStart;
  cpuSamples.set(name, [...(cpuSamples.get(name) ?? []), cpu]);
  return [value, performance.now() - start];
}

const cases = [];
for (const model of ['logistic', 'mlp'] as const) {
  const { train: trainSet, test } = points(model);
  const inputs: LabInputs = {
    model,
    seed: 3,
    train: trainSet,
    test,
    damping: MODELS[model].l2,
    fisher: 'true',
    loo: 'warm',
  };
  cpuSamples.clear();
  const samples = { retrain: [] as number[], ekfac: [] as number[], allEngine: [] as number[], exact: [] as number[] };
  // One untimed round first: the JIT compiles the float64 loops on it.
  await engineScores(inputs, train(objectiveOf(inputs), inputs.seed));
  for (let r = 0; r < repeats; r++) {
    const [theta, retrainMs] = await timed('retrain', () => train(objectiveOf(inputs), inputs.seed));
    const [, ekfacMs] = await timed('ekfac', () => engineScores(inputs, theta, ['ekfac']));
    const [, allMs] = await timed('allEngine', () => engineScores(inputs, theta));
    const [, exactMs] = await timed('exact', () => exactScores(inputs, theta));
    samples.retrain.push(retrainMs);
    samples.ekfac.push(ekfacMs);
    samples.allEngine.push(allMs);
    samples.exact.push(exactMs);
  }
  const theta = train(objectiveOf(inputs), inputs.seed);
  const [, looMs] = await timed('loo', () => leaveOneOut(inputs, theta));
  const m = (k: keyof typeof samples) => Math.round(median(samples[k]) * 10) / 10;
  cases.push({
    model,
    points: POINTS,
    queries: test.length,
    parameters: MODELS[model].spec.widths.join('-'),
    medianMs: {
      retrain: m('retrain'),
      rescoreEkfac: m('ekfac'),
      rescoreAllEngineMethods: m('allEngine'),
      rescoreExact: m('exact'),
      retrainPlusEkfac: Math.round((median(samples.retrain) + median(samples.ekfac)) * 10) / 10,
      retrainPlusEverythingButLoo:
        Math.round((median(samples.retrain) + median(samples.allEngine) + median(samples.exact)) * 10) / 10,
    },
    medianCpuMs: Object.fromEntries(
      [...cpuSamples].map(([name, values]) => [name, Math.round(median(values) * 10) / 10] as const),
    ),
    leaveOneOutMs: Math.round(looMs),
    goalMs: 300,
  });
}

console.log(
  JSON.stringify(
    {
      benchmark: 'teach',
      backend: 'CPU float64 (src/linalg/cpu) in Node',
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      loadAverage1mAtStart: loadAtStart,
      loadAverage1mAtEnd: loadavg()[0],
      repeats,
      cases,
    },
    null,
    2,
  ),
);
