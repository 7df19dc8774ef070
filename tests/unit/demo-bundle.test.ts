/**
 * The precomputed full demo (issue 20 §2): the build (src/cli/demo-bundle.ts) is reproducible — the micro demo built
 * twice gives the same tensors' hashes, and a build resumed from its checkpoint file gives them too; the page's copy
 * keeps every score as the float32 rounding of the exact one and leaves the factors and per-layer scores out; the
 * manifest beside a bundle (public/demo/full-demo.json, and the committed micro stand-in the e2e test serves) matches
 * it.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { buildDemoBundle, compressedPageCopy, demoManifest, fileCheckpoint, pageCopy } from '../../src/cli/demo-bundle';
import { parseFullDemoManifest } from '../../src/core/full-demo';
import { decodeBundle } from '../../src/store/bundle';
import { fixturePath } from '../helpers/fixtures';

const work = mkdtempSync(path.join(tmpdir(), 'iwb-demo-bundle-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const quiet = { stdout: () => {}, stderr: () => {}, interactive: false };

/** The manifest's file size, sha256 and page tensors are those of the bundle beside it. */
async function expectManifestMatches(manifestFile: string, bundleFile: string): Promise<void> {
  const manifest = parseFullDemoManifest(readFileSync(manifestFile, 'utf8'), manifestFile);
  const bytes = new Uint8Array(readFileSync(bundleFile));
  const inflated = new Uint8Array(gunzipSync(bytes));
  expect(inflated.byteLength).toBe(manifest.bundle.uncompressedBytes);
  expect(path.basename(bundleFile)).toBe(manifest.bundle.file);
  expect(bytes.byteLength).toBe(manifest.bundle.bytes);
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(manifest.bundle.sha256);
  const bundle = await decodeBundle(inflated);
  const tensors = Object.fromEntries(Object.entries(bundle.manifest.tensors).map(([n, { sha256 }]) => [n, sha256]));
  expect(tensors).toEqual(manifest.pageTensors);
  expect([bundle.manifest.scores?.queries, bundle.manifest.scores?.train]).toEqual([manifest.queries, manifest.train]);
  // The page's copy's scores are the exact build's rounded: the build's hashes cover the same tensors and more.
  for (const name of Object.keys(manifest.pageTensors)) expect(manifest.buildTensors[name]).toBeDefined();
}

