/**
 * `iwb inspect FILE.iwb [--top K]`: the manifest in words, every tensor's sha256 verified (decoding checks them), and
 * each query's top helpful and harmful training examples. `iwb export FILE.iwb --csv DIR`: the scores as CSV files
 * for spreadsheets and pandas (long format: one row per query × training example). A corrupt or lying bundle exits
 * non-zero with one line naming the problem, and nothing is written.
 */
import { inspectScoreFolder, isFolder } from './score-folders';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BundleError, decodeBundle, type Bundle } from '../store/bundle';
import { MAX_HEADER_BYTES } from '../store/safetensors';
import type { CliIo } from './attribute';
import { CliUsageError, parseArgsMessage } from './args';
import { readInputBytes } from './input-files';
import { checkOutputPaths, writeOutputsAtomically, writtenLines } from './output';
import { evaluationCsv, evaluationLines } from './bundle-evaluation';
import { csvText } from './terminal';

/** A bundle is read whole; Node's Buffers stop at 2 GiB here, and so does this. */
const BUNDLE_LIMIT = 2 ** 31 - 1;

export const BUNDLE_USAGE = `Usage: iwb inspect FILE.iwb [--top K]       manifest, checksums, top K per query (default 5), evaluation
       iwb inspect DIR [--top K]            a bergson score store or kronfluence scores folder: shape, top K rows
       iwb export FILE.iwb --csv DIR           scores.csv (query_id, train_id, tau, influence, query_benchmark,
                                               train_domain, train_difficulty) and self.csv; tokens.csv with
                                               per-token scores; with an evaluation also lds.csv, lds_subsets.csv
                                               (and loo.csv)`;

interface Parsed {
  readonly file: string;
  readonly values: Record<string, string | undefined>;
}

function parse(argv: readonly string[], options: Record<string, { type: 'string' }>): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    throw new CliUsageError(parseArgsMessage(error, argv));
  }
  const names = parsed.tokens.filter((t) => t.kind === 'option').map((t) => (t as { name: string }).name);
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) throw new CliUsageError(`--${repeated} is given more than once`);
  if (parsed.positionals.length !== 1) throw new CliUsageError(`give one bundle file\n${BUNDLE_USAGE}`);
  return { file: parsed.positionals[0]!, values: parsed.values as Record<string, string | undefined> };
}

/**
 * The first 8 bytes say how long the header is; a file they already make invalid (a sparse 2 GiB file of zeros, a
 * header longer than the file or the 100 MB limit) is refused before the rest is read.
 */
async function checkBundlePrefix(file: string): Promise<void> {
  let prefix: Buffer;
  let size: number;
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const info = await handle.stat();
      if (!info.isFile()) return; // readInputBytes names what it is.
      size = info.size;
      prefix = Buffer.alloc(Math.min(size, 9));
      await handle.read(prefix, 0, prefix.length, 0);
    } finally {
      await handle.close();
    }
  } catch {
    return; // readInputBytes reports an unreadable file in its words.
  }
  const notBundle = (why: string) => new BundleError(`${file}: not a bundle: ${why}`);
  if (size < 8) throw notBundle(`${size} bytes, shorter than the 8-byte header length prefix`);
  const length = prefix.readUInt32LE(0) + prefix.readUInt32LE(4) * 2 ** 32;
  if (length > MAX_HEADER_BYTES)
    throw notBundle(`its first 8 bytes give a header of ${length} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
  if (length < 2) throw notBundle(`its first 8 bytes give a header of ${length} bytes, too small for a JSON object`);
  if (8 + length > size)
    throw notBundle(`its first 8 bytes give a header of ${length} bytes, beyond the file's ${size} bytes`);
  if (prefix[8] !== 0x7b) throw notBundle(`the header must start with '{', found byte ${prefix[8]}`);
}

async function readBundle(file: string): Promise<{ bundle: Bundle; bytes: number }> {
  await checkBundlePrefix(file);
  const bytes = await readInputBytes('bundle', file, BUNDLE_LIMIT);
  try {
    return { bundle: await decodeBundle(new Uint8Array(bytes)), bytes: bytes.byteLength };
  } catch (error) {
    if (error instanceof BundleError) throw new BundleError(`${file}: ${error.message}`);
    throw error;
  }
}

