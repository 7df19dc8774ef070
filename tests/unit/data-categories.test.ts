import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CATEGORY_ID,
  charCategories,
  TOKEN_CATEGORIES,
  tokenCategories,
  type TokenCategory,
} from '../../src/data/categories';
import { toExample } from '../../src/data/dataset';
import type { TextRow, TokenRow } from '../../src/data/schema';
import { TextTokenizer } from '../../src/data/tokenizer';

const publicDir = new URL('../../public/', import.meta.url);
const tokenizer = TextTokenizer.fromJson(
  JSON.parse(readFileSync(new URL('tokenizer/tokenizer.json', publicDir), 'utf8')),
);
const train = new Map<string, TextRow>(
  readFileSync(new URL('data/train.jsonl', publicDir), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TextRow & { id: string })
    .map((r) => [r.id, { ...r, kind: 'text', line: 0, extra: {} }]),
);

/** The response tokens of a demo example as [text, category] pairs. */
function responseTokens(id: string): Array<[string, TokenCategory]> {
  const ex = toExample(train.get(id)!, tokenizer);
  const out: Array<[string, TokenCategory]> = [];
  for (let i = ex.promptLen; i < ex.inputIds.length; i++) {
    out.push([tokenizer.decode([ex.inputIds[i]!]), TOKEN_CATEGORIES[ex.tokenCategories[i]!]!]);
  }
  return out;
}
const categoryOf = (tokens: Array<[string, TokenCategory]>, text: string): TokenCategory[] =>
  tokens.filter(([t]) => t === text).map(([, c]) => c);

/** Per character of `text`, the category names, joined for readable comparisons. */
function charLabels(text: string, mode: 'text' | 'code'): string {
  const short: Record<TokenCategory, string> = {
    other: '.',
    connector: 'C',
    number: 'N',
    operator: 'O',
    code_syntax: 'S',
    identifier: 'I',
  };
  return [...charCategories(text, mode)].map((c) => short[TOKEN_CATEGORIES[c]!]).join('');
}

describe('token categories on GSM8K (text rules)', () => {
  const tokens = responseTokens('gsm8k-train-00014');

  it('gsm8k-train-00014: connector, numbers and operators', () => {
    // "So, Joy can read 8 x 3 = 24 pages in an hour." — "x" between numbers is multiplication.
    expect(categoryOf(tokens, 'So')).toEqual(['connector']);
    expect(categoryOf(tokens, ' x')).toEqual(['operator']);
    expect(categoryOf(tokens, ' =')).toEqual(['operator', 'operator']);
    expect(categoryOf(tokens, '/')).toEqual(['operator']);
    expect(categoryOf(tokens, ' 3')).toEqual(['number', 'number']);
    expect(categoryOf(tokens, ' pages')).toEqual(['other', 'other']);
    expect(categoryOf(tokens, '####')).toEqual(['other']);
    expect(tokens[tokens.length - 1]).toEqual(['<|eos|>', 'other']);
  });

  it('gsm8k-train-00015: "Then" is a connector, "$" and thousands separators are handled', () => {
    const t = responseTokens('gsm8k-train-00015');
    expect(categoryOf(t, 'Then')).toEqual(['connector']);
    expect(categoryOf(t, 'So').every((c) => c === 'connector')).toBe(true);
    expect(categoryOf(t, '$').every((c) => c === 'other')).toBe(true);
    expect(categoryOf(t, '-')).toEqual(['operator', 'operator']); // 15-6 and 450,000-2000
  });

  it('character rules: hyphens and slashes inside words are not operators; phrases are connectors', () => {
    expect(charLabels('two-thirds km/h 3-1 so', 'text')).toBe('................NON.CC');
    expect(charLabels('which means 1,000.5%', 'text')).toBe('CCCCCCCCCCC.NNNNNNNN');
    expect(charLabels('Sofia also', 'text')).toBe('..........');
  });
});

describe('token categories on MBPP (code rules)', () => {
  it('mbpp-2: keywords and brackets are syntax, names are identifiers, & is an operator', () => {
    const t = responseTokens('mbpp-2');
    expect(categoryOf(t, 'def')).toEqual(['code_syntax']);
    expect(categoryOf(t, ' return')).toEqual(['code_syntax']);
    expect(categoryOf(t, '(')).toEqual(['code_syntax', 'code_syntax', 'code_syntax', 'code_syntax']);
    expect(categoryOf(t, '):')).toEqual(['code_syntax']);
    expect(categoryOf(t, ' res')).toEqual(['identifier']);
    expect(categoryOf(t, ' set')).toEqual(['identifier']);
    expect(categoryOf(t, '&')).toEqual(['operator']);
    // Indentation ("  res", "  return") is syntax; the line break is not.
    expect(categoryOf(t, ' ')).toContain('code_syntax');
    expect(categoryOf(t, '\n').every((c) => c === 'other')).toBe(true);
  });

  it('mbpp-1: numbers, comparison and arithmetic in code', () => {
    const t = responseTokens('mbpp-1');
    expect(categoryOf(t, '0').every((c) => c === 'number')).toBe(true);
    expect(categoryOf(t, ' +').every((c) => c === 'operator')).toBe(true);
    expect(categoryOf(t, '\t').every((c) => c === 'code_syntax')).toBe(true);
    expect(categoryOf(t, ' for').every((c) => c === 'code_syntax')).toBe(true);
  });

  it('character rules: strings and comments are other, digits inside names are identifier', () => {
    expect(charLabels('x1 = "a+b" # so 2\n', 'code')).toBe('II.O..............');
    expect(charLabels('  return a**2 >= 4', 'code')).toBe('SSSSSSSS.IOON.OO.N');
  });
});

describe('token category of a token', () => {
  it('takes the majority of non-space characters, prefers a specific category on ties, and whitespace-only by all', () => {
    const text = 'ab 12';
    const cats = Uint8Array.from([5, 5, 0, 2, 2]);
    expect([
      ...tokenCategories(text, cats, [
        [0, 2],
        [2, 5],
        [2, 3],
      ]),
    ]).toEqual([5, 2, 0]);
    const tie = Uint8Array.from([0, 3]);
    expect([...tokenCategories('a+', tie, [[0, 2]])]).toEqual([CATEGORY_ID.operator]);
  });
});

describe('pre-tokenized rows', () => {
  it('get the same categories from their decoded tokens as the text path gives', () => {
    for (const id of ['gsm8k-train-00014', 'mbpp-2']) {
      const fromText = toExample(train.get(id)!, tokenizer);
      const row: TokenRow = {
        kind: 'tokens',
        id,
        line: 1,
        extra: {},
        domain: fromText.domain!,
        inputIds: [...fromText.inputIds],
        promptLen: fromText.promptLen,
      };
      const fromTokens = toExample(row, tokenizer);
      expect([...fromTokens.tokenCategories]).toEqual([...fromText.tokenCategories]);
      expect(fromTokens.segments).toEqual([
        { label: 'response', start: fromText.promptLen, end: fromText.inputIds.length },
      ]);
      // Without a tokenizer the ids are used as they are and every token is "other".
      expect([...toExample(row, undefined).tokenCategories].every((c) => c === CATEGORY_ID.other)).toBe(true);
    }
  });
});
