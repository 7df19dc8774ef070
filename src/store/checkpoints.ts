/**
 * Checkpoints for resumable runs. A checkpoint is any JSON-like value whose large parts are typed arrays (the engine's
 * RunCheckpoint: accumulators of A/S per layer, Λ sums, scores so far); the arrays go into ≤ 8 MB chunks and the
 * rest into one record. Saving replaces the previous checkpoint of the run in ONE transaction with the run's status,
 * so a crash at any moment leaves the old checkpoint or the new one, whole.
 */
import { atomically, issueAll, type WorkbenchStore } from './db';
import { fromChunks, joinArrays, splitArrays, toChunks, arrayTypeName, type CheckpointRecord } from './records';

const CHECKPOINT_PART = 'checkpoint/';

export interface LoadedCheckpoint<T> {
  readonly stage: string;
  readonly chunkIndex: number;
  readonly savedAt: string;
  readonly payload: T;
}

export async function saveCheckpoint(
  store: WorkbenchStore,
  runId: string,
  stage: string,
  chunkIndex: number,
  payload: unknown,
): Promise<void> {
  // Everything that is not IndexedDB work happens before the transaction opens (it would commit early otherwise).
  const { skeleton, arrays } = splitArrays(payload);
  const chunked = arrays.map((array) => ({
    arrayType: arrayTypeName(array),
    byteLength: array.byteLength,
    chunks: toChunks(array, store.chunkBytes),
  }));
  const record: CheckpointRecord = {
    runId,
    stage,
    chunkIndex,
    savedAt: new Date().toISOString(),
    skeleton,
    arrays: chunked.map(({ arrayType, byteLength, chunks }) => ({ arrayType, byteLength, chunkCount: chunks.length })),
  };
  const tx = store.db.transaction(['runs', 'checkpoints', 'chunks'], 'readwrite');
  await atomically(tx, async () => {
    const run = await tx.objectStore('runs').get(runId);
    if (!run) throw new Error(`cannot checkpoint run '${runId}': no such run (deleted?)`);
    const chunks = tx.objectStore('chunks');
    await chunks.delete(store.chunkPrefixRange(runId, CHECKPOINT_PART));
    await issueAll(
      (function* () {
        for (const [n, { chunks: parts }] of chunked.entries()) {
          for (const [index, data] of parts.entries())
            yield chunks.put({ owner: runId, part: `${CHECKPOINT_PART}${n}`, index, data });
        }
        yield tx.objectStore('checkpoints').put(record);
        yield tx.objectStore('runs').put({ ...run, status: 'running' as const, stage, updatedAt: record.savedAt });
      })(),
    );
  });
}

export async function loadLatestCheckpoint<T = unknown>(
  store: WorkbenchStore,
  runId: string,
): Promise<LoadedCheckpoint<T> | null> {
  const tx = store.db.transaction(['checkpoints', 'chunks']);
  const record = await tx.objectStore('checkpoints').get(runId);
  if (!record) return null;
  const arrays = await Promise.all(
    record.arrays.map(async (info, n) => {
      const chunks = await tx.objectStore('chunks').getAll(store.chunkRange(runId, `${CHECKPOINT_PART}${n}`));
      if (chunks.length !== info.chunkCount)
        throw new Error(`run '${runId}' checkpoint array ${n}: ${chunks.length} of ${info.chunkCount} chunks stored`);
      return fromChunks(
        chunks.map((chunk) => chunk.data),
        info.arrayType,
        info.byteLength,
        `run '${runId}' checkpoint array ${n}`,
      );
    }),
  );
  return {
    stage: record.stage,
    chunkIndex: record.chunkIndex,
    savedAt: record.savedAt,
    payload: joinArrays(record.skeleton, arrays) as T,
  };
}

/** Remove a run's checkpoint (its record and chunks) in one transaction, once its results are stored. */
export async function deleteCheckpoint(store: WorkbenchStore, runId: string): Promise<void> {
  const tx = store.db.transaction(['checkpoints', 'chunks'], 'readwrite');
  await atomically(tx, () =>
    issueAll([
      tx.objectStore('chunks').delete(store.chunkPrefixRange(runId, CHECKPOINT_PART)),
      tx.objectStore('checkpoints').delete(runId),
    ]),
  );
}
