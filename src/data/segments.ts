// Response segments for the sequence-level analysis (rules in docs/data.md, "Segments").
// Spans are first found in the response text (character spans), then mapped onto tokens with the tokenizer's
// offsets. The spans of one response partition it: every response character, and so every response token, is in
// exactly one span, so segment scores add up to the example's score.

import type { Span } from './schema';
import type { CharSpan } from './tokenizer';

export const SEGMENT_LABELS = {
  /** math: one span per worked-solution step (line) before the final answer */
  reasoning: 'reasoning',
  /** math: the final-answer line ("#### 72", "The answer is 72", "Answer: 72", \boxed{…}) */
  finalAnswer: 'final_answer',
  /** math: everything after the final-answer line (continued checking or exploration) */
  afterAnswer: 'after_answer',
  /** code: top-level lines before the first def/class (imports, constants) */
  preamble: 'preamble',
  /** code: a top-level def/class header (with decorators and continuation lines) */
  signature: 'signature',
  /** code: the indented block under a signature */
  body: 'body',
  /** code: top-level lines after a def/class block (calls, tests, prints) */
  afterCode: 'after_code',
  /** any other domain: the whole response */
  response: 'response',
} as const;

interface Line {
  start: number;
  /** End including the line's newline. */
  end: number;
  text: string;
}

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    lines.push({ start, end, text: text.slice(start, nl < 0 ? text.length : nl).replace(/\r$/, '') });
    start = end;
  }
  return lines;
}

const FINAL_ANSWER_LINE = /^\s*(?:####|the (?:final )?answer is\b|final answer\s*:|answer\s*:)|\\boxed\{/i;

/** Character spans of a math response: reasoning steps, the final answer, what follows it. */
export function mathSegments(response: string): Span[] {
  const spans: Span[] = [];
  let answered = false;
  for (const line of splitLines(response)) {
    const last = spans[spans.length - 1];
    const start = last ? line.start : 0; // the first span also takes any blank lines that open the response
    if (line.text.trim().length === 0) {
      // A blank line belongs to the span before it (or, at the start, to the first span).
      if (last) last.end = line.end;
    } else if (answered) {
      if (last!.label === SEGMENT_LABELS.afterAnswer) last!.end = line.end;
      else spans.push({ label: SEGMENT_LABELS.afterAnswer, start, end: line.end });
    } else if (FINAL_ANSWER_LINE.test(line.text)) {
      spans.push({ label: SEGMENT_LABELS.finalAnswer, start, end: line.end });
      answered = true;
    } else {
      spans.push({ label: SEGMENT_LABELS.reasoning, start, end: line.end });
    }
  }
  if (spans.length === 0) return [{ label: SEGMENT_LABELS.response, start: 0, end: response.length }];
  return spans;
}

const BLOCK_HEADER = /^(?:async\s+def|def|class)\b/;

/** Character spans of a Python response: preamble, then per def/class its signature and body, then after_code. */
export function codeSegments(response: string): Span[] {
  const spans: Span[] = [];
  let seenBlock = false;
  let inSignature = false;
  let afterDecorator = false;
  let openBrackets = 0;
  const add = (label: string, line: Line, newSpan: boolean): void => {
    const last = spans[spans.length - 1];
    if (last && last.label === label && !newSpan) last.end = line.end;
    else spans.push({ label, start: spans.length === 0 ? 0 : line.start, end: line.end });
  };
  for (const line of splitLines(response)) {
    const trimmed = line.text.trim();
    if (trimmed.length === 0 || (trimmed.startsWith('#') && !inSignature)) {
      const last = spans[spans.length - 1];
      if (last) last.end = line.end;
      continue;
    }
    const topLevel = !/^\s/.test(line.text);
    if (inSignature) {
      add(SEGMENT_LABELS.signature, line, false);
    } else if (topLevel && (BLOCK_HEADER.test(trimmed) || trimmed.startsWith('@'))) {
      // A decorator and the header it decorates form one signature span.
      add(SEGMENT_LABELS.signature, line, !afterDecorator);
      seenBlock = true;
      inSignature = true;
      openBrackets = 0;
    } else if (!topLevel && seenBlock) {
      add(SEGMENT_LABELS.body, line, false);
    } else {
      add(seenBlock ? SEGMENT_LABELS.afterCode : SEGMENT_LABELS.preamble, line, false);
    }
    afterDecorator = false;
    if (inSignature) {
      openBrackets += bracketBalance(trimmed);
      // The header ends on the first line that closes its brackets without a backslash continuation.
      if (openBrackets <= 0 && !trimmed.endsWith('\\')) {
        inSignature = false;
        afterDecorator = trimmed.startsWith('@');
      }
    }
  }
  return spans;
}

function bracketBalance(line: string): number {
  let balance = 0;
  for (const ch of line.replace(/(["'])(?:\\.|(?!\1).)*\1/g, '')) {
    if (ch === '(' || ch === '[' || ch === '{') balance++;
    else if (ch === ')' || ch === ']' || ch === '}') balance--;
  }
  return balance;
}

/** The segment rule for a domain: math and code have their own; any other domain gets one span. */
export function segmentsForDomain(domain: string | undefined, response: string): Span[] {
  if (domain === 'math') return mathSegments(response);
  if (domain === 'code') return codeSegments(response);
  return [{ label: SEGMENT_LABELS.response, start: 0, end: response.length }];
}

/**
 * Maps character spans over the response onto token spans. `responseOffsets` are the character ranges of the
 * response tokens; `firstResponsePosition` is the position of the first response token in input_ids, so the result
 * indexes input_ids directly. A token belongs to the span that contains its first character. Spans that cover no
 * token are dropped.
 */
export function charSpansToTokenSpans(
  spans: readonly Span[],
  responseOffsets: readonly CharSpan[],
  firstResponsePosition: number,
): Span[] {
  const tokenSpans: Span[] = [];
  for (const span of spans) {
    let first = -1;
    let last = -1;
    for (let i = 0; i < responseOffsets.length; i++) {
      const start = responseOffsets[i]![0];
      if (start >= span.start && start < span.end) {
        if (first < 0) first = i;
        last = i;
      }
    }
    if (first >= 0) {
      tokenSpans.push({
        label: span.label,
        start: firstResponsePosition + first,
        end: firstResponsePosition + last + 1,
      });
    }
  }
  return tokenSpans;
}
