/**
 * The training worker: trainCausalLm (gradient graphs on onnxruntime-web's wasm EP, AdamW in float64 TypeScript)
 * off the page thread. The page talks to it through comlink only (see train-client.ts). One run at a time; progress
 * after every step, and a cancel message is honoured between steps.
 */
import { expose, transfer } from 'comlink';
import { fetchSource, loadDemoDataset, type DemoVariant } from '../data/dataset';
import { parseModel, serializeModel } from '../onnx/protobuf';
import { trainCausalLm, type TrainingConfig, type TrainingSequence, type TrainingStep } from '../train/loop';

/** The demo data (or its micro version) as the site serves it, or sequences the page already has. */
export type TrainingData = { readonly demo: DemoVariant } | { readonly sequences: readonly TrainingSequence[] };

export interface TrainRequest {
  /** The forward causal LM as ONNX bytes (input_ids, attention_mask → logits); its float initializers are trained. */
  readonly model: Uint8Array;
  readonly data: TrainingData;
  readonly config: TrainingConfig;
}

export interface TrainProgress extends TrainingStep {
  /** Response tokens of every step so far per second of training. */
  readonly tokensPerSecond: number;
  /** Remaining time at the mean step time so far. */
  readonly etaMs: number;
}

export interface TrainOutcome {
  /** The forward model with its trained parameters, serialized. */
  readonly model: Uint8Array;
  readonly history: TrainProgress[];
  /** How many training sequences the mixture drew from. */
  readonly sequences: number;
}

export const TRAINING_CANCELLED = 'TrainingCancelled';

const siteRoot = new URL(import.meta.env.BASE_URL, self.location.origin).toString();
let running: AbortController | null = null;

const api = {
  async train(request: TrainRequest, onStep: (progress: TrainProgress) => void | Promise<void>): Promise<TrainOutcome> {
    if (running) throw new Error('a training run is already in progress; cancel it first');
    const controller = new AbortController();
    running = controller;
    try {
      const forward = parseModel(request.model);
      const sequences = await sequencesOf(request.data, controller.signal);
      const history: TrainProgress[] = [];
      let tokensSoFar = 0;
      const result = await trainCausalLm(forward, sequences, request.config, {
        signal: controller.signal,
        // Waiting for the page's acknowledgement gives this worker's event loop a turn, so `cancel` gets through.
        onStep: async (step) => {
          tokensSoFar += step.tokens;
          const progress = withThroughput(step, tokensSoFar);
          history.push(progress);
          await onStep(progress);
        },
      });
      const model = serializeModel(result.model);
      return transfer({ model, history, sequences: sequences.length }, [model.buffer]);
    } catch (error) {
      if (controller.signal.aborted) {
        const cancelled = new Error('the training run was cancelled');
        cancelled.name = TRAINING_CANCELLED;
        throw cancelled;
      }
      throw error;
    } finally {
      running = null;
    }
  },

  cancel(): void {
    running?.abort(new DOMException('training cancelled', 'AbortError'));
  },
};

function withThroughput(step: TrainingStep, tokensSoFar: number): TrainProgress {
  const seconds = step.elapsedMs / 1000;
  const remainingSteps = step.steps - step.step - 1;
  return {
    ...step,
    tokensPerSecond: seconds > 0 ? tokensSoFar / seconds : 0,
    etaMs: (step.elapsedMs / (step.step + 1)) * remainingSteps,
  };
}

async function sequencesOf(data: TrainingData, signal: AbortSignal): Promise<TrainingSequence[]> {
  if ('sequences' in data) return [...data.sequences];
  const dataset = await loadDemoDataset(fetchSource(siteRoot), data.demo, { signal });
  return dataset.train.map((e) => ({ inputIds: e.inputIds, promptLen: e.promptLen }));
}

export type TrainWorkerApi = typeof api;
expose(api);
