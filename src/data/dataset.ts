// Rows → typed, tokenized examples that the engine and the UI consume, and the loaders for the demo data
// (fetched in the browser, read from disk in Node; both through a DataSource).

import { charCategories, categoryModeForDomain, tokenCategories } from './categories';
import { parseJsonl, type ByteChunks } from './jsonl';
import type { ChatTemplate } from './chat-template';
import type { DataRow, Span } from './schema';
import { finalAnswerCharSpans, measuredTokenSpans, type TokenSpan } from './measure';
import { charSpansToTokenSpans, SEGMENT_LABELS, segmentsForDomain } from './segments';
import { TextTokenizer, type CharSpan } from './tokenizer';

/** One example as the engine sees it. Positions index `inputIds`. */
export interface Example {
  id: string;
  domain?: string;
  difficulty?: string;
  /** Absent for rows that came pre-tokenized. */
  prompt?: string;
  response?: string;
  inputIds: Int32Array;
  /** Positions below promptLen (bos and prompt) carry no loss; the response is [promptLen, inputIds.length). */
  promptLen: number;
  /**
   * Token spans [start, end) over response positions (start ≥ promptLen). The dataset's own spans partition the
   * response (eos included in the last span); spans given by a user may leave gaps.
   */
  segments: Span[];
  /** Per position of inputIds, an index into TOKEN_CATEGORIES. */
  tokenCategories: Uint8Array;
  extra: Record<string, unknown>;
  /** The row's own `measure` spans as token positions (data/measure.ts); absent: the row names none. */
  measure?: TokenSpan[];
  /** Its final answer's token positions (after `####`; code: the bodies), when its text has one (data/measure.ts). */
  finalAnswer?: TokenSpan[];
  /**
   * A chat row rendered by a chat template: its assistant turns' token positions (each message and the template's
   * end-of-turn text). The loss of a training row and the measurement of a query count these only, as supervised
   * fine-tuning does; absent: every response token counts.
   */
  assistantTurns?: TokenSpan[];
}

/**
 * Tokenizes one row: [bos] prompt response [eos], prompt and response encoded separately so the boundary is a
 * token boundary. Pre-tokenized rows are taken as they are; a tokenizer, when given, only names their categories.
 */
export function toExample(row: DataRow, tokenizer: TextTokenizer | undefined, chat?: ChatTemplate | null): Example {
  const base = { id: row.id, extra: row.extra } as Example;
  if (row.domain !== undefined) base.domain = row.domain;
  if (row.difficulty !== undefined) base.difficulty = row.difficulty;
  if (row.kind === 'tokens') {
    const example = preTokenizedExample(base, row.inputIds, row.promptLen, row.segments, tokenizer);
    if (row.measure)
      example.measure = row.measure.map((s) => ({ start: s.start + row.promptLen, end: s.end + row.promptLen }));
    return lossFromSecondToken(example);
  }
  if (!tokenizer) throw new Error(`row "${row.id}" (line ${row.line}) is text: a tokenizer is needed to encode it`);
  if (chat && row.kind === 'chat' && row.messages) {
    // The model's own template writes the conversation (and its special tokens); the loss is on every answer.
    if (row.segments) throw new Error(`field "segments" is not supported with a chat template (${chat.file})`);
    const rendered = chat.render(row.messages, tokenizer);
    const example = preTokenizedExample(base, rendered.ids, rendered.promptLen, undefined, tokenizer);
    const assistantTurns = rendered.assistantTurns.map(({ start, end }) => ({ start, end }));
    return lossFromSecondToken({ ...example, prompt: rendered.prompt, response: rendered.response, assistantTurns });
  }

  const prompt = tokenizer.encodeWithOffsets(row.prompt);
  const response = tokenizer.encodeWithOffsets(row.response);
  const bos = tokenizer.bosId === undefined ? [] : [tokenizer.bosId];
  const eos = tokenizer.eosId === undefined ? [] : [tokenizer.eosId];
  const inputIds = Int32Array.from([...bos, ...prompt.ids, ...response.ids, ...eos]);
  const promptLen = bos.length + prompt.ids.length;
  const responseEnd = promptLen + response.ids.length;

  const categories = new Uint8Array(inputIds.length);
  categories.set(tokenCategories(row.prompt, charCategories(row.prompt, 'text'), prompt.offsets), bos.length);
  const responseCats = charCategories(row.response, categoryModeForDomain(row.domain));
  categories.set(tokenCategories(row.response, responseCats, response.offsets), promptLen);

  const charSpans = row.segments ?? segmentsForDomain(row.domain, row.response);
  const segments = charSpansToTokenSpans(charSpans, response.offsets, promptLen);
  if (eos.length > 0) {
    const last = segments.find((s) => s.end === responseEnd);
    if (last) last.end = responseEnd + 1;
  }
  const example: Example = {
    ...base,
    prompt: row.prompt,
    response: row.response,
    inputIds,
    promptLen,
    segments,
    tokenCategories: categories,
  };
  const eosPosition = eos.length > 0 ? responseEnd : null;
  if (row.measure) {
    example.measure = measuredTokenSpans(row.measure, response.offsets, promptLen, row.response.length, eosPosition);
    if (example.measure.length === 0)
      throw new Error(`row "${row.id}" (line ${row.line}): its "measure" spans cover no response token`);
  }
  const answer = finalAnswerCharSpans(row.domain, row.response);
  const answerTokens = answer && measuredTokenSpans(answer, response.offsets, promptLen, row.response.length, null);
  if (answerTokens && answerTokens.length > 0) example.finalAnswer = answerTokens;
  return lossFromSecondToken(example);
}

