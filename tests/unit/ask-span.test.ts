/**
 * The page's "Attribute this span" row (worker/ask-span.ts): a query's own tokens as a pre-tokenized row whose
 * `measure` spans, read back as any query file's row is, measure exactly the selected positions; spans outside the
 * response are refused naming the query.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toExample } from '../../src/data/dataset';
import { validateRow } from '../../src/data/schema';
import { TextTokenizer } from '../../src/data/tokenizer';
import { measuredSpans } from '../../src/app/measure';
import { spanQueryRow } from '../../src/app/ask-span';

const tokenizer = TextTokenizer.fromJson(
  JSON.parse(readFileSync(new URL('../../public/tokenizer/tokenizer.json', import.meta.url), 'utf8')),
);
const ctx = { file: 'asked.jsonl', line: 1 };
const query = toExample(
  validateRow(
    { prompt: 'How many apples?', response: 'She has 3 + 4 = 7 apples.\n#### 7', domain: 'math', benchmark: 'gsm8k' },
    ctx,
    'q1',
  ),
  tokenizer,
);

describe('a selected span as a query row', () => {
  it('measures exactly the selected token positions, the tokens unchanged', () => {
    const spans = [{ start: query.promptLen + 2, end: query.promptLen + 5 }];
    const row = spanQueryRow([query], 'q1', spans);
    expect(row.id).toBe(`q1 [${spans[0]!.start}, ${spans[0]!.end})`);
    const asked = toExample(validateRow(JSON.parse(JSON.stringify(row)), ctx, 'x'), tokenizer);
    expect(Array.from(asked.inputIds)).toEqual(Array.from(query.inputIds));
    expect(asked.promptLen).toBe(query.promptLen);
    expect(measuredSpans(asked)).toEqual(spans);
    expect(asked.domain).toBe('math');
    expect(asked.extra.benchmark).toBe('gsm8k');
  });

  it('refuses a span reaching into the prompt, or an unknown query, naming it', () => {
    expect(() => spanQueryRow([query], 'q1', [{ start: query.promptLen - 1, end: query.promptLen + 1 }])).toThrow(
      /query "q1": the selected tokens \[\d+, \d+\) lie outside its response tokens/,
    );
    expect(() => spanQueryRow([query], 'q9', [{ start: 5, end: 6 }])).toThrow(/query "q9" is not among/);
    expect(() => spanQueryRow([query], 'q1', [])).toThrow(/select at least one response token/);
  });
});
