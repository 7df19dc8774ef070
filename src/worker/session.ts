/**
 * The engine worker's one object (issue 22 §2): what the page can ask, in namespaces — `attribution` (run, resume,
 * ask, estimate, cancel), `models` (a picked model), `runs` (stored runs and bundles, ranking), `workspace` (the
 * views' data), `evaluation` (the page's evaluation against retraining) — and the state the worker keeps between
 * calls (the devices, the run and the evaluation going on, the store, the opened results). The analyses themselves
 * live in src/app (usable by the CLI and Node tests); this class only hosts them. Exposed through comlink by
 * engine.worker.ts; the page's handle (client.ts) is typed from this class, so no method is declared twice.
 *
 * Namespace methods are arrow functions: comlink calls a nested method with its namespace object as `this`.
 */
import { transfer } from 'comlink';
import { fetchSource, type DataSource } from '../data/dataset';
import { chooseBackend, type ChosenBackend } from '../app/backend-choice';
import { DEMO_MODEL_PATHS, type RunInputs } from '../app/inputs';
import { generateGreedy } from '../app/generate';
import { spanQueryRow, storedComparison, type StoredComparison } from '../app/ask-span';
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
import { PageRunStore } from './run-store';
import { openBundle, rankResults, tensorsReader } from '../app/run-results';
import { OpenRuns } from '../app/open-runs';
import { scoreFolderBundle } from '../app/score-folder';
import { browserFileSource } from '../store/file-source';
import { readPickedText } from './picked-files';
import { pickedFolderName } from './picked-factors';
import type { RunListing, StoredRunView } from './run-protocol';
import { computeStoredEvaluation, pendingEvaluations } from '../app/page-evaluation';
import { evaluationData } from '../app/evaluation-data';
import { evaluationOf, runEvaluation } from '../store/runs';
import type { BundleEvaluation } from '../store/bundle-eval';
import {
  EVALUATION_CANCELLED,
  type EvaluationProgressEvent,
  type PageEvaluationRequest,
} from '../app/evaluation-types';
import {
  workspaceAnalyses,
  workspaceExample,
  workspaceIndex,
  workspaceAfterAnswer,
  workspaceOverview,
  workspaceQueryScores,
  precomputeWorkspace,
} from '../app/workspace-data';

/** Where the worker finds the GPU and the site's files (the demo data, trained demo models). */
export interface SessionEnvironment {
  readonly gpu: GPU | undefined;
  readonly siteRoot: string;
  readonly fetchSource: (siteRoot: string) => DataSource;
  /** The page's run store (IndexedDB); tests pass one on fake-indexeddb. */
  readonly openStore: () => Promise<PageRunStore>;
}

export class Session {
  /** The device is acquired once per backend choice and kept for every later run. */
  private readonly backends = new Map<BackendChoice, Promise<ChosenBackend>>();
  /** The attribution running now (one at a time) and its stored run (not one to offer for resume). */
  private running: AbortController | null = null;
  private activeRunId: string | null = null;
  private runStore: Promise<PageRunStore> | null = null;
  /** The model picked in the page: parsed once, for the layer list and the estimates, until another is picked. */
  private readonly picked = new PickedModels();
  /** Every opened result, finished, stored or unstored (app/open-runs.ts: the one cache and its policy). */
  private readonly opened = new OpenRuns(async (runId) => (await this.stored()).open(runId));
  /** The page evaluation running now (one at a time, beside at most one attribution) and its stored run. */
  private evaluating: AbortController | null = null;
  private evaluatingRunId: string | null = null;

  constructor(private readonly environment: SessionEnvironment = defaultEnvironment()) {}

  probeGpu = (): Promise<GpuProbe> => probeGpu(this.environment.gpu);

