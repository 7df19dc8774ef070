/**
 * An independent float64 forward AND backward pass of the GPT-2-style model (src/models/gpt.ts's architecture:
 * token + position embeddings, pre-LayerNorm blocks with causal multi-head attention over non-padding keys, tanh-GELU
 * MLP, final LayerNorm, bias-free lm_head), with the token cross-entropy of the gradient graphs, written by hand
 * from the definitions. It shares no code with the ONNX graphs or the autodiff: the oracle for whole-model gradients.
 *
 * Layouts follow the weight records: block linears [d_in, d_out] (GPT-2's Conv1D), lm_head [vocab, d_model].
 */
export interface GptShape {
  readonly vocabSize: number;
  readonly dModel: number;
  readonly nLayer: number;
  readonly nHead: number;
  readonly dMlp: number;
  readonly layerNormEpsilon: number;
}

export type ParameterValues = ReadonlyMap<string, Float64Array>;

export interface GptBatch {
  readonly batch: number;
  readonly sequence: number;
  readonly inputIds: readonly number[];
  readonly attentionMask: readonly number[];
  readonly labels: readonly number[];
  readonly lossMask: readonly number[];
}

export interface MlpTrace {
  /** Inputs of c_fc and c_proj [rows × d_in] and the gradients of their (pre-bias) outputs [rows × d_out]. */
  readonly cFcInput: Float64Array;
  readonly cFcOutputGrad: Float64Array;
  readonly cProjInput: Float64Array;
  readonly cProjOutputGrad: Float64Array;
}

export interface GptReference {
  readonly logits: Float64Array;
  readonly loss: Float64Array;
  readonly tokenLogLikelihood: Float64Array;
  readonly gradients: Map<string, Float64Array>;
  readonly mlp: MlpTrace[];
}

/** y[r, o] = Σ_i x[r, i]·w[i, o] + b[o] for w stored [dIn, dOut]. */
function affine(
  x: Float64Array,
  rows: number,
  dIn: number,
  dOut: number,
  w: Float64Array,
  b: Float64Array | null,
): Float64Array {
  const y = new Float64Array(rows * dOut);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < dOut; o++) {
      let sum = b ? b[o] : 0;
      for (let i = 0; i < dIn; i++) sum += x[r * dIn + i] * w[i * dOut + o];
      y[r * dOut + o] = sum;
    }
  }
  return y;
}

/** Backward of affine: returns dx, accumulates dw and db. */
function affineBack(
  x: Float64Array,
  gy: Float64Array,
  rows: number,
  dIn: number,
  dOut: number,
  w: Float64Array,
  gw: Float64Array,
  gb: Float64Array | null,
): Float64Array {
  const gx = new Float64Array(rows * dIn);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < dOut; o++) {
      const g = gy[r * dOut + o];
      if (gb) gb[o] += g;
      for (let i = 0; i < dIn; i++) {
        gx[r * dIn + i] += g * w[i * dOut + o];
        gw[i * dOut + o] += g * x[r * dIn + i];
      }
    }
  }
  return gx;
}

interface NormSaved {
  readonly normalized: Float64Array;
  readonly inverseStd: Float64Array;
}

function layerNorm(
  x: Float64Array,
  rows: number,
  d: number,
  gamma: Float64Array,
  beta: Float64Array,
  eps: number,
): { y: Float64Array; saved: NormSaved } {
  const y = new Float64Array(x.length);
  const normalized = new Float64Array(x.length);
  const inverseStd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[r * d + i] / d;
    let variance = 0;
    for (let i = 0; i < d; i++) variance += (x[r * d + i] - mean) ** 2 / d;
    inverseStd[r] = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < d; i++) {
      normalized[r * d + i] = (x[r * d + i] - mean) * inverseStd[r];
      y[r * d + i] = normalized[r * d + i] * gamma[i] + beta[i];
    }
  }
  return { y, saved: { normalized, inverseStd } };
}

function layerNormBack(
  gy: Float64Array,
  saved: NormSaved,
  rows: number,
  d: number,
  gamma: Float64Array,
  gGamma: Float64Array,
  gBeta: Float64Array,
): Float64Array {
  const gx = new Float64Array(gy.length);
  for (let r = 0; r < rows; r++) {
    let meanG = 0;
    let meanGx = 0;
    for (let i = 0; i < d; i++) {
      const g = gy[r * d + i] * gamma[i];
      meanG += g / d;
      meanGx += (g * saved.normalized[r * d + i]) / d;
      gGamma[i] += gy[r * d + i] * saved.normalized[r * d + i];
      gBeta[i] += gy[r * d + i];
    }
    for (let i = 0; i < d; i++) {
      const g = gy[r * d + i] * gamma[i];
      gx[r * d + i] = saved.inverseStd[r] * (g - meanG - saved.normalized[r * d + i] * meanGx);
    }
  }
  return gx;
}

const GELU_C = Math.sqrt(2 / Math.PI);

function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x ** 3)));
}

