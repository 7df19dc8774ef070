/**
 * What a model offers to track, before a run: every linear layer with its dims and role (MLP up/gate/down, attention
 * q/k/v/o, fused, output head), which ones the run's choice tracks (config.trackedLayers; null: the MLP projections,
 * found by structure and by name; mlp, attention, all: the presets of track-presets.ts), the inputs the workbench
 * will feed, the vocabulary and context it checks rows against, the exporter recognised, and what a run would
 * refuse. `iwb layers` prints it; the page shows it in the run settings where the layers are chosen.
 */
import { sequenceInputRoles } from '../onnx/feeds';
import { buildGradientGraph, listLinearLayers, type GradientSpec, type LinearLayerInfo } from '../onnx/gradient-graph';
import type { Model } from '../onnx/ir';
import { DEQUANTIZED_KEY } from '../onnx/dequantize';
import { CAST_FROM_KEY } from '../onnx/precision';
import { findEmbeddings } from '../onnx/structure';
import { exporterStyle, layerRole } from './layer-roles';
import { isTrackPreset, presetTakes } from './track-presets';

export type { LinearLayerInfo } from '../onnx/gradient-graph';

/** A linear layer with its role in words ('MLP 0 up', 'attention q', 'attention q/k/v (fused)', 'output head'). */
export type RoledLayer = LinearLayerInfo & { readonly role: string };

export interface ModelLayers {
  readonly layers: readonly RoledLayer[];
  /** Which exporter's style the graph shows ('torch.onnx (TorchScript: module-path names)', …). */
  readonly exporter: string;
  /** The forward inputs the workbench fills (input_ids, attention_mask, position_ids, past_key_values.* …). */
  readonly inputs: readonly string[];
  readonly vocabulary: number | null;
  readonly context: number | null;
  /** 'float16' / 'bfloat16' when the model's weights were cast to float32 on load, else null. */
  readonly castFrom: string | null;
  /** What was dequantized to float32 on load ('MatMulNBits 4-bit × 14'), else null (onnx/dequantize.ts). */
  readonly dequantized: string | null;
  /**
   * Why the choice cannot run (no layer matches, an input we cannot fill, an op without a VJP: the gradient graph is
   * built here, before any run), or null.
   */
  readonly problem: string | null;
}

export function modelLayers(model: Model, trackedLayers: string | null): ModelLayers {
  const { token, position } = findEmbeddings(model.graph);
  const base = {
    exporter: exporterStyle(model),
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
  const roled = (layers: readonly LinearLayerInfo[]) =>
    layers.map((l) => ({ ...l, role: layerRole(l, base.vocabulary) }));
  let layers: RoledLayer[];
  let tracked: GradientSpec['tracked'];
  try {
    tracked = trackedChoice(model, trackedLayers);
    layers = roled(listLinearLayers(model.graph, tracked));
  } catch (error) {
    // Nothing matches the choice: still list every layer, none tracked, and say why.
    const all = roled(listLinearLayers(model.graph, /(?:)/)).map((l) => ({ ...l, tracked: false }));
    return { ...base, layers: all, problem: problem ?? (error as Error).message };
  }
  if (problem === null) {
    // What a run would refuse (an op without a VJP, a rank that cannot be inferred): building the graph says it.
    try {
      buildGradientGraph(model, { loss: { kind: 'token-cross-entropy' }, ...(tracked ? { tracked } : {}) });
    } catch (error) {
      problem = (error as Error).message;
    }
  }
  return { ...base, layers, problem };
}

/** The layer list as text: one line per linear layer, tracked ones marked. */
export function formatModelLayers(name: string, summary: ModelLayers): string {
  const rows = summary.layers.map((l) => {
    const shape = `${l.dIn} -> ${l.dOut}${l.hasBias ? ' +bias' : ''}`;
    return [l.tracked ? '*' : ' ', l.nodeName, l.opType, shape, l.role, l.weightName];
  });
  const header = [' ', 'node', 'op', 'd_in -> d_out', 'role', 'weight'];
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
    `exported by: ${summary.exporter}`,
    line(header),
    ...rows.map(line),
    ...(summary.problem ? [`problem: ${summary.problem}`] : []),
  ].join('\n');
}

/**
 * GradientSpec.tracked for config.trackedLayers: undefined for null (the default), the node names a preset chooses,
 * else the regular expression. Throws naming the preset and the model's layers when a preset chooses none.
 */
export function trackedChoice(model: Model, trackedLayers: string | null): GradientSpec['tracked'] {
  if (trackedLayers === null) return undefined;
  if (!isTrackPreset(trackedLayers)) return new RegExp(trackedLayers);
  const vocabulary = findEmbeddings(model.graph).token?.rows ?? null;
  const layers = listLinearLayers(model.graph, /(?:)/);
  const roled = layers.map((l) => ({ name: l.nodeName, role: layerRole(l, vocabulary) }));
  const chosen = roled.filter((l) => presetTakes(trackedLayers, l.role)).map((l) => l.name);
  if (chosen.length === 0) {
    const listed = roled.map((l) => `${l.name} (${l.role || 'no role'})`).join(', ') || 'none';
    throw new Error(
      `track "${trackedLayers}": the model has no ${trackedLayers === 'all' ? 'linear layer besides the output head' : `${trackedLayers} layer`} ` +
        `among its linear layers: ${listed}; choose layers with a regular expression over node names instead`,
    );
  }
  return chosen;
}
