/**
 * One page evaluation kept as a stored run, apart from the comlink worker so Node tests run exactly this path: the
 * run is created first (its request in the config, so a reload can resume it); every retrain is saved in IndexedDB
 * as it finishes (src/app/evaluation-store.ts); a cancel or reload leaves it paused with its retrains; resumed, it
 * retrains only what is missing. When done the run holds the bundled strategy's scores and the whole evaluation,
 * exactly what `iwb evaluate --out FILE.iwb` writes, and opens in the workspace's Evaluation view.
 */
import type { ChosenBackend } from './backend-choice';
import { evaluationContent } from './bundle-content';
import {
  evaluationTraining,
  runEvaluationJob,
  trainingRecord,
  type EvaluationSettings,
  type RetrainEp,
} from './evaluation-job';
import { holdAfterRetrains, runEvaluationStore } from './evaluation-store';
import { loadDemoInputs, type DemoFiles } from './inputs';
import { DEFAULT_EVALUATION } from '../eval/types';
import { deleteCheckpoint } from '../store/checkpoints';
import type { BundleContent } from '../store/bundle';
import type { WorkbenchStore } from '../store/db';
import type { StageTimingRecord } from '../store/records';
import { createRun, saveRunContent } from '../store/runs';
import type {
  EvaluationProgressEvent,
  PageEvaluationRequest,
  PendingEvaluation,
  RetrainChoice,
} from './evaluation-types';
import { STRATEGIES_PLAINEST_FIRST } from '../core/strategy';

export interface PageEvaluationEnvironment {
  readonly store: WorkbenchStore;
  /** The demo's data (the site's files in the worker); the model is always the demo family's seeded initialisation. */
  demoFiles(variant: 'micro' | 'demo'): Promise<DemoFiles>;
  /** The backend attribution runs on (the CPU, float64). */
  backend(): Promise<ChosenBackend>;
  /** The page's backend for a choice (one device per choice): 'auto' decides the EP, 'webgpu' lends its device. */
  backendFor(choice: 'auto' | 'webgpu'): Promise<ChosenBackend>;
}

/** The EP a run retrains on and, for the WebGPU EP, its device; `why` is said in the progress line. */
interface ResolvedEp {
  readonly ep: RetrainEp;
  readonly device: GPUDevice | null;
  readonly why: string;
}

async function resolveEp(choice: RetrainChoice, environment: PageEvaluationEnvironment): Promise<ResolvedEp> {
  if (choice === 'wasm') return { ep: 'wasm', device: null, why: 'chosen' };
  const chosen = await environment.backendFor(choice);
  if (chosen.webgpu) return { ep: 'webgpu', device: chosen.webgpu.runtime.device, why: chosen.report.reason };
  return { ep: 'wasm', device: null, why: `auto: ${chosen.report.reason}` };
}

export interface PageEvaluationHooks {
  readonly signal: AbortSignal;
  readonly onProgress: (event: EvaluationProgressEvent) => void;
  readonly onRunId?: (runId: string) => void;
}

export function settingsOf(request: PageEvaluationRequest): EvaluationSettings {
  const strategies = STRATEGIES_PLAINEST_FIRST.filter((s) => request.strategies.includes(s));
  if (strategies.length === 0) throw new Error('choose at least one strategy to evaluate');
  return {
    evaluation: {
      ...DEFAULT_EVALUATION,
      subsets: request.subsets,
      fraction: request.fraction,
      seedsPerSubset: request.seedsPerSubset,
      looPerQuery: request.looPerQuery,
      seed: request.seed,
    },
    strategies,
    damping: { kind: 'heuristic', factor: 0.1 },
    training: evaluationTraining({ steps: request.steps }),
    executionProvider: request.retrainOn === 'webgpu' ? 'webgpu' : 'wasm',
  };
}

/** The request a stored evaluation run keeps (null for every other run). */
export function evaluationRequestOf(config: Readonly<Record<string, unknown>>): PageEvaluationRequest | null {
  const request = config.pageEvaluation as PageEvaluationRequest | undefined;
  return request && typeof request === 'object' && Array.isArray(request.strategies) ? request : null;
}

/** Evaluation runs left running by a reload or crash, or paused by a cancel: each can carry on. */
export async function pendingEvaluations(store: WorkbenchStore, active: string | null): Promise<PendingEvaluation[]> {
  const runs = await store.listRuns();
  const pending: PendingEvaluation[] = [];
  for (const run of runs) {
    const request = evaluationRequestOf(run.config);
    if (!request || run.id === active || !['created', 'running', 'paused'].includes(run.status)) continue;
    const saved = await runEvaluationStore(store, run.id).load();
    pending.push({ runId: run.id, name: run.name, retrainsSaved: Object.keys(saved?.retrains ?? {}).length, request });
  }
  return pending;
}

