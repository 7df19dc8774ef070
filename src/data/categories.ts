// Token categories for the token-level analysis (rules in docs/data.md, "Token categories").
// Every character of a text gets a category from the rules of its mode (natural-language text or Python code);
// a token takes the majority category of its non-whitespace characters.

import type { CharSpan } from './tokenizer';

/** Category names; a category's id is its index here. */
export const TOKEN_CATEGORIES = ['other', 'connector', 'number', 'operator', 'code_syntax', 'identifier'] as const;
export type TokenCategory = (typeof TOKEN_CATEGORIES)[number];
export const CATEGORY_ID: Readonly<Record<TokenCategory, number>> = Object.fromEntries(
  TOKEN_CATEGORIES.map((name, id) => [name, id]),
) as Record<TokenCategory, number>;

/** Natural-language logical connectors (whole words or phrases, any case). */
export const LOGICAL_CONNECTORS = [
  'so',
  'therefore',
  'thus',
  'hence',
  'then',
  'because',
  'since',
  'consequently',
  'if',
  'otherwise',
  'but',
  'however',
  'finally',
  'which means',
  'this means',
  'that means',
  'as a result',
] as const;

const PYTHON_KEYWORDS = [
  'False',
  'None',
  'True',
  'and',
  'as',
  'assert',
  'async',
  'await',
  'break',
  'class',
  'continue',
  'def',
  'del',
  'elif',
  'else',
  'except',
  'finally',
  'for',
  'from',
  'global',
  'if',
  'import',
  'in',
  'is',
  'lambda',
  'nonlocal',
  'not',
  'or',
  'pass',
  'raise',
  'return',
  'try',
  'while',
  'with',
  'yield',
];

export type CategoryMode = 'text' | 'code';

/** The mode for a response of the given domain: Python rules for code, text rules for everything else. */
export function categoryModeForDomain(domain: string | undefined): CategoryMode {
  return domain === 'code' ? 'code' : 'text';
}

const connectorPattern = new RegExp(
  `\\b(?:${[...LOGICAL_CONNECTORS]
    .sort((a, b) => b.length - a.length)
    .map((c) => c.replace(/ /g, '\\s+'))
    .join('|')})\\b`,
  'giu',
);
const NUMBER = /\d+(?:[.,]\d+)*%?/gu;
// Text: + * = × ÷ ^ < > always; - and / only between numbers, spaces or brackets (so "two-thirds" and "km/h"
// stay words); "x" between two numbers is multiplication ("0.2 x 50").
const TEXT_OPERATOR = /[+*=×÷^<>]|(?<=[\d\s)])[-/](?=[\s\d(])|(?<=\d\s?)x(?=\s?\d)/gu;

/** Per UTF-16 code unit of `text`, its category id. */
export function charCategories(text: string, mode: CategoryMode): Uint8Array {
  const cats = new Uint8Array(text.length);
  const mark = (pattern: RegExp, category: TokenCategory): void => {
    const id = CATEGORY_ID[category];
    for (const m of text.matchAll(pattern)) cats.fill(id, m.index, m.index + m[0].length);
  };
  if (mode === 'text') {
    mark(connectorPattern, 'connector');
    mark(NUMBER, 'number');
    mark(TEXT_OPERATOR, 'operator');
    return cats;
  }
  mark(/^[ \t]+(?=\S)/gmu, 'code_syntax'); // indentation
  mark(/\*\*=?|\/\/=?|[-+*/%]=?|[=!<>]=|[<>=]|[&|^~]/gu, 'operator');
  mark(/[()[\]{}:,.;@]|->/gu, 'code_syntax');
  mark(/\b[A-Za-z_][A-Za-z0-9_]*\b/gu, 'identifier');
  mark(new RegExp(`\\b(?:${PYTHON_KEYWORDS.join('|')})\\b`, 'gu'), 'code_syntax');
  mark(/\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?j?\b/gu, 'number');
  // String literals and comments are text inside code: other.
  mark(/(["'])(?:\\.|(?!\1).)*\1|#.*$/gmu, 'other');
  return cats;
}

/**
 * The category of each token from its character range: the majority over its non-whitespace characters (over all
 * of them when it is only whitespace, so indentation counts as code syntax); ties go to the more specific
 * category (connector, number, operator, code syntax, identifier, then other).
 */
export function tokenCategories(text: string, cats: Uint8Array, offsets: readonly CharSpan[]): Uint8Array {
  const out = new Uint8Array(offsets.length);
  const counts = new Array<number>(TOKEN_CATEGORIES.length);
  for (let t = 0; t < offsets.length; t++) {
    const [start, end] = offsets[t]!;
    counts.fill(0);
    let nonSpace = 0;
    for (let i = start; i < end; i++) {
      if (!/\s/.test(text[i]!)) {
        counts[cats[i]!]!++;
        nonSpace++;
      }
    }
    if (nonSpace === 0) for (let i = start; i < end; i++) counts[cats[i]!]!++;
    let best = CATEGORY_ID.other;
    for (let c = 1; c < counts.length; c++) {
      const tiesOther = best === CATEGORY_ID.other && counts[c]! > 0 && counts[c] === counts[best];
      if (counts[c]! > counts[best]! || tiesOther) best = c;
    }
    out[t] = best;
  }
  return out;
}
