/**
 * `iwb attribute` against hostile but fair input (issue 11): outputs that are inputs, unreadable files, bad UTF-8,
 * rows longer than the context, embeddings under other names, float input_ids, prompt_len 0, repeated flags.
 * Every refusal is ONE line naming the file (and line) at fault; nothing is overwritten.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCommand, type AttributeArgs } from '../../src/cli/args';
import { attribute } from '../../src/cli/attribute';
import { runCli } from '../../src/cli/main';
import { nodeOutputFs, type OutputFs } from '../../src/cli/output';
import { DataType, type Model } from '../../src/onnx/ir';
import { serializeModel } from '../../src/onnx/protobuf';
import { findEmbeddings } from '../../src/onnx/structure';
import { seededDemoModel } from '../../src/app/demo-model';

const dir = mkdtempSync(path.join(tmpdir(), 'iwb-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOKENIZER = 'public/data/micro/tokenizer.json';
const TRAIN = 'public/data/micro/train.jsonl';
const QUERIES = 'public/data/micro/queries.jsonl';
const MICRO_VOCAB = 512;

function write(name: string, content: string | Uint8Array): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

let models = 0;
function microModel(maxPositions = 512, edit: (model: Model) => Model = (m) => m): string {
  return write(
    `micro-${models++}.onnx`,
    serializeModel(edit(seededDemoModel('micro', MICRO_VOCAB, maxPositions).model)),
  );
}

/** The model with its token embedding's initializer renamed: nothing in it says "wte" any more. */
function renamedEmbedding(model: Model): Model {
  const rename = (name: string) => (name === 'wte.weight' ? 'onnx::Gather_7' : name);
  const initializers = new Map(
    [...model.graph.initializers].map(([name, init]) => [rename(name), { ...init, name: rename(name) }]),
  );
  const nodes = model.graph.nodes.map((n) => ({
    ...n,
    name: n.name.replace('wte', 'embed_q'),
    inputs: n.inputs.map(rename),
  }));
  return { ...model, graph: { ...model.graph, initializers, nodes } };
}

async function run(argv: string[]): Promise<{ code: number; stderr: string[] }> {
  let stderr = '';
  const code = await runCli(argv, { stdout: () => {}, stderr: (t) => void (stderr += t), interactive: false });
  return { code, stderr: stderr.split('\n').filter((l) => l.startsWith('iwb:')) };
}

/** One line on stderr, exit 1 or 2. */
async function refused(argv: string[]): Promise<string> {
  const { code, stderr } = await run(argv);
  expect(code).toBeGreaterThan(0);
  expect(stderr).toHaveLength(1);
  return stderr[0]!;
}

const args = (files: Partial<Record<'model' | 'tokenizer' | 'train' | 'queries', string>>, ...rest: string[]) => {
  const f = { tokenizer: TOKENIZER, train: TRAIN, queries: QUERIES, ...files };
  return [
    'attribute',
    '--model',
    f.model ?? microModel(),
    ...(f.tokenizer ? ['--tokenizer', f.tokenizer] : []),
    '--train',
    f.train,
    '--queries',
    f.queries,
    '--backend',
    'cpu',
    '--quiet',
    ...rest,
  ];
};

describe('outputs never replace inputs', () => {
  for (const flag of ['--model', '--train', '--queries', '--tokenizer'] as const) {
    it(`--out equal to ${flag} is refused before the run and the input is unchanged`, async () => {
      const files = {
        model: microModel(),
        train: write('t.jsonl', readFileSync(TRAIN)),
        queries: write('q.jsonl', readFileSync(QUERIES)),
        tokenizer: write('tok.json', readFileSync(TOKENIZER)),
      };
      const target = files[flag.slice(2) as keyof typeof files];
      const before = readFileSync(target);
      expect(await refused(args(files, '--out', target))).toBe(
        `iwb: --out ${target}: is the same file as ${flag} ${target}; refusing to overwrite an input`,
      );
      expect(readFileSync(target).equals(before)).toBe(true);
    });
  }

  it('--json equal to --train (spelled differently) and --json equal to --out are refused', async () => {
    const train = write('t2.jsonl', readFileSync(TRAIN));
    const json = path.join(dir, '.', 'x', '..', 't2.jsonl');
    expect(await refused(args({ train }, '--json', json))).toMatch(
      /^iwb: --json .*t2\.jsonl: is the same file as --train/,
    );
    const out = path.join(dir, 'r.iwb');
    expect(await refused(args({}, '--out', out, '--json', out))).toBe(
      `iwb: --json ${out}: is the same file as --out ${out}`,
    );
    expect(await refused(args({}, '--out', ''))).toBe("iwb: --out '': an output needs a file name");
    expect(await refused(args({}, '--factors', dir, '--kronfluence-out', path.join(dir, '.')))).toBe(
      `iwb: --kronfluence-out ${dir}: is the same file as --factors ${dir}; refusing to overwrite an input`,
    );
  });
});