describe('the full demo bundle build', () => {
  it('gives the same tensors twice on the micro demo, and when resumed from its checkpoint file', async () => {
    const first = await buildDemoBundle(path.join(work, 'a.iwb'), ['--demo', 'micro'], { io: quiet });
    const second = await buildDemoBundle(path.join(work, 'b.iwb'), ['--demo', 'micro'], { io: quiet });
    expect(first.train).toBe(16);
    expect(first.queries).toBe(4);
    expect(Object.keys(first.tensors)).toContain('scores.group_token_influence');
    expect(Object.keys(first.tensors)).toContain('scores.pair_token_influence');
    expect(second.tensors).toEqual(first.tensors);
    // A build that saved only its first checkpoint (mid-way through the covariance pass), then resumed from it.
    const file = path.join(work, 'c.checkpoint');
    const firstOnly = fileCheckpoint(file, Infinity);
    await buildDemoBundle(path.join(work, 'c.iwb'), ['--demo', 'micro'], { io: quiet, checkpoint: firstOnly });
    const saved = await fileCheckpoint(file).load();
    expect(saved?.covariance?.nextIndex).toBeGreaterThan(0);
    expect(saved?.covariance?.nextIndex).toBeLessThan(16);
    expect(saved?.eigen).toBeUndefined();
    const resumed = await buildDemoBundle(path.join(work, 'd.iwb'), ['--demo', 'micro'], {
      io: quiet,
      checkpoint: file,
    });
    expect(resumed.tensors).toEqual(first.tensors);
  }, 180_000);

  it("the page's copy: float32 roundings of the exact scores, no factors, no per-layer scores", async () => {
    await buildDemoBundle(path.join(work, 'e.iwb'), ['--demo', 'micro'], { io: quiet });
    const exactBytes = new Uint8Array(readFileSync(path.join(work, 'e.iwb')));
    const exact = await decodeBundle(exactBytes);
    const page = await pageCopy(exactBytes);
    const copy = await decodeBundle(page);
    expect(page.byteLength).toBeLessThan(exactBytes.byteLength);
    expect(copy.manifest.stages).toEqual(['scores', 'self']);
    expect(Object.keys(copy.manifest.tensors).filter((n) => n.startsWith('layers.'))).toEqual([]);
    expect(copy.scores.tauPerLayer).toBeUndefined();
    expect(copy.manifest.rows).toEqual(exact.manifest.rows);
    const rounded = (a: Float64Array) => Array.from(a, (v) => Math.fround(v));
    expect(Array.from(copy.scores.tau!.data)).toEqual(rounded(exact.scores.tau!.data));
    expect(Array.from(copy.scores.influence!.data)).toEqual(rounded(exact.scores.influence!.data));
    expect(Array.from(copy.scores.selfTau!.data)).toEqual(rounded(exact.scores.selfTau!.data));
    expect(Array.from(copy.scores.groupTokens!.values.data)).toEqual(rounded(exact.scores.groupTokens!.values.data));
    expect(Array.from(copy.scores.pairTokens!.values.data)).toEqual(rounded(exact.scores.pairTokens!.values.data));
    expect(Array.from(copy.scores.pairTokens!.pairs)).toEqual(Array.from(exact.scores.pairTokens!.pairs));
    // Deterministic: the same exact bundle gives the same bytes.
    expect(await pageCopy(exactBytes)).toEqual(page);
    const download = compressedPageCopy(page);
    expect(compressedPageCopy(page)).toEqual(download);
    expect(new Uint8Array(gunzipSync(download))).toEqual(page);
    const manifest = await demoManifest(
      {
        queries: 4,
        train: 16,
        tensors: Object.fromEntries(Object.entries(exact.manifest.tensors).map(([n, t]) => [n, t.sha256])),
      },
      download,
      { file: 'full-demo.iwb.gz', command: 'test', commit: 'test' },
    );
    expect(manifest.bundle.bytes).toBe(download.byteLength);
    expect(manifest.bundle.uncompressedBytes).toBe(page.byteLength);
    expect(Object.keys(manifest.pageTensors).length).toBeLessThan(Object.keys(manifest.buildTensors).length);
  }, 120_000);
});

describe('the manifest beside a demo bundle', () => {
  it('matches the micro stand-in the e2e test serves', async () => {
    await expectManifestMatches(fixturePath('demo/full-demo.json'), fixturePath('demo/full-demo.iwb.gz'));
  });

  it('matches the committed full demo bundle (public/demo), which comes with its manifest or not at all', async () => {
    const [manifest, bundle] = ['public/demo/full-demo.json', 'public/demo/full-demo.iwb.gz'];
    expect(existsSync(manifest)).toBe(existsSync(bundle));
    if (existsSync(bundle)) {
      await expectManifestMatches(manifest, bundle);
      const parsed = parseFullDemoManifest(readFileSync(manifest, 'utf8'), manifest);
      expect([parsed.train, parsed.queries]).toEqual([2972, 400]);
      // The page's download budget (issue 20 §2).
      expect(parsed.bundle.bytes).toBeLessThanOrEqual(25e6);
    }
  });

  it('refuses a manifest with a missing or mistyped field, naming it', () => {
    const good = JSON.parse(readFileSync(fixturePath('demo/full-demo.json'), 'utf8')) as Record<string, unknown>;
    expect(() => parseFullDemoManifest(JSON.stringify({ ...good, train: -1 }), 'm.json')).toThrow(
      'm.json: field "train" should be a non-negative integer',
    );
    expect(() =>
      parseFullDemoManifest(
        JSON.stringify({ ...good, bundle: { file: 'x.bin', bytes: 1, sha256: 'a'.repeat(64), uncompressedBytes: 1 } }),
        'm.json',
      ),
    ).toThrow('field "bundle.file" should be a file name ending in .iwb or .iwb.gz');
    expect(() => parseFullDemoManifest('{', 'm.json')).toThrow('m.json: not JSON');
    expect(() => parseFullDemoManifest(JSON.stringify({ ...good, pageTensors: { x: 'zz' } }), 'm.json')).toThrow(
      'field "pageTensors.x" should be a sha256 (64 hex)',
    );
  });
});
