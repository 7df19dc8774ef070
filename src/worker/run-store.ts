/**
 * The engine worker's side of persistence (src/store): every page run is a stored run that checkpoints after each
 * chunk, so a reload, a crash or a lost GPU leaves something to resume; finished and imported runs are opened
 * from the store into the same read-only results view; runs export as .iwb bundles.
 *
 * A run's page request is kept in its config (`page`), with user files stored as files (by sha256), so a resume
 * after a reload has every input it needs without the user picking the files again.
 */
import type { CheckpointStore } from '../influence/types';
import { bundleContent, encodeRunBundle } from '../app/bundle-content';
import { runCheckpointStore } from '../app/checkpoints';
import type { JobOutcome } from '../app/job';
import type { RunInputs } from '../app/inputs';
import { runResults, type RunResults } from '../app/run-results';
import type { DemoVariant } from '../data/dataset';
import { fingerprintOf, type Fingerprint } from '../store/bundle';
import { WorkbenchStore, atomically, browserEnvironment, issueAll, type StoreEnvironment } from '../store/db';
import { ensureStorageFor, estimateRunStorage } from '../store/quota';
import type { RunRecord } from '../store/records';
import { sha256Hex } from '../core/hash';
import { createRun, importBundle, runContent, saveRunContent, storeBundleRun, type BundleRun } from '../store/runs';
import type { AttributionRequest } from './protocol';
import type { RunListing } from './run-protocol';

/** What a run's config keeps of the page's request (the file bytes are stored files, named by id). */
interface StoredRequest {
  readonly request: Omit<AttributionRequest, 'source'> & {
    readonly source:
      | { kind: 'demo'; variant: DemoVariant; queries?: string }
      | { kind: 'files'; names: Extract<AttributionRequest['source'], { kind: 'files' }>['names'] };
  };
  /** Stored file ids (sha256) of the model, tokenizer, train and query files for a 'files' run. */
  readonly files: {
    readonly model: string;
    /** The model's external data files (`model.onnx.data`), by name and stored id; absent in older runs. */
    readonly modelData?: readonly { readonly name: string; readonly id: string }[];
    readonly tokenizer: string | null;
    readonly train: string;
    readonly queries: string;
  } | null;
  readonly fingerprints: {
    readonly model: Fingerprint | null;
    /** The model's external data files as picked; absent in older runs and for models without any. */
    readonly modelData?: readonly Fingerprint[];
    readonly train: Fingerprint | null;
    readonly queries: Fingerprint | null;
  };
}

const encoder = new TextEncoder();

export class PageRunStore {
  private constructor(
    readonly store: WorkbenchStore,
    private readonly storage: StorageManager | undefined,
  ) {}

  /** The worker passes nothing (the browser's IndexedDB and navigator.storage); tests pass their own. */
  static async open(
    environment: StoreEnvironment = browserEnvironment(),
    storage: StorageManager | undefined = globalThis.navigator?.storage,
  ): Promise<PageRunStore> {
    return new PageRunStore(await WorkbenchStore.open(environment), storage);
  }

  /** `active`: the run this worker is computing now (it shows 'running' but is not a run to resume). */
  async list(active: string | null): Promise<RunListing[]> {
    return (await this.store.listRuns()).map((run) => ({
      id: run.id,
      name: run.name,
      status: run.status,
      stage: run.stage,
      createdAt: run.createdAt,
      updatedAt: run.updatedAt,
      backend: run.backend,
      strategy: run.strategy,
      error: run.error,
      imported: run.source !== null,
      resumable:
        run.id !== active &&
        (run.status === 'running' || run.status === 'paused' || run.status === 'created') &&
        pageConfig(run) !== null,
      viewable: run.status === 'complete' || run.status === 'imported',
    }));
  }

  rename(id: string, name: string): Promise<RunRecord> {
    return this.store.renameRun(id, name);
  }

  delete(id: string): Promise<void> {
    return this.store.deleteRun(id);
  }

