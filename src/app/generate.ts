/**
 * Attribute what the model says: a typed prompt's continuation, generated with onnxruntime from the model's own
 * forward graph, becomes a query whose response is exactly the generated tokens (not a re-tokenisation of their
 * text), so the attribution explains those tokens. At each step the whole sequence so far is run again (no KV cache:
 * the graphs the workbench builds and imports are fed without past key values, see onnx/feeds.ts) and the next token
 * is appended: greedy, the most likely (ties: the lowest id); or, with a temperature T > 0, drawn from
 * softmax(logits / T) by inverse CDF with the uniform counterUniform(seed, 0, step), so a seed gives the same answer
 * on every machine. Generation stops at the end-of-sequence token or `maxNewTokens`. Cost: O(maxNewTokens) forward
 * passes of growing length; fine for the short answers attributed here.
 *
 * Two responses to one prompt (the model's and a reference) are compared by the difference of their influence per
 * training example: I(n, A) − I(n, B) > 0 means training example n pushes toward A rather than B.
 */
import { toExample, type Example } from '../data/dataset';
import type { TextTokenizer } from '../data/tokenizer';
import { sequenceFeeds } from '../onnx/feeds';
import { counterUniform } from '../onnx/gradient-graph';
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
  /** 0 or absent: greedy. T > 0: sample from softmax(logits / T) with `seed`. */
  readonly temperature?: number;
  readonly seed?: number;
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

/**
 * The token drawn from softmax(logits[from, from + size) / temperature) for the uniform u ∈ [0, 1): the first index
 * whose cumulative probability exceeds u (float64, max-subtracted; the last index if rounding leaves u above the sum).
 */
export function sampleToken(
  logits: ArrayLike<number>,
  from: number,
  size: number,
  temperature: number,
  u: number,
): number {
  let top = -Infinity;
  for (let v = 0; v < size; v++) top = Math.max(top, logits[from + v]!);
  const weights = new Float64Array(size);
  let total = 0;
  for (let v = 0; v < size; v++) total += weights[v] = Math.exp((logits[from + v]! - top) / temperature);
  let cumulative = 0;
  for (let v = 0; v < size; v++) {
    cumulative += weights[v]! / total;
    if (u < cumulative) return v;
  }
  return size - 1;
}

/** Greedy (or seeded sampled) continuation of `prompt` by `model` (its forward graph: ids/mask in, logits out). */
export async function generateGreedy(
  model: Model,
  tokenizer: TextTokenizer,
  prompt: string,
  options: GenerateOptions,
): Promise<Generation> {
  const temperature = options.temperature ?? 0;
  if (!(Number.isFinite(temperature) && temperature >= 0))
    throw new InputError(`temperature must be a number ≥ 0 (0: greedy), got ${temperature}`);
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
      const at = (sequence.length - 1) * vocab;
      const values = logits.data as Float32Array;
      const next =
        temperature > 0
          ? sampleToken(values, at, vocab, temperature, counterUniform(options.seed ?? 0, 0, generated.length))
          : argmax(values, at, vocab);
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
