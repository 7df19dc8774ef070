/**
 * The lab's worker: training, the engine's four runs, the exact solve and leave-one-out retraining all run here, so
 * the page stays responsive while a student drags points (leave-one-out on the MLP is hundreds of fits).
 */
import { expose } from 'comlink';
import { runLab, type LabInputs } from './lab';
import { runLmLab, type LmInputs } from './lm-lab';

const api = {
  run: (inputs: LabInputs) => runLab(inputs),
  runLm: (inputs: LmInputs) => runLmLab(inputs),
};

export type LabWorkerApi = typeof api;

expose(api);
