/**
 * Output that would attack its reader (issue 25 §7) and the CLI's output commands (issue 20 §5): control characters
 * from ids and echoed input are escaped on the terminal; CSV text cells that a spreadsheet would run as formulas get a
 * leading `'`; lone surrogates in ids are refused on input; `iwb inspect` lists only negative scores as harmful;
 * `iwb export --csv` writes the rows' benchmark, domain and difficulty and a per-token CSV; written files are named
 * with their size.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseJsonl } from '../../src/data/jsonl';
import { encodeBundle, type BundleContent } from '../../src/store/bundle';
import { csvText, escapeTerminal } from '../../src/cli/terminal';
import { cli } from '../helpers/cli';
import { sampleContent } from '../fixtures/store/sample-bundle';

const work = mkdtempSync(path.join(tmpdir(), 'iwb-out-hostile-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const HOSTILE_IDS = ['\x1b[2J\x07evil', '=HYPERLINK("http://x","y")', '+cmd|/c calc', '@SUM(1+1)', '-2+3'];

/** The sample bundle with hostile training ids, query 0 helped by every example, as a file. */
async function hostileBundle(name: string, edit: (content: BundleContent) => void = () => undefined) {
  const content = sampleContent({ queries: 2, train: 5 });
  const rows = content.rows!;
  const train = rows.train.map((row, n) => ({ ...row, id: HOSTILE_IDS[n]! }));
  const edited = { ...content, rows: { ...rows, train } } as BundleContent;
  edit(edited);
  const file = path.join(work, name);
  writeFileSync(file, await encodeBundle(edited, { scoreDtype: 'F64' }));
  return { file, content: edited };
}

describe('terminal output is escaped', () => {
  it('escapes ESC, BEL, CR, C1 and bidi overrides visibly, keeping line feeds and ordinary text', () => {
    expect(escapeTerminal('a\x1b[2Jb\x07\r\n\u009b\u202eé日本')).toBe('a\\x1b[2Jb\\x07\\x0d\n\\x9b\\u202eé日本');
    expect(escapeTerminal('x\ud800y')).toBe('x\\ud800y');
    expect(escapeTerminal('😀')).toBe('😀');
  });

  it('iwb inspect prints ids with control characters escaped', async () => {
    const { file } = await hostileBundle('ids.iwb');
    const { code, stdout } = await cli(['inspect', file]);
    expect(code).toBe(0);
    // eslint-disable-next-line no-control-regex
    expect(stdout).not.toMatch(/[\x00-\x09\x0b-\x1f]/);
    expect(stdout).toContain('\\x1b[2J\\x07evil');
  });

  it('an error that echoes a file name does not send its escape sequence', async () => {
    const { code, stderr } = await cli(['inspect', path.join(work, 'no\x1b[2Jsuch.iwb')]);
    expect(code).toBe(1);
    expect(stderr).not.toContain('\x1b');
    expect(stderr).toContain('no\\x1b[2Jsuch.iwb');
  });
});

