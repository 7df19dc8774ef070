/**
 * The teaching lab's models as one float64 chain of linear layers (y = W ã, ã = [x, 1]) with tanh between them:
 * 1-D linear regression (one layer, summed squared error), 2-D logistic regression (one layer, two-class softmax
 * cross-entropy) and a small MLP classifier. Parameters live in ONE flat vector in the engine's layout: per layer,
 * W as [dOut × dIn'] row-major with the bias as the last column, so a layer's per-example gradient is vec_r(g ãᵀ),
 * exactly the G(n) the EK-FAC stages form from (a, g).
 *
 * Why plain TypeScript and not an ONNX graph on onnxruntime-web: the lab needs float64 (Newton to a 1e-12 step,
 * leave-one-out changes of 1e-6 in a log-likelihood) and Hessians, and its fits evaluate the chain batched
 * (./batch.ts) faster than one ORT session.run (scripts/bench-teach-ort.ts). The engine's stages do not care: they
 * take (a, g) from any GradientSource (./source.ts).
 */

export type TeachLoss = 'mse' | 'cross-entropy';

export interface NetworkSpec {
  /** Widths from input to output, e.g. [2, 8, 8, 2]. */
  readonly widths: readonly number[];
  readonly loss: TeachLoss;
}

export interface LayerShape {
  readonly name: string;
  readonly dIn: number;
  readonly dOut: number;
  /** Offset of this layer's [dOut × (dIn + 1)] block in the flat parameter vector. */
  readonly offset: number;
}

/** Computed once per spec: forward and backward run millions of times per lab update. */
const shapeCache = new WeakMap<NetworkSpec, readonly LayerShape[]>();

export function layerShapes(spec: NetworkSpec): readonly LayerShape[] {
  const cached = shapeCache.get(spec);
  if (cached) return cached;
  let offset = 0;
  const shapes = spec.widths.slice(1).map((dOut, l) => {
    const dIn = spec.widths[l];
    const shape = { name: `fc${l + 1}`, dIn, dOut, offset };
    offset += dOut * (dIn + 1);
    return shape;
  });
  shapeCache.set(spec, shapes);
  return shapes;
}

export function parameterCount(spec: NetworkSpec): number {
  const shapes = layerShapes(spec);
  const last = shapes[shapes.length - 1];
  return last.offset + last.dOut * (last.dIn + 1);
}

/** Activations of one input: per layer the input ã (with the 1) and the output after tanh (none on the last). */
export interface ForwardPass {
  readonly inputs: Float64Array[];
  readonly outputs: Float64Array[];
  readonly output: Float64Array;
}

export function forward(spec: NetworkSpec, theta: ArrayLike<number>, x: ArrayLike<number>): ForwardPass {
  const shapes = layerShapes(spec);
  const inputs: Float64Array[] = [];
  const outputs: Float64Array[] = [];
  let h = Float64Array.from(x);
  shapes.forEach(({ dIn, dOut, offset }, l) => {
    const a = new Float64Array(dIn + 1);
    a.set(h);
    a[dIn] = 1;
    inputs.push(a);
    const y = new Float64Array(dOut);
    for (let i = 0; i < dOut; i++) {
      let s = 0;
      for (let j = 0; j <= dIn; j++) s += theta[offset + i * (dIn + 1) + j] * a[j];
      y[i] = l < shapes.length - 1 ? Math.tanh(s) : s;
    }
    outputs.push(y);
    h = y;
  });
  return { inputs, outputs, output: h };
}

