// Data files on disk, for Node (the CLI, the training script, tests). Kept apart from dataset.ts so the page's
// bundle never imports node:fs.

import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataSource } from './dataset';

/** Files under `root` (by default the repository's public/ folder, where the demo data lives). */
export function nodeSource(root: string = defaultPublicDir()): DataSource {
  const resolve = (p: string): string => path.resolve(root, p);
  return {
    open: async (p) => createReadStream(resolve(p)),
    readJson: async (p) => JSON.parse(await readFile(resolve(p), 'utf8')) as unknown,
  };
}

export function defaultPublicDir(): string {
  return fileURLToPath(new URL('../../public/', import.meta.url));
}
