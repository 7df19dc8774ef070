// Run-time tokenizer: any Hugging Face tokenizer.json (ours or a user's) goes through @huggingface/tokenizers.
// This wrapper adds what the workbench needs on top: the special-token ids, exact decoding, and per-token
// character offsets (the library returns none), which map character spans (segments, categories) onto tokens.

import { Tokenizer } from '@huggingface/tokenizers';
import { checkTokenizerJson } from './tokenizer-check';

/** Special tokens of the demo tokenizer (also recognised by name in user tokenizers). */
export const DEMO_SPECIAL_TOKENS = { pad: '<|pad|>', bos: '<|bos|>', eos: '<|eos|>' } as const;

const BOS_NAMES = [DEMO_SPECIAL_TOKENS.bos, '<s>', '<bos>', '<|begin_of_text|>', '<|startoftext|>'];
const EOS_NAMES = [DEMO_SPECIAL_TOKENS.eos, '</s>', '<eos>', '<|end_of_text|>', '<|endoftext|>', '<|im_end|>'];
const PAD_NAMES = [DEMO_SPECIAL_TOKENS.pad, '<pad>', '[PAD]', '<|padding|>'];

/** The GPT-2 byte-to-character map that ByteLevel pre-tokenizers and decoders use (a published convention). */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Array<string>(256);
  for (const b of printable) table[b] = String.fromCharCode(b);
  let next = 256;
  for (let b = 0; b < 256; b++) if (table[b] === undefined) table[b] = String.fromCharCode(next++);
  return table;
})();
const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

export type CharSpan = readonly [start: number, end: number];

export interface EncodedText {
  ids: number[];
  /** Per token, the [start, end) character range of the input it came from (UTF-16 indices). */
  offsets: CharSpan[];
}

interface TokenizerJsonShape {
  model?: { type?: string; vocab?: Record<string, number> | Array<[string, number]> };
  added_tokens?: Array<{ id: number; content: string; special?: boolean }>;
  normalizer?: unknown;
  decoder?: { type?: string; decoders?: Array<{ type?: string }> } | null;
}

