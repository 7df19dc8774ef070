/**
 * `npm run bench:kernels:node [-- --out FILE] [--quick]`: absolute kernel throughput on whatever adapter Dawn finds
 * in Node (a real GPU where there is one; SwiftShader otherwise), plus each kernel's agreement with the float64 CPU
 * backend on the same inputs. No peer here: onnxruntime-web's WebGPU EP does not run on Dawn in Node, so the
 * peer comparison lives in the browser benchmark (npm run bench:kernels).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { covarianceLikeMatrix, eighAccuracy } from '../bench/eigh-cases';
import type { Backend, Tensor } from '../src/linalg/backend';
import { CpuBackend } from '../src/linalg/cpu/backend';
import { orthonormalColumns } from '../src/linalg/cpu/dense';
import { acquireGpu } from '../src/linalg/webgpu/adapter';
import { webGpuBackend } from '../src/linalg/webgpu/backend';
import { nodeGpu } from '../src/linalg/webgpu/node-gpu';

const { values: args } = parseArgs({
  options: { out: { type: 'string', default: 'bench/kernels-node.json' }, quick: { type: 'boolean', default: false } },
});
const RUNS = 7;
const WARMUP = 2;

const acquired = await acquireGpu(nodeGpu());
const gpu = await webGpuBackend(acquired);
const cpu = new CpuBackend();
console.log(`adapter: ${acquired.report.name}${acquired.report.software ? ' (software)' : ''}`);

let seed = 1;
function random(count: number): Float64Array {
  return Float64Array.from({ length: count }, () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return Math.fround(seed / 2 ** 31 - 1);
  });
}

function relativeError(actual: Float64Array, expected: Float64Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i]! - expected[i]!) ** 2;
    norm += expected[i]! ** 2;
  }
  return Math.sqrt(diff / (norm || 1));
}

/** Every EK-FAC kernel on one random batch; the outputs in a fixed order, read back as float64. */
async function kernelOutputs(
  backend: Backend,
  [B, T, dIn, dOut]: readonly number[],
  inputs: Record<string, Float64Array>,
): Promise<Record<string, Float64Array>> {
  const dPrime = dIn! + 1;
  const batch = {
    activations: backend.upload(inputs.a!, [B!, T!, dIn!]),
    gradients: backend.upload(inputs.g!, [B!, T!, dOut!]),
    mask: backend.upload(inputs.mask!, [B!, T!]),
    appendOnes: true,
  };
  const acc = backend.zeros([dPrime, dPrime]);
  backend.accumulateCovariance(acc, batch.activations, batch.mask, true);
  const qS = backend.upload(inputs.qS!, [dOut!, dOut!]);
  const qA = backend.upload(inputs.qA!, [dPrime, dPrime]);
  const lambda = backend.zeros([dOut!, dPrime]);
  backend.accumulateLambda(lambda, batch, qS, qA);
  const p = backend.upload(inputs.p!, [2, dOut!, dPrime]);
  const gradients = backend.sequenceGradients(batch);
  const outputs: Record<string, Tensor> = {
    covariance: backend.finalizeCovariance(acc, 1),
    sequenceGradients: gradients,
    rotateInto: backend.rotate(gradients, qS, qA, 'into'),
    rotateBack: backend.rotate(gradients, qS, qA, 'back'),
    lambda,
    precondition: backend.precondition(p, qS, qA, lambda, { kind: 'heuristic', factor: 0.1 }),
    scores: backend.scores(p, batch, false),
    perTokenScores: backend.scores(p, batch, true),
  };
  const out: Record<string, Float64Array> = {};
  for (const [name, tensor] of Object.entries(outputs)) out[name] = await backend.read(tensor);
  return out;
}

