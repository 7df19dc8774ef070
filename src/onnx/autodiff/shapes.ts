/**
 * Static facts about the forward graph's values that the VJPs use to emit fewer runtime shape ops: element type,
 * dims where known (numbers, or symbols such as 'batch' that compare equal to themselves), and the element values of
 * small integer tensors — constants, and the shape vectors exporters compute at run time (Shape → Gather → Unsqueeze
 * → Concat → Reshape), whose elements are dims themselves. Each op's rule lives in the op registry (ops/index.ts).
 * Anything unknown is null, and the VJPs then fall back to computing shapes at run time with Shape ops, so this
 * inference may be incomplete but never wrong (given that a dim_param name means one size throughout the graph, as
 * ONNX intends). `observed` adds facts recorded from a forward run (observe-shapes.ts) where the graph says nothing.
 */
import type { Dim, Graph } from '../ir';
import { tensorInts, UNKNOWN, type GraphFacts, type ValueFacts } from './facts';
import { opEntry, type InferContext } from './ops';

export { constantNodeTensor, floatAttr, intAttr, intsAttr, stringAttr, tensorInts } from './facts';
export type { GraphFacts, ValueFacts } from './facts';

interface Scope {
  facts(name: string): ValueFacts | undefined;
  content(name: string): readonly Dim[] | undefined;
}

export function inferFacts(
  graph: Graph,
  opset: number,
  observed?: ReadonlyMap<string, ValueFacts>,
): GraphFacts & { readonly outputs: readonly ValueFacts[] } {
  return inferIn(graph, opset, observed ?? new Map(), null);
}

function inferIn(
  graph: Graph,
  opset: number,
  observed: ReadonlyMap<string, ValueFacts>,
  outer: Scope | null,
): GraphFacts & { readonly outputs: readonly ValueFacts[] } {
  const facts = new Map<string, ValueFacts>();
  /** Element values of small rank-0/1 integer tensors: numbers, or dims ('batch') for run-time shape vectors. */
  const contents = new Map<string, readonly Dim[]>();
  for (const info of [...graph.inputs, ...graph.valueInfo, ...graph.outputs]) {
    facts.set(info.name, { type: info.elemType, dims: info.shape });
  }
  for (const [name, tensor] of graph.initializers) {
    facts.set(name, { type: tensor.dataType, dims: tensor.dims });
    const ints = tensor.data.length <= 64 ? tensorInts(tensor) : null;
    if (ints) contents.set(name, ints);
  }
  const get = (name: string): ValueFacts => facts.get(name) ?? outer?.facts(name) ?? UNKNOWN;
  const symbolic = (name: string | undefined): readonly Dim[] | null =>
    name ? (contents.get(name) ?? outer?.content(name) ?? null) : null;
  const ints = (name: string | undefined): number[] | null => {
    const values = symbolic(name);
    return values && values.every((v) => typeof v === 'number') ? (values as number[]) : null;
  };
  const scope: Scope = {
    facts: (name) => facts.get(name) ?? outer?.facts(name),
    content: (n) => symbolic(n) ?? undefined,
  };

  for (const node of graph.nodes) {
    const entry = opEntry(node);
    const input = (index: number): ValueFacts => (node.inputs[index] ? get(node.inputs[index]) : UNKNOWN);
    const ctx: InferContext = {
      node,
      opset,
      input,
      content: (index) => symbolic(node.inputs[index]),
      ints: (index) => ints(node.inputs[index]),
      axes: (index, sinceOpset) => {
        if (opset < sinceOpset) {
          const attribute = node.attributes.axes;
          return attribute?.type === 'ints' ? [...attribute.value] : null;
        }
        return node.inputs[index] ? ints(node.inputs[index]) : null;
      },
      subgraph: (inner) => inferIn(inner, opset, observed, scope),
    };
    // An op without a rule: its first output keeps input 0's type (as most ops do); nothing else is known.
    const inferred = entry?.infer ? entry.infer(ctx) : [{}];
    node.outputs.forEach((output, index) => {
      if (!output) return;
      const rule = inferred[index] ?? { type: null };
      const type = rule.type === undefined ? (index === 0 ? input(0).type : null) : rule.type;
      const declared = facts.get(output);
      const seen = observed.get(output);
      facts.set(output, {
        type: (declared?.type || null) ?? type ?? seen?.type ?? null,
        dims: rule.dims ?? declared?.dims ?? seen?.dims ?? null,
      });
      if (rule.content) contents.set(output, rule.content);
    });
  }

  const outputFacts = graph.outputs.map((o) => get(o.name));
  return {
    facts: get,
    constantInts: ints,
    content: symbolic,
    outputs: outputFacts,
    staticDims(name) {
      const dims = get(name).dims;
      return dims && dims.every((d) => typeof d === 'number') ? (dims as number[]) : null;
    },
  };
}
