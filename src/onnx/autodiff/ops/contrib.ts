/**
 * Microsoft contrib ops (domain com.microsoft) that onnxruntime's transformer optimizer writes. FastGelu and BiasGelu
 * (a bias Add fused into GELU) are differentiated here, the fused normalizations in normalization.ts; the fused
 * attention and rotary ops are refused before any work, with one line saying how to export without them.
 * MatMulNBits (4-bit weights) is dequantized when the model is loaded, not here.
 */
import type { Vjp } from '../vjp-context';
import { unbroadcast } from '../vjp-context';
import { geluGrad } from './elementwise';
import { broadcast } from './infer-rules';
import type { OpEntry } from './types';

const UNFUSED =
  'export the model without onnxruntime transformers optimization (plain torch.onnx.export, or optimum-cli export onnx without --optimize)';

function refused(what: string): OpEntry {
  return { refuse: `${what} has no gradient rule here; ${UNFUSED}` };
}

/** y = GELU(x + bias): the gradient of the sum, reduced back to x and to the bias. */
function biasedGelu(tanh: boolean): Vjp {
  return (ctx, [gy]) => {
    const [x, bias] = ctx.node.inputs;
    if (!gy) return ctx.node.inputs.map(() => null);
    const y = ctx.node.outputs[0];
    const z = bias ? ctx.emit.op('Add', [x, bias]) : x;
    const gz = geluGrad(ctx, gy, z, tanh);
    return [
      ctx.wants(0) ? unbroadcast(ctx, gz, x, y) : null,
      ...(bias ? [ctx.wants(1) ? unbroadcast(ctx, gz, bias, y) : null] : []),
    ];
  };
}

export const contribOps: Record<string, OpEntry> = {
  'com.microsoft.FastGelu': { infer: broadcast(), vjp: biasedGelu(true) },
  'com.microsoft.BiasGelu': { infer: broadcast(), vjp: biasedGelu(false) },
  'com.microsoft.RotaryEmbedding': refused('the fused rotary embedding (com.microsoft.RotaryEmbedding)'),
  'com.microsoft.GroupQueryAttention': refused('fused grouped-query attention (com.microsoft.GroupQueryAttention)'),
  'com.microsoft.MultiHeadAttention': refused('fused multi-head attention (com.microsoft.MultiHeadAttention)'),
  'com.microsoft.Attention': refused('fused attention (com.microsoft.Attention)'),
};
