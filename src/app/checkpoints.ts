/**
 * The engine's checkpoints kept in the store: the glue between src/influence's CheckpointStore and
 * src/store/checkpoints.ts, which stores any payload and knows nothing of the engine.
 */
import type { CheckpointStore, RunCheckpoint } from '../influence/types';
import { loadLatestCheckpoint, saveCheckpoint } from '../store/checkpoints';
import type { WorkbenchStore } from '../store/db';

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
