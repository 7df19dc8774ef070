/**
 * Microsoft contrib ops (domain com.microsoft) that onnxruntime's transformer optimizer writes. Those without a
 * gradient rule here are refused before any work, with one line saying how to export without them.
 */
import type { OpEntry } from './types';

const UNFUSED =
  'export the model without onnxruntime transformers optimization (plain torch.onnx.export or optimum-cli export onnx with --optimize left out)';

function refused(what: string): OpEntry {
  return { refuse: `${what} has no gradient rule here; ${UNFUSED}` };
}

export const contribOps: Record<string, OpEntry> = {
  'com.microsoft.RotaryEmbedding': refused('the fused rotary embedding'),
  'com.microsoft.GroupQueryAttention': refused('fused grouped-query attention'),
  'com.microsoft.MultiHeadAttention': refused('fused multi-head attention'),
  'com.microsoft.Attention': refused('fused attention'),
};
