/**
 * The gradient graph: a forward ONNX model plus a loss spec becomes ONE inference graph that still computes the
 * forward outputs and also the backward pass (reverse-mode autodiff, src/onnx/autodiff). onnxruntime-web runs it
 * like any other model. Its extra outputs are what EK-FAC needs: per tracked layer the input activations a and the
 * gradient g of the summed loss with respect to the layer's output, the per-example loss, per-token log-likelihoods,
 * and optionally the gradient of every parameter (for training).
 *
 * Layout contract (what the engine binds):
 * - a: [B, T, d_in]  (the layer's input, WITHOUT the bias column; append the 1 yourself when `hasBias`)
 * - g: [B, T, d_out] (gradient of Σ_examples loss w.r.t. the layer output; for a bias layer the pre-add output,
 *   which has the same gradient as the post-add one)
 *   B is axis 0 of the model's FIRST input (input_ids, features): layers whose input is [B, d] (classifiers,
 *   regressions) get T = 1, inputs of rank > 3 fold the middle axes into T, and a layer applied to flattened rows
 *   [B·T, d] (HF's Conv1D exports as Reshape → Gemm) gets its rows back as [B, T, d].
 * - Σ_t g(n,t) a(n,t)ᵀ is the per-example gradient of the weight as a [d_out × d_in] matrix (whatever the stored
 *   initializer's layout: see `weightLayout`), Σ_t g(n,t) that of the bias.
 */
import type { GradientGraph, GradientSpec } from './gradient-spec';
import type { Model } from './ir';
import { buildGradientModel } from './autodiff/transform';

export * from './gradient-spec';

/**
 * Build the gradient graph. Throws before anything runs when an op that the loss depends on has no VJP
 * (`unsupported op "X" at node "/a/b" …`), when a tracked name is missing or not a MatMul/Gemm with an initializer
 * weight, or when no layer is tracked.
 */
export function buildGradientGraph(model: Model, spec: GradientSpec): GradientGraph {
  return buildGradientModel(model, spec);
}

export { sampleLabels, sampleRegressionTargets, nextTokenTargets, counterUniform } from './autodiff/sample-labels';
export type { SampleLabelsOptions, SampleTargetsOptions, NextTokenTargets } from './autodiff/sample-labels';
/** The op types the autodiff has VJPs for (integer/boolean side paths need none). */
export { SUPPORTED_OPS } from './autodiff/transform';
export { listLinearLayers, type LinearLayerInfo } from './autodiff/tracked';
export { UnknownShapeError } from './autodiff/facts';
