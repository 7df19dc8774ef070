/**
 * The retrains of an evaluation share one training session (issue 14: no recompiling the gradient graph's shaders
 * per retrain on the WebGPU EP). On the wasm EP that must change no bit: every retrain through the shared session,
 * in any order, equals the same retrain through a fresh one (trainCausalLm + responseLogLikelihoods).
 */
import { describe, expect, it } from 'vitest';
import { causalLmRetrainer } from '../../src/eval/causal-lm';
import { buildGptForward, initGptWeights } from '../../src/models/gpt';
import { responseLogLikelihoods } from '../../src/train/evaluate';
import { trainCausalLm, TrainingSession } from '../../src/train/loop';
import { countingTask, countingTraining, tinyGpt } from '../helpers/tiny-gpt';

const gpt = tinyGpt({ vocabSize: 10, maxPositions: 12 });
const { train, queries } = countingTask();
const training = countingTraining(12);
const retrains: [Int32Array, number][] = [
  [Int32Array.of(0, 2, 4), 0],
  [Int32Array.of(1, 3, 5), 1],
  [Int32Array.of(0, 1, 2, 3, 4, 5), 0],
  [Int32Array.of(0, 2, 4), 0],
];

/** The float64 bits of each value, so that equality means bit-identical (NaN and −0 included). */
const bits = (values: ArrayLike<number>) => Array.from(new BigUint64Array(Float64Array.from(values).buffer));

describe('retrains on a shared onnxruntime training session (wasm EP)', () => {
  it('give the measurements and final losses of fresh sessions, bit for bit, in any order', async () => {
    const initial = buildGptForward(gpt, initGptWeights(gpt, 3));
    const losses: number[] = [];
    const retrainer = await causalLmRetrainer({
      initial,
      train,
      queries,
      training,
      onRetrained: (_members, _seed, loss) => losses.push(loss),
    });
    const shared: Float64Array[] = [];
    try {
      for (const [members, seed] of retrains) shared.push(await retrainer.measure(members, seed));
    } finally {
      await retrainer.release!();
    }
    for (const [i, [members, seed]] of retrains.entries()) {
      const subset = Array.from(members, (n) => train[n]!);
      const fresh = await trainCausalLm(initial, subset, { ...training, seed: training.seed + seed });
      const measured = await responseLogLikelihoods(fresh.model, queries);
      expect(bits(shared[i]!)).toEqual(bits(measured));
      expect(bits([losses[i]!])).toEqual(bits([fresh.history.at(-1)!.loss]));
    }
    // The retrains differ from one another, so the comparison above could have failed on a session that kept state.
    expect(bits(shared[0]!)).not.toEqual(bits(shared[1]!));
    expect(bits(shared[0]!)).toEqual(bits(shared[3]!));
  });

  it('a released retrainer opens a new session on its next retrain, with the same numbers', async () => {
    const initial = buildGptForward(gpt, initGptWeights(gpt, 3));
    const retrainer = await causalLmRetrainer({ initial, train, queries, training });
    const first = await retrainer.measure(retrains[0]![0], 0);
    await retrainer.release!();
    const again = await retrainer.measure(retrains[0]![0], 0);
    await retrainer.release!();
    expect(bits(again)).toEqual(bits(first));
  });

  it('refuses a training session made for another model', async () => {
    const initial = buildGptForward(gpt, initGptWeights(gpt, 3));
    const trainer = await TrainingSession.create(buildGptForward(gpt, initGptWeights(gpt, 5)));
    try {
      await expect(trainCausalLm(initial, train, training, { trainer })).rejects.toThrow(/another forward model/);
    } finally {
      await trainer.release();
    }
  });
});
