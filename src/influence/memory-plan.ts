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
 *                   + group per-token scores (first pass): G·Σ D·E operators + G·B·T·E scores + 8·G·Σ_n T_n rows
 *                   + the Λ pass's batches kept for this pass (empirical Fisher): what is left, at most
 *                     N·T·(Σ_l (dIn + dOut) + 1)·E
 *   pair tokens     max(query chunk(1), scores(min(B, k), 1)): one small run per query after the run
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
 * plus self-influence's rotations; group per-token scores G·tokens·ΣD plus preparing the other query chunks again for
 * their operators; top-k pair token scores per query one query's gradients and k sequences' per-token scores and
 * self-influence; the Λ pass's kept batches spare the first score pass their gradient graph) at the device's
 * documented throughput (DeviceProfile): an estimate to within a factor of a few, for planning, not a measurement.
 *
 * In parts: plan-profiles.ts (what the planner is told), plan-memory-model.ts (the byte estimators above, per stage),
 * plan-time-model.ts (the time model), eigen-plan.ts (the eigendecomposition on WebGPU); planMemory below decides.
 */
import type { AttributionConfig, BatchSizes, LayerInfo } from './types';
import { DEFAULT_SCORE_PATH } from './score-plan';
import { strategyOf } from './strategies';
import { mib, planEigenStage } from './eigen-plan';
import type { DataProfile, DeviceProfile, GraphProfile } from './plan-profiles';
import {
  batchTensorBytes,
  covarianceBytes,
  groupTokenBytes,
  keptBatchesBytes,
  lambdaPassBytes,
  misfit,
  ortBytes,
  planShape,
  queryChunkBytes,
  scoreBatchBytes,
  type PlanShape,
} from './plan-memory-model';
import {
  covarianceSeconds,
  groupTokenSeconds,
  lambdaSeconds,
  pairTokenSeconds,
  querySeconds,
  scoreBatchMultiplyAdds,
  timeModel,
} from './plan-time-model';

export { mib };
export type { DataProfile, DeviceProfile, GraphProfile };

