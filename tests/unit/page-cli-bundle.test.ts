/**
 * Page and CLI share one application layer (src/app): the same run on the CPU backend, once through the worker's
 * stored-run path (src/worker/page-run.ts on fake-indexeddb: checkpoints, store, export) and once through
 * `iwb attribute --out`, writes byte-identical tensors: factors, scores, self-influence, per-token scores.
 */
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { chooseBackend } from '../../src/app/backend-choice';
import { DEFAULT_RUN_CONFIG } from '../../src/app/config';
import { decodeBundle } from '../../src/store/bundle';
import { readSafetensors } from '../../src/store/safetensors';
import { computeStoredRun, loadRequestInputs } from '../../src/worker/page-run';
import type { AttributionRequest } from '../../src/worker/protocol';
import { PageRunStore } from '../../src/worker/run-store';
import { attributeArgs, cli, microUserFiles } from '../helpers/cli';

const dir = mkdtempSync(path.join(tmpdir(), 'iwb-page-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const files = microUserFiles(dir);
// A fresh copy: a Buffer from readFileSync may be a view into Node's shared pool.
const modelBytes = new Uint8Array(readFileSync(files.model));

const storage = {
  persisted: async () => true,
  estimate: async () => ({ quota: 1e9, usage: 0 }),
} as unknown as StorageManager;

test('the page path and `iwb attribute --out` write byte-identical tensors for one run (CPU)', async () => {
  // A small batch and per-token scores: several chunks (so several checkpoints on the page side) and every tensor.
  const flags = ['--per-token', '--batch-size', '5', '--query-batch', '3', '--limit-train', '10'];
  const out = path.join(dir, 'cli.iwb');
  const cliRun = await cli([...attributeArgs(files, '--out', out, '--quiet'), ...flags]);
  expect(cliRun.stderr).toBe('');
  expect(cliRun.code).toBe(0);

  const request: AttributionRequest = {
    source: {
      kind: 'files',
      model: modelBytes.slice().buffer,
      tokenizer: readFileSync(files.tokenizer, 'utf8'),
      train: readFileSync(files.train, 'utf8'),
      queries: readFileSync(files.queries, 'utf8'),
      names: { model: 'micro.onnx', tokenizer: 'tokenizer.json', train: 'train.jsonl', queries: 'queries.jsonl' },
    },
    config: {
      ...DEFAULT_RUN_CONFIG,
      backend: 'cpu',
      perToken: true,
      batchSizes: { ...DEFAULT_RUN_CONFIG.batchSizes, fit: 5, train: 5, query: 3 },
      limits: { train: 10, queries: null, sample: false },
    },
  };
  const store = await PageRunStore.open({ indexedDB: new IDBFactory(), IDBKeyRange }, storage);
  const stages = new Set<string>();
  const { runId } = await computeStoredRun(
    request,
    null,
    {
      store,
      loadInputs: (req, signal) => loadRequestInputs(req, signal, () => Promise.reject(new Error('not a demo run'))),
      backendFor: (choice) => chooseBackend(choice, undefined),
    },
    { signal: new AbortController().signal, onProgress: (event) => stages.add(event.stage) },
  );
  expect([...stages]).toEqual([
    'loading data',
    'preparing the model',
    'covariance',
    'eigen',
    'lambda',
    'query',
    // Self-influence comes out of the scores pass (the same G(n)); no stage of its own.
    'scores',
  ]);
  const pageBytes = await store.exportBundle(runId);

  const page = readSafetensors(pageBytes);
  const fromCli = readSafetensors(new Uint8Array(readFileSync(out)));
  const names = [...page.tensors.keys()].sort();
  expect([...fromCli.tensors.keys()].sort()).toEqual(names);
  expect(names).toEqual(
    expect.arrayContaining([
      'scores.tau',
      'scores.influence',
      'scores.self_tau',
      'scores.tau_per_token',
      'scores.tau_per_token_offsets',
    ]),
  );
  for (const name of names) {
    const a = page.tensors.get(name)!;
    const b = fromCli.tensors.get(name)!;
    expect({ dtype: a.dtype, shape: a.shape }, name).toEqual({ dtype: b.dtype, shape: b.shape });
    expect(Buffer.from(a.data).equals(Buffer.from(b.data)), name).toBe(true);
  }
  // Both record the same run configuration (the page adds its request for a resume).
  const { page: _request, ...pageConfig } = (await decodeBundle(pageBytes)).manifest.config;
  expect(pageConfig).toEqual((await decodeBundle(new Uint8Array(readFileSync(out)))).manifest.config);
  expect(pageConfig).toMatchObject({
    backend: 'cpu',
    backendKind: 'cpu',
    perToken: true,
    damping: { kind: 'heuristic', factor: 0.1 },
  });
});
