/**
 * `iwb attribute --generate PROMPT [--max-new-tokens N] [--compare REFERENCE]`: the model's own greedy answer to a
 * typed prompt becomes the run's query (app/generate.ts), printed as it is generated; with --compare, a reference
 * answer to the same prompt is the second query and the report lists the training examples that push toward the
 * model's answer rather than the reference, and the other way.
 */
import { toExample } from '../data/dataset';
import { compareQueries, generateGreedy, generatedQuery, type Generation } from '../app/generate';
import { contextLength } from '../app/input-checks';
import { InputError } from '../app/input-error';
import type { RunInputs } from '../app/inputs';
import type { AttributionResult } from '../influence/types';
import type { AttributeArgs } from './args';
import type { RunSummary } from './summary';

export interface GeneratedRun {
  readonly inputs: RunInputs;
  readonly generation: Generation;
}

/** Generates the model's answer and makes it (and the --compare reference) the run's queries. */
export async function withGeneratedQueries(
  args: AttributeArgs,
  inputs: RunInputs,
  io: { readonly stderr: (text: string) => void },
  signal?: AbortSignal,
): Promise<GeneratedRun> {
  const prompt = args.generate!;
  const tokenizer = inputs.tokenizer;
  if (!tokenizer) throw new InputError('--generate needs a tokenizer (--tokenizer) to encode the prompt');
  const how = args.temperature > 0 ? `sampled at temperature ${args.temperature}, seed ${args.config.seed}` : 'greedy';
  if (!args.quiet) io.stderr(`generating (${how}, at most ${args.maxNewTokens} tokens)…\n`);
  const maxLength = contextLength(inputs.model, { maxLength: args.maxLength });
  const generation = await generateGreedy(inputs.model, tokenizer, prompt, {
    maxNewTokens: args.maxNewTokens,
    temperature: args.temperature,
    seed: args.config.seed,
    ...(maxLength !== undefined ? { maxLength } : {}),
    ...(signal ? { signal } : {}),
  });
  if (generation.generatedIds.length === 0 || (generation.stop === 'eos' && generation.generatedIds.length === 1))
    throw new InputError('--generate: the model answered nothing (its first token was the end of the sequence)');
  const queries = [generatedQuery(generation, prompt, tokenizer)];
  if (args.compare !== undefined) {
    if (args.compare.length === 0) throw new InputError('--compare: the reference answer is empty');
    queries.push(
      toExample({ kind: 'text', id: 'reference', line: 0, prompt, response: args.compare, extra: {} }, tokenizer),
    );
  }
  return { inputs: { ...inputs, queries }, generation };
}

/** What the run printed about the generation (and the comparison), on stdout before the report. */
export function formatGeneration(generation: Generation, result: AttributionResult | null, shown = 5): string {
  const lines = [
    `generated (${generation.generatedIds.length} tokens, stopped at ${generation.stop}): ${JSON.stringify(generation.text)}`,
  ];
  if (result && result.queries.length === 2) {
    const comparison = compareQueries(result.influence, result.train.length, 0, 1, shown);
    const row = (n: number) => `  ${result.train[n]!.id}  ${comparison.difference[n]!.toExponential(3)}`;
    lines.push('training examples that push toward the generated answer rather than the reference (I(gen) − I(ref)):');
    lines.push(...(comparison.towardA.length ? comparison.towardA.map(row) : ['  (none)']));
    lines.push('…and toward the reference rather than the generated answer:');
    lines.push(...(comparison.towardB.length ? comparison.towardB.map(row) : ['  (none)']));
  }
  return lines.join('\n');
}

/** The --json summary with the generation and, for --compare, the ten training examples most toward each answer. */
export function withGenerationSummary(
  summary: RunSummary,
  generated: GeneratedRun | null,
  prompt: string | undefined,
  result: AttributionResult,
): RunSummary {
  if (!generated || prompt === undefined) return summary;
  const { generation } = generated;
  const out: RunSummary = {
    ...summary,
    generation: { prompt, text: generation.text, tokenIds: [...generation.generatedIds], stop: generation.stop },
  };
  if (result.queries.length !== 2) return out;
  const comparison = compareQueries(result.influence, result.train.length, 0, 1, 10);
  const ranked = (list: readonly number[]) =>
    list.map((n) => ({ id: result.train[n]!.id, influence: comparison.difference[n]! }));
  return {
    ...out,
    comparison: { towardGenerated: ranked(comparison.towardA), towardReference: ranked(comparison.towardB) },
  };
}