function rowIds(bundle: Bundle, role: 'train' | 'query', count: number): string[] {
  const rows = bundle.manifest.rows?.[role];
  return Array.from({ length: count }, (_, i) => rows?.[i]?.id ?? `${role}-${i}`);
}

const signed = (value: number): string => (value > 0 ? '+' : '') + value.toExponential(3);

export async function inspectCommand(argv: readonly string[], io: CliIo): Promise<void> {
  const { file, values } = parse(argv, { top: { type: 'string' } });
  const top = values.top === undefined ? 5 : Number(values.top);
  if (!/^[0-9]+$/.test(values.top ?? '5') || !(top >= 1)) throw new CliUsageError('--top must be a positive integer');
  // A folder: scores computed elsewhere (bergson's score store, kronfluence's scores; score-folders.ts).
  if (await isFolder(file)) return inspectScoreFolder(file, top, io);
  const { bundle, bytes } = await readBundle(file);
  const m = bundle.manifest;
  const lines = [
    `${file}: ${bytes} bytes, ${m.format} version ${m.version}, created ${m.createdAt} by ${m.generator}`,
    `checksums: ${Object.keys(m.tensors).length} tensors, every sha256 verified`,
    `model: ${m.model ? `${m.model.name} (sha256 ${m.model.sha256.slice(0, 16)}…)` : 'not recorded'}` +
      (m.modelData ?? []).map((f) => `, data ${f.name} (sha256 ${f.sha256.slice(0, 16)}…)`).join(''),
    `strategy ${m.strategy}; backend ${m.backend ?? 'not recorded'}; stages ${m.stages.join(', ') || 'none'}`,
    `layers (${m.layers.length}): ${m.layers.map((l) => `${l.name} [${l.dOut} × ${l.dIn}${l.hasBias ? ' + bias' : ''}]`).join('; ')}`,
  ];
  const influence = bundle.scores.influence;
  if (!m.scores || !influence) {
    lines.push('scores: none');
  } else {
    const { queries, train } = m.scores;
    lines.push(
      `scores: ${queries} queries × ${train} training examples; influence on ${m.scores.measurement} (positive = helps)`,
    );
    const trainIds = rowIds(bundle, 'train', train);
    for (const [q, queryId] of rowIds(bundle, 'query', queries).entries()) {
      const score = (n: number) => influence.data[q * train + n]!;
      const order = Array.from({ length: train }, (_, n) => n).sort((a, b) => score(b) - score(a));
      // Helpful: positive scores only, largest first; harmful: negative only, most negative first. A query whose
      // every example helps lists none as harmful (and the reverse): the bottom of a list is not harm.
      const helpful = order.filter((n) => score(n) > 0).slice(0, top);
      const harmful = order
        .filter((n) => score(n) < 0)
        .reverse()
        .slice(0, top);
      const shown = (indices: number[]) =>
        indices.length === 0 ? 'none' : indices.map((n) => `${trainIds[n]} ${signed(score(n))}`).join(', ');
      lines.push(`  ${queryId}: helpful ${shown(helpful)} | harmful ${shown(harmful)}`);
    }
  }
  lines.push(...evaluationLines(bundle));
  io.stdout(lines.join('\n') + '\n');
}

/** A row's label (benchmark, domain, difficulty) as a CSV text cell; empty where the row has none. */
function labels(bundle: Bundle, role: 'train' | 'query', count: number, key: 'benchmark' | 'domain' | 'difficulty') {
  const rows = bundle.manifest.rows?.[role];
  return Array.from({ length: count }, (_, i) => csvText(rows?.[i]?.[key] ?? ''));
}

/**
 * tokens.csv: the per-token scores τ(q, n, t) a bundle holds (`scores.tauPerToken`, rows [Q, Σ_n T_n] cut by
 * `offsets`), one row per query × training example × token, with the token's text where the bundle records it.
 */
