/**
 * Reading the CLI's input files without trusting them: only regular files (a FIFO with no writer, /dev/zero or
 * /dev/urandom would block or grow forever), refused by size before reading (stat first), read with a cap in case the
 * file grows meanwhile, and text decoded strictly (src/data/limits.ts) — never `toString('utf8')`, which turns bad
 * bytes into U+FFFD without a word.
 */
import { constants } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { externalDataTensors, normalizeLocation } from '../onnx/protobuf';
import { checkLineLengths, decodeUtf8Strict, INPUT_LIMITS, InputLimitError, type InputKind } from '../data/limits';

/** What stat says a path is, in words, for a path that is not a regular file. */
function kindOf(info: Awaited<ReturnType<typeof stat>>): string {
  if (info.isDirectory()) return 'is a directory';
  if (info.isFIFO()) return 'is a FIFO (named pipe)';
  if (info.isCharacterDevice()) return 'is a character device';
  if (info.isBlockDevice()) return 'is a block device';
  if (info.isSocket()) return 'is a socket';
  return 'is not a regular file';
}

function why(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'ENOTDIR') return 'a folder on the path is not a folder';
  if (code === 'ELOOP') return 'too many levels of symbolic links';
  return code ? `${(error as Error).message.split('\n')[0]} (${code})` : String(error);
}

/** The bytes of a regular file of at most `limit` bytes; anything else is refused naming the flag and the path. */
export async function readInputBytes(flag: string, file: string, limit: number): Promise<Buffer> {
  if (file === '') throw new InputLimitError(`${flag} '': an input needs a file name`);
  let info;
  try {
    info = await stat(file);
  } catch (error) {
    throw new InputLimitError(`${flag} ${file}: ${why(error)}`);
  }
  if (!info.isFile()) throw new InputLimitError(`${flag} ${file}: ${kindOf(info)}; give a regular file`);
  if (info.size > limit)
    throw new InputLimitError(`${flag} ${file}: is ${info.size} bytes, over the limit of ${limit} bytes`);
  let handle;
  try {
    // O_NONBLOCK: if the path was swapped for a FIFO after stat, opening it must not wait for a writer.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new InputLimitError(`${flag} ${file}: ${why(error)}`);
  }
  try {
    if (!(await handle.stat()).isFile()) throw new InputLimitError(`${flag} ${file}: is not a regular file`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, limit + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > limit)
        throw new InputLimitError(`${flag} ${file}: grew past the limit of ${limit} bytes while being read`);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } catch (error) {
    if (error instanceof InputLimitError) throw error;
    throw new InputLimitError(`${flag} ${file}: ${why(error)}`);
  } finally {
    await handle.close();
  }
}

/** A text input (tokenizer JSON or JSONL), size-limited, line-limited (JSONL) and strictly decoded. */
export async function readInputText(
  flag: string,
  file: string,
  kind: Exclude<InputKind, 'model'>,
): Promise<{ bytes: Buffer; text: string }> {
  const bytes = await readInputBytes(flag, file, INPUT_LIMITS[kind]);
  if (kind === 'jsonl') checkLineLengths(file, bytes, INPUT_LIMITS.jsonlLine);
  return { bytes, text: decodeUtf8Strict(file, bytes) };
}

/**
 * A model and the external data files its tensors name (`model.onnx.data`): each read from beside the model, or
 * from `dataFile` (--model-data) when given. A missing data file is refused here, naming where it was looked for.
 * A data file beside the model must resolve (symbolic links followed, realpath) to a file inside the model's folder:
 * a link out of it (`w.bin → /elsewhere/…`, or a linked sub-folder) is refused naming the tensor and both paths —
 * only --model-data, an explicit choice, reads a file elsewhere.
 */
export async function readModelFiles(
  modelFile: string,
  dataFile: string | undefined,
): Promise<{ bytes: Buffer; externalData: { name: string; bytes: Buffer }[] }> {
  const bytes = await readInputBytes('--model', modelFile, INPUT_LIMITS.model);
  const tensors = externalDataTensors(bytes);
  const locations = [...tensors.keys()];
  if (dataFile !== undefined && locations.length === 0)
    throw new InputLimitError(`--model-data ${dataFile}: ${modelFile} stores every tensor inline; leave it out`);
  if (dataFile !== undefined && locations.length > 1) {
    throw new InputLimitError(
      `--model-data ${dataFile}: ${modelFile} names ${locations.length} data files (${locations.join(', ')}); ` +
        'keep them beside the model instead',
    );
  }
  const externalData = [];
  for (const location of locations) {
    const file =
      dataFile ??
      (await dataFileInFolder(modelFile, location, tensors.get(location) ?? '', normalizeLocation(location)));
    const data = await readInputBytes(dataFile === undefined ? '--model' : '--model-data', file, INPUT_LIMITS.model);
    externalData.push({ name: normalizeLocation(location) ?? location, bytes: data });
  }
  return { bytes, externalData };
}

/** The real path of the data file `location` beside the model, refused unless it lies inside the model's folder. */
async function dataFileInFolder(
  modelFile: string,
  location: string,
  tensor: string,
  relative: string | null,
): Promise<string> {
  const where = `--model ${modelFile}: tensor '${tensor}' is stored in the external file '${location}'`;
  // As onnx's own checker: a data file lies in the model's folder or below it, never elsewhere.
  if (relative === null) {
    throw new InputLimitError(
      `--model ${modelFile}: tensor '${tensor}': external data location '${location}' points outside the model's ` +
        'folder; pass the file with --model-data FILE',
    );
  }
  const folder = path.dirname(modelFile);
  const file = path.join(folder, ...relative.split('/'));
  let real: string;
  let realFolder: string;
  try {
    realFolder = await realpath(folder);
    real = await realpath(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new InputLimitError(
        `--model ${modelFile}: its weights are stored in the external file '${location}', not found at ${file}; ` +
          'put it beside the model or pass --model-data FILE',
      );
    }
    throw new InputLimitError(`${where}: ${file}: ${why(error)}`);
  }
  if (!real.startsWith(realFolder.endsWith(path.sep) ? realFolder : realFolder + path.sep)) {
    throw new InputLimitError(
      `${where}, which is a symbolic link (or under one) to ${real}, outside the model's folder ${realFolder}; ` +
        'copy the file into the folder or pass it with --model-data FILE',
    );
  }
  // Read the resolved path, so that no link present at this check is followed afterwards.
  return real;
}
