/**
 * safetensors codec: u64 little-endian header length N, N bytes of UTF-8 JSON, then the raw little-endian tensor
 * bytes. Every check of the reference (Rust) reader is applied, and each failure names the problem, the tensor and
 * the offsets. Every size is checked against the input's length before anything is allocated; decoded tensors are
 * views into the input (no copy) until a caller asks for typed values.
 */
import { scanJsonText } from './json-scan';

export type Dtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL'
  | 'F8_E4M3'
  | 'F8_E5M2';

export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

/** The reference reader refuses headers above 100 MB; so do we, before decoding a byte of it. */
export const MAX_HEADER_BYTES = 100_000_000;
export const METADATA_KEY = '__metadata__';

export interface SafetensorsTensor {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Raw little-endian bytes: exactly product(shape) × DTYPE_BYTES[dtype]. */
  readonly data: Uint8Array;
}

export interface SafetensorsFile {
  /** In file order (ascending data offsets). */
  readonly tensors: Map<string, SafetensorsTensor>;
  readonly metadata: Record<string, string>;
}

/** Why a byte sequence is not a valid safetensors file (or a bundle built on one). */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export interface ReadOptions {
  /** Where the bytes came from (a file name), prefixed to every error message. */
  readonly source?: string;
  /** Refuse a header listing more tensors than this, before any is examined. */
  readonly maxTensors?: number;
}

interface HeaderEntry {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, value);
}

function isNonNegativeSafeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) {
    count *= dim;
    if (!Number.isSafeInteger(count))
      throw new SafetensorsError(`shape [${shape.join(', ')}] has more than 2^53 elements`);
  }
  return count;
}

function asBytes(input: Uint8Array | ArrayBuffer): Uint8Array {
  return input instanceof Uint8Array ? input : new Uint8Array(input);
}

/** Length of the JSON header, validated against the file's size and the 100 MB limit. */
export function readHeaderLength(bytes: Uint8Array, fail: (message: string) => never): number {
  if (bytes.length < 8) fail(`truncated file: ${bytes.length} bytes, shorter than the 8-byte header length prefix`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  const headerLength = high * 2 ** 32 + low;
  if (headerLength > MAX_HEADER_BYTES) {
    fail(`header length ${headerLength} bytes is over the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (8 + headerLength > bytes.length) {
    fail(
      `header length ${headerLength} runs beyond the file: header would end at byte ${8 + headerLength}, file has ${bytes.length} bytes (truncated?)`,
    );
  }
  if (headerLength < 2) fail(`header length ${headerLength} is too small to hold a JSON object`);
  return headerLength;
}

/** A safetensors header is 3 levels deep (object, entry, shape); a manifest inside it is a string. */
export const MAX_HEADER_DEPTH = 16;

function parseHeaderJson(
  bytes: Uint8Array,
  headerLength: number,
  fail: (message: string) => never,
  maxTensors?: number,
): Record<string, unknown> {
  let text: string;
  try {
    // ignoreBOM: a decoder that drops a BOM would let "\uFEFF{" pass as starting with '{'.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    fail(`header (bytes 8..${8 + headerLength}) is not valid UTF-8`);
  }
  if (!text.startsWith('{')) {
    const code = text.charCodeAt(0);
    const hex = code.toString(16).toUpperCase().padStart(4, '0');
    const shown = code > 0x20 && code < 0x7f ? JSON.stringify(text[0]) : `U+${hex}`;
    fail(`header must start with '{', found ${shown}${code === 0xfeff ? ' (a byte order mark)' : ''}`);
  }
  // Scanned before parsing, strings skipped: a million empty tensors cost seconds and a gigabyte to parse and check
  // one by one, and values nested 10⁶ deep overflow the stack of whatever walks them (JSON.stringify in a message).
  // Entries are counted structurally (top-level commas), so a key spelled with escapes ("data\u005foffsets") counts.
  const { entries, depth, at } = scanJsonText(text, MAX_HEADER_DEPTH);
  if (depth > MAX_HEADER_DEPTH) fail(`header nests deeper than ${MAX_HEADER_DEPTH} levels (at character ${at})`);
  if (maxTensors !== undefined && entries > maxTensors + 1)
    fail(`header lists more than ${maxTensors} tensors, over the limit`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    fail(`header is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('header JSON is not an object');
  return parsed as Record<string, unknown>;
}

function parseMetadata(value: unknown, fail: (message: string) => never): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) fail(`${METADATA_KEY} must be an object of strings`);
  const metadata: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
    if (typeof entry !== 'string') fail(`${METADATA_KEY}.${key} must be a string, found ${typeof entry}`);
    metadata[key] = entry;
  }
  return metadata;
}

