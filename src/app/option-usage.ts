/**
 * What the options table (app/options.ts) gives the command line: node:util parseArgs's flags, the usage synopsis
 * and one usage entry per option (flag, grammar, help and default).
 */
import { RUN_OPTION_NAMES, runOption } from './options';

/** The options with a CLI flag, as node:util parseArgs's option table. */
export function optionFlags(): Record<string, { type: 'string' | 'boolean' }> {
  return Object.fromEntries(
    RUN_OPTION_NAMES.flatMap((name) => {
      const spec = runOption(name);
      return spec.flag ? [[spec.flag.slice(2), { type: spec.grammar === null ? 'boolean' : 'string' }]] : [];
    }),
  );
}

/** The options with a flag as a usage synopsis, `[--flag GRAMMAR]` each, wrapped at `width` after `indent` spaces. */
export function optionSynopsis(indent: number, width = 118): string {
  const items = RUN_OPTION_NAMES.flatMap((name) => {
    const spec = runOption(name);
    return spec.flag ? [`[${spec.flag}${spec.grammar ? ` ${spec.grammar}` : ''}]`] : [];
  });
  return wrap(items.join(' '), width - indent, /\s(?=\[)/)
    .map((line) => `${' '.repeat(indent)}${line}`)
    .join('\n');
}

/**
 * The usage lines of the options with a flag: `  --flag GRAMMAR` then the help and default, wrapped at `width`
 * with a hanging indent.
 */
export function optionUsage(width = 118): string {
  const indent = 6;
  return RUN_OPTION_NAMES.flatMap((name) => {
    const spec = runOption(name);
    if (!spec.flag) return [];
    const head = `  ${spec.flag}${spec.grammar ? ` ${spec.grammar}` : ''}`;
    const text = spec.grammar ? `${spec.help}. Default: ${spec.defaultText}.` : `${spec.help}.`;
    return [head, ...wrap(text, width - indent).map((line) => `${' '.repeat(indent)}${line}`)];
  }).join('\n');
}

/** Words (split at `at`: spaces, or spaces before a bracket) as lines of at most `width` characters. */
function wrap(text: string, width: number, at: RegExp = / /): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(at)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return line ? [...lines, line] : lines;
}
