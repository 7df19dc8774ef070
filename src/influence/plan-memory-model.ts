/**
 * The memory planner's per-resource byte estimators (memory-plan.ts has the model in full): the shapes every estimate
 * reads, and the peak bytes of each stage as a function of its batch size. E = bytes per element of the backend,
 * d' = dIn + bias, D_l = dOut·d'_l, T = the longest sequence.
 */
import { mib } from './eigen-plan';
import type { DataProfile, DeviceProfile, GraphProfile } from './plan-profiles';
import { strategyOf } from './strategies';
import type { AttributionConfig, LayerInfo } from './types';

export interface LayerDims {
  readonly dIn: number;
  readonly dOut: number;
  readonly dPrime: number;
}

/** What the estimators read: the tracked layers' dims and the sums over them. */
export interface PlanShape {
  readonly E: number;
  readonly dims: readonly LayerDims[];
  /** D_l per layer, their sum and largest. */
  readonly sizes: readonly number[];
  readonly sumD: number;
  readonly maxD: number;
  /** Σ_l (dIn + dOut): a token's a and g; the widest dIn or dOut. */
  readonly width: number;
  readonly widest: number;
  /** A and S (or Q_A and Q_S) of every layer; 0 without an eigenbasis. */
  readonly factorBytes: number;
  /** Λ of every layer; 0 without it. */
  readonly lambdaBytes: number;
  /** The longest sequence. */
  readonly T: number;
}

export function planShape(
  config: AttributionConfig,
  layers: readonly LayerInfo[],
  data: DataProfile,
  device: DeviceProfile,
): PlanShape {
  const E = device.bytesPerElement;
  const strategy = strategyOf(config.strategy);
  const dims = layers.map((l) => ({ dIn: l.dIn, dOut: l.dOut, dPrime: l.dIn + (l.hasBias ? 1 : 0) }));
  const sizes = dims.map((d) => d.dOut * d.dPrime);
  const sumD = sizes.reduce((a, b) => a + b, 0);
  return {
    E,
    dims,
    sizes,
    sumD,
    maxD: Math.max(0, ...sizes),
    width: dims.reduce((sum, d) => sum + d.dIn + d.dOut, 0),
    widest: Math.max(0, ...dims.map((d) => Math.max(d.dIn, d.dOut))),
    factorBytes: strategy.needsEigenbasis ? dims.reduce((s, d) => s + (d.dPrime ** 2 + d.dOut ** 2) * E, 0) : 0,
    lambdaBytes: strategy.needsLambda ? sumD * E : 0,
    T: data.maxTokens,
  };
}

/** a and g of every tracked layer for b sequences, as the gradient graph hands them. */
export const tokenBatchBytes = (s: PlanShape, b: number): number => b * s.T * s.width * s.E;

/** onnxruntime's wasm heap for b sequences: weights twice, logits and softmax per token, saved activations. */
export const ortBytes = (graph: GraphProfile, s: PlanShape, b: number): number =>
  2 * graph.weightBytes + b * s.T * 4 * (3 * graph.vocab + graph.linearWidth);

/** The covariance pass: factors + a training batch. */
export const covarianceBytes = (s: PlanShape, b: number): number => s.factorBytes + tokenBatchBytes(s, b);

/** The Λ pass: factors, Λ, a training batch, and G(n) with its rotation of one layer. */
export const lambdaPassBytes = (s: PlanShape, b: number): number =>
  s.factorBytes + s.lambdaBytes + tokenBatchBytes(s, b) + 2 * b * s.maxD * s.E;

/** A query chunk of qc queries: G_q and P_q of every layer. */
export const queryChunkBytes = (s: PlanShape, qc: number): number =>
  s.factorBytes + s.lambdaBytes + 2 * qc * s.sumD * s.E + tokenBatchBytes(s, qc);

/** A scoring batch of b sequences against a chunk of qc queries: P_q kept; G(n), P_n per layer. */
export const scoreBatchBytes = (s: PlanShape, b: number, qc: number): number =>
  s.factorBytes + s.lambdaBytes + qc * s.sumD * s.E + tokenBatchBytes(s, b) + 2 * b * s.maxD * s.E;

/** The largest single tensor of a training batch (fit or score): token rows or one layer's G(n). */
export const batchTensorBytes = (s: PlanShape, b: number, withG: boolean): number =>
  Math.max(b * s.T * s.widest * s.E, withG ? b * s.maxD * s.E : 0);

/** Why `bytes` (largest tensor `single`, onnxruntime heap `ort`) does not fit the device, or null when it does. */
export function misfit(
  what: string,
  bytes: number,
  single: number,
  ort: number,
  device: DeviceProfile,
  graph: GraphProfile,
): string | null {
  const reasons = [
    bytes > device.memoryBudgetBytes && `needs ${mib(bytes)} of a ${mib(device.memoryBudgetBytes)} budget`,
    single > device.maxBindingBytes && `its largest tensor ${mib(single)} exceeds one binding`,
    ort > graph.heapBytes && `the gradient graph needs ${mib(ort)} of onnxruntime's ${mib(graph.heapBytes)}`,
  ].filter(Boolean);
  return reasons.length === 0 ? null : `${what}: ${reasons.join('; ')}`;
}

/**
 * Group per-token scores in the first score pass: the G summed operators of every layer on the backend, one layer's
 * [G, B, T] token scores of a batch, and the [G × Σ_n T_n] float64 rows on the host.
 */
export const groupTokenBytes = (s: PlanShape, groups: number, b: number, trainTokens: number): number =>
  groups * s.sumD * s.E + groups * b * s.T * s.E + 8 * groups * trainTokens;

/**
 * The Λ pass's training batches kept for the first score pass (lambda-batches.ts): a, g and the mask of every
 * sequence, padded to T (an upper bound: a batch is padded to its own longest sequence).
 */
export const keptBatchesBytes = (s: PlanShape, train: number): number => train * s.T * (s.width + 1) * s.E;
