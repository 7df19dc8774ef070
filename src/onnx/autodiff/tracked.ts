/**
 * Choosing the tracked layers: MatMul or Gemm nodes whose weight (input 1) is a 2-D floating-point initializer,
 * selected by node name. A MatMul whose only consumer is an Add with a 1-D initializer of size d_out is one layer
 * with a bias (as kronfluence treats nn.Linear); so is a Gemm whose C is such an initializer.
 */
import { isFloatType, type Graph, type Node } from '../ir';
import { DEFAULT_TRACKED, type GradientSpec } from '../gradient-spec';
import { floatAttr, intAttr } from './shapes';

export interface TrackedCandidate {
  readonly node: Node;
  readonly weightName: string;
  readonly weightLayout: 'in-out' | 'out-in';
  readonly dIn: number;
  readonly dOut: number;
  readonly biasName: string | null;
  readonly biasNodeName: string | null;
  /** The MatMul/Gemm's own output (before any bias Add): g is the gradient of this value. */
  readonly output: string;
  /** The layer's input activation. */
  readonly input: string;
}

function describe(node: Node): string {
  return `${node.opType} "${node.name}"`;
}

/** Why a node cannot be a tracked layer, or null when it can. */
function disqualification(graph: Graph, node: Node): string | null {
  if (node.opType !== 'MatMul' && node.opType !== 'Gemm') return `it is a ${node.opType}, not a MatMul or Gemm`;
  const weight = graph.initializers.get(node.inputs[1]);
  if (!weight) return `its weight input "${node.inputs[1]}" is not an initializer`;
  if (!isFloatType(weight.dataType) || weight.dims.length !== 2)
    return `its weight "${weight.name}" is not a 2-D floating-point tensor`;
  if (node.opType === 'Gemm' && intAttr(node, 'transA', 0)) return 'it is a Gemm with transA = 1';
  if (node.opType === 'Gemm' && floatAttr(node, 'alpha', 1) !== 1) return 'it is a Gemm with alpha ≠ 1';
  return null;
}

function candidate(graph: Graph, node: Node, consumers: ReadonlyMap<string, Node[]>): TrackedCandidate {
  const weight = graph.initializers.get(node.inputs[1])!;
  const outIn = node.opType === 'Gemm' && intAttr(node, 'transB', 0) === 1;
  const [dIn, dOut] = outIn ? [weight.dims[1], weight.dims[0]] : [weight.dims[0], weight.dims[1]];
  const isBias = (name: string | undefined): boolean => {
    const bias = name ? graph.initializers.get(name) : undefined;
    return (
      !!bias &&
      isFloatType(bias.dataType) &&
      bias.dims.reduce((p, d) => p * d, 1) === dOut &&
      bias.dims[bias.dims.length - 1] === dOut &&
      bias.dims.length <= 2
    );
  };
  let biasName: string | null = null;
  let biasNodeName: string | null = null;
  const output = node.outputs[0];
  if (node.opType === 'Gemm') {
    if (isBias(node.inputs[2]) && floatAttr(node, 'beta', 1) === 1) biasName = node.inputs[2];
  } else {
    const users = consumers.get(output) ?? [];
    const add = users.length === 1 && users[0].opType === 'Add' ? users[0] : null;
    const other = add ? add.inputs.find((i) => i !== output) : undefined;
    if (add && isBias(other) && !graph.outputs.some((o) => o.name === output)) {
      biasName = other!;
      biasNodeName = add.name;
    }
  }
  return {
    node,
    weightName: weight.name,
    weightLayout: outIn ? 'out-in' : 'in-out',
    dIn,
    dOut,
    biasName,
    biasNodeName,
    output,
    input: node.inputs[0],
  };
}

export function findTrackedLayers(graph: Graph, tracked: GradientSpec['tracked']): TrackedCandidate[] {
  const consumers = new Map<string, Node[]>();
  for (const node of graph.nodes)
    for (const input of node.inputs) consumers.set(input, [...(consumers.get(input) ?? []), node]);
  const qualifying = graph.nodes.filter((node) => disqualification(graph, node) === null);
  let chosen: Node[];
  if (Array.isArray(tracked)) {
    chosen = tracked.map((name) => {
      const node = graph.nodes.find((n) => n.name === name);
      if (!node) throw new Error(`tracked layer "${name}": no node of that name in graph "${graph.name}"`);
      const why = disqualification(graph, node);
      if (why) throw new Error(`tracked layer "${name}" cannot be tracked: ${why}`);
      return node;
    });
  } else {
    const given = (tracked as RegExp | undefined) ?? DEFAULT_TRACKED;
    // Without the g/y flags: .test() on a global RegExp is stateful and would skip every other match.
    const pattern = new RegExp(given.source, given.flags.replace(/[gy]/g, ''));
    chosen = qualifying.filter((node) => pattern.test(node.name));
    if (chosen.length === 0) {
      const names = qualifying.map(describe).join(', ') || 'none';
      throw new Error(
        `no tracked layer: no MatMul/Gemm with an initializer weight has a name matching ${pattern} (candidates: ${names})`,
      );
    }
  }
  return chosen.map((node) => candidate(graph, node, consumers));
}