/** 'pair-tokens': the top-k pair token scores computed after the run (pair-tokens.ts), when asked for. */
export type PlanStage = 'covariance' | 'eigen' | 'lambda' | 'query' | 'scores' | 'pair-tokens';

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
  /**
   * The Λ pass's training batches kept for the first score pass (config.scorePath.lambdaBatchBytes,
   * lambda-batches.ts): what is left of the budget after every stage's peak; 0 unless the Fisher is empirical (the
   * Λ pass's gradients are then the score pass's) and both passes batch alike.
   */
  readonly lambdaBatchBytes?: number;
  /**
   * The token analyses' share: group per-token scores (within 'scores') and top-k pair token scores. planMemory sets
   * both fields; a plan written by hand (a screenshot's, a test's) may leave them out.
   */
  readonly tokenAnalyses?: {
    readonly groupTokens: { readonly groups: number; readonly seconds: number; readonly peakBytes: number } | null;
    readonly pairTokens: { readonly k: number; readonly seconds: number; readonly peakBytes: number } | null;
  };
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
  const changed =
    plan.scoreMemoryBytes !== scorePath.memoryBytes ||
    plan.cacheBytes !== (scorePath.cacheBytes ?? 0) ||
    (plan.lambdaBatchBytes ?? 0) !== (scorePath.lambdaBatchBytes ?? 0);
  return {
    ...config,
    batchSizes: plan.batchSizes,
    ...(changed && {
      scorePath: {
        ...scorePath,
        memoryBytes: plan.scoreMemoryBytes,
        ...(plan.cacheBytes > 0 && { cacheBytes: plan.cacheBytes }),
        ...((plan.lambdaBatchBytes ?? 0) > 0 && { lambdaBatchBytes: plan.lambdaBatchBytes }),
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
): Required<MemoryPlan> {
  const strategy = strategyOf(config.strategy);
  const shape = planShape(config, layers, data, device);
  const { E, sumD } = shape;
  const decided = chooseBatchSizes(config, shape, graph, data, device);
  const { fit, train, query, held, problems } = decided;
  const scoreMemoryBytes = Math.min(
    config.scorePath?.memoryBytes ?? DEFAULT_SCORE_PATH.memoryBytes,
    device.maxBindingBytes,
  );
  const eigen = planEigen(shape, strategy.needsEigenbasis, device, graph);
  problems.push(...eigen.problems);

  const t = timeModel(shape, graph, data, device);
  const eigenbasis = strategy.needsEigenbasis;
  const stages: StageEstimate[] = [];
  if (eigenbasis) {
    stages.push({
      stage: 'covariance',
      peakBytes: covarianceBytes(shape, fit),
      seconds: covarianceSeconds(config, shape, data, t),
    });
    stages.push({ stage: 'eigen', peakBytes: eigen.bytes, seconds: eigen.seconds });
  }
  if (strategy.needsLambda) {
    stages.push({
      stage: 'lambda',
      peakBytes: lambdaPassBytes(shape, fit),
      seconds: lambdaSeconds(config, eigenbasis, data, t),
    });
  }
  stages.push({
    stage: 'query',
    peakBytes: queryChunkBytes(shape, held(query)),
    seconds: querySeconds(eigenbasis, data, t),
  });
  // Group per-token scores, in the first score pass (group-tokens.ts): their operators and rows are held with it.
  const chunks = Math.ceil(data.queries / query);
  const groups = config.groupTokens !== false ? Math.max(1, data.queryGroups ?? 1) : 0;
  const groupTokens =
    groups > 0
      ? {
          groups,
          seconds: groupTokenSeconds(config, shape, data, groups, chunks, eigenbasis, t),
          peakBytes: groupTokenBytes(shape, groups, train, data.trainTokens),
        }
      : null;
  // G(n) of the whole training set, kept across query chunks as far as the budget allows (gradient-cache.ts).
  const scoreBytes = scoreBatchBytes(shape, train, held(query)) + (groupTokens?.peakBytes ?? 0);
  const allG = data.train * sumD * E;
  const cacheable = chunks > 1 && !config.perToken && config.queryRank === null;
  const cacheBytes = cacheable ? Math.max(0, Math.min(allG, device.memoryBudgetBytes - scoreBytes)) : 0;
  const kept = allG > 0 ? cacheBytes / allG : 0;
  // The Λ pass's batches kept for the first score pass, with what the budget has left (lambda-batches.ts): exact only
  // when the Λ pass's labels are the given ones (empirical Fisher) and both passes cut the same batches.
  const reusable = strategy.needsLambda && config.fisher === 'empirical' && fit === train;
  const allBatches = keptBatchesBytes(shape, data.train);
  const lambdaPeak = lambdaPassBytes(shape, fit);
  const room = device.memoryBudgetBytes - Math.max(lambdaPeak, scoreBytes + cacheBytes);
  const lambdaBatchBytes = reusable ? Math.max(0, Math.min(allBatches, room)) : 0;
  const reused = allBatches > 0 ? lambdaBatchBytes / allBatches : 0;
  const lambdaStage = stages.find((s) => s.stage === 'lambda');
  if (lambdaStage && lambdaBatchBytes > 0)
    stages[stages.indexOf(lambdaStage)] = { ...lambdaStage, peakBytes: lambdaStage.peakBytes + lambdaBatchBytes };
  const batches = Math.ceil(data.train / train);
  const pass =
    t.ort(data.trainTokens) +
    t.flops(batches * scoreBatchMultiplyAdds(config, shape, held(query), train, scoreMemoryBytes, t));
  // Self-influence, in the first chunk's pass: ⟨X(n), R(n)⟩ needs R(n) in an eigenbasis (score-context.ts).
  const self = eigenbasis ? t.flops(data.train * t.rotateInto(t.perSequenceTokens)) : 0;
  const keptPass = t.flops(held(query) * data.train * sumD);
  stages.push({
    stage: 'scores',
    peakBytes: scoreBytes + cacheBytes + lambdaBatchBytes,
    seconds:
      pass -
      reused * t.ort(data.trainTokens) +
      self +
      (groupTokens?.seconds ?? 0) +
      (chunks - 1) * ((1 - kept) * pass + kept * keptPass),
  });
  // Top-k pair token scores after the run (pair-tokens.ts): one small run per query against the fitted factors.
  const k = Math.min(data.pairTokensTopK ?? 0, data.train);
  const pairTokens =
    k > 0
      ? {
          k,
          seconds: pairTokenSeconds(shape, data, k, eigenbasis, t),
          peakBytes: Math.max(queryChunkBytes(shape, 1), scoreBatchBytes(shape, Math.min(train, k), 1)),
        }
      : null;
  if (pairTokens) stages.push({ stage: 'pair-tokens', peakBytes: pairTokens.peakBytes, seconds: pairTokens.seconds });
  return {
    batchSizes: { ...config.batchSizes, fit, train, query },
    scoreMemoryBytes,
    cacheBytes,
    lambdaBatchBytes,
    tokenAnalyses: { groupTokens, pairTokens },
    stages,
    peakBytes: Math.max(...stages.map((s) => s.peakBytes)),
    seconds: stages.reduce((s, x) => s + x.seconds, 0),
    changes: decided.changes,
    problems,
    notes: eigen.notes,
  };
}

/**
 * The batch sizes: for each, the largest of configured, configured/2, … ≥ 1 whose stage fits (halving, as
 * kronfluence's search), with the reason when it had to shrink, and what does not fit even at 1.
 */
function chooseBatchSizes(
  config: AttributionConfig,
  shape: PlanShape,
  graph: GraphProfile,
  data: DataProfile,
  device: DeviceProfile,
) {
  const strategy = strategyOf(config.strategy);
  const changes: string[] = [];
  const problems: string[] = [];
  const fits = (what: string, bytes: number, single: number, b: number) =>
    misfit(what, bytes, single, ortBytes(graph, shape, b), device, graph);
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
    const bytes = Math.max(covarianceBytes(shape, b), lambdaPassBytes(shape, b));
    return fits('a training batch', bytes, batchTensorBytes(shape, b, strategy.needsLambda), b);
  };
  const needsFit = strategy.needsEigenbasis || strategy.needsLambda;
  const fit = needsFit ? choose('training batch (factors)', config.batchSizes.fit, fitCheck) : config.batchSizes.fit;
  // A chunk never holds more queries than there are.
  const held = (qc: number) => Math.min(qc, Math.max(1, data.queries));
  const query = choose('query chunk', config.batchSizes.query, (qc) =>
    fits('a query chunk', queryChunkBytes(shape, held(qc)), held(qc) * shape.maxD * shape.E, held(qc)),
  );
  const train = choose('training batch (scores)', config.batchSizes.train, (b) =>
    fits('a scoring batch', scoreBatchBytes(shape, b, held(query)), batchTensorBytes(shape, b, true), b),
  );
  return { fit, train, query, held, changes, problems };
}

/** Eigendecomposition: one matrix at a time; on WebGPU split into blocks when it exceeds a binding (eigen-plan.ts). */
function planEigen(shape: PlanShape, needed: boolean, device: DeviceProfile, graph: GraphProfile) {
  const { dims, factorBytes, E } = shape;
  const dMax = Math.max(0, ...dims.flatMap((d) => [d.dPrime, d.dOut]));
  const problems: string[] = [];
  const notes: string[] = [];
  let bytes = factorBytes + 4 * dMax * dMax * E;
  let seconds = dims.reduce((s, d) => s + d.dPrime ** 3 + d.dOut ** 3, 0) * device.eighSecondsPerCube;
  const what = `the eigendecomposition at d = ${dMax}`;
  if (needed && device.kind === 'webgpu') {
    const eigen = planEigenStage(
      dims.flatMap((d) => [d.dPrime, d.dOut]),
      device,
    );
    bytes = factorBytes + eigen.workingBytes;
    seconds = eigen.seconds;
    notes.push(...eigen.notes);
    problems.push(...eigen.problems);
    const problem = misfit(what, bytes, 0, 0, device, graph);
    if (problem) problems.push(problem);
  } else if (needed) {
    const problem = misfit(what, bytes, dMax * dMax * E, 0, device, graph);
    if (problem) problems.push(problem);
  }
  return { bytes, seconds, notes, problems };
}
