/**
 * docs/architecture.md names the files each recipe touches; a recipe that names a file which is not there (moved,
 * renamed, never made) sends a contributor the wrong way. Every backticked repository path on that page must exist.
 */
import { existsSync, readFileSync } from 'node:fs';
import { expect, test } from 'vitest';

const DOC = 'docs/architecture.md';
const TOP = /^(src|tests|docs|scripts|shaders|public|bin)\//;
const ROOT_FILE = /^[\w.-]+\.(ts|js|mjs|json|html|md)$/;

/** Backticked tokens that are repository paths: under a top-level folder, or a file at the root; no globs. */
export function repositoryPaths(markdown: string): string[] {
  const tokens = [...markdown.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!.trim());
  const paths = tokens.filter((t) => !/[\s*<>…{}()]/.test(t) && (TOP.test(t) || ROOT_FILE.test(t)));
  return [...new Set(paths)];
}

test('every backticked repository path in docs/architecture.md exists', () => {
  const paths = repositoryPaths(readFileSync(DOC, 'utf8'));
  // The page names the files of six recipes and every layer: far more than a handful.
  expect(paths.length).toBeGreaterThan(60);
  expect(paths.filter((p) => !existsSync(p))).toEqual([]);
});

test('the check sees paths in any backticked form and skips what is not a path', () => {
  const sample =
    'Edit `src/cli/commands.ts` and `src/nope/missing.ts`, the folder `src/ui/`, `eslint.config.js`, ' +
    'not `shaders/*.wgsl`, `runtime.run(PROGRAM)`, `src/ui/workspace/<name>-view.ts` or `STRATEGIES`.';
  const paths = repositoryPaths(sample);
  expect(paths).toEqual(['src/cli/commands.ts', 'src/nope/missing.ts', 'src/ui/', 'eslint.config.js']);
  expect(paths.filter((p) => !existsSync(p))).toEqual(['src/nope/missing.ts']);
});
