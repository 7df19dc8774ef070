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

export async function readPickedText(file: Picked, kind: Exclude<InputKind, 'model'>): Promise<string> {
  checkSize(file, kind);
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (kind === 'jsonl') checkLineLengths(file.name, bytes, INPUT_LIMITS.jsonlLine);
  return decodeUtf8Strict(file.name, bytes);
}
