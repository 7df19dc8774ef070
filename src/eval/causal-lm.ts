/**
 * The Retrainer for causal LMs: the project's training loop (src/train/loop.ts: AdamW, warm-up + cosine, clipping)
 * from one initial model on a subset of the training sequences, then every query's mean log-likelihood of its
 * reference response (the paper's measurement). Retrain seed r trains with the training seed + r: it draws other
 * batches, from the same initialisation.
 */
import type { Model } from '../onnx/ir';
import { serializeModel } from '../onnx/protobuf';
import type { SessionOptions } from '../onnx/runtime';
import { sha256Hex } from '../core/hash';
import { responseLogLikelihoods } from '../train/evaluate';
import { trainCausalLm, TrainingSession, type TrainingConfig, type TrainingSequence } from '../train/loop';
import type { Retrainer } from './types';

export interface CausalLmTask {
  /** The initialisation every retrain starts from (its floating-point initializers are the parameters). */
  readonly initial: Model;
  readonly train: readonly TrainingSequence[];
  readonly queries: readonly { readonly inputIds: ArrayLike<number>; readonly promptLen: number }[];
  readonly training: TrainingConfig;
  /** Where onnxruntime runs every retrain's training steps and measurement: the wasm EP (default) or WebGPU EP. */
  readonly session?: SessionOptions;
  /** Called after each retrain with its final training loss (for progress lines). */
  readonly onRetrained?: (members: number, seed: number, finalLoss: number) => void;
}

export const LM_MEASUREMENT = 'mean log-likelihood of the reference response tokens (nats per token)';

export async function causalLmRetrainer(task: CausalLmTask): Promise<Retrainer> {
  const { initial, train, queries, training } = task;
  const data = JSON.stringify({
    training,
    train: train.map((s) => [Array.from(s.inputIds), s.promptLen, s.weight ?? 1]),
    queries: queries.map((s) => [Array.from(s.inputIds), s.promptLen]),
  });
  // Retrains on another EP are other numbers (float32 sums in another order): they must never resume each other's.
  // The wasm EP keeps the plain prefix, so checkpoints written before the EP was chosen still resume.
  const ep = task.session?.backend ?? 'wasm';
  const prefix = ep === 'wasm' ? 'causal-lm' : `causal-lm@${ep}`;
  const fingerprint = `${prefix}:${await sha256Hex(serializeModel(initial))}:${await sha256Hex(data)}`;
  const session = task.session ?? {};
  // One training session serves every retrain (on the WebGPU EP its shaders compile once): the parameters and
  // AdamW's state are fed, not baked in, so a retrain is bit for bit the one a fresh session gives. The measurement
  // keeps a session per retrain: with the trained weights as graph inputs instead of initializers onnxruntime runs
  // other kernels, and the demo model's measurements moved by ~1e-7 (scripts/bench-retrain-sessions.ts).
  let shared: Promise<TrainingSession> | null = null;
  const open = () =>
    (shared ??= TrainingSession.create(initial, session).catch((error: unknown) => {
      shared = null;
      throw error;
    }));
  return {
    trainSize: train.length,
    querySize: queries.length,
    fingerprint,
    measurement: LM_MEASUREMENT,
    async measure(members, seed, signal) {
      const trainer = await open();
      const subset = Array.from(members, (n) => train[n]!);
      const { model, history } = await trainCausalLm(
        initial,
        subset,
        { ...training, seed: training.seed + seed },
        { ...(signal ? { signal } : {}), session, trainer },
      );
      task.onRetrained?.(members.length, seed, history[history.length - 1]?.loss ?? NaN);
      try {
        return await responseLogLikelihoods(model, queries, 8, session);
      } catch (error) {
        throw new Error(`measuring the queries on the ${ep} EP: ${(error as Error).message}`, { cause: error });
      }
    },
    async release() {
      const opened = shared;
      shared = null;
      // Called from a finally: a session whose GPU device was lost may fail to release, and that must not hide the
      // error that ended the evaluation (nor lose a finished one); there is nothing left to free then.
      await (await opened?.catch(() => null))?.release().catch(() => undefined);
    },
  };
}
