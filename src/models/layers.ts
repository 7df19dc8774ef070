/**
 * Layer emitters: the node patterns torch.onnx writes for common modules (opset 17), each inside its module's scope.
 */
import { attr, type GraphBuilder } from '../onnx/builder';
import type { DataType } from '../onnx/ir';
import { requireWeight, transposed, type Weights } from './weights';

export type LinearForm = 'gemm' | 'matmul';

export interface LinearSpec {
  /** The module's name inside the current scope: its nodes are '<scope>/<module>/MatMul' ... */
  readonly module: string;
  /** Its parameters' prefix ('h.0.mlp.c_fc' → 'h.0.mlp.c_fc.weight'); default `module`. */
  readonly param?: string;
  readonly dIn: number;
  readonly dOut: number;
  readonly bias: boolean;
  /**
   * How the weight is stored in `weights`: 'out-in' is nn.Linear ([d_out, d_in]), 'in-out' is GPT-2's Conv1D.
   * A MatMul needs [d_in, d_out]; an 'out-in' weight on the MatMul path becomes the initializer '<module>.weight.T'
   * (torch.onnx folds the same transpose into an initializer of its own, 'onnx::MatMul_NNN').
   */
  readonly layout: 'out-in' | 'in-out';
  /** Name of the layer's result (e.g. the graph output 'logits'); default an exporter-style name. */
  readonly outputName?: string;
}

/**
 * y = x Wᵀ + b. 'gemm' (2-D inputs only): one Gemm with transB=1 on the nn.Linear weight, as torch.onnx exports
 * nn.Linear on a matrix. 'matmul': MatMul then Add(bias), as it exports nn.Linear on [B, T, d] inputs.
 */
export function linear(b: GraphBuilder, weights: Weights, x: string, spec: LinearSpec, form: LinearForm): string {
  const param = spec.param ?? spec.module;
  const last = spec.outputName ? { outputs: [spec.outputName] } : {};
  return b.scope(spec.module, () => {
    const stored = spec.layout === 'out-in' ? [spec.dOut, spec.dIn] : [spec.dIn, spec.dOut];
    const weight = requireWeight(weights, `${param}.weight`, stored);
    const biasName = `${param}.bias`;
    const bias = spec.bias
      ? b.initializer(biasName, [spec.dOut], requireWeight(weights, biasName, [spec.dOut]).data)
      : null;
    if (form === 'gemm') {
      const w = b.initializer(`${param}.weight`, weight.dims, weight.data);
      const transB = spec.layout === 'out-in' ? 1 : 0;
      const gemmAttributes = { alpha: attr.float(1), beta: attr.float(1), transB: attr.int(transB) };
      return b.op1('Gemm', bias ? [x, w, bias] : [x, w], gemmAttributes, last);
    }
    const inOut = spec.layout === 'out-in' ? transposed(weight) : weight;
    const w = b.initializer(spec.layout === 'out-in' ? `${param}.weight.T` : `${param}.weight`, inOut.dims, inOut.data);
    if (!bias) return b.op1('MatMul', [x, w], {}, last);
    return b.op1('Add', [b.op1('MatMul', [x, w]), bias], {}, last);
  });
}

/** LayerNormalization over the last axis with '<param>.weight' and '<param>.bias', in scope `module`. */
export function layerNorm(
  b: GraphBuilder,
  weights: Weights,
  x: string,
  module: string,
  param: string,
  dim: number,
  epsilon: number,
): string {
  return b.scope(module, () => {
    const scale = b.initializer(`${param}.weight`, [dim], requireWeight(weights, `${param}.weight`, [dim]).data);
    const shift = b.initializer(`${param}.bias`, [dim], requireWeight(weights, `${param}.bias`, [dim]).data);
    return b.op1('LayerNormalization', [x, scale, shift], { axis: attr.int(-1), epsilon: attr.float(epsilon) });
  });
}

export type GeluForm = 'erf' | 'tanh';

/**
 * GELU as opset 17 graphs spell it (the Gelu op arrives in opset 20):
 * 'erf':  0.5·x·(1 + erf(x/√2))                          (torch.nn.GELU())
 * 'tanh': 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))     (GPT-2's gelu_new, GELU(approximate='tanh'))
 */
export function gelu(b: GraphBuilder, x: string, form: GeluForm, floatType: DataType): string {
  const c = (value: number) => b.scalar(value, floatType);
  let inner: string;
  if (form === 'erf') {
    inner = b.op1('Erf', [b.op1('Div', [x, c(Math.SQRT2)])]);
  } else {
    const cube = b.op1('Pow', [x, c(3)]);
    const poly = b.op1('Add', [x, b.op1('Mul', [cube, c(0.044715)])]);
    inner = b.op1('Tanh', [b.op1('Mul', [poly, c(Math.sqrt(2 / Math.PI))])]);
  }
  const onePlus = b.op1('Add', [inner, c(1)]);
  return b.op1('Mul', [b.op1('Mul', [x, onePlus]), c(0.5)]);
}
