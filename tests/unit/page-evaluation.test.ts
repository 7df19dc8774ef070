/**
 * The page's evaluation path (src/app/page-evaluation.ts) in Node on fake-indexeddb, as the engine worker runs it
 * (micro demo data from public/, CPU float64, onnxruntime wasm retrains): an evaluation held after 2 saved retrains
 * and cancelled is listed as pending with its request, resumes retraining only what is missing, and stores the
 * bundled strategy's scores with an evaluation equal to an uninterrupted one's; the stored run exports as a bundle
 * that decodes with the evaluation, and the Evaluation view's data comes from it.
 */
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { expect, test, vi } from 'vitest';
import { chooseBackend } from '../../src/app/backend-choice';
import type { WebGpuBackend } from '../../src/linalg/webgpu/backend';
import { encodeRunBundle } from '../../src/app/bundle-content';
import { nodeSource } from '../../src/data/node-source';
import { decodeBundle } from '../../src/store/bundle';
import { WorkbenchStore } from '../../src/store/db';
import { runContent, runEvaluation } from '../../src/store/runs';
import { TrainingSession } from '../../src/train/loop';
import { evaluationData } from '../../src/app/evaluation-data';
import type { EvaluationProgressEvent, PageEvaluationRequest } from '../../src/app/evaluation-types';
import { computeStoredEvaluation, pendingEvaluations } from '../../src/app/page-evaluation';

const request: PageEvaluationRequest = {
  variant: 'micro',
  limits: { train: 6, queries: 2 },
  subsets: 3,
  fraction: 0.5,
  seedsPerSubset: 1,
  looPerQuery: 1,
  seed: 0,
  strategies: ['ekfac', 'identity'],
  steps: 3,
};

async function environment() {
  return {
    store: await WorkbenchStore.open({ indexedDB: new IDBFactory(), IDBKeyRange }),
    demoFiles: async () => ({ data: nodeSource(), trainedModel: null }),
    backend: () => chooseBackend('cpu', undefined),
    backendFor: (choice: 'auto' | 'webgpu') => chooseBackend(choice, undefined),
  };
}

test('a held, cancelled page evaluation resumes with only the missing retrains and stores the same evaluation', async () => {
  // Every onnxruntime training session opened is released, whether the evaluation is cancelled or finishes.
  const created = vi.spyOn(TrainingSession, 'create');
  const released = vi.spyOn(TrainingSession.prototype, 'release');
  const env = await environment();
  const controller = new AbortController();
  const events: EvaluationProgressEvent[] = [];
  let runId = '';
  const held = computeStoredEvaluation({ ...request, holdAfterRetrains: 2 }, null, env, {
    signal: controller.signal,
    onProgress: (e) => events.push(e),
    onRunId: (id) => (runId = id),
  });
  await expect
    .poll(async () => (await pendingEvaluations(env.store, null))[0]?.retrainsSaved, { timeout: 60_000 })
    .toBe(2);
  controller.abort(new Error('cancelled by the test'));
  await expect(held).rejects.toThrow('cancelled by the test');
  expect(created.mock.calls.length).toBeGreaterThan(0);
  expect(released).toHaveBeenCalledTimes(created.mock.calls.length);
  expect((await env.store.getRun(runId))!.status).toBe('paused');
  const [pending] = await pendingEvaluations(env.store, null);
  // A request without an EP is a wasm one (runs stored before the choice); the stored request says so.
  expect(pending).toMatchObject({
    runId,
    retrainsSaved: 2,
    request: { ...request, holdAfterRetrains: 2, retrainOn: 'wasm' },
  });

  const resumedEvents: EvaluationProgressEvent[] = [];
  const resumedId = await computeStoredEvaluation(null, runId, env, {
    signal: new AbortController().signal,
    onProgress: (e) => resumedEvents.push(e),
  });
  expect(resumedId).toBe(runId);
  const last = resumedEvents.filter((e) => e.phase === 'retraining').at(-1)!;
  expect(last.resumed).toBe(2);
  expect(last.done).toBe(last.total);
  const run = (await env.store.getRun(runId))!;
  expect(run.status).toBe('complete');
  expect(run.strategy).toBe('ekfac');
  expect(await pendingEvaluations(env.store, null)).toEqual([]);

  const fresh = await environment();
  created.mockClear();
  released.mockClear();
  let retrains = 0;
  const freshId = await computeStoredEvaluation(request, null, fresh, {
    signal: new AbortController().signal,
    onProgress: (e) => (retrains = e.phase === 'retraining' ? e.done : retrains),
  });
  // One session for the model trained on all examples, one shared by every retrain (3 subsets, the full set, LOO).
  expect(retrains).toBeGreaterThan(4);
  expect(created).toHaveBeenCalledTimes(2);
  expect(released).toHaveBeenCalledTimes(2);
  created.mockRestore();
  released.mockRestore();
  const resumed = (await runEvaluation(env.store, runId))!;
  const uninterrupted = (await runEvaluation(fresh.store, freshId))!;
  expect(resumed).toEqual(uninterrupted);
  expect(resumed.info.strategies.map((s) => s.strategy)).toEqual(['identity', 'ekfac']);

  const bundle = await decodeBundle(await encodeRunBundle(await runContent(env.store, runId), 'test'));
  expect(bundle.evaluation).toEqual(resumed);
  expect(bundle.manifest.evaluation!.training).toMatchObject({ steps: 3, executionProvider: 'wasm' });
  const rows = bundle.manifest.rows!;
  const data = evaluationData(
    resumed,
    rows.query.map((r) => r.id),
    rows.train.map((r) => r.id),
  );
  expect(data.measured).toHaveLength(3 * 2);
  expect(data.loo!.trainIds.every((id) => rows.train.some((r) => r.id === id))).toBe(true);
}, 240_000);

