/**
 * `iwb inspect DIR` on a folder of scores computed elsewhere: bergson's score stores (info.json + scores.bin,
 * store/bergson.ts) and kronfluence's scores_<name>/ folders (store/kronfluence.ts). Per store: its shape, format,
 * and the top K training rows per query by score (rows are 0-based positions in the training data those tools
 * scored; the scores are theirs, raw). Folder names are the user's and are escaped for the terminal.
 */
import { stat } from 'node:fs/promises';
import { InputError } from '../app/input-error';
import { importBergson, type BergsonScores } from '../store/bergson';
import { importKronfluence } from '../store/kronfluence';
import { nodeDirectorySource } from '../store/node-file-source';
import type { HostMatrix } from '../core/schema';
import type { CliIo } from './attribute';
import { escapeTerminal } from './terminal';

export async function isFolder(file: string): Promise<boolean> {
  return (await stat(file).catch(() => null))?.isDirectory() ?? false;
}

/** Per query (row of [Q, N]): the K highest-scoring training rows, 'row:score'. */
function topRows(matrix: HostMatrix, top: number): string[] {
  const [queries, train] = matrix.shape as [number, number];
  return Array.from({ length: queries }, (_, q) => {
    const score = (n: number) => matrix.data[q * train + n]!;
    const order = Array.from({ length: train }, (_, n) => n).sort((a, b) => score(b) - score(a));
    return `  query ${q}: ${order
      .slice(0, top)
      .map((n) => `${n}:${score(n).toPrecision(4)}`)
      .join('  ')}`;
  });
}

export async function inspectScoreFolder(folder: string, top: number, io: CliIo): Promise<void> {
  const source = await nodeDirectorySource(folder);
  const name = escapeTerminal(folder);
  const lines: string[] = [];
  let bergson: BergsonScores[] = [];
  let bergsonError: Error | null = null;
  try {
    bergson = await importBergson(source);
  } catch (error) {
    bergsonError = error as Error;
  }
  for (const store of bergson) {
    const [q, n] = store.scores.shape;
    lines.push(
      `${escapeTerminal(store.directory || '.')}: bergson score store, ${q} queries × ${n} training rows, ${store.format}; top ${top} rows per query:`,
      ...topRows(store.scores, top),
    );
  }
  if (bergson.length === 0) {
    let kronfluence;
    try {
      kronfluence = await importKronfluence(source);
    } catch (error) {
      throw new InputError(
        `${name}: ${escapeTerminal(bergsonError!.message)}; as kronfluence's: ${escapeTerminal((error as Error).message)}`,
      );
    }
    for (const scores of kronfluence.pairwise) {
      if (scores.total.shape.length !== 2) continue;
      const [q, n] = scores.total.shape;
      lines.push(
        `${escapeTerminal(scores.directory || '.')}: kronfluence pairwise scores, ${q} queries × ${n} training rows; top ${top} rows per query:`,
        ...topRows(scores.total, top),
      );
    }
    if (kronfluence.factors)
      lines.push(
        `${escapeTerminal(kronfluence.factors.directory || '.')}: kronfluence ${kronfluence.factors.strategy} factors, modules ` +
          kronfluence.factors.layers.map((l) => escapeTerminal(l.name)).join(', '),
      );
  }
  io.stdout(`${name}:\n${lines.join('\n')}\n`);
}
