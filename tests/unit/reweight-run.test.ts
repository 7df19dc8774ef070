/**
 * The reweighting experiment's retrains (src/eval/reweight-run.ts) through the real training loop on a tiny GPT:
 * an interrupted experiment resumes from its checkpoint with identical numbers and trains only what is missing; a
 * checkpoint made under another fingerprint is refused; the arms really train on different mixtures.
 */
import { describe, expect, it } from 'vitest';
import { reweightPlan, type ArmName } from '../../src/eval/reweight';
import {
  runReweighting,
  type ReweightCheckpoint,
  type ReweightStore,
  type ReweightTask,
} from '../../src/eval/reweight-run';
import { buildGptForward, initGptWeights } from '../../src/models/gpt';
import { tinyGpt } from '../helpers/tiny-gpt';

const gpt = tinyGpt({ vocabSize: 10, maxPositions: 12 });
const difficulties = ['easy', 'hard'];
/** After the prompt [1, k] the response counts up from k (mod 8); even k are 'math', odd 'code'. */
const pool = Array.from({ length: 8 }, (_, k) => ({
  id: `e${k}`,
  domain: k % 2 === 0 ? 'math' : 'code',
  difficulty: difficulties[Math.floor(k / 2) % 2]!,
  inputIds: [1, 2 + k, ...Array.from({ length: 3 }, (_, i) => 2 + ((k + i + 1) % 8))],
  promptLen: 2,
}));
const influence = Float64Array.from({ length: 2 * 8 }, (_, k) => Math.sin(3 * k + 1));
const plan = reweightPlan(pool, ['A', 'B'], influence, { boost: 3 });
const task: ReweightTask = {
  pool,
  plan,
  heldOut: [
    { inputIds: [1, 3, 4, 5, 6], promptLen: 2, benchmark: 'A' },
    { inputIds: [1, 4, 5, 6, 7], promptLen: 2, benchmark: 'B' },
  ],
  initial: (seed) => buildGptForward(gpt, initGptWeights(gpt, 100 + seed, 'float32')),
  training: { steps: 4, batchSize: 2, peakLearningRate: 3e-2, warmupSteps: 1, weightDecay: 0, clipNorm: 1, seed: 3 },
  seeds: [0, 1],
  arms: ['flipped', 'top-subset'] as ArmName[],
};

function memoryStore(): ReweightStore & { saved: ReweightCheckpoint | null } {
  const store = {
    saved: null as ReweightCheckpoint | null,
    load: async () => store.saved,
    save: async (c: ReweightCheckpoint) => {
      store.saved = JSON.parse(JSON.stringify(c)) as ReweightCheckpoint;
    },
  };
  return store;
}

describe('reweighting retrains', () => {
  it('resume after an interruption: the same numbers, only the missing runs trained', async () => {
    const whole = await runReweighting(task, { fingerprint: 'f' });
    expect(whole.map((r) => `${r.arm}/${r.seed}`)).toEqual(['flipped/0', 'top-subset/0', 'flipped/1', 'top-subset/1']);
    // The arms train on different mixtures, so (with the same initialisation and batch seed) end differently.
    expect(whole[0]!.byBenchmark.A!.logLikelihood).not.toBe(whole[1]!.byBenchmark.A!.logLikelihood);

    const store = memoryStore();
    const controller = new AbortController();
    let saves = 0;
    const interrupting: ReweightStore = {
      load: () => store.load(),
      save: async (c) => {
        await store.save(c);
        if (++saves === 2) controller.abort(new Error('interrupted for the test'));
      },
    };
    await expect(
      runReweighting(task, { fingerprint: 'f', store: interrupting, signal: controller.signal }),
    ).rejects.toThrow(/interrupted/);
    expect(store.saved!.runs).toHaveLength(2);

    const resumed: boolean[] = [];
    const again = await runReweighting(task, { fingerprint: 'f', store, onRun: (_, r) => resumed.push(r) });
    expect(resumed).toEqual([true, true, false, false]);
    expect(again).toEqual(whole);
  }, 600_000);

  it('refuses a checkpoint made under another fingerprint', async () => {
    const store = memoryStore();
    store.saved = { fingerprint: 'other', runs: [] };
    await expect(runReweighting(task, { fingerprint: 'f', store })).rejects.toThrow(/another plan/);
  });
});
