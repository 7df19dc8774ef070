/**
 * Which tokens of each query the measurement counts (docs/data.md, "Measuring a span"): the run's measure mode applied
 * to a query's Example. A row's own `measure` spans win; otherwise 'response' counts every response token (no mask;
 * a templated chat's assistant turns only),
 * 'final-answer' the answer after the marker (code: the bodies), and 'spans' refuses a row without spans. Refusals name
 * the query row.
 */
import type { Example } from '../data/dataset';
import type { MeasureMode, TokenSpan } from '../data/measure';
import { InputError } from './input-error';

/** The measured token spans of a query (positions in input_ids), or undefined for the whole response. */
export function measuredSpans(example: Example, mode: MeasureMode = 'response'): TokenSpan[] | undefined {
  const where = `query "${example.id}"`;
  let spans: TokenSpan[] | undefined;
  if (example.measure) spans = example.measure;
  else if (mode === 'spans')
    throw new InputError(`${where} has no "measure" spans, which --measure spans asks every query for`);
  else if (mode === 'final-answer') {
    if (!example.finalAnswer) {
      throw new InputError(
        `${where} has no final answer to measure: its response has no "####" answer marker` +
          `${example.domain === 'code' ? ' and no def/class body' : ''}; give it "measure" spans or use --measure response`,
      );
    }
    spans = example.finalAnswer;
  } else if (example.assistantTurns) {
    // A templated chat's response: its assistant turns, not the user turns between them.
    spans = example.assistantTurns;
  }
  if (spans === undefined) return undefined;
  const length = example.inputIds.length;
  const inside = spans.filter((s) => s.start >= example.promptLen && s.end <= length && s.start < s.end);
  if (inside.length !== spans.length || inside.length === 0) {
    const bad = spans.find((s) => !inside.includes(s));
    throw new InputError(
      `${where}: measured tokens ${bad ? `[${bad.start}, ${bad.end}) ` : ''}lie outside its response tokens ` +
        `[${example.promptLen}, ${length})${example.extra.truncated_from !== undefined ? ' (it was truncated)' : ''}`,
    );
  }
  return spans.map(({ start, end }) => ({ start, end }));
}

/** The queries as the gradient source takes them, each with its measured spans (none: the whole response). */
export function measuredQueries(
  queries: readonly Example[],
  mode: MeasureMode | undefined,
): { inputIds: Int32Array; promptLen: number; measured?: TokenSpan[] }[] {
  return queries.map((example) => {
    const measured = measuredSpans(example, mode);
    return { inputIds: example.inputIds, promptLen: example.promptLen, ...(measured && { measured }) };
  });
}

/**
 * The training rows as the gradient source takes them: a templated chat's loss on its assistant turns only (the user
 * turns between them carry none), every other row's on its whole response.
 */
export function trainingRows(
  train: readonly Example[],
): readonly (Example | { inputIds: Int32Array; promptLen: number; measured: TokenSpan[] })[] {
  return train.map((example) =>
    example.assistantTurns
      ? { inputIds: example.inputIds, promptLen: example.promptLen, measured: example.assistantTurns }
      : example,
  );
}
