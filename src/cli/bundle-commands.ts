/**
 * `iwb inspect FILE.iwb [--top K]`: the manifest in words, every tensor's sha256 verified (decoding checks them), and
 * each query's top helpful and harmful training examples. `iwb export FILE.iwb --csv DIR`: the scores as CSV files
 * for spreadsheets and pandas (long format: one row per query × training example). A corrupt or lying bundle exits
 * non-zero with one line naming the problem, and nothing is written.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BundleError, decodeBundle, type Bundle } from '../store/bundle';
import type { CliIo } from './attribute';
import { CliUsageError } from './args';
import { readInputBytes } from './input-files';
import { checkOutputPaths, writeOutputsAtomically } from './output';
import { evaluationCsv, evaluationLines } from './bundle-evaluation';

/** A bundle is read whole; Node's Buffers stop at 2 GiB here, and so does this. */
const BUNDLE_LIMIT = 2 ** 31 - 1;

export const BUNDLE_USAGE = `Usage: iwb inspect FILE.iwb [--top K]       manifest, checksums, top K per query (default 5), evaluation
       iwb export FILE.iwb --csv DIR           scores.csv (query_id, train_id, tau, influence) and self.csv;
                                               with an evaluation also lds.csv, lds_subsets.csv (and loo.csv)`;

interface Parsed {
  readonly file: string;
  readonly values: Record<string, string | undefined>;
}

function parse(argv: readonly string[], options: Record<string, { type: 'string' }>): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    throw new CliUsageError((error as Error).message.split('\n')[0]!);
  }
  const names = parsed.tokens.filter((t) => t.kind === 'option').map((t) => (t as { name: string }).name);
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) throw new CliUsageError(`--${repeated} is given more than once`);
  if (parsed.positionals.length !== 1) throw new CliUsageError(`give one bundle file\n${BUNDLE_USAGE}`);
  return { file: parsed.positionals[0]!, values: parsed.values as Record<string, string | undefined> };
}

async function readBundle(file: string): Promise<{ bundle: Bundle; bytes: number }> {
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
      const order = Array.from({ length: train }, (_, n) => n).sort(
        (a, b) => influence.data[q * train + b]! - influence.data[q * train + a]!,
      );
      const shown = (indices: number[]) =>
        indices.map((n) => `${trainIds[n]} ${signed(influence.data[q * train + n]!)}`).join(', ');
      const k = Math.min(top, train);
      lines.push(`  ${queryId}: helpful ${shown(order.slice(0, k))} | harmful ${shown(order.slice(-k).reverse())}`);
    }
  }
  lines.push(...evaluationLines(bundle));
  io.stdout(lines.join('\n') + '\n');
}

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. Ids are data; they stay text. */
const csvField = (text: string): string => (/[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

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
  const trainIds = rowIds(bundle, 'train', train).map(csvField);
  const queryIds = rowIds(bundle, 'query', queries).map(csvField);
  const scores = ['query_id,train_id,tau,influence'];
  for (let q = 0; q < queries; q++) {
    for (let n = 0; n < train; n++) {
      scores.push(`${queryIds[q]},${trainIds[n]},${tau.data[q * train + n]},${influence.data[q * train + n]}`);
    }
  }
  const self = ['train_id,self_tau', ...trainIds.map((id, n) => `${id},${selfTau ? selfTau.data[n] : ''}`)];
  const files = [
    { ...outputs[0]!, data: scores.join('\n') + '\n' },
    { ...outputs[1]!, data: self.join('\n') + '\n' },
  ];
  const evaluation = evaluationCsv(bundle, queryIds, trainIds);
  for (const [name, lines] of Object.entries(evaluation))
    files.push({ flag: '--csv', file: path.join(dir, name), data: lines.join('\n') + '\n' });
  if (files.length > 2) await checkOutputPaths(files.slice(2), [{ flag: 'bundle', file }]);
  await writeOutputsAtomically(files);
  const evaluated = bundle.evaluation ? `, the evaluation (${Object.keys(evaluation).join(', ')})` : '';
  io.stdout(
    `${files.map((o) => o.file).join(', ')}: ${queries * train} scores, ${train} self-influences${evaluated}\n`,
  );
}
