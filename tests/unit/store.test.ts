// idb's wrappers test `instanceof IDBRequest` etc. against the globals, so the fake's classes must be global; each
// test still gets its own factory (an empty browser profile), injected like the page injects the real one.
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { describe, expect, it, vi } from 'vitest';
import { loadLatestCheckpoint, saveCheckpoint } from '../../src/store/checkpoints';
import { SCHEMA_VERSION, WorkbenchStore, openWorkbenchDatabase, type StoreEnvironment } from '../../src/store/db';
import { StorageQuotaError, ensureStorageFor, estimateRunStorage } from '../../src/store/quota';
import { createRun, type NewRun } from '../../src/store/runs';

const environment = (): StoreEnvironment => ({ indexedDB: new IDBFactory(), IDBKeyRange });
const NEW_RUN: NewRun = {
  name: 'first run',
  config: { strategy: 'ekfac' },
  strategy: 'ekfac',
  backend: 'CPU float64',
  measurement: 'mean-log-likelihood',
  layers: [{ name: 'up', dIn: 3, dOut: 2, hasBias: true }],
};

async function openStore(env = environment(), chunkBytes = 64): Promise<WorkbenchStore> {
  return WorkbenchStore.open(env, { chunkBytes });
}

describe('files and tensors in chunks', () => {
  it('stores a model in ≤ chunkBytes records under its sha256, once, and deletes every chunk', async () => {
    const store = await openStore();
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256);
    const record = await store.putFile('model', 'tiny.onnx', bytes);
    expect(record.id).toMatch(/^[0-9a-f]{64}$/);
    expect(record.chunkCount).toBe(16);
    await store.putFile('model', 'same-bytes.onnx', bytes);
    expect((await store.listFiles('model')).map((file) => file.name)).toEqual(['same-bytes.onnx']);
    expect(await store.getFileBytes('model', record.id)).toEqual(bytes);
    const chunks = await store.db.getAll('chunks');
    expect(chunks.every((chunk) => chunk.data.byteLength <= 64)).toBe(true);
    await store.deleteFile('model', record.id);
    expect(await store.counts()).toMatchObject({ models: 0, chunks: 0 });
    await expect(store.getFileBytes('model', record.id)).rejects.toThrow(/no stored model/);
  });

  it('round-trips tensors of every kind and lists them by kind', async () => {
    const store = await openStore();
    const run = await createRun(store, NEW_RUN);
    const lambda = Float64Array.from({ length: 8 }, (_, i) => i / 3);
    const offsets = Int32Array.of(0, 2, 5);
    await store.putTensors(
      run.id,
      [
        { name: 'layers.0.lambda_matrix', kind: 'lambda', shape: [2, 4], array: lambda },
        { name: 'scores.tau_per_token_offsets', kind: 'score', shape: [3], array: offsets },
      ],
      { status: 'complete' },
    );
    expect((await store.getTensor(run.id, 'layers.0.lambda_matrix'))!.array).toEqual(lambda);
    expect((await store.getTensor(run.id, 'scores.tau_per_token_offsets'))!.array).toEqual(offsets);
    expect((await store.listTensors(run.id, 'lambda')).map((t) => t.name)).toEqual(['layers.0.lambda_matrix']);
    expect((await store.getRun(run.id))!.status).toBe('complete');
    await expect(store.putTensors('no-such-run', [])).rejects.toThrow(/no run 'no-such-run'/);
  });
});

describe('runs', () => {
  it('lists most recent first, renames, and deletes a run with all its records in one go', async () => {
    const store = await openStore();
    // Runs are ordered by their timestamps: give them distinct ones from a fake clock, not by sleeping.
    vi.useFakeTimers({ toFake: ['Date'] });
    let first: Awaited<ReturnType<typeof createRun>>;
    let second: typeof first;
    try {
      vi.setSystemTime(new Date('2020-01-01T10:00:00.000Z'));
      first = await createRun(store, NEW_RUN);
      vi.setSystemTime(new Date('2020-01-01T10:00:01.000Z'));
      second = await createRun(store, { ...NEW_RUN, name: 'second run' });
    } finally {
      vi.useRealTimers();
    }
    expect((await store.listRuns()).map((run) => run.id)).toEqual([second.id, first.id]);
    await store.renameRun(first.id, '  renamed  ');
    expect((await store.listRuns()).map((run) => run.name)).toEqual(['renamed', 'second run']);
    await expect(store.renameRun(first.id, '   ')).rejects.toThrow(/cannot be empty/);
    await store.putTensors(first.id, [
      { name: 'scores.tau', kind: 'score', shape: [100], array: new Float64Array(100) },
    ]);
    await saveCheckpoint(store, first.id, 'covariance', 3, { sums: new Float64Array(50) });
    await store.putTensors(second.id, [{ name: 'scores.tau', kind: 'score', shape: [4], array: new Float64Array(4) }]);
    const before = await store.counts();
    await store.deleteRun(first.id);
    expect(await store.getRun(first.id)).toBeUndefined();
    expect(await loadLatestCheckpoint(store, first.id)).toBeNull();
    const after = await store.counts();
    expect(after).toMatchObject({ runs: 1, tensors: 1, checkpoints: 0 });
    expect(after.chunks).toBe(1);
    expect(before.chunks).toBe(1 + 13 + 7);
    expect((await store.getTensor(second.id, 'scores.tau'))!.array).toEqual(new Float64Array(4));
  });
});

