/**
 * Size limits on user files and the strict UTF-8 decoding of their text. Both run before anything is parsed, so a
 * Latin-1 file, a lone continuation byte or a 10 GB "line" is refused with the file, line and byte offset instead of
 * being read whole or silently turned into U+FFFD.
 */

/** The largest input of each kind we read; larger files are refused before a byte is read (stat first). */
export const INPUT_LIMITS = {
  /** onnxruntime-web and protobuf both stop at 2 GiB. */
  model: 2 ** 31 - 1,
  tokenizer: 64 * 2 ** 20,
  /** A JSONL file (training rows or queries); decoded whole it must stay under V8's ~2^29-character string limit. */
  jsonl: 256 * 2 ** 20,
  /** One JSONL line: no single example is this large (a 16 MiB response is ~4 M tokens). */
  jsonlLine: 16 * 2 ** 20,
} as const;

export type InputKind = 'model' | 'tokenizer' | 'jsonl';

/** Bad bytes or a size over a limit; the message names the file (and line and byte offset where there is one). */
export class InputLimitError extends Error {
  override readonly name = 'InputLimitError';
}

/**
 * Decodes UTF-8 strictly (a leading BOM is dropped). On invalid bytes the error names `file:line` and the byte
 * offset of the first bad byte, so the user can find it with a hex editor.
 */
export function decodeUtf8Strict(file: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8(bytes);
    const line = lineAt(bytes, offset);
    throw new InputLimitError(`${file}:${line}: invalid UTF-8 at byte offset ${offset} (byte 0x${hex(bytes[offset])})`);
  }
}

/** Refuses the first line longer than `maxLineBytes`, naming its number and length; blank lines count. */
export function checkLineLengths(file: string, bytes: Uint8Array, maxLineBytes: number): void {
  let start = 0;
  let line = 1;
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    if (end - start > maxLineBytes) {
      throw new InputLimitError(
        `${file}:${line}: line is ${end - start} bytes, over the limit of ${maxLineBytes} bytes per line`,
      );
    }
    start = end + 1;
    line++;
  }
}

/** The offset of the first byte that does not begin or continue a well-formed UTF-8 sequence (RFC 3629). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    // Lead byte → sequence length and the allowed range of the second byte (no overlongs, surrogates, > U+10FFFF).
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) low = 0xa0;
      if (b === 0xed) high = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) low = 0x90;
      if (b === 0xf4) high = 0x8f;
    } else return i;
    for (let k = 1; k < length; k++) {
      const c = bytes[i + k];
      if (c === undefined) return i;
      if (k === 1 ? c < low || c > high : c < 0x80 || c > 0xbf) return i;
    }
    i += length;
  }
  return bytes.length;
}

function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let at = bytes.indexOf(0x0a); at >= 0 && at < offset; at = bytes.indexOf(0x0a, at + 1)) line++;
  return line;
}

function hex(byte: number | undefined): string {
  return (byte ?? 0).toString(16).padStart(2, '0');
}
