/**
 * Hostile tokenizer.json files (issue 25 §3): each is refused before the library sees it, with one message naming
 * the field — none crashes, overflows the stack or hangs — and every committed tokenizer still loads.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadUserInputs } from '../../src/app/inputs';
import { regexProblem } from '../../src/data/tokenizer-check';
import { TextTokenizer } from '../../src/data/tokenizer';
import { microModelBytes } from '../helpers/cli';

type Json = Record<string, any>;
const MICRO = 'public/data/micro/tokenizer.json';
const micro = (): Json => JSON.parse(readFileSync(MICRO, 'utf8')) as Json;

function edited(edit: (json: Json) => void): Json {
  const json = micro();
  edit(json);
  return json;
}

describe('tokenizer structure is checked before use', () => {
  it('loads every committed tokenizer', () => {
    for (const file of [
      MICRO,
      'public/tokenizer/tokenizer.json',
      'tests/fixtures/data/gpt2-style-tokenizer.json',
      'tests/fixtures/data/wordpiece-tokenizer.json',
    ]) {
      expect(() => TextTokenizer.fromJson(JSON.parse(readFileSync(file, 'utf8'))), file).not.toThrow();
    }
  });

  const firstToken = (json: Json) => Object.keys(json.model.vocab)[0]!;
  const cases: [string, (json: Json) => void, RegExp][] = [
    [
      'vocab: 5',
      (j) => (j.model.vocab = 5),
      /^model\.vocab: expected an object mapping each token to its id, got number 5$/,
    ],
    [
      'a negative id',
      (j) => (j.model.vocab[firstToken(j)] = -1),
      /^model\.vocab\[".*"\]: expected a token id, an integer from 0 to 16777215, got number -1$/,
    ],
    ['a fractional id', (j) => (j.model.vocab[firstToken(j)] = 1.5), /got number 1\.5$/],
    ['an id of 2³¹', (j) => (j.model.vocab[firstToken(j)] = 2 ** 31), /got number 2147483648$/],
    [
      'a duplicate id',
      (j) => (j.model.vocab[firstToken(j)] = j.model.vocab[Object.keys(j.model.vocab)[1]!]),
      /^model\.vocab\[".*"\]: id \d+ is given to both/,
    ],
    [
      'a merge of a missing token',
      (j) => (j.model.merges[0] = 'zzzq zzzr'),
      /^model\.merges\[0\]: "zzzq" is not in model\.vocab$/,
    ],
    [
      'a merge into a missing token',
      (j) => {
        const [a, b] = (
          typeof j.model.merges[0] === 'string' ? j.model.merges[0].split(' ') : j.model.merges[0]
        ) as string[];
        delete j.model.vocab[a! + b!];
      },
      /^model\.merges\[0\]: merges into ".*", which is not in model\.vocab$/,
    ],
    [
      'a merge naming __proto__',
      (j) => (j.model.merges[0] = '__proto__ a'),
      /^model\.merges\[0\]: "__proto__" is not in model\.vocab$/,
    ],
    [
      'a __proto__ key',
      (j) => (j.decoder = JSON.parse('{"type": "ByteLevel", "__proto__": {"type": "x"}}')),
      /^tokenizer\.decoder\.__proto__: this key is not allowed$/,
    ],
    [
      'model type Quantum',
      (j) => (j.model.type = 'Quantum'),
      /^model\.type: the string "Quantum" is not a tokenizer model this workbench reads \(BPE, WordPiece, Unigram\)$/,
    ],
    [
      'an unknown pre-tokenizer',
      (j) => (j.pre_tokenizer.pretokenizers[1].type = 'Magic'),
      /^pre_tokenizer\.pretokenizers\[1\]\.type: the string "Magic" is not one of/,
    ],
    [
      'duplicate added ids',
      (j) =>
        (j.added_tokens = [
          { id: 1, content: 'a' },
          { id: 1, content: 'b' },
        ]),
      /^added_tokens\[1\]\.id: id 1 is given to two added tokens$/,
    ],
    [
      'a catastrophic Split regex',
      (j) => (j.pre_tokenizer.pretokenizers[0].pattern.Regex = '(a+)+$'),
      /^pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex: nested quantifier at character 4/,
    ],
  ];
  it.each(cases)('refuses %s, naming the field', (_name, edit, message) => {
    expect(() => TextTokenizer.fromJson(edited(edit))).toThrow(message);
  });

  it('refuses a Sequence nested 20,000 deep without overflowing the stack', () => {
    // Written as JSON text, as a user's file arrives (JSON.stringify itself would overflow on it).
    const deep = '{"type":"Sequence","pretokenizers":['.repeat(20000) + '{"type":"ByteLevel"}' + ']}'.repeat(20000);
    const text = JSON.stringify(micro()).replace(/"pre_tokenizer":\{/, `"pre_tokenizer":${deep},"unused":{`);
    expect(() => TextTokenizer.fromJson(JSON.parse(text))).toThrow(
      /^tokenizer\.pre_tokenizer(\.pretokenizers\[0\])+: nested deeper than 32 levels$/,
    );
  });

  it('names the file through the CLI path', async () => {
    const text = JSON.stringify(edited((j) => (j.model.vocab = 5)));
    const files = {
      model: { name: 'm.onnx', bytes: microModelBytes() },
      tokenizer: { name: 'tok.json', text },
      train: { name: 't.jsonl', text: '' },
      queries: { name: 'q.jsonl', text: '' },
    };
    await expect(loadUserInputs(files, { maxLength: 64, truncate: false } as never)).rejects.toThrow(
      /^tok\.json: model\.vocab: expected an object mapping each token to its id, got number 5$/,
    );
  });
});

describe('pre-tokenizer regexes that backtrack catastrophically', () => {
  it('refuses repeated groups that repeat or alternate, and accepts the published pre-tokenizers', () => {
    for (const bad of ['(a+)+', '(a*)*', '(?:a|aa)+', '(x+y?)*z', '((ab)+c)+', '(a+){2,}', '(?:[a-z]+\\d)*!']) {
      expect(regexProblem(bad), bad).toMatch(/^nested quantifier/);
    }
    const gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    const llama3 =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    for (const good of [gpt2, llama3, '(?:ab)?c+', '[(+]+', '\\(a+\\)+', '(?:a|b)?x*']) {
      expect(regexProblem(good), good).toBeNull();
    }
  });
});
