/**
 * Chat rows rendered with the model's own `chat_template` (tokenizer_config.json of a model folder) through
 * @huggingface/jinja, the Jinja implementation transformers.js uses. The loss and the measurement fall on the final
 * assistant message and what the template writes after it (its end-of-turn marker), as supervised fine-tuning
 * trains on the assistant's tokens; everything before is the prompt.
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
  /** Tokens before the final assistant message's content. */
  readonly promptLen: number;
  /** The rendered text before and from that point. */
  readonly prompt: string;
  readonly response: string;
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
  const marked = render(messages.map((m, i) => ({ ...m, content: `${OPEN}${i}${CLOSE}` })));
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
  const specialPattern = specials.length
    ? new RegExp(`(${specials.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`)
    : null;
  const ids: number[] = [];
  let text = '';
  let promptLen = -1;
  let promptText = '';
  let rendered = '';
  const flush = () => {
    if (text) ids.push(...tokenizer.encode(text));
    text = '';
  };
  pieces.forEach((piece, k) => {
    if (k === finalAt) {
      flush();
      promptLen = ids.length;
      promptText = rendered;
    }
    if (k % 2 === 1) {
      // A message's content: data text, never read for special tokens.
      const content = contents[Number(piece)]!;
      text += content;
      rendered += content;
      return;
    }
    // The template's own text: its special tokens are special.
    for (const part of specialPattern ? piece.split(specialPattern) : [piece]) {
      const special = tokenizer.specialTokens.get(part);
      if (special !== undefined) {
        flush();
        ids.push(special);
      } else {
        text += part;
      }
      rendered += part;
    }
  });
  flush();
  if (promptLen === ids.length) throw new Error('the last (assistant) message has no tokens: nothing to score');
  return { ids, promptLen, prompt: promptText, response: rendered.slice(promptText.length) };
}
