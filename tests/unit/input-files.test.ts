/** Input files: regular files only, size and line limits before reading whole, strict UTF-8 with line and offset. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readInputBytes, readInputText } from '../../src/cli/input-files';
import { constants } from 'node:buffer';
import { checkLineLengths, decodeUtf8Strict, firstInvalidUtf8, INPUT_LIMITS } from '../../src/data/limits';
import { readPickedModel, readPickedText } from '../../src/worker/picked-files';
import { seededRandom } from '../fixtures/store/sample-bundle';

const dir = mkdtempSync(path.join(tmpdir(), 'iwb-inputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Ill-formed UTF-8 (Unicode ch. 3, table 3-7) and the byte offset of the first bad byte after the prefix "ab\n". */
const BAD_UTF8: readonly [string, number[]][] = [
  ['lone continuation byte', [0x80]],
  ['continuation 0xbf', [0xbf]],
  ['overlong "/" (2 bytes)', [0xc0, 0xaf]],
  ['overlong NUL (2 bytes)', [0xc1, 0x80]],
  ['overlong (3 bytes)', [0xe0, 0x80, 0xaf]],
  ['overlong (4 bytes)', [0xf0, 0x80, 0x80, 0xaf]],
  ['surrogate U+D800', [0xed, 0xa0, 0x80]],
  ['surrogate U+DFFF', [0xed, 0xbf, 0xbf]],
  ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ['lead byte 0xf5', [0xf5, 0x80, 0x80, 0x80]],
  ['byte 0xff', [0xff]],
  ['byte 0xfe', [0xfe]],
  ['truncated 2-byte sequence', [0xc3]],
  ['truncated 3-byte sequence', [0xe2, 0x82]],
  ['truncated 4-byte sequence', [0xf0, 0x9f, 0x98]],
  ['lead byte followed by ASCII', [0xc3, 0x41]],
  ['Latin-1 "é"', [0xe9, 0x74, 0xe9]],
  ['Latin-1 "ü" mid-word', [0x66, 0xfc, 0x72]],
];

describe('strict UTF-8', () => {
  for (const [name, bytes] of BAD_UTF8) {
    it(`${name} is refused with file:line and byte offset`, () => {
      const prefix = [...new TextEncoder().encode('{"a":"é"}\nab')];
      const data = Uint8Array.from([...prefix, ...bytes, 0x0a]);
      const offset = prefix.length + (name.includes('mid-word') ? 1 : 0);
      expect(() => decodeUtf8Strict('t.jsonl', data)).toThrow(
        `t.jsonl:2: invalid UTF-8 at byte offset ${offset} (byte 0x${data[offset]!.toString(16).padStart(2, '0')})`,
      );
    });
  }

  it('well-formed text, a BOM and 4-byte characters decode unchanged', () => {
    const text = 'naïve ∑ 😀 \u{10FFFF}\n';
    expect(decodeUtf8Strict('x', Uint8Array.from([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text)]))).toBe(text);
  });

  it('the hand-written validator agrees with the fatal TextDecoder on 3,000 seeded random byte strings', () => {
    const random = seededRandom(11);
    for (let trial = 0; trial < 3000; trial++) {
      const length = Math.floor(random() * 12);
      const pool = [0x41, 0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xa0, 0x9f, 0x90, 0x8f, 0xc0, 0xf5];
      const bytes = Uint8Array.from({ length }, () =>
        random() < 0.5 ? pool[Math.floor(random() * pool.length)]! : Math.floor(random() * 256),
      );
      let valid = true;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        valid = false;
      }
      expect(firstInvalidUtf8(bytes) === bytes.length, `bytes ${[...bytes]}`).toBe(valid);
    }
  });
});

describe('size and kind limits', () => {
  it('a text file at its size limit still decodes into one string (under the string length limit)', () => {
    expect(INPUT_LIMITS.jsonl).toBeLessThanOrEqual(constants.MAX_STRING_LENGTH);
    expect(INPUT_LIMITS.tokenizer).toBeLessThanOrEqual(constants.MAX_STRING_LENGTH);
    expect(INPUT_LIMITS.model).toBeLessThanOrEqual(constants.MAX_LENGTH);
  });

  it('refuses a line over the line limit with its line number', () => {
    const data = new TextEncoder().encode('short\n\n' + 'x'.repeat(101) + '\nok');
    expect(() => checkLineLengths('t.jsonl', data, 100)).toThrow(
      't.jsonl:3: line is 101 bytes, over the limit of 100 bytes per line',
    );
    expect(() => checkLineLengths('t.jsonl', data, 101)).not.toThrow();
  });

  it('refuses a file over the size limit by stat, before reading it', async () => {
    const file = path.join(dir, 'big.jsonl');
    writeFileSync(file, 'x'.repeat(1000));
    await expect(readInputBytes('--train', file, 999)).rejects.toThrow(
      `--train ${file}: is 1000 bytes, over the limit of 999 bytes`,
    );
    expect((await readInputBytes('--train', file, 1000)).length).toBe(1000);
  });

  it('refuses /dev/zero, /dev/urandom, a directory and a FIFO with no writer without blocking', async () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const folder = path.join(dir, 'folder');
    mkdirSync(folder);
    await expect(readInputBytes('--train', '/dev/zero', 1 << 20)).rejects.toThrow(
      '--train /dev/zero: is a character device; give a regular file',
    );
    await expect(readInputText('--tokenizer', '/dev/urandom', 'tokenizer')).rejects.toThrow(
      /--tokenizer \/dev\/urandom: is a character device/,
    );
    await expect(readInputBytes('--queries', folder, 1 << 20)).rejects.toThrow(
      `--queries ${folder}: is a directory; give a regular file`,
    );
    await expect(readInputBytes('--queries', fifo, 1 << 20)).rejects.toThrow(
      `--queries ${fifo}: is a FIFO (named pipe); give a regular file`,
    );
    await expect(readInputBytes('--model', path.join(dir, 'nope.onnx'), 10)).rejects.toThrow(/no such file$/);
  });

  it('a JSONL file with a Latin-1 byte is refused by readInputText with the line and offset', async () => {
    const file = path.join(dir, 'latin1.jsonl');
    writeFileSync(
      file,
      Buffer.from([
        ...Buffer.from('{"prompt":"a","response":"b"}\n{"prompt":"caf'),
        0xe9,
        ...Buffer.from('","response":"x"}\n'),
      ]),
    );
    await expect(readInputText('--train', file, 'jsonl')).rejects.toThrow(
      `${file}:2: invalid UTF-8 at byte offset 44 (byte 0xe9)`,
    );
  });

  it('the page reads a picked file strictly too (File.text() would have turned 0xe9 into U+FFFD)', async () => {
    const file = new File([Uint8Array.from([0x7b, 0x7d, 0x0a, 0x61, 0xe9])], 'picked.jsonl');
    await expect(readPickedText(file, 'jsonl')).rejects.toThrow(
      'picked.jsonl:2: invalid UTF-8 at byte offset 4 (byte 0xe9)',
    );
    expect(await readPickedText(new File(['{"a":"é"}\n'], 'ok.jsonl'), 'jsonl')).toBe('{"a":"é"}\n');
    const huge = {
      name: 'huge.onnx',
      size: 2 ** 31,
      arrayBuffer: () => Promise.reject(new Error('read')),
    } as unknown as File;
    await expect(readPickedModel(huge)).rejects.toThrow(
      `huge.onnx: is ${2 ** 31} bytes, over the limit of ${2 ** 31 - 1} bytes`,
    );
  });
});
