/**
 * The evaluation's retrains kept in IndexedDB (the page's EvaluationStore, as the CLI's --checkpoint file is the
 * command line's): the checkpoint — fingerprint and every finished retrain's measurements — is the stored run's
 * checkpoint record, replaced in ONE transaction after each retrain (src/store/checkpoints.ts), so a reload or a
 * crash leaves the old set of retrains or the new one, whole, and a resumed evaluation redoes only what is missing.
 */
import type { EvaluationCheckpoint, EvaluationStore } from '../eval/types';
import { loadLatestCheckpoint, saveCheckpoint } from '../store/checkpoints';
import type { WorkbenchStore } from '../store/db';

export const EVALUATION_STAGE = 'evaluation';

export function runEvaluationStore(store: WorkbenchStore, runId: string): EvaluationStore {
  return {
    async load() {
      const saved = await loadLatestCheckpoint<EvaluationCheckpoint>(store, runId);
      if (!saved) return null;
      const payload = saved.payload as Partial<EvaluationCheckpoint> | null;
      if (saved.stage !== EVALUATION_STAGE || payload?.version !== 1 || typeof payload.fingerprint !== 'string')
        throw new Error(`run '${runId}' holds a ${saved.stage} checkpoint, not an evaluation's`);
      const retrains = payload.retrains ?? {};
      for (const [key, values] of Object.entries(retrains)) {
        if (!(values instanceof Float64Array)) throw new Error(`run '${runId}': saved retrain ${key} is not float64`);
      }
      return { version: 1, fingerprint: payload.fingerprint, retrains };
    },
    async save(checkpoint) {
      await saveCheckpoint(store, runId, EVALUATION_STAGE, Object.keys(checkpoint.retrains).length, checkpoint);
    },
  };
}

/**
 * An interruption point the caller controls, as holdAfterCheckpoint is for attribution: once `count` retrains are
 * saved (whole, in the store), the evaluation waits there until `signal` aborts. The page offers it as
 * `?evalHold=<count>`, so a test can reload at a known retrain whatever the machine's speed.
 */
export function holdAfterRetrains(inner: EvaluationStore, count: number, signal: AbortSignal): EvaluationStore {
  return {
    load: () => inner.load(),
    async save(checkpoint) {
      await inner.save(checkpoint);
      if (Object.keys(checkpoint.retrains).length !== count) return;
      await new Promise<void>((_, reject) => {
        const stop = () => reject(signal.reason instanceof Error ? signal.reason : new Error('evaluation cancelled'));
        if (signal.aborted) stop();
        else signal.addEventListener('abort', stop, { once: true });
      });
    },
  };
}
