/**
 * Output fuzz cases: output paths spelled to hit an input or each other (links, `..`, `./`), fresh and existing
 * targets, folders and files in the way, and writers that fail (ENOSPC, EFBIG, EIO) at any step. Afterwards every
 * input must be unchanged, no temporary file may remain, and the targets must hold all new contents or all old ones.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  checkOutputPaths,
  nodeOutputFs,
  OutputError,
  writeOutputsAtomically,
  type OutputFs,
} from '../../src/cli/output';
import { checkRefusal, violation, type Outcome, type Random } from './classify';

export interface OutputCase {
  readonly out: string;
  readonly json: string;
  readonly failWrite: string | null;
  readonly failRename: boolean;
  readonly existing: boolean;
}

const SPELLINGS = [
  'fresh.iwb',
  'train.jsonl',
  './train.jsonl',
  'sub/../train.jsonl',
  'link-train.jsonl',
  'linkdir/model.onnx',
  'model.onnx',
  'old.iwb',
  'old.json',
  'sub',
  'train.jsonl/x.iwb',
  'new/deeper/out.iwb',
  '',
  'linkdir/old.iwb',
];

/** Places an output may legitimately go (new files, earlier outputs, new folders): half the cases use them. */
const VALID_OUT = ['fresh.iwb', 'old.iwb', 'new/deeper/out.iwb', 'sub/r.iwb', 'linkdir/fresh2.iwb'];
const VALID_JSON = ['summary.json', 'old.json', 'sub/s.json', 'new/s.json'];

export function outputCase(random: Random): OutputCase {
  return {
    out: random.pick(random.chance(0.5) ? VALID_OUT : SPELLINGS),
    json: random.pick(random.chance(0.5) ? VALID_JSON : [...SPELLINGS, 'summary.json']),
    failWrite: random.chance(0.4) ? random.pick(['ENOSPC', 'EFBIG', 'EIO']) : null,
    failRename: random.chance(0.15),
    existing: random.chance(0.5),
  };
}

function layout(): { dir: string; inputs: Map<string, string> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'iwb-fuzz-out-'));
  mkdirSync(path.join(dir, 'sub'));
  const inputs = new Map([
    ['train.jsonl', '{"prompt":"a","response":"b"}\n'],
    ['model.onnx', 'MODEL'],
    ['queries.jsonl', '{}\n'],
  ]);
  for (const [name, content] of inputs) writeFileSync(path.join(dir, name), content);
  symlinkSync(path.join(dir, 'train.jsonl'), path.join(dir, 'link-train.jsonl'));
  symlinkSync(dir, path.join(dir, 'linkdir'));
  return { dir, inputs };
}

function failing(c: OutputCase, random: Random): OutputFs {
  const which = random.int(2);
  let writes = 0;
  let renames = 0;
  return {
    ...nodeOutputFs,
    writeFile: async (file, data) => {
      if (c.failWrite && writes++ === which) {
        await nodeOutputFs.writeFile(file, data.subarray(0, Math.floor(data.length / 2)));
        throw Object.assign(new Error(`${c.failWrite}: failed, write`), { code: c.failWrite });
      }
      return nodeOutputFs.writeFile(file, data);
    },
    rename: async (from, to) => {
      if (c.failRename && from.endsWith('.tmp') && renames++ === which)
        throw Object.assign(new Error('EIO: rename'), { code: 'EIO' });
      return nodeOutputFs.rename(from, to);
    },
  };
}

export async function runOutputCase(c: OutputCase, random: Random): Promise<Outcome> {
  const { dir, inputs } = layout();
  try {
    const at = (name: string) => (name === '' ? '' : path.join(dir, name));
    if (c.existing) {
      writeFileSync(path.join(dir, 'old.iwb'), 'OLD BUNDLE');
      writeFileSync(path.join(dir, 'old.json'), 'OLD JSON');
    }
    const targets = [
      { flag: '--out', file: at(c.out), data: 'NEW BUNDLE' },
      { flag: '--json', file: at(c.json), data: 'NEW JSON' },
    ];
    const before = targets.map((t) =>
      t.file !== '' && existsSync(t.file) && !isDir(t.file) ? readFileSync(t.file, 'utf8') : null,
    );
    let outcome: Outcome = 'accepted';
    try {
      await checkOutputPaths(
        targets,
        [...inputs.keys()].map((name) => ({ flag: `--${name.split('.')[0]}`, file: path.join(dir, name) })),
      );
      await writeOutputsAtomically(targets, failing(c, random));
    } catch (error) {
      if (!(error instanceof OutputError)) throw error;
      checkRefusal(error, /^(--out|--json) |^\//);
      outcome = 'refused';
    }
    for (const [name, content] of inputs) {
      if (readFileSync(path.join(dir, name), 'utf8') !== content)
        violation(`input ${name} was overwritten (out ${c.out}, json ${c.json})`);
    }
    const leftovers = listAll(dir).filter((f) => /\.(tmp|bak|journal)$/.test(f));
    if (leftovers.length > 0) violation(`temporary files left behind: ${leftovers.join(', ')}`);
    const after = targets.map((t) =>
      t.file !== '' && existsSync(t.file) && !isDir(t.file) ? readFileSync(t.file, 'utf8') : null,
    );
    if (outcome === 'accepted' && !targets.every((t, i) => after[i] === t.data))
      violation(`accepted but not every output holds its new content`);
    if (outcome === 'refused' && !after.every((content, i) => content === before[i])) {
      violation(`refused but an output changed: ${JSON.stringify({ before, after })}`);
    }
    return outcome;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function isDir(file: string): boolean {
  try {
    return readdirSync(file) !== undefined;
  } catch {
    return false;
  }
}

function listAll(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: false }).map(String);
}