test("'auto' without WebGPU retrains on the wasm EP and says why; 'webgpu' without WebGPU stops before storing", async () => {
  const env = await environment();
  const lines: string[] = [];
  const hooks = {
    signal: new AbortController().signal,
    onProgress: (e: EvaluationProgressEvent) => lines.push(e.message),
  };
  const runId = await computeStoredEvaluation(
    { ...request, subsets: 2, looPerQuery: 0, retrainOn: 'auto' },
    null,
    env,
    hooks,
  );
  expect(lines[0]).toMatch(/^retraining on onnxruntime's wasm EP \(auto: no usable WebGPU adapter/);
  expect(evaluationRequestOfRun((await env.store.getRun(runId))!.config)).toBe('wasm');

  const before = (await env.store.listRuns()).length;
  await expect(computeStoredEvaluation({ ...request, retrainOn: 'webgpu' }, null, env, hooks)).rejects.toThrow(
    /^WebGPU was requested but is unavailable: WebGPU is not available here/,
  );
  expect(await env.store.listRuns()).toHaveLength(before);
}, 120_000);

test('a device lost under the WebGPU EP pauses the run with one message, offered for resume', async () => {
  const env = await environment();
  // A WebGPU backend whose device is already lost; in Node its EP then fails at the first session, as a real loss
  // makes onnxruntime fail at its next call.
  const lost = { lost: Promise.resolve({ reason: 'unknown', message: 'the test lost it' }) } as unknown as GPUDevice;
  const gpuEnv = {
    ...env,
    backendFor: async () => ({
      ...(await chooseBackend('cpu', undefined)),
      webgpu: { runtime: { device: lost } } as unknown as WebGpuBackend,
      report: { kind: 'webgpu' as const, description: 'a lost device', reason: 'WebGPU requested' },
    }),
  };
  let runId = '';
  const run = computeStoredEvaluation({ ...request, retrainOn: 'webgpu' }, null, gpuEnv, {
    signal: new AbortController().signal,
    onProgress: () => {},
    onRunId: (id) => (runId = id),
  });
  await expect(run).rejects.toThrow(
    "the WebGPU device was lost while retraining on onnxruntime's WebGPU EP (the test lost it); the finished " +
      'retrains are kept: resume the evaluation to carry on',
  );
  expect((await env.store.getRun(runId))!.status).toBe('paused');
  const [pending] = await pendingEvaluations(env.store, null);
  expect(pending).toMatchObject({ runId, request: { retrainOn: 'webgpu' } });
}, 120_000);

const evaluationRequestOfRun = (config: Readonly<Record<string, unknown>>) =>
  (config.pageEvaluation as PageEvaluationRequest).retrainOn;
