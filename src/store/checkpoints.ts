/**
 * Checkpoints for resumable runs. A checkpoint is any JSON-like value whose large parts are typed arrays (the engine's
 * RunCheckpoint: accumulators of A/S per layer, Λ sums, scores so far); the arrays go into ≤ 8 MB chunks and the
 * rest into one record. Saving replaces the previous checkpoint of the run in ONE transaction with the run's status,
 * so a crash at any moment leaves the old checkpoint or the new one, whole.
 */
import type { CheckpointStore, RunCheckpoint } from '../influence/types';
import { atomically, issueAll, type WorkbenchStore } from './db';
import { fromChunks, joinArrays, splitArrays, toChunks, arrayTypeName, type CheckpointRecord } from './records';

const CHECKPOINT_PART = 'checkpoint/';

export interface LoadedCheckpoint<T> {
  readonly stage: string;
  readonly chunkIndex: number;
  readonly savedAt: string;
  readonly payload: T;
}

export async function saveCheckpoint(store: WorkbenchStore, runId: string, stage: string, chunkIndex: number, payload: unknown): Promise<void> {
  // Everything that is not IndexedDB work happens before the transaction opens (it would commit early otherwise).
  const { skeleton, arrays } = splitArrays(payload);
  const chunked = arrays.map((array) => ({ arrayType: arrayTypeName(array), byteLength: array.byteLength, chunks: toChunks(array, store.chunkBytes) }));
  const record: CheckpointRecord = {
    runId, stage, chunkIndex, savedAt: new Date().toISOString(), skeleton,
    arrays: chunked.map(({ arrayType, byteLength, chunks }) => ({ arrayType, byteLength, chunkCount: chunks.length })),
  };
  const tx = store.db.transaction(['runs', 'checkpoints', 'chunks'], 'readwrite');
  await atomically(tx, async () => {
    const run = await tx.objectStore('runs').get(runId);
    if (!run) throw new Error(`cannot checkpoint run '${runId}': no such run (deleted?)`);
    const chunks = tx.objectStore('chunks');
    await chunks.delete(store.chunkPrefixRange(runId, CHECKPOINT_PART));
    await issueAll((function* () {
      for (const [n, { chunks: parts }] of chunked.entries()) {
        for (const [index, data] of parts.entries()) yield chunks.put({ owner: runId, part: `${CHECKPOINT_PART}${n}`, index, data });
      }
      yield tx.objectStore('checkpoints').put(record);
      yield tx.objectStore('runs').put({ ...run, status: 'running' as const, stage, updatedAt: record.savedAt });
    })());
  });
}

export async function loadLatestCheckpoint<T = unknown>(store: WorkbenchStore, runId: string): Promise<LoadedCheckpoint<T> | null> {
  const tx = store.db.transaction(['checkpoints', 'chunks']);
  const record = await tx.objectStore('checkpoints').get(runId);
  if (!record) return null;
  const arrays = await Promise.all(record.arrays.map(async (info, n) => {
    const chunks = await tx.objectStore('chunks').getAll(store.chunkRange(runId, `${CHECKPOINT_PART}${n}`));
    if (chunks.length !== info.chunkCount) throw new Error(`run '${runId}' checkpoint array ${n}: ${chunks.length} of ${info.chunkCount} chunks stored`);
    return fromChunks(chunks.map((chunk) => chunk.data), info.arrayType, info.byteLength, `run '${runId}' checkpoint array ${n}`);
  }));
  return { stage: record.stage, chunkIndex: record.chunkIndex, savedAt: record.savedAt, payload: joinArrays(record.skeleton, arrays) as T };
}

/** Which stage a RunCheckpoint is in, and how far: the furthest-along part it holds. */
export function checkpointPosition(checkpoint: RunCheckpoint): { stage: string; chunkIndex: number } {
  // Self-influence is usually finished inside the first scores pass, so a running scores pass is the furthest part.
  if (checkpoint.runningScores) return { stage: 'scores', chunkIndex: checkpoint.runningScores.nextIndex };
  if (checkpoint.self) return { stage: 'self', chunkIndex: checkpoint.self.nextIndex };
  if (checkpoint.scores) return { stage: 'scores', chunkIndex: checkpoint.scores.completedQueries };
  if (checkpoint.lambda) return { stage: 'lambda', chunkIndex: checkpoint.lambda.nextIndex };
  if (checkpoint.eigen) return { stage: 'eigen', chunkIndex: 0 };
  if (checkpoint.covariance) return { stage: 'covariance', chunkIndex: checkpoint.covariance.nextIndex };
  return { stage: 'created', chunkIndex: 0 };
}

/**
 * An interruption point the caller controls: after the first checkpoint of `stage` is saved (whole, in IndexedDB),
 * the run waits there until `signal` aborts. The page offers it as `?hold=<stage>` so a test (or a teacher showing
 * resume) can stop a run at a known place — by reloading, cancelling or closing the tab — instead of racing a run
 * that on a fast machine finishes before anyone can interrupt it.
 */
export function holdAfterCheckpoint(inner: CheckpointStore, stage: string, signal: AbortSignal): CheckpointStore {
  let held = false;
  return {
    load: () => inner.load(),
    async save(checkpoint) {
      await inner.save(checkpoint);
      if (held || checkpointPosition(checkpoint).stage !== stage) return;
      held = true;
      await new Promise<void>((_, reject) => {
        const stop = () => reject(signal.reason instanceof Error ? signal.reason : new Error('run cancelled'));
        if (signal.aborted) stop();
        else signal.addEventListener('abort', stop, { once: true });
      });
    },
  };
}

/** The engine's CheckpointStore for one stored run: pass it as `runAttribution(…, { checkpoint })`. */
export function runCheckpointStore(store: WorkbenchStore, runId: string): CheckpointStore {
  return {
    async load() {
      return (await loadLatestCheckpoint<RunCheckpoint>(store, runId))?.payload ?? null;
    },
    async save(checkpoint) {
      const { stage, chunkIndex } = checkpointPosition(checkpoint);
      await saveCheckpoint(store, runId, stage, chunkIndex, checkpoint);
    },
  };
}
