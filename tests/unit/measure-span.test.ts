/**
 * Span measurements (docs/data.md, "Measuring a span"): a query's measurement restricted to some response tokens is
 * kronfluence's custom measurement — the query loss masked to those tokens. Checked in float64 on kronfluence's
 * token_lm fixture three ways: through the real ONNX path against the plain-TS model with the same mask (an independent
 * forward/backward); two complementary spans add up to kronfluence's own whole-response scores (τ is linear in the
 * query gradient); and the mean log-likelihood divides by the tokens measured (T_q).
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { OnnxGradientSource, type OnnxRows, type SequenceRow } from '../../src/influence/onnx-source';
import { runAttribution } from '../../src/influence/pipeline';
import { DEFAULT_CONFIG, type AttributionConfig, type ExampleSet } from '../../src/influence/types';
import { buildKronfluenceTokenLm } from '../../src/models/kronfluence';
import { buildGradientGraph } from '../../src/onnx/gradient-graph';
import { ModelSession } from '../../src/onnx/runtime';
import { maxRelativeError } from '../helpers/exact-dense';
import { fixtureData, fixtureWeights, kronfluenceReference, tokenLmFixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource } from '../helpers/exact-source';

const KRONFLUENCE: AttributionConfig = {
  ...DEFAULT_CONFIG,
  fisher: 'empirical',
  measurement: 'summed-loss',
  batchSizes: { fit: 8, train: 16, query: 4, batchesPerChunk: 2 },
};

type Spans = { start: number; end: number }[];

function set(role: 'train' | 'query', count: number): ExampleSet {
  return { role, examples: Array.from({ length: count }, (_, i) => ({ id: `${role}${i}` })) };
}

async function tokenLmRows() {
  const data = (await fixtureData('token_lm')) as Record<
    'train' | 'queries',
    { input_ids: number[]; prompt_len: number }[]
  >;
  const toRows = (list: typeof data.train): SequenceRow[] =>
    list.map((r) => ({ inputIds: r.input_ids, promptLen: r.prompt_len }));
  return { train: toRows(data.train), query: toRows(data.queries) };
}

/** Runs the ONNX path (wasm, float64) with each query measured on `spans[q]` (undefined: the whole response). */
async function onnxRun(config: AttributionConfig, spans: readonly (Spans | undefined)[]) {
  const graph = buildGradientGraph(buildKronfluenceTokenLm(await fixtureWeights('token_lm')), {
    loss: { kind: 'token-cross-entropy' },
    tracked: /./,
  });
  const session = await ModelSession.create(graph.model);
  try {
    const base = await tokenLmRows();
    const rows: OnnxRows = {
      kind: 'sequences',
      train: base.train,
      query: base.query.map((r, q) => (spans[q] ? { ...r, measured: spans[q] } : r)),
    };
    return await runAttribution(config, {
      backend: new CpuBackend(),
      source: new OnnxGradientSource(graph, session, rows),
      trainSet: set('train', rows.train.length),
      querySet: set('query', rows.query.length),
    });
  } finally {
    await session.release();
  }
}

/** Splits each query's response tokens [promptLen, length) into a first part (its first token or two) and the rest. */
async function complementarySpans(): Promise<{ first: Spans[]; rest: Spans[] }> {
  const { query } = await tokenLmRows();
  const first: Spans[] = [];
  const rest: Spans[] = [];
  for (const row of query) {
    const length = row.inputIds.length;
    const cut = Math.min(row.promptLen + 2, length - 1);
    first.push([{ start: row.promptLen, end: cut }]);
    rest.push([{ start: cut, end: length }]);
  }
  return { first, rest };
}

describe('span measurement = the query loss masked to the span (kronfluence custom measurement), float64', () => {
  it('ONNX path equals the plain-TS model masked the same way, and complementary spans add up to kronfluence', async () => {
    const { first, rest } = await complementarySpans();
    const viaOnnx = await onnxRun(KRONFLUENCE, first);
    const exact = await tokenLmFixture(first);
    const viaTs = await runAttribution(KRONFLUENCE, {
      backend: new CpuBackend(),
      source: new ExactGradientSource(exact.model),
      trainSet: exact.trainSet,
      querySet: exact.querySet,
    });
    expect(maxRelativeError(viaOnnx.tau, viaTs.tau)).toBeLessThan(1e-9);
    // The span count is T_q: the first part holds 2 tokens unless the response is shorter.
    const { query } = await tokenLmRows();
    expect(Array.from(viaOnnx.queryTargetCounts)).toEqual(first.map((s) => s[0].end - s[0].start));
    expect(Array.from(viaOnnx.queryTargetCounts)).not.toEqual(query.map((r) => r.inputIds.length - r.promptLen));

    // τ is linear in the query's gradient: measuring the first part and the rest, then adding, is the whole response
    // — which kronfluence 1.0.1 computed itself on this fixture.
    const restRun = await onnxRun(KRONFLUENCE, rest);
    const sum = viaOnnx.tau.map((v, i) => v + restRun.tau[i]);
    const reference = await kronfluenceReference('token_lm');
    expect(maxRelativeError(sum, reference.pairwise[0].total.data)).toBeLessThan(1e-9);
    // …and a span is not the whole response (the check above is not trivially met).
    expect(maxRelativeError(viaOnnx.tau, reference.pairwise[0].total.data)).toBeGreaterThan(1e-2);
    // Self-influence is of training examples: unchanged by how queries are measured.
    expect(maxRelativeError(viaOnnx.selfTau, reference.self[0].total.data)).toBeLessThan(1e-9);
  });

  it('mean log-likelihood divides by the tokens measured, and the query losses count only the span', async () => {
    const { first } = await complementarySpans();
    const run = await onnxRun({ ...KRONFLUENCE, measurement: 'mean-log-likelihood' }, first);
    const trainSize = run.train.length;
    run.queries.forEach((_, q) => {
      const tq = first[q][0].end - first[q][0].start;
      for (let n = 0; n < trainSize; n++)
        expect(run.influence[q * trainSize + n]).toBeCloseTo(run.tau[q * trainSize + n] / tq, 12);
      // Loss terms per position: non-zero only at the targets of measured tokens (position p ← target p − 1).
      const offsets = run.queryTokenLoss!.offsets;
      const losses = run.queryTokenLoss!.values.subarray(offsets[q], offsets[q + 1]);
      losses.forEach((loss, t) => {
        const inSpan = t + 1 >= first[q][0].start && t + 1 < first[q][0].end;
        if (inSpan) expect(loss).toBeGreaterThan(0);
        else expect(loss).toBe(0);
      });
    });
  });

  it('a span over the whole response is the default measurement', async () => {
    const { query } = await tokenLmRows();
    const whole = query.map((r) => [{ start: r.promptLen, end: r.inputIds.length }]);
    const spanned = await onnxRun(KRONFLUENCE, whole);
    const reference = await kronfluenceReference('token_lm');
    expect(maxRelativeError(spanned.tau, reference.pairwise[0].total.data)).toBeLessThan(1e-9);
  });

  it('refuses a span outside the response, naming the query', async () => {
    const { query } = await tokenLmRows();
    const spans: (Spans | undefined)[] = query.map(() => undefined);
    spans[1] = [{ start: 0, end: 3 }];
    await expect(onnxRun(KRONFLUENCE, spans)).rejects.toThrow(
      `query example 1: measured span [0, 3) lies outside its response tokens [5, 9)`,
    );
  });
});
