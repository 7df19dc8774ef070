/**
 * Sources of shaders/*.wgsl by base name. Where Vite transformed the code, import.meta.glob inlines them at build
 * time (page, worker, vitest); under plain Node (the CLI through tsx) they are read from disk.
 */
import { nodeImport, viteTransformed } from './index';

/** What is used of node:fs/promises (declared here: page and worker code is checked without Node's types). */
interface NodeFs {
  readdir(dir: URL): Promise<string[]>;
  readFile(file: URL, encoding: 'utf8'): Promise<string>;
}

export async function shaderFiles(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (viteTransformed) {
    const modules = import.meta.glob('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true });
    for (const [path, source] of Object.entries(modules)) out[baseName(path)] = source as string;
    return out;
  }
  const fs = await nodeImport<NodeFs>('node:fs/promises');
  const dir = new URL('../../shaders/', import.meta.url);
  for (const file of await fs.readdir(dir)) {
    if (file.endsWith('.wgsl')) out[baseName(file)] = await fs.readFile(new URL(file, dir), 'utf8');
  }
  return out;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1).replace(/\.wgsl$/, '');
}
