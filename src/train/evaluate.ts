/**
 * Held-out evaluation of a causal LM: mean loss per response token, by domain, and the unigram baseline it must
 * beat (the response-token frequencies of the training set, add-one smoothed).
 */
import type { Example } from '../data/dataset';
import type { Model } from '../onnx/ir';
import { ModelSession, padBatch, type SessionOptions } from '../onnx/runtime';

export interface DomainLoss {
  /** Mean negative log-likelihood per response token (nats), by domain and over all. */
  readonly byDomain: Record<string, number>;
  readonly all: number;
  readonly tokens: number;
}

export async function heldOutLoss(forward: Model, examples: readonly Example[], batchSize = 8): Promise<DomainLoss> {
  const session = await ModelSession.create(forward);
  const sums = new Map<string, { loss: number; tokens: number }>();
  try {
    for (let start = 0; start < examples.length; start += batchSize) {
      const batch = examples.slice(start, start + batchSize);
      const padded = padBatch(batch.map((e) => Array.from(e.inputIds)));
      const out = await session.run({ input_ids: padded.inputIds, attention_mask: padded.attentionMask });
      const logits = out.logits!;
      const [, width, vocab] = logits.dims as [number, number, number];
      const values = logits.data as Float32Array;
      batch.forEach((example, row) => {
        const entry = sums.get(example.domain ?? 'all') ?? { loss: 0, tokens: 0 };
        for (let t = example.promptLen - 1; t < example.inputIds.length - 1; t++) {
          const offset = (row * width + t) * vocab;
          entry.loss -= logSoftmaxAt(values, offset, vocab, example.inputIds[t + 1]!);
          entry.tokens += 1;
        }
        sums.set(example.domain ?? 'all', entry);
      });
    }
  } finally {
    await session.release();
  }
  return summarise(sums);
}

export function unigramBaseline(train: readonly Example[], heldOut: readonly Example[], vocabSize: number): DomainLoss {
  const counts = new Float64Array(vocabSize).fill(1);
  let total = vocabSize;
  for (const e of train) {
    for (let t = e.promptLen; t < e.inputIds.length; t++) {
      counts[e.inputIds[t]!]! += 1;
      total += 1;
    }
  }
  const sums = new Map<string, { loss: number; tokens: number }>();
  for (const e of heldOut) {
    const entry = sums.get(e.domain ?? 'all') ?? { loss: 0, tokens: 0 };
    for (let t = e.promptLen; t < e.inputIds.length; t++) {
      entry.loss -= Math.log(counts[e.inputIds[t]!]! / total);
      entry.tokens += 1;
    }
    sums.set(e.domain ?? 'all', entry);
  }
  return summarise(sums);
}

/**
 * Mean log-likelihood of each example's response tokens (the paper's measurement f of a query), in the order given.
 * Position t predicts token t+1; the response is [promptLen, length), eos included.
 */
export async function responseLogLikelihoods(
  forward: Model,
  examples: readonly { readonly inputIds: ArrayLike<number>; readonly promptLen: number }[],
  batchSize = 8,
  session: SessionOptions = {},
): Promise<Float64Array> {
  return (await responseScores(forward, examples, batchSize, session)).logLikelihood;
}

export interface ResponseScores {
  /** Mean log-likelihood per response token (nats). */
  readonly logLikelihood: Float64Array;
  /**
   * 1 where the argmax at every response position, given the reference prefix, is the reference token: exactly the
   * cases in which greedy decoding from the prompt reproduces the whole reference response, eos included.
   */
  readonly exactMatch: Uint8Array;
}

/** Both held-out measurements of each example's reference response from one forward pass per batch. */
export async function responseScores(
  forward: Model,
  examples: readonly { readonly inputIds: ArrayLike<number>; readonly promptLen: number }[],
  batchSize = 8,
  options: SessionOptions = {},
): Promise<ResponseScores> {
  const session = await ModelSession.create(forward, options);
  const logLikelihood = new Float64Array(examples.length);
  const exactMatch = new Uint8Array(examples.length);
  try {
    for (let start = 0; start < examples.length; start += batchSize) {
      const batch = examples.slice(start, start + batchSize);
      const padded = padBatch(batch.map((e) => Array.from(e.inputIds)));
      const logits = (await session.run({ input_ids: padded.inputIds, attention_mask: padded.attentionMask })).logits!;
      const [, width, vocab] = logits.dims as [number, number, number];
      const values = logits.data as Float32Array;
      batch.forEach((example, row) => {
        let sum = 0;
        let greedy = 1;
        for (let t = example.promptLen - 1; t < example.inputIds.length - 1; t++) {
          const offset = (row * width + t) * vocab;
          sum += logSoftmaxAt(values, offset, vocab, example.inputIds[t + 1]!);
          if (argmaxAt(values, offset, vocab) !== example.inputIds[t + 1]) greedy = 0;
        }
        logLikelihood[start + row] = sum / (example.inputIds.length - example.promptLen);
        exactMatch[start + row] = greedy;
      });
    }
  } finally {
    await session.release();
  }
  return { logLikelihood, exactMatch };
}

/** The first index of the largest value (greedy decoding's choice). */
function argmaxAt(values: Float32Array, offset: number, size: number): number {
  let best = 0;
  for (let i = 1; i < size; i++) if (values[offset + i]! > values[offset + best]!) best = i;
  return best;
}

function logSoftmaxAt(values: Float32Array, offset: number, size: number, index: number): number {
  let max = -Infinity;
  for (let i = 0; i < size; i++) max = Math.max(max, values[offset + i]!);
  let sum = 0;
  for (let i = 0; i < size; i++) sum += Math.exp(values[offset + i]! - max);
  return values[offset + index]! - max - Math.log(sum);
}

function summarise(sums: Map<string, { loss: number; tokens: number }>): DomainLoss {
  const byDomain: Record<string, number> = {};
  let loss = 0;
  let tokens = 0;
  for (const [domain, s] of [...sums].sort(([a], [b]) => a.localeCompare(b))) {
    byDomain[domain] = s.loss / s.tokens;
    loss += s.loss;
    tokens += s.tokens;
  }
  return { byDomain, all: loss / tokens, tokens };
}
