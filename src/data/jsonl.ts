// Streamed JSONL reading: bytes arrive in chunks (a fetch body, a File stream, a Node read stream), lines are cut
// as they complete, so a large file never sits in memory whole. Handles a UTF-8 BOM, CRLF line ends, lines and
// multi-byte characters split across chunks, and blank lines (skipped).

import { DataFormatError, validateRow, type DataRow } from './schema';

export type ByteChunks = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>;

export interface JsonlLine {
  /** 1-based line number in the file. */
  line: number;
  text: string;
}

/** Yields the non-blank lines of a UTF-8 byte stream, with their 1-based line numbers. */
export async function* readLines(source: ByteChunks, file: string, signal?: AbortSignal): AsyncGenerator<JsonlLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let pending = '';
  let lineNumber = 0;
  const decode = (chunk: Uint8Array | string, stream: boolean): string => {
    if (typeof chunk === 'string') return chunk;
    try {
      return decoder.decode(chunk, { stream });
    } catch {
      // Locate the bad bytes: a lenient decode marks them with U+FFFD; count the line breaks before it.
      const lenient = new TextDecoder().decode(chunk);
      const before = lenient.slice(0, Math.max(0, lenient.indexOf('\uFFFD')));
      const breaks = before.split('\n').length - 1;
      throw new DataFormatError(file, lineNumber + 1 + breaks, 'invalid UTF-8 bytes');
    }
  };
  let first = true;
  for await (const chunk of iterate(source)) {
    signal?.throwIfAborted();
    let text = decode(chunk, true);
    // TextDecoder drops a BOM in bytes; a string source may still carry one.
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    pending += text;
    let cut = pending.indexOf('\n');
    if (cut < 0) continue;
    let from = 0;
    while (cut >= 0) {
      lineNumber++;
      const raw = pending.slice(from, cut);
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.trim().length > 0) yield { line: lineNumber, text: line };
      from = cut + 1;
      cut = pending.indexOf('\n', from);
    }
    pending = pending.slice(from);
  }
  pending += decode(new Uint8Array(0), false);
  if (pending.endsWith('\r')) pending = pending.slice(0, -1);
  if (pending.trim().length > 0) yield { line: lineNumber + 1, text: pending };
}

async function* iterate(source: ByteChunks): AsyncGenerator<Uint8Array | string> {
  if (typeof (source as ReadableStream<Uint8Array>).getReader === 'function') {
    const reader = (source as ReadableStream<Uint8Array>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }
  yield* source as AsyncIterable<Uint8Array | string>;
}

export interface ParseOptions {
  /** Name used in error messages, e.g. "train.jsonl". */
  file: string;
  /** When given, ids in pre-tokenized rows must be below it. */
  vocabSize?: number;
  signal?: AbortSignal;
  /** Called after each row with the number of rows read so far. */
  onRow?: (rows: number) => void;
}

/**
 * Parses and validates a JSONL stream row by row. The first bad row throws a DataFormatError naming the file,
 * line and field; a repeated id throws one naming both lines. Rows without an id get `<file>:<line>`.
 */
export async function* parseJsonl(source: ByteChunks, options: ParseOptions): AsyncGenerator<DataRow> {
  const { file } = options;
  const firstLineOfId = new Map<string, number>();
  let rows = 0;
  for await (const { line, text } of readLines(source, file, options.signal)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new DataFormatError(file, line, `not valid JSON (${(err as Error).message})`);
    }
    const row = validateRow(value, { file, line, vocabSize: options.vocabSize }, `${file}:${line}`);
    const seen = firstLineOfId.get(row.id);
    if (seen !== undefined)
      throw new DataFormatError(file, line, `duplicate id "${row.id}" (first used on line ${seen})`);
    firstLineOfId.set(row.id, line);
    rows++;
    options.onRow?.(rows);
    yield row;
  }
}

/** Reads a whole JSONL stream into an array (for files known to be small, such as the demo's). */
export async function readJsonl(source: ByteChunks, options: ParseOptions): Promise<DataRow[]> {
  const rows: DataRow[] = [];
  for await (const row of parseJsonl(source, options)) rows.push(row);
  return rows;
}

/** Writes rows as JSONL text, one JSON object per line, ending with a newline. */
export function toJsonl(rows: readonly object[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}
