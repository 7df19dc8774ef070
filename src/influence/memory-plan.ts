/**
 * The memory planner: batch sizes and chunking chosen up front from the model's dims, the data's lengths and the
 * device's limits, so that no stage asks for more than the device holds (kronfluence searches for an executable batch
 * size by trial; we compute it, and halve on an allocation failure only if the model below is wrong: chunks.ts).
 *
 * Memory model (bytes; E = bytes per element of the backend, L = tracked layers, d' = dIn + bias, D_l = dOut·d'_l,
 * T = longest sequence, B = a batch's sequences, Qc = the query chunk):
 *   token batch     B·T·Σ_l (dIn + dOut)·E            a and g of every tracked layer, as the gradient graph hands them
 *   factors         Σ_l (d'² + dOut²)·E               A and S (covariance) or Q_A and Q_S (later stages)
 *   covariance      factors + token batch(B_fit)
 *   eigen           factors + 4·d_max²·E              input, working matrix, vectors and sorted output of one matrix
 *                   (WebGPU, split into blocks: factors + the blocks, eigen-plan.ts)
 *   lambda          factors + Σ D·E + token batch(B_fit) + 2·B_fit·D_max·E   (G(n) and its rotation, one layer)
 *   query           factors + Σ D·E + 2·Qc·Σ D·E + token batch(Qc)           (G_q and P_q of every layer)
 *   scores          factors + Σ D·E + Qc·Σ D·E + token batch(B) + 2·B·D_max·E   (P_q kept; G(n), P_n per layer)
 *                   + the G(n) kept across query chunks: what the budget has left, up to N·Σ D·E (several chunks)
 *   gradient graph  2·weights + tokens·4·(3·V + Σ_linears (dIn + dOut))   onnxruntime's wasm heap (logits, softmax
 *                   and its gradient per token, activations saved for the backward pass); rough, against 4 GiB
 * Each single tensor must also fit one storage binding (WebGPU) and every total the memory budget.
 *
 * Rules: a batch size is the largest power-of-two fraction of the configured one (halving, as kronfluence's search)
 * whose stage fits; never below 1. The sequence form's G budget (score-plan.ts) is the smaller of its default and
 * one binding. What does not fit at batch 1 (a factor larger than a binding or the budget) is reported, not hidden.
 * On WebGPU an eigendecomposition over one binding splits into blocks (eigen-plan.ts, said in `notes`); the covariance
 * and rotation stages of such a factor still bind it whole and are listed as problems.
 *
 * Time model: multiply-adds per stage (gradient graph 2·P per token forward and 2·P backward, twice per batch for
 * sampled labels except in the Λ pass after a covariance pass; covariance tokens·d'²; eigendecomposition c·d³;
 * rotations B·D·(dOut + d') or, on the CPU when cheaper, T·(dOut² + d'² + D) per sequence; scores planScores' cost
 * plus self-influence's rotations) at the device's documented throughput
 * (DeviceProfile): an estimate to within a factor of a few, for planning, not a measurement.
 */
import type { AttributionConfig, BatchSizes, LayerInfo } from './types';
import { DEFAULT_SCORE_PATH, planScores } from './score-plan';
import { strategyOf } from './strategies';
import { mib, planEigenStage } from './eigen-plan';

export { mib };

export interface DeviceProfile {
  readonly kind: 'cpu' | 'webgpu';
  readonly bytesPerElement: 4 | 8;
  /** The largest single tensor a kernel binds (WebGPU maxStorageBufferBindingSize; the budget on the CPU). */
  readonly maxBindingBytes: number;
  /** All the backend's tensors together. */
  readonly memoryBudgetBytes: number;
  /** Multiply-adds per second ÷ 2, i.e. FLOP/s, of the backend's products. */
  readonly flopsPerSecond: number;
  /** Seconds per d³ of one symmetric eigendecomposition. */
  readonly eighSecondsPerCube: number;
  /** Where the figures come from, shown with the estimate. */
  readonly source: string;
}

