/**
 * A run's memory plan and time estimate (influence/memory-plan.ts) from what the page and the CLI know before
 * running: the model (its weights, vocabulary, linears), the tracked layers, the examples' lengths, and the device
 * (its kind, binding limit and a memory budget). The throughput figures are our own measurements, named in
 * `source` and in docs/benchmarks.md; an estimate is good to a factor of a few, not a promise.
 */
import type { Example } from '../data/dataset';
import {
  applyPlan,
  planMemory,
  type DataProfile,
  type DeviceProfile,
  type GraphProfile,
  type MemoryPlan,
  mib,
} from '../influence/memory-plan';
import type { LayerInfo } from '../influence/types';
import { DataType, type Model } from '../onnx/ir';
import { findEmbeddings } from '../onnx/structure';
import type { GradientGraph } from '../onnx/gradient-graph';
import type { ChosenBackend } from './backend-choice';
import { engineConfig, type RunConfig } from './config';
import type { RunInputs } from './inputs';

const GiB = 1024 ** 3;

/**
 * Measured throughputs (FLOP/s of the backend's products; seconds per d³ of one eigendecomposition):
 *   CPU float64: 3.5 GFLOP/s per core, `npm run bench:cpu` (blocked GEMM 128³–1024³, 2-core Xeon); the QL eigensolver
 *     with the one-pass tridiagonalisation took 0.79 / 5.6 / 121 CPU-s at d = 512 / 1024 / 3072 (full rank; 70 s at
 *     rank 608, a covariance of 608 tokens), about 15·d³ flops at that rate.
 *   WebGPU on a software adapter (SwiftShader): 1.5 GFLOP/s (covariance d = 512, 2,048 tokens, 0.73 s) and 81.6 s
 *     for the Jacobi eigendecomposition at d = 512, `npm run bench:kernels` (docs/benchmarks.md).
 *   WebGPU on a hardware adapter: 1.0 TFLOP/s (covariance at d = 512 on an NVIDIA H200; larger d runs faster, smaller
 *     GPUs slower) and 135 ms at d = 512, `npm run bench:kernels:node`.
 *   onnxruntime-web wasm, the gradient graph: 12 GFLOP/s of process CPU time, counted as 4·parameters per token
 *     (forward and input gradients): GPT-2-small-sized (163 M parameters with its untied head), diagonal strategy on
 *     one tracked layer, 1,450 tokens through the graph in 82 CPU-s in all (`npm run bench:e2e -- --model
 *     gpt2-small`, docs/benchmarks.md).
 */
export const THROUGHPUT = {
  cpu: { flops: 3.5e9, eighPerCube: 15 / 3.5e9 },
  software: { flops: 1.5e9, eighPerCube: 81.6 / 512 ** 3 },
  hardware: { flops: 1.0e12, eighPerCube: 0.135 / 512 ** 3 },
  ortWasm: 12e9,
} as const;

/**
 * Preparing the model before the first engine stage, beyond what the estimate itself measures (reading and tokenizing
 * the data, building the gradient graph: estimateRequest times those as it does them): onnxruntime's session creation
 * and its first run, where it compiles and allocates (kernels; on WebGPU, the shaders of every op of the gradient
 * graph), and storing the run's record. Seconds = base + perNode · (nodes of the gradient graph), fitted to
 * `npm run bench:estimate` (docs/benchmarks-estimate.md; 2-core VM, SwiftShader for WebGPU).
 */
export const SESSION_SECONDS = {
  wasm: { base: 2, perNode: 0.01 },
  webgpu: { base: 1, perNode: 0.013 },
} as const;

/**
 * What each engine stage costs beyond its arithmetic: onnxruntime's calls, compiling a kernel on first use (shaders
 * on WebGPU: seconds each on SwiftShader), reading results back, a checkpoint. Seconds per stage on an idle machine,
 * fitted to `npm run bench:estimate` on the micro demo, whose arithmetic is negligible.
 */
export const STAGE_OVERHEAD_SECONDS = { cpu: 0.2, software: 0.8, hardware: 0.5 } as const;

/** The seconds SESSION_SECONDS gives a gradient graph of `nodes` nodes on onnxruntime's wasm or WebGPU backend. */
export function sessionSeconds(nodes: number, ort: keyof typeof SESSION_SECONDS): number {
  return SESSION_SECONDS[ort].base + SESSION_SECONDS[ort].perNode * nodes;
}

/** onnxruntime-web's wasm32 heap: at most 4 GiB, of which we plan 3.5 (the runtime itself takes the rest). */
export const ORT_HEAP_BYTES = 3.5 * GiB;

