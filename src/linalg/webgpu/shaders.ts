/**
 * The one loader for shaders/*.wgsl. Under Vite (page, worker, vitest) the sources are inlined at build time by
 * import.meta.glob; under plain Node (the CLI through tsx) that call does not exist and the files are read from disk.
 */

let cache: Record<string, string> | undefined;

async function loadAll(): Promise<Record<string, string>> {
  try {
    const modules = import.meta.glob('../../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true });
    const out: Record<string, string> = {};
    for (const [path, source] of Object.entries(modules)) out[baseName(path)] = source as string;
    return out;
  } catch {
    const fs = await import(/* @vite-ignore */ 'node:fs/promises');
    const dir = new URL('../../../shaders/', import.meta.url);
    const out: Record<string, string> = {};
    for (const file of await fs.readdir(dir)) {
      if (file.endsWith('.wgsl')) out[baseName(file)] = await fs.readFile(new URL(file, dir), 'utf8');
    }
    return out;
  }
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1).replace(/\.wgsl$/, '');
}

/** Source of shaders/<name>.wgsl; throws naming the file when it does not exist. */
export async function shaderSource(name: string): Promise<string> {
  cache ??= await loadAll();
  const source = cache[name];
  if (source === undefined) throw new Error(`shader "shaders/${name}.wgsl" not found (have: ${Object.keys(cache).join(', ')})`);
  return source;
}
