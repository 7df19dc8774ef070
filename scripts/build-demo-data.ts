// Builds the demo's data and tokenizer from ../shared/data (GSM8K, MBPP), deterministically:
//   npx tsx scripts/build-demo-data.ts            → public/data, public/tokenizer, public/data/micro, docs/data.md
// table
//   npx tsx scripts/build-demo-data.ts --full [--out DIR]   → additionally every example, to DIR (default
// tmp/data-full)
// Rules: docs/data.md.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainByteLevelBpe } from '../src/data/bpe-trainer';
import { DIFFICULTIES } from '../src/data/difficulty';
import {
  gsm8kRow,
  mbppRow,
  mbppSplit,
  subsample,
  type DemoRow,
  type Gsm8kRecord,
  type MbppRecord,
} from '../src/data/demo-build';
import { toJsonl } from '../src/data/jsonl';
import { DEMO_SPECIAL_TOKENS, TextTokenizer } from '../src/data/tokenizer';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const sharedData = path.resolve(repoRoot, '../shared/data');
const publicDir = path.join(repoRoot, 'public');

/** Everything that decides the output; recorded in the manifest. */
const CONFIG = {
  seed: 20250525,
  vocabSize: 2048,
  microVocabSize: 512,
  /** Demo examples longer than this (bos + prompt + response + eos) are left out, to bound the model's context. */
  maxTokens: 384,
  demoTrain: { math: 2500, code: 'all' as const },
  demoQueries: { math: 200, code: 200 },
  micro: { trainPerDomain: 8, queriesPerDomain: 2 },
};

function readJsonlFile<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as T);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function write(file: string, text: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return sha256(text);
}

const tokenCounts = new WeakMap<TextTokenizer, Map<string, number>>();

/** Sequence length of a row (bos + prompt + response + eos), memoised per tokenizer and row id. */
function tokenCount(tokenizer: TextTokenizer, row: DemoRow): number {
  let counts = tokenCounts.get(tokenizer);
  if (!counts) tokenCounts.set(tokenizer, (counts = new Map()));
  let n = counts.get(row.id);
  if (n === undefined)
    counts.set(row.id, (n = 2 + tokenizer.encode(row.prompt).length + tokenizer.encode(row.response).length));
  return n;
}

type Distribution = Record<'math' | 'code', Record<string, number>>;

function distribution(rows: readonly DemoRow[]): Distribution {
  const table: Distribution = { math: {}, code: {} };
  for (const d of ['math', 'code'] as const) for (const level of DIFFICULTIES) table[d][level] = 0;
  for (const row of rows) table[row.domain][row.difficulty]!++;
  return table;
}

function lengthStats(tokenizer: TextTokenizer, rows: readonly DemoRow[]): { mean: number; max: number; total: number } {
  const lengths = rows.map((r) => tokenCount(tokenizer, r));
  const total = lengths.reduce((a, b) => a + b, 0);
  return { mean: Math.round((total / Math.max(1, lengths.length)) * 10) / 10, max: Math.max(0, ...lengths), total };
}

function markdownTable(sets: Record<string, readonly DemoRow[]>): string {
  const header = '| set | domain | ' + DIFFICULTIES.join(' | ') + ' | total |';
  const rule = '|' + ' --- |'.repeat(DIFFICULTIES.length + 3);
  const lines = [header, rule];
  for (const [name, rows] of Object.entries(sets)) {
    const table = distribution(rows);
    for (const domain of ['math', 'code'] as const) {
      const counts = DIFFICULTIES.map((level) => table[domain][level]!);
      if (counts.every((c) => c === 0)) continue;
      lines.push(`| ${name} | ${domain} | ${counts.join(' | ')} | ${counts.reduce((a, b) => a + b, 0)} |`);
    }
  }
  return lines.join('\n');
}

