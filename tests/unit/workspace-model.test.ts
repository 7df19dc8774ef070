/** The workspace's presentation shaping (src/ui/workspace/model.ts, route.ts) on small hand-made inputs. */
import { describe, expect, it } from 'vitest';
import { concentrationCurve, distinct, divergingColor, rankExamples, textColorOn } from '../../src/ui/workspace/model';
import {
  DEFAULT_ROUTE,
  formatRoute,
  hashAddress,
  parseRoute,
  parseTarget,
  workspaceAddress,
} from '../../src/ui/workspace/route';
import type { WorkspaceTrainExample } from '../../src/app/workspace-types';

const example = (
  id: string,
  domain: string,
  difficulty: string,
  segments: string[],
  selfInfluence: number,
): WorkspaceTrainExample => ({
  id,
  domain,
  difficulty,
  segments,
  tokenCount: 4,
  selfInfluence,
  prompt: '',
  response: '',
});

describe('concentration curve', () => {
  it('is the share of the positive total carried by the top k % (negatives carry nothing)', () => {
    // 4 examples: 6 and 2 are the positive total 8; -5 and 0 add nothing.
    const curve = concentrationCurve([2, -5, 6, 0]);
    expect(curve[0]).toEqual({ percent: 0, share: 0 });
    expect(curve.find((p) => p.percent === 25)!.share).toBe(6 / 8);
    expect(curve.find((p) => p.percent === 50)!.share).toBe(1);
    expect(curve.at(-1)).toEqual({ percent: 100, share: 1 });
  });

  it('is flat at 0 when nothing helps', () => {
    expect(concentrationCurve([-1, -2])).toEqual([{ percent: 0, share: 0 }]);
  });
});

describe('ranked list', () => {
  const train = [
    example('a', 'math', 'easy', ['reasoning'], 4),
    example('b', 'code', 'hard', ['body'], 1),
    example('c', 'math', 'hard', ['reasoning', 'after_answer'], 9),
    example('d', 'math', 'easy', [], 0),
  ];
  const views = new Map([
    ['none', Float64Array.from([1, 3, -2, 1])],
    ['self-influence', Float64Array.from([0.5, 3, -2 / 3, 0])],
  ] as const);
  const any = { domain: '', difficulty: '', segment: '' };

  it('sorts by the shown score, ties in training order, and reports the shown score', () => {
    const rows = rankExamples(train, views, 'none', 'shown', false, any);
    expect(rows.map((r) => train[r.index]!.id)).toEqual(['b', 'a', 'd', 'c']);
    expect(rows.map((r) => r.rank)).toEqual([1, 2, 3, 4]);
  });

  it('sorts by another key while showing the chosen normalisation', () => {
    const rows = rankExamples(train, views, 'self-influence', 'self', true, any);
    expect(rows.map((r) => train[r.index]!.id)).toEqual(['d', 'b', 'a', 'c']);
    expect(rows.map((r) => r.shown)).toEqual([0, 3, 0.5, -2 / 3]);
  });

  it('filters by domain, difficulty and segment presence', () => {
    expect(rankExamples(train, views, 'none', 'raw', false, { ...any, domain: 'math' }).map((r) => r.index)).toEqual([
      0, 3, 2,
    ]);
    expect(
      rankExamples(train, views, 'none', 'raw', false, { ...any, segment: 'after_answer' }).map((r) => r.index),
    ).toEqual([2]);
    expect(
      rankExamples(train, views, 'none', 'raw', false, { ...any, difficulty: 'hard', domain: 'code' }).map(
        (r) => r.index,
      ),
    ).toEqual([1]);
  });
});

describe('colours and labels', () => {
  it('is symmetric about zero: white at 0, purple for help, orange for harm', () => {
    const color = divergingColor(2);
    const rgb = (value: number) => (color.apply(value).match(/\d+/g) ?? []).map(Number);
    const [r0, g0, b0] = rgb(0);
    expect(Math.min(r0!, g0!, b0!)).toBeGreaterThan(220);
    const [rp, , bp] = rgb(2);
    expect(bp).toBeGreaterThan(rp!);
    const [rn, , bn] = rgb(-2);
    expect(rn).toBeGreaterThan(bn!);
    expect(color.apply(5)).toBe(color.apply(2));
  });

  it('puts white text on dark cells and black text on light ones', () => {
    expect(textColorOn('rgb(45, 0, 75)')).toBe('#fff');
    expect(textColorOn('rgb(243, 238, 234)')).toBe('#000');
  });

  it('orders difficulties easy < medium < hard and numbers by value', () => {
    expect(distinct(['hard', 'easy', 'medium', 'easy'])).toEqual(['easy', 'medium', 'hard']);
    expect(distinct(['10', '2', '1'])).toEqual(['1', '2', '10']);
  });
});

describe('route', () => {
  it('round-trips through the hash, keeping only what differs from the defaults', () => {
    const route = {
      ...DEFAULT_ROUTE,
      view: 'example' as const,
      example: 't&1=x',
      target: 'query:q 2',
      ascending: true,
    };
    const hash = formatRoute(route);
    expect(hash).not.toContain('norm=');
    expect(parseRoute(hash)).toEqual(route);
  });

  it("puts the workspace's address first and reads it back, for ids that need escaping", () => {
    const address = workspaceAddress('run', 'run-1&view=query');
    const hash = formatRoute({ ...DEFAULT_ROUTE, view: 'query', query: 'q3' }, address);
    expect(hash.startsWith(`#${address}&`)).toBe(true);
    expect(hashAddress(hash)).toBe(address);
    expect(parseRoute(hash)).toEqual({ ...DEFAULT_ROUTE, view: 'query', query: 'q3' });
    expect(hashAddress(formatRoute(DEFAULT_ROUTE, workspaceAddress('bundle', 'ab12')))).toBe('bundle=ab12');
    expect(hashAddress('#view=query&query=q3')).toBeNull();
  });

  it('falls back to the defaults for unknown values', () => {
    expect(parseRoute('#view=nope&norm=bogus&sort=x')).toEqual(DEFAULT_ROUTE);
  });

  it('parses targets', () => {
    expect(parseTarget('query:a:b')).toEqual({ query: 'a:b' });
    expect(parseTarget('benchmark:gsm8k')).toEqual({ benchmark: 'gsm8k' });
    expect(parseTarget('gsm8k')).toBeNull();
  });
});
