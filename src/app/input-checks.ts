/**
 * Checks of tokenized examples against the model, before onnxruntime sees them: a token id outside the vocabulary
 * or a sequence longer than the context fails deep inside onnxruntime with a node name (`/wpe/Gather`) and no file;
 * here it is refused with the file:line of the first offending row — or, with `truncate`, cut to the context.
 */
import type { Example } from '../data/dataset';
import type { DataRow } from '../data/schema';
import type { TextTokenizer } from '../data/tokenizer';
import type { Model } from '../onnx/ir';
import { DataType } from '../onnx/ir';
import { findEmbeddings } from '../onnx/structure';
import { InputError } from './input-error';

/** An example and where it came from (`train.jsonl:17`). */
export interface LocatedExample {
  readonly example: Example;
  readonly where: string;
}

export interface SequenceOptions {
  /** The context length; undefined: the position embedding's size, if the graph has one. */
  readonly maxLength?: number;
  readonly truncate?: boolean;
}

/** The model's token ids must be integers: a float input_ids would round ids silently. */
export function checkIdsInput(modelName: string, model: Model): void {
  const ids = model.graph.inputs.find((i) => i.name === 'input_ids');
  if (ids && ids.elemType !== DataType.INT64 && ids.elemType !== DataType.INT32) {
    throw new InputError(
      `${modelName}: graph input "input_ids" has element type ${DataType[ids.elemType] ?? ids.elemType}; ` +
        'token ids must be int64 (or int32)',
    );
  }
}

/** Ops whose initializer inputs are weights: a non-finite value there poisons every gradient and score. */
const WEIGHT_OPS = new Set(['MatMul', 'Gemm', 'Gather', 'Conv', 'LayerNormalization', 'Add', 'Mul']);

/**
 * Weights must be finite, checked on load (after float16/bfloat16 → float32) and named: a NaN anywhere, or ±∞ in an
 * initializer a weight op reads, would otherwise surface minutes later as "NaN in ⟨P_q, G_q⟩" with no file or
 * tensor. (±∞ elsewhere is left alone: exporters write −∞ into attention-mask constants.)
 */
export function checkFiniteWeights(modelName: string, model: Model): void {
  const weights = new Set<string>();
  for (const node of model.graph.nodes) if (WEIGHT_OPS.has(node.opType)) node.inputs.forEach((i) => weights.add(i));
  for (const [name, init] of model.graph.initializers) {
    if (init.dataType !== DataType.FLOAT && init.dataType !== DataType.DOUBLE) continue;
    const data = init.data as Float32Array | Float64Array;
    const isWeight = weights.has(name);
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (Number.isNaN(v) || (isWeight && !Number.isFinite(v))) {
        throw new InputError(
          `${modelName}: initializer "${name}" holds ${v} at element ${i} (dims [${init.dims.join(', ')}]); ` +
            'its weights must be finite numbers',
        );
      }
    }
  }
}

/** The context rows are checked against: `--max-length`, else the position embedding's size; undefined if neither. */
export function contextLength(model: Model, options: SequenceOptions): number | undefined {
  return options.maxLength ?? findEmbeddings(model.graph).position?.rows;
}

/**
 * Before tokenizing a text row: a byte-level tokenizer needs at least ⌈bytes / maxTokenBytes⌉ tokens, so a 10 MB
 * response on a 384-token model is refused at once instead of after a minute of tokenizing. (With `truncate` the
 * row is tokenized and cut as usual.)
 */
export function precheckRowLength(
  where: string,
  row: DataRow,
  tokenizer: TextTokenizer | undefined,
  limit: number | undefined,
  truncate: boolean,
): void {
  if (limit === undefined || truncate || row.kind === 'tokens' || !tokenizer?.maxTokenBytes) return;
  const bytes = new TextEncoder().encode(row.prompt).length + new TextEncoder().encode(row.response).length;
  const atLeast = Math.ceil(bytes / tokenizer.maxTokenBytes);
  if (atLeast > limit) {
    throw new InputError(
      `${where}: at least ${atLeast} tokens (${bytes} bytes of text), longer than the context of ${limit}; ` +
        'shorten the row or pass --truncate',
    );
  }
}

/** Refuses (or truncates) rows the model cannot take; returns the examples to run, in order. */
export function checkSequences(
  modelName: string,
  model: Model,
  rows: readonly LocatedExample[],
  options: SequenceOptions,
): Example[] {
  const { token, position } = findEmbeddings(model.graph);
  if (options.maxLength !== undefined && position && options.maxLength > position.rows) {
    // Longer rows would index past the position embedding inside onnxruntime ("idx=384" from a Gather).
    throw new InputError(
      `--max-length ${options.maxLength} is longer than ${modelName}'s context: its position embedding ` +
        `"${position.weight}" has ${position.rows} positions; give at most ${position.rows}`,
    );
  }
  const limit = contextLength(model, options);
  const source =
    options.maxLength !== undefined ? '--max-length' : `the position embedding "${position?.weight}" of ${modelName}`;
  return rows.map(({ example, where }) => {
    if (token) {
      const bad = example.inputIds.findIndex((id) => id >= token.rows);
      if (bad >= 0) {
        throw new InputError(
          `${where}: token id ${example.inputIds[bad]} at position ${bad} is outside the vocabulary ` +
            `of ${token.rows} of ${modelName} ` +
            `(embedding "${token.weight}", the Gather fed by input_ids); does the tokenizer belong to this model?`,
        );
      }
    }
    if (example.inputIds.length - example.promptLen < 1) {
      throw new InputError(
        `${where}: ${example.inputIds.length} tokens with prompt length ${example.promptLen}: ` +
          'no response token to score',
      );
    }
    if (limit === undefined || example.inputIds.length <= limit) return example;
    if (!options.truncate) {
      throw new InputError(
        `${where}: ${example.inputIds.length} tokens, longer than the context of ${limit} (${source}); ` +
          'shorten the row or pass --truncate',
      );
    }
    if (example.promptLen >= limit) {
      throw new InputError(
        `${where}: the prompt alone is ${example.promptLen} tokens, ` +
          `so truncating to the context of ${limit} leaves no response`,
      );
    }
    return truncated(example, limit);
  });
}

function truncated(example: Example, length: number): Example {
  return {
    ...example,
    inputIds: example.inputIds.slice(0, length),
    tokenCategories: example.tokenCategories.slice(0, length),
    segments: example.segments.filter((s) => s.start < length).map((s) => ({ ...s, end: Math.min(s.end, length) })),
    // Measured spans past the cut are cut too (app/measure.ts refuses a query left with none).
    ...(example.measure && { measure: clipSpans(example.measure, length) }),
    ...(example.finalAnswer && { finalAnswer: clipSpans(example.finalAnswer, length) }),
    ...(example.assistantTurns && { assistantTurns: clipSpans(example.assistantTurns, length) }),
    extra: { ...example.extra, truncated_from: example.inputIds.length },
  };
}

function clipSpans(spans: readonly { start: number; end: number }[], length: number): { start: number; end: number }[] {
  return spans.filter((s) => s.start < length).map((s) => ({ start: s.start, end: Math.min(s.end, length) }));
}
