/**
 * bergson's score store (tests/fixtures/bergson, written by numpy in bergson's layout): read for float32 and float16
 * to the exact values the fixture script wrote; damaged, interrupted, per-token stores and factor shards refused.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { importBergson, readBergsonScores } from '../../src/store/bergson';
import { memoryFileSource } from '../../src/store/file-source';
import { cli } from '../helpers/cli';
import { fixturePath, KRONFLUENCE_FIXTURES } from '../helpers/fixtures';

const ROOT = fixturePath('bergson');

function folder(...names: string[]): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const name of names)
    for (const file of readdirSync(path.join(ROOT, name)))
      if (statSync(path.join(ROOT, name, file)).isFile())
        files.set(`${name}/${file}`, new Uint8Array(readFileSync(path.join(ROOT, name, file))));
  return files;
}

/** The fixture's formula: score(q, r) = (q + 1)(r − 2)/4, as [queries, documents]. */
const expected = (queries: number, rows: number) =>
  Array.from({ length: queries * rows }, (_, i) => ((Math.floor(i / rows) + 1) * ((i % rows) - 2)) / 4);

test('float32 and float16 stores are read as [queries, documents] with the values written', async () => {
  const stores = await importBergson(memoryFileSource(folder('scores_f16', 'scores_f32')));
  expect(stores.map((s) => [s.directory, s.format, s.scores.shape])).toEqual([
    ['scores_f16', 'float16', [2, 4]],
    ['scores_f32', 'float32', [3, 5]],
  ]);
  expect([...stores[0]!.scores.data]).toEqual(expected(2, 4));
  expect([...stores[1]!.scores.data]).toEqual(expected(3, 5));
});

test('a cell never written is refused, naming the row and the query', async () => {
  await expect(readBergsonScores(memoryFileSource(folder('scores_interrupted')), 'scores_interrupted')).rejects.toThrow(
    'scores_interrupted/scores.bin: row 3, score_1 was never written (an interrupted scoring run? bergson resumes it)',
  );
});

test('a scores.bin whose size does not match info.json is refused with both sizes', async () => {
  const files = folder('scores_f32');
  files.set('scores_f32/scores.bin', files.get('scores_f32/scores.bin')!.subarray(0, 96));
  await expect(importBergson(memoryFileSource(files))).rejects.toThrow(
    "scores_f32/scores.bin: is 96 bytes; info.json's 5 rows × 24 bytes need 120",
  );
});

test('per-token stores, unknown formats and bad layouts are refused naming the field', async () => {
  const withInfo = (edit: (info: Record<string, unknown>) => void) => {
    const files = folder('scores_f32');
    const info = JSON.parse(new TextDecoder().decode(files.get('scores_f32/info.json'))) as Record<string, unknown>;
    edit(info);
    files.set('scores_f32/info.json', new TextEncoder().encode(JSON.stringify(info)));
    return importBergson(memoryFileSource(files));
  };
  await expect(withInfo((i) => (i.attribute_tokens = true))).rejects.toThrow(/per-token score store/);
  await expect(withInfo((i) => ((i.dtype as { formats: string[] }).formats[0] = 'int8'))).rejects.toThrow(
    'scores_f32/info.json: score format "int8" is not one of float64, float32, float16, bfloat16',
  );
  await expect(withInfo((i) => ((i.dtype as { offsets: number[] }).offsets[4] = 22))).rejects.toThrow(
    'scores_f32/info.json: dtype.offsets for query 2 lie outside the 24-byte record',
  );
  await expect(withInfo((i) => (i.num_scores = 4))).rejects.toThrow(/field "dtype" must hold names/);
});

test("bergson's EK-FAC factor shards are refused, saying what to give instead", async () => {
  const files = new Map([['run/eigen_activation_sharded/shard_0.safetensors', new Uint8Array(8)]]);
  await expect(importBergson(memoryFileSource(files))).rejects.toThrow(
    /eigen_activation_sharded\/shard_0\.safetensors: bergson's EK-FAC factor shards are not read/,
  );
});

test('iwb inspect DIR prints each bergson store with its top rows per query; a kronfluence scores folder too', async () => {
  const { code, stdout, stderr } = await cli(['inspect', path.join(ROOT, 'scores_f32'), '--top', '2']);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(stdout).toContain('.: bergson score store, 3 queries × 5 training rows, float32; top 2 rows per query:');
  // score(q, r) = (q + 1)(r − 2)/4: the largest rows are the last two, for every query.
  expect(stdout).toContain('  query 2: 4:1.500  3:0.7500');
  // A folder holding an interrupted store is refused as a whole, naming the store and the cell.
  const all = await cli(['inspect', ROOT]);
  expect(all.code).not.toBe(0);
  expect(all.stderr).toMatch(/scores_interrupted\/scores\.bin: row 3, score_1 was never written/);
  const kronfluence = await cli(['inspect', path.join(KRONFLUENCE_FIXTURES, 'token_lm', 'kronfluence', 'token_lm')]);
  expect(kronfluence.code).toBe(0);
  expect(kronfluence.stdout).toContain('scores_pairwise: kronfluence pairwise scores, 6 queries × 40 training rows');
  expect(kronfluence.stdout).toContain('factors_ekfac: kronfluence ekfac factors, modules down, unembed, up');
});
