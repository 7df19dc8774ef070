/**
 * The kernel benchmark page (served by scripts/bench-kernels.ts, driven in headless Chromium). For each case it times
 * our kernel and onnxruntime-web's WebGPU EP computing the same product on the same GPUDevice, with the same resident
 * inputs (ORT reads our GPUBuffers through Tensor.fromGpuBuffer and leaves its outputs on the GPU), over the same span:
 * from the call until queue.onSubmittedWorkDone(). The float64 CPU backend's time for the same work is recorded too.
 */
import type * as Ort from 'onnxruntime-web';
import type { Tensor } from '../src/linalg/backend';
import { CpuBackend } from '../src/linalg/cpu/backend';
import { acquireGpu, type AcquiredGpu } from '../src/linalg/webgpu/adapter';
import { webGpuBackend, type WebGpuBackend, type WebGpuBackendOptions } from '../src/linalg/webgpu/backend';
import { loadOrt } from '../src/platform/ort';
import { eighAccuracy, covarianceLikeMatrix } from './eigh-cases';
import { gramModel, rotationModel } from './peer-models';

export interface BenchConfig {
  readonly covariance: readonly { readonly d: number; readonly tokens: number }[];
  readonly rotation: readonly { readonly d: number; readonly count: number }[];
  /** Eigendecomposition sizes, each with its own timed-run count (a d = 512 Jacobi takes minutes on SwiftShader). */
  readonly eigh: readonly { readonly d: number; readonly runs: number }[];
  readonly warmup: number;
  readonly runs: number;
  readonly cpuRuns: number;
  readonly tuning?: WebGpuBackendOptions;
}

export interface Timing {
  readonly medianMs: number;
  /** null where the work has no fixed flop count (the eigendecomposition). */
  readonly gflops: number | null;
  readonly runsMs: readonly number[];
}

export interface CaseResult {
  readonly kernel: string;
  readonly shape: Readonly<Record<string, number>>;
  /** Floating-point operations of the product both sides compute (the peer's count: full XᵀX, both GEMMs). */
  readonly flops: number;
  readonly ours: Timing;
  readonly peer?: Timing & { readonly name: string };
  /** Our throughput / the peer's (same flops, so the peer's time / ours). */
  readonly ratio?: number;
  readonly cpuFloat64Ms?: number;
  /** max |ours − peer| / max |peer|, and max |peer| itself (so an all-zero pair cannot pass unnoticed). */
  readonly agreement?: number;
  readonly peerMaxAbs?: number;
  readonly accuracy?: Readonly<Record<string, number>>;
  readonly note?: string;
}

export interface BenchResult {
  readonly adapter: string;
  readonly software: boolean;
  readonly userAgent: string;
  readonly config: BenchConfig;
  readonly cases: CaseResult[];
}

declare global {
  interface Window {
    runKernelBench?: (config: BenchConfig) => Promise<BenchResult>;
  }
}

type OrtModule = typeof Ort;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function timing(runsMs: number[], flops: number): Timing {
  const medianMs = median(runsMs);
  return { medianMs, gflops: flops > 0 ? flops / medianMs / 1e6 : null, runsMs };
}

/** Times `work` from the call to the GPU finishing it; `after` (untimed) cleans up each run. */
async function timeGpu(
  device: GPUDevice,
  config: BenchConfig,
  work: () => Promise<unknown> | unknown,
  after: (out: unknown) => void,
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < config.warmup + config.runs; i++) {
    const start = performance.now();
    const out = await work();
    await device.queue.onSubmittedWorkDone();
    const elapsed = performance.now() - start;
    after(out);
    if (i >= config.warmup) times.push(elapsed);
  }
  return times;
}

async function timeCpu(runs: number, work: () => unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  return median(times);
}

function randomFloats(count: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

function compare(ours: ArrayLike<number>, peer: ArrayLike<number>): { agreement: number; peerMaxAbs: number } {
  let diff = ours.length === peer.length ? 0 : Infinity;
  let scale = 0;
  for (let i = 0; i < peer.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i]! - peer[i]!));
    scale = Math.max(scale, Math.abs(peer[i]!));
  }
  return { agreement: scale === 0 ? diff : diff / scale, peerMaxAbs: scale };
}

