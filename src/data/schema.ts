// The row schema of user and demo JSONL files, and the validation of one parsed row.
// Three row shapes are accepted (docs/data.md, "User data format"):
//   text:   {id?, prompt, response, domain?, difficulty?, segments?}
//   chat:   {id?, messages: [{role, content}, …], domain?, difficulty?, segments?}
//   tokens: {id?, input_ids, prompt_len, domain?, difficulty?, segments?}
// Any shape may carry `measure`: the spans of the response a query's measurement counts (docs/data.md, "Measuring a
// span"), in the same units as its segments.
// Fields not named here are kept in `extra` so that they survive a round trip through the workbench.

/** A labelled half-open span [start, end). Units depend on where it appears (see each use). */
export interface Span {
  label: string;
  start: number;
  end: number;
}

interface RowCommon {
  id: string;
  /** 1-based line in the source file, for messages that point back at the input. */
  line: number;
  domain?: string;
  difficulty?: string;
  /** Every field of the row that the schema does not name. */
  extra: Record<string, unknown>;
}

/** A prompt/response row (text rows and chat rows after rendering). */
export interface TextRow extends RowCommon {
  kind: 'text' | 'chat';
  prompt: string;
  response: string;
  /** Character spans over `response` (UTF-16 code units, as JavaScript string indices). */
  segments?: Span[];
  /** A chat row's messages, for a model's own chat template (data/chat-template.ts). */
  messages?: ChatMessage[];
  /** Character spans over `response` that a query's measurement counts (absent: the whole response). */
  measure?: MeasureSpan[];
}

/** A row tokenized elsewhere: no tokenizer is needed for it. */
export interface TokenRow extends RowCommon {
  kind: 'tokens';
  inputIds: number[];
  /** Number of leading prompt tokens; tokens from prompt_len on are the response. */
  promptLen: number;
  /** Token spans over the response tokens, 0 = the first response token. */
  segments?: Span[];
  /** Token spans over the response tokens that a query's measurement counts (absent: the whole response). */
  measure?: MeasureSpan[];
}

/** A half-open span [start, end) a measurement counts; the label is optional (for the reader). */
export interface MeasureSpan {
  start: number;
  end: number;
  label?: string;
}

export type DataRow = TextRow | TokenRow;

export interface ChatMessage {
  role: string;
  content: string;
}

/**
 * Renders the messages before the final assistant message as the prompt. Each message becomes
 * `<|role|>\n` + content + `\n`, and the prompt ends with `<|assistant|>\n` so the response follows it directly.
 * The markers are ordinary text to the tokenizer (no special tokens), so any tokenizer can encode them.
 */
export function renderChatPrompt(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `<|${m.role}|>\n${m.content}\n`).join('') + '<|assistant|>\n';
}

/** A bad row: the message names the file, the line and the field. */
export class DataFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
    this.name = 'DataFormatError';
  }
}

/** The row fields the schema reads; anything else is kept as extra metadata. */
export const ROW_FIELDS = [
  'id',
  'prompt',
  'response',
  'messages',
  'input_ids',
  'prompt_len',
  'domain',
  'difficulty',
  'segments',
  'measure',
] as const;
const NAMED_FIELDS = new Set<string>(ROW_FIELDS);

export interface RowContext {
  file: string;
  line: number;
  /** When given, token ids of pre-tokenized rows must be below it. */
  vocabSize?: number;
}