describe('all outputs or none', () => {
  it('ENOSPC on a --kronfluence-out file after --json and --out were staged leaves every old output as it was', async () => {
    const out = path.join(dir, 'keep.iwb');
    const json = path.join(dir, 'keep.json');
    const kron = path.join(dir, 'kron');
    mkdirSync(kron);
    writeFileSync(out, 'old bundle');
    writeFileSync(json, 'old summary');
    writeFileSync(path.join(kron, 'notes.txt'), 'mine');
    const argv = args({}, '--limit-train', '3', '--limit-queries', '1', '--out', out, '--json', json);
    const command = parseCommand([...argv, '--kronfluence-out', kron]) as { name: 'attribute'; args: AttributeArgs };
    let failed = '';
    const fsys: OutputFs = {
      ...nodeOutputFs,
      writeFile: async (file, data) => {
        if (file.includes(`${path.sep}scores_self${path.sep}`)) {
          failed = file;
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        }
        return nodeOutputFs.writeFile(file, data);
      },
    };
    const io = { stdout: () => {}, stderr: () => {}, interactive: false };
    await expect(attribute(command.args, io, undefined, fsys)).rejects.toThrow(
      /scores_self.*: no space left on device \(ENOSPC\)$/,
    );
    expect(failed).not.toBe('');
    expect(readFileSync(out, 'utf8')).toBe('old bundle');
    expect(readFileSync(json, 'utf8')).toBe('old summary');
    // Staging made the subfolders (left empty); no factor or score file, and no temporary file, is there.
    const left = readdirSync(kron, { recursive: true }).map(String);
    expect(left.filter((f) => f.endsWith('.tmp') || f.endsWith('.bak') || f.endsWith('.safetensors'))).toEqual([]);
    expect(readFileSync(path.join(kron, 'notes.txt'), 'utf8')).toBe('mine');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.endsWith('.bak'))).toEqual([]);
  }, 120_000);
});

