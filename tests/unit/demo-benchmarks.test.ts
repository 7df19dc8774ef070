/**
 * The demo's queries are GSM8K and MBPP test problems and are named so (a `benchmark` field, as a user's JSONL row
 * carries it), while the rows chosen — the demo's subsample and a `--sample` draw — are the ones the domains choose.
 */
import { describe, expect, it } from 'vitest';
import { loadDemoInputs } from '../../src/app/inputs';
import { nodeSource } from '../../src/data/node-source';
import { benchmarkOf } from '../../src/influence/aggregate';

const files = { data: nodeSource(), trainedModel: null };

describe('demo benchmarks', () => {
  it('every demo query is named GSM8K or MBPP by its domain; training rows carry no benchmark', async () => {
    const inputs = await loadDemoInputs(files, 'micro', { train: null, queries: null });
    expect(inputs.queries.map((q) => [q.domain, q.extra.benchmark])).toEqual([
      ['math', 'GSM8K'],
      ['math', 'GSM8K'],
      ['code', 'MBPP'],
      ['code', 'MBPP'],
    ]);
    expect(inputs.queries.map((q) => benchmarkOf({ ...q, benchmark: q.extra.benchmark as string }))).toEqual([
      'GSM8K',
      'GSM8K',
      'MBPP',
      'MBPP',
    ]);
    expect(inputs.train.every((e) => e.extra.benchmark === undefined)).toBe(true);
  });

  // The ids each pick gave before the queries were named (same seeds): naming them moved no row.
  it('the subsample and the stratified sample draw the same queries as before they carried benchmarks', async () => {
    const ids = async (limits: Parameters<typeof loadDemoInputs>[2]) =>
      (await loadDemoInputs(files, 'micro', limits)).queries.map((q) => [q.id, q.extra.benchmark]);
    expect(await ids({ train: null, queries: 2 })).toEqual([
      ['gsm8k-test-00134', 'GSM8K'],
      ['mbpp-268', 'MBPP'],
    ]);
    expect(await ids({ train: null, queries: 2, sample: true, seed: 3 })).toEqual([
      ['gsm8k-test-00190', 'GSM8K'],
      ['mbpp-234', 'MBPP'],
    ]);
    expect(await ids({ train: null, queries: 3, sample: true, seed: 0 })).toEqual([
      ['gsm8k-test-00134', 'GSM8K'],
      ['mbpp-234', 'MBPP'],
      ['mbpp-268', 'MBPP'],
    ]);
  });
});
