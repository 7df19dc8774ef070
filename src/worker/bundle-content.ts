/** A finished run as the content of an .iwb bundle (src/store/bundle.ts), for the CLI's --out and the page's export. */
import type { AttributionResult } from '../influence/types';
import { fingerprintOf, type BundleContent, type Fingerprint } from '../store/bundle';
import type { DatasetRow } from '../store/types';
import type { ExampleText } from './results';

export interface BundleSources {
  readonly model: { readonly name: string; readonly bytes: Uint8Array } | null;
  readonly train: { readonly name: string; readonly bytes: Uint8Array } | null;
  readonly queries: { readonly name: string; readonly bytes: Uint8Array } | null;
  readonly trainTexts: readonly ExampleText[];
  readonly queryTexts: readonly ExampleText[];
  /** Leave the dataset rows out of the bundle. */
  readonly withoutRows?: boolean;
}

export async function bundleContent(result: AttributionResult, sources: BundleSources): Promise<BundleContent> {
  const fingerprint = async (file: { name: string; bytes: Uint8Array } | null): Promise<Fingerprint | null> =>
    file ? fingerprintOf(file.name, file.bytes) : null;
  const q = result.queries.length;
  const n = result.train.length;
  const row = (meta: AttributionResult['train'][number], text: ExampleText | undefined): DatasetRow => ({
    id: meta.id,
    ...(text ? { prompt: text.prompt, response: text.response } : {}),
    ...(text?.tokens ? { tokens: text.tokens } : {}),
    ...(text?.tokenCategories ? { tokenCategories: text.tokenCategories } : {}),
    ...(text?.segments ? { segments: text.segments } : {}),
    ...(meta.domain !== undefined ? { domain: meta.domain } : {}),
    ...(meta.difficulty !== undefined ? { difficulty: meta.difficulty } : {}),
    ...(meta.benchmark !== undefined ? { benchmark: meta.benchmark } : {}),
  });
  return {
    model: await fingerprint(sources.model),
    datasets: { train: await fingerprint(sources.train), query: await fingerprint(sources.queries) },
    strategy: result.config.strategy,
    config: JSON.parse(JSON.stringify(result.config)) as Record<string, unknown>,
    backend: result.backend,
    layers: result.factors.layers.map((factors, l) => {
      const layer = result.layers[l]!;
      return {
        ...factors,
        ...(layer.weightName !== undefined ? { weightName: layer.weightName } : {}),
        dIn: layer.dIn,
        dOut: layer.dOut,
        hasBias: layer.hasBias,
        damping: layer.damping,
      };
    }),
    scores: {
      measurement: result.config.measurement,
      tau: { shape: [q, n], data: result.tau },
      influence: { shape: [q, n], data: result.influence },
      tauPerLayer: { shape: [result.layers.length, q, n], data: result.tauPerLayer },
      selfTau: { shape: [n], data: result.selfTau },
      queryTargetCounts: { shape: [q], data: result.queryTargetCounts },
      ...(result.tauPerToken
        ? { tauPerToken: { offsets: result.tauPerToken.offsets, values: { shape: [q, result.tauPerToken.values.length / Math.max(q, 1)], data: result.tauPerToken.values } } }
        : {}),
    },
    rows: sources.withoutRows
      ? null
      : {
          train: result.train.map((meta, i) => row(meta, sources.trainTexts[i])),
          query: result.queries.map((meta, i) => row(meta, sources.queryTexts[i])),
        },
  };
}
