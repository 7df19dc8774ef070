/**
 * Attributing what the model says (`iwb attribute --generate`, app/generate.ts): greedy tokens equal the argmax of an
 * independent float64 forward pass (src/models/reference.ts, no ONNX); the attribution of the generated answer equals
 * attributing the same tokens given as a JSONL query; `--compare` reports I(generated) − I(reference) per training
 * example, equal to the difference of the two columns of an ordinary two-query run.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SEEDED_DEMO_SEED, seededDemoConfig, seededDemoModel } from '../../src/app/demo-model';
import { argmax, compareQueries, generateGreedy, sampleToken } from '../../src/app/generate';
import { counterUniform } from '../../src/onnx/gradient-graph';
import type { RunSummary } from '../../src/cli/summary';
import { TextTokenizer } from '../../src/data/tokenizer';
import { initGptWeights } from '../../src/models/gpt';
import { gptReference } from '../../src/models/reference';
import { decodeBundle } from '../../src/store/bundle';
import { attributeArgs, cli, MICRO_DATA, microUserFiles, readPairwiseScores } from '../helpers/cli';

const dir = mkdtempSync(path.join(tmpdir(), 'iwb-generate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tokenizer = TextTokenizer.fromJson(JSON.parse(readFileSync(MICRO_DATA.tokenizer, 'utf8')));
const vocab = tokenizer.vocabSize;
const PROMPT = 'Question: Tom has 3 apples and buys 4 more. How many apples does he have?\nAnswer:\n';

/** The independent float64 forward pass (no ONNX) of the micro demo model over the prompt and generated tokens. */
function referenceLogits(generation: { promptIds: readonly number[]; generatedIds: readonly number[] }): Float64Array {
  const config = seededDemoConfig('micro', vocab, 512);
  const weights = initGptWeights(config, SEEDED_DEMO_SEED, 'float32');
  const sequence = [...generation.promptIds, ...generation.generatedIds];
  return gptReference(config, weights, [sequence], [sequence.map(() => 1)]);
}

describe('greedy generation', () => {
  it('each generated token is the argmax of an independent float64 forward pass over the tokens before it', async () => {
    const { model } = seededDemoModel('micro', vocab, 512);
    const streamed: number[] = [];
    const generation = await generateGreedy(model, tokenizer, PROMPT, {
      maxNewTokens: 6,
      onToken: (id) => streamed.push(id),
    });
    expect(generation.generatedIds.length).toBeGreaterThan(0);
    expect(streamed).toEqual(generation.generatedIds);
    const logits = referenceLogits(generation);
    generation.generatedIds.forEach((id, i) => {
      const at = (generation.promptIds.length + i - 1) * vocab;
      const expected = argmax(logits, at, vocab);
      expect(id, `token ${i}`).toBe(expected);
      // The choice is not a near-tie that float32 rounding could flip (so the check is meaningful, not lucky).
      const sorted = Array.from(logits.subarray(at, at + vocab)).sort((a, b) => b - a);
      expect(sorted[0]! - sorted[1]!).toBeGreaterThan(1e-4);
    });
    if (generation.stop === 'max-new-tokens') expect(generation.generatedIds.length).toBe(6);
    else expect(generation.generatedIds.at(-1)).toBe(tokenizer.eosId);
  });

  it('sampled at a temperature: each token is the inverse CDF of the float64 softmax at the seeded uniform', async () => {
    const { model } = seededDemoModel('micro', vocab, 512);
    const options = { maxNewTokens: 6, temperature: 1.5, seed: 7 };
    const generation = await generateGreedy(model, tokenizer, PROMPT, options);
    const again = await generateGreedy(model, tokenizer, PROMPT, options);
    expect(again.generatedIds).toEqual(generation.generatedIds);
    const logits = referenceLogits(generation);
    generation.generatedIds.forEach((id, i) => {
      const at = (generation.promptIds.length + i - 1) * vocab;
      const u = counterUniform(7, 0, i);
      // Independent: the softmax written out here, cumulated until it passes u.
      const scaled = Array.from(logits.subarray(at, at + vocab), (v) => v / 1.5);
      const top = Math.max(...scaled);
      const p = scaled.map((v) => Math.exp(v - top));
      const z = p.reduce((a, b) => a + b, 0);
      let c = 0;
      const expected = p.findIndex((w) => (c += w / z) > u);
      expect(id, `token ${i}`).toBe(expected);
      // u is not within float32 rounding of a CDF step, so ONNX's float32 logits must pick the same token.
      const before = p.slice(0, expected).reduce((a, b) => a + b, 0) / z;
      expect(Math.min(u - before, c - u)).toBeGreaterThan(1e-5);
    });
    // Not the greedy answer (at this temperature and seed): sampling is in effect.
    const greedy = await generateGreedy(model, tokenizer, PROMPT, { maxNewTokens: 6 });
    expect(generation.generatedIds).not.toEqual(greedy.generatedIds);
    expect(sampleToken([0, 0, 0, 0], 0, 4, 1, 0.6)).toBe(2);
  });

  it('compareQueries: differences per training example and the most toward each side', () => {
    const influence = Float64Array.from([1, 5, -2, 0, /* query b */ 2, 1, -2, 3]);
    const c = compareQueries(influence, 4, 0, 1);
    expect(Array.from(c.difference)).toEqual([-1, 4, 0, -3]);
    expect(c.towardA).toEqual([1]);
    expect(c.towardB).toEqual([3, 0]);
  });
});

