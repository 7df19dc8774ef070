/** maxTokenBytes: a byte-level tokenizer needs ≥ ⌈bytes / maxTokenBytes⌉ tokens for any text (the CLI's precheck). */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { TextTokenizer } from '../../src/data/tokenizer';
import { seededRandom } from '../fixtures/store/sample-bundle';

const load = (file: string) => TextTokenizer.fromJson(JSON.parse(readFileSync(file, 'utf8')));

it('holds on the demo, micro and GPT-2-style tokenizers for seeded random and real texts', () => {
  const texts = readFileSync('public/data/micro/train.jsonl', 'utf8')
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => {
      const row = JSON.parse(line) as { prompt: string; response: string };
      return [row.prompt, row.response];
    });
  const random = seededRandom(5);
  const alphabet = ['a', 'b', ' ', '\n', '1', 'é', '😀', '<|eos|>', '    ', 'the', 'def '];
  for (let i = 0; i < 200; i++)
    texts.push(
      Array.from(
        { length: 1 + Math.floor(random() * 60) },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join(''),
    );
  for (const file of [
    'public/tokenizer/tokenizer.json',
    'public/data/micro/tokenizer.json',
    'tests/fixtures/data/gpt2-style-tokenizer.json',
  ]) {
    const tokenizer = load(file);
    expect(tokenizer.maxTokenBytes, file).toBeGreaterThan(0);
    for (const text of texts) {
      const bound = Math.ceil(new TextEncoder().encode(text).length / tokenizer.maxTokenBytes!);
      expect(tokenizer.encode(text).length, `${file}: ${JSON.stringify(text.slice(0, 40))}`).toBeGreaterThanOrEqual(
        bound,
      );
    }
  }
});

it('is undefined for a tokenizer that can drop or rewrite characters (WordPiece)', () => {
  expect(load('tests/fixtures/data/wordpiece-tokenizer.json').maxTokenBytes).toBeUndefined();
});
