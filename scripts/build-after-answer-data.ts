// Builds the after-answer variant of the demo training set (docs/data.md, "After-answer variant"), deterministically:
//   npx tsx scripts/build-after-answer-data.ts [--share 0.5] [--seed 20261201]   → public/data/after/
// Reads the demo rows (public/data/train.jsonl), their raw records (../shared/data, for GSM8K's calculator
// annotations and MBPP's test lists, which the demo rows do not keep) and the demo tokenizer (for the length limit).
// The variant shares the demo's queries and tokenizer; only the training file differs.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { afterAnswerVariant } from '../src/data/after-answer';
import type { DemoRow, Gsm8kRecord, MbppRecord } from '../src/data/demo-build';
import { toJsonl } from '../src/data/jsonl';
import { TextTokenizer } from '../src/data/tokenizer';

const { values } = parseArgs({
  options: { share: { type: 'string', default: '0.5' }, seed: { type: 'string', default: '20261201' } },
});
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const sharedData = path.resolve(repoRoot, '../shared/data');
const publicDir = path.join(repoRoot, 'public');
const MAX_TOKENS = 384;

const readLines = <T>(file: string): T[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as T);

const gsm8k = readLines<Gsm8kRecord>(path.join(sharedData, 'gsm8k/train.jsonl'));
const mbpp = new Map(readLines<MbppRecord>(path.join(sharedData, 'mbpp/mbpp.jsonl')).map((r) => [r.task_id, r]));
const recordOf = (row: DemoRow): Gsm8kRecord | MbppRecord => {
  const gsm = /^gsm8k\/train\.jsonl#(\d+)$/.exec(row.source);
  const task = /^mbpp\/mbpp\.jsonl#task_id=(\d+)$/.exec(row.source);
  const record = gsm ? gsm8k[Number(gsm[1])] : task ? mbpp.get(Number(task[1])) : undefined;
  if (!record) throw new Error(`${row.id}: no raw record for source "${row.source}"`);
  return record;
};

const tokenizerText = readFileSync(path.join(publicDir, 'tokenizer/tokenizer.json'), 'utf8');
const tokenizer = TextTokenizer.fromJson(JSON.parse(tokenizerText));
const fits = (row: DemoRow): boolean =>
  2 + tokenizer.encode(row.prompt).length + tokenizer.encode(row.response).length <= MAX_TOKENS;

const trainText = readFileSync(path.join(publicDir, 'data/train.jsonl'), 'utf8');
const demo = readLines<DemoRow>(path.join(publicDir, 'data/train.jsonl'));
const options = { seed: Number(values.seed), share: Number(values.share), fits };
const { rows, stats } = afterAnswerVariant(demo, recordOf, options);

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const outDir = path.join(publicDir, 'data/after');
mkdirSync(outDir, { recursive: true });
const text = toJsonl(rows);
writeFileSync(path.join(outDir, 'train.jsonl'), text);
const queriesText = readFileSync(path.join(publicDir, 'data/queries.jsonl'), 'utf8');
const tokens = rows.reduce(
  (n, r) => n + 2 + tokenizer.encode(r.prompt).length + tokenizer.encode(r.response).length,
  0,
);
const manifest = {
  description:
    'Influence Workbench after-answer demo variant: the demo training set with a seeded share of responses ' +
    'carrying an after-answer segment made from the record itself. Rules: docs/data.md, "After-answer variant".',
  derived_from: { train: '../train.jsonl', sha256: sha256(trainText) },
  sources: '../SOURCES.md; raw GSM8K annotations and MBPP test lists from the same files',
  licences: { gsm8k: 'MIT, ../LICENSE-GSM8K', mbpp: 'CC BY 4.0, ../LICENSE-MBPP.md' },
  config: { seed: options.seed, share: options.share, maxTokens: MAX_TOKENS },
  segments: stats,
  files: {
    train: { path: 'train.jsonl', rows: rows.length, sha256: sha256(text) },
    queries: {
      path: '../queries.jsonl',
      rows: queriesText.split('\n').filter(Boolean).length,
      sha256: sha256(queriesText),
    },
    tokenizer: {
      path: '../../tokenizer/tokenizer.json',
      vocab_size: tokenizer.vocabSize,
      sha256: sha256(tokenizerText),
    },
  },
  tokens: { train: tokens },
};
writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log(JSON.stringify({ stats, rows: rows.length, tokens }, null, 1));