export interface DeviceLimits {
  readonly kind: 'cpu' | 'webgpu';
  /** WebGPU: the adapter is a software one (SwiftShader). */
  readonly software?: boolean;
  /** WebGPU: maxStorageBufferBindingSize as granted. */
  readonly maxBindingBytes?: number;
  /** Bytes the backend may hold; default: CPU 2 GiB, WebGPU 2 GiB (adapters do not report their memory). */
  readonly memoryBudgetBytes?: number;
}

export function deviceProfile(limits: DeviceLimits): DeviceProfile {
  const budget = limits.memoryBudgetBytes ?? 2 * GiB;
  if (limits.kind === 'cpu') {
    return {
      kind: 'cpu',
      bytesPerElement: 8,
      // One Float64Array: engines cap a typed array at 2³² − 1 bytes or so; stay well under.
      maxBindingBytes: Math.min(budget, 2 * GiB),
      memoryBudgetBytes: budget,
      flopsPerSecond: THROUGHPUT.cpu.flops,
      eighSecondsPerCube: THROUGHPUT.cpu.eighPerCube,
      source: 'CPU float64 at 3.5 GFLOP/s (bench:cpu, one core)',
    };
  }
  const speed = limits.software ? THROUGHPUT.software : THROUGHPUT.hardware;
  return {
    kind: 'webgpu',
    bytesPerElement: 4,
    maxBindingBytes: limits.maxBindingBytes ?? 128 * 1024 ** 2,
    memoryBudgetBytes: budget,
    flopsPerSecond: speed.flops,
    eighSecondsPerCube: speed.eighPerCube,
    source: limits.software
      ? 'WebGPU on a software adapter at 1.5 GFLOP/s (bench:kernels, SwiftShader)'
      : 'WebGPU at 1 TFLOP/s (bench:kernels:node, H200 at d = 512; other GPUs differ)',
  };
}

/** The model's weights, vocabulary and linears as the planner counts them. */
export function graphProfile(
  model: Model,
  heapBytes = ORT_HEAP_BYTES,
  flops: number = THROUGHPUT.ortWasm,
): GraphProfile {
  let weightBytes = 0;
  let linearWidth = 0;
  for (const init of model.graph.initializers.values()) {
    const size = init.dims.reduce((a, b) => a * b, 1);
    const bytes = init.dataType === DataType.DOUBLE ? 8 : init.dataType === DataType.FLOAT ? 4 : 2;
    if ([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16].includes(init.dataType)) {
      weightBytes += size * bytes;
      if (init.dims.length === 2) linearWidth += init.dims[0]! + init.dims[1]!;
    }
  }
  const vocab = findEmbeddings(model.graph).token?.rows ?? 0;
  return { vocab, weightBytes, linearWidth, heapBytes, flopsPerSecond: flops };
}

/**
 * The data's sizes for the planner; `pairTokensTopK`: the k of the top-k pair token scores the run computes after its
 * scores (JobOptions.pairTokensTopK), 0 for none.
 */
export function dataProfile(train: readonly Example[], queries: readonly Example[], pairTokensTopK = 0): DataProfile {
  const tokens = (examples: readonly Example[]) => examples.reduce((s, e) => s + e.inputIds.length, 0);
  // One group per benchmark, as the engine groups the queries (group-tokens.ts benchmarkGroups).
  const benchmarks = new Set(
    queries.map((e) => (typeof e.extra.benchmark === 'string' ? e.extra.benchmark : e.domain)),
  );
  return {
    train: train.length,
    queries: queries.length,
    maxTokens: Math.max(1, ...[...train, ...queries].map((e) => e.inputIds.length)),
    trainTokens: tokens(train),
    queryTokens: tokens(queries),
    queryGroups: benchmarks.size,
    pairTokensTopK,
  };
}

export interface RunPlan {
  readonly plan: MemoryPlan;
  readonly device: DeviceProfile;
  /** The configuration the run will use: the plan's batch sizes and score budget. */
  readonly config: RunConfig;
}

export function planRun(
  config: RunConfig,
  layers: readonly LayerInfo[],
  model: Model,
  data: DataProfile,
  limits: DeviceLimits,
): RunPlan {
  const device = deviceProfile(limits);
  const plan = planMemory(engineConfig(config), layers, graphProfile(model), data, device);
  return { plan, device, config: applyPlan(config, plan) };
}

