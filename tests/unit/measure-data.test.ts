/**
 * What a query's measurement counts, from its row: JSONL `measure` spans (characters of a text row's response, tokens
 * of a pre-tokenized row's), the final answer after "####" (code: the bodies), and the run's measure mode — each
 * mapped onto token positions, and every refusal naming the row.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toExample } from '../../src/data/dataset';
import { finalAnswerCharSpans, positionsToSpans } from '../../src/data/measure';
import { validateRow, type TextRow } from '../../src/data/schema';
import { TextTokenizer } from '../../src/data/tokenizer';
import { measuredSpans } from '../../src/app/measure';

const tokenizer = TextTokenizer.fromJson(
  JSON.parse(readFileSync(new URL('../../public/tokenizer/tokenizer.json', import.meta.url), 'utf8')),
);
const ctx = { file: 'queries.jsonl', line: 7 };

/** The text of the tokens at positions [start, end). */
function text(ids: Int32Array, spans: readonly { start: number; end: number }[]): string {
  return spans.map((s) => tokenizer.decode(Array.from(ids.slice(s.start, s.end)))).join('|');
}

describe('measure spans in JSONL rows', () => {
  it('maps character spans of a text row onto the tokens they touch', () => {
    const response = 'She has 3 + 4 = 7 apples.\n#### 7';
    const at = response.indexOf('7 apples');
    const row = validateRow({ prompt: 'How many?', response, measure: [{ start: at, end: at + 1 }] }, ctx, 'q1');
    const example = toExample(row, tokenizer);
    expect(example.measure!.length).toBe(1);
    expect(text(example.inputIds, example.measure!).trim()).toBe('7');
    expect(example.measure![0].start).toBeGreaterThanOrEqual(example.promptLen);
  });

  it('a span over the whole response measures every response token, end-of-sequence included', () => {
    const response = 'The answer is 12.';
    const row = validateRow({ prompt: 'Q', response, measure: [{ start: 0, end: response.length }] }, ctx, 'q');
    const example = toExample(row, tokenizer);
    expect(example.measure).toEqual([{ start: example.promptLen, end: example.inputIds.length }]);
  });

  it('token rows take token spans over the response', () => {
    const row = validateRow(
      { input_ids: [1, 5, 6, 7, 8, 9], prompt_len: 2, measure: [{ start: 1, end: 3 }] },
      ctx,
      'q',
    );
    expect(toExample(row, undefined).measure).toEqual([{ start: 3, end: 5 }]);
  });

  it('refuses spans outside the response, naming file, line and field', () => {
    const bad = (measure: unknown) => () => validateRow({ prompt: 'Q', response: 'abc', measure }, ctx, 'q');
    expect(bad([{ start: 1, end: 9 }])).toThrow(
      'queries.jsonl:7: field "measure[0].end" must be an integer in [0, 3] (response characters; a measured span lies inside the response), got number 9',
    );
    expect(bad([{ start: 2, end: 2 }])).toThrow('queries.jsonl:7: field "measure[0]" is empty or reversed');
    expect(bad([])).toThrow('queries.jsonl:7: field "measure" must be a non-empty array');
    expect(() =>
      validateRow({ input_ids: [1, 2, 3], prompt_len: 1, measure: [{ start: 0, end: 3 }] }, ctx, 'q'),
    ).toThrow('queries.jsonl:7: field "measure[0].end" must be an integer in [0, 2] (response tokens');
  });
});

describe('final answer', () => {
  it('is what follows "####" on its line, without blanks', () => {
    const response = 'Step one.\n####  1,200 \nChecked.';
    const [span] = finalAnswerCharSpans('math', response)!;
    expect(response.slice(span.start, span.end)).toBe('1,200');
    expect(finalAnswerCharSpans('math', 'no marker here')).toBeUndefined();
  });

  it('is the bodies of the functions for code', () => {
    const response = 'import math\ndef f(x):\n    return x + 1\n';
    const spans = finalAnswerCharSpans('code', response)!;
    expect(spans.map((s) => response.slice(s.start, s.end))).toEqual(['    return x + 1\n']);
  });

  it('maps onto the answer tokens, without the end-of-sequence token', () => {
    const row = validateRow({ prompt: 'Q', response: 'So 5.\n#### 5', domain: 'math' }, ctx, 'q') as TextRow;
    const example = toExample(row, tokenizer);
    expect(text(example.inputIds, example.finalAnswer!).trim()).toBe('5');
    expect(example.finalAnswer!.at(-1)!.end).toBeLessThan(example.inputIds.length);
  });
});

describe('the run’s measure mode (app/measure.ts)', () => {
  const example = (row: object) => toExample(validateRow(row, ctx, 'q9'), tokenizer);
  it('response: no mask; final-answer: the answer; spans: the row’s own, which win in any mode', () => {
    const plain = example({ prompt: 'Q', response: 'So 5.\n#### 5' });
    expect(measuredSpans(plain, 'response')).toBeUndefined();
    expect(measuredSpans(plain, 'final-answer')).toEqual(plain.finalAnswer);
    const own = example({ prompt: 'Q', response: 'So 5.\n#### 5', measure: [{ start: 0, end: 2 }] });
    expect(measuredSpans(own, 'response')).toEqual(own.measure);
    expect(measuredSpans(own, 'final-answer')).toEqual(own.measure);
  });

  it('refuses, naming the query row, what it cannot measure', () => {
    const plain = example({ prompt: 'Q', response: 'no answer marker' });
    expect(() => measuredSpans(plain, 'spans')).toThrow('query "q9" has no "measure" spans');
    expect(() => measuredSpans(plain, 'final-answer')).toThrow('query "q9" has no final answer to measure');
    const cut = { ...plain, measure: [{ start: plain.inputIds.length, end: plain.inputIds.length + 2 }] };
    expect(() => measuredSpans(cut, 'response')).toThrow(/query "q9": measured tokens \[\d+, \d+\) lie outside/);
  });

  it('positionsToSpans merges runs', () => {
    expect(positionsToSpans([5, 3, 4, 9, 9])).toEqual([
      { start: 3, end: 6 },
      { start: 9, end: 10 },
    ]);
  });
});
