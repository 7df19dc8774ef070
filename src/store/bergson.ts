/**
 * bergson's (EleutherAI/bergson) score store, read: a folder with `info.json` and `scores.bin`, as its
 * MemmapSequenceScoreWriter writes it (checked against bergson's repository at commit 3c66bb5, 2026-08-18,
 * bergson/score/score_writer.py). scores.bin is a numpy structured array of `num_rows` records of `itemsize` bytes;
 * record r holds, for each query i, `score_i` (a float: float32 by default, or float16/bfloat16/float64) at
 * offsets[2i] and a `written_i` bool at offsets[2i + 1] — the flag bergson uses to resume an interrupted scoring run.
 * info.json: { attribute_tokens, num_items, num_rows, num_scores, dtype: { names, formats, offsets, itemsize } }
 * (stores written before num_rows existed have num_rows = num_items). The layout is taken from info.json, not assumed,
 * and checked against the file's size. Little-endian, as numpy writes on the machines bergson runs on.
 *
 * Read: per-document stores (attribute_tokens false), every cell written. Refused, each with its reason: per-token
 * stores (attribute_tokens true: rows are tokens, grouped by an offsets.npy), a cell never written (an interrupted
 * run), dtypes other than the four floats, and bergson's EK-FAC factor shards (eigen_activation_sharded/,
 * eigen_gradient_sharded/, eigenvalue_correction_sharded/shard_<rank>.safetensors: row shards per rank whose
 * orientation and normalisation have not been checked against ours; see docs/cluster.md).
 * The scores are bergson's as it wrote them (its gradient inner products, with whatever preconditioning and
 * normalisation the run asked for): not the workbench's τ, and not comparable to it without knowing those settings.
 */
import { baseName, directoryOf, type FileSource } from './file-source';
import type { Dtype } from './safetensors';
import { tensorToFloat64 } from './tensor-values';
import type { HostMatrix } from '../core/schema';

export class BergsonError extends Error {
  override name = 'BergsonError';
}

export const BERGSON_INFO_FILE = 'info.json';
export const BERGSON_SCORES_FILE = 'scores.bin';
const FACTOR_SHARD_FOLDERS = ['eigen_activation_sharded', 'eigen_gradient_sharded', 'eigenvalue_correction_sharded'];

/** numpy's names for the float formats bergson writes, as safetensors dtypes. */
const FORMATS: Readonly<Record<string, { dtype: Dtype; bytes: number }>> = {
  float64: { dtype: 'F64', bytes: 8 },
  float32: { dtype: 'F32', bytes: 4 },
  float16: { dtype: 'F16', bytes: 2 },
  bfloat16: { dtype: 'BF16', bytes: 2 },
};

export interface BergsonScores {
  /** The folder (relative to the picked one) holding info.json and scores.bin. */
  readonly directory: string;
  /** The score format bergson used (numpy's name: 'float32', …). */
  readonly format: string;
  /** [num_scores, num_items]: row q is query q's score of every training document (the workbench's τ orientation). */
  readonly scores: HostMatrix;
  readonly info: Readonly<Record<string, unknown>>;
}

interface Layout {
  readonly rows: number;
  readonly queries: number;
  readonly itemsize: number;
  readonly format: string;
  readonly scoreOffsets: readonly number[];
  readonly writtenOffsets: readonly number[];
}

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