describe('iwb attribute --generate / --compare', () => {
  it('attributes the generated answer as a JSONL query of the same tokens would be, and compares with a reference', async () => {
    const files = microUserFiles(dir);
    const json = path.join(dir, 'generated.json');
    const generatedOut = path.join(dir, 'kf-generated');
    const reference = 'He has 3+4=7 apples.\n#### 7';
    const run = await cli([
      ...['attribute', '--model', files.model, '--tokenizer', files.tokenizer, '--train', files.train],
      ...['--backend', 'cpu', '--quiet'],
      ...['--generate', PROMPT, '--max-new-tokens', '5', '--compare', reference],
      ...['--json', json, '--kronfluence-out', generatedOut],
    ]);
    expect(run.stderr.split('\n').filter((l) => l.startsWith('iwb:'))).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^generated \(\d+ tokens, stopped at (eos|max-new-tokens)\): "/);
    expect(run.stdout).toContain('push toward the generated answer rather than the reference');
    const summary = JSON.parse(readFileSync(json, 'utf8')) as RunSummary;
    expect(summary.generation!.prompt).toBe(PROMPT);
    const ids = summary.generation!.tokenIds;
    expect(ids.length).toBeGreaterThan(0);

    // The same two questions as an ordinary JSONL query file: the generated tokens as a token row, the reference as
    // a text row.
    const promptIds = [tokenizer.bosId!, ...tokenizer.encodeWithOffsets(PROMPT).ids];
    const queries = path.join(dir, 'same.jsonl');
    writeFileSync(
      queries,
      [
        { id: 'generated', input_ids: [...promptIds, ...ids], prompt_len: promptIds.length },
        { id: 'reference', prompt: PROMPT, response: reference },
      ]
        .map((row) => JSON.stringify(row))
        .join('\n') + '\n',
    );
    const sameOut = path.join(dir, 'kf-same');
    const bundlePath = path.join(dir, 'same.iwb');
    const same = await cli(
      attributeArgs({ ...files, queries }, '--quiet', '--kronfluence-out', sameOut, '--out', bundlePath),
    );
    expect(same.code).toBe(0);
    const a = readPairwiseScores(generatedOut);
    const b = readPairwiseScores(sameOut);
    const scale = Math.max(...b.map(Math.abs));
    expect(scale).toBeGreaterThan(0);
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThanOrEqual(1e-10 * scale);

    // --compare's lists are the difference of the two queries' influence columns.
    const bundle = await decodeBundle(new Uint8Array(readFileSync(bundlePath)));
    const influence = bundle.scores.influence!.data;
    const trainIds = bundle.manifest.rows!.train.map((r) => r.id);
    const n = trainIds.length;
    const comparison = summary.comparison!;
    expect(comparison.towardGenerated.length + comparison.towardReference.length).toBeGreaterThan(0);
    for (const entry of [...comparison.towardGenerated, ...comparison.towardReference]) {
      const i = trainIds.indexOf(entry.id);
      const expected = influence[i]! - influence[n + i]!;
      expect(entry.influence).toBeCloseTo(expected, 12);
    }
    const top = comparison.towardGenerated[0];
    if (top) {
      const best = Math.max(...trainIds.map((_, i) => influence[i]! - influence[n + i]!));
      expect(top.influence).toBeCloseTo(best, 12);
    }
  }, 180_000);

  it('refuses --compare without --generate, and --generate with --queries', async () => {
    const files = microUserFiles(dir, 'micro-refuse.onnx');
    const compareOnly = await cli(attributeArgs(files, '--compare', 'x'));
    expect(compareOnly.code).not.toBe(0);
    expect(compareOnly.stderr).toContain('--compare needs --generate');
    const both = await cli(attributeArgs(files, '--generate', 'x'));
    expect(both.stderr).toContain('give --generate or --queries, not both');
    const cold = await cli(attributeArgs(files, '--temperature=-1'));
    expect(cold.stderr).toContain('--temperature "-1" is not a number ≥ 0 (0: greedy)');
  });
});
