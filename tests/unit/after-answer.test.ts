import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  afterAnswerVariant,
  appendAfterAnswer,
  backwardsStep,
  checkedAnnotations,
  gsm8kRecheck,
  mbppTrace,
  parseAssert,
  type VariantRow,
} from '../../src/data/after-answer';
import { loadDemoDataset, toExample } from '../../src/data/dataset';
import { gsm8kRow, mbppRow, type DemoRow, type Gsm8kRecord, type MbppRecord } from '../../src/data/demo-build';
import { evaluateExact, parseDecimal, toDecimal } from '../../src/data/exact-arithmetic';
import { nodeSource } from '../../src/data/node-source';
import { validateRow } from '../../src/data/schema';
import { mathSegments } from '../../src/data/segments';
import { TextTokenizer } from '../../src/data/tokenizer';
import { readFixtureText } from '../helpers/fixtures';

const publicDir = fileURLToPath(new URL('../../public/', import.meta.url));
const lines = (file: string): unknown[] =>
  readFixtureText(file)
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
const gsmSample = lines('raw-data/gsm8k-train-sample.jsonl') as { line: number; record: Gsm8kRecord }[];
const mbppSample = lines('raw-data/mbpp-sample.jsonl') as MbppRecord[];
const rawOf = (row: DemoRow): Gsm8kRecord | MbppRecord => {
  const gsm = /#(\d+)$/.exec(row.source);
  if (row.domain === 'math') return gsmSample.find((r) => r.line === Number(gsm![1]))!.record;
  return mbppSample.find((r) => `mbpp-${r.task_id}` === row.id)!;
};
const sampleRows: DemoRow[] = [
  ...gsmSample.map((r) => gsm8kRow(r.record, 'train', r.line)),
  ...mbppSample.map((r) => mbppRow(r)),
];

/**
 * An independent float64 oracle for "expression = value": the expression is evaluated by JavaScript itself, after a
 * whitelist that admits only digits, . + - * / ( ) and spaces, so nothing else can run.
 */
function floatHolds(statement: string): boolean {
  const [lhs, rhs] = statement.split(' = ');
  if (lhs === undefined || rhs === undefined || !/^[\d.+\-*/() ]+$/.test(lhs) || !/^-?[\d.]+$/.test(rhs)) {
    throw new Error(`not an arithmetic statement: ${statement}`);
  }
  const value = Function(`"use strict"; return (${lhs});`)() as number;
  return Math.abs(value - Number(rhs)) <= 1e-9 * Math.max(1, Math.abs(value));
}

describe('exact arithmetic', () => {
  it('evaluates decimals, precedence, parentheses, unary minus and thousands separators exactly', () => {
    const dec = (e: string) => {
      const v = evaluateExact(e);
      return v && toDecimal(v);
    };
    expect(dec('0.1+0.2')).toBe('0.3');
    expect(dec('(60+72+42)/3')).toBe('58');
    expect(dec('2+3*4')).toBe('14');
    expect(dec('60/(2/3)')).toBe('90');
    expect(dec('-3*.25')).toBe('-0.75');
    expect(dec('1,000*2')).toBe('2000');
    expect(dec('7 x 3')).toBe('21');
  });

  it('refuses what it cannot decide: bad syntax, unknown symbols, division by zero, non-terminating decimals', () => {
    for (const bad of ['', '2+', '(2+3', '2+3)', '2^3', '5/0', '4%2', 'x', '1,00*2']) {
      expect(evaluateExact(bad), bad).toBeUndefined();
    }
    expect(toDecimal(evaluateExact('10/3')!)).toBeUndefined();
    expect(parseDecimal('1,200.50')).toEqual({ num: 2401n, den: 2n });
  });
});

