/**
 * The one place that knows where the code runs. Everything else asks here instead of probing on its own:
 * - Node (the CLI through tsx, vitest, benchmarks) or a browser page or worker;
 * - whether Vite transformed the code (page, worker, vitest: import.meta.glob and `?raw`/`?url` imports work) or
 *   plain Node runs it (the CLI through tsx);
 * - Node-only modules, imported at run time so Vite never bundles them into the page;
 * - which onnxruntime-web build loads (ort.ts) and how shaders/*.wgsl are read (shaders.ts).
 */

const nodeVersion = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;

/** True in Node (CLI, tests, benchmarks); false in a browser page or worker. */
export const isNode = typeof nodeVersion === 'string';

/** True where Vite transformed the code (it replaces import.meta.env); false under plain Node (tsx). */
export const viteTransformed = typeof import.meta.env !== 'undefined';

/**
 * A Node built-in or package imported at run time. The specifier is a variable and marked @vite-ignore, so Vite
 * neither bundles it nor warns; page code never calls this (it throws outside Node, naming the module).
 */
export async function nodeImport<T>(specifier: string): Promise<T> {
  if (!isNode) throw new Error(`"${specifier}" is a Node module and cannot load in the browser`);
  return (await import(/* @vite-ignore */ specifier)) as T;
}
