/**
 * The engine worker's stored runs (src/worker/run-store.ts) on fake-indexeddb: a run that will not fit the storage
 * quota is refused with the quota's message and stores nothing; a run on the user's files keeps them, so its
 * request comes back whole for a resume; the run being computed is not offered for resume; a pause is recorded; a
 * bundle viewed from a link stores nothing until it is kept.
 */
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { expect, test } from 'vitest';
import { DEFAULT_RUN_CONFIG } from '../../src/app/config';
import { StorageQuotaError } from '../../src/store/quota';
import { createRun } from '../../src/store/runs';
import type { RunInputs } from '../../src/app/inputs';
import type { AttributionRequest } from '../../src/worker/protocol';
import { PageRunStore } from '../../src/worker/run-store';
import { openBundle } from '../../src/app/run-results';
import { readFixture } from '../helpers/fixtures';

const modelBytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) % 256);
const request: AttributionRequest = {
  source: {
    kind: 'files',
    model: modelBytes.slice().buffer,
    tokenizer: '{"model":{"vocab":{}}}',
    train: '{"prompt":"1+1=","response":"2"}\n',
    queries: '{"prompt":"2+2=","response":"4"}\n',
    names: { model: 'tiny.onnx', tokenizer: 'tokenizer.json', train: 'train.jsonl', queries: 'queries.jsonl' },
  },
  config: { ...DEFAULT_RUN_CONFIG, backend: 'cpu' },
};
const example = (id: string) => ({ id, inputIds: new Int32Array(6), promptLen: 3, extra: {} });
/** Only what begin() reads of the loaded inputs. */
const inputs = {
  modelName: 'tiny.onnx',
  modelBytes,
  train: [example('t0'), example('t1')],
  queries: [example('q0')],
} as unknown as RunInputs;
const layers = [{ dIn: 64, dOut: 256, hasBias: true }];

function storage(quota: number): StorageManager {
  return {
    persisted: async () => false,
    persist: async () => true,
    estimate: async () => ({ quota, usage: 1000 }),
  } as unknown as StorageManager;
}

test('a run that will not fit is refused with the quota message, and nothing is stored', async () => {
  const runs = await PageRunStore.open({ indexedDB: new IDBFactory(), IDBKeyRange }, storage(50_000));
  const before = await runs.store.counts();
  const refusal = runs.begin(request, inputs, layers);
  await expect(refusal).rejects.toBeInstanceOf(StorageQuotaError);
  await expect(refusal).rejects.toThrow(
    /this run needs about [\d.]+ MB of browser storage but only 0\.0 MB is free \(quota 0\.1 MB, used 0\.0 MB\)/,
  );
  expect(await runs.store.counts()).toEqual(before);
  expect(await runs.list(null)).toEqual([]);
});

test("a run on the user's files keeps them: its request comes back whole for a resume", async () => {
  const runs = await PageRunStore.open({ indexedDB: new IDBFactory(), IDBKeyRange }, storage(1e9));
  const { runId } = await runs.begin(request, inputs, layers);
  const [listed] = await runs.list(null);
  expect(listed).toMatchObject({
    id: runId,
    status: 'created',
    strategy: 'ekfac',
    resumable: true,
    viewable: false,
    imported: false,
  });
  expect(listed!.name).toMatch(/^tiny\.onnx · ekfac · /);
  // The run this worker is computing is not one to resume.
  expect((await runs.list(runId))[0]!.resumable).toBe(false);

  const again = await runs.requestOf(runId);
  if (again.source.kind !== 'files' || request.source.kind !== 'files') throw new Error('expected a files request');
  expect(new Uint8Array(again.source.model)).toEqual(modelBytes);
  expect({ ...again, source: { ...again.source, model: null } }).toEqual({
    ...request,
    source: { ...request.source, model: null },
  });

  await runs.stop(runId, 'paused', 'cancelled');
  expect((await runs.list(null))[0]).toMatchObject({ status: 'paused', error: 'cancelled', resumable: true });
  await expect(runs.open(runId)).rejects.toThrow(/is paused: it has no results yet/);
  await runs.delete(runId);
  expect(await runs.list(null)).toEqual([]);
});

test('a run stored before requests carried a run configuration is listed but not offered for resume', async () => {
  const runs = await PageRunStore.open({ indexedDB: new IDBFactory(), IDBKeyRange }, storage(1e9));
  const old = {
    request: { source: { kind: 'demo', variant: 'micro' }, strategy: 'ekfac', damping: null },
    files: null,
    fingerprints: {},
  };
  const run = await createRun(runs.store, {
    name: 'old',
    config: { page: old },
    strategy: 'ekfac',
    backend: null,
    layers: [],
    measurement: null,
  });
  expect((await runs.list(null))[0]).toMatchObject({ id: run.id, resumable: false });
  await expect(runs.requestOf(run.id)).rejects.toThrow(/was not computed on this page, so it cannot be resumed here/);
});

test('a bundle viewed from a link stores nothing; "Keep a copy" stores it whole under the same id', async () => {
  const runs = await PageRunStore.open({ indexedDB: new IDBFactory(), IDBKeyRange }, storage(1e12));
  const before = await runs.store.counts();
  const viewed = await openBundle(readFixture('workspace/small.iwb'), 'small · 0123');
  expect(await runs.store.counts()).toEqual(before);
  expect(viewed.results.result.influence.length).toBe(viewed.results.result.queries.length * 30);
  const id = await runs.keepBundle(viewed);
  expect(id).toBe(viewed.run.id);
  const listed = (await runs.list(null)).find((run) => run.id === id)!;
  expect(listed).toMatchObject({ name: 'small · 0123', imported: true, viewable: true });
  // The stored copy opens to the same numbers as the copy viewed in memory.
  const reopened = await runs.open(id);
  expect(reopened.result.influence).toEqual(viewed.results.result.influence);
  expect(reopened.result.tauPerToken!.values).toEqual(viewed.results.result.tauPerToken!.values);
  expect(reopened.rows).toEqual(viewed.results.rows);
});
