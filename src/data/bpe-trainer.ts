// Builds a byte-level BPE vocabulary from a corpus and writes it as a Hugging Face tokenizer.json (a build step;
// encoding at run time goes through @huggingface/tokenizers, see tokenizer.ts).
//
// Pre-tokenization (the Split regex below, then ByteLevel): words of letters/underscores with an optional leading
// space, every digit on its own (so numbers are spelled digit by digit, which helps arithmetic), runs of other
// symbols, line breaks (with the spaces before them), and indentation apart from the line break before it (so a
// line's indentation belongs to that line). All 256 bytes are in the base vocabulary, so any text encodes.

import { Tokenizer } from '@huggingface/tokenizers';
import { BYTE_TO_CHAR, DEMO_SPECIAL_TOKENS } from './tokenizer';

export const PRE_TOKENIZER_PATTERN =
  "'(?:s|t|re|ve|m|ll|d)| ?[\\p{L}\\p{M}_]+| ?\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}_]+|[^\\S\\n]*\\n+|[^\\S\\n]+(?!\\S)|[^\\S\\n]+";

export interface TrainOptions {
  /** Total vocabulary size including the 3 special tokens and the 256 bytes. */
  vocabSize: number;
  /** Pairs seen fewer times than this are not merged. */
  minFrequency?: number;
}

/** The tokenizer.json object for a byte-level BPE with the given merges (ids: specials, bytes, then merges). */
export function byteLevelBpeJson(merges: ReadonlyArray<readonly [string, string]>): object {
  const specials = [DEMO_SPECIAL_TOKENS.pad, DEMO_SPECIAL_TOKENS.bos, DEMO_SPECIAL_TOKENS.eos];
  const vocab: Record<string, number> = {};
  specials.forEach((t, i) => (vocab[t] = i));
  for (let b = 0; b < 256; b++) vocab[BYTE_TO_CHAR[b]!] = specials.length + b;
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: PRE_TOKENIZER_PATTERN }, behavior: 'Isolated', invert: false },
        byteLevel,
      ],
    },
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_suffix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/**
 * Learns merges greedily: the most frequent adjacent pair (ties broken by the pair's text, so the result is
 * deterministic) until the vocabulary is full or no pair reaches minFrequency.
 */
export function trainByteLevelBpe(texts: Iterable<string>, options: TrainOptions): object {
  const minFrequency = options.minFrequency ?? 2;
  const baseSize = 3 + 256;
  if (options.vocabSize < baseSize)
    throw new Error(`vocabSize ${options.vocabSize} is below the ${baseSize} base tokens`);
  const preTokenizer = new Tokenizer(byteLevelBpeJson([]), {}).pre_tokenizer!;
  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    for (const word of preTokenizer.pre_tokenize(text)) wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
  }
  const words = [...wordCounts.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1));
  const symbols = words.map(([w]) => [...w]);
  const counts = words.map(([, c]) => c);

  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const addPairs = (w: number, sign: 1 | -1): void => {
    const s = symbols[w]!;
    for (let i = 0; i + 1 < s.length; i++) {
      const key = s[i] + ' ' + s[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * counts[w]!);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1);

  const merges: Array<[string, string]> = [];
  while (baseSize + merges.length < options.vocabSize) {
    let best: string | undefined;
    let bestCount = minFrequency - 1;
    for (const [key, c] of pairCount) {
      if (c > bestCount || (c === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === undefined) break;
    const [a, b] = best.split(' ') as [string, string];
    merges.push([a, b]);
    const merged = a + b;
    for (const w of pairWords.get(best) ?? []) {
      const s = symbols[w]!;
      const next: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          next.push(merged);
          i++;
        } else {
          next.push(s[i]!);
        }
      }
      if (next.length === s.length) continue;
      addPairs(w, -1);
      symbols[w] = next;
      addPairs(w, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
  }
  return byteLevelBpeJson(merges);
}