  /**
   * Create the stored run for a page request before any computing: check the storage it needs (refusing with the
   * quota's message when it will not fit), keep user files, and hand back the checkpoint store for the engine.
   */
  async begin(
    request: AttributionRequest,
    inputs: RunInputs,
    layers: readonly { dIn: number; dOut: number; hasBias: boolean }[],
  ): Promise<{ runId: string; checkpoint: CheckpointStore }> {
    const perTokenTokens = request.config.perToken ? inputs.train.reduce((sum, e) => sum + e.inputIds.length, 0) : 0;
    const estimate = estimateRunStorage({
      layers,
      queries: inputs.queries.length,
      train: inputs.train.length,
      perTokenTokens,
    });
    const source = request.source;
    const fileBytes =
      source.kind === 'files'
        ? {
            model: new Uint8Array(source.model),
            modelData: (source.modelData ?? []).map((f) => ({ name: f.name, bytes: new Uint8Array(f.bytes) })),
            tokenizer: source.tokenizer === null ? null : encoder.encode(source.tokenizer),
            train: encoder.encode(source.train),
            queries: encoder.encode(source.queries),
          }
        : null;
    const storedFileBytes = fileBytes
      ? fileBytes.model.byteLength +
        fileBytes.modelData.reduce((sum, f) => sum + f.bytes.byteLength, 0) +
        (fileBytes.tokenizer?.byteLength ?? 0) +
        fileBytes.train.byteLength +
        fileBytes.queries.byteLength
      : 0;
    await ensureStorageFor(estimate.bytes + storedFileBytes, this.storage);

    let files: StoredRequest['files'] = null;
    let fingerprints: StoredRequest['fingerprints'] = {
      model: inputs.modelBytes ? await fingerprintOf(inputs.modelName, inputs.modelBytes) : null,
      train: null,
      queries: null,
    };
    let kept: StoredRequest['request'];
    if (source.kind === 'files' && fileBytes) {
      const { names } = source;
      const model = await this.store.putFile('model', names.model, fileBytes.model);
      // A resume needs the data files as much as the graph: kept beside it, by the names the graph gives them.
      const modelData: { name: string; id: string }[] = [];
      for (const data of fileBytes.modelData) {
        modelData.push({ name: data.name, id: (await this.store.putFile('model', data.name, data.bytes)).id });
      }
      const tokenizer = fileBytes.tokenizer
        ? await this.store.putFile('tokenizer', names.tokenizer ?? 'tokenizer.json', fileBytes.tokenizer)
        : null;
      const train = await this.store.putFile('dataset', names.train, fileBytes.train);
      const queries = await this.store.putFile('dataset', names.queries, fileBytes.queries);
      files = { model: model.id, modelData, tokenizer: tokenizer?.id ?? null, train: train.id, queries: queries.id };
      fingerprints = {
        model: { name: names.model, sha256: model.id, bytes: model.bytes },
        ...(fileBytes.modelData.length > 0
          ? {
              modelData: fileBytes.modelData.map((f, i) => ({
                name: f.name,
                sha256: modelData[i]!.id,
                bytes: f.bytes.byteLength,
              })),
            }
          : {}),
        train: { name: names.train, sha256: train.id, bytes: train.bytes },
        queries: { name: names.queries, sha256: queries.id, bytes: queries.bytes },
      };
      kept = { ...request, source: { kind: 'files', names } };
    } else {
      // A demo run keeps the query rows asked in the page ("Ask another question"), so it resumes with them.
      const asked = source.kind === 'demo' && source.queries !== undefined ? { queries: source.queries } : {};
      kept = {
        ...request,
        source: { kind: 'demo', variant: source.kind === 'demo' ? source.variant : 'demo', ...asked },
      };
    }
    const page: StoredRequest = { request: kept, files, fingerprints };
    const run = await createRun(this.store, {
      name: `${source.kind === 'demo' ? `${source.variant} demo` : source.names.model} · ${request.config.strategy} · ${new Date().toISOString().slice(0, 19).replace('T', ' ')}`,
      config: { page },
      strategy: request.config.strategy,
      backend: null,
      layers: [],
      measurement: null,
      estimatedBytes: estimate.bytes,
      modelId: files?.model ?? null,
      datasetIds: files ? [files.train, files.queries] : [],
    });
    return { runId: run.id, checkpoint: runCheckpointStore(this.store, run.id) };
  }

  /**
   * Mark a stored run running again and hand back its checkpoint store (the engine resumes from its last checkpoint).
   */
  async resume(runId: string): Promise<CheckpointStore> {
    await this.store.updateRun(runId, { status: 'running', error: null });
    return runCheckpointStore(this.store, runId);
  }

