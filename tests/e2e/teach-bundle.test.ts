/**
 * The teaching lab's page keeps the engine in its worker: the chunks its main thread loads (teach.html's module
 * scripts and preloads, and every chunk they import, statically or dynamically — not the worker bundles they start)
 * carry no module of the gradient code (src/onnx/autodiff, the gradient graph) nor of the engine (src/influence,
 * src/linalg). The modules of each chunk are read from its source map (vite.config.ts builds with sourcemap: true).
 * Needs the built page (`npm run build`), like the other e2e tests; no browser.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';

const DIST = 'dist';

function read(file: string): string {
  return readFileSync(path.join(DIST, file), 'utf8');
}

/** The chunks a page's main thread loads, as paths under dist/ ("/assets/x.js"). */
function mainThreadChunks(page: string): string[] {
  const html = read(page);
  const roots = [...html.matchAll(/<(?:script|link)[^>]*(?:src|href)="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
  const seen = new Set<string>();
  const todo = [...roots];
  while (todo.length > 0) {
    const chunk = todo.pop()!;
    if (seen.has(chunk)) continue;
    seen.add(chunk);
    const code = read(chunk);
    // `import … from "./x.js"`, `import "./x.js"`, `import("./x.js")`; a worker is `new URL("…", import.meta.url)`.
    for (const m of code.matchAll(/\b(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+\.js|\/assets\/[^"']+\.js)["']/g)) {
      const target = m[1]!;
      todo.push(target.startsWith('/') ? target : path.posix.join(path.posix.dirname(chunk), target));
    }
  }
  return [...seen];
}

/** Source files of a built chunk, relative to the repository ("src/teach/results.ts"). */
function modulesOf(chunk: string): string[] {
  const map = JSON.parse(read(`${chunk}.map`)) as { sources: string[] };
  const dir = path.posix.dirname(path.posix.join(DIST, chunk));
  return map.sources.map((source) => path.posix.normalize(path.posix.join(dir, source)));
}

const ENGINE = /^src\/(onnx\/autodiff\/|onnx\/gradient-graph|influence\/|linalg\/)/;

describe('teach.html bundle', () => {
  test('the main thread loads the lab UI and plain data, not autodiff or the engine; the worker has them', () => {
    if (!existsSync(path.join(DIST, 'teach.html')))
      throw new Error('dist/teach.html is missing: run `npm run build` before the e2e tests');
    const chunks = mainThreadChunks('teach.html');
    expect(chunks.length).toBeGreaterThan(0);
    const modules = chunks.flatMap(modulesOf);
    expect(modules).toContain('src/ui/teach/teach-app.ts');
    expect(modules).toContain('src/teach/results.ts');
    expect(modules.filter((m) => ENGINE.test(m))).toEqual([]);

    // The lab worker's bundle is where they went (so the check above can see such modules when they are there).
    const worker = read(chunks.find((c) => c.includes('/teach'))!).match(/["'(]([^"'()]*lab\.worker-[^"']+\.js)/)?.[1];
    expect(worker, 'the lab page starts its worker from src/worker/lab.worker.ts').toBeDefined();
    const workerModules = modulesOf(`/assets/${path.posix.basename(worker!)}`);
    expect(workerModules).toContain('src/worker/lab.worker.ts');
    expect(workerModules.some((m) => m.startsWith('src/onnx/autodiff/'))).toBe(true);
  });
});
