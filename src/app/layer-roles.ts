/**
 * What each linear layer of a model is, and which exporter wrote the graph, said before a run (`iwb layers`, the
 * page's Layers panel). MLP roles come from the graph's structure (onnx/mlp-structure.ts); attention projections,
 * fused projections and the output head from the names Hugging Face modules give them (node or weight name) and,
 * for the head, from its width being the vocabulary.
 */
import type { LinearLayerInfo } from '../onnx/gradient-graph';
import type { Model } from '../onnx/ir';

const BY_NAME: readonly (readonly [RegExp, string])[] = [
  [/qkv_proj|query_key_value|c_attn\b|Wqkv|in_proj/i, 'attention q/k/v (fused)'],
  [/gate_up_proj|dense_h_to_4h_gate|fc_in_gate/i, 'MLP gate/up (fused)'],
  [/(^|[/._])(q_proj|query|wq|q)([/._]|$)/i, 'attention q'],
  [/(^|[/._])(k_proj|key|wk|k)([/._]|$)/i, 'attention k'],
  [/(^|[/._])(v_proj|value|wv|v)([/._]|$)/i, 'attention v'],
  [/o_proj|out_proj|(attn|attention)[/._](c_proj|dense|wo)\b|self_attn[/._]dense/i, 'attention o'],
  [/lm_head|embed_out|output_projection/i, 'output head'],
];

/** The layer's role in words: 'MLP 0 up', 'attention q', 'attention q/k/v (fused)', 'output head', or ''. */
export function layerRole(layer: LinearLayerInfo, vocabulary: number | null): string {
  const names = `${layer.nodeName} ${layer.weightName}`;
  const fused = BY_NAME.slice(0, 2).find(([pattern]) => pattern.test(names));
  if (fused) return fused[1];
  if (layer.mlpRole) return `MLP ${layer.mlpBlock} ${layer.mlpRole}`;
  const named = BY_NAME.slice(2).find(([pattern]) => pattern.test(names));
  if (named) return named[1];
  if (vocabulary !== null && layer.dOut === vocabulary) return 'output head';
  return layer.nameMatches ? 'MLP (by name)' : '';
}

/** Which exporter's style the graph shows, in words (as far as names and ops tell). */
export function exporterStyle(model: Model): string {
  const { nodes, inputs } = model.graph;
  const styles: string[] = [];
  if (nodes.some((n) => n.domain === 'com.microsoft')) styles.push("onnxruntime's transformer optimizer or quantizer");
  if (inputs.some((i) => i.name.startsWith('past_key_values.'))) styles.push('Optimum with past key values');
  const named = nodes.filter((n) => n.name !== '');
  const paths = named.filter((n) => n.name.startsWith('/')).length;
  const anonymous = named.filter((n) => /^node_[A-Za-z]+_\d+$/.test(n.name)).length;
  if (paths > named.length / 2) styles.push('torch.onnx (TorchScript: module-path names)');
  else if (anonymous > named.length / 2) styles.push('torch.onnx dynamo (node_<Op>_<n> names)');
  if (model.producerName && styles.length === 0) styles.push(`written by ${model.producerName}`);
  return styles.join('; ') || 'not recognised';
}
