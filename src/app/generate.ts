/**
 * Attribute what the model says: a typed prompt's continuation, generated with onnxruntime from the model's own
 * forward graph, becomes a query whose response is exactly the generated tokens (not a re-tokenisation of their
 * text), so the attribution explains those tokens. Greedy decoding: at each step the whole sequence so far is run
 * again (no KV cache: the graphs the workbench builds and imports are fed without past key values, see onnx/feeds.ts)
 * and the most likely next token is appended (ties: the lowest id), until the end-of-sequence token or
 * `maxNewTokens`. Cost: O(maxNewTokens) forward passes of growing length; fine for the short answers attributed here.
 *
 * Two responses to one prompt (the model's and a reference) are compared by the difference of their influence per
 * training example: I(n, A) − I(n, B) > 0 means training example n pushes toward A rather than B.
 */
import { toExample, type Example } from '../data/dataset';
import type { TextTokenizer } from '../data/tokenizer';
import { sequenceFeeds } from '../onnx/feeds';
import type { Model } from '../onnx/ir';
import { ModelSession } from '../onnx/runtime';
import { InputError } from './input-error';

export interface Generation {
  /** bos (when the tokenizer has one) + the prompt's tokens: what the model was given. */
  readonly promptIds: readonly number[];
  /** The generated tokens, the end-of-sequence token included when the model produced it. */
  readonly generatedIds: readonly number[];
  /** Why generation stopped. */
  readonly stop: 'eos' | 'max-new-tokens' | 'context';
  readonly text: string;
}

export interface GenerateOptions {
  readonly maxNewTokens: number;
  /** The model's context; generation stops there. */
  readonly maxLength?: number;
  /** Called with each new token as it is chosen (the CLI prints it as it comes). */
  readonly onToken?: (id: number, text: string) => void;
  readonly signal?: AbortSignal;
}

/** The prompt's ids as a query row starts: [bos] prompt, encoded as toExample encodes a text row's prompt. */
export function promptIds(tokenizer: TextTokenizer, prompt: string): number[] {
  const bos = tokenizer.bosId === undefined ? [] : [tokenizer.bosId];
  return [...bos, ...tokenizer.encodeWithOffsets(prompt).ids];
}

/** Index of the largest value in logits[from, from + size) (the lowest index among equals). */
export function argmax(logits: ArrayLike<number>, from: number, size: number): number {
  let best = 0;
  for (let v = 1; v < size; v++) if (logits[from + v]! > logits[from + best]!) best = v;
  return best;
}

/** Greedy continuation of `prompt` by `model` (the forward graph: inputs ids/mask, first output logits). */
export async function generateGreedy(
  model: Model,
  tokenizer: TextTokenizer,
  prompt: string,
  options: GenerateOptions,
): Promise<Generation> {
  if (!(Number.isInteger(options.maxNewTokens) && options.maxNewTokens >= 1))
    throw new InputError(`max new tokens must be a positive integer, got ${options.maxNewTokens}`);
  const ids = promptIds(tokenizer, prompt);
  if (ids.length === 0) throw new InputError('the prompt to generate from is empty and the tokenizer has no bos token');
  const logitsName = model.graph.outputs.find((o) => o.name === 'logits')?.name ?? model.graph.outputs[0]?.name;
  if (logitsName === undefined) throw new InputError('the model has no outputs to read logits from');
  const session = await ModelSession.create(model);
  const generated: number[] = [];
  let stop: Generation['stop'] = 'max-new-tokens';
  try {
    while (generated.length < options.maxNewTokens) {
      options.signal?.throwIfAborted();
      const sequence = [...ids, ...generated];
      if (options.maxLength !== undefined && sequence.length >= options.maxLength) {
        stop = 'context';
        break;
      }
      const dims = [1, sequence.length] as const;
      const feeds = sequenceFeeds(
        model.graph.inputs,
        BigInt64Array.from(sequence, BigInt),
        new BigInt64Array(sequence.length).fill(1n),
        dims,
      );
      const outputs = await session.run(feeds);
      const logits = outputs[logitsName]!;
      const vocab = logits.dims[logits.dims.length - 1]!;
      const next = argmax(logits.data as Float32Array, (sequence.length - 1) * vocab, vocab);
      for (const output of Object.values(outputs)) output.dispose();
      generated.push(next);
      options.onToken?.(next, tokenizer.decode([next]));
      if (next === tokenizer.eosId) {
        stop = 'eos';
        break;
      }
    }
  } finally {
    await session.release();
  }
  const shown = generated.filter((id) => id !== tokenizer.eosId);
  return { promptIds: ids, generatedIds: generated, stop, text: tokenizer.decode(shown) };
}

/** The generation as a query: its response is the generated tokens themselves (the eos included when produced). */
export function generatedQuery(
  generation: Generation,
  prompt: string,
  tokenizer: TextTokenizer,
  id = 'generated',
): Example {
  const example = toExample(
    {
      kind: 'tokens',
      id,
      line: 0,
      inputIds: [...generation.promptIds, ...generation.generatedIds],
      promptLen: generation.promptIds.length,
      extra: { generated: true, stop: generation.stop },
    },
    tokenizer,
  );
  return { ...example, prompt, response: generation.text };
}

export interface Comparison {
  /** I(n, A) − I(n, B) per training example [N]. */
  readonly difference: Float64Array;
  /** Training indices, most toward A first (largest difference), and most toward B first (smallest). */
  readonly towardA: readonly number[];
  readonly towardB: readonly number[];
}

/** Per training example, influence on query a minus influence on query b (influence is [Q × N] row-major). */
export function compareQueries(influence: Float64Array, trainSize: number, a: number, b: number, k = 10): Comparison {
  const difference = Float64Array.from(
    { length: trainSize },
    (_, n) => influence[a * trainSize + n]! - influence[b * trainSize + n]!,
  );
  const order = Array.from({ length: trainSize }, (_, n) => n).sort((x, y) => difference[y]! - difference[x]! || x - y);
  return {
    difference,
    towardA: order.filter((n) => difference[n]! > 0).slice(0, k),
    towardB: order
      .filter((n) => difference[n]! < 0)
      .reverse()
      .slice(0, k),
  };
}
