/**
 * Fuzz kinds of issue 25 ("hostile inputs, round 2"), each case a clean refusal, an accepted valid input, or a bad
 * outcome:
 * - extdata: external data through symbolic links (to a file or a folder outside, or inside) and same-named files
 *   in different folders; an accepted model must hold each tensor's own file's values;
 * - tokenizer: structural edits of a tokenizer.json (ids, merges, types, `__proto__`, deep nesting, backtracking
 *   regexes); an accepted one must encode a text into ids of its vocabulary;
 * - injection: text with control, bidi and formula-leading characters through the terminal and CSV escapes;
 * - headers: safetensors headers with escaped keys, deep nesting and lengths beyond a sparse file;
 * - crashes: a writer of several outputs killed at any file system call, then recovered by the next run: all old
 *   or all new, nothing left behind.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { readModel } from '../../src/app/inputs';
import { InputError } from '../../src/app/input-error';
import { readModelFiles } from '../../src/cli/input-files';
import { nodeOutputFs, writeOutputsAtomically, type OutputFs } from '../../src/cli/output';
import { recoverOutputs } from '../../src/cli/output-journal';
import { csvText, escapeTerminal } from '../../src/cli/terminal';
import { InputLimitError } from '../../src/data/limits';
import { TextTokenizer } from '../../src/data/tokenizer';
import { TokenizerFormatError } from '../../src/data/tokenizer-check';
import { readSafetensors, SafetensorsError } from '../../src/store/safetensors';
import { checkRefusal, isEngineError, violation, type Outcome, type Random } from './classify';

const { onnx } = onnxProto;

// ------------------------------------------------------------------------------------------------ extdata

const floats = (...values: number[]) => new Uint8Array(new Float32Array(values).buffer);

function modelNaming(locations: readonly string[]): Uint8Array {
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        initializer: locations.map((location, i) => ({
          name: `w${i}`,
          dataType: 1,
          dims: [2],
          dataLocation: 1,
          externalData: [{ key: 'location', value: location }],
        })),
      },
    }),
  ).finish();
}

export async function runExternalDataCase(random: Random): Promise<Outcome> {
  const root = mkdtempSync(path.join(tmpdir(), 'iwb-fuzz-ext-'));
  try {
    const dir = path.join(root, 'model');
    const outside = path.join(root, 'outside');
    mkdirSync(path.join(dir, 'a'), { recursive: true });
    mkdirSync(path.join(dir, 'b'));
    mkdirSync(outside);
    // Each file holds values that say which file it is.
    const values = new Map<string, number>([
      ['a/w.bin', 1],
      ['b/w.bin', 2],
      ['w.bin', 3],
    ]);
    for (const [name, v] of values) writeFileSync(path.join(dir, name), floats(v, v));
    writeFileSync(path.join(outside, 'secret.bin'), floats(9, 9));
    symlinkSync(path.join(outside, 'secret.bin'), path.join(dir, 'out.bin'));
    symlinkSync(outside, path.join(dir, 'outdir'));
    symlinkSync('a/w.bin', path.join(dir, 'in.bin'));
    const names = ['a/w.bin', 'b/w.bin', './a//w.bin', 'w.bin', 'out.bin', 'outdir/secret.bin', 'in.bin', '../x.bin'];
    const locations = Array.from({ length: 1 + random.int(3) }, () => random.pick(names));
    const file = path.join(dir, 'model.onnx');
    writeFileSync(file, modelNaming(locations));
    // As the page gets them (bare names, no folders: one w.bin, the last) or as the CLI reads them from disk.
    const page = random.chance(0.3);
    const picked = new Map([...values].map(([name, v]) => [path.basename(name), v]));
    let model;
    try {
      if (page) {
        const files = [...picked].map(([name, v]) => ({ name, bytes: floats(v, v) }));
        model = readModel('model.onnx', modelNaming(locations), files);
      } else {
        const { bytes, externalData } = await readModelFiles(file, undefined);
        model = readModel(file, bytes, externalData);
      }
    } catch (error) {
      if (!(error instanceof InputError || error instanceof InputLimitError)) throw error;
      checkRefusal(error, /model\.onnx/);
      if (!/tensor 'w\d'|external data|outside the model's folder|data files called/.test(error.message))
        violation(`refusal names no tensor or location: ${error.message}`);
      return 'refused';
    }
    // Accepted: no value from outside, and each tensor from its own location's file (the picked one on the page).
    locations.forEach((location, i) => {
      const got = model.graph.initializers.get(`w${i}`)!.data[0];
      if (got === 9) violation(`tensor w${i} ('${location}') was read from outside the model's folder`);
      const real = location.replace(/^\.\/a\/\/?/, 'a/').replace('in.bin', 'a/w.bin');
      const want = page ? picked.get(path.basename(real)) : values.get(real);
      if (got !== want) violation(`tensor w${i} ('${location}') holds ${got}, not its file's ${want}`);
    });
    return 'accepted';
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------------ tokenizer

type Json = Record<string, any>;

function tokenizerEdit(random: Random, json: Json): void {
  const vocab = json.model.vocab as Record<string, unknown>;
  // An earlier edit replaced the vocabulary with a non-object: nothing further to edit in it.
  if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) return;
  const tokens = Object.keys(vocab);
  const token = random.pick(tokens);
  switch (random.int(12)) {
    case 0:
      vocab[token] = random.pick([-1, 1.5, 2 ** 31, NaN, '7', null, 2 ** 24]);
      return;
    case 1:
      vocab[token] = vocab[random.pick(tokens)]!;
      return;
    case 2:
      json.model.merges[random.int(json.model.merges.length)] = random.pick(['zz qq', '__proto__ a', 'a', 5, ['x']]);
      return;
    case 3:
      delete vocab[token];
      return;
    case 4:
      json.model.type = random.pick(['Quantum', '', 5, 'WordLevel']);
      return;
    case 5:
      json.model.vocab = random.pick([5, 'v', [], null]);
      return;
    case 6: {
      let node: Json = { type: 'ByteLevel' };
      for (let i = random.int(80); i > 0; i--) node = { type: 'Sequence', pretokenizers: [node] };
      json.pre_tokenizer = node;
      return;
    }
    case 7:
      json.pre_tokenizer = {
        type: 'Split',
        pattern: { Regex: random.pick(['(a+)+$', '(a|aa)*b', '(x*)*', '\\s+(?!\\S)', '[a-z]+', '(?:ab)?c+']) },
        behavior: 'Isolated',
        invert: false,
      };
      return;
    case 8:
      json.decoder = JSON.parse(random.pick(['{"type":"ByteLevel","__proto__":{"x":1}}', '{"type":"Nope"}', '7']));
      return;
    case 9:
      json.added_tokens = [
        { id: random.pick([0, -1, 2 ** 30, 3.5]), content: random.pick(['<x>', '', 5]) },
        { id: random.pick([0, 1]), content: '<y>' },
      ];
      return;
    case 10:
      json.normalizer = random.pick([{ type: 'NFC' }, { type: 'Lowercase' }, { type: 'Sequence', normalizers: 5 }]);
      return;
    default:
      return; // Unchanged: must be accepted.
  }
}

export function runTokenizerCase(random: Random, text: string): Outcome {
  const json = JSON.parse(text) as Json;
  for (let i = 1 + random.int(2); i > 0; i--) tokenizerEdit(random, json);
  let tokenizer: TextTokenizer;
  try {
    tokenizer = TextTokenizer.fromJson(JSON.parse(JSON.stringify(json)));
  } catch (error) {
    if (isEngineError(error)) throw error;
    if (!(error instanceof TokenizerFormatError))
      violation(`refused by the library, not the check: ${(error as Error).message.slice(0, 200)}`);
    checkRefusal(error, /^(tokenizer|model|added_tokens|normalizer|pre_tokenizer|post_processor|decoder)[.[:]/);
    return 'refused';
  }
  const ids = tokenizer.encode('Hello, world! 12 + 3 = 15.\n  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!');
  if (!ids.every((id) => Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize))
    violation(`accepted, but encodes ids outside its vocabulary of ${tokenizer.vocabSize}`);
  return 'accepted';
}

// ------------------------------------------------------------------------------------------------ injection

const NASTY = ['\x1b[2J', '\x07', '\r', '\u009b', '\u202e', '\u2066', '\x00', '\t', '\n', '\ud800', '=', '+', '-', '@'];

export function runInjectionCase(random: Random): Outcome {
  let text = '';
  for (let i = random.int(8); i >= 0; i--)
    text += random.chance(0.5) ? random.pick(NASTY) : random.pick(['a', 'é', '日', '😀', ',', '"']);
  const shown = escapeTerminal(text);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/.test(shown))
    violation(`terminal text keeps a control character: ${JSON.stringify(shown)}`);
  const cell = csvText(text);
  const unquoted = cell.startsWith('"') ? cell.slice(1) : cell;
  // eslint-disable-next-line no-control-regex
  if (/^[=+\-@\t\r\n\x00]/.test(unquoted)) violation(`CSV cell can start a formula: ${JSON.stringify(cell)}`);
  if (/[,"\r\n]/.test(cell.startsWith('"') ? '' : cell)) violation(`CSV cell not quoted: ${JSON.stringify(cell)}`);
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x1f=+\-@\u009b\u202e\u2066\ud800]/.test(text) ? 'refused' : 'accepted';
}

// ------------------------------------------------------------------------------------------------ headers

function header(json: string, declared?: number): Uint8Array {
  const text = new TextEncoder().encode(json);
  const bytes = new Uint8Array(8 + text.length);
  new DataView(bytes.buffer).setUint32(0, declared ?? text.length, true);
  bytes.set(text, 8);
  return bytes;
}

export function runHeaderCase(random: Random): Outcome {
  const entries = 1 + random.int(14);
  const key = random.pick(['data_offsets', 'data\\u005foffsets', 'd\\u0061ta_offsets']);
  let json = `{${Array.from({ length: entries }, (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"${key}":[0,0]}`).join(',')}}`;
  if (random.chance(0.3)) {
    const depth = random.pick([10, 20, 1000, 100_000]);
    json = json.replace('"shape":[0]', `"shape":${'['.repeat(depth)}${']'.repeat(depth)}`);
  }
  const declared = random.chance(0.2) ? random.pick([0, 1, 2 ** 31, 2 ** 32 - 1]) : undefined;
  try {
    readSafetensors(header(json, declared), { maxTensors: 10 });
  } catch (error) {
    if (!(error instanceof SafetensorsError)) throw error;
    checkRefusal(error, /^(header|tensor|truncated)/);
    return 'refused';
  }
  if (entries > 10) violation(`${entries} tensors accepted over the limit of 10`);
  return 'accepted';
}

// ------------------------------------------------------------------------------------------------ crashes

/** A pid no process has (above Linux's pid_max of 2²²). */
const DEAD_PID = 4_194_400;

