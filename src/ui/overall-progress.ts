/**
 * Overall progress of a run across its stages, weighted by the run's estimate (app/run-plan.ts runEstimate): the
 * stages before the current one count their estimated seconds in full, the current one its share done. The worker's
 * own steps before the engine ('loading data', 'preparing the model') are the estimate's 'prepare' stage, whose share
 * done is its elapsed time over its estimate (capped below 1: it ends when the first engine stage begins). The
 * estimate's 'scores' stage includes self-influence: scores take its first 85 %, self the rest.
 */
import type { ProgressEvent, RunEstimate } from '../worker/protocol';

const SCORES_SHARE = 0.85;
const PREPARE_CAP = 0.95;

/** The estimate's stage a progress event belongs to, and the share of that stage done. */
function placeOf(event: ProgressEvent, stageElapsed: number, estimate: RunEstimate): [string, number] {
  const within = event.total > 0 ? Math.min(1, event.done / event.total) : 0;
  if (event.unit === 'steps') {
    const prepare = estimate.stages.find((s) => s.stage === 'prepare')?.seconds ?? 0;
    return ['prepare', prepare > 0 ? Math.min(PREPARE_CAP, stageElapsed / prepare) : 0];
  }
  if (event.stage === 'scores') return ['scores', SCORES_SHARE * within];
  if (event.stage === 'self') return ['scores', SCORES_SHARE + (1 - SCORES_SHARE) * within];
  return [event.stage, within];
}

/**
 * The fraction of the estimated run done (0–1), or null when the event's stage is not in the estimate (a resumed run's
 * or one estimated for other settings).
 */
export function overallFraction(event: ProgressEvent, stageElapsed: number, estimate: RunEstimate): number | null {
  const [stage, within] = placeOf(event, stageElapsed, estimate);
  const at = estimate.stages.findIndex((s) => s.stage === stage);
  const total = estimate.stages.reduce((sum, s) => sum + s.seconds, 0);
  if (at < 0 || !(total > 0)) return null;
  const before = estimate.stages.slice(0, at).reduce((sum, s) => sum + s.seconds, 0);
  return Math.min(1, (before + within * estimate.stages[at]!.seconds) / total);
}