  readonly attribution = {
    start: (request: PageRequest, onProgress: (event: ProgressEvent) => void): Promise<AttributionSummary> =>
      this.attribute(this.picked.resolve(request).request, null, onProgress),

    /** The memory plan and time estimate of a run with these settings, computed without running it. */
    estimate: (request: PageRequest): Promise<RunEstimate> => {
      const { request: resolved, parsed } = this.picked.resolve(request);
      const environment = {
        loadInputs: (r: AttributionRequest, s: AbortSignal) => this.loadInputs(r, s, parsed),
        backendFor: this.backendFor,
      };
      return estimateRequest(resolved, environment, new AbortController().signal);
    },

    /** Carry on a stored run (left running by a reload or crash, or paused) from its last checkpoint. */
    resume: async (runId: string, onProgress: (event: ProgressEvent) => void): Promise<AttributionSummary> =>
      this.attribute(await (await this.stored()).requestOf(runId), runId, onProgress),

    /**
     * "Ask another question": new query rows (JSONL text) attributed against a finished stored run's factors, with
     * its model, training data and settings; a new stored run.
     */
    ask: async (
      runId: string,
      queries: string,
      onProgress: (event: ProgressEvent) => void,
    ): Promise<AttributionSummary> => {
      const base = await (await this.stored()).requestOf(runId);
      const source =
        base.source.kind === 'demo'
          ? { ...base.source, queries }
          : { ...base.source, queries, names: { ...base.source.names, queries: 'asked.jsonl' } };
      return this.attribute({ source, config: base.config, factorsFrom: runId }, null, onProgress);
    },

    /**
     * The run's model answers `prompt` (greedy, app/generate.ts) and that answer — its exact tokens, as a token
     * row — is asked against the run's factors as `ask` does. The generated text comes back with the summary.
     */
    askGenerated: async (
      runId: string,
      prompt: string,
      maxNewTokens: number,
      onProgress: (event: ProgressEvent) => void,
    ): Promise<AttributionSummary & { readonly generated: string }> => {
      if (this.running) throw new Error('an attribution is already running; cancel it first');
      const base = await (await this.stored()).requestOf(runId);
      const inputs = await this.loadInputs(base, new AbortController().signal);
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
      const summary = await this.attribution.ask(runId, JSON.stringify(row) + '\n', onProgress);
      return { ...summary, generated: generation.text };
    },

    /**
     * "Attribute this span" (the query view): one of a stored run's queries asked again against its factors with the
     * measurement restricted to `spans` (token positions [start, end) in its input_ids, inside the response). The
     * row sent is the query's own tokens (pre-tokenized, so nothing is re-tokenised) with `measure` spans in response
     * tokens, so the new run measures exactly the selected tokens (T_q = their count). Refusals name the query.
     */
    askSpan: async (
      runId: string,
      queryId: string,
      spans: readonly { readonly start: number; readonly end: number }[],
      onProgress: (event: ProgressEvent) => void,
    ): Promise<AttributionSummary> => {
      if (this.running) throw new Error('an attribution is already running; cancel it first');
      const base = await (await this.stored()).requestOf(runId);
      const inputs = await this.loadInputs(base, new AbortController().signal);
      const row = spanQueryRow(inputs.queries, queryId, spans);
      return this.attribution.ask(runId, JSON.stringify(row) + '\n', onProgress);
    },

    cancel: (): void => {
      this.running?.abort(new DOMException('attribution cancelled', 'AbortError'));
    },
  };

  readonly models = {
    /** Read and parse a model picked in the page (File handles: the bytes are read here), kept until the next pick. */
    pick: (files: File[], paths?: string[], variant?: string): Promise<PickedModelInfo> =>
      this.picked.pick(files, paths, variant),

    /** The picked model's linear layers and which a run would track with this pattern (null: the default). */
    layers: (token: string, trackedLayers: string | null): ModelLayers => this.picked.layers(token, trackedLayers),
  };

