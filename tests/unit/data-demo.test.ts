import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemoDataset, fetchSource, type DemoDataset, type Example } from '../../src/data/dataset';
import {
  gsm8kRow,
  mbppRow,
  mbppSplit,
  normalizeCode,
  stripCalculatorAnnotations,
  subsample,
  type Gsm8kRecord,
  type MbppRecord,
} from '../../src/data/demo-build';
import { codeDifficulty, codeScore, codeShape, gsm8kSteps, mathDifficulty } from '../../src/data/difficulty';
import { nodeSource } from '../../src/data/node-source';
import { TOKEN_CATEGORIES } from '../../src/data/categories';
import { readFixtureText } from '../helpers/fixtures';

const publicDir = fileURLToPath(new URL('../../public/', import.meta.url));
/** The committed sample of raw records (tests/fixtures/raw-data): GSM8K train by line number, MBPP by task id. */
const jsonLines = (file: string): unknown[] =>
  readFixtureText(file)
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
const gsmTrainByLine = new Map(
  (jsonLines('raw-data/gsm8k-train-sample.jsonl') as { line: number; record: Gsm8kRecord }[]).map((r) => [
    r.line,
    r.record,
  ]),
);
const mbppByTask = new Map((jsonLines('raw-data/mbpp-sample.jsonl') as MbppRecord[]).map((r) => [r.task_id, r]));
function sampled<K, V>(map: Map<K, V>, key: K, what: string): V {
  const value = map.get(key);
  if (!value)
    throw new Error(
      `${what} ${String(key)} is not in the committed raw-data sample; rerun scripts/build-test-fixtures.ts`,
    );
  return value;
}

/** The invariants every example must satisfy for the engine. */
function checkExample(ex: Example, vocabSize: number): void {
  expect(ex.inputIds.length).toBe(ex.tokenCategories.length);
  expect(ex.promptLen).toBeGreaterThan(0);
  expect(ex.promptLen).toBeLessThan(ex.inputIds.length);
  for (const id of ex.inputIds) if (id < 0 || id >= vocabSize) throw new Error(`${ex.id}: token id ${id} out of range`);
  for (const c of ex.tokenCategories) if (c >= TOKEN_CATEGORIES.length) throw new Error(`${ex.id}: category ${c}`);
  // The dataset's segments tile the response positions exactly, in order.
  let at = ex.promptLen;
  for (const s of ex.segments) {
    if (s.start !== at || s.end <= s.start)
      throw new Error(`${ex.id}: segment ${s.label} [${s.start}, ${s.end}) does not continue at ${at}`);
    at = s.end;
  }
  expect(at).toBe(ex.inputIds.length);
}