function parseEntry(name: string, value: unknown, fail: (message: string) => never): HeaderEntry {
  const where = `tensor '${name}'`;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(`${where}: header entry is not an object`);
  const info = value as Record<string, unknown>;
  if (!isDtype(info.dtype))
    fail(`${where}: unknown dtype ${JSON.stringify(info.dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`);
  const shape = info.shape;
  if (!Array.isArray(shape) || !shape.every(isNonNegativeSafeInteger)) {
    fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  const offsets = info.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeSafeInteger)) {
    fail(`${where}: data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  let count: number;
  try {
    count = elementCount(shape as number[]);
  } catch (error) {
    fail(`${where}: ${(error as Error).message}`);
  }
  const expected = count * DTYPE_BYTES[info.dtype];
  if (expected !== end - begin) {
    fail(
      `${where}: shape [${(shape as number[]).join(', ')}] × ${info.dtype} (${DTYPE_BYTES[info.dtype]} bytes) needs ${expected} bytes, but data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return { name, dtype: info.dtype, shape: shape as number[], begin, end };
}

/** The reference reader requires the tensors to tile the data section exactly: no overlap, no hole, no tail. */
function checkLayout(entries: HeaderEntry[], dataLength: number, fail: (message: string) => never): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let previous: HeaderEntry | null = null;
  for (const entry of entries) {
    const position = previous ? previous.end : 0;
    if (entry.begin < position) {
      fail(
        `tensor '${entry.name}' data_offsets [${entry.begin}, ${entry.end}] overlap tensor '${previous!.name}' [${previous!.begin}, ${previous!.end}]`,
      );
    }
    if (entry.begin > position) {
      fail(
        previous
          ? `hole in the data section: tensor '${previous.name}' ends at ${previous.end} but the next tensor '${entry.name}' begins at ${entry.begin}`
          : `hole in the data section: the first tensor '${entry.name}' begins at ${entry.begin}, not 0`,
      );
    }
    if (entry.end > dataLength) {
      fail(
        `tensor '${entry.name}' data_offsets [${entry.begin}, ${entry.end}] run beyond the data section (${dataLength} bytes; file truncated?)`,
      );
    }
    previous = entry;
  }
  const covered = previous ? previous.end : 0;
  if (covered !== dataLength) {
    fail(
      `data section has ${dataLength} bytes but the tensors cover only ${covered} (${dataLength - covered} trailing bytes)`,
    );
  }
}

/** Decode and validate a safetensors file. Tensor data are views into `input`; copy it if you will mutate them. */
export function readSafetensors(input: Uint8Array | ArrayBuffer, options: ReadOptions = {}): SafetensorsFile {
  const bytes = asBytes(input);
  const fail = (message: string): never => {
    throw new SafetensorsError(options.source ? `${options.source}: ${message}` : message);
  };
  const headerLength = readHeaderLength(bytes, fail);
  const header = parseHeaderJson(bytes, headerLength, fail, options.maxTensors);
  const metadata = parseMetadata(header[METADATA_KEY], fail);
  const count = Object.keys(header).length - (METADATA_KEY in header ? 1 : 0);
  if (options.maxTensors !== undefined && count > options.maxTensors) {
    fail(`header lists ${count} tensors, over the limit of ${options.maxTensors}`);
  }
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name !== METADATA_KEY) entries.push(parseEntry(name, value, fail));
  }
  const dataStart = 8 + headerLength;
  checkLayout(entries, bytes.length - dataStart, fail);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const entry of entries) {
    tensors.set(entry.name, {
      dtype: entry.dtype,
      shape: entry.shape,
      data: bytes.subarray(dataStart + entry.begin, dataStart + entry.end),
    });
  }
  return { tensors, metadata };
}

/**
 * Encode tensors and string metadata. Tensors are laid out by decreasing element size, then by name (as the
 * reference writer does), and the header is padded with spaces to a multiple of 8, so every tensor starts at an
 * offset aligned to its element size and readers can view it without copying.
 */
export function writeSafetensors(
  tensors: ReadonlyMap<string, SafetensorsTensor> | Readonly<Record<string, SafetensorsTensor>>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array<ArrayBuffer> {
  const entries: [string, SafetensorsTensor][] =
    tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  entries.sort(
    ([nameA, a], [nameB, b]) =>
      DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || (nameA < nameB ? -1 : nameA > nameB ? 1 : 0),
  );
  const header: Record<string, unknown> = {};
  const metadataEntries = Object.entries(metadata);
  if (metadataEntries.length > 0) {
    for (const [key, value] of metadataEntries) {
      if (typeof value !== 'string')
        throw new SafetensorsError(`${METADATA_KEY}.${key} must be a string, found ${typeof value}`);
    }
    header[METADATA_KEY] = { ...metadata };
  }
  let offset = 0;
  for (const [name, tensor] of entries) {
    if (name === METADATA_KEY) throw new SafetensorsError(`'${METADATA_KEY}' is reserved and cannot name a tensor`);
    if (!isDtype(tensor.dtype))
      throw new SafetensorsError(`tensor '${name}': unknown dtype ${JSON.stringify(tensor.dtype)}`);
    const expected = elementCount(tensor.shape) * DTYPE_BYTES[tensor.dtype];
    if (tensor.data.byteLength !== expected) {
      throw new SafetensorsError(
        `tensor '${name}': shape [${tensor.shape.join(', ')}] × ${tensor.dtype} needs ${expected} bytes, data has ${tensor.data.byteLength}`,
      );
    }
    header[name] = { dtype: tensor.dtype, shape: [...tensor.shape], data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  if (headerLength > MAX_HEADER_BYTES)
    throw new SafetensorsError(`header of ${headerLength} bytes is over the ${MAX_HEADER_BYTES}-byte limit`);
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let position = 8 + headerLength;
  for (const [, tensor] of entries) {
    out.set(tensor.data, position);
    position += tensor.data.byteLength;
  }
  return out;
}