  readonly runs = {
    listRuns: async (): Promise<RunListing[]> => (await this.stored()).list(this.activeRunId),

    renameRun: async (id: string, name: string): Promise<void> => {
      await (await this.stored()).rename(id, name);
    },

    deleteRun: async (id: string): Promise<void> => {
      if (id === this.activeRunId) throw new Error('this run is being computed: cancel it before deleting it');
      await (await this.stored()).delete(id);
      this.opened.forget(id);
    },

    /** The run as .iwb bytes. */
    exportRun: async (id: string): Promise<Uint8Array> => {
      const bytes = await (await this.stored()).exportBundle(id);
      return transfer(bytes, [bytes.buffer]);
    },

    /** Check a bundle completely, store it as a read-only run, and open it (a bad bundle stores nothing). */
    importBundle: async (bytes: Uint8Array, name: string): Promise<StoredRunView> => {
      const { id, alreadyStored } = await (await this.stored()).importBundle(bytes, name);
      return { ...(await this.openView(id)), ...(alreadyStored && { alreadyStored }) };
    },

    /** Check a bundle completely and open it read-only without storing it (keepBundle stores it later). */
    viewBundle: async (bytes: Uint8Array, name: string): Promise<StoredRunView> => {
      const bundle = await openBundle(bytes, name);
      this.opened.holdUnstored(bundle);
      return this.openView(bundle.run.id);
    },

    /**
     * Scores computed elsewhere (a kronfluence scores_<name> folder, read here from its File handles, with the
     * training and query JSONL they score: app/score-folder.ts) opened read-only; keepBundle stores it.
     */
    viewScoreFolder: async (folder: readonly File[], train: File, queries: File): Promise<StoredRunView> => {
      const bytes = await scoreFolderBundle(
        browserFileSource(folder),
        { name: train.name, text: await readPickedText(train, 'jsonl') },
        { name: queries.name, text: await readPickedText(queries, 'jsonl') },
      );
      const bundle = await openBundle(bytes, `kronfluence ${pickedFolderName([...folder])}`);
      this.opened.holdUnstored(bundle);
      return this.openView(bundle.run.id);
    },

    /** Store a bundle opened by viewBundle, under the same run id (one transaction: all or nothing). */
    keepBundle: async (runId: string): Promise<void> => {
      const bundle = this.opened.unstoredBundle(runId);
      if (!bundle) throw new Error(`no bundle is open without being stored under id ${runId}`);
      await (await this.stored()).keepBundle(bundle);
      this.opened.stored(runId);
    },

    openRun: (id: string): Promise<StoredRunView> => this.openView(id),

    /** The one ranking path (app/run-results.ts): a query's or a benchmark's top examples of any opened run. */
    rank: async (
      runId: string,
      target: InfluenceTarget,
      k: number,
      normalization: Normalization,
    ): Promise<TopInfluences> => rankResults(await this.opened.get(runId), target, k, normalization),
  };

