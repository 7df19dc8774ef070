/**
 * Text from data, on its way to a reader: a terminal or a spreadsheet. A row id, a file name or an error message
 * that echoes one can hold ESC sequences (clear the screen, retitle the window, fake a prompt), BEL, a carriage return
 * that overwrites the line, or bidirectional overrides that reorder what is shown; a CSV cell can hold a formula that
 * a spreadsheet runs. Both are neutralised here, at the last step, so that no command can forget it.
 */
import type { CliIo } from './attribute';

/**
 * C0 controls but the line feed, DEL, C1 controls, the bidirectional embeddings, overrides and isolates (the
 * "Trojan Source" characters), the line and paragraph separators, and lone surrogates.
 */
const UNSAFE =
  // eslint-disable-next-line no-control-regex
  /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Each unsafe character written visibly as `\xNN` or `\uNNNN`; line feeds and every other character kept. */
export function escapeTerminal(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** The CLI's own progress redraw: `\r` + line + erase-to-end (`ESC [K`), optionally ending the line. */
// eslint-disable-next-line no-control-regex
const REDRAW = /^\r([^]*)\x1b\[K(\n?)$/;

/**
 * `io` with every write escaped (`escapeTerminal`). The one sequence the CLI writes itself, the progress redraw
 * (attribute.ts), keeps its `\r` and `ESC [K`; what lies between is escaped like everything else.
 */
export function terminalIo(io: CliIo): CliIo {
  const safe = (text: string): string => {
    const redraw = REDRAW.exec(text);
    return redraw ? `\r${escapeTerminal(redraw[1]!)}\x1b[K${redraw[2]}` : escapeTerminal(text);
  };
  return { ...io, stdout: (text) => io.stdout(safe(text)), stderr: (text) => io.stderr(safe(text)) };
}

/**
 * A text cell of a CSV file. Formula injection (OWASP "CSV Injection"): a cell that begins with `=`, `+`, `-`, `@`,
 * TAB or CR (OWASP's list) — or LF or NUL (ASVS 1.2.10 adds NUL) — is a formula to Excel, LibreOffice and Google
 * Sheets; it gets a leading `'`, which they read as "this is text". Then RFC 4180: a cell with a comma, quote or
 * line break is quoted and its quotes doubled. Only text from data goes through here; the numbers the workbench
 * writes (a score of -0.5) stay numbers.
 */
export function csvText(text: string): string {
  // eslint-disable-next-line no-control-regex
  const guarded = /^[=+\-@\t\r\n\x00]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(guarded) ? `"${guarded.replaceAll('"', '""')}"` : guarded;
}
