/**
 * A decoded bundle as the engine's result type, built in the tests from its tensors (not by the page's code), so the
 * workspace's answers can be compared with the engine's own aggregations of the same numbers.
 */
import type { AttributionResult } from '../../src/influence/types';
import type { Bundle } from '../../src/store/bundle';

export function resultOfBundle(bundle: Bundle): AttributionResult {
  const rows = bundle.manifest.rows!;
  const meta = (row: (typeof rows.train)[number]) => ({
    id: row.id,
    domain: row.domain,
    difficulty: row.difficulty,
    benchmark: row.benchmark,
    segments: row.segments,
    tokenCategories: row.tokenCategories,
  });
  const { offsets } = bundle.scores.tauPerToken!;
  return {
    config: { ...bundle.manifest.config, measurement: 'mean-log-likelihood' },
    layers: bundle.manifest.layers.map((l) => ({
      ...l,
      damping: l.damping ?? 0,
      activationEigenRange: null,
      gradientEigenRange: null,
    })),
    queries: rows.query.map(meta),
    train: rows.train.map(meta),
    tau: bundle.scores.tau!.data,
    influence: bundle.scores.influence!.data,
    tauPerLayer: bundle.scores.tauPerLayer?.data,
    selfTau: bundle.scores.selfTau!.data,
    trainTokenCounts: Int32Array.from({ length: rows.train.length }, (_, n) => offsets[n + 1]! - offsets[n]!),
    queryTargetCounts: bundle.scores.queryTargetCounts!.data,
    tauPerToken: { offsets, values: bundle.scores.tauPerToken!.values.data },
  } as unknown as AttributionResult;
}