  readonly workspace = {
    index: async (runId: string) => {
      const results = await this.opened.get(runId);
      const store = await this.stored();
      const listing = (await store.list(this.activeRunId)).find((run) => run.id === runId);
      const unstored = this.opened.unstoredBundle(runId);
      const run = unstored?.run ?? (await store.store.getRun(runId));
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
    overview: async (runId: string, normalization: Normalization) =>
      workspaceOverview(await this.opened.get(runId), normalization),
    queryScores: async (runId: string, queryId: string) => workspaceQueryScores(await this.opened.get(runId), queryId),
    example: async (runId: string, trainId: string, target: InfluenceTarget) =>
      workspaceExample(await this.opened.get(runId), trainId, target),
    analyses: async (runId: string) => workspaceAnalyses(await this.opened.get(runId)),
    afterAnswer: async (runId: string) => workspaceAfterAnswer(await this.opened.get(runId)),
    evaluation: async (runId: string) => {
      const { result } = await this.opened.get(runId);
      const ids = (rows: readonly { id: string }[]) => rows.map((row) => row.id);
      return evaluationData(await this.evaluationOfRun(runId), ids(result.queries), ids(result.train));
    },
    /** Two responses' attributions (queries a and b of a stored run) compared per training example. */
    compare: async (runId: string, a: number, b: number, k: number): Promise<StoredComparison> =>
      storedComparison(await this.opened.get(runId), a, b, k),
  };

  readonly evaluation = {
    /** Resolves with the stored run's id once every retrain is done and the evaluation stored. */
    start: (request: PageEvaluationRequest, onProgress: (event: EvaluationProgressEvent) => void) =>
      this.evaluate(request, null, onProgress),
    resume: (runId: string, onProgress: (event: EvaluationProgressEvent) => void) =>
      this.evaluate(null, runId, onProgress),
    pending: async () => pendingEvaluations((await this.stored()).store, this.evaluatingRunId),
    cancel: (): void => {
      this.evaluating?.abort(new DOMException('evaluation cancelled', 'AbortError'));
    },
  };

  private stored(): Promise<PageRunStore> {
    if (!this.runStore) {
      this.runStore = this.environment.openStore();
      this.runStore.catch(() => (this.runStore = null));
    }
    return this.runStore;
  }

  /** A run's evaluation, from the store or from an unstored bundle's tensors in memory (null if it has none). */
  private async evaluationOfRun(runId: string): Promise<BundleEvaluation | null> {
    const unstored = this.opened.unstoredBundle(runId);
    if (!unstored) return runEvaluation((await this.stored()).store, runId);
    return evaluationOf(unstored.run, tensorsReader(unstored));
  }

  private async openView(runId: string): Promise<StoredRunView> {
    const results = await this.opened.get(runId);
    const listing = (await (await this.stored()).list(this.activeRunId)).find((run) => run.id === runId);
    // A bundle viewed without storing it has no listing: it is imported too.
    return {
      runId,
      name: listing?.name ?? results.name,
      summary: results.summary,
      imported: listing?.imported ?? true,
    };
  }

  /** One page run at a time (page-run.ts); it is stored when it finishes, and read back through `opened`. */
  private async attribute(
    request: AttributionRequest,
    resumeId: string | null,
    onProgress: (event: ProgressEvent) => void,
  ): Promise<AttributionSummary> {
    if (this.running) throw new Error('an attribution is already running; cancel it first');
    const controller = new AbortController();
    this.running = controller;
    try {
      const environment = {
        store: await this.stored(),
        loadInputs: (r: AttributionRequest, s: AbortSignal) => this.loadInputs(r, s),
        backendFor: this.backendFor,
      };
      const { runId, inputs, outcome } = await computeStoredRun(request, resumeId, environment, {
        signal: controller.signal,
        onProgress,
        onRunId: (runId) => (this.activeRunId = runId),
      });
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
      if ((error as Error).name === 'DeviceLostError') this.backends.delete(request.config.backend);
      if (controller.signal.aborted) {
        const cancelled = new Error('the attribution was cancelled');
        cancelled.name = CANCELLED_ERROR_NAME;
        throw cancelled;
      }
      throw error;
    } finally {
      this.running = null;
      this.activeRunId = null;
    }
  }

  /** One page evaluation at a time (app/page-evaluation.ts); resolves with the stored run's id. */
  private async evaluate(
    request: PageEvaluationRequest | null,
    resumeId: string | null,
    onProgress: (event: EvaluationProgressEvent) => void,
  ): Promise<string> {
    if (this.evaluating) throw new Error('an evaluation is already running; cancel it first');
    const controller = new AbortController();
    this.evaluating = controller;
    try {
      const { siteRoot } = this.environment;
      const environment = {
        store: (await this.stored()).store,
        demoFiles: async () => ({ data: this.environment.fetchSource(siteRoot), trainedModel: null }),
        // Attribution runs on the CPU in float64; retrains on the EP the request names (its device from backendFor).
        backend: () => this.backendFor('cpu'),
        backendFor: this.backendFor,
      };
      return await computeStoredEvaluation(request, resumeId, environment, {
        signal: controller.signal,
        onProgress,
        onRunId: (runId) => (this.evaluatingRunId = runId),
      });
    } catch (error) {
      if (controller.signal.aborted) {
        const cancelled = new Error('the evaluation was cancelled; its finished retrains are kept');
        cancelled.name = EVALUATION_CANCELLED;
        throw cancelled;
      }
      throw error;
    } finally {
      this.evaluating = null;
      this.evaluatingRunId = null;
    }
  }

  private readonly backendFor = (choice: BackendChoice): Promise<ChosenBackend> => {
    let chosen = this.backends.get(choice);
    if (!chosen) {
      const choosing = chooseBackend(choice, this.environment.gpu);
      chosen = choosing;
      // A lost device is never lent again: the next run acquires a fresh one.
      const forget = () => this.backends.get(choice) === choosing && this.backends.delete(choice);
      choosing.then((c) => c.webgpu?.runtime.device.lost.then(forget), forget);
      this.backends.set(choice, chosen);
    }
    return chosen;
  };

  private loadInputs(
    request: AttributionRequest,
    signal: AbortSignal,
    parsed: Model | null = null,
  ): Promise<RunInputs> {
    const { siteRoot } = this.environment;
    return loadRequestInputs(
      request,
      signal,
      async (variant) => {
        const modelPath = DEMO_MODEL_PATHS[variant];
        return {
          data: this.environment.fetchSource(siteRoot),
          trainedModel: modelPath === null ? null : await fetchOptional(siteRoot, modelPath),
        };
      },
      parsed,
    );
  }
}

function defaultEnvironment(): SessionEnvironment {
  return {
    gpu: self.navigator.gpu,
    siteRoot: new URL(import.meta.env.BASE_URL, self.location.origin).toString(),
    fetchSource,
    openStore: () => PageRunStore.open(),
  };
}

/** A file of the site that may not exist yet (a dev server answers unknown paths with the page itself). */
async function fetchOptional(siteRoot: string, path: string): Promise<Uint8Array | null> {
  const response = await fetch(new URL(path, siteRoot));
  if (!response.ok || (response.headers.get('content-type') ?? '').includes('text/html')) return null;
  return new Uint8Array(await response.arrayBuffer());
}
