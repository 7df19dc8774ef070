/**
 * The evaluation retrains with the project's training loop (src/train/loop.ts on a tiny GPT through onnxruntime
 * wasm) and resumes: an evaluation interrupted after some retrains, started again with the same store, does only the
 * missing retrains and returns the same numbers as an uninterrupted one — also through the JSON checkpoint file form.
 */
import { describe, expect, it } from 'vitest';
import { causalLmRetrainer } from '../../src/eval/causal-lm';
import { evaluateInfluence } from '../../src/eval/evaluate';
import { checkpointFromJson, checkpointToJson, memoryEvaluationStore } from '../../src/eval/store';
import { DEFAULT_EVALUATION, type EvaluationConfig, type EvaluationStore } from '../../src/eval/types';
import type { Strategy } from '../../src/core/strategy';
import { buildGptForward, initGptWeights } from '../../src/models/gpt';
import { countingTask, countingTraining, tinyGpt } from '../helpers/tiny-gpt';

const gpt = tinyGpt({ vocabSize: 10, maxPositions: 12 });

const { train, queries } = countingTask();
const training = countingTraining(8);
const config: EvaluationConfig = { ...DEFAULT_EVALUATION, subsets: 3, looPerQuery: 1, bootstrapSamples: 200, seed: 2 };
/** Any [Q × N] influence will do: resuming must not depend on it (it only chooses the LOO examples). */
const influence = new Map<Strategy, Float64Array>([
  ['identity', Float64Array.from({ length: 2 * 6 }, (_, k) => Math.sin(k + 0.5))],
  ['ekfac', Float64Array.from({ length: 2 * 6 }, (_, k) => Math.cos(2 * k))],
]);

/** A store that aborts the evaluation once `after` retrains are saved (an interruption at a known place). */
function interruptingStore(inner: EvaluationStore, after: number, controller: AbortController): EvaluationStore {
  let saves = 0;
  return {
    load: () => inner.load(),
    async save(checkpoint) {
      await inner.save(checkpoint);
      if (++saves === after) controller.abort(new Error('interrupted for the test'));
    },
  };
}

describe('evaluation with the training loop', () => {
  it('an interrupted evaluation resumes from its saved retrains with identical numbers', async () => {
    const retrainer = await causalLmRetrainer({
      initial: buildGptForward(gpt, initGptWeights(gpt, 3)),
      train,
      queries,
      training,
    });
    const whole = await evaluateInfluence(config, retrainer, influence, { store: memoryEvaluationStore() });
    const total = whole.retrains.done;
    // 3 subsets + the full set + one LOO retrain per chosen example (top and bottom 1 of each of 2 queries).
    expect(total).toBe(3 + 1 + whole.loo!.examples.length);
    expect(whole.subsetMeasurements.every((v) => Number.isFinite(v) && v < 0)).toBe(true);
    // The retrains differ (seed 2 draws three different subsets): each model measures the queries differently.
    expect(new Set(whole.subsetMeasurements).size).toBe(whole.subsetMeasurements.length);

    const store = memoryEvaluationStore();
    const controller = new AbortController();
    const interrupted = evaluateInfluence(config, retrainer, influence, {
      store: interruptingStore(store, 2, controller),
      signal: controller.signal,
    });
    await expect(interrupted).rejects.toThrow(/interrupted for the test/);
    expect(Object.keys(store.current()!.retrains)).toHaveLength(2);

    // Resume through the checkpoint file's JSON form, as the CLI does.
    const reread = memoryEvaluationStore(checkpointFromJson(checkpointToJson(store.current()!), 'test checkpoint'));
    const resumed = await evaluateInfluence(config, retrainer, influence, { store: reread });
    expect(resumed.retrains).toEqual({ done: total - 2, resumed: 2 });
    expect({ ...resumed, retrains: null }).toEqual({ ...whole, retrains: null });

    // A third run finds every retrain saved and retrains nothing.
    const again = await evaluateInfluence(config, retrainer, influence, { store: reread });
    expect(again.retrains).toEqual({ done: 0, resumed: total });
  });

  it('refuses to reuse retrains made with another training configuration', async () => {
    const initial = buildGptForward(gpt, initGptWeights(gpt, 3));
    const first = await causalLmRetrainer({ initial, train, queries, training });
    const other = await causalLmRetrainer({ initial, train, queries, training: { ...training, steps: 9 } });
    expect(other.fingerprint).not.toBe(first.fingerprint);
    const store = memoryEvaluationStore({ version: 1, fingerprint: 'x', retrains: {} });
    await expect(evaluateInfluence(config, other, influence, { store })).rejects.toThrow(
      /another model, data, training/,
    );
  });
});
