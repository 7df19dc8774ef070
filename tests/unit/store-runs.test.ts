/**
 * Runs through the store with the real engine (CPU float64, the kronfluence token LM): a run interrupted mid-stage
 * resumes from its IndexedDB checkpoint after a "reload" (a new connection to the same database) to bit-identical
 * scores; finished results export to an .iwb and import back; a corrupted bundle never changes the store.
 */
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { runAttribution } from '../../src/influence/pipeline';
import {
  DEFAULT_CONFIG,
  type AttributionConfig,
  type AttributionResult,
  type ExampleSet,
  type ProgressEvent,
  type RunOptions,
} from '../../src/influence/types';
import { BundleError, decodeBundle } from '../../src/store/bundle';
import { runCheckpointStore } from '../../src/app/checkpoints';
import { loadLatestCheckpoint } from '../../src/store/checkpoints';
import { WorkbenchStore, type StoreEnvironment } from '../../src/store/db';
import { createRun, importBundle, runContent, saveRunContent } from '../../src/store/runs';
import { bundleContent, encodeRunBundle } from '../../src/app/bundle-content';
import { DEFAULT_RUN_CONFIG } from '../../src/app/config';
import { readSafetensors } from '../../src/store/safetensors';
import { tokenLmFixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource } from '../helpers/exact-source';
import { seededRandom } from '../fixtures/store/sample-bundle';

const TRAIN = 10;
const QUERIES = 4;
const CONFIG: AttributionConfig = {
  ...DEFAULT_CONFIG,
  seed: 5,
  perToken: true,
  batchSizes: { fit: 3, train: 4, query: 2, batchesPerChunk: 1 },
};
const fixture = await tokenLmFixture();
const set = (role: 'train' | 'query', count: number): ExampleSet => ({
  role,
  examples: Array.from({ length: count }, (_, i) => ({ id: `${role}${i}` })),
});
const attribute = (options: RunOptions = {}) =>
  runAttribution(
    CONFIG,
    {
      backend: new CpuBackend(),
      source: new ExactGradientSource(fixture.model),
      trainSet: set('train', TRAIN),
      querySet: set('query', QUERIES),
    },
    options,
  );
const reference = await attribute();
const newRun = {
  name: 'token lm',
  config: CONFIG as unknown as Record<string, unknown>,
  strategy: 'ekfac' as const,
  backend: 'CPU float64',
  measurement: CONFIG.measurement,
  layers: [],
};

/** The page's path for a finished run: app/bundle-content's mapping into the store, and its one writer back out. */
async function saveRunResults(store: WorkbenchStore, runId: string, result: AttributionResult): Promise<void> {
  const outcome = {
    result,
    config: { ...DEFAULT_RUN_CONFIG, ...CONFIG },
    backend: { kind: 'cpu', description: result.backend, reason: 'test' } as const,
    trainTexts: [],
    queryTexts: [],
  };
  await saveRunContent(store, runId, await bundleContent(outcome, { model: null, train: null, queries: null }), {
    timings: result.timings,
  });
}
async function exportRunBundle(
  store: WorkbenchStore,
  runId: string,
  options: { includeRows?: boolean } = {},
): Promise<Uint8Array> {
  return encodeRunBundle(await runContent(store, runId, options), 'test');
}

