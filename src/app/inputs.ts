/**
 * The model and examples of a run, from the user's files or the built-in demo, the same in the worker and the CLI.
 * Every failure names the file (and the line, field or node) at fault.
 */
import { loadDemoDataset, toExample, type DataSource, type DemoVariant, type Example } from '../data/dataset';
import { chatTemplateFrom, type ChatTemplate } from '../data/chat-template';
import { parseJsonl } from '../data/jsonl';
import { INPUT_LIMITS } from '../data/limits';
import { subsample } from '../data/demo-build';
import { describeSample, strataFields, stratifiedSample, type SampleReport } from '../data/sample';
import { TextTokenizer } from '../data/tokenizer';
import { dequantizeModel } from '../onnx/dequantize';
import { toFloat32 } from '../onnx/precision';
import { externalDataLocations, matchExternalFiles, parseModel } from '../onnx/protobuf';
import { withoutCacheBranch } from '../onnx/merged-decoder';
import type { Model } from '../onnx/ir';
import { DEFAULT_RUN_CONFIG, type RunLimits } from './config';
import { seededDemoModel } from './demo-model';
import { InputError } from './input-error';
import {
  checkFiniteWeights,
  checkIdsInput,
  checkSequences,
  contextLength,
  precheckRowLength,
  type LocatedExample,
  type SequenceOptions,
} from './input-checks';

export interface RunInputs {
  readonly model: Model;
  /** What the model is, for messages and the bundle ("train.onnx", "seeded demo GPT …"). */
  readonly modelName: string;
  readonly modelBytes: Uint8Array | null;
  /** The external data files the graph's tensors were read from (`model.onnx.data`), as given; none when inline. */
  readonly modelData?: readonly { readonly name: string; readonly bytes: Uint8Array }[];
  readonly tokenizer: TextTokenizer | undefined;
  readonly train: readonly Example[];
  readonly queries: readonly Example[];
  /** What was left out, in words; null when everything was used. */
  readonly subsample: string | null;
  /** The stratified samples taken with limits.sample (seed, sizes, strata), for the manifest; null otherwise. */
  readonly sample: InputSample | null;
}

export interface InputSample {
  readonly train: SampleReport | null;
  readonly queries: SampleReport | null;
}

export { InputError } from './input-error';

/** A model file, with the external data files its tensors name (`model.onnx.data`), matched by file name. */
export interface ModelFile {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly externalData?: readonly { readonly name: string; readonly bytes: Uint8Array }[];
  /** These bytes already parsed by readModel (the page's picked model): not parsed again. Read, never changed. */
  readonly parsed?: Model;
}

export interface UserFiles {
  readonly model: ModelFile;
  readonly tokenizer: { readonly name: string; readonly text: string } | null;
  /**
   * A model folder's tokenizer_config.json: its bos/eos/pad tokens and its `chat_template`, with which chat rows
   * are rendered (data/chat-template.ts).
   */
  readonly tokenizerConfig?: { readonly name: string; readonly text: string } | null;
  readonly train: { readonly name: string; readonly text: string };
  readonly queries: { readonly name: string; readonly text: string };
}

/**
 * How many examples a run takes (null: all of the user's rows, or the demo's default subsample), whether as the
 * first rows or as a stratified sample drawn with `seed` (the run's; default DEFAULT_RUN_CONFIG.seed), and the
 * context the rows are checked against (`--max-length`, `--truncate`; by default the model's position embedding).
 */
export type Limits = Omit<RunLimits, 'sample'> &
  SequenceOptions & { readonly sample?: boolean; readonly seed?: number };

