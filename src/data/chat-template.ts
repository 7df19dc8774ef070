/**
 * Chat rows rendered with the model's own `chat_template` (tokenizer_config.json of a model folder) through
 * @huggingface/jinja, the Jinja implementation transformers.js uses. The loss and the measurement fall on every
 * assistant turn — its message and what the template writes after it up to the next message (its end-of-turn
 * marker) — as supervised fine-tuning trains on the assistant's tokens; the system and user turns, and the template's
 * header before each answer, carry none.
 *
 * Where a turn ends: the template rendered on the conversation up to and including that assistant message must be a
 * prefix of the whole rendering (true of templates that write one message after another); its end is the turn's end.
 * A template for which it is not (one that rewrites earlier turns) gives each earlier turn its message text only.
 *
 * Special tokens come only from the template: the template is rendered with each message's content replaced by a
 * placeholder, so the rendered text splits into the template's own text — where its special tokens (`<|eos|>`, …)
 * are read as such — and the messages' text, encoded with special tokens disabled. A role is written by the
 * template, so a role that holds a special token's text is refused. The template must write each message's content
 * unchanged (or trimmed, as many templates do); one that alters it is refused, naming the row.
 */
import { Template } from '@huggingface/jinja';
import type { ChatMessage } from './schema';
import type { TextTokenizer } from './tokenizer';

export interface TemplatedChat {
  readonly ids: number[];
  /** Tokens before the first assistant message's content. */
  readonly promptLen: number;
  /** The rendered text before and from that point. */
  readonly prompt: string;
  readonly response: string;
  /**
   * Each assistant turn's tokens [start, end): its message and the template's text after it up to the next message
   * (the last turn: to the end). The loss and the measurement count these tokens only.
   */
  readonly assistantTurns: { readonly start: number; readonly end: number }[];
}

export interface ChatTemplate {
  /** Where the template came from (`tokenizer_config.json`), for messages. */
  readonly file: string;
  render(messages: readonly ChatMessage[], tokenizer: TextTokenizer): TemplatedChat;
}

function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string')
    return (v as { content: string }).content;
  return undefined;
}

const OPEN = '\uE000';
const CLOSE = '\uE001';
const PLACEHOLDER = /\uE000(\d+)\uE001/g;

/** The chat template of a tokenizer_config.json object (its `chat_template`, or the one named 'default'), or null. */
export function chatTemplateFrom(file: string, config: Record<string, unknown>): ChatTemplate | null {
  let source = config.chat_template;
  if (Array.isArray(source)) {
    const named = source.find((t) => (t as { name?: unknown }).name === 'default') as
      { template?: unknown } | undefined;
    source = named?.template;
  }
  if (source === undefined || source === null) return null;
  if (typeof source !== 'string') throw new Error(`${file}: "chat_template" is not a string`);
  let template: Template;
  try {
    template = new Template(source);
  } catch (error) {
    throw new Error(`${file}: "chat_template" does not parse: ${(error as Error).message}`, { cause: error });
  }
  const variables = {
    bos_token: tokenText(config.bos_token) ?? '',
    eos_token: tokenText(config.eos_token) ?? '',
    pad_token: tokenText(config.pad_token) ?? '',
    unk_token: tokenText(config.unk_token) ?? '',
    add_generation_prompt: false,
  };
  const render = (messages: readonly ChatMessage[]) => {
    try {
      return template.render({ ...variables, messages: messages.map((m) => ({ ...m })) });
    } catch (error) {
      throw new Error(`${file}: the chat template failed: ${(error as Error).message}`, { cause: error });
    }
  };
  return { file, render: (messages, tokenizer) => renderChat(file, render, messages, tokenizer) };
}

