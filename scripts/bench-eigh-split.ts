/**
 * `npm run bench:eigh-split [-- --d 256 --blocks 64,128 --runs 3 --out FILE]`: the WebGPU eigendecomposition of one
 * covariance-like d×d matrix whole (eighGpu, one binding) and split into blocks (blockEighGpu), runs interleaved so
 * that the machine's load falls on both alike; wall and process-CPU time per run, the ratio of medians, sweeps and
 * accuracy (‖QᵀQ − I‖_max, ‖A − QΛQᵀ‖_F/‖A‖_F in float64). Both start from and end on the host, as the EK-FAC
 * eigen stage does.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { covarianceLikeMatrix, eighAccuracy } from '../bench/eigh-cases';
import { acquireGpu } from '../src/linalg/webgpu/adapter';
import { eighGpu } from '../src/linalg/webgpu/eigh';
import { BLOCK_EIGH_PROGRAMS, blockEighGpu } from '../src/linalg/webgpu/eigh-blocks';
import { nodeGpu } from '../src/linalg/webgpu/node-gpu';
import { GpuRuntime } from '../src/linalg/webgpu/runtime';

const { values: args } = parseArgs({
  options: {
    d: { type: 'string', default: '256' },
    blocks: { type: 'string', default: '64,128' },
    runs: { type: 'string', default: '3' },
    out: { type: 'string', default: 'docs/benchmarks/eigh-split.json' },
  },
});
const d = Number(args.d);
const blockSizes = args.blocks.split(',').map(Number);
const runs = Number(args.runs);

const acquired = await acquireGpu(nodeGpu());
const runtime = await GpuRuntime.create(acquired, BLOCK_EIGH_PROGRAMS);
const loadBefore = execSync('uptime').toString().trim();
console.log(`adapter: ${acquired.report.name}${acquired.report.software ? ' (software)' : ''}; ${loadBefore}`);
const matrix = covarianceLikeMatrix(d, 8);

interface Outcome {
  values: Float64Array;
  vectors: Float64Array;
  sweeps: number;
}

async function whole(): Promise<Outcome> {
  const input = runtime.upload(matrix, [d, d]);
  const eigen = await eighGpu(runtime, input);
  const values = Float64Array.from(await runtime.read(eigen.values));
  const vectors = Float64Array.from(await runtime.read(eigen.vectors));
  runtime.release(input, eigen.values, eigen.vectors);
  return { values, vectors, sweeps: eigen.sweeps };
}

const cases: [string, () => Promise<Outcome>][] = [
  ['whole', whole],
  ...blockSizes.map((b): [string, () => Promise<Outcome>] => [
    `blocks of ${b}`,
    () => blockEighGpu(runtime, matrix, d, { blockSize: b }),
  ]),
];
const samples = new Map(cases.map(([name]) => [name, [] as { wallMs: number; cpuMs: number }[]]));
const last = new Map<string, Outcome>();
await whole(); // pipelines compiled outside the timings
for (let run = 0; run < runs; run++) {
  for (const [name, decompose] of cases) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    last.set(name, await decompose());
    const wallMs = performance.now() - start;
    const used = process.cpuUsage(cpu);
    samples.get(name)!.push({ wallMs, cpuMs: (used.user + used.system) / 1000 });
    console.log(`${name}: ${wallMs.toFixed(0)} ms wall, ${((used.user + used.system) / 1000).toFixed(0)} ms CPU`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const wholeMs = median(samples.get('whole')!.map((s) => s.wallMs));
const wholeCpu = median(samples.get('whole')!.map((s) => s.cpuMs));
const results = cases.map(([name]) => {
  const outcome = last.get(name)!;
  const wallMs = median(samples.get(name)!.map((s) => s.wallMs));
  const cpuMs = median(samples.get(name)!.map((s) => s.cpuMs));
  return {
    case: name,
    medianWallMs: Math.round(wallMs),
    medianCpuMs: Math.round(cpuMs),
    wallRatio: +(wallMs / wholeMs).toFixed(2),
    cpuRatio: +(cpuMs / wholeCpu).toFixed(2),
    sweeps: outcome.sweeps,
    ...eighAccuracy(matrix, outcome.values, outcome.vectors, d),
  };
});
console.table(results);
const loadAfter = execSync('uptime').toString().trim();
console.log(loadAfter);
const report = {
  date: new Date().toISOString(),
  adapter: acquired.report.name,
  software: acquired.report.software,
  d,
  runs,
  loadBefore,
  loadAfter,
  results,
  samples: Object.fromEntries(samples),
};
const out = resolve(args.out);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${out}`);
process.exit(0);
