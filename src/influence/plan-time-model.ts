/**
 * The memory planner's time model (memory-plan.ts has it in words): multiply-adds per stage at the device's documented
 * throughput, and onnxruntime's gradient graph at 4·parameters per token. An estimate to within a factor of a few.
 */
import type { PlanShape } from './plan-memory-model';
import type { DataProfile, DeviceProfile, GraphProfile } from './plan-profiles';
import { DEFAULT_SCORE_PATH, planScores } from './score-plan';
import type { AttributionConfig } from './types';

export interface TimeModel {
  /** Seconds of the gradient graph over `tokens` tokens (forward and backward). */
  readonly ort: (tokens: number) => number;
  /** Seconds of `multiplyAdds` on the engine's backend. */
  readonly flops: (multiplyAdds: number) => number;
  /** Mean tokens per training sequence. */
  readonly perSequenceTokens: number;
  /** Σ_l D_l: building every layer's G from one token. */
  readonly buildG: number;
  /** Σ_l D_l (dOut + d'): rotating one G into its eigenbasis. */
  readonly rotate: number;
  /** Multiply-adds of R(n) = Q_Sᵀ G(n) Q_A of one sequence of `tokens` tokens (the cheaper form on the CPU). */
  readonly rotateInto: (tokens: number) => number;
}

export function timeModel(shape: PlanShape, graph: GraphProfile, data: DataProfile, device: DeviceProfile): TimeModel {
  const { dims } = shape;
  const params = graph.weightBytes / 4;
  return {
    ort: (tokens) => (4 * params * tokens) / graph.flopsPerSecond,
    flops: (multiplyAdds) => (2 * multiplyAdds) / device.flopsPerSecond,
    perSequenceTokens: data.trainTokens / Math.max(1, data.train),
    buildG: dims.reduce((s, d) => s + d.dOut * d.dPrime, 0),
    rotate: dims.reduce((s, d) => s + d.dOut * d.dPrime * (d.dOut + d.dPrime), 0),
    // The CPU rotates the token rows first when cheaper (rotated-gradients.ts).
    rotateInto: (tokens) =>
      dims.reduce((s, d) => {
        const sequenceForm = tokens * d.dOut * d.dPrime + d.dOut * d.dPrime * (d.dOut + d.dPrime);
        const tokenForm = tokens * (d.dOut ** 2 + d.dPrime ** 2 + d.dOut * d.dPrime);
        return s + (device.kind === 'cpu' ? Math.min(sequenceForm, tokenForm) : sequenceForm);
      }, 0),
  };
}

/** The covariance pass: the gradient graph (twice for sampled labels: logits first) and tokens·Σ (d'² + dOut²). */
export function covarianceSeconds(
  config: AttributionConfig,
  shape: PlanShape,
  data: DataProfile,
  t: TimeModel,
): number {
  const covariance = shape.dims.reduce((s, d) => s + d.dPrime ** 2 + d.dOut ** 2, 0) * data.trainTokens;
  return (config.fisher === 'sampled' ? 2 : 1) * t.ort(data.trainTokens) + t.flops(covariance);
}

/**
 * The Λ pass: the gradient graph (its sampled labels were drawn in the covariance pass when there is one,
 * onnx-source.ts) and each sequence's R(n) (eigenbasis) or G(n) (parameter basis).
 */
export function lambdaSeconds(config: AttributionConfig, eigenbasis: boolean, data: DataProfile, t: TimeModel): number {
  const sampledAgain = config.fisher === 'sampled' && !eigenbasis;
  return (
    (sampledAgain ? 2 : 1) * t.ort(data.trainTokens) +
    t.flops(eigenbasis ? data.train * t.rotateInto(t.perSequenceTokens) : data.trainTokens * t.buildG)
  );
}

/** The query stage: each query's gradients, G_q and (eigenbasis) its rotations into and back. */
export function querySeconds(eigenbasis: boolean, data: DataProfile, t: TimeModel): number {
  const rotations = eigenbasis
    ? data.queries * (t.rotateInto(data.queryTokens / Math.max(1, data.queries)) + t.rotate)
    : 0;
  return t.ort(data.queryTokens) + t.flops(data.queryTokens * t.buildG + rotations);
}

/** Multiply-adds of scoring one training batch of `train` sequences against `queries` queries (planScores' form). */
export function scoreBatchMultiplyAdds(
  config: AttributionConfig,
  shape: PlanShape,
  queries: number,
  train: number,
  scoreMemoryBytes: number,
  t: TimeModel,
): number {
  return shape.dims.reduce((sum, d, l) => {
    const plan = planScores(
      {
        queries,
        sequences: train,
        tokens: train * t.perSequenceTokens,
        dOut: d.dOut,
        dInPrime: d.dPrime,
        rank: config.queryRank,
        perToken: config.perToken,
        gradientsBuiltAnyway: true,
        bytesPerElement: shape.E,
      },
      { ...(config.scorePath ?? DEFAULT_SCORE_PATH), memoryBytes: scoreMemoryBytes },
    );
    return (
      sum + (plan.form === 'token' ? plan.tokenCost : plan.sequenceCost) + train * t.perSequenceTokens * shape.sizes[l]!
    );
  }, 0);
}

/**
 * Group per-token scores (group-tokens.ts), in the first score pass: the summed operators P_g = Σ_q w_q P_q need every
 * query chunk but the one at hand prepared again (all of them with a low-rank query operator), Q·ΣD multiply-adds
 * to sum them, and each training token scored against G operators in the token form, G·tokens·ΣD.
 */
export function groupTokenSeconds(
  config: AttributionConfig,
  shape: PlanShape,
  data: DataProfile,
  groups: number,
  chunks: number,
  eigenbasis: boolean,
  t: TimeModel,
): number {
  const again = config.queryRank === null ? (chunks - 1) / chunks : 1;
  return (
    again * querySeconds(eigenbasis, data, t) +
    t.flops(data.queries * shape.sumD + groups * data.trainTokens * shape.sumD)
  );
}

/**
 * Top-k pair token scores (pair-tokens.ts), after the run: per query, a run against the fitted factors over that query
 * and its k training examples with per-token scores: the query's gradients again, k sequences through the gradient
 * graph, their token-form scores (tokens·ΣD) and their self-influence (R(n) in an eigenbasis, else G(n)).
 */
export function pairTokenSeconds(
  shape: PlanShape,
  data: DataProfile,
  k: number,
  eigenbasis: boolean,
  t: TimeModel,
): number {
  const tokens = k * t.perSequenceTokens;
  const self = eigenbasis ? k * t.rotateInto(t.perSequenceTokens) : tokens * t.buildG;
  return querySeconds(eigenbasis, data, t) + data.queries * (t.ort(tokens) + t.flops(tokens * shape.sumD + self));
}
