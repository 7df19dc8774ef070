/**
 * The one results model (src/app/run-results.ts) on the committed bundles: it reads a bundle's tensors as they are;
 * its one ranking path equals a float64 sort written here from the bundle's own numbers; a bundle stored in the
 * page's IndexedDB (fake-indexeddb) reads back to the same results and rankings as the bundle opened in memory; token
 * counts come from per-token offsets or, without them, from the rows' tokens, and 'token-count' is refused when
 * neither is there. The cache (src/app/open-runs.ts) holds unstored bundles until kept and the two stored runs
 * opened last.
 */
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { OpenRuns, KEPT_OPEN } from '../../src/app/open-runs';
import { openBundle, rankResults, runResults, tensorsReader, type RunResults } from '../../src/app/run-results';
import type { Normalization } from '../../src/app/results';
import { benchmarkOf } from '../../src/influence/aggregate';
import { SCORE_TENSORS, decodeBundle } from '../../src/store/bundle';
import { PageRunStore } from '../../src/worker/run-store';
import { readFixture } from '../helpers/fixtures';

const FIXTURES = ['workspace/small.iwb', 'sequences/run.iwb', 'evaluation/micro.iwb'];
const K = 4;

const storage = {
  persisted: async () => false,
  persist: async () => true,
  estimate: async () => ({ quota: 1e12, usage: 0 }),
  getDirectory: () => Promise.reject(new Error('no file system here')),
} satisfies StorageManager;

/** The reference: the k largest positive and k most negative of a float64 row, ties in index order. */
function reference(row: readonly number[], ids: readonly string[], k: number) {
  const order = row.map((_, n) => n);
  const pick = (sign: 1 | -1) =>
    [...order]
      .sort((a, b) => sign * (row[b]! - row[a]!) || a - b)
      .slice(0, k)
      .filter((n) => sign * row[n]! > 0)
      .map((n) => ({ trainId: ids[n]!, score: row[n]! }));
  return { helpful: pick(1), harmful: pick(-1) };
}

describe.each(FIXTURES)('%s', (fixture) => {
  it('reads the bundle’s tensors and rows as they are', async () => {
    const bytes = readFixture(fixture);
    const bundle = await decodeBundle(bytes);
    const { results } = await openBundle(bytes, 'opened');
    const rows = bundle.manifest.rows!;
    expect(results.name).toBe('opened');
    expect(results.result.influence).toEqual(bundle.scores.influence!.data);
    expect(results.result.selfTau).toEqual(bundle.scores.selfTau!.data);
    expect(results.result.train.map((t) => t.id)).toEqual(rows.train.map((r) => r.id));
    expect(results.result.queries.map((q) => q.id)).toEqual(rows.query.map((r) => r.id));
    expect(results.result.config.measurement).toBe(bundle.manifest.scores!.measurement);
    expect(results.summary.strategy).toBe(bundle.manifest.strategy);
    expect(results.summary.trainCount).toBe(rows.train.length);
  });

  it('ranks every query and benchmark as a float64 sort of its row, raw and ÷ √self-influence', async () => {
    const bytes = readFixture(fixture);
    const bundle = await decodeBundle(bytes);
    const { results } = await openBundle(bytes, 'opened');
    const influence = Array.from(bundle.scores.influence!.data);
    const selfTau = Array.from(bundle.scores.selfTau!.data);
    const rows = bundle.manifest.rows!;
    const ids = rows.train.map((r) => r.id);
    const n = ids.length;
    const scaled = (norm: Normalization, q: number) =>
      influence.slice(q * n, (q + 1) * n).map((v, i) => {
        if (norm === 'none') return v;
        const d = Math.sqrt(Math.max(selfTau[i]!, 0));
        return d > 0 ? v / d : 0;
      });
    for (const norm of ['none', 'self-influence'] as const) {
      rows.query.forEach((query, q) => {
        const top = rankResults(results, { query: query.id }, K, norm);
        const expected = reference(scaled(norm, q), ids, K);
        expect(top.helpful.map((r) => ({ trainId: r.trainId, score: r.score }))).toEqual(expected.helpful);
        expect(top.harmful.map((r) => ({ trainId: r.trainId, score: r.score }))).toEqual(expected.harmful);
      });
      for (const benchmark of new Set(results.result.queries.map(benchmarkOf))) {
        const members = results.result.queries.flatMap((query, q) => (benchmarkOf(query) === benchmark ? [q] : []));
        const mean = ids.map((_, i) => members.reduce((sum, q) => sum + scaled(norm, q)[i]!, 0) / members.length);
        const top = rankResults(results, { benchmark }, K, norm);
        expect(top.helpful.map((r) => r.trainId)).toEqual(reference(mean, ids, K).helpful.map((r) => r.trainId));
        expect(top.harmful.map((r) => r.trainId)).toEqual(reference(mean, ids, K).harmful.map((r) => r.trainId));
      }
    }
  });

  it('reads the same stored in IndexedDB as opened in memory', async () => {
    const bytes = readFixture(fixture);
    const viewed = (await openBundle(bytes, 'opened')).results;
    const runs = await PageRunStore.open({ indexedDB: new IDBFactory(), IDBKeyRange }, storage);
    const { id } = await runs.importBundle(bytes, 'opened');
    const stored = await runs.open(id);
    expect(stored.result).toEqual(viewed.result);
    expect(stored.rows).toEqual(viewed.rows);
    expect(stored.trainTexts).toEqual(viewed.trainTexts);
    const query = { query: viewed.result.queries[0]!.id };
    expect(rankResults(stored, query, K, 'self-influence')).toEqual(rankResults(viewed, query, K, 'self-influence'));
  });
});