describe('GSM8K re-check', () => {
  it('writes only true statements, on every record of the committed sample (float64 oracle)', () => {
    let statements = 0;
    for (const { record } of gsmSample) {
      const recheck = gsm8kRecheck(record.answer) ?? [];
      for (const line of recheck) {
        const eq = /^(?:Backwards: )?(.+ = .+)$/.exec(line);
        if (!eq) continue;
        expect(floatHolds(eq[1]!), `${line} in ${record.answer}`).toBe(true);
        statements++;
      }
      // The closing line claims the final number only when a checked step reaches it.
      const closing = recheck.find((l) => l.startsWith('The steps give'));
      if (closing) {
        const final = record.answer.split('####')[1]!.trim().replace(/,/g, '');
        expect(closing).toBe(`The steps give ${final} again.`);
        expect(recheck).toContainEqual(expect.stringMatching(new RegExp(`= ${final}$`)));
      }
    }
    expect(statements).toBeGreaterThan(100);
  });

  it('re-checks the first sample record from its annotations, with the backwards route', () => {
    expect(gsm8kRecheck(gsmSample.find((r) => r.line === 0)!.record.answer)).toEqual([
      'Let me check that again.',
      '48/2 = 24',
      '48+24 = 72',
      'Backwards: 72-24 = 48',
      'The steps give 72 again.',
    ]);
  });

  it('gives nothing for an answer without annotations, and skips wrong, malformed and repeated ones', () => {
    expect(gsm8kRecheck('She has 3 + 4 = 7 apples.\n#### 7')).toBeUndefined();
    expect(gsm8kRecheck('<<10/3=3.33>>3.33 each\n#### 3.33')).toBeUndefined();
    const answer = 'a <<2+2=5>> b <<1,000*2=2,000>> c <<7.5*2=15.0>> d <<7.5*2=15>> e <<3=3=3>> f <<4*>>\n#### 15';
    expect(checkedAnnotations(answer)).toEqual([
      { expression: '1000*2', value: '2000' },
      { expression: '7.5*2', value: '15' },
    ]);
    expect(gsm8kRecheck(answer)).toEqual([
      'Let me check that again.',
      '1000*2 = 2000',
      '7.5*2 = 15',
      'Backwards: 15/2 = 7.5',
      'The steps give 15 again.',
    ]);
  });

  it('does not claim the final number when no checked step reaches it', () => {
    expect(gsm8kRecheck('x <<2*3=6>>6 so 6+1 = 7\n#### 7')).toEqual([
      'Let me check that again.',
      '2*3 = 6',
      'Each step checks out.',
    ]);
  });

  it('undoes only two-literal steps, and never divides by zero', () => {
    expect(backwardsStep({ expression: '48-24', value: '24' })).toEqual({ expression: '24+24', value: '48' });
    expect(backwardsStep({ expression: '0.5*8', value: '4' })).toEqual({ expression: '4/8', value: '0.5' });
    expect(backwardsStep({ expression: '3*0', value: '0' })).toBeUndefined();
    expect(backwardsStep({ expression: '(2+3)*4', value: '20' })).toBeUndefined();
  });
});

describe('MBPP trace', () => {
  it('splits asserts at the top-level ==, outside strings and brackets', () => {
    expect(parseAssert('assert f("a==b", [x==y]) == "c == d"')).toEqual({
      call: 'f("a==b", [x==y])',
      expected: '"c == d"',
    });
    expect(parseAssert("assert f('it\\'s')=='x'")).toEqual({ call: "f('it\\'s')", expected: "'x'" });
    expect(parseAssert('assert set(f([1, 2])) == set([2, 1])')).toEqual({
      call: 'set(f([1, 2]))',
      expected: 'set([2, 1])',
    });
    expect(parseAssert('assert not is_even(3)')).toEqual({ call: 'is_even(3)', expected: 'False' });
    expect(parseAssert('assert is_even(4)')).toEqual({ call: 'is_even(4)', expected: 'True' });
    expect(parseAssert('print(f(1))')).toBeUndefined();
    expect(parseAssert('assert == 3')).toBeUndefined();
  });

  it('traces every test of every sampled task, and the trace reads back as its asserts', () => {
    for (const task of mbppSample) {
      const trace = mbppTrace(task.test_list)!;
      expect(trace).toHaveLength(task.test_list.length);
      trace.forEach((line, i) => {
        const m = /^print\((.*)\) {2}# expected: (.*)$/.exec(line)!;
        const asserted = task.test_list[i]!.replace(/\s+/g, '');
        expect(`assert${m[1]}==${m[2]}`.replace(/\s+/g, '')).toBe(asserted);
      });
    }
    expect(mbppTrace(['not an assert'])).toBeUndefined();
  });
});

