/**
 * The page's IndexedDB evaluation store (src/app/evaluation-store.ts) on fake-indexeddb, with a retrainer that is a
 * pure function of (members, seed): an evaluation held after 2 saved retrains and cancelled resumes from a store
 * opened afresh, retrains only what is missing and returns exactly an uninterrupted evaluation's numbers; another
 * protocol's retrains are refused; a save that fails leaves the previous checkpoint whole. Also a stored run's
 * evaluation round-trips through the run store (save, read back, export as a bundle, import).
 */
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { encodeRunBundle } from '../../src/app/bundle-content';
import { holdAfterRetrains, runEvaluationStore } from '../../src/app/evaluation-store';
import { evaluateInfluence } from '../../src/eval/evaluate';
import { memoryEvaluationStore } from '../../src/eval/store';
import { DEFAULT_EVALUATION, type Retrainer } from '../../src/eval/types';
import type { Strategy } from '../../src/core/strategy';
import { decodeBundle } from '../../src/store/bundle';
import { WorkbenchStore } from '../../src/store/db';
import { createRun, importBundle, runContent, runEvaluation, saveRunContent } from '../../src/store/runs';
import { sampleContent, sampleEvaluation } from '../fixtures/store/sample-bundle';

const N = 10;
const Q = 3;
let trained = 0;
const retrainer: Retrainer = {
  trainSize: N,
  querySize: Q,
  fingerprint: 'toy',
  measurement: 'toy measurement',
  async measure(members, seed) {
    trained++;
    return Float64Array.from({ length: Q }, (_, q) =>
      members.reduce((sum, n) => sum + Math.sin(1 + n * (q + 1)) / (n + 2), 0.01 * seed),
    );
  },
};
const influence = new Map<Strategy, Float64Array>([
  ['identity', Float64Array.from({ length: Q * N }, (_, k) => Math.cos(k))],
  ['ekfac', Float64Array.from({ length: Q * N }, (_, k) => Math.sin(1 + (k % N) * (Math.floor(k / N) + 1)))],
]);
const config = { ...DEFAULT_EVALUATION, subsets: 6, seedsPerSubset: 2, looPerQuery: 1, bootstrapSamples: 100 };

async function openStore(): Promise<{ store: WorkbenchStore; runId: string }> {
  const store = await WorkbenchStore.open({ indexedDB: new IDBFactory(), IDBKeyRange });
  const run = await createRun(store, {
    name: 'evaluation',
    config: {},
    strategy: 'ekfac',
    backend: null,
    layers: [],
    measurement: null,
  });
  return { store, runId: run.id };
}

describe('IndexedDB evaluation store', () => {
  it('an evaluation held and cancelled after 2 retrains resumes with only the missing retrains, same numbers', async () => {
    const reference = await evaluateInfluence(config, retrainer, influence, { store: memoryEvaluationStore() });
    const total = reference.retrains.done;
    const { store, runId } = await openStore();
    const controller = new AbortController();
    const held = evaluateInfluence(config, retrainer, influence, {
      store: holdAfterRetrains(runEvaluationStore(store, runId), 2, controller.signal),
      signal: controller.signal,
    });
    // The hold resolves nothing until cancelled: wait for the stored record, then cancel (a reload does the same).
    await expect
      .poll(async () => Object.keys((await runEvaluationStore(store, runId).load())?.retrains ?? {}).length)
      .toBe(2);
    controller.abort(new Error('reloaded'));
    await expect(held).rejects.toThrow('reloaded');
    expect((await store.getRun(runId))!.status).toBe('running');

    trained = 0;
    const resumed = await evaluateInfluence(config, retrainer, influence, { store: runEvaluationStore(store, runId) });
    expect(resumed.retrains).toEqual({ done: total - 2, resumed: 2 });
    expect(trained).toBe(total - 2);
    expect(resumed.strategies).toEqual(reference.strategies);
    expect(resumed.subsetMeasurements).toEqual(reference.subsetMeasurements);
    expect(resumed.loo).toEqual(reference.loo);

    await expect(
      evaluateInfluence({ ...config, subsets: 7 }, retrainer, influence, { store: runEvaluationStore(store, runId) }),
    ).rejects.toThrow(/made with another model, data, training configuration, subset count/);
  });

  it('a save that fails leaves the previous checkpoint whole', async () => {
    const { store, runId } = await openStore();
    const evaluations = runEvaluationStore(store, runId);
    const first = { version: 1 as const, fingerprint: 'f', retrains: { a: Float64Array.of(1, 2, 3) } };
    await evaluations.save(first);
    const before = await store.counts();
    // A value IndexedDB cannot clone fails the transaction after some chunks were put: none of them may stay.
    const broken = {
      ...first,
      retrains: { ...first.retrains, b: Float64Array.of(4), c: (() => 0) as unknown as Float64Array },
    };
    await expect(evaluations.save(broken)).rejects.toThrow();
    expect(await store.counts()).toEqual(before);
    expect(await evaluations.load()).toEqual(first);
  });

  it("a run's evaluation is stored with its scores, read back, exported and imported unchanged", async () => {
    const { store, runId } = await openStore();
    const content = sampleContent({ queries: 3, train: 6 });
    const evaluation = sampleEvaluation(content);
    await saveRunContent(store, runId, { ...content, evaluation }, { timings: [] });
    expect(await runEvaluation(store, runId)).toEqual(evaluation);
    const bytes = await encodeRunBundle(await runContent(store, runId), 'test');
    expect((await decodeBundle(bytes)).evaluation).toEqual(evaluation);
    const imported = await importBundle(store, bytes);
    expect(imported.evaluation).toEqual(evaluation.info);
    expect(await runEvaluation(store, imported.id)).toEqual(evaluation);
  });
});
