/**
 * The worker that owns the GPU device and the onnxruntime sessions. The page talks to it through comlink only
 * (see client.ts); nothing here touches the DOM. One run at a time; its results stay here and the page asks for
 * the views it shows (top-k for a query or a benchmark), so large score matrices never cross to the page thread.
 */
import { expose, transfer } from 'comlink';
import { fetchSource } from '../data/dataset';
import { chooseBackend, type ChosenBackend } from '../app/backend-choice';
import { DEMO_MODEL_PATHS, type RunInputs } from '../app/inputs';
import type { JobOutcome } from '../app/job';
import { topInfluences } from '../app/results';
import { generateGreedy } from '../app/generate';
import { spanQueryRow, storedComparison, type StoredComparison } from './ask-span';
import { probeGpu, type GpuProbe } from './gpu-probe';
import type { ModelLayers } from '../app/model-layers';
import type { Model } from '../onnx/ir';
import { PickedModels } from './picked-model';
import {
  CANCELLED_ERROR_NAME,
  type AttributionRequest,
  type AttributionSummary,
  type BackendChoice,
  type InfluenceTarget,
  type Normalization,
  type PageRequest,
  type PickedModelInfo,
  type ProgressEvent,
  type RunEstimate,
  type TopInfluences,
} from './protocol';
import { benchmarkOf } from '../influence/aggregate';
import { computeStoredRun, estimateRequest, loadRequestInputs } from './page-run';
import { PageRunStore, rankStored, viewBundle, type StoredResults } from './run-store';
import { scoreFolderBundle } from '../app/score-folder';
import { browserFileSource } from '../store/file-source';
import { readPickedText } from './picked-files';
import { pickedFolderName } from './picked-factors';
import type { RunListing, StoredRunView } from './run-protocol';
import { computeStoredEvaluation, pendingEvaluations } from './page-evaluation';
import { evaluationData } from './evaluation-data';
import { evaluationOf, runEvaluation } from '../store/runs';
import type { BundleEvaluation } from '../store/bundle-eval';
import { EVALUATION_CANCELLED, type EvaluationProgressEvent, type PageEvaluationRequest } from './evaluation-protocol';
import {
  workspaceAnalyses,
  workspaceExample,
  workspaceIndex,
  workspaceAfterAnswer,
  workspaceOverview,
  workspaceQueryScores,
  precomputeWorkspace,
} from './workspace-data';

const gpu = self.navigator.gpu;
const siteRoot = new URL(import.meta.env.BASE_URL, self.location.origin).toString();

/** The device is acquired once per backend choice and kept for every later run. */
const backends = new Map<BackendChoice, Promise<ChosenBackend>>();
let running: AbortController | null = null;
let finished: JobOutcome | null = null;
/** The stored run being computed now (not one to offer for resume). */
let activeRunId: string | null = null;
let runStore: Promise<PageRunStore> | null = null;
/** The model picked in the page: parsed once, for the layer list and the estimates, until another is picked. */
const picked = new PickedModels();
/**
 * The stored runs last opened for viewing, most recent last: two, because a page can show a finished run's
 * workspace and an opened stored run's at once, and reopening one from the store for each request would thrash.
 */
const KEPT_OPEN = 2;
let viewed: { runId: string; results: StoredResults }[] = [];
/** Bundles viewed without storing them (?bundle= links), by run id, until kept or the page goes. */
const inMemory = new Map<string, Awaited<ReturnType<typeof viewBundle>>>();
/** The page evaluation running now (one at a time, beside at most one attribution) and its stored run. */
let evaluating: AbortController | null = null;
let evaluatingRunId: string | null = null;

