/**
 * One page evaluation kept as a stored run, apart from the comlink worker so Node tests run exactly this path: the
 * run is created first (its request in the config, so a reload can resume it); every retrain is saved in IndexedDB
 * as it finishes (src/app/evaluation-store.ts); a cancel or reload leaves it paused with its retrains; resumed, it
 * retrains only what is missing. When done the run holds the bundled strategy's scores and the whole evaluation,
 * exactly what `iwb evaluate --out FILE.iwb` writes, and opens in the workspace's Evaluation view.
 */
import type { ChosenBackend } from '../app/backend-choice';
import { bundleContent, evaluationContent } from '../app/bundle-content';
import { evaluationTraining, runEvaluationJob, type EvaluationSettings } from '../app/evaluation-job';
import { holdAfterRetrains, runEvaluationStore } from '../app/evaluation-store';
import { loadDemoInputs, type DemoFiles } from '../app/inputs';
import type { JobOutcome } from '../app/job';
import { DEFAULT_EVALUATION } from '../eval/types';
import type { Model } from '../onnx/ir';
import { serializeModel } from '../onnx/protobuf';
import { deleteCheckpoint } from '../store/checkpoints';
import type { WorkbenchStore } from '../store/db';
import { createRun, saveRunContent } from '../store/runs';
import type { EvaluationProgressEvent, PageEvaluationRequest, PendingEvaluation } from './evaluation-protocol';

export interface PageEvaluationEnvironment {
  readonly store: WorkbenchStore;
  /** The demo's data (the site's files in the worker); the model is always the demo family's seeded initialisation. */
  demoFiles(variant: 'micro' | 'demo'): Promise<DemoFiles>;
  backend(): Promise<ChosenBackend>;
}

export interface PageEvaluationHooks {
  readonly signal: AbortSignal;
  readonly onProgress: (event: EvaluationProgressEvent) => void;
  readonly onRunId?: (runId: string) => void;
}

const ORDER = ['identity', 'diagonal', 'kfac', 'ekfac'] as const;

export function settingsOf(request: PageEvaluationRequest): EvaluationSettings {
  const strategies = ORDER.filter((s) => request.strategies.includes(s));
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
  try {
    if (resumeId !== null) {
      const run = await store.getRun(resumeId);
      request = run ? evaluationRequestOf(run.config) : null;
      if (!request) throw new Error(`run '${resumeId}' is not an evaluation started on this page`);
      await store.updateRun(resumeId, { status: 'running', error: null });
    }
    const settings = settingsOf(request!);
    const step = (phase: string, message: string) =>
      hooks.onProgress({ phase, message, done: 0, total: 0, resumed: 0 });
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
    const attributed = new Map<string, { outcome: JobOutcome; model: Model }>();
    let resumed = 0;
    const result = await runEvaluationJob(inputs, settings, chosen, {
      store: evaluationStore,
      signal: hooks.signal,
      onStep: (line) => step(line.startsWith('influence') ? 'attributing' : 'training', line),
      onAttributed: (strategy, outcome, model) => {
        if (strategy === bundled) attributed.set(strategy, { outcome, model });
      },
      onRetrain: (e) => {
        if (e.resumed) resumed++;
        const message = `retrain ${e.done} of ${e.total} (${e.key})${e.resumed ? ', found in the store' : ''}`;
        hooks.onProgress({ phase: 'retraining', message, done: e.done, total: e.total, resumed });
      },
    });
    const { outcome, model } = attributed.get(bundled)!;
    const content = await bundleContent(outcome, {
      model: { name: `${inputs.modelName} trained on this page`, bytes: serializeModel(model) },
      train: null,
      queries: null,
    });
    const evaluation = evaluationContent(result, { ...settings.training, damping: settings.damping });
    await saveRunContent(
      store,
      runId,
      { ...content, evaluation },
      {
        timings: outcome.result.timings,
        extraConfig: { pageEvaluation: request },
      },
    );
    // The evaluation is stored with the run: its retrains have done their job.
    await deleteCheckpoint(store, runId);
    return runId;
  } catch (error) {
    if (runId !== null) {
      const status = hooks.signal.aborted ? 'paused' : 'failed';
      const message = hooks.signal.aborted ? 'cancelled' : (error as Error).message;
      await store.updateRun(runId, { status, error: message }).catch(() => undefined);
    }
    throw error;
  }
}