/** Per-layer pre-activation gradients g_l for a seed dL/d(output), by backpropagation through the tanh chain. */
export function backward(
  spec: NetworkSpec,
  theta: ArrayLike<number>,
  pass: ForwardPass,
  seed: Float64Array,
): Float64Array[] {
  const shapes = layerShapes(spec);
  const g: Float64Array[] = new Array(shapes.length);
  let upstream = seed;
  for (let l = shapes.length - 1; l >= 0; l--) {
    const { dIn, dOut, offset } = shapes[l];
    const out = pass.outputs[l];
    g[l] = l < shapes.length - 1 ? upstream.map((v, i) => v * (1 - out[i] * out[i])) : upstream.slice();
    const below = new Float64Array(dIn);
    for (let i = 0; i < dOut; i++)
      for (let j = 0; j < dIn; j++) below[j] += theta[offset + i * (dIn + 1) + j] * g[l][i];
    upstream = below;
  }
  return g;
}

export function logSoftmax(z: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) max = Math.max(max, z[i]);
  let sum = 0;
  for (let i = 0; i < z.length; i++) sum += Math.exp(z[i] - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(z, (v) => v - lse);
}

/** A labelled point: x (1 value for regression, 2 for the classifiers) and y (a target value or a class 0/1). */
export interface Example {
  readonly x: readonly number[];
  readonly y: number;
}

/**
 * Which output-gradient seed to backpropagate:
 * - 'given': the gradient of the example's own loss with its label (training gradients, empirical Fisher);
 * - 'fisher': a pseudo-gradient v with v vᵀ = the output's Fisher, so Σ_n J_nᵀ v v ᵀ J_n is the Gauss–Newton matrix.
 *   Summed squared error: the output Hessian is 2, v = √2. Two-class softmax: diag(p) − p pᵀ = p₀p₁ (e₀−e₁)(e₀−e₁)ᵀ
 *   is rank one, v = √(p₀p₁)(e₀ − e₁). This is the true Fisher's expectation over sampled labels in closed form (zero
 *   sampling noise), which is what the engine's 'sampled' label mode estimates.
 */
export type SeedKind = 'given' | 'fisher';

export interface ExampleTerms {
  readonly pass: ForwardPass;
  /** Per layer g (pre-activation gradient) for the seed. */
  readonly g: Float64Array[];
  readonly loss: number;
  /** The measurement f: log-likelihood of the label (regression: −squared error, the unit-½-variance Gaussian). */
  readonly logLikelihood: number;
}

export function exampleTerms(
  spec: NetworkSpec,
  theta: ArrayLike<number>,
  example: Example,
  kind: SeedKind,
): ExampleTerms {
  const pass = forward(spec, theta, example.x);
  const out = pass.output;
  let seed: Float64Array;
  let loss: number;
  if (spec.loss === 'mse') {
    const residual = out[0] - example.y;
    loss = residual * residual;
    seed = Float64Array.of(kind === 'given' ? 2 * residual : Math.SQRT2);
  } else {
    const logp = logSoftmax(out);
    loss = -logp[example.y];
    if (kind === 'given') seed = logp.map((v, k) => Math.exp(v) - (k === example.y ? 1 : 0));
    else {
      const scale = Math.sqrt(Math.exp(logp[0] + logp[1]));
      seed = Float64Array.of(scale, -scale);
    }
  }
  return { pass, g: backward(spec, theta, pass, seed), loss, logLikelihood: -loss };
}

/** The flat parameter gradient vec_r(g_l ã_lᵀ) over all layers. */
export function flatGradient(spec: NetworkSpec, terms: ExampleTerms): Float64Array {
  const out = new Float64Array(parameterCount(spec));
  layerShapes(spec).forEach(({ dIn, dOut, offset }, l) => {
    const a = terms.pass.inputs[l];
    const g = terms.g[l];
    for (let i = 0; i < dOut; i++) for (let j = 0; j <= dIn; j++) out[offset + i * (dIn + 1) + j] = g[i] * a[j];
  });
  return out;
}

/** The probability of class 1 (classifiers) or the prediction (regression) at x. */
export function predict(spec: NetworkSpec, theta: ArrayLike<number>, x: readonly number[]): number {
  const out = forward(spec, theta, x).output;
  if (spec.loss === 'mse') return out[0];
  return 1 / (1 + Math.exp(out[0] - out[1]));
}
