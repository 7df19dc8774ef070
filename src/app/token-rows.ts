/**
 * The token detail a stored run keeps for the workspace's token views: each position's text, its category and the
 * example's segments, in the positions the engine scored (so per-token scores line up with them one to one).
 */
import type { Example } from '../data/dataset';
import type { TextTokenizer } from '../data/tokenizer';
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
