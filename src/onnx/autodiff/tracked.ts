/**
 * Choosing the tracked layers among the graph's linear layers: MatMul or Gemm nodes whose weight (input 1) is a 2-D
 * floating-point initializer — directly, or through Identity, Cast and 2-D Transpose nodes (the dynamo exporter
 * reads nn.Linear weights through a Transpose; tied weights and in-graph casts look the same). A MatMul whose only
 * consumer is an Add with a 1-D initializer of size d_out is one layer with a bias (as kronfluence treats
 * nn.Linear); so is a Gemm whose C is such an initializer (with beta = 1: a scaled bias is left untracked).
 *
 * By default the MLP projections are tracked: those the graph's structure shows (mlp-structure.ts) and those whose
 * names say so (DEFAULT_TRACKED). A RegExp or a list of node names chooses explicitly.
 */
import { isFloatType, type Graph, type Node, type TensorInit } from '../ir';
import { DEFAULT_TRACKED, type GradientSpec } from '../gradient-spec';
import { findMlpProjections, type MlpRole } from '../mlp-structure';
import { floatAttr, intAttr } from './facts';

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
  /** The layer's input activation (for a Gemm with transA = 1, the transpose of a is this value). */
  readonly input: string;
  /** Gemm transA = 1: the activations are the rows of input's transpose. */
  readonly inputTransposed: boolean;
  /** Gemm alpha: y = alpha·a·W, so alpha·a is the activation whose outer product with g is W's gradient. */
  readonly inputScale: number;
}

/** A linear layer of the graph, as `iwb layers` and the page list them before a run. */
export interface LinearLayerInfo {
  readonly nodeName: string;
  readonly opType: 'MatMul' | 'Gemm';
  readonly weightName: string;
  readonly dIn: number;
  readonly dOut: number;
  readonly hasBias: boolean;
  /** Its role in an MLP when the structure shows one ('up', 'gate', 'down'), else null. */
  readonly mlpRole: MlpRole | null;
  /** Which MLP block, when mlpRole is set. */
  readonly mlpBlock: number | null;
  /** Whether its name matches DEFAULT_TRACKED. */
  readonly nameMatches: boolean;
  /** Whether the run's choice (default or given) tracks it. */
  readonly tracked: boolean;
}

function describe(node: Node): string {
  return `${node.opType} "${node.name}"`;
}

interface WeightSource {
  readonly tensor: TensorInit;
  /** Whether the value the node reads is the initializer's transpose. */
  readonly transposed: boolean;
}

type Producers = ReadonlyMap<string, Node>;

/** The initializer behind a weight value, through Identity, Cast and 2-D Transpose (at most 4 hops). */
function weightSource(graph: Graph, producers: Producers, value: string): WeightSource | null {
  let name = value;
  let transposed = false;
  for (let hops = 0; hops <= 4; hops++) {
    const tensor = graph.initializers.get(name);
    if (tensor) return { tensor, transposed };
    const node = producers.get(name);
    if (!node) return null;
    if (node.opType === 'Transpose') {
      const perm = node.attributes.perm;
      const swaps = !perm || (perm.type === 'ints' && perm.value.length === 2 && perm.value[0] === 1);
      if (!swaps) return null;
      transposed = !transposed;
    } else if (node.opType !== 'Identity' && node.opType !== 'Cast') return null;
    name = node.inputs[0] ?? '';
  }
  return null;
}

/** Why a node cannot be a tracked layer, or null when it can. */
function disqualification(graph: Graph, producers: Producers, node: Node): string | null {
  if (node.opType !== 'MatMul' && node.opType !== 'Gemm') return `it is a ${node.opType}, not a MatMul or Gemm`;
  const source = weightSource(graph, producers, node.inputs[1] ?? '');
  if (!source) return `its weight input "${node.inputs[1]}" is not an initializer (or a transpose or cast of one)`;
  if (!isFloatType(source.tensor.dataType) || source.tensor.dims.length !== 2)
    return `its weight "${source.tensor.name}" is not a 2-D floating-point tensor`;
  return null;
}