/**
 * `prompt_len: 0` (docs/data.md allows it) means the whole sequence is response. In a causal LM nothing predicts the
 * first token, so the loss can only start at the second: the example's promptLen becomes 1 and a segment that began
 * at token 0 begins at 1. The scored tokens are the same as the row asked for, less the one no model can score.
 */
function lossFromSecondToken(example: Example): Example {
  if (example.promptLen > 0) return example;
  const segments = example.segments.map((s) => ({ ...s, start: Math.max(s.start, 1), end: Math.max(s.end, 1) }));
  const fromSecond = { ...example, promptLen: 1, segments };
  if (example.assistantTurns) {
    fromSecond.assistantTurns = example.assistantTurns
      .map((s) => ({ start: Math.max(s.start, 1), end: s.end }))
      .filter((s) => s.end > s.start);
  }
  if (example.measure) {
    // A measured span on token 0 loses that token; one that measured only token 0 measures nothing: refused.
    fromSecond.measure = example.measure
      .map((s) => ({ start: Math.max(s.start, 1), end: s.end }))
      .filter((s) => s.end > s.start);
    if (fromSecond.measure.length === 0)
      throw new Error(`row "${example.id}": its "measure" spans cover only token 0, which no model predicts`);
  }
  return fromSecond;
}

function preTokenizedExample(
  base: Example,
  ids: readonly number[],
  promptLen: number,
  responseSpans: readonly Span[] | undefined,
  tokenizer: TextTokenizer | undefined,
): Example {
  const segments = (responseSpans ?? [{ label: SEGMENT_LABELS.response, start: 0, end: ids.length - promptLen }]).map(
    (s) => ({ label: s.label, start: s.start + promptLen, end: s.end + promptLen }),
  );
  const categories = new Uint8Array(ids.length);
  if (tokenizer) {
    // Categories from the decoded pieces: the prompt by the text rules, the response by its domain's rules.
    // Special tokens stand for no text, so they stay "other" as in the text path.
    const pieces = ids.map((id) => (tokenizer.isSpecial(id) ? '' : tokenizer.decode([id])));
    const part = (from: number, to: number, mode: 'text' | 'code'): void => {
      const text = pieces.slice(from, to).join('');
      const offsets: CharSpan[] = [];
      let at = 0;
      for (let i = from; i < to; i++) offsets.push([at, (at += pieces[i]!.length)]);
      categories.set(tokenCategories(text, charCategories(text, mode), offsets), from);
    };
    part(0, promptLen, 'text');
    part(promptLen, ids.length, categoryModeForDomain(base.domain));
  }
  return { ...base, inputIds: Int32Array.from(ids), promptLen, segments, tokenCategories: categories };
}

