/**
 * A few end-to-end cases through `runCli` (in-process): hostile inputs and output paths, each of which must end
 * in exit code 1 or 2 with ONE line on stderr naming the file or flag, and leave every input file as it was.
 * Only refusals (they stop before the engine runs), so each case takes milliseconds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/cli/main';
import { serializeModel } from '../../src/onnx/protobuf';
import { seededDemoModel } from '../../src/app/demo-model';
import { violation, type Outcome, type Random } from './classify';

type Scenario = (
  files: Record<'model' | 'tokenizer' | 'train' | 'queries' | 'dir', string>,
  random: Random,
) => string[];

const SCENARIOS: readonly Scenario[] = [
  (f) => ['--out', f.train],
  (f) => ['--json', f.queries],
  (f) => ['--out', f.model, '--json', path.join(f.dir, 's.json')],
  (f) => ['--out', path.join(f.dir, 'x.iwb'), '--json', path.join(f.dir, '.', 'x.iwb')],
  () => ['--out', ''],
  (f) => ['--train', '/dev/zero', '--train', f.train],
  () => ['--damping', '0x10'],
  () => ['--max-length', '1e3'],
  () => ['--tokenizer', '/dev/urandom'],
  (f) => {
    const fifo = path.join(f.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    return ['--queries', fifo];
  },
  (f, random) => {
    // Bytes that never occur in UTF-8, wherever they land.
    const bytes = readFileSync(f.train);
    bytes[random.int(bytes.length)] = random.pick([0xc0, 0xc1, 0xf5, 0xff]);
    writeFileSync(f.train, bytes);
    return [];
  },
  () => ['--max-length', '20'],
];

function files(): Record<'model' | 'tokenizer' | 'train' | 'queries' | 'dir', string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'iwb-fuzz-cli-'));
  const at = (name: string, content: string | Uint8Array) => {
    writeFileSync(path.join(dir, name), content);
    return path.join(dir, name);
  };
  return {
    dir,
    model: at('m.onnx', serializeModel(seededDemoModel('micro', 512, 128).model)),
    tokenizer: at('tok.json', readFileSync('public/data/micro/tokenizer.json')),
    train: at('train.jsonl', readFileSync('public/data/micro/train.jsonl')),
    queries: at('queries.jsonl', readFileSync('public/data/micro/queries.jsonl')),
  };
}

export async function runCliCase(index: number, random: Random): Promise<Outcome> {
  const f = files();
  try {
    const extra = SCENARIOS[index % SCENARIOS.length]!(f, random);
    const given = new Set(extra.filter((a) => a.startsWith('--')));
    const base = (['model', 'tokenizer', 'train', 'queries'] as const).flatMap((k) =>
      given.has(`--${k}`) ? [] : [`--${k}`, f[k]],
    );
    const inputs = ['model', 'tokenizer', 'train', 'queries'].map((k) => readFileSync(f[k as 'model']));
    let stderr = '';
    const code = await runCli(['attribute', ...base, ...extra, '--backend', 'cpu', '--quiet'], {
      stdout: () => {},
      stderr: (t) => void (stderr += t),
      interactive: false,
    });
    const lines = stderr.split('\n').filter(Boolean);
    if (code === 0) violation(`scenario ${index % SCENARIOS.length} exited 0`);
    if (lines.length !== 1 || !lines[0]!.startsWith('iwb: '))
      violation(`scenario ${index % SCENARIOS.length}: stderr ${JSON.stringify(stderr.slice(0, 300))}`);
    ['model', 'tokenizer', 'train', 'queries'].forEach((k, i) => {
      if (!readFileSync(f[k as 'model']).equals(inputs[i]!))
        violation(`scenario ${index % SCENARIOS.length} changed --${k}`);
    });
    return 'refused';
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
}

export const CLI_SCENARIOS = SCENARIOS.length;
