/**
 * A model's external data file (`model.onnx.data`) is part of what a run is of: the bundle's manifest fingerprints it
 * beside the graph (CLI and page write the same), and a paused run resumed with another data file is refused with one
 * message naming the file, leaving the run paused and resumable with its own file (src/influence/pipeline.ts).
 * The model: tests/fixtures/models/gpt2-external (a GPT-2 export whose weights live in model.onnx.data); "another
 * data file" is the same file with one weight changed (same size, still a valid model).
 */
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/app/backend-choice';
import { DEFAULT_RUN_CONFIG } from '../../src/app/config';
import { modelFilesDiffer } from '../../src/influence/pipeline';
import { decodeBundle } from '../../src/store/bundle';
import { loadLatestCheckpoint } from '../../src/store/checkpoints';
import { computeStoredRun, loadRequestInputs } from '../../src/worker/page-run';
import type { AttributionRequest } from '../../src/worker/protocol';
import { PageRunStore } from '../../src/worker/run-store';
import { resign } from '../helpers/bundle-edit';
import { attributeArgs, cli, MICRO_DATA } from '../helpers/cli';
import { fixturePath } from '../helpers/fixtures';

const work = mkdtempSync(path.join(tmpdir(), 'iwb-model-data-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const graph = new Uint8Array(readFileSync(fixturePath('models/gpt2-external/model.onnx')));
const dataA = new Uint8Array(readFileSync(fixturePath('models/gpt2-external/model.onnx.data')));
const dataB = dataA.slice();
new DataView(dataB.buffer).setFloat32(0, new DataView(dataA.buffer).getFloat32(0, true) + 0.25, true);
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A folder holding the graph and `data` as model.onnx.data, as a user keeps them. */
function modelDir(name: string, data: Uint8Array): string {
  const dir = path.join(work, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'model.onnx'), graph);
  writeFileSync(path.join(dir, 'model.onnx.data'), data);
  return path.join(dir, 'model.onnx');
}

const SMALL = ['--strategy', 'identity', '--limit-train', '4', '--limit-queries', '2', '--quiet'];

describe('the external data file in the fingerprint', () => {
  it('iwb attribute --out: changing model.onnx.data changes the bundle’s fingerprint, the graph’s stays', async () => {
    const manifests = [];
    for (const [name, data] of [
      ['a', dataA],
      ['b', dataB],
    ] as const) {
      const out = path.join(work, `${name}.iwb`);
      const run = await cli(attributeArgs({ ...MICRO_DATA, model: modelDir(name, data) }, '--out', out, ...SMALL));
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      manifests.push((await decodeBundle(new Uint8Array(readFileSync(out)))).manifest);
    }
    const [a, b] = manifests;
    // The CLI names the graph by the path it was given (as before); the data file by the name the graph gives it.
    expect(a!.model).toEqual({ name: path.join(work, 'a', 'model.onnx'), sha256: sha(graph), bytes: graph.length });
    expect({ ...b!.model, name: '' }).toEqual({ ...a!.model, name: '' });
    expect(a!.modelData).toEqual([{ name: 'model.onnx.data', sha256: sha(dataA), bytes: dataA.length }]);
    expect(b!.modelData).toEqual([{ name: 'model.onnx.data', sha256: sha(dataB), bytes: dataB.length }]);

    const inspect = await cli(['inspect', path.join(work, 'b.iwb')]);
    expect(inspect.stdout).toContain(`, data model.onnx.data (sha256 ${sha(dataB).slice(0, 16)}…)`);

    // A manifest's modelData is checked like the other fingerprints: one error naming the field.
    const bytes = new Uint8Array(readFileSync(path.join(work, 'a.iwb')));
    for (const [value, message] of [
      ['model.onnx.data', /^manifest modelData: expected an array of file fingerprints$/],
      [[null], /^manifest modelData\[0\]: expected an object$/],
      [
        [{ name: 'model.onnx.data', sha256: 'x', bytes: 1 }],
        /^manifest modelData\[0\]\.sha256: expected 64 lower-case hex/,
      ],
    ] as const) {
      const edited = await resign(bytes, (manifest) => void (manifest.modelData = value));
      await expect(decodeBundle(edited)).rejects.toThrow(message);
    }
  }, 300_000);

  it('names the first file that differs, and accepts equal files or a side that does not say', () => {
    const a = [
      { name: 'model.onnx', sha256: sha(graph), bytes: graph.length },
      { name: 'model.onnx.data', sha256: sha(dataA), bytes: dataA.length },
    ];
    const b = [a[0]!, { ...a[1]!, sha256: sha(dataB) }];
    expect(
      modelFilesDiffer(
        a,
        a.map((f) => ({ ...f })),
      ),
    ).toBeNull();
    expect(modelFilesDiffer(undefined, b)).toBeNull();
    expect(modelFilesDiffer(a, b)).toBe(
      `checkpoint: model file model.onnx.data differs from the one the saved run read (then sha256 ` +
        `${sha(dataA).slice(0, 12)}…, ${dataA.length} bytes; now sha256 ${sha(dataB).slice(0, 12)}…, ` +
        `${dataB.length} bytes); resume with the files the run started with, or start a new run`,
    );
    expect(modelFilesDiffer(a, [a[0]!])).toMatch(
      /saved run read model file model\.onnx\.data, which this run does not/,
    );
    expect(modelFilesDiffer([a[0]!], a)).toMatch(/saved run did not read model file model\.onnx\.data/);
  });
});

describe('resuming a page run', () => {
  const storage = {
    persisted: async () => true,
    estimate: async () => ({ quota: 1e9, usage: 0 }),
  } as unknown as StorageManager;
  const request = (data: Uint8Array, hold?: string): AttributionRequest => ({
    source: {
      kind: 'files',
      model: graph.slice().buffer,
      modelData: [{ name: 'model.onnx.data', bytes: data.slice().buffer }],
      tokenizer: readFileSync(MICRO_DATA.tokenizer, 'utf8'),
      train: readFileSync(MICRO_DATA.train, 'utf8'),
      queries: readFileSync(MICRO_DATA.queries, 'utf8'),
      names: { model: 'model.onnx', tokenizer: 'tokenizer.json', train: 'train.jsonl', queries: 'queries.jsonl' },
    },
    config: {
      ...DEFAULT_RUN_CONFIG,
      backend: 'cpu',
      strategy: 'ekfac',
      batchSizes: { ...DEFAULT_RUN_CONFIG.batchSizes, fit: 2 },
      limits: { train: 4, queries: 2, sample: false },
    },
    ...(hold ? { holdAfterCheckpoint: hold } : {}),
  });

  it('with another model.onnx.data is refused naming the file; the run stays paused and resumes with its own', async () => {
    const store = await PageRunStore.open({ indexedDB: new IDBFactory(), IDBKeyRange }, storage);
    const environment = {
      store,
      loadInputs: (req: AttributionRequest, signal: AbortSignal) =>
        loadRequestInputs(req, signal, () => Promise.reject(new Error('not a demo run'))),
      backendFor: (choice: AttributionRequest['config']['backend']) => chooseBackend(choice, undefined),
    };
    // Held after its first covariance checkpoint (it waits there), then cancelled: a paused run with a checkpoint.
    const cancel = new AbortController();
    let runId = '';
    const first = computeStoredRun(request(dataA, 'covariance'), null, environment, {
      signal: cancel.signal,
      onProgress: () => undefined,
      onRunId: (id) => (runId = id),
    });
    while (!runId || !(await loadLatestCheckpoint(store.store, runId)))
      await new Promise((resolve) => setTimeout(resolve, 50));
    cancel.abort(new Error('cancelled'));
    await expect(first).rejects.toThrow('cancelled');
    expect((await store.list(null)).find((r) => r.id === runId)).toMatchObject({ status: 'paused', resumable: true });

    const hooks = { signal: new AbortController().signal, onProgress: () => undefined };
    const refused = computeStoredRun(request(dataB), runId, environment, hooks);
    await expect(refused).rejects.toThrow(
      /^checkpoint: model file model\.onnx\.data differs from the one the saved run read \(then sha256 /,
    );
    expect((await store.list(null)).find((r) => r.id === runId)).toMatchObject({ status: 'paused', resumable: true });

    await computeStoredRun(await store.requestOf(runId), runId, environment, hooks);
    const manifest = (await decodeBundle(await store.exportBundle(runId))).manifest;
    expect(manifest.model).toEqual({ name: 'model.onnx', sha256: sha(graph), bytes: graph.length });
    expect(manifest.modelData).toEqual([{ name: 'model.onnx.data', sha256: sha(dataA), bytes: dataA.length }]);
  }, 300_000);
});
