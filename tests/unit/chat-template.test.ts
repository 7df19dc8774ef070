/**
 * Chat rows rendered with a model folder's own chat_template (data/chat-template.ts): the ids are the template's
 * text encoded with special tokens only where the template writes them, the loss on the final assistant message and
 * what the template writes after it; data text never becomes a special token (issue 25 item 8), with or without a
 * template; a template that fails names the row.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadUserInputs } from '../../src/app/inputs';
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

  it('renders each row with the template; prompt tokens carry no loss', async () => {
    const inputs = await loadUserInputs(files(readFileSync('tests/fixtures/data/chat-train.jsonl', 'utf8')), limits);
    expect(inputs.train).toHaveLength(5);
    const multi = inputs.train.find((e) => e.id === 'c4')!;
    // The earlier answer of a multi-turn chat is prompt; the loss is on the last answer and the eos after it.
    expect(multi.prompt).toBe(
      '<|bos|>user: What is 1 + 6?\nassistant: 1 + 6 = 7<|eos|>\nuser: And 7 + 1?\nassistant: ',
    );
    expect(tokenizer.decode([...multi.inputIds.slice(multi.promptLen)])).toBe('7 + 1 = 8<|eos|>\n');
    expect(multi.segments).toEqual([{ label: 'response', start: multi.promptLen, end: multi.inputIds.length }]);
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
