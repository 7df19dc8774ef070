import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PRE_TOKENIZER_PATTERN, trainByteLevelBpe } from '../../src/data/bpe-trainer';
import { DEMO_SPECIAL_TOKENS, TextTokenizer } from '../../src/data/tokenizer';
import { readFixtureText } from '../helpers/fixtures';

const readJson = (url: URL): unknown => JSON.parse(readFileSync(url, 'utf8'));
const publicDir = new URL('../../public/', import.meta.url);
const fixtures = new URL('../fixtures/data/', import.meta.url);

const demo = TextTokenizer.fromJson(readJson(new URL('tokenizer/tokenizer.json', publicDir)));
const pieces = (tok: TextTokenizer, text: string): string[] => tok.encode(text).map((id) => tok.decode([id]));

describe('demo tokenizer (public/tokenizer/tokenizer.json through @huggingface/tokenizers)', () => {
  it('has 2048 ids with pad 0, bos 1, eos 2', () => {
    expect(demo.vocabSize).toBe(2048);
    expect([demo.padId, demo.bosId, demo.eosId]).toEqual([0, 1, 2]);
    expect(demo.tokenText(0)).toBe(DEMO_SPECIAL_TOKENS.pad);
    expect(demo.exactOffsets).toBe(true);
  });

  it('spells numbers digit by digit and keeps words whole', () => {
    expect(pieces(demo, 'She earned 1250 dollars')).toEqual(['She', ' earned', ' 1', '2', '5', '0', ' dollars']);
    expect(pieces(demo, '48/2=24')).toEqual(['4', '8', '/', '2', '=', '2', '4']);
  });

  it('encodes unseen Unicode through byte fallback and decodes it back exactly', () => {
    const text = 'Ωμέγα → 日本語 🙂🧮 naïve café\u0000\t\r\n  end';
    const ids = demo.encode(text);
    expect(ids.every((id) => id > 2 && id < demo.vocabSize)).toBe(true);
    expect(demo.decode(ids)).toBe(text);
  });

  it('gives exact character offsets, also around multi-byte characters', () => {
    const text = 'x = 3 × 4 🙂 so';
    const { ids, offsets } = demo.encodeWithOffsets(text);
    expect(offsets).toHaveLength(ids.length);
    // Offsets tile the text in order: each starts where the previous ended.
    let at = 0;
    for (const [start, end] of offsets) {
      expect(start).toBe(at);
      at = end;
    }
    expect(at).toBe(text.length);
    const emoji = text.indexOf('🙂');
    const covering = offsets.filter(([s, e]) => e > s && s <= emoji && e > emoji);
    expect(covering).toHaveLength(1);
    expect(text.slice(covering[0]![0], covering[0]![1])).toContain('🙂');
    const last = offsets[offsets.length - 1]!;
    expect(text.slice(last[0], last[1])).toBe(' so');
  });

  it('round-trips every demo text (public/data) and every field of the committed raw GSM8K/MBPP sample exactly', () => {
    const texts: string[] = [];
    for (const file of ['data/train.jsonl', 'data/queries.jsonl']) {
      for (const line of readFileSync(new URL(file, publicDir), 'utf8').trim().split('\n')) {
        const r = JSON.parse(line) as { prompt: string; response: string };
        texts.push(r.prompt, r.response);
      }
    }
    // The raw records keep what the demo rows drop (calculator annotations, \r\n, test lists).
    for (const line of readFixtureText('raw-data/gsm8k-train-sample.jsonl').trim().split('\n')) {
      const { record } = JSON.parse(line) as { record: { question: string; answer: string } };
      texts.push(record.question, record.answer);
    }
    for (const line of readFixtureText('raw-data/mbpp-sample.jsonl').trim().split('\n')) {
      const r = JSON.parse(line) as { text: string; code: string; test_list: string[] };
      texts.push(r.text, r.code, ...r.test_list);
    }
    // 2,972 training rows and 400 queries (two texts each), 51 GSM8K records (two), 51 MBPP tasks (text, code, 3
    // tests).
    expect(texts.length).toBe(2 * (2972 + 400) + 2 * 51 + 51 * 5);
    expect(texts.some((t) => t.includes('<<') && t.includes('>>'))).toBe(true);
    expect(texts.some((t) => t.includes('\r\n'))).toBe(true);
    const failures = texts.filter((t) => demo.decode(demo.encode(t)) !== t);
    expect(failures).toEqual([]);
  });
});

