/**
 * One pass over JSON text without parsing it, strings (and their escapes) skipped: how many top-level entries it has
 * (commas at depth 1, plus one) and how deep it nests. Readers call it before JSON.parse, so a header with a million
 * entries or values nested 10⁶ deep is refused cheaply instead of costing seconds, a gigabyte, or the stack.
 */
export interface JsonScan {
  /** Top-level entries: commas at depth 1, plus one (so a key spelled with escapes still counts). */
  entries: number;
  /** The deepest nesting seen (the scan stops once it exceeds `maxDepth`). */
  depth: number;
  /** The character index where `depth` was first reached; -1 for text without `{` or `[`. */
  at: number;
}

/** Scans `text`; stops at the first bracket that goes past `maxDepth` (so `depth > maxDepth` means "too deep"). */
export function scanJsonText(text: string, maxDepth: number): JsonScan {
  let depth = 0;
  let deepest = 0;
  let at = -1;
  let commas = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > deepest) [deepest, at] = [depth, i];
      if (deepest > maxDepth) break;
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c && depth === 1) commas++;
  }
  return { entries: commas + 1, depth: deepest, at };
}
