/**
 * Finding a language model's embeddings by the graph's structure, not by weight names (`wte`, `embed_tokens`, …
 * differ between exporters and are often `onnx::Gather_123`): the token embedding is the Gather whose indices come
 * from the `input_ids` input, the position embedding the Gather whose indices come from positions (a Range over the
 * sequence length, a CumSum of the mask, or a `position_ids` input). Their first dimensions are the vocabulary size
 * and the context length, which the inputs are checked against before onnxruntime sees them.
 */
import type { Graph, Node, TensorInit } from './ir';

export interface Embedding {
  /** The Gather node (its name, for messages). */
  readonly node: string;
  /** The table's initializer. */
  readonly weight: string;
  /** Its first dimension: the vocabulary size, or the number of positions. */
  readonly rows: number;
}

export interface Embeddings {
  readonly token: Embedding | null;
  readonly position: Embedding | null;
}

/** Ops that pass index values through unchanged in value (only their first input carries the indices). */
const INDEX_PASSTHROUGH = new Set(['Cast', 'Reshape', 'Unsqueeze', 'Squeeze', 'Identity', 'Flatten', 'Expand', 'Clip']);
/** Ops whose index-carrying operand may be any of their inputs. */
const ARITHMETIC = new Set(['Add', 'Sub', 'Mul', 'Slice']);
/** Ops whose output is a position index by construction. */
const POSITION_SOURCES = new Set(['Range', 'CumSum']);

export function findEmbeddings(graph: Graph, idsInput = 'input_ids'): Embeddings {
  const producer = new Map<string, Node>();
  for (const node of graph.nodes) for (const output of node.outputs) producer.set(output, node);
  const inputNames = new Set(graph.inputs.map((i) => i.name));
  const table = (value: string): TensorInit | undefined => {
    let name = value;
    // An exporter may put an Identity (tied weights) or a Cast between the initializer and the Gather.
    for (let hops = 0; hops < 4 && !graph.initializers.has(name); hops++) {
      const node = producer.get(name);
      if (!node || (node.opType !== 'Identity' && node.opType !== 'Cast')) return undefined;
      name = node.inputs[0] ?? '';
    }
    return graph.initializers.get(name);
  };
  /** Where a Gather's indices come from: 'ids', 'positions' or neither (memoized, depth-bounded: graphs are input). */
  const memo = new Map<string, 'ids' | 'positions' | null>();
  const origin = (name: string, depth: number): 'ids' | 'positions' | null => {
    if (name === idsInput) return 'ids';
    if (inputNames.has(name)) return /position/i.test(name) ? 'positions' : null;
    if (memo.has(name)) return memo.get(name)!;
    // Marked before recursing: a cycle (hostile graph) reads null, and each value is visited once.
    memo.set(name, null);
    const node = producer.get(name);
    let found: 'ids' | 'positions' | null = null;
    if (node && depth < 32) {
      if (POSITION_SOURCES.has(node.opType)) found = 'positions';
      else if (ARITHMETIC.has(node.opType)) {
        // position_ids = Range(...) + past_length, CumSum(mask) · mask − 1 (OPT), or a Slice of a cached table.
        const from = node.inputs.filter((i) => i !== '' && !graph.initializers.has(i)).map((i) => origin(i, depth + 1));
        found = from.includes('positions') ? 'positions' : from.includes('ids') ? 'ids' : null;
      } else if (INDEX_PASSTHROUGH.has(node.opType)) found = origin(node.inputs[0] ?? '', depth + 1);
    }
    memo.set(name, found);
    return found;
  };
  let token: Embedding | null = null;
  let position: Embedding | null = null;
  for (const node of graph.nodes) {
    if (node.opType !== 'Gather' || (node.attributes.axis?.value ?? 0) !== 0) continue;
    const weight = table(node.inputs[0] ?? '');
    if (!weight || weight.dims.length !== 2) continue;
    const found = origin(node.inputs[1] ?? '', 0);
    const embedding = {
      node: node.name || node.outputs[0] || '(unnamed Gather)',
      weight: weight.name,
      rows: weight.dims[0]!,
    };
    if (found === 'ids' && !token) token = embedding;
    if (found === 'positions' && !position) position = embedding;
  }
  return { token, position };
}