/** Validates one parsed JSON value as a row. `generatedId` is used when the row has no id. */
export function validateRow(value: unknown, ctx: RowContext, generatedId: string): DataRow {
  const fail = (detail: string): never => {
    throw new DataFormatError(ctx.file, ctx.line, detail);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`a row must be a JSON object, got ${describe(value)}`);
  }
  const obj = value as Record<string, unknown>;
  const extra: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(obj)) if (!NAMED_FIELDS.has(key)) extra[key] = v;

  const common: RowCommon = {
    id: optionalId(obj.id, fail) ?? generatedId,
    line: ctx.line,
    extra,
  };
  const domain = optionalLabel(obj, 'domain', fail);
  if (domain !== undefined) common.domain = domain;
  const difficulty = optionalLabel(obj, 'difficulty', fail);
  if (difficulty !== undefined) common.difficulty = difficulty;

  const hasText = 'prompt' in obj || 'response' in obj;
  const hasChat = 'messages' in obj;
  const hasTokens = 'input_ids' in obj || 'prompt_len' in obj;
  const shapes = [hasText && 'prompt/response', hasChat && 'messages', hasTokens && 'input_ids/prompt_len'].filter(
    Boolean,
  );
  if (shapes.length === 0) fail('row has none of "prompt"/"response", "messages" or "input_ids"/"prompt_len"');
  if (shapes.length > 1) fail(`row mixes ${shapes.join(' and ')}; use one shape per row`);

  if (hasTokens) {
    const inputIds = tokenIds(obj.input_ids, ctx.vocabSize, fail);
    const promptLen = obj.prompt_len;
    if (typeof promptLen !== 'number' || !Number.isInteger(promptLen) || promptLen < 0) {
      fail(`field "prompt_len" must be a non-negative integer, got ${describe(promptLen)}`);
    }
    const pl = promptLen as number;
    if (pl >= inputIds.length) {
      fail(
        `field "prompt_len" (${pl}) must be less than the length of "input_ids" (${inputIds.length}): no response tokens`,
      );
    }
    if (pl === 0 && inputIds.length < 2) {
      fail(
        'with "prompt_len" 0 "input_ids" needs at least 2 tokens: ' +
          'nothing predicts the first token, so it is never scored',
      );
    }
    const row: TokenRow = { ...common, kind: 'tokens', inputIds, promptLen: pl };
    const segments = optionalSpans(obj.segments, inputIds.length - pl, 'response tokens', fail);
    if (segments) row.segments = segments;
    const measure = measureSpans(obj.measure, inputIds.length - pl, 'response tokens', fail);
    if (measure) row.measure = measure;
    return row;
  }

  let prompt: string;
  let response: string;
  let kind: TextRow['kind'];
  let messages: ChatMessage[] | undefined;
  if (hasChat) {
    messages = chatMessages(obj.messages, fail);
    prompt = renderChatPrompt(messages.slice(0, -1));
    response = messages[messages.length - 1]!.content;
    kind = 'chat';
  } else {
    prompt = requiredString(obj, 'prompt', fail);
    response = requiredString(obj, 'response', fail);
    kind = 'text';
  }
  if (response.length === 0) fail('the response is empty: nothing to score');
  const row: TextRow = { ...common, kind, prompt, response };
  if (messages) row.messages = messages;
  const segments = optionalSpans(obj.segments, response.length, 'response characters', fail);
  if (segments) row.segments = segments;
  const measure = measureSpans(obj.measure, response.length, 'response characters', fail);
  if (measure) row.measure = measure;
  return row;
}