function renderChat(
  file: string,
  render: (messages: readonly ChatMessage[]) => string,
  messages: readonly ChatMessage[],
  tokenizer: TextTokenizer,
): TemplatedChat {
  const specials = [...tokenizer.specialTokens.keys()].sort((a, b) => b.length - a.length);
  messages.forEach((m, i) => {
    const inRole = specials.find((s) => m.role.includes(s));
    if (inRole !== undefined)
      throw new Error(`field "messages[${i}].role" holds the special token ${inRole}; a role is plain text`);
    if (m.content.includes(OPEN) || m.content.includes(CLOSE))
      throw new Error(`field "messages[${i}].content" holds U+E000/U+E001, which the workbench reserves`);
  });
  const markedMessages = messages.map((m, i) => ({ ...m, content: `${OPEN}${i}${CLOSE}` }));
  const marked = render(markedMessages);
  const real = render(messages);
  // The placeholders must stand for the contents as written (or trimmed): else data and template cannot be told apart.
  const contents = [messages.map((m) => m.content), messages.map((m) => m.content.trim())].find(
    (texts) => marked.replace(PLACEHOLDER, (_, i: string) => texts[Number(i)]!) === real,
  );
  if (!contents)
    throw new Error(`${file}: the chat template changes the messages' text (beyond trimming); it cannot be used`);
  const last = messages.length - 1;
  const pieces = marked.split(PLACEHOLDER); // text, index, text, index, …, text
  const finalAt = pieces.lastIndexOf(String(last));
  if (finalAt < 0 || finalAt % 2 === 0)
    throw new Error(`${file}: the chat template does not write the last (assistant) message`);
  const turns = assistantTurnsInMarked(render, markedMessages, marked, pieces);
  // Character offsets in `marked` where the token stream is cut (so each turn starts and ends on a token boundary).
  const cuts = new Set(turns.flatMap((t) => [t.start, t.end]));
  const specialPattern = specials.length
    ? new RegExp(`(${specials.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`)
    : null;
  const ids: number[] = [];
  const tokenAt = new Map<number, number>(); // marked offset of a cut → token position
  let text = '';
  let rendered = '';
  let at = 0; // offset in `marked`
  const flush = () => {
    if (text) ids.push(...tokenizer.encode(text));
    text = '';
  };
  const cut = () => {
    if (!cuts.has(at) || tokenAt.has(at)) return;
    flush();
    tokenAt.set(at, ids.length);
  };
  const renderedAt = new Map<number, number>(); // marked offset of a cut → offset in the real rendering
  pieces.forEach((piece, k) => {
    cut();
    if (!renderedAt.has(at)) renderedAt.set(at, rendered.length);
    if (k % 2 === 1) {
      // A message's content: data text, never read for special tokens.
      const content = contents[Number(piece)]!;
      text += content;
      rendered += content;
      at += OPEN.length + piece.length + CLOSE.length;
      return;
    }
    // The template's own text: its special tokens are special; a turn may end inside it.
    for (const part of specialPattern ? piece.split(specialPattern) : [piece]) {
      const special = tokenizer.specialTokens.get(part);
      if (special !== undefined) {
        cut();
        flush();
        ids.push(special);
        rendered += part;
        at += part.length;
        continue;
      }
      for (let c = 0; c < part.length; c++) {
        if (cuts.has(at)) {
          cut();
          if (!renderedAt.has(at)) renderedAt.set(at, rendered.length);
        }
        text += part[c];
        rendered += part[c];
        at++;
      }
    }
  });
  cut();
  if (!renderedAt.has(at)) renderedAt.set(at, rendered.length);
  flush();
  const assistantTurns = turns
    .map((t) => ({ start: tokenAt.get(t.start)!, end: t.end === marked.length ? ids.length : tokenAt.get(t.end)! }))
    .filter((t) => t.end > t.start);
  const lastTurn = turns.at(-1)!;
  if (tokenAt.get(lastTurn.start) === ids.length)
    throw new Error('the last (assistant) message has no tokens: nothing to score');
  const promptLen = assistantTurns[0]!.start;
  const promptText = rendered.slice(0, renderedAt.get(turns[0]!.start));
  return { ids, promptLen, prompt: promptText, response: rendered.slice(promptText.length), assistantTurns };
}

/**
 * The assistant turns as offsets [start, end) in the marked rendering: from the message's placeholder to the end of
 * the rendering of the conversation up to that message, when that rendering is a prefix of the whole (else to the
 * end of the placeholder); the last turn runs to the end.
 */
function assistantTurnsInMarked(
  render: (messages: readonly ChatMessage[]) => string,
  markedMessages: readonly ChatMessage[],
  marked: string,
  pieces: readonly string[],
): { start: number; end: number }[] {
  const starts = new Map<number, { start: number; end: number }>();
  let offset = 0;
  pieces.forEach((piece, k) => {
    const length = k % 2 === 1 ? OPEN.length + piece.length + CLOSE.length : piece.length;
    if (k % 2 === 1 && !starts.has(Number(piece))) starts.set(Number(piece), { start: offset, end: offset + length });
    offset += length;
  });
  const last = markedMessages.length - 1;
  const turns: { start: number; end: number }[] = [];
  markedMessages.forEach((m, i) => {
    const placed = starts.get(i);
    if (m.role !== 'assistant' || placed === undefined) return;
    if (i === last) {
      turns.push({ start: placed.start, end: marked.length });
      return;
    }
    let upTo: string | null = null;
    try {
      upTo = render(markedMessages.slice(0, i + 1));
    } catch {
      // A template that refuses a conversation ending here (it checks the order of roles) leaves the message alone.
    }
    const end = upTo !== null && marked.startsWith(upTo) && upTo.length >= placed.end ? upTo.length : placed.end;
    turns.push({ start: placed.start, end });
  });
  return turns;
}
