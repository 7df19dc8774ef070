import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { VitePWA } from 'vite-plugin-pwa';
import { defineConfig } from 'vitest/config';

// One config for the page (vite), and the three test rigs (vitest projects):
//   unit — plain Node; gpu — real WGSL on Dawn + SwiftShader in Node; e2e — headless Chromium.
export default defineConfig({
  // The page offers the precomputed full demo on a first visit when the build has it (src/ui/full-demo-offer.ts).
  define: { 'import.meta.env.IWB_FULL_DEMO': JSON.stringify(existsSync('public/demo/full-demo.json') ? 'yes' : 'no') },
  server: { host: '127.0.0.1', port: 5173, strictPort: false },
  plugins: [
    // Offline after the first visit: the service worker precaches the app, onnxruntime's wasm, the demo model, data
    // and tokenizer (no network at run time). Tests (vitest) build nothing, so they skip it.
    ...(process.env.VITEST
      ? []
      : [
          VitePWA({
            registerType: 'autoUpdate',
            injectRegister: 'script-defer',
            manifest: false,
            workbox: {
              // woff2: KaTeX's fonts for the teaching lab's formulas (browsers take woff2 first from its @font-face).
              globPatterns: ['**/*.{js,css,html,svg,wasm,onnx,json,jsonl,md,woff2}'],
              // onnxruntime's wasm (~25 MB) and the demo model are over Workbox's 2 MiB default.
              maximumFileSizeToCacheInBytes: 64 * 2 ** 20,
              // The precomputed full demo (public/demo/*.iwb.gz) is not in the first paint's precache (the glob above
              // has neither .iwb nor .gz): it is cached when first opened, and served from that cache after (offline
              // too). Its URL carries its content's hash (?v=), so a rebuilt bundle is fetched anew.
              runtimeCaching: [
                {
                  urlPattern: ({ url }) => /\/demo\/[^/]+\.iwb(\.gz)?$/.test(url.pathname),
                  handler: 'CacheFirst',
                  options: { cacheName: 'iwb-demo-bundles', cacheableResponse: { statuses: [200] } },
                },
              ],
              // Links with ?bundle=… or ?demo=… are the same page (no navigation fallback: there are two pages).
              ignoreURLParametersMatching: [/.*/],
              // The first visit's page is controlled as soon as the cache is full, so it is offline-ready without a
              // reload.
              clientsClaim: true,
              skipWaiting: true,
            },
          }),
        ]),
  ],
  preview: { host: '127.0.0.1', port: 4173 },
  worker: { format: 'es' },
  optimizeDeps: {
    exclude: ['onnxruntime-web'],
    // The dev server's dependency scan starts from every page, the e2e rigs' test pages included. With two build
    // inputs set below, Vite would otherwise scan only those two, find the test pages' dependencies late and reload
    // the page mid-test.
    entries: ['index.html', 'teach.html', 'experiments.html', 'tests/e2e/pages/*.html'],
  },
  build: {
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 4096,
    // Three pages: the workbench, the teaching lab and the experiments' results (read-only).
    rollupOptions: { input: { main: 'index.html', teach: 'teach.html', experiments: 'experiments.html' } },
  },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          // Vitest's default in a run is one worker fewer than the cores: a single worker on a 2-core machine, whose
          // second core then idles. The unit files are single-threaded JavaScript: one worker a core.
          maxWorkers: Math.max(2, availableParallelism() - 1),
        },
      },
      {
        extends: true,
        test: {
          name: 'gpu',
          include: ['tests/gpu/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          // One Dawn instance per worker process; SwiftShader uses the CPU cores itself.
          pool: 'forks',
          maxWorkers: 1,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 120_000,
          pool: 'forks',
          // Two files at a time, each with its own preview server (port 0), Chromium and profile (its own IndexedDB),
          // and the dev-server files their own dependency cache. Much of an e2e file's time is waiting on its page
          // (loads, IndexedDB, worker messages), so a second file keeps the other core busy meanwhile.
          maxWorkers: 2,
          fileParallelism: true,
        },
      },
    ],
  },
});
