/**
 * The query's loss per token, recorded in the query stage: on the seeded micro GPT (ONNX, float32 onnxruntime), each
 * response token's loss in the run's bundle equals −log softmax of a float64 reference forward
 * (src/models/reference.ts, no code shared with the graph) at the position that predicts it; prompt tokens are null.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { seededDemoConfig, SEEDED_DEMO_SEED } from '../../src/app/demo-model';
import { loadUserInputs } from '../../src/app/inputs';
import { gptReference } from '../../src/models/reference';
import { initGptWeights } from '../../src/models/gpt';
import { decodeBundle } from '../../src/store/bundle';
import { attributeArgs, cli, MICRO_DATA, microUserFiles } from '../helpers/cli';

const dir = mkdtempSync(path.join(tmpdir(), 'iwb-query-loss-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('query token losses equal a float64 reference forward of the micro model', async () => {
  const files = microUserFiles(dir);
  const out = path.join(dir, 'run.iwb');
  const run = await cli([...attributeArgs(files, '--out', out, '--quiet'), '--limit-train', '4', '--query-batch', '3']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const rows = (await decodeBundle(readFileSync(out))).manifest.rows!.query;

  const text = (file: string) => ({ name: path.basename(file), text: readFileSync(file, 'utf8') });
  const inputs = await loadUserInputs(
    {
      model: { name: 'micro.onnx', bytes: new Uint8Array(readFileSync(files.model)) },
      tokenizer: text(MICRO_DATA.tokenizer),
      train: text(MICRO_DATA.train),
      queries: text(MICRO_DATA.queries),
    },
    { train: 4, queries: null },
  );
  const ids = (JSON.parse(readFileSync(MICRO_DATA.tokenizer, 'utf8')) as { model: { vocab: Record<string, number> } })
    .model.vocab;
  const vocab = Math.max(...Object.values(ids)) + 1;
  const config = seededDemoConfig('micro', vocab, 512);
  const weights = initGptWeights(config, SEEDED_DEMO_SEED, 'float32');
  expect(rows.length).toBe(inputs.queries.length);
  expect(rows.length).toBeGreaterThan(3);
  let measured = 0;
  inputs.queries.forEach((query, q) => {
    const ids = Array.from(query.inputIds);
    const logits = gptReference(config, weights, [ids], [ids.map(() => 1)]);
    const V = config.vocabSize;
    const loss = rows[q]!.tokenLoss!;
    expect(loss.length).toBe(ids.length);
    expect(rows[q]!.tokens!.length).toBe(ids.length);
    for (let t = 0; t < ids.length; t++) {
      if (t < query.promptLen) {
        expect(loss[t], `query ${q} token ${t}`).toBeNull();
        continue;
      }
      const row = logits.subarray((t - 1) * V, t * V);
      const max = Math.max(...row);
      const expected = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) - row[ids[t]!]!;
      // onnxruntime computes in float32: agreement to float32's precision of a log-sum-exp.
      expect(Math.abs(loss[t]! - expected), `query ${q} token ${t}`).toBeLessThan(2e-5 * Math.max(1, expected));
      measured++;
    }
  });
  expect(measured).toBeGreaterThan(10);
});