export interface GraphProfile {
  /** Vocabulary (logits per token), 0 when unknown. */
  readonly vocab: number;
  /** Bytes of the model's weights. */
  readonly weightBytes: number;
  /** Σ (dIn + dOut) over every linear of the model (tracked or not): the activations kept for backward. */
  readonly linearWidth: number;
  /** onnxruntime's heap for the gradient graph (wasm32: 4 GiB) and its FLOP/s. */
  readonly heapBytes: number;
  readonly flopsPerSecond: number;
}

export interface DataProfile {
  readonly train: number;
  readonly queries: number;
  /** Longest sequence (the padded width of a batch). */
  readonly maxTokens: number;
  readonly trainTokens: number;
  readonly queryTokens: number;
}

export type PlanStage = 'covariance' | 'eigen' | 'lambda' | 'query' | 'scores';

export interface StageEstimate {
  readonly stage: PlanStage;
  readonly peakBytes: number;
  readonly seconds: number;
}

export interface MemoryPlan {
  readonly batchSizes: BatchSizes;
  /** The sequence form's G budget per layer and batch (config.scorePath.memoryBytes). */
  readonly scoreMemoryBytes: number;
  /** G(n) kept across query chunks (config.scorePath.cacheBytes): what is left of the budget, 0 for one chunk. */
  readonly cacheBytes: number;
  readonly stages: readonly StageEstimate[];
  readonly peakBytes: number;
  readonly seconds: number;
  /** Why a batch size is smaller than configured, in words. */
  readonly changes: readonly string[];
  /** What does not fit even at batch 1: the run would fail; empty when it fits. */
  readonly problems: readonly string[];
  /** How a stage adapts beyond batch sizes (an eigendecomposition split into blocks), in words. */
  readonly notes: readonly string[];
}

/** The planned configuration: the config with the plan's batch sizes and score budget (unchanged where they fit). */
export function applyPlan<C extends AttributionConfig>(config: C, plan: MemoryPlan): C {
  const scorePath = config.scorePath ?? DEFAULT_SCORE_PATH;
  const changed = plan.scoreMemoryBytes !== scorePath.memoryBytes || plan.cacheBytes !== (scorePath.cacheBytes ?? 0);
  return {
    ...config,
    batchSizes: plan.batchSizes,
    ...(changed && {
      scorePath: {
        ...scorePath,
        memoryBytes: plan.scoreMemoryBytes,
        ...(plan.cacheBytes > 0 && { cacheBytes: plan.cacheBytes }),
      },
    }),
  };
}