const api = {
  probeGpu(): Promise<GpuProbe> {
    return probeGpu(gpu);
  },

  startAttribution(request: PageRequest, onProgress: (event: ProgressEvent) => void): Promise<AttributionSummary> {
    return attribute(picked.resolve(request).request, null, onProgress);
  },

  /** Read and parse a model picked in the page (File handles: the bytes are read here), kept until the next pick. */
  pickModel(files: File[], paths?: string[], variant?: string): Promise<PickedModelInfo> {
    return picked.pick(files, paths, variant);
  },

  /** The picked model's linear layers and which a run would track with this pattern (null: the default). */
  pickedLayers(token: string, trackedLayers: string | null): ModelLayers {
    return picked.layers(token, trackedLayers);
  },

  /** The memory plan and time estimate of a run with these settings, computed without running it. */
  estimateRun(request: PageRequest): Promise<RunEstimate> {
    const { request: resolved, parsed } = picked.resolve(request);
    const environment = { loadInputs: (r: AttributionRequest, s: AbortSignal) => loadInputs(r, s, parsed), backendFor };
    return estimateRequest(resolved, environment, new AbortController().signal);
  },

  /**
   * "Ask another question": new query rows (JSONL text) attributed against a finished stored run's factors, with its
   * model, training data and settings; a new stored run.
   */
  async askAnother(
    runId: string,
    queries: string,
    onProgress: (event: ProgressEvent) => void,
  ): Promise<AttributionSummary> {
    const base = await (await stored()).requestOf(runId);
    const source =
      base.source.kind === 'demo'
        ? { ...base.source, queries }
        : { ...base.source, queries, names: { ...base.source.names, queries: 'asked.jsonl' } };
    return attribute({ source, config: base.config, factorsFrom: runId }, null, onProgress);
  },

  /**
   * The run's model answers `prompt` (greedy, app/generate.ts) and that answer — its exact tokens, as a token row — is
   * asked against the run's factors as askAnother does. The generated text comes back with the summary.
   */
  async askGenerated(
    runId: string,
    prompt: string,
    maxNewTokens: number,
    onProgress: (event: ProgressEvent) => void,
  ): Promise<AttributionSummary & { readonly generated: string }> {
    if (running) throw new Error('an attribution is already running; cancel it first');
    const base = await (await stored()).requestOf(runId);
    const inputs = await loadInputs(base, new AbortController().signal);
    if (!inputs.tokenizer) throw new Error('this run has no tokenizer to encode a prompt with');
    onProgress({
      stage: 'generating',
      done: 0,
      total: maxNewTokens,
      unit: 'tokens',
      itemsPerSecond: 0,
      etaSeconds: null,
    });
    const generation = await generateGreedy(inputs.model, inputs.tokenizer, prompt, { maxNewTokens });
    const row = {
      id: 'generated',
      input_ids: [...generation.promptIds, ...generation.generatedIds],
      prompt_len: generation.promptIds.length,
    };
    const summary = await api.askAnother(runId, JSON.stringify(row) + '\n', onProgress);
    return { ...summary, generated: generation.text };
  },

  /**
   * "Attribute this span" (the query view): one of a stored run's queries asked again against its factors with the
   * measurement restricted to `spans` (token positions [start, end) in its input_ids, inside the response). The row
   * sent is the query's own tokens (pre-tokenized, so nothing is re-tokenised) with `measure` spans in response
   * tokens, so the new run measures exactly the selected tokens (T_q = their count). Refusals name the query.
   */
  async askSpan(
    runId: string,
    queryId: string,
    spans: readonly { readonly start: number; readonly end: number }[],
    onProgress: (event: ProgressEvent) => void,
  ): Promise<AttributionSummary> {
    if (running) throw new Error('an attribution is already running; cancel it first');
    const base = await (await stored()).requestOf(runId);
    const inputs = await loadInputs(base, new AbortController().signal);
    const row = spanQueryRow(inputs.queries, queryId, spans);
    return api.askAnother(runId, JSON.stringify(row) + '\n', onProgress);
  },

  /** Two responses' attributions (queries a and b of a stored run) compared per training example (app/generate.ts). */
  async compareStored(runId: string, a: number, b: number, k: number): Promise<StoredComparison> {
    return storedComparison(await viewedResults(runId), a, b, k);
  },

  /** Carry on a stored run (left running by a reload or crash, or paused) from its last checkpoint. */
  async resumeRun(runId: string, onProgress: (event: ProgressEvent) => void): Promise<AttributionSummary> {
    return attribute(await (await stored()).requestOf(runId), runId, onProgress);
  },

  async listRuns(): Promise<RunListing[]> {
    return (await stored()).list(activeRunId);
  },

  async renameRun(id: string, name: string): Promise<void> {
    await (await stored()).rename(id, name);
  },

  async deleteRun(id: string): Promise<void> {
    if (id === activeRunId) throw new Error('this run is being computed: cancel it before deleting it');
    await (await stored()).delete(id);
    viewed = viewed.filter((open) => open.runId !== id);
  },

  async exportRun(id: string): Promise<Uint8Array> {
    const bytes = await (await stored()).exportBundle(id);
    return transfer(bytes, [bytes.buffer]);
  },

  /** Check a bundle completely, store it as a read-only run, and open it (a bad bundle stores nothing). */
  async importBundle(bytes: Uint8Array, name: string): Promise<StoredRunView> {
    const { id, alreadyStored } = await (await stored()).importBundle(bytes, name);
    return { ...(await openStored(id)), ...(alreadyStored && { alreadyStored }) };
  },

  /** Check a bundle completely and open it read-only without storing it (keepBundle stores it later). */
  async viewBundle(bytes: Uint8Array, name: string): Promise<StoredRunView> {
    const bundle = await viewBundle(bytes, name);
    inMemory.set(bundle.run.id, bundle);
    return openStored(bundle.run.id);
  },

  /** Scores computed elsewhere (a kronfluence scores folder, read here from its File handles) opened read-only. */
  async viewScoreFolder(folder: readonly File[], train: File, queries: File): Promise<StoredRunView> {
    const bytes = await scoreFolderBundle(
      browserFileSource(folder),
      { name: train.name, text: await readPickedText(train, 'jsonl') },
      { name: queries.name, text: await readPickedText(queries, 'jsonl') },
    );
    const bundle = await viewBundle(bytes, `kronfluence ${pickedFolderName([...folder])}`);
    inMemory.set(bundle.run.id, bundle);
    return openStored(bundle.run.id);
  },

  /** Store a bundle opened by viewBundle, under the same run id (one transaction: all or nothing). */
  async keepBundle(runId: string): Promise<void> {
    const bundle = inMemory.get(runId);
    if (!bundle) throw new Error(`no bundle is open without being stored under id ${runId}`);
    await (await stored()).keepBundle(bundle);
    inMemory.delete(runId);
  },

  openRun(id: string): Promise<StoredRunView> {
    return openStored(id);
  },

  async topStoredInfluences(
    runId: string,
    target: InfluenceTarget,
    k: number,
    normalization: Normalization,
  ): Promise<TopInfluences> {
    return rankStored(await viewedResults(runId), target, k, normalization);
  },

  async workspaceIndex(runId: string) {
    const results = await viewedResults(runId);
    const listing = (await (await stored()).list(activeRunId)).find((run) => run.id === runId);
    const unstored = inMemory.get(runId);
    const run = unstored?.run ?? (await (await stored()).store.getRun(runId));
    const index = {
      ...workspaceIndex(runId, results, unstored?.run.name ?? (listing?.imported ? listing.name : null)),
      // The results may have been opened before a rename: the store has the name now.
      name: listing?.name ?? results.name,
      hasEvaluation: !!run?.evaluation,
    };
    // Runs after this answer is posted; a macrotask between pieces lets the views' requests in.
    void precomputeWorkspace(results, () => new Promise((resolve) => setTimeout(resolve, 0)));
    return index;
  },

  async workspaceEvaluation(runId: string) {
    const { result } = await viewedResults(runId);
    const ids = (rows: readonly { id: string }[]) => rows.map((row) => row.id);
    return evaluationData(await evaluationOfRun(runId), ids(result.queries), ids(result.train));
  },

  startEvaluation(request: PageEvaluationRequest, onProgress: (event: EvaluationProgressEvent) => void) {
    return evaluate(request, null, onProgress);
  },

  resumeEvaluation(runId: string, onProgress: (event: EvaluationProgressEvent) => void) {
    return evaluate(null, runId, onProgress);
  },

  async pendingEvaluations() {
    return pendingEvaluations((await stored()).store, evaluatingRunId);
  },

  cancelEvaluation(): void {
    evaluating?.abort(new DOMException('evaluation cancelled', 'AbortError'));
  },

  async workspaceOverview(runId: string, normalization: Normalization) {
    return workspaceOverview(await viewedResults(runId), normalization);
  },

  async workspaceQueryScores(runId: string, queryId: string) {
    return workspaceQueryScores(await viewedResults(runId), queryId);
  },

  async workspaceExample(runId: string, trainId: string, target: InfluenceTarget) {
    return workspaceExample(await viewedResults(runId), trainId, target);
  },

  async workspaceAnalyses(runId: string) {
    return workspaceAnalyses(await viewedResults(runId));
  },

  async workspaceAfterAnswer(runId: string) {
    return workspaceAfterAnswer(await viewedResults(runId));
  },

  cancel(): void {
    running?.abort(new DOMException('attribution cancelled', 'AbortError'));
  },

  topInfluences(target: InfluenceTarget, k: number, normalization: Normalization): TopInfluences {
    if (!finished) throw new Error('no finished attribution to rank');
    return topInfluences(finished.result, finished.trainTexts, target, k, normalization);
  },
};