describe('checkpoints', () => {
  const payload = (step: number) => ({
    version: 1,
    fingerprint: 'abc',
    timings: [{ stage: 'covariance', seconds: 1.5, items: 3 }],
    covariance: {
      nextIndex: step,
      tokenCount: 10 * step,
      activationSums: [{ shape: [3, 3], data: Float64Array.from({ length: 9 }, (_, i) => i * step) }],
      gradientSums: [{ shape: [20, 20], data: Float64Array.from({ length: 400 }, (_, i) => i + step) }],
    },
    runningScores: undefined,
    perToken: null,
  });

  it('saves and loads the latest checkpoint with its arrays, replacing the previous one', async () => {
    const store = await openStore();
    const run = await createRun(store, NEW_RUN);
    expect(await loadLatestCheckpoint(store, run.id)).toBeNull();
    await saveCheckpoint(store, run.id, 'covariance', 1, payload(1));
    await saveCheckpoint(store, run.id, 'covariance', 2, payload(2));
    const loaded = await loadLatestCheckpoint(store, run.id);
    expect(loaded).toMatchObject({ stage: 'covariance', chunkIndex: 2 });
    expect(loaded!.payload).toEqual(payload(2));
    expect((await store.getRun(run.id))!).toMatchObject({ status: 'running', stage: 'covariance' });
    // 72 + 3200 bytes in 64-byte chunks: nothing of the first checkpoint is left.
    expect((await store.counts()).chunks).toBe(2 + 50);
  });

  it('a save that fails half-way leaves the previous checkpoint whole', async () => {
    const store = await openStore();
    const run = await createRun(store, NEW_RUN);
    await saveCheckpoint(store, run.id, 'covariance', 1, payload(1));
    const before = await store.counts();
    // A value IndexedDB cannot clone fails the put after the old chunks were deleted and the new ones written.
    await expect(saveCheckpoint(store, run.id, 'covariance', 2, { ...payload(2), broken: () => 1 })).rejects.toThrow();
    expect(await store.counts()).toEqual(before);
    expect((await loadLatestCheckpoint(store, run.id))!.payload).toEqual(payload(1));
    await expect(saveCheckpoint(store, 'gone', 'covariance', 1, payload(1))).rejects.toThrow(/no such run/);
    expect(await store.counts()).toEqual(before);
  });
});

describe('schema upgrade', () => {
  it('upgrades a v1 database to the current version, keeping runs, tensors and chunks', async () => {
    const env = environment();
    const v1 = await openWorkbenchDatabase(env, { version: 1 });
    expect([...v1.objectStoreNames]).not.toContain('checkpoints');
    const oldRun = {
      id: 'run-old',
      name: 'from v1',
      createdAt: '2026-01-01T00:00:00.000Z',
      status: 'complete',
      stage: 'done',
      config: { seed: 1 },
      strategy: 'ekfac',
      backend: 'CPU float64',
      modelId: null,
      datasetIds: [],
      layers: [],
      measurement: null,
      timings: [],
      error: null,
    };
    await (v1 as any).put('runs', oldRun);
    await v1.put('tensors', {
      runId: 'run-old',
      name: 'scores.tau',
      kind: 'score',
      arrayType: 'Float64Array',
      shape: [2],
      byteLength: 16,
      chunkCount: 1,
    });
    await v1.put('chunks', { owner: 'run-old', part: 'scores.tau', index: 0, data: Float64Array.of(1.5, -2).buffer });
    v1.close();

    const store = await WorkbenchStore.open(env);
    expect(store.db.version).toBe(SCHEMA_VERSION);
    expect([...store.db.objectStoreNames]).toContain('checkpoints');
    expect(await store.getRun('run-old')).toEqual({
      ...oldRun,
      updatedAt: oldRun.createdAt,
      source: null,
      estimatedBytes: null,
      rows: null,
    });
    expect((await store.getTensor('run-old', 'scores.tau'))!.array).toEqual(Float64Array.of(1.5, -2));
    expect((await store.listRuns()).map((run) => run.id)).toEqual(['run-old']);
    await saveCheckpoint(store, 'run-old', 'scores', 0, { x: 1 });
    expect((await loadLatestCheckpoint(store, 'run-old'))!.payload).toEqual({ x: 1 });
  });
});

describe('quota', () => {
  const layers = [{ dIn: 3, dOut: 2, hasBias: true }];
  it('estimates factors, scores and the checkpoint copy from the run shape', () => {
    const estimate = estimateRunStorage({ layers, queries: 10, train: 100 });
    // width 4: 2·16 + 2·4 + 4 + 2 + 2·4 = 54 elements; scores 1000·3 + 100.
    expect(estimate.factorBytes).toBe(54 * 8);
    expect(estimate.scoreBytes).toBe(3100 * 8);
    expect(estimate.bytes).toBe(3 * (54 + 3100) * 8);
    expect(estimateRunStorage({ layers, queries: 10, train: 100, perTokenTokens: 500 }).scoreBytes).toBe(
      (3100 + 5000) * 8,
    );
  });

  it('asks for persistence and refuses a run that does not fit, saying how much is needed and free', async () => {
    let persistAsked = 0;
    const storage = (quota: number, usage: number) =>
      ({
        persisted: async () => false,
        persist: async () => (persistAsked++, true),
        estimate: async () => ({ quota, usage }),
      }) as unknown as StorageManager;
    expect(await ensureStorageFor(1e6, storage(10e6, 2e6))).toEqual({ persisted: true, quota: 10e6, usage: 2e6 });
    expect(persistAsked).toBe(1);
    const refusal = ensureStorageFor(9e6, storage(10e6, 2e6));
    await expect(refusal).rejects.toThrow(StorageQuotaError);
    await expect(ensureStorageFor(9e6, storage(10e6, 2e6))).rejects.toThrow(
      /needs about 9\.0 MB .* only 8\.0 MB is free \(quota 10\.0 MB, used 2\.0 MB\)/,
    );
  });
});
