/** The finished query chunks' scores, and how one more chunk's are merged in (score-queries.ts). */
import { hostMatrix } from './host';
import type { QueryChunk } from './queries';
import type { RunCheckpoint } from './types';
import type { HostMatrix } from '../core/schema';

export type ScoreRecord = NonNullable<RunCheckpoint['scores']>;

/** Copies one query chunk's [layers, Q_chunk, N] (and per-token rows) into the run's [layers, Q, N]. */
export function mergeQueryChunk(
  scores: ScoreRecord,
  chunkPerLayer: HostMatrix,
  chunkPerToken: HostMatrix | null,
  queryStart: number,
  queryEnd: number,
  chunk: QueryChunk,
  queryOffsets: Int32Array,
): ScoreRecord {
  const [layerCount, querySize, trainSize] = scores.perLayer.shape;
  const chunkQueries = queryEnd - queryStart;
  const perLayer = scores.perLayer.data.slice();
  for (let l = 0; l < layerCount; l++) {
    for (let q = 0; q < chunkQueries; q++) {
      const from = (l * chunkQueries + q) * trainSize;
      perLayer.set(chunkPerLayer.data.subarray(from, from + trainSize), (l * querySize + queryStart + q) * trainSize);
    }
  }
  let perToken = scores.perToken;
  if (perToken && chunkPerToken) {
    const data = perToken.data.slice();
    data.set(chunkPerToken.data, queryStart * perToken.shape[1]);
    perToken = hostMatrix(perToken.shape, data);
  }
  const queryTargetCounts = scores.queryTargetCounts.slice();
  queryTargetCounts.set(chunk.targetCounts, queryStart);
  // A checkpoint from before the query losses were kept has none for its finished queries: none for the run then.
  const queryTokenLoss = scores.queryTokenLoss?.slice();
  chunk.tokenLoss.forEach((loss, q) => queryTokenLoss?.set(loss, queryOffsets[queryStart + q]!));
  return {
    completedQueries: queryEnd,
    perLayer: hostMatrix(scores.perLayer.shape, perLayer),
    perToken,
    queryTargetCounts,
    ...(queryTokenLoss ? { queryTokenLoss } : {}),
  };
}
