/** The one loader for shaders/*.wgsl (how they are read, in Vite or plain Node, is src/platform/shaders.ts's). */
import { shaderFiles } from '../../platform/shaders';

let cache: Record<string, string> | undefined;

/** Source of shaders/<name>.wgsl; throws naming the file when it does not exist. */
export async function shaderSource(name: string): Promise<string> {
  cache ??= await shaderFiles();
  const source = cache[name];
  if (source === undefined)
    throw new Error(`shader "shaders/${name}.wgsl" not found (have: ${Object.keys(cache).join(', ')})`);
  return source;
}
