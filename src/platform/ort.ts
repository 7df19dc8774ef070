/**
 * Which onnxruntime-web build loads. In Node, 'onnxruntime-web' (its Node build finds its .wasm next to itself,
 * offline). In the browser, 'onnxruntime-web/webgpu' for both EPs, so the page ships one wasm binary; its URL comes
 * through Vite (`?url`), which serves it from node_modules in dev and emits it as an asset in the build.
 */
import type * as Ort from 'onnxruntime-web';
import { isNode, nodeImport } from './index';

export type OrtModule = typeof Ort;

let ortModule: Promise<OrtModule> | null = null;

/** Loads and configures onnxruntime-web once per process/worker. */
export function loadOrt(): Promise<OrtModule> {
  ortModule ??= (async () => {
    if (isNode) {
      const ort = await nodeImport<OrtModule>('onnxruntime-web');
      const { availableParallelism } = await nodeImport<{ availableParallelism(): number }>('node:os');
      // Half the cores, at most 4: the Node runs share the machine with Dawn's SwiftShader and other processes.
      ort.env.wasm.numThreads = Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));
      return ort;
    }
    const ort = (await import('onnxruntime-web/webgpu')) as OrtModule;
    const { default: wasm } = await import('onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url');
    ort.env.wasm.wasmPaths = { wasm };
    // Threads need SharedArrayBuffer, i.e. a cross-origin-isolated page; otherwise ORT would only warn and use one.
    const browser = globalThis as { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency: number } };
    const cores = browser.navigator?.hardwareConcurrency ?? 1;
    ort.env.wasm.numThreads = browser.crossOriginIsolated ? Math.max(1, Math.min(4, Math.floor(cores / 2))) : 1;
    ort.env.wasm.proxy = false; // the proxy worker refuses GPU outputs; we already run inside our own worker
    return ort;
  })();
  return ortModule;
}
