/**
 * Accuracy on the synthetic reasoning task (src/data/reasoning-task.ts): greedy decoding from each prompt until eos
 * (or `maxNew` tokens), the final answer extracted from the decoded trace and compared exactly with the problem's
 * answer — the paper's metric — beside the mean log-likelihood per token of the reference trace (teacher-forced).
 *
 * Decoding is batched without a cache: every step runs the whole right-padded batch once and reads, for each row, the
 * logits at its own last position (positions are absolute and attention is causal, so the padding after a row's end
 * changes nothing before it). A row that has emitted eos stops growing.
 */
import { decodeReasoning, finalAnswer, REASONING_SPECIALS } from '../data/reasoning-task';
import type { Model } from '../onnx/ir';
import { ModelSession, padBatch } from '../onnx/runtime';
import { responseScores } from '../train/evaluate';

export interface ReasoningQuery {
  readonly inputIds: ArrayLike<number>;
  readonly promptLen: number;
  readonly answer: number;
  /** The groups the query counts in (e.g. its domain and its domain/difficulty cell); every query counts in 'all'. */
  readonly groups: readonly string[];
}

export interface ReasoningScore {
  /** Fraction of queries whose greedy trace ends in the right final answer. */
  readonly accuracy: number;
  /** Mean over queries of the mean log-likelihood per token of the reference trace and eos (nats). */
  readonly logLikelihood: number;
  readonly queries: number;
}

/** Greedy continuations (token ids after the prompt, eos excluded) of each query's prompt. */
export async function greedyTraces(
  model: Model,
  prompts: readonly (readonly number[])[],
  maxNew: number,
  batchSize = 64,
): Promise<number[][]> {
  const session = await ModelSession.create(model);
  const out: number[][] = prompts.map(() => []);
  try {
    for (let start = 0; start < prompts.length; start += batchSize) {
      const rows = prompts.slice(start, start + batchSize).map((p) => [...p]);
      const done = rows.map(() => false);
      for (let t = 0; t < maxNew && done.some((d) => !d); t++) {
        const padded = padBatch(rows, REASONING_SPECIALS.pad);
        const logits = (await session.run({ input_ids: padded.inputIds, attention_mask: padded.attentionMask }))
          .logits!;
        const [, width, vocab] = logits.dims as [number, number, number];
        const values = logits.data as Float32Array;
        rows.forEach((row, r) => {
          if (done[r]) return;
          const offset = (r * width + row.length - 1) * vocab;
          let best = 0;
          for (let v = 1; v < vocab; v++) if (values[offset + v]! > values[offset + best]!) best = v;
          if (best === REASONING_SPECIALS.eos) done[r] = true;
          else {
            row.push(best);
            out[start + r]!.push(best);
          }
        });
      }
    }
  } finally {
    await session.release();
  }
  return out;
}

/** Accuracy and log-likelihood per group (sorted by name), and over all queries under the key 'all'. */
export async function reasoningScores(
  model: Model,
  queries: readonly ReasoningQuery[],
  maxNew: number,
): Promise<Record<string, ReasoningScore>> {
  const traces = await greedyTraces(
    model,
    queries.map((q) => Array.from(q.inputIds).slice(0, q.promptLen)),
    maxNew,
  );
  const correct = traces.map((ids, i) => (finalAnswer(decodeReasoning(ids)) === queries[i]!.answer ? 1 : 0));
  const { logLikelihood } = await responseScores(model, queries, 64);
  const out: Record<string, ReasoningScore> = {};
  const groups = [...new Set(queries.flatMap((q) => q.groups))].filter((g) => g !== 'all').sort();
  for (const name of [...groups, 'all']) {
    const rows = queries.flatMap((q, i) => (name === 'all' || q.groups.includes(name) ? [i] : []));
    out[name] = {
      accuracy: rows.reduce((s, i) => s + correct[i]!, 0) / rows.length,
      logLikelihood: rows.reduce((s, i) => s + logLikelihood[i]!, 0) / rows.length,
      queries: rows.length,
    };
  }
  return out;
}
