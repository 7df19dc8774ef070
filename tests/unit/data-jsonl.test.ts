import { describe, expect, it } from 'vitest';
import { parseJsonl, readJsonl, readLines, toJsonl } from '../../src/data/jsonl';
import { DataFormatError, renderChatPrompt, type TextRow, type TokenRow } from '../../src/data/schema';

const encoder = new TextEncoder();

/** Splits bytes into chunks of the given sizes (cycled), to put chunk borders inside lines and characters. */
async function* chunked(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let k = 0; at < bytes.length; k++) {
    const n = sizes[k % sizes.length]!;
    yield bytes.slice(at, at + n);
    at += n;
  }
}

function stream(text: string, sizes = [7, 1, 3]): ReadableStream<Uint8Array> {
  const bytes = encoder.encode(text);
  const it = chunked(bytes, sizes);
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
  });
}

async function parse(text: string, file = 'train.jsonl', sizes?: number[]) {
  return readJsonl(stream(text, sizes), { file });
}

async function parseError(text: string, file = 'train.jsonl'): Promise<string> {
  try {
    await parse(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(DataFormatError);
    return (err as Error).message;
  }
  throw new Error('expected a DataFormatError');
}

describe('streamed line reading', () => {
  it('handles a BOM, CRLF, blank lines, a last line without newline and chunk borders inside UTF-8 characters', async () => {
    const text = '\uFEFF{"a":"é"}\r\n\r\n  \n{"b":"日本🙂"}\n{"c":1}';
    for (const sizes of [[1], [2, 5], [4096]]) {
      const lines = [];
      for await (const l of readLines(chunked(encoder.encode(text), sizes), 'x.jsonl')) lines.push(l);
      expect(lines).toEqual([
        { line: 1, text: '{"a":"é"}' },
        { line: 4, text: '{"b":"日本🙂"}' },
        { line: 5, text: '{"c":1}' },
      ]);
    }
  });

  it('reports invalid UTF-8 with the line it is on', async () => {
    const bytes = Uint8Array.from([...encoder.encode('{"a":1}\n{"b":"'), 0xff, ...encoder.encode('"}\n')]);
    const read = async () => {
      for await (const _ of readLines(chunked(bytes, [64]), 'bad.jsonl')) void _;
    };
    await expect(read()).rejects.toThrow('bad.jsonl:2: invalid UTF-8 bytes');
  });

  it('accepts string chunks and stops when aborted', async () => {
    async function* strings() {
      yield '{"prompt":"p","res';
      yield 'ponse":"r"}\n';
    }
    const rows = await readJsonl(strings(), { file: 's.jsonl' });
    expect((rows[0] as TextRow).response).toBe('r');
    const controller = new AbortController();
    controller.abort();
    await expect(readJsonl(strings(), { file: 's.jsonl', signal: controller.signal })).rejects.toThrow();
  });
});

describe('row formats', () => {
  it('reads prompt/response rows, keeps unknown fields, generates missing ids, counts rows', async () => {
    const seen: number[] = [];
    const rows = await readJsonl(
      stream(
        '{"id":"a","prompt":"Q","response":"R","domain":"math","difficulty":"easy","source":{"x":1}}\n' +
          '{"prompt":"Q2","response":"R2","difficulty":3}\n',
      ),
      { file: 'train.jsonl', onRow: (n) => seen.push(n) },
    );
    expect(rows).toEqual([
      {
        kind: 'text',
        id: 'a',
        line: 1,
        prompt: 'Q',
        response: 'R',
        domain: 'math',
        difficulty: 'easy',
        extra: { source: { x: 1 } },
      },
      { kind: 'text', id: 'train.jsonl:2', line: 2, prompt: 'Q2', response: 'R2', difficulty: '3', extra: {} },
    ]);
    expect(seen).toEqual([1, 2]);
  });

  it('renders chat rows with the documented template: the last assistant message is the response', async () => {
    const [row] = (await parse(
      JSON.stringify({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'What is 2+2?' },
          { role: 'assistant', content: '4' },
        ],
        segments: [{ label: 'final_answer', start: 0, end: 1 }],
      }) + '\n',
    )) as TextRow[];
    expect(row!.kind).toBe('chat');
    expect(row!.prompt).toBe('<|system|>\nBe brief.\n<|user|>\nWhat is 2+2?\n<|assistant|>\n');
    expect(row!.response).toBe('4');
    expect(row!.segments).toEqual([{ label: 'final_answer', start: 0, end: 1 }]);
    expect(renderChatPrompt([])).toBe('<|assistant|>\n');
  });

  it('reads pre-tokenized rows and checks ids against the vocabulary when it is known', async () => {
    const line = '{"id":7,"input_ids":[1,5,9,2],"prompt_len":2,"segments":[{"label":"answer","start":0,"end":2}]}\n';
    const [row] = (await parse(line)) as TokenRow[];
    expect(row).toMatchObject({ kind: 'tokens', id: '7', inputIds: [1, 5, 9, 2], promptLen: 2 });
    await expect(readJsonl(stream(line), { file: 't.jsonl', vocabSize: 8 })).rejects.toThrow(
      't.jsonl:1: field "input_ids[2]" is 9, outside the vocabulary (size 8)',
    );
  });
});

