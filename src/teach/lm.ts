/**
 * The lab's tiny language model: a bigram softmax model over a 14-word vocabulary, logits(next) = W [onehot(token), 1],
 * trained on ten short sentences. One linear layer on one-hot inputs is an embedding with a bias, so the model is
 * convex: Newton reaches the optimum, leave-one-out (one sentence out) retrains exactly, and the dense Gauss–Newton
 * influence is the true Hessian's. The engine scores it as a sequence model (one position per predicted token) and
 * keeps per-token scores: position t's score is credited to the token it predicts, t + 1.
 */
import { sampleLabels } from '../onnx/gradient-graph';
import type { Backend, Tensor, TokenBatch } from '../linalg/backend';
import type { GradientBatch, GradientRequest, GradientSource, LayerInfo } from '../influence/types';
import { newtonMinimise, type SecondOrderObjective } from '../train/newton';
import { addOuter, dot } from './dense';
import { LM_VOCAB } from './lm-data';
import { logSoftmax } from './network';

const V = LM_VOCAB.length;
const WIDTH = V + 1;
export const LM_PARAMETERS = V * WIDTH;

function logits(theta: ArrayLike<number>, token: number): Float64Array {
  return Float64Array.from({ length: V }, (_, k) => theta[k * WIDTH + token] + theta[k * WIDTH + V]);
}

/** Σ_t log p(token t+1 | token t): the measurement f of a query sentence. */
export function sentenceLogLikelihood(theta: ArrayLike<number>, ids: readonly number[]): number {
  let total = 0;
  for (let t = 0; t + 1 < ids.length; t++) total += logSoftmax(logits(theta, ids[t]))[ids[t + 1]];
  return total;
}

/** ∇ of the sentence's summed loss, flat [V × (V+1)]: Σ_t (p_t − e_next) ⊗ [onehot, 1]. */
export function sentenceGradient(theta: ArrayLike<number>, ids: readonly number[]): Float64Array {
  const out = new Float64Array(LM_PARAMETERS);
  for (let t = 0; t + 1 < ids.length; t++) {
    const p = logSoftmax(logits(theta, ids[t])).map(Math.exp);
    for (let k = 0; k < V; k++) {
      const g = p[k] - (k === ids[t + 1] ? 1 : 0);
      out[k * WIDTH + ids[t]] += g;
      out[k * WIDTH + V] += g;
    }
  }
  return out;
}

/** The sentence's Gauss–Newton (= Hessian) Σ_t (diag p − p pᵀ) ⊗ ã ãᵀ, added into h with weight w. */
export function addSentenceHessian(h: Float64Array, theta: ArrayLike<number>, ids: readonly number[], w: number): void {
  for (let t = 0; t + 1 < ids.length; t++) {
    const p = logSoftmax(logits(theta, ids[t])).map(Math.exp);
    const columns = [ids[t], V];
    for (let i = 0; i < V; i++)
      for (let j = 0; j < V; j++) {
        const hij = w * ((i === j ? p[i] : 0) - p[i] * p[j]);
        if (hij === 0) continue;
        for (const a of columns) for (const b of columns) h[(i * WIDTH + a) * LM_PARAMETERS + j * WIDTH + b] += hij;
      }
  }
}

export interface LmObjective {
  readonly sentences: readonly (readonly number[])[];
  readonly weights?: ArrayLike<number>;
  /** R = N · l2 with N the full training set's size. */
  readonly ridge: number;
}

function lmValue(objective: LmObjective, theta: Float64Array): number {
  let total = (objective.ridge / 2) * dot(theta, theta);
  objective.sentences.forEach((s, n) => (total -= (objective.weights?.[n] ?? 1) * sentenceLogLikelihood(theta, s)));
  return total;
}

export function lmGradient(objective: LmObjective, theta: Float64Array): Float64Array {
  const g = theta.map((v) => objective.ridge * v);
  objective.sentences.forEach((s, n) => {
    const w = objective.weights?.[n] ?? 1;
    if (w !== 0) sentenceGradient(theta, s).forEach((v, k) => (g[k] += w * v));
  });
  return g;
}