describe('resumable runs in IndexedDB', () => {
  it('a run interrupted in the lambda stage resumes after a reload to bit-identical scores', async () => {
    const environment: StoreEnvironment = { indexedDB: new IDBFactory(), IDBKeyRange };
    const first = await WorkbenchStore.open(environment, { chunkBytes: 256 });
    const run = await createRun(first, newRun);
    const controller = new AbortController();
    let lambdaEvents = 0;
    const onProgress = (event: ProgressEvent) => {
      if (event.stage === 'lambda' && ++lambdaEvents === 2) controller.abort(new Error('tab closed'));
    };
    await expect(
      attribute({ checkpoint: runCheckpointStore(first, run.id), signal: controller.signal, onProgress }),
    ).rejects.toThrow('tab closed');
    first.close();

    const reloaded = await WorkbenchStore.open(environment, { chunkBytes: 256 });
    const saved = await loadLatestCheckpoint(reloaded, run.id);
    expect(saved).toMatchObject({ stage: 'lambda' });
    expect(saved!.chunkIndex).toBeGreaterThan(0);
    expect((await reloaded.getRun(run.id))!.status).toBe('running');
    const stages: string[] = [];
    const resumed = await attribute({
      checkpoint: runCheckpointStore(reloaded, run.id),
      onProgress: (event) => stages.push(event.stage),
    });
    expect(stages[0]).toBe('lambda');
    expect(Array.from(resumed.tau)).toEqual(Array.from(reference.tau));
    expect(Array.from(resumed.selfTau)).toEqual(Array.from(reference.selfTau));
    expect(Array.from(resumed.tauPerToken!.values)).toEqual(Array.from(reference.tauPerToken!.values));

    await saveRunResults(reloaded, run.id, resumed);
    const stored = (await reloaded.getRun(run.id))!;
    expect(stored.status).toBe('complete');
    expect(stored.layers.map((layer) => layer.name)).toEqual(resumed.layers.map((layer) => layer.name));
    expect((await reloaded.listTensors(run.id, 'eigen')).length).toBe(4 * resumed.layers.length);
    expect((await reloaded.getTensor(run.id, 'scores.tau'))!.array).toEqual(reference.tau);
  });

  it('exports a finished run as .iwb, imports it into another browser, and exports the same tensors again', async () => {
    const result = reference;
    const store = await WorkbenchStore.open({ indexedDB: new IDBFactory(), IDBKeyRange });
    const run = await createRun(store, {
      ...newRun,
      rows: { train: set('train', TRAIN).examples, query: set('query', QUERIES).examples },
    });
    await saveRunResults(store, run.id, result);
    const bytes = await exportRunBundle(store, run.id);
    const bundle = await decodeBundle(bytes);
    expect(bundle.manifest.stages).toEqual(['covariance', 'eigen', 'lambda', 'scores', 'self']);
    expect(Array.from(bundle.scores.tau!.data)).toEqual(Array.from(result.tau));
    expect(bundle.manifest.rows!.train).toHaveLength(TRAIN);
    expect(bundle.factors.layers.map((layer) => layer.lambdaSum)).toEqual(
      result.factors.layers.map((layer) => layer.lambdaSum),
    );

    const elsewhere = await WorkbenchStore.open({ indexedDB: new IDBFactory(), IDBKeyRange });
    const imported = await importBundle(elsewhere, bytes, { name: 'shared with me' });
    expect(imported).toMatchObject({ status: 'imported', name: 'shared with me', source: { kind: 'bundle' } });
    const again = readSafetensors(await exportRunBundle(elsewhere, imported.id));
    const original = readSafetensors(bytes);
    expect([...again.tensors.keys()].sort()).toEqual([...original.tensors.keys()].sort());
    for (const [name, tensor] of original.tensors) expect(again.tensors.get(name), name).toEqual(tensor);
    const withoutRows = await decodeBundle(await exportRunBundle(store, run.id, { includeRows: false }));
    expect(withoutRows.manifest.rows).toBeNull();
  });

  it('a corrupted bundle is refused and leaves the store exactly as it was', async () => {
    const result = reference;
    const source = await WorkbenchStore.open({ indexedDB: new IDBFactory(), IDBKeyRange });
    const run = await createRun(source, newRun);
    await saveRunResults(source, run.id, result);
    const bytes = await exportRunBundle(source, run.id);
    const store = await WorkbenchStore.open({ indexedDB: new IDBFactory(), IDBKeyRange });
    await importBundle(store, bytes);
    let before = await store.counts();
    const random = seededRandom(6);
    const corpus: Uint8Array[] = [];
    const headerEnd = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    for (let cut = 0; cut < headerEnd; cut += 97) corpus.push(bytes.slice(0, cut));
    for (let trial = 0; trial < 60; trial++) {
      const corrupted = bytes.slice();
      corrupted[Math.floor(random() * corrupted.length)] ^= 1 + Math.floor(random() * 255);
      corpus.push(corrupted);
    }
    let refused = 0;
    for (const corrupted of corpus) {
      const outcome = await importBundle(store, corrupted).then(
        () => 'imported',
        (error: unknown) => error,
      );
      if (outcome === 'imported') {
        // A flip that lands in JSON whitespace still decodes to the same, valid bundle: a whole new run, not a partial
        // one.
        before = await store.counts();
        continue;
      }
      expect(outcome).toBeInstanceOf(BundleError);
      refused++;
      expect(await store.counts()).toEqual(before);
    }
    expect(refused).toBeGreaterThan(corpus.length - 5);
  });
});