type Fail = (detail: string) => never;

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (field missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `a string "${v.length > 30 ? v.slice(0, 30) + '…' : v}"`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/**
 * A lone UTF-16 surrogate (JSON allows `"\ud800"`) is no character: UTF-8 output turns every one into U+FFFD, so
 * `x\ud800` and `x\udbff` would become one id in a CSV. Refused on input, naming the field and the code unit.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function wellFormed(v: string, field: string, fail: Fail): string {
  const lone = LONE_SURROGATE.exec(v);
  if (lone) {
    const unit = lone[0].charCodeAt(0).toString(16);
    fail(`field "${field}" holds a lone UTF-16 surrogate \\u${unit} at character ${lone.index} (not a character)`);
  }
  return v;
}

function optionalId(v: unknown, fail: Fail): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  if (typeof v !== 'string' || v.length === 0)
    fail(`field "id" must be a non-empty string or an integer, got ${describe(v)}`);
  return wellFormed(v as string, 'id', fail);
}

function optionalLabel(obj: Record<string, unknown>, field: string, fail: Fail): string | undefined {
  const v = obj[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') fail(`field "${field}" must be a string, got ${describe(v)}`);
  return wellFormed(v as string, field, fail);
}

function requiredString(obj: Record<string, unknown>, field: string, fail: Fail): string {
  const v = obj[field];
  if (typeof v !== 'string') fail(`field "${field}" must be a string, got ${describe(v)}`);
  return wellFormed(v as string, field, fail);
}

function chatMessages(v: unknown, fail: Fail): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) fail(`field "messages" must be a non-empty array, got ${describe(v)}`);
  const messages = (v as unknown[]).map((m, i) => {
    if (typeof m !== 'object' || m === null || Array.isArray(m))
      fail(`field "messages[${i}]" must be an object, got ${describe(m)}`);
    const rec = m as Record<string, unknown>;
    if (typeof rec.role !== 'string' || rec.role.length === 0) {
      fail(`field "messages[${i}].role" must be a non-empty string, got ${describe(rec.role)}`);
    }
    if (typeof rec.content !== 'string')
      fail(`field "messages[${i}].content" must be a string, got ${describe(rec.content)}`);
    return {
      role: wellFormed(rec.role as string, `messages[${i}].role`, fail),
      content: wellFormed(rec.content as string, `messages[${i}].content`, fail),
    };
  });
  const last = messages.length - 1;
  if (messages[last]!.role !== 'assistant') {
    fail(
      `field "messages[${last}].role" must be "assistant" (the last message is the response), got "${messages[last]!.role}"`,
    );
  }
  return messages;
}

function tokenIds(v: unknown, vocabSize: number | undefined, fail: Fail): number[] {
  if (!Array.isArray(v) || v.length === 0)
    fail(`field "input_ids" must be a non-empty array of integers, got ${describe(v)}`);
  const ids = v as unknown[];
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      fail(`field "input_ids[${i}]" must be a non-negative integer, got ${describe(id)}`);
    }
    if (vocabSize !== undefined && (id as number) >= vocabSize) {
      fail(`field "input_ids[${i}]" is ${id as number}, outside the vocabulary (size ${vocabSize})`);
    }
  }
  return ids as number[];
}

function optionalSpans(v: unknown, limit: number, unit: string, fail: Fail): Span[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) fail(`field "segments" must be an array of {label, start, end}, got ${describe(v)}`);
  return (v as unknown[]).map((s, i) => {
    if (typeof s !== 'object' || s === null || Array.isArray(s))
      fail(`field "segments[${i}]" must be an object, got ${describe(s)}`);
    const rec = s as Record<string, unknown>;
    if (typeof rec.label !== 'string' || rec.label.length === 0) {
      fail(`field "segments[${i}].label" must be a non-empty string, got ${describe(rec.label)}`);
    }
    for (const key of ['start', 'end'] as const) {
      const n = rec[key];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > limit) {
        fail(`field "segments[${i}].${key}" must be an integer in [0, ${limit}] (${unit}), got ${describe(n)}`);
      }
    }
    if ((rec.start as number) > (rec.end as number)) {
      fail(`field "segments[${i}]" has start ${rec.start as number} after end ${rec.end as number}`);
    }
    return { label: rec.label as string, start: rec.start as number, end: rec.end as number };
  });
}

/**
 * The `measure` field: a non-empty list of {start, end, label?} inside the response, each covering at least one unit
 * (a span outside the response would measure prompt or nothing: refused, naming the row's file:line and the span).
 */
function measureSpans(v: unknown, limit: number, unit: string, fail: Fail): MeasureSpan[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length === 0)
    fail(`field "measure" must be a non-empty array of {start, end, label?} (${unit}), got ${describe(v)}`);
  return (v as unknown[]).map((s, i) => {
    if (typeof s !== 'object' || s === null || Array.isArray(s))
      fail(`field "measure[${i}]" must be an object {start, end, label?}, got ${describe(s)}`);
    const rec = s as Record<string, unknown>;
    for (const key of ['start', 'end'] as const) {
      const n = rec[key];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > limit) {
        fail(
          `field "measure[${i}].${key}" must be an integer in [0, ${limit}] (${unit}; a measured span lies inside ` +
            `the response), got ${describe(n)}`,
        );
      }
    }
    if ((rec.start as number) >= (rec.end as number)) {
      fail(`field "measure[${i}]" is empty or reversed (start ${rec.start as number}, end ${rec.end as number})`);
    }
    if (rec.label !== undefined && typeof rec.label !== 'string')
      fail(`field "measure[${i}].label" must be a string, got ${describe(rec.label)}`);
    const span: MeasureSpan = { start: rec.start as number, end: rec.end as number };
    if (typeof rec.label === 'string') span.label = rec.label;
    return span;
  });
}