/** The plan in lines of text, for `iwb attribute --plan`, the run's log and the page. */
export function formatPlan(run: RunPlan): string[] {
  const { plan, device } = run;
  const b = plan.batchSizes;
  const lines = [
    `plan: batch ${b.fit} (factors) / ${b.train} (scores), query chunk ${b.query}, ` +
      `sequence-form G budget ${mib(plan.scoreMemoryBytes)}, G(n) kept across query chunks ` +
      `${mib(plan.cacheBytes)}; peak ${mib(plan.peakBytes)} ` +
      `of ${mib(device.memoryBudgetBytes)}, binding limit ${mib(device.maxBindingBytes)}`,
    ...plan.stages.map(
      (s) => `  ${s.stage.padEnd(11)} peak ${mib(s.peakBytes).padStart(10)}   about ${duration(s.seconds)}`,
    ),
    ...tokenAnalysisLines(plan),
    `  total about ${duration(plan.seconds)} (${device.source}; onnxruntime wasm at 12 GFLOP/s)`,
    ...plan.changes.map((c) => `  smaller: ${c}`),
    ...plan.notes.map((n) => `  splits: ${n}`),
    ...plan.problems.map((p) => `  does not fit: ${p}`),
    largestModel(device),
  ];
  return lines;
}

/** What the token analyses cost (group per-token scores inside 'scores', the Λ pass's batches reused), in words. */
export function tokenAnalysisLines(plan: MemoryPlan): string[] {
  const { groupTokens = null, pairTokens = null } = plan.tokenAnalyses ?? {};
  const lambdaBatchBytes = plan.lambdaBatchBytes ?? 0;
  return [
    ...(groupTokens
      ? [
          `  group token scores (${groupTokens.groups} group${groupTokens.groups === 1 ? '' : 's'}, within scores): ` +
            `about ${duration(groupTokens.seconds)}, ${mib(groupTokens.peakBytes)}`,
        ]
      : []),
    ...(pairTokens
      ? [`  pair token scores (top ${pairTokens.k} per query, after the scores): about ${duration(pairTokens.seconds)}`]
      : []),
    ...(lambdaBatchBytes > 0
      ? [`  reused: the Λ pass's training batches (${mib(lambdaBatchBytes)}) serve the first score pass`]
      : []),
  ];
}

/**
 * The largest model a backend takes, said before a run: onnxruntime reads the gradient graph as one protobuf (under
 * 2 GiB) and holds the weights twice in its heap (the model and the gradient graph), so the float32 weights stop at
 * the smaller of 2 GiB and half the heap; and every covariance kernel binds one d × d factor whole, so a tracked
 * layer's input or output width stops at √(binding / bytes per element).
 */
export function largestModel(device: DeviceProfile): string {
  const weights = Math.min(2 * GiB, ORT_HEAP_BYTES / 2);
  const side = Math.floor(Math.sqrt(device.maxBindingBytes / device.bytesPerElement));
  return (
    `  largest model: ${mib(weights)} of float32 weights (~${Math.floor(weights / 4 / 1e6)} M parameters: one ` +
    `protobuf under 2 GiB, held twice in onnxruntime's ${mib(ORT_HEAP_BYTES)} heap); tracked layers up to ` +
    `${side} wide (one ${side}×${side} factor per ${mib(device.maxBindingBytes)} binding)`
  );
}

