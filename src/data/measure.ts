// What a query's measurement counts (docs/data.md, "Measuring a span"): by default every response token; a row's own
// `measure` spans, or its final answer, restrict it to some of them. Spans here index input_ids ([start, end) token
// positions, start ≥ promptLen), like an Example's segments.

import type { Span } from './schema';
import { codeSegments, SEGMENT_LABELS } from './segments';
import type { CharSpan } from './tokenizer';

/** A token span [start, end) over input_ids that the measurement counts. */
export interface TokenSpan {
  readonly start: number;
  readonly end: number;
}

/** What `--measure` (and the page's measure control) asks of every query. */
export type MeasureMode = 'response' | 'final-answer' | 'spans';
export const MEASURE_MODES: readonly MeasureMode[] = ['response', 'final-answer', 'spans'];

/** The answer marker of GSM8K-style solutions: the final answer is what follows it on its line. */
export const ANSWER_MARKER = '####';

/**
 * The final answer's character span in a response: after the last answer marker, to the end of its line, without
 * surrounding blanks (math, or any response that has the marker); for code (domain 'code'), the bodies under its
 * def/class signatures. Undefined when the response has neither.
 */
export function finalAnswerCharSpans(domain: string | undefined, response: string): Span[] | undefined {
  const marker = response.lastIndexOf(ANSWER_MARKER);
  if (marker >= 0) {
    const lineEnd = response.indexOf('\n', marker);
    let start = marker + ANSWER_MARKER.length;
    let end = lineEnd < 0 ? response.length : lineEnd;
    while (start < end && /\s/.test(response[start]!)) start++;
    while (end > start && /\s/.test(response[end - 1]!)) end--;
    return end > start ? [{ label: 'final_answer', start, end }] : undefined;
  }
  if (domain === 'code') {
    const bodies = codeSegments(response).filter((s) => s.label === SEGMENT_LABELS.body);
    return bodies.length > 0 ? bodies.map((s) => ({ label: 'body', start: s.start, end: s.end })) : undefined;
  }
  return undefined;
}

/**
 * Character spans over the response → the token positions they touch: a token is measured when any of its characters
 * lies in a span (selecting "72" measures the token " 72"). `firstResponsePosition` is the first response token's
 * position in input_ids; `eosPosition`, when the sequence ends with an end-of-sequence token, is measured too when a
 * span reaches the end of the response (so a span over the whole response measures what the default does).
 * Overlapping spans are merged; the result is sorted.
 */
export function measuredTokenSpans(
  spans: readonly Span[] | readonly { start: number; end: number }[],
  responseOffsets: readonly CharSpan[],
  firstResponsePosition: number,
  responseLength: number,
  eosPosition: number | null,
): TokenSpan[] {
  const measured = new Set<number>();
  for (const span of spans) {
    responseOffsets.forEach(([from, to], i) => {
      // A zero-width token (from = to) touches a span that contains its position.
      const touches = to > from ? from < span.end && to > span.start : from >= span.start && from < span.end;
      if (touches) measured.add(firstResponsePosition + i);
    });
    if (eosPosition !== null && span.end === responseLength) measured.add(eosPosition);
  }
  return positionsToSpans([...measured]);
}

/** Sorted, merged [start, end) runs of a set of positions. */
export function positionsToSpans(positions: readonly number[]): TokenSpan[] {
  const sorted = [...new Set(positions)].sort((a, b) => a - b);
  const spans: { start: number; end: number }[] = [];
  for (const p of sorted) {
    const last = spans[spans.length - 1];
    if (last && last.end === p) last.end = p + 1;
    else spans.push({ start: p, end: p + 1 });
  }
  return spans;
}

/** Number of positions the spans cover. */
export function spanTokenCount(spans: readonly TokenSpan[]): number {
  return spans.reduce((sum, s) => sum + (s.end - s.start), 0);
}