export async function loadUserInputs(files: UserFiles, limits: Limits, signal?: AbortSignal): Promise<RunInputs> {
  const model = files.model.parsed ?? readModel(files.model.name, files.model.bytes, files.model.externalData);
  checkIdsInput(files.model.name, model);
  let tokenizer: TextTokenizer | undefined;
  const { config: tokenizerConfig, chat } = readTokenizerConfig(files.tokenizerConfig ?? null);
  if (files.tokenizer) {
    let json: unknown;
    try {
      json = JSON.parse(files.tokenizer.text);
    } catch (error) {
      throw new InputError(`${files.tokenizer.name}: not valid JSON (${(error as Error).message})`);
    }
    try {
      tokenizer = TextTokenizer.fromJson(json, tokenizerConfig);
    } catch (error) {
      throw new InputError(`${files.tokenizer.name}: ${(error as Error).message}`);
    }
  }
  const sequences = { maxLength: limits.maxLength, truncate: limits.truncate };
  const context = { limit: contextLength(model, sequences), truncate: limits.truncate ?? false };
  const sampling = limits.sample === true;
  const seed = limits.seed ?? DEFAULT_RUN_CONFIG.seed;
  const read = async (file: { name: string; text: string }, limit: number | null, role: 'train' | 'query') => {
    // A sample needs every row (its strata); the first rows need only the first `limit`.
    const all = await readExamples(file.name, file.text, tokenizer, sampling ? null : limit, signal, context, chat);
    const sample = sampling && limit !== null ? sampleExamples(all, limit, seed, role) : null;
    const rows = sample ? sample.rows : all;
    return { examples: checkSequences(files.model.name, model, rows, sequences), report: sample?.report ?? null };
  };
  const train = await read(files.train, limits.train, 'train');
  const queries = await read(files.queries, limits.queries, 'query');
  const first = [
    !sampling && limits.train !== null && `first ${train.examples.length} training rows of ${files.train.name}`,
    !sampling && limits.queries !== null && `first ${queries.examples.length} query rows of ${files.queries.name}`,
  ].filter(Boolean);
  const sampled = [
    train.report && describeSample(`training rows of ${files.train.name}`, train.report),
    queries.report && describeSample(`query rows of ${files.queries.name}`, queries.report),
  ].filter(Boolean);
  const notes = [first.length ? `Used the ${first.join(' and the ')}.` : '', ...sampled.map((s) => `${s}.`)];
  return {
    model,
    modelName: files.model.name,
    modelBytes: files.model.bytes,
    modelData: files.model.externalData ?? [],
    tokenizer,
    train: train.examples,
    queries: queries.examples,
    subsample: notes.filter(Boolean).join(' ') || null,
    sample: sampling ? { train: train.report, queries: queries.report } : null,
  };
}

function sampleExamples(rows: readonly LocatedExample[], count: number, seed: number, role: 'train' | 'query') {
  const examples = rows.map((r) => r.example);
  const { rows: chosen, report } = stratifiedSample(examples, count, seed, strataFields(examples, role));
  const keep = new Set(chosen);
  return { rows: rows.filter((r) => keep.has(r.example)), report };
}

/**
 * Parses a model (its external data from `externalData`, matched by full location), casts float16/bfloat16 to float32
 * (onnx/precision.ts says why) and dequantizes quantized linear layers (onnx/dequantize.ts; docs/models.md).
 */
export function readModel(name: string, bytes: Uint8Array, externalData: ModelFile['externalData'] = []): Model {
  const total = externalData.reduce((sum, file) => sum + file.bytes.length, bytes.length);
  if (total > INPUT_LIMITS.model) {
    // The gradient graph reaches onnxruntime as one protobuf with every weight inline.
    throw new InputError(
      `${name}: ${total} bytes with its external data, over the ${INPUT_LIMITS.model} bytes one ONNX protobuf can ` +
        'hold; models over 2 GB are not supported yet',
    );
  }
  try {
    // Keyed by each tensor's full location (a/w.bin and b/w.bin are two files), not by the last path segment.
    const external =
      externalData.length > 0 ? matchExternalFiles(externalDataLocations(bytes), externalData) : undefined;
    // A merged decoder (an If over the cache) becomes its no-cache branch (onnx/merged-decoder.ts); quantized linears
    // become float32 MatMuls with their dequantized weights (onnx/dequantize.ts).
    const model = dequantizeModel(toFloat32(withoutCacheBranch(parseModel(bytes, external))));
    checkFiniteWeights(name, model);
    return model;
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`${name}: ${(error as Error).message}`);
  }
}