function replaceBlock(file: string, marker: string, content: string): void {
  const text = readFileSync(file, 'utf8');
  const start = `<!-- ${marker}:start -->`;
  const end = `<!-- ${marker}:end -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${file}: markers ${start} … ${end} not found`);
  writeFileSync(file, text.slice(0, from + start.length) + '\n' + content + '\n' + text.slice(to));
}

function tokenizerConfig(maxTokens: number): object {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: DEMO_SPECIAL_TOKENS.bos,
    eos_token: DEMO_SPECIAL_TOKENS.eos,
    pad_token: DEMO_SPECIAL_TOKENS.pad,
    model_max_length: maxTokens,
    clean_up_tokenization_spaces: false,
  };
}

function writeDataset(
  dir: string,
  tokenizerFile: string,
  tokenizerJson: object,
  train: DemoRow[],
  queries: DemoRow[],
  extra: Record<string, unknown>,
): void {
  const tokenizer = TextTokenizer.fromJson(tokenizerJson);
  const tokenizerText = JSON.stringify(tokenizerJson) + '\n';
  const manifest = {
    description: 'Influence Workbench demo data: GSM8K (math) and MBPP (code). Rules: docs/data.md.',
    ...extra,
    config: CONFIG,
    files: {
      train: { path: 'train.jsonl', rows: train.length, sha256: write(path.join(dir, 'train.jsonl'), toJsonl(train)) },
      queries: {
        path: 'queries.jsonl',
        rows: queries.length,
        sha256: write(path.join(dir, 'queries.jsonl'), toJsonl(queries)),
      },
      tokenizer: {
        path: path.relative(dir, tokenizerFile),
        vocab_size: tokenizer.vocabSize,
        sha256: write(tokenizerFile, tokenizerText),
      },
    },
    special_tokens: { pad: tokenizer.padId, bos: tokenizer.bosId, eos: tokenizer.eosId },
    difficulty: { train: distribution(train), queries: distribution(queries) },
    tokens: { train: lengthStats(tokenizer, train), queries: lengthStats(tokenizer, queries) },
  };
  write(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}

function copyLicences(dir: string): void {
  mkdirSync(dir, { recursive: true });
  // Copied by content, not with copyFile, so the files do not inherit shared/'s read-only mode.
  const copy = (from: string, to: string): void =>
    writeFileSync(path.join(dir, to), readFileSync(path.join(sharedData, from)));
  copy('gsm8k/LICENSE', 'LICENSE-GSM8K');
  copy('mbpp/LICENSE.md', 'LICENSE-MBPP.md');
  copy('README.md', 'SOURCES.md');
}

function main(): void {
  const args = process.argv.slice(2);
  const full = args.includes('--full');
  const outArg = args.indexOf('--out');
  const fullDir = path.resolve(repoRoot, outArg >= 0 ? args[outArg + 1]! : 'tmp/data-full');

  const gsmTrain = readJsonlFile<Gsm8kRecord>(path.join(sharedData, 'gsm8k/train.jsonl')).map((r, i) =>
    gsm8kRow(r, 'train', i),
  );
  const gsmTest = readJsonlFile<Gsm8kRecord>(path.join(sharedData, 'gsm8k/test.jsonl')).map((r, i) =>
    gsm8kRow(r, 'test', i),
  );
  const mbpp = readJsonlFile<MbppRecord>(path.join(sharedData, 'mbpp/mbpp.jsonl'));
  const mbppTrain = mbpp.filter((r) => mbppSplit(r.task_id) !== 'test').map(mbppRow);
  const mbppTest = mbpp.filter((r) => mbppSplit(r.task_id) === 'test').map(mbppRow);
  const allTrain = [...gsmTrain, ...mbppTrain];
  const allQueries = [...gsmTest, ...mbppTest];

  // The vocabulary is learned from every training text (never from the held-out queries).
  const started = performance.now();
  const tokenizerJson = trainByteLevelBpe(
    allTrain.flatMap((r) => [r.prompt, r.response]),
    { vocabSize: CONFIG.vocabSize },
  );
  const tokenizer = TextTokenizer.fromJson(tokenizerJson);
  console.log(`tokenizer: ${tokenizer.vocabSize} tokens in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const fits = (r: DemoRow): boolean => tokenCount(tokenizer, r) <= CONFIG.maxTokens;
  const demoTrain = [
    ...subsample(gsmTrain.filter(fits), CONFIG.demoTrain.math, CONFIG.seed),
    ...mbppTrain.filter(fits),
  ];
  const demoQueries = [
    ...subsample(gsmTest.filter(fits), CONFIG.demoQueries.math, CONFIG.seed),
    ...subsample(mbppTest.filter(fits), CONFIG.demoQueries.code, CONFIG.seed),
  ];
  const provenance = {
    sources: 'SOURCES.md (copied from ../shared/data/README.md)',
    licences: { gsm8k: 'MIT, LICENSE-GSM8K', mbpp: 'CC BY 4.0, LICENSE-MBPP.md' },
    held_out:
      'queries are GSM8K test and MBPP test (task ids 11-510); training uses GSM8K train and MBPP 1-10, 511-974',
    dropped_for_length: {
      train: allTrain.filter((r) => !fits(r)).length,
      queries: allQueries.filter((r) => !fits(r)).length,
    },
  };
  const dataDir = path.join(publicDir, 'data');
  copyLicences(dataDir);
  writeDataset(
    dataDir,
    path.join(publicDir, 'tokenizer/tokenizer.json'),
    tokenizerJson,
    demoTrain,
    demoQueries,
    provenance,
  );
  write(
    path.join(publicDir, 'tokenizer/tokenizer_config.json'),
    JSON.stringify(tokenizerConfig(CONFIG.maxTokens), null, 2) + '\n',
  );

  // Micro: the shortest examples of each domain, with a tiny tokenizer of their own, for tests in seconds.
  const shortest = (rows: DemoRow[], n: number): DemoRow[] =>
    [...rows].sort((a, b) => tokenCount(tokenizer, a) - tokenCount(tokenizer, b) || (a.id < b.id ? -1 : 1)).slice(0, n);
  const byDomain = (rows: DemoRow[], d: 'math' | 'code'): DemoRow[] => rows.filter((r) => r.domain === d);
  const microTrain = (['math', 'code'] as const).flatMap((d) =>
    shortest(byDomain(demoTrain, d), CONFIG.micro.trainPerDomain),
  );
  const microQueries = (['math', 'code'] as const).flatMap((d) =>
    shortest(byDomain(demoQueries, d), CONFIG.micro.queriesPerDomain),
  );
  const microTokenizer = trainByteLevelBpe(
    microTrain.flatMap((r) => [r.prompt, r.response]),
    { vocabSize: CONFIG.microVocabSize },
  );
  const microDir = path.join(dataDir, 'micro');
  writeDataset(microDir, path.join(microDir, 'tokenizer.json'), microTokenizer, microTrain, microQueries, provenance);

  const table = markdownTable({
    'all train': allTrain,
    'all queries': allQueries,
    'demo train': demoTrain,
    'demo queries': demoQueries,
  });
  replaceBlock(path.join(repoRoot, 'docs/data.md'), 'distribution', table);
  console.log(table);
  console.log(
    `demo: ${demoTrain.length} train, ${demoQueries.length} queries; micro: ${microTrain.length} train, ${microQueries.length} queries`,
  );

  if (full) {
    copyLicences(fullDir);
    const { dropped_for_length: _, ...fullProvenance } = provenance;
    const everything = { ...fullProvenance, subset: 'every row of both sources, no length filter or subsampling' };
    writeDataset(fullDir, path.join(fullDir, 'tokenizer.json'), tokenizerJson, allTrain, allQueries, everything);
    console.log(`full: ${allTrain.length} train, ${allQueries.length} queries in ${fullDir}`);
  }
}

main();
