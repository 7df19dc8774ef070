import { proxy, transfer, wrap, type Remote } from 'comlink';
import type { EngineWorkerApi } from './engine.worker';
import type { AttributionSummary, PageRequest, ProgressEvent } from './protocol';
import type { StoredRunsApi } from './run-protocol';
import type { WorkspaceApi } from './workspace-protocol';
import type { EvaluationProgressEvent, PageEvaluationRequest, PendingEvaluation } from './evaluation-protocol';

/** The page evaluation's calls (a plain object, for the same reason as StoredRunsApi). */
export interface EvaluationApi {
  /** Resolves with the stored run's id once every retrain is done and the evaluation stored. */
  start(request: PageEvaluationRequest, onProgress: (event: EvaluationProgressEvent) => void): Promise<string>;
  resume(runId: string, onProgress: (event: EvaluationProgressEvent) => void): Promise<string>;
  pending(): Promise<PendingEvaluation[]>;
  cancel(): Promise<void>;
}

export interface EngineClient {
  readonly api: Remote<EngineWorkerApi>;
  /** Start a run; progress arrives through the callback (a comlink proxy), the summary when it ends. */
  attribute(request: PageRequest, onProgress: (event: ProgressEvent) => void): Promise<AttributionSummary>;
  /** New query rows (JSONL) attributed against a stored run's factors; progress and the summary as for attribute. */
  ask(runId: string, queries: string, onProgress: (event: ProgressEvent) => void): Promise<AttributionSummary>;
  /** The run's model answers `prompt`; that answer is asked as `ask` does (summary plus the generated text). */
  askGenerated(
    runId: string,
    prompt: string,
    maxNewTokens: number,
    onProgress: (event: ProgressEvent) => void,
  ): Promise<AttributionSummary & { readonly generated: string }>;
  /** A stored run's query asked again, measured on token spans (positions in its input_ids). */
  askSpan(
    runId: string,
    queryId: string,
    spans: readonly { readonly start: number; readonly end: number }[],
    onProgress: (event: ProgressEvent) => void,
  ): Promise<AttributionSummary>;
  /** Carry on a stored run from its last checkpoint; progress and the summary as for attribute. */
  resume(runId: string, onProgress: (event: ProgressEvent) => void): Promise<AttributionSummary>;
  /** Stored runs and bundles. */
  readonly runs: StoredRunsApi;
  /** The results workspace's per-view data of a stored run. */
  readonly workspace: WorkspaceApi;
  readonly evaluation: EvaluationApi;
  terminate(): void;
}

/** The page's typed handle on the engine worker. */
export function startEngineWorker(): EngineClient {
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'iwb-engine' });
  const api = wrap<EngineWorkerApi>(worker);
  return {
    api,
    attribute(request, onProgress) {
      // The model bytes move to the worker rather than being copied (a picked model is there already).
      const sent = request.source.kind === 'files' ? transfer(request, [request.source.model]) : request;
      return api.startAttribution(sent, proxy(onProgress));
    },
    resume: (runId, onProgress) => api.resumeRun(runId, proxy(onProgress)),
    ask: (runId, queries, onProgress) => api.askAnother(runId, queries, proxy(onProgress)),
    askGenerated: (runId, prompt, maxNewTokens, onProgress) =>
      api.askGenerated(runId, prompt, maxNewTokens, proxy(onProgress)),
    askSpan: (runId, queryId, spans, onProgress) => api.askSpan(runId, queryId, spans, proxy(onProgress)),
    runs: {
      listRuns: () => api.listRuns(),
      renameRun: (id, name) => api.renameRun(id, name),
      deleteRun: (id) => api.deleteRun(id),
      exportRun: (id) => api.exportRun(id),
      importBundle: (bytes, name) => api.importBundle(transfer(bytes, [bytes.buffer]), name),
      viewBundle: (bytes, name) => api.viewBundle(transfer(bytes, [bytes.buffer]), name),
      keepBundle: (runId) => api.keepBundle(runId),
      viewScoreFolder: (folder, train, queries) => api.viewScoreFolder(folder, train, queries),
      openRun: (id) => api.openRun(id),
      topStoredInfluences: (runId, target, k, normalization) =>
        api.topStoredInfluences(runId, target, k, normalization),
    },
    workspace: {
      index: (runId) => api.workspaceIndex(runId),
      overview: (runId, normalization) => api.workspaceOverview(runId, normalization),
      queryScores: (runId, queryId) => api.workspaceQueryScores(runId, queryId),
      example: (runId, trainId, target) => api.workspaceExample(runId, trainId, target),
      analyses: (runId) => api.workspaceAnalyses(runId),
      afterAnswer: (runId) => api.workspaceAfterAnswer(runId),
      evaluation: (runId) => api.workspaceEvaluation(runId),
    },
    evaluation: {
      start: (request, onProgress) => api.startEvaluation(request, proxy(onProgress)),
      resume: (runId, onProgress) => api.resumeEvaluation(runId, proxy(onProgress)),
      pending: () => api.pendingEvaluations(),
      cancel: () => api.cancelEvaluation(),
    },
    terminate: () => worker.terminate(),
  };
}