export function planMemory(
  config: AttributionConfig,
  layers: readonly LayerInfo[],
  graph: GraphProfile,
  data: DataProfile,
  device: DeviceProfile,
): MemoryPlan {
  const E = device.bytesPerElement;
  const strategy = strategyOf(config.strategy);
  const dims = layers.map((l) => ({ dIn: l.dIn, dOut: l.dOut, dPrime: l.dIn + (l.hasBias ? 1 : 0) }));
  const sizes = dims.map((d) => d.dOut * d.dPrime);
  const sumD = sizes.reduce((a, b) => a + b, 0);
  const maxD = Math.max(0, ...sizes);
  const width = dims.reduce((sum, d) => sum + d.dIn + d.dOut, 0);
  const widest = Math.max(0, ...dims.map((d) => Math.max(d.dIn, d.dOut)));
  const factorBytes = strategy.needsEigenbasis ? dims.reduce((s, d) => s + (d.dPrime ** 2 + d.dOut ** 2) * E, 0) : 0;
  const lambdaBytes = strategy.needsLambda ? sumD * E : 0;
  const T = data.maxTokens;
  const tokenBatch = (b: number) => b * T * width * E;
  const ortBytes = (b: number) => 2 * graph.weightBytes + b * T * 4 * (3 * graph.vocab + graph.linearWidth);
  const changes: string[] = [];
  const problems: string[] = [];

  const fits = (what: string, bytes: number, single: number, ort: number): string | null => {
    const reasons = [
      bytes > device.memoryBudgetBytes && `needs ${mib(bytes)} of a ${mib(device.memoryBudgetBytes)} budget`,
      single > device.maxBindingBytes && `its largest tensor ${mib(single)} exceeds one binding`,
      ort > graph.heapBytes && `the gradient graph needs ${mib(ort)} of onnxruntime's ${mib(graph.heapBytes)}`,
    ].filter(Boolean);
    return reasons.length === 0 ? null : `${what}: ${reasons.join('; ')}`;
  };
  /** The largest of configured, configured/2, … ≥ 1 that fits; the reason when it had to shrink. */
  const choose = (name: string, configured: number, check: (b: number) => string | null): number => {
    let b = configured;
    const first = check(b);
    while (b > 1 && check(b) !== null) b = Math.max(1, Math.floor(b / 2));
    const last = check(b);
    if (b < configured) changes.push(`${name} ${configured} → ${b}: at ${configured}, ${first}`);
    if (last !== null) problems.push(`${name} 1: ${last}`);
    return b;
  };

  const fitCheck = (b: number) => {
    const covariance = factorBytes + tokenBatch(b);
    const lambda = factorBytes + lambdaBytes + tokenBatch(b) + 2 * b * maxD * E;
    const single = Math.max(b * T * widest * E, strategy.needsLambda ? b * maxD * E : 0);
    return fits('a training batch', Math.max(covariance, lambda), single, ortBytes(b));
  };
  const needsFit = strategy.needsEigenbasis || strategy.needsLambda;
  const fit = needsFit ? choose('training batch (factors)', config.batchSizes.fit, fitCheck) : config.batchSizes.fit;

  const queryBytes = (qc: number) => factorBytes + lambdaBytes + 2 * qc * sumD * E + tokenBatch(qc);
  // A chunk never holds more queries than there are.
  const held = (qc: number) => Math.min(qc, Math.max(1, data.queries));
  const query = choose('query chunk', config.batchSizes.query, (qc) =>
    fits('a query chunk', queryBytes(held(qc)), held(qc) * maxD * E, ortBytes(held(qc))),
  );
  const scoreBytes = (b: number) =>
    factorBytes + lambdaBytes + held(query) * sumD * E + tokenBatch(b) + 2 * b * maxD * E;
  const train = choose('training batch (scores)', config.batchSizes.train, (b) =>
    fits('a scoring batch', scoreBytes(b), Math.max(b * T * widest * E, b * maxD * E), ortBytes(b)),
  );
  const scoreMemoryBytes = Math.min(
    config.scorePath?.memoryBytes ?? DEFAULT_SCORE_PATH.memoryBytes,
    device.maxBindingBytes,
  );

  // Eigendecomposition: one matrix at a time; on WebGPU split into blocks when it exceeds a binding (eigen-plan.ts).
  const dMax = Math.max(0, ...dims.flatMap((d) => [d.dPrime, d.dOut]));
  const cubes = dims.reduce((s, d) => s + d.dPrime ** 3 + d.dOut ** 3, 0);
  let eigenBytes = factorBytes + 4 * dMax * dMax * E;
  let eigenSeconds = cubes * device.eighSecondsPerCube;
  const notes: string[] = [];
  if (strategy.needsEigenbasis && device.kind === 'webgpu') {
    const eigen = planEigenStage(
      dims.flatMap((d) => [d.dPrime, d.dOut]),
      device,
    );
    eigenBytes = factorBytes + eigen.workingBytes;
    eigenSeconds = eigen.seconds;
    notes.push(...eigen.notes);
    problems.push(...eigen.problems);
    const problem = fits(`the eigendecomposition at d = ${dMax}`, eigenBytes, 0, 0);
    if (problem) problems.push(problem);
  } else if (strategy.needsEigenbasis) {
    const problem = fits(`the eigendecomposition at d = ${dMax}`, eigenBytes, dMax * dMax * E, 0);
    if (problem) problems.push(problem);
  }

  // Time.
  const params = graph.weightBytes / 4;
  const ort = (tokens: number) => (4 * params * tokens) / graph.flopsPerSecond;
  const flops = (multiplyAdds: number) => (2 * multiplyAdds) / device.flopsPerSecond;
  const perSequenceTokens = data.trainTokens / Math.max(1, data.train);
  const buildG = dims.reduce((s, d) => s + d.dOut * d.dPrime, 0);
  const rotate = dims.reduce((s, d) => s + d.dOut * d.dPrime * (d.dOut + d.dPrime), 0);
  // R(n) = Q_Sᵀ G(n) Q_A of one sequence; the CPU rotates the token rows first when cheaper (rotated-gradients.ts).
  const rotateInto = (tokens: number) =>
    dims.reduce((s, d) => {
      const sequenceForm = tokens * d.dOut * d.dPrime + d.dOut * d.dPrime * (d.dOut + d.dPrime);
      const tokenForm = tokens * (d.dOut ** 2 + d.dPrime ** 2 + d.dOut * d.dPrime);
      return s + (device.kind === 'cpu' ? Math.min(sequenceForm, tokenForm) : sequenceForm);
    }, 0);
  // Sampled labels take a run for the logits first; the Λ pass's are drawn in the covariance pass (onnx-source.ts).
  const sampled = config.fisher === 'sampled';
  const eigenbasis = strategy.needsEigenbasis;
  const chunks = Math.ceil(data.queries / query);
  const scoreMultiplyAdds = layers.reduce((sum, _layer, l) => {
    const plan = planScores(
      {
        queries: held(query),
        sequences: train,
        tokens: train * perSequenceTokens,
        dOut: dims[l]!.dOut,
        dInPrime: dims[l]!.dPrime,
        rank: config.queryRank,
        perToken: config.perToken,
        gradientsBuiltAnyway: true,
        bytesPerElement: E,
      },
      { ...(config.scorePath ?? DEFAULT_SCORE_PATH), memoryBytes: scoreMemoryBytes },
    );
    return sum + (plan.form === 'token' ? plan.tokenCost : plan.sequenceCost) + train * perSequenceTokens * sizes[l]!;
  }, 0);
  const stages: StageEstimate[] = [];
  if (strategy.needsEigenbasis) {
    const covariance = dims.reduce((s, d) => s + d.dPrime ** 2 + d.dOut ** 2, 0) * data.trainTokens;
    stages.push({
      stage: 'covariance',
      peakBytes: factorBytes + tokenBatch(fit),
      seconds: (sampled ? 2 : 1) * ort(data.trainTokens) + flops(covariance),
    });
    stages.push({ stage: 'eigen', peakBytes: eigenBytes, seconds: eigenSeconds });
  }
  if (strategy.needsLambda) {
    stages.push({
      stage: 'lambda',
      peakBytes: factorBytes + lambdaBytes + tokenBatch(fit) + 2 * fit * maxD * E,
      seconds:
        (sampled && !eigenbasis ? 2 : 1) * ort(data.trainTokens) +
        flops(eigenbasis ? data.train * rotateInto(perSequenceTokens) : data.trainTokens * buildG),
    });
  }
  stages.push({
    stage: 'query',
    peakBytes: queryBytes(held(query)),
    seconds:
      ort(data.queryTokens) +
      flops(
        data.queryTokens * buildG +
          (eigenbasis ? data.queries * (rotateInto(data.queryTokens / Math.max(1, data.queries)) + rotate) : 0),
      ),
  });
  const batches = Math.ceil(data.train / train);
  // G(n) of the whole training set, kept across query chunks as far as the budget allows (gradient-cache.ts).
  const allG = data.train * sumD * E;
  const cacheable = chunks > 1 && !config.perToken && config.queryRank === null;
  const cacheBytes = cacheable ? Math.max(0, Math.min(allG, device.memoryBudgetBytes - scoreBytes(train))) : 0;
  const kept = allG > 0 ? cacheBytes / allG : 0;
  const pass = ort(data.trainTokens) + flops(batches * scoreMultiplyAdds);
  // Self-influence, in the first chunk's pass: ⟨X(n), R(n)⟩ needs R(n) in an eigenbasis (score-context.ts).
  const self = eigenbasis ? flops(data.train * rotateInto(perSequenceTokens)) : 0;
  const keptPass = flops(held(query) * data.train * sumD);
  stages.push({
    stage: 'scores',
    peakBytes: scoreBytes(train) + cacheBytes,
    seconds: pass + self + (chunks - 1) * ((1 - kept) * pass + kept * keptPass),
  });
  return {
    batchSizes: { ...config.batchSizes, fit, train, query },
    scoreMemoryBytes,
    cacheBytes,
    stages,
    peakBytes: Math.max(...stages.map((s) => s.peakBytes)),
    seconds: stages.reduce((s, x) => s + x.seconds, 0),
    changes,
    problems,
    notes,
  };
}