  /** The request of a stored run, with user files read back from the store (for a resume). */
  async requestOf(runId: string): Promise<AttributionRequest> {
    const run = await this.store.getRun(runId);
    if (!run) throw new Error(`no run '${runId}' (deleted?)`);
    const page = pageConfig(run);
    if (!page) throw new Error(`run "${run.name}" was not computed on this page, so it cannot be resumed here`);
    const { request, files } = page;
    if (request.source.kind === 'demo') return { ...request, source: request.source };
    if (!files) throw new Error(`run "${run.name}" has no stored input files`);
    const decoder = new TextDecoder();
    const model = await this.store.getFileBytes('model', files.model);
    const tokenizer =
      files.tokenizer === null ? null : decoder.decode(await this.store.getFileBytes('tokenizer', files.tokenizer));
    const train = decoder.decode(await this.store.getFileBytes('dataset', files.train));
    const queries = decoder.decode(await this.store.getFileBytes('dataset', files.queries));
    const buffer = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    const modelData = [];
    for (const data of files.modelData ?? []) {
      modelData.push({ name: data.name, bytes: buffer(await this.store.getFileBytes('model', data.id)) });
    }
    return {
      ...request,
      source: {
        kind: 'files',
        model: buffer(model),
        // As the request had it: a model without external data files carries no modelData field.
        ...(modelData.length > 0 ? { modelData } : {}),
        tokenizer,
        train,
        queries,
        names: request.source.names,
      },
    };
  }

  /** Keep the results of a finished run (factors, scores in one transaction; then the rows the view shows). */
  async finish(runId: string, outcome: JobOutcome): Promise<void> {
    const content = await bundleContent(outcome, { model: null, train: null, queries: null });
    const run = await this.store.getRun(runId);
    await saveRunContent(this.store, runId, content, {
      timings: outcome.result.timings,
      extraConfig: { page: run?.config.page ?? null },
    });
    // The results are stored: the checkpoint (about twice their size) has done its job.
    const tx = this.store.db.transaction(['checkpoints', 'chunks'], 'readwrite');
    await atomically(tx, () =>
      issueAll([
        tx.objectStore('chunks').delete(this.store.chunkPrefixRange(runId, 'checkpoint/')),
        tx.objectStore('checkpoints').delete(runId),
      ]),
    );
  }

  /** A run that stopped: 'paused' (cancelled, device lost: resumable from its checkpoint) or 'failed'. */
  async stop(runId: string, status: 'paused' | 'failed', message: string): Promise<void> {
    await this.store.updateRun(runId, { status, error: message }).catch(() => undefined);
  }

  async exportBundle(runId: string): Promise<Uint8Array> {
    const run = await this.store.getRun(runId);
    if (!run) throw new Error(`no run '${runId}'`);
    const page = pageConfig(run);
    const sources = page
      ? {
          model: page.fingerprints.model,
          ...(page.fingerprints.modelData ? { modelData: page.fingerprints.modelData } : {}),
          datasets: { train: page.fingerprints.train, query: page.fingerprints.queries },
        }
      : {};
    return encodeRunBundle(await runContent(this.store, runId, sources), 'influence-workbench page');
  }

  /**
   * Decode and check a bundle completely, then store it as a read-only run (a bad bundle stores nothing). A bundle
   * stored before (the same bytes: sha256) is not stored twice: its stored run comes back with `alreadyStored`.
   */
  async importBundle(bytes: Uint8Array, name: string): Promise<{ id: string; alreadyStored: boolean }> {
    const digest = await sha256Hex(bytes);
    const known = (await this.store.listRuns()).find((run) => run.source?.digest === digest);
    if (known) return { id: known.id, alreadyStored: true };
    return { id: (await importBundle(this.store, bytes, { name })).id, alreadyStored: false };
  }

  /** Store a bundle viewed without storing (viewBundle), under the id it was viewed with. */
  async keepBundle(viewed: BundleRun): Promise<string> {
    return (await storeBundleRun(this.store, viewed)).id;
  }

  /** A complete or imported run's results, read from the store (app/run-results.ts). */
  async open(runId: string): Promise<RunResults> {
    const run = await this.store.getRun(runId);
    if (!run) throw new Error(`no run '${runId}'`);
    return runResults(run, async (name) => (await this.store.getTensor(runId, name))?.array);
  }
}

/** The page request a run keeps; null for imported runs and for runs stored before requests carried a RunConfig. */
function pageConfig(run: RunRecord): StoredRequest | null {
  const page = run.config.page as StoredRequest | undefined | null;
  const request = page && typeof page === 'object' && 'request' in page ? page.request : null;
  return request && typeof request.config === 'object' && request.config !== null ? page! : null;
}
