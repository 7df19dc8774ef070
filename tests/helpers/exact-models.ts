/**
 * Tiny float64 models with hand-written forward and backward passes, as ExactModels for ExactGradientSource:
 *  - a feed-forward chain (Linear + relu/tanh/none, cross-entropy or summed-MSE loss): the kronfluence MLP classifier,
 *    multiclass logistic regression, deep linear networks;
 *  - the kronfluence token LM (embedding, residual tanh MLP, unembedding; response-only next-token cross-entropy).
 * g is always the gradient of the example's own SUMMED loss with respect to the layer output (pre-activation).
 * Sampled labels use the ONNX path's own sampler (src/onnx/gradient-graph.ts), keyed by (seed, example index,
 * position).
 */
import { sampleLabels } from '../../src/onnx/gradient-graph';
import type { LayerInfo } from '../../src/influence/types';
import type { ExactModel, ExampleGradients } from './exact-source';

export interface LinearParams {
  readonly name: string;
  /** [dOut, dIn] row-major (y = W x + b). */
  readonly weight: Float64Array;
  readonly bias: Float64Array | null;
  readonly dIn: number;
  readonly dOut: number;
  /** Nonlinearity applied to y. */
  readonly activation: 'relu' | 'tanh' | 'none';
}

export function linearLayerInfo(p: LinearParams): LayerInfo {
  return { name: p.name, dIn: p.dIn, dOut: p.dOut, hasBias: p.bias !== null };
}

export function applyLinear(p: LinearParams, x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(p.dOut);
  for (let i = 0; i < p.dOut; i++) {
    let s = p.bias ? p.bias[i] : 0;
    for (let j = 0; j < p.dIn; j++) s += p.weight[i * p.dIn + j] * x[j];
    y[i] = s;
  }
  return y;
}

/** Wᵀ v. */
export function applyTransposed(p: LinearParams, v: ArrayLike<number>): Float64Array {
  const x = new Float64Array(p.dIn);
  for (let i = 0; i < p.dOut; i++) for (let j = 0; j < p.dIn; j++) x[j] += p.weight[i * p.dIn + j] * v[i];
  return x;
}

function activate(kind: LinearParams['activation'], y: Float64Array): Float64Array {
  if (kind === 'relu') return y.map((v) => (v > 0 ? v : 0));
  if (kind === 'tanh') return y.map(Math.tanh);
  return y.slice();
}

/** dL/dy from dL/dh for h = act(y). */
function activationBackward(
  kind: LinearParams['activation'],
  y: Float64Array,
  h: Float64Array,
  gh: Float64Array,
): Float64Array {
  if (kind === 'relu') return gh.map((v, i) => (y[i] > 0 ? v : 0));
  if (kind === 'tanh') return gh.map((v, i) => v * (1 - h[i] * h[i]));
  return gh.slice();
}

export function logSoftmax(z: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) max = Math.max(max, z[i]);
  let sum = 0;
  for (let i = 0; i < z.length; i++) sum += Math.exp(z[i] - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(z, (v) => v - lse);
}

export type ChainLoss = { readonly kind: 'cross-entropy' } | { readonly kind: 'mse' };

export interface ChainData {
  /** Inputs [N × d0] per role. */
  readonly x: Readonly<Record<'train' | 'query', readonly Float64Array[]>>;
  /** Class ids (cross-entropy) or target vectors (mse). */
  readonly y: Readonly<Record<'train' | 'query', readonly (number | Float64Array)[]>>;
}

/**
 * Forward and backward of a Linear chain for one input and output gradient seed; returns per-layer a, g and the output.
 */
export function chainForward(
  layers: readonly LinearParams[],
  x: Float64Array,
): { inputs: Float64Array[]; pre: Float64Array[]; post: Float64Array[] } {
  const inputs: Float64Array[] = [];
  const pre: Float64Array[] = [];
  const post: Float64Array[] = [];
  let h = x;
  for (const layer of layers) {
    inputs.push(h);
    const y = applyLinear(layer, h);
    pre.push(y);
    h = activate(layer.activation, y);
    post.push(h);
  }
  return { inputs, pre, post };
}

