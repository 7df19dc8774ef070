/**
 * Resource and limit edges (issue 25 §9–10): a bundle its first 8 bytes make invalid is refused without being read;
 * header keys spelled with escapes still count as tensors; a safetensors header nested deep is refused without a
 * stack overflow; an output name too long for the file system is refused before the run; file system errors name
 * the user's file, never a temporary.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOutputPaths, describeFsError, mkdirCause, OutputError } from '../../src/cli/output';
import { readSafetensors, SafetensorsError } from '../../src/store/safetensors';
import { cli } from '../helpers/cli';

const work = mkdtempSync(path.join(tmpdir(), 'iwb-edges-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A safetensors file with `header` as its JSON header and no data. */
function safetensors(header: string): Uint8Array {
  const text = new TextEncoder().encode(header);
  const bytes = new Uint8Array(8 + text.length);
  new DataView(bytes.buffer).setUint32(0, text.length, true);
  bytes.set(text, 8);
  return bytes;
}

describe('bundles refused by their first bytes', () => {
  it('a 2 GiB − 1 sparse file of zeros is refused from its first 8 bytes, at once', async () => {
    const file = path.join(work, 'sparse.iwb');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, 2 ** 31 - 1);
    closeSync(fd);
    for (const command of ['inspect', 'export']) {
      const argv = command === 'inspect' ? [command, file] : [command, file, '--csv', path.join(work, 'csv')];
      const { code, stderr } = await cli(argv);
      expect(code).toBe(1);
      expect(stderr).toBe(
        `iwb: ${file}: not a bundle: its first 8 bytes give a header of 0 bytes, too small for a JSON object\n`,
      );
    }
  });

  it('a header longer than the file is refused before reading', async () => {
    const file = path.join(work, 'long-header.iwb');
    const bytes = new Uint8Array(64);
    new DataView(bytes.buffer).setUint32(0, 1000, true);
    writeFileSync(file, bytes);
    const { stderr } = await cli(['inspect', file]);
    expect(stderr).toMatch(/not a bundle: its first 8 bytes give a header of 1000 bytes, beyond the file's 64 bytes/);
  });
});

describe('safetensors headers', () => {
  it('counts tensors whose keys are spelled with escapes ("data\\u005foffsets") before parsing', () => {
    // 12 entries: over 10 tensors even if one were the metadata, so refused before JSON.parse.
    const entries = Array.from(
      { length: 12 },
      (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"data\\u005foffsets":[0,0]}`,
    );
    expect(() => readSafetensors(safetensors(`{${entries.join(',')}}`), { maxTensors: 10 })).toThrow(
      new SafetensorsError('header lists more than 10 tensors, over the limit'),
    );
    expect(readSafetensors(safetensors(`{${entries.slice(0, 10).join(',')}}`), { maxTensors: 10 }).tensors.size).toBe(
      10,
    );
  });

  it('refuses shape, dtype or data_offsets nested 100,000 deep without a stack overflow', () => {
    for (const key of ['shape', 'dtype', 'data_offsets']) {
      const deep = '['.repeat(100_000) + ']'.repeat(100_000);
      const header = `{"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"${key}":${deep}}}`;
      expect(() => readSafetensors(safetensors(header))).toThrow(/^header nests deeper than 16 levels/);
    }
  });
});

describe('output names and file system messages', () => {
  it('refuses, before the run, an output name over 255 bytes', async () => {
    const long = path.join(work, `${'r'.repeat(252)}.iwb`);
    await expect(checkOutputPaths([{ flag: '--out', file: long }], [])).rejects.toThrow(
      new OutputError(`--out ${long}: the file name is 256 bytes, over the 255-byte limit of most file systems`),
    );
    // 255 bytes is a legal name, and the temporaries beside it are short whatever its length.
    const legal = path.join(work, `${'r'.repeat(251)}.iwb`);
    await checkOutputPaths([{ flag: '--out', file: legal }], []);
  });

  it('names the user’s file with the error code, never the temporary Node’s message mentions', () => {
    const error = Object.assign(new Error("ENOENT: no such file or directory, open '/proc/.iwb-123-abc.tmp'"), {
      code: 'ENOENT',
    });
    expect(describeFsError('/proc/version', error)).toBe('/proc/version: no such file or folder (ENOENT)');
    const odd = Object.assign(new Error("ESTALE: stale file handle, open '/x/.iwb-1-a.tmp'"), { code: 'ESTALE' });
    expect(describeFsError('/x/out.iwb', odd)).toBe('/x/out.iwb: stale file handle (ESTALE)');
  });
});

describe('a folder that cannot be made', () => {
  it('reports the read-only file system (EROFS) behind mkdir -p’s ENOENT, naming the folder', async () => {
    const missing = path.join(work, 'ro', 'deeper', 'out');
    const enoent = Object.assign(new Error(`ENOENT: no such file or directory, mkdir '${missing}'`), {
      code: 'ENOENT',
    });
    const erofs = Object.assign(new Error(`EROFS: read-only file system, access '${work}'`), { code: 'EROFS' });
    const checked: string[] = [];
    const cause = await mkdirCause(missing, enoent, async (folder) => {
      checked.push(folder);
      throw erofs;
    });
    // The nearest folder that exists is the one asked about.
    expect(checked).toEqual([work]);
    expect(describeFsError(missing, cause)).toBe(`${missing}: read-only file system (EROFS)`);
    // A writable parent: the ENOENT stands; another error passes through.
    expect(await mkdirCause(missing, enoent, async () => undefined)).toBe(enoent);
    expect(await mkdirCause(missing, erofs)).toBe(erofs);
  });
});