function geluDerivative(x: number): number {
  const t = Math.tanh(GELU_C * (x + 0.044715 * x ** 3));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x);
}

export function gptReference(shape: GptShape, params: ParameterValues, data: GptBatch): GptReference {
  const { dModel: D, nHead: H, dMlp: F, vocabSize: V, layerNormEpsilon: eps } = shape;
  const { batch: B, sequence: T } = data;
  const N = B * T;
  const Dh = D / H;
  const p = (name: string): Float64Array => {
    const value = params.get(name);
    if (!value) throw new Error(`gptReference: parameter ${name} missing`);
    return value;
  };
  const gradients = new Map<string, Float64Array>(
    [...params].map(([name, value]) => [name, new Float64Array(value.length)]),
  );
  const g = (name: string): Float64Array => gradients.get(name)!;

  // Embeddings.
  let hidden = new Float64Array(N * D);
  for (let r = 0; r < N; r++) {
    const id = data.inputIds[r];
    const t = r % T;
    for (let i = 0; i < D; i++) hidden[r * D + i] = p('wte.weight')[id * D + i] + p('wpe.weight')[t * D + i];
  }
  const visible = (b: number, i: number, j: number): boolean => j <= i && data.attentionMask[b * T + j] !== 0;

  interface BlockSaved {
    input: Float64Array;
    ln1: NormSaved;
    normed1: Float64Array;
    qkv: Float64Array;
    probs: Float64Array;
    context: Float64Array;
    residual1: Float64Array;
    ln2: NormSaved;
    normed2: Float64Array;
    up: Float64Array;
    activated: Float64Array;
  }
  const saved: BlockSaved[] = [];
  for (let l = 0; l < shape.nLayer; l++) {
    const h = `h.${l}`;
    const input = hidden;
    const { y: normed1, saved: ln1 } = layerNorm(input, N, D, p(`${h}.ln_1.weight`), p(`${h}.ln_1.bias`), eps);
    const qkv = affine(normed1, N, D, 3 * D, p(`${h}.attn.c_attn.weight`), p(`${h}.attn.c_attn.bias`));
    const probs = new Float64Array(B * H * T * T);
    const context = new Float64Array(N * D);
    for (let b = 0; b < B; b++) {
      for (let head = 0; head < H; head++) {
        for (let i = 0; i < T; i++) {
          const scores = new Float64Array(T);
          for (let j = 0; j < T; j++) {
            let s = 0;
            for (let c = 0; c < Dh; c++)
              s += qkv[(b * T + i) * 3 * D + head * Dh + c] * qkv[(b * T + j) * 3 * D + D + head * Dh + c];
            scores[j] = visible(b, i, j) ? s / Math.sqrt(Dh) : -Number.MAX_VALUE;
          }
          const max = Math.max(...scores);
          let total = 0;
          for (let j = 0; j < T; j++) total += Math.exp(scores[j] - max);
          for (let j = 0; j < T; j++) {
            const prob = Math.exp(scores[j] - max) / total;
            probs[((b * H + head) * T + i) * T + j] = prob;
            for (let c = 0; c < Dh; c++)
              context[(b * T + i) * D + head * Dh + c] += prob * qkv[(b * T + j) * 3 * D + 2 * D + head * Dh + c];
          }
        }
      }
    }
    const attended = affine(context, N, D, D, p(`${h}.attn.c_proj.weight`), p(`${h}.attn.c_proj.bias`));
    const residual1 = input.map((v, k) => v + attended[k]);
    const { y: normed2, saved: ln2 } = layerNorm(residual1, N, D, p(`${h}.ln_2.weight`), p(`${h}.ln_2.bias`), eps);
    const up = affine(normed2, N, D, F, p(`${h}.mlp.c_fc.weight`), p(`${h}.mlp.c_fc.bias`));
    const activated = up.map(gelu);
    const down = affine(activated, N, F, D, p(`${h}.mlp.c_proj.weight`), p(`${h}.mlp.c_proj.bias`));
    hidden = residual1.map((v, k) => v + down[k]);
    saved.push({ input, ln1, normed1, qkv, probs, context, residual1, ln2, normed2, up, activated });
  }
  const { y: final, saved: lnf } = layerNorm(hidden, N, D, p('ln_f.weight'), p('ln_f.bias'), eps);
  const head = p('lm_head.weight');
  const logits = new Float64Array(N * V);
  for (let r = 0; r < N; r++)
    for (let v = 0; v < V; v++) for (let i = 0; i < D; i++) logits[r * V + v] += final[r * D + i] * head[v * D + i];

  // Loss: per-token log-likelihood of the label, masked; its gradient is mask · (softmax − one-hot).
  const loss = new Float64Array(B);
  const tokenLogLikelihood = new Float64Array(N);
  const gLogits = new Float64Array(N * V);
  for (let r = 0; r < N; r++) {
    const row = logits.subarray(r * V, (r + 1) * V);
    const max = Math.max(...row);
    const logTotal = Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0)) + max;
    const label = Math.max(0, data.labels[r]);
    const m = data.lossMask[r];
    tokenLogLikelihood[r] = m * (row[label] - logTotal);
    loss[Math.floor(r / T)] -= tokenLogLikelihood[r];
    for (let v = 0; v < V; v++) gLogits[r * V + v] = m * (Math.exp(row[v] - logTotal) - (v === label ? 1 : 0));
  }

  const gFinal = new Float64Array(N * D);
  for (let r = 0; r < N; r++) {
    for (let v = 0; v < V; v++) {
      const gv = gLogits[r * V + v];
      for (let i = 0; i < D; i++) {
        gFinal[r * D + i] += gv * head[v * D + i];
        g('lm_head.weight')[v * D + i] += gv * final[r * D + i];
      }
    }
  }
  let gHidden = layerNormBack(gFinal, lnf, N, D, p('ln_f.weight'), g('ln_f.weight'), g('ln_f.bias'));
  const mlp: MlpTrace[] = new Array(shape.nLayer);
  for (let l = shape.nLayer - 1; l >= 0; l--) {
    const h = `h.${l}`;
    const s = saved[l];
    const gDown = gHidden;
    const gActivated = affineBack(
      s.activated,
      gDown,
      N,
      F,
      D,
      p(`${h}.mlp.c_proj.weight`),
      g(`${h}.mlp.c_proj.weight`),
      g(`${h}.mlp.c_proj.bias`),
    );
    const gUp = gActivated.map((v, k) => v * geluDerivative(s.up[k]));
    mlp[l] = { cFcInput: s.normed2, cFcOutputGrad: gUp, cProjInput: s.activated, cProjOutputGrad: gDown };
    const gNormed2 = affineBack(
      s.normed2,
      gUp,
      N,
      D,
      F,
      p(`${h}.mlp.c_fc.weight`),
      g(`${h}.mlp.c_fc.weight`),
      g(`${h}.mlp.c_fc.bias`),
    );
    const gResidual1 = layerNormBack(
      gNormed2,
      s.ln2,
      N,
      D,
      p(`${h}.ln_2.weight`),
      g(`${h}.ln_2.weight`),
      g(`${h}.ln_2.bias`),
    );
    for (let k = 0; k < gResidual1.length; k++) gResidual1[k] += gHidden[k];
    const gContext = affineBack(
      s.context,
      gResidual1,
      N,
      D,
      D,
      p(`${h}.attn.c_proj.weight`),
      g(`${h}.attn.c_proj.weight`),
      g(`${h}.attn.c_proj.bias`),
    );
    const gQkv = new Float64Array(N * 3 * D);
    for (let b = 0; b < B; b++) {
      for (let head = 0; head < H; head++) {
        for (let i = 0; i < T; i++) {
          const probRow = (j: number) => s.probs[((b * H + head) * T + i) * T + j];
          const gProb = new Float64Array(T);
          for (let j = 0; j < T; j++) {
            for (let c = 0; c < Dh; c++) {
              const gc = gContext[(b * T + i) * D + head * Dh + c];
              gProb[j] += gc * s.qkv[(b * T + j) * 3 * D + 2 * D + head * Dh + c];
              gQkv[(b * T + j) * 3 * D + 2 * D + head * Dh + c] += probRow(j) * gc;
            }
          }
          let dot = 0;
          for (let j = 0; j < T; j++) dot += probRow(j) * gProb[j];
          for (let j = 0; j < T; j++) {
            if (!visible(b, i, j)) continue;
            const gScore = (probRow(j) * (gProb[j] - dot)) / Math.sqrt(Dh);
            for (let c = 0; c < Dh; c++) {
              gQkv[(b * T + i) * 3 * D + head * Dh + c] += gScore * s.qkv[(b * T + j) * 3 * D + D + head * Dh + c];
              gQkv[(b * T + j) * 3 * D + D + head * Dh + c] += gScore * s.qkv[(b * T + i) * 3 * D + head * Dh + c];
            }
          }
        }
      }
    }
    const gNormed1 = affineBack(
      s.normed1,
      gQkv,
      N,
      D,
      3 * D,
      p(`${h}.attn.c_attn.weight`),
      g(`${h}.attn.c_attn.weight`),
      g(`${h}.attn.c_attn.bias`),
    );
    const gInput = layerNormBack(
      gNormed1,
      s.ln1,
      N,
      D,
      p(`${h}.ln_1.weight`),
      g(`${h}.ln_1.weight`),
      g(`${h}.ln_1.bias`),
    );
    gHidden = gInput.map((v, k) => v + gResidual1[k]);
  }
  for (let r = 0; r < N; r++) {
    const id = data.inputIds[r];
    const t = r % T;
    for (let i = 0; i < D; i++) {
      g('wte.weight')[id * D + i] += gHidden[r * D + i];
      g('wpe.weight')[t * D + i] += gHidden[r * D + i];
    }
  }
  return { logits, loss, tokenLogLikelihood, gradients, mlp };
}