export function chainBackward(
  layers: readonly LinearParams[],
  forward: ReturnType<typeof chainForward>,
  outputGradient: Float64Array,
): Float64Array[] {
  const g: Float64Array[] = new Array(layers.length);
  let gh = outputGradient;
  for (let l = layers.length - 1; l >= 0; l--) {
    g[l] = activationBackward(layers[l].activation, forward.pre[l], forward.post[l], gh);
    gh = applyTransposed(layers[l], g[l]);
  }
  return g;
}

/** A feed-forward chain with one token per example. */
export function chainModel(layers: readonly LinearParams[], loss: ChainLoss, data: ChainData): ExactModel {
  return {
    layers: layers.map(linearLayerInfo),
    sequenceModel: false,
    length: () => 1,
    example(role, index, labels, seed): ExampleGradients {
      const forward = chainForward(layers, data.x[role][index]);
      const output = forward.post[layers.length - 1];
      let outputGradient: Float64Array;
      let lossValue: number;
      let logLikelihood: number;
      if (loss.kind === 'cross-entropy') {
        const logp = logSoftmax(output);
        const label =
          labels === 'given'
            ? (data.y[role][index] as number)
            : Number(sampleLabels({ logits: output, dims: [1, 1, output.length], seed, rowKeys: [index] })[0]);
        outputGradient = logp.map((v, k) => Math.exp(v) - (k === label ? 1 : 0));
        logLikelihood = logp[label];
        lossValue = -logLikelihood;
      } else {
        if (labels === 'sampled')
          throw new Error('chainModel: sampled labels for mse are not defined here (see deepLinearFisherModel)');
        const target = data.y[role][index] as Float64Array;
        outputGradient = output.map((v, k) => 2 * (v - target[k]));
        lossValue = output.reduce((s, v, k) => s + (v - target[k]) ** 2, 0);
        logLikelihood = -lossValue;
      }
      const g = chainBackward(layers, forward, outputGradient);
      return {
        layers: layers.map((_, l) => ({ a: forward.inputs[l], g: g[l] })),
        length: 1,
        loss: lossValue,
        tokenLogLikelihoods: Float64Array.of(logLikelihood),
        targetCount: 1,
      };
    },
  };
}

/**
 * A deep linear network under summed MSE, with its Fisher expanded EXACTLY instead of sampled: training "example"
 * i = (n, k) = (⌊i/K⌋, i mod K) is the pseudo-sample whose output gradient is √2·e_k (K = output width), since
 * Σ_k (√2 e_k)(√2 e_k)ᵀ = 2I is the Hessian of the summed squared error in the output. Then Σ_i vec(G_i) vec(G_i)ᵀ is
 * the layer's Gauss–Newton block Σ_n J_nᵀ 2I J_n exactly. (Query examples carry their given-label MSE gradients.)
 */
export function deepLinearFisherModel(layers: readonly LinearParams[], data: ChainData): ExactModel {
  const outputs = layers[layers.length - 1].dOut;
  const given = chainModel(layers, { kind: 'mse' }, data);
  return {
    layers: given.layers,
    sequenceModel: false,
    length: () => 1,
    example(role, index, labels, seed): ExampleGradients {
      if (role === 'query') return given.example(role, index, labels, seed);
      const n = Math.floor(index / outputs);
      const k = index % outputs;
      const forward = chainForward(layers, data.x.train[n]);
      const seedGradient = new Float64Array(outputs);
      seedGradient[k] = Math.SQRT2;
      const g = chainBackward(layers, forward, seedGradient);
      return {
        layers: layers.map((_, l) => ({ a: forward.inputs[l], g: g[l] })),
        length: 1,
        loss: 0,
        tokenLogLikelihoods: new Float64Array(1),
        targetCount: 1,
      };
    },
  };
}

export interface TokenLmParams {
  /** [vocab × dModel]. */
  readonly embedding: Float64Array;
  readonly up: LinearParams;
  readonly down: LinearParams;
  /** No bias. */
  readonly unembed: LinearParams;
  readonly vocab: number;
  readonly dModel: number;
}

export interface TokenSequence {
  readonly inputIds: readonly number[];
  readonly promptLength: number;
  /** A span measurement: only the tokens at these positions [start, end) count (their targets t = position − 1). */
  readonly measured?: readonly { readonly start: number; readonly end: number }[];
}