describe('vocabulary builder', () => {
  const corpus = ['so 12 + 34 = 46', 'def f(x):\n    return x + 1', 'so the answer is 46', 'therefore 12 + 34'];

  it('is deterministic and writes a tokenizer.json the library loads', () => {
    const a = JSON.stringify(trainByteLevelBpe(corpus, { vocabSize: 400, minFrequency: 1 }));
    const b = JSON.stringify(trainByteLevelBpe([...corpus], { vocabSize: 400, minFrequency: 1 }));
    expect(a).toBe(b);
    const tok = TextTokenizer.fromJson(JSON.parse(a));
    // With minFrequency 1 the merges run out before 400: every word of the corpus became one token.
    expect(tok.vocabSize).toBeLessThan(400);
    expect(tok.vocabSize).toBeGreaterThan(259);
    for (const t of corpus) expect(tok.decode(tok.encode(t))).toBe(t);
    // Frequent words become single tokens; digits never merge with each other.
    expect(pieces(tok, 'so')).toEqual(['so']);
    expect(pieces(tok, ' return')).toEqual([' return']);
    expect(pieces(tok, '1234')).toEqual(['1', '2', '3', '4']);
  });

  it('stops when no pair reaches minFrequency, and refuses a vocabulary below the byte base', () => {
    // "ab ab ab" pre-tokenizes to ab, Ġab, Ġab: a+b is seen 3 times, Ġ+ab twice, nothing else after that.
    const json = trainByteLevelBpe(['ab ab ab'], { vocabSize: 1000, minFrequency: 2 }) as {
      model: { merges: string[] };
    };
    expect(json.model.merges).toEqual(['a b', 'Ġ ab']);
    const once = trainByteLevelBpe(['ab ab'], { vocabSize: 1000, minFrequency: 2 }) as { model: { merges: string[] } };
    expect(once.model.merges).toEqual(['a b']);
    expect(() => trainByteLevelBpe(['x'], { vocabSize: 100 })).toThrow(/below the 259 base tokens/);
  });

  it('reproduces the committed micro tokenizer from the micro training texts', () => {
    const rows = readFileSync(new URL('data/micro/train.jsonl', publicDir), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { prompt: string; response: string });
    const rebuilt = trainByteLevelBpe(
      rows.flatMap((r) => [r.prompt, r.response]),
      { vocabSize: 512 },
    );
    expect(rebuilt).toEqual(readJson(new URL('data/micro/tokenizer.json', publicDir)));
  });

  it('uses one pre-tokenization pattern for training and encoding', () => {
    const json = readJson(new URL('tokenizer/tokenizer.json', publicDir)) as {
      pre_tokenizer: { pretokenizers: Array<{ pattern?: { Regex: string } }> };
    };
    expect(json.pre_tokenizer.pretokenizers[0]!.pattern!.Regex).toBe(PRE_TOKENIZER_PATTERN);
  });
});

describe('a user tokenizer (GPT-2-style byte-level BPE fixture)', () => {
  const user = TextTokenizer.fromJson(
    readJson(new URL('gpt2-style-tokenizer.json', fixtures)),
    readJson(new URL('gpt2-style-tokenizer_config.json', fixtures)) as Record<string, unknown>,
  );

  it('loads through the same code path, with its merges, specials and config', () => {
    expect(user.vocabSize).toBe(256 + 12 + 1);
    expect(user.eosId).toBe(268);
    expect(user.bosId).toBe(268);
    expect(user.padId).toBe(268); // no pad token: falls back to eos
    expect(pieces(user, 'and so the')).toEqual(['a', 'n', 'd', ' so', ' the']);
  });

  it('round-trips text and gives exact offsets', () => {
    const text = 'the 12 = twelve; émigré 🙂';
    const { ids, offsets } = user.encodeWithOffsets(text);
    expect(user.decode(ids)).toBe(text);
    expect(offsets.map(([s, e]) => text.slice(s, e)).join('')).toBe(text);
    expect(user.exactOffsets).toBe(true);
  });

  it('rejects a file that is not a tokenizer.json', () => {
    expect(() => TextTokenizer.fromJson({ vocab: {} })).toThrow(/no "model" section/);
  });
});

describe('a user tokenizer that does not spell bytes (WordPiece fixture)', () => {
  const wordPiece = TextTokenizer.fromJson(readJson(new URL('wordpiece-tokenizer.json', fixtures)));

  it('aligns tokens by searching their text; unknown words get an empty range', () => {
    const text = 'so the cats sat. 12 = Cat dog';
    const { ids, offsets } = wordPiece.encodeWithOffsets(text);
    expect(wordPiece.exactOffsets).toBe(false);
    expect(ids.map((id, i) => [wordPiece.tokenText(id), text.slice(...offsets[i]!)])).toEqual([
      ['so', 'so'],
      ['the', 'the'],
      ['cat', 'cat'],
      ['##s', 's'],
      ['sat', 'sat'],
      ['.', '.'],
      ['1', '1'],
      ['##2', '2'],
      ['=', '='],
      ['Ca', 'Ca'],
      ['##t', 't'],
      ['[UNK]', ''],
    ]);
    expect(wordPiece.padId).toBe(0);
    expect(wordPiece.bosId).toBeUndefined();
  });
});