describe('CSV cells cannot be formulas', () => {
  it("prefixes ' to text cells that begin with = + - @ TAB CR LF NUL, then quotes by RFC 4180", () => {
    expect(['=1', '+1', '-1', '@A', '\t1', '\r1', '\n1', '\x001', 'a=b', "'x", ''].map(csvText)).toEqual([
      "'=1",
      "'+1",
      "'-1",
      "'@A",
      "'\t1",
      `"'\r1"`,
      `"'\n1"`,
      "'\x001",
      'a=b',
      "'x",
      '',
    ]);
    expect(csvText('=HYPERLINK("a","b")')).toBe(`"'=HYPERLINK(""a"",""b"")"`);
  });

  it('iwb export --csv neutralises formula ids and keeps numbers numeric', async () => {
    const { file, content } = await hostileBundle('csv.iwb');
    const dir = path.join(work, 'csv');
    const { code, stderr } = await cli(['export', file, '--csv', dir]);
    expect([code, stderr]).toEqual([0, '']);
    const scores = readFileSync(path.join(dir, 'scores.csv'), 'utf8');
    const cells = scores.split('\n').flatMap((line) => line.split(','));
    for (const cell of cells) expect(cell, cell).not.toMatch(/^"?[=+@\t\r]/);
    expect(scores).toContain(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(scores).toContain("'-2+3");
    // A negative score stays a number.
    const first = scores.split('\n')[1]!.split(',');
    expect(Number(first[3])).toBe(content.scores!.influence!.data[0]);
  });
});

describe('lone surrogates in ids are refused on input', () => {
  it('names the file, line and field', async () => {
    async function* text() {
      yield '{"id": "ok", "prompt": "a", "response": "b"}\n{"id": "x\\ud800", "prompt": "a", "response": "b"}\n';
    }
    const read = async () => {
      for await (const row of parseJsonl(text(), { file: 'train.jsonl' })) void row;
    };
    await expect(read()).rejects.toThrow(/^train\.jsonl:2: field "id" holds a lone UTF-16 surrogate \\ud800/);
    async function* prompt() {
      yield '{"prompt": "a\\udc00", "response": "b"}\n';
    }
    const readPrompt = async () => {
      for await (const row of parseJsonl(prompt(), { file: 'q.jsonl' })) void row;
    };
    await expect(readPrompt()).rejects.toThrow(/^q\.jsonl:1: field "prompt" holds a lone UTF-16 surrogate \\udc00/);
  });
});

describe('iwb inspect: helpful and harmful by sign', () => {
  it('a query every example helps lists no harmful example; the other query only negative ones', async () => {
    const { file, content } = await hostileBundle('signs.iwb', (c) => {
      const influence = c.scores!.influence!.data;
      [0.5, 0.4, 0.3, 0.2, 0.1].forEach((v, n) => (influence[n] = v)); // query 0: all help
      [0.5, -0.4, 0.3, -0.2, 0.1].forEach((v, n) => (influence[5 + n] = v)); // query 1: two harm
      // What the reader checks: τ = influence × T_q (T_q = q + 1 here) and τ = Σ_layers τ_l.
      const { tau, tauPerLayer } = c.scores!;
      influence.forEach((v, k) => {
        tau!.data[k] = v * (Math.floor(k / 5) + 1);
        tauPerLayer!.data[k] = tau!.data[k]!;
        tauPerLayer!.data[10 + k] = 0;
      });
    });
    const { code, stdout } = await cli(['inspect', file, '--top', '3']);
    expect(code).toBe(0);
    const line = (q: string) => stdout.split('\n').find((l) => l.startsWith(`  ${q}: `))!;
    expect(line('q-0')).toMatch(/\| harmful none$/);
    const harmful = line('q-1').split('| harmful ')[1]!;
    expect(harmful).toBe('=HYPERLINK("http://x","y") -4.000e-1, @SUM(1+1) -2.000e-1');
    expect(
      line('q-1')
        .split(' | ')[0]!
        .match(/\+\d\.\d{3}e-1/g),
    ).toHaveLength(3);
    expect(content.rows!.train[3]!.id).toBe('@SUM(1+1)');
  });
});

describe('iwb export --csv: labels and per-token scores', () => {
  it('adds query_benchmark, train_domain, train_difficulty and writes tokens.csv from the per-token scores', async () => {
    const content = sampleContent({ queries: 2, train: 3 });
    const file = path.join(work, 'labels.iwb');
    writeFileSync(file, await encodeBundle(content, { scoreDtype: 'F64' }));
    const dir = path.join(work, 'labels');
    const { code, stdout } = await cli(['export', file, '--csv', dir]);
    expect(code).toBe(0);
    const scores = readFileSync(path.join(dir, 'scores.csv'), 'utf8').trim().split('\n');
    expect(scores[0]).toBe('query_id,train_id,tau,influence,query_benchmark,train_domain,train_difficulty');
    expect(scores[1]!.split(',').slice(4)).toEqual(['gsm8k', 'code', 'easy']);
    expect(scores[2]!.split(',').slice(4)).toEqual(['gsm8k', 'math', 'easy']);
    const self = readFileSync(path.join(dir, 'self.csv'), 'utf8').trim().split('\n');
    expect(self[0]).toBe('train_id,self_tau,domain,difficulty');
    const tokens = readFileSync(path.join(dir, 'tokens.csv'), 'utf8').trim().split('\n');
    const { offsets, values } = content.scores!.tauPerToken!;
    const width = offsets[3]!;
    expect(tokens[0]).toBe('query_id,train_id,position,token,tau');
    expect(tokens).toHaveLength(1 + 2 * width);
    // Row of query 1, example 2, token 1: its value at full precision.
    const row = tokens.find((l) => l.startsWith('q-1,train-2,1,'))!;
    expect(Number(row.split(',')[4])).toBe(values.data[width + offsets[2]! + 1]);
    // The written files, named with their count and size.
    const bytes = ['scores.csv', 'self.csv', 'tokens.csv'].reduce((s, f) => s + statSync(path.join(dir, f)).size, 0);
    expect(stdout).toContain(`wrote --csv ${dir} (3 files, ${bytes} bytes)`);
  });
});
