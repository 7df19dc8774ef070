/**
 * Plain-TypeScript float64 forwards of the models in this folder, written from the architectures' definitions and
 * sharing no code with the ONNX graph builders: the oracle that the graphs (and their gradients) are tested against.
 */
import type { GptConfig } from './gpt';
import type { TokenLmConfig } from './kronfluence';
import { mlpLayerDims, mlpLayerNames, type MlpConfig } from './mlp';
import type { Weights } from './weights';

function values(weights: Weights, name: string): Float64Array {
  const tensor = weights[name];
  if (!tensor) throw new Error(`reference forward: weight '${name}' is missing`);
  return Float64Array.from(tensor.data);
}

/** rows × dIn → rows × dOut with y = x·W (+ b); W is [dIn, dOut] ('in-out') or [dOut, dIn] ('out-in'). */
function affine(
  x: Float64Array,
  rows: number,
  dIn: number,
  dOut: number,
  w: Float64Array,
  layout: 'in-out' | 'out-in',
  bias: Float64Array | null,
): Float64Array {
  const y = new Float64Array(rows * dOut);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < dOut; o++) {
      let sum = bias ? bias[o]! : 0;
      for (let i = 0; i < dIn; i++) sum += x[r * dIn + i]! * (layout === 'in-out' ? w[i * dOut + o]! : w[o * dIn + i]!);
      y[r * dOut + o] = sum;
    }
  }
  return y;
}

function layerNormRows(
  x: Float64Array,
  rows: number,
  dim: number,
  gamma: Float64Array,
  beta: Float64Array,
  epsilon: number,
): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[r * dim + i]!;
    mean /= dim;
    let variance = 0;
    for (let i = 0; i < dim; i++) variance += (x[r * dim + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / dim + epsilon);
    for (let i = 0; i < dim; i++) y[r * dim + i] = (x[r * dim + i]! - mean) * inv * gamma[i]! + beta[i]!;
  }
  return y;
}

/** erf by Abramowitz–Stegun 7.1.26 is too coarse for 1e-6 checks; this series/continued-fraction pair is ~1e-15. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz) for large |x|.
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = 1 / d;
    c = ax + an / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  return Math.sign(x) * (1 - erfc);
}

function geluValue(x: number, form: GptConfig['gelu']): number {
  if (form === 'erf') return 0.5 * x * (1 + erf(x / Math.SQRT2));
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

/** Features [batch, inputDim] → outputs [batch, outputDim]. */
export function mlpReference(
  config: MlpConfig,
  weights: Weights,
  features: ArrayLike<number>,
  batch: number,
): Float64Array {
  const names = mlpLayerNames(config);
  const layers = mlpLayerDims(config);
  let x: Float64Array = Float64Array.from(features);
  layers.forEach(([dIn, dOut], i) => {
    x = affine(
      x,
      batch,
      dIn,
      dOut,
      values(weights, `${names[i]}.weight`),
      'out-in',
      values(weights, `${names[i]}.bias`),
    );
    if (i < layers.length - 1 && config.activation !== 'linear')
      x = x.map((v) => (config.activation === 'relu' ? Math.max(v, 0) : Math.tanh(v)));
  });
  return x;
}

/** kronfluence token_lm: ids [batch][sequence] → logits [batch, sequence, vocab]. */
export function tokenLmReference(
  config: TokenLmConfig,
  weights: Weights,
  ids: readonly (readonly number[])[],
): Float64Array {
  const { vocabSize: V, dModel: D, dHidden: F } = config;
  const flat = ids.flat();
  const emb = values(weights, 'emb.weight');
  const h = new Float64Array(flat.length * D);
  flat.forEach((id, r) => h.set(emb.subarray(id * D, (id + 1) * D), r * D));
  const up = affine(h, flat.length, D, F, values(weights, 'up.weight'), 'out-in', values(weights, 'up.bias')).map(
    Math.tanh,
  );
  const down = affine(up, flat.length, F, D, values(weights, 'down.weight'), 'out-in', values(weights, 'down.bias'));
  const h2 = h.map((v, i) => v + down[i]!);
  return affine(h2, flat.length, D, V, values(weights, 'unembed.weight'), 'out-in', null);
}

/** GPT: ids and mask [batch][sequence] (mask 1 = token) → logits [batch, sequence, vocab]. */
export function gptReference(
  config: GptConfig,
  weights: Weights,
  ids: readonly (readonly number[])[],
  mask: readonly (readonly number[])[],
): Float64Array {
  const { vocabSize: V, dModel: D, nHead: H, dMlp: F } = config;
  const eps = Math.fround(config.layerNormEpsilon); // ONNX float attributes are float32
  const T = ids[0]!.length;
  const Dh = D / H;
  const wte = values(weights, 'wte.weight');
  const wpe = values(weights, 'wpe.weight');
  const logits = new Float64Array(ids.length * T * V);
  ids.forEach((sequence, n) => {
    let h = new Float64Array(T * D);
    for (let t = 0; t < T; t++) for (let i = 0; i < D; i++) h[t * D + i] = wte[sequence[t]! * D + i]! + wpe[t * D + i]!;
    for (let l = 0; l < config.nLayer; l++) {
      const p = (name: string) => values(weights, `h.${l}.${name}`);
      const a = layerNormRows(h, T, D, p('ln_1.weight'), p('ln_1.bias'), eps);
      const qkv = affine(a, T, D, 3 * D, p('attn.c_attn.weight'), 'in-out', p('attn.c_attn.bias'));
      const context = new Float64Array(T * D);
      for (let head = 0; head < H; head++) {
        for (let i = 0; i < T; i++) {
          // Keys j ≤ i that are not padding; if none (a fully padded prefix), exporters' finfo.min fill gives uniform
          // weights.
          const keys = [...Array(T).keys()].filter((j) => j <= i && mask[n]![j] === 1);
          const allowed = keys.length > 0 ? keys : [...Array(T).keys()];
          const scores = allowed.map((j) => {
            let dot = 0;
            for (let k = 0; k < Dh; k++) dot += qkv[i * 3 * D + head * Dh + k]! * qkv[j * 3 * D + D + head * Dh + k]!;
            return keys.length > 0 ? dot / Math.sqrt(Dh) : 0;
          });
          const top = Math.max(...scores);
          const exps = scores.map((s) => Math.exp(s - top));
          const total = exps.reduce((x, y) => x + y, 0);
          for (let k = 0; k < Dh; k++) {
            let sum = 0;
            allowed.forEach((j, idx) => (sum += (exps[idx]! / total) * qkv[j * 3 * D + 2 * D + head * Dh + k]!));
            context[i * D + head * Dh + k] = sum;
          }
        }
      }
      const attended = affine(context, T, D, D, p('attn.c_proj.weight'), 'in-out', p('attn.c_proj.bias'));
      h = h.map((v, i) => v + attended[i]!);
      const m = layerNormRows(h, T, D, p('ln_2.weight'), p('ln_2.bias'), eps);
      const up = affine(m, T, D, F, p('mlp.c_fc.weight'), 'in-out', p('mlp.c_fc.bias')).map((v) =>
        geluValue(v, config.gelu),
      );
      const down = affine(up, T, F, D, p('mlp.c_proj.weight'), 'in-out', p('mlp.c_proj.bias'));
      h = h.map((v, i) => v + down[i]!);
    }
    const final = layerNormRows(h, T, D, values(weights, 'ln_f.weight'), values(weights, 'ln_f.bias'), eps);
    logits.set(affine(final, T, D, V, values(weights, 'lm_head.weight'), 'out-in', null), n * T * V);
  });
  return logits;
}