/** A tokenizer_config.json's settings (bos/eos/pad tokens) and chat template; none without the file. */
function readTokenizerConfig(file: { readonly name: string; readonly text: string } | null): {
  config: Record<string, unknown>;
  chat: ChatTemplate | null;
} {
  if (!file) return { config: {}, chat: null };
  let json: unknown;
  try {
    json = JSON.parse(file.text);
  } catch (error) {
    throw new InputError(`${file.name}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new InputError(`${file.name}: not a JSON object`);
  const config = json as Record<string, unknown>;
  try {
    return { config, chat: chatTemplateFrom(file.name, config) };
  } catch (error) {
    throw new InputError((error as Error).message);
  }
}

async function readExamples(
  file: string,
  text: string,
  tokenizer: TextTokenizer | undefined,
  limit: number | null,
  signal: AbortSignal | undefined,
  context?: { readonly limit: number | undefined; readonly truncate: boolean },
  chat: ChatTemplate | null = null,
): Promise<LocatedExample[]> {
  const examples: LocatedExample[] = [];
  for await (const row of parseJsonl(chunks(text), { file, vocabSize: tokenizer?.vocabSize, signal })) {
    // A templated chat row's length is known once rendered; checkSequences checks it then.
    const templated = chat !== null && row.kind === 'chat';
    if (context && !templated)
      precheckRowLength(`${file}:${row.line}`, row, tokenizer, context.limit, context.truncate);
    try {
      examples.push({ example: toExample(row, tokenizer, chat), where: `${file}:${row.line}` });
    } catch (error) {
      throw new InputError(`${file}:${row.line}: ${(error as Error).message}`);
    }
    if (limit !== null && examples.length >= limit) break;
  }
  if (examples.length === 0) throw new InputError(`${file}: has no rows`);
  return examples;
}

async function* chunks(text: string): AsyncGenerator<string> {
  yield text;
}

/**
 * How much of the demo a run uses by default: it must finish in a few minutes on the CPU backend of a 2-core
 * machine. Stratified by domain (training) and benchmark (queries), drawn with the data's own seeded subsampler.
 */
export const DEMO_DEFAULT_LIMITS: Readonly<Record<DemoVariant, { readonly train: number; readonly queries: number }>> =
  {
    // Measured on the trained demo model, 2-core machine, no load: 64 × 8 took 5 min 52 s, dominated by self-influence.
    demo: { train: 32, queries: 4 },
    after: { train: 32, queries: 4 },
    micro: { train: 16, queries: 4 },
  };

export interface DemoFiles {
  readonly data: DataSource;
  /**
   * The variant's trained model's bytes (DEMO_MODEL_PATHS); without it (and for 'micro', which has no trained model)
   * a seeded model of the same family runs.
   */
  readonly trainedModel: Uint8Array | null;
}

/**
 * Where each variant's trained model lives under public/ (scripts/train-demo.ts writes them; the micro demo has none).
 * The after-answer variant's model is the demo's family and training settings, trained on its own data.
 */
export const DEMO_MODEL_PATHS: Readonly<Record<DemoVariant, string | null>> = {
  demo: 'models/demo/model.onnx',
  after: 'models/demo-after/model.onnx',
  micro: null,
};
export const DEMO_MODEL_PATH = DEMO_MODEL_PATHS.demo!;

export async function loadDemoInputs(
  files: DemoFiles,
  variant: DemoVariant,
  limits: Limits,
  signal?: AbortSignal,
): Promise<RunInputs> {
  const demo = await loadDemoDataset(files.data, variant, { signal });
  const seed = limits.seed ?? DEFAULT_RUN_CONFIG.seed;
  const want = {
    train: limits.train ?? DEMO_DEFAULT_LIMITS[variant].train,
    queries: limits.queries ?? DEMO_DEFAULT_LIMITS[variant].queries,
  };
  // Asked for a sample: the same stratified sample as for user files (domain × difficulty, the run's seed);
  // otherwise the demo's own default subsample: training examples an equal share per domain × difficulty cell (so
  // each cell of the cross-domain table gets as many examples as the run affords: the fewest in a cell set how much
  // of the table can be resolved), queries an equal share per domain.
  const sampled =
    limits.sample === true
      ? {
          train: stratifiedSample(demo.train, want.train, seed, strataFields(demo.train, 'train')),
          queries: stratifiedSample(demo.queries, want.queries, seed, strataFields(demo.queries, 'query')),
        }
      : null;
  const train = sampled?.train.rows ?? stratified(demo.train, demoCell, want.train);
  const queries = (sampled?.queries.rows ?? stratified(demo.queries, (e) => e.domain ?? '', want.queries)).map(
    demoBenchmark,
  );
  const maxLength = Math.max(...[...train, ...queries].map((e) => e.inputIds.length));
  const modelPath = DEMO_MODEL_PATHS[variant];
  const trained = modelPath === null ? null : files.trainedModel;
  const seeded = trained === null ? seededDemoModel(variant, demo.tokenizer.vocabSize, maxLength) : null;
  const model = seeded ? seeded.model : readModel(modelPath!, trained!);
  const left = [
    train.length < demo.train.length && `${train.length} of ${demo.train.length} training examples`,
    queries.length < demo.queries.length && `${queries.length} of ${demo.queries.length} queries`,
  ].filter(Boolean);
  const modelNote = seeded ? ` No trained model for this demo: ${seeded.description}.` : '';
  return {
    model,
    modelName: seeded ? seeded.description : `trained demo model (public/${modelPath!})`,
    modelBytes: trained,
    tokenizer: demo.tokenizer,
    train,
    queries,
    subsample:
      (sampled
        ? [
            describeSample('demo training examples', sampled.train.report),
            describeSample('demo queries', sampled.queries.report),
          ]
            .map((line) => `${line}.`)
            .join(' ')
        : left.length
          ? `Demo subsample: ${left.join(' and ')}, stratified by domain (training examples: by domain × difficulty; seeded).`
          : '') + modelNote || null,
    sample: sampled ? { train: sampled.train.report, queries: sampled.queries.report } : null,
  };
}

/**
 * The demo's queries are GSM8K and MBPP test problems: each is given its benchmark's name the way a user's JSONL
 * row carries it (a `benchmark` field), so the page and CLI name the benchmarks, not the domains. Named after the
 * rows are chosen, so the demo's subsample and `--sample` draw the same queries as before.
 */
const DEMO_BENCHMARKS: Readonly<Record<string, string>> = { math: 'GSM8K', code: 'MBPP' };

function demoBenchmark(query: Example): Example {
  const benchmark = DEMO_BENCHMARKS[query.domain ?? ''];
  return benchmark && query.extra.benchmark === undefined ? { ...query, extra: { ...query.extra, benchmark } } : query;
}

/** `count` examples spread evenly over the groups (seeded, stable), in the data's order. */
/** The cross-domain table's column of a demo training example: its domain and difficulty. */
function demoCell(example: Example): string {
  return `${example.domain ?? ''} / ${example.difficulty ?? ''}`;
}

function stratified(examples: readonly Example[], group: (e: Example) => string, count: number): Example[] {
  if (count >= examples.length) return [...examples];
  const groups = new Map<string, Example[]>();
  for (const e of examples) groups.set(group(e), [...(groups.get(group(e)) ?? []), e]);
  const keys = [...groups.keys()];
  // Equal shares, one row per group per round in key order; a group that runs out leaves its share to the others
  // (with enough rows everywhere: ⌊count / groups⌋ each, one more for the first count mod groups).
  const shares = keys.map(() => 0);
  for (let left = count; left > 0;) {
    let given = 0;
    keys.forEach((key, i) => {
      if (left > 0 && shares[i]! < groups.get(key)!.length) {
        shares[i]!++;
        left--;
        given++;
      }
    });
    if (given === 0) break;
  }
  const chosen = new Set<Example>();
  keys.forEach((key, i) => {
    for (const e of subsample(groups.get(key)!, shares[i]!, 20250525)) chosen.add(e);
  });
  return examples.filter((e) => chosen.has(e));
}
