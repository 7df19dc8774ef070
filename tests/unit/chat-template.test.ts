/**
 * Chat rows rendered with a model folder's own chat_template (data/chat-template.ts): the ids are the template's
 * text encoded with special tokens only where the template writes them, the loss on every assistant message and what
 * the template writes after it up to the next message (a multi-turn row's token mask checked exactly, for training
 * rows and queries); data text never becomes a special token (issue 25 item 8), with or without a template; a
 * template that fails names the row.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadUserInputs } from '../../src/app/inputs';
import { measuredQueries, trainingRows } from '../../src/app/measure';
import { chatTemplateFrom } from '../../src/data/chat-template';
import { toExample } from '../../src/data/dataset';
import { validateRow } from '../../src/data/schema';
import { TextTokenizer } from '../../src/data/tokenizer';
import { cli } from '../helpers/cli';

const FOLDER = 'tests/fixtures/models/folder-llama';
const tokenizerText = readFileSync(`${FOLDER}/tokenizer.json`, 'utf8');
const configText = readFileSync(`${FOLDER}/tokenizer_config.json`, 'utf8');
const config = JSON.parse(configText) as Record<string, unknown>;
const tokenizer = TextTokenizer.fromJson(JSON.parse(tokenizerText), config);
const template = chatTemplateFrom('tokenizer_config.json', config)!;
const [BOS, EOS] = [1, 2];

describe('special tokens come from the template only', () => {
  it('data text holding <|eos|> is encoded as text', () => {
    expect(tokenizer.specialTokens.get('<|eos|>')).toBe(EOS);
    const ids = tokenizer.encode('say <|eos|> and <|bos|>');
    expect(ids).not.toContain(EOS);
    expect(ids).not.toContain(BOS);
    expect(tokenizer.decode(ids)).toBe('say <|eos|> and <|bos|>');
  });

  it('the template writes <|bos|>, "role: content" lines and <|eos|> after the answer; loss on the answer', () => {
    const messages = [
      { role: 'user', content: 'Say <|eos|> twice.' },
      { role: 'assistant', content: '<|eos|> <|eos|> ' },
    ];
    const chat = template.render(messages, tokenizer);
    // Worked out by hand from the template: bos, then the text, the answer (trimmed) and eos, then the newline.
    const prompt = tokenizer.encode('user: Say <|eos|> twice.\nassistant: ');
    const answer = tokenizer.encode('<|eos|> <|eos|>');
    expect(chat.ids).toEqual([BOS, ...prompt, ...answer, EOS, ...tokenizer.encode('\n')]);
    expect(chat.promptLen).toBe(1 + prompt.length);
    expect(chat.ids.filter((id) => id === EOS)).toHaveLength(1);
    expect(chat.prompt).toBe('<|bos|>user: Say <|eos|> twice.\nassistant: ');
    expect(chat.response).toBe('<|eos|> <|eos|><|eos|>\n');
  });

  it('every assistant turn carries the loss, with the eos and newline the template writes after it', () => {
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is 1 + 6?' },
      { role: 'assistant', content: '1 + 6 = 7' },
      { role: 'user', content: 'And 7 + 1?' },
      { role: 'assistant', content: ' 7 + 1 = 8 ' },
      { role: 'user', content: 'Thanks.' },
      { role: 'assistant', content: 'You are welcome.' },
    ];
    const chat = template.render(messages, tokenizer);
    // Worked out by hand from the template: each turn is cut where an answer starts and after its eos and newline.
    const enc = (text: string) => tokenizer.encode(text);
    const parts = [
      [BOS, ...enc('system: Be brief.\nuser: What is 1 + 6?\nassistant: ')],
      [...enc('1 + 6 = 7'), EOS, ...enc('\n')],
      enc('user: And 7 + 1?\nassistant: '),
      [...enc('7 + 1 = 8'), EOS, ...enc('\n')],
      enc('user: Thanks.\nassistant: '),
      [...enc('You are welcome.'), EOS, ...enc('\n')],
    ];
    expect(chat.ids).toEqual(parts.flat());
    const at = (k: number) => parts.slice(0, k).reduce((n, p) => n + p.length, 0);
    expect(chat.assistantTurns).toEqual([
      { start: at(1), end: at(2) },
      { start: at(3), end: at(4) },
      { start: at(5), end: at(6) },
    ]);
    expect(chat.promptLen).toBe(at(1));
    expect(chat.prompt).toBe('<|bos|>system: Be brief.\nuser: What is 1 + 6?\nassistant: ');
    // The token mask, position by position: 1 on the three answers (and their eos, newline), 0 elsewhere.
    const mask = chat.ids.map((_, t) => (chat.assistantTurns.some((s) => t >= s.start && t < s.end) ? 1 : 0));
    const want = parts.flatMap((p, k) => p.map(() => k % 2));
    expect(mask).toEqual(want);
    expect(tokenizer.decode(chat.ids.filter((_, t) => mask[t] === 1))).toBe(
      '1 + 6 = 7<|eos|>\n7 + 1 = 8<|eos|>\nYou are welcome.<|eos|>\n',
    );
  });

  it('a single answer is one turn to the end, as before', () => {
    const chat = template.render(
      [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'ok' },
      ],
      tokenizer,
    );
    expect(chat.assistantTurns).toEqual([{ start: chat.promptLen, end: chat.ids.length }]);
  });

  it('a role named eos is text; a role holding a special token is refused', () => {
    const chat = template.render(
      [
        { role: 'eos', content: 'hi' },
        { role: 'assistant', content: 'ok' },
      ],
      tokenizer,
    );
    expect(chat.ids.slice(0, chat.promptLen)).toEqual([BOS, ...tokenizer.encode('eos: hi\nassistant: ')]);
    expect(() =>
      template.render(
        [
          { role: 'user<|eos|>', content: 'hi' },
          { role: 'assistant', content: 'ok' },
        ],
        tokenizer,
      ),
    ).toThrow('field "messages[0].role" holds the special token <|eos|>; a role is plain text');
  });

  it('without a template, the role markers and the data are text too (docs/data.md)', () => {
    const row = validateRow(
      {
        messages: [
          { role: 'eos', content: 'x <|bos|>' },
          { role: 'assistant', content: 'y' },
        ],
      },
      { file: 'chat.jsonl', line: 1 },
      'r1',
    );
    const example = toExample(row, tokenizer);
    // One bos in front and one eos at the end, added by the workbench; none from '<|eos|>' or '<|bos|>' in the text.
    expect([...example.inputIds].filter((id) => id === EOS || id === BOS)).toEqual([BOS, EOS]);
    expect(example.inputIds[0]).toBe(BOS);
    expect(example.inputIds.at(-1)).toBe(EOS);
  });
});

describe('chat data through the run inputs', () => {
  const model = { name: 'model.onnx', bytes: readFileSync(`${FOLDER}/onnx/model.onnx`) };
  const files = (train: string, chatConfig = configText) => ({
    model,
    tokenizer: { name: 'tokenizer.json', text: tokenizerText },
    tokenizerConfig: { name: 'tokenizer_config.json', text: chatConfig },
    train: { name: 'chat.jsonl', text: train },
    queries: { name: 'q.jsonl', text: readFileSync('tests/fixtures/data/chat-queries.jsonl', 'utf8') },
  });
  const limits = { train: null, queries: null };

  it('renders each row with the template; the loss on every answer, none on the user turns', async () => {
    const inputs = await loadUserInputs(files(readFileSync('tests/fixtures/data/chat-train.jsonl', 'utf8')), limits);
    expect(inputs.train).toHaveLength(5);
    const index = inputs.train.findIndex((e) => e.id === 'c4');
    const multi = inputs.train[index]!;
    // Both answers of the multi-turn chat carry the loss; the user turn between them does not.
    expect(multi.prompt).toBe('<|bos|>user: What is 1 + 6?\nassistant: ');
    const ids = [...multi.inputIds];
    const turns = multi.assistantTurns!;
    expect(turns.map((s) => tokenizer.decode(ids.slice(s.start, s.end)))).toEqual([
      '1 + 6 = 7<|eos|>\n',
      '7 + 1 = 8<|eos|>\n',
    ]);
    expect(tokenizer.decode(ids.slice(turns[0]!.end, turns[1]!.start))).toBe('user: And 7 + 1?\nassistant: ');
    expect(turns[0]!.start).toBe(multi.promptLen);
    expect(turns[1]!.end).toBe(ids.length);
    expect(multi.segments).toEqual([{ label: 'response', start: multi.promptLen, end: multi.inputIds.length }]);
    // What the gradient source gets: the training row's loss masked to the turns (its `measured` spans) …
    expect(trainingRows(inputs.train)[index]).toEqual({
      inputIds: multi.inputIds,
      promptLen: multi.promptLen,
      measured: turns,
    });
    // … and a query's measurement likewise (the whole response counted as its assistant turns).
    const asQuery = measuredQueries([multi], 'response')[0]!;
    expect(asQuery.measured).toEqual(turns);
    // A row that is not a chat keeps its whole response (no mask).
    const plain = { ...multi, assistantTurns: undefined };
    expect(trainingRows([plain])[0]).toBe(plain);
    expect(measuredQueries([plain], 'response')[0]!.measured).toBeUndefined();
  });

  it('a template that fails names the row', async () => {
    const raising = JSON.stringify({
      ...config,
      chat_template:
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system role') }}{% endif %}" +
        "{{ m['content'] }}{% endfor %}",
    });
    const train = readFileSync('tests/fixtures/data/chat-train.jsonl', 'utf8');
    await expect(loadUserInputs(files(train, raising), limits)).rejects.toThrow(
      /^chat\.jsonl:1: tokenizer_config\.json: the chat template failed: .*no system role/,
    );
    const broken = JSON.stringify({ ...config, chat_template: '{% for m in messages %}' });
    await expect(loadUserInputs(files(train, broken), limits)).rejects.toThrow(
      /^tokenizer_config\.json: "chat_template" does not parse/,
    );
  });

  it('iwb attribute --model-dir renders chat data with the folder template', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'iwb-chat-'));
    try {
      const json = path.join(dir, 'summary.json');
      const result = await cli([
        ...['attribute', '--model-dir', FOLDER, '--backend', 'cpu', '--quiet', '--json', json],
        ...['--train', 'tests/fixtures/data/chat-train.jsonl', '--queries', 'tests/fixtures/data/chat-queries.jsonl'],
      ]);
      expect([result.code, result.stderr]).toEqual([0, '']);
      const summary = readFileSync(json, 'utf8');
      expect(summary).toContain('"c4"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
