/**
 * The records of the IndexedDB store and the way large arrays travel into it: split into chunks of at most
 * CHUNK_BYTES, each its own record, so no single value is huge (browsers clone a value whole on read and write).
 */
import type { BundleEvaluationInfo, BundleLayer } from './bundle-manifest';
import type { DatasetRow } from '../core/schema';
import type { Strategy } from '../core/strategy';

export const CHUNK_BYTES = 8 * 1024 * 1024;

export type FileKind = 'model' | 'tokenizer' | 'dataset';
export type RunStatus = 'created' | 'running' | 'paused' | 'failed' | 'complete' | 'imported';
/** What a stored tensor is, so a run's factors, eigendecompositions, Λ and scores can be listed apart. */
export type TensorKind = 'factor' | 'eigen' | 'lambda' | 'score' | 'evaluation';

/** A model, tokenizer or dataset file; its bytes live in chunks owned by `${kind}:${id}`. */
export interface FileRecord {
  /** sha256 of the bytes: the same file stored twice is one record. */
  readonly id: string;
  readonly kind: FileKind;
  readonly name: string;
  readonly bytes: number;
  readonly chunkCount: number;
  readonly storedAt: string;
}

export interface StageTimingRecord {
  readonly stage: string;
  readonly seconds: number;
  readonly items?: number;
}

export interface RunRecord {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly status: RunStatus;
  /** The stage running or last finished (null before the first). */
  readonly stage: string | null;
  /** The run's configuration (AttributionConfig for our runs), as JSON. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly strategy: Strategy;
  readonly backend: string | null;
  readonly modelId: string | null;
  readonly datasetIds: readonly string[];
  readonly layers: readonly BundleLayer[];
  readonly measurement: string | null;
  readonly timings: readonly StageTimingRecord[];
  readonly error: string | null;
  /** Rows the results view shows (ids, text, domain, difficulty, segments). */
  readonly rows: { readonly train: readonly DatasetRow[]; readonly query: readonly DatasetRow[] } | null;
  /** Where an imported run came from (bundle manifest fingerprints), null for runs computed here. */
  readonly source: {
    readonly kind: 'bundle' | 'kronfluence';
    readonly name: string;
    /** sha256 of the imported bundle's bytes (hex), so importing the same bundle again finds the stored copy. */
    readonly digest?: string;
  } | null;
  /** estimateRunStorage's figure when the run was created. */
  readonly estimatedBytes: number | null;
  /** The evaluation against retraining, when the run has one (its `eval.*` tensors beside the scores). */
  readonly evaluation?: BundleEvaluationInfo | null;
  /** The query groups of its `scores.group_token_*` tensors (a bundle's `scores.tokenGroups`); absent: none. */
  readonly tokenGroups?: readonly string[];
}

/** A named array of a run: `layers.<i>.<factor>` or `scores.<name>`, as in a bundle. Its values live in chunks. */
export interface TensorRecord {
  readonly runId: string;
  readonly name: string;
  readonly kind: TensorKind;
  readonly arrayType: ArrayTypeName;
  readonly shape: readonly number[];
  readonly byteLength: number;
  readonly chunkCount: number;
}

export interface ChunkRecord {
  /** A run id, or `${kind}:${fileId}` for a file. */
  readonly owner: string;
  /** The tensor name, `file`, or `checkpoint/<n>` for a checkpoint's n-th array. */
  readonly part: string;
  readonly index: number;
  readonly data: ArrayBuffer;
}

/** The latest checkpoint of a run: its JSON-safe skeleton; its arrays are chunks under `checkpoint/<n>`. */
export interface CheckpointRecord {
  readonly runId: string;
  readonly stage: string;
  readonly chunkIndex: number;
  readonly savedAt: string;
  readonly skeleton: unknown;
  readonly arrays: readonly {
    readonly arrayType: ArrayTypeName;
    readonly byteLength: number;
    readonly chunkCount: number;
  }[];
}

const ARRAY_TYPES = {
  Float64Array,
  Float32Array,
  Int32Array,
  Uint32Array,
  Int16Array,
  Uint16Array,
  Int8Array,
  Uint8Array,
  BigInt64Array,
  BigUint64Array,
} as const;
export type ArrayTypeName = keyof typeof ARRAY_TYPES;
export type StoredArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | BigInt64Array
  | BigUint64Array;

export function arrayTypeName(array: ArrayBufferView): ArrayTypeName {
  const name = array.constructor.name;
  if (!(name in ARRAY_TYPES)) throw new TypeError(`cannot store a ${name}`);
  return name as ArrayTypeName;
}

/** Copies of ≤ CHUNK_BYTES slices of an array's bytes. */
export function toChunks(array: ArrayBufferView, chunkBytes = CHUNK_BYTES): ArrayBuffer[] {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  const chunks: ArrayBuffer[] = [];
  for (let start = 0; start < bytes.length; start += chunkBytes) {
    chunks.push(bytes.slice(start, Math.min(start + chunkBytes, bytes.length)).buffer);
  }
  return chunks;
}

/** Reassemble chunks into an array of the given type, checking the total length first. */
export function fromChunks(
  chunks: readonly ArrayBuffer[],
  arrayType: ArrayTypeName,
  byteLength: number,
  where: string,
): StoredArray {
  const total = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  if (total !== byteLength)
    throw new Error(`${where}: stored chunks hold ${total} bytes, the record says ${byteLength}`);
  const bytes = new Uint8Array(byteLength);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(new Uint8Array(chunk), offset);
    offset += chunk.byteLength;
  }
  const Type = ARRAY_TYPES[arrayType];
  return new Type(bytes.buffer, 0, byteLength / Type.BYTES_PER_ELEMENT);
}

const PLACEHOLDER = '__iwbArray';

/**
 * Take every typed array out of a (JSON-like) value, leaving `{ __iwbArray: n }` in its place, so the arrays can be
 * chunked and the rest stored as one small record. Works on any stage state the engine checkpoints.
 */
export function splitArrays(value: unknown): { skeleton: unknown; arrays: StoredArray[] } {
  const arrays: StoredArray[] = [];
  const walk = (node: unknown): unknown => {
    if (ArrayBuffer.isView(node)) {
      arrayTypeName(node);
      arrays.push(node as StoredArray);
      return { [PLACEHOLDER]: arrays.length - 1 };
    }
    if (Array.isArray(node)) return node.map(walk);
    if (typeof node === 'object' && node !== null) {
      return Object.fromEntries(Object.entries(node).map(([key, entry]) => [key, walk(entry)]));
    }
    return node;
  };
  return { skeleton: walk(value), arrays };
}

/** The inverse of splitArrays. */
export function joinArrays(skeleton: unknown, arrays: readonly StoredArray[]): unknown {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (typeof node === 'object' && node !== null) {
      const index = (node as Record<string, unknown>)[PLACEHOLDER];
      if (typeof index === 'number' && Object.keys(node).length === 1) {
        const array = arrays[index];
        if (!array) throw new Error(`checkpoint refers to array ${index}, but only ${arrays.length} are stored`);
        return array;
      }
      return Object.fromEntries(Object.entries(node).map(([key, entry]) => [key, walk(entry)]));
    }
    return node;
  };
  return walk(skeleton);
}
