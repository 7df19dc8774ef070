/**
 * Files picked in the page, read like the CLI reads its inputs (src/cli/input-files.ts): refused by size before
 * being read, JSONL lines limited, text decoded strictly — File.text() would turn bad bytes into U+FFFD silently.
 * The UI imports this from the worker folder (its only allowed dependency); it runs on the main thread.
 */
import { checkLineLengths, decodeUtf8Strict, INPUT_LIMITS, InputLimitError, type InputKind } from '../data/limits';

type Picked = Blob & { readonly name: string };

function checkSize(file: Picked, kind: InputKind): void {
  const limit = INPUT_LIMITS[kind];
  if (file.size > limit)
    throw new InputLimitError(`${file.name}: is ${file.size} bytes, over the limit of ${limit} bytes`);
}

export async function readPickedModel(file: Picked): Promise<ArrayBuffer> {
  checkSize(file, 'model');
  return file.arrayBuffer();
}

/**
 * Bytes per read of an external data file: Chromium cannot read a Blob of 2 GiB or more into one ArrayBuffer
 * (`file.arrayBuffer()` fails), so a model's data file is read in slices of this size (Blob.slice), never whole, into
 * one buffer the size of the file; a slice is released once copied, so the read holds at most one slice more.
 */
export const DATA_SLICE_BYTES = 64 * 2 ** 20;

/** A picked external data file, read in slices of `sliceBytes` (DATA_SLICE_BYTES; tests force small ones). */
export async function readPickedData(file: Picked, sliceBytes = DATA_SLICE_BYTES): Promise<ArrayBuffer> {
  checkSize(file, 'model');
  if (!(Number.isInteger(sliceBytes) && sliceBytes > 0)) throw new Error(`slice size must be > 0, got ${sliceBytes}`);
  const out = new Uint8Array(file.size);
  for (let at = 0; at < file.size; at += sliceBytes) {
    const end = Math.min(file.size, at + sliceBytes);
    const slice = new Uint8Array(await file.slice(at, end).arrayBuffer());
    if (slice.byteLength !== end - at)
      throw new InputLimitError(`${file.name}: read ${slice.byteLength} bytes at ${at}, expected ${end - at}`);
    out.set(slice, at);
  }
  return out.buffer;
}

export async function readPickedText(file: Picked, kind: Exclude<InputKind, 'model'>): Promise<string> {
  checkSize(file, kind);
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (kind === 'jsonl') checkLineLengths(file.name, bytes, INPUT_LIMITS.jsonlLine);
  return decodeUtf8Strict(file.name, bytes);
}