describe('micro dataset (public/data/micro)', () => {
  it('loads in Node with its own tiny tokenizer, 16 train and 4 queries, both domains', async () => {
    const ds = await loadDemoDataset(nodeSource(publicDir), 'micro');
    expect(ds.tokenizer.vocabSize).toBe(512);
    expect(ds.train).toHaveLength(16);
    expect(ds.queries).toHaveLength(4);
    for (const set of [ds.train, ds.queries]) {
      expect(new Set(set.map((e) => e.domain))).toEqual(new Set(['math', 'code']));
      for (const ex of set) {
        checkExample(ex, ds.tokenizer.vocabSize);
        expect(ex.inputIds.length).toBeLessThanOrEqual(120);
        expect(ds.tokenizer.decode([...ex.inputIds])).toBe(`<|bos|>${ex.prompt}${ex.response}<|eos|>`);
      }
    }
  });

  describe('over HTTP, as the page fetches it', () => {
    let server: Server;
    let base = '';
    beforeAll(async () => {
      server = createServer((req, res) => {
        const file = path.join(publicDir, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
        try {
          res.end(readFileSync(file));
        } catch {
          res.statusCode = 404;
          res.end();
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      if (typeof address !== 'object' || !address) throw new Error('no server address');
      base = `http://127.0.0.1:${address.port}/`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('gives the same examples through fetchSource as from disk', async () => {
      const [viaHttp, fromDisk] = await Promise.all([
        loadDemoDataset(fetchSource(base), 'micro'),
        loadDemoDataset(nodeSource(publicDir), 'micro'),
      ]);
      expect(viaHttp.train).toEqual(fromDisk.train);
      expect(viaHttp.queries).toEqual(fromDisk.queries);
    });

    it('names the URL of a missing file', async () => {
      await expect(fetchSource(base).readJson('data/nope.json')).rejects.toThrow(`${base}data/nope.json: HTTP 404`);
    });
  });
});

describe('demo dataset (public/data, public/tokenizer)', () => {
  let ds: DemoDataset;
  beforeAll(async () => {
    ds = await loadDemoDataset(nodeSource(publicDir));
  }, 120_000);

  it('matches its manifest and keeps every example within the context bound', () => {
    const files = ds.manifest.files as Record<string, { rows: number }>;
    expect(ds.train.length).toBe(files.train!.rows);
    expect(ds.queries.length).toBe(files.queries!.rows);
    expect(ds.train.length).toBeGreaterThan(2500);
    expect(ds.queries.length).toBe(400);
    const maxTokens = (ds.manifest.config as { maxTokens: number }).maxTokens;
    for (const ex of [...ds.train, ...ds.queries]) {
      checkExample(ex, ds.tokenizer.vocabSize);
      expect(ex.inputIds.length).toBeLessThanOrEqual(maxTokens);
    }
  });

  it('holds the benchmarks out: queries are GSM8K test and MBPP 11–510 only, and share no problem with training', () => {
    const trainIds = new Set(ds.train.map((e) => e.id));
    for (const q of ds.queries) {
      expect(trainIds.has(q.id)).toBe(false);
      expect(q.id).toMatch(/^(gsm8k-test-\d{5}|mbpp-(\d+))$/);
      if (q.domain === 'code') expect(mbppSplit(Number(q.id.slice(5)))).toBe('test');
    }
    for (const t of ds.train) {
      expect(t.id).toMatch(/^(gsm8k-train-\d{5}|mbpp-\d+)$/);
      if (t.domain === 'code') expect(mbppSplit(Number(t.id.slice(5)))).not.toBe('test');
    }
    const trainPrompts = new Set(ds.train.map((e) => e.prompt));
    expect(ds.queries.filter((q) => trainPrompts.has(q.prompt))).toEqual([]);
  });

  it('reproduces each row from the raw record it names', () => {
    for (const ex of [...ds.train.slice(0, 50), ...ds.train.slice(-50)]) {
      const line = Number(ex.id.slice(12));
      const expected = ex.id.startsWith('gsm8k-train-')
        ? gsm8kRow(sampled(gsmTrainByLine, line, 'GSM8K train line'), 'train', line)
        : mbppRow(sampled(mbppByTask, Number(ex.id.slice(5)), 'MBPP task'));
      expect({ id: ex.id, prompt: ex.prompt, response: ex.response, difficulty: ex.difficulty }).toEqual({
        id: expected.id,
        prompt: expected.prompt,
        response: expected.response,
        difficulty: expected.difficulty,
      });
    }
  });
});

describe('demo rows from raw records', () => {
  it('GSM8K: calculator annotations removed, steps counted before "####"', () => {
    const raw = sampled(gsmTrainByLine, 0, 'GSM8K train line');
    const row = gsm8kRow(raw, 'train', 0);
    expect(row.id).toBe('gsm8k-train-00000');
    expect(row.response).toBe(
      'Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether in April and May.\n#### 72',
    );
    expect(row.prompt.startsWith('Question: Natalia sold clips')).toBe(true);
    expect(row.prompt.endsWith('\nAnswer:\n')).toBe(true);
    expect([row.difficulty_measure, row.difficulty]).toEqual([2, 'easy']);
    expect(stripCalculatorAnnotations('0.2 x 50 = $<<0.2*50=10>>10.')).toBe('0.2 x 50 = $10.');
  });

  it('MBPP: first test in the prompt, code normalised, size-and-structure score', () => {
    const raw = sampled(mbppByTask, 601, 'MBPP task');
    const row = mbppRow(raw);
    expect(row.id).toBe('mbpp-601');
    expect(row.prompt).toBe(
      'Task: Write a function to find the longest chain which can be formed from the given set of pairs.\n' +
        'Test: assert max_chain_length([Pair(5, 24), Pair(15, 25),Pair(27, 40), Pair(50, 60)], 4) == 3\nCode:\n',
    );
    expect(row.response.includes('\r')).toBe(false);
    expect(row.response.startsWith('class Pair(object):\n\tdef __init__(self, a, b):\n')).toBe(true);
    // 16 lines; for×4 (one in a comprehension) + if×2 = 6 loops/branches; deepest level 4 (the assignment under
    // an if under two fors)
    expect(codeShape(row.response)).toEqual({ lines: 16, loopsAndBranches: 6, maxDepth: 4 });
    expect([row.difficulty_measure, row.difficulty]).toEqual([16 + 2 * 6 + 3 * 3, 'hard']);
    expect(normalizeCode('a = 1 \r\n\r\nb = 2\r\n\r\n')).toBe('a = 1\n\nb = 2');
  });

  it('difficulty buckets follow the documented thresholds', () => {
    expect([1, 2, 3, 4, 5, 9].map(mathDifficulty)).toEqual(['easy', 'easy', 'medium', 'medium', 'hard', 'hard']);
    expect([2, 5, 6, 15, 16].map(codeDifficulty)).toEqual(['easy', 'easy', 'medium', 'medium', 'hard']);
    expect(gsm8kSteps('a\n\nb\nc\n#### 4')).toBe(3);
    expect(codeScore(codeShape('def f(x):\n    return [y for y in x if y]  # for\n'))).toBe(2 + 2 * 2);
  });

  it('MBPP splits follow the Hugging Face loader', () => {
    expect([1, 10, 11, 510, 511, 600, 601, 974].map(mbppSplit)).toEqual([
      'prompt',
      'prompt',
      'test',
      'test',
      'validation',
      'validation',
      'train',
      'train',
    ]);
  });

  it('subsampling is stable: the same seed picks the same rows, in file order', () => {
    const rows = Array.from({ length: 100 }, (_, i) => ({ id: `r${i}` }));
    const a = subsample(rows, 10, 7);
    expect(subsample(rows, 10, 7)).toEqual(a);
    expect(subsample(rows, 10, 8)).not.toEqual(a);
    expect(a.map((r) => Number(r.id.slice(1)))).toEqual([...a.map((r) => Number(r.id.slice(1)))].sort((x, y) => x - y));
  });
});
