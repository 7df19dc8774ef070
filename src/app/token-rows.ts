/**
 * The token detail a stored run keeps for the workspace's token views: each position's text, its category and the
 * example's segments, in the positions the engine scored (so per-token scores line up with them one to one); for
 * queries also their loss per token.
 */
import type { Example } from '../data/dataset';
import type { TextTokenizer } from '../data/tokenizer';
import type { AttributionResult } from '../influence/types';
import type { ExampleText } from './results';

export function withTokenDetail(
  texts: readonly ExampleText[],
  examples: readonly Example[],
  tokenizer: TextTokenizer | undefined,
): ExampleText[] {
  return texts.map((text, i) => {
    const example = examples[i];
    if (!example) return text;
    const ids = Array.from(example.inputIds);
    return {
      ...text,
      // Without a tokenizer (pre-tokenized rows) the ids are all there is to show.
      tokens: ids.map((id) => (tokenizer ? tokenizer.decode([id]) : `#${id}`)),
      tokenCategories: Array.from(example.tokenCategories),
      segments: example.segments.map(({ label, start, end }) => ({ label, start, end })),
    };
  });
}

/**
 * Queries' texts with their token detail and, when the run recorded it, their loss per token credited to the token
 * predicted: position t's loss term belongs to token t + 1. Tokens before the response (promptLen), and outside a
 * query's measured spans when it has them, are not measured, so they get null rather than the 0 the engine keeps there.
 */
export function withQueryLoss(
  texts: readonly ExampleText[],
  queries: readonly Example[],
  tokenizer: TextTokenizer | undefined,
  loss: AttributionResult['queryTokenLoss'],
  measured: readonly (readonly { start: number; end: number }[] | undefined)[] = [],
): ExampleText[] {
  return withTokenDetail(texts, queries, tokenizer).map((text, q) => {
    const example = queries[q];
    const spans = measured[q];
    // A span measurement keeps the tokens it counted with the query (shown and stored in the bundle).
    const withSpans = spans ? { ...text, measured: spans.map(({ start, end }) => ({ start, end })) } : text;
    if (!loss || !example) return withSpans;
    const start = loss.offsets[q]!;
    const length = loss.offsets[q + 1]! - start;
    const counted = (t: number) =>
      t >= example.promptLen && t >= 1 && (!spans || spans.some((s) => t >= s.start && t < s.end));
    const tokenLoss = Array.from({ length }, (_, t) => (counted(t) ? loss.values[start + t - 1]! : null));
    return { ...withSpans, tokenLoss };
  });
}