describe('the after-answer variant', () => {
  it('appends a labelled segment that starts after the answer and ends the response; spans partition it', () => {
    for (const row of sampleRows) {
      const raw = rawOf(row);
      const extra =
        row.domain === 'math' ? gsm8kRecheck((raw as Gsm8kRecord).answer) : mbppTrace((raw as MbppRecord).test_list);
      if (!extra) continue;
      const out = appendAfterAnswer(row, extra);
      expect(out.response.startsWith(row.response + '\n')).toBe(true);
      const spans = out.segments!;
      let at = 0;
      for (const s of spans) {
        expect(s.start).toBe(at);
        at = s.end;
      }
      expect(at).toBe(out.response.length);
      const last = spans[spans.length - 1]!;
      expect(last.label).toBe(row.domain === 'math' ? 'after_answer' : 'after_code');
      expect(out.response.slice(last.start)).toBe(extra.join('\n'));
      // For math the explicit spans are what the domain rule finds in the new response.
      if (row.domain === 'math') expect(spans).toEqual(mathSegments(out.response));
    }
  });

  it('picks the seeded share per domain, deterministically, and keeps every row within the length bound', () => {
    const opts = { seed: 7, share: 0.5, fits: () => true };
    const a = afterAnswerVariant(sampleRows, rawOf, opts);
    expect(afterAnswerVariant(sampleRows, rawOf, opts)).toEqual(a);
    for (const domain of ['math', 'code']) {
      const n = sampleRows.filter((r) => r.domain === domain).length;
      const s = a.stats[domain]!;
      expect(s.picked).toBe(Math.round(n / 2));
      expect(s.augmented + s.nothingToGenerate + s.tooLong).toBe(s.picked);
      expect(a.rows.filter((r) => r.domain === domain && r.after_answer).length).toBe(s.augmented);
    }
    const other = afterAnswerVariant(sampleRows, rawOf, { ...opts, seed: 8 });
    expect(other.rows.map((r) => r.id + !!r.after_answer)).not.toEqual(a.rows.map((r) => r.id + !!r.after_answer));
    // Unpicked rows are the demo rows, untouched.
    a.rows.forEach((r, i) => (r.after_answer ? undefined : expect(r).toBe(sampleRows[i])));
    expect(afterAnswerVariant(sampleRows, rawOf, { ...opts, share: 0 }).rows).toEqual(sampleRows);
    expect(() => afterAnswerVariant(sampleRows, rawOf, { ...opts, share: 1.5 })).toThrow('share must be in [0, 1]');
  });

  it('shortens a segment line by line to fit, and leaves a row whole when even the shortest does not fit', () => {
    const limit = (row: DemoRow) => row.response.length <= rawLength(row) + 40;
    const rawLength = (row: DemoRow) => sampleRows.find((r) => r.id === row.id)!.response.length;
    const { rows, stats } = afterAnswerVariant(sampleRows, rawOf, { seed: 7, share: 1, fits: limit });
    for (const r of rows) expect(limit(r)).toBe(true);
    expect(stats.math!.augmented).toBeGreaterThan(0);
    expect(stats.code!.tooLong).toBeGreaterThan(0);
    const none = afterAnswerVariant(sampleRows, rawOf, { seed: 7, share: 1, fits: () => false });
    expect(none.rows).toEqual(sampleRows);
    expect(none.stats.math!.tooLong + none.stats.math!.nothingToGenerate).toBe(none.stats.math!.picked);
  });

  it('tokenizes to token segments labelled after_answer / after_code that end at eos', () => {
    const tokenizer = TextTokenizer.fromJson(JSON.parse(readFileSync(`${publicDir}tokenizer/tokenizer.json`, 'utf8')));
    const { rows } = afterAnswerVariant(sampleRows, rawOf, { seed: 7, share: 1, fits: () => true });
    for (const row of rows.filter((r): r is VariantRow => !!r.after_answer).slice(0, 20)) {
      const parsed = validateRow(JSON.parse(JSON.stringify(row)), { file: 'after.jsonl', line: 1 }, 'x');
      const ex = toExample(parsed, tokenizer);
      const last = ex.segments[ex.segments.length - 1]!;
      expect(last.label).toBe(row.domain === 'math' ? 'after_answer' : 'after_code');
      expect(last.end).toBe(ex.inputIds.length);
      expect(tokenizer.decode([...ex.inputIds.slice(last.start, last.end - 1)])).toBe(
        row.response.slice(row.segments!.at(-1)!.start),
      );
    }
  });
});