describe('token counts', () => {
  it('come from per-token offsets, else from the rows’ tokens; without either, token-count is refused', async () => {
    const opened = await openBundle(readFixture('workspace/small.iwb'), 'small');
    const offsets = (await decodeBundle(readFixture('workspace/small.iwb'))).scores.tauPerToken!.offsets;
    const counts = Int32Array.from({ length: offsets.length - 1 }, (_, n) => offsets[n + 1]! - offsets[n]!);
    expect(opened.results.result.trainTokenCounts).toEqual(counts);
    const read = tensorsReader(opened);
    // The same run without its per-token and group tensors: its rows' tokens give the same counts.
    const perToken = new Set<string>([
      SCORE_TENSORS.tauPerToken,
      SCORE_TENSORS.tauPerTokenOffsets,
      SCORE_TENSORS.groupTokenInfluence,
      SCORE_TENSORS.groupTokenOffsets,
      SCORE_TENSORS.groupTokenQueries,
    ]);
    const withoutPerToken = (name: string) => (perToken.has(name) ? Promise.resolve(undefined) : read(name));
    const run = { ...opened.run, tokenGroups: undefined };
    const fromRows = await runResults(run, withoutPerToken);
    expect(fromRows.result.tauPerToken).toBeNull();
    expect(fromRows.result.trainTokenCounts).toEqual(counts);
    const query = { query: fromRows.result.queries[0]!.id };
    expect(rankResults(fromRows, query, K, 'token-count')).toEqual(
      rankResults(opened.results, query, K, 'token-count'),
    );
    // And without the rows' tokens too: no counts, so 'token-count' is refused with a reason.
    const rows = opened.run.rows!;
    const untokenized = { ...run, rows: { ...rows, train: rows.train.map(({ tokens: _, ...row }) => row) } };
    const bare = await runResults(untokenized, withoutPerToken);
    expect(bare.result.trainTokenCounts.length).toBe(0);
    expect(() => rankResults(bare, query, K, 'token-count')).toThrow(/keeps no token counts/);
  });
});

describe('open runs (the one cache)', () => {
  it('holds an unstored bundle until it is stored, and the two stored runs opened last', async () => {
    const opened = await openBundle(readFixture('workspace/small.iwb'), 'small');
    const loads: string[] = [];
    const cache = new OpenRuns(async (runId) => {
      loads.push(runId);
      return { ...opened.results, name: runId } satisfies RunResults;
    });
    cache.holdUnstored(opened);
    expect(await cache.get(opened.run.id)).toBe(opened.results);
    expect(cache.unstoredBundle(opened.run.id)).toBe(opened);
    expect(KEPT_OPEN).toBe(2);
    const a = await cache.get('a');
    expect(await cache.get('a')).toBe(a);
    await cache.get('b');
    await cache.get('c'); // the two stored runs opened last are b and c: a is let go
    expect(loads).toEqual(['a', 'b', 'c']);
    await cache.get('a');
    expect(loads).toEqual(['a', 'b', 'c', 'a']);
    // The unstored bundle is still held (it exists nowhere else) until it is stored.
    expect(await cache.get(opened.run.id)).toBe(opened.results);
    cache.stored(opened.run.id);
    expect(cache.unstoredBundle(opened.run.id)).toBeUndefined();
    cache.forget('a');
    await cache.get('a');
    expect(loads.at(-1)).toBe('a');
    expect(loads.length).toBe(5);
  });
});
