/**
 * Test page: drives the training worker through its client (src/worker/train-client.ts) on the micro dataset the
 * site serves, for tests/e2e/train.test.ts. Bytes cross the Playwright boundary as plain number arrays.
 */
import type { TrainingConfig } from '../../../src/train/loop';
import { startTrainWorker, type TrainProgress } from '../../../src/worker/train-client';

export interface PageRun {
  readonly progress: TrainProgress[];
  readonly model?: number[];
  readonly history?: TrainProgress[];
  readonly sequences?: number;
  readonly error?: { readonly name: string; readonly message: string };
}

declare global {
  interface Window {
    trainPage?: { run(model: number[], config: TrainingConfig, cancelAfterStep?: number): Promise<PageRun> };
  }
}

const client = startTrainWorker();

window.trainPage = {
  async run(model, config, cancelAfterStep) {
    const progress: TrainProgress[] = [];
    try {
      const outcome = await client.train(
        { model: Uint8Array.from(model), data: { demo: 'micro' }, config },
        async (step) => {
          progress.push(step);
          // Awaited: the worker has taken the cancel before this step's acknowledgement lets its loop go on (the two
          // travel on different message ports, so without the await their order is not guaranteed).
          if (step.step === cancelAfterStep) await client.cancel();
        },
      );
      return { progress, model: Array.from(outcome.model), history: outcome.history, sequences: outcome.sequences };
    } catch (error) {
      const { name, message } = error as Error;
      return { progress, error: { name, message } };
    }
  },
};
document.getElementById('status')!.textContent = 'ready';