interface Context {
  readonly acquired: AcquiredGpu;
  readonly gpu: WebGpuBackend;
  readonly cpu: CpuBackend;
  readonly ort: OrtModule;
  readonly config: BenchConfig;
}

async function session(ctx: Context, bytes: Uint8Array, output: string): Promise<Ort.InferenceSession> {
  return ctx.ort.InferenceSession.create(bytes, {
    executionProviders: [
      { name: 'webgpu', device: ctx.acquired.device } as Ort.InferenceSession.ExecutionProviderConfig,
    ],
    preferredOutputLocation: { [output]: 'gpu-buffer' },
    graphOptimizationLevel: 'all',
  });
}

function gpuFeed(ctx: Context, tensor: Tensor): Ort.Tensor {
  return ctx.ort.Tensor.fromGpuBuffer(ctx.gpu.gpuBuffer(tensor), { dataType: 'float32', dims: [...tensor.shape] });
}

async function peerRun(
  peer: Ort.InferenceSession,
  feeds: Record<string, Ort.Tensor>,
  output: string,
): Promise<Ort.Tensor> {
  const results = await peer.run(feeds);
  return results[output]!;
}

async function covarianceCase(ctx: Context, d: number, tokens: number): Promise<CaseResult> {
  const { gpu, cpu, acquired, config } = ctx;
  const values = randomFloats(tokens * d, d * 7919 + tokens);
  const x = gpu.upload(values, [tokens, d]);
  const ours = () => {
    const acc = gpu.zeros([d, d]);
    gpu.accumulateCovariance(acc, x, null, false);
    const full = gpu.finalizeCovariance(acc, 1);
    gpu.release(acc);
    return full;
  };
  const flops = 2 * tokens * d * d;
  const oursMs = await timeGpu(acquired.device, config, ours, (out) => gpu.release(out as Tensor));
  const peer = await session(ctx, gramModel(tokens, d), 'Y');
  const feeds = { X: gpuFeed(ctx, x) };
  const peerMs = await timeGpu(
    acquired.device,
    config,
    () => peerRun(peer, feeds, 'Y'),
    (out) => (out as Ort.Tensor).dispose(),
  );
  const check = ours();
  const peerOut = await peerRun(peer, feeds, 'Y');
  const agreement = compare(await gpu.read(check), (await peerOut.getData(true)) as Float32Array);
  await peer.release();
  gpu.release(check, x);
  const xCpu = cpu.upload(values, [tokens, d]);
  const cpuFloat64Ms = await timeCpu(config.cpuRuns, () => {
    const acc = cpu.zeros([d, d]);
    cpu.accumulateCovariance(acc, xCpu, null, false);
    cpu.finalizeCovariance(acc, 1);
  });
  return result(
    'covariance (XᵀX, upper triangle + mirror)',
    { d, tokens },
    flops,
    oursMs,
    peerMs,
    cpuFloat64Ms,
    agreement,
  );
}

async function rotationCase(ctx: Context, d: number, count: number): Promise<CaseResult> {
  const { gpu, cpu, acquired, config } = ctx;
  const inputs = { QS: randomFloats(d * d, 1), G: randomFloats(count * d * d, 2), QA: randomFloats(d * d, 3) };
  const qS = gpu.upload(inputs.QS, [d, d]);
  const g = gpu.upload(inputs.G, [count, d, d]);
  const qA = gpu.upload(inputs.QA, [d, d]);
  const flops = count * 2 * (2 * d * d * d);
  const oursMs = await timeGpu(
    acquired.device,
    config,
    () => gpu.rotate(g, qS, qA, 'into'),
    (out) => gpu.release(out as Tensor),
  );
  const peer = await session(ctx, rotationModel(count, d, d), 'R');
  const feeds = { QS: gpuFeed(ctx, qS), G: gpuFeed(ctx, g), QA: gpuFeed(ctx, qA) };
  const peerMs = await timeGpu(
    acquired.device,
    config,
    () => peerRun(peer, feeds, 'R'),
    (out) => (out as Ort.Tensor).dispose(),
  );
  const check = gpu.rotate(g, qS, qA, 'into');
  const peerOut = await peerRun(peer, feeds, 'R');
  const agreement = compare(await gpu.read(check), (await peerOut.getData(true)) as Float32Array);
  await peer.release();
  gpu.release(check, qS, g, qA);
  const onCpu = [
    cpu.upload(inputs.G, [count, d, d]),
    cpu.upload(inputs.QS, [d, d]),
    cpu.upload(inputs.QA, [d, d]),
  ] as const;
  const cpuFloat64Ms = await timeCpu(config.cpuRuns, () => cpu.rotate(...onCpu, 'into'));
  return result(
    'rotation Q_Sᵀ G Q_A (two batched GEMMs)',
    { d, count },
    flops,
    oursMs,
    peerMs,
    cpuFloat64Ms,
    agreement,
  );
}