describe('inputs', () => {
  it('--train /dev/zero, a directory and invalid UTF-8 are refused in one line', async () => {
    expect(await refused(args({ train: '/dev/zero' }))).toBe(
      'iwb: --train /dev/zero: is a character device; give a regular file',
    );
    expect(await refused(args({ queries: dir }))).toBe(`iwb: --queries ${dir}: is a directory; give a regular file`);
    const lines = readFileSync(TRAIN, 'utf8').split('\n');
    const bad = write(
      'bad-utf8.jsonl',
      Buffer.concat([
        Buffer.from(lines[0] + '\n'),
        Buffer.from('{"prompt":"x","response":"caf'),
        Buffer.from([0xe9]),
        Buffer.from('"}\n'),
      ]),
    );
    const offset = Buffer.byteLength(lines[0] + '\n') + '{"prompt":"x","response":"caf'.length;
    expect(await refused(args({ train: bad }))).toBe(
      `iwb: ${bad}:2: invalid UTF-8 at byte offset ${offset} (byte 0xe9)`,
    );
  });

  it('a row longer than the context (position embedding found by structure) is refused with file:line', async () => {
    const model = microModel(100);
    const rows = readFileSync(TRAIN, 'utf8').split('\n');
    const train = write(
      'long.jsonl',
      [rows[0], rows[1], JSON.stringify({ prompt: 'x '.repeat(300), response: 'y' }), rows[2]].join('\n'),
    );
    const line = await refused(args({ model, train }));
    expect(line).toMatch(
      new RegExp(
        `^iwb: ${train}:3: \\d+ tokens, longer than the context of 100 ` +
          '\\(the position embedding "wpe.weight" of .*\\); shorten the row or pass --truncate$',
      ),
    );
    // --max-length overrides the graph's size.
    expect(await refused(args({ model: microModel() }, '--max-length', '60'))).toMatch(
      /longer than the context of 60 \(--max-length\)/,
    );
    // …but not beyond the position embedding, where rows would reach onnxruntime's Gather (issue 25 §9).
    expect(await refused(args({ model }, '--max-length', '384'))).toBe(
      `iwb: --max-length 384 is longer than ${model}'s context: its position embedding "wpe.weight" has 100 ` +
        'positions; give at most 100',
    );
  });

  it('a 2 MB response on a 100-token model is refused from its byte count, before tokenizing it', async () => {
    const train = write('huge.jsonl', JSON.stringify({ prompt: 'q', response: 'ab 12 '.repeat(350_000) }) + '\n');
    const line = await refused(args({ model: microModel(100), train }));
    expect(line).toMatch(
      new RegExp(`^iwb: ${train}:1: at least \\d+ tokens \\(2100001 bytes of text\\), longer than the context of 100`),
    );
    // "at least … bytes of text" is the precheck's message: the refusal came before tokenizing (the check after it
    // counts tokens exactly).
  });

  it('a tokenizer that does not fit a model whose embedding has another name is refused with file:line', async () => {
    const model = microModel(512, renamedEmbedding);
    const line = await refused(args({ model, tokenizer: 'public/tokenizer/tokenizer.json' }));
    expect(line).toMatch(
      new RegExp(
        `^iwb: ${TRAIN}:1: token id \\d+ at position \\d+ is outside the vocabulary of 512 of .* ` +
          '\\(embedding "onnx::Gather_7", the Gather fed by input_ids\\)',
      ),
    );
  });

  it('a model whose input_ids are float is refused naming the model file', async () => {
    const model = microModel(512, (m) => ({
      ...m,
      graph: {
        ...m.graph,
        inputs: m.graph.inputs.map((i) => (i.name === 'input_ids' ? { ...i, elemType: DataType.FLOAT } : i)),
      },
    }));
    expect(await refused(args({ model }))).toBe(
      `iwb: ${model}: graph input "input_ids" has element type FLOAT; token ids must be int64 (or int32)`,
    );
  });

  it('pre-tokenized rows with prompt_len 0 are accepted (docs/data.md); a lone id then names file:line', async () => {
    const train = write(
      'pre.jsonl',
      '{"input_ids":[5,6,7],"prompt_len":0}\n{"input_ids":[8,9,10,11],"prompt_len":1}\n',
    );
    const queries = write(
      'preq.jsonl',
      '{"input_ids":[5,6,7,8],"prompt_len":0,"segments":[{"label":"all","start":0,"end":4}]}\n',
    );
    const json = path.join(dir, 'pre.json');
    const { code, stderr } = await run(args({ train, queries, tokenizer: '' }, '--json', json));
    expect(stderr).toEqual([]);
    expect(code).toBe(0);
    expect(JSON.parse(readFileSync(json, 'utf8')).queries).toHaveLength(1);
    const one = write('one.jsonl', '{"input_ids":[5],"prompt_len":0}\n');
    expect(await refused(args({ train: one, queries, tokenizer: '' }))).toMatch(
      new RegExp(`^iwb: ${one}:1: with "prompt_len" 0 "input_ids" needs at least 2 tokens`),
    );
  }, 120_000);

  it('--truncate cuts long rows to the context and the run completes', async () => {
    const model = microModel(100);
    const json = path.join(dir, 'truncated.json');
    expect(await refused(args({ model }, '--limit-train', '3', '--limit-queries', '1'))).toMatch(
      /^iwb: .*queries\.jsonl:1: 102 tokens, longer/,
    );
    const { code, stderr } = await run(
      args({ model }, '--truncate', '--limit-train', '3', '--limit-queries', '1', '--json', json),
    );
    expect(stderr).toEqual([]);
    expect(code).toBe(0);
    expect(JSON.parse(readFileSync(json, 'utf8')).queries).toHaveLength(1);
  }, 120_000);
});

