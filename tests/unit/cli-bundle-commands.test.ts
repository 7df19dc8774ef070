/** `iwb inspect` and `iwb export --csv` on a committed bundle, a corrupted copy and bad usage. */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeBundle } from '../../src/store/bundle';
import { cli } from '../helpers/cli';
import { fixturePath } from '../helpers/fixtures';

const BUNDLE = fixturePath('workspace/small.iwb');
const work = mkdtempSync(path.join(tmpdir(), 'iwb-bundle-cmd-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function decoded() {
  const bundle = await decodeBundle(new Uint8Array(readFileSync(BUNDLE)));
  const { queries, train } = bundle.manifest.scores!;
  const ids = (role: 'train' | 'query') => bundle.manifest.rows![role].map((row) => row.id);
  return { bundle, queries, train, trainIds: ids('train'), queryIds: ids('query') };
}

describe('iwb inspect', () => {
  it("prints the manifest, verifies checksums and lists each query's top examples as a Node sort ranks them", async () => {
    const { bundle, queries, train, trainIds, queryIds } = await decoded();
    const { code, stdout, stderr } = await cli(['inspect', BUNDLE, '--top', '2']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`${Object.keys(bundle.manifest.tensors).length} tensors, every sha256 verified`);
    expect(stdout).toContain(`${queries} queries × ${train} training examples`);
    const influence = bundle.scores.influence!.data;
    for (const [q, queryId] of queryIds.entries()) {
      const order = trainIds.map((_, n) => n).sort((a, b) => influence[q * train + b]! - influence[q * train + a]!);
      const line = stdout.split('\n').find((l) => l.startsWith(`  ${queryId}: `))!;
      const [helpful, harmful] = line.split(' | ');
      expect(helpful).toContain(`helpful ${trainIds[order[0]!]} `);
      expect(harmful).toContain(`harmful ${trainIds[order[train - 1]!]} `);
    }
  });

  it('a flipped byte in the tensor data exits 1 with one line naming the file and the tensor', async () => {
    const corrupt = Buffer.from(readFileSync(BUNDLE));
    corrupt[corrupt.length - 5] ^= 0x10;
    const file = path.join(work, 'corrupt.iwb');
    writeFileSync(file, corrupt);
    const { code, stdout, stderr } = await cli(['inspect', file]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(new RegExp(`^iwb: ${file.replaceAll('.', '\\.')}: .*checksum mismatch in tensor '`));
  });

  it('bad usage exits 2 with one line', async () => {
    for (const argv of [
      ['inspect'],
      ['inspect', BUNDLE, '--top', '0x5'],
      ['inspect', BUNDLE, '--top', '2', '--top', '3'],
    ]) {
      const { code, stderr } = await cli(argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(stderr.startsWith('iwb: '), argv.join(' ')).toBe(true);
    }
  });
});

describe('iwb export --csv', () => {
  it('writes every score in full precision, one row per query × training example, and the self-influences', async () => {
    const { bundle, queries, train, trainIds, queryIds } = await decoded();
    const dir = path.join(work, 'csv');
    const { code, stderr } = await cli(['export', BUNDLE, '--csv', dir]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const scores = readFileSync(path.join(dir, 'scores.csv'), 'utf8').trim().split('\n');
    expect(scores[0]).toBe('query_id,train_id,tau,influence,query_benchmark,train_domain,train_difficulty');
    expect(scores).toHaveLength(1 + queries * train);
    for (let q = 0; q < queries; q++) {
      for (let n = 0; n < train; n++) {
        const [queryId, trainId, tau, influence] = scores[1 + q * train + n]!.split(',');
        expect([queryId, trainId]).toEqual([queryIds[q], trainIds[n]]);
        expect(Number(tau)).toBe(bundle.scores.tau!.data[q * train + n]);
        expect(Number(influence)).toBe(bundle.scores.influence!.data[q * train + n]);
      }
    }
    const self = readFileSync(path.join(dir, 'self.csv'), 'utf8').trim().split('\n');
    expect(self).toHaveLength(1 + train);
    expect(self.slice(1).map((line) => Number(line.split(',')[1]))).toEqual(Array.from(bundle.scores.selfTau!.data));
  });

  it('refuses to write over the bundle it reads, and leaves it whole', async () => {
    const dir = path.join(work, 'same');
    const file = path.join(dir, 'scores.csv');
    rmSync(dir, { recursive: true, force: true });
    await import('node:fs').then((fs) => fs.mkdirSync(dir, { recursive: true }));
    copyFileSync(BUNDLE, file);
    const { code, stderr } = await cli(['export', file, '--csv', dir]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/refusing to overwrite an input/);
    expect(readFileSync(file).equals(readFileSync(BUNDLE))).toBe(true);
  });
});