function stored(): Promise<PageRunStore> {
  if (!runStore) {
    runStore = PageRunStore.open();
    runStore.catch(() => (runStore = null));
  }
  return runStore;
}

/** A run's evaluation, from the store or from an unstored bundle's tensors in memory (null if it has none). */
async function evaluationOfRun(runId: string): Promise<BundleEvaluation | null> {
  const unstored = inMemory.get(runId);
  if (!unstored) return runEvaluation((await stored()).store, runId);
  const tensors = new Map(unstored.tensors.map((tensor) => [tensor.name, tensor.array]));
  return evaluationOf(unstored.run, async (name) => tensors.get(name));
}

async function viewedResults(runId: string): Promise<StoredResults> {
  const open = viewed.find((entry) => entry.runId === runId);
  if (open) return open.results;
  await openStored(runId);
  return viewed[viewed.length - 1]!.results;
}

async function openStored(runId: string): Promise<StoredRunView> {
  const store = await stored();
  const results =
    viewed.find((entry) => entry.runId === runId)?.results ?? inMemory.get(runId)?.results ?? (await store.open(runId));
  viewed = [...viewed.filter((entry) => entry.runId !== runId), { runId, results }].slice(-KEPT_OPEN);
  const listing = (await store.list(activeRunId)).find((run) => run.id === runId);
  // A bundle viewed without storing it has no listing: it is imported too.
  return { runId, name: listing?.name ?? results.name, summary: results.summary, imported: listing?.imported ?? true };
}