describe('flags', () => {
  for (const [argv, message] of [
    [['--damping', '0x10'], '--damping "0x10" is not heuristic, heuristic:F (F > 0) or a non-negative decimal number'],
    [
      ['--damping', 'Infinity'],
      '--damping "Infinity" is not heuristic, heuristic:F (F > 0) or a non-negative decimal number',
    ],
    [['--damping', ' 1'], '--damping " 1" is not heuristic, heuristic:F (F > 0) or a non-negative decimal number'],
    [['--limit-train', '1e3'], '--limit-train "1e3" is not a positive integer (decimal digits only)'],
    [['--limit-train', '0x10'], '--limit-train "0x10" is not a positive integer (decimal digits only)'],
    [['--max-length', 'Infinity'], '--max-length "Infinity" is not a positive integer (decimal digits only)'],
    [['--out', 'a.iwb', '--out', 'b.iwb'], '--out is given more than once; give it once'],
    [['--quiet', '--quiet'], '--quiet is given more than once; give it once'],
    [['--train', 'a', '--train', 'b'], '--train is given more than once; give it once'],
  ] as const) {
    it(`${argv.join(' ')} is refused in one line`, async () => {
      expect(await refused(['attribute', ...argv])).toBe(`iwb: ${message}`);
    });
  }

  it('plain decimals are still accepted', async () => {
    const command = parseCommand(['attribute', '--damping', '1e-3', '--limit-train', '007', '--max-length', '64']);
    expect(command).toMatchObject({
      name: 'attribute',
      args: { config: { damping: { kind: 'absolute', value: 0.001 }, limits: { train: 7 } }, maxLength: 64 },
    });
  });
});

describe('findEmbeddings', () => {
  it('finds the token and position tables of the demo GPT by structure, under any names', () => {
    const model = renamedEmbedding(seededDemoModel('micro', MICRO_VOCAB, 77).model);
    expect(findEmbeddings(model.graph)).toMatchObject({
      token: { weight: 'onnx::Gather_7', rows: 512 },
      position: { weight: 'wpe.weight', rows: 77 },
    });
  });
});

describe('iwb evaluate takes the same care', () => {
  it('refuses repeated flags, non-decimal numbers, /dev/zero, bad UTF-8 and --out equal to an input in one line', async () => {
    const evaluate = async (argv: string[]) => {
      let stderr = '';
      const code = await runCli(['evaluate', ...argv], {
        stdout: () => {},
        stderr: (t) => void (stderr += t),
        interactive: false,
      });
      return { code, lines: stderr.split('\n').filter(Boolean) };
    };
    expect(await evaluate(['--steps', '5', '--steps', '6'])).toEqual({
      code: 2,
      lines: ['iwb evaluate: --steps is given more than once; give it once'],
    });
    expect((await evaluate(['--lr', '0x10'])).lines).toEqual(['iwb evaluate: --lr "0x10" is not a decimal number']);
    expect((await evaluate(['--subsets', '1e3'])).code).toBe(2);
    const zero = await evaluate(['--model', '/dev/zero', '--train', TRAIN, '--queries', QUERIES]);
    expect(zero).toEqual({
      code: 1,
      lines: ['iwb evaluate: --model /dev/zero: is a character device; give a regular file'],
    });
    const train = write('eval-train.jsonl', readFileSync(TRAIN));
    const before = readFileSync(train);
    const same = await evaluate(['--model', microModel(), '--train', train, '--queries', QUERIES, '--out', train]);
    expect(same.lines).toEqual([
      `iwb evaluate: --out ${train}: is the same file as --train ${train}; refusing to overwrite an input`,
    ]);
    expect(readFileSync(train).equals(before)).toBe(true);
    const latin1 = write('eval-latin1.jsonl', Buffer.from([0x7b, 0x7d, 0x0a, 0xe9, 0x0a]));
    const bad = await evaluate(['--model', microModel(), '--train', latin1, '--queries', QUERIES]);
    expect(bad.lines).toEqual([`iwb evaluate: ${latin1}:2: invalid UTF-8 at byte offset 3 (byte 0xe9)`]);
  });
});
