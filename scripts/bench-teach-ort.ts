/**
 * Why the lab's gradients do not go through onnxruntime-web: one full-batch gradient of the lab's MLP (2-6-6-2, 200
 * points) as an ORT wasm session.run of our own gradient graph (src/onnx, the path src/train/loop.ts uses; float32,
 * in Node) against the lab's batched float64 TypeScript gradient (src/teach/batch.ts via src/teach/fit.ts). A lab
 * update needs ~700 such gradients (AdamW steps, Newton iterations, Hessian columns). Medians of 50 runs of wall and
 * process CPU time (ORT may use threads; the machine is shared), JSON on stdout. Usage: tsx scripts/bench-teach-ort.ts
 */
import { cpus, loadavg } from 'node:os';
import { buildMlpForward, initMlpWeights, type MlpConfig } from '../src/models/mlp';
import { buildGradientGraph } from '../src/onnx/gradient-graph';
import { ModelSession } from '../src/onnx/runtime';
import { gradientAndCurvature, initialParameters } from '../src/teach/fit';
import { objectiveOf } from '../src/teach/lab';
import { MODELS } from '../src/teach/models';
import type { Example } from '../src/teach/network';
import { parametersAsInputs } from '../src/train/parameters';

const POINTS = 200;
const RUNS = 50;
const train: Example[] = [];
for (let seed = 1; train.length < POINTS; seed++) train.push(...MODELS.mlp.generate(seed).train);
train.length = POINTS;

const config: MlpConfig = {
  inputDim: 2,
  hiddenDims: [6, 6],
  outputDim: 2,
  activation: 'tanh',
  linearForm: 'gemm',
  task: 'classification',
};
const forward = buildMlpForward(config, initMlpWeights(config, 3));
const graph = buildGradientGraph(forward, { loss: { kind: 'cross-entropy' }, tracked: [], parameterGradients: true });
const names = [...graph.outputs.parameterGradients!.keys()];
const session = await ModelSession.create(parametersAsInputs(graph.model, names));
const feeds: Record<string, { data: Float32Array | BigInt64Array; dims: readonly number[] }> = {
  features: { data: Float32Array.from(train.flatMap((e) => e.x)), dims: [POINTS, 2] },
  [graph.inputs.labels]: { data: BigInt64Array.from(train, (e) => BigInt(e.y)), dims: [POINTS] },
};
for (const name of names) {
  const init = forward.graph.initializers.get(name)!;
  feeds[name] = { data: init.data as Float32Array, dims: init.dims };
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

/** Median wall and process CPU (user + system) ms of work, after 5 warm-up runs. */
async function time(work: () => unknown): Promise<{ wallMs: number; cpuMs: number }> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS + 5; r++) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    await work();
    const used = process.cpuUsage(cpuStart);
    if (r >= 5) {
      wall.push(performance.now() - start);
      cpu.push((used.user + used.system) / 1000);
    }
  }
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return { wallMs: round(median(wall)), cpuMs: round(median(cpu)) };
}

const loadAtStart = loadavg()[0];
const ortMs = await time(() => session.run(feeds));
const objective = objectiveOf({ model: 'mlp', train });
const theta = initialParameters(MODELS.mlp.spec, 3);
const tsMs = await time(() => gradientAndCurvature(objective, theta, false));
await session.release();
console.log(
  JSON.stringify(
    {
      benchmark: 'teach-ort',
      what: 'one full-batch loss gradient, MLP 2-6-6-2, 200 points',
      ortWasmSessionRun: ortMs,
      typescriptBatchedFloat64: tsMs,
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      loadAverage1mAtStart: loadAtStart,
      loadAverage1mAtEnd: loadavg()[0],
      runs: RUNS,
    },
    null,
    2,
  ),
);