function candidate(
  graph: Graph,
  producers: Producers,
  node: Node,
  consumers: ReadonlyMap<string, Node[]>,
): TrackedCandidate {
  const { tensor: weight, transposed } = weightSource(graph, producers, node.inputs[1])!;
  const isGemm = node.opType === 'Gemm';
  // The [d_in, d_out] matrix the layer multiplies by is the stored one, or its transpose.
  const outIn = transposed !== (isGemm && intAttr(node, 'transB', 0) === 1);
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
  if (isGemm) {
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
    inputTransposed: isGemm && intAttr(node, 'transA', 0) === 1,
    inputScale: isGemm ? floatAttr(node, 'alpha', 1) : 1,
  };
}

interface Analysis {
  readonly producers: Producers;
  readonly consumers: ReadonlyMap<string, Node[]>;
  /** Every MatMul/Gemm that qualifies, in graph order. */
  readonly linears: readonly Node[];
}

function analyse(graph: Graph): Analysis {
  const producers = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const node of graph.nodes) {
    for (const output of node.outputs) producers.set(output, node);
    for (const input of node.inputs) consumers.set(input, [...(consumers.get(input) ?? []), node]);
  }
  const linears = graph.nodes.filter((node) => disqualification(graph, producers, node) === null);
  return { producers, consumers, linears };
}

function withoutStatefulFlags(pattern: RegExp): RegExp {
  // Without the g/y flags: .test() on a global RegExp is stateful and would skip every other match.
  return new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
}

function choose(graph: Graph, analysis: Analysis, tracked: GradientSpec['tracked']): Node[] {
  if (Array.isArray(tracked)) {
    return tracked.map((name) => {
      const node = graph.nodes.find((n) => n.name === name);
      if (!node) throw new Error(`tracked layer "${name}": no node of that name in graph "${graph.name}"`);
      const why = disqualification(graph, analysis.producers, node);
      if (why) throw new Error(`tracked layer "${name}" cannot be tracked: ${why}`);
      return node;
    });
  }
  if (tracked) {
    const pattern = withoutStatefulFlags(tracked as RegExp);
    const chosen = analysis.linears.filter((node) => pattern.test(node.name));
    if (chosen.length === 0) {
      const names = analysis.linears.map(describe).join(', ') || 'none';
      throw new Error(
        `no tracked layer: no MatMul/Gemm with an initializer weight has a name matching ${pattern} (candidates: ${names})`,
      );
    }
    return chosen;
  }
  const mlp = findMlpProjections(graph, analysis.linears);
  const chosen = analysis.linears.filter((node) => mlp.has(node.name) || DEFAULT_TRACKED.test(node.name));
  if (chosen.length === 0) {
    const names = analysis.linears.map(describe).join(', ') || 'none';
    throw new Error(
      "no tracked layer: no MLP projection found, neither by the graph's structure (linear → nonlinearity → linear) " +
        `nor by name (mlp, c_fc, up_proj, …); choose layers with a regular expression over node names (--track) ` +
        `from the candidates: ${names}`,
    );
  }
  return chosen;
}

export function findTrackedLayers(graph: Graph, tracked: GradientSpec['tracked']): TrackedCandidate[] {
  const analysis = analyse(graph);
  return choose(graph, analysis, tracked).map((node) => candidate(graph, analysis.producers, node, analysis.consumers));
}

/**
 * Every linear layer of the graph with its dims, MLP role and whether `tracked` (default: the MLP projections)
 * tracks it. Throws as the gradient graph would when the choice tracks nothing.
 */
export function listLinearLayers(graph: Graph, tracked?: GradientSpec['tracked']): LinearLayerInfo[] {
  const analysis = analyse(graph);
  const mlp = findMlpProjections(graph, analysis.linears);
  const chosen = new Set(choose(graph, analysis, tracked));
  return analysis.linears.map((node) => {
    const layer = candidate(graph, analysis.producers, node, analysis.consumers);
    const role = mlp.get(node.name);
    return {
      nodeName: node.name,
      opType: node.opType as 'MatMul' | 'Gemm',
      weightName: layer.weightName,
      dIn: layer.dIn,
      dOut: layer.dOut,
      hasBias: layer.biasName !== null,
      mlpRole: role?.role ?? null,
      mlpBlock: role?.block ?? null,
      nameMatches: DEFAULT_TRACKED.test(node.name),
      tracked: chosen.has(node),
    };
  });
}
