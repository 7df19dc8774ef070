/**
 * The IndexedDB store (through `idb`): files (models, tokenizers, datasets), runs, their tensors (factors,
 * eigendecompositions, Λ, scores) and checkpoints; every large array in ≤ 8 MB chunk records. Every operation
 * that writes more than one record does it in ONE transaction, so a crash, a reload or a quota error leaves either
 * the old state or the new one, never half of a record set.
 *
 * The IndexedDB factory is passed in (the page passes the browser's; Node tests pass fake-indexeddb's).
 */
import { wrap, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import {
  CHUNK_BYTES,
  arrayTypeName,
  fromChunks,
  toChunks,
  type CheckpointRecord,
  type ChunkRecord,
  type FileKind,
  type FileRecord,
  type RunRecord,
  type StoredArray,
  type TensorKind,
  type TensorRecord,
} from './records';
import { sha256Hex } from '../core/hash';

export const DATABASE_NAME = 'influence-workbench';
/**
 * v1: files, runs, tensors, chunks. v2: checkpoints store; runs gain updatedAt (indexed), source, estimatedBytes, rows.
 */
export const SCHEMA_VERSION = 2;

export interface WorkbenchSchema extends DBSchema {
  models: { key: string; value: FileRecord };
  tokenizers: { key: string; value: FileRecord };
  datasets: { key: string; value: FileRecord };
  runs: { key: string; value: RunRecord; indexes: { createdAt: string; updatedAt: string } };
  tensors: { key: [string, string]; value: TensorRecord; indexes: { runId: string } };
  chunks: { key: [string, string, number]; value: ChunkRecord };
  checkpoints: { key: string; value: CheckpointRecord };
}

export type WorkbenchDatabase = IDBPDatabase<WorkbenchSchema>;

export interface StoreEnvironment {
  readonly indexedDB: IDBFactory;
  readonly IDBKeyRange: typeof IDBKeyRange;
}

export function browserEnvironment(): StoreEnvironment {
  if (typeof indexedDB === 'undefined') throw new Error('this browser has no IndexedDB: results cannot be kept');
  return { indexedDB, IDBKeyRange };
}

const FILE_STORES: Readonly<Record<FileKind, 'models' | 'tokenizers' | 'datasets'>> = {
  model: 'models',
  tokenizer: 'tokenizers',
  dataset: 'datasets',
};

/**
 * Bring the schema from `oldVersion` up to `newVersion`, one step at a time, keeping every record. `transaction` is
 * the open request's version-change transaction, used through the plain IndexedDB API (idb types a wrapped
 * transaction as read-only, which a version change is not).
 */
function upgradeSchema(
  db: IDBPDatabase<WorkbenchSchema>,
  oldVersion: number,
  newVersion: number,
  transaction: IDBTransaction,
): void {
  if (oldVersion < 1 && newVersion >= 1) {
    for (const store of Object.values(FILE_STORES)) db.createObjectStore(store, { keyPath: 'id' });
    db.createObjectStore('runs', { keyPath: 'id' }).createIndex('createdAt', 'createdAt');
    db.createObjectStore('tensors', { keyPath: ['runId', 'name'] }).createIndex('runId', 'runId');
    db.createObjectStore('chunks', { keyPath: ['owner', 'part', 'index'] });
  }
  if (oldVersion < 2 && newVersion >= 2) {
    db.createObjectStore('checkpoints', { keyPath: 'runId' });
    const runs = transaction.objectStore('runs');
    runs.createIndex('updatedAt', 'updatedAt');
    // Backfill the fields v2 added; the cursor walk runs inside the version-change transaction.
    const walk = runs.openCursor();
    walk.onsuccess = () => {
      const cursor = walk.result;
      if (!cursor) return;
      const run: Partial<RunRecord> & { id: string; createdAt: string } = cursor.value;
      // A v1 record with the v2 fields it lacks (the ones it has are kept).
      cursor.update({
        source: null,
        estimatedBytes: null,
        rows: null,
        ...run,
        updatedAt: run.updatedAt ?? run.createdAt,
      });
      cursor.continue();
    };
  }
}

/** Open (creating or upgrading) the database. `version` exists for the upgrade tests; the page uses the default. */
export async function openWorkbenchDatabase(
  environment: StoreEnvironment,
  options: { readonly name?: string; readonly version?: number } = {},
): Promise<WorkbenchDatabase> {
  const request = environment.indexedDB.open(options.name ?? DATABASE_NAME, options.version ?? SCHEMA_VERSION);
  request.addEventListener('upgradeneeded', (event) => {
    upgradeSchema(
      wrap(request.result) as WorkbenchDatabase,
      event.oldVersion,
      event.newVersion ?? SCHEMA_VERSION,
      request.transaction!,
    );
  });
  request.addEventListener('blocked', () => {
    console.warn('the workbench database is open in another tab with an older version; close that tab to upgrade');
  });
  return (await wrap(request)) as WorkbenchDatabase;
}

/**
 * Run `body` inside `tx` and wait for the commit; on any error abort the transaction, so nothing it wrote stays.
 * (A request that throws synchronously, such as a put of a value that cannot be cloned, does not abort a
 * transaction by itself: without this, the requests queued before it would commit.)
 */
export async function atomically<T>(
  tx: { abort(): void; readonly done: Promise<void> },
  body: () => Promise<T>,
): Promise<T> {
  try {
    const result = await body();
    await tx.done;
    return result;
  } catch (error) {
    try {
      tx.abort();
    } catch {
      // Already committed or aborted: nothing left to undo.
    }
    await tx.done.catch(() => undefined);
    throw error;
  }
}

/**
 * Issue IndexedDB requests and wait for all of them. If issuing one throws (a value that cannot be cloned), the
 * requests already issued still get handlers: the abort that follows rejects them, and that is expected.
 */
export async function issueAll(requests: Iterable<Promise<unknown>>): Promise<void> {
  const issued: Promise<unknown>[] = [];
  try {
    for (const request of requests) issued.push(request);
  } finally {
    for (const request of issued) request.catch(() => undefined);
  }
  await Promise.all(issued);
}

export interface NewTensor {
  readonly name: string;
  readonly kind: TensorKind;
  readonly shape: readonly number[];
  readonly array: StoredArray;
}

export type RunPatch = Partial<Omit<RunRecord, 'id' | 'createdAt'>>;

/** Everything the page, the worker and the CLI do with stored data. */
export class WorkbenchStore {
  constructor(
    readonly db: WorkbenchDatabase,
    private readonly keyRange: typeof IDBKeyRange,
    readonly chunkBytes = CHUNK_BYTES,
  ) {}

  static async open(
    environment: StoreEnvironment,
    options: { readonly name?: string; readonly chunkBytes?: number } = {},
  ): Promise<WorkbenchStore> {
    return new WorkbenchStore(
      await openWorkbenchDatabase(environment, options),
      environment.IDBKeyRange,
      options.chunkBytes,
    );
  }

  close(): void {
    this.db.close();
  }

  /** Keys [owner, part?, …] of every chunk under `owner` (and `part`). */
  chunkRange(owner: string, part?: string): IDBKeyRange {
    return part === undefined
      ? this.keyRange.bound([owner], [owner, []])
      : this.keyRange.bound([owner, part], [owner, part, []]);
  }

  /** Keys of every chunk under parts starting with `prefix`. */
  chunkPrefixRange(owner: string, prefix: string): IDBKeyRange {
    return this.keyRange.bound([owner, prefix], [owner, `${prefix}\uffff`]);
  }

  // Files -------------------------------------------------------------------------------------------------

  /** Store a file under its sha256 (computed before the transaction opens: a transaction cannot wait for crypto). */
  async putFile(kind: FileKind, name: string, bytes: Uint8Array): Promise<FileRecord> {
    const id = await sha256Hex(bytes);
    const chunks = toChunks(bytes, this.chunkBytes);
    const record: FileRecord = {
      id,
      kind,
      name,
      bytes: bytes.byteLength,
      chunkCount: chunks.length,
      storedAt: new Date().toISOString(),
    };
    const tx = this.db.transaction([FILE_STORES[kind], 'chunks'], 'readwrite');
    const owner = `${kind}:${id}`;
    return atomically(tx, async () => {
      await tx.objectStore('chunks').delete(this.chunkRange(owner));
      await issueAll(chunks.map((data, index) => tx.objectStore('chunks').put({ owner, part: 'file', index, data })));
      await tx.objectStore(FILE_STORES[kind]).put(record);
      return record;
    });
  }

  async listFiles(kind: FileKind): Promise<FileRecord[]> {
    return this.db.getAll(FILE_STORES[kind]);
  }

  async getFileBytes(kind: FileKind, id: string): Promise<Uint8Array> {
    const tx = this.db.transaction([FILE_STORES[kind], 'chunks']);
    const record = await tx.objectStore(FILE_STORES[kind]).get(id);
    if (!record) throw new Error(`no stored ${kind} '${id}'`);
    const chunks = await tx.objectStore('chunks').getAll(this.chunkRange(`${kind}:${id}`));
    return fromChunks(
      chunks.map((chunk) => chunk.data),
      'Uint8Array',
      record.bytes,
      `${kind} '${record.name}'`,
    ) as Uint8Array;
  }

  async deleteFile(kind: FileKind, id: string): Promise<void> {
    const tx = this.db.transaction([FILE_STORES[kind], 'chunks'], 'readwrite');
    await atomically(tx, async () => {
      await tx.objectStore('chunks').delete(this.chunkRange(`${kind}:${id}`));
      await tx.objectStore(FILE_STORES[kind]).delete(id);
    });
  }

  // Runs --------------------------------------------------------------------------------------------------

  async putRun(run: RunRecord): Promise<void> {
    await this.db.put('runs', run);
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    return this.db.get('runs', id);
  }

  /** Most recently updated first. */
  async listRuns(): Promise<RunRecord[]> {
    return (await this.db.getAllFromIndex('runs', 'updatedAt')).reverse();
  }

  async updateRun(id: string, patch: RunPatch): Promise<RunRecord> {
    const tx = this.db.transaction('runs', 'readwrite');
    return atomically(tx, async () => {
      const run = await tx.store.get(id);
      if (!run) throw new Error(`no run '${id}'`);
      const updated: RunRecord = { ...run, ...patch, updatedAt: new Date().toISOString() };
      await tx.store.put(updated);
      return updated;
    });
  }

  async renameRun(id: string, name: string): Promise<RunRecord> {
    if (!name.trim()) throw new Error('a run name cannot be empty');
    return this.updateRun(id, { name: name.trim() });
  }

  /** Remove a run with its tensors, chunks and checkpoint, all in one transaction. */
  async deleteRun(id: string): Promise<void> {
    const tx = this.db.transaction(['runs', 'tensors', 'chunks', 'checkpoints'], 'readwrite');
    await atomically(tx, () =>
      issueAll([
        tx.objectStore('chunks').delete(this.chunkRange(id)),
        tx.objectStore('tensors').delete(this.keyRange.bound([id], [id, []])),
        tx.objectStore('checkpoints').delete(id),
        tx.objectStore('runs').delete(id),
      ]),
    );
  }

  // Tensors -----------------------------------------------------------------------------------------------

  /** Store (or replace) tensors of a run and optionally update the run, in one transaction. */
  async putTensors(runId: string, tensors: readonly NewTensor[], runPatch?: RunPatch): Promise<void> {
    const prepared = tensors.map((tensor) => ({ tensor, chunks: toChunks(tensor.array, this.chunkBytes) }));
    const tx = this.db.transaction(['runs', 'tensors', 'chunks'], 'readwrite');
    await atomically(tx, async () => {
      const run = await tx.objectStore('runs').get(runId);
      if (!run) throw new Error(`no run '${runId}'`);
      await this.writeTensors(tx, runId, prepared);
      if (runPatch) await tx.objectStore('runs').put({ ...run, ...runPatch, updatedAt: new Date().toISOString() });
    });
  }

  /** A new run and all its tensors in one transaction (imports): either all of it is stored or none. */
  async createRunWithTensors(run: RunRecord, tensors: readonly NewTensor[]): Promise<void> {
    const prepared = tensors.map((tensor) => ({ tensor, chunks: toChunks(tensor.array, this.chunkBytes) }));
    const tx = this.db.transaction(['runs', 'tensors', 'chunks'], 'readwrite');
    await atomically(tx, async () => {
      await tx.objectStore('runs').add(run);
      await this.writeTensors(tx, run.id, prepared);
    });
  }

  private async writeTensors(
    tx: IDBPTransaction<WorkbenchSchema, ('runs' | 'tensors' | 'chunks')[], 'readwrite'>,
    runId: string,
    prepared: readonly { tensor: NewTensor; chunks: ArrayBuffer[] }[],
  ): Promise<void> {
    for (const { tensor, chunks } of prepared) {
      const record: TensorRecord = {
        runId,
        name: tensor.name,
        kind: tensor.kind,
        arrayType: arrayTypeName(tensor.array),
        shape: [...tensor.shape],
        byteLength: tensor.array.byteLength,
        chunkCount: chunks.length,
      };
      await tx.objectStore('chunks').delete(this.chunkRange(runId, tensor.name));
      await issueAll(
        chunks.map((data, index) => tx.objectStore('chunks').put({ owner: runId, part: tensor.name, index, data })),
      );
      await tx.objectStore('tensors').put(record);
    }
  }

  async listTensors(runId: string, kind?: TensorKind): Promise<TensorRecord[]> {
    const all = await this.db.getAllFromIndex('tensors', 'runId', runId);
    return kind ? all.filter((record) => record.kind === kind) : all;
  }

  async getTensor(runId: string, name: string): Promise<{ record: TensorRecord; array: StoredArray } | undefined> {
    const tx = this.db.transaction(['tensors', 'chunks']);
    const record = await tx.objectStore('tensors').get([runId, name]);
    if (!record) return undefined;
    const chunks = await tx.objectStore('chunks').getAll(this.chunkRange(runId, name));
    return {
      record,
      array: fromChunks(
        chunks.map((chunk) => chunk.data),
        record.arrayType,
        record.byteLength,
        `run '${runId}' tensor '${name}'`,
      ),
    };
  }

  /** How many records each store holds (what the "nothing partial" tests compare). */
  async counts(): Promise<Record<StoreNames<WorkbenchSchema>, number>> {
    const names = [...this.db.objectStoreNames] as StoreNames<WorkbenchSchema>[];
    const entries = await Promise.all(names.map(async (name) => [name, await this.db.count(name)] as const));
    return Object.fromEntries(entries) as Record<StoreNames<WorkbenchSchema>, number>;
  }
}