export function duration(seconds: number): string {
  if (seconds < 1) return '< 1 s';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** The limits of the backend a run was given (WebGPU: the granted binding limit and whether it is software). */
export function limitsOf(chosen: ChosenBackend, memoryBudgetBytes?: number): DeviceLimits {
  const budget = memoryBudgetBytes === undefined ? {} : { memoryBudgetBytes };
  if (!chosen.webgpu) return { kind: 'cpu', ...budget };
  const runtime = chosen.webgpu.runtime;
  return {
    kind: 'webgpu',
    software: runtime.acquired.report.software,
    maxBindingBytes: runtime.maxBindingBytes,
    ...budget,
  };
}

/** The plan of a run about to start on `chosen`, from its inputs and gradient graph. */
export function planJob(
  inputs: RunInputs,
  graph: GradientGraph,
  config: RunConfig,
  chosen: ChosenBackend,
  memoryBudgetBytes?: number,
  pairTokensTopK = 0,
): RunPlan {
  const layers = graph.layers.map((l) => ({ name: l.nodeName, dIn: l.dIn, dOut: l.dOut, hasBias: l.hasBias }));
  return planRun(
    config,
    layers,
    inputs.model,
    dataProfile(inputs.train, inputs.queries, pairTokensTopK),
    limitsOf(chosen, memoryBudgetBytes),
  );
}

/** A plan as the page shows it before a run (structured-clone safe; sizes and times also as text). */
export interface RunEstimate {
  readonly stages: readonly (Omit<MemoryPlan['stages'][number], 'stage'> & {
    /** A plan stage, or 'prepare': loading the data and the model before the first engine stage. */
    readonly stage: MemoryPlan['stages'][number]['stage'] | 'prepare';
    readonly peak: string;
    readonly time: string;
  })[];
  readonly peakBytes: number;
  readonly seconds: number;
  /**
   * Peak, total time, budget and binding limit as text; `largest`: the largest model this backend takes
   * (largestModel), said before a run as the CLI's plan says it.
   */
  readonly text: {
    readonly peak: string;
    readonly time: string;
    readonly budget: string;
    readonly binding: string;
    readonly largest?: string;
  };
  readonly batchSizes: MemoryPlan['batchSizes'];
  readonly changes: readonly string[];
  readonly notes: readonly string[];
  readonly problems: readonly string[];
  /** The token analyses' cost and what is reused (tokenAnalysisLines), in words; absent in older estimates. */
  readonly analyses?: readonly string[];
  /** Where the throughput figures come from. */
  readonly source: string;
  readonly backend: string;
  readonly counts: { readonly train: number; readonly queries: number };
  readonly layers: readonly { readonly name: string; readonly dIn: number; readonly dOut: number }[];
  /** The engine's device: the CPU backend or WebGPU. */
  readonly deviceKind?: 'cpu' | 'webgpu';
  /** This machine's speed when estimated, relative to the planner's idle figures (1: as fast; 0.25: 4× slower). */
  readonly speed?: number;
}

/**
 * The page's estimate of a run: the plan's stages, after a first stage 'prepare' (loading the data, the model's
 * gradient graph, onnxruntime's session and first run): `measuredSeconds` of it were timed while estimating (loading
 * and the gradient graph), the session is SESSION_SECONDS' model, for onnxruntime on WebGPU where the run puts it.
 * Every modelled second (the session, each stage's arithmetic and STAGE_OVERHEAD_SECONDS) is divided by `speed`, this
 * machine's speed now relative to the planner's idle figures (speed-probe.ts; 1 = as measured idle).
 */
export function runEstimate(
  run: RunPlan,
  graph: GradientGraph,
  inputs: RunInputs,
  backend: string,
  measuredSeconds = 0,
  speed = 1,
): RunEstimate {
  const layers = graph.layers.map((l) => ({ name: l.nodeName, dIn: l.dIn, dOut: l.dOut }));
  const ort = run.device.kind === 'webgpu' ? 'webgpu' : 'wasm';
  const prepare = measuredSeconds + sessionSeconds(graph.model.graph.nodes.length, ort) / speed;
  const overhead =
    STAGE_OVERHEAD_SECONDS[
      run.device.kind === 'cpu'
        ? 'cpu'
        : run.device.flopsPerSecond <= THROUGHPUT.software.flops
          ? 'software'
          : 'hardware'
    ];
  const stages = run.plan.stages.map((s) => ({ ...s, seconds: (s.seconds + overhead) / speed }));
  const seen = {
    device: run.device,
    plan: { ...run.plan, stages, seconds: stages.reduce((t, s) => t + s.seconds, 0) },
  };
  const estimate = estimateOf(seen, layers, { train: inputs.train.length, queries: inputs.queries.length }, backend);
  // The preparation's memory is onnxruntime's own (the plan's gradient-graph check), not the engine's: no peak here.
  const first = { stage: 'prepare' as const, peakBytes: 0, seconds: prepare, peak: '—', time: duration(prepare) };
  const seconds = estimate.seconds + prepare;
  return {
    ...estimate,
    stages: [first, ...estimate.stages],
    seconds,
    text: { ...estimate.text, time: duration(seconds) },
    deviceKind: run.device.kind,
    speed,
  };
}

/** The estimate's fields from a plan alone (also for a plan made without a graph or inputs, e.g. a screenshot's). */
export function estimateOf(
  run: Pick<RunPlan, 'plan' | 'device'>,
  layers: RunEstimate['layers'],
  counts: RunEstimate['counts'],
  backend: string,
): RunEstimate {
  const { plan, device } = run;
  return {
    stages: plan.stages.map((s) => ({ ...s, peak: mib(s.peakBytes), time: duration(s.seconds) })),
    peakBytes: plan.peakBytes,
    seconds: plan.seconds,
    text: {
      peak: mib(plan.peakBytes),
      time: duration(plan.seconds),
      budget: mib(device.memoryBudgetBytes),
      binding: mib(device.maxBindingBytes),
      largest: largestModel(device)
        .trim()
        .replace(/^largest model: /, ''),
    },
    batchSizes: plan.batchSizes,
    changes: plan.changes,
    notes: plan.notes,
    problems: plan.problems,
    analyses: tokenAnalysisLines(plan).map((line) => line.trim()),
    source: device.source,
    backend,
    counts,
    layers,
  };
}