export async function runCrashCase(random: Random): Promise<Outcome> {
  const dir = mkdtempSync(path.join(tmpdir(), 'iwb-fuzz-crash-'));
  try {
    const existing = random.chance(0.7);
    const names = ['r.iwb', 's.json', ...(random.chance(0.5) ? ['sub/t.csv'] : [])];
    mkdirSync(path.join(dir, 'sub'));
    if (existing) for (const name of names) writeFileSync(path.join(dir, name), 'OLD');
    // The writer "dies" at its k-th file system call: that call and every later one wait until the case has looked
    // (as a dead process, it does nothing more), then fail, so that the writer ends and lets go of its handlers.
    const stopAt = 1 + random.int(3 * names.length + 4);
    let calls = 0;
    let bury = () => {};
    const dead = new Promise<never>((_, reject) => (bury = () => reject(new Error('the writer died'))));
    dead.catch(() => undefined);
    let died = () => {};
    const dying: OutputFs = Object.fromEntries(
      Object.entries(nodeOutputFs).map(([op, fn]) => [
        op,
        (...args: unknown[]) => {
          if (op === 'kind' || op === 'realpath' || ++calls < stopAt)
            return (fn as (...a: unknown[]) => unknown)(...args);
          died();
          return dead;
        },
      ]),
    ) as unknown as OutputFs;
    const stopped = new Promise<false>((resolve) => (died = () => resolve(false)));
    const writing = writeOutputsAtomically(
      names.map((name) => ({ flag: '--out', file: path.join(dir, name), data: 'NEW' })),
      dying,
    );
    const finished = await Promise.race([writing.then(() => true), stopped]);
    // What a dead process leaves: its files under a pid no process has (journals name them too).
    for (const sub of [dir, path.join(dir, 'sub')]) {
      for (const name of readdirSync(sub).filter((n) => n.startsWith(`.iwb-${process.pid}-`))) {
        const renamed = name.replace(`.iwb-${process.pid}-`, `.iwb-${DEAD_PID}-`);
        if (name.endsWith('.journal')) {
          const text = readFileSync(path.join(sub, name), 'utf8').replaceAll(
            `.iwb-${process.pid}-`,
            `.iwb-${DEAD_PID}-`,
          );
          writeFileSync(path.join(sub, name), text);
        }
        await rename(path.join(sub, name), path.join(sub, renamed));
      }
    }
    await recoverOutputs([dir, path.join(dir, 'sub')]);
    const contents = names.map((name) => {
      try {
        return readFileSync(path.join(dir, name), 'utf8');
      } catch {
        return null;
      }
    });
    const allNew = contents.every((c) => c === 'NEW');
    const allOld = contents.every((c) => c === (existing ? 'OLD' : null));
    if (!allNew && !allOld)
      violation(`killed at call ${stopAt}: a mix of old and new outputs ${JSON.stringify(contents)}`);
    const left = [dir, path.join(dir, 'sub')].flatMap((d) => readdirSync(d).filter((n) => n.startsWith('.iwb-')));
    if (left.length > 0) violation(`killed at call ${stopAt}: left behind ${left.join(', ')}`);
    if (finished && !allNew) violation('finished, but not every output is new');
    bury();
    await writing.catch(() => undefined);
    return allNew ? 'accepted' : 'refused';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