function parseInfo(text: string, where: string): { info: Record<string, unknown>; layout: Layout } {
  let info: unknown;
  try {
    info = JSON.parse(text);
  } catch (error) {
    throw new BergsonError(`${where}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof info !== 'object' || info === null || Array.isArray(info))
    throw new BergsonError(`${where}: not a JSON object`);
  const record = info as Record<string, unknown>;
  if (record.attribute_tokens === true)
    throw new BergsonError(
      `${where}: a per-token score store (attribute_tokens: true) — only per-document stores are read`,
    );
  const field = (name: string): number => {
    const value = record[name];
    if (!isCount(value)) throw new BergsonError(`${where}: field "${name}" must be a non-negative integer`);
    return value;
  };
  const items = field('num_items');
  const rows = record.num_rows === undefined ? items : field('num_rows');
  if (rows !== items) throw new BergsonError(`${where}: num_rows ${rows} differs from num_items ${items}`);
  const queries = field('num_scores');
  const dtype = record.dtype as Record<string, unknown> | undefined;
  const names = dtype?.names;
  const formats = dtype?.formats;
  const offsets = dtype?.offsets;
  if (
    !Array.isArray(names) ||
    !Array.isArray(formats) ||
    !Array.isArray(offsets) ||
    names.length !== 2 * queries ||
    formats.length !== names.length ||
    offsets.length !== names.length ||
    !offsets.every(isCount) ||
    !isCount(dtype?.itemsize)
  ) {
    throw new BergsonError(
      `${where}: field "dtype" must hold names, formats and offsets for ${queries} (score_i, written_i) pairs and an itemsize`,
    );
  }
  const itemsize = dtype.itemsize as number;
  const format = String(formats[0]);
  const size = FORMATS[format]?.bytes;
  if (size === undefined)
    throw new BergsonError(`${where}: score format "${format}" is not one of ${Object.keys(FORMATS).join(', ')}`);
  for (let q = 0; q < queries; q++) {
    const [score, written] = [2 * q, 2 * q + 1];
    if (names[score] !== `score_${q}` || names[written] !== `written_${q}`)
      throw new BergsonError(`${where}: dtype.names[${score}, ${written}] must be score_${q}, written_${q}`);
    if (formats[score] !== format || formats[written] !== 'bool')
      throw new BergsonError(`${where}: dtype.formats for query ${q} must be ${format} and bool`);
    if ((offsets[score] as number) + size > itemsize || (offsets[written] as number) + 1 > itemsize)
      throw new BergsonError(`${where}: dtype.offsets for query ${q} lie outside the ${itemsize}-byte record`);
  }
  return {
    info: record,
    layout: {
      rows,
      queries,
      itemsize,
      format,
      scoreOffsets: offsets.filter((_, i) => i % 2 === 0) as number[],
      writtenOffsets: offsets.filter((_, i) => i % 2 === 1) as number[],
    },
  };
}

/** One score store: info.json and scores.bin in `directory` of the source. */
export async function readBergsonScores(
  source: FileSource,
  directory = '',
  maxFileBytes = 2 ** 31,
): Promise<BergsonScores> {
  const prefix = directory ? `${directory}/` : '';
  const infoPath = `${prefix}${BERGSON_INFO_FILE}`;
  const scoresPath = `${prefix}${BERGSON_SCORES_FILE}`;
  for (const path of [infoPath, scoresPath])
    if (!source.paths.includes(path)) throw new BergsonError(`${path}: missing (a bergson score store has both)`);
  if (source.size(infoPath) > 1 << 20) throw new BergsonError(`${infoPath}: over 1 MiB, not a score store's info`);
  const { info, layout } = parseInfo(new TextDecoder().decode(await source.read(infoPath)), infoPath);
  const expected = layout.rows * layout.itemsize;
  const size = source.size(scoresPath);
  if (size !== expected)
    throw new BergsonError(
      `${scoresPath}: is ${size} bytes; info.json's ${layout.rows} rows × ${layout.itemsize} bytes need ${expected}`,
    );
  if (size > maxFileBytes)
    throw new BergsonError(`${scoresPath}: ${size} bytes is over the ${maxFileBytes}-byte limit for one file`);
  const bytes = await source.read(scoresPath);
  const { dtype, bytes: width } = FORMATS[layout.format]!;
  // Gather the score cells into one contiguous [query, row] buffer (the store interleaves them per record), then
  // decode it once: each cell's bytes are copied as they are, so float16/bfloat16 widen exactly to float64.
  const packed = new Uint8Array(layout.queries * layout.rows * width);
  for (let q = 0; q < layout.queries; q++) {
    for (let r = 0; r < layout.rows; r++) {
      const record = r * layout.itemsize;
      if (bytes[record + layout.writtenOffsets[q]!] === 0)
        throw new BergsonError(
          `${scoresPath}: row ${r}, score_${q} was never written (an interrupted scoring run? bergson resumes it)`,
        );
      const at = record + layout.scoreOffsets[q]!;
      packed.set(bytes.subarray(at, at + width), (q * layout.rows + r) * width);
    }
  }
  const shape = [layout.queries, layout.rows];
  const data = tensorToFloat64({ dtype, shape, data: packed }, scoresPath);
  const bad = data.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0)
    throw new BergsonError(
      `${scoresPath}: row ${bad % layout.rows}, score_${Math.floor(bad / layout.rows)} is ${data[bad]}`,
    );
  return { directory, format: layout.format, scores: { shape, data }, info };
}

/** Every score store in a picked folder (each folder holding info.json + scores.bin); factor shards are refused. */
export async function importBergson(source: FileSource): Promise<BergsonScores[]> {
  const shards = source.paths.find((path) => FACTOR_SHARD_FOLDERS.some((f) => path.split('/').includes(f)));
  const stores = [
    ...new Set(source.paths.filter((path) => baseName(path) === BERGSON_SCORES_FILE).map(directoryOf)),
  ].sort();
  if (stores.length === 0) {
    throw new BergsonError(
      shards
        ? `${shards}: bergson's EK-FAC factor shards are not read (their orientation and normalisation are unchecked); ` +
            'give a score store (info.json + scores.bin) or kronfluence factors'
        : `no bergson score store in the selection (${source.paths.length} files; expected info.json and scores.bin)`,
    );
  }
  return Promise.all(stores.map((directory) => readBergsonScores(source, directory)));
}
