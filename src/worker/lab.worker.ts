/**
 * The teaching lab's worker: training, the engine's four runs, the exact solve and leave-one-out retraining all run
 * here, so the page stays responsive while a student drags points (leave-one-out on the MLP is hundreds of fits). The
 * page sends and receives plain data (src/teach/results.ts); the engine and the gradient code stay in this bundle.
 */
import { expose } from 'comlink';
import { runLab } from '../teach/lab';
import { runLmLab } from '../teach/lm-lab';
import type { LabInputs, LmInputs } from '../teach/results';

const api = {
  run: (inputs: LabInputs) => runLab(inputs),
  runLm: (inputs: LmInputs) => runLmLab(inputs),
};

export type LabWorkerApi = typeof api;

expose(api);
