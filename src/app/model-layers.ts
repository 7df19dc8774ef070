/**
 * What a model offers to track, before a run: every linear layer with its dims and MLP role, which ones the run's
 * choice tracks (config.trackedLayers; null: the MLP projections, found by structure and by name), the inputs the
 * workbench will feed, and the vocabulary and context it checks rows against. `iwb layers` prints it; the page shows
 * it in the run settings where the layers are chosen.
 */
import { sequenceInputRoles } from '../onnx/feeds';
import { listLinearLayers, type LinearLayerInfo } from '../onnx/gradient-graph';
import type { Model } from '../onnx/ir';
import { DEQUANTIZED_KEY } from '../onnx/dequantize';
import { CAST_FROM_KEY } from '../onnx/precision';
import { findEmbeddings } from '../onnx/structure';

export type { LinearLayerInfo } from '../onnx/gradient-graph';

export interface ModelLayers {
  readonly layers: readonly LinearLayerInfo[];
  /** The forward inputs the workbench fills (input_ids, attention_mask, position_ids, past_key_values.* …). */
  readonly inputs: readonly string[];
  readonly vocabulary: number | null;
  readonly context: number | null;
  /** 'float16' / 'bfloat16' when the model's weights were cast to float32 on load, else null. */
  readonly castFrom: string | null;
  /** What was dequantized to float32 on load ('MatMulNBits 4-bit × 14'), else null (onnx/dequantize.ts). */
  readonly dequantized: string | null;
  /** Why the choice cannot run (no layer matches, an input we cannot fill), or null. */
  readonly problem: string | null;
}

export function modelLayers(model: Model, trackedLayers: string | null): ModelLayers {
  const { token, position } = findEmbeddings(model.graph);
  const base = {
    inputs: model.graph.inputs.map((i) => i.name),
    vocabulary: token?.rows ?? null,
    context: position?.rows ?? null,
    castFrom: model.metadata[CAST_FROM_KEY] ?? null,
    dequantized: model.metadata[DEQUANTIZED_KEY] ?? null,
  };
  let problem: string | null = null;
  try {
    sequenceInputRoles(model.graph.inputs);
  } catch (error) {
    problem = (error as Error).message;
  }
  const tracked = trackedLayers === null ? undefined : new RegExp(trackedLayers);
  try {
    return { ...base, layers: listLinearLayers(model.graph, tracked), problem };
  } catch (error) {
    // Nothing matches the choice: still list every layer, none tracked, and say why.
    const all = listLinearLayers(model.graph, /(?:)/).map((l) => ({ ...l, tracked: false }));
    return { ...base, layers: all, problem: problem ?? (error as Error).message };
  }
}

/** The layer list as text: one line per linear layer, tracked ones marked. */
export function formatModelLayers(name: string, summary: ModelLayers): string {
  const rows = summary.layers.map((l) => {
    const role = l.mlpRole ? `MLP ${l.mlpBlock} ${l.mlpRole}` : l.nameMatches ? 'MLP (by name)' : '';
    const shape = `${l.dIn} -> ${l.dOut}${l.hasBias ? ' +bias' : ''}`;
    return [l.tracked ? '*' : ' ', l.nodeName, l.opType, shape, role, l.weightName];
  });
  const header = [' ', 'node', 'op', 'd_in -> d_out', 'detected as', 'weight'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const tracked = summary.layers.filter((l) => l.tracked);
  const parameters = tracked.reduce((sum, l) => sum + l.dOut * (l.dIn + (l.hasBias ? 1 : 0)), 0);
  return [
    `${name}: ${summary.layers.length} linear layers, ${tracked.length} tracked (*), ${parameters} tracked parameters`,
    `inputs fed: ${summary.inputs.join(', ')}; vocabulary ${summary.vocabulary ?? 'unknown'}, ` +
      `context ${summary.context ?? 'not fixed by the graph'}` +
      (summary.castFrom ? `; ${summary.castFrom} weights cast to float32 on load` : '') +
      (summary.dequantized ? `; dequantized to float32 on load: ${summary.dequantized}` : ''),
    line(header),
    ...rows.map(line),
    ...(summary.problem ? [`problem: ${summary.problem}`] : []),
  ].join('\n');
}