export class TextTokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  /** Offsets are exact for byte-level tokenizers without a normalizer, aligned by search otherwise. */
  readonly exactOffsets: boolean;
  /**
   * For byte-level tokenizers without a normalizer (every input byte is spelled by exactly one token): the most
   * bytes one token spells, so a text of B bytes has at least ⌈B / maxTokenBytes⌉ tokens. Undefined otherwise.
   */
  readonly maxTokenBytes: number | undefined;
  private readonly library: Tokenizer;
  /**
   * The same tokenizer without its special added tokens: data text is encoded with it, so a row whose text holds
   * `<|eos|>` (or a chat role `user<|eos|>`) gets the text's ordinary tokens, never the special token. Only a chat
   * template inserts special tokens (data/chat-template.ts).
   */
  private readonly plain: Tokenizer;
  private readonly specialByText = new Map<string, number>();
  private readonly addedTokenText = new Map<number, string>();
  private readonly specialIds = new Set<number>();

  private constructor(json: TokenizerJsonShape, config: Record<string, unknown>) {
    // The library trusts its input; its structure is checked first (depth, ids, merges, types, regexes).
    checkTokenizerJson(json);
    this.library = new Tokenizer(json, { clean_up_tokenization_spaces: false, ...config });
    const ordinary = (json.added_tokens ?? []).filter((t) => !t.special);
    this.plain = new Tokenizer({ ...json, added_tokens: ordinary }, { clean_up_tokenization_spaces: false, ...config });
    for (const t of json.added_tokens ?? []) {
      this.addedTokenText.set(t.id, t.content);
      if (t.special) this.specialIds.add(t.id);
      if (t.special) this.specialByText.set(t.content, t.id);
    }
    const vocab = this.library.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    const find = (configKey: string, names: readonly string[]): number | undefined => {
      const configured = tokenText(config[configKey]);
      if (configured !== undefined) return this.library.token_to_id(configured);
      for (const name of names) {
        const id = this.library.token_to_id(name);
        if (id !== undefined) return id;
      }
      return undefined;
    };
    this.bosId = find('bos_token', BOS_NAMES);
    this.eosId = find('eos_token', EOS_NAMES);
    this.padId = find('pad_token', PAD_NAMES) ?? this.eosId ?? 0;
    const decoders =
      json.decoder?.type === 'Sequence' ? (json.decoder.decoders ?? []) : json.decoder ? [json.decoder] : [];
    this.exactOffsets = !json.normalizer && decoders.some((d) => d.type === 'ByteLevel');
    let longest = 0;
    if (this.exactOffsets) {
      // A byte-level vocabulary spells one byte per character; an added token spells its content's UTF-8 bytes.
      const encoder = new TextEncoder();
      for (const [token, id] of vocab) {
        const added = this.addedTokenText.get(id);
        longest = Math.max(longest, added === undefined ? token.length : encoder.encode(added).length);
      }
    }
    this.maxTokenBytes = longest > 0 ? longest : undefined;
  }

  /** Loads a tokenizer.json object (and optionally its tokenizer_config.json) through the library. */
  static fromJson(json: unknown, config: Record<string, unknown> = {}): TextTokenizer {
    return new TextTokenizer(json as TokenizerJsonShape, config);
  }

  /** Token ids of data `text`: no special token is added, and none is read from the text (see `plain`). */
  encode(text: string): number[] {
    return this.plain.encode(text, { add_special_tokens: false }).ids;
  }

  /** Token ids of data text with the character range of each token (special tokens neither added nor read). */
  encodeWithOffsets(text: string): EncodedText {
    const { ids, tokens } = this.plain.encode(text, { add_special_tokens: false });
    const offsets = this.exactOffsets ? byteLevelOffsets(text, ids, tokens, this.addedTokenText) : undefined;
    return { ids, offsets: offsets ?? this.searchedOffsets(text, ids) };
  }

  /** The exact text of `ids` (special tokens kept, no clean-up of spaces). */
  decode(ids: readonly number[]): string {
    return this.library.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  /** The special added tokens by their text (`<|eos|>` → 2), for a chat template's own markers. */
  get specialTokens(): ReadonlyMap<string, number> {
    return this.specialByText;
  }

  /** Whether `id` is a special added token (pad, bos, eos, …), which stands for no text of the input. */
  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  tokenText(id: number): string | undefined {
    return this.library.id_to_token(id);
  }

  // For tokenizers whose tokens do not spell the input's bytes (WordPiece, Metaspace, normalizers): find each
  // token's decoded text in the input, moving forward. A token that cannot be found gets an empty range.
  private searchedOffsets(text: string, ids: readonly number[]): CharSpan[] {
    const offsets: CharSpan[] = [];
    let cursor = 0;
    for (const id of ids) {
      const piece = this.decode([id]).trim().replace(/^##/, '');
      const at = piece.length === 0 ? -1 : text.indexOf(piece, cursor);
      if (at >= 0 && at - cursor <= 16) {
        offsets.push([at, at + piece.length]);
        cursor = at + piece.length;
      } else {
        offsets.push([cursor, cursor]);
      }
    }
    return offsets;
  }
}

function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return undefined;
}

// Byte-level tokens spell the UTF-8 bytes of the input one character per byte, so byte offsets are exact;
// they are converted to UTF-16 indices (a token that ends inside a multi-byte character ends at that character).
// Returns undefined if the tokens do not spell the input (e.g. a prefix space was added).
function byteLevelOffsets(
  text: string,
  ids: readonly number[],
  tokens: readonly string[],
  addedTokenText: ReadonlyMap<number, string>,
): CharSpan[] | undefined {
  const byteToChar = utf8ByteToCharIndex(text);
  const totalBytes = byteToChar.length - 1;
  const offsets: CharSpan[] = [];
  let bytePos = 0;
  for (let i = 0; i < ids.length; i++) {
    const added = addedTokenText.get(ids[i]!);
    let length: number;
    if (added !== undefined) {
      length = new TextEncoder().encode(added).length;
    } else {
      length = 0;
      for (const ch of tokens[i]!) {
        if (!CHAR_TO_BYTE.has(ch)) return undefined;
        length++;
      }
    }
    const end = bytePos + length;
    if (end > totalBytes) return undefined;
    offsets.push([byteToChar[bytePos]!, byteToChar[end]!]);
    bytePos = end;
  }
  return bytePos === totalBytes ? offsets : undefined;
}

/** For each UTF-8 byte offset 0..n, the UTF-16 index of the character that starts at or contains it. */
function utf8ByteToCharIndex(text: string): Int32Array {
  let total = 0;
  for (const ch of text) total += utf8Length(ch.codePointAt(0)!);
  const map = new Int32Array(total + 1);
  let bytePos = 0;
  let charPos = 0;
  for (const ch of text) {
    const n = utf8Length(ch.codePointAt(0)!);
    for (let k = 0; k < n; k++) map[bytePos + k] = charPos;
    bytePos += n;
    charPos += ch.length;
  }
  map[total] = text.length;
  return map;
}

function utf8Length(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
}