export async function computeStoredEvaluation(
  request: PageEvaluationRequest | null,
  resumeId: string | null,
  environment: PageEvaluationEnvironment,
  hooks: PageEvaluationHooks,
): Promise<string> {
  const { store } = environment;
  let runId = resumeId;
  let lostDevice: string | null = null;
  try {
    if (resumeId !== null) {
      const run = await store.getRun(resumeId);
      request = run ? evaluationRequestOf(run.config) : null;
      if (!request) throw new Error(`run '${resumeId}' is not an evaluation started on this page`);
      await store.updateRun(resumeId, { status: 'running', error: null });
    }
    const step = (phase: string, message: string) =>
      hooks.onProgress({ phase, message, done: 0, total: 0, resumed: 0 });
    // A new run resolves 'auto' once and keeps the EP in its request; a resumed one retrains on the EP it started on
    // (runs stored before the choice existed: wasm) or stops with the reason, never switching EP under its retrains.
    const resolved = await resolveEp(request!.retrainOn ?? 'wasm', environment);
    request = { ...request!, retrainOn: resolved.ep };
    const settings = settingsOf(request);
    step('loading', `retraining on onnxruntime's ${resolved.ep} EP (${resolved.why})`);
    step('loading', `loading the ${request!.variant} demo`);
    const inputs = await loadDemoInputs(
      await environment.demoFiles(request!.variant),
      request!.variant,
      request!.limits,
      hooks.signal,
    );
    const bundled = settings.strategies.at(-1)!;
    if (runId === null) {
      const created = await createRun(store, {
        name: `evaluation · ${request!.variant} demo · ${new Date().toISOString().slice(0, 19).replace('T', ' ')}`,
        config: { pageEvaluation: request },
        strategy: bundled,
        backend: null,
        layers: [],
        measurement: null,
      });
      runId = created.id;
    }
    hooks.onRunId?.(runId);
    let evaluationStore = runEvaluationStore(store, runId);
    if (resumeId === null && request!.holdAfterRetrains !== undefined)
      evaluationStore = holdAfterRetrains(evaluationStore, request!.holdAfterRetrains, hooks.signal);
    const chosen = await environment.backend();
    let bundle: { content: BundleContent; timings: StageTimingRecord[] } | null = null;
    let resumed = 0;
    void resolved.device?.lost.then((info) => (lostDevice = info.message || info.reason || 'no reason given'));
    const result = await runEvaluationJob(inputs, settings, chosen, {
      store: evaluationStore,
      signal: hooks.signal,
      ...(resolved.device ? { gpuDevice: resolved.device } : {}),
      bundled: {
        strategy: bundled,
        modelName: `${inputs.modelName} trained on this page`,
        onContent: (content, timings) => (bundle = { content, timings: [...timings] }),
      },
      onStep: (line) => step(line.startsWith('influence') ? 'attributing' : 'training', line),
      onRetrain: (e) => {
        if (e.resumed) resumed++;
        const message = `retrain ${e.done} of ${e.total} (${e.key})${e.resumed ? ', found in the store' : ''}`;
        hooks.onProgress({ phase: 'retraining', message, done: e.done, total: e.total, resumed });
      },
    });
    const { content, timings } = bundle!;
    const evaluation = evaluationContent(result, trainingRecord(settings));
    await saveRunContent(
      store,
      runId,
      { ...content, evaluation },
      {
        timings,
        extraConfig: { pageEvaluation: request },
      },
    );
    // The evaluation is stored with the run: its retrains have done their job.
    await deleteCheckpoint(store, runId);
    return runId;
  } catch (caught) {
    const error = lostDevice !== null ? deviceLostError(lostDevice, caught) : caught;
    if (runId !== null) {
      // A lost device leaves the run resumable, as a cancel does: its saved retrains are sound.
      const status = hooks.signal.aborted || lostDevice !== null ? 'paused' : 'failed';
      const message = hooks.signal.aborted ? 'cancelled' : (error as Error).message;
      await store.updateRun(runId, { status, error: message }).catch(() => undefined);
    }
    throw error;
  }
}

/** One message for whatever onnxruntime threw once the device was gone: the cause, and that retrains are kept. */
function deviceLostError(reason: string, caught: unknown): Error {
  const message =
    `the WebGPU device was lost while retraining on onnxruntime's WebGPU EP (${reason}); the finished retrains ` +
    'are kept: resume the evaluation to carry on';
  return new Error(message, { cause: caught });
}
