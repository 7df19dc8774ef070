import { proxy, transfer, wrap, type Remote } from 'comlink';
import type {
  TRAINING_CANCELLED as WorkerCancelledName,
  TrainOutcome,
  TrainProgress,
  TrainRequest,
  TrainWorkerApi,
} from './train.worker';

export type { TrainingData, TrainOutcome, TrainProgress, TrainRequest } from './train.worker';

/** The name of the error a cancelled run rejects with (checked against the worker's at compile time). */
export const TRAINING_CANCELLED: typeof WorkerCancelledName = 'TrainingCancelled';

export interface TrainClient {
  readonly api: Remote<TrainWorkerApi>;
  /**
   * Start a run; progress arrives after every step, the trained model bytes and the history when it ends.
   * request.model's buffer is transferred to the worker (detached here), not copied.
   */
  train(request: TrainRequest, onStep: (progress: TrainProgress) => void | Promise<void>): Promise<TrainOutcome>;
  /**
   * Stop the running run after its current step; its `train` promise rejects with an error named TRAINING_CANCELLED.
   */
  cancel(): Promise<void>;
  terminate(): void;
}

/** The page's typed handle on the training worker. */
export function startTrainWorker(): TrainClient {
  const worker = new Worker(new URL('./train.worker.ts', import.meta.url), { type: 'module', name: 'iwb-train' });
  const api = wrap<TrainWorkerApi>(worker);
  return {
    api,
    // The model bytes move to the worker rather than being copied.
    train: (request, onStep) => api.train(transfer(request, [request.model.buffer]), proxy(onStep)),
    cancel: () => api.cancel(),
    terminate: () => worker.terminate(),
  };
}
