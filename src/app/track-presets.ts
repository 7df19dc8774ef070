/**
 * The `--track` presets: `mlp`, `attention` and `all` choose the tracked layers by their role (layer-roles.ts), not by
 * name. Any other value of config.trackedLayers stays a regular expression over node names; null is the autodiff's
 * default (the MLP projections by structure and by name, the same layers as `mlp` on every model we know).
 *
 * - `mlp`: every layer whose role is an MLP projection (up, gate, down, fused gate/up, or an MLP found by name);
 * - `attention`: the attention projections (q, k, v, o and fused q/k/v);
 * - `all`: every linear layer except the output head, as kronfluence tracks every nn.Linear. The output head is left
 *   out: its factor is vocabulary × vocabulary wide, and where it is tied to the token embedding (GPT-2 and the demo)
 *   the graph holds the head as its own matrix (or a Transpose of the embedding, which is no linear layer here), so
 *   tracking it would treat one half of a shared parameter as a parameter of its own.
 *
 * Plain data (the page's run options read it). A preset resolves to the node names it chooses (trackedChoice in
 * model-layers.ts), given to the autodiff as GradientSpec.tracked; the gradient graph then offers exactly those
 * layers, so the engine keeps them all (engineConfig in config.ts).
 */
export const TRACK_PRESETS = ['mlp', 'attention', 'all'] as const;
export type TrackPreset = (typeof TRACK_PRESETS)[number];

export function isTrackPreset(value: string | null | undefined): value is TrackPreset {
  return (TRACK_PRESETS as readonly (string | null | undefined)[]).includes(value);
}

/** Whether a layer of the given role belongs to the preset. */
export function presetTakes(preset: TrackPreset, role: string): boolean {
  if (preset === 'mlp') return role.startsWith('MLP');
  if (preset === 'attention') return role.startsWith('attention');
  return role !== 'output head';
}