/**
 * The kronfluence fixture's token LM: h = emb[id]; h2 = h + down(tanh(up(h))); logits = unembed(h2). Position t
 * predicts
 * token t+1; only response targets t = promptLength−1 … length−2 count. Tracked: up, down, unembed.
 */
export function tokenLmModel(
  params: TokenLmParams,
  data: Readonly<Record<'train' | 'query', readonly TokenSequence[]>>,
): ExactModel {
  const { up, down, unembed, dModel } = params;
  return {
    layers: [up, down, unembed].map(linearLayerInfo),
    sequenceModel: true,
    length: (role, index) => data[role][index].inputIds.length,
    example(role, index, labels, seed): ExampleGradients {
      const { inputIds, promptLength, measured: spans } = data[role][index];
      const length = inputIds.length;
      const a = [
        new Float64Array(length * up.dIn),
        new Float64Array(length * down.dIn),
        new Float64Array(length * unembed.dIn),
      ];
      const g = [
        new Float64Array(length * up.dOut),
        new Float64Array(length * down.dOut),
        new Float64Array(length * unembed.dOut),
      ];
      const tokenLogLikelihoods = new Float64Array(length);
      let loss = 0;
      const forward = Array.from({ length }, (_, t) => {
        const h = params.embedding.slice(inputIds[t] * dModel, (inputIds[t] + 1) * dModel);
        const z = applyLinear(up, h).map(Math.tanh);
        const h2 = applyLinear(down, z).map((v, i) => v + h[i]);
        return { h, z, h2, logits: applyLinear(unembed, h2) };
      });
      const measured = (t: number) =>
        t >= promptLength - 1 && t < length - 1 && (!spans || spans.some((s) => t + 1 >= s.start && t + 1 < s.end));
      // Sampled labels exactly as the ONNX path draws them: one sampleLabels call over the sequence, keyed by position.
      const sampled =
        labels === 'sampled'
          ? sampleLabels({
              logits: Float64Array.from(forward.flatMap((f) => Array.from(f.logits))),
              dims: [1, length, params.vocab],
              mask: Array.from({ length }, (_, t) => (measured(t) ? 1 : 0)),
              seed,
              rowKeys: [index],
            })
          : null;
      forward.forEach(({ h, z, h2, logits }, t) => {
        a[0].set(h, t * up.dIn);
        a[1].set(z, t * down.dIn);
        a[2].set(h2, t * unembed.dIn);
        if (!measured(t)) return;
        const logp = logSoftmax(logits);
        const label = sampled ? Number(sampled[t]) : inputIds[t + 1];
        tokenLogLikelihoods[t] = logp[label];
        loss -= logp[label];
        const gLogits = logp.map((v, k) => Math.exp(v) - (k === label ? 1 : 0));
        const gH2 = applyTransposed(unembed, gLogits);
        const gZ = applyTransposed(down, gH2);
        g[2].set(gLogits, t * unembed.dOut);
        g[1].set(gH2, t * down.dOut);
        g[0].set(
          gZ.map((v, i) => v * (1 - z[i] * z[i])),
          t * up.dOut,
        );
      });
      return {
        layers: a.map((activations, l) => ({ a: activations, g: g[l] })),
        length,
        loss,
        tokenLogLikelihoods,
        targetCount: Array.from({ length }, (_, t) => t).filter(measured).length,
      };
    },
  };
}

/** A seeded generator for test data (mulberry32) and Gaussian draws (Box–Muller). */
export function seededRandom(seed: number): { uniform(): number; normal(): number } {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

export function randomLinear(
  random: { normal(): number },
  name: string,
  dIn: number,
  dOut: number,
  bias: boolean,
  activation: LinearParams['activation'],
  scale = 1 / Math.sqrt(dIn),
): LinearParams {
  return {
    name,
    dIn,
    dOut,
    activation,
    weight: Float64Array.from({ length: dIn * dOut }, () => random.normal() * scale),
    bias: bias ? Float64Array.from({ length: dOut }, () => random.normal() * 0.1) : null,
  };
}