/** One page run at a time (page-run.ts); its results stay here for the views the page asks for. */
async function attribute(
  request: AttributionRequest,
  resumeId: string | null,
  onProgress: (event: ProgressEvent) => void,
): Promise<AttributionSummary> {
  if (running) throw new Error('an attribution is already running; cancel it first');
  const controller = new AbortController();
  running = controller;
  finished = null;
  try {
    const environment = { store: await stored(), loadInputs, backendFor };
    const { runId, inputs, outcome } = await computeStoredRun(request, resumeId, environment, {
      signal: controller.signal,
      onProgress,
      onRunId: (runId) => (activeRunId = runId),
    });
    finished = outcome;
    const { result } = outcome;
    return {
      runId,
      backend: outcome.backend,
      strategy: result.config.strategy,
      trainCount: result.train.length,
      queries: result.queries.map((q, i) => ({
        id: q.id,
        benchmark: benchmarkOf(q),
        prompt: outcome.queryTexts[i]?.prompt ?? '',
      })),
      benchmarks: [...new Set(result.queries.map(benchmarkOf))],
      subsample: inputs.subsample,
      timings: outcome.timings,
      peakGpuBytes: outcome.peakGpuBytes,
    };
  } catch (error) {
    // A lost device is gone for good: the next run (or the resume) acquires a new one.
    if ((error as Error).name === 'DeviceLostError') backends.delete(request.config.backend);
    if (controller.signal.aborted) {
      const cancelled = new Error('the attribution was cancelled');
      cancelled.name = CANCELLED_ERROR_NAME;
      throw cancelled;
    }
    throw error;
  } finally {
    running = null;
    activeRunId = null;
  }
}

/** One page evaluation at a time (page-evaluation.ts); resolves with the stored run's id. */
async function evaluate(
  request: PageEvaluationRequest | null,
  resumeId: string | null,
  onProgress: (event: EvaluationProgressEvent) => void,
): Promise<string> {
  if (evaluating) throw new Error('an evaluation is already running; cancel it first');
  const controller = new AbortController();
  evaluating = controller;
  try {
    const environment = {
      store: (await stored()).store,
      demoFiles: async () => ({ data: fetchSource(siteRoot), trainedModel: null }),
      // Attribution runs on the CPU in float64; retrains on the EP the request names (its device from backendFor).
      backend: () => backendFor('cpu'),
      backendFor,
    };
    return await computeStoredEvaluation(request, resumeId, environment, {
      signal: controller.signal,
      onProgress,
      onRunId: (runId) => (evaluatingRunId = runId),
    });
  } catch (error) {
    if (controller.signal.aborted) {
      const cancelled = new Error('the evaluation was cancelled; its finished retrains are kept');
      cancelled.name = EVALUATION_CANCELLED;
      throw cancelled;
    }
    throw error;
  } finally {
    evaluating = null;
    evaluatingRunId = null;
  }
}

function backendFor(choice: BackendChoice): Promise<ChosenBackend> {
  let chosen = backends.get(choice);
  if (!chosen) {
    const choosing = chooseBackend(choice, gpu);
    chosen = choosing;
    // A lost device is never lent again: the next run acquires a fresh one.
    const forget = () => backends.get(choice) === choosing && backends.delete(choice);
    choosing.then((c) => c.webgpu?.runtime.device.lost.then(forget), forget);
    backends.set(choice, chosen);
  }
  return chosen;
}

async function loadInputs(
  request: AttributionRequest,
  signal: AbortSignal,
  parsed: Model | null = null,
): Promise<RunInputs> {
  return loadRequestInputs(
    request,
    signal,
    async (variant) => {
      const modelPath = DEMO_MODEL_PATHS[variant];
      return { data: fetchSource(siteRoot), trainedModel: modelPath === null ? null : await fetchOptional(modelPath) };
    },
    parsed,
  );
}

/** A file of the site that may not exist yet (a dev server answers unknown paths with the page itself). */
async function fetchOptional(path: string): Promise<Uint8Array | null> {
  const response = await fetch(new URL(path, siteRoot));
  if (!response.ok || (response.headers.get('content-type') ?? '').includes('text/html')) return null;
  return new Uint8Array(await response.arrayBuffer());
}

export type EngineWorkerApi = typeof api;
expose(api);