export function lmHessian(objective: LmObjective, theta: Float64Array): Float64Array {
  const h = new Float64Array(LM_PARAMETERS * LM_PARAMETERS);
  objective.sentences.forEach((s, n) => {
    const w = objective.weights?.[n] ?? 1;
    if (w !== 0) addSentenceHessian(h, theta, s, w);
  });
  for (let k = 0; k < LM_PARAMETERS; k++) h[k * LM_PARAMETERS + k] += objective.ridge;
  return h;
}

/** Newton (the training loop's Newton rule) from `start` until the step is negligible: J is strictly convex. */
export function lmNewton(objective: LmObjective, start: Float64Array): Float64Array {
  const second: SecondOrderObjective = {
    value: (theta) => lmValue(objective, theta),
    gradient: (theta) => ({ value: lmValue(objective, theta), gradient: lmGradient(objective, theta) }),
    hessian: (theta) => lmHessian(objective, theta),
  };
  return newtonMinimise(second, start, { maxIterations: 100 }).theta;
}

/** The engine's view of the LM: one tracked layer 'unembed' (V+1 → V), one position per predicted token. */
export class LmSource implements GradientSource {
  readonly layers: readonly LayerInfo[] = [{ name: 'unembed', dIn: V, dOut: V, hasBias: true }];

  constructor(
    private readonly theta: Float64Array,
    private readonly sets: Readonly<Record<'train' | 'query', readonly (readonly number[])[]>>,
  ) {}

  sequenceLength(role: 'train' | 'query', index: number): number {
    return this.sets[role][index].length - 1;
  }

  async gradients(request: GradientRequest, backend: Backend): Promise<GradientBatch> {
    const sentences = request.indices.map((i) => this.sets[request.role][i]);
    const b = sentences.length;
    const t = Math.max(...sentences.map((s) => s.length - 1));
    const activations = new Float64Array(b * t * V);
    const gradients = new Float64Array(b * t * V);
    const mask = new Float64Array(b * t);
    const tokenLogLikelihoods = new Float64Array(b * t);
    const loss = new Float64Array(b);
    sentences.forEach((ids, i) => {
      const positions = ids.length - 1;
      const allLogits = new Float64Array(positions * V);
      for (let p = 0; p < positions; p++) allLogits.set(logits(this.theta, ids[p]), p * V);
      const labels =
        request.labels === 'sampled'
          ? Array.from(
              sampleLabels({
                logits: allLogits,
                dims: [1, positions, V],
                seed: request.seed,
                rowKeys: [request.indices[i]],
              }),
              Number,
            )
          : ids.slice(1);
      for (let p = 0; p < positions; p++) {
        const cell = i * t + p;
        mask[cell] = 1;
        activations[cell * V + ids[p]] = 1;
        const logp = logSoftmax(allLogits.subarray(p * V, (p + 1) * V));
        for (let k = 0; k < V; k++) gradients[cell * V + k] = Math.exp(logp[k]) - (k === labels[p] ? 1 : 0);
        tokenLogLikelihoods[cell] = logp[labels[p]];
        loss[i] -= logp[labels[p]];
      }
    });
    const tensors: Tensor[] = [
      backend.upload(activations, [b, t, V]),
      backend.upload(gradients, [b, t, V]),
      backend.upload(mask, [b, t]),
    ];
    const layer: TokenBatch = { activations: tensors[0], gradients: tensors[1], mask: tensors[2], appendOnes: true };
    return {
      layers: [layer],
      sequenceLength: t,
      tokenCounts: sentences.map((s) => s.length - 1),
      targetCounts: sentences.map((s) => s.length - 1),
      loss,
      tokenLogLikelihoods,
      release: () => backend.release(...tensors),
    };
  }
}

/** The dense curvature C the exact method inverts: the Gauss–Newton (true Fisher) or Σ_n G_n G_nᵀ (empirical). */
export function lmCurvature(
  theta: Float64Array,
  sentences: readonly (readonly number[])[],
  fisher: 'true' | 'empirical',
): Float64Array {
  const c = new Float64Array(LM_PARAMETERS * LM_PARAMETERS);
  for (const s of sentences) {
    if (fisher === 'true') addSentenceHessian(c, theta, s, 1);
    else addOuter(c, sentenceGradient(theta, s), 1);
  }
  return c;
}