function tokenCsv(bundle: Bundle, queryIds: readonly string[], trainIds: readonly string[]): string[] | null {
  const perToken = bundle.scores.tauPerToken;
  if (!perToken) return null;
  const { offsets, values } = perToken;
  const width = offsets[offsets.length - 1]!;
  const rows = bundle.manifest.rows?.train;
  const lines = ['query_id,train_id,position,token,tau'];
  for (let q = 0; q < queryIds.length; q++) {
    for (let n = 0; n < trainIds.length; n++) {
      const tokens = rows?.[n]?.tokens;
      for (let t = 0; t < offsets[n + 1]! - offsets[n]!; t++) {
        const value = values.data[q * width + offsets[n]! + t]!;
        lines.push(`${queryIds[q]},${trainIds[n]},${t},${csvText(tokens?.[t] ?? '')},${value}`);
      }
    }
  }
  return lines;
}

export async function exportCommand(argv: readonly string[], io: CliIo): Promise<void> {
  const { file, values } = parse(argv, { csv: { type: 'string' } });
  if (values.csv === undefined) throw new CliUsageError(`export needs --csv DIR\n${BUNDLE_USAGE}`);
  const dir = values.csv;
  const outputs = [
    { flag: '--csv', file: path.join(dir, 'scores.csv') },
    { flag: '--csv', file: path.join(dir, 'self.csv') },
  ];
  await checkOutputPaths(outputs, [{ flag: 'bundle', file }]);
  const { bundle } = await readBundle(file);
  const { tau, influence, selfTau } = bundle.scores;
  if (!bundle.manifest.scores || !tau || !influence) throw new BundleError(`${file}: the bundle holds no scores`);
  const { queries, train } = bundle.manifest.scores;
  const trainIds = rowIds(bundle, 'train', train).map(csvText);
  const queryIds = rowIds(bundle, 'query', queries).map(csvText);
  const benchmark = labels(bundle, 'query', queries, 'benchmark');
  const domain = labels(bundle, 'train', train, 'domain');
  const difficulty = labels(bundle, 'train', train, 'difficulty');
  // The scores first, as before; the labels after them, so that readers by column position keep working.
  const scores = ['query_id,train_id,tau,influence,query_benchmark,train_domain,train_difficulty'];
  for (let q = 0; q < queries; q++) {
    for (let n = 0; n < train; n++) {
      scores.push(
        `${queryIds[q]},${trainIds[n]},${tau.data[q * train + n]},${influence.data[q * train + n]},` +
          `${benchmark[q]},${domain[n]},${difficulty[n]}`,
      );
    }
  }
  const self = [
    'train_id,self_tau,domain,difficulty',
    ...trainIds.map((id, n) => `${id},${selfTau ? selfTau.data[n] : ''},${domain[n]},${difficulty[n]}`),
  ];
  const files = [
    { ...outputs[0]!, data: scores.join('\n') + '\n' },
    { ...outputs[1]!, data: self.join('\n') + '\n' },
  ];
  const tokens = tokenCsv(bundle, queryIds, trainIds);
  if (tokens) files.push({ flag: '--csv', file: path.join(dir, 'tokens.csv'), data: tokens.join('\n') + '\n' });
  const evaluation = evaluationCsv(bundle, queryIds, trainIds);
  for (const [name, lines] of Object.entries(evaluation))
    files.push({ flag: '--csv', file: path.join(dir, name), data: lines.join('\n') + '\n' });
  if (files.length > 2) await checkOutputPaths(files.slice(2), [{ flag: 'bundle', file }]);
  await writeOutputsAtomically(files);
  const evaluated = bundle.evaluation ? `, the evaluation (${Object.keys(evaluation).join(', ')})` : '';
  const perToken = tokens ? `, ${tokens.length - 1} per-token scores` : '';
  io.stdout(
    `${files.map((o) => o.file).join(', ')}: ${queries * train} scores, ${train} self-influences${perToken}` +
      `${evaluated}\n${writtenLines(files).join('\n')}\n`,
  );
}
