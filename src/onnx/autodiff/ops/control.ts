/**
 * If: each output is known where both branches agree (the same type; the same rank, a dim kept where both branches
 * give the same one). A merged decoder's `use_cache_branch` picks one of two subgraphs that produce the same logits.
 * No VJP: a gradient through If is refused (export the decoder without the cache branch).
 */
import type { Dim, Graph } from '../../ir';
import { sameDim, type ValueFacts } from '../facts';
import type { Infer, OpEntry } from './types';

function merge(a: ValueFacts | undefined, b: ValueFacts | undefined): ValueFacts {
  if (!a || !b) return { type: null, dims: null };
  const type = a.type === b.type ? a.type : null;
  const dims =
    a.dims && b.dims && a.dims.length === b.dims.length
      ? a.dims.map((d, i): Dim => (sameDim(d, b.dims![i]) ? d : null))
      : null;
  return { type, dims };
}

const ifInfer: Infer = (ctx) => {
  const branch = (name: string): readonly ValueFacts[] => {
    const attribute = ctx.node.attributes[name];
    return attribute?.type === 'graph' ? ctx.subgraph(attribute.value as Graph).outputs : [];
  };
  const [then, otherwise] = [branch('then_branch'), branch('else_branch')];
  return ctx.node.outputs.map((_, i) => merge(then[i], otherwise[i]));
};

export const controlOps: Record<string, OpEntry> = {
  If: {
    infer: ifInfer,
    refuse:
      'a gradient through If (a merged decoder): export the model without past key values (Optimum: --no-post-process, or the decoder_model.onnx without the merged cache branch)',
  },
};