/** Where data files come from: the page's origin in the browser, a folder in Node (see node-source.ts). */
export interface DataSource {
  /** A byte stream of the file at `path` (relative to the source's root). */
  open(path: string): Promise<ByteChunks>;
  readJson(path: string): Promise<unknown>;
}

/** Files served over HTTP under `baseUrl` (in the page: the site root, where vite serves public/). */
export function fetchSource(baseUrl: string): DataSource {
  const url = (path: string): string => new URL(path, baseUrl.endsWith('/') ? baseUrl : baseUrl + '/').toString();
  const get = async (path: string): Promise<Response> => {
    const res = await fetch(url(path));
    if (!res.ok || !res.body) throw new Error(`${url(path)}: HTTP ${res.status} ${res.statusText}`);
    return res;
  };
  return {
    open: async (path) => (await get(path)).body!,
    readJson: async (path) => (await get(path)).json(),
  };
}

export interface LoadOptions {
  signal?: AbortSignal;
  /** Rows read so far, for a progress bar. */
  onProgress?: (rows: number) => void;
}

/** Parses, validates and tokenizes one JSONL file of a source. */
export async function loadExamples(
  source: DataSource,
  path: string,
  tokenizer: TextTokenizer | undefined,
  options: LoadOptions = {},
): Promise<Example[]> {
  const examples: Example[] = [];
  const file = path.split('/').pop()!;
  const parse = { file, signal: options.signal, onRow: options.onProgress, vocabSize: tokenizer?.vocabSize };
  for await (const row of parseJsonl(await source.open(path), parse)) examples.push(toExample(row, tokenizer));
  return examples;
}

/** 'demo': the built-in demo; 'micro': its tiny test version; 'after': the demo with after-answer segments. */
export type DemoVariant = 'demo' | 'micro' | 'after';

/** Paths of the demo files relative to public/ (the site root). */
export const DEMO_PATHS: Readonly<
  Record<DemoVariant, { train: string; queries: string; tokenizer: string; manifest: string }>
> = {
  demo: {
    train: 'data/train.jsonl',
    queries: 'data/queries.jsonl',
    tokenizer: 'tokenizer/tokenizer.json',
    manifest: 'data/manifest.json',
  },
  after: {
    train: 'data/after/train.jsonl',
    queries: 'data/queries.jsonl',
    tokenizer: 'tokenizer/tokenizer.json',
    manifest: 'data/after/manifest.json',
  },
  micro: {
    train: 'data/micro/train.jsonl',
    queries: 'data/micro/queries.jsonl',
    tokenizer: 'data/micro/tokenizer.json',
    manifest: 'data/micro/manifest.json',
  },
};

export interface DemoDataset {
  tokenizer: TextTokenizer;
  train: Example[];
  queries: Example[];
  /** What build-demo-data.ts wrote: counts, difficulty distribution, sources, licences. */
  manifest: Record<string, unknown>;
}

/** The built-in demo data (or its micro version for tests), tokenized with its own tokenizer. */
export async function loadDemoDataset(
  source: DataSource,
  variant: DemoVariant = 'demo',
  options: LoadOptions = {},
): Promise<DemoDataset> {
  const paths = DEMO_PATHS[variant];
  const tokenizer = TextTokenizer.fromJson(await source.readJson(paths.tokenizer));
  const manifest = (await source.readJson(paths.manifest)) as Record<string, unknown>;
  const train = await loadExamples(source, paths.train, tokenizer, options);
  const queries = await loadExamples(source, paths.queries, tokenizer, options);
  return { tokenizer, train, queries, manifest };
}
