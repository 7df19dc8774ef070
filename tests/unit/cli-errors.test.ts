/** Bad input: `iwb` exits non-zero with ONE line naming the file, line, flag or node at fault. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, test } from 'vitest';
import { runCli } from '../../src/cli/main';
import type { Model } from '../../src/onnx/ir';
import { attributeArgs, MICRO_DATA, microModelBytes, type UserFiles } from '../helpers/cli';

const dir = mkdtempSync(path.join(tmpdir(), 'iwb-cli-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TRAIN = MICRO_DATA.train;

function write(name: string, content: string | Uint8Array): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

function microModel(edit?: (model: Model) => Model): string {
  return write(`micro-${Math.random().toString(36).slice(2)}.onnx`, microModelBytes(edit));
}

/** Runs in-process; returns the exit code and the one stderr line (and asserts there is exactly one). */
async function failure(argv: string[]): Promise<{ code: number; line: string }> {
  let stderr = '';
  const code = await runCli(argv, { stdout: () => {}, stderr: (t) => void (stderr += t), interactive: false });
  const lines = stderr.split('\n').filter((l) => l.length > 0);
  expect(lines).toHaveLength(1);
  return { code, line: lines[0]! };
}

const inputs = (overrides: Partial<UserFiles>) =>
  attributeArgs({ ...MICRO_DATA, model: overrides.model ?? microModel(), ...overrides });

test('a missing file names the flag and the path', async () => {
  const missing = path.join(dir, 'nope.jsonl');
  expect(await failure(inputs({ train: missing }))).toEqual({ code: 1, line: `iwb: --train ${missing}: no such file` });
});

test('a malformed JSONL line names the file and the line', async () => {
  const rows = readFileSync(TRAIN, 'utf8').split('\n');
  const bad = write('bad.jsonl', [rows[0], rows[1], '{"prompt": "2+2=", "response": 4}', rows[2]].join('\n'));
  const { code, line } = await failure(inputs({ train: bad }));
  expect(code).toBe(1);
  expect(line).toMatch(new RegExp(`^iwb: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: .*"response"`));
});

test('an op without a VJP on the gradient path names the model, the op and the node', async () => {
  const model = microModel((m) => ({
    ...m,
    graph: {
      ...m.graph,
      nodes: m.graph.nodes.map((n) => (n.name === '/h.0/mlp/act/Tanh' ? { ...n, opType: 'Celu' } : n)),
    },
  }));
  const { code, line } = await failure(inputs({ model }));
  expect(code).toBe(1);
  expect(line).toContain(`iwb: ${model}: unsupported op "Celu" at node "/h.0/mlp/act/Tanh"`);
});

test('a file that is not ONNX is named', async () => {
  const model = write('not-a-model.onnx', 'hello, world\n');
  const { code, line } = await failure(inputs({ model }));
  expect(code).toBe(1);
  expect(line).toMatch(new RegExp(`^iwb: ${model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*not a valid ONNX`));
});

test('a tokenizer that does not fit the model names the file, the line and the embedding', async () => {
  const model = microModel();
  const { code, line } = await failure(inputs({ model, tokenizer: 'public/tokenizer/tokenizer.json' }));
  expect(code).toBe(1);
  expect(line).toMatch(
    /^iwb: public\/data\/micro\/train.jsonl:1: token id \d+ at position \d+ is outside the vocabulary of \d+ .*\(embedding "wte.weight", the Gather fed by input_ids\)/,
  );
});

test('a bad flag exits 2 through the installed bin (tsx registration, one line on stderr)', async () => {
  const run = promisify(execFile);
  const result = await run(process.execPath, ['bin/iwb.mjs', 'attribute', '--strategy', 'newton'], {
    timeout: 60_000,
  }).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );
  expect(result.code).toBe(2);
  expect(result.stderr).toBe('iwb: --strategy "newton" is not one of ekfac, kfac, diagonal, identity\n');
});