describe('validation errors name the file, line and field', () => {
  const good = '{"prompt":"p","response":"r"}\n';
  it.each([
    ['{"prompt":5,"response":"r"}', 'train.jsonl:2: field "prompt" must be a string, got number 5'],
    ['{"prompt":"p"}', 'train.jsonl:2: field "response" must be a string, got nothing (field missing)'],
    ['{"prompt":"p","response":""}', 'train.jsonl:2: the response is empty'],
    ['{"prompt":"p","response":"r",', 'train.jsonl:2: not valid JSON'],
    ['[1,2]', 'train.jsonl:2: a row must be a JSON object, got an array'],
    ['{"text":"hello"}', 'train.jsonl:2: row has none of "prompt"/"response", "messages" or "input_ids"/"prompt_len"'],
    ['{"prompt":"p","response":"r","messages":[]}', 'train.jsonl:2: row mixes prompt/response and messages'],
    ['{"prompt":"p","response":"r","domain":["math"]}', 'train.jsonl:2: field "domain" must be a string, got an array'],
    ['{"id":"","prompt":"p","response":"r"}', 'train.jsonl:2: field "id" must be a non-empty string or an integer'],
    ['{"messages":[{"role":"user","content":"hi"}]}', 'train.jsonl:2: field "messages[0].role" must be "assistant"'],
    [
      '{"messages":[{"role":"user"},{"role":"assistant","content":"a"}]}',
      'train.jsonl:2: field "messages[0].content" must be a string',
    ],
    [
      '{"input_ids":[1,2],"prompt_len":2}',
      'train.jsonl:2: field "prompt_len" (2) must be less than the length of "input_ids" (2)',
    ],
    [
      '{"input_ids":[1,-2],"prompt_len":0}',
      'train.jsonl:2: field "input_ids[1]" must be a non-negative integer, got number -2',
    ],
    ['{"input_ids":[1,2],"prompt_len":0.5}', 'train.jsonl:2: field "prompt_len" must be a non-negative integer'],
    [
      '{"prompt":"p","response":"r","segments":[{"label":"a","start":0,"end":2}]}',
      'train.jsonl:2: field "segments[0].end" must be an integer in [0, 1]',
    ],
    [
      '{"prompt":"p","response":"rr","segments":[{"label":"a","start":2,"end":1}]}',
      'train.jsonl:2: field "segments[0]" has start 2 after end 1',
    ],
    [
      '{"prompt":"p","response":"r","segments":[{"start":0,"end":1}]}',
      'train.jsonl:2: field "segments[0].label" must be a non-empty string',
    ],
  ])('%s', async (bad, message) => {
    expect(await parseError(good + bad + '\n' + good)).toContain(message);
  });

  it('reports a duplicate id with both lines, also against generated ids', async () => {
    expect(await parseError('{"id":"x","prompt":"p","response":"r"}\n\n{"id":"x","prompt":"p","response":"r"}\n')).toBe(
      'train.jsonl:3: duplicate id "x" (first used on line 1)',
    );
    expect(
      await parseError('{"prompt":"p","response":"r"}\n{"id":"train.jsonl:1","prompt":"p","response":"r"}\n'),
    ).toContain('train.jsonl:2: duplicate id "train.jsonl:1"');
  });
});

describe('large files', () => {
  it('streams rows one at a time without holding the file', async () => {
    // 20 000 rows produced lazily; the parser yields each before the next chunk is even made.
    let produced = 0;
    async function* rows() {
      for (let i = 0; i < 20_000; i++) {
        produced++;
        yield encoder.encode(JSON.stringify({ prompt: `q${i}`, response: `r${i}` }) + '\n');
      }
    }
    let count = 0;
    for await (const row of parseJsonl(rows(), { file: 'big.jsonl' })) {
      count++;
      expect(produced - count).toBeLessThanOrEqual(1);
      if (row.kind === 'text') expect(row.prompt).toBe(`q${count - 1}`);
    }
    expect(count).toBe(20_000);
  });

  it('writes what it reads', async () => {
    const rows = [{ id: 'a', prompt: 'p\n"q"', response: 'é' }];
    const [back] = (await parse(toJsonl(rows))) as TextRow[];
    expect(back).toMatchObject(rows[0]!);
  });
});