async function agreement(shape: readonly number[]): Promise<Record<string, number | string>> {
  const [B, T, dIn, dOut] = shape as [number, number, number, number];
  const mask = random(B * T).map((v) => (v < -0.5 ? 0 : 1));
  const inputs = {
    a: random(B * T * dIn),
    g: random(B * T * dOut),
    mask,
    qS: orthonormal(dOut),
    qA: orthonormal(dIn + 1),
    p: random(2 * dOut * (dIn + 1)),
  };
  const [ours, reference] = [await kernelOutputs(gpu, shape, inputs), await kernelOutputs(cpu, shape, inputs)];
  const row: Record<string, number | string> = { shape: `B=${B} T=${T} dIn=${dIn} dOut=${dOut} ones mask` };
  for (const name of Object.keys(reference)) row[name] = relativeError(ours[name]!, reference[name]!);
  return row;
}

function orthonormal(d: number): Float64Array {
  return orthonormalColumns(random(d * d), d, { caller: 'orthonormal' }).map(Math.fround);
}

/** Median ms from the call to the GPU finishing, over RUNS runs after WARMUP. */
async function medianMs(work: () => Tensor): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const start = performance.now();
    const out = work();
    await gpu.runtime.finish();
    if (i >= WARMUP) times.push(performance.now() - start);
    gpu.release(out);
  }
  return times.sort((a, b) => a - b)[RUNS >> 1]!;
}

const dims = args.quick ? [64, 128] : [128, 256, 512, 1024, 2048];
const agreementShapes = args.quick
  ? [[2, 7, 33, 9]]
  : [
      [2, 7, 33, 9],
      [3, 33, 130, 7],
      [4, 64, 256, 128],
    ];
const report = {
  date: new Date().toISOString(),
  adapter: acquired.report.name,
  software: acquired.report.software,
  agreementWithFloat64: [] as Record<string, number | string>[],
  covariance: [] as Record<string, number>[],
  rotation: [] as Record<string, number>[],
  eigh: [] as Record<string, number | string>[],
};
for (const shape of agreementShapes) report.agreementWithFloat64.push(await agreement(shape));
console.table(report.agreementWithFloat64);
for (const d of dims) {
  for (const tokens of args.quick ? [256] : [512, 2048, 8192]) {
    const x = gpu.upload(random(tokens * d), [tokens, d]);
    const ms = await medianMs(() => {
      const acc = gpu.zeros([d, d]);
      gpu.accumulateCovariance(acc, x, null, false);
      const full = gpu.finalizeCovariance(acc, 1);
      gpu.release(acc);
      return full;
    });
    report.covariance.push({ d, tokens, medianMs: ms, gflopsXtXEquivalent: (2 * tokens * d * d) / ms / 1e6 });
    gpu.release(x);
  }
  const count = 2;
  const [qS, g, qA] = [
    gpu.upload(random(d * d), [d, d]),
    gpu.upload(random(count * d * d), [count, d, d]),
    gpu.upload(random(d * d), [d, d]),
  ];
  const ms = await medianMs(() => gpu.rotate(g, qS, qA, 'into'));
  report.rotation.push({ d, count, medianMs: ms, gflops: (count * 4 * d ** 3) / ms / 1e6 });
  gpu.release(qS, g, qA);
}
console.table(report.covariance);
console.table(report.rotation);
for (const d of dims.filter((n) => n <= (acquired.report.software ? 128 : 1024))) {
  const matrix = covarianceLikeMatrix(d, 8);
  const tensor = gpu.upload(matrix, [d, d]);
  const times: number[] = [];
  let accuracy: Record<string, number> = {};
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    const eigen = await gpu.eigh(tensor);
    times.push(performance.now() - start);
    if (i === 4)
      accuracy = {
        ...eighAccuracy(matrix, await gpu.read(eigen.values), await gpu.read(eigen.vectors), d),
        sweeps: eigen.sweeps,
      };
    gpu.release(eigen.values, eigen.vectors);
  }
  report.eigh.push({ d, medianMs: times.sort((a, b) => a - b)[2]!, ...accuracy });
  gpu.release(tensor);
}
console.table(report.eigh);
const out = resolve(args.out);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${out}`);
process.exit(0);
