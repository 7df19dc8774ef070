/**
 * Finding a transformer's MLP projections by the graph's structure, not by node names (the dynamo exporter writes
 * `node_Gemm_193`; torch.onnx may name a block's second `c_proj` `c_proj_1`): a linear layer is an MLP *down*
 * projection when its input is computed, through elementwise and reshaping ops only, from other linear layers'
 * outputs and that path passes through a nonlinearity (GELU, tanh, erf, SiLU's sigmoid, ReLU, …). Those linear
 * layers are the block's *up* projections (the one behind the nonlinearity of a gated MLP is its *gate*).
 *
 * Why attention is never found: its output projection reads softmax(q·kᵀ)·v, a MatMul of two activations, which
 * is not a linear layer and not elementwise, so the walk stops there. The residual stream (Adds) and normalisations
 * (LayerNormalization, or ReduceMean + elementwise ops) reach earlier layers only without a nonlinearity.
 */
import type { Graph, Node } from './ir';

export type MlpRole = 'up' | 'gate' | 'down';

export interface MlpProjection {
  readonly node: string;
  readonly role: MlpRole;
  /** Which MLP (0, 1, …, in graph order of the down projections). */
  readonly block: number;
}

/** Ops that keep values "the same activation" elementwise or only reshape them: the walk passes through them. */
const PASSTHROUGH = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Neg',
  'Identity',
  'Cast',
  'Dropout',
  'Reshape',
  'Flatten',
  'Squeeze',
  'Unsqueeze',
  'Split',
  'Slice',
]);

/** Nonlinearities of MLPs (GELU in its erf and tanh spellings, SiLU = x·sigmoid(x), ReLU and relatives). */
const NONLINEAR = new Set([
  'Gelu',
  'FastGelu',
  'BiasGelu',
  'QuickGelu',
  'Erf',
  'Tanh',
  'Sigmoid',
  'HardSigmoid',
  'HardSwish',
  'Relu',
  'LeakyRelu',
  'Elu',
  'Selu',
  'Softplus',
  'Mish',
]);

interface Reached {
  readonly node: Node;
  readonly throughNonlinearity: boolean;
}

/**
 * The MLP projections among `linears` (the graph's linear layers: MatMul/Gemm nodes with a weight initializer), by
 * node name. The walk is bounded (depth 64, each value visited once per layer), so a hostile graph costs little.
 */
export function findMlpProjections(graph: Graph, linears: readonly Node[]): Map<string, MlpProjection> {
  const producer = new Map<string, Node>();
  for (const node of graph.nodes) for (const output of node.outputs) producer.set(output, node);
  const linearSet = new Set(linears);
  const found = new Map<string, MlpProjection>();
  let block = 0;
  for (const layer of graph.nodes) {
    if (!linearSet.has(layer)) continue;
    const reached = walkBack(layer.inputs[0] ?? '', producer, linearSet, graph);
    if (!reached.some((r) => r.throughNonlinearity)) continue;
    const ups = new Map<Node, boolean>();
    for (const r of reached) ups.set(r.node, (ups.get(r.node) ?? false) || r.throughNonlinearity);
    const gated = ups.size > 1;
    for (const [node, nonlinear] of ups) {
      if (!found.has(node.name))
        found.set(node.name, { node: node.name, role: gated && nonlinear ? 'gate' : 'up', block });
    }
    found.set(layer.name, { node: layer.name, role: 'down', block });
    block++;
  }
  return found;
}

function walkBack(
  start: string,
  producer: ReadonlyMap<string, Node>,
  linears: ReadonlySet<Node>,
  graph: Graph,
): Reached[] {
  const reached: Reached[] = [];
  const seen = new Set<string>();
  const visit = (value: string, nonlinear: boolean, depth: number): void => {
    const key = `${value}|${nonlinear}`;
    if (!value || depth > 64 || seen.has(key) || graph.initializers.has(value)) return;
    seen.add(key);
    const node = producer.get(value);
    if (!node) return;
    if (linears.has(node)) {
      reached.push({ node, throughNonlinearity: nonlinear });
      return;
    }
    const isNonlinear = NONLINEAR.has(node.opType);
    if (!isNonlinear && !PASSTHROUGH.has(node.opType)) return;
    // Only the data operand of a reshaping op carries the activation (the others are shapes, axes, starts).
    const operands =
      PASSTHROUGH.has(node.opType) && !ELEMENTWISE.has(node.opType) ? node.inputs.slice(0, 1) : node.inputs;
    for (const input of operands) visit(input, nonlinear || isNonlinear, depth + 1);
  };
  visit(start, false, 0);
  return reached;
}

const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow']);