/** The Jacobi pipelines compile on a tiny matrix first, so the timed runs need no warm-up of their own. */
async function compileEigh(ctx: Context): Promise<void> {
  const small = ctx.gpu.upload(covarianceLikeMatrix(16, 2), [16, 16]);
  const eigen = await ctx.gpu.eigh(small);
  ctx.gpu.release(small, eigen.values, eigen.vectors);
}

async function eighCase(ctx: Context, d: number, timedRuns: number): Promise<CaseResult> {
  const { gpu, cpu, acquired } = ctx;
  const matrix = covarianceLikeMatrix(d, 8);
  const a = gpu.upload(matrix, [d, d]);
  const runs: number[] = [];
  let accuracy: Record<string, number> = {};
  for (let i = 0; i < timedRuns; i++) {
    const start = performance.now();
    const eigen = await gpu.eigh(a);
    await acquired.device.queue.onSubmittedWorkDone();
    runs.push(performance.now() - start);
    if (i === timedRuns - 1) {
      accuracy = {
        ...eighAccuracy(matrix, await gpu.read(eigen.values), await gpu.read(eigen.vectors), d),
        sweeps: eigen.sweeps,
      };
    }
    gpu.release(eigen.values, eigen.vectors);
  }
  gpu.release(a);
  const onCpu = cpu.upload(matrix, [d, d]);
  const cpuFloat64Ms = await timeCpu(1, () => cpu.eigh(onCpu));
  const note = `eigenvalues spread over 8 decades; ${timedRuns} timed run${timedRuns === 1 ? '' : 's'}; CPU float64 Jacobi timed once`;
  return {
    kernel: 'eigh (parallel Jacobi)',
    shape: { d },
    flops: 0,
    ours: timing(runs, 0),
    cpuFloat64Ms,
    accuracy,
    note,
  };
}

function result(
  kernel: string,
  shape: Record<string, number>,
  flops: number,
  oursMs: number[],
  peerMs: number[],
  cpuFloat64Ms: number,
  agreement: { agreement: number; peerMaxAbs: number },
): CaseResult {
  const ours = timing(oursMs, flops);
  const peer = { name: 'onnxruntime-web WebGPU EP', ...timing(peerMs, flops) };
  return { kernel, shape, flops, ours, peer, ratio: peer.medianMs / ours.medianMs, cpuFloat64Ms, ...agreement };
}

function status(text: string): void {
  document.getElementById('status')!.textContent = text;
  console.log(`[bench] ${text}`);
}

window.runKernelBench = async (config: BenchConfig): Promise<BenchResult> => {
  const acquired = await acquireGpu(navigator.gpu);
  const ctx: Context = {
    acquired,
    gpu: await webGpuBackend(acquired, config.tuning),
    cpu: new CpuBackend(),
    ort: await loadOrt(),
    config,
  };
  const cases: CaseResult[] = [];
  for (const { d, tokens } of config.covariance) {
    status(`covariance d=${d} tokens=${tokens}`);
    cases.push(await covarianceCase(ctx, d, tokens));
  }
  for (const { d, count } of config.rotation) {
    status(`rotation d=${d} count=${count}`);
    cases.push(await rotationCase(ctx, d, count));
  }
  if (config.eigh.length) await compileEigh(ctx);
  for (const { d, runs } of config.eigh) {
    status(`eigh d=${d}`);
    try {
      cases.push(await eighCase(ctx, d, runs));
    } catch (error) {
      cases.push({
        kernel: 'eigh (parallel Jacobi)',
        shape: { d },
        flops: 0,
        ours: timing([NaN], 0),
        note: (error as Error).message,
      });
    }
  }
  status('done');
  return {
    adapter: acquired.report.name,
    software: acquired.report.software,
    userAgent: navigator.userAgent,
    config,
    cases,
  };
};
status('ready');
