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
 * predicted: position t's loss term belongs to token t + 1. Tokens before the response (promptLen) are not measured,
 * so they get null rather than the 0 the engine keeps there.
 */
export function withQueryLoss(
  texts: readonly ExampleText[],
  queries: readonly Example[],
  tokenizer: TextTokenizer | undefined,
  loss: AttributionResult['queryTokenLoss'],
): ExampleText[] {
  return withTokenDetail(texts, queries, tokenizer).map((text, q) => {
    const example = queries[q];
    if (!loss || !example) return text;
    const start = loss.offsets[q]!;
    const length = loss.offsets[q + 1]! - start;
    const tokenLoss = Array.from({ length }, (_, t) =>
      t >= example.promptLen && t >= 1 ? loss.values[start + t - 1]! : null,
    );
    return { ...text, tokenLoss };
  });
}
