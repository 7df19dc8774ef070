import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toExample } from '../../src/data/dataset';
import type { Span, TextRow } from '../../src/data/schema';
import { charSpansToTokenSpans, codeSegments, mathSegments, SEGMENT_LABELS } from '../../src/data/segments';
import { TextTokenizer } from '../../src/data/tokenizer';

const publicDir = new URL('../../public/', import.meta.url);
const tokenizer = TextTokenizer.fromJson(
  JSON.parse(readFileSync(new URL('tokenizer/tokenizer.json', publicDir), 'utf8')),
);
const demoRows = new Map<string, TextRow>();
for (const file of ['train', 'queries']) {
  for (const line of readFileSync(new URL(`data/${file}.jsonl`, publicDir), 'utf8')
    .trim()
    .split('\n')) {
    const r = JSON.parse(line) as { id: string; domain: string; prompt: string; response: string };
    demoRows.set(r.id, { ...r, kind: 'text', line: 0, extra: {} });
  }
}
const row = (id: string): TextRow => {
  const r = demoRows.get(id);
  if (!r) throw new Error(`demo row ${id} missing`);
  return r;
};
const texts = (text: string, spans: Span[]): Array<[string, string]> =>
  spans.map((s) => [s.label, text.slice(s.start, s.end)]);

describe('math segments on GSM8K', () => {
  it('gsm8k-train-00014: three reasoning steps, then the final answer', () => {
    const { response } = row('gsm8k-train-00014');
    expect(texts(response, mathSegments(response))).toEqual([
      ['reasoning', 'In one hour, there are 3 sets of 20 minutes.\n'],
      ['reasoning', 'So, Joy can read 8 x 3 = 24 pages in an hour.\n'],
      ['reasoning', 'It will take her 120/24 = 5 hours to read 120 pages.\n'],
      ['final_answer', '#### 5'],
    ]);
  });

  it('maps the spans to tokens, with eos in the final-answer span', () => {
    const ex = toExample(row('gsm8k-train-00014'), tokenizer);
    const decoded = ex.segments.map((s) => [s.label, tokenizer.decode([...ex.inputIds.slice(s.start, s.end)])]);
    expect(decoded).toEqual([
      ['reasoning', 'In one hour, there are 3 sets of 20 minutes.\n'],
      ['reasoning', 'So, Joy can read 8 x 3 = 24 pages in an hour.\n'],
      ['reasoning', 'It will take her 120/24 = 5 hours to read 120 pages.\n'],
      ['final_answer', '#### 5<|eos|>'],
    ]);
    expect(ex.segments[0]!.start).toBe(ex.promptLen);
    expect(ex.segments[3]!.end).toBe(ex.inputIds.length);
  });

  it('labels what follows the final answer, in the forms models write it', () => {
    const r = 'Half of 10 is 5.\n\nThe answer is 5.\nLet me check: 5 + 5 = 10, so yes.\nDone.';
    expect(texts(r, mathSegments(r))).toEqual([
      ['reasoning', 'Half of 10 is 5.\n\n'],
      ['final_answer', 'The answer is 5.\n'],
      ['after_answer', 'Let me check: 5 + 5 = 10, so yes.\nDone.'],
    ]);
    expect(mathSegments('x = 2\nFinal answer: $\\boxed{2}$').map((s) => s.label)).toEqual([
      'reasoning',
      'final_answer',
    ]);
    expect(mathSegments('no marker here\nat all').map((s) => s.label)).toEqual(['reasoning', 'reasoning']);
    // Blank lines after the answer stay with it: whitespace alone is not continued exploration.
    expect(texts('\n1 + 1 = 2\n#### 2\n\n', mathSegments('\n1 + 1 = 2\n#### 2\n\n'))).toEqual([
      ['reasoning', '\n1 + 1 = 2\n'],
      ['final_answer', '#### 2\n\n'],
    ]);
    expect(mathSegments('  \n')).toEqual([{ label: 'response', start: 0, end: 3 }]);
  });
});

