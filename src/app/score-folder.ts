/**
 * A kronfluence scores folder (scores_<name>/pairwise_scores.safetensors, store/kronfluence.ts) with the training and
 * query JSONL it was computed over, as a bundle the workspace opens read-only like any shared run. kronfluence's τ is
 * raw: with its usual measurement, the summed loss, a positive τ(q, n) means training example n lowers query q's loss,
 * which is the workbench's influence on the 'summed-loss' measurement (positive = helps) — so influence = τ here.
 * Rows are matched by position: row n of train.jsonl is column n of the scores; a count that differs is refused.
 */
import { encodeBundle } from '../store/bundle';
import type { FileSource } from '../store/file-source';
import { importKronfluence } from '../store/kronfluence';
import type { DatasetRow } from '../core/schema';
import { InputError } from './input-error';
import { STRATEGIES_PLAINEST_FIRST, type Strategy } from '../core/strategy';

/** One JSONL file's rows as the workspace shows them: id (or the row number), text fields kept as text. */
function rowsOf(name: string, text: string): DatasetRow[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const seen = new Set<string>();
  return lines.map((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new InputError(`${name}: line ${i + 1}: not valid JSON (${(error as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new InputError(`${name}: line ${i + 1}: not a JSON object`);
    const record = value as Record<string, unknown>;
    const text = (field: string) => (typeof record[field] === 'string' ? { [field]: record[field] as string } : {});
    const id = typeof record.id === 'string' || typeof record.id === 'number' ? String(record.id) : `row ${i}`;
    if (seen.has(id)) throw new InputError(`${name}: line ${i + 1}: id "${id}" repeats an earlier row's`);
    seen.add(id);
    return { id, ...text('text'), ...text('prompt'), ...text('response'), ...text('benchmark'), ...text('domain') };
  });
}

async function strategyOf(source: FileSource, directory: string): Promise<Strategy> {
  const path = `${directory ? `${directory}/` : ''}factor_arguments.json`;
  if (!source.paths.includes(path) || source.size(path) > 1 << 20)
    throw new InputError(`${path}: missing; kronfluence writes it beside the scores, saying which strategy made them`);
  let strategy: unknown;
  try {
    strategy = (JSON.parse(new TextDecoder().decode(await source.read(path))) as { strategy?: unknown }).strategy;
  } catch (error) {
    throw new InputError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  const known = STRATEGIES_PLAINEST_FIRST.find((s) => s === strategy);
  if (!known)
    throw new InputError(
      `${path}: strategy ${JSON.stringify(strategy)} is not one of ${STRATEGIES_PLAINEST_FIRST.join(', ')}`,
    );
  return known;
}

export async function scoreFolderBundle(
  source: FileSource,
  train: { readonly name: string; readonly text: string },
  queries: { readonly name: string; readonly text: string },
): Promise<Uint8Array> {
  const imported = await importKronfluence(source);
  if (imported.pairwise.length !== 1)
    throw new InputError(
      `the scores folder holds ${imported.pairwise.length} pairwise_scores.safetensors files (${imported.pairwise.map((s) => s.directory || '.').join(', ') || 'none'}); pick one scores_<name> folder`,
    );
  const scores = imported.pairwise[0]!;
  // kronfluence keeps the factors' arguments beside the scores: the strategy they were computed with.
  const strategy = await strategyOf(source, scores.directory);
  const where = `${scores.directory || '.'}/pairwise_scores.safetensors`;
  if (scores.total.shape.length !== 2)
    throw new InputError(`${where}: per-token scores [${scores.total.shape.join(', ')}] are not opened; give [Q, N]`);
  const [q, n] = scores.total.shape as [number, number];
  const trainRows = rowsOf(train.name, train.text);
  const queryRows = rowsOf(queries.name, queries.text);
  if (trainRows.length !== n)
    throw new InputError(`${where}: scores ${n} training examples, ${train.name} has ${trainRows.length} rows`);
  if (queryRows.length !== q)
    throw new InputError(`${where}: scores ${q} queries, ${queries.name} has ${queryRows.length} rows`);
  return encodeBundle({
    model: null,
    datasets: { train: null, query: null },
    strategy,
    config: { measurement: 'summed-loss', importedFrom: 'kronfluence', scoresFolder: scores.directory },
    backend: null,
    layers: [],
    scores: { tau: scores.total, influence: scores.total, measurement: 'summed-loss' },
    rows: { train: trainRows, query: queryRows },
  });
}
