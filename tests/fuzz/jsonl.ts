/**
 * JSONL fuzz cases through the CLI's input-validation layer, in the CLI's order: line limit, strict UTF-8, row
 * schema, tokenization, then the checks against the model (vocabulary, context, `--truncate`). The engine is not run.
 */
import { readFileSync } from 'node:fs';
import { toExample } from '../../src/data/dataset';
import { parseJsonl } from '../../src/data/jsonl';
import { checkLineLengths, decodeUtf8Strict, InputLimitError } from '../../src/data/limits';
import { DataFormatError, ROW_FIELDS } from '../../src/data/schema';
import { TextTokenizer } from '../../src/data/tokenizer';
import type { Model } from '../../src/onnx/ir';
import { checkSequences, precheckRowLength, type LocatedExample } from '../../src/app/input-checks';
import { InputError } from '../../src/app/input-error';
import { seededDemoModel } from '../../src/app/demo-model';
import { checkRefusal, damageBytes, isEngineError, ODD_VALUES, violation, type Outcome, type Random } from './classify';

const CONTEXT = 128;
const VOCAB = 512;
/** Smaller than the CLI's 16 MiB so that the fuzz reaches the line limit without huge inputs. */
const LINE_LIMIT = 4096;
const FILE = 'fuzz.jsonl';

export interface JsonlSetup {
  readonly tokenizer: TextTokenizer;
  readonly model: Model;
  readonly lines: readonly string[];
}

export function jsonlSetup(): JsonlSetup {
  const tokenizer = TextTokenizer.fromJson(JSON.parse(readFileSync('public/data/micro/tokenizer.json', 'utf8')));
  const model = seededDemoModel('micro', VOCAB, CONTEXT).model;
  const lines = [
    ...readFileSync('public/data/micro/train.jsonl', 'utf8').split('\n').filter(Boolean).slice(0, 6),
    '{"input_ids":[5,6,7],"prompt_len":0}',
    '{"id":"p1","input_ids":[1,20,30,40,2],"prompt_len":2,"segments":[{"label":"a","start":0,"end":3}]}',
    '{"messages":[{"role":"user","content":"2+2?"},{"role":"assistant","content":"4"}],"domain":"math"}',
    '{"id":7,"prompt":"","response":"x","difficulty":3}',
  ];
  return { tokenizer, model, lines };
}

const FIELDS = [...ROW_FIELDS, 'extra'];

function mutateRow(random: Random, line: string): string {
  let row: Record<string, unknown>;
  try {
    row = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  switch (random.int(5)) {
    case 0:
      row[random.pick(FIELDS)] = random.pick(ODD_VALUES);
      break;
    case 1:
      delete row[random.pick(Object.keys(row))];
      break;
    case 2:
      row.input_ids = Array.from({ length: 1 + random.int(200) }, () => random.int(VOCAB + 20));
      row.prompt_len = random.int(5) - 1;
      delete row.prompt;
      delete row.response;
      delete row.messages;
      break;
    case 3:
      row.segments = [{ label: random.pick(['a', '', 5]), start: random.int(40) - 5, end: random.int(60) - 5 }];
      break;
    default:
      if (typeof row.response === 'string') row.response = row.response.repeat(1 + random.int(6));
      if (typeof row.prompt === 'string') row.prompt = random.pick(['', row.prompt, 'é😀\u0000\r', '\ud83d']);
  }
  return JSON.stringify(row);
}

/** A small file from the base rows, damaged at the JSON level, the byte level, or both. */
export function jsonlCase(random: Random, setup: JsonlSetup): { bytes: Uint8Array; truncate: boolean } {
  const rows = Array.from({ length: 1 + random.int(4) }, () => random.pick(setup.lines));
  const edited = rows.map((line) => (random.chance(0.6) ? mutateRow(random, line) : line));
  if (random.chance(0.1)) edited.push(edited[0]!);
  let text = edited.join(random.pick(['\n', '\r\n', '\n\n'])) + random.pick(['', '\n']);
  if (random.chance(0.05)) text = '\ufeff' + text;
  let bytes: Uint8Array = new TextEncoder().encode(text);
  if (random.chance(0.35)) bytes = damageBytes(random, bytes);
  if (random.chance(0.05))
    bytes = Uint8Array.from([...bytes, ...new TextEncoder().encode('"' + 'y'.repeat(LINE_LIMIT) + '"\n')]);
  return { bytes, truncate: random.chance(0.3) };
}

/** Runs one file through the layer; returns the outcome or throws FuzzViolation. */
export async function runJsonlCase(setup: JsonlSetup, bytes: Uint8Array, truncate: boolean): Promise<Outcome> {
  const located: LocatedExample[] = [];
  let examples;
  try {
    checkLineLengths(FILE, bytes, LINE_LIMIT);
    const text = decodeUtf8Strict(FILE, bytes);
    async function* chunks(): AsyncGenerator<string> {
      yield text;
    }
    for await (const row of parseJsonl(chunks(), { file: FILE, vocabSize: setup.tokenizer.vocabSize })) {
      precheckRowLength(`${FILE}:${row.line}`, row, setup.tokenizer, CONTEXT, truncate);
      try {
        located.push({ example: toExample(row, setup.tokenizer), where: `${FILE}:${row.line}` });
      } catch (error) {
        if (isEngineError(error)) throw error;
        throw new InputError(`${FILE}:${row.line}: ${(error as Error).message}`);
      }
    }
    if (located.length === 0) throw new InputError(`${FILE}: has no rows`);
    examples = checkSequences('model.onnx', setup.model, located, { truncate });
  } catch (error) {
    if (error instanceof DataFormatError || error instanceof InputError || error instanceof InputLimitError) {
      checkRefusal(error, FILE);
      return 'refused';
    }
    throw error;
  }
  for (const e of examples) {
    const length = e.inputIds.length;
    if (!(e.promptLen >= 1 && e.promptLen < length))
      violation(`accepted "${e.id}" with promptLen ${e.promptLen} of ${length}`);
    if (length > CONTEXT) violation(`accepted "${e.id}" with ${length} tokens, over the context ${CONTEXT}`);
    if (e.inputIds.some((id) => id < 0 || id >= VOCAB))
      violation(`accepted "${e.id}" with a token id outside the vocabulary`);
    if (e.segments.some((s) => s.start > s.end || s.end > length))
      violation(`accepted "${e.id}" with a segment outside its tokens`);
    if (e.tokenCategories.length !== length)
      violation(`accepted "${e.id}" with ${e.tokenCategories.length} categories for ${length} tokens`);
  }
  return 'accepted';
}
