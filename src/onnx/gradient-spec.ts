/**
 * The types of the gradient graph (what goes in: GradientSpec; what comes out: GradientGraph), apart from the code
 * that builds it, so the autodiff can use them without importing its own caller.
 */
import type { DataType, Dim, Model } from './ir';

/**
 * Which per-example loss the graph appends to the forward outputs. The loss of a batch is the SUM over its examples
 * (so g is the gradient of each example's own loss: examples never mix).
 */
export type LossSpec =
  /**
   * Causal-LM token cross-entropy. Extra graph inputs: `labels` int64 [B, T] (the target predicted AT position t,
   * i.e. already shifted: labels[b, t] = input_ids[b, t+1] for given labels; where masked, any valid index or a
   * negative one such as −100) and
   * `loss_mask` [B, T] in the model's float type (1 on response targets, 0 on prompt and padding).
   * Per-example loss = −Σ_t loss_mask·log p(labels[t] | logits[t]). Labels are always a graph input: the data's
   * (scoring, training, empirical Fisher), or drawn by `sampleLabels` from the logits of a first run of the same
   * graph (true Fisher; any labels will do for that first run, the logits do not depend on them).
   */
  | { readonly kind: 'token-cross-entropy'; readonly logits?: string }
  /**
   * Classifier cross-entropy: logits [B, C], extra input `labels` int64 [B]; per-example loss = −log
   * softmax(logits)[label].
   */
  | { readonly kind: 'cross-entropy'; readonly logits?: string }
  /**
   * Squared error, summed (no ½, as torch's mse_loss(reduction='sum')): outputs [B, …], extra input `targets` of the
   * same shape and float type; per-example loss = Σ (output − target)².
   */
  | { readonly kind: 'mse'; readonly output?: string };

export interface GradientSpec {
  readonly loss: LossSpec;
  /**
   * Which MatMul/Gemm nodes (weight = an initializer) are tracked: a RegExp tested against node names, or an explicit
   * list of node names (each must exist and qualify, else an Error; [] tracks nothing, for parameter gradients only).
   * Default: `DEFAULT_TRACKED`, the MLP projections.
   */
  readonly tracked?: RegExp | readonly string[];
  /**
   * Element types and ranks recorded from a forward run (onnx/observe-shapes.ts) for the values static inference
   * could not decide; used only where the graph and the inference say nothing.
   */
  readonly observed?: ReadonlyMap<string, { readonly type: DataType | null; readonly dims: readonly Dim[] | null }>;
  /**
   * Also output the gradient of the summed loss w.r.t. every floating-point initializer of rank ≥ 1 (training;
   * rank-0 initializers are the constants exporters store, not parameters). Default false.
   */
  readonly parameterGradients?: boolean;
}

/**
 * The default choice of tracked layers: the MLP (feed-forward) projections, as the paper tracks MLP parameters only.
 * A node qualifies when its name has a path segment naming an MLP block or an MLP projection
 * (mlp, ffn, feed_forward, c_fc, fc1…, up, up_proj, down, down_proj, gate_proj, fc_in, fc_out, dense_h_to_4h,
 * dense_4h_to_h, w1/w2/w3) and no segment naming attention (attn, attention, self_attn, q_proj, …).
 * GPT-2's `/h.0/mlp/c_fc/MatMul` and `/h.0/mlp/c_proj/MatMul` qualify; `/h.0/attn/c_proj/MatMul` does not.
 */
export const DEFAULT_TRACKED =
  /^(?!.*(?:^|[/._:])(?:attn|attention|self_attn|cross_attn|q_proj|k_proj|v_proj|o_proj|qkv|c_attn)(?:[/._:]|$)).*(?:^|[/._:])(?:mlp|ffn|feed_?forward|c_fc|fc\d*|fc_in|fc_out|up|up_proj|down|down_proj|gate_proj|dense_h_to_4h|dense_4h_to_h|w[123])(?:[/._:]|$)/i;

export interface TrackedLayer {
  /** The MatMul or Gemm node's name, as the exporter wrote it (it keeps the module path). */
  readonly nodeName: string;
  readonly opType: 'MatMul' | 'Gemm';
  /** The weight initializer's name (exporters rename weights: show users both names). */
  readonly weightName: string;
  /** 'in-out': stored [d_in, d_out] (MatMul, Gemm transB=0); 'out-in': stored [d_out, d_in] (Gemm transB=1). */
  readonly weightLayout: 'in-out' | 'out-in';
  readonly dIn: number;
  readonly dOut: number;
  readonly hasBias: boolean;
  /** The bias initializer (MatMul → Add(bias), or Gemm's C), or null. */
  readonly biasName: string | null;
  /** The Add node folded into this layer (MatMul + bias), or null. */
  readonly biasNodeName: string | null;
  /** Graph output holding a, [B, T, d_in]. */
  readonly activationOutput: string;
  /** Graph output holding g, [B, T, d_out]. */
  readonly gradientOutput: string;
}

export interface GradientGraph {
  /** The gradient graph: the forward inputs and outputs, plus the loss inputs and the outputs below. */
  readonly model: Model;
  /** The float type of the loss and all gradients (the logits' / outputs' type). */
  readonly floatType: DataType;
  readonly layers: readonly TrackedLayer[];
  readonly inputs: {
    /** The forward model's own inputs, in order (e.g. input_ids, attention_mask, or features). */
    readonly forward: readonly string[];
    /** 'labels' (token-cross-entropy, cross-entropy) or 'targets' (mse). */
    readonly labels: string;
    /** 'loss_mask' for token-cross-entropy, else null. */
    readonly lossMask: string | null;
  };
  readonly outputs: {
    /** The forward model's own outputs, in order (logits, …). */
    readonly forward: readonly string[];
    /** Per-example loss [B]. */
    readonly loss: string;
    /**
     * Log-likelihood of each label: [B, T] for token-cross-entropy (0 where masked), [B] for cross-entropy; null for
     * mse.
     */
    readonly tokenLogLikelihoods: string | null;
    /** Initializer name → graph output holding d(Σ loss)/d(initializer), same shape; only with parameterGradients. */
    readonly parameterGradients: ReadonlyMap<string, string> | null;
  };
}