describe('code segments on MBPP', () => {
  it('mbpp-1: constants before the function are the preamble', () => {
    const { response } = row('mbpp-1');
    const spans = texts(response, codeSegments(response));
    expect(spans.map(([l]) => l)).toEqual(['preamble', 'signature', 'body']);
    expect(spans[0]![1]).toBe('R = 3\nC = 3\n');
    expect(spans[1]![1]).toBe('def min_cost(cost, m, n):\n');
    expect(spans[2]![1].startsWith('\ttc = [[0 for x in range(C)]')).toBe(true);
    expect(spans[2]![1].endsWith('\treturn tc[m][n]')).toBe(true);
  });

  it('mbpp-3: an import is the preamble', () => {
    const { response } = row('mbpp-3');
    expect(texts(response, codeSegments(response)).slice(0, 2)).toEqual([
      ['preamble', 'import math\n'],
      ['signature', 'def is_not_prime(n):\n'],
    ]);
  });

  it('mbpp-601: a class and a function, each with its own signature and body', () => {
    const { response } = row('mbpp-601');
    expect(texts(response, codeSegments(response)).slice(0, 3)).toEqual([
      ['signature', 'class Pair(object):\n'],
      ['body', '\tdef __init__(self, a, b):\n\t\tself.a = a\n\t\tself.b = b\n'],
      ['signature', 'def max_chain_length(arr, n):\n'],
    ]);
  });

  it('mbpp-702: a signature over two lines stays one span', () => {
    const { response } = row('mbpp-702');
    const spans = texts(response, codeSegments(response));
    expect(spans[0]).toEqual(['signature', 'def find_ind(key, i, n,\n\t\t\tk, arr):\n']);
    expect(spans.map(([l]) => l)).toEqual(['signature', 'body', 'signature', 'body']);
    expect(spans[2]![1]).toBe('def removals(arr, n, k):\n');
  });

  it('mbpp-966: a comment after the header colon ends the signature', () => {
    const { response } = row('mbpp-966');
    expect(codeSegments(response).map((s) => s.label)).toEqual(['signature', 'body']);
  });

  it('decorators, one-line functions and top-level code after the functions', () => {
    const code = '@cache\ndef f(n): return n\n\nprint(f(3))\nassert f(1) == 1';
    expect(texts(code, codeSegments(code))).toEqual([
      ['signature', '@cache\ndef f(n): return n\n\n'],
      ['after_code', 'print(f(3))\nassert f(1) == 1'],
    ]);
  });
});

describe('character spans to token spans', () => {
  it('gives each token to the span holding its first character and drops empty spans', () => {
    const offsets: Array<[number, number]> = [
      [0, 2],
      [2, 5],
      [5, 6],
      [6, 9],
    ];
    const spans: Span[] = [
      { label: 'a', start: 0, end: 3 },
      { label: 'b', start: 3, end: 5 },
      { label: 'c', start: 5, end: 9 },
    ];
    expect(charSpansToTokenSpans(spans, offsets, 10)).toEqual([
      { label: 'a', start: 10, end: 12 },
      { label: 'c', start: 12, end: 14 },
    ]);
  });

  it('uses segments given with a row instead of the domain rule', () => {
    const base = row('gsm8k-train-00014');
    const given: TextRow = { ...base, segments: [{ label: 'first_sentence', start: 0, end: 44 }] };
    const ex = toExample(given, tokenizer);
    expect(ex.segments).toHaveLength(1);
    expect(ex.segments[0]!.label).toBe('first_sentence');
    expect(tokenizer.decode([...ex.inputIds.slice(ex.segments[0]!.start, ex.segments[0]!.end)])).toBe(
      'In one hour, there are 3 sets of 20 minutes.',
    );
  });

  it('any other domain gets one span over the whole response', () => {
    const ex = toExample(
      { kind: 'text', id: 'x', line: 1, extra: {}, prompt: 'Hi\n', response: 'Hello there.' },
      tokenizer,
    );
    expect(ex.segments).toEqual([{ label: SEGMENT_LABELS.response, start: ex.promptLen, end: ex.inputIds.length }]);
  });
});