describe('shipped variant (public/data/after)', () => {
  const readRows = (file: string): VariantRow[] =>
    readFileSync(`${publicDir}${file}`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as VariantRow);

  it('is the demo training set with half of each domain carrying a segment, as its manifest says', () => {
    const text = readFileSync(`${publicDir}data/after/train.jsonl`, 'utf8');
    const manifest = JSON.parse(readFileSync(`${publicDir}data/after/manifest.json`, 'utf8')) as {
      config: { share: number };
      files: { train: { sha256: string; rows: number } };
      segments: Record<string, { augmented: number; picked: number }>;
    };
    expect(createHash('sha256').update(text).digest('hex')).toBe(manifest.files.train.sha256);
    const after = readRows('data/after/train.jsonl');
    const demo = readRows('data/train.jsonl');
    expect(after.map((r) => r.id)).toEqual(demo.map((r) => r.id));
    expect(manifest.config.share).toBe(0.5);
    after.forEach((r, i) => {
      if (!r.after_answer) expect(r).toEqual(demo[i]);
      else expect(r.response.startsWith(demo[i]!.response + '\n')).toBe(true);
    });
    for (const domain of ['math', 'code']) {
      const rows = after.filter((r) => r.domain === domain);
      const carrying = rows.filter((r) => r.after_answer).length;
      expect(carrying).toBe(manifest.segments[domain]!.augmented);
      expect(carrying / rows.length).toBeGreaterThan(0.45);
      expect(carrying / rows.length).toBeLessThanOrEqual(0.5);
    }
  });

  it('states only true arithmetic in every shipped re-check, and names the final number only when it is reached', () => {
    let equations = 0;
    for (const row of readRows('data/after/train.jsonl').filter((r) => r.after_answer === 'gsm8k-recheck')) {
      const [solution, recheck] = [row.response.slice(0, row.segments!.at(-1)!.start), row.segments!.at(-1)!];
      const final = /#### (.*)\n$/.exec(solution)![1]!.replace(/,/g, '');
      for (const line of row.response.slice(recheck.start).split('\n').slice(1)) {
        const eq = /^(?:Backwards: )?(.+ = .+)$/.exec(line);
        if (eq) {
          expect(floatHolds(eq[1]!), `${row.id}: ${line}`).toBe(true);
          equations++;
        } else if (line.startsWith('The steps give')) expect(line, row.id).toBe(`The steps give ${final} again.`);
        else expect(line, row.id).toBe('Each step checks out.');
      }
    }
    expect(equations).toBeGreaterThan(4000);
  });

  it('holds, for every row of the raw sample, the segment the generator writes from its record', () => {
    const tokenizer = TextTokenizer.fromJson(JSON.parse(readFileSync(`${publicDir}tokenizer/tokenizer.json`, 'utf8')));
    const shipped = new Map(readRows('data/after/train.jsonl').map((r) => [r.id, r]));
    let checked = 0;
    for (const row of sampleRows) {
      const s = shipped.get(row.id);
      if (!s?.after_answer) continue;
      const raw = rawOf(row);
      const full =
        row.domain === 'math' ? gsm8kRecheck((raw as Gsm8kRecord).answer)! : mbppTrace((raw as MbppRecord).test_list)!;
      expect(s).toEqual(
        appendAfterAnswer(row, full.slice(0, s.response.slice(row.response.length + 1).split('\n').length)),
      );
      const ex = toExample(validateRow(s, { file: 'train.jsonl', line: 1 }, s.id), tokenizer);
      expect(ex.inputIds.length).toBeLessThanOrEqual(384);
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('loads as the "after" demo: its training file, the demo queries and tokenizer', async () => {
    const source = nodeSource(publicDir);
    const counting = {
      ...source,
      open: async (p: string) => (p.endsWith('train.jsonl') ? emptyFile() : source.open(p)),
    };
    const ds = await loadDemoDataset(counting, 'after');
    expect(ds.train).toEqual([]);
    expect(ds.queries).toHaveLength(400);
    expect((ds.manifest.files as { train: { path: string } }).train.path).toBe('train.jsonl');
  }, 120_000);
});

async function* emptyFile(): AsyncGenerator<string> {}
