/**
 * Optimum's merged decoder (decoder_model_merged.onnx): one graph whose If on the boolean input `use_cache_branch`
 * runs either the with-past subgraph or the no-past one. The workbench feeds whole sequences and no cache, so on load
 * the If is replaced by its else branch (the no-cache one), inlined into the graph: its nodes and initializers move
 * up, its outputs take the If's output names, and `use_cache_branch` and the past inputs only the other branch read
 * are dropped. The result is the plain decoder the exporter merged, and attributes like one.
 */
import type { Graph, Model, Node, TensorInit } from './ir';

const FLAG = 'use_cache_branch';

export function withoutCacheBranch(model: Model): Model {
  const graph = model.graph;
  if (!graph.inputs.some((i) => i.name === FLAG)) return model;
  const nodes: Node[] = [];
  const initializers = new Map<string, TensorInit>(graph.initializers);
  for (const node of graph.nodes) {
    if (node.opType !== 'If' || node.inputs[0] !== FLAG) {
      nodes.push(node);
      continue;
    }
    const branch = node.attributes.else_branch;
    if (branch?.type !== 'graph')
      throw new Error(`merged decoder: If node "${node.name}" on ${FLAG} has no else_branch graph`);
    const inner: Graph = branch.value;
    const rename = new Map(inner.outputs.map((o, i) => [o.name, node.outputs[i] ?? '']));
    const produced = new Set(inner.nodes.flatMap((n) => n.outputs));
    const name = (value: string) => rename.get(value) ?? value;
    for (const [key, tensor] of inner.initializers) {
      if (initializers.has(key))
        throw new Error(`merged decoder: the no-cache branch's initializer "${key}" clashes with the graph's own`);
      initializers.set(key, tensor);
    }
    for (const n of inner.nodes) nodes.push({ ...n, inputs: n.inputs.map(name), outputs: n.outputs.map(name) });
    // A branch output that no branch node computes passes an outer value (or initializer) through.
    for (const [from, to] of rename)
      if (!produced.has(from) && to)
        nodes.push({
          name: `${node.name}/${to}`,
          opType: 'Identity',
          domain: '',
          inputs: [from],
          outputs: [to],
          attributes: {},
        });
  }
  const read = new Set(nodes.flatMap((n) => n.inputs));
  const inputs = graph.inputs.filter(
    (i) => i.name !== FLAG && (read.has(i.name) || !i.name.startsWith('past_key_values')),
  );
  return { ...model, graph: { ...graph, nodes, initializers, inputs } };
}
