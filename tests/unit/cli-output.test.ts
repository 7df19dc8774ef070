/** CLI outputs: never an input, never the other output, written whole or not at all, failures name the file. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkOutputPaths,
  nodeOutputFs,
  OutputError,
  writeOutputsAtomically,
  type OutputFs,
} from '../../src/cli/output';

const dir = mkdtempSync(path.join(tmpdir(), 'iwb-output-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fresh(name: string): string {
  const sub = path.join(dir, name);
  mkdirSync(sub);
  return sub;
}

const errno = (code: string, message: string) => Object.assign(new Error(`${code}: ${message}, write`), { code });

/** Writes the first `okBytes` bytes of a file and then fails as a full disk (or a size limit) would. */
function failingFs(code: string, failOn: (file: string) => boolean, okBytes = 5): OutputFs {
  return {
    ...nodeOutputFs,
    writeFile: async (file, data) => {
      if (!failOn(file)) return nodeOutputFs.writeFile(file, data);
      await nodeOutputFs.writeFile(file, data.subarray(0, okBytes));
      throw errno(code, code === 'ENOSPC' ? 'no space left on device' : 'file too large');
    },
  };
}

/** True on the n-th call: temporaries have short names of their own (`.iwb-<pid>-<tag>.tmp`), written in order. */
function nthWrite(n: number): (file: string) => boolean {
  let calls = 0;
  return () => ++calls === n;
}

describe('checkOutputPaths', () => {
  it('refuses an output that is an input, also through ./, .. and a symbolic link', async () => {
    const sub = fresh('same');
    const train = path.join(sub, 'train.jsonl');
    writeFileSync(train, '{}\n');
    symlinkSync(train, path.join(sub, 'link.jsonl'));
    const inputs = [{ flag: '--train', file: train }];
    for (const out of [train, path.join(sub, '..', 'same', 'train.jsonl'), path.join(sub, 'link.jsonl')]) {
      await expect(checkOutputPaths([{ flag: '--out', file: out }], inputs)).rejects.toThrow(
        new OutputError(`--out ${out}: is the same file as --train ${train}; refusing to overwrite an input`),
      );
    }
  });

  it('refuses a not-yet-existing output whose folder is a link to the input folder, and equal outputs', async () => {
    const sub = fresh('linked');
    mkdirSync(path.join(sub, 'real'));
    symlinkSync(path.join(sub, 'real'), path.join(sub, 'alias'));
    const json = path.join(sub, 'real', 'summary.json');
    await expect(
      checkOutputPaths(
        [
          { flag: '--out', file: json },
          { flag: '--json', file: path.join(sub, 'alias', 'summary.json') },
        ],
        [],
      ),
    ).rejects.toThrow(/--json .*alias\/summary.json: is the same file as --out/);
  });

  it("refuses --out ''", async () => {
    await expect(checkOutputPaths([{ flag: '--out', file: '' }], [])).rejects.toThrow(
      "--out '': an output needs a file name",
    );
  });

  it('refuses, before any run, a file output that is a folder, a folder output that is a file, and a path under a file', async () => {
    const sub = fresh('kinds');
    const file = path.join(sub, 'f.txt');
    writeFileSync(file, 'x');
    await expect(checkOutputPaths([{ flag: '--out', file: sub }], [])).rejects.toThrow(
      `--out ${sub}: is a folder; give a file name`,
    );
    await expect(checkOutputPaths([{ flag: '--kronfluence-out', file, directory: true }], [])).rejects.toThrow(
      `--kronfluence-out ${file}: is a file; give a folder`,
    );
    await expect(checkOutputPaths([{ flag: '--json', file: path.join(file, 'a', 's.json') }], [])).rejects.toThrow(
      `--json ${path.join(file, 'a', 's.json')}: ${file} is not a folder`,
    );
    await expect(
      checkOutputPaths([{ flag: '--kronfluence-out', file: path.join(sub, 'new'), directory: true }], []),
    ).resolves.toBeUndefined();
  });

  it('accepts distinct new outputs', async () => {
    const sub = fresh('distinct');
    await expect(
      checkOutputPaths(
        [
          { flag: '--out', file: path.join(sub, 'a.iwb') },
          { flag: '--json', file: path.join(sub, 'a.json') },
        ],
        [],
      ),
    ).resolves.toBeUndefined();
  });
});

describe('writeOutputsAtomically', () => {
  it('writes both outputs, creating the folder, and leaves no temporary file', async () => {
    const sub = path.join(fresh('both'), 'nested');
    await writeOutputsAtomically([
      { flag: '--json', file: path.join(sub, 's.json'), data: '{"a":1}\n' },
      { flag: '--out', file: path.join(sub, 'r.iwb'), data: new Uint8Array([1, 2, 3]) },
    ]);
    expect(readdirSync(sub).sort()).toEqual(['r.iwb', 's.json']);
    expect(readFileSync(path.join(sub, 's.json'), 'utf8')).toBe('{"a":1}\n');
  });

  for (const code of ['ENOSPC', 'EFBIG']) {
    it(`${code} on the second output keeps both old files, removes the temporaries and names the file`, async () => {
      const sub = fresh(`fail-${code}`);
      const json = path.join(sub, 's.json');
      const out = path.join(sub, 'r.iwb');
      writeFileSync(json, 'old summary');
      writeFileSync(out, 'old bundle');
      const fsys = failingFs(code, nthWrite(2));
      const words = code === 'ENOSPC' ? 'no space left on device' : 'file too large';
      await expect(
        writeOutputsAtomically(
          [
            { flag: '--json', file: json, data: 'new summary' },
            { flag: '--out', file: out, data: new Uint8Array(100) },
          ],
          fsys,
        ),
      ).rejects.toThrow(new OutputError(`${out}: ${words} (${code})`));
      expect(readFileSync(json, 'utf8')).toBe('old summary');
      expect(readFileSync(out, 'utf8')).toBe('old bundle');
      expect(readdirSync(sub).sort()).toEqual(['r.iwb', 's.json']);
    });
  }

  it('a failing first output leaves no new file at all (neither output appears)', async () => {
    const sub = fresh('neither');
    const fsys = failingFs('ENOSPC', nthWrite(1));
    await expect(
      writeOutputsAtomically(
        [
          { flag: '--json', file: path.join(sub, 's.json'), data: 'x' },
          { flag: '--out', file: path.join(sub, 'r.iwb'), data: 'y' },
        ],
        fsys,
      ),
    ).rejects.toThrow(/s\.json: no space left on device \(ENOSPC\)/);
    expect(readdirSync(sub)).toEqual([]);
  });

  it('a rename that fails after the first output was placed puts the first one back', async () => {
    const sub = fresh('rollback');
    const json = path.join(sub, 's.json');
    const out = path.join(sub, 'r.iwb');
    writeFileSync(json, 'old summary');
    const fsys: OutputFs = {
      ...nodeOutputFs,
      rename: async (from, to) => {
        if (to === out) throw errno('EIO', 'i/o error');
        return nodeOutputFs.rename(from, to);
      },
    };
    await expect(
      writeOutputsAtomically(
        [
          { flag: '--json', file: json, data: 'new summary' },
          { flag: '--out', file: out, data: 'bundle' },
        ],
        fsys,
      ),
    ).rejects.toThrow(`${out}: input/output error (EIO)`);
    expect(readFileSync(json, 'utf8')).toBe('old summary');
    expect(readdirSync(sub)).toEqual(['s.json']);
  });
});
