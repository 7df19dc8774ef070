/** Node side of file-source.ts: a directory on disk, and writing a set of files into one. Not bundled into the page. */
import { mkdir, readFile, readdir, realpath, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { FileSource } from './file-source';

/**
 * The regular files under `directory` (symbolic links are not listed, so a link out of the folder is never read);
 * `read` serves only a listed path, and only while it still resolves inside the folder.
 */
export async function nodeDirectorySource(directory: string): Promise<FileSource> {
  const root = await realpath(directory);
  const sizes = new Map<string, number>();
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const absolute = join(entry.parentPath, entry.name);
    sizes.set(relative(directory, absolute).split(sep).join('/'), (await stat(absolute)).size);
  }
  return {
    paths: [...sizes.keys()].sort(),
    size: (path) => {
      const size = sizes.get(path);
      if (size === undefined) throw new Error(`no file '${path}' in ${directory}`);
      return size;
    },
    read: async (path) => {
      if (!sizes.has(path)) throw new Error(`no file '${path}' in ${directory}`);
      const real = await realpath(join(directory, ...path.split('/')));
      if (!real.startsWith(root.endsWith(sep) ? root : root + sep))
        throw new Error(`'${path}' in ${directory} now resolves to ${real}, outside the folder`);
      return new Uint8Array(await readFile(real));
    },
  };
}

/** Write `files` (relative '/'-separated paths) under `directory`, creating subdirectories. */
export async function writeFilesToDirectory(directory: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
  for (const [path, bytes] of files) {
    const target = join(directory, ...path.split('/'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
  }
}
